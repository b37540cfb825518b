//! The commands of SPEC §1, each a short composition of the core modules. Logs go to stderr
//! through `log`; results (tables, JSON) go to `out`, which is stdout in the binary.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use log::{info, warn};
use postgres::Client;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};

use crate::adopt;
use crate::apply::{self, Settings};
use crate::config::{Command, Config, Format, SchemaSource};
use crate::connect::{self, Facts};
use crate::conninfo::{self, ConnInfo};
use crate::error::{Error, Result, SetProblem};
use crate::migrations::{self, Migration};
use crate::opening::{self, Next, Preloaded};
use crate::output::esc;
use crate::plan::{self, AppliedRow, Plan};
use crate::prepared::Prepared;
use crate::rollback::{self, Target};
use crate::schema::{self, CheckResult, Requirement};
use crate::session::Baseline;
use crate::tracking::{self, Access, Shape, Table};
use crate::{contents, interrupt, invalid_index, lint, lock, output, redact, tls};

/// Runs one command.
pub fn execute(cmd: &Command, cfg: &Config, out: &mut dyn Write) -> Result<()> {
    if let Command::New { name } = cmd {
        let path = migrations::create_new(&cfg.migrations_dir, name)?;
        info!("created {}", path.display());
        return emit(
            out,
            cfg.format,
            &path.display().to_string(),
            json!({"ok": true, "path": path}),
        );
    }
    if let Some(file) = &cfg.targets {
        return crate::fleet::execute(cfg, file, out);
    }
    output::starting();
    match cmd {
        Command::CheckEnv => {
            let (info, _) = check_env(cfg)?;
            emit(
                out,
                cfg.format,
                &format!("environment OK: {}", info.redacted),
                json!({"ok": true, "database_url": info.redacted, "required_env": cfg.require_env}),
            )?;
        }
        Command::Ping => {
            let s = open(cfg)?;
            print_ping(&s.info, &s.facts, cfg.format, out)?;
        }
        Command::Check => check(cfg, out)?,
        Command::Run | Command::Upgrade => run(cmd, cfg, out)?,
        Command::Verify => {
            let reqs = requirements(cfg)?;
            let mut s = open(cfg)?;
            let results = verify(&mut s.client, &reqs, false)?;
            let checks = checks_json(&results);
            let failed = results.iter().filter(|r| !r.ok).count();
            emit(
                out,
                cfg.format,
                &format!(
                    "{} of {} checks passed",
                    results.len() - failed,
                    results.len()
                ),
                json!({"ok": failed == 0, "checks": checks}),
            )?;
            schema_outcome(&results)?;
        }
        Command::Status => status(cfg, out)?,
        Command::Stamp { to } => stamp(cfg, to.as_deref(), out)?,
        Command::Repair => repair(cfg, out)?,
        Command::Rollback { to } => rollback(cfg, to, out)?,
        Command::New { .. } => unreachable!("handled above"),
    }
    output::marker("success");
    Ok(())
}

fn write_error(e: std::io::Error) -> Error {
    Error::Internal(format!("cannot write the result to stdout: {e}"))
}

/// Writes a command's result: `text` or the JSON object.
fn emit(out: &mut dyn Write, format: Format, text: &str, obj: Value) -> Result<()> {
    match format {
        Format::Text => writeln!(out, "{text}"),
        Format::Json => writeln!(out, "{obj}"),
    }
    .map_err(write_error)
}

