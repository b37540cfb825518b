//! What a migration file may contain (SPEC §5.1, §5.2), checked without a database: by `check`
//! offline, and by `run`/`upgrade` before the first migration is applied.
//!
//! Refused, each with file:line, the statement quoted as written, and a hint: an empty
//! migration (comments only), a NUL byte, SQL the splitter cannot split, a psql meta-command,
//! `COPY … FROM stdin`, a transactional migration that manages its own transaction or holds a
//! statement PostgreSQL refuses inside a transaction block, and a statement that changes the
//! sentry's own tracking table.

use std::path::Path;

use crate::error::SetProblem;
use crate::migrations::Migration;
use crate::sql_split::{self, Statement, Token};
use crate::tracking::Table;

/// Statements that write to, or change, the table they name.
const WRITE_VERBS: [&str; 16] = [
    "alter", "drop", "truncate", "insert", "update", "delete", "merge", "create", "comment",
    "grant", "revoke", "lock", "copy", "cluster", "reindex", "security",
];

const NO_TRANSACTION_HINT: &str = "each migration already runs in its own transaction together \
     with its tracking row. Delete the transaction statements, or — for a file written for a \
     tool that lets migrations manage their own transactions (golang-migrate, say) — make its \
     first line `-- sentry:no-transaction` so that it runs as written, one statement at a time, \
     and is recorded after its last statement";

/// Every problem of one migration file (empty when it may be applied).
pub fn check(m: &Migration, table: &Table) -> Vec<SetProblem> {
    match m.source() {
        Ok(source) => check_sql(&m.path, &source.sql, m.no_transaction, table),
        Err(crate::error::Error::MigrationSet(problems)) => problems,
        Err(e) => vec![SetProblem::file(&m.path, e.to_string())],
    }
}

/// The problem of a migration with no SQL at all (comments only), which not even `stamp` may
/// record.
pub fn empty(m: &Migration) -> Option<SetProblem> {
    let source = m.source().ok()?;
    match sql_split::split(&source.sql) {
        Ok(statements) if statements.is_empty() => Some(empty_problem(&m.path)),
        _ => None,
    }
}

fn empty_problem(path: &Path) -> SetProblem {
    SetProblem::file(path, "empty migration: nothing but comments and whitespace")
        .at_line(1)
        .with_hint(
            "write its SQL before deploying, or delete the file: recorded as applied now, the \
             SQL written into it later would only ever show up as checksum drift, never run",
        )
}

/// [`check`] on a file's normalised text.
pub fn check_sql(path: &Path, sql: &str, no_transaction: bool, table: &Table) -> Vec<SetProblem> {
    if let Some(at) = sql.find('\0') {
        let (line, column) = sql_split::line_col(sql, at);
        return vec![
            SetProblem::file(
                path,
                format!("contains a NUL byte (line {line}, column {column})"),
            )
            .at_line(line)
            .with_hint(
                "PostgreSQL cannot receive a NUL byte in SQL: the file is binary, or saved as \
                 UTF-16; save it as UTF-8 text",
            ),
        ];
    }
    let statements = match sql_split::split(sql) {
        Ok(s) => s,
        Err(e) => {
            return vec![
                SetProblem::file(path, format!("{} (column {})", e.message, e.column))
                    .at_line(e.line)
                    .with_hint("close it; the server would reject the file"),
            ];
        }
    };
    if statements.is_empty() {
        return vec![empty_problem(path)];
    }
    let mut problems = Vec::new();
    for st in &statements {
        let tokens = sql_split::tokens(st.sql);
        let line_of = |offset: usize| st.line + st.sql[..offset].matches('\n').count();
        if let Some(p) = copy_from_stdin(path, st, &tokens) {
            problems.push(p);
            // What follows is the data psql would have sent: not SQL to check.
            break;
        }
        problems.extend(meta_commands(path, st, &tokens, &line_of));
        if !no_transaction {
            problems.extend(transaction_rules(path, st, &tokens));
        }
        problems.extend(tracking_rule(path, st, &tokens, table));
    }
    problems
}

/// The statement as written, for a message: on one line when it is short, else indented.
fn quoted(sql: &str) -> String {
    if sql.contains('\n') {
        format!("\n      {}\n   ", sql.replace('\n', "\n      "))
    } else {
        format!("`{sql}`")
    }
}

