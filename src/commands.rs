//! The commands of SPEC §1, each a short composition of the core modules. Logs go to stderr
//! through `log`; results (tables, JSON) go to `out`, which is stdout in the binary.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use log::{info, warn};
use postgres::Client;
use serde_json::{Value, json};

use crate::apply::{self, Settings};
use crate::config::{Command, Config, Format, SchemaSource};
use crate::connect::{self, Facts};
use crate::conninfo::{self, ConnInfo};
use crate::error::{Error, Result, SetProblem};
use crate::migrations::{self, Migration};
use crate::plan::{self, AppliedRow, Plan};
use crate::schema::{self, CheckResult, Requirement};
use crate::tracking::{self, Shape, Table};
use crate::{lock, output, redact};

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
            Err(p) => {
                problems.extend(p);
                None
            }
        },
    };
    problems.extend(conninfo::check_required_env(&cfg.require_env));
    let table = match Table::parse(&cfg.table) {
        Ok(t) => Some(t),
        Err(Error::Env(p)) => {
            problems.extend(p);
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(Err(Error::Env(p))) = info.as_ref().map(connect::root_certificate) {
        problems.extend(p);
    }
    match (info, table) {
        (Some(info), Some(table)) if problems.is_empty() => {
            let mut names = vec!["DATABASE_URL".to_string()];
            names.extend(cfg.require_env.iter().cloned());
            info!("env OK: {}", names.join(", "));
            info!("DB (redacted): {}", info.redacted);
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
    /// The tracking table, validated by check-env.
    table: Table,
}

/// check-env, connect (with `--wait`), read the server facts, refuse a transaction pooler.
fn open(cfg: &Config) -> Result<Session> {
    let (info, table) = check_env(cfg)?;
    let mut client = connect::connect(&info, cfg.connect_timeout, cfg.wait)?;
    let facts = connect::facts(&mut client)?;
    info!("DB OK: {}", facts.summary());
    Ok(Session {
        info,
        client,
        facts,
        table,
    })
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
            facts.database,
            facts.server_version,
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
            Err(msg) => problems.push(format!("--require {spec:?}: {msg}")),
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
            info!("{}", r.line());
        } else {
            log::error!("{}", r.line());
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
            "duration_ms": started.elapsed().as_millis() as u64,
            "dry_run": cfg.dry_run,
        });
        if let Err(e) = &result {
            obj["error"] = Value::String(e.to_string());
        }
        writeln!(out, "{obj}").map_err(write_error)?;
    } else if result.is_ok() {
        let what = if cfg.dry_run {
            "would apply"
        } else {
            "applied"
        };
        writeln!(
            out,
            "{what} {}, stamped {}, {} checks passed",
            report.applied.len(),
            report.stamped.len(),
            report.checks.len()
        )
        .map_err(write_error)?;
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
    let mut s = open(cfg)?;
    let files = migrations::discover(&cfg.migrations_dir)?;
    let recovered = upgrade(&mut s, cfg, &files, report)?;
    if verify_after {
        let results = verify(&mut s.client, &reqs, recovered)?;
        report.checks = checks_json(&results);
        schema_outcome(&results)?;
    }
    Ok(())
}

/// Takes the lock, runs `body`, and releases the lock whatever the outcome. (If the process
/// dies instead, the server ends the session and frees the lock.)
fn with_lock<T>(
    s: &mut Session,
    cfg: &Config,
    body: impl FnOnce(&mut Client, &Table) -> Result<T>,
) -> Result<T> {
    let key = cfg.lock_key.unwrap_or_else(|| s.table.lock_key());
    lock::acquire(&mut s.client, key, cfg.wait_for_lock)?;
    let result = body(&mut s.client, &s.table);
    let released = lock::release(&mut s.client, key);
    match (result, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e),
        // The body's error is the one worth reporting.
        (Err(e), _) => Err(e),
    }
}

/// Loads the tracking rows (creating the table unless `read_only`).
fn load_applied(client: &mut Client, table: &Table, read_only: bool) -> Result<Vec<AppliedRow>> {
    match tracking::inspect(client, table)? {
        Shape::Ours => tracking::load(client, table),
        Shape::Absent if read_only => Ok(Vec::new()),
        Shape::Absent => {
            info!("creating the tracking table {}", table.qualified);
            tracking::create(client, table)?;
            Ok(Vec::new())
        }
    }
}