/// `check-env`: the URL, the tracking-table name and the required variables, every problem at
/// once, no network. Returns the parsed URL and the validated table name.
pub fn check_env(cfg: &Config) -> Result<(ConnInfo, Table)> {
    let mut problems = Vec::new();
    let info = match cfg.database_url.as_deref() {
        None => {
            problems.push(
                "DATABASE_URL is not set (set it, or pass --database-url; on Render it comes \
                 from the database's connection string)"
                    .to_string(),
            );
            None
        }
        Some(url) => match conninfo::parse(url) {
            Ok(info) => Some(info),
            Err(invalid) => {
                if let Some(target) = &invalid.target {
                    // Which URL the problems are about; context, not one more problem.
                    info!("DB (redacted): {target}");
                }
                problems.extend(invalid.problems);
                None
            }
        },
    };
    // SPEC §8: a password typed on the command line is in /proc/<pid>/cmdline for every
    // local user to read while the sentry runs.
    let password_in_argv = cfg.database_url_on_command_line
        && info
            .as_ref()
            .is_none_or(|i| i.sources.password == conninfo::PasswordSource::ConnString);
    if password_in_argv {
        warn!(
            "--database-url puts the password in the process list (ps, /proc/<pid>/cmdline), \
             readable by every local user while the sentry runs: set the DATABASE_URL \
             environment variable instead, or leave the password out of the URL and use \
             PGPASSWORD or ~/.pgpass"
        );
    }
    problems.extend(conninfo::check_required_env(&cfg.require_env));
    let table = match Table::parse(&cfg.table) {
        Ok(t) => Some(t),
        Err(Error::Env(p)) => {
            problems.extend(p);
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(Err(Error::Env(p))) = info.as_ref().map(tls::root_certificates) {
        problems.extend(p);
    }
    match (info, table) {
        (Some(info), Some(table)) if problems.is_empty() => {
            let mut names = vec![cfg.database_url_var.clone()];
            names.extend(cfg.require_env.iter().cloned());
            info!("env OK: {}", names.join(", "));
            info!("DB (redacted): {}", info.redacted);
            // libpq's sources (SPEC §8), named, never their values.
            for w in &info.sources.warnings {
                warn!("{w}");
            }
            if let Some(line) = info.sources.summary(&info.user) {
                info!("{line}");
            }
            redact::set_target(&info.redacted);
            Ok((info, table))
        }
        _ => Err(Error::Env(problems)),
    }
}

/// A connected, checked session: what every database command starts with.
struct Session {
    info: ConnInfo,
    client: Client,
    facts: Facts,
    /// The tracking table, validated by check-env and resolved to a qualified name right after
    /// connecting (SPEC §5.1).
    table: Table,
    /// The advisory lock key, when the opening exchange took the lock.
    locked: Option<i64>,
    /// The tracking table as the opening exchange read it, for the command's first read.
    preloaded: Option<Preloaded>,
    /// What the command does with the tracking table (its pre-flight's measure).
    access: Option<Access>,
    /// Signals, `--timeout` and the watchdog can cancel what `client` runs (SPEC §5.7).
    _armed: interrupt::Armed,
}

/// What a command does with the tracking table, which decides what the opening exchange
/// carries (see `opening`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Nothing (`ping`, `verify`).
    Nothing,
    /// Read it without the lock (`status`, `--dry-run`).
    Read,
    /// Take the lock, then read it and write it as the command does (`run`, `upgrade` and
    /// `stamp` insert rows, `repair` updates them, `rollback` deletes them).
    Lock(Access),
}

impl Want {
    /// What the command does with the tracking table, for its pre-flight.
    fn access(self) -> Option<Access> {
        match self {
            Want::Nothing => None,
            Want::Read => Some(Access::Read),
            Want::Lock(access) => Some(access),
        }
    }
}

/// check-env, connect (with `--wait`), read the server facts, refuse a transaction pooler.
fn open(cfg: &Config) -> Result<Session> {
    open_checked(cfg, Want::Nothing, check_env(cfg)?)
}

/// The migration files, read while the connection is being made: a bad name, a duplicate
/// version or an unreadable file is exit 6 at once, whether or not the database can be
/// reached, since fixing it needs no database (the connecting thread is then left to the
/// process's exit). Runs after check-env, so that a broken environment is still reported
/// first. The overlap takes the files' reading off the deploy's hot path (issue #12).
fn offline_files(cfg: &Config) -> Result<(Dial, Table, Vec<Migration>)> {
    let (info, table) = check_env(cfg)?;
    let dial = Dial::start(info, cfg);
    let files = migrations::discover(&cfg.migrations_dir)?;
    Ok((dial, table, files))
}

/// A connection to make: now, or already being made on a thread of its own.
enum Dial {
    Now(ConnInfo),
    Started(
        ConnInfo,
        std::thread::JoinHandle<Result<(postgres::Client, connect::Link)>>,
    ),
}

impl From<ConnInfo> for Dial {
    fn from(info: ConnInfo) -> Dial {
        Dial::Now(info)
    }
}

impl Dial {
    /// Starts connecting (with `--wait`) on a thread.
    fn start(info: ConnInfo, cfg: &Config) -> Dial {
        let (target, timeout, wait) = (info.clone(), cfg.connect_timeout, cfg.wait);
        match std::thread::Builder::new()
            .name("sentry-connect".into())
            .spawn(move || connect::connect_link(&target, timeout, wait))
        {
            Ok(handle) => Dial::Started(info, handle),
            // No thread to be had: connect when asked, as before.
            Err(_) => Dial::Now(info),
        }
    }

    /// The connection, once made.
    fn finish(self, cfg: &Config) -> Result<(ConnInfo, postgres::Client, connect::Link)> {
        match self {
            Dial::Now(info) => {
                let (client, link) = connect::connect_link(&info, cfg.connect_timeout, cfg.wait)?;
                Ok((info, client, link))
            }
            Dial::Started(info, handle) => {
                let (client, link) = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                Ok((info, client, link))
            }
        }
    }
}

/// [`open`] after check-env has passed.
/// Two round trips after authentication (see `opening`); for [`Want::Lock`], the lock is
/// usually held when this returns.
fn open_checked(
    cfg: &Config,
    want: Want,
    (dial, table): (impl Into<Dial>, Table),
) -> Result<Session> {
    let (info, mut client, link) = dial.into().finish(cfg)?;
    // Armed before the first query (the backend pid, for the probe, comes with the facts).
    let _early = interrupt::arm(link.session(&client, 0));
    let first = opening::first(&mut client, &table, want.access())?;
    let armed = interrupt::arm(link.session(&client, first.facts.backend_pid));
    crate::error::set_role(&first.facts.role);
    let next = match want {
        Want::Nothing => Next::Check,
        Want::Read => Next::Read,
        Want::Lock(_) => Next::Lock(cfg.lock_key.unwrap_or_else(|| first.table.lock_key())),
    };
    // The pre-flight, on what the first message saw: before the lock is taken and
    // before anything is read or changed, the table must be ours and the role allowed what the
    // command will do with it. Not on a standby or a read-only session, which a writing
    // command is refused for below: no GRANT can be run there.
    let writes_where_it_cannot =
        matches!(want, Want::Lock(_)) && (first.facts.in_recovery || first.facts.read_only);
    if let Some(access) = want.access().filter(|_| !writes_where_it_cannot) {
        tracking::preflight(&first.table, &first.seen, access, &first.facts.role)?;
    }
    let started = Instant::now();
    let second = opening::second(&mut client, &first, next)?;
    // After the pooler check, which the second message carries: a refused pooler has no DB OK.
    info!("DB OK: {}", first.facts.summary());
    // SPEC §5.4: a standby, a read-only session and a pooler are refused by writing commands.
    // So is a table that another session created or changed while this one waited for the
    // lock, if the pre-flight fails on what the second message saw after the lock.
    let refused =
        refuse(want, &first.facts, &link).and_then(|()| match (want.access(), &second.preloaded) {
            (Some(access), Some(p)) if second.locked => {
                tracking::preflight(&first.table, &p.seen, access, &first.facts.role).map(drop)
            }
            _ => Ok(()),
        });
    if let Err(e) = refused {
        if let Next::Lock(key) = next {
            // The opening message took the lock and set the cleanup timeouts: on a direct
            // connection they end with the session, but on a backend a pooler shares (a quiet
            // pool lets the opening run on the backend it later lends to the second
            // connection) they would outlive the sentry and block every later deploy.
            lock::undo_opening(&mut client, key, &first.facts);
        }
        return Err(e);
    }
    let locked = match next {
        Next::Lock(key) if second.locked => {
            lock::acquired(key, started.elapsed());
            Some(key)
        }
        _ => None,
    };
    Ok(Session {
        info,
        client,
        facts: first.facts,
        table: first.table,
        locked,
        preloaded: second.preloaded,
        access: want.access(),
        _armed: armed,
    })
}

/// The refusals of SPEC §5.4 after the opening exchange: writing commands ([`Want::Lock`]) are
/// refused on a standby, a read-only session, and behind a transaction pooler (exit 3);
/// reading ones say that they read a standby.
fn refuse(want: Want, facts: &Facts, link: &connect::Link) -> Result<()> {
    match want {
        Want::Lock(_) if facts.in_recovery => {
            return Err(Error::env(
                "DATABASE_URL points at a read-only standby (pg_is_in_recovery() is true): \
                 migrations and the tracking table can only be written on the primary. Use \
                 the primary's connection string",
            ));
        }
        Want::Lock(_) if facts.read_only => {
            return Err(Error::env(
                "the database session is read-only (transaction_read_only is on: \
                 default_transaction_read_only is set for this database or role, or the \
                 server is in read-only mode): nothing can be migrated. Ask the database \
                 owner, or connect as a role that may write",
            ));
        }
        Want::Lock(_) => link.refuse_pooler(facts)?,
        _ if facts.in_recovery => info!(
            "reading a read-only standby (pg_is_in_recovery() is true): what it shows may lag \
             behind the primary"
        ),
        _ => {}
    }
    Ok(())
}

fn print_ping(info: &ConnInfo, facts: &Facts, format: Format, out: &mut dyn Write) -> Result<()> {
    let tls = match (&facts.tls, &facts.tls_version) {
        (true, Some(v)) => format!("yes ({v})"),
        (true, None) => "yes".to_string(),
        _ => "no".to_string(),
    };
    emit(
        out,
        format,
        &format!(
            "target:   {}\ndatabase: {}\nserver:   PostgreSQL {}\ntls:      {tls}\nlatency:  {} ms",
            info.redacted,
            esc(&facts.database),
            esc(&facts.server_version),
            facts.latency.as_millis()
        ),
        json!({
            "ok": true,
            "target": info.redacted,
            "database": facts.database,
            "server_version": facts.server_version,
            "tls": facts.tls,
            "tls_version": facts.tls_version,
            "latency_ms": facts.latency.as_millis() as u64,
        }),
    )
}

/// The required schema: the file (explicit, or the default if it exists) plus `--require`.
/// A malformed line or flag is exit 3.
pub fn requirements(cfg: &Config) -> Result<Vec<Requirement>> {
    let mut reqs = Vec::new();
    let mut problems = Vec::new();
    let file = match &cfg.required_schema {
        SchemaSource::Explicit(p) => {
            if !p.is_file() {
                problems.push(format!(
                    "required-schema file {} not found (--required-schema / SENTRY_REQUIRED_SCHEMA)",
                    p.display()
                ));
            }
            Some(p)
        }
        SchemaSource::Default(p) => Some(p),
        SchemaSource::None => None,
    };
    if let Some(path) = file.filter(|p| p.is_file()) {
        match std::fs::read_to_string(path) {
            Ok(text) => match schema::parse(&text, path) {
                Ok(r) => reqs.extend(r),
                Err(Error::Env(p)) => problems.extend(p),
                Err(e) => return Err(e),
            },
            Err(e) => problems.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    for spec in &cfg.require {
        match schema::parse_require(spec) {
            Ok(r) => reqs.push(r),
            Err(msg) => problems.push(msg),
        }
    }
    if problems.is_empty() {
        Ok(reqs)
    } else {
        Err(Error::Env(problems))
    }
}

/// Checks the requirements and prints one ✓/✗ line each (stderr).
fn verify(client: &mut Client, reqs: &[Requirement], recovered: bool) -> Result<Vec<CheckResult>> {
    output::marker("verifying required schema");
    if reqs.is_empty() {
        if recovered {
            warn!(
                "STAMP RECOVERY WAS USED BUT NO REQUIRED SCHEMA IS CONFIGURED: nothing has checked \
                 that the database really has what the application needs. Add \
                 sql/required_schema.txt (or --require TABLE.COLUMN) and run `migration-sentry \
                 verify`"
            );
        } else {
            info!(
                "no required schema configured (sql/required_schema.txt, --required-schema or \
                 --require): nothing to verify"
            );
        }
        return Ok(Vec::new());
    }
    let results = schema::verify(client, reqs)?;
    for r in &results {
        if r.ok {
            info!("{}", esc(&r.line()));
        } else {
            log::error!("{}", esc(&r.line()));
        }
    }
    if results.iter().all(|r| r.ok) {
        info!("schema OK.");
    }
    Ok(results)
}

fn schema_outcome(results: &[CheckResult]) -> Result<()> {
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(Error::Schema {
            failed,
            total: results.len(),
        });
    }
    Ok(())
}

fn checks_json(results: &[CheckResult]) -> serde_json::Map<String, Value> {
    results
        .iter()
        .map(|r| (r.label.clone(), Value::Bool(r.ok)))
        .collect()
}

/// What `run` reports in JSON.
#[derive(Default)]
struct RunReport {
    applied: Vec<String>,
    stamped: Vec<String>,
    checks: serde_json::Map<String, Value>,
    /// The live lint's findings (§5.5), blocking or not.
    findings: Vec<Value>,
    /// Whether the required schema was verified (`run`, except a dry run with pending work).
    verified: bool,
}

impl RunReport {
    /// The one-line result on stdout: what was (or would be) applied, and what was verified.
    /// Only a verification that ran reports checks, so `upgrade` never says "0 checks passed".
    fn summary(&self, dry_run: bool) -> String {
        let mut line = if dry_run {
            let mut l = format!("would apply {}", self.applied.len());
            if !self.applied.is_empty() {
                l.push_str(&format!(": {}", self.applied.join(", ")));
            }
            l
        } else {
            format!(
                "applied {}, stamped {}",
                self.applied.len(),
                self.stamped.len()
            )
        };
        if self.verified {
            if self.checks.is_empty() {
                line.push_str(", no required schema configured");
            } else {
                let n = self.checks.len();
                let s = if n == 1 { "" } else { "s" };
                line.push_str(&format!(", {n} check{s} passed"));
            }
        }
        line
    }
}

/// `run` (the gate) and `upgrade` (no verification).
fn run(cmd: &Command, cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let started = Instant::now();
    let mut report = RunReport::default();
    let result = gate(cmd, cfg, &mut report);
    if cfg.format == Format::Json {
        let code = result.as_ref().err().map_or(0, |e| e.kind().code());
        let mut obj = json!({
            "ok": result.is_ok(),
            "exit_code": code,
            "applied": report.applied,
            "stamped": report.stamped,
            "checks": report.checks,
            "findings": report.findings,
            "duration_ms": started.elapsed().as_millis() as u64,
            "dry_run": cfg.dry_run,
        });
        if let Err(e) = &result {
            obj["error"] = Value::String(e.to_string());
        }
        writeln!(out, "{obj}").map_err(write_error)?;
    } else if result.is_ok() {
        writeln!(out, "{}", report.summary(cfg.dry_run)).map_err(write_error)?;
    }
    result
}

fn gate(cmd: &Command, cfg: &Config, report: &mut RunReport) -> Result<()> {
    let verify_after = *cmd == Command::Run;
    // Parse the required schema before touching anything: a typo there is exit 3 up front.
    let reqs = if verify_after {
        requirements(cfg)?
    } else {
        Vec::new()
    };
    let (info, table, files) = offline_files(cfg)?;
    let want = if cfg.dry_run {
        Want::Read
    } else {
        Want::Lock(Access::Insert)
    };
    let mut s = open_checked(cfg, want, (info, table))?;
    let recovered = upgrade(&mut s, cfg, &files, report)?;
    if verify_after && cfg.dry_run && !report.applied.is_empty() {
        // The schema the application needs comes from the pending migrations: checking it
        // before they run would only report what they are about to add.
        info!(
            "dry run: the required schema is verified after the pending migrations run, so it \
             is not checked now"
        );
    } else if verify_after {
        interrupt::check("verifying the required schema")?;
        let results = verify(&mut s.client, &reqs, recovered)?;
        report.checks = checks_json(&results);
        report.verified = true;
        schema_outcome(&results)?;
    }
    Ok(())
}

/// Takes the lock, runs `body`, and releases the lock whatever the outcome. (If the process
/// dies instead, the server ends the session and frees the lock.)
/// If the opening exchange took the lock, `body` gets the tracking table as read right after.
fn with_lock<T>(
    s: &mut Session,
    cfg: &Config,
    body: impl FnOnce(&mut Client, &Table, Option<Preloaded>) -> Result<T>,
) -> Result<T> {
    let key = cfg.lock_key.unwrap_or_else(|| s.table.lock_key());
    let preloaded = if s.locked.take() == Some(key) {
        s.preloaded.take()
    } else {
        // Rows read without the lock may change before it is taken.
        s.preloaded = None;
        lock::acquire(&mut s.client, key, cfg.wait_for_lock)?;
        // The table as it is now that the lock is held: the pre-flight again, since the
        // session that held the lock may have created or changed it (the rows are read next).
        let seen = tracking::inspect_seen(&mut s.client, &s.table, s.access)?;
        let checked = match s.access {
            Some(access) => tracking::preflight(&s.table, &seen, access, &s.facts.role),
            None => Ok(Shape::Absent),
        };
        if let Err(e) = checked {
            let _ = lock::release(&mut s.client, key);
            return Err(e);
        }
        Some(Preloaded { seen, rows: None })
    };
    let result = body(&mut s.client, &s.table, preloaded);
    let released = lock::release(&mut s.client, key);
    match (result, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e),
        // The body's error is the one worth reporting.
        (Err(e), _) => Err(e),
    }
}

/// Loads the tracking rows (creating the table unless `read_only`).
fn load_applied(
    client: &mut Client,
    table: &Table,
    read_only: bool,
    preloaded: Option<Preloaded>,
) -> Result<Vec<AppliedRow>> {
    match read_table(client, table, preloaded)? {
        Some(rows) => Ok(rows),
        None if read_only => Ok(Vec::new()),
        None => {
            info!("creating the tracking table {}", table.qualified);
            tracking::create(client, table)?;
            Ok(Vec::new())
        }
    }
}

/// The tracking rows, or `None` when the table is absent: from what the opening exchange read
/// (no round trip) when it is given, else read now. A table of another shape is exit 6.
fn read_table(
    client: &mut Client,
    table: &Table,
    preloaded: Option<Preloaded>,
) -> Result<Option<Vec<AppliedRow>>> {
    let (shape, rows) = match preloaded {
        Some(p) => (tracking::shape(table, &p.seen)?, p.rows),
        None => (tracking::inspect(client, table)?, None),
    };
    match (shape, rows) {
        (Shape::Absent, _) => Ok(None),
        (Shape::Ours, Some(rows)) => tracking::load_text(rows, table).map(Some),
        (Shape::Ours, None) => tracking::load(client, table).map(Some),
    }
}

/// Integrity before any change (SPEC §5): drift, out of order, missing files.
fn check_integrity(plan: &Plan<'_>, cfg: &Config, table: &Table) -> Result<()> {
    let mut problems =
        plan.integrity_problems(cfg.allow_out_of_order, cfg.stamp_recovery, &table.qualified);
    problems.extend(plan.empty_folder_problem(&cfg.migrations_dir, &table.qualified));
    if !problems.is_empty() {
        return Err(Error::MigrationSet(problems));
    }
    for row in &plan.missing {
        warn!(
            "{} is recorded as applied but its file is not in {}: kept as history (a squashed or \
             renamed migration?); --no-stamp-recovery makes this an error",
            esc(&row.version),
            esc(&cfg.migrations_dir.display().to_string())
        );
    }
    Ok(())
}

/// The plan of an upgrade, checked before anything is applied: integrity (drift, out of
/// order, missing files) and the pending migrations' SQL (splitting, transaction control).
fn checked_plan<'a>(
    applied: &'a [AppliedRow],
    files: &'a [Migration],
    cfg: &Config,
    table: &Table,
) -> Result<Plan<'a>> {
    let plan = integral_plan(applied, files, cfg, table)?;
    check_contents(&plan, table)?;
    Ok(plan)
}

