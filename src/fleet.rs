//! Fleets (SPEC §10): one migration set, many databases.
//!
//! `--targets FILE` names the databases, one `NAME ENV_VAR` per line; the URLs stay in the
//! environment. Every target is validated before any connection (all problems of all targets
//! at once, exit 3); then the first target runs alone (the canary), and the rest run
//! `--parallel K` at a time. A failure stops new targets from starting; those already running
//! finish; the rest are "not attempted".
//!
//! Each target runs in a child process of this same binary (a *member*: the same arguments,
//! `SENTRY_FLEET_MEMBER` naming the variable that holds its URL), watched by a thread of this
//! one. Why not a thread each: a run's safety net is process-wide — the signal handler, the
//! `--timeout` deadline and the watchdog of [`crate::interrupt`] guard one session — and a
//! process holds only its own target's password, so it cannot print another's. A member is
//! exactly a single-database run, so everything a single run guarantees holds per target.
//!
//! Output: every line a member prints on stderr is passed on whole, behind `[NAME] ` (so lines
//! of parallel targets never interleave); its JSON result is read from its stdout. The result
//! is one table, or one JSON object per target and a summary. The exit code is the first
//! failing target's, in file order.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use log::{error, info};
use serde_json::{Value, json};

use crate::config::{Command, Config, Format};
use crate::conninfo;
use crate::error::{Error, ExitKind, Result};
use crate::tracking::Table;
use crate::{interrupt, output};

/// One line of the targets file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The name shown in output (`[NAME]`).
    pub name: String,
    /// The environment variable that holds the target's connection string.
    pub env_var: String,
    /// 1-based line in the targets file.
    pub line: usize,
}

/// Whether `command` can act on a fleet (SPEC §10).
pub fn supports(command: &Command) -> bool {
    matches!(
        command,
        Command::Run
            | Command::Upgrade
            | Command::Status
            | Command::Verify
            | Command::Ping
            | Command::CheckEnv
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_env_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a targets file: `NAME ENV_VAR` per line, `#` starts a comment, blank lines are
/// ignored. Every problem is returned, with its line.
pub fn parse_targets(text: &str, file: &Path) -> std::result::Result<Vec<TargetSpec>, Vec<String>> {
    let mut targets: Vec<TargetSpec> = Vec::new();
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let at = format!("{}:{line}", file.display());
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [name, env_var] = fields[..] else {
            problems.push(format!(
                "{at}: expected `NAME ENV_VAR` (the target's name and the environment variable \
                 that holds its connection string), found {} field(s): {}",
                fields.len(),
                output::echo(content)
            ));
            continue;
        };
        if !valid_name(name) {
            problems.push(format!(
                "{at}: target name {} must be 1–63 characters of letters, digits, '_', '-' or '.'",
                output::echo(name)
            ));
            continue;
        }
        if !valid_env_var(env_var) {
            problems.push(format!(
                "{at}: {} is not an environment variable name (letters, digits and '_'; the URL \
                 itself never goes in the targets file)",
                output::echo(env_var)
            ));
            continue;
        }
        if !names.insert(name.to_string()) {
            problems.push(format!("{at}: target name {name} is used twice"));
            continue;
        }
        targets.push(TargetSpec {
            name: name.to_string(),
            env_var: env_var.to_string(),
            line,
        });
    }
    if targets.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{}: names no target (one `NAME ENV_VAR` per line)",
            file.display()
        ));
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(problems)
    }
}

/// A validated target (its URL stays in the environment, for its member to read).
struct Target {
    spec: TargetSpec,
}

