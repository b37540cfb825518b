//! The results: what each check found, judged against its requirement ([`CheckResult`]),
//! printed as a `✓`/`✗` line and, for a failure, with a one-line fix.

use super::Requirement;
use super::ident::{qualified, quote_ident};
use super::types::normalize_type;

/// The outcome of checking one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// [`Requirement::label`].
    pub label: String,
    pub ok: bool,
    /// [`Requirement::expected`]: the normalised type and nullability of a column, else empty.
    pub expected: String,
    /// What the database has: `character varying(64) null`, `missing`,
    /// `table public.proposals does not exist`, …
    pub found: String,
    /// For a failed check, a one-line fix.
    pub hint: Option<String>,
}

impl CheckResult {
    /// The line printed for this check (without the `[sentry] ` prefix):
    /// `✓ column public.proposals.visitor_session_id character varying(64)` or
    /// `✗ column public.t.c character varying(64) — found: integer not null; hint: ALTER TABLE …`.
    pub fn line(&self) -> String {
        let mut s = format!("{} {}", if self.ok { '✓' } else { '✗' }, self.label);
        if !self.expected.is_empty() {
            s.push(' ');
            s.push_str(&self.expected);
        }
        if !self.ok {
            s.push_str(" — found: ");
            s.push_str(&self.found);
            if let Some(h) = &self.hint {
                s.push_str("; hint: ");
                s.push_str(h);
            }
        }
        s
    }
}

/// What the catalog says about a required column.
#[derive(Debug, Clone, Default)]
pub(super) struct ColumnFound {
    pub(super) schema_exists: bool,
    /// The relation's kind, when a table, view or foreign table of that name exists.
    pub(super) relkind: Option<String>,
    /// `format_type()` of the column, when it exists.
    pub(super) data_type: Option<String>,
    pub(super) not_null: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct IndexFound {
    pub(super) schema_exists: bool,
    /// The kind of the relation of that name in the schema, whatever it is.
    pub(super) relkind: Option<String>,
    pub(super) table_schema: Option<String>,
    pub(super) table: Option<String>,
    /// Other schemas holding an index of that name.
    pub(super) elsewhere: Vec<String>,
    /// `pg_index.indisvalid` of the index, when it is one.
    pub(super) valid: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct ConstraintFound {
    pub(super) schema_exists: bool,
    pub(super) table_exists: bool,
    pub(super) contype: Option<String>,
    /// An index (not a constraint) of that name exists in the schema.
    pub(super) index_of_that_name: bool,
    /// Other tables (qualified, quoted) with a constraint of that name.
    pub(super) elsewhere: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct TableFound {
    pub(super) schema_exists: bool,
    pub(super) relkind: Option<String>,
    /// Other schemas holding a table of that name.
    pub(super) elsewhere: Vec<String>,
}

fn relkind_name(kind: &str) -> &'static str {
    match kind {
        "r" => "table",
        "p" => "partitioned table",
        "f" => "foreign table",
        "v" => "view",
        "m" => "materialized view",
        "i" => "index",
        "I" => "partitioned index",
        "S" => "sequence",
        "c" => "composite type",
        "t" => "TOAST table",
        _ => "relation",
    }
}

fn contype_name(t: &str) -> &'static str {
    match t {
        "c" => "check constraint",
        "f" => "foreign key",
        "p" => "primary key",
        "u" => "unique constraint",
        "x" => "exclusion constraint",
        "t" => "constraint trigger",
        "n" => "not-null constraint",
        _ => "constraint",
    }
}

fn null_word(not_null: bool) -> &'static str {
    if not_null { "not null" } else { "null" }
}

fn schema_missing(req: &Requirement, schema: &str) -> CheckResult {
    fail(
        req,
        format!("schema {} does not exist", quote_ident(schema)),
        format!(
            "a migration should create it: CREATE SCHEMA IF NOT EXISTS {};",
            quote_ident(schema)
        ),
    )
}

fn fail(req: &Requirement, found: String, hint: String) -> CheckResult {
    CheckResult {
        label: req.label(),
        ok: false,
        expected: req.expected(),
        found,
        hint: Some(hint),
    }
}

