//! The session settings a migration may leave behind (SPEC §5.1).
//!
//! A migration may `SET` a setting for the session — a pg_dump header sets `search_path` to
//! `''`, `statement_timeout` and `lock_timeout` to 0 — and that would silently change how every
//! later migration of the run behaves. [`Baseline`] remembers the settings the run started
//! with; [`Baseline::restore`] puts back whatever a migration changed, with a warning naming
//! the migration, the setting and both values.
//!
//! Reading pg_settings makes the server build every setting's 17 columns (about 1 ms), which
//! after each migration of a fresh apply was most of the sentry's cost over `psql -1` (issue
//! #12). So the check after a migration comes in two sizes: the full one (every setting the
//! session set, custom placeholders included) when the migration's text could change a setting
//! itself ([`may_set`]), and otherwise a cheap one that compares the current value of every
//! setting a session can change and that changes what later SQL means or how safely it runs —
//! the `user` and `superuser` settings of pg_settings except the planner's, logging's and
//! statistics' and the memory, vacuum-delay and I/O-concurrency knobs, and except
//! [`UNWATCHED`] (tracing, JIT, vacuum's freeze ages, WAL writing…), plus `role` and
//! `session_authorization` — with the value the run started with, which is what a function
//! the migration merely calls could have changed. Each watched setting costs about 0.5 µs of
//! server time per migration, hence not all of them (50 are watched on PostgreSQL 15). (Under
//! a non-English `lc_messages` the category names come translated, and then every setting a
//! session can change but [`UNWATCHED`] is watched.)

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

const READING: &str = "reading the session settings";

/// Settings a session can change that the cheap check leaves alone: tracing and debugging,
/// JIT, vacuum's freeze ages, WAL writing, GIN's pending list, libraries loaded only when a
/// session starts, which messages are sent (not what happens), the per-transaction ones
/// (`COMMIT` resets them), `escape_string_warning` (a warning) and `synchronize_seqscans`.
const UNWATCHED: [&str; 36] = [
    "backtrace_functions",
    "client_min_messages",
    "commit_delay",
    "commit_siblings",
    "deadlock_timeout",
    "debug_discard_caches",
    "debug_parallel_query",
    "escape_string_warning",
    "force_parallel_mode",
    "gin_fuzzy_search_limit",
    "gin_pending_list_limit",
    "jit_dump_bitcode",
    "jit_expressions",
    "jit_tuple_deforming",
    "local_preload_libraries",
    "session_preload_libraries",
    "synchronize_seqscans",
    "temp_file_limit",
    "trace_notify",
    "trace_sort",
    "transaction_deferrable",
    "transaction_isolation",
    "transaction_read_only",
    "vacuum_failsafe_age",
    "vacuum_freeze_min_age",
    "vacuum_freeze_table_age",
    "vacuum_multixact_failsafe_age",
    "vacuum_multixact_freeze_min_age",
    "vacuum_multixact_freeze_table_age",
    "wal_compression",
    "wal_consistency_checking",
    "wal_init_zero",
    "wal_recycle",
    "wal_sender_timeout",
    "wal_skip_threshold",
    "vacuum_buffer_usage_limit",
];

/// Every setting's value when the run started, and which of them the session had set itself.
#[derive(Debug, Clone)]
pub struct Baseline {
    values: HashMap<String, String>,
    /// Settings whose source was `session` at the start: a migration that `RESET`s one of
    /// them changes it without making it a session setting.
    session: Vec<String>,
    /// The cheap check's query ([`Baseline::check_sql_after`]), built once per run.
    watch_sql: String,
}

