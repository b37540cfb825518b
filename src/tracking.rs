//! The tracking table (SPEC §5, §5.1): its validated, quoted name, resolved once to a
//! schema-qualified one; creating it; refusing a table of another shape (dbmate's,
//! golang-migrate's, Rails'); reading its rows — refusing corrupt ones — and writing them.
//!
//! The table name is the only identifier taken from the user. It is validated here and quoted
//! once into [`Table::sql`]; every `format!` that builds SQL in this crate uses that field and
//! nothing else. All values are bound as parameters. After [`Table::resolve`] the name is
//! always schema-qualified, so a migration that changes `search_path` can neither hide the
//! table nor send history into another schema's table of the same name.
//!
//! Nothing here panics on what the database returns: every value is read with `try_get` as an
//! `Option`, and a NULL where the contract says NOT NULL is a corrupt table (exit 6).

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{GenericClient, SimpleQueryRow};
use sha2::{Digest, Sha256};

use crate::db::Traced;
use crate::error::{Error, Result, SetProblem};
use crate::plan::AppliedRow;

/// The columns SPEC §5 defines, with the types `format_type()` prints for them.
const COLUMNS: [(&str, &str); 7] = [
    ("version", "character varying(255)"),
    ("applied_at", "timestamp with time zone"),
    ("execution_time_ms", "integer"),
    ("checksum", "character varying(64)"),
    ("rollback_sql", "text"),
    ("stamped", "boolean"),
    ("note", "text"),
];

/// How many corrupt rows a report names before summarising the rest.
const MAX_NAMED_ROWS: usize = 20;

/// A validated tracking-table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The schema: as given in `--table`, or `current_schema()` once [`Table::resolve`]d.
    pub schema: Option<String>,
    pub name: String,
    /// The quoted identifier for SQL: `"schema"."name"` (or `"name"` before resolution).
    pub sql: String,
    /// For messages: `schema.name`, or `name` as given before resolution.
    pub qualified: String,
    /// The schema was named in `--table` (so `create` creates it if absent).
    pub explicit_schema: bool,
    /// The table's columns as the run found them ([`columns`]): when set, [`insert`] only
    /// writes a row while they are unchanged, so that a migration that changed the table in a
    /// way the offline rules cannot see (dynamic SQL) is caught before it commits.
    pub columns: Option<String>,
}

/// Quotes an identifier for SQL (`"` doubled). Only used on validated names and on the schema
/// name the server itself returned.
fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Table {
    /// Validates `--table` (`name` or `schema.name`): each part a plain identifier of at most
    /// 63 bytes, so that quoting cannot be escaped and the name means what it says.
    pub fn parse(text: &str) -> Result<Table> {
        let parts: Vec<&str> = text.split('.').collect();
        let bad = |why: &str| {
            // Echoed input: a connection string pasted into the wrong variable is redacted.
            Error::env(format!(
                "--table / SENTRY_TABLE \"{}\" is not a valid table name: {why} (use NAME or \
                 SCHEMA.NAME of letters, digits and _)",
                crate::output::echo(text)
            ))
        };
        if parts.len() > 2 {
            return Err(bad("too many dots"));
        }
        for p in &parts {
            if p.is_empty() || p.len() > 63 {
                return Err(bad("each part must have 1 to 63 characters"));
            }
            let mut chars = p.chars();
            let first = chars.next().unwrap_or('0');
            if !(first.is_ascii_alphabetic() || first == '_')
                || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            {
                return Err(bad(
                    "only letters, digits, _ and $, not starting with a digit",
                ));
            }
        }
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let (schema, name) = match lower.as_slice() {
            [s, n] => (Some(s.clone()), n.clone()),
            [n] => (None, n.clone()),
            _ => return Err(bad("too many dots")),
        };
        Ok(Table::with(schema.clone(), name, schema.is_some()))
    }

    fn with(schema: Option<String>, name: String, explicit_schema: bool) -> Table {
        // Quoting a validated identifier: the one place identifiers enter SQL.
        let (sql, qualified) = match &schema {
            Some(s) => (
                format!("{}.{}", quote_ident(s), quote_ident(&name)),
                format!("{s}.{name}"),
            ),
            None => (quote_ident(&name), name.clone()),
        };
        Table {
            schema,
            name,
            sql,
            qualified,
            explicit_schema,
            columns: None,
        }
    }

    /// Right after connecting (SPEC §5.1): an unqualified name takes `current_schema()` at
    /// this moment, and from then on the table is only ever named qualified.
    pub fn resolve(&self, client: &mut impl GenericClient) -> Result<Table> {
        if self.schema.is_some() {
            return Ok(self.clone());
        }
        let rows = client
            .traced(CURRENT_SCHEMA_SQL, &[])
            .map_err(|e| Error::db("resolving the tracking table's schema", &e))?;
        self.resolved_in(rows.first().and_then(|r| r.try_get(0).ok()).flatten())
    }

    /// [`Table::resolve`] given `current_schema()` as read (by [`CURRENT_SCHEMA_SQL`]).
    pub fn resolved_in(&self, current_schema: Option<String>) -> Result<Table> {
        if self.schema.is_some() {
            return Ok(self.clone());
        }
        let Some(schema) = current_schema else {
            return Err(Error::env(format!(
                "the tracking table {} cannot be placed: the session has no current schema \
                 (search_path names no existing schema); pass a qualified name such as \
                 --table public.{}, or fix the role's search_path",
                self.name, self.name
            )));
        };
        Ok(Table::with(Some(schema), self.name.clone(), false))
    }

    /// An SQL expression for `to_regclass` naming this table as [`Table::resolve`] will: the
    /// server's `current_schema()` for an unqualified name. So the table's shape can be read
    /// in the same message as the schema that resolves it.
    pub fn regclass_sql(&self) -> String {
        match &self.schema {
            Some(_) => literal(&self.sql),
            None => format!(
                "quote_ident(current_schema()) || '.' || {}",
                literal(&quote_ident(&self.name))
            ),
        }
    }

    /// The default advisory lock key: the first 8 bytes of SHA-256 of the qualified name, so
    /// two applications with different tracking tables never block each other.
    pub fn lock_key(&self) -> i64 {
        // `name` and `public.name` are the same table for nearly everyone: same key.
        let schema = self.schema.as_deref().unwrap_or("public");
        let digest = Sha256::digest(format!("migration-sentry:{schema}.{}", self.name).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }

    /// Whether a reference in SQL (`schema.name` or a bare `name`, already case-folded as the
    /// server would) can mean this table. A bare name matches whatever the search path is; a
    /// qualified one must name our schema (`public` when the schema is not resolved yet).
    pub fn is_named_by(&self, schema: Option<&str>, name: &str) -> bool {
        name == self.name && schema.is_none_or(|s| s == self.schema.as_deref().unwrap_or("public"))
    }
}

/// `current_schema()`, which resolves an unqualified name.
pub const CURRENT_SCHEMA_SQL: &str = "SELECT current_schema()::text";

/// What [`inspect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Absent,
    Ours,
}

