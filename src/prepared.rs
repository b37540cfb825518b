//! The statements every transactional migration sends besides its own SQL, prepared once per
//! run (issue #12).
//!
//! The re-check of SPEC §5.4, the tracking row with its column guard and the cheap check of
//! the session's settings are the same statements for every migration of a run. Parsed and
//! planned again for each one, they were most of what a fresh apply cost the server beyond the
//! migrations' own SQL. They are prepared with SQL-level `PREPARE`, in one message per run, so
//! that `EXECUTE` still travels inside the simple-protocol messages of `apply` that carry
//! `BEGIN` and `COMMIT` — the transaction's shape is unchanged.
//!
//! A migration whose text could remove them (`DEALLOCATE`, `DISCARD`) gets the literal forms of
//! the statements that follow it, and they are prepared again, under new names, after it ran.
//! If preparing fails for any reason but a lost connection, the run keeps the literal forms.

use log::debug;
use postgres::Client;

use crate::error::{Error, Result};
use crate::session::{self, Baseline};
use crate::tracking::{self, NewRow, Table};

/// The hot path's statements for one run: prepared (`generation` names them) or literal.
pub struct Prepared<'b> {
    /// The session settings the run started with.
    pub baseline: &'b Baseline,
    /// The suffix of the prepared statements' names; `None`: send literal statements.
    generation: Option<u32>,
    /// The last generation prepared, so that a new one never reuses a name.
    last: u32,
}

impl<'b> Prepared<'b> {
    /// Prepares the statements for `table` (whose columns the row's guard compares) in one
    /// round trip.
    pub fn prepare(client: &mut Client, table: &Table, baseline: &'b Baseline) -> Result<Self> {
        let mut prepared = Prepared {
            baseline,
            generation: None,
            last: 0,
        };
        prepared.renew(client, table)?;
        Ok(prepared)
    }

    /// Prepares a new generation of the statements.
    fn renew(&mut self, client: &mut Client, table: &Table) -> Result<()> {
        let generation = self.last + 1;
        self.last = generation;
        let [recheck, row, settings] = names(generation);
        let sql = [
            format!("PREPARE {recheck}(text) AS {}", recheck_sql(table, "$1")),
            format!(
                "PREPARE {row}(text, int4, text, text) AS {}",
                tracking::insert_prepared(table)
            ),
            format!("PREPARE {settings} AS {}", self.baseline.watch_sql()),
        ];
        crate::interrupt::tick("preparing the statements every migration sends");
        match crate::db::batch(client, &sql) {
            Ok(_) => self.generation = Some(generation),
            Err(e) if e.as_db_error().is_some() && !crate::error::connection_lost(&e) => {
                debug!(
                    "preparing the statements every migration sends failed ({}): they are sent \
                     as literal SQL instead",
                    crate::output::external(&e.to_string())
                );
                self.generation = None;
            }
            Err(e) => {
                return Err(Error::db(
                    "preparing the statements every migration sends",
                    &e,
                ));
            }
        }
        Ok(())
    }

    /// The re-check of `version` (a row if it is recorded), run before the migration.
    pub fn recheck(&self, table: &Table, version: &str) -> String {
        match self.generation {
            Some(g) => format!("EXECUTE {}({})", names(g)[0], crate::db::literal(version)),
            None => recheck_sql(table, &crate::db::literal(version)),
        }
    }

    /// The tracking row's INSERT (failing as [`tracking::guard_failed`] recognises if the
    /// table's columns changed), run after `sql`, the migration's own SQL, in its transaction;
    /// `time` is its execution time, a number or [`tracking::SERVER_ELAPSED_MS`].
    pub fn row(&self, table: &Table, row: &NewRow<'_>, sql: &str, time: &str) -> String {
        match self.generation {
            Some(g) if !row.stamped && row.note.is_none() && !may_deallocate(sql) => format!(
                "EXECUTE {}({}, {time}, {}, {})",
                names(g)[1],
                crate::db::literal(row.version),
                crate::db::literal(row.checksum),
                crate::db::literal_or_null(row.rollback_sql)
            ),
            _ => tracking::insert_literal_timed(table, row, time),
        }
    }

