//! The docs cannot drift: every block of output quoted in `docs/operations.md` and `README.md`
//! is produced here by running the real binary against a private cluster, and compared line
//! by line.
//!
//! How it works, for whoever adds a quoted block:
//! - Put `<!-- output: NAME -->` on the line before the fenced block. A fenced block with no
//!   language, or one that contains a `===` / `[sentry]` marker line, must have such a comment.
//!   Blocks of input (```sh, ```sql, ```yaml …) need none.
//! - Add a function for NAME to [`SCENARIOS`]: it sets up the situation, runs the binary,
//!   asserts the exit code and returns the [`Outcome`]. Several blocks may quote one scenario.
//! - Each quoted line must be a line the binary printed (on stdout or stderr), the block's lines
//!   consecutive, in order. A line that is only `…` skips any number of lines; `…` inside a line
//!   matches any text. Before comparing, [`mask`] replaces what varies from run to run
//!   (pids, hosts and ports, timings, checksums, dates, server versions) on both sides, so the
//!   doc may show `db.internal:5432` where the test printed `127.0.0.1:41234`.
//!
//! - A table of messages may be marked the same way: the first code span in each row's first
//!   cell must occur within a line the scenario printed.
//! - Outside blocks, an inline quote of a whole line (`` `[sentry] …` ``, `` `=== MIGRATION
//!   SENTRY…` ``) must be a line some scenario printed.
//!
//! The test fails on a block without a scenario, a scenario without a block, and a quoted line
//! the binary did not print; the failure shows what the binary did print.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

use common::{APP_PASSWORD, Outcome, TestDb, cluster, copy_example_sql, free_port, run, sentry};

/// The documents whose quoted output is checked.
const DOCS: [&str; 2] = ["docs/operations.md", "README.md"];

/// A scenario: sets up, runs the binary, asserts the exit code, returns what it printed.
type Scenario = fn() -> Outcome;

/// Every scenario a quoted block may name.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("healthy-run", healthy_run),
    ("usage-error", usage_error),
    ("env-invalid", env_invalid),
    ("unreachable", unreachable),
    ("connection-failures", connection_failures),
    ("tls-failures", tls_failures),
    ("bad-name", bad_name),
    ("duplicate-version", duplicate_version),
    ("foreign-table", foreign_table),
    ("lock-held", lock_held),
    ("drift", drift),
    ("out-of-order", out_of_order),
    ("migration-failed", migration_failed),
    ("runtime-failure", runtime_failure),
    ("invalid-index", invalid_index),
    ("stamp-recovery", stamp_recovery),
    ("recovery-unverified", recovery_unverified),
    ("missing-file", missing_file),
    ("schema-failed", schema_failed),
    ("status-pending", status_pending),
    ("pooler", pooler),
    ("interrupted", interrupted),
    ("deadline", deadline),
    ("silent-connection", silent_connection),
    ("lock-retries", lock_retries),
    ("standby", standby),
    ("missing-privilege", missing_privilege),
    ("quiet-pooler", quiet_pooler),
    ("rollback-dry-run", rollback_dry_run),
    ("rollback-run", rollback_run),
    ("rollback-refused", rollback_refused),
    ("rollback-failed", rollback_failed),
    ("rollback-interrupted", rollback_interrupted),
    ("fleet-failure", fleet_failure),
    ("adoption-advice", adoption_advice),
];

// ---------------------------------------------------------------------------------------------
// The documents: quoted blocks and their scenario names.

/// A fenced block of a document.
#[derive(Debug)]
struct Block {
    /// `docs/operations.md:69`
    place: String,
    /// The name in the `<!-- output: NAME -->` comment before it.
    scenario: Option<String>,
    /// The lines between the fences, without the fence's indentation.
    lines: Vec<String>,
    /// Whether it must name a scenario (no language, or a marker line).
    is_output: bool,
    /// A table of messages: `lines` are the first code span of each row's first cell, each
    /// found within some printed line (rather than consecutive whole lines).
    table: bool,
}

fn blocks_of(doc: &str, text: &str) -> Vec<Block> {
    let marker = Regex::new(r"^\s*<!--\s*output:\s*([A-Za-z0-9_-]+)\s*-->\s*$").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if !trimmed.starts_with("```") {
            i += 1;
            continue;
        }
        let indent = line.len() - trimmed.len();
        let lang = trimmed.trim_start_matches('`').trim().to_string();
        let scenario = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| marker.captures(l))
            .map(|c| c[1].to_string());
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].trim_start().starts_with("```") {
            end += 1;
        }
        let body: Vec<String> = lines[start..end.min(lines.len())]
            .iter()
            .map(|l| {
                let cut = l.len() - l.trim_start().len();
                l[cut.min(indent)..].to_string()
            })
            .collect();
        let has_marker = body
            .iter()
            .any(|l| l.starts_with("===") || l.starts_with("[sentry]"));
        blocks.push(Block {
            place: format!("{doc}:{}", i + 1),
            scenario,
            is_output: lang.is_empty() || has_marker,
            lines: body,
            table: false,
        });
        i = end + 1;
    }
    // A table right after `<!-- output: NAME -->`: its rows' first code spans.
    let span = Regex::new(r"`([^`]+)`").unwrap();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = marker.captures(line).map(|c| c[1].to_string()) else {
            continue;
        };
        let Some(first) = (i + 1..lines.len()).find(|&k| !lines[k].trim().is_empty()) else {
            continue;
        };
        if !lines[first].trim_start().starts_with('|') {
            continue;
        }
        let rows: Vec<String> = lines[first..]
            .iter()
            .take_while(|l| l.trim_start().starts_with('|'))
            .skip(2)
            .filter_map(|row| {
                let cell = row.trim().trim_start_matches('|').split('|').next()?;
                span.captures(cell).map(|c| c[1].to_string())
            })
            .collect();
        blocks.push(Block {
            place: format!("{doc}:{}", first + 1),
            scenario: Some(name),
            is_output: true,
            lines: rows,
            table: true,
        });
    }
    blocks
}

/// A line of output quoted inline (`` `[sentry] …` `` or `` `=== MIGRATION SENTRY …` ``) in
/// the text outside fenced blocks: it must be a line some scenario printed.
#[derive(Debug)]
struct Inline {
    place: String,
    line: String,
}

fn inline_quotes_of(doc: &str, text: &str) -> Vec<Inline> {
    // Fenced blocks blanked out (line numbers kept); a span may continue on the next line.
    let mut fenced = false;
    let prose: Vec<&str> = text
        .lines()
        .map(|line| {
            let fence = line.trim_start().starts_with("```");
            if fence {
                fenced = !fenced;
            }
            if fence || fenced { "" } else { line }
        })
        .collect();
    let prose = prose.join("\n");
    let span = Regex::new(r"`([^`]+)`").unwrap();
    let wrap = Regex::new(r"\s*\n\s*").unwrap();
    span.captures_iter(&prose)
        .filter_map(|c| {
            let q = wrap.replace_all(c[1].trim(), " ").into_owned();
            let at = prose[..c.get(0).unwrap().start()].matches('\n').count() + 1;
            (q.starts_with("[sentry] ") || q.starts_with("=== MIGRATION SENTRY")).then(|| Inline {
                place: format!("{doc}:{at}"),
                line: q,
            })
        })
        .collect()
}

