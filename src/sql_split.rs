//! Splits a PostgreSQL script into statements, the way `psql` does, without a server.
//!
//! This module owns the lexical knowledge the sentry needs to replay a migration one statement
//! at a time (stamp recovery, `-- sentry:no-transaction` migrations) and to validate a migration
//! offline (`check`): where quoted strings, quoted identifiers, dollar-quoted bodies and comments
//! begin and end, and therefore which semicolons terminate a statement.
//!
//! The scanner is a single left-to-right pass over the bytes (linear time). Every character that
//! matters to the lexer is ASCII, and in UTF-8 the bytes of a multi-byte character are all
//! `>= 0x80`, so scanning bytes never splits a character; such bytes count as identifier
//! characters, as they do in PostgreSQL's lexer.
//!
//! Like `psql`, a semicolon only ends a statement outside parentheses (multi-action
//! `CREATE RULE … DO (…; …)`) and outside a SQL-standard `BEGIN ATOMIC … END` routine body.
//! Limits of the `BEGIN ATOMIC` heuristic (shared with `psql`): it applies only to statements
//! starting `CREATE [OR REPLACE] FUNCTION|PROCEDURE`; inside the body every bare word `BEGIN` or
//! `CASE` at parenthesis depth 0 opens a level and every bare word `END` closes one, so a column
//! called `end` (unquoted, outside parentheses) inside such a body would confuse it. Unbalanced
//! parentheses or an unclosed `BEGIN ATOMIC` are not errors here: the rest of the script becomes
//! one statement and the server reports the syntax error.

use std::fmt;

/// One statement of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text: from its first token to the end of its last token, without the
    /// terminating `;` and without leading or trailing whitespace and comments (comments between
    /// its tokens are kept).
    pub sql: &'a str,
    /// Byte offset of `sql` in the input: `&input[offset..offset + sql.len()] == sql`.
    pub offset: usize,
    /// 1-based line of the statement's first token.
    pub line: usize,
}

/// A script that cannot be split: something opened is never closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line where the unterminated construct was opened.
    pub line: usize,
    /// 1-based column, in characters, where it was opened.
    pub column: usize,
    /// What is unterminated, e.g. `unterminated dollar-quoted string $fn$ (opened here)`.
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for SplitError {}

/// The 1-based line and 1-based column (in characters, not bytes) of `byte_offset` in `input`.
///
/// An offset past the end is clamped to the end; an offset inside a multi-byte character is
/// taken as the start of that character. Lines are separated by `\n` (a `\r` before it belongs
/// to the line it ends).
pub fn line_col(input: &str, byte_offset: usize) -> (usize, usize) {
    let mut at = byte_offset.min(input.len());
    while !input.is_char_boundary(at) {
        at -= 1;
    }
    let before = &input[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Splits `input` into its statements, in order.
///
/// Segments holding only whitespace and comments (including empty `;;`) are not statements.
/// A UTF-8 byte order mark at the very start is skipped. An unterminated quoted string, quoted
/// identifier, dollar-quoted string or block comment is an error pointing at where it opened.
pub fn split(input: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut lines = LineTracker::default();
    let mut st = StmtState::default();
    let mut i = if input.starts_with('\u{feff}') { 3 } else { 0 };

    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();

        // Whitespace and comments separate tokens but are never part of one.
        if is_space(c) {
            i += 1;
            continue;
        }
        if c == b'-' && next == Some(b'-') {
            i = memchr_from(bytes, i + 2, b'\n').unwrap_or(bytes.len());
            continue;
        }
        if c == b'/' && next == Some(b'*') {
            i = skip_block_comment(input, i)?;
            continue;
        }

        // A token. `BEGIN` only opens an atomic body when the very next token is `ATOMIC`.
        let begin_pending = std::mem::take(&mut st.begin_pending);

        if c == b';' && st.paren_depth == 0 && st.atomic_depth == 0 {
            if let Some(start) = st.start {
                out.push(Statement {
                    sql: &input[start..st.end],
                    offset: start,
                    line: lines.line_at(bytes, start),
                });
            }
            st = StmtState::default();
            i += 1;
            continue;
        }

        if st.start.is_none() {
            st.start = Some(i);
        }
        let end = match c {
            b'\'' => skip_quoted(input, i, i + 1, b'\'', false)?,
            b'"' => skip_quoted(input, i, i + 1, b'"', false)?,
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_end) => skip_dollar_quoted(input, i, tag_end)?,
                // A parameter (`$1`) or a stray `$`.
                None => scan_while(bytes, i + 1, |b| b.is_ascii_digit()),
            },
            b'(' => {
                st.paren_depth += 1;
                i + 1
            }
            b')' => {
                st.paren_depth = st.paren_depth.saturating_sub(1);
                i + 1
            }
            c if is_ident_start(c) => {
                let word_end = scan_while(bytes, i + 1, is_ident_cont);
                let word = &bytes[i..word_end];
                if word.eq_ignore_ascii_case(b"e") && bytes.get(word_end) == Some(&b'\'') {
                    // E'…': backslash escapes apply. Errors point at the `E`.
                    skip_quoted(input, i, word_end + 1, b'\'', true)?
                } else {
                    st.word(word, begin_pending);
                    word_end
                }
            }
            // Numbers, and junk like `1abc` that the server will reject anyway.
            c if c.is_ascii_digit() => scan_while(bytes, i + 1, is_ident_cont),
            // Operators and punctuation, one byte at a time (multi-byte characters never get
            // here: they are identifier characters).
            _ => i + 1,
        };
        st.end = end;
        i = end;
    }

    if let Some(start) = st.start {
        out.push(Statement {
            sql: &input[start..st.end],
            offset: start,
            line: lines.line_at(bytes, start),
        });
    }
    Ok(out)
}

