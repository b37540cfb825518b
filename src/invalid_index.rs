//! INVALID indexes: what a failed or interrupted `CREATE [UNIQUE] INDEX CONCURRENTLY` (or
//! `REINDEX … CONCURRENTLY`) leaves behind, and what keeps one from passing as success.
//!
//! A concurrent build commits its catalog entry before it scans the table; when it then fails
//! (duplicates for a unique index, `lock_timeout`, `statement_timeout`, a cancel) the server
//! keeps the index, marked INVALID (`pg_index.indisvalid = false`): queries ignore it, writes
//! still maintain it, and `CREATE INDEX … IF NOT EXISTS` of the same name then does nothing and
//! succeeds. This module owns:
//! - reading such statements with the lexer ([`IndexStatement::parse`]): the index's name, the
//!   table and its schema, quoted identifiers and schema-qualified names included;
//! - the catalog's answer about the index a statement names, resolved as the server resolves
//!   it (the index lives in its table's schema) ([`lookup`]), and about what a failed statement
//!   left ([`left_behind`]);
//! - the pre-flight of a run ([`preflight`]): an INVALID index that a pending migration would
//!   skip or stamp, and that the sentry does not rebuild itself, refuses the run (exit 6)
//!   before anything is applied;
//! - the rebuild: the no-transaction path drops an INVALID index its own statement creates
//!   ([`drop_sql`]) and checks afterwards that the index is valid.

use postgres::Client;
use postgres::types::{ToSql, Type};

use crate::db::Traced;
use crate::error::{Error, Result, SetProblem};
use crate::migrations::Migration;
use crate::schema::quote_ident;
use crate::sql_split::{self, Token};

/// PostgreSQL truncates identifiers to `NAMEDATALEN - 1` bytes.
const MAX_IDENT_BYTES: usize = 63;

/// A `CREATE [UNIQUE] INDEX` statement, as far as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexStatement {
    pub(crate) concurrently: bool,
    pub(crate) if_not_exists: bool,
    /// The index's name as the server stores it; `None` when the statement lets the server
    /// choose it.
    pub(crate) name: Option<String>,
    /// The table's schema, when the statement qualifies it.
    pub(crate) schema: Option<String>,
    pub(crate) table: String,
}

impl IndexStatement {
    /// Reads `CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON [ONLY] table …`;
    /// `None` for any other statement (or one the lexer cannot read that far).
    pub(crate) fn parse(sql: &str) -> Option<IndexStatement> {
        // Most statements are not this one: look no further than the first words.
        let start = sql.trim_start();
        if !start
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("create"))
        {
            return None;
        }
        let tokens = sql_split::tokens(sql);
        let mut t = Cursor {
            tokens: &tokens,
            at: 0,
        };
        if !t.eat("create") {
            return None;
        }
        t.eat("unique");
        if !t.eat("index") {
            return None;
        }
        let concurrently = t.eat("concurrently");
        let if_not_exists = t.eat("if");
        if if_not_exists && !(t.eat("not") && t.eat("exists")) {
            return None;
        }
        let name = if t.peek()?.is("on") {
            None
        } else {
            Some(ident(t.next()?)?)
        };
        if !t.eat("on") {
            return None;
        }
        t.eat("only");
        let mut parts = vec![ident(t.next()?)?];
        while t.peek() == Some(&Token::Punct(b'.')) {
            t.next();
            parts.push(ident(t.next()?)?);
        }
        // `catalog.schema.table`: the catalog can only be the current database.
        let table = parts.pop()?;
        let schema = parts.pop();
        Some(IndexStatement {
            concurrently,
            if_not_exists,
            name,
            schema,
            table,
        })
    }
}

/// Walks a statement's tokens.
struct Cursor<'t, 'a> {
    tokens: &'t [(usize, Token<'a>)],
    at: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let t = self.peek()?;
        self.at += 1;
        Some(t)
    }

    /// Takes the next token if it is the bare word `keyword`.
    fn eat(&mut self, keyword: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is(keyword));
        if hit {
            self.at += 1;
        }
        hit
    }
}