/// The columns a tracking row's INSERT writes. Any other column (`applied_at`, or one that is
/// not ours) takes its default, so it must have one or accept NULL.
const WRITTEN: [&str; 6] = [
    "version",
    "execution_time_ms",
    "checksum",
    "rollback_sql",
    "stamped",
    "note",
];

/// One column of the table as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As `format_type()` prints it.
    pub ty: String,
    /// NOT NULL without a default (nor identity): a row that does not set it fails.
    pub needs_value: bool,
}

/// The tracking table as one catalog read saw it ([`shape_sql_of`]): its columns — none when
/// it is absent — and what the session's role may do with it; when it is absent, what
/// creating it needs, if that was read too ([`creation_sql`]). Read with the table's shape,
/// so that checking the privileges costs no round trip of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub columns: Vec<Column>,
    /// When it exists: the role may SELECT from it, and do what the read's [`Access`] writes
    /// (INSERT, UPDATE or DELETE; true when it writes nothing).
    pub select: bool,
    pub write: bool,
    /// When it is absent: whether its schema exists, and whether the role may create what
    /// creating the table needs (the table in that schema, or the schema in the database);
    /// `None` when not read.
    pub creation: Option<Creation>,
}

/// What creating an absent table needs, as [`creation_sql`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creation {
    pub schema_exists: bool,
    pub may_create: bool,
}

impl Seen {
    /// From the rows of [`shape_sql_of`], read in text (the simple protocol).
    pub fn from_rows(rows: &[SimpleQueryRow]) -> Seen {
        let flag = |r: &SimpleQueryRow, i: usize| r.get(i) == Some("t");
        Seen {
            columns: rows
                .iter()
                .map(|r| Column {
                    name: r.get(0).unwrap_or_default().to_string(),
                    ty: r.get(1).unwrap_or_default().to_string(),
                    needs_value: flag(r, 2),
                })
                .collect(),
            select: rows.first().is_some_and(|r| flag(r, 3)),
            write: rows.first().is_some_and(|r| flag(r, 4)),
            creation: None,
        }
    }

    /// With what [`creation_sql`] read (its one row).
    pub fn with_creation(mut self, rows: &[SimpleQueryRow]) -> Seen {
        self.creation = rows.first().map(|r| Creation {
            schema_exists: r.get(0) == Some("t"),
            may_create: r.get(1) == Some("t"),
        });
        self
    }

    /// The table exists.
    pub fn exists(&self) -> bool {
        !self.columns.is_empty()
    }
}

/// What a command does with the tracking table, which decides the privileges it needs
/// ([`preflight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads it, if it exists (`status`, dry runs).
    Read,
    /// Reads it and writes rows, creating it if absent (`run`, `upgrade`, `stamp`).
    Insert,
    /// Reads it and updates checksums, creating it if absent (`repair`).
    Update,
    /// Reads it and deletes rows; never creates it (`rollback`).
    Delete,
}

impl Access {
    /// The privilege beyond SELECT, and what it is for.
    fn writes(self) -> Option<(&'static str, &'static str)> {
        match self {
            Access::Read => None,
            Access::Insert => Some(("INSERT", "to record the migrations it applies or stamps")),
            Access::Update => Some(("UPDATE", "to store the reviewed checksums (repair)")),
            Access::Delete => Some((
                "DELETE",
                "to remove the rows of the migrations it rolls back",
            )),
        }
    }

    /// Whether the command creates the table when it is absent.
    pub fn creates(self) -> bool {
        matches!(self, Access::Insert | Access::Update)
    }
}

/// The catalog query for the table's columns (one row each, none when it is absent) and, for
/// what `access` does with the table, the role's privileges on it, as one statement without
/// parameters (for a [`crate::db::batch`]; [`Seen::from_rows`] reads it). The privileges are
/// the server's own checks, so that grants through role membership count as they do when the
/// row is written; INSERT and UPDATE count column grants too (`has_any_column_privilege`: a
/// grant on only some columns passes here, and the row's own failure says the rest). The
/// statement keeps the plain shape of the catalog read it extends (a join, or each function
/// looked up that the command does not need, costs a new backend catalog reads on the
/// deploy's hot path); the privilege checks are per row, on values the executor has at hand.
pub fn shape_sql_of(table: &Table, access: Option<Access>) -> String {
    let select = match access {
        Some(_) => "has_table_privilege(a.attrelid, 'SELECT')",
        None => "NULL",
    };
    let write = match access {
        Some(Access::Insert) => "has_any_column_privilege(a.attrelid, 'INSERT')",
        Some(Access::Update) => "has_any_column_privilege(a.attrelid, 'UPDATE')",
        Some(Access::Delete) => "has_table_privilege(a.attrelid, 'DELETE')",
        Some(Access::Read) | None => "true",
    };
    format!(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
         a.attnotnull AND NOT a.atthasdef AND a.attidentity = '', {select}, {write} \
         FROM pg_attribute a \
         WHERE a.attrelid = to_regclass({}) AND a.attnum > 0 AND NOT a.attisdropped",
        table.regclass_sql()
    )
}

/// For a table found absent, what creating it needs (one row, for [`Seen::with_creation`]):
/// whether its schema exists, and whether the role may create the table there — or, for a
/// schema that does not exist, the schema in the database. Sent only after a read found the
/// table absent, so that a deploy to an existing table never pays for it. `table` is resolved.
pub fn creation_sql(table: &Table) -> String {
    let schema = table.schema.as_deref().unwrap_or("public");
    format!(
        "SELECT n IS NOT NULL, CASE WHEN n IS NULL \
         THEN has_database_privilege(current_database(), 'CREATE') \
         ELSE has_schema_privilege(n, 'CREATE') END \
         FROM (SELECT to_regnamespace({}) AS n) x",
        literal(&quote_ident(schema))
    )
}