/// The plan, with its integrity checked (drift, out of order, missing files).
fn integral_plan<'a>(
    applied: &'a [AppliedRow],
    files: &'a [Migration],
    cfg: &Config,
    table: &Table,
) -> Result<Plan<'a>> {
    let plan = plan::plan(applied, files);
    check_integrity(&plan, cfg, table)?;
    Ok(plan)
}

/// The pending migrations' SQL, checked (splitting, transaction control).
fn check_contents(plan: &Plan<'_>, table: &Table) -> Result<()> {
    // Every pending migration is checked before the first is applied, so a broken file late in
    // the batch stops the run before any change. Each file is read here and read again when it
    // is applied (from the page cache, checksum verified): holding the SQL of the whole batch
    // in between would make memory grow with the number of pending migrations.
    let problems: Vec<SetProblem> = plan
        .pending
        .iter()
        .flat_map(|m| contents::check(m, table))
        .collect();
    if !problems.is_empty() {
        return Err(Error::MigrationSet(problems));
    }
    info!(
        "{} applied, {} pending",
        plan.applied.len(),
        plan.pending.len()
    );
    Ok(())
}

/// The live lint (§5.5) of the pending migrations, before anything is applied. With nothing
/// pending it does nothing at all: a no-op deploy does not even build the linter.
fn live_lint(
    client: &mut Client,
    plan: &Plan<'_>,
    cfg: &Config,
    server_version: &str,
    report: &mut RunReport,
) -> Result<()> {
    lint::live::gate(
        client,
        &plan.pending,
        &lint_gate(cfg, server_version),
        &mut report.findings,
    )
}

