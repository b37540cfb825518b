//! The required schema (SPEC §6): what the application needs to find in the database.
//!
//! This module owns the required-schema file format ([`parse`]) and the `--require` flag
//! ([`parse_require`]), the normalisation of PostgreSQL type names to the spelling
//! `format_type()` prints ([`normalize_type`]), identifier quoting for the hints it prints
//! ([`quote_ident`]), and the read-only verification against a live database ([`verify`]),
//! which answers every requirement of a kind with one round trip.

use std::fmt;
use std::path::Path;

use postgres::types::{ToSql, Type};

use crate::db::Traced;
use crate::error::{Error, Result};
use crate::output::echo;

/// The schema a name defaults to when it is not qualified.
pub const DEFAULT_SCHEMA: &str = "public";

/// PostgreSQL truncates longer identifiers, so a longer name could never match.
const MAX_IDENT_BYTES: usize = 63;

/// One line of the required-schema file. Names are stored as PostgreSQL stores them: unquoted
/// names folded to lower case, quoted names verbatim (without the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A column, optionally with a type (already [`normalize_type`]d) and a nullability
    /// (`Some(true)`: must accept NULL; `Some(false)`: must be NOT NULL).
    Column {
        schema: String,
        table: String,
        column: String,
        data_type: Option<String>,
        nullable: Option<bool>,
    },
    /// An index, by name (index names are unique per schema).
    Index { schema: String, name: String },
    /// A constraint of a table, by name.
    Constraint {
        schema: String,
        table: String,
        name: String,
    },
    /// A table (ordinary, partitioned or foreign).
    Table { schema: String, table: String },
}

impl Requirement {
    /// The requirement's key, e.g. `column public.proposals.visitor_session_id`: used in the
    /// `✓`/`✗` lines and as the key of the `checks` object of `status --format json`. Names
    /// that need quoting are quoted, so the label is unambiguous.
    pub fn label(&self) -> String {
        match self {
            Requirement::Column {
                schema,
                table,
                column,
                ..
            } => format!(
                "column {}.{}",
                qualified(schema, table),
                quote_ident(column)
            ),
            Requirement::Index { schema, name } => format!("index {}", qualified(schema, name)),
            Requirement::Constraint {
                schema,
                table,
                name,
            } => format!(
                "constraint {}.{}",
                qualified(schema, table),
                quote_ident(name)
            ),
            Requirement::Table { schema, table } => format!("table {}", qualified(schema, table)),
        }
    }