fn all_inline_quotes() -> Vec<Inline> {
    DOCS.iter()
        .flat_map(|doc| {
            let text = fs::read_to_string(common::repo_root().join(doc)).unwrap();
            inline_quotes_of(doc, &text)
        })
        .collect()
}

fn all_blocks() -> Vec<Block> {
    DOCS.iter()
        .flat_map(|doc| {
            let text = fs::read_to_string(common::repo_root().join(doc))
                .unwrap_or_else(|e| panic!("{doc}: {e}"));
            blocks_of(doc, &text)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Comparing: masking what varies, then finding the quoted lines in the output.

/// Replaces what varies between runs by a placeholder.
fn mask(line: &str) -> String {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            // SHA-256 checksums, in full or shortened.
            (r"\b[0-9a-f]{64}\b", "<sha256>"),
            (r"\b[0-9a-f]{6,12}…[0-9a-f]{6,12}\b", "<sha256>"),
            // host:port (a name, never a file such as `x.sql:12`), IP addresses with a mask.
            (
                r"\b(localhost|\d{1,3}(\.\d{1,3}){3}|[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z][A-Za-z0-9-]*)*\.(internal|com|net|org|local|render\.com)):\d{2,5}\b",
                "<host>:<port>",
            ),
            (r"\b\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?", "<ip>"),
            // Server versions.
            (r"PostgreSQL \d+(\.\d+)?( \([^)]*\))?", "PostgreSQL <version>"),
            // Process ids and backend pids.
            (r"\bpid \d+", "pid <pid>"),
            (r"\(\d+ then \d+\)", "(<pid> then <pid>)"),
            // Durations measured by the binary.
            (r"\b\d+ ms\b", "<n> ms"),
            (r"\bfor \d+ s\b", "for <n> s"),
            (r"\b\d+s of --wait-for-lock", "<n>s of --wait-for-lock"),
            // Whether the sampler saw a lock wait before it ended (the blocker named for sure)
            // or the sentry guessed it afterwards depends on the machine's load.
            (r"\(probably\) ", ""),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).unwrap(), to))
        .collect()
    });
    let mut s = line.trim_end().to_string();
    // Dates keep their shape (digits become 0), so that the doc quotes the format printed.
    static DATE: OnceLock<Regex> = OnceLock::new();
    let date = DATE.get_or_init(|| {
        Regex::new(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z| UTC)?")
            .unwrap()
    });
    s = date
        .replace_all(&s, |c: &regex::Captures| {
            c[0].chars()
                .map(|ch| if ch.is_ascii_digit() { '0' } else { ch })
                .collect::<String>()
        })
        .into_owned();
    for (re, to) in rules {
        s = re.replace_all(&s, *to).into_owned();
    }
    // Column padding follows the width of masked values: compare words, not alignment.
    static PADDING: OnceLock<Regex> = OnceLock::new();
    let padding = PADDING.get_or_init(|| Regex::new(r"(\S) {2,}").unwrap());
    padding.replace_all(&s, "$1  ").into_owned()
}

/// A quoted line as a pattern: masked, `…` matching anything.
fn pattern(quoted: &str) -> Regex {
    let masked = mask(quoted);
    let parts: Vec<String> = masked.split('…').map(regex::escape).collect();
    Regex::new(&format!("^{}$", parts.join(".*"))).unwrap()
}

/// Whether `quoted` (a block's lines) is an excerpt of `printed`: consecutive runs of lines
/// between `…` lines, in order. On failure, says which quoted line was not printed.
fn find_excerpt(quoted: &[String], printed: &str) -> Result<(), String> {
    let out: Vec<String> = printed.lines().map(mask).collect();
    let mut segments: Vec<Vec<&String>> = vec![Vec::new()];
    for line in quoted {
        if line.trim() == "…" {
            segments.push(Vec::new());
        } else {
            segments.last_mut().unwrap().push(line);
        }
    }
    let mut from = 0;
    for seg in segments.iter().filter(|s| !s.is_empty()) {
        let pats: Vec<Regex> = seg.iter().map(|l| pattern(l)).collect();
        let found = (from..=out.len().saturating_sub(pats.len())).find(|&start| {
            start + pats.len() <= out.len()
                && pats
                    .iter()
                    .enumerate()
                    .all(|(k, p)| p.is_match(&out[start + k]))
        });
        match found {
            Some(start) => from = start + pats.len(),
            None => {
                // Name the first line of the run that cannot be found where it should be.
                let bad = seg
                    .iter()
                    .zip(&pats)
                    .find(|(_, p)| !out[from..].iter().any(|o| p.is_match(o)))
                    .map(|(l, _)| l.as_str())
                    .unwrap_or(seg[0]);
                return Err(format!(
                    "quoted line not printed (or not in this order): {bad:?}\n  masked: {:?}",
                    mask(bad)
                ));
            }
        }
    }
    Ok(())
}

