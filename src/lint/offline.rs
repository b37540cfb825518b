//! `check`'s lint: every migration (or, from the pre-push hook, only the new ones) linted
//! without a database. Table sizes are unknown here, so findings are warnings — every one an
//! error under `--strict` — and a blocking-set finding says what `run` will do about it.

use crate::error::{Result, SetProblem};
use crate::migrations::Migration;

use super::rules::Class;
use super::{Finding, Settings, apply_allow, lint_sql};

/// What `check` linted.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// How many migrations were linted.
    pub linted: usize,
}

/// Lints `files`, or only those `only` names (by file name, `0003_x.sql`, or path).
pub fn lint(files: &[Migration], only: Option<&[String]>) -> Result<Outcome> {
    let chosen: Vec<&Migration> = files
        .iter()
        .filter(|m| only.is_none_or(|only| only.iter().any(|o| names(m, o))))
        .collect();
    let found = crate::migrations::par_map(&chosen, super::PARALLEL_FROM, |m| {
        let source = m.source()?;
        let found = lint_sql(
            &m.path,
            &source.sql,
            !m.no_transaction,
            &Settings::default(),
        );
        Ok(apply_allow(&m.version, &m.allow, found))
    });
    let mut outcome = Outcome::default();
    for found in found {
        outcome.findings.extend(found?);
        outcome.linted += 1;
    }
    Ok(outcome)
}

/// Whether `given` (a file name, a path or a version) names migration `m`.
fn names(m: &Migration, given: &str) -> bool {
    let given = given.trim();
    let file_name = std::path::Path::new(given)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    given == m.version || file_name == format!("{}.sql", m.version)
}

/// Reports the findings: warnings on stderr (and annotations), or, under `strict`, problems.
pub fn report(findings: &[Finding], strict: bool, max_rows: u64) -> Vec<SetProblem> {
    let mut problems = Vec::new();
    for f in findings {
        let note = match f.class() {
            Class::Blocking(b) => Some(format!(
                "at deploy, `run` stops if {} has more than --lint-max-rows ({max_rows}) rows: \
                 it would take {}; safe pattern: {}",
                f.relation.as_deref().unwrap_or("the table"),
                b.lock,
                b.safe_pattern
            )),
            _ => None,
        };
        if strict {
            let mut hint = f.help.clone().unwrap_or_default();
            if let Some(n) = &note {
                if !hint.is_empty() {
                    hint.push_str(" — ");
                }
                hint.push_str(n);
            }
            if !hint.is_empty() {
                hint.push_str(" — ");
            }
            hint.push_str(&format!(
                "--strict makes every finding an error; a reviewed exception is \
                 `-- sentry:allow {}` in the migration's first lines",
                f.rule
            ));
            problems.push(super::problem(f, None, hint));
        } else {
            super::warn(f, note.as_deref());
        }
    }
    problems
}
