//! Planning (SPEC §5 integrity, §7 missing files): from the tracking table's rows and the
//! migration files on disk, what is applied, pending, drifted, missing or out of order, and
//! which of those must stop any change (exit 6).
//!
//! Pure: no database, no file system. O(n log n) in the number of migrations.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::SetProblem;
use crate::migrations::Migration;

/// A row of the tracking table, as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// The migration's file stem, e.g. `0001_initial_schema`.
    pub version: String,
    /// When it was applied, as the database printed it.
    pub applied_at: String,
    /// How long it took.
    pub execution_time_ms: i64,
    /// The checksum recorded when it was applied (or last repaired).
    pub checksum: String,
    /// Recorded by stamp recovery or `stamp` rather than by running it.
    pub stamped: bool,
    /// What stamp recovery skipped, or another remark.
    pub note: Option<String>,
}

/// An applied migration whose file no longer has the checksum recorded for it.
#[derive(Debug, Clone)]
pub struct Drift<'a> {
    /// The file as it is now.
    pub migration: &'a Migration,
    /// The checksum in the tracking table.
    pub recorded: String,
}

/// The state of the database relative to the folder.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Every applied row in version order (numeric prefix, then version), with its file if
    /// one with the same version is on disk.
    pub applied: Vec<(&'a AppliedRow, Option<&'a Migration>)>,
    /// Files not applied, in order.
    pub pending: Vec<&'a Migration>,
    /// Applied, file present, checksum differs.
    pub drifted: Vec<Drift<'a>>,
    /// Applied, no file on disk (a squashed or renamed history).
    pub missing: Vec<&'a AppliedRow>,
    /// Pending migrations whose number is not above the highest applied number.
    pub out_of_order: Vec<&'a Migration>,
}

/// The numeric prefix of a version, `None` without one. A prefix too large for a `u64`
/// saturates: it is still above every file's number, which is what ordering needs.
pub fn version_number(version: &str) -> Option<u64> {
    let digits = version.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    Some(version[..digits].parse().unwrap_or(u64::MAX))
}

/// Compares the applied rows and the files on disk.
pub fn plan<'a>(applied: &'a [AppliedRow], files: &'a [Migration]) -> Plan<'a> {
    let by_version: HashMap<&str, &Migration> =
        files.iter().map(|m| (m.version.as_str(), m)).collect();

    let mut rows: Vec<(Option<u64>, &AppliedRow)> = applied
        .iter()
        .map(|r| (version_number(&r.version), r))
        .collect();
    // Rows without a numeric prefix (inserted by hand) sort first and never count as newest.
    rows.sort_by(|(na, a), (nb, b)| (na, &a.version).cmp(&(nb, &b.version)));
    let highest = rows.iter().filter_map(|(n, _)| *n).max();

    let mut plan = Plan {
        applied: Vec::with_capacity(rows.len()),
        pending: Vec::new(),
        drifted: Vec::new(),
        missing: Vec::new(),
        out_of_order: Vec::new(),
    };
    for (_, row) in rows {
        let file = by_version.get(row.version.as_str()).copied();
        match file {
            Some(m) if !m.checksum.eq_ignore_ascii_case(&row.checksum) => {
                plan.drifted.push(Drift {
                    migration: m,
                    recorded: row.checksum.clone(),
                });
            }
            Some(_) => {}
            None => plan.missing.push(row),
        }
        plan.applied.push((row, file));
    }

    let applied_versions: HashSet<&str> = applied.iter().map(|r| r.version.as_str()).collect();
    plan.pending = files
        .iter()
        .filter(|m| !applied_versions.contains(m.version.as_str()))
        .collect();
    plan.pending
        .sort_by(|a, b| (a.number, &a.version).cmp(&(b.number, &b.version)));
    if let Some(highest) = highest {
        plan.out_of_order = plan
            .pending
            .iter()
            .copied()
            .filter(|m| m.number <= highest)
            .collect();
    }
    plan
}

