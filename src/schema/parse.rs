//! Parsing the required schema: the required-schema file ([`parse`]) and the value of
//! `--require` ([`parse_require`]), both into [`Requirement`]s, every name as PostgreSQL
//! stores it and every type [`normalize_type`]d.

use std::path::Path;

use super::types::normalize_type;
use super::{DEFAULT_SCHEMA, Requirement};
use crate::error::{Error, Result};
use crate::output::echo;

/// PostgreSQL truncates longer identifiers, so a longer name could never match.
const MAX_IDENT_BYTES: usize = 63;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::col;

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
}