fn pass(req: &Requirement, found: String) -> CheckResult {
    CheckResult {
        label: req.label(),
        ok: true,
        expected: req.expected(),
        found,
        hint: None,
    }
}

pub(super) fn column_result(req: &Requirement, f: &ColumnFound) -> CheckResult {
    let Requirement::Column {
        schema,
        table,
        column,
        data_type,
        nullable,
    } = req
    else {
        unreachable!("column_result is only called for columns")
    };
    let rel = qualified(schema, table);
    let col = quote_ident(column);
    let ty = data_type.as_deref().unwrap_or("<type>");
    if !f.schema_exists {
        return schema_missing(req, schema);
    }
    let Some(relkind) = f.relkind.as_deref() else {
        return fail(
            req,
            format!("table {rel} does not exist"),
            format!("a migration should create it: CREATE TABLE {rel} (…, {col} {ty}, …);"),
        );
    };
    let (Some(actual), Some(not_null)) = (f.data_type.as_deref(), f.not_null) else {
        if matches!(relkind, "v" | "m") {
            return fail(
                req,
                format!("missing ({rel} is a {})", relkind_name(relkind)),
                format!(
                    "a migration should recreate the {} with the column {col}",
                    relkind_name(relkind)
                ),
            );
        }
        let not_null = if *nullable == Some(false) {
            " NOT NULL"
        } else {
            ""
        };
        let caveat = if not_null.is_empty() {
            ""
        } else {
            " (on a non-empty table add a DEFAULT, or add the column, backfill, then SET NOT NULL)"
        };
        return fail(
            req,
            "missing".into(),
            format!("ALTER TABLE {rel} ADD COLUMN IF NOT EXISTS {col} {ty}{not_null};{caveat}"),
        );
    };
    let found = format!("{actual} {}", null_word(not_null));
    let type_ok = data_type
        .as_deref()
        .is_none_or(|t| normalize_type(t) == normalize_type(actual));
    let null_ok = nullable.is_none_or(|n| n != not_null);
    if type_ok && null_ok {
        return pass(req, found);
    }
    let mut fixes = Vec::new();
    if !type_ok {
        fixes.push(format!("ALTER COLUMN {col} TYPE {ty}"));
    }
    if !null_ok {
        fixes.push(format!(
            "ALTER COLUMN {col} {}",
            if not_null {
                "DROP NOT NULL"
            } else {
                "SET NOT NULL"
            }
        ));
    }
    fail(
        req,
        found,
        format!("ALTER TABLE {rel} {};", fixes.join(", ")),
    )
}

pub(super) fn index_result(req: &Requirement, f: &IndexFound) -> CheckResult {
    let Requirement::Index { schema, name } = req else {
        unreachable!("index_result is only called for indexes")
    };
    // A plain CREATE INDEX works in any migration; CONCURRENTLY does not run in a transaction,
    // so suggesting it bare would lead straight to a refused migration.
    let create = format!(
        "CREATE INDEX IF NOT EXISTS {0} ON {1}.<table> (<columns>); (on a large table in use, \
         CREATE INDEX CONCURRENTLY IF NOT EXISTS {0} … instead, in a migration of its own whose \
         first line is -- sentry:no-transaction)",
        quote_ident(name),
        quote_ident(schema)
    );
    if !f.schema_exists {
        return schema_missing(req, schema);
    }
    match f.relkind.as_deref() {
        // An INVALID index is no index for the application: queries never use it, and a
        // unique one guarantees nothing.
        Some("i") if f.valid == Some(false) => {
            let q = qualified(schema, name);
            fail(
                req,
                "INVALID (a failed CREATE INDEX CONCURRENTLY left it: queries never use it)".into(),
                format!(
                    "DROP INDEX CONCURRENTLY {q}; then deploy again, so that the migration that \
                     creates it builds it anew — or, when that migration is already recorded, \
                     rebuild it in place: REINDEX INDEX CONCURRENTLY {q}; (either fails again \
                     until what made the build fail, such as duplicate keys, is fixed)"
                ),
            )
        }
        Some("I") if f.valid == Some(false) => {
            let q = qualified(schema, name);
            fail(
                req,
                "INVALID (a partitioned index with a partition whose index is not attached yet)"
                    .into(),
                format!(
                    "create each partition's index and attach it: ALTER INDEX {q} ATTACH \
                     PARTITION <partition index>; (see \\d+ {q} in psql)"
                ),
            )
        }
        Some("i" | "I") => {
            let on = match (&f.table_schema, &f.table) {
                (Some(s), Some(t)) => format!("index on {}", qualified(s, t)),
                _ => "index".into(),
            };
            pass(req, on)
        }
        Some(kind) => fail(
            req,
            format!(
                "{} is a {}, not an index",
                qualified(schema, name),
                relkind_name(kind)
            ),
            format!(
                "an index cannot share its name with another relation in schema {}: fix the required-schema file or rename one of them",
                quote_ident(schema)
            ),
        ),
        None if !f.elsewhere.is_empty() => {
            let schemas = quoted_list(&f.elsewhere);
            fail(
                req,
                format!("missing; an index of that name exists in schema {schemas}"),
                format!(
                    "if that is the right schema, write `index {}.{}` in the required-schema file; otherwise a migration should create it: {create}",
                    quote_ident(&f.elsewhere[0]),
                    quote_ident(name)
                ),
            )
        }
        None => fail(
            req,
            "missing".into(),
            format!("a migration should create it: {create}"),
        ),
    }
}