impl Plan<'_> {
    /// Problems that must stop any change (exit 6), given the options. Drift always; missing
    /// files only without stamp recovery (with it they are history, and the caller warns);
    /// out-of-order migrations unless allowed. `table` is only used in messages.
    pub fn integrity_problems(
        &self,
        allow_out_of_order: bool,
        stamp_recovery: bool,
        table: &str,
    ) -> Vec<SetProblem> {
        let mut problems = Vec::new();

        for d in &self.drifted {
            let m = d.migration;
            problems.push(
                SetProblem::file(
                    &m.path,
                    format!(
                        "checksum drift: {} was applied with checksum {} (recorded in {table}) \
                         but the file now has checksum {}",
                        m.version, d.recorded, m.checksum
                    ),
                )
                .with_hint(
                    "if the edit was reviewed and is intended, run `migration-sentry repair` to \
                     accept the file's current checksum; otherwise restore the file from \
                     version control",
                ),
            );
        }

        if !stamp_recovery {
            let dir = self.folder();
            for row in &self.missing {
                problems.push(
                    SetProblem::file(
                        expected_path(dir, &row.version),
                        format!(
                            "applied migration {} (recorded in {table} at {}) has no file in \
                             the migrations folder",
                            row.version, row.applied_at
                        ),
                    )
                    .with_hint(
                        "restore the file, or drop --no-stamp-recovery to keep it as history",
                    ),
                );
            }
        }

        // A pending file with an applied row's content is that migration renamed: never apply
        // it twice, whatever --allow-out-of-order says.
        let applied_by_checksum: HashMap<String, &str> = self
            .applied
            .iter()
            .map(|(r, _)| (r.checksum.to_ascii_lowercase(), r.version.as_str()))
            .collect();
        let mut renamed: HashSet<&str> = HashSet::new();
        for m in &self.pending {
            let Some(same) = applied_by_checksum.get(&m.checksum) else {
                continue;
            };
            renamed.insert(m.version.as_str());
            problems.push(
                SetProblem::file(
                    &m.path,
                    format!(
                        "renamed migration: {} is pending, but its content was already applied \
                         as {same} (same checksum, recorded in {table}); applying it would run \
                         it twice",
                        m.version
                    ),
                )
                .with_hint(format!(
                    "rename the file back to {same}.sql; if the same SQL really must run again, \
                     make the new file differ (a comment saying why is enough)"
                )),
            );
        }

        if !allow_out_of_order && !self.out_of_order.is_empty() {
            let newest = self.current().unwrap_or_default();
            // A pending file reusing an applied number is most likely that migration renamed.
            let applied_by_number: HashMap<u64, &str> = self
                .applied
                .iter()
                .filter_map(|(r, _)| Some((version_number(&r.version)?, r.version.as_str())))
                .collect();
            for m in &self.out_of_order {
                if renamed.contains(m.version.as_str()) {
                    continue;
                }
                let message = match applied_by_number.get(&m.number) {
                    Some(same) => format!(
                        "out-of-order migration: {} is pending but its number {} was already \
                         applied as {same} (newest applied: {newest}, in {table}); was the \
                         file renamed?",
                        m.version, m.number
                    ),
                    None => format!(
                        "out-of-order migration: {} is pending but sorts before the newest \
                         applied migration {newest} (in {table})",
                        m.version
                    ),
                };
                problems.push(SetProblem::file(&m.path, message).with_hint(format!(
                    "renumber the file after {newest}, or pass --allow-out-of-order \
                     (SENTRY_ALLOW_OUT_OF_ORDER=1) if it is meant to run now"
                )));
            }
        }

        problems
    }

    /// A folder without a single migration against a table with history: a build that
    /// shipped without its migration files, not a squash (which ships a baseline). Exit 6.
    pub fn empty_folder_problem(&self, dir: &Path, table: &str) -> Option<SetProblem> {
        if self.files().next().is_some() || self.applied.is_empty() {
            return None;
        }
        Some(
            SetProblem::file(
                dir,
                format!(
                    "the migrations folder has no migration at all, but {table} records {} \
                     applied (newest: {}): was the build shipped without its migration files?",
                    self.applied.len(),
                    self.current().unwrap_or_default()
                ),
            )
            .with_hint(
                "point --migrations-dir (SENTRY_MIGRATIONS_DIR) at the folder holding this \
                 database's migrations, and check that the build copies it",
            ),
        )
    }

    /// The newest applied version.
    pub fn current(&self) -> Option<&str> {
        self.applied.last().map(|(r, _)| r.version.as_str())
    }

    /// The newest version known, from the files or the tracking table. An applied migration
    /// whose file was removed is still part of the history, so `current` is never past `head`.
    pub fn head(&self) -> Option<&str> {
        let newest_file = self.files().map(|m| (m.number, m.version.as_str())).max();
        let current = self.current().map(|v| (version_number(v).unwrap_or(0), v));
        newest_file.into_iter().chain(current).max().map(|(_, v)| v)
    }

    /// Nothing pending, drifted or out of order. (Missing files are history, not a gap.)
    pub fn is_migrated(&self) -> bool {
        self.pending.is_empty() && self.drifted.is_empty() && self.out_of_order.is_empty()
    }

    /// Every file on disk that the plan knows about.
    fn files(&self) -> impl Iterator<Item = &Migration> {
        self.applied
            .iter()
            .filter_map(|(_, m)| *m)
            .chain(self.pending.iter().copied())
    }

    /// The migrations folder, as far as the files tell.
    fn folder(&self) -> Option<&Path> {
        self.files().next().and_then(|m| m.path.parent())
    }
}