/// One lexical token of a statement, for the offline rules that look at what a statement
/// does (SPEC §5.2): comments are skipped, literals are opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// A bare word (keyword or identifier), as written.
    Word(&'a str),
    /// A double-quoted identifier, unquoted (`""` → `"`).
    Quoted(String),
    /// A string, dollar-quoted body or number.
    Literal,
    /// Any other single byte: punctuation and operator characters, `\`, `.`.
    Punct(u8),
}

impl Token<'_> {
    /// Whether this is the bare word `keyword` (any case).
    pub fn is(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    /// The identifier this token names, case-folded as the server does (bare words are
    /// lowercased, quoted identifiers kept), or `None` for a non-identifier.
    pub fn ident(&self) -> Option<String> {
        match self {
            Token::Word(w) => Some(w.to_ascii_lowercase()),
            Token::Quoted(q) => Some(q.clone()),
            _ => None,
        }
    }
}

/// The tokens of `sql` (one statement, or any text the splitter accepts), each with its byte
/// offset in `sql`. An unterminated construct ends the list (the splitter reports it).
pub fn tokens(sql: &str) -> Vec<(usize, Token<'_>)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if is_space(c) {
            i += 1;
            continue;
        }
        if c == b'-' && next == Some(b'-') {
            i = memchr_from(bytes, i + 2, b'\n').unwrap_or(bytes.len());
            continue;
        }
        if c == b'/' && next == Some(b'*') {
            match skip_block_comment(sql, i) {
                Ok(end) => i = end,
                Err(_) => break,
            }
            continue;
        }
        let (token, end) = match c {
            b'\'' => (Token::Literal, skip_quoted(sql, i, i + 1, b'\'', false)),
            b'"' => match skip_quoted(sql, i, i + 1, b'"', false) {
                Ok(end) => (
                    Token::Quoted(sql[i + 1..end - 1].replace("\"\"", "\"")),
                    Ok(end),
                ),
                Err(e) => (Token::Literal, Err(e)),
            },
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_end) => (Token::Literal, skip_dollar_quoted(sql, i, tag_end)),
                None => (
                    Token::Literal,
                    Ok(scan_while(bytes, i + 1, |b| b.is_ascii_digit())),
                ),
            },
            c if is_ident_start(c) => {
                let word_end = scan_while(bytes, i + 1, is_ident_cont);
                let word = &sql[i..word_end];
                if word.eq_ignore_ascii_case("e") && bytes.get(word_end) == Some(&b'\'') {
                    (
                        Token::Literal,
                        skip_quoted(sql, i, word_end + 1, b'\'', true),
                    )
                } else {
                    (Token::Word(word), Ok(word_end))
                }
            }
            c if c.is_ascii_digit() => {
                (Token::Literal, Ok(scan_while(bytes, i + 1, is_ident_cont)))
            }
            c => (Token::Punct(c), Ok(i + 1)),
        };
        let Ok(end) = end else {
            break;
        };
        out.push((i, token));
        i = end;
    }
    out
}