/// What the live lint weighs findings with; `server_version` is the number the opening
/// exchange read (`15.4`), which is what the rules and the log want.
fn lint_gate(cfg: &Config, server_version: &str) -> lint::live::Gate {
    lint::live::Gate {
        max_rows: cfg.lint_max_rows,
        strict: cfg.strict,
        server_version: server_version.to_string(),
    }
}

/// The upgrade step of `run` and `upgrade`. Returns whether stamp recovery was used.
fn upgrade(
    s: &mut Session,
    cfg: &Config,
    files: &[Migration],
    report: &mut RunReport,
) -> Result<bool> {
    if cfg.dry_run {
        output::marker("upgrade (verbose)");
        info!("dry run: no lock taken, nothing will be changed");
        let applied = load_applied(&mut s.client, &s.table, true, s.preloaded.take())?;
        let plan = checked_plan(&applied, files, cfg, &s.table)?;
        live_lint(&mut s.client, &plan, cfg, &s.facts.server_version, report)?;
        invalid_index::preflight(&mut s.client, &plan.pending)?;
        if applied.is_empty() && !plan.pending.is_empty() {
            let (names, total) = adopt::existing_objects(&mut s.client, &s.table)?;
            if total > 0 {
                info!(
                    "would adopt the existing schema ({total} object(s): {}): the pending \
                     migrations would be replayed all-or-nothing in one transaction",
                    names.join(", ")
                );
                if let Some(m) = plan.pending.iter().find(|m| m.no_transaction) {
                    warn!(
                        "{} is a no-transaction migration: a real run would refuse the adoption \
                         (exit 6) and suggest a `stamp --to`",
                        m.version
                    );
                }
            }
        }
        for m in &plan.pending {
            info!(
                "would apply {} ({}{})",
                m.version,
                m.path.display(),
                if m.no_transaction {
                    ", no transaction"
                } else {
                    ""
                }
            );
            report.applied.push(m.version.clone());
        }
        return Ok(false);
    }
    let settings = settings(cfg, &s.table);
    let version = s.facts.server_version.clone();
    with_lock(s, cfg, |client, table, preloaded| {
        output::marker("upgrade (verbose)");
        let gate = lint_gate(cfg, &version);
        apply_pending(
            client, table, preloaded, files, cfg, &settings, &gate, report,
        )
    })
}