/// Integrity before any change (SPEC §5): drift, out of order, missing files.
fn check_integrity(plan: &Plan<'_>, cfg: &Config, table: &Table) -> Result<()> {
    let problems =
        plan.integrity_problems(cfg.allow_out_of_order, cfg.stamp_recovery, &table.qualified);
    if !problems.is_empty() {
        return Err(Error::MigrationSet(problems));
    }
    for row in &plan.missing {
        warn!(
            "{} is recorded as applied but its file is not in {}: kept as history (a squashed or \
             renamed migration?); --no-stamp-recovery makes this an error",
            row.version,
            cfg.migrations_dir.display()
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
    let plan = plan::plan(applied, files);
    check_integrity(&plan, cfg, table)?;
    // Every pending migration is linted before the first is applied, so a broken file late in
    // the batch stops the run before any change. Each file is read here and read again when it
    // is applied (from the page cache, checksum verified): holding the SQL of the whole batch
    // in between would make memory grow with the number of pending migrations.
    let problems: Vec<SetProblem> = plan.pending.iter().flat_map(|m| apply::lint(m)).collect();
    if !problems.is_empty() {
        return Err(Error::MigrationSet(problems));
    }
    info!(
        "{} applied, {} pending",
        plan.applied.len(),
        plan.pending.len()
    );
    Ok(plan)
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
        let applied = load_applied(&mut s.client, &s.table, true)?;
        let plan = checked_plan(&applied, files, cfg, &s.table)?;
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
    let settings = Settings {
        lock_timeout: cfg.lock_timeout,
        statement_timeout: cfg.statement_timeout,
        stamp_recovery: cfg.stamp_recovery,
    };
    with_lock(s, cfg, |client, table| {
        output::marker("upgrade (verbose)");
        let applied = load_applied(client, table, false)?;
        let plan = checked_plan(&applied, files, cfg, table)?;
        let mut recovered = false;
        let last = plan.pending.len();
        for (i, m) in plan.pending.iter().enumerate() {
            info!("→ {}", m.version);
            let outcome = apply::apply(client, table, m, &settings, i + 1 == last)?;
            info!("✓ {} ({} ms)", m.version, outcome.elapsed.as_millis());
            report.applied.push(m.version.clone());
            if outcome.stamped {
                recovered = true;
                warn!(
                    "{} was recorded with stamped = true: {}",
                    m.version,
                    outcome.note.as_deref().unwrap_or_default()
                );
                report.stamped.push(m.version.clone());
            }
        }
        if last == 0 {
            info!("nothing to apply: the database is at head");
        }
        Ok(recovered)
    })
}

/// `status`: everything found, then exit 6 (invalid set), 9 (pending), 8 (a check fails) or 0.
fn status(cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let reqs = requirements(cfg)?;
    let mut s = open(cfg)?;
    let files = migrations::discover(&cfg.migrations_dir)?;
    let applied = load_applied(&mut s.client, &s.table, true)?;
    let plan = plan::plan(&applied, &files);
    let problems = plan.integrity_problems(
        cfg.allow_out_of_order,
        cfg.stamp_recovery,
        &s.table.qualified,
    );
    // The checks are part of the status result (stdout), not logged line by line.
    let results = schema::verify(&mut s.client, &reqs)?;
    match cfg.format {
        Format::Json => {
            let obj = status_json(&s.facts, &plan, &problems, &results);
            writeln!(out, "{obj}").map_err(write_error)?;
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

fn status_json(
    facts: &Facts,
    plan: &Plan<'_>,
    problems: &[SetProblem],
    results: &[CheckResult],
) -> Value {
    let applied: Vec<Value> = plan
        .applied
        .iter()
        .map(|(row, _)| {
            json!({
                "version": row.version,
                "applied_at": row.applied_at,
                "execution_time_ms": row.execution_time_ms,
                "checksum": row.checksum,
                "stamped": row.stamped,
                "note": row.note,
            })
        })
        .collect();
    json!({
        "migrated": plan.is_migrated() && problems.is_empty() && results.iter().all(|r| r.ok),
        "database": facts.database,
        "current": plan.current(),
        "head": plan.head(),
        "at_head": plan.pending.is_empty(),
        "applied": applied,
        "pending": plan.pending.iter().map(|m| m.version.clone()).collect::<Vec<_>>(),
        "drifted": plan.drifted.iter().map(|d| d.migration.version.clone()).collect::<Vec<_>>(),
        "missing_files": plan.missing.iter().map(|r| r.version.clone()).collect::<Vec<_>>(),
        "out_of_order": plan.out_of_order.iter().map(|m| m.version.clone()).collect::<Vec<_>>(),
        "checks": checks_json(results),
        "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })
}

fn write_status_table(
    out: &mut dyn Write,
    facts: &Facts,
    table: &Table,
    cfg: &Config,
    plan: &Plan<'_>,
    results: &[CheckResult],
) -> Result<()> {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let drift: BTreeMap<&str, &str> = plan
        .drifted
        .iter()
        .map(|d| (d.migration.version.as_str(), d.recorded.as_str()))
        .collect();
    for (row, file) in &plan.applied {
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
            ("stamped", row.note.clone().unwrap_or_default())
        } else {
            ("applied", String::new())
        };
        rows.push([
            row.version.clone(),
            state.to_string(),
            format!("{} ({} ms)", row.applied_at, row.execution_time_ms),
            extra,
        ]);
    }
    for m in &plan.pending {
        let ooo = plan.out_of_order.iter().any(|o| o.version == m.version);
        rows.push([
            m.version.clone(),
            if ooo { "OUT-OF-ORDER" } else { "pending" }.to_string(),
            String::new(),
            String::new(),
        ]);
    }
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(7).max(7);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(5).max(5);
    let w2 = rows
        .iter()
        .map(|r| r[2].chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut text = format!(
        "database {} · table {} · folder {}\n{:<w0$}  {:<w1$}  {:<w2$}  NOTE\n",
        facts.database,
        table.qualified,
        cfg.migrations_dir.display(),
        "VERSION",
        "STATE",
        "APPLIED",
    );
    for r in &rows {
        let line = format!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str(&format!(
        "current: {}  head: {}  pending: {}  drifted: {}  missing files: {}\n",
        plan.current().unwrap_or("(none)"),
        plan.head().unwrap_or("(none)"),
        plan.pending.len(),
        plan.drifted.len(),
        plan.missing.len()
    ));
    for r in results {
        text.push_str(&r.line());
        text.push('\n');
    }
    out.write_all(text.as_bytes()).map_err(write_error)
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

/// `stamp`: record pending migrations up to `to` as applied, without running them.
fn stamp(cfg: &Config, to: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let mut s = open(cfg)?;
    let files = migrations::discover(&cfg.migrations_dir)?;
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
    let body = |client: &mut Client, table: &Table, dry_run: bool| -> Result<Vec<String>> {
        let applied = load_applied(client, table, dry_run)?;
        let plan = plan::plan(&applied, &files);
        check_integrity(&plan, cfg, table)?;
        let chosen: Vec<&Migration> = plan
            .pending
            .iter()
            .copied()
            .filter(|m| target.is_none_or(|t| m.number <= t))
            .collect();
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
    let stamped = if cfg.dry_run {
        body(&mut s.client, &s.table, true)?
    } else {
        with_lock(&mut s, cfg, |c, t| body(c, t, false))?
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
    let mut s = open(cfg)?;
    let files = migrations::discover(&cfg.migrations_dir)?;
    let repaired = with_lock(&mut s, cfg, |client, table| {
        let applied = load_applied(client, table, false)?;
        let plan = plan::plan(&applied, &files);
        let mut tx = client
            .transaction()
            .map_err(|e| Error::db("starting the repair transaction", &e))?;
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

/// `check`: offline validation of the folder, every migration's SQL, and the required schema.
fn check(cfg: &Config, out: &mut dyn Write) -> Result<()> {
    let files = migrations::discover(&cfg.migrations_dir)?;
    let problems: Vec<SetProblem> = files.iter().flat_map(apply::lint).collect();
    let reqs = requirements(cfg);
    if !problems.is_empty() {
        if let Err(e) = &reqs {
            log::error!("{e}");
        }
        return Err(Error::MigrationSet(problems));
    }
    let reqs = reqs?;
    info!(
        "{} migrations in {} are valid; {} required-schema checks parsed",
        files.len(),
        cfg.migrations_dir.display(),
        reqs.len()
    );
    emit(
        out,
        cfg.format,
        &format!(
            "check OK: {} migrations, {} requirements",
            files.len(),
            reqs.len()
        ),
        json!({"ok": true, "migrations": files.len(), "requirements": reqs.len(), "folder": cfg.migrations_dir.display().to_string()}),
    )
}