    /// What is expected beyond existence, as printed after the label: the normalised type and
    /// the nullability of a column (`character varying(64) null`); empty otherwise.
    pub fn expected(&self) -> String {
        match self {
            Requirement::Column {
                data_type,
                nullable,
                ..
            } => {
                let mut parts: Vec<&str> = Vec::new();
                if let Some(t) = data_type {
                    parts.push(t);
                }
                match nullable {
                    Some(true) => parts.push("null"),
                    Some(false) => parts.push("not null"),
                    None => {}
                }
                parts.join(" ")
            }
            _ => String::new(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())?;
        let e = self.expected();
        if !e.is_empty() {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses a required-schema file. `source` is only used in error messages.
///
/// Every malformed line is reported, not just the first: the error is [`Error::Env`] (exit 3)
/// with one entry per bad line, `<file>:<line>: <what is wrong>: <the line>`.
pub fn parse(text: &str, source: &Path) -> Result<Vec<Requirement>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reqs = Vec::new();
    let mut problems = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        match parse_line(raw) {
            Ok(Some(r)) => reqs.push(r),
            Ok(None) => {}
            // The line is echoed (escaped, and shortened with a count: a 10 MB line must not
            // become a 10 MB log line).
            Err(what) => problems.push(format!(
                "{}:{}: {what}: {}",
                source.display(),
                n + 1,
                echo(raw.trim())
            )),
        }
    }
    if problems.is_empty() {
        Ok(reqs)
    } else {
        Err(Error::Env(problems))
    }
}

/// Parses the value of `--require`: `TABLE.COLUMN` or `SCHEMA.TABLE.COLUMN`, optionally
/// followed by a type and `NULL`/`NOT NULL` exactly as on a `column` line of the file. The
/// error is a complete sentence naming the value.
pub fn parse_require(spec: &str) -> Result<Requirement, String> {
    let expected = "expected TABLE.COLUMN or SCHEMA.TABLE.COLUMN";
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(format!("invalid --require value: it is empty; {expected}"));
    }
    parse_column(spec).map_err(|what| format!("invalid --require value '{}': {what}", echo(spec)))
}

/// One line of the file: `Ok(None)` for a blank or comment-only line.
fn parse_line(raw: &str) -> Result<Option<Requirement>, String> {
    let line = strip_comment(raw).trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (keyword, rest) = match line.find(char::is_whitespace) {
        Some(p) => (&line[..p], line[p..].trim_start()),
        None => (line, ""),
    };
    let req = match keyword.to_ascii_lowercase().as_str() {
        "column" => parse_column(rest)?,
        "index" => {
            let (mut parts, rest) = parse_name(rest, 1, 2, "[schema.]index")?;
            no_trailing(rest, "index name")?;
            let name = parts.pop().unwrap_or_default();
            Requirement::Index {
                schema: parts.pop().unwrap_or_else(|| DEFAULT_SCHEMA.into()),
                name,
            }
        }
        "constraint" => {
            let (mut parts, rest) = parse_name(rest, 2, 3, "[schema.]table.constraint")?;
            no_trailing(rest, "constraint name")?;
            let name = parts.pop().unwrap_or_default();
            let table = parts.pop().unwrap_or_default();
            Requirement::Constraint {
                schema: parts.pop().unwrap_or_else(|| DEFAULT_SCHEMA.into()),
                table,
                name,
            }
        }
        "table" => {
            let (mut parts, rest) = parse_name(rest, 1, 2, "[schema.]table")?;
            no_trailing(rest, "table name")?;
            let table = parts.pop().unwrap_or_default();
            Requirement::Table {
                schema: parts.pop().unwrap_or_else(|| DEFAULT_SCHEMA.into()),
                table,
            }
        }
        other => {
            return Err(format!(
                "unknown requirement '{}' (expected column, index, constraint or table)",
                echo(other)
            ));
        }
    };
    Ok(Some(req))
}

/// `[schema.]table.column [TYPE] [null|not null]`, after the `column` keyword.
fn parse_column(text: &str) -> Result<Requirement, String> {
    let (mut parts, rest) = parse_name(text, 2, 3, "[schema.]table.column")?;
    let (data_type, nullable) = parse_type_and_nullability(rest)?;
    let column = parts.pop().unwrap_or_default();
    let table = parts.pop().unwrap_or_default();
    Ok(Requirement::Column {
        schema: parts.pop().unwrap_or_else(|| DEFAULT_SCHEMA.into()),
        table,
        column,
        data_type,
        nullable,
    })
}

fn no_trailing(rest: &str, after: &str) -> Result<(), String> {
    if rest.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unexpected '{}' after the {after}",
            echo(rest.trim())
        ))
    }
}

/// Cuts a line at its first `#` outside a double-quoted identifier.
fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Parses a dotted name of `min..=max` parts at the start of `text`; returns the parts
/// (unquoted ones folded to lower case, quoted ones verbatim) and the rest of the text.
fn parse_name<'t>(
    text: &'t str,
    min: usize,
    max: usize,
    shape: &str,
) -> Result<(Vec<String>, &'t str), String> {
    let text = text.trim_start();
    if text.is_empty() {
        return Err(format!("missing name, expected {shape}"));
    }
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = parse_ident(rest)?;
        parts.push(part);
        match after.strip_prefix('.') {
            Some(a) => rest = a,
            None => {
                rest = after;
                break;
            }
        }
    }
    if let Some(c) = rest.chars().next().filter(|c| !c.is_whitespace()) {
        return Err(format!("unexpected '{c}' in a name, expected {shape}"));
    }
    if parts.len() < min || parts.len() > max {
        let name = &text[..text.len() - rest.len()];
        return Err(format!(
            "'{name}' has {} part{}, expected {shape}",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" }
        ));
    }
    Ok((parts, rest))
}

/// One identifier at the start of `s`: `"Quoted ""x"""` or an unquoted name.
fn parse_ident(s: &str) -> Result<(String, &str), String> {
    let ident;
    let rest;
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if body[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                out.push(c);
            }
        }
        let Some(end) = end else {
            return Err("unterminated quoted identifier".into());
        };
        if out.is_empty() {
            return Err("zero-length quoted identifier \"\"".into());
        }
        ident = out;
        rest = &body[end..];
    } else {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        let word = &s[..end];
        let Some(first) = word.chars().next() else {
            let what = s.chars().next().map_or("nothing".to_string(), |c| {
                format!("'{}'", echo(&c.to_string()))
            });
            return Err(format!("expected a name, found {what}"));
        };
        if !(first.is_alphabetic() || first == '_') {
            let word = echo(word);
            return Err(format!(
                "'{word}' is not a valid name (quote it: \"{word}\")"
            ));
        }
        // PostgreSQL folds only ASCII letters of unquoted names.
        ident = word.to_ascii_lowercase();
        rest = &s[end..];
    }
    if ident.len() > MAX_IDENT_BYTES {
        return Err(format!(
            "name '{}' is longer than {MAX_IDENT_BYTES} bytes (PostgreSQL would truncate it)",
            echo(&ident)
        ));
    }
    Ok((ident, rest))
}