/// Reads the file and every target's URL from the environment, and validates them all before
/// any connection: each URL (which registers its password for redaction, so that no target's
/// password can appear in any other target's lines either), the required variables and the
/// tracking-table name. Every problem of every target at once (exit 3).
fn load(cfg: &Config, file: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Vec<Target>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::Env(vec![format!(
            "cannot read the targets file {} (--targets / SENTRY_TARGETS): {e}",
            file.display()
        )])
    })?;
    let specs = parse_targets(&text, file).map_err(Error::Env)?;
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    for spec in specs {
        let context = format!("target {} ({})", spec.name, spec.env_var);
        match env(&spec.env_var) {
            None => problems.push(format!(
                "{context}: {} is not set or empty (it must hold the target's connection string)",
                spec.env_var
            )),
            Some(url) => match conninfo::parse(&url) {
                Ok(_) => targets.push(Target { spec }),
                Err(invalid) => {
                    let at = invalid
                        .target
                        .map(|t| format!(" [{t}]"))
                        .unwrap_or_default();
                    problems.extend(
                        invalid
                            .problems
                            .into_iter()
                            .map(|p| format!("{context}{at}: {p}")),
                    );
                }
            },
        }
    }
    problems.extend(conninfo::check_required_env(&cfg.require_env));
    if let Err(Error::Env(p)) = Table::parse(&cfg.table) {
        problems.extend(p);
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Env(problems))
    }
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed(ExitKind),
    NotAttempted,
}

/// What one target reported.
struct Report {
    outcome: Outcome,
    /// The command's own JSON result, when it printed one.
    result: Option<Value>,
    /// The error, for the table and the summary.
    error: Option<String>,
    elapsed: Duration,
}

impl Report {
    fn not_attempted() -> Report {
        Report {
            outcome: Outcome::NotAttempted,
            result: None,
            error: None,
            elapsed: Duration::ZERO,
        }
    }

    /// How many migrations the command applied (`run`, `upgrade`) or found applied
    /// (`status`); `None` for commands that do not apply.
    fn applied(&self) -> Option<usize> {
        match self.result.as_ref()?.get("applied")? {
            Value::Array(a) => Some(a.len()),
            _ => None,
        }
    }
}

/// The environment variable that makes a process a fleet member: its value names the variable
/// that holds the member's URL. Set only by [`run_one`].
pub const MEMBER_ENV: &str = "SENTRY_FLEET_MEMBER";

/// Set by [`run_one`] when the fleet has a `--timeout`: what is left of it, in milliseconds.
pub const MEMBER_TIMEOUT_ENV: &str = "SENTRY_FLEET_TIMEOUT_MS";

/// Runs the command on one target in a child process of this binary (see the module doc) and
/// waits for it: its stderr lines are passed on behind `[NAME] `, its stdout holds its JSON
/// result. `targets` are all the fleet's targets: the others' variables are removed from the
/// child's environment, so it never holds another target's password.
fn run_one(target: &Target, targets: &[Target], deadline: Option<Instant>) -> Report {
    let started = Instant::now();
    let failed = |error: String| Report {
        outcome: Outcome::Failed(ExitKind::Internal),
        result: None,
        error: Some(error),
        elapsed: started.elapsed(),
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return failed(format!("cannot find this program to run the target: {e}")),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env(MEMBER_ENV, &target.spec.env_var)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C or a group-wide SIGTERM reaches the fleet, which
        // passes it on once; a member that got it twice would end without cleaning up.
        .process_group(0);
    // SAFETY: prctl(2) with integer arguments only, which is async-signal-safe, in the child
    // between fork and exec. If the fleet dies (even by SIGKILL), each member gets SIGTERM and
    // stops the way a single run does: cancel, roll back, release its lock. (The signal comes
    // when the spawning thread ends; it waits for this member first.)
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    if let Some(at) = deadline {
        // What is left of the fleet's `--timeout`, so that every member stops at its deadline.
        let left = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        cmd.env(MEMBER_TIMEOUT_ENV, left.as_millis().to_string());
    }
    for other in targets
        .iter()
        .filter(|t| t.spec.env_var != target.spec.env_var)
    {
        cmd.env_remove(&other.spec.env_var);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start the run for this target: {e}")),
    };
    MEMBERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id());
    let name = target.spec.name.clone();
    let stderr = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            let mut lines = BufReader::new(err);
            let mut line = Vec::new();
            while matches!(lines.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                // One write per line, under the lock: whole lines, never interleaved.
                let mut e = std::io::stderr().lock();
                let _ = writeln!(e, "[{name}] {}", text.trim_end_matches(['\n', '\r']));
                line.clear();
            }
        })
    });
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = reap(&mut child);
    if let Some(t) = stderr {
        let _ = t.join();
    }
    let result = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    let mut error = result
        .as_ref()
        .and_then(|r| r.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let outcome = match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(0), _) => Outcome::Ok,
            (Some(code), _) => Outcome::Failed(
                ExitKind::ALL
                    .into_iter()
                    .find(|k| i32::from(k.code()) == code)
                    .unwrap_or(ExitKind::Internal),
            ),
            (None, Some(sig)) => {
                let (kind, why) = signalled(sig);
                if kind != ExitKind::Interrupted {
                    // The member printed nothing about it: the fleet says it.
                    error!("[{}] {why}", target.spec.name);
                }
                error.get_or_insert(why);
                Outcome::Failed(kind)
            }
            (None, None) => Outcome::Failed(ExitKind::Internal),
        },
        Err(e) => return failed(format!("lost track of the run for this target: {e}")),
    };
    Report {
        outcome,
        result,
        error,
        elapsed: started.elapsed(),
    }
}

