//! The dangerous-migration lint (SPEC §5.5): squawk's rules, run on a migration's SQL.
//!
//! Not to be confused with `contents`, the sentry's own refusal of statements a
//! migration may not contain (BEGIN/COMMIT in a transactional migration, CONCURRENTLY inside
//! one…): that is always exit 6. This module only reports what squawk finds about locks,
//! rewrites and data loss; whether a finding blocks depends on the table's size ([`live`]) or
//! on `--strict` ([`offline`]).
//!
//! squawk's parser is not PostgreSQL. A statement it cannot read is reported once as a
//! `syntax-error` finding (a warning: PostgreSQL, not squawk, judges the SQL when it runs), is
//! blanked out, and the rest of the file is linted as if it were not there, so one unreadable
//! statement neither hides the others' findings nor produces findings of its own.

pub mod live;
pub mod offline;
pub mod rules;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use squawk_linter::{Linter, LinterSettings, Version};
use squawk_syntax::ast::AstNode;
use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode};

use crate::error::SetProblem;
use crate::{annotate, sql_split};
use rules::Class;

/// What lints a migration: the server version (offline: squawk's default) and whether the
/// migration runs inside a transaction.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `major[.minor]` of the server, e.g. `15.4`; `None` offline.
    pub server_version: Option<String>,
}

/// One thing squawk found in one migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The migration file.
    pub file: PathBuf,
    /// squawk's rule name, or `syntax-error`.
    pub rule: String,
    /// 1-based line and column (in characters) where the statement starts.
    pub line: usize,
    pub column: usize,
    /// squawk's message.
    pub message: String,
    /// squawk's help, when it has one.
    pub help: Option<String>,
    /// The relation the statement works on, as written (`orders`, `"Orders"`, `app.orders`).
    pub relation: Option<String>,
    /// The statement's first line, as written, for the report.
    pub excerpt: String,
}

impl Finding {
    /// The rule's class (blocking, warning, off).
    pub fn class(&self) -> Class {
        rules::class(&self.rule)
    }

    /// `file:line:col: rule: message`, the first line of the report.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.rule,
            self.message
        )
    }

    /// The finding for `--format json`.
    pub fn to_json(&self) -> Value {
        json!({
            "file": self.file.display().to_string(),
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "help": self.help,
            "relation": self.relation,
        })
    }
}

/// Logs a finding as a warning, with squawk's help and `note`, and annotates it.
pub fn warn(f: &Finding, note: Option<&str>) {
    let mut text = f.headline();
    if let Some(h) = &f.help {
        text.push_str(&format!("\n    help: {h}"));
    }
    if let Some(n) = note {
        text.push_str(&format!("\n    {n}"));
    }
    log::warn!("{text}");
    let mut message = format!("{}: {}", f.rule, f.message);
    if let Some(n) = note {
        message.push('\n');
        message.push_str(n);
    }
    annotate::warning(&f.file, Some(f.line), Some(f.column), &message);
}

/// Logs a size-dependent finding `run` lets through, in one line: the full explanation is
/// `check`'s, and a deploy log should not grow by four lines per index on a small table.
pub fn warn_allowed(f: &Finding, why: &str) {
    log::warn!(
        "{}:{}:{}: {}: {why}",
        f.file.display(),
        f.line,
        f.column,
        f.rule
    );
    annotate::warning(
        &f.file,
        Some(f.line),
        Some(f.column),
        &format!("{}: {}\n{why}", f.rule, f.message),
    );
}

/// A finding as an exit-6 problem (`file:line:col: rule: message`).
pub fn problem(f: &Finding, message: Option<String>, hint: String) -> SetProblem {
    SetProblem::file(
        &f.file,
        format!(
            "{}: {}",
            f.rule,
            message.unwrap_or_else(|| f.message.clone())
        ),
    )
    .at_line(f.line)
    .at_column(f.column)
    .with_hint(hint)
}

/// A migration's `-- sentry:allow` list applied to its findings: the accepted ones are logged
/// (a reviewed exception must show in the deploy log) and dropped.
pub fn apply_allow(version: &str, allow: &[String], findings: Vec<Finding>) -> Vec<Finding> {
    if allow.is_empty() {
        return findings;
    }
    let (accepted, kept): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .partition(|f| allow.iter().any(|a| a == &f.rule));
    for f in &accepted {
        log::info!(
            "{version}: -- sentry:allow {} accepts {}:{}:{} ({})",
            f.rule,
            f.file.display(),
            f.line,
            f.column,
            f.excerpt
        );
    }
    for a in allow {
        if !accepted.iter().any(|f| &f.rule == a) {
            log::info!("{version}: -- sentry:allow {a} matched no finding");
        }
    }
    kept
}

/// From how many migrations linting is spread over threads (`migrations::par_map`): parsing
/// and linting one small migration costs about 0.1 ms, a thread's start far less.
const PARALLEL_FROM: usize = 32;