/// A string literal for SQL: an `E''` literal means the same whatever
/// `standard_conforming_strings` is.
pub fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Reads the table's shape and, for `access`, the role's privileges on it — and when it is
/// absent and `access` creates it, what creating it needs (one round trip).
pub fn inspect_seen(
    client: &mut impl GenericClient,
    table: &Table,
    access: Option<Access>,
) -> Result<Seen> {
    let mut statements = vec![shape_sql_of(table, access)];
    if access.is_some_and(Access::creates) {
        statements.push(creation_sql(table));
    }
    let mut rows = crate::db::batch(client, &statements)
        .map_err(|e| Error::db("inspecting the tracking table", &e))?
        .into_iter();
    let seen = Seen::from_rows(&rows.next().unwrap_or_default());
    Ok(match rows.next() {
        Some(creation) if !seen.exists() => seen.with_creation(&creation),
        _ => seen,
    })
}

/// Looks the table up (one round trip) and checks that it has our shape. A table of another
/// shape is refused (exit 6) with a hint to use `--table`.
pub fn inspect(client: &mut impl GenericClient, table: &Table) -> Result<Shape> {
    shape(table, &inspect_seen(client, table, None)?)
}

/// [`inspect`]'s verdict on what was seen, however it was read: our columns with our types,
/// and no other column that a row written by the sentry would leave NULL against a NOT NULL
/// (such a table is not the sentry's: its rows cannot be written). Otherwise exit 6 with a
/// hint to use `--table`.
pub fn shape(table: &Table, seen: &Seen) -> Result<Shape> {
    let found = &seen.columns;
    if found.is_empty() {
        return Ok(Shape::Absent);
    }
    let mut wrong = Vec::new();
    for (col, ty) in COLUMNS {
        match found.iter().find(|c| c.name == col) {
            None => wrong.push(format!("no column {col}")),
            Some(c) if !compatible(col, &c.ty, ty) => {
                wrong.push(format!("column {col} is {}, expected {ty}", c.ty))
            }
            Some(_) => {}
        }
    }
    if wrong.is_empty() {
        return not_null_without_default(table, found).map(|()| Shape::Ours);
    }
    let cols: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
    Err(Error::set(
        SetProblem::general(format!(
            "the table {} exists but is not a migration-sentry tracking table ({}; it has \
             columns: {})",
            table.qualified,
            wrong.join(", "),
            cols.join(", ")
        ))
        .with_hint(
            "it probably belongs to another migration tool (dbmate, golang-migrate and Rails \
             all use schema_migrations): pick another name with --table (SENTRY_TABLE), e.g. \
             --table sentry_migrations, then adopt the existing schema with `stamp`",
        ),
    ))
}

/// A table with our columns is still not ours if a row the sentry writes cannot be stored:
/// a column it does not set (another tool's, one added by hand, or `applied_at` without its
/// default) that is NOT NULL and has no default (exit 6, the columns named).
fn not_null_without_default(table: &Table, found: &[Column]) -> Result<()> {
    let blocking: Vec<&str> = found
        .iter()
        .filter(|c| c.needs_value && !WRITTEN.contains(&c.name.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    let Some(first) = blocking.first() else {
        return Ok(());
    };
    let (s, them) = if blocking.len() == 1 {
        ("", "it")
    } else {
        ("s", "them")
    };
    let name = sql_name(table);
    let column = quote_if_needed(first);
    Err(Error::set(
        SetProblem::general(format!(
            "the table {} is not migration-sentry's tracking table as it stands: column{s} {} \
             {} NOT NULL without a default, and the rows the sentry writes do not set {them} \
             (nothing was changed)",
            table.qualified,
            blocking.join(", "),
            if blocking.len() == 1 { "is" } else { "are" },
        ))
        .with_hint(format!(
            "if the table is the sentry's and the column{s} {} added by hand, give {them} a \
             default or allow NULL (e.g. ALTER TABLE {name} ALTER COLUMN {column} DROP NOT \
             NULL;); if it belongs to another tool, give the sentry a table of its own with \
             --table (SENTRY_TABLE), e.g. --table sentry_migrations",
            if blocking.len() == 1 { "was" } else { "were" },
        )),
    ))
}

/// The table's name for SQL a person pastes: `schema.name`, each part quoted only if it has
/// to be.
pub fn sql_name(table: &Table) -> String {
    match &table.schema {
        Some(s) => format!("{}.{}", quote_if_needed(s), quote_if_needed(&table.name)),
        None => quote_if_needed(&table.name),
    }
}

/// An identifier for SQL a person pastes: as it is when the server would read it back
/// unchanged (lower case letters, digits, `_`, not starting with a digit), else quoted.
pub fn quote_if_needed(ident: &str) -> String {
    let plain = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        ident.to_string()
    } else {
        quote_ident(ident)
    }
}

/// The pre-flight of a command that uses the table with `access`, on what one
/// catalog read saw, before anything is changed: the table must be ours ([`shape`], exit 6)
/// and the role must be allowed what the command will do — SELECT, and INSERT, UPDATE or
/// DELETE — or, when the table is absent and the command creates it, to create it, once that
/// was read ([`creation_sql`]) (exit 3,
/// with the GRANT that fixes it). `role` is the session's `current_user`.
pub fn preflight(table: &Table, seen: &Seen, access: Access, role: &str) -> Result<Shape> {
    let shape = shape(table, seen)?;
    let role_sql = quote_if_needed(role);
    let name = sql_name(table);
    if shape == Shape::Absent {
        // Not read yet (the first message never asks, see `opening`): checked on the read that
        // follows, before anything is created.
        let Some(creation) = seen.creation.filter(|_| access.creates()) else {
            return Ok(shape);
        };
        if creation.may_create {
            return Ok(shape);
        }
        let schema = quote_if_needed(table.schema.as_deref().unwrap_or("public"));
        let (lacks, grant) = if creation.schema_exists {
            (
                format!("CREATE on the schema {schema}"),
                format!("GRANT CREATE ON SCHEMA {schema} TO {role_sql};"),
            )
        } else {
            (
                format!("CREATE on the database, to create the schema {schema}"),
                format!("CREATE SCHEMA {schema} AUTHORIZATION {role_sql};"),
            )
        };
        return Err(Error::env(format!(
            "the tracking table {} does not exist yet and the database role {role_sql} may not \
             create it: that needs {lacks}. Nothing was changed. Fix, as the database owner: \
             {grant}",
            table.qualified
        )));
    }
    let mut missing = Vec::new();
    if !seen.select {
        missing.push("SELECT");
    }
    let mut purpose = "to read the migration history";
    if let Some((privilege, why)) = access.writes() {
        let held = seen.write;
        if !held {
            missing.push(privilege);
            purpose = why;
        }
    }
    if missing.is_empty() {
        return Ok(shape);
    }
    let list = missing.join(", ");
    Err(Error::env(format!(
        "the database role {role_sql} lacks {list} on the tracking table {}, which the sentry \
         needs {purpose}. Nothing was changed. Fix, as its owner or a superuser: GRANT {list} ON \
         TABLE {name} TO {role_sql};",
        table.qualified
    )))
}

/// A wider type than ours is accepted (text for varchar, bigint for integer).
fn compatible(col: &str, found: &str, expected: &str) -> bool {
    found == expected
        || match col {
            "version" | "checksum" => found == "text" || found.starts_with("character varying"),
            "execution_time_ms" => found == "bigint",
            _ => false,
        }
}

/// Creates the table (and its schema) if absent.
pub fn create(client: &mut impl GenericClient, table: &Table) -> Result<()> {
    let mut sql = String::new();
    if let (Some(schema), true) = (&table.schema, table.explicit_schema) {
        // `schema` is a validated identifier (see Table::parse). Only when it is absent:
        // `CREATE SCHEMA IF NOT EXISTS` wants CREATE on the database even for a schema that
        // exists, which a role that may create tables in it need not have.
        let quoted = quote_ident(schema);
        let body = format!(
            "BEGIN IF to_regnamespace({}) IS NULL THEN CREATE SCHEMA IF NOT EXISTS {quoted}; \
             END IF; END",
            literal(&quoted)
        );
        sql.push_str(&format!("DO {};\n", literal(&body)));
    }
    // `table.sql` is the validated, quoted identifier.
    sql.push_str(&format!(
        "CREATE TABLE IF NOT EXISTS {} (
    version            VARCHAR(255) PRIMARY KEY,
    applied_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_time_ms  INTEGER NOT NULL,
    checksum           VARCHAR(64) NOT NULL,
    rollback_sql       TEXT,
    stamped            BOOLEAN NOT NULL DEFAULT false,
    note               TEXT
)",
        table.sql
    ));
    client.batch_execute(&sql).map_err(|e| {
        Error::db(
            format!("creating the tracking table {}", table.qualified),
            &e,
        )
    })
}