/// Where the file of a missing version would be.
fn expected_path(dir: Option<&Path>, version: &str) -> PathBuf {
    let name = format!("{version}.sql");
    match dir {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::checksum;

    fn file(version: &str, sql: &str) -> Migration {
        let width = version.bytes().take_while(u8::is_ascii_digit).count();
        Migration {
            version: version.into(),
            number: version[..width].parse().unwrap(),
            prefix_width: width,
            name: version[width + 1..].into(),
            path: PathBuf::from(format!("sql/migrations/{version}.sql")),
            checksum: checksum(sql.as_bytes()),
            down_path: None,
            no_transaction: false,
            allow: Vec::new(),
        }
    }

    fn row(m: &Migration) -> AppliedRow {
        row_with(&m.version, &m.checksum)
    }

    fn row_with(version: &str, checksum: &str) -> AppliedRow {
        AppliedRow {
            version: version.into(),
            applied_at: "2024-01-01 12:00:00+00".into(),
            execution_time_ms: 3,
            checksum: checksum.into(),
            stamped: false,
            note: None,
        }
    }

    fn versions<'a>(ms: impl IntoIterator<Item = &'a Migration>) -> Vec<&'a str> {
        ms.into_iter().map(|m| m.version.as_str()).collect()
    }

    fn files() -> Vec<Migration> {
        vec![
            file("0001_a", "CREATE TABLE a ();"),
            file("0002_b", "CREATE TABLE b ();"),
            file("0010_c", "CREATE TABLE c ();"),
        ]
    }

    #[test]
    fn all_applied() {
        let files = files();
        // Out of order in the table, as a SELECT without ORDER BY might return them.
        let applied = vec![row(&files[2]), row(&files[0]), row(&files[1])];
        let p = plan(&applied, &files);
        let order: Vec<_> = p.applied.iter().map(|(r, _)| r.version.as_str()).collect();
        assert_eq!(order, ["0001_a", "0002_b", "0010_c"]);
        assert!(p.applied.iter().all(|(_, m)| m.is_some()));
        assert!(p.pending.is_empty() && p.drifted.is_empty() && p.missing.is_empty());
        assert!(p.is_migrated());
        assert_eq!(p.current(), Some("0010_c"));
        assert_eq!(p.head(), Some("0010_c"));
        assert!(
            p.integrity_problems(false, false, "schema_migrations")
                .is_empty()
        );
    }

    #[test]
    fn nothing_applied() {
        let files = files();
        let p = plan(&[], &files);
        assert_eq!(
            versions(p.pending.iter().copied()),
            ["0001_a", "0002_b", "0010_c"]
        );
        assert!(p.out_of_order.is_empty());
        assert_eq!(p.current(), None);
        assert_eq!(p.head(), Some("0010_c"));
        assert!(!p.is_migrated());
        assert!(p.integrity_problems(false, false, "t").is_empty());

        let p = plan(&[], &[]);
        assert!(p.is_migrated());
        assert_eq!((p.current(), p.head()), (None, None));
    }

    #[test]
    fn some_pending() {
        let files = files();
        let applied = vec![row(&files[0])];
        let p = plan(&applied, &files);
        assert_eq!(versions(p.pending.iter().copied()), ["0002_b", "0010_c"]);
        assert!(p.out_of_order.is_empty());
        assert!(!p.is_migrated());
        assert_eq!(p.current(), Some("0001_a"));
        assert_eq!(p.head(), Some("0010_c"));
        assert!(p.integrity_problems(false, false, "t").is_empty());
    }

    #[test]
    fn drift_names_the_file_and_both_checksums() {
        let files = files();
        let applied = vec![row(&files[0]), row_with("0002_b", "00ff")];
        let p = plan(&applied, &files);
        assert_eq!(p.drifted.len(), 1);
        assert_eq!(p.drifted[0].migration.version, "0002_b");
        assert_eq!(p.drifted[0].recorded, "00ff");
        assert!(!p.is_migrated());
        // Drift is never allowed away.
        let ps = p.integrity_problems(true, true, "schema_migrations");
        assert_eq!(ps.len(), 1);
        let text = ps[0].to_string();
        assert_eq!(ps[0].file, Some(files[1].path.clone()));
        assert!(
            text.contains("00ff") && text.contains(&files[1].checksum),
            "{text}"
        );
        assert!(text.contains("migration-sentry repair"), "{text}");
        assert!(
            text.contains("restore the file from version control"),
            "{text}"
        );
    }

    #[test]
    fn uppercase_recorded_checksum_is_not_drift() {
        let files = files();
        let applied = vec![row_with("0001_a", &files[0].checksum.to_uppercase())];
        assert!(plan(&applied, &files).drifted.is_empty());
    }

    #[test]
    fn missing_file_is_history_with_recovery_and_a_problem_without() {
        let files = files();
        let applied = vec![
            row_with("0000_squashed", "aa"),
            row(&files[0]),
            row(&files[1]),
            row(&files[2]),
        ];
        let p = plan(&applied, &files);
        assert_eq!(p.missing.len(), 1);
        assert_eq!(p.missing[0].version, "0000_squashed");
        assert_eq!(p.applied[0].1, None);
        assert!(p.is_migrated());
        assert!(p.integrity_problems(false, true, "t").is_empty());

        let ps = p.integrity_problems(false, false, "schema_migrations");
        assert_eq!(ps.len(), 1);
        assert_eq!(
            ps[0].file.as_deref(),
            Some(Path::new("sql/migrations/0000_squashed.sql"))
        );
        assert!(ps[0].message.contains("0000_squashed"));
        assert!(ps[0].hint.as_ref().unwrap().contains("--no-stamp-recovery"));
    }

    #[test]
    fn the_newest_file_missing_keeps_current_at_head() {
        let files = files();
        let applied: Vec<AppliedRow> = files.iter().map(row).collect();
        // The newest applied migration's file was removed (a code rollback, a squash).
        let p = plan(&applied, &files[..2]);
        assert_eq!(p.missing.len(), 1);
        assert_eq!(p.current(), Some("0010_c"));
        assert_eq!(p.head(), Some("0010_c"));
        assert!(p.pending.is_empty());
    }

    #[test]
    fn all_files_gone_head_falls_back_to_current() {
        let applied = vec![row_with("0001_a", "aa"), row_with("0002_b", "bb")];
        let p = plan(&applied, &[]);
        assert_eq!(p.missing.len(), 2);
        assert_eq!(p.head(), Some("0002_b"));
        let ps = p.integrity_problems(false, false, "t");
        assert_eq!(ps[0].file.as_deref(), Some(Path::new("0001_a.sql")));
    }

    #[test]
    fn out_of_order_unless_allowed() {
        let files = files();
        let applied = vec![row(&files[0]), row(&files[2])];
        let p = plan(&applied, &files);
        assert_eq!(versions(p.pending.iter().copied()), ["0002_b"]);
        assert_eq!(versions(p.out_of_order.iter().copied()), ["0002_b"]);
        assert!(!p.is_migrated());

        let ps = p.integrity_problems(false, true, "schema_migrations");
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].file, Some(files[1].path.clone()));
        assert!(ps[0].message.contains("0010_c"), "{}", ps[0]);
        assert!(
            ps[0]
                .hint
                .as_ref()
                .unwrap()
                .contains("--allow-out-of-order")
        );

        assert!(p.integrity_problems(true, true, "t").is_empty());
    }

    #[test]
    fn renamed_file_is_missing_plus_out_of_order() {
        let files = vec![file("0001_a", "x"), file("0002_b_renamed", "y")];
        let applied = vec![row(&files[0]), row_with("0002_b", &files[1].checksum)];
        let p = plan(&applied, &files);
        assert_eq!(p.missing.len(), 1);
        assert_eq!(p.missing[0].version, "0002_b");
        assert_eq!(versions(p.pending.iter().copied()), ["0002_b_renamed"]);
        assert_eq!(versions(p.out_of_order.iter().copied()), ["0002_b_renamed"]);
        assert_eq!(p.head(), Some("0002_b_renamed"));

        let ps = p.integrity_problems(false, true, "t");
        assert_eq!(ps.len(), 1);
        assert!(
            ps[0].message.contains("already applied as 0002_b"),
            "{}",
            ps[0]
        );
        assert!(ps[0].message.contains("renamed"));

        assert_eq!(p.integrity_problems(false, false, "t").len(), 2);
    }

    #[test]
    fn a_renamed_file_is_refused_even_out_of_order_allowed() {
        let files = vec![
            file("0001_a", "x"),
            file("0003_c", "z"),
            file("0004_b_renamed", "y"),
        ];
        let applied = vec![
            row(&files[0]),
            row_with("0002_b", &files[2].checksum.to_uppercase()),
            row(&files[1]),
        ];
        let p = plan(&applied, &files);
        assert_eq!(versions(p.pending.iter().copied()), ["0004_b_renamed"]);
        for allow in [false, true] {
            let ps = p.integrity_problems(allow, true, "t");
            assert_eq!(ps.len(), 1, "{ps:#?}");
            assert!(ps[0].message.starts_with("renamed migration"), "{}", ps[0]);
            assert!(ps[0].hint.as_ref().unwrap().contains("0002_b.sql"));
        }
    }

    #[test]
    fn an_empty_folder_against_history_is_a_problem() {
        let applied = vec![row_with("0001_a", "aa")];
        let dir = Path::new("sql/migrations");
        let p = plan(&applied, &[]);
        let problem = p
            .empty_folder_problem(dir, "public.schema_migrations")
            .unwrap();
        assert!(problem.message.contains("no migration at all"), "{problem}");
        assert!(problem.message.contains("newest: 0001_a"), "{problem}");
        assert!(plan(&[], &[]).empty_folder_problem(dir, "t").is_none());
        let files = files();
        assert!(
            plan(&applied, &files)
                .empty_folder_problem(dir, "t")
                .is_none()
        );
    }

    #[test]
    fn applied_versions_sort_numerically() {
        let applied = vec![
            row_with("10_c", "c"),
            row_with("9_b", "b"),
            row_with("manual", "m"),
            row_with("99999999999999999999999_huge", "h"),
        ];
        let p = plan(&applied, &[]);
        let order: Vec<_> = p.applied.iter().map(|(r, _)| r.version.as_str()).collect();
        assert_eq!(
            order,
            ["manual", "9_b", "10_c", "99999999999999999999999_huge"]
        );
        assert_eq!(version_number("0042_x"), Some(42));
        assert_eq!(version_number("x"), None);
    }
}
