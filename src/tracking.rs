//! The tracking table (SPEC §5): its validated, quoted name; creating it; refusing a table of
//! another shape (dbmate's, golang-migrate's, Rails'); reading and writing its rows.
//!
//! The table name is the only identifier taken from the user. It is validated here and quoted
//! once into [`Table::sql`]; every `format!` that builds SQL in this crate uses that field and
//! nothing else. All values are bound as parameters.

use postgres::GenericClient;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
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

/// A validated tracking-table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The schema, when the name was qualified.
    pub schema: Option<String>,
    pub name: String,
    /// The quoted identifier for SQL: `"schema"."name"` or `"name"`.
    pub sql: String,
    /// For messages: `schema.name`, or `name` as given (resolved through `search_path`).
    pub qualified: String,
}

impl Table {
    /// Validates `--table` (`name` or `schema.name`): each part a plain identifier of at most
    /// 63 bytes, so that quoting cannot be escaped and the name means what it says.
    pub fn parse(text: &str) -> Result<Table> {
        let parts: Vec<&str> = text.split('.').collect();
        let bad = |why: &str| {
            Error::env(format!(
                "--table / SENTRY_TABLE {text:?} is not a valid table name: {why} (use NAME or \
                 SCHEMA.NAME of letters, digits and _)"
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
        // Quoting a validated identifier: the one place identifiers enter SQL.
        let quoted: Vec<String> = lower.iter().map(|p| format!("\"{p}\"")).collect();
        let (schema, name) = match lower.as_slice() {
            [s, n] => (Some(s.clone()), n.clone()),
            [n] => (None, n.clone()),
            _ => unreachable!("checked above"),
        };
        Ok(Table {
            qualified: match &schema {
                Some(s) => format!("{s}.{name}"),
                None => name.clone(),
            },
            schema,
            name,
            sql: quoted.join("."),
        })
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
}

/// What [`inspect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Absent,
    Ours,
}

/// Looks the table up (one round trip) and checks that it has our shape. A table of another
/// shape is refused (exit 6) with a hint to use `--table`.
pub fn inspect(client: &mut impl GenericClient, table: &Table) -> Result<Shape> {
    let rows = client
        .traced(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[(&table.sql as &(dyn ToSql + Sync), Type::TEXT)],
        )
        .map_err(|e| Error::db("inspecting the tracking table", &e))?;
    if rows.is_empty() {
        return Ok(Shape::Absent);
    }
    let found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut wrong = Vec::new();
    for (col, ty) in COLUMNS {
        match found.iter().find(|(c, _)| c == col) {
            None => wrong.push(format!("no column {col}")),
            Some((_, t)) if !compatible(col, t, ty) => {
                wrong.push(format!("column {col} is {t}, expected {ty}"))
            }
            Some(_) => {}
        }
    }
    if wrong.is_empty() {
        return Ok(Shape::Ours);
    }
    let cols: Vec<&str> = found.iter().map(|(c, _)| c.as_str()).collect();
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
    if let Some(schema) = &table.schema {
        // `schema` is a validated identifier (see Table::parse).
        sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n"));
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

/// Reads every row (one round trip).
pub fn load(client: &mut impl GenericClient, table: &Table) -> Result<Vec<AppliedRow>> {
    // `table.sql` is the validated, quoted identifier.
    let sql = format!(
        "SELECT version::text, \
         to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
         execution_time_ms::int8, checksum::text, stamped, note \
         FROM {}",
        table.sql
    );
    let context = |e: postgres::Error| Error::db("reading the tracking table", &e);
    // Streamed: with thousands of applied migrations, holding every decoded row next to its
    // AppliedRow would double the peak memory of a no-op run.
    let mut rows = client.traced_rows(&sql, &[]).map_err(context)?;
    let mut applied = Vec::new();
    while let Some(r) = rows.next().map_err(context)? {
        applied.push(AppliedRow {
            version: r.get(0),
            applied_at: r.get(1),
            execution_time_ms: r.get(2),
            checksum: r.get(3),
            stamped: r.get(4),
            note: r.get(5),
        });
    }
    Ok(applied)
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

/// Inserts one row (one round trip; typed, so no separate prepare).
pub fn insert(client: &mut impl GenericClient, table: &Table, row: &NewRow<'_>) -> Result<()> {
    // `table.sql` is the validated, quoted identifier.
    let sql = format!(
        "INSERT INTO {} (version, execution_time_ms, checksum, rollback_sql, stamped, note) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        table.sql
    );
    client
        .traced(
            &sql,
            &[
                (&row.version as &(dyn ToSql + Sync), Type::VARCHAR),
                (&row.execution_time_ms, Type::INT4),
                (&row.checksum, Type::VARCHAR),
                (&row.rollback_sql, Type::TEXT),
                (&row.stamped, Type::BOOL),
                (&row.note, Type::TEXT),
            ],
        )
        .map_err(|e| {
            Error::db(
                format!("recording {} in {}", row.version, table.qualified),
                &e,
            )
        })?;
    Ok(())
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

    #[test]
    fn wider_types_are_compatible() {
        assert!(compatible("version", "text", "character varying(255)"));
        assert!(compatible("execution_time_ms", "bigint", "integer"));
        assert!(!compatible("version", "bigint", "character varying(255)"));
    }
}