/// While the members run (until `done`): passes a SIGINT or SIGTERM the fleet received on to
/// every running member, once — each cancels its statement, rolls back, releases its lock and
/// ends by that signal, as a single run does. The `--timeout` deadline needs no passing on:
/// each member was started with what was left of it. A member still running shortly before the
/// fleet's own grace period ends is stuck on a dead connection: it is killed, and the server
/// cleans up after it (`idle_in_transaction_session_timeout`).
fn guard_members(done: &AtomicBool) {
    let mut stopped_at: Option<Instant> = None;
    let mut killed = false;
    while !done.load(Ordering::SeqCst) {
        if stopped_at.is_none()
            && let Some(Error::Interrupted { cause, .. }) = interrupt::error("")
        {
            stopped_at = Some(Instant::now());
            if let Some(sig) = cause.signal() {
                signal_members(sig);
            }
        }
        if let Some(at) = stopped_at
            && !killed
            && at.elapsed() + Duration::from_secs(1) >= interrupt::GRACE
        {
            killed = true;
            signal_members(libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal_members(sig: i32) {
    for &pid in MEMBERS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        // SAFETY: kill(2) takes no pointer. The pid is a child of this process not reaped yet
        // (`reap` removes it under this same lock), so it cannot belong to anyone else.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// Waits for a member and takes its pid off [`MEMBERS`] in the same critical section as the
/// reaping, so that [`signal_members`] can never signal a pid the system has given to another
/// process.
fn reap(child: &mut std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    loop {
        {
            let mut members = MEMBERS.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(status) = child.try_wait()? {
                members.retain(|&pid| pid != child.id());
                return Ok(status);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a member that ended by signal `sig` counts, and what its row says. SIGINT and SIGTERM
/// (passed on by the fleet, or sent to the member from outside) went through the member's own
/// handler, which cancelled, rolled back and unlocked before re-raising: interrupted (exit
/// 10), as a single run. Any other signal (SIGKILL, a crash) ended it without that cleanup.
fn signalled(sig: i32) -> (ExitKind, String) {
    match sig {
        libc::SIGINT | libc::SIGTERM => (
            ExitKind::Interrupted,
            format!(
                "interrupted by {}: its statement was cancelled, its transaction rolled back \
                 and its lock released",
                if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                }
            ),
        ),
        _ => (
            ExitKind::Internal,
            format!(
                "the run was killed by signal {sig}, without its cleanup: the server rolls back \
                 its open transaction and frees its lock when the connection closes (within \
                 idle_in_transaction_session_timeout if the connection stays open)"
            ),
        ),
    }
}

/// The pids of the members running now, for passing a signal on.
static MEMBERS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The command on every target of `file`: the canary alone, then the rest `cfg.parallel` at a
/// time. Prints the table (or JSON) to `out`; the error is the first failing target's.
pub fn execute(cfg: &Config, file: &Path, out: &mut dyn Write) -> Result<()> {
    output::starting();
    let targets = load(cfg, file, |var| {
        std::env::var(var).ok().filter(|v| !v.is_empty())
    })?;
    let parallel = cfg.parallel.max(1);
    info!(
        "fleet: {} target{} from {}; canary {} first, then {} at a time",
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        file.display(),
        targets[0].spec.name,
        parallel
    );
    let started = Instant::now();
    let reports: Vec<Mutex<Option<Report>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    let failed = AtomicBool::new(false);
    // A failure, a signal or the deadline: no new target starts.
    let stopped = || failed.load(Ordering::SeqCst) || interrupt::stopping();
    let store = |i: usize, r: Report| {
        if matches!(r.outcome, Outcome::Failed(_)) {
            failed.store(true, Ordering::SeqCst);
        }
        *reports[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    };
    let deadline = (!cfg.timeout.is_zero()).then(|| started + cfg.timeout);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // The canary alone: a migration that fails on it never reaches another database.
            store(0, run_one(&targets[0], &targets, deadline));
            if failed.load(Ordering::SeqCst) {
                error!(
                    "fleet: the canary {} failed: no other target was attempted",
                    targets[0].spec.name
                );
            } else if targets.len() > 1 {
                let next = AtomicUsize::new(1);
                std::thread::scope(|pool| {
                    for _ in 0..parallel.min(targets.len() - 1) {
                        pool.spawn(|| {
                            // Running targets finish; the rest are not attempted.
                            while !stopped() {
                                let i = next.fetch_add(1, Ordering::SeqCst);
                                let Some(target) = targets.get(i) else { break };
                                store(i, run_one(target, &targets, deadline));
                            }
                        });
                    }
                });
            }
            done.store(true, Ordering::SeqCst);
        });
        guard_members(&done);
    });

    let reports: Vec<Report> = reports
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(Report::not_attempted)
        })
        .collect();
    let first_failure = targets
        .iter()
        .zip(&reports)
        .find_map(|(t, r)| match r.outcome {
            Outcome::Failed(kind) => Some((t.spec.name.clone(), kind)),
            _ => None,
        });
    let summary = Summary::of(&reports, started.elapsed());
    match cfg.format {
        Format::Text => write_table(out, &targets, &reports, &summary),
        Format::Json => write_json(out, &targets, &reports, &summary, first_failure.as_ref()),
    }
    .map_err(|e| Error::Internal(format!("cannot write the result to stdout: {e}")))?;
    // Interrupted: every member was stopped the same way; the fleet ends as a single run would.
    if let Some(e) =
        interrupt::error("running the fleet (the table above says where each target stopped)")
    {
        return Err(e);
    }
    match first_failure {
        None => {
            output::marker("success");
            Ok(())
        }
        Some((first, kind)) => Err(Error::Fleet {
            first,
            kind,
            failed: summary.failed,
            not_attempted: summary.not_attempted,
            total: reports.len(),
        }),
    }
}

/// Counts over the whole fleet.
struct Summary {
    ok: usize,
    failed: usize,
    not_attempted: usize,
    elapsed: Duration,
}

impl Summary {
    fn of(reports: &[Report], elapsed: Duration) -> Summary {
        let count = |f: fn(&Outcome) -> bool| reports.iter().filter(|r| f(&r.outcome)).count();
        Summary {
            ok: count(|o| *o == Outcome::Ok),
            failed: count(|o| matches!(o, Outcome::Failed(_))),
            not_attempted: count(|o| *o == Outcome::NotAttempted),
            elapsed,
        }
    }
}

fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Failed(_) => "FAILED",
        Outcome::NotAttempted => "not attempted",
    }
}

/// The text result: one row per target, in file order, then one summary line.
fn write_table(
    out: &mut dyn Write,
    targets: &[Target],
    reports: &[Report],
    summary: &Summary,
) -> std::io::Result<()> {
    let width = targets
        .iter()
        .map(|t| t.spec.name.len())
        .max()
        .unwrap_or(0)
        .max("target".len());
    writeln!(
        out,
        "{:<width$}  {:<13}  {:>7}  {:>4}  {:>8}",
        "target", "outcome", "applied", "exit", "time"
    )?;
    for (t, r) in targets.iter().zip(reports) {
        let applied = r.applied().map_or("-".to_string(), |n| n.to_string());
        let (exit, time) = match r.outcome {
            Outcome::NotAttempted => ("-".to_string(), "-".to_string()),
            Outcome::Ok => ("0".to_string(), format!("{} ms", r.elapsed.as_millis())),
            Outcome::Failed(k) => (
                k.code().to_string(),
                format!("{} ms", r.elapsed.as_millis()),
            ),
        };
        writeln!(
            out,
            "{:<width$}  {:<13}  {applied:>7}  {exit:>4}  {time:>8}",
            t.spec.name,
            outcome_word(&r.outcome)
        )?;
    }
    writeln!(
        out,
        "{} ok, {} failed, {} not attempted ({} ms)",
        summary.ok,
        summary.failed,
        summary.not_attempted,
        summary.elapsed.as_millis()
    )
}

/// The JSON result: one object per target (its command's own result under `result`), then
/// one summary object, each on its own line.
fn write_json(
    out: &mut dyn Write,
    targets: &[Target],
    reports: &[Report],
    summary: &Summary,
    first_failure: Option<&(String, ExitKind)>,
) -> std::io::Result<()> {
    for (t, r) in targets.iter().zip(reports) {
        let exit_code = match r.outcome {
            Outcome::Ok => Some(0),
            Outcome::Failed(k) => Some(k.code()),
            Outcome::NotAttempted => None,
        };
        let obj = json!({
            "target": t.spec.name,
            "env_var": t.spec.env_var,
            "outcome": match r.outcome {
                Outcome::Ok => "ok",
                Outcome::Failed(_) => "failed",
                Outcome::NotAttempted => "not_attempted",
            },
            "exit_code": exit_code,
            "applied": r.applied(),
            "duration_ms": (r.outcome != Outcome::NotAttempted).then_some(r.elapsed.as_millis() as u64),
            "error": r.error,
            "result": r.result,
        });
        writeln!(out, "{obj}")?;
    }
    let obj = json!({
        "summary": {
            "ok": first_failure.is_none(),
            "exit_code": first_failure.map_or(0, |(_, k)| k.code()),
            "first_failure": first_failure.map(|(n, _)| n),
            "targets": reports.len(),
            "succeeded": summary.ok,
            "failed": summary.failed,
            "not_attempted": summary.not_attempted,
            "duration_ms": summary.elapsed.as_millis() as u64,
        }
    });
    writeln!(out, "{obj}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Vec<TargetSpec>, Vec<String>> {
        parse_targets(text, Path::new("targets.txt"))
    }

    #[test]
    fn names_env_vars_comments_and_blank_lines() {
        let t = parse("# tenants\n\ncanary  CANARY_URL\n eu-1 EU_1_URL # Frankfurt\n").unwrap();
        assert_eq!(
            t,
            vec![
                TargetSpec {
                    name: "canary".into(),
                    env_var: "CANARY_URL".into(),
                    line: 3
                },
                TargetSpec {
                    name: "eu-1".into(),
                    env_var: "EU_1_URL".into(),
                    line: 4
                },
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems =
            parse("a A_URL\nb\nc postgres://u:pw@h/db\nd{x} D_URL\na OTHER\ne E_URL extra\n")
                .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].starts_with("targets.txt:2: expected `NAME ENV_VAR`"));
        assert!(problems[1].starts_with("targets.txt:3: "));
        assert!(problems[1].contains("not an environment variable name"));
        assert!(problems[2].starts_with("targets.txt:4: target name"));
        assert_eq!(problems[3], "targets.txt:5: target name a is used twice");
        assert!(problems[4].starts_with("targets.txt:6: expected"));
    }

    #[test]
    fn an_empty_file_names_no_target() {
        let problems = parse("# nothing yet\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("names no target"));
    }

    #[test]
    fn every_url_is_validated_before_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("targets");
        std::fs::write(&file, "one ONE\ntwo TWO\nthree THREE\n").unwrap();
        let env = |var: &str| match var {
            "ONE" => Some("postgres://u:pw@localhost:5432/one".to_string()),
            "TWO" => Some("mysql://u@h/db".to_string()),
            _ => None,
        };
        let Err(Error::Env(problems)) = load(&Config::default(), &file, env) else {
            panic!("expected exit 3");
        };
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("target two (TWO)"), "{problems:#?}");
        assert!(problems[1].starts_with("target three (THREE): THREE is not set"));
    }
}