    /// Whether the message that carries a migration's SQL, `sql`, may carry its row, `COMMIT`
    /// and the settings check too (see `apply`): only if they are sure to be read as
    /// statements of their own. The whole message is parsed before any of it runs, under the
    /// session's settings at that moment, so what matters is that `sql` ends outside any
    /// string, quoted identifier or comment by the sentry's lexer, and that the lexer reads
    /// strings as the server does (`standard_conforming_strings` on, which a migration that
    /// cannot `SET` anything cannot have changed before the next). A migration that could set
    /// something or remove the prepared statements keeps the separate message, whose
    /// statements depend on what it did. So does one that could return rows: the results of
    /// such a message are kept until it ends, and a `SELECT` of a large table would be held in
    /// memory whole (a migration sent alone has its rows read and dropped).
    pub fn may_follow(&self, sql: &str) -> bool {
        self.baseline.standard_strings()
            && !session::may_set(sql)
            && !may_deallocate(sql)
            && crate::sql_split::split(sql).is_ok_and(|statements| {
                !statements.is_empty() && statements.iter().all(|st| returns_no_rows(st.sql))
            })
    }

    /// The check of the session's settings after `sql` committed: the cheap one, prepared,
    /// unless `sql` needs another ([`Baseline::check_sql_after`]).
    pub fn check(&self, sql: &str) -> String {
        match self.generation {
            Some(g) if !session::may_set(sql) && !may_deallocate(sql) => {
                format!("EXECUTE {}", names(g)[2])
            }
            _ => self.baseline.check_sql_after(sql),
        }
    }

    /// After a migration whose SQL was `sql` ran: prepares the statements again if it could
    /// have removed them.
    pub fn after(&mut self, client: &mut Client, table: &Table, sql: &str) -> Result<()> {
        if self.generation.is_some() && may_deallocate(sql) {
            self.renew(client, table)?;
        }
        Ok(())
    }

    /// Removes the prepared statements, so that a server connection a session pooler hands to
    /// the next client carries nothing of this run. A failure is not the deploy's: logged.
    pub fn release(self, client: &mut Client) {
        if let Some(g) = self.generation {
            let sql: Vec<String> = names(g).iter().map(|n| format!("DEALLOCATE {n}")).collect();
            if let Err(e) = crate::db::batch(client, &sql) {
                debug!(
                    "removing the prepared statements: {}",
                    crate::output::external(&e.to_string())
                );
            }
        }
    }
}

/// The re-check's query, `version` a parameter (`$1`) or a literal.
fn recheck_sql(table: &Table, version: &str) -> String {
    format!("SELECT 1 FROM {} WHERE version = {version}", table.sql)
}

/// The prepared statements' names in `generation`: re-check, row, settings.
fn names(generation: u32) -> [String; 3] {
    ["recheck", "row", "settings"].map(|what| format!("migration_sentry_{what}_{generation}"))
}

/// Whether the statement `sql` (as the lexer splits it: from its first token) surely returns
/// no rows: it starts with a word other than those of a query, and says `RETURNING` nowhere.
fn returns_no_rows(sql: &str) -> bool {
    const QUERIES: [&str; 10] = [
        "select", "with", "values", "table", "show", "explain", "fetch", "execute", "call", "copy",
    ];
    let first = sql
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    !first.is_empty()
        && !QUERIES.iter().any(|q| q.eq_ignore_ascii_case(first))
        && !crate::db::mentions(sql, "returning")
}

/// Whether `sql` could remove prepared statements: it says `DEALLOCATE` or `DISCARD` anywhere
/// (strings and comments included, for dynamic SQL; a false "yes" only costs the literal
/// statements and one round trip).
fn may_deallocate(sql: &str) -> bool {
    crate::db::mentions(sql, "deallocate") || crate::db::mentions(sql, "discard")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_repeat_across_generations() {
        assert_eq!(
            names(1),
            [
                "migration_sentry_recheck_1",
                "migration_sentry_row_1",
                "migration_sentry_settings_1"
            ]
        );
        assert_ne!(names(1), names(2));
    }

    #[test]
    fn only_statements_that_return_no_rows_share_the_message_of_the_row() {
        assert!(returns_no_rows("CREATE TABLE a (id int)"));
        assert!(returns_no_rows("INSERT INTO a VALUES (1)"));
        assert!(returns_no_rows("DO $$BEGIN PERFORM 1; END$$"));
        assert!(!returns_no_rows("SELECT * FROM a"));
        assert!(!returns_no_rows("select pg_sleep(1)"));
        assert!(!returns_no_rows(
            "WITH x AS (SELECT 1) INSERT INTO a SELECT * FROM x"
        ));
        assert!(!returns_no_rows("INSERT INTO a VALUES (1) RETURNING id"));
        assert!(!returns_no_rows("(SELECT 1)"));
        assert!(!returns_no_rows("TABLE a"));
    }

    #[test]
    fn a_migration_that_could_deallocate_is_followed_by_literal_statements() {
        assert!(may_deallocate("DEALLOCATE ALL;"));
        assert!(may_deallocate("DO $$BEGIN EXECUTE 'discard plans'; END$$;"));
        assert!(!may_deallocate("CREATE TABLE t (id int);"));
    }
}