pub(super) fn constraint_result(req: &Requirement, f: &ConstraintFound) -> CheckResult {
    let Requirement::Constraint {
        schema,
        table,
        name,
    } = req
    else {
        unreachable!("constraint_result is only called for constraints")
    };
    let rel = qualified(schema, table);
    let con = quote_ident(name);
    let add = format!("ALTER TABLE {rel} ADD CONSTRAINT {con} …;");
    if !f.schema_exists {
        return schema_missing(req, schema);
    }
    if !f.table_exists {
        return fail(
            req,
            format!("table {rel} does not exist"),
            format!("a migration should create it: CREATE TABLE {rel} (…, CONSTRAINT {con} …);"),
        );
    }
    if let Some(t) = f.contype.as_deref() {
        return pass(req, contype_name(t).into());
    }
    if f.index_of_that_name {
        return fail(
            req,
            format!(
                "missing; an index {} exists, but it is not a constraint",
                qualified(schema, name)
            ),
            format!(
                "if it is a unique index on {rel}: ALTER TABLE {rel} ADD CONSTRAINT {con} UNIQUE USING INDEX {con};"
            ),
        );
    }
    if !f.elsewhere.is_empty() {
        return fail(
            req,
            format!(
                "missing; a constraint of that name exists on {}",
                f.elsewhere.join(", ")
            ),
            format!(
                "check the table in the required-schema file; otherwise a migration should add it: {add}"
            ),
        );
    }
    fail(
        req,
        "missing".into(),
        format!("a migration should add it: {add}"),
    )
}