/// A column value, or `None` for NULL or a value of an unexpected type: never a panic.
fn value<'a, T: FromSql<'a>>(row: &'a postgres::Row, i: usize) -> Option<T> {
    row.try_get::<_, Option<T>>(i).ok().flatten()
}

fn text(row: &postgres::Row, i: usize) -> Option<String> {
    value(row, i)
}

/// Reads every row (one round trip). A row with a NULL where the contract says NOT NULL, a
/// version recorded twice, or a version with surrounding whitespace makes the table corrupt:
/// exit 6, naming every such row, rather than a crash or a migration applied twice.
pub fn load(client: &mut impl GenericClient, table: &Table) -> Result<Vec<AppliedRow>> {
    let context = |e: postgres::Error| Error::db("reading the tracking table", &e);
    // Streamed: with thousands of applied migrations, holding every decoded row next to its
    // AppliedRow would double the peak memory of a no-op run.
    let mut rows = client.traced_rows(&rows_sql(table), &[]).map_err(context)?;
    let mut check = RowCheck::default();
    while let Some(r) = rows.next().map_err(context)? {
        check.push(RawRow {
            ctid: text(&r, 0).unwrap_or_default(),
            version: text(&r, 1),
            applied_at: text(&r, 2),
            execution_time_ms: value::<i64>(&r, 3),
            checksum: text(&r, 4),
            stamped: value::<bool>(&r, 5),
            note: text(&r, 6),
        });
    }
    check.finish(table)
}

/// The query for every row, as one statement without parameters (for a [`crate::db::batch`],
/// whose rows [`load_text`] reads).
pub fn rows_sql(table: &Table) -> String {
    // `table.sql` is the validated, quoted identifier. `ctid` names a row whose version is
    // NULL or duplicated, the only handle such a row has. `to_char` of ±infinity is NULL,
    // hence the fallback: an odd timestamp is not a corrupt row.
    format!(
        "SELECT ctid::text, version::text, \
         coalesce(to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
         applied_at::text), \
         execution_time_ms::int8, checksum::text, stamped, note \
         FROM {}",
        table.sql
    )
}

/// [`load`] from the rows of [`rows_sql`] read in text form (the simple protocol): the same
/// checks, the same result.
pub fn load_text(rows: Vec<SimpleQueryRow>, table: &Table) -> Result<Vec<AppliedRow>> {
    let mut check = RowCheck::default();
    for r in rows {
        let col = |i: usize| r.get(i).map(str::to_string);
        check.push(RawRow {
            ctid: col(0).unwrap_or_default(),
            version: col(1),
            applied_at: col(2),
            // A value that does not parse counts as missing, like a NULL: never a panic.
            execution_time_ms: r.get(3).and_then(|v| v.parse().ok()),
            checksum: col(4),
            stamped: match r.get(5) {
                Some("t") => Some(true),
                Some("f") => Some(false),
                _ => None,
            },
            note: col(6),
        });
    }
    check.finish(table)
}

/// One row as read, before its checks.
struct RawRow {
    ctid: String,
    version: Option<String>,
    applied_at: Option<String>,
    execution_time_ms: Option<i64>,
    checksum: Option<String>,
    stamped: Option<bool>,
    note: Option<String>,
}

/// The checks of SPEC §5.1 over the rows as they come: NULLs where the contract says NOT
/// NULL, a version with surrounding whitespace, a version recorded twice.
#[derive(Default)]
struct RowCheck {
    applied: Vec<AppliedRow>,
    corrupt: Vec<String>,
}