impl Baseline {
    /// Reads every setting (one round trip).
    pub fn take(client: &mut impl GenericClient) -> Result<Baseline> {
        let rows = client
            .traced(
                // The last column: the cheap check watches it (see the module's comment).
                "SELECT name::text, current_setting(name), source = 'session', \
                        context IN ('user', 'superuser') \
                        AND category NOT LIKE 'Query Tuning%' \
                        AND category NOT LIKE 'Reporting and Logging%' \
                        AND category NOT LIKE 'Statistics%' \
                        AND category NOT IN ('Resource Usage / Memory', \
                                             'Resource Usage / Cost-Based Vacuum Delay', \
                                             'Resource Usage / Asynchronous Behavior') \
                 FROM pg_settings \
                 UNION ALL SELECT n, current_setting(n), false, true \
                 FROM unnest(ARRAY['role', 'session_authorization']) AS n",
                &[],
            )
            .map_err(|e| Error::db("reading the session settings", &e))?;
        let mut values = HashMap::with_capacity(rows.len());
        let mut session = Vec::new();
        let mut watched: Vec<(String, String)> = Vec::new();
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
            if r.try_get::<_, Option<bool>>(3).ok().flatten() == Some(true)
                && !UNWATCHED.contains(&name.as_str())
            {
                watched.push((name.clone(), value.clone()));
            }
            values.insert(name, value);
        }
        Ok(Baseline {
            values,
            session,
            watch_sql: watch_sql(&watched),
        })
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
        let rows = rows_of(client, &self.check_sql(), READING)?;
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

    /// Whether the run started with `standard_conforming_strings` on: `'…'` strings then
    /// treat a backslash as an ordinary character, as the sentry's lexer does.
    pub fn standard_strings(&self) -> bool {
        self.values
            .get("standard_conforming_strings")
            .is_some_and(|v| v == "on")
    }

    /// The cheap check's query (see `crate::prepared`, which prepares it).
    pub fn watch_sql(&self) -> &str {
        &self.watch_sql
    }

    /// The check to run after `sql` ran: [`Baseline::check_sql`] when `sql` could have changed
    /// a setting by itself ([`may_set`]); otherwise the cheap comparison of every setting a
    /// session can change with its value at the start (same columns, differing rows only).
    pub fn check_sql_after(&self, sql: &str) -> String {
        let (may, named) = scan(sql);
        if !may {
            return self.watch_sql.clone();
        }
        let custom: Vec<&String> = named
            .iter()
            .filter(|n| !self.values.contains_key(*n))
            .collect();
        if custom.is_empty() {
            return self.check_sql();
        }
        format!(
            "{} UNION ALL SELECT n, current_setting(n, true), false \
             FROM unnest({}::text[]) AS n WHERE current_setting(n, true) IS NOT NULL",
            self.check_sql(),
            array_literal(custom.into_iter().cloned())
        )
    }

    /// [`Baseline::restore`] after `sql` ran, with the check [`Baseline::check_sql_after`]
    /// chooses.
    pub fn restore_after(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        version: &str,
        own: &[&str],
    ) -> Result<Vec<String>> {
        let rows = rows_of(client, &self.check_sql_after(sql), READING)?;
        self.restore_from(client, rows, version, own)
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
            // A setting unknown at the start: a custom `app.x` placeholder (see below).
            let Some(before) = self.values.get(&name) else {
                changed.push((name, now, String::new()));
                continue;
            };
            if *before != now {
                changed.push((name, now, before.clone()));
            }
        }
        changed.sort();
        changed.dedup();
        let mut restored = Vec::new();
        for (name, now, before) in changed {
            let (before, how) = if self.values.contains_key(&name) {
                client
                    .traced(
                        "SELECT set_config($1, $2, false)",
                        &[
                            (&name as &(dyn ToSql + Sync), Type::TEXT),
                            (&before, Type::TEXT),
                        ],
                    )
                    .map_err(|e| Error::db(format!("restoring the setting {name}"), &e))?;
                (before, "restored")
            } else {
                // A custom setting the session did not have when the run started, as far as
                // pg_settings tells (it never lists one): RESET puts back the value the session
                // started with (the sentry never sets one), which tells whether it changed. The
                // name is quoted as an identifier, so it cannot escape.
                let reset = format!(
                    "RESET \"{}\"; SELECT current_setting({}, true)",
                    name.replace('"', "\"\""),
                    crate::db::literal(&name)
                );
                let rows = rows_of(client, &reset, &format!("resetting the setting {name}"))?;
                let start = rows.first().and_then(|r| r.get(0)).unwrap_or_default();
                if start == now {
                    continue;
                }
                (start.to_string(), "reset")
            };
            warn!(
                "{version} left the session setting {name} = {now:?} behind (the run started \
                 with {before:?}): {how}, so that the next migration starts as this one did. \
                 Use SET LOCAL (or set_config(…, true)) for a setting meant for one migration"
            );
            restored.push(name);
        }
        Ok(restored)
    }
}