/// The optional `TYPE [null|not null]` after a column name.
fn parse_type_and_nullability(rest: &str) -> Result<(Option<String>, Option<bool>), String> {
    let mut ty = rest.trim();
    let mut nullable = None;
    if let Some(before) = strip_last_word(ty, "null") {
        match strip_last_word(before, "not") {
            Some(b) => {
                ty = b;
                nullable = Some(false);
            }
            None => {
                ty = before;
                nullable = Some(true);
            }
        }
    }
    if ty.is_empty() {
        return Ok((None, nullable));
    }
    if strip_last_word(ty, "not").is_some() {
        return Err("'not' must be followed by 'null'".into());
    }
    let mut depth = 0i32;
    let mut in_quotes = false;
    for c in ty.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            _ if in_quotes => {}
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if c.is_alphanumeric() || c.is_whitespace() || matches!(c, '_' | ',' | '.') => {}
            c => {
                return Err(format!(
                    "unexpected '{}' in the type '{}'",
                    echo(&c.to_string()),
                    echo(ty)
                ));
            }
        }
        if depth < 0 {
            return Err(format!("unbalanced parentheses in the type '{}'", echo(ty)));
        }
    }
    if in_quotes {
        return Err(format!(
            "unterminated quoted name in the type '{}'",
            echo(ty)
        ));
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in the type '{}'", echo(ty)));
    }
    Ok((Some(normalize_type(ty)), nullable))
}

/// `s` without its last whitespace-separated word if that word is `word` (ASCII
/// case-insensitive), trimmed.
fn strip_last_word<'s>(s: &'s str, word: &str) -> Option<&'s str> {
    let s = s.trim_end();
    let cut = s.len().checked_sub(word.len())?;
    if !s.is_char_boundary(cut) || !s[cut..].eq_ignore_ascii_case(word) {
        return None;
    }
    let before = &s[..cut];
    (before.is_empty() || before.ends_with(char::is_whitespace)).then(|| before.trim_end())
}

// ---------------------------------------------------------------------------------------------
// Type names

/// Normalises a type name to the spelling PostgreSQL's `format_type()` prints for a column of
/// that type: `varchar(64)` → `character varying(64)`, `int4` → `integer`,
/// `timestamptz(3)` → `timestamp(3) with time zone`, `decimal(10, 2)` → `numeric(10,2)`,
/// `int[]`/`_int4`/`int array` → `integer[]`, and so on. Unknown names (enums, domains,
/// extension types) are only lower-cased (outside double quotes) and have their whitespace
/// collapsed. Idempotent, and the identity on what `format_type()` prints.
pub fn normalize_type(t: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut typmod: Option<String> = None;
    let mut is_array = false;

    let mut chars = t.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            let mut depth = 1;
            let mut inner = String::new();
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if !c.is_whitespace() {
                    inner.push(c.to_ascii_lowercase());
                }
            }
            // Only the first modifier counts; PostgreSQL has no type with two.
            typmod.get_or_insert(inner);
        } else if c == '[' {
            // Array bounds are not enforced and format_type never prints them.
            for c in chars.by_ref() {
                if c == ']' {
                    break;
                }
            }
            is_array = true;
        } else if c == ')' || c == ']' {
            chars.next();
        } else {
            let mut word = String::new();
            let mut in_quotes = false;
            while let Some(&c) = chars.peek() {
                if !in_quotes && (c.is_whitespace() || c == '(' || c == '[') {
                    break;
                }
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                word.push(if in_quotes { c } else { c.to_ascii_lowercase() });
                chars.next();
            }
            words.push(word);
        }
    }

    if words.len() > 1 && words.last().is_some_and(|w| w == "array") {
        words.pop();
        is_array = true;
    }
    if let Some(first) = words.first_mut()
        && let Some(unqualified) = first.strip_prefix("pg_catalog.")
    {
        *first = unqualified.to_string();
    }
    // The internal name of an array type: `_int4` is `integer[]`.
    if words.len() == 1
        && typmod.is_none()
        && let Some(elem) = words[0].strip_prefix('_')
        && INTERNAL_ARRAY_ELEMENTS.contains(&elem)
    {
        words[0] = elem.to_string();
        is_array = true;
    }

    let name = words.join(" ");
    let m = typmod
        .as_deref()
        .map(|p| format!("({p})"))
        .unwrap_or_default();
    let base = match name.as_str() {
        "int" | "int4" | "integer" | "serial" | "serial4" => format!("integer{m}"),
        "int2" | "smallint" | "smallserial" | "serial2" => format!("smallint{m}"),
        "int8" | "bigint" | "bigserial" | "serial8" => format!("bigint{m}"),
        "bool" | "boolean" => format!("boolean{m}"),
        "float4" | "real" => format!("real{m}"),
        "float8" | "double precision" => format!("double precision{m}"),
        "float" => match typmod.as_deref().map(str::parse::<u32>) {
            None => "double precision".into(),
            Some(Ok(1..=24)) => "real".into(),
            Some(Ok(25..=53)) => "double precision".into(),
            // Out of range: PostgreSQL rejects it; keep it recognisably wrong.
            Some(_) => format!("float{m}"),
        },
        "decimal" | "dec" | "numeric" => match typmod.as_deref() {
            // numeric(p) is numeric(p,0), and format_type says so.
            Some(p) if !p.contains(',') => format!("numeric({p},0)"),
            _ => format!("numeric{m}"),
        },
        "varchar"
        | "character varying"
        | "char varying"
        | "national character varying"
        | "national char varying"
        | "nchar varying" => format!("character varying{m}"),
        // A column declared `char` has length 1; `bpchar` alone has no length.
        "char" | "character" | "national character" | "national char" | "nchar" => {
            format!("character({})", typmod.as_deref().unwrap_or("1"))
        }
        "bpchar" if typmod.is_some() => format!("character{m}"),
        "bit" => format!("bit({})", typmod.as_deref().unwrap_or("1")),
        "varbit" | "bit varying" => format!("bit varying{m}"),
        "timestamp" | "timestamp without time zone" => format!("timestamp{m} without time zone"),
        "timestamptz" | "timestamp with time zone" => format!("timestamp{m} with time zone"),
        "time" | "time without time zone" => format!("time{m} without time zone"),
        "timetz" | "time with time zone" => format!("time{m} with time zone"),
        // Everything else, `interval day to second(3)` included, prints as written.
        _ => format!("{name}{m}"),
    };
    if is_array { format!("{base}[]") } else { base }
}