impl RowCheck {
    fn push(&mut self, r: RawRow) {
        let RawRow {
            ctid,
            version,
            applied_at,
            execution_time_ms,
            checksum,
            stamped,
            note,
        } = r;
        let name = match &version {
            Some(v) => format!("row {v:?} (ctid {ctid})"),
            None => format!("row at ctid {ctid}"),
        };
        let nulls: Vec<&str> = [
            ("version", version.is_none()),
            ("applied_at", applied_at.is_none()),
            ("execution_time_ms", execution_time_ms.is_none()),
            ("checksum", checksum.is_none()),
            ("stamped", stamped.is_none()),
        ]
        .into_iter()
        .filter_map(|(c, null)| null.then_some(c))
        .collect();
        if !nulls.is_empty() {
            self.corrupt
                .push(format!("{name}: NULL in {}", nulls.join(", ")));
            return;
        }
        let (
            Some(version),
            Some(applied_at),
            Some(execution_time_ms),
            Some(checksum),
            Some(stamped),
        ) = (version, applied_at, execution_time_ms, checksum, stamped)
        else {
            return;
        };
        if version.trim() != version || version.is_empty() {
            self.corrupt.push(format!(
                "{name}: the version has surrounding whitespace or is empty, so it matches \
                 no file (the migration would be applied again)"
            ));
            return;
        }
        self.applied.push(AppliedRow {
            version,
            applied_at,
            execution_time_ms,
            checksum,
            stamped,
            note,
        });
    }

    fn finish(self, table: &Table) -> Result<Vec<AppliedRow>> {
        let RowCheck {
            applied,
            mut corrupt,
        } = self;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for row in &applied {
            *seen.entry(row.version.as_str()).or_default() += 1;
        }
        let mut duplicates: Vec<(&str, usize)> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
        duplicates.sort();
        for (version, n) in duplicates {
            corrupt.push(format!(
                "row {version:?}: recorded {n} times (the table's primary key is gone)"
            ));
        }
        if corrupt.is_empty() {
            return Ok(applied);
        }
        Err(corrupt_table(table, corrupt))
    }
}

fn corrupt_table(table: &Table, mut rows: Vec<String>) -> Error {
    let total = rows.len();
    if total > MAX_NAMED_ROWS {
        rows.truncate(MAX_NAMED_ROWS);
        rows.push(format!("… and {} more", total - MAX_NAMED_ROWS));
    }
    Error::set(
        SetProblem::general(format!(
            "the tracking table {} is corrupt ({total} bad row{}):\n  {}",
            table.qualified,
            if total == 1 { "" } else { "s" },
            rows.join("\n  ")
        ))
        .with_hint(format!(
            "it was edited outside migration-sentry. Nothing was applied. Fix those rows by hand \
             (SELECT ctid, * FROM {} to see them; give every migration exactly one row, with \
             its version exactly as its file stem) or restore the table from a backup, then run \
             again",
            table.qualified
        )),
    )
}

/// A row to insert.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub version: &'a str,
    pub execution_time_ms: i32,
    pub checksum: &'a str,
    pub rollback_sql: Option<&'a str>,
    pub stamped: bool,
    pub note: Option<&'a str>,
}

/// The server-side description of the table's columns that [`Table::columns`] holds: every
/// column's name, type and nullability, in order. `param` is the placeholder (`$1`) of the
/// table's quoted name.
fn columns_sql(param: &str) -> String {
    format!(
        "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum) \
         FROM pg_attribute a WHERE a.attrelid = to_regclass({param}) AND a.attnum > 0 \
         AND NOT a.attisdropped"
    )
}

/// The table as it is now, with [`Table::columns`] read from the server (one round trip).
pub fn with_columns(client: &mut impl GenericClient, table: &Table) -> Result<Table> {
    let rows = client
        .traced(
            &columns_sql("$1"),
            &[(&table.sql as &(dyn ToSql + Sync), Type::TEXT)],
        )
        .map_err(|e| Error::db("reading the tracking table's columns", &e))?;
    Ok(Table {
        columns: rows.first().and_then(|r| text(r, 0)),
        ..table.clone()
    })
}

/// Inserts one row (one round trip; typed, so no separate prepare). With [`Table::columns`]
/// set, the row is only written while the columns are unchanged; otherwise a migration of this
/// run changed the sentry's table, and that is exit 6 (its transaction is rolled back).
pub fn insert(client: &mut impl GenericClient, table: &Table, row: &NewRow<'_>) -> Result<()> {
    let inserted = client
        .traced(
            &insert_sql(
                table,
                ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"],
                false,
            ),
            &[
                (&row.version as &(dyn ToSql + Sync), Type::VARCHAR),
                (&row.execution_time_ms, Type::INT4),
                (&row.checksum, Type::VARCHAR),
                (&row.rollback_sql, Type::TEXT),
                (&row.stamped, Type::BOOL),
                (&row.note, Type::TEXT),
                (&table.columns, Type::TEXT),
                (&table.sql, Type::TEXT),
            ],
        )
        .map_err(|e| inserting(table, row, &e))?;
    written(table, row, !inserted.is_empty())
}

/// [`insert`]'s statement with its values as literals, for a simple-protocol message that
/// carries the `COMMIT` after it (see `apply`). Its guard cannot just write nothing, since the
/// COMMIT would then keep the migration without its row: it fails the statement instead, with
/// an error [`guard_failed`] recognises, and the rest of the message is never run.
pub fn insert_literal(table: &Table, row: &NewRow<'_>) -> String {
    insert_literal_timed(table, row, &row.execution_time_ms.to_string())
}

/// [`insert_literal`] with `time`, an SQL expression, as the execution time
/// ([`SERVER_ELAPSED_MS`]).
pub fn insert_literal_timed(table: &Table, row: &NewRow<'_>, time: &str) -> String {
    let lit = crate::db::literal;
    insert_sql(
        table,
        [
            &lit(row.version),
            time,
            &lit(row.checksum),
            &crate::db::literal_or_null(row.rollback_sql),
            if row.stamped { "true" } else { "false" },
            &crate::db::literal_or_null(row.note),
            &crate::db::literal_or_null(table.columns.as_deref()),
            &lit(&table.sql),
        ],
        true,
    )
}

