//! The commands of SPEC §1, each a short composition of the core modules. Logs go to stderr
//! through `log`; results go to `out` (stdout in the binary).

use std::io::Write;

use log::info;
use serde_json::json;

use crate::config::{Command, Config, Format};
use crate::connect::{self, Facts};
use crate::conninfo::{self, ConnInfo};
use crate::error::{Error, Result};
use crate::output;
use crate::redact;

/// Runs one command.
pub fn execute(cmd: &Command, cfg: &Config, out: &mut dyn Write) -> Result<()> {
    if !matches!(cmd, Command::New { .. }) {
        output::starting();
    }
    match cmd {
        Command::CheckEnv => {
            let info = check_env(cfg)?;
            match cfg.format {
                Format::Text => writeln!(out, "environment OK: {}", info.redacted),
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"ok": true, "database_url": info.redacted, "required_env": cfg.require_env})
                ),
            }
            .map_err(write_error)?;
        }
        Command::Ping => {
            let (info, mut client) = connect(cfg)?;
            let facts = connect::facts(&mut client)?;
            info!("DB OK: {}", facts.summary());
            print_ping(&info, &facts, cfg.format, out)?;
        }
        _ => {
            return Err(Error::Internal(format!(
                "the {} command is not built yet",
                cmd.name()
            )));
        }
    }
    if !matches!(cmd, Command::New { .. }) {
        output::marker("success");
    }
    Ok(())
}

/// Whether the command writes its own JSON object even when it fails (status and run do, as
/// their object carries the failure); for the others `main` prints `{ok:false,…}`.
pub fn prints_own_json(_cmd: &Command) -> bool {
    false
}

fn write_error(e: std::io::Error) -> Error {
    Error::Internal(format!("cannot write the result to stdout: {e}"))
}

/// `check-env`: the URL and the required variables, every problem at once, no network.
pub fn check_env(cfg: &Config) -> Result<ConnInfo> {
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
    if let Some(info) = &info {
        if let Err(Error::Env(p)) = connect::tls_connector(info) {
            problems.extend(p);
        }
    }
    match info {
        Some(info) if problems.is_empty() => {
            let mut names = vec!["DATABASE_URL".to_string()];
            names.extend(cfg.require_env.iter().cloned());
            info!("env OK: {}", names.join(", "));
            info!("DB (redacted): {}", info.redacted);
            redact::set_target(&info.redacted);
            Ok(info)
        }
        _ => Err(Error::Env(problems)),
    }
}

/// check-env, then connect (with `--wait`) and read the server facts.
fn connect(cfg: &Config) -> Result<(ConnInfo, postgres::Client)> {
    let info = check_env(cfg)?;
    let client = connect::connect(&info, cfg.connect_timeout, cfg.wait)?;
    Ok((info, client))
}

fn print_ping(info: &ConnInfo, facts: &Facts, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Text => writeln!(
            out,
            "target:   {}\ndatabase: {}\nserver:   PostgreSQL {}\ntls:      {}\nlatency:  {} ms",
            info.redacted,
            facts.database,
            facts.server_version,
            match (&facts.tls, &facts.tls_version) {
                (true, Some(v)) => format!("yes ({v})"),
                (true, None) => "yes".to_string(),
                _ => "no".to_string(),
            },
            facts.latency.as_millis()
        ),
        Format::Json => writeln!(
            out,
            "{}",
            json!({
                "ok": true,
                "target": info.redacted,
                "database": facts.database,
                "server_version": facts.server_version,
                "tls": facts.tls,
                "tls_version": facts.tls_version,
                "latency_ms": facts.latency.as_millis() as u64,
            })
        ),
    }
    .map_err(write_error)
}