/// An identifier token, folded and truncated as the server stores it.
fn ident(t: &Token<'_>) -> Option<String> {
    let mut s = t.ident()?;
    if s.len() > MAX_IDENT_BYTES {
        let mut end = MAX_IDENT_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    Some(s)
}

/// Whether `sql` is `REINDEX … CONCURRENTLY` (which leaves `…_ccnew` / `…_ccold` indexes
/// INVALID when it fails).
pub(crate) fn is_reindex_concurrently(sql: &str) -> bool {
    let start = sql.trim_start();
    if !start
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("reindex"))
    {
        return false;
    }
    let tokens = sql_split::tokens(sql);
    tokens.first().is_some_and(|(_, t)| t.is("reindex"))
        && tokens.iter().any(|(_, t)| t.is("concurrently"))
}

/// The relation a `REINDEX … CONCURRENTLY` names, quoted as the server reads it, and whether it
/// is an index (else a table); `None` for a schema, a database or the system catalogs, or a
/// statement the lexer cannot read that far.
fn reindex_target(sql: &str) -> Option<(String, bool)> {
    let tokens = sql_split::tokens(sql);
    let mut t = Cursor {
        tokens: &tokens,
        at: 0,
    };
    if !t.eat("reindex") {
        return None;
    }
    if t.peek() == Some(&Token::Punct(b'(')) {
        // The options list: `(CONCURRENTLY, VERBOSE)`.
        while t.next()? != &Token::Punct(b')') {}
    }
    let index = t.eat("index");
    if !index && !t.eat("table") {
        return None;
    }
    t.eat("concurrently");
    let mut parts = vec![ident(t.next()?)?];
    while t.peek() == Some(&Token::Punct(b'.')) {
        t.next();
        parts.push(ident(t.next()?)?);
    }
    let from = parts.len().saturating_sub(2);
    let quoted: Vec<String> = parts[from..].iter().map(|p| quote_ident(p)).collect();
    Some((quoted.join("."), index))
}

/// The index names a `DROP INDEX` statement drops (the last part of each name); empty for any
/// other statement.
fn dropped_indexes(sql: &str) -> Vec<String> {
    let start = sql.trim_start();
    if !start
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("drop"))
    {
        return Vec::new();
    }
    let tokens = sql_split::tokens(sql);
    let words: Vec<&Token<'_>> = tokens.iter().map(|(_, t)| t).collect();
    if !(words.first().is_some_and(|t| t.is("drop")) && words.get(1).is_some_and(|t| t.is("index")))
    {
        return Vec::new();
    }
    let mut i = 2;
    if words.get(i).is_some_and(|t| t.is("concurrently")) {
        i += 1;
    }
    if words.get(i).is_some_and(|t| t.is("if")) {
        i += 2;
    }
    let mut names = Vec::new();
    let mut last = None;
    for t in &words[i.min(words.len())..] {
        match t {
            Token::Punct(b'.') => {}
            Token::Punct(b',') => names.extend(last.take()),
            Token::Punct(_) | Token::Literal => break,
            t if t.is("cascade") || t.is("restrict") => break,
            t => last = ident(t),
        }
    }
    names.extend(last);
    names
}

/// What the catalog holds under the name a `CREATE INDEX` statement gives its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The index's schema as the statement resolves: its table's.
    pub(crate) schema: String,
    pub(crate) name: String,
    /// An index of that name exists there and is INVALID.
    pub(crate) invalid: bool,
    /// That index is on the table the statement indexes.
    pub(crate) same_table: bool,
    /// The table the existing index is on, qualified and quoted.
    pub(crate) on_table: Option<String>,
}