/// [`insert_literal`]'s statement for `PREPARE` (`crate::prepared`): version, execution time,
/// checksum and rollback SQL are its parameters `$1`–`$4`; the row is neither stamped nor
/// annotated; the columns compared are the table's as read before the run.
pub fn insert_prepared(table: &Table) -> String {
    insert_sql(
        table,
        [
            "$1",
            "$2",
            "$3",
            "$4",
            "false",
            "NULL",
            &crate::db::literal_or_null(table.columns.as_deref()),
            &crate::db::literal(&table.sql),
        ],
        true,
    )
}

/// The text [`insert_literal`]'s failed guard casts to an integer: its error (SQLSTATE 22P02,
/// invalid_text_representation) quotes it, in any `lc_messages`, so that it cannot be taken
/// for an error of the migration's own SQL sent in the same message.
const GUARD_MARKER: &str = "migration-sentry: the tracking table's columns changed";

/// Whether `err` is the failure of [`insert_literal`]'s guard.
pub fn guard_failed(err: &postgres::Error) -> bool {
    err.as_db_error()
        .is_some_and(|db| db.code().code() == "22P02" && db.message().contains(GUARD_MARKER))
}

/// The name of the one column a written tracking row's INSERT returns: how the results of a
/// message that carries it are told apart from the migration's own (see `apply`).
pub const RECORDED: &str = "migration_sentry_recorded";

/// The execution time the server measures for a migration whose SQL travels in the message
/// that also carries its row: from the message's arrival (`statement_timestamp()`, the same for
/// every statement of one simple-protocol message) to the row's INSERT, in milliseconds.
pub const SERVER_ELAPSED_MS: &str =
    "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int4";

/// The INSERT of a tracking row, guarded by the table's columns, with `v` as its eight values
/// (placeholders or literals): version, execution time, checksum, rollback SQL, stamped, note,
/// the columns as read before the run (NULL: no guard) and the table's name. With `raise`, a
/// failed guard is an error (division by zero: the guard is a subquery, so it is evaluated
/// when the statement runs, never folded at planning) rather than no row.
fn insert_sql(table: &Table, v: [&str; 8], raise: bool) -> String {
    let guard = format!(
        "{}::text IS NULL OR ({}) = {}",
        v[6],
        columns_sql(v[7]),
        v[6]
    );
    // The failing arm casts a subquery's text, so that it is evaluated only when the guard
    // fails, never folded at planning, and its error names the sentry (see [`guard_failed`]).
    let guard = if raise {
        format!(
            "(CASE WHEN {guard} THEN 1 ELSE (SELECT {})::int4 END) = 1",
            crate::db::literal(GUARD_MARKER)
        )
    } else {
        guard
    };
    // `table.sql` is the validated, quoted identifier.
    format!(
        "INSERT INTO {} (version, execution_time_ms, checksum, rollback_sql, stamped, note) \
         SELECT {}, {}::int4, {}, {}::text, {}, {}::text WHERE {guard} \
         RETURNING 1 AS {RECORDED}",
        table.sql, v[0], v[1], v[2], v[3], v[4], v[5],
    )
}

/// The error of a failed tracking-row INSERT.
fn inserting(table: &Table, row: &NewRow<'_>, e: &postgres::Error) -> Error {
    row_failed(table, row, e, None)
}

/// Whether the server's error names this table as the one it arose in (the error fields of a
/// constraint violation), whatever the language of its message.
pub fn refers_to(table: &Table, err: &postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        db.table() == Some(table.name.as_str())
            && (db.schema().is_none() || db.schema() == table.schema.as_deref())
    })
}

/// The error of the sentry's own tracking-row INSERT, wherever it was sent — never a
/// migration's failure. The guard's failure is a migration that changed the table
/// (exit 6); a privilege refusal is exit 3 with what fixes it (a REVOKE or a row-level security
/// policy since the pre-flight); a constraint of the table that the row breaks (a NOT NULL
/// column without a default, a CHECK, a foreign key, added by hand or by another tool) makes
/// the table not the sentry's (exit 6, the column or constraint named); anything else is the
/// sentry's failure with the server's SQLSTATE (exit 1; 4 for a lost connection, 10 for an
/// interruption). `aftermath`: what the failure left of the migration, when the caller knows.
pub fn row_failed(
    table: &Table,
    row: &NewRow<'_>,
    err: &postgres::Error,
    aftermath: Option<&str>,
) -> Error {
    if guard_failed(err) {
        return table_changed(table, row);
    }
    let db = match err.as_db_error() {
        Some(db) if !crate::error::connection_lost(err) && !crate::interrupt::stopping() => db,
        _ => {
            let context = format!("recording {} in {}", row.version, table.qualified);
            return Error::db(context, err);
        }
    };
    // Raised inside a function: a trigger (or a rule's function) on the table refused the row.
    let raised_by = db
        .where_()
        .and_then(|w| w.lines().next())
        .map(crate::output::external);
    let mut context = format!("recording {} in {}", row.version, table.qualified);
    let notes: Vec<String> = raised_by
        .iter()
        .map(|w| format!("raised by a trigger on it: {w}"))
        .chain(aftermath.map(str::to_string))
        .collect();
    if !notes.is_empty() {
        context.push_str(&format!(" ({})", notes.join("; ")));
    }
    let after = aftermath.map(|a| format!(" Then {a}.")).unwrap_or_default();
    let name = sql_name(table);
    let message = crate::output::external(db.message());
    let code = db.code().code();
    if code == "42501" {
        let role = quote_if_needed(&crate::error::role());
        let fix = if db.message().contains("row-level security") {
            // A policy refuses the row although the privilege is there.
            format!(
                "Fix: the table is the sentry's own, so no policy should filter it; as its \
                 owner: ALTER TABLE {name} DISABLE ROW LEVEL SECURITY;"
            )
        } else if let Some(w) = &raised_by {
            format!(
                "A trigger on the table raised it ({w}): the table is the sentry's own; remove \
                 the trigger, or let it pass the sentry's rows."
            )
        } else {
            // The pre-flight saw INSERT on the table or on some of its columns.
            format!(
                "The role had INSERT on the table, or on some of its columns, when the run \
                 started (checked before any change): it was revoked since, or does not cover \
                 every column the row writes. Fix, as its owner or a superuser: GRANT SELECT, \
                 INSERT ON TABLE {name} TO {role};"
            )
        };
        return Error::env(format!(
            "the database role {role} could not write the row of {} into the tracking table \
             {}: the server said: {message} (SQLSTATE 42501).{after} {fix}",
            row.version, table.qualified
        ));
    }
    if code.starts_with("23") && refers_to(table, err) {
        let what = match (db.column(), db.constraint()) {
            (Some(c), _) => format!("column {}", quote_if_needed(c)),
            (None, Some(c)) => format!("constraint {}", quote_if_needed(c)),
            (None, None) => "a constraint".to_string(),
        };
        return Error::set(
            SetProblem::general(format!(
                "the tracking table {} refused the row of {}: {message} (SQLSTATE {code}). Its \
                 {what} is not migration-sentry's, so the table is not the sentry's as it \
                 stands.{after}",
                table.qualified, row.version
            ))
            .with_hint(
                "if the table is the sentry's and that was added by hand, remove it (or give the \
                 column a default); if the table belongs to another tool, give the sentry a \
                 table of its own with --table (SENTRY_TABLE), e.g. --table sentry_migrations",
            ),
        );
    }
    Error::db(context, err)
}