pub(super) fn table_result(req: &Requirement, f: &TableFound) -> CheckResult {
    let Requirement::Table { schema, table } = req else {
        unreachable!("table_result is only called for tables")
    };
    let rel = qualified(schema, table);
    let create = format!("CREATE TABLE {rel} (…);");
    if !f.schema_exists {
        return schema_missing(req, schema);
    }
    match f.relkind.as_deref() {
        Some(kind @ ("r" | "p" | "f")) => pass(req, relkind_name(kind).into()),
        Some(kind) => fail(
            req,
            format!("{rel} is a {}, not a table", relkind_name(kind)),
            format!(
                "the application needs a table named {rel}: fix the required-schema file or the migrations"
            ),
        ),
        None if !f.elsewhere.is_empty() => fail(
            req,
            format!(
                "missing; a table of that name exists in schema {}",
                quoted_list(&f.elsewhere)
            ),
            format!(
                "if that is the right schema, write `table {}.{}` in the required-schema file; otherwise a migration should create it: {create}",
                quote_ident(&f.elsewhere[0]),
                quote_ident(table)
            ),
        ),
        None => fail(
            req,
            "missing".into(),
            format!("a migration should create it: {create}"),
        ),
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::col;

    #[test]
    fn check_result_lines() {
        let ok = CheckResult {
            label: "column public.proposals.visitor_session_id".into(),
            ok: true,
            expected: "character varying(64)".into(),
            found: "character varying(64) null".into(),
            hint: None,
        };
        assert_eq!(
            ok.line(),
            "✓ column public.proposals.visitor_session_id character varying(64)"
        );
        let bad = CheckResult {
            label: "column public.t.c".into(),
            ok: false,
            expected: "character varying(64)".into(),
            found: "integer not null".into(),
            hint: Some("ALTER TABLE public.t ALTER COLUMN c TYPE character varying(64);".into()),
        };
        assert_eq!(
            bad.line(),
            "✗ column public.t.c character varying(64) — found: integer not null; hint: \
             ALTER TABLE public.t ALTER COLUMN c TYPE character varying(64);"
        );
        let table = CheckResult {
            label: "table public.users".into(),
            ok: false,
            expected: String::new(),
            found: "missing".into(),
            hint: None,
        };
        assert_eq!(table.line(), "✗ table public.users — found: missing");
    }

    fn present(ty: &str, not_null: bool) -> ColumnFound {
        ColumnFound {
            schema_exists: true,
            relkind: Some("r".into()),
            data_type: Some(ty.into()),
            not_null: Some(not_null),
        }
    }

    #[test]
    fn column_results_and_hints() {
        let req = col(
            "public",
            "proposals",
            "visitor_session_id",
            Some("character varying(64)"),
            None,
        );
        // Present with the right type.
        let r = column_result(&req, &present("character varying(64)", false));
        assert!(r.ok);
        assert_eq!(r.found, "character varying(64) null");
        // Missing column.
        let r = column_result(
            &req,
            &ColumnFound {
                schema_exists: true,
                relkind: Some("r".into()),
                ..Default::default()
            },
        );
        assert!(!r.ok);
        assert_eq!(r.found, "missing");
        assert_eq!(
            r.hint.as_deref(),
            Some(
                "ALTER TABLE public.proposals ADD COLUMN IF NOT EXISTS visitor_session_id character varying(64);"
            )
        );
        // Missing table, missing schema.
        let r = column_result(
            &req,
            &ColumnFound {
                schema_exists: true,
                ..Default::default()
            },
        );
        assert_eq!(r.found, "table public.proposals does not exist");
        assert!(r.hint.unwrap().contains("CREATE TABLE public.proposals ("));
        let r = column_result(&req, &ColumnFound::default());
        assert_eq!(r.found, "schema public does not exist");
        // Wrong type.
        let r = column_result(&req, &present("integer", true));
        assert!(!r.ok);
        assert_eq!(r.found, "integer not null");
        assert_eq!(
            r.hint.as_deref(),
            Some(
                "ALTER TABLE public.proposals ALTER COLUMN visitor_session_id TYPE character varying(64);"
            )
        );
        assert_eq!(
            r.line(),
            "✗ column public.proposals.visitor_session_id character varying(64) — found: \
             integer not null; hint: ALTER TABLE public.proposals ALTER COLUMN \
             visitor_session_id TYPE character varying(64);"
        );
    }

    #[test]
    fn nullability_and_quoting_in_hints() {
        let must_be_not_null = col(
            "public",
            "Weird Table",
            "user",
            Some("integer"),
            Some(false),
        );
        let r = column_result(&must_be_not_null, &present("integer", false));
        assert!(!r.ok);
        assert_eq!(
            r.hint.as_deref(),
            Some("ALTER TABLE public.\"Weird Table\" ALTER COLUMN \"user\" SET NOT NULL;")
        );
        let must_be_null = col("public", "t", "c", None, Some(true));
        let r = column_result(&must_be_null, &present("text", true));
        assert_eq!(
            r.hint.as_deref(),
            Some("ALTER TABLE public.t ALTER COLUMN c DROP NOT NULL;")
        );
        assert!(column_result(&must_be_null, &present("text", false)).ok);
        // Both wrong: one statement.
        let r = column_result(&must_be_not_null, &present("bigint", false));
        assert_eq!(
            r.hint.as_deref(),
            Some(
                "ALTER TABLE public.\"Weird Table\" ALTER COLUMN \"user\" TYPE integer, ALTER COLUMN \"user\" SET NOT NULL;"
            )
        );
        // Existence only: any type passes; a missing one gets a placeholder type.
        let exists = col("public", "t", "c", None, None);
        assert!(column_result(&exists, &present("jsonb", true)).ok);
        let r = column_result(
            &exists,
            &ColumnFound {
                schema_exists: true,
                relkind: Some("r".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            r.hint.as_deref(),
            Some("ALTER TABLE public.t ADD COLUMN IF NOT EXISTS c <type>;")
        );
    }

    #[test]
    fn index_constraint_and_table_results() {
        let ix = Requirement::Index {
            schema: "public".into(),
            name: "ix_x".into(),
        };
        let r = index_result(
            &ix,
            &IndexFound {
                schema_exists: true,
                relkind: Some("i".into()),
                table_schema: Some("public".into()),
                table: Some("conversions".into()),
                ..Default::default()
            },
        );
        assert!(r.ok);
        assert_eq!(r.found, "index on public.conversions");
        assert_eq!(r.line(), "✓ index public.ix_x");
        for (kind, found) in [
            ("i", "a failed CREATE INDEX CONCURRENTLY left it"),
            (
                "I",
                "a partitioned index with a partition whose index is not attached yet",
            ),
        ] {
            let r = index_result(
                &ix,
                &IndexFound {
                    schema_exists: true,
                    relkind: Some(kind.into()),
                    valid: Some(false),
                    ..Default::default()
                },
            );
            assert!(!r.ok, "an INVALID index is no index");
            assert!(
                r.found.starts_with("INVALID (") && r.found.contains(found),
                "{}",
                r.found
            );
        }
        let r = index_result(
            &ix,
            &IndexFound {
                schema_exists: true,
                ..Default::default()
            },
        );
        assert_eq!(r.found, "missing");
        assert_eq!(
            r.hint.as_deref(),
            Some(
                "a migration should create it: CREATE INDEX IF NOT EXISTS ix_x ON public.<table> (<columns>); (on a large table in use, CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_x … instead, in a migration of its own whose first line is -- sentry:no-transaction)"
            )
        );
        let r = index_result(
            &ix,
            &IndexFound {
                schema_exists: true,
                elsewhere: vec!["app".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            r.found,
            "missing; an index of that name exists in schema app"
        );
        let r = index_result(
            &ix,
            &IndexFound {
                schema_exists: true,
                relkind: Some("r".into()),
                ..Default::default()
            },
        );
        assert_eq!(r.found, "public.ix_x is a table, not an index");

        let ck = Requirement::Constraint {
            schema: "public".into(),
            table: "proposals".into(),
            name: "ck_x".into(),
        };
        let found = ConstraintFound {
            schema_exists: true,
            table_exists: true,
            ..Default::default()
        };
        let r = constraint_result(&ck, &found);
        assert_eq!(
            (r.found.as_str(), r.hint.as_deref()),
            (
                "missing",
                Some(
                    "a migration should add it: ALTER TABLE public.proposals ADD CONSTRAINT ck_x …;"
                )
            )
        );
        let r = constraint_result(
            &ck,
            &ConstraintFound {
                contype: Some("c".into()),
                ..found.clone()
            },
        );
        assert!(r.ok);
        assert_eq!(r.found, "check constraint");
        let r = constraint_result(
            &ck,
            &ConstraintFound {
                table_exists: false,
                ..found.clone()
            },
        );
        assert_eq!(r.found, "table public.proposals does not exist");

        let users = Requirement::Table {
            schema: "public".into(),
            table: "users".into(),
        };
        let r = table_result(
            &users,
            &TableFound {
                schema_exists: true,
                relkind: Some("p".into()),
                ..Default::default()
            },
        );
        assert!(r.ok);
        let r = table_result(
            &users,
            &TableFound {
                schema_exists: true,
                relkind: Some("v".into()),
                ..Default::default()
            },
        );
        assert_eq!(r.found, "public.users is a view, not a table");
        let r = table_result(
            &users,
            &TableFound {
                schema_exists: true,
                ..Default::default()
            },
        );
        assert_eq!(r.found, "missing");
        assert_eq!(
            r.hint.as_deref(),
            Some("a migration should create it: CREATE TABLE public.users (…);")
        );
    }
}