impl Found {
    /// `schema.name`, quoted as needed: what a `DROP INDEX` takes.
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

// The schema of an index is its table's: the statement's schema when it names one, else the
// first schema of the search path holding a relation of the table's name, else the one a new
// table would go to. Resolved in the catalog rather than with to_regclass(), which raises
// (instead of answering) for a schema the role may not use.
const RESOLVED_SCHEMA: &str = "coalesce(r.sch, \
     (SELECT p.nsp FROM unnest(current_schemas(true)) WITH ORDINALITY AS p(nsp, k) \
      JOIN pg_catalog.pg_namespace pn ON pn.nspname = p.nsp \
      JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = r.tbl \
      ORDER BY p.k LIMIT 1), \
     current_schema())";

/// Per statement (parallel arrays: table, schema or NULL, index name): the resolved schema,
/// whether an INVALID index of that name is there, whether it is on that table, and its table.
fn lookup_sql() -> String {
    format!(
        "SELECT r.i, coalesce(s.nsp, '')::text, x.indexrelid IS NOT NULL AND NOT x.indisvalid, \
                coalesce(x.indrelid = t.oid, false), \
                quote_ident(xn.nspname) || '.' || quote_ident(xc.relname) \
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(tbl, sch, name, i) \
         CROSS JOIN LATERAL (SELECT {RESOLVED_SCHEMA} AS nsp) s \
         LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp \
         LEFT JOIN pg_catalog.pg_class t ON t.relnamespace = n.oid AND t.relname = r.tbl \
         LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.name \
         LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid \
         LEFT JOIN pg_catalog.pg_class xc ON xc.oid = x.indrelid \
         LEFT JOIN pg_catalog.pg_namespace xn ON xn.oid = xc.relnamespace \
         ORDER BY r.i"
    )
}

/// What the catalog holds under the name of each statement (each must have a name), in
/// order; one round trip.
pub(crate) fn lookup(client: &mut Client, statements: &[&IndexStatement]) -> Result<Vec<Found>> {
    let tables: Vec<&str> = statements.iter().map(|s| s.table.as_str()).collect();
    let schemas: Vec<Option<&str>> = statements.iter().map(|s| s.schema.as_deref()).collect();
    let names: Vec<&str> = statements
        .iter()
        .map(|s| s.name.as_deref().unwrap_or_default())
        .collect();
    let rows = client
        .traced(
            &lookup_sql(),
            &[
                (&tables as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
                (&schemas, Type::TEXT_ARRAY),
                (&names, Type::TEXT_ARRAY),
            ],
        )
        .map_err(|e| Error::db("looking for INVALID indexes of the names being created", &e))?;
    Ok(rows
        .iter()
        .zip(&names)
        .map(|(row, name)| Found {
            schema: row.get(1),
            name: name.to_string(),
            invalid: row.get(2),
            same_table: row.get(3),
            on_table: row.get(4),
        })
        .collect())
}

/// The statement that removes an INVALID index without blocking writes.
pub(crate) fn drop_sql(found: &Found) -> String {
    format!("DROP INDEX CONCURRENTLY IF EXISTS {}", found.qualified())
}

/// The INVALID indexes a failed statement left: for a named
/// `CREATE INDEX CONCURRENTLY`, its index; for an unnamed one, every INVALID index of its table;
/// for `REINDEX … CONCURRENTLY`, every INVALID `…_ccnew` / `…_ccold` index; for any other
/// statement, nothing (no round trip). Only asked on the failure path.
pub(crate) fn left_behind(client: &mut Client, sql: &str) -> Left {
    let named = IndexStatement::parse(sql).filter(|ix| ix.concurrently);
    let rebuilt_next_run = named.as_ref().is_some_and(|ix| ix.name.is_some());
    let rows = if let Some(ix) = named {
        client.traced(
            &format!(
                "SELECT n.nspname::text, c.relname::text \
                 FROM (SELECT $1::text AS tbl, $2::text AS sch, $3::text AS name) r \
                 CROSS JOIN LATERAL (SELECT {RESOLVED_SCHEMA} AS nsp) s \
                 JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp \
                 JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid \
                 JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid AND NOT x.indisvalid \
                 WHERE CASE WHEN r.name IS NULL \
                       THEN x.indrelid = (SELECT t.oid FROM pg_catalog.pg_class t \
                                          WHERE t.relnamespace = n.oid AND t.relname = r.tbl) \
                       ELSE c.relname = r.name END \
                 ORDER BY c.oid"
            ),
            &[
                (&ix.table as &(dyn ToSql + Sync), Type::TEXT),
                (&ix.schema, Type::TEXT),
                (&ix.name, Type::TEXT),
            ],
        )
    } else if is_reindex_concurrently(sql) {
        // The copies of the table it rebuilt (the table of the index it names), or of every
        // table for a schema or a database.
        let (relation, index) = reindex_target(sql).unzip();
        client.traced(
            "SELECT n.nspname::text, c.relname::text \
             FROM pg_catalog.pg_index x \
             JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT x.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$' \
               AND ($1::text IS NULL OR x.indrelid = CASE WHEN $2::bool \
                    THEN (SELECT i.indrelid FROM pg_catalog.pg_index i \
                          WHERE i.indexrelid = to_regclass($1)::oid) \
                    ELSE to_regclass($1)::oid END) \
             ORDER BY c.oid",
            &[
                (&relation as &(dyn ToSql + Sync), Type::TEXT),
                (&index, Type::BOOL),
            ],
        )
    } else {
        return Left::default();
    };
    match rows {
        Ok(rows) => Left {
            indexes: rows
                .iter()
                .map(|r| {
                    // Names from the catalog: escaped, so that none can start a line.
                    crate::output::esc(&format!(
                        "{}.{}",
                        quote_ident(r.get::<_, &str>(0)),
                        quote_ident(r.get::<_, &str>(1))
                    ))
                    .into_owned()
                })
                .collect(),
            rebuilt_next_run,
            unchecked: false,
        },
        Err(e) => {
            log::debug!(
                "could not look for INVALID indexes after the failure: {}",
                crate::output::external(&e.to_string())
            );
            Left {
                unchecked: true,
                rebuilt_next_run,
                ..Left::default()
            }
        }
    }
}

/// Whether `sql` may leave an INVALID index when it fails.
pub(crate) fn may_leave_invalid(sql: &str) -> bool {
    IndexStatement::parse(sql).is_some_and(|ix| ix.concurrently) || is_reindex_concurrently(sql)
}

/// What an INVALID index is, for reports.
pub(crate) const WHAT_INVALID_MEANS: &str = "queries never use it, a unique one guarantees \
     nothing, and CREATE INDEX IF NOT EXISTS would skip it";

/// The query that lists every INVALID index, for a person to run.
pub(crate) const FIND_INVALID: &str =
    "SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;";

/// The INVALID indexes a failed statement left, for its report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Left {
    /// Qualified, quoted names.
    pub indexes: Vec<String>,
    /// The statement is a named `CREATE INDEX CONCURRENTLY`: while the migration still creates
    /// that index, the next run drops it and builds it again by itself.
    pub rebuilt_next_run: bool,
    /// The statement may have left one, but the catalog could not be asked.
    pub unchecked: bool,
}

impl Left {
    /// Whether the report has nothing to say: nothing was left, as far as the catalog shows.
    pub fn is_empty(&self) -> bool {
        self.indexes.is_empty() && !self.unchecked
    }