fn copy_from_stdin(
    path: &Path,
    st: &Statement<'_>,
    tokens: &[(usize, Token<'_>)],
) -> Option<SetProblem> {
    if !tokens.first().is_some_and(|(_, t)| t.is("copy")) {
        return None;
    }
    let from_stdin = tokens
        .windows(2)
        .any(|w| w[0].1.is("from") && w[1].1.is("stdin"));
    from_stdin.then(|| {
        // The data follows the statement up to a `\.` line: quote only the statement.
        let statement = st.sql.lines().next().unwrap_or(st.sql);
        SetProblem::file(
            path,
            format!(
                "{} reads its data from psql's standard input, which the sentry does not have",
                quoted(statement)
            ),
        )
        .at_line(st.line)
        .with_hint(
            "turn the data into INSERT statements (pg_dump --inserts does), or load it outside \
             the migration",
        )
    })
}

fn meta_commands(
    path: &Path,
    st: &Statement<'_>,
    tokens: &[(usize, Token<'_>)],
    line_of: &dyn Fn(usize) -> usize,
) -> Vec<SetProblem> {
    let mut problems: Vec<SetProblem> = Vec::new();
    for (offset, token) in tokens {
        if *token != Token::Punct(b'\\') {
            continue;
        }
        let line = line_of(*offset);
        if problems.last().is_some_and(|p| p.line == Some(line)) {
            continue;
        }
        let rest = &st.sql[*offset..];
        let command = rest.lines().next().unwrap_or(rest).trim_end();
        problems.push(
            SetProblem::file(
                path,
                format!(
                    "psql meta-command `{command}`: psql runs it, the server cannot (the \
                     sentry sends the file's SQL to the server)"
                ),
            )
            .at_line(line)
            .with_hint(
                "write it as SQL: the included file's statements instead of \\i or \\ir, \
                 literal values instead of \\set variables, and no \\connect",
            ),
        );
    }
    problems
}

/// Whether a statement (its tokens) begins, ends or divides a transaction: `BEGIN`, `COMMIT`,
/// `ROLLBACK`, `SAVEPOINT`, `PREPARE TRANSACTION`…
pub(crate) fn manages_transaction(tokens: &[(usize, Token<'_>)]) -> bool {
    let is = |i: usize, k: &str| tokens.get(i).is_some_and(|(_, t)| t.is(k));
    is(0, "begin")
        || (is(0, "start") && is(1, "transaction"))
        || is(0, "commit")
        || is(0, "end")
        || is(0, "rollback")
        || is(0, "abort")
        || is(0, "savepoint")
        || is(0, "release")
        || (is(0, "prepare") && is(1, "transaction"))
}

fn transaction_rules(
    path: &Path,
    st: &Statement<'_>,
    tokens: &[(usize, Token<'_>)],
) -> Vec<SetProblem> {
    let word = |i: usize| tokens.get(i).map(|(_, t)| t);
    let is = |i: usize, k: &str| word(i).is_some_and(|t| t.is(k));
    if manages_transaction(tokens) {
        return vec![
            SetProblem::file(
                path,
                format!("{} manages the transaction itself", quoted(st.sql)),
            )
            .at_line(st.line)
            .with_hint(NO_TRANSACTION_HINT),
        ];
    }
    let concurrently = tokens.iter().any(|(_, t)| t.is("concurrently"));
    let needs_autocommit = (is(0, "create") && concurrently && (is(1, "index") || is(2, "index")))
        || (is(0, "drop") && is(1, "index") && concurrently)
        || (is(0, "reindex") && concurrently)
        || is(0, "vacuum")
        || ((is(0, "create") || is(0, "drop")) && (is(1, "database") || is(1, "tablespace")))
        || (is(0, "alter") && is(1, "system"));
    if needs_autocommit {
        return vec![
            SetProblem::file(
                path,
                format!("{} cannot run inside a transaction block", quoted(st.sql)),
            )
            .at_line(st.line)
            .with_hint(
                "put it in its own migration whose first line is `-- sentry:no-transaction`",
            ),
        ];
    }
    Vec::new()
}

fn tracking_rule(
    path: &Path,
    st: &Statement<'_>,
    tokens: &[(usize, Token<'_>)],
    table: &Table,
) -> Option<SetProblem> {
    let first = tokens.first()?;
    if !WRITE_VERBS.iter().any(|v| first.1.is(v)) {
        return None;
    }
    let mut i = 0;
    while i < tokens.len() {
        let Some(ident) = tokens[i].1.ident() else {
            i += 1;
            continue;
        };
        let dotted = tokens
            .get(i + 1)
            .is_some_and(|(_, t)| *t == Token::Punct(b'.'));
        let (schema, name, next) = match (dotted, tokens.get(i + 2).and_then(|(_, t)| t.ident())) {
            (true, Some(name)) => (Some(ident), name, i + 3),
            _ => (None, ident, i + 1),
        };
        if table.is_named_by(schema.as_deref(), &name) {
            return Some(
                SetProblem::file(
                    path,
                    format!(
                        "{} changes the tracking table {}, which belongs to migration-sentry",
                        quoted(st.sql),
                        table.qualified
                    ),
                )
                .at_line(st.line)
                .with_hint(
                    "this is probably another migration tool's table of the same name \
                     (golang-migrate, dbmate and Rails all use schema_migrations): give the \
                     sentry a table of its own with --table (SENTRY_TABLE), e.g. --table \
                     sentry_migrations",
                ),
            );
        }
        i = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(sql: &str) -> Vec<SetProblem> {
        let table = Table::parse("schema_migrations").unwrap();
        check_sql(Path::new("m/0001_a.sql"), sql, false, &table)
    }

    fn one(sql: &str) -> SetProblem {
        let ps = problems(sql);
        assert_eq!(ps.len(), 1, "{sql:?}: {ps:#?}");
        ps.into_iter().next().unwrap()
    }

    #[test]
    fn a_valid_migration_has_no_problem() {
        assert!(problems("-- users\nCREATE TABLE users (id int);\nSELECT 1;\n").is_empty());
        // A function body may say anything.
        assert!(
            problems(
                "CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;"
            )
            .is_empty()
        );
        // Reading the table (a view of the history) is not changing it.
        assert!(problems("SELECT count(*) FROM schema_migrations;").is_empty());
    }

    #[test]
    fn empty_and_comment_only_migrations_are_refused() {
        for sql in [
            "",
            "  \n",
            "-- 0001_a: write the migration here\n",
            "/* x */ ;\n",
        ] {
            let p = one(sql);
            assert!(p.message.starts_with("empty migration"), "{p}");
            assert_eq!(p.line, Some(1));
            assert!(p.hint.as_ref().unwrap().contains("drift"));
        }
    }

    #[test]
    fn a_nul_byte_is_refused_with_its_line() {
        let p = one("SELECT 1;\nSELECT '\0';\n");
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("NUL byte"), "{p}");
    }

    #[test]
    fn psql_meta_commands_are_refused_quoted_as_written() {
        let ps = problems("\\set ON_ERROR_STOP on\nCREATE TABLE a (id int);\n\\i other.sql\n");
        assert_eq!(ps.len(), 2, "{ps:#?}");
        assert_eq!(ps[0].line, Some(1));
        assert!(
            ps[0].message.contains("`\\set ON_ERROR_STOP on`"),
            "{}",
            ps[0]
        );
        assert_eq!(ps[1].line, Some(3));
        assert!(ps[1].message.contains("`\\i other.sql`"), "{}", ps[1]);
        // A backslash inside a string is data.
        assert!(problems("SELECT E'\\\\n', '\\';").is_empty());
    }

    #[test]
    fn copy_from_stdin_is_refused_and_its_data_not_checked() {
        let p = one("CREATE TABLE t (a int);\nCOPY public.t (a) FROM stdin;\n1\n\\N\n\\.\n");
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("`COPY public.t (a) FROM stdin`"), "{p}");
        assert!(problems("COPY t TO '/tmp/x';").is_empty());
    }

    #[test]
    fn transaction_control_names_the_no_transaction_directive() {
        let ps = problems("BEGIN;\nCREATE TABLE a (id int);\nsavepoint s;\nCommit;\n");
        assert_eq!(ps.len(), 3, "{ps:#?}");
        assert_eq!(ps[0].line, Some(1));
        assert!(ps[0].message.starts_with("`BEGIN` manages"), "{}", ps[0]);
        assert!(
            ps[1].message.starts_with("`savepoint s` manages"),
            "{}",
            ps[1]
        );
        assert!(ps[2].message.starts_with("`Commit` manages"), "{}", ps[2]);
        for p in &ps {
            assert!(
                p.hint
                    .as_ref()
                    .unwrap()
                    .contains("-- sentry:no-transaction")
            );
        }
        // With the directive, the file runs as written.
        let table = Table::parse("schema_migrations").unwrap();
        assert!(
            check_sql(
                Path::new("x.sql"),
                "BEGIN;\nSELECT 1;\nCOMMIT;",
                true,
                &table
            )
            .is_empty()
        );
    }

    #[test]
    fn statements_needing_autocommit_are_quoted_in_full() {
        let sql = "create index concurrently ix_users_email_lower\n    on users (lower(email));";
        let p = one(sql);
        assert!(
            p.message.contains(
                "create index concurrently ix_users_email_lower\n          on users (lower(email))"
            ),
            "{p}"
        );
        assert!(p.message.contains("cannot run inside a transaction block"));
        assert!(
            one("CREATE UNIQUE INDEX CONCURRENTLY i ON t (c)")
                .message
                .contains("CONCURRENTLY")
        );
    }

    #[test]
    fn changing_the_tracking_table_is_refused() {
        for sql in [
            "ALTER TABLE schema_migrations ADD COLUMN dirty boolean",
            "alter table public.\"schema_migrations\" drop column note",
            "DROP TABLE IF EXISTS schema_migrations",
            "TRUNCATE schema_migrations",
            "INSERT INTO schema_migrations (version) VALUES ('1')",
            "CREATE INDEX ix ON Schema_Migrations (applied_at)",
        ] {
            let p = one(sql);
            assert!(p.message.contains(sql), "{p}");
            assert!(
                p.message.contains("tracking table schema_migrations"),
                "{p}"
            );
            assert!(p.hint.as_ref().unwrap().contains("--table"));
        }
        // Another schema's table of that name is not ours.
        assert!(problems("ALTER TABLE legacy.schema_migrations ADD COLUMN x int").is_empty());
        assert!(problems("CREATE TABLE other_migrations (id int)").is_empty());
    }
}
