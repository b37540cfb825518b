//! GitHub Actions workflow annotations (SPEC §4): under `GITHUB_ACTIONS=true`, a failure or a
//! lint warning that points at a file is also printed as `::error file=…,line=…,col=…::…` (or
//! `::warning …`), so that it shows on the pull request's diff.
//!
//! The one place annotations are written: `main` hands every failure to [`error`], the lint
//! hands its warnings to [`warning`]. They go to stderr, beside the log (the runner reads
//! workflow commands from both streams), so stdout stays the command's result (JSON stays JSON).

use std::path::Path;

use crate::error::Error;
use crate::redact;

/// An annotation's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// Whether annotations are printed: the runner sets `GITHUB_ACTIONS=true`.
pub fn enabled() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Annotates one warning about a file.
pub fn warning(file: &Path, line: Option<usize>, column: Option<usize>, message: &str) {
    emit(Level::Warning, file, line, column, message);
}

/// Annotates every part of a failure that points at a file: a failed statement, a drift, a bad
/// name, a blocking lint finding… Failures that point at no file (a refused connection) are not
/// annotated: the log says it all.
pub fn error(e: &Error) {
    if !enabled() {
        return;
    }
    match e {
        Error::MigrationSet(problems) => {
            for p in problems {
                let Some(file) = &p.file else { continue };
                let mut message = p.message.clone();
                if let Some(h) = &p.hint {
                    message.push_str("\nhint: ");
                    message.push_str(h);
                }
                emit(Level::Error, file, p.line, p.column, &message);
            }
        }
        Error::MigrationFailed(f) => {
            let mut message = format!(
                "migration {} failed: SQLSTATE {}: {}",
                f.version, f.sqlstate, f.message
            );
            for (label, v) in [("detail", &f.detail), ("hint", &f.hint)] {
                if let Some(v) = v {
                    message.push_str(&format!("\n{label}: {v}"));
                }
            }
            emit(Level::Error, &f.file, f.line, f.column, &message);
        }
        _ => {}
    }
}

fn emit(level: Level, file: &Path, line: Option<usize>, column: Option<usize>, message: &str) {
    if enabled() {
        let text = format_line(level, &relative(file), line, column, message);
        eprintln!("{}", redact::scrub(&text));
    }
}

/// A path as GitHub wants it: relative to the checkout (`GITHUB_WORKSPACE`) when it is inside.
fn relative(file: &Path) -> String {
    let workspace = std::env::var_os("GITHUB_WORKSPACE");
    let rel = workspace
        .as_deref()
        .and_then(|w| file.strip_prefix(w).ok())
        .unwrap_or(file);
    let s = rel.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// `::error file=sql/m.sql,line=3,col=1::message` with GitHub's escaping: `%`, CR and LF in the
/// message; also `:` and `,` in property values.
pub fn format_line(
    level: Level,
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let mut props = format!("file={}", escape_property(file));
    if let Some(l) = line {
        props.push_str(&format!(",line={l}"));
        if let Some(c) = column {
            props.push_str(&format!(",col={c}"));
        }
    }
    let cmd = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    format!("::{cmd} {props}::{}", escape_data(message))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_command_format() {
        assert_eq!(
            format_line(
                Level::Error,
                "sql/m/0002_x.sql",
                Some(3),
                Some(5),
                "bad: 100%\nhint"
            ),
            "::error file=sql/m/0002_x.sql,line=3,col=5::bad: 100%25%0Ahint"
        );
        assert_eq!(
            format_line(Level::Warning, "a,b:c.sql", None, Some(2), "w"),
            "::warning file=a%2Cb%3Ac.sql::w"
        );
        assert_eq!(
            format_line(Level::Warning, "m.sql", Some(7), None, "w"),
            "::warning file=m.sql,line=7::w"
        );
    }
}
