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

    /// The tracking row's INSERT (failing with [`tracking::GUARD_FAILED`] if the table's
    /// columns changed), run after `sql`, the migration's own SQL, in its transaction.
    pub fn row(&self, table: &Table, row: &NewRow<'_>, sql: &str) -> String {
        match self.generation {
            Some(g) if !row.stamped && row.note.is_none() && !may_deallocate(sql) => format!(
                "EXECUTE {}({}, {}, {}, {})",
                names(g)[1],
                crate::db::literal(row.version),
                row.execution_time_ms,
                crate::db::literal(row.checksum),
                crate::db::literal_or_null(row.rollback_sql)
            ),
            _ => tracking::insert_literal(table, row),
        }
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

/// Whether `sql` could remove prepared statements: it says `DEALLOCATE` or `DISCARD` anywhere
/// (strings and comments included, for dynamic SQL; a false "yes" only costs the literal
/// statements and one round trip).
fn may_deallocate(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("deallocate") || lower.contains("discard")
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
    fn a_migration_that_could_deallocate_is_followed_by_literal_statements() {
        assert!(may_deallocate("DEALLOCATE ALL;"));
        assert!(may_deallocate("DO $$BEGIN EXECUTE 'discard plans'; END$$;"));
        assert!(!may_deallocate("CREATE TABLE t (id int);"));
    }
}