/// The upgrade under the lock: the plan checked before anything changes, then an adoption
/// (SPEC §7) or the pending migrations one by one. Returns whether stamp recovery was used.
#[allow(clippy::too_many_arguments)]
fn apply_pending(
    client: &mut Client,
    table: &Table,
    preloaded: Option<Preloaded>,
    files: &[Migration],
    cfg: &Config,
    settings: &Settings,
    gate: &lint::live::Gate,
    report: &mut RunReport,
) -> Result<bool> {
    // Created below, or inside an adoption's transaction: a failed adoption must leave the
    // database exactly as it found it, without even an empty tracking table.
    let read = read_table(client, table, preloaded)?;
    let absent = read.is_none();
    let applied = read.unwrap_or_default();
    let plan = integral_plan(&applied, files, cfg, table)?;
    // The lint's CPU work (squawk parsing every pending file, ~10 ms for 200 on 2 cores) runs
    // while this thread checks the files' contents and the server answers the read-only
    // questions the apply asks anyway: what the database holds, and the session's settings
    // (SPEC §5.1). Both verdicts still come before anything changes.
    let (checked, linted, objects, baseline, invalid) = if plan.pending.is_empty() {
        (
            check_contents(&plan, table),
            Ok(Vec::new()),
            Ok((Vec::new(), 0)),
            None,
            Ok(()),
        )
    } else {
        std::thread::scope(|scope| {
            let lint =
                scope.spawn(|| lint::live::lint_pending(&plan.pending, &gate.server_version));
            let checked = check_contents(&plan, table);
            if checked.is_ok() {
                lint::live::announce(&plan.pending, gate);
            }
            let objects = if checked.is_err() {
                Ok((Vec::new(), 0))
            } else if applied.is_empty() {
                adopt::existing_objects(client, table)
            } else {
                Ok((Vec::new(), 0))
            };
            // Each migration starts with the session settings the run started with.
            let baseline = (checked.is_ok() && objects.is_ok()).then(|| Baseline::take(client));
            // An INVALID index a pending statement would skip.
            let invalid = if checked.is_ok() && objects.is_ok() {
                invalid_index::preflight(client, &plan.pending)
            } else {
                Ok(())
            };
            let linted = lint
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (checked, linted, objects, baseline, invalid)
        })
    };
    checked?;
    interrupt::check("linting the pending migrations")?;
    if !plan.pending.is_empty() {
        lint::live::judge_all(client, linted?, gate, &mut report.findings)?;
    }
    invalid?;
    let objects = objects?;
    let create_table = |client: &mut Client| -> Result<()> {
        info!("creating the tracking table {}", table.qualified);
        tracking::create(client, table)
    };
    if absent && objects.1 == 0 {
        create_table(client)?;
    }
    if plan.pending.is_empty() {
        info!("nothing to apply: the database is at head");
        return Ok(false);
    }
    // Each migration starts with the session settings the run started with (SPEC §5.1).
    let baseline = match baseline {
        Some(taken) => taken?,
        None => Baseline::take(client)?,
    };
    let mut recovered = false;
    if objects.1 > 0 {
        // An absent table is created, and its columns read, inside the adoption.
        let guarded = if absent {
            table.clone()
        } else {
            tracking::with_columns(client, table)?
        };
        let pending = &plan.pending;
        match adopt::adopt(
            client, &guarded, absent, pending, settings, &baseline, &objects,
        )? {
            Some(outcomes) => {
                for outcome in &outcomes {
                    recovered |= report_outcome(outcome, report);
                }
                // What a migration set for the session survives the replay's commit.
                baseline.restore(client, "the adoption replay", &[])?;
                return Ok(recovered);
            }
            None if absent => create_table(client)?,
            None => {}
        }
    }
    // From here on a row is only written while the table's columns are as found now, so that a
    // migration changing them through dynamic SQL is caught before it commits.
    let table = &tracking::with_columns(client, table)?;
    let mut prepared = Prepared::prepare(client, table, &baseline)?;
    let last = plan.pending.len();
    for (i, m) in plan.pending.iter().enumerate() {
        interrupt::check(&format!("about to apply {}", m.version))?;
        info!("→ {}", m.version);
        // The migration's SQL, its row, its commit and the check of the session it leaves.
        let outcome = apply::apply(client, table, m, settings, i + 1 == last, &mut prepared)?;
        recovered |= report_outcome(&outcome, report);
    }
    prepared.release(client);
    Ok(recovered)
}

/// How migrations (and rollbacks) are run.
fn settings(cfg: &Config, table: &Table) -> Settings {
    Settings {
        lock_timeout: cfg.lock_timeout,
        statement_timeout: cfg.statement_timeout,
        stamp_recovery: cfg.stamp_recovery,
        lock_key: cfg.lock_key.unwrap_or_else(|| table.lock_key()),
        lock_retries: cfg.lock_retries,
    }
}