fn rows_of(client: &mut impl GenericClient, sql: &str, doing: &str) -> Result<Vec<SimpleQueryRow>> {
    Ok(client
        .simple_query(sql)
        .map_err(|e| Error::db(doing, &e))?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect())
}

/// The cheap check: the watched settings whose value is not the one the run started with.
/// Names and values travel as two array literals (one string each, parsed far faster than an
/// `ARRAY[…]` of 200 literals); each element is double-quoted with `\` and `"` escaped, as
/// `array_in` reads it.
fn watch_sql(watched: &[(String, String)]) -> String {
    format!(
        "SELECT b.n, current_setting(b.n, true), false \
         FROM unnest({}::text[], {}::text[]) AS b(n, v) \
         WHERE current_setting(b.n, true) IS DISTINCT FROM b.v",
        array_literal(watched.iter().map(|(n, _)| n.clone())),
        array_literal(watched.iter().map(|(_, v)| v.clone())),
    )
}

/// A `text[]` literal of `items`: each double-quoted with `\` and `"` escaped, as `array_in`
/// reads it, the whole a string literal.
fn array_literal(items: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = items
        .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    crate::db::literal(&format!("{{{}}}", quoted.join(",")))
}

/// Whether `sql`, by its own text, could change a session setting: a `SET …` statement
/// (`SET x = …`, `SET x TO …`, `SET ROLE`, `SET SESSION AUTHORIZATION`, `SET TIME ZONE`,
/// `SET NAMES`, `SET SCHEMA`, `SET XML OPTION`), `RESET`, `DISCARD` or `set_config`, anywhere:
/// inside strings and comments too, since a function body or a `DO` block is a string and
/// dynamic SQL is built from strings. Deliberately generous — `UPDATE t SET a = 1` or a
/// function's `SET search_path = …` clause count — because a false "yes" only costs the full
/// check, while a false "no" would miss a custom placeholder (`SET app.x = …`) left behind.
pub fn may_set(sql: &str) -> bool {
    scan(sql).0
}

/// [`may_set`], and the custom settings (`app.tenant`: a dotted name) `sql` names after a
/// `SET` or as `set_config`'s first argument. pg_settings never lists such a placeholder, so
/// the full check asks for these by name; one named only through dynamic SQL is not seen.
fn scan(sql: &str) -> (bool, Vec<String>) {
    // Every word that matters contains `set` or is `discard`: most migrations say neither, and
    // are answered without splitting them into words.
    if !crate::db::mentions(sql, "set") && !crate::db::mentions(sql, "discard") {
        return (false, Vec::new());
    }
    let words = words(sql);
    let mut may = false;
    let mut named = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let rest = &words[i + 1..];
        match w.as_str() {
            "reset" | "discard" => may = true,
            "set_config" => {
                may = true;
                if rest.first().is_some_and(|w| w == "(") {
                    named.extend(name_at(&rest[1..]));
                }
            }
            "set" => {
                let skip =
                    usize::from(rest.first().is_some_and(|w| w == "session" || w == "local"));
                let rest = &rest[skip..];
                let Some(first) = rest.first() else { continue };
                if matches!(
                    first.as_str(),
                    "role" | "authorization" | "time" | "names" | "schema" | "xml"
                ) {
                    may = true;
                    continue;
                }
                // `SET name = …` / `SET name TO …`, the name possibly dotted, quoted or a
                // format() placeholder: `=` or `TO` within the next few words.
                let assigns = rest
                    .iter()
                    .take(8)
                    .take_while(|w| !matches!(w.as_str(), ";" | "(" | ","))
                    .any(|w| w == "=" || w == "to");
                if assigns {
                    may = true;
                    named.extend(name_at(rest));
                }
            }
            _ => {}
        }
    }
    named.sort();
    named.dedup();
    (may, named)
}