/// Lints one migration's SQL with the enabled squawk rules.
///
/// `in_transaction` is false for a `-- sentry:no-transaction` migration (squawk's
/// `assume_in_transaction` then lets it see that each statement commits on its own).
pub fn lint_sql(file: &Path, sql: &str, in_transaction: bool, settings: &Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    let parse = SourceFile::parse(sql);
    let errors = parse.errors();
    let (text, parse) = if errors.is_empty() {
        (std::borrow::Cow::Borrowed(sql), parse)
    } else {
        // Blank out every statement squawk cannot read (same length, newlines kept, so offsets
        // and lines stay true) and lint the rest.
        let mut blanked = sql.as_bytes().to_vec();
        let mut blanked_any = false;
        let statements = sql_split::split(sql).unwrap_or_default();
        for st in &statements {
            let (start, end) = (st.offset, st.offset + st.sql.len());
            let Some(err) = errors.iter().find(|e| {
                let at = usize::from(e.range().start());
                // An error at the very end of a statement (a missing `;`) belongs to it too.
                at >= start && at <= end
            }) else {
                continue;
            };
            let (line, column) = sql_split::line_col(sql, start);
            if is_routine(st.sql) && bodies_unchecked(&sql[..start]) {
                // pg_dump output turns check_function_bodies off, and PostgreSQL then stores a
                // body without parsing it: squawk must not be stricter than the server.
                log::debug!(
                    "{}:{line}: squawk cannot read this routine's body; check_function_bodies \
                     is off, so PostgreSQL does not read it either",
                    file.display()
                );
            } else {
                findings.push(Finding {
                    file: file.to_path_buf(),
                    rule: rules::SYNTAX_ERROR.into(),
                    line,
                    column,
                    message: format!(
                        "squawk's parser cannot read this statement ({}), so it was not linted; \
                     PostgreSQL judges it when it runs",
                        err.message()
                    ),
                    help: Some(
                        "if PostgreSQL accepts it, accept the finding with `-- sentry:allow \
                     syntax-error`"
                            .into(),
                    ),
                    relation: None,
                    excerpt: first_line(st.sql),
                });
            }
            blanked_any = true;
            // Through the statement's `;` too, or squawk reads a stray one.
            let stop = sql[end..]
                .find(';')
                .filter(|i| sql[end..end + i].trim().is_empty())
                .map_or(end, |i| end + i + 1);
            for b in &mut blanked[start..stop] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        if statements.is_empty() || !blanked_any {
            // Our splitter failed too (apply's own check reports that), or the error lies
            // outside every statement: one finding for the file, nothing linted.
            let err = &errors[0];
            let (line, column) = sql_split::line_col(sql, usize::from(err.range().start()));
            findings.push(Finding {
                file: file.to_path_buf(),
                rule: rules::SYNTAX_ERROR.into(),
                line,
                column,
                message: format!(
                    "squawk's parser cannot read this file ({}), so it was not linted",
                    err.message()
                ),
                help: None,
                relation: None,
                excerpt: String::new(),
            });
            return findings;
        }
        // Blanking only replaced ASCII bytes of whole statements: still UTF-8.
        let text = String::from_utf8(blanked).unwrap_or_default();
        let parse = SourceFile::parse(&text);
        (std::borrow::Cow::Owned(text), parse)
    };
    let mut linter = Linter::from(rules::enabled());
    linter.settings = LinterSettings {
        pg_version: settings
            .server_version
            .as_deref()
            .and_then(parse_version)
            .unwrap_or_default(),
        assume_in_transaction: in_transaction,
    };
    let tree = parse.tree();
    for v in linter.lint(&parse, &text) {
        let start = usize::from(v.text_range.start());
        let (line, column) = sql_split::line_col(&text, start);
        let stmt = statement_at(tree.syntax(), start);
        findings.push(Finding {
            file: file.to_path_buf(),
            rule: v.code.to_string(),
            line,
            column,
            message: v.message,
            help: v.help,
            relation: stmt.as_ref().and_then(relation_of),
            excerpt: first_line(&text[start..]),
        });
    }
    findings.sort_by_key(|f| (f.line, f.column));
    findings
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE …`.
fn is_routine(stmt: &str) -> bool {
    let words: Vec<String> = stmt
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        w.as_slice(),
        ["CREATE", "FUNCTION" | "PROCEDURE", ..]
            | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE"]
    )
}

/// Whether `before` (the script up to a statement) turns `check_function_bodies` off last.
fn bodies_unchecked(before: &str) -> bool {
    let lower = before.to_ascii_lowercase();
    let Some(at) = lower.rfind("check_function_bodies") else {
        return false;
    };
    let rest = lower[at + "check_function_bodies".len()..].trim_start();
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix("to"))
        .unwrap_or("")
        .trim_start()
        .trim_start_matches(['\'', '"']);
    ["false", "off", "0", "no"]
        .iter()
        .any(|v| rest.starts_with(v))
}

/// squawk's version type from the server's `server_version` (`15.4`, `16beta1`, `15.4 (Debian…)`).
fn parse_version(v: &str) -> Option<Version> {
    let digits: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.trim_end_matches('.').parse().ok()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// The top-level statement containing `at`.
fn statement_at(root: &SyntaxNode, at: usize) -> Option<SyntaxNode> {
    root.children().find(|n| {
        let r = n.text_range();
        usize::from(r.start()) <= at && at < usize::from(r.end())
    })
}

/// The relation a statement works on: the first table name it mentions (ALTER TABLE's target,
/// CREATE INDEX's ON table), else its first name (REINDEX TABLE/INDEX). Written as in the SQL,
/// without comments and whitespace, so `to_regclass` resolves it as PostgreSQL would.
fn relation_of(stmt: &SyntaxNode) -> Option<String> {
    let node = stmt
        .descendants()
        .find(|n| n.kind() == SyntaxKind::TABLE_NAME_REF)
        .or_else(|| {
            stmt.descendants()
                .find(|n| matches!(n.kind(), SyntaxKind::PATH_REF | SyntaxKind::PATH))
        })?;
    let text: String = node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
        .map(|t| t.text().to_string())
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(sql: &str) -> Vec<Finding> {
        lint_sql(Path::new("m.sql"), sql, true, &Settings::default())
    }

    fn rules_of(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn blocking_findings_name_their_table() {
        let f = lint("-- x\nCREATE INDEX i ON app.orders (total);\n");
        assert_eq!(rules_of(&f), ["require-concurrent-index-creation"]);
        assert_eq!((f[0].line, f[0].column), (2, 1));
        assert_eq!(f[0].relation.as_deref(), Some("app.orders"));
        assert!(matches!(f[0].class(), Class::Blocking(_)));
        let f = lint("ALTER TABLE \"Orders\" ALTER COLUMN total TYPE numeric;");
        assert_eq!(rules_of(&f), ["changing-column-type"]);
        assert_eq!(f[0].relation.as_deref(), Some("\"Orders\""));
        let f = lint("ALTER TABLE orders ADD CONSTRAINT c CHECK (total > 0);");
        assert_eq!(rules_of(&f), ["constraint-missing-not-valid"]);
        assert_eq!(f[0].relation.as_deref(), Some("orders"));
    }

    #[test]
    fn style_rules_are_off_and_safe_patterns_are_clean() {
        assert!(lint("CREATE TABLE t (id int, name varchar(10), at timestamp);").is_empty());
        assert!(lint("ALTER TABLE t ADD CONSTRAINT c CHECK (id > 0) NOT VALID;").is_empty());
        let no_tx = lint_sql(
            Path::new("m.sql"),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);",
            false,
            &Settings::default(),
        );
        assert!(no_tx.is_empty(), "{no_tx:?}");
    }

    #[test]
    fn the_server_version_matters() {
        let sql = "ALTER TABLE t ADD COLUMN c int DEFAULT 0;";
        let old = Settings {
            server_version: Some("10.23".into()),
        };
        let new = Settings {
            server_version: Some("15.4 (Debian 15.4-1)".into()),
        };
        let f = lint_sql(Path::new("m.sql"), sql, true, &old);
        assert_eq!(rules_of(&f), ["adding-field-with-default"]);
        assert!(lint_sql(Path::new("m.sql"), sql, true, &new).is_empty());
    }

    #[test]
    fn an_unreadable_statement_is_one_finding_and_the_rest_is_linted() {
        let sql = "CREATE INDEX i ON a (x);\nTHIS IS NOT SQL AT ALL;\nCREATE INDEX j ON b (y);\n";
        let f = lint(sql);
        assert_eq!(
            rules_of(&f),
            [
                "require-concurrent-index-creation",
                "syntax-error",
                "require-concurrent-index-creation"
            ]
        );
        assert_eq!((f[1].line, f[1].column), (2, 1));
        assert_eq!(f[2].line, 3);
        assert_eq!(f[2].relation.as_deref(), Some("b"));
    }

    #[test]
    fn an_unchecked_routine_body_is_not_a_syntax_error() {
        let body =
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT CASE WHEN true THEN 1 $$;\n";
        let f = lint(body);
        assert_eq!(rules_of(&f), ["syntax-error"]);
        let f = lint(&format!(
            "SET check_function_bodies = false;\n{body}CREATE INDEX i ON a (x);\n"
        ));
        assert_eq!(rules_of(&f), ["require-concurrent-index-creation"]);
        assert!(!bodies_unchecked(
            "SET check_function_bodies = off; SET check_function_bodies TO on;"
        ));
    }

    #[test]
    fn allow_drops_the_named_rules() {
        let f = lint("CREATE INDEX i ON a (x);\nALTER TABLE a DROP COLUMN y;\n");
        let kept = apply_allow("0001_x", &["ban-drop-column".to_string()], f);
        assert_eq!(rules_of(&kept), ["require-concurrent-index-creation"]);
    }
}