/// `rollback --to VERSION` (SPEC §5.6): the session, the lock and the result; what is rolled
/// back and how is `rollback.rs`. Like `run`, the JSON result is printed on failure too, with
/// what was rolled back before it.
fn rollback(cfg: &Config, to: &str, out: &mut dyn Write) -> Result<()> {
    let started = Instant::now();
    // A bad --to is a usage error before anything connects.
    let target = Target::parse(to)?;
    let mut report = rollback::Report::default();
    let result = rollback_gate(cfg, &target, &mut report);
    match cfg.format {
        Format::Json => {
            let code = result.as_ref().err().map_or(0, |e| e.kind().code());
            let mut obj = json!({
                "ok": result.is_ok(),
                "exit_code": code,
                "dry_run": cfg.dry_run,
                "to": target.to_string(),
                "planned": report.planned,
                "rolled_back": report.rolled_back,
                "failed": report.failed,
                "duration_ms": started.elapsed().as_millis() as u64,
            });
            if let Err(e) = &result {
                obj["error"] = Value::String(e.to_string());
            }
            writeln!(out, "{obj}").map_err(write_error)?;
        }
        Format::Text if result.is_ok() => match &report.script {
            Some(sql) => out.write_all(sql.as_bytes()).map_err(write_error)?,
            None if report.rolled_back.is_empty() => writeln!(
                out,
                "nothing to roll back: no applied migration is newer than {target}"
            )
            .map_err(write_error)?,
            None => writeln!(
                out,
                "rolled back {} (to {target}): {}",
                report.rolled_back.len(),
                report.rolled_back.join(", ")
            )
            .map_err(write_error)?,
        },
        Format::Text => {}
    }
    result
}

fn rollback_gate(cfg: &Config, target: &Target, report: &mut rollback::Report) -> Result<()> {
    // A rollback writes: like `run`, its session refuses a standby or a read-only session.
    let want = if cfg.dry_run {
        Want::Read
    } else {
        Want::Lock(Access::Delete)
    };
    let mut s = open_checked(cfg, want, check_env(cfg)?)?;
    let files = rollback::files_beside(&cfg.migrations_dir);
    let settings = settings(cfg, &s.table);
    let body = |client: &mut Client,
                table: &Table,
                preloaded: Option<Preloaded>,
                report: &mut rollback::Report| {
        output::marker(if cfg.dry_run {
            "rollback (dry run)"
        } else {
            "rollback (verbose)"
        });
        // Read only: a rollback never creates the tracking table. Its shape as read under the
        // lock, when the opening or the lock's wait read it.
        let shape = match preloaded {
            Some(p) => tracking::shape(table, &p.seen)?,
            None => tracking::inspect(client, table)?,
        };
        let rows = match shape {
            Shape::Ours => tracking::load_rollbacks(client, table)?,
            Shape::Absent => Vec::new(),
        };
        let mut steps = rollback::plan(&rows, target, table)?;
        rollback::compare_with_files(&mut steps, &files);
        report.plan(&steps, cfg.dry_run);
        if steps.is_empty() {
            info!("nothing to roll back: no applied migration is newer than {target}");
        } else {
            let list: Vec<&str> = steps.iter().map(|s| s.version.as_str()).collect();
            info!(
                "{} applied, {} to roll back (newer than {target}), newest first: {}",
                rows.len(),
                steps.len(),
                list.join(", ")
            );
        }
        if cfg.dry_run {
            report.script = Some(rollback::script(&steps, table, &settings, target));
            return Ok(());
        }
        rollback::execute(client, table, &steps, &settings, target, report)
    };
    if cfg.dry_run {
        info!("dry run: no lock taken, nothing will be changed");
        let preloaded = s.preloaded.take();
        body(&mut s.client, &s.table, preloaded, report)
    } else {
        with_lock(&mut s, cfg, |client, table, preloaded| {
            body(client, table, preloaded, report)
        })
    }
}

/// Logs an applied migration and adds it to the report. Returns whether it was stamped.
fn report_outcome(outcome: &apply::Outcome, report: &mut RunReport) -> bool {
    info!("✓ {} ({} ms)", outcome.version, outcome.elapsed.as_millis());
    report.applied.push(outcome.version.clone());
    if outcome.stamped {
        warn!(
            "{} was recorded with stamped = true: {}",
            outcome.version,
            esc(outcome.note.as_deref().unwrap_or_default())
        );
        report.stamped.push(outcome.version.clone());
    }
    outcome.stamped
}

/// `status`: everything found, then exit 6 (invalid set), 9 (pending), 8 (a check fails) or 0.
fn status(cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let reqs = requirements(cfg)?;
    let (info, table, files) = offline_files(cfg)?;
    let mut s = open_checked(cfg, Want::Read, (info, table))?;
    let applied = load_applied(&mut s.client, &s.table, true, s.preloaded.take())?;
    let plan = plan::plan(&applied, &files);
    let mut problems = plan.integrity_problems(
        cfg.allow_out_of_order,
        cfg.stamp_recovery,
        &s.table.qualified,
    );
    problems.extend(plan.empty_folder_problem(&cfg.migrations_dir, &s.table.qualified));
    // The checks are part of the status result (stdout), not logged line by line.
    let results = schema::verify(&mut s.client, &reqs)?;
    match cfg.format {
        Format::Json => {
            let doc = StatusJson {
                facts: &s.facts,
                plan: &plan,
                problems: &problems,
                results: &results,
            };
            serde_json::to_writer(&mut *out, &doc).map_err(|e| write_error(e.into()))?;
            writeln!(out).map_err(write_error)?;
        }
        Format::Text => write_status_table(out, &s.facts, &s.table, cfg, &plan, &results)?,
    }
    if !problems.is_empty() {
        return Err(Error::MigrationSet(problems));
    }
    if !plan.pending.is_empty() {
        return Err(Error::Pending {
            count: plan.pending.len(),
        });
    }
    schema_outcome(&results)
}

/// `status --format json`: one object, serialized as it is walked — the applied rows (10,000
/// and more) are written one at a time, never held as a tree of values. Keys come in the
/// order serde_json gives a map's (sorted), as every other JSON object of the sentry.
struct StatusJson<'a> {
    facts: &'a Facts,
    plan: &'a Plan<'a>,
    problems: &'a [SetProblem],
    results: &'a [CheckResult],
}

/// The applied rows of [`StatusJson`], one small object each.
struct AppliedJson<'a>(&'a [(&'a AppliedRow, Option<&'a Migration>)]);