/// Whether the INSERT wrote the row: not written means the table's columns changed under the
/// run (exit 6).
fn written(table: &Table, row: &NewRow<'_>, inserted: bool) -> Result<()> {
    if inserted {
        Ok(())
    } else {
        Err(table_changed(table, row))
    }
}

/// The error of a row not written because the table's columns changed under the run (exit 6).
pub fn table_changed(table: &Table, row: &NewRow<'_>) -> Error {
    Error::set(
        SetProblem::general(format!(
            "{} changed the tracking table {}, which belongs to migration-sentry (its \
                 columns were: {}): its row was not written, and a transactional migration is \
                 rolled back with it",
            row.version,
            table.qualified,
            table.columns.as_deref().unwrap_or_default()
        ))
        .with_hint(
            "the migration alters a table of the same name through SQL the offline check \
                 cannot see (dynamic SQL in a DO block or function?): give the sentry a table \
                 of its own with --table (SENTRY_TABLE), e.g. --table sentry_migrations",
        ),
    )
}

/// A row as `rollback` reads it: NULLs are kept visible (as `None`) so that a damaged table is
/// reported, not trusted. `rollback_sql` is the migration's `.down.sql` as it was when the
/// migration was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRow {
    pub version: Option<String>,
    pub stamped: Option<bool>,
    pub rollback_sql: Option<String>,
}

/// Reads every row with its stored rollback SQL (one round trip).
pub fn load_rollbacks(client: &mut impl GenericClient, table: &Table) -> Result<Vec<RollbackRow>> {
    // `table.sql` is the validated, quoted identifier.
    let sql = format!(
        "SELECT version::text, stamped, rollback_sql FROM {}",
        table.sql
    );
    let context = |e: postgres::Error| Error::db("reading the tracking table", &e);
    let mut rows = client.traced_rows(&sql, &[]).map_err(context)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(context)? {
        // `value`: never a panic, whatever the column's type has become.
        out.push(RollbackRow {
            version: value(&r, 0),
            stamped: value(&r, 1),
            rollback_sql: value(&r, 2),
        });
    }
    Ok(out)
}

/// Deletes the row of `version`; returns how many rows went (0 if it was not there).
pub fn delete(client: &mut impl GenericClient, table: &Table, version: &str) -> Result<u64> {
    // `table.sql` is the validated, quoted identifier.
    let sql = format!("DELETE FROM {} WHERE version = $1 RETURNING 1", table.sql);
    let rows = client
        .traced(&sql, &[(&version as &(dyn ToSql + Sync), Type::VARCHAR)])
        .map_err(|e| {
            Error::db(
                format!("deleting the row of {version} from {}", table.qualified),
                &e,
            )
        })?;
    Ok(rows.len() as u64)
}

