//! What one statement of a migration tells an adoption replay, read from its text alone (no
//! server): whether its success shows that its object did not exist, what it does that the
//! catalog cannot show, what a rollback would not undo, whether it adds an enum value, and
//! which index a `CREATE INDEX CONCURRENTLY` would create.
//!
//! The replay (`adopt.rs`) runs a migration history in one transaction onto a database that
//! may have seen part of it. Two kinds of statement mislead it if taken at face value:
//!
//! - a statement that succeeds whether or not it ran before (`IF NOT EXISTS`, `OR REPLACE`, an
//!   unnamed index or constraint, which PostgreSQL names anew each time) says nothing about
//!   how far the database is;
//! - a statement whose effect is in the data rather than in the catalog (a sequence restart, a
//!   row change, a privilege, a setting) can neither be found by a replay nor safely run
//!   twice: running `ALTER SEQUENCE … RESTART` again sends the next ids into existing ones.

use crate::sql_split::{self, Token};

type Tokens<'a> = [(usize, Token<'a>)];

fn is(tokens: &Tokens<'_>, i: usize, keyword: &str) -> bool {
    tokens.get(i).is_some_and(|(_, t)| t.is(keyword))
}

fn position(tokens: &Tokens<'_>, keyword: &str) -> Option<usize> {
    tokens.iter().position(|(_, t)| t.is(keyword))
}

/// Whether `keyword` occurs outside parentheses (not in an identity's `(RESTART n)` options).
fn at_depth_zero(tokens: &Tokens<'_>, keyword: &str) -> bool {
    let mut depth = 0usize;
    for (_, token) in tokens {
        match token {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth = depth.saturating_sub(1),
            t if depth == 0 && t.is(keyword) => return true,
            _ => {}
        }
    }
    false
}

fn has_if_not_exists(tokens: &Tokens<'_>) -> bool {
    tokens
        .windows(3)
        .any(|w| w[0].1.is("if") && w[1].1.is("not") && w[2].1.is("exists"))
}

