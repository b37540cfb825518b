//! The live lint of `run` and `upgrade`: before anything is applied, every pending migration is
//! linted with the server's version, and each blocking-set finding is weighed against the
//! size of the table it touches (`pg_class.reltuples`). Above `--lint-max-rows` the gate fails
//! (exit 6) naming the migration, line, table, rows, lock and safe pattern; on a small table,
//! or one that does not exist yet (created earlier in the same run), it is a warning.

use std::collections::HashMap;

use log::info;
use postgres::Client;
use postgres::types::{ToSql, Type};
use serde_json::{Value, json};

use crate::db::Traced;
use crate::error::{Error, Result};
use crate::migrations::Migration;

use super::rules::{self, Class};
use super::{Finding, Settings, apply_allow, lint_sql};

/// Tuples an 8 kB heap page can hold at most (MaxHeapTuplesPerPage): the estimate for a table
/// that was never analyzed is its page count times this, an upper bound.
const MAX_TUPLES_PER_8K_PAGE: f64 = 291.0;

/// What the live lint needs to know.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `--lint-max-rows`.
    pub max_rows: u64,
    /// `--strict`: warnings other than size-dependent ones and syntax errors are errors.
    pub strict: bool,
    /// The server's `server_version`.
    pub server_version: String,
}

/// The estimated size of an existing relation.
#[derive(Debug, Clone, PartialEq)]
pub struct Size {
    /// The name PostgreSQL resolved it to (`public.orders`, or `orders` on the search path).
    pub name: String,
    /// Estimated rows.
    pub rows: f64,
    /// True when the estimate comes from the page count (never analyzed).
    pub from_pages: bool,
}

/// Lints `pending` against the live database. Every finding is added to `json`; blocking
/// findings on big tables fail with exit 6 once all migrations have been linted.
pub fn gate(
    client: &mut Client,
    pending: &[&Migration],
    gate: &Gate,
    json: &mut Vec<Value>,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    announce(pending, gate);
    let linted = lint_pending(pending, &gate.server_version)?;
    judge_all(client, linted, gate, json)
}

/// The log line that says what the live lint is about to do.
pub fn announce(pending: &[&Migration], gate: &Gate) {
    info!(
        "lint: {} pending migration{} against PostgreSQL {}, --lint-max-rows {}",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" },
        gate.server_version,
        gate.max_rows
    );
}

/// What squawk finds in each of `pending`, linted for `server_version`: the CPU-bound half
/// of [`gate`], which needs no connection (so that a caller can ask the server something
/// meanwhile).
pub fn lint_pending<'m>(
    pending: &[&'m Migration],
    server_version: &str,
) -> Result<Vec<(&'m Migration, Vec<Finding>)>> {
    let settings = Settings {
        server_version: Some(server_version.to_string()),
    };
    crate::migrations::par_map(pending, super::PARALLEL_FROM, |m| {
        let source = m.source()?;
        let found = lint_sql(&m.path, &source.sql, !m.no_transaction, &settings);
        Ok((*m, apply_allow(&m.version, &m.allow, found)))
    })
    .into_iter()
    .collect()
}

/// The other half of [`gate`]: the tables the blocking findings touch are weighed in one round
/// trip (a fresh apply of 200 migrations that each create an index made 400 before: a prepare
/// and an execute per table), then each finding is judged, added to `json` and logged.
pub fn judge_all(
    client: &mut Client,
    linted: Vec<(&Migration, Vec<Finding>)>,
    gate: &Gate,
    json: &mut Vec<Value>,
) -> Result<()> {
    let mut weigh: Vec<String> = linted
        .iter()
        .flat_map(|(_, found)| found)
        .filter(|f| matches!(f.class(), Class::Blocking(_)))
        .filter_map(|f| f.relation.clone())
        .collect();
    weigh.sort_unstable();
    weigh.dedup();
    let sizes = sizes_of(client, &weigh)?;
    let mut problems = Vec::new();
    for (m, found) in linted {
        for f in found {
            let size = match (&f.class(), &f.relation) {
                (Class::Blocking(_), Some(rel)) => sizes.get(rel).cloned().flatten(),
                _ => None,
            };
            let verdict = judge(&f, size.as_ref(), gate);
            json.push(json!({
                "migration": m.version,
                "finding": f.to_json(),
                "rows": size.as_ref().map(|s| s.rows.round() as u64),
                "blocking": matches!(verdict, Verdict::Block { .. }),
            }));
            match verdict {
                Verdict::Block { message, hint } => {
                    problems.push(super::problem(&f, Some(message), hint));
                }
                Verdict::Allowed(why) => super::warn_allowed(&f, &why),
                Verdict::Warn(note) => super::warn(&f, note.as_deref()),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::MigrationSet(problems))
    }
}

/// What one finding does to the deploy.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Block {
        message: String,
        hint: String,
    },
    /// A blocking-set finding let through: why (small, new, or no table to weigh).
    Allowed(String),
    Warn(Option<String>),
}