/// `repair`: stores a new checksum for an applied migration and appends to its note.
pub fn set_checksum(
    client: &mut impl GenericClient,
    table: &Table,
    version: &str,
    checksum: &str,
    note: &str,
) -> Result<()> {
    // `table.sql` is the validated, quoted identifier.
    let sql = format!(
        "UPDATE {} SET checksum = $2, note = concat_ws(E'\\n', note, $3::text) WHERE version = $1",
        table.sql
    );
    client
        .traced(
            &sql,
            &[
                (&version as &(dyn ToSql + Sync), Type::VARCHAR),
                (&checksum, Type::VARCHAR),
                (&note, Type::TEXT),
            ],
        )
        .map_err(|e| Error::db(format!("repairing {version}"), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_qualified_names() {
        let t = Table::parse("schema_migrations").unwrap();
        assert_eq!(t.sql, "\"schema_migrations\"");
        assert_eq!(t.qualified, "schema_migrations");
        let t = Table::parse("Ops.Sentry_Migrations").unwrap();
        assert_eq!(t.sql, "\"ops\".\"sentry_migrations\"");
        assert_eq!(t.schema.as_deref(), Some("ops"));
        assert!(t.explicit_schema);
        assert!(t.is_named_by(None, "sentry_migrations"));
        assert!(t.is_named_by(Some("ops"), "sentry_migrations"));
        assert!(!t.is_named_by(Some("public"), "sentry_migrations"));
        let t = Table::parse("schema_migrations").unwrap();
        assert!(t.is_named_by(Some("public"), "schema_migrations"));
        assert!(!t.is_named_by(Some("other"), "schema_migrations"));
        let resolved = Table::with(Some("we\"ird".into()), "t".into(), false);
        assert_eq!(resolved.sql, "\"we\"\"ird\".\"t\"");
    }

    #[test]
    fn names_that_could_escape_quoting_are_refused() {
        for bad in [
            "",
            "a.b.c",
            "x\"; DROP TABLE users; --",
            "1abc",
            "a b",
            ".t",
            "t.",
            &"x".repeat(64),
        ] {
            assert!(Table::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lock_key_is_stable_and_depends_on_the_name() {
        let a = Table::parse("schema_migrations").unwrap();
        let b = Table::parse("public.schema_migrations").unwrap();
        let c = Table::parse("other").unwrap();
        assert_eq!(a.lock_key(), b.lock_key());
        assert_ne!(a.lock_key(), c.lock_key());
        assert_eq!(
            a.lock_key(),
            Table::parse("schema_migrations").unwrap().lock_key()
        );
    }

    /// Our table as the catalog shows it to a role that may read it, and write it if `write`.
    fn ours(write: bool) -> Seen {
        let not_null = ["version", "execution_time_ms", "checksum"];
        Seen {
            columns: COLUMNS
                .iter()
                .map(|(name, ty)| Column {
                    name: name.to_string(),
                    ty: ty.to_string(),
                    needs_value: not_null.contains(name),
                })
                .collect(),
            select: true,
            write,
            creation: None,
        }
    }

    fn refusal(r: Result<Shape>) -> (u8, String) {
        let e = r.expect_err("a refusal");
        (e.kind().code(), e.to_string())
    }

    #[test]
    fn the_preflight_asks_for_what_each_command_does() {
        let t = Table::parse("schema_migrations")
            .unwrap()
            .resolved_in(Some("public".into()))
            .unwrap();
        let read_only = ours(false);
        assert_eq!(
            preflight(&t, &read_only, Access::Read, "reader").unwrap(),
            Shape::Ours
        );
        for (access, privilege) in [
            (Access::Insert, "INSERT"),
            (Access::Update, "UPDATE"),
            (Access::Delete, "DELETE"),
        ] {
            let (code, text) = refusal(preflight(&t, &read_only, access, "reader"));
            assert_eq!(code, 3, "{text}");
            assert!(
                text.contains(&format!(
                    "GRANT {privilege} ON TABLE public.schema_migrations TO reader;"
                )),
                "{text}"
            );
            assert!(preflight(&t, &ours(true), access, "reader").is_ok());
        }
        let no_select = Seen {
            select: false,
            ..ours(true)
        };
        let (code, text) = refusal(preflight(&t, &no_select, Access::Read, "Odd Role"));
        assert_eq!(code, 3);
        assert!(
            text.contains("GRANT SELECT ON TABLE public.schema_migrations TO \"Odd Role\";"),
            "{text}"
        );
        let (_, text) = refusal(preflight(
            &t,
            &Seen {
                write: false,
                ..no_select
            },
            Access::Insert,
            "r",
        ));
        assert!(text.contains("GRANT SELECT, INSERT ON TABLE"), "{text}");
    }

    #[test]
    fn an_absent_table_needs_what_creating_it_needs_only_where_it_is_created() {
        let t = Table::parse("ops.sentry").unwrap();
        let absent = |schema_exists, may_create| Seen {
            creation: Some(Creation {
                schema_exists,
                may_create,
            }),
            ..Seen::default()
        };
        assert_eq!(
            preflight(&t, &absent(true, false), Access::Read, "app").unwrap(),
            Shape::Absent
        );
        assert!(preflight(&t, &absent(true, false), Access::Delete, "app").is_ok());
        let (code, text) = refusal(preflight(&t, &absent(true, false), Access::Insert, "app"));
        assert_eq!(code, 3);
        assert!(
            text.contains("GRANT CREATE ON SCHEMA ops TO app;"),
            "{text}"
        );
        let (_, text) = refusal(preflight(&t, &absent(false, false), Access::Update, "app"));
        assert!(
            text.contains("CREATE SCHEMA ops AUTHORIZATION app;"),
            "{text}"
        );
        assert!(preflight(&t, &absent(false, true), Access::Insert, "app").is_ok());
        // Not read yet: the read after the lock tells.
        assert!(preflight(&t, &Seen::default(), Access::Insert, "app").is_ok());
    }

    #[test]
    fn only_what_the_command_needs_is_asked_of_the_server() {
        let t = Table::parse("schema_migrations").unwrap();
        let sql = |a| shape_sql_of(&t, a);
        assert!(!sql(None).contains("privilege"), "{}", sql(None));
        assert!(!sql(Some(Access::Read)).contains("'INSERT'"));
        assert!(
            sql(Some(Access::Insert)).contains("has_any_column_privilege(a.attrelid, 'INSERT')")
        );
        assert!(sql(Some(Access::Delete)).contains("has_table_privilege(a.attrelid, 'DELETE')"));
        assert!(!sql(Some(Access::Insert)).contains("CREATE"));
        // A schema may not exist: looked up, never passed by name (which would fail).
        let ops = Table::parse("ops.t").unwrap();
        assert!(creation_sql(&ops).contains("to_regnamespace(E'\"ops\"')"));
    }

    #[test]
    fn a_not_null_column_without_default_the_row_does_not_set_makes_the_table_not_ours() {
        let t = Table::parse("public.schema_migrations").unwrap();
        let mut seen = ours(true);
        seen.columns.push(Column {
            name: "ticket".into(),
            ty: "text".into(),
            needs_value: true,
        });
        let (code, text) = refusal(preflight(&t, &seen, Access::Read, "app"));
        assert_eq!(code, 6, "{text}");
        assert!(
            text.contains("column ticket is NOT NULL without a default"),
            "{text}"
        );
        assert!(text.contains("--table"), "{text}");
        // Ours without its default is not ours either: the row leaves applied_at to it.
        let mut seen = ours(true);
        seen.columns[1].needs_value = true;
        let (code, text) = refusal(shape(&t, &seen));
        assert_eq!(code, 6);
        assert!(text.contains("column applied_at is NOT NULL"), "{text}");
        // A NOT NULL column the row sets is fine.
        assert_eq!(shape(&t, &ours(true)).unwrap(), Shape::Ours);
    }

    #[test]
    fn names_for_pasted_sql_are_quoted_only_when_needed() {
        assert_eq!(quote_if_needed("schema_migrations"), "schema_migrations");
        assert_eq!(quote_if_needed("Ticket"), "\"Ticket\"");
        assert_eq!(quote_if_needed("a$b"), "\"a$b\"");
        assert_eq!(quote_if_needed("1x"), "\"1x\"");
    }

    #[test]
    fn wider_types_are_compatible() {
        assert!(compatible("version", "text", "character varying(255)"));
        assert!(compatible("execution_time_ms", "bigint", "integer"));
        assert!(!compatible("version", "bigint", "character varying(255)"));
    }
}