fn check_block(block: &Block, outcome: &Outcome) -> Result<(), String> {
    if block.table {
        let printed: Vec<String> = outcome
            .stderr
            .lines()
            .chain(outcome.stdout.lines())
            .map(mask)
            .collect();
        let missing: Vec<&String> = block
            .lines
            .iter()
            .filter(|q| {
                let masked = mask(q);
                let parts: Vec<String> = masked.split('…').map(regex::escape).collect();
                let p = Regex::new(&parts.join(".*")).unwrap();
                !printed.iter().any(|o| p.is_match(o))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "{} (table, scenario {}): not printed: {missing:?}\n--- the binary printed (masked) ---\n{}",
            block.place,
            block.scenario.as_deref().unwrap_or("?"),
            printed.join("\n")
        ));
    }
    let on_stderr = find_excerpt(&block.lines, &outcome.stderr);
    if on_stderr.is_ok() || find_excerpt(&block.lines, &outcome.stdout).is_ok() {
        return Ok(());
    }
    Err(format!(
        "{} (scenario {}): {}\n--- the binary printed on stderr (masked) ---\n{}\n--- on stdout (masked) ---\n{}",
        block.place,
        block.scenario.as_deref().unwrap_or("?"),
        on_stderr.unwrap_err(),
        outcome
            .stderr
            .lines()
            .map(mask)
            .collect::<Vec<_>>()
            .join("\n"),
        outcome
            .stdout
            .lines()
            .map(mask)
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

#[test]
fn every_quoted_block_names_a_scenario_and_every_scenario_is_quoted() {
    let blocks = all_blocks();
    let mut problems = Vec::new();
    for b in &blocks {
        match &b.scenario {
            None if b.is_output => problems.push(format!(
                "{}: quoted output without <!-- output: NAME --> before it",
                b.place
            )),
            Some(name) if !SCENARIOS.iter().any(|(n, _)| n == name) => problems.push(format!(
                "{}: no scenario {name:?} in tests/docs.rs",
                b.place
            )),
            _ => {}
        }
    }
    for (name, _) in SCENARIOS {
        if !blocks.iter().any(|b| b.scenario.as_deref() == Some(*name)) {
            problems.push(format!("scenario {name:?} is quoted by no block"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn quoted_output_is_what_the_binary_prints() {
    let blocks = all_blocks();
    let mut problems = Vec::new();
    let mut printed: Vec<String> = Vec::new();
    for (name, scenario) in SCENARIOS {
        let outcome = scenario();
        for b in blocks
            .iter()
            .filter(|b| b.scenario.as_deref() == Some(*name))
        {
            if let Err(e) = check_block(b, &outcome) {
                problems.push(e);
            }
        }
        printed.extend(
            outcome
                .stderr
                .lines()
                .chain(outcome.stdout.lines())
                .map(mask),
        );
    }
    // Lines quoted inline must each be a line some scenario printed.
    for q in all_inline_quotes() {
        let p = pattern(&q.line);
        if !printed.iter().any(|o| p.is_match(o)) {
            problems.push(format!(
                "{}: inline quote {:?} is not a line any scenario printed (masked: {:?})",
                q.place,
                q.line,
                mask(&q.line)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// `--long` → (env, default) as `migration-sentry --help` prints them.
fn options_in_help() -> Vec<(String, Option<String>, Option<String>)> {
    let out = run(sentry().arg("--help"));
    out.assert_code(0);
    let long = Regex::new(r"^\s+(?:-\w, )?--([a-z-]+)").unwrap();
    let env = Regex::new(r"\[env: ([A-Z_]+)\]").unwrap();
    let default = Regex::new(r"\[default: ([^\]]+)\]").unwrap();
    let mut options: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for line in out.stdout.lines() {
        if let Some(c) = long.captures(line) {
            options.push((c[1].to_string(), None, None));
        } else if let Some(last) = options.last_mut() {
            if let Some(c) = env.captures(line) {
                last.1 = Some(c[1].to_string());
            }
            if let Some(c) = default.captures(line) {
                last.2 = Some(c[1].to_string());
            }
        }
    }
    options
        .into_iter()
        .filter(|(l, _, _)| !["help", "version", "verbose", "quiet"].contains(&l.as_str()))
        .collect()
}

#[test]
fn the_options_table_lists_every_option_with_its_env_and_default() {
    let text = fs::read_to_string(common::repo_root().join("docs/operations.md")).unwrap();
    let span = Regex::new(r"`([^`]+)`").unwrap();
    let mut documented: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for row in text.lines().filter(|l| l.starts_with("| `--")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        let first = |cell: &str| span.captures(cell).map(|c| c[1].to_string());
        let Some(option) = first(cells[0]) else {
            continue;
        };
        let long = option.trim_start_matches("--").split(' ').next().unwrap();
        let env = cells
            .get(1)
            .and_then(|c| first(c))
            .map(|e| e.trim_end_matches("=1").to_string());
        // The whole default cell: it may say more than --help ("`0` (no retry)").
        let default = cells.get(2).map(|c| c.replace('`', ""));
        documented.push((long.to_string(), env, default));
    }
    let mut problems = Vec::new();
    for (long, env, default) in options_in_help() {
        match documented.iter().find(|d| d.0 == long) {
            None => problems.push(format!("--{long} is not in the options table of §9")),
            Some(d) => {
                if d.1 != env {
                    problems.push(format!(
                        "--{long}: table says env {:?}, --help {env:?}",
                        d.1
                    ));
                }
                let said = d.2.as_deref().unwrap_or_default();
                if default.as_ref().is_some_and(|x| !said.contains(x.as_str())) {
                    problems.push(format!(
                        "--{long}: table says default {:?}, --help {default:?}",
                        d.2
                    ));
                }
            }
        }
    }
    let in_help: Vec<String> = options_in_help().into_iter().map(|o| o.0).collect();
    for d in &documented {
        if !in_help.contains(&d.0) {
            problems.push(format!(
                "the options table lists --{}, the binary has no such option",
                d.0
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The text of `doc` (a path from the repository root).
fn doc_text(doc: &str) -> String {
    fs::read_to_string(common::repo_root().join(doc)).unwrap()
}

/// `(code, meaning)` as `migration-sentry --help` lists them: derived from the code, so a new
/// exit code shows up here by itself.
fn exit_codes_in_help() -> Vec<(u8, String)> {
    let out = run(sentry().arg("--help"));
    out.assert_code(0);
    let row = Regex::new(r"^\s+(\d+)\s+(\S.*)$").unwrap();
    let codes: Vec<(u8, String)> = out
        .stdout
        .split("Exit codes:\n")
        .nth(1)
        .expect("--help lists the exit codes")
        .lines()
        .map_while(|l| row.captures(l))
        .map(|c| (c[1].parse().unwrap(), c[2].trim().to_string()))
        .collect();
    assert!(codes.len() > 9, "{}", out.stdout);
    codes
}

/// README's exit-code table and the headings of docs/operations.md §3 name every code `--help`
/// lists, with its meaning, and no other.
#[test]
fn the_exit_code_tables_list_every_code_the_binary_has() {
    let codes = exit_codes_in_help();
    let mut problems = Vec::new();
    let readme = doc_text("README.md");
    let section = readme
        .split("## Exit codes\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Exit codes section");
    let row = Regex::new(r"^\| (\d+) \| (.+) \|$").unwrap();
    let readme_rows: Vec<(u8, String)> = section
        .lines()
        .filter_map(|l| row.captures(l))
        .map(|c| (c[1].parse().unwrap(), c[2].to_string()))
        .collect();
    let ops = doc_text("docs/operations.md");
    let heading = Regex::new(r"(?m)^### Exit (\d+) — (.+)$").unwrap();
    let ops_rows: Vec<(u8, String)> = heading
        .captures_iter(&ops)
        .map(|c| (c[1].parse().unwrap(), c[2].to_string()))
        .collect();
    for (doc, rows) in [
        ("README.md's exit-code table", &readme_rows),
        ("docs/operations.md §3", &ops_rows),
    ] {
        for (code, meaning) in &codes {
            match rows.iter().find(|r| r.0 == *code) {
                None => problems.push(format!("{doc} lacks exit {code} ({meaning})")),
                Some(r) if !r.1.contains(meaning.as_str()) => problems.push(format!(
                    "{doc}: exit {code} says {:?}, --help says {meaning:?}",
                    r.1
                )),
                Some(_) => {}
            }
        }
        for r in rows.iter().filter(|r| !codes.iter().any(|c| c.0 == r.0)) {
            problems.push(format!(
                "{doc} lists exit {}, which the binary has not",
                r.0
            ));
        }
    }
    let last = codes.iter().map(|c| c.0).max().unwrap();
    if !ops.contains(&format!("## 3. Exit codes 0–{last}\n")) {
        problems.push(format!(
            "docs/operations.md §3's title does not say 0–{last}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// README's list of environment fallbacks names every variable an option reads (`[env: …]`
/// in `--help`), and no other.
#[test]
fn the_readme_lists_every_environment_fallback() {
    let readme = doc_text("README.md");
    let paragraph = readme
        .split("Every option has an environment fallback")
        .nth(1)
        .and_then(|s| s.split("See `migration-sentry --help`").next())
        .expect("README lists the environment fallbacks");
    let span = Regex::new(r"`([A-Z][A-Z0-9_]*)`").unwrap();
    let listed: Vec<String> = span
        .captures_iter(paragraph)
        .map(|c| c[1].to_string())
        .collect();
    let in_help: Vec<String> = options_in_help()
        .into_iter()
        .filter_map(|(_, env, _)| env)
        .collect();
    assert!(in_help.len() > 20, "{in_help:?}");
    let missing: Vec<&String> = in_help.iter().filter(|e| !listed.contains(e)).collect();
    let unknown: Vec<&String> = listed.iter().filter(|e| !in_help.contains(e)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README's environment fallbacks lack {missing:?} and name {unknown:?}, which no option reads"
    );
}

/// Every `new "NAME"` example in the docs creates the file it says on the repository's own
/// example set.
#[test]
fn the_new_examples_work_on_the_example_set() {
    let example = Regex::new(r#"new "([^"]+)"`[^`]*`(\d{4}_[a-z0-9_]+\.sql)`"#).unwrap();
    for doc in DOCS {
        let text = doc_text(doc);
        let examples: Vec<(String, String)> = example
            .captures_iter(&text)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        assert!(!examples.is_empty(), "{doc} has no `new` example");
        for (name, file) in examples {
            let dir = tempfile::tempdir().unwrap();
            copy_example_sql(dir.path(), |_, text| text);
            let out = run(sentry().current_dir(dir.path()).args(["new", &name]));
            out.assert_code(0);
            assert_eq!(
                out.stdout,
                format!("sql/migrations/{file}\n"),
                "{doc}: new {name:?}"
            );
        }
    }
}

/// The shared libraries docs/operations.md §8 says the binary needs are the ones it links.
#[test]
fn the_shared_libraries_the_docs_name_are_the_ones_linked() {
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_migration-sentry"))
        .output()
        .expect("run ldd");
    assert!(ldd.status.success(), "{ldd:?}");
    let mut linked: Vec<String> = String::from_utf8_lossy(&ldd.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        // The kernel's vDSO and the dynamic loader come with any Linux.
        .filter(|lib| !lib.starts_with("linux-vdso") && !lib.contains("/ld-linux"))
        .map(str::to_string)
        .collect();
    linked.sort();
    let ops = doc_text("docs/operations.md");
    let claim = Regex::new(r"(?s)It links (.*?)needs no OpenSSL")
        .unwrap()
        .captures(&ops)
        .expect("§8 says what the binary links")[1]
        .to_string();
    let mut named: Vec<String> = Regex::new(r"`(lib[^`]*\.so[^`]*)`")
        .unwrap()
        .captures_iter(&claim)
        .map(|c| c[1].to_string())
        .collect();
    named.sort();
    assert_eq!(named, linked, "§8 names {named:?}; ldd shows {linked:?}");
}

#[test]
fn masking_and_matching() {
    assert_eq!(
        mask("[sentry] DB OK: mdraft, PostgreSQL 15.4, TLS, 11 ms"),
        "[sentry] DB OK: mdraft, PostgreSQL <version>, TLS, <n> ms"
    );
    assert_eq!(
        mask("held by: pid 17856 (psql from 127.0.0.1/32, active, for 3 s)"),
        "held by: pid <pid> (psql from <ip>, active, for <n> s)"
    );
    assert_eq!(
        mask("postgresql://app:****@db.internal:5432/mdraft"),
        mask("postgresql://app:****@127.0.0.1:41234/mdraft")
    );
    // Alignment padding is compared as two spaces; indentation is kept.
    assert_eq!(mask("0001_a   applied    x"), "0001_a  applied  x");
    assert_eq!(mask("    hint: x"), "    hint: x");
    let inline = inline_quotes_of(
        "x.md",
        "see `[sentry] a …` and `ls`\n```\n`[sentry] in a block`\n```\n`=== MIGRATION SENTRY: x ===`\n\
         then `[sentry] wrapped\n   over two lines`",
    );
    let lines: Vec<&str> = inline.iter().map(|q| q.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "[sentry] a …",
            "=== MIGRATION SENTRY: x ===",
            "[sentry] wrapped over two lines"
        ]
    );
    assert_eq!(inline[2].place, "x.md:6");
    // What does not vary is compared exactly: versions, file lines, exit codes.
    assert_eq!(mask("→ 0004_bad at x.sql:3:16"), "→ 0004_bad at x.sql:3:16");
    assert_eq!(
        mask("skipped x.sql:12 SQLSTATE"),
        "skipped x.sql:12 SQLSTATE"
    );
    assert_eq!(mask("by localhost:5433"), "by <host>:<port>");
    assert_eq!(
        mask("Blocked by (probably) pid 81234 (idle)"),
        mask("Blocked by pid 4711 (idle)")
    );
    // Dates: any value, but the printed format.
    assert_eq!(
        mask("2026-11-22T05:02:51.327Z (9 ms)"),
        mask("2026-12-07T22:30:01.554Z (4 ms)")
    );
    assert_ne!(
        mask("2026-11-22 05:02:51.327464+00"),
        mask("2026-12-07T22:30:01.554Z")
    );
    let printed = "a\nb 12 ms\nc\nd\n";
    let q = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(find_excerpt(&q(&["b 3 ms", "c"]), printed).is_ok());
    assert!(find_excerpt(&q(&["a", "…", "d"]), printed).is_ok());
    assert!(
        find_excerpt(&q(&["a", "c"]), printed).is_err(),
        "not consecutive"
    );
    assert!(
        find_excerpt(&q(&["c", "…", "a"]), printed).is_err(),
        "out of order"
    );
    assert!(find_excerpt(&q(&["b…"]), printed).is_ok());
    assert!(find_excerpt(&q(&["e"]), printed).is_err());
    let blocks = blocks_of(
        "x.md",
        "<!-- output: s -->\n  ```\n  [sentry] x\n  ```\n\n```sh\nls\n```\n```\nfree\n```\n\
         <!-- output: t -->\n\n| what | why |\n|---|---|\n| `refused by x` (4) | `no` |\n| none | |\n",
    );
    assert_eq!(blocks.len(), 4);
    assert!(blocks[3].table && blocks[3].scenario.as_deref() == Some("t"));
    assert_eq!(blocks[3].lines, ["refused by x"]);
    assert_eq!(blocks[0].scenario.as_deref(), Some("s"));
    assert_eq!(blocks[0].lines, vec!["[sentry] x"]);
    assert!(!blocks[1].is_output);
    assert!(blocks[2].is_output && blocks[2].scenario.is_none());
}

// ---------------------------------------------------------------------------------------------
// The scenarios. Each runs against a fresh database `mdraft` of the test cluster, in a fresh
// project folder (`sql/migrations`, `sql/required_schema.txt`), as the docs describe.

/// A fresh `mdraft` database and project folder.
struct Scene {
    dir: tempfile::TempDir,
    db: TestDb<'static>,
}

impl Scene {
    fn new() -> Scene {
        let c = cluster();
        let mut admin = c.admin_client("postgres");
        for sql in [
            "DROP DATABASE IF EXISTS mdraft WITH (FORCE)",
            "CREATE DATABASE mdraft OWNER app",
        ] {
            admin.batch_execute(sql).expect(sql);
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sql/migrations")).unwrap();
        Scene {
            dir,
            db: TestDb {
                name: "mdraft".into(),
                port: c.port(),
                cluster: c,
            },
        }
    }

    /// With the example application's migrations and required schema.
    fn example() -> Scene {
        let s = Scene::new();
        copy_example_sql(s.dir.path(), |_, text| text);
        s
    }

    fn migrations(&self) -> PathBuf {
        self.dir.path().join("sql/migrations")
    }

    fn write(&self, file: &str, text: &str) {
        fs::write(self.migrations().join(file), text).unwrap();
    }

    /// The binary in the project folder, against `mdraft` as `app` (no TLS).
    fn sentry(&self) -> Command {
        let mut cmd = sentry();
        cmd.current_dir(self.dir.path())
            .env("DATABASE_URL", self.db.url());
        cmd
    }

    fn run(&self, args: &[&str]) -> Outcome {
        run(self.sentry().args(args))
    }
}

/// Moves `files` of the example out of the folder, runs `f`, and puts them back.
fn without<T>(s: &Scene, files: &[&str], f: impl FnOnce() -> T) -> T {
    let aside = s.dir.path().join("aside");
    fs::create_dir_all(&aside).unwrap();
    for name in files {
        fs::rename(s.migrations().join(name), aside.join(name)).unwrap();
    }
    let result = f();
    for name in files {
        fs::rename(aside.join(name), s.migrations().join(name)).unwrap();
    }
    result
}

fn healthy_run() -> Outcome {
    let s = Scene::example();
    without(
        &s,
        &[
            "0002_add_visitor_session.sql",
            "0002_add_visitor_session.down.sql",
            "0003_conversion_owners.sql",
            "0003_conversion_owners.down.sql",
        ],
        || s.run(&["upgrade"]).assert_code(0).clone(),
    );
    // TLS, and a required environment variable, as on Render.
    let url =
        s.db.url_with("app", Some(APP_PASSWORD), "localhost", "sslmode=require");
    let out = run(s
        .sentry()
        .env("DATABASE_URL", url)
        .env("SENTRY_REQUIRE_ENV", "FLASK_APP")
        .env("FLASK_APP", "app:create_app")
        .arg("run"));
    out.assert_code(0);
    out
}

fn usage_error() -> Outcome {
    let s = Scene::new();
    let out = s.run(&["run", "--wait", "soon"]);
    out.assert_code(2);
    out
}

fn env_invalid() -> Outcome {
    let s = Scene::new();
    let out = run(s
        .sentry()
        .env(
            "DATABASE_URL",
            "\"postgres://app:s3cret@db/x?sslmode=requried\"",
        )
        .arg("run"));
    out.assert_code(3);
    out
}

fn unreachable() -> Outcome {
    let s = Scene::new();
    let url = format!("postgresql://app:s3cret@127.0.0.1:{}/mdraft", free_port());
    let out = run(s.sentry().env("DATABASE_URL", url).arg("run"));
    out.assert_code(4);
    out
}

/// The outputs of several runs, one after the other.
fn together(outcomes: Vec<Outcome>) -> Outcome {
    Outcome {
        code: outcomes.last().map_or(0, |o| o.code),
        stdout: outcomes.iter().map(|o| o.stdout.as_str()).collect(),
        stderr: outcomes.iter().map(|o| o.stderr.as_str()).collect(),
    }
}

/// `ping` with `url`, expecting `code`.
fn ping(s: &Scene, url: &str, code: i32) -> Outcome {
    let out = run(s
        .sentry()
        .env("DATABASE_URL", url)
        .args(["ping", "--connect-timeout", "1s"]));
    out.assert_code(code);
    out
}

/// Drops the cluster's catch-all `host all all` line, so that a role of its own has no
/// pg_hba.conf entry at all (the docs' cluster is private to this test binary).
fn without_catch_all_hba_line() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let path = cluster().data_dir().join("pg_hba.conf");
        let hba = fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = hba
            .lines()
            .filter(|l| !l.starts_with("host all all 127.0.0.1/32"))
            .collect();
        fs::write(&path, kept.join("\n") + "\n").unwrap();
        cluster()
            .admin_client("postgres")
            .batch_execute("SELECT pg_reload_conf()")
            .unwrap();
    });
}

fn connection_failures() -> Outcome {
    let s = Scene::new();
    let port = s.db.port;
    let mut outs = vec![
        ping(&s, "postgresql://app:s3cret@dpg-d0c5entry-a/mdraft", 4),
        ping(
            &s,
            &format!("postgresql://app:s3cret@127.0.0.1:{}/mdraft", free_port()),
            4,
        ),
        ping(
            &s,
            &format!("postgresql://app:wrong@127.0.0.1:{port}/mdraft?sslmode=disable"),
            4,
        ),
        ping(
            &s,
            &s.db.url_with(
                "tlsonly",
                Some(common::TLSONLY_PASSWORD),
                "127.0.0.1",
                "sslmode=disable",
            ),
            4,
        ),
    ];
    // Something accepts TCP but never answers (a black hole would behave the same, later).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    outs.push(ping(
        &s,
        &format!("postgresql://app:s3cret@127.0.0.1:{silent_port}/mdraft?sslmode=disable"),
        4,
    ));
    drop(silent);
    without_catch_all_hba_line();
    let stranger = cluster().create_role("stranger-pw");
    outs.push(ping(
        &s,
        &s.db.url_with(
            &stranger,
            Some("stranger-pw"),
            "127.0.0.1",
            "sslmode=disable",
        ),
        4,
    ));
    let mut admin = cluster().admin_client("postgres");
    admin
        .batch_execute("DROP DATABASE mdraft WITH (FORCE)")
        .unwrap();
    outs.push(ping(&s, &s.db.url(), 4));
    together(outs)
}

fn tls_failures() -> Outcome {
    let s = Scene::new();
    // A server that answers the TLS request with "no", as PostgreSQL with ssl=off does.
    let no_tls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let no_tls_port = no_tls.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut conn, _) = no_tls.accept().unwrap();
        let mut request = [0u8; 8];
        conn.read_exact(&mut request).unwrap();
        conn.write_all(b"N").unwrap();
    });
    let outs = vec![
        ping(
            &s,
            &format!("postgresql://app:s3cret@127.0.0.1:{no_tls_port}/mdraft?sslmode=require"),
            4,
        ),
        ping(
            &s,
            &s.db
                .url_with("app", Some(APP_PASSWORD), "localhost", "sslmode=verify-ca"),
            4,
        ),
        ping(&s, &s.db.url_tls("127.0.0.1", "verify-full"), 4),
        ping(
            &s,
            &s.db
                .url_with("app", Some(APP_PASSWORD), "localhost", "sslmode=requried"),
            3,
        ),
        ping(&s, &s.db.url(), 0),
    ];
    server.join().unwrap();
    together(outs)
}

fn bad_name() -> Outcome {
    let s = Scene::example();
    s.write("notes.sql", "-- scratch\nSELECT 1;\n");
    let out = s.run(&["run"]);
    out.assert_code(6);
    out
}

fn duplicate_version() -> Outcome {
    let s = Scene::example();
    s.write("0001_5x.sql", "SELECT 1;\n");
    let out = s.run(&["run"]);
    out.assert_code(6);
    out
}

fn foreign_table() -> Outcome {
    let s = Scene::example();
    common::as_app(
        &s.db,
        "CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY)",
    );
    let out = s.run(&["run"]);
    out.assert_code(6);
    out
}

fn lock_held() -> Outcome {
    let s = Scene::example();
    // Another session, as an engineer's psql would be, holds the sentry's lock.
    let mut holder = postgres::Config::new()
        .host("127.0.0.1")
        .port(s.db.port)
        .user("app")
        .password(APP_PASSWORD)
        .dbname("mdraft")
        .application_name("psql")
        .connect(postgres::NoTls)
        .expect("connect the lock holder");
    holder
        .batch_execute("SELECT pg_advisory_lock(4242)")
        .unwrap();
    let out = s.run(&["run", "--lock-key", "4242", "--wait-for-lock", "2s"]);
    out.assert_code(5);
    drop(holder);
    out
}

fn drift() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    let file = s.migrations().join("0002_add_visitor_session.sql");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, format!("{text}\n-- reviewed by ops\n")).unwrap();
    let out = s.run(&["run"]);
    out.assert_code(6);
    out
}

fn out_of_order() -> Outcome {
    let s = Scene::example();
    without(
        &s,
        &[
            "0002_add_visitor_session.sql",
            "0002_add_visitor_session.down.sql",
        ],
        || {
            // 0003 needs 0002's columns: apply a 0003 that does not, as another branch would.
            let real =
                fs::read_to_string(s.migrations().join("0003_conversion_owners.sql")).unwrap();
            s.write("0003_conversion_owners.sql", "SELECT 1;\n");
            s.run(&["upgrade"]).assert_code(0);
            s.write("0003_conversion_owners.sql", &real);
        },
    );
    let out = s.run(&["run"]);
    out.assert_code(6);
    out
}

fn migration_failed() -> Outcome {
    let s = Scene::example();
    s.write(
        "0004_bad.sql",
        "-- a typo in a type name\nALTER TABLE conversions\n  ADD COLUMN x integr;\n",
    );
    let out = s.run(&["run"]);
    out.assert_code(7);
    out
}

fn runtime_failure() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    common::as_app(
        &s.db,
        "INSERT INTO proposals (title, visitor_session_id) VALUES ('draft', 'v-1')",
    );
    s.write(
        "0004_proposal_owner_required.sql",
        "-- Every proposal belongs to a signed-in user from now on.\n\
         ALTER TABLE proposals\n    ALTER COLUMN user_id SET NOT NULL;\n",
    );
    let out = s.run(&["run"]);
    out.assert_code(7);
    out
}

/// A unique concurrent index build over duplicates: the INVALID index it left, then the run
/// after the duplicates are fixed, which drops it and builds it again.
fn invalid_index() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    common::as_app(
        &s.db,
        "INSERT INTO proposals (title, visitor_session_id) VALUES ('a', 'v-1'), ('b', 'v-1')",
    );
    s.write(
        "0004_unique_visitor_session.sql",
        "-- sentry:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_proposals_visitor_session\n    \
         ON proposals (visitor_session_id);\n",
    );
    let failed = s.run(&["run"]);
    failed.assert_code(7);
    common::as_app(&s.db, "DELETE FROM proposals WHERE title = 'b'");
    let fixed = s.run(&["run"]);
    fixed.assert_code(0);
    together(vec![failed, fixed])
}

fn stamp_recovery() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    // Added by hand during an incident, then written as a plain (not idempotent) migration.
    common::as_app(&s.db, "ALTER TABLE proposals ADD COLUMN summary text");
    s.write(
        "0004_add_proposal_summary.sql",
        "-- A one-line summary of the proposal, shown in the list.\nALTER TABLE proposals ADD COLUMN summary text;\n",
    );
    let out = s.run(&["run"]);
    out.assert_code(0);
    out
}

/// docs §6: another tool applied the example's migrations and two more that leave nothing a
/// replay can find (a backfill and an identity restart), the application has used the
/// database since, and a new migration is deployed with the sentry.
fn adoption_advice() -> Outcome {
    let s = Scene::example();
    s.write(
        "0004_lowercase_formats.sql",
        "-- Formats are compared case-insensitively from now on.\n\
         UPDATE conversions SET input_format = lower(input_format), output_format = lower(output_format);\n",
    );
    s.write(
        "0005_conversion_ids_from_100000.sql",
        "-- Conversion numbers are shown to customers: start them at 100000.\n\
         ALTER TABLE conversions ALTER COLUMN id RESTART WITH 100000;\n",
    );
    s.write(
        "0006_add_proposal_summary.sql",
        "ALTER TABLE proposals ADD COLUMN summary text;\n",
    );
    // Another tool applied the first five, as psql would.
    let mut names: Vec<_> = fs::read_dir(s.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql") && !n.ends_with(".down.sql"))
        .collect();
    names.sort();
    for name in &names[..5] {
        let sql = fs::read_to_string(s.migrations().join(name)).unwrap();
        common::as_app(&s.db, &format!("BEGIN;\n{sql}\nCOMMIT;"));
    }
    common::as_app(
        &s.db,
        "INSERT INTO conversions (input_filename, input_format, output_format) \
         VALUES ('offer.docx', 'docx', 'pdf')",
    );
    let out = s.run(&["run"]);
    out.assert_code(7);
    out
}

fn recovery_unverified() -> Outcome {
    let s = Scene::new();
    common::as_app(&s.db, "CREATE TABLE visits (id int)");
    s.write("0001_visits.sql", "CREATE TABLE visits (id int);\n");
    let out = s.run(&["run"]);
    out.assert_code(0);
    out
}

fn missing_file() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    for name in [
        "0003_conversion_owners.sql",
        "0003_conversion_owners.down.sql",
    ] {
        fs::remove_file(s.migrations().join(name)).unwrap();
    }
    let out = s.run(&["run"]);
    out.assert_code(0);
    out
}

fn schema_failed() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    common::as_app(&s.db, "ALTER TABLE conversions DROP COLUMN proposal_id");
    let out = s.run(&["run"]);
    out.assert_code(8);
    out
}

/// docs §5: the previous build is one migration behind. Its `.down.sql` was edited after it
/// was applied (the warning quoted inline): the dry run prints the stored one.
fn rollback_dry_run() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    let down = s.migrations().join("0003_conversion_owners.down.sql");
    let text = fs::read_to_string(&down).unwrap();
    fs::write(
        &down,
        text.replacen('\n', "\n-- edited after the deploy\n", 1),
    )
    .unwrap();
    let out = s.run(&["rollback", "--to", "0002_add_visitor_session", "--dry-run"]);
    out.assert_code(0);
    out
}

fn rollback_run() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    let out = s.run(&["rollback", "--to", "0002_add_visitor_session"]);
    out.assert_code(0);
    out
}

fn rollback_refused() -> Outcome {
    let s = Scene::example();
    fs::remove_file(s.migrations().join("0002_add_visitor_session.down.sql")).unwrap();
    s.run(&["run"]).assert_code(0);
    let out = s.run(&["rollback", "--to", "0"]);
    out.assert_code(6);
    out
}

fn rollback_failed() -> Outcome {
    let s = Scene::example();
    s.write(
        "0004_add_proposal_summary.sql",
        "ALTER TABLE proposals ADD COLUMN summary text;\n",
    );
    s.write(
        "0004_add_proposal_summary.down.sql",
        "ALTER TABLE proposals DROP COLUMN IF EXISTS summary;\n",
    );
    s.run(&["run"]).assert_code(0);
    // A long transaction that read `conversions` and is still open.
    let mut holder = s.db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE conversions IN ACCESS SHARE MODE")
        .unwrap();
    let out = s.run(&[
        "rollback",
        "--to",
        "0001_initial_schema",
        "--lock-timeout",
        "500ms",
        // One attempt: the quoted block shows the failure report, not the retries.
        "--lock-retries",
        "0",
    ]);
    out.assert_code(7);
    tx.rollback().unwrap();
    out
}

/// SIGTERM during the second statement of a no-transaction stored rollback.
fn rollback_interrupted() -> Outcome {
    let s = Scene::example();
    s.write(
        "0004_index_conversions_id.sql",
        "-- sentry:no-transaction\n\
         CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_conversions_created ON conversions (id);\n",
    );
    s.write(
        "0004_index_conversions_id.down.sql",
        "-- sentry:no-transaction\n\
         DROP INDEX CONCURRENTLY IF EXISTS ix_conversions_created;\n\
         SELECT pg_sleep(60); -- a long cleanup\n\
         DROP TABLE IF EXISTS conversions_archive;\n",
    );
    s.run(&["run"]).assert_code(0);
    let child = spawn(
        s.sentry()
            .args(["rollback", "--to", "0002_add_visitor_session"]),
    );
    wait_for_sentry_statement("pg_sleep");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = finish(child, Duration::from_secs(30));
    out.assert_code(143);
    out
}

fn status_pending() -> Outcome {
    let s = Scene::example();
    without(
        &s,
        &[
            "0003_conversion_owners.sql",
            "0003_conversion_owners.down.sql",
        ],
        || s.run(&["upgrade"]).assert_code(0).clone(),
    );
    let out = s.run(&["status"]);
    out.assert_code(9);
    out
}

/// A pgbouncer in transaction mode in front of the cluster, in a process group of its own
/// that is killed on drop (tests/common/process.rs).
struct Bouncer {
    _process: common::GroupChild,
    port: u16,
    // Declared after the process: removed once pgbouncer is gone.
    _dir: tempfile::TempDir,
}

fn start_bouncer(pg_port: u16) -> Bouncer {
    start_bouncer_with(
        pg_port,
        "server_round_robin = 1\ndefault_pool_size = 4\nmin_pool_size = 2\n",
    )
}

fn start_bouncer_with(pg_port: u16, pool: &str) -> Bouncer {
    let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("pgbouncer is not installed: scripts/test installs it");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let ini = dir.path().join("pgbouncer.ini");
    fs::write(
        &ini,
        format!(
            "[databases]\n* = host=127.0.0.1 port={pg_port} user=postgres\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = any\n\
             pool_mode = transaction\n{pool}ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {}/pgbouncer.log\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // pgbouncer refuses to run as root: it runs as `postgres` then, and must own its folder.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
    }
    let mut cmd = Command::new(bin);
    common::as_server_user(&mut cmd);
    let process = common::spawn_group(
        cmd.arg(&ini)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let bouncer = Bouncer {
        _process: process,
        port,
        _dir: dir,
    };
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "pgbouncer did not listen"
    );
    bouncer
}

fn pooler() -> Outcome {
    let s = Scene::example();
    let bouncer = start_bouncer(s.db.port);
    // Two transactions held at once open two server connections; round robin then hands
    // consecutive transactions to different backends, as a busy production pooler does.
    let pooled = format!(
        "postgresql://postgres@127.0.0.1:{}/mdraft?sslmode=disable",
        bouncer.port
    );
    let mut a = postgres::Client::connect(&pooled, postgres::NoTls).unwrap();
    let mut b = postgres::Client::connect(&pooled, postgres::NoTls).unwrap();
    let mut ta = a.transaction().unwrap();
    let mut tb = b.transaction().unwrap();
    ta.batch_execute("SELECT 1").unwrap();
    tb.batch_execute("SELECT 1").unwrap();
    ta.commit().unwrap();
    tb.commit().unwrap();
    let url = format!(
        "postgresql://app:{APP_PASSWORD}@127.0.0.1:{}/mdraft?sslmode=disable",
        bouncer.port
    );
    let out = run(s.sentry().env("DATABASE_URL", url).arg("run"));
    out.assert_code(3);
    out
}

// ---------------------------------------------------------------------------------------------
// Interruptions, dead connections, lock retries, standbys, privileges (SPEC §5.4, §5.7).

/// The example plus a fourth migration that holds its table lock for a minute.
fn slow_scene() -> Scene {
    let s = Scene::example();
    s.write(
        "0004_backfill_owners.sql",
        "ALTER TABLE conversions ADD COLUMN IF NOT EXISTS owner_note text;\n\
         SELECT pg_sleep(60); -- a long backfill\n",
    );
    s
}

/// Waits until the sentry's session on `mdraft` runs a statement containing `needle`.
fn wait_for_sentry_statement(needle: &str) {
    assert!(
        common::wait_until(Duration::from_secs(20), || {
            cluster()
                .admin_client("postgres")
                .query_one(
                    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = 'mdraft' \
                     AND application_name = 'migration-sentry' AND state = 'active' \
                     AND query LIKE '%' || $1 || '%'",
                    &[&needle],
                )
                .map(|r| r.get::<_, bool>(0))
                .unwrap_or(false)
        }),
        "the sentry never ran {needle:?}"
    );
}

/// Waits (at most `limit`, then kills it) for a background sentry and returns what it
/// printed; status 128 + signal when a signal ended it, as a shell shows it.
fn finish(mut child: std::process::Child, limit: Duration) -> Outcome {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let mut stderr = String::new();
    let deadline = std::time::Instant::now() + limit;
    let waiter = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stderr.push_str(&waiter.join().unwrap());
    Outcome {
        code: status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1),
        stdout: reader.join().unwrap(),
        stderr,
    }
}

fn spawn(cmd: &mut Command) -> std::process::Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the sentry")
}

fn interrupted() -> Outcome {
    let s = slow_scene();
    let child = spawn(s.sentry().arg("run"));
    wait_for_sentry_statement("pg_sleep");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = finish(child, Duration::from_secs(30));
    out.assert_code(143);
    out
}

fn deadline() -> Outcome {
    let s = slow_scene();
    let out = s.run(&["run", "--timeout", "3s"]);
    out.assert_code(10);
    out
}

fn silent_connection() -> Outcome {
    let s = slow_scene();
    let proxy = common::proxy::Proxy::start(s.db.port);
    let url =
        s.db.url()
            .replace(&format!(":{}/", s.db.port), &format!(":{}/", proxy.port()));
    let child = spawn(
        s.sentry()
            .env("DATABASE_URL", url)
            .args(["run", "--connect-timeout", "2s"]),
    );
    wait_for_sentry_statement("pg_sleep");
    proxy.set(common::proxy::Mode::BlackHole);
    let out = finish(child, Duration::from_secs(60));
    out.assert_code(4);
    out
}

fn lock_retries() -> Outcome {
    let s = Scene::example();
    s.run(&["run"]).assert_code(0);
    s.write(
        "0004_conversion_status.sql",
        "ALTER TABLE conversions ADD COLUMN status text;\n",
    );
    // The application, in a transaction it forgot to end.
    let mut app = postgres::Config::new()
        .host("127.0.0.1")
        .port(s.db.port)
        .user("app")
        .password(APP_PASSWORD)
        .dbname("mdraft")
        .application_name("gunicorn")
        .connect(postgres::NoTls)
        .expect("connect the application");
    app.batch_execute("BEGIN; SELECT count(*) FROM conversions;")
        .unwrap();
    let out = s.run(&["run", "--lock-timeout", "1s", "--lock-retries", "2"]);
    out.assert_code(7);
    drop(app);
    out
}

fn standby() -> Outcome {
    let primary = common::Cluster::new(common::ClusterOptions {
        tls: false,
        start: true,
    });
    primary
        .admin_client("postgres")
        .batch_execute("CREATE DATABASE mdraft OWNER app")
        .unwrap();
    let standby = primary.standby();
    let db = TestDb {
        name: "mdraft".into(),
        port: standby.port(),
        cluster: &standby,
    };
    let s = Scene::example();
    let out = run(s.sentry().env("DATABASE_URL", db.url()).arg("run"));
    out.assert_code(3);
    let status = run(s.sentry().env("DATABASE_URL", db.url()).arg("status"));
    status.assert_code(9);
    together(vec![out, status])
}

fn missing_privilege() -> Outcome {
    // A private cluster: the docs' cluster may have lost its catch-all pg_hba.conf line.
    let c = common::Cluster::new(common::ClusterOptions {
        tls: false,
        start: true,
    });
    c.admin_client("postgres")
        .batch_execute("CREATE DATABASE mdraft OWNER app")
        .unwrap();
    c.admin_client("postgres")
        .batch_execute("CREATE ROLE deployer LOGIN PASSWORD 'deployer-pw'")
        .unwrap();
    let db = TestDb {
        name: "mdraft".into(),
        port: c.port(),
        cluster: &c,
    };
    let s = Scene::example();
    let url = db.url_with(
        "deployer",
        Some("deployer-pw"),
        "127.0.0.1",
        "sslmode=disable",
    );
    let out = run(s.sentry().env("DATABASE_URL", url).arg("run"));
    out.assert_code(3);
    out
}

fn quiet_pooler() -> Outcome {
    let s = Scene::example();
    let bouncer = start_bouncer_with(
        s.db.port,
        "server_round_robin = 0\ndefault_pool_size = 1\nmin_pool_size = 0\n",
    );
    let url = format!(
        "postgresql://app:{APP_PASSWORD}@127.0.0.1:{}/mdraft?sslmode=disable",
        bouncer.port
    );
    let out = run(s.sentry().env("DATABASE_URL", url).arg("run"));
    out.assert_code(3);
    out
}

/// Three tenants of the example application: the canary migrates, `eu-1` has drift, `us-1` is
/// not attempted (`--parallel 1`).
fn fleet_failure() -> Outcome {
    let s = Scene::example();
    let c = cluster();
    let (canary, eu, us) = (c.create_db(), c.create_db(), c.create_db());
    run(s.sentry().env("DATABASE_URL", eu.url()).arg("run")).assert_code(0);
    eu.execute(
        "UPDATE schema_migrations SET checksum = repeat('0', 64) \
         WHERE version = '0002_add_visitor_session'",
    );
    let targets = s.dir.path().join("sql/tenants.txt");
    fs::write(
        &targets,
        "# sql/tenants.txt: NAME ENV_VAR\ncanary   TENANT_CANARY_URL\neu-1     TENANT_EU_1_URL\nus-1     TENANT_US_1_URL\n",
    )
    .unwrap();
    let out = run(s
        .sentry()
        .env_remove("DATABASE_URL")
        .env("TENANT_CANARY_URL", canary.url())
        .env("TENANT_EU_1_URL", eu.url())
        .env("TENANT_US_1_URL", us.url())
        .args(["run", "--targets", "sql/tenants.txt", "--parallel", "1"]));
    out.assert_code(6);
    out
}