/// Decides one finding: pure, so the rules of the gate are unit-tested without a database.
pub fn judge(f: &Finding, size: Option<&Size>, gate: &Gate) -> Verdict {
    let migration = f
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match f.class() {
        Class::Blocking(b) => {
            let Some(rel) = &f.relation else {
                return Verdict::Allowed(format!(
                    "{} — the lint cannot tell which table this statement locks: review it",
                    f.message
                ));
            };
            let Some(size) = size else {
                return Verdict::Allowed(format!(
                    "{rel} does not exist yet (created earlier in this run?): nothing to lock, allowed"
                ));
            };
            let rows = rows_text(size);
            if size.rows > gate.max_rows as f64 {
                Verdict::Block {
                    message: format!(
                        "migration {migration} would take {} on table {} ({rows}, more than \
                         --lint-max-rows {})\n    | {}",
                        b.lock, size.name, gate.max_rows, f.excerpt
                    ),
                    hint: format!(
                        "{} — squawk: {} — if this was reviewed and the lock is acceptable, add \
                         `-- sentry:allow {}` to the migration's first lines (or raise \
                         --lint-max-rows)",
                        b.safe_pattern,
                        f.help.as_deref().unwrap_or(&f.message),
                        f.rule
                    ),
                }
            } else {
                Verdict::Allowed(format!(
                    "{} is small ({rows}, at most --lint-max-rows {}): allowed",
                    size.name, gate.max_rows
                ))
            }
        }
        // squawk's parser is not PostgreSQL: what it cannot read never blocks a deploy.
        Class::Warning if gate.strict && f.rule != rules::SYNTAX_ERROR => Verdict::Block {
            message: f.message.clone(),
            hint: format!(
                "{}--strict makes this finding an error; a reviewed exception is \
                 `-- sentry:allow {}` in the migration's first lines",
                f.help
                    .as_deref()
                    .map(|h| format!("{h} — "))
                    .unwrap_or_default(),
                f.rule
            ),
        },
        Class::Warning | Class::Off => Verdict::Warn(None),
    }
}

fn rows_text(size: &Size) -> String {
    let rows = size.rows.round() as u64;
    if size.from_pages {
        format!("up to ~{rows} rows estimated from its pages, never analyzed")
    } else {
        format!("~{rows} rows")
    }
}

/// The estimated sizes of `relations` as the migrations name them, in one round trip; a name
/// that does not resolve (no such table yet, or not a name PostgreSQL can read) maps to `None`.
pub fn sizes_of(
    client: &mut Client,
    relations: &[String],
) -> Result<HashMap<String, Option<Size>>> {
    let mut sizes: HashMap<String, Option<Size>> =
        relations.iter().map(|r| (r.clone(), None)).collect();
    // to_regclass raises on a malformed name (before PostgreSQL 16) or on a cross-database
    // one, and one error would fail the whole batch: only plain names travel in it. Anything
    // else (rare), and a batch that fails all the same, is weighed one name at a time.
    let (plain, other): (Vec<&String>, Vec<&String>) =
        relations.iter().partition(|r| plain_name(r));
    if !plain.is_empty() {
        let batch = client.traced(
            &format!(
                "SELECT r.name, {SIZE_COLUMNS} FROM unnest($1::text[]) AS r(name) \
                 JOIN pg_class c ON c.oid = to_regclass(r.name)"
            ),
            &[(&plain as &(dyn ToSql + Sync), Type::TEXT_ARRAY)],
        );
        match batch {
            Ok(rows) => {
                for row in rows {
                    sizes.insert(row.get(0), Some(estimate(&row)));
                }
            }
            Err(e) if e.as_db_error().is_some() && !crate::error::connection_lost(&e) => {
                for r in &plain {
                    sizes.insert((*r).clone(), size_of(client, r)?);
                }
            }
            Err(e) => {
                return Err(Error::db(
                    "reading the sizes of the tables the lint weighs",
                    &e,
                ));
            }
        }
    }
    for r in other {
        sizes.insert(r.clone(), size_of(client, r)?);
    }
    Ok(sizes)
}

