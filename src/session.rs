//! The session settings a migration may leave behind (SPEC §5.1).
//!
//! A migration may `SET` a setting for the session — a pg_dump header sets `search_path` to
//! `''`, `statement_timeout` and `lock_timeout` to 0 — and that would silently change how every
//! later migration of the run behaves. [`Baseline`] remembers the settings the run started
//! with; [`Baseline::restore`] puts back whatever a migration changed, with a warning naming
//! the migration, the setting and both values.

use std::collections::HashMap;

use log::warn;
use postgres::types::{ToSql, Type};
use postgres::{GenericClient, SimpleQueryMessage, SimpleQueryRow};

use crate::db::Traced;
use crate::error::{Error, Result};

/// Settings pg_settings does not list but a migration can change for the session
/// (`SET ROLE`, `SET SESSION AUTHORIZATION`): always compared.
const HIDDEN: &str = "SELECT n, current_setting(n), false \
     FROM unnest(ARRAY['role', 'session_authorization']) AS n";

/// Every setting's value when the run started, and which of them the session had set itself.
#[derive(Debug, Clone)]
pub struct Baseline {
    values: HashMap<String, String>,
    /// Settings whose source was `session` at the start: a migration that `RESET`s one of
    /// them changes it without making it a session setting.
    session: Vec<String>,
}

impl Baseline {
    /// Reads every setting (one round trip).
    pub fn take(client: &mut impl GenericClient) -> Result<Baseline> {
        let rows = client
            .traced(
                &format!(
                    "SELECT name::text, current_setting(name), source = 'session' FROM pg_settings \
                     UNION ALL {HIDDEN}"
                ),
                &[],
            )
            .map_err(|e| Error::db("reading the session settings", &e))?;
        let mut values = HashMap::with_capacity(rows.len());
        let mut session = Vec::new();
        for r in &rows {
            let (Ok(Some(name)), Ok(Some(value))) = (
                r.try_get::<_, Option<String>>(0),
                r.try_get::<_, Option<String>>(1),
            ) else {
                continue;
            };
            if r.try_get::<_, Option<bool>>(2).ok().flatten() == Some(true) {
                session.push(name.clone());
            }
            values.insert(name, value);
        }
        Ok(Baseline { values, session })
    }

    /// After `version` ran: every setting now set for the session (or set at the start) whose
    /// value differs from the start is put back, with a warning; settings named in `own` (set
    /// by the sentry itself for the current transaction) are left alone. One round trip when
    /// nothing changed. Returns the names of the settings restored.
    pub fn restore(
        &self,
        client: &mut impl GenericClient,
        version: &str,
        own: &[&str],
    ) -> Result<Vec<String>> {
        let rows: Vec<SimpleQueryRow> = client
            .simple_query(&self.check_sql())
            .map_err(|e| Error::db("reading the session settings", &e))?
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .collect();
        self.restore_from(client, rows, version, own)
    }

    /// The query whose rows [`Baseline::restore_from`] compares: the settings now set for the
    /// session, those set at the start, and the hidden ones. Literal, so that it can travel in
    /// one message with the statements before it (see `apply`).
    pub fn check_sql(&self) -> String {
        let names: Vec<String> = self.session.iter().map(|n| crate::db::literal(n)).collect();
        format!(
            "SELECT name::text, current_setting(name), false FROM pg_settings \
             WHERE source = 'session' OR name = ANY(ARRAY[{}]::text[]) UNION ALL {HIDDEN}",
            names.join(", ")
        )
    }

    /// [`Baseline::restore`] given the rows of [`Baseline::check_sql`].
    pub fn restore_from(
        &self,
        client: &mut impl GenericClient,
        rows: Vec<SimpleQueryRow>,
        version: &str,
        own: &[&str],
    ) -> Result<Vec<String>> {
        let mut changed: Vec<(String, String, String)> = Vec::new();
        for r in &rows {
            let (Some(name), Some(now)) =
                (r.get(0).map(str::to_string), r.get(1).map(str::to_string))
            else {
                continue;
            };
            if own.contains(&name.as_str()) {
                continue;
            }
            // A setting unknown at the start (a custom `app.x` placeholder) goes back to unset.
            let Some(before) = self.values.get(&name) else {
                changed.push((name, now, String::new()));
                continue;
            };
            if *before != now {
                changed.push((name, now, before.clone()));
            }
        }
        changed.sort();
        for (name, now, before) in &changed {
            if self.values.contains_key(name) {
                client
                    .traced(
                        "SELECT set_config($1, $2, false)",
                        &[
                            (name as &(dyn ToSql + Sync), Type::TEXT),
                            (before, Type::TEXT),
                        ],
                    )
                    .map_err(|e| Error::db(format!("restoring the setting {name}"), &e))?;
            } else {
                // `name` came from pg_settings; quoted as an identifier it cannot escape.
                client
                    .batch_execute(&format!("RESET \"{}\"", name.replace('"', "\"\"")))
                    .map_err(|e| Error::db(format!("resetting the setting {name}"), &e))?;
            }
            warn!(
                "{version} left the session setting {name} = {now:?} behind (the run started \
                 with {before:?}): restored, so that the next migration starts as this one did. \
                 Use SET LOCAL (or set_config(…, true)) for a setting meant for one migration"
            );
        }
        Ok(changed.into_iter().map(|(name, _, _)| name).collect())
    }
}