impl Serialize for AppliedJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (row, _) in self.0 {
            seq.serialize_element(&json!({
                "version": row.version,
                "applied_at": row.applied_at,
                "execution_time_ms": row.execution_time_ms,
                "checksum": row.checksum,
                "stamped": row.stamped,
                "note": row.note,
            }))?;
        }
        seq.end()
    }
}

impl Serialize for StatusJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let plan = self.plan;
        let versions = |ms: &[&Migration]| ms.iter().map(|m| m.version.clone()).collect::<Vec<_>>();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("applied", &AppliedJson(&plan.applied))?;
        m.serialize_entry("at_head", &plan.pending.is_empty())?;
        m.serialize_entry("checks", &checks_json(self.results))?;
        m.serialize_entry("current", &plan.current())?;
        m.serialize_entry("database", &self.facts.database)?;
        m.serialize_entry(
            "drifted",
            &plan
                .drifted
                .iter()
                .map(|d| d.migration.version.as_str())
                .collect::<Vec<_>>(),
        )?;
        m.serialize_entry("head", &plan.head())?;
        m.serialize_entry(
            "migrated",
            &(plan.is_migrated() && self.problems.is_empty() && self.results.iter().all(|r| r.ok)),
        )?;
        m.serialize_entry(
            "missing_files",
            &plan
                .missing
                .iter()
                .map(|r| r.version.as_str())
                .collect::<Vec<_>>(),
        )?;
        m.serialize_entry("out_of_order", &versions(&plan.out_of_order))?;
        m.serialize_entry("pending", &versions(&plan.pending))?;
        m.serialize_entry(
            "problems",
            &self
                .problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )?;
        m.end()
    }
}

fn write_status_table(
    out: &mut dyn Write,
    facts: &Facts,
    table: &Table,
    cfg: &Config,
    plan: &Plan<'_>,
    results: &[CheckResult],
) -> Result<()> {
    // Every cell is a value from the tracking table or the folder: escaped, so that a version
    // or a note holding a newline cannot add a line (or a marker) to the table. The cells are
    // made twice, once for the column widths and once to write them, rather than held: with
    // 10,000 applied migrations the table would be megabytes (issue #12's RSS target).
    let drift: BTreeMap<&str, &str> = plan
        .drifted
        .iter()
        .map(|d| (d.migration.version.as_str(), d.recorded.as_str()))
        .collect();
    let applied = plan.applied.iter().map(|(row, file)| {
        let (state, extra) = if let Some(recorded) = drift.get(row.version.as_str()) {
            let now = file.map(|m| m.checksum.as_str()).unwrap_or_default();
            (
                "DRIFTED",
                format!(
                    "checksum recorded {} ≠ file {}",
                    short(recorded),
                    short(now)
                ),
            )
        } else if file.is_none() {
            ("missing", "file not on disk (kept as history)".to_string())
        } else if row.stamped {
            (
                "stamped",
                esc(row.note.as_deref().unwrap_or_default()).into_owned(),
            )
        } else {
            ("applied", String::new())
        };
        [
            esc(&row.version).into_owned(),
            state.to_string(),
            format!("{} ({} ms)", esc(&row.applied_at), row.execution_time_ms),
            extra,
        ]
    });
    let pending = plan.pending.iter().map(|m| {
        let ooo = plan.out_of_order.iter().any(|o| o.version == m.version);
        [
            esc(&m.version).into_owned(),
            if ooo { "OUT-OF-ORDER" } else { "pending" }.to_string(),
            String::new(),
            String::new(),
        ]
    });
    let rows = || applied.clone().chain(pending.clone());
    let (mut w0, mut w1, mut w2) = (7, 5, 7);
    for r in rows() {
        w0 = w0.max(r[0].chars().count());
        w1 = w1.max(r[1].len());
        w2 = w2.max(r[2].chars().count());
    }
    let mut out = std::io::BufWriter::new(out);
    writeln!(
        out,
        "database {} · table {} · folder {}\n{:<w0$}  {:<w1$}  {:<w2$}  NOTE",
        esc(&facts.database),
        table.qualified,
        esc(&cfg.migrations_dir.display().to_string()),
        "VERSION",
        "STATE",
        "APPLIED",
    )
    .map_err(write_error)?;
    for r in rows() {
        let line = format!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
        writeln!(out, "{}", line.trim_end()).map_err(write_error)?;
    }
    writeln!(
        out,
        "current: {}  head: {}  pending: {}  drifted: {}  missing files: {}",
        esc(plan.current().unwrap_or("(none)")),
        esc(plan.head().unwrap_or("(none)")),
        plan.pending.len(),
        plan.drifted.len(),
        plan.missing.len()
    )
    .map_err(write_error)?;
    for r in results {
        writeln!(out, "{}", esc(&r.line())).map_err(write_error)?;
    }
    out.flush().map_err(write_error)
}

/// The first 12 characters of a checksum (read from the table: any text), escaped.
fn short(checksum: &str) -> String {
    let end = checksum
        .char_indices()
        .nth(12)
        .map_or(checksum.len(), |(i, _)| i);
    esc(&checksum[..end]).into_owned()
}

/// `stamp`: record pending migrations up to `to` as applied, without running them.
fn stamp(cfg: &Config, to: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let (info, table, files) = offline_files(cfg)?;
    let target = match to {
        None => None,
        Some(v) => Some(
            files
                .iter()
                .find(|m| m.version == v || m.number.to_string() == v.trim_start_matches('0'))
                .ok_or_else(|| {
                    Error::set(
                        SetProblem::general(format!(
                            "stamp --to {v}: no migration file with that version in {}",
                            cfg.migrations_dir.display()
                        ))
                        .with_hint("run `migration-sentry status` to see the versions"),
                    )
                })?
                .number,
        ),
    };
    let body = |client: &mut Client,
                table: &Table,
                preloaded: Option<Preloaded>,
                dry_run: bool|
     -> Result<Vec<String>> {
        let applied = load_applied(client, table, dry_run, preloaded)?;
        let plan = plan::plan(&applied, &files);
        check_integrity(&plan, cfg, table)?;
        let chosen: Vec<&Migration> = plan
            .pending
            .iter()
            .copied()
            .filter(|m| target.is_none_or(|t| m.number <= t))
            .collect();
        // Recording an empty migration would make the SQL written into it later look like
        // drift, and never run it (SPEC §5.2).
        let empty: Vec<SetProblem> = chosen.iter().filter_map(|m| contents::empty(m)).collect();
        if !empty.is_empty() {
            return Err(Error::MigrationSet(empty));
        }
        if dry_run {
            for m in &chosen {
                info!("would stamp {} (not executed)", m.version);
            }
            return Ok(chosen.iter().map(|m| m.version.clone()).collect());
        }
        let mut tx = client
            .transaction()
            .map_err(|e| Error::db("starting the stamp transaction", &e))?;
        for m in &chosen {
            let source = m.source()?;
            tracking::insert(
                &mut tx,
                table,
                &tracking::NewRow {
                    version: &m.version,
                    execution_time_ms: 0,
                    checksum: &m.checksum,
                    rollback_sql: source.down_sql.as_deref(),
                    stamped: true,
                    note: Some("stamped by `migration-sentry stamp`: recorded without running"),
                },
            )?;
            info!("stamped {}", m.version);
        }
        tx.commit()
            .map_err(|e| Error::db("committing the stamp", &e))?;
        Ok(chosen.iter().map(|m| m.version.clone()).collect())
    };
    let want = if cfg.dry_run {
        Want::Read
    } else {
        Want::Lock(Access::Insert)
    };
    let mut s = open_checked(cfg, want, (info, table))?;
    let stamped = if cfg.dry_run {
        let preloaded = s.preloaded.take();
        body(&mut s.client, &s.table, preloaded, true)?
    } else {
        with_lock(&mut s, cfg, |c, t, p| body(c, t, p, false))?
    };
    let verb = if cfg.dry_run {
        "would stamp"
    } else {
        "stamped"
    };
    emit(
        out,
        cfg.format,
        &format!("{verb} {}: {}", stamped.len(), stamped.join(", ")),
        json!({"ok": true, "dry_run": cfg.dry_run, "stamped": stamped}),
    )
}