/// Whether a statement that succeeded shows that what it creates did not exist: had it run
/// before, it would have failed with "already exists" (or, for `ADD PRIMARY KEY`, with
/// "multiple primary keys"). A named `CREATE` without `IF NOT EXISTS` or `OR REPLACE`, an
/// `ALTER … ADD` of a column, a named constraint, an enum value, an identity, or a rename
/// (whose success shows the old name was still there).
///
/// Not evidence: idempotent statements, a temporary table (never there when a session starts),
/// and unnamed objects — `CREATE INDEX ON t (…)`, `ADD UNIQUE (…)`, `ADD CHECK (…)`,
/// `ADD FOREIGN KEY …`: PostgreSQL picks a free name each time, so a second run creates a
/// second index or constraint instead of failing. `ALTER … IF EXISTS` is not evidence either
/// (it succeeds, doing nothing, when its object is gone).
pub(crate) fn creates_something(sql: &str) -> bool {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    if has_if_not_exists(t) {
        return false;
    }
    if is(t, 0, "create") {
        if is(t, 1, "or") && is(t, 2, "replace") {
            return false;
        }
        if is(t, 1, "temp") || is(t, 1, "temporary") {
            return false;
        }
        // CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON …
        if let Some(i) = position(t, "index").filter(|&i| i <= 2) {
            let after = if is(t, i + 1, "concurrently") {
                i + 2
            } else {
                i + 1
            };
            return !is(t, after, "on");
        }
        // CREATE STATISTICS [name] ON …
        if is(t, 1, "statistics") {
            return !is(t, 2, "on");
        }
        return true;
    }
    if !is(t, 0, "alter") {
        return false;
    }
    // ALTER <kind> IF EXISTS … does nothing when its object is gone.
    if t.windows(2)
        .take(4)
        .any(|w| w[0].1.is("if") && w[1].1.is("exists"))
    {
        return false;
    }
    if position(t, "rename").is_some() {
        return true;
    }
    // Each `ADD` at parenthesis depth 0 starts a subcommand: one that adds something named is
    // evidence.
    let mut depth = 0usize;
    for (i, (_, token)) in t.iter().enumerate() {
        match token {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth = depth.saturating_sub(1),
            tok if depth == 0 && tok.is("add") => {
                let next = t.get(i + 1).map(|(_, t)| t);
                let unnamed = ["unique", "check", "foreign", "exclude"];
                if next.is_some_and(|n| unnamed.iter().any(|k| n.is(k))) {
                    continue;
                }
                if next.is_some() {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// What a statement does that no replay can find and that a second run repeats, if anything: a
/// short description, e.g. `a sequence restart`. Such a statement can neither be found by a
/// replay nor safely run again (a restart re-issues ids, an `INSERT` duplicates rows, an
/// `UPDATE` may undo later work, an unnamed index is built a second time).
///
/// Recognised: `ALTER SEQUENCE … RESTART`, an identity's `ALTER COLUMN … RESTART`, `setval` and
/// `nextval` called by a query; `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `TRUNCATE`, `COPY` (also
/// inside `WITH`); `GRANT`, `REVOKE`, `ALTER DEFAULT PRIVILEGES`; a configuration setting
/// (`ALTER DATABASE|ROLE|USER|FUNCTION|PROCEDURE|ROUTINE … SET|RESET`, `ALTER SYSTEM`, a
/// table's or index's `SET (…)` / `RESET (…)` storage parameters); `CALL`; a `DO` block whose
/// body runs any of these; and an unnamed index or constraint (`CREATE INDEX ON …`,
/// `ADD UNIQUE|CHECK|FOREIGN KEY|EXCLUDE`), which PostgreSQL names anew on every run. Not
/// recognised: what a function called by a `SELECT` or by a `DO` block's `EXECUTE` does (its
/// text is not in the statement).
pub(crate) fn invisible_effect(sql: &str) -> Option<&'static str> {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    let first = t.first().map(|(_, t)| t)?;
    let calls = |name: &str| {
        t.windows(2)
            .any(|w| w[0].1.is(name) && w[1].1 == Token::Punct(b'('))
    };
    if first.is("create")
        && let Some(i) = position(t, "index").filter(|&i| i <= 2)
    {
        let after = if is(t, i + 1, "concurrently") {
            i + 2
        } else {
            i + 1
        };
        return is(t, after, "on").then_some("an unnamed index (a second run builds another)");
    }
    if first.is("alter") {
        if is(t, 1, "table") && adds_unnamed_constraint(t) {
            return Some("an unnamed constraint (a second run adds another)");
        }
        if is(t, 1, "sequence") && position(t, "restart").is_some() {
            return Some("a sequence restart");
        }
        if is(t, 1, "table") && at_depth_zero(t, "restart") {
            return Some("an identity restart");
        }
        if is(t, 1, "default") && is(t, 2, "privileges") {
            return Some("a privilege change");
        }
        if is(t, 1, "system") {
            return Some("a server setting");
        }
        let settings_of = [
            "database",
            "role",
            "user",
            "function",
            "procedure",
            "routine",
        ];
        if settings_of.iter().any(|k| is(t, 1, k))
            && (position(t, "set").is_some() || position(t, "reset").is_some())
            && !(position(t, "set").is_some() && position(t, "schema").is_some())
        {
            return Some("a setting");
        }
        let storage = t
            .windows(2)
            .any(|w| (w[0].1.is("set") || w[0].1.is("reset")) && w[1].1 == Token::Punct(b'('));
        if storage {
            return Some("a storage setting");
        }
        return None;
    }
    if ["insert", "update", "delete", "merge", "copy"]
        .iter()
        .any(|k| first.is(k))
    {
        return Some("a data change");
    }
    if first.is("truncate") {
        return Some("a data change (TRUNCATE)");
    }
    if first.is("with")
        && ["insert", "update", "delete", "merge"]
            .iter()
            .any(|k| position(t, k).is_some())
    {
        return Some("a data change");
    }
    if first.is("grant") || first.is("revoke") {
        return Some("a privilege change");
    }
    if first.is("call") {
        return Some("a procedure call");
    }
    if first.is("select") || first.is("values") {
        if calls("setval") {
            return Some("a sequence change (setval)");
        }
        if calls("nextval") {
            return Some("a sequence change (nextval)");
        }
        return None;
    }
    if first.is("do") {
        return dollar_bodies(sql, t).iter().find_map(|b| in_body(b));
    }
    None
}

/// Whether running a statement changes something that rolling its transaction back does not
/// undo: a `setval` call (in a query or a `DO` block). A sequence's `nextval` is not undone
/// either, but it only leaves a gap; `setval` can move a live sequence back, so that the next
/// ids collide with existing ones. `ALTER SEQUENCE … RESTART` is transactional. Not
/// recognised: a `setval` inside a function the statement calls.
pub(crate) fn survives_rollback(sql: &str) -> bool {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    let calls_setval = |t: &Tokens<'_>| {
        t.windows(2)
            .any(|w| w[0].1.is("setval") && w[1].1 == Token::Punct(b'('))
    };
    // A routine's body is a definition: it runs when called, not now.
    if is(t, 0, "create") || is(t, 0, "alter") || is(t, 0, "comment") {
        return false;
    }
    if is(t, 0, "do") {
        return dollar_bodies(sql, t)
            .iter()
            .any(|b| calls_setval(&sql_split::tokens(b)));
    }
    calls_setval(t)
}

/// Whether an `ALTER TABLE` adds a constraint without naming it (`ADD UNIQUE (…)`, `ADD CHECK
/// (…)`, `ADD FOREIGN KEY …`, `ADD EXCLUDE …`, at parenthesis depth 0).
fn adds_unnamed_constraint(t: &Tokens<'_>) -> bool {
    let mut depth = 0usize;
    for (i, (_, token)) in t.iter().enumerate() {
        match token {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth = depth.saturating_sub(1),
            tok if depth == 0 && tok.is("add") => {
                let next = t.get(i + 1).map(|(_, t)| t);
                if next.is_some_and(|n| {
                    ["unique", "check", "foreign", "exclude"]
                        .iter()
                        .any(|k| n.is(k))
                }) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The bodies of the dollar-quoted strings among `tokens` of `sql`.
fn dollar_bodies<'a>(sql: &'a str, tokens: &Tokens<'_>) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (offset, token) in tokens {
        if *token != Token::Literal || !sql[*offset..].starts_with('$') {
            continue;
        }
        let rest = &sql[*offset + 1..];
        let Some(close) = rest.find('$') else {
            continue;
        };
        let tag = &sql[*offset..*offset + close + 2];
        let body_start = *offset + tag.len();
        if let Some(end) = sql[body_start..].find(tag) {
            out.push(&sql[body_start..body_start + end]);
        }
    }
    out
}

/// What a procedural body runs that the catalog cannot show: a statement starting with a
/// data-changing word (after `;`, `BEGIN`, `THEN`, `ELSE`, `LOOP` — so that the words of
/// `ON DELETE CASCADE` or `BEFORE INSERT OR UPDATE` are not taken for statements), a `setval`
/// or a `GRANT`/`REVOKE`.
fn in_body(body: &str) -> Option<&'static str> {
    let tokens = sql_split::tokens(body);
    for (i, (_, token)) in tokens.iter().enumerate() {
        let starts = i == 0
            || tokens[i - 1].1 == Token::Punct(b';')
            || ["begin", "then", "else", "loop"]
                .iter()
                .any(|k| tokens[i - 1].1.is(k));
        let call = tokens
            .get(i + 1)
            .is_some_and(|(_, t)| *t == Token::Punct(b'('));
        if token.is("setval") && call {
            return Some("a sequence change (setval, in a DO block)");
        }
        if !starts {
            continue;
        }
        if ["insert", "update", "delete", "merge", "truncate"]
            .iter()
            .any(|k| token.is(k))
        {
            return Some("a data change (in a DO block)");
        }
        if token.is("grant") || token.is("revoke") {
            return Some("a privilege change (in a DO block)");
        }
    }
    None
}

/// Whether a statement adds an enum value (`ALTER TYPE … ADD VALUE`), which PostgreSQL lets
/// later statements use only once the transaction that added it has committed.
pub(crate) fn adds_enum_value(sql: &str) -> bool {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    is(t, 0, "alter")
        && is(t, 1, "type")
        && t.windows(2).any(|w| w[0].1.is("add") && w[1].1.is("value"))
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] [schema.]table`
/// creates, as `to_regclass` takes it (`"schema"."name"`, or `"name"` when the table is not
/// qualified: the index goes into its table's schema). `None` for any other statement and for
/// an unnamed index.
pub(crate) fn concurrent_index(sql: &str) -> Option<String> {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    if !is(t, 0, "create") {
        return None;
    }
    let index = position(t, "index").filter(|&i| i <= 2)?;
    if !is(t, index + 1, "concurrently") {
        return None;
    }
    let mut i = index + 2;
    if is(t, i, "if") && is(t, i + 1, "not") && is(t, i + 2, "exists") {
        i += 3;
    }
    if is(t, i, "on") {
        return None;
    }
    let name = t.get(i)?.1.ident()?;
    if !is(t, i + 1, "on") {
        return None;
    }
    let mut j = i + 2;
    if is(t, j, "only") {
        j += 1;
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let qualified = t.get(j + 1).is_some_and(|(_, t)| *t == Token::Punct(b'.'));
    match t.get(j).and_then(|(_, t)| t.ident()) {
        Some(schema) if qualified => Some(format!("{}.{}", quote(&schema), quote(&name))),
        _ => Some(quote(&name)),
    }
}

/// An object a statement creates only if it is not there yet (`IF NOT EXISTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Guarded {
    /// A table, index, sequence or materialized view, as `to_regclass` takes it.
    Relation(String),
    /// A column of a table (`to_regclass` text), by name.
    Column { table: String, column: String },
}

impl Guarded {
    /// What identifies the object across a history's migrations, which may name it with or
    /// without its schema: the relation's own name, and the column's.
    pub(crate) fn key(&self) -> String {
        let last = |r: &str| {
            r.rsplit("\".\"")
                .next()
                .unwrap_or(r)
                .trim_matches('"')
                .to_string()
        };
        match self {
            Guarded::Relation(r) => last(r),
            Guarded::Column { table, column } => format!("{}.{column}", last(table)),
        }
    }
}

impl std::fmt::Display for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guarded::Relation(name) => write!(f, "{name}"),
            Guarded::Column { table, column } => write!(f, "column {column} of {table}"),
        }
    }
}

/// A double-quoted identifier, as `to_regclass` takes it.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The relation name at `tokens[i]` (`name` or `schema.name`), quoted, and the index after it.
fn relation_at(t: &Tokens<'_>, i: usize) -> Option<(String, usize)> {
    let first = t.get(i)?.1.ident()?;
    if t.get(i + 1).is_some_and(|(_, t)| *t == Token::Punct(b'.')) {
        let second = t.get(i + 2)?.1.ident()?;
        return Some((format!("{}.{}", quote(&first), quote(&second)), i + 3));
    }
    Some((quote(&first), i + 1))
}

/// What a statement creates only if it is missing: the relation of `CREATE TABLE|INDEX|
/// SEQUENCE|MATERIALIZED VIEW … IF NOT EXISTS name`, the columns of `ALTER TABLE t ADD [COLUMN]
/// IF NOT EXISTS c`. Found in the catalog from before the replay, such an object is evidence
/// that the migration ran, which the statement itself, succeeding silently, does not give —
/// provided that no earlier migration declares it too (see [`declared_objects`]).
pub(crate) fn guarded_objects(sql: &str) -> Vec<Guarded> {
    objects(sql, true)
}

/// The tables, indexes, sequences, materialized views and columns a statement declares by
/// name, with or without `IF NOT EXISTS`: which migration of a history declares an object first.
/// An idempotent history often declares an object again in a later migration (`CREATE INDEX
/// IF NOT EXISTS` of an index an earlier one created): only the first declaration is evidence.
pub(crate) fn declared_objects(sql: &str) -> Vec<Guarded> {
    objects(sql, false)
}

fn objects(sql: &str, guarded_only: bool) -> Vec<Guarded> {
    let tokens = sql_split::tokens(sql);
    let t = &tokens[..];
    let if_not_exists = |i: usize| is(t, i, "if") && is(t, i + 1, "not") && is(t, i + 2, "exists");
    // The index of the name after `IF NOT EXISTS` at `i`, or of the name at `i` when that is not
    // there and plain declarations count.
    let name_at = |i: usize| -> Option<usize> {
        if if_not_exists(i) {
            Some(i + 3)
        } else if guarded_only {
            None
        } else {
            Some(i)
        }
    };
    if is(t, 0, "create") {
        let mut i = 1;
        while ["unique", "unlogged", "materialized"]
            .iter()
            .any(|k| is(t, i, k))
        {
            i += 1;
        }
        if ["table", "sequence", "view"].iter().any(|k| is(t, i, k)) {
            return name_at(i + 1)
                .and_then(|n| relation_at(t, n))
                .map(|(r, _)| vec![Guarded::Relation(r)])
                .unwrap_or_default();
        }
        if is(t, i, "index") {
            let mut j = i + 1;
            if is(t, j, "concurrently") {
                j += 1;
            }
            let Some(n) = name_at(j) else {
                return Vec::new();
            };
            let Some(name) = t.get(n).and_then(|(_, t)| t.ident()) else {
                return Vec::new();
            };
            if !is(t, n + 1, "on") || name == "on" {
                return Vec::new();
            }
            let mut k = n + 2;
            if is(t, k, "only") {
                k += 1;
            }
            // The index goes into its table's schema.
            let qualified = t.get(k + 1).is_some_and(|(_, t)| *t == Token::Punct(b'.'));
            return match t.get(k).and_then(|(_, t)| t.ident()) {
                Some(schema) if qualified => vec![Guarded::Relation(format!(
                    "{}.{}",
                    quote(&schema),
                    quote(&name)
                ))],
                _ => vec![Guarded::Relation(quote(&name))],
            };
        }
        return Vec::new();
    }
    if !(is(t, 0, "alter") && is(t, 1, "table")) {
        return Vec::new();
    }
    let mut i = 2;
    if is(t, i, "if") && is(t, i + 1, "exists") {
        i += 2;
    }
    if is(t, i, "only") {
        i += 1;
    }
    let Some((table, mut i)) = relation_at(t, i) else {
        return Vec::new();
    };
    let constraint = [
        "constraint",
        "primary",
        "unique",
        "check",
        "foreign",
        "exclude",
    ];
    let mut out = Vec::new();
    let mut depth = 0usize;
    while i < t.len() {
        match &t[i].1 {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth = depth.saturating_sub(1),
            tok if depth == 0 && tok.is("add") => {
                let mut j = i + 1;
                if is(t, j, "column") {
                    j += 1;
                }
                if let Some(n) = name_at(j)
                    && !constraint.iter().any(|k| is(t, n, k))
                    && let Some(column) = t.get(n).and_then(|(_, t)| t.ident())
                {
                    out.push(Guarded::Column {
                        table: table.clone(),
                        column,
                    });
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_creates_are_evidence_unnamed_and_idempotent_ones_are_not() {
        for sql in [
            "CREATE TABLE a (id int)",
            "create unique index ix on a (id)",
            "CREATE INDEX CONCURRENTLY ix ON a (id)",
            "CREATE TYPE s AS ENUM ('a')",
            "CREATE STATISTICS st ON a, b FROM t",
            "ALTER TABLE a ADD COLUMN b int",
            "ALTER TABLE a ADD b int",
            "ALTER TABLE a ADD CONSTRAINT a_b CHECK (b > 0)",
            "ALTER TABLE a ADD PRIMARY KEY (id)",
            "ALTER TABLE a ADD UNIQUE (b), ADD COLUMN c int",
            "ALTER TYPE s ADD VALUE 'b'",
            "ALTER TABLE a ALTER id ADD GENERATED ALWAYS AS IDENTITY",
            "ALTER TABLE a RENAME TO b",
            "ALTER TABLE a RENAME COLUMN b TO c",
        ] {
            assert!(creates_something(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE IF NOT EXISTS a (id int)",
            "CREATE TEMP TABLE a (id int)",
            "CREATE UNIQUE INDEX ON jobs (kind, unique_key)",
            "CREATE INDEX CONCURRENTLY ON a (id)",
            "CREATE STATISTICS ON a, b FROM t",
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
            "ALTER TABLE a ADD COLUMN IF NOT EXISTS b int",
            "ALTER TABLE a ADD UNIQUE (b)",
            "ALTER TABLE a ADD CHECK (b > 0)",
            "ALTER TABLE a ADD FOREIGN KEY (b) REFERENCES c (id)",
            "ALTER TABLE IF EXISTS a RENAME TO b",
            "ALTER TYPE s ADD VALUE IF NOT EXISTS 'b'",
            "ALTER TABLE a ALTER COLUMN b SET NOT NULL",
            "ALTER TABLE a ALTER COLUMN b TYPE bigint USING (b + 0)",
            "INSERT INTO a VALUES (1)",
        ] {
            assert!(!creates_something(sql), "{sql}");
        }
    }

    #[test]
    fn what_the_catalog_cannot_show() {
        let cases = [
            (
                "ALTER SEQUENCE files_file_id_seq RESTART WITH 10000000",
                Some("a sequence restart"),
            ),
            (
                "ALTER TABLE t ALTER COLUMN id RESTART WITH 5",
                Some("an identity restart"),
            ),
            (
                "SELECT setval('t_id_seq', (SELECT max(id) FROM t))",
                Some("a sequence change (setval)"),
            ),
            ("select nextval('s')", Some("a sequence change (nextval)")),
            ("INSERT INTO t (a) VALUES (1)", Some("a data change")),
            ("update t set a = 2", Some("a data change")),
            ("DELETE FROM t", Some("a data change")),
            (
                "TRUNCATE t RESTART IDENTITY",
                Some("a data change (TRUNCATE)"),
            ),
            (
                "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved",
                Some("a data change"),
            ),
            ("GRANT SELECT ON t TO app", Some("a privilege change")),
            ("REVOKE ALL ON t FROM PUBLIC", Some("a privilege change")),
            (
                "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app",
                Some("a privilege change"),
            ),
            (
                "ALTER DATABASE app SET statement_timeout = '5s'",
                Some("a setting"),
            ),
            ("ALTER ROLE app RESET ALL", Some("a setting")),
            (
                "ALTER SYSTEM SET work_mem = '8MB'",
                Some("a server setting"),
            ),
            (
                "ALTER TABLE trash SET (autovacuum_vacuum_scale_factor = 0.05)",
                Some("a storage setting"),
            ),
            ("CALL backfill()", Some("a procedure call")),
            (
                "CREATE UNIQUE INDEX ON jobs (kind, unique_key)",
                Some("an unnamed index (a second run builds another)"),
            ),
            (
                "create index concurrently on t (a)",
                Some("an unnamed index (a second run builds another)"),
            ),
            (
                "ALTER TABLE notification_policy ADD UNIQUE (name)",
                Some("an unnamed constraint (a second run adds another)"),
            ),
            (
                "DO $$ BEGIN UPDATE t SET a = 1; END $$",
                Some("a data change (in a DO block)"),
            ),
            (
                "DO $do$ BEGIN IF NOT FOUND THEN INSERT INTO t VALUES (1); END IF; END $do$",
                Some("a data change (in a DO block)"),
            ),
            (
                "DO $$ BEGIN PERFORM setval('s', 10); END $$",
                Some("a sequence change (setval, in a DO block)"),
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(invisible_effect(sql), expected, "{sql}");
        }
        for sql in [
            "CREATE TABLE t (id bigint DEFAULT nextval('s'))",
            "CREATE SEQUENCE s START 100",
            "ALTER SEQUENCE s OWNED BY t.id",
            "ALTER TABLE users ALTER user_id ADD GENERATED ALWAYS AS IDENTITY (RESTART 15)",
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0",
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
            "ALTER FUNCTION f() SET SCHEMA other",
            "SELECT pg_catalog.set_config('search_path', '', false)",
            "CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN UPDATE t SET a = 1; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "DO $$ BEGIN ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) \
             ON DELETE CASCADE; END $$",
            "DO $$ BEGIN CREATE TRIGGER tg BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE \
             FUNCTION f(); EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            "COMMENT ON TABLE t IS 'insert here'",
            "CREATE INDEX ix ON t (a)",
            "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a)",
        ] {
            assert_eq!(invisible_effect(sql), None, "{sql}");
        }
    }

    #[test]
    fn what_a_rollback_does_not_undo() {
        for sql in [
            "SELECT setval('t_id_seq', (SELECT max(id) FROM t))",
            "select pg_catalog.setval('s', 10, false)",
            "DO $$ BEGIN PERFORM setval('s', 10); END $$",
        ] {
            assert!(survives_rollback(sql), "{sql}");
        }
        for sql in [
            "ALTER SEQUENCE s RESTART WITH 10000000",
            "SELECT nextval('s')",
            "CREATE FUNCTION reset() RETURNS void AS $$ SELECT setval('s', 1) $$ LANGUAGE sql",
            "INSERT INTO t (a) VALUES (1)",
            "COMMENT ON FUNCTION f IS 'calls setval(s)'",
        ] {
            assert!(!survives_rollback(sql), "{sql}");
        }
    }

    #[test]
    fn what_if_not_exists_would_leave_as_it_is() {
        let relation = |name: &str| Guarded::Relation(name.into());
        let column = |table: &str, column: &str| Guarded::Column {
            table: table.into(),
            column: column.into(),
        };
        let cases = [
            (
                "CREATE TABLE IF NOT EXISTS users (id int)",
                vec![relation("\"users\"")],
            ),
            (
                "create unlogged table if not exists App.\"Jobs\" (id int)",
                vec![relation("\"app\".\"Jobs\"")],
            ),
            (
                "CREATE INDEX IF NOT EXISTS ix ON app.t (a)",
                vec![relation("\"app\".\"ix\"")],
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON ONLY t (a)",
                vec![relation("\"ix\"")],
            ),
            (
                "CREATE SEQUENCE IF NOT EXISTS s START 5",
                vec![relation("\"s\"")],
            ),
            (
                "CREATE MATERIALIZED VIEW IF NOT EXISTS mv AS SELECT 1",
                vec![relation("\"mv\"")],
            ),
            (
                "ALTER TABLE tokens ADD COLUMN IF NOT EXISTS is_deleted bool DEFAULT false, \
                 ADD COLUMN IF NOT EXISTS last_used_at bigint, ADD COLUMN x int",
                vec![
                    column("\"tokens\"", "is_deleted"),
                    column("\"tokens\"", "last_used_at"),
                ],
            ),
            (
                "ALTER TABLE IF EXISTS ONLY public.t ADD IF NOT EXISTS c int",
                vec![column("\"public\".\"t\"", "c")],
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(guarded_objects(sql), expected, "{sql}");
        }
        for sql in [
            "CREATE TABLE users (id int)",
            "CREATE INDEX IF NOT EXISTS ON t (a)",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto",
            "CREATE SCHEMA IF NOT EXISTS app",
            "ALTER TABLE t ADD COLUMN c int",
            "INSERT INTO t VALUES (1)",
        ] {
            assert_eq!(guarded_objects(sql), Vec::new(), "{sql}");
        }
    }

    #[test]
    fn what_a_statement_declares_by_name() {
        let keys =
            |sql: &str| -> Vec<String> { declared_objects(sql).iter().map(Guarded::key).collect() };
        assert_eq!(keys("CREATE TABLE public.users (id int)"), ["users"]);
        assert_eq!(keys("CREATE TABLE IF NOT EXISTS users (id int)"), ["users"]);
        assert_eq!(keys("CREATE INDEX ix ON app.t (a)"), ["ix"]);
        assert_eq!(keys("CREATE INDEX IF NOT EXISTS \"Ix\" ON t (a)"), ["Ix"]);
        assert!(keys("CREATE INDEX ON t (a)").is_empty());
        assert_eq!(
            keys("ALTER TABLE t ADD COLUMN a int, ADD b text, ADD CONSTRAINT c UNIQUE (a)"),
            ["t.a", "t.b"]
        );
        assert_eq!(
            keys("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int"),
            ["t.a"]
        );
        // Only the guarded ones are what IF NOT EXISTS may leave as it is.
        assert!(guarded_objects("ALTER TABLE t ADD COLUMN a int").is_empty());
    }

    #[test]
    fn enum_values_and_concurrent_indexes() {
        assert!(adds_enum_value(
            "ALTER TYPE job_state ADD VALUE 'cancelled'"
        ));
        assert!(adds_enum_value(
            "alter type s add value if not exists 'x' before 'y'"
        ));
        assert!(!adds_enum_value("ALTER TABLE t ADD COLUMN value int"));
        assert_eq!(
            concurrent_index("CREATE INDEX CONCURRENTLY ix_a ON a (id)").as_deref(),
            Some("\"ix_a\"")
        );
        assert_eq!(
            concurrent_index(
                "create unique index concurrently if not exists \"Ix\" on only app.t (id)"
            )
            .as_deref(),
            Some("\"app\".\"Ix\"")
        );
        assert_eq!(
            concurrent_index("CREATE INDEX CONCURRENTLY ON a (id)"),
            None
        );
        assert_eq!(concurrent_index("CREATE INDEX ix ON a (id)"), None);
    }
}
