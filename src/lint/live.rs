//! The live lint of `run` and `upgrade`: before anything is applied, every pending migration is
//! linted with the server's version, and each blocking-set finding is weighed against the
//! size of the table it touches (`pg_class.reltuples`). Above `--lint-max-rows` the gate fails
//! (exit 6) naming the migration, line, table, rows, lock and safe pattern; on a small table,
//! or one that does not exist yet (created earlier in the same run), it is a warning.

use std::collections::HashMap;

use log::info;
use postgres::Client;
use serde_json::{Value, json};

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
    let settings = Settings {
        server_version: Some(gate.server_version.clone()),
    };
    info!(
        "lint: {} pending migration{} against PostgreSQL {}, --lint-max-rows {}",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" },
        gate.server_version,
        gate.max_rows
    );
    let mut sizes: HashMap<String, Option<Size>> = HashMap::new();
    let mut problems = Vec::new();
    for m in pending {
        let source = m.source()?;
        let found = lint_sql(&m.path, &source.sql, !m.no_transaction, &settings);
        for f in apply_allow(&m.version, &m.allow, found) {
            let size = match (&f.class(), &f.relation) {
                (Class::Blocking(_), Some(rel)) => match sizes.get(rel) {
                    Some(s) => s.clone(),
                    None => {
                        let s = size_of(client, rel)?;
                        sizes.insert(rel.clone(), s.clone());
                        s
                    }
                },
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

/// The estimated size of `relation` as the migration names it, or `None` when it does not
/// exist (or the name is not one PostgreSQL can resolve).
pub fn size_of(client: &mut Client, relation: &str) -> Result<Option<Size>> {
    // to_regclass raises on a malformed name; outside a transaction that error costs nothing
    // and means "not a table the lint can weigh".
    let row = client
        .query_opt(
            "SELECT c.oid::regclass::text, c.relkind::text, c.reltuples::float8, \
                    (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8, \
                    current_setting('block_size')::float8 \
             FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&relation],
        )
        .or_else(|e| {
            if e.as_db_error().is_some() && !crate::error::connection_lost(&e) {
                Ok(None)
            } else {
                Err(Error::db("reading a table's size for the lint", &e))
            }
        })?;
    let Some(row) = row else { return Ok(None) };
    let name: String = row.get(0);
    let relkind: String = row.get(1);
    let reltuples: f64 = row.get(2);
    let pages: i64 = row.get(3);
    let block_size: f64 = row.get(4);
    if relkind == "p" {
        // A partitioned table has no rows of its own: its partitions hold them.
        let total: f64 = client
            .query_one(
                "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 \
                 FROM pg_partition_tree(to_regclass($1)) t JOIN pg_class c ON c.oid = t.relid \
                 WHERE t.isleaf",
                &[&relation],
            )
            .map_err(|e| Error::db("reading a partitioned table's size for the lint", &e))?
            .get(0);
        return Ok(Some(Size {
            name,
            rows: total,
            from_pages: false,
        }));
    }
    if reltuples >= 0.0 {
        return Ok(Some(Size {
            name,
            rows: reltuples,
            from_pages: false,
        }));
    }
    // Never vacuumed or analyzed (reltuples = -1 since PostgreSQL 14; 0 before).
    Ok(Some(Size {
        name,
        rows: pages as f64 * MAX_TUPLES_PER_8K_PAGE * (block_size / 8192.0),
        from_pages: pages > 0,
    }))
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