/// `repair`: store the files' current checksums for drifted applied migrations.
fn repair(cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let (info, table, files) = offline_files(cfg)?;
    let mut s = open_checked(cfg, Want::Lock(Access::Update), (info, table))?;
    let repaired = with_lock(&mut s, cfg, |client, table, preloaded| {
        let applied = load_applied(client, table, false, preloaded)?;
        let plan = plan::plan(&applied, &files);
        let mut tx = client
            .transaction()
            .map_err(|e| Error::db("starting the repair transaction", &e))?;
        // An applied row recorded while its file held no SQL: accepting the SQL written since
        // would record as applied something that never ran.
        let never_ran: Vec<SetProblem> = plan
            .drifted
            .iter()
            .filter(|d| migrations::recorded_while_empty(&d.migration.version, &d.recorded))
            .map(|d| {
                SetProblem::file(
                    &d.migration.path,
                    format!(
                        "{} was recorded as applied while its file held no SQL (checksum {}): \
                         the SQL written into it since never ran, so repair will not accept it",
                        d.migration.version, d.recorded
                    ),
                )
                .with_hint(format!(
                    "delete its row (DELETE FROM {} WHERE version = '{}') so that the next run \
                     applies it",
                    table.qualified, d.migration.version
                ))
            })
            .collect();
        if !never_ran.is_empty() {
            return Err(Error::MigrationSet(never_ran));
        }
        let mut repaired = Vec::new();
        for d in &plan.drifted {
            let note = format!(
                "repaired: checksum {} replaced by {} (file reviewed and accepted)",
                d.recorded, d.migration.checksum
            );
            tracking::set_checksum(
                &mut tx,
                table,
                &d.migration.version,
                &d.migration.checksum,
                &note,
            )?;
            warn!("{} accepted as edited: {note}", d.migration.version);
            repaired.push(d.migration.version.clone());
        }
        tx.commit()
            .map_err(|e| Error::db("committing the repair", &e))?;
        for row in &plan.missing {
            info!(
                "{} has no file on disk: left as it is (repair deletes nothing)",
                row.version
            );
        }
        Ok(repaired)
    })?;
    emit(
        out,
        cfg.format,
        &format!("repaired {}: {}", repaired.len(), repaired.join(", ")),
        json!({"ok": true, "repaired": repaired}),
    )
}

/// `check`: offline validation of the folder, every migration's SQL (the sentry's own statement
/// checks, then squawk's lint), and the required schema.
fn check(cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let files = migrations::discover(&cfg.migrations_dir)?;
    // Offline: the tracking table's name as configured (an unqualified one is assumed to be
    // in `public` for references that name a schema).
    let table = Table::parse(&cfg.table)?;
    let problems: Vec<SetProblem> = files
        .iter()
        .flat_map(|m| contents::check(m, &table))
        .collect();
    let linted = lint::offline::lint(&files, cfg.lint_only.as_deref())?;
    if cfg.lint_only.is_some() {
        info!(
            "lint: {} of {} migrations linted (--lint-only); the others are not linted",
            linted.linted,
            files.len()
        );
    }
    let mut problems = problems;
    problems.extend(lint::offline::report(
        &linted.findings,
        cfg.strict,
        cfg.lint_max_rows,
    ));
    let findings: Vec<Value> = linted.findings.iter().map(lint::Finding::to_json).collect();
    let reqs = requirements(cfg);
    if !problems.is_empty() {
        if let Err(e) = &reqs {
            log::error!("{e}");
        }
        let err = Error::MigrationSet(problems);
        if cfg.format == Format::Json {
            let obj = json!({"ok": false, "exit_code": err.kind().code(), "error": err.to_string(),
                             "findings": findings, "linted": linted.linted});
            writeln!(out, "{obj}").map_err(write_error)?;
        }
        return Err(err);
    }
    let reqs = reqs?;
    info!(
        "{} migrations in {} are valid ({} linted, {} finding{}); {} required-schema checks parsed",
        files.len(),
        cfg.migrations_dir.display(),
        linted.linted,
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        reqs.len()
    );
    emit(
        out,
        cfg.format,
        &format!(
            "check OK: {} migrations, {} requirements, {} lint warning{}",
            files.len(),
            reqs.len(),
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        ),
        json!({"ok": true, "migrations": files.len(), "requirements": reqs.len(),
               "folder": cfg.migrations_dir.display().to_string(),
               "findings": findings, "linted": linted.linted}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reports_checks_only_when_they_ran() {
        let mut r = RunReport {
            applied: vec!["0002_b".into(), "0003_c".into()],
            stamped: vec!["0003_c".into()],
            ..RunReport::default()
        };
        // upgrade: no verification, no "0 checks passed".
        assert_eq!(r.summary(false), "applied 2, stamped 1");
        assert_eq!(r.summary(true), "would apply 2: 0002_b, 0003_c");
        r.verified = true;
        assert_eq!(
            r.summary(false),
            "applied 2, stamped 1, no required schema configured"
        );
        r.checks.insert("table public.t".into(), Value::Bool(true));
        assert_eq!(r.summary(false), "applied 2, stamped 1, 1 check passed");
        let nothing = RunReport::default();
        assert_eq!(nothing.summary(true), "would apply 0");
    }
}