    /// The sentences of a failure report that name the indexes and the fix; `subject` names
    /// the statement (`Its failing statement`).
    pub fn text(&self, subject: &str) -> String {
        if self.indexes.is_empty() {
            return if self.unchecked {
                format!(
                    "{subject} may have left an INVALID index behind ({WHAT_INVALID_MEANS}); the \
                     sentry could not ask the catalog. Look: {FIND_INVALID} — and DROP INDEX \
                     CONCURRENTLY what it lists before deploying again."
                )
            } else {
                String::new()
            };
        }
        let many = self.indexes.len() > 1;
        let drops: Vec<String> = self
            .indexes
            .iter()
            .map(|q| format!("DROP INDEX CONCURRENTLY {q};"))
            .collect();
        let mut text = format!(
            "{subject} left {} behind, INVALID: {WHAT_INVALID_MEANS}. Remove {}: {} then deploy \
             again",
            plural_indexes(&self.indexes),
            if many { "them" } else { "it" },
            drops.join(" ")
        );
        if self.rebuilt_next_run {
            text.push_str(
                " (as long as this migration creates it, the next run also drops it and builds \
                 it again by itself)",
            );
        }
        text.push('.');
        text
    }
}

fn plural_indexes(left: &[String]) -> String {
    match left {
        [one] => format!("the index {one}"),
        many => format!("the indexes {}", many.join(", ")),
    }
}

/// The pre-flight of `run`/`upgrade`, before anything is applied: for every pending
/// statement that creates a named index, an INVALID index of that name in the schema it
/// resolves to refuses the run (exit 6) unless the sentry rebuilds it itself — the statement is
/// a `CREATE INDEX CONCURRENTLY` of a no-transaction migration on the same table — or an
/// earlier pending statement drops that name. Otherwise `IF NOT EXISTS` would skip the broken
/// index (or stamp recovery would skip the "already exists" error) and the migration would be
/// recorded with it. One round trip, only when a pending migration names an index.
pub(crate) fn preflight(client: &mut Client, pending: &[&Migration]) -> Result<()> {
    struct Candidate<'m> {
        m: &'m Migration,
        line: usize,
        ix: IndexStatement,
        dropped_before: bool,
    }
    let mut candidates = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for m in pending {
        let sql = m.source()?.sql;
        if !crate::db::mentions(&sql, "index") {
            continue;
        }
        // The splitter's problems are reported by the contents check, which runs first.
        let Ok(statements) = sql_split::split(&sql) else {
            continue;
        };
        for st in statements {
            dropped.extend(dropped_indexes(st.sql));
            if let Some(ix) = IndexStatement::parse(st.sql).filter(|ix| ix.name.is_some()) {
                let dropped_before = ix.name.as_ref().is_some_and(|n| dropped.contains(n));
                candidates.push(Candidate {
                    m,
                    line: st.line,
                    ix,
                    dropped_before,
                });
            }
        }
    }
    if candidates.is_empty() {
        return Ok(());
    }
    let statements: Vec<&IndexStatement> = candidates.iter().map(|c| &c.ix).collect();
    let found = lookup(client, &statements)?;
    let mut problems = Vec::new();
    for (c, f) in candidates.iter().zip(&found) {
        if !f.invalid || c.dropped_before {
            continue;
        }
        let q = f.qualified();
        if c.m.no_transaction && c.ix.concurrently && f.same_table {
            log::debug!(
                "{q} exists but is INVALID (a failed CREATE INDEX CONCURRENTLY left it): {}:{} \
                 creates it, so the sentry drops it and builds it again when it gets there",
                c.m.path.display(),
                c.line
            );
            continue;
        }
        problems.push(refusal(&c.m.path, c.line, &c.ix, c.m.no_transaction, f));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::MigrationSet(problems))
    }
}

