//! The opening exchange of a session — server facts, the tracking table's schema and shape, the
//! pooler check, the advisory lock and the tracking rows — in as few round trips as the
//! protocol allows (issue #12): each message is one simple-protocol Query of several
//! statements, without a prepare, its rows read in text.
//!
//! Two messages, because the pooler check needs two transactions: a transaction pooler can only
//! move a session between messages, never inside one.
//!
//! 1. [`first`]: the facts, `current_schema()` (which resolves an unqualified `--table`), and
//!    the table's columns with the role's privileges on it, so that the command's pre-flight
//!    (`tracking::preflight`) refuses before the second message, and the second message knows
//!    whether it can read rows.
//! 2. [`second`]: the pooler evidence and, depending on the command ([`Next`]), the
//!    server-side cleanup timeouts with the lock attempt, the table's columns after it, and the
//!    rows. The settings and the lock are guarded by the facts' backend pid in SQL: if a pooler
//!    moved the session, nothing is set and no lock is taken on a pooled backend (where they
//!    would outlive the sentry), and the pooler is refused.
//!
//! A no-op `run` is then three round trips after authentication: these two and the unlock.

use std::time::Instant;

use postgres::{Client, SimpleQueryRow};

use crate::connect::{self, Facts};
use crate::db;
use crate::error::{Error, Result};
use crate::pooler;
use crate::tracking::{self, Access, Seen, Table};

/// What the first message found.
pub struct First {
    pub facts: Facts,
    /// The tracking table, resolved to a qualified name (SPEC §5.1).
    pub table: Table,
    /// The table's columns, and the role's privileges on it, as the first message saw them.
    pub seen: Seen,
    /// What the command does with the table: which privileges were read.
    pub access: Option<Access>,
}

/// The facts, the schema that resolves the table, and the table's columns with the role's
/// privileges on it (for the pre-flight, `tracking::preflight`): one round trip.
pub fn first(client: &mut Client, table: &Table, access: Option<Access>) -> Result<First> {
    let mut statements = vec![connect::FACTS_SQL.to_string()];
    if table.schema.is_none() {
        statements.push(tracking::CURRENT_SCHEMA_SQL.to_string());
    }
    statements.push(tracking::shape_sql_of(table, access));
    let started = Instant::now();
    let mut results = db::batch(client, &statements)
        .map_err(|e| Error::db("reading server facts", &e))?
        .into_iter();
    let latency = started.elapsed();
    let facts = Facts::parse(results.next().unwrap_or_default().first(), latency)?;
    let table = if table.schema.is_none() {
        let rows = results.next().unwrap_or_default();
        table.resolved_in(rows.first().and_then(|r| r.get(0)).map(str::to_string))?
    } else {
        table.clone()
    };
    let seen = Seen::from_rows(&results.next().unwrap_or_default());
    Ok(First {
        facts,
        table,
        seen,
        access,
    })
}

/// What the command does next, which decides what the second message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing with the tracking table (`ping`, `verify`): the pooler check alone.
    Check,
    /// Read the tracking rows without the lock (`status`, `--dry-run`).
    Read,
    /// Take the advisory lock with this key, then read the rows (`run`, `stamp`, `repair`).
    Lock(i64),
}

/// The tracking table as the session saw it, kept for the command's first read of it.
pub struct Preloaded {
    /// The table's columns and the role's privileges: after the lock was taken, for
    /// [`Next::Lock`].
    pub seen: Seen,
    /// The rows, in text, when the table had our columns.
    pub rows: Option<Vec<SimpleQueryRow>>,
}

/// What the second message found.
pub struct Second {
    /// For [`Next::Lock`]: whether `pg_try_advisory_lock` returned true.
    pub locked: bool,
    /// For [`Next::Read`] and a taken lock: the table as read in this message.
    pub preloaded: Option<Preloaded>,
}

/// The pooler check and, for `next`, the lock attempt and the rows: one round trip. A pooler
/// is refused here (exit 3), before the lock could be taken on a pooled backend.
pub fn second(client: &mut Client, first: &First, next: Next) -> Result<Second> {
    // Whether the first message saw our table (a table of another shape is refused here).
    let ours = || -> Result<bool> {
        Ok(tracking::shape(&first.table, &first.seen)? == tracking::Shape::Ours)
    };
    let mut statements = vec![pooler::POOLER_SQL.to_string()];
    let mut cleanup_sent = false;
    // An absent table that the command creates: what creating it needs, read with the shape
    // after the lock (never on the hot path of a table that exists).
    let creation = !first.seen.exists() && first.access.is_some_and(Access::creates);
    match next {
        Next::Check => {}
        Next::Read => {
            if ours()? {
                statements.push(tracking::rows_sql(&first.table));
            }
        }
        Next::Lock(key) => {
            // Only on the backend the facts came from: never a session lock, nor session
            // settings, on a pooled one. The server-side cleanup timeouts first, in the same
            // message: from the moment the lock is held (or waited for), a sentry that
            // vanishes is cleaned up after by the server (SPEC §5.7).
            let same_backend = first.facts.same_backend_sql();
            let cleanup = connect::cleanup_sql(&same_backend, &first.facts.cleanup);
            cleanup_sent = cleanup.is_some();
            statements.extend(cleanup);
            statements.push(format!(
                "SELECT pg_try_advisory_lock({key}) WHERE {same_backend}"
            ));
            // The shape again, now that the lock is held: another sentry may have created the
            // table since the first message.
            statements.push(tracking::shape_sql_of(&first.table, first.access));
            if creation {
                statements.push(tracking::creation_sql(&first.table));
            } else if ours()? {
                // Read whether or not the lock was taken: if it was not, these rows are dropped
                // and read again once it is (see `lock::acquire`).
                statements.push(tracking::rows_sql(&first.table));
            }
        }
    }
    let what = match next {
        Next::Lock(_) => "taking the advisory lock and reading the tracking table",
        Next::Read => "reading the tracking table",
        Next::Check => "checking for a connection pooler",
    };
    let mut results = db::batch(client, &statements)
        .map_err(|e| Error::db(what, &e))?
        .into_iter();
    pooler::refuse_moved(&first.facts, results.next().unwrap_or_default().first())?;
    if cleanup_sent {
        // The cleanup settings' row: nothing to read.
        results.next();
    }
    Ok(match next {
        Next::Check => Second {
            locked: false,
            preloaded: None,
        },
        Next::Read => Second {
            locked: false,
            preloaded: Some(Preloaded {
                seen: first.seen.clone(),
                rows: results.next(),
            }),
        },
        Next::Lock(_) => {
            let locked = results
                .next()
                .unwrap_or_default()
                .first()
                .and_then(|r| r.get(0))
                == Some("t");
            let mut seen = Seen::from_rows(&results.next().unwrap_or_default());
            if creation {
                let read = results.next().unwrap_or_default();
                if !seen.exists() {
                    seen = seen.with_creation(&read);
                }
            }
            let rows = results.next();
            let now_ours = seen.exists() && first.seen.exists();
            Second {
                locked,
                // Rows read before the table took our shape are not the table's rows.
                preloaded: locked.then_some(Preloaded {
                    rows: if now_ours { rows } else { None },
                    seen,
                }),
            }
        }
    })
}