/// A one- or two-part name of unquoted identifiers (`orders`, `public.orders`): one that
/// to_regclass can never raise on.
fn plain_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// What [`estimate`] reads of a relation `c` (pg_class): its name, kind, `reltuples` (for a
/// partitioned table, the sum over its partitions, which hold its rows), pages and block size.
const SIZE_COLUMNS: &str = "c.oid::regclass::text, c.relkind::text, \
     CASE WHEN c.relkind = 'p' THEN \
       (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::float8 \
        FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf) \
     ELSE c.reltuples::float8 END, \
     (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8, \
     current_setting('block_size')::float8";

/// A relation's estimated rows from the [`SIZE_COLUMNS`] at the end of `row`.
fn estimate(row: &postgres::Row) -> Size {
    let at = row.len() - 5;
    let name: String = row.get(at);
    let relkind: String = row.get(at + 1);
    let rows: f64 = row.get(at + 2);
    let pages: i64 = row.get(at + 3);
    let block_size: f64 = row.get(at + 4);
    if relkind == "p" || rows >= 0.0 {
        return Size {
            name,
            rows,
            from_pages: false,
        };
    }
    // Never vacuumed or analyzed (reltuples = -1 since PostgreSQL 14; 0 before).
    Size {
        name,
        rows: pages as f64 * MAX_TUPLES_PER_8K_PAGE * (block_size / 8192.0),
        from_pages: pages > 0,
    }
}

/// The estimated size of `relation` as the migration names it, or `None` when it does not
/// exist (or the name is not one PostgreSQL can resolve): [`sizes_of`] for one name.
fn size_of(client: &mut Client, relation: &str) -> Result<Option<Size>> {
    // to_regclass raises on a malformed name; outside a transaction that error costs nothing
    // and means "not a table the lint can weigh".
    let row = client
        .traced(
            &format!("SELECT {SIZE_COLUMNS} FROM pg_class c WHERE c.oid = to_regclass($1)"),
            &[(&relation as &(dyn ToSql + Sync), Type::TEXT)],
        )
        .or_else(|e| {
            if e.as_db_error().is_some() && !crate::error::connection_lost(&e) {
                Ok(Vec::new())
            } else {
                Err(Error::db("reading a table's size for the lint", &e))
            }
        })?;
    Ok(row.first().map(estimate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn finding(rule: &str, relation: Option<&str>) -> Finding {
        Finding {
            file: PathBuf::from("sql/migrations/0002_idx.sql"),
            rule: rule.into(),
            line: 3,
            column: 1,
            message: "m".into(),
            help: Some("h".into()),
            relation: relation.map(str::to_string),
            excerpt: "CREATE INDEX i ON orders (total);".into(),
        }
    }

    fn gate(strict: bool) -> Gate {
        Gate {
            max_rows: 100_000,
            strict,
            server_version: "15.4".into(),
        }
    }

    fn size(rows: f64) -> Size {
        Size {
            name: "orders".into(),
            rows,
            from_pages: false,
        }
    }

    #[test]
    fn only_names_to_regclass_cannot_raise_on_travel_in_the_batch() {
        for name in ["orders", "public.orders", "_t$1", "T_200"] {
            assert!(plain_name(name), "{name}");
        }
        for name in [
            "\"Orders\"",
            "db.public.orders",
            "a b",
            "",
            "public.",
            "1t",
            "ö",
        ] {
            assert!(!plain_name(name), "{name}");
        }
    }

    #[test]
    fn big_blocks_small_and_new_warn() {
        let f = finding("require-concurrent-index-creation", Some("orders"));
        let Verdict::Block { message, hint } = judge(&f, Some(&size(300_000.0)), &gate(false))
        else {
            panic!("a big table must block")
        };
        assert!(message.contains("migration 0002_idx"), "{message}");
        assert!(message.contains("table orders (~300000 rows"), "{message}");
        assert!(message.contains("SHARE lock"), "{message}");
        assert!(hint.contains("CONCURRENTLY"), "{hint}");
        assert!(hint.contains("-- sentry:allow require-concurrent-index-creation"));
        assert!(matches!(
            judge(&f, Some(&size(100_000.0)), &gate(false)),
            Verdict::Allowed(n) if n.contains("orders is small (~100000 rows")
        ));
        assert!(matches!(
            judge(&f, None, &gate(true)),
            Verdict::Allowed(n) if n.contains("does not exist yet")
        ));
    }

    #[test]
    fn strict_blocks_warnings_but_never_a_syntax_error() {
        let drop = finding("ban-drop-column", Some("orders"));
        assert_eq!(judge(&drop, None, &gate(false)), Verdict::Warn(None));
        assert!(matches!(
            judge(&drop, None, &gate(true)),
            Verdict::Block { .. }
        ));
        let syntax = finding("syntax-error", None);
        assert_eq!(judge(&syntax, None, &gate(true)), Verdict::Warn(None));
    }
}