/// The dotted setting name that starts `words` (`app . tenant`, or quoted: `" app . tenant "`,
/// `' app . tenant '`), if it is one.
fn name_at(words: &[String]) -> Option<String> {
    let (quote, words) = match words.first().map(String::as_str) {
        Some(q @ ("\"" | "'")) => (Some(q), &words[1..]),
        _ => (None, words),
    };
    let mut name = String::new();
    let mut expect_word = true;
    for w in words {
        let is_word = w
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii());
        match (expect_word, is_word, w.as_str()) {
            (true, true, _) => name.push_str(w),
            (false, false, ".") => name.push('.'),
            // The end of the name: anything after an unquoted one, the closing quote otherwise.
            (false, false, end) if quote.is_none_or(|q| q == end) => break,
            _ => return None,
        }
        expect_word = !expect_word;
    }
    (name.contains('.') && !name.ends_with('.')).then_some(name)
}

/// `sql` as lower-case words (letters, digits, `_`, any non-ASCII) and single punctuation
/// characters; whitespace separates. Strings and comments are not special (see [`may_set`]).
fn words(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in sql.chars() {
        if c.is_alphanumeric() || c == '_' || !c.is_ascii() {
            word.extend(c.to_lowercase());
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migration_that_could_set_something_gets_the_full_check() {
        for sql in [
            "SET search_path = '';",
            "set search_path to other, public;",
            "SET statement_timeout=0;",
            "SET SESSION \"app.tenant\" = 'x';",
            "SET app.tenant TO 'x';",
            "SET ROLE reader;",
            "SET SESSION AUTHORIZATION reader;",
            "SET TIME ZONE 'UTC';",
            "SET NAMES 'UTF8';",
            "SET SCHEMA 'app';",
            "SET XML OPTION DOCUMENT;",
            "RESET ALL;",
            "DISCARD ALL;",
            "SELECT pg_catalog.set_config('search_path', '', false);",
            "DO $$BEGIN SET search_path = ''; END$$;",
            "DO $$BEGIN PERFORM SET_CONFIG('x.y', '1', false); END$$;",
            "DO $$BEGIN EXECUTE format('SET %I = %L', 'work_mem', '1MB'); END$$;",
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql SET search_path = public AS 'SELECT';",
            "UPDATE accounts SET plan = 'free';",
        ] {
            assert!(may_set(sql), "{sql}");
        }
    }

    #[test]
    fn custom_settings_are_named_wherever_the_text_names_them() {
        let sql = "SET app.tenant = 'x';\n\
                   SET SESSION \"My.Flag\" TO on;\n\
                   SELECT pg_catalog.set_config('audit.user', 'me', false);\n\
                   SET search_path = '';\n\
                   UPDATE t SET a.b = 1;\n\
                   DO $$BEGIN EXECUTE format('SET %I = %L', 'x.y', '1'); END$$;";
        let (may, named) = scan(sql);
        assert!(may);
        // `a.b` is a false positive (a column), harmless: it is only asked for by name.
        assert_eq!(named, ["a.b", "app.tenant", "audit.user", "my.flag"]);
        assert_eq!(scan("SET search_path = public;").1, Vec::<String>::new());
    }

    #[test]
    fn plain_ddl_gets_the_cheap_check() {
        for sql in [
            "CREATE TABLE t (id bigserial PRIMARY KEY, name text NOT NULL);",
            "ALTER TABLE t ALTER COLUMN name SET DEFAULT 'x';",
            "ALTER TABLE t ALTER COLUMN name SET NOT NULL, ALTER COLUMN id SET DATA TYPE int8;",
            "ALTER TABLE t SET (fillfactor = 70);",
            "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u ON DELETE SET NULL;",
            "ALTER TABLE t ALTER COLUMN id SET STATISTICS 100;",
            "ALTER TABLE t SET TABLESPACE fast;",
            "ALTER TABLE t SET LOGGED;",
            "INSERT INTO settings (name) VALUES ('dataset');",
            "SELECT f();",
            "",
        ] {
            assert!(!may_set(sql), "{sql}");
        }
    }

    #[test]
    fn the_cheap_check_quotes_what_array_in_would_misread() {
        let sql = watch_sql(&[
            ("search_path".into(), "\"$user\", public".into()),
            ("app.x".into(), r"a\b{},".into()),
            ("empty".into(), String::new()),
        ]);
        assert!(
            sql.contains(r#"E'{"search_path","app.x","empty"}'::text[]"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"E'{"\\"$user\\", public","a\\\\b{},",""}'::text[]"#),
            "{sql}"
        );
    }
}