/// Element types whose internal array name (`_int4`) [`normalize_type`] understands.
const INTERNAL_ARRAY_ELEMENTS: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "bool",
    "numeric",
    "varchar",
    "bpchar",
    "text",
    "bytea",
    "date",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "bit",
    "varbit",
    "inet",
    "cidr",
    "macaddr",
    "oid",
];

// ---------------------------------------------------------------------------------------------
// Identifier quoting

/// Quotes an identifier the way PostgreSQL's `quote_ident()` does: unchanged when it is a
/// lower-case ASCII name (`[a-z_][a-z0-9_]*`) that is not a keyword, otherwise in double
/// quotes with inner quotes doubled (`Weird Table` → `"Weird Table"`, `user` → `"user"`).
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err();
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted as needed.
fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Every keyword `quote_ident()` quotes (all but the unreserved ones), PostgreSQL 15 to 18:
/// `SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`, sorted for binary search.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

// ---------------------------------------------------------------------------------------------
// Verification

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

/// Checks every requirement against the database, read only, and returns the results in
/// requirement order. One query per kind of requirement present, each a single round trip
/// (`query_typed`: no separate prepare), with every name bound as a `text[]` parameter.
pub fn verify(client: &mut postgres::Client, reqs: &[Requirement]) -> Result<Vec<CheckResult>> {
    let mut results: Vec<Option<CheckResult>> = vec![None; reqs.len()];

    let columns: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Column { .. }));
    if !columns.is_empty() {
        let (mut s, mut t, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &columns {
            if let Requirement::Column {
                schema,
                table,
                column,
                ..
            } = &reqs[i]
            {
                s.push(schema.as_str());
                t.push(table.as_str());
                c.push(column.as_str());
            }
        }
        let rows = query(
            client,
            COLUMNS_SQL,
            &[&s, &t, &c],
            "checking required columns",
        )?;
        for (row, &i) in first_per_ordinal(&rows, columns.len())?.zip(&columns) {
            let found = ColumnFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                data_type: row.get(3),
                not_null: row.get(4),
            };
            results[i] = Some(column_result(&reqs[i], &found));
        }
    }

    let index_reqs: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Index { .. }));
    if !index_reqs.is_empty() {
        let (mut s, mut n) = (Vec::new(), Vec::new());
        for &i in &index_reqs {
            if let Requirement::Index { schema, name } = &reqs[i] {
                s.push(schema.as_str());
                n.push(name.as_str());
            }
        }
        let rows = query(client, INDEXES_SQL, &[&s, &n], "checking required indexes")?;
        for (row, &i) in first_per_ordinal(&rows, index_reqs.len())?.zip(&index_reqs) {
            let found = IndexFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                table_schema: row.get(3),
                table: row.get(4),
                elsewhere: row.get(5),
            };
            results[i] = Some(index_result(&reqs[i], &found));
        }
    }

    let constraints: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Constraint { .. }));
    if !constraints.is_empty() {
        let (mut s, mut t, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &constraints {
            if let Requirement::Constraint {
                schema,
                table,
                name,
            } = &reqs[i]
            {
                s.push(schema.as_str());
                t.push(table.as_str());
                n.push(name.as_str());
            }
        }
        let rows = query(
            client,
            CONSTRAINTS_SQL,
            &[&s, &t, &n],
            "checking required constraints",
        )?;
        for (row, &i) in first_per_ordinal(&rows, constraints.len())?.zip(&constraints) {
            let found = ConstraintFound {
                schema_exists: row.get(1),
                table_exists: row.get(2),
                contype: row.get(3),
                index_of_that_name: row.get(4),
                elsewhere: row.get(5),
            };
            results[i] = Some(constraint_result(&reqs[i], &found));
        }
    }

    let tables: Vec<usize> = indices(reqs, |r| matches!(r, Requirement::Table { .. }));
    if !tables.is_empty() {
        let (mut s, mut t) = (Vec::new(), Vec::new());
        for &i in &tables {
            if let Requirement::Table { schema, table } = &reqs[i] {
                s.push(schema.as_str());
                t.push(table.as_str());
            }
        }
        let rows = query(client, TABLES_SQL, &[&s, &t], "checking required tables")?;
        for (row, &i) in first_per_ordinal(&rows, tables.len())?.zip(&tables) {
            let found = TableFound {
                schema_exists: row.get(1),
                relkind: row.get(2),
                elsewhere: row.get(3),
            };
            results[i] = Some(table_result(&reqs[i], &found));
        }
    }

    results
        .into_iter()
        .map(|r| r.ok_or_else(|| Error::Internal("a requirement was not checked".into())))
        .collect()
}