/// Where the current statement stands.
#[derive(Debug, Default)]
struct StmtState {
    /// Byte offset of its first token, once there is one.
    start: Option<usize>,
    /// Byte offset just past its last token so far.
    end: usize,
    paren_depth: usize,
    /// Depth of `BEGIN ATOMIC` / nested `BEGIN` / `CASE` inside a routine body.
    atomic_depth: usize,
    /// How far the leading words match `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
    prefix: Prefix,
    /// The previous token was `BEGIN` in a routine definition.
    begin_pending: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    #[default]
    Start,
    Create,
    CreateOr,
    CreateOrReplace,
    /// The statement defines a function or procedure: watch for `BEGIN ATOMIC`.
    Routine,
    /// Anything else: never track `BEGIN`/`END`.
    Other,
}

impl StmtState {
    /// Feeds one bare word (identifier or keyword) of the statement.
    fn word(&mut self, w: &[u8], begin_pending: bool) {
        let is = |k: &str| w.eq_ignore_ascii_case(k.as_bytes());
        self.prefix = match self.prefix {
            Prefix::Start if is("create") => Prefix::Create,
            Prefix::Create if is("or") => Prefix::CreateOr,
            Prefix::CreateOr if is("replace") => Prefix::CreateOrReplace,
            Prefix::Create | Prefix::CreateOrReplace if is("function") || is("procedure") => {
                Prefix::Routine
            }
            Prefix::Routine => Prefix::Routine,
            _ => Prefix::Other,
        };
        if self.prefix != Prefix::Routine || self.paren_depth != 0 {
            return;
        }
        if self.atomic_depth == 0 {
            if begin_pending && is("atomic") {
                self.atomic_depth = 1;
            } else if is("begin") {
                self.begin_pending = true;
            }
        } else if is("begin") || is("case") {
            self.atomic_depth += 1;
        } else if is("end") {
            self.atomic_depth -= 1;
        }
    }
}

/// Counts lines incrementally, so that numbering every statement stays linear.
#[derive(Debug)]
struct LineTracker {
    pos: usize,
    line: usize,
}

impl Default for LineTracker {
    fn default() -> Self {
        LineTracker { pos: 0, line: 1 }
    }
}

impl LineTracker {
    /// The 1-based line of `at`; calls must come with non-decreasing offsets.
    fn line_at(&mut self, bytes: &[u8], at: usize) -> usize {
        self.line += bytes[self.pos..at].iter().filter(|&&b| b == b'\n').count();
        self.pos = at;
        self.line
    }
}

/// PostgreSQL's whitespace: space, tab, newline, carriage return, form feed, vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn scan_while(bytes: &[u8], mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && pred(bytes[i]) {
        i += 1;
    }
    i
}

fn memchr_from(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| b == needle)
        .map(|p| p + from)
}

fn error_at(input: &str, at: usize, message: String) -> SplitError {
    let (line, column) = line_col(input, at);
    SplitError {
        line,
        column,
        message,
    }
}

/// Skips a (possibly nested) block comment opened at `open`; returns the offset after it.
fn skip_block_comment(input: &str, open: usize) -> Result<usize, SplitError> {
    let bytes = input.as_bytes();
    let mut depth = 1usize;
    let mut i = open + 2;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => i += 1,
        }
    }
    Err(error_at(
        input,
        open,
        "unterminated block comment /* (opened here)".into(),
    ))
}

/// Skips a quoted string or identifier whose body starts at `body` and whose delimiter
/// `quote` is doubled to escape it; with `backslash`, `\` also escapes the next byte
/// (E'…' strings). `open` is where errors point. Returns the offset after the closing quote.
fn skip_quoted(
    input: &str,
    open: usize,
    body: usize,
    quote: u8,
    backslash: bool,
) -> Result<usize, SplitError> {
    let bytes = input.as_bytes();
    let mut i = body;
    while i < bytes.len() {
        let b = bytes[i];
        if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        // Skipping one byte after `\` is safe: it is either ASCII or the lead byte of a
        // character whose continuation bytes can never be a quote or a backslash.
        i += if backslash && b == b'\\' { 2 } else { 1 };
    }
    let what = match (quote, backslash) {
        (b'"', _) => "unterminated quoted identifier \"… (opened here)",
        (_, true) => "unterminated escape string E'… (opened here)",
        _ => "unterminated quoted string '… (opened here)",
    };
    Err(error_at(input, open, what.into()))
}