/// Why the sentry will not rebuild the INVALID index `f` that the statement at `path:line`
/// names, and the fix.
pub(crate) fn refusal(
    path: &std::path::Path,
    line: usize,
    ix: &IndexStatement,
    no_transaction: bool,
    f: &Found,
) -> SetProblem {
    let q = f.qualified();
    let effect = if ix.if_not_exists {
        "its IF NOT EXISTS would skip it"
    } else {
        "it would fail as \"already exists\" and stamp recovery would skip it"
    };
    let why = if !f.same_table {
        format!(
            "it is on {}, not on the table this statement indexes, so the sentry does not \
             rebuild it",
            f.on_table.as_deref().unwrap_or("another table")
        )
    } else if !ix.concurrently || !no_transaction {
        "the sentry rebuilds an INVALID index only for a CREATE INDEX CONCURRENTLY in a \
         -- sentry:no-transaction migration (the drop must not lock the table for writes)"
            .to_string()
    } else {
        "the sentry does not rebuild it".to_string()
    };
    SetProblem::file(
        path,
        format!(
            "index {q} exists but is INVALID (a failed CREATE INDEX CONCURRENTLY left it): {effect}, \
             and the migration would be recorded with an index that is not there for queries; \
             {why}"
        ),
    )
    .at_line(line)
    .with_hint(format!(
        "drop it, then deploy again: DROP INDEX CONCURRENTLY {q};"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Option<IndexStatement> {
        IndexStatement::parse(sql)
    }

    #[test]
    fn reads_name_table_and_schema_of_create_index() {
        let ix = parse(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_users_nickname ON users (nickname)",
        )
        .unwrap();
        assert!(ix.concurrently && ix.if_not_exists);
        assert_eq!(ix.name.as_deref(), Some("ux_users_nickname"));
        assert_eq!((ix.schema, ix.table.as_str()), (None, "users"));

        let ix = parse(
            "create index concurrently \"Odd \"\"Name\" on only \"My Schema\".\"T\" using btree (a)",
        )
        .unwrap();
        assert!(ix.concurrently && !ix.if_not_exists);
        assert_eq!(ix.name.as_deref(), Some("Odd \"Name"));
        assert_eq!(ix.schema.as_deref(), Some("My Schema"));
        assert_eq!(ix.table, "T");

        let ix = parse("CREATE INDEX ON mydb.Shop.Items (a)").unwrap();
        assert!(!ix.concurrently && ix.name.is_none());
        assert_eq!(
            (ix.schema.as_deref(), ix.table.as_str()),
            (Some("shop"), "items")
        );

        // A comment between the words, and a name the server truncates to 63 bytes.
        let long = "x".repeat(70);
        let ix = parse(&format!(
            "CREATE /* c */ INDEX -- why\n CONCURRENTLY {long} ON t (a)"
        ))
        .unwrap();
        assert_eq!(ix.name.as_deref().map(str::len), Some(63));
        // A quoted "on" is a name, not the keyword.
        let ix = parse("CREATE INDEX \"on\" ON t (a)").unwrap();
        assert_eq!(ix.name.as_deref(), Some("on"));

        for other in [
            "CREATE TABLE t (a int)",
            "CREATE INDEX",
            "CREATE INDEX IF EXISTS i ON t (a)",
            "SELECT 1",
            "REINDEX INDEX CONCURRENTLY i",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn recognises_reindex_concurrently_and_drop_index() {
        assert!(is_reindex_concurrently("REINDEX INDEX CONCURRENTLY ix"));
        assert!(is_reindex_concurrently("reindex (concurrently) table t"));
        assert!(!is_reindex_concurrently("REINDEX TABLE t"));
        assert_eq!(
            reindex_target("REINDEX (VERBOSE, CONCURRENTLY) INDEX app.\"My Ix\""),
            Some(("app.\"My Ix\"".to_string(), true))
        );
        assert_eq!(
            reindex_target("reindex table concurrently db.s.t"),
            Some(("s.t".to_string(), false))
        );
        assert_eq!(reindex_target("REINDEX SCHEMA CONCURRENTLY s"), None);
        assert!(may_leave_invalid("CREATE INDEX CONCURRENTLY ON t (a)"));
        assert!(!may_leave_invalid("CREATE INDEX i ON t (a)"));
        assert_eq!(
            dropped_indexes("DROP INDEX CONCURRENTLY IF EXISTS public.a, \"B\" CASCADE"),
            ["a", "B"]
        );
        assert_eq!(dropped_indexes("DROP INDEX ix"), ["ix"]);
        assert!(dropped_indexes("DROP TABLE ix").is_empty());
    }

    #[test]
    fn the_report_names_each_index_and_its_drop() {
        let left = Left {
            indexes: vec!["public.ux_users_nickname".to_string()],
            rebuilt_next_run: true,
            unchecked: false,
        };
        let text = left.text("It");
        assert!(
            text.starts_with("It left the index public.ux_users_nickname behind, INVALID: "),
            "{text}"
        );
        assert!(
            text.contains(
                "Remove it: DROP INDEX CONCURRENTLY public.ux_users_nickname; then deploy again \
                 (as long as"
            ),
            "{text}"
        );
        assert!(text.contains("builds it again by itself"), "{text}");
        let two = Left {
            indexes: vec!["a.i_ccnew".into(), "a.j_ccnew".into()],
            rebuilt_next_run: false,
            unchecked: false,
        }
        .text("It");
        assert!(
            two.contains("the indexes a.i_ccnew, a.j_ccnew behind"),
            "{two}"
        );
        assert!(
            two.contains(
                "Remove them: DROP INDEX CONCURRENTLY a.i_ccnew; DROP INDEX CONCURRENTLY \
                 a.j_ccnew; then deploy again."
            ),
            "{two}"
        );
        assert!(!two.contains("by itself"), "{two}");
    }
}