// Each query takes parallel text[] arrays, one element per requirement, and returns exactly
// one row per element, ordered by its 1-based position `i`. Relation kinds and constraint
// types are "char" in the catalog: cast to text for the driver.

const COLUMNS_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(sch, tbl, col, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
     AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = r.col
     AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY r.i";

const INDEXES_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text, tn.nspname::text, t.relname::text,
       ARRAY(SELECT n2.nspname::text FROM pg_catalog.pg_class c2
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE c2.relname = r.name AND c2.relkind IN ('i', 'I') AND n2.nspname <> r.sch
             ORDER BY 1)
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(sch, name, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.name
LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
ORDER BY r.i";

const CONSTRAINTS_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.oid IS NOT NULL, k.contype::text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class ci
               WHERE ci.relnamespace = n.oid AND ci.relname = r.name AND ci.relkind IN ('i', 'I')),
       ARRAY(SELECT quote_ident(n2.nspname) || '.' || quote_ident(c2.relname)
             FROM pg_catalog.pg_constraint k2
             JOIN pg_catalog.pg_class c2 ON c2.oid = k2.conrelid
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE k2.conname = r.name AND c2.oid IS DISTINCT FROM c.oid
             ORDER BY 1)
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(sch, tbl, name, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
     AND c.relkind IN ('r', 'p', 'f')
LEFT JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid AND k.conname = r.name
ORDER BY r.i";

const TABLES_SQL: &str = "\
SELECT r.i, n.oid IS NOT NULL, c.relkind::text,
       ARRAY(SELECT n2.nspname::text FROM pg_catalog.pg_class c2
             JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE c2.relname = r.tbl AND c2.relkind IN ('r', 'p', 'f') AND n2.nspname <> r.sch
             ORDER BY 1)
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(sch, tbl, i)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = r.sch
LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.tbl
ORDER BY r.i";

fn indices(reqs: &[Requirement], pred: impl Fn(&Requirement) -> bool) -> Vec<usize> {
    (0..reqs.len()).filter(|&i| pred(&reqs[i])).collect()
}

/// Runs one of the queries above with its text[] parameters in a single round trip.
fn query(
    client: &mut postgres::Client,
    sql: &str,
    arrays: &[&Vec<&str>],
    context: &str,
) -> Result<Vec<postgres::Row>> {
    let params: Vec<(&(dyn ToSql + Sync), Type)> = arrays
        .iter()
        .map(|a| (*a as &(dyn ToSql + Sync), Type::TEXT_ARRAY))
        .collect();
    client
        .traced(sql, &params)
        .map_err(|e| Error::db(context, &e))
}

/// The rows for ordinals 1..=n, one each. The joins are on unique keys, so there is exactly
/// one row per ordinal; should a catalog ever yield more, the first is used.
fn first_per_ordinal(
    rows: &[postgres::Row],
    n: usize,
) -> Result<impl Iterator<Item = &postgres::Row>> {
    let mut picked: Vec<Option<&postgres::Row>> = vec![None; n];
    for row in rows {
        let i: i64 = row.get(0);
        if let Some(slot) = usize::try_from(i - 1).ok().and_then(|k| picked.get_mut(k)) {
            slot.get_or_insert(row);
        }
    }
    if picked.iter().any(Option::is_none) {
        return Err(Error::Internal(
            "the catalog query returned no row for a requirement".into(),
        ));
    }
    Ok(picked.into_iter().flatten())
}

/// What the catalog says about a required column.
#[derive(Debug, Clone, Default)]
struct ColumnFound {
    schema_exists: bool,
    /// The relation's kind, when a table, view or foreign table of that name exists.
    relkind: Option<String>,
    /// `format_type()` of the column, when it exists.
    data_type: Option<String>,
    not_null: Option<bool>,
}

#[derive(Debug, Clone, Default)]
struct IndexFound {
    schema_exists: bool,
    /// The kind of the relation of that name in the schema, whatever it is.
    relkind: Option<String>,
    table_schema: Option<String>,
    table: Option<String>,
    /// Other schemas holding an index of that name.
    elsewhere: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct ConstraintFound {
    schema_exists: bool,
    table_exists: bool,
    contype: Option<String>,
    /// An index (not a constraint) of that name exists in the schema.
    index_of_that_name: bool,
    /// Other tables (qualified, quoted) with a constraint of that name.
    elsewhere: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct TableFound {
    schema_exists: bool,
    relkind: Option<String>,
    /// Other schemas holding a table of that name.
    elsewhere: Vec<String>,
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

fn column_result(req: &Requirement, f: &ColumnFound) -> CheckResult {
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

fn index_result(req: &Requirement, f: &IndexFound) -> CheckResult {
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

fn constraint_result(req: &Requirement, f: &ConstraintFound) -> CheckResult {
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

fn table_result(req: &Requirement, f: &TableFound) -> CheckResult {
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

    fn col(
        schema: &str,
        table: &str,
        column: &str,
        ty: Option<&str>,
        n: Option<bool>,
    ) -> Requirement {
        Requirement::Column {
            schema: schema.into(),
            table: table.into(),
            column: column.into(),
            data_type: ty.map(String::from),
            nullable: n,
        }
    }

    fn parse_ok(text: &str) -> Vec<Requirement> {
        parse(text, Path::new("req.txt")).unwrap()
    }

    fn parse_errs(text: &str) -> Vec<String> {
        match parse(text, Path::new("sql/required_schema.txt")) {
            Err(Error::Env(p)) => p,
            other => panic!("expected Env error, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_spec_example() {
        let text = "\
column proposals.visitor_session_id varchar(64) null
column proposals.expires_at timestamp
column conversions.proposal_id integer
index ix_conversions_proposal_id
constraint proposals.ck_proposals_owner_present
table users
";
        let reqs = parse_ok(text);
        assert_eq!(
            reqs,
            vec![
                col(
                    "public",
                    "proposals",
                    "visitor_session_id",
                    Some("character varying(64)"),
                    Some(true)
                ),
                col(
                    "public",
                    "proposals",
                    "expires_at",
                    Some("timestamp without time zone"),
                    None
                ),
                col(
                    "public",
                    "conversions",
                    "proposal_id",
                    Some("integer"),
                    None
                ),
                Requirement::Index {
                    schema: "public".into(),
                    name: "ix_conversions_proposal_id".into()
                },
                Requirement::Constraint {
                    schema: "public".into(),
                    table: "proposals".into(),
                    name: "ck_proposals_owner_present".into()
                },
                Requirement::Table {
                    schema: "public".into(),
                    table: "users".into()
                },
            ]
        );
        let labels: Vec<String> = reqs.iter().map(Requirement::label).collect();
        assert_eq!(
            labels,
            vec![
                "column public.proposals.visitor_session_id",
                "column public.proposals.expires_at",
                "column public.conversions.proposal_id",
                "index public.ix_conversions_proposal_id",
                "constraint public.proposals.ck_proposals_owner_present",
                "table public.users",
            ]
        );
    }

    #[test]
    fn comments_blank_lines_case_and_crlf() {
        let text = "\u{feff}# required schema\r\n\r\n   \r\nCOLUMN Proposals.Expires_At TIMESTAMPTZ NOT NULL # must be set\r\nTable App.Users#x\r\n";
        assert_eq!(
            parse_ok(text),
            vec![
                col(
                    "public",
                    "proposals",
                    "expires_at",
                    Some("timestamp with time zone"),
                    Some(false)
                ),
                Requirement::Table {
                    schema: "app".into(),
                    table: "users".into()
                },
            ]
        );
    }

    #[test]
    fn schema_qualified_and_quoted_names() {
        let reqs = parse_ok(
            "column \"Weird Table\".col integer\n\
             column billing.\"Invoice\".\"a\"\"b # c\" numeric(10, 2)\n\
             index \"My Schema\".ix_x\n\
             constraint s.t.\"CK\"\n\
             table \"user\"\n",
        );
        assert_eq!(
            reqs[0],
            col("public", "Weird Table", "col", Some("integer"), None)
        );
        assert_eq!(
            reqs[1],
            col(
                "billing",
                "Invoice",
                "a\"b # c",
                Some("numeric(10,2)"),
                None
            )
        );
        assert_eq!(reqs[0].label(), "column public.\"Weird Table\".col");
        assert_eq!(reqs[1].label(), "column billing.\"Invoice\".\"a\"\"b # c\"");
        assert_eq!(reqs[2].label(), "index \"My Schema\".ix_x");
        assert_eq!(reqs[3].label(), "constraint s.t.\"CK\"");
        assert_eq!(reqs[4].label(), "table public.\"user\"");
    }

    #[test]
    fn column_types_with_spaces_parens_and_nullability() {
        let cases = [
            ("column t.c", None, None),
            ("column t.c null", None, Some(true)),
            ("column t.c NOT NULL", None, Some(false)),
            (
                "column t.c timestamp with time zone",
                Some("timestamp with time zone"),
                None,
            ),
            (
                "column t.c character varying(64) not null",
                Some("character varying(64)"),
                Some(false),
            ),
            (
                "column t.c numeric(10, 2) null",
                Some("numeric(10,2)"),
                Some(true),
            ),
            ("column t.c integer[]", Some("integer[]"), None),
            (
                "column t.c double  precision",
                Some("double precision"),
                None,
            ),
            ("column t.c mood", Some("mood"), None),
            ("column t.c \"MyEnum\"", Some("\"MyEnum\""), None),
            ("column t.c nullable_thing", Some("nullable_thing"), None),
        ];
        for (line, ty, n) in cases {
            assert_eq!(
                parse_ok(line),
                vec![col("public", "t", "c", ty, n)],
                "{line}"
            );
        }
    }

    #[test]
    fn every_bad_line_is_reported_with_file_and_line() {
        let text = "\
column proposals.visitor_session_id varchar(64)
colum proposals.x integer
column proposals
index
table a.b.c
index ix_x extra words
column t.c varchar(64
column t.c integer not
column t.bad-name integer
table \"unterminated
table \"\"
column t.c int; drop table x
# fine
table users
";
        let errs = parse_errs(text);
        let expect = [
            (
                2,
                "unknown requirement 'colum'",
                "colum proposals.x integer",
            ),
            (
                3,
                "has 1 part, expected [schema.]table.column",
                "column proposals",
            ),
            (4, "missing name", "index"),
            (5, "has 3 parts, expected [schema.]table", "table a.b.c"),
            (
                6,
                "unexpected 'extra words' after the index name",
                "index ix_x extra words",
            ),
            (7, "unbalanced parentheses", "column t.c varchar(64"),
            (
                8,
                "'not' must be followed by 'null'",
                "column t.c integer not",
            ),
            (9, "unexpected '-' in a name", "column t.bad-name integer"),
            (10, "unterminated quoted identifier", "table \"unterminated"),
            (11, "zero-length quoted identifier", "table \"\""),
            (
                12,
                "unexpected ';' in the type",
                "column t.c int; drop table x",
            ),
        ];
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");
        for (e, (line, what, text)) in errs.iter().zip(expect) {
            assert!(
                e.starts_with(&format!("sql/required_schema.txt:{line}: ")),
                "{e}"
            );
            assert!(e.contains(what), "{e} should contain {what}");
            assert!(
                e.ends_with(&format!(": {text}")),
                "{e} should end with {text}"
            );
        }
        let err = parse(text, Path::new("x")).unwrap_err();
        assert_eq!(err.kind().code(), 3);
    }

    #[test]
    fn over_long_names_are_refused() {
        let long = "a".repeat(64);
        let errs = parse_errs(&format!("table {long}\n"));
        assert!(errs[0].contains("longer than 63 bytes"), "{errs:?}");
        assert!(parse(&format!("table {}", "a".repeat(63)), Path::new("x")).is_ok());
    }

    #[test]
    fn parse_require_forms() {
        assert_eq!(
            parse_require("proposals.visitor_session_id").unwrap(),
            col("public", "proposals", "visitor_session_id", None, None)
        );
        assert_eq!(
            parse_require(" App.Proposals.X ").unwrap(),
            col("app", "proposals", "x", None, None)
        );
        assert_eq!(
            parse_require("t.c varchar(64) not null").unwrap(),
            col(
                "public",
                "t",
                "c",
                Some("character varying(64)"),
                Some(false)
            )
        );
        let e = parse_require("proposals").unwrap_err();
        assert!(
            e.contains("'proposals'") && e.contains("expected [schema.]table.column"),
            "{e}"
        );
        assert!(parse_require("").unwrap_err().contains("empty"));
        assert!(parse_require("a.b.c.d").is_err());
        assert!(parse_require("a..b").is_err());
    }

    /// Every alias against the exact spelling PostgreSQL 15's format_type() printed for a
    /// column declared with it.
    #[test]
    fn normalize_type_matches_format_type() {
        let cases = [
            ("varchar(64)", "character varying(64)"),
            ("VARCHAR (64)", "character varying(64)"),
            ("varchar", "character varying"),
            ("character varying(64)", "character varying(64)"),
            ("char varying(3)", "character varying(3)"),
            ("char(3)", "character(3)"),
            ("character(5)", "character(5)"),
            ("char", "character(1)"),
            ("character", "character(1)"),
            ("bpchar", "bpchar"),
            ("bpchar(4)", "character(4)"),
            ("int", "integer"),
            ("int4", "integer"),
            ("integer", "integer"),
            ("int2", "smallint"),
            ("smallint", "smallint"),
            ("int8", "bigint"),
            ("bigint", "bigint"),
            ("serial", "integer"),
            ("serial4", "integer"),
            ("bigserial", "bigint"),
            ("serial8", "bigint"),
            ("smallserial", "smallint"),
            ("serial2", "smallint"),
            ("float4", "real"),
            ("real", "real"),
            ("float8", "double precision"),
            ("float", "double precision"),
            ("double precision", "double precision"),
            ("DOUBLE\tPRECISION", "double precision"),
            ("float(1)", "real"),
            ("float(24)", "real"),
            ("float(25)", "double precision"),
            ("float(53)", "double precision"),
            ("bool", "boolean"),
            ("boolean", "boolean"),
            ("timestamp", "timestamp without time zone"),
            ("timestamp without time zone", "timestamp without time zone"),
            ("timestamptz", "timestamp with time zone"),
            ("Timestamp With Time Zone", "timestamp with time zone"),
            ("timestamp(3)", "timestamp(3) without time zone"),
            (
                "timestamp(0) without time zone",
                "timestamp(0) without time zone",
            ),
            ("timestamptz(6)", "timestamp(6) with time zone"),
            (
                "timestamp (6) with time zone",
                "timestamp(6) with time zone",
            ),
            ("time", "time without time zone"),
            ("timetz", "time with time zone"),
            ("time(2) with time zone", "time(2) with time zone"),
            ("decimal", "numeric"),
            ("numeric", "numeric"),
            ("decimal(10,2)", "numeric(10,2)"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("numeric(10)", "numeric(10,0)"),
            ("dec(5)", "numeric(5,0)"),
            ("bit", "bit(1)"),
            ("bit(3)", "bit(3)"),
            ("varbit", "bit varying"),
            ("varbit(5)", "bit varying(5)"),
            ("bit varying(4)", "bit varying(4)"),
            ("int[]", "integer[]"),
            ("int []", "integer[]"),
            ("int4[][]", "integer[]"),
            ("integer[3]", "integer[]"),
            ("int array", "integer[]"),
            ("_int4", "integer[]"),
            ("_varchar", "character varying[]"),
            ("varchar(10)[]", "character varying(10)[]"),
            ("text[]", "text[]"),
            ("interval", "interval"),
            ("interval(2)", "interval(2)"),
            ("interval day to second(3)", "interval day to second(3)"),
            ("\"char\"", "\"char\""),
            ("jsonb", "jsonb"),
            ("UUID", "uuid"),
            ("pg_catalog.int4", "integer"),
            ("public.\"MyEnum\"", "public.\"MyEnum\""),
            ("  text  ", "text"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_type(input), want, "normalize_type({input:?})");
            // Idempotent, hence the identity on format_type's output.
            assert_eq!(normalize_type(want), want, "normalize_type({want:?})");
        }
    }

    #[test]
    fn quote_ident_matches_postgres() {
        assert_eq!(quote_ident("proposals"), "proposals");
        assert_eq!(quote_ident("_x1"), "_x1");
        assert_eq!(quote_ident("Abc"), "\"Abc\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(quote_ident("a$"), "\"a$\"");
        assert_eq!(quote_ident("é"), "\"é\"");
        assert_eq!(quote_ident(""), "\"\"");
        // Reserved and column-name keywords are quoted, unreserved ones are not.
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("position"), "\"position\"");
        assert_eq!(quote_ident("name"), "name");
        assert_eq!(quote_ident("type"), "type");
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

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