/// If a dollar-quote delimiter (`$$` or `$tag$`) starts at `i`, the offset just past it.
///
/// The tag follows PostgreSQL: a letter, `_` or non-ASCII character, then those or digits.
/// The caller guarantees `i` is not inside an identifier (`a$b`), since identifiers are
/// consumed whole, `$` included.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < bytes.len() && is_ident_start(bytes[j]) {
        j = scan_while(bytes, j + 1, |b| is_ident_start(b) || b.is_ascii_digit());
    }
    (bytes.get(j) == Some(&b'$')).then_some(j + 1)
}

/// Skips a dollar-quoted string whose opening delimiter spans `open..tag_end`.
fn skip_dollar_quoted(input: &str, open: usize, tag_end: usize) -> Result<usize, SplitError> {
    let tag = &input[open..tag_end];
    match input[tag_end..].find(tag) {
        Some(p) => Ok(tag_end + p + tag.len()),
        None => Err(error_at(
            input,
            open,
            format!("unterminated dollar-quoted string {tag} (opened here)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(input: &str) -> Vec<&str> {
        split(input).unwrap().iter().map(|s| s.sql).collect()
    }

    fn err(input: &str) -> SplitError {
        split(input).unwrap_err()
    }

    #[test]
    fn empty_and_blank_inputs_have_no_statements() {
        assert!(split("").unwrap().is_empty());
        assert!(split("  \n\t \r\n").unwrap().is_empty());
        assert!(split(";;\n ; ").unwrap().is_empty());
    }

    #[test]
    fn comment_only_input_has_no_statements() {
        let input = "-- just a note\n/* and a block\n   comment */\n-- sentry:no-transaction\n;\n";
        assert!(split(input).unwrap().is_empty());
    }

    #[test]
    fn splits_simple_statements_and_trims() {
        assert_eq!(
            sqls("SELECT 1;\n  SELECT 2 ;\n\nSELECT 3"),
            vec!["SELECT 1", "SELECT 2", "SELECT 3"]
        );
        // The last statement needs no semicolon; trailing whitespace and comments are dropped.
        assert_eq!(sqls("SELECT 1 -- done\n  \n"), vec!["SELECT 1"]);
        assert_eq!(sqls("SELECT 1 /* x */ ;"), vec!["SELECT 1"]);
    }

    #[test]
    fn leading_comments_are_not_part_of_the_statement_but_inner_ones_are() {
        let input = "-- header\n/* block */ SELECT /* inner */ 1 -- tail\n, 2;";
        let st = split(input).unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].sql, "SELECT /* inner */ 1 -- tail\n, 2");
        assert_eq!(st[0].line, 2);
    }

    #[test]
    fn semicolons_in_single_quoted_strings_with_doubled_quotes() {
        assert_eq!(
            sqls("INSERT INTO t VALUES ('a;b', 'it''s; fine');SELECT ';'"),
            vec!["INSERT INTO t VALUES ('a;b', 'it''s; fine')", "SELECT ';'"]
        );
        // Adjacent quotes that close and reopen: '' inside, then an empty string.
        assert_eq!(
            sqls("SELECT '''', '';SELECT 2"),
            vec!["SELECT '''', ''", "SELECT 2"]
        );
    }

    #[test]
    fn plain_strings_treat_backslash_literally() {
        // standard_conforming_strings: 'C:\' is a complete string, so the ; after it splits.
        assert_eq!(
            sqls(r"SELECT 'C:\';SELECT 2"),
            vec![r"SELECT 'C:\'", "SELECT 2"]
        );
    }

    #[test]
    fn escape_strings_honour_backslashes() {
        assert_eq!(
            sqls(r"SELECT E'it\'s;' AS a, e'\\';SELECT 2"),
            vec![r"SELECT E'it\'s;' AS a, e'\\'", "SELECT 2"]
        );
        // `E` at the end of a longer identifier is not a prefix: 'x\' is a plain string.
        assert_eq!(sqls(r"SELECT some'x\';SELECT 2").len(), 2);
        // E'' also accepts doubled quotes.
        assert_eq!(sqls("SELECT E'a'';b';SELECT 2").len(), 2);
    }

    #[test]
    fn double_quoted_identifiers() {
        assert_eq!(
            sqls(r#"CREATE TABLE "we;ird ""t""" (id int);SELECT 1"#),
            vec![r#"CREATE TABLE "we;ird ""t""" (id int)"#, "SELECT 1"]
        );
        // A quoted identifier may contain a backslash and a quote-looking character.
        assert_eq!(sqls(r#"SELECT "a\'b;";SELECT 2"#).len(), 2);
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        let input = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
                     CREATE FUNCTION g() RETURNS text AS $fn$ SELECT '$$;'; $x$ $fn$ LANGUAGE sql;\n\
                     SELECT $a$;$a$";
        let got = sqls(input);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].ends_with("$$ LANGUAGE sql"));
        assert!(got[1].contains("$x$ $fn$ LANGUAGE sql"));
        assert_eq!(got[2], "SELECT $a$;$a$");
        // Tags are case-sensitive: $FN$ does not close $fn$.
        assert_eq!(sqls("SELECT $fn$ ; $FN$ ; $fn$; SELECT 2").len(), 2);
        // A dollar quote right after another one closes.
        assert_eq!(sqls("SELECT $a$x$a$$b$;$b$;SELECT 2").len(), 2);
    }

    #[test]
    fn parameters_and_dollars_in_identifiers_are_not_dollar_quotes() {
        assert_eq!(
            sqls("PREPARE p AS SELECT $1, a$b, x$$y FROM t WHERE c = $2;SELECT 2"),
            vec![
                "PREPARE p AS SELECT $1, a$b, x$$y FROM t WHERE c = $2",
                "SELECT 2"
            ]
        );
        // `$1$` is a parameter followed by a stray `$`, not the tag `$1$`.
        assert_eq!(sqls("SELECT $1$ ;SELECT 2").len(), 2);
    }

    #[test]
    fn line_comments_hide_semicolons_and_quotes() {
        assert_eq!(
            sqls("SELECT 1 -- not here; nor ' here\n, 2;SELECT 2"),
            vec!["SELECT 1 -- not here; nor ' here\n, 2", "SELECT 2"]
        );
        // A comment at end of input without newline.
        assert_eq!(sqls("SELECT 1; -- bye"), vec!["SELECT 1"]);
        // `--` inside a string is not a comment.
        assert_eq!(sqls("SELECT '--';SELECT 2").len(), 2);
    }

    #[test]
    fn nested_block_comments() {
        assert_eq!(
            sqls("SELECT /* a /* b; */ still comment; */ 1;SELECT 2"),
            vec!["SELECT /* a /* b; */ still comment; */ 1", "SELECT 2"]
        );
        // `/*` inside a string does not open a comment.
        assert_eq!(sqls("SELECT '/*';SELECT 2").len(), 2);
    }

    #[test]
    fn parentheses_keep_rule_actions_together() {
        let input =
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); NOTIFY t);SELECT 1";
        assert_eq!(sqls(input).len(), 2);
        // A stray closing parenthesis does not make the depth negative.
        assert_eq!(sqls("SELECT 1);SELECT 2").len(), 2);
    }

    #[test]
    fn begin_atomic_bodies_are_one_statement() {
        let input = "\
CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;
  SELECT 1;
END;
CREATE PROCEDURE ins(x int) LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (x); END;
SELECT 3;";
        let st = split(input).unwrap();
        assert_eq!(st.len(), 3, "{st:?}");
        assert!(st[0].sql.ends_with("SELECT 1;\nEND"));
        assert_eq!(st[1].line, 6);
        assert!(st[1].sql.ends_with("VALUES (x); END"));
        assert_eq!(st[2].sql, "SELECT 3");
    }

    #[test]
    fn begin_outside_routine_definitions_splits_normally() {
        // A transaction block in a script, and a routine whose body is a dollar quote.
        let input = "BEGIN;\nCREATE TABLE t (id int);\nEND;\n\
                     CREATE FUNCTION f() RETURNS void AS $$ BEGIN NULL; END $$ LANGUAGE plpgsql;\n\
                     CREATE FUNCTION \"begin\"() RETURNS int LANGUAGE sql RETURN 1;\nSELECT 1";
        assert_eq!(sqls(input).len(), 6);
    }

    #[test]
    fn lines_and_offsets_slice_back_to_the_statement() {
        let input =
            "\u{feff}-- header\nSELECT 'é;ü';\n\n  /* c */ UPDATE t\n  SET a = 1 ;\nSELECT 3";
        let st = split(input).unwrap();
        assert_eq!(st.len(), 3);
        for s in &st {
            assert_eq!(&input[s.offset..s.offset + s.sql.len()], s.sql);
            assert_eq!(line_col(input, s.offset).0, s.line);
        }
        assert_eq!((st[0].line, st[1].line, st[2].line), (2, 4, 6));
        assert_eq!(st[0].sql, "SELECT 'é;ü'");
        assert_eq!(st[1].sql, "UPDATE t\n  SET a = 1");
        assert_eq!(line_col(input, st[1].offset), (4, 11));
    }

    #[test]
    fn unicode_identifiers_and_text() {
        let input =
            "CREATE TABLE café (naïve text DEFAULT '日本;語');INSERT INTO café VALUES ($ü$;$ü$)";
        let got = sqls(input);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].ends_with("($ü$;$ü$)"));
    }

    #[test]
    fn line_col_counts_characters_and_clamps() {
        let s = "ab\nçé x\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 1));
        // 'x' is after two 2-byte characters and a space: byte 8, column 4.
        assert_eq!(line_col(s, 8), (2, 4));
        // Inside a multi-byte character: the character's start.
        assert_eq!(line_col(s, 4), (2, 1));
        assert_eq!(line_col(s, 1000), (3, 1));
    }

    #[test]
    fn unterminated_single_quote_points_at_the_opening() {
        let e = err("SELECT 1;\nSELECT 'abc;\nSELECT 2;");
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("unterminated quoted string"), "{e}");
    }

    #[test]
    fn unterminated_escape_string_points_at_the_prefix() {
        // The backslash escapes the quote, so the string never ends.
        let e = err(r"SELECT  E'abc\';");
        assert_eq!((e.line, e.column), (1, 9));
        assert!(e.message.contains("escape string"), "{e}");
    }

    #[test]
    fn unterminated_identifier_points_at_the_opening() {
        let e = err("SELECT 1;\n  SELECT \"ab\"\"c;");
        assert_eq!((e.line, e.column), (2, 10));
        assert!(e.message.contains("quoted identifier"), "{e}");
    }

    #[test]
    fn unterminated_dollar_quote_names_the_tag() {
        let e = err("SELECT 1;\nCREATE FUNCTION f() RETURNS int AS $fn$\nSELECT 1; $fn;\n");
        assert_eq!((e.line, e.column), (2, 36));
        assert_eq!(
            e.message,
            "unterminated dollar-quoted string $fn$ (opened here)"
        );
        assert_eq!(
            e.to_string(),
            "2:36: unterminated dollar-quoted string $fn$ (opened here)"
        );
        let e = err("é $$ x");
        assert_eq!((e.line, e.column), (1, 3));
    }

    #[test]
    fn unterminated_block_comment_points_at_the_outermost_opening() {
        let e = err("SELECT 1;\n é /* a /* b */ c\n");
        assert_eq!((e.line, e.column), (2, 4));
        assert!(e.message.contains("block comment"), "{e}");
        // Comments in strings do not count, and `/*/` is still open.
        assert!(split("SELECT '/*'").is_ok());
        assert!(split("/*/").is_err());
    }

    #[test]
    fn realistic_migration_with_do_block() {
        let input = "\
-- 0004_add_visitor_session_id.sql
ALTER TABLE proposals ADD COLUMN IF NOT EXISTS visitor_session_id varchar(64);

DO $$
BEGIN
    CREATE TYPE proposal_state AS ENUM ('draft', 'sent; final');
EXCEPTION
    WHEN duplicate_object THEN null;
END $$;

/* backfill */
UPDATE proposals SET visitor_session_id = 'legacy' WHERE visitor_session_id IS NULL;
CREATE INDEX IF NOT EXISTS ix_proposals_visitor ON proposals (visitor_session_id);
";
        let st = split(input).unwrap();
        assert_eq!(st.len(), 4, "{st:?}");
        assert_eq!(st[0].line, 2);
        assert_eq!(st[1].line, 4);
        assert!(st[1].sql.starts_with("DO $$\nBEGIN"));
        assert!(st[1].sql.ends_with("null;\nEND $$"));
        assert_eq!(st[2].line, 12);
        assert!(st[2].sql.starts_with("UPDATE proposals"));
        assert_eq!(st[3].line, 13);
        for s in &st {
            assert_eq!(&input[s.offset..s.offset + s.sql.len()], s.sql);
        }
    }

    #[test]
    fn crlf_input_splits_and_numbers_lines() {
        let input = "SELECT 1;\r\n-- c\r\nSELECT 2;\r\n";
        let st = split(input).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!((st[1].sql, st[1].line), ("SELECT 2", 3));
    }

    #[test]
    fn tokens_skip_comments_and_keep_literals_opaque() {
        let sql = "-- c\nALTER /* x */ TABLE \"My\"\"T\".col E'a\\'b' $$ x; $$ 12 \\set";
        let t: Vec<Token<'_>> = tokens(sql).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            t,
            vec![
                Token::Word("ALTER"),
                Token::Word("TABLE"),
                Token::Quoted("My\"T".into()),
                Token::Punct(b'.'),
                Token::Word("col"),
                Token::Literal,
                Token::Literal,
                Token::Literal,
                Token::Punct(b'\\'),
                Token::Word("set"),
            ]
        );
        assert!(t[0].is("alter"));
        assert_eq!(t[2].ident().as_deref(), Some("My\"T"));
        assert_eq!(t[4].ident().as_deref(), Some("col"));
        let (at, _) = tokens(sql)[8].clone();
        assert_eq!(&sql[at..], "\\set");
    }

    /// A script of `k` units: each unit three statements with every construct the scanner
    /// skips (strings, E-strings, quoted identifiers, dollar quotes, nested comments, an atomic
    /// body), then four statements whose single token grows with `k` (a dollar-quoted body, a
    /// list of values, a string of doubled quotes, a nested comment).
    fn script(k: usize) -> String {
        let mut s = String::new();
        for i in 0..k {
            s.push_str(&format!(
                "INSERT INTO t VALUES ({i}, 'x;y', E'a\\'b;', \"c;ol\", $$;$$); -- c;\n\
                 /* a; /* b; */ */ SELECT 'it''s;';\n\
                 CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END;\n"
            ));
        }
        s.push_str("SELECT $q$");
        s.push_str(&"$ ".repeat(10 * k));
        s.push_str("$q$;\nSELECT 0");
        s.push_str(&", 1".repeat(10 * k));
        s.push_str(";\nSELECT '");
        s.push_str(&"'';".repeat(10 * k));
        s.push_str("';\n/*");
        s.push_str(&" /* ; */".repeat(10 * k));
        s.push_str(" */ SELECT 1;\n");
        s
    }

    /// CPU time this thread has used: unlike the wall clock, it does not grow when other
    /// processes or test threads take the machine's cores.
    fn thread_cpu_time() -> std::time::Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec, which `ts` is.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    /// CPU time that splitting `s` and tokenizing every statement takes.
    fn work(s: &str) -> std::time::Duration {
        let started = thread_cpu_time();
        let statements = split(s).unwrap();
        let tokens: usize = statements.iter().map(|st| tokens(st.sql).len()).sum();
        std::hint::black_box(tokens);
        thread_cpu_time() - started
    }

    #[test]
    fn large_input_is_linear() {
        let k = 500;
        let (small, large) = (script(k), script(8 * k));
        let st = split(&small).unwrap();
        assert_eq!(st.len(), 3 * k + 4);
        assert_eq!(st[3 * k - 1].line, 3 * k);
        assert_eq!(st[3 * k].sql.len(), "SELECT $q$$q$".len() + 2 * 10 * k);
        // Eight times the input must cost about eight times the work; anything quadratic (a
        // line count from the start for every statement, a rescan of the statement so far for
        // every token) costs about 64 times as much. Measured as CPU time of this thread, not
        // the wall clock, and the least of five runs, so that a busy machine does not count;
        // the bound is far from both.
        let t_small = (0..5).map(|_| work(&small)).min().unwrap();
        let mut ratio = f64::INFINITY;
        let mut t_large = std::time::Duration::MAX;
        // Another run of the large input only while the ratio could still be noise.
        for _ in 0..5 {
            t_large = t_large.min(work(&large));
            ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
            if !(24.0..=48.0).contains(&ratio) {
                break;
            }
        }
        assert!(
            ratio < 24.0,
            "8 times the input took {ratio:.1} times the work ({t_small:?}, then {t_large:?})"
        );
    }
}
