//! Connecting to PostgreSQL: TLS per `sslmode`, the connect timeout, `--wait` retries, and the
//! classification of every connection failure into something an on-call engineer can act on
//! (exit 4). Also the server facts that `ping` and `run` print.
//!
//! tokio-postgres itself knows only disable/prefer/require and rejects `verify-ca`,
//! `verify-full` and `sslrootcert`; libpq's meaning of each is rebuilt here on the native-tls
//! connector. The driver's error texts are never printed raw: they are classified, and the
//! detail that is shown goes through [`redact::scrub`].

use std::io::ErrorKind;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use native_tls::{Certificate, TlsConnector};
use postgres::config::SslMode as PgSslMode;
use postgres::{Client, NoTls, SimpleQueryMessage};
use postgres_native_tls::MakeTlsConnector;

use crate::conninfo::{ConnInfo, SslMode};
use crate::error::{Error, Result, io_kind};
use crate::redact;

/// The first delay between `--wait` attempts; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// What `ping` learns about the server.
#[derive(Debug, Clone)]
pub struct Facts {
    pub database: String,
    /// e.g. `15.4`.
    pub server_version: String,
    pub tls: bool,
    /// e.g. `TLSv1.3`, when TLS is in use.
    pub tls_version: Option<String>,
    /// Round trip of one query.
    pub latency: Duration,
    pub backend_pid: i32,
}

/// How a connection is made: plaintext, or TLS through native-tls.
#[derive(Clone)]
pub enum Tls {
    Plain,
    Native(MakeTlsConnector),
}

/// Reads and parses `sslrootcert` (exit 3 when unreadable or not PEM). Used by check-env,
/// which must not pay for setting up TLS.
pub fn root_certificate(info: &ConnInfo) -> Result<Option<Certificate>> {
    let Some(path) = &info.sslrootcert else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::env(format!(
            "sslrootcert {} cannot be read: {e}",
            path.display()
        ))
    })?;
    Certificate::from_pem(&pem).map(Some).map_err(|_| {
        Error::env(format!(
            "sslrootcert {} is not a PEM certificate",
            path.display()
        ))
    })
}

/// Builds the connector for `info.sslmode` and the mode to hand the driver.
pub fn tls_connector(info: &ConnInfo) -> Result<(Tls, PgSslMode)> {
    // libpq: with a root certificate file, require behaves as verify-ca.
    let mode = match (info.sslmode, &info.sslrootcert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (m, _) => m,
    };
    if mode == SslMode::Disable {
        return Ok((Tls::Plain, PgSslMode::Disable));
    }
    let mut builder = TlsConnector::builder();
    let verify = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull);
    if let Some(cert) = root_certificate(info)? {
        builder.add_root_certificate(cert);
    }
    // libpq trusts only sslrootcert when it is given, and a mode that does not verify needs
    // no store at all: loading the system store costs tens of milliseconds per run.
    if info.sslrootcert.is_some() || !verify {
        builder.disable_built_in_roots(true);
    }
    let pg_mode = match mode {
        // `allow` (plain first, TLS if refused) has no driver equivalent; prefer is the
        // closest and never less secure.
        SslMode::Disable => unreachable!("returned Tls::Plain above"),
        SslMode::Allow | SslMode::Prefer => {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
            PgSslMode::Prefer
        }
        SslMode::Require => {
            // libpq's require encrypts but does not verify.
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
            PgSslMode::Require
        }
        SslMode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
            PgSslMode::Require
        }
        SslMode::VerifyFull => PgSslMode::Require,
    };
    let connector = builder
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the TLS connector: {e}")))?;
    Ok((Tls::Native(MakeTlsConnector::new(connector)), pg_mode))
}

/// A failed attempt, classified.
struct Failure {
    reason: String,
    hint: String,
    /// Worth retrying under `--wait`: refused, timeout, starting up.
    transient: bool,
}

/// Connects, retrying transient failures with backoff for at most `wait`.
pub fn connect(info: &ConnInfo, connect_timeout: Duration, wait: Duration) -> Result<Client> {
    // Built once for every attempt; a bad sslrootcert is an environment error (exit 3).
    let tls = tls_connector(info)?;
    let started = Instant::now();
    let deadline = started + wait;
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1u32;
    loop {
        match connect_once(info, tls.clone(), connect_timeout) {
            Ok(client) => {
                if attempt > 1 {
                    info!(
                        "database accepted the connection after {} ms ({attempt} attempts)",
                        started.elapsed().as_millis()
                    );
                }
                return Ok(client);
            }
            Err(f) => {
                let now = Instant::now();
                if f.transient && now < deadline {
                    let pause = backoff.min(deadline - now);
                    info!(
                        "database not ready ({}); retrying in {} ms (attempt {attempt}, \
                         waited {} ms of --wait {} ms)",
                        f.reason,
                        pause.as_millis(),
                        started.elapsed().as_millis(),
                        wait.as_millis()
                    );
                    thread::sleep(pause);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt += 1;
                    continue;
                }
                let mut hint = f.hint;
                if f.transient && wait.is_zero() {
                    hint.push_str(
                        "; if the database is still starting, --wait 60s (SENTRY_WAIT) retries",
                    );
                }
                return Err(Error::Unreachable {
                    target: info.redacted.clone(),
                    reason: f.reason,
                    hint,
                });
            }
        }
    }
}

/// One attempt. The driver's own timeout covers only the TCP connect; the attempt runs on a
/// thread so that a server that accepts but never answers (TLS or startup hang) is also
/// bounded by `connect_timeout`.
fn connect_once(
    info: &ConnInfo,
    (tls, mode): (Tls, PgSslMode),
    timeout: Duration,
) -> std::result::Result<Client, Failure> {
    let mut config = postgres::Config::new();
    config
        .user(&info.user)
        .dbname(&info.dbname)
        .port(info.port)
        .ssl_mode(mode)
        .application_name(
            info.application_name
                .as_deref()
                .unwrap_or("migration-sentry"),
        )
        .notice_callback(|notice| {
            let text = redact::scrub(notice.message());
            if matches!(notice.severity(), "WARNING") {
                warn!("server WARNING: {text}");
            } else {
                debug!("server {}: {text}", notice.severity());
            }
        });
    if info.host.starts_with('/') {
        config.host_path(&info.host);
    } else {
        config.host(&info.host);
    }
    if let Some(p) = &info.password {
        config.password(p);
    }
    if let Some(o) = &info.options {
        config.options(o);
    }
    if !timeout.is_zero() {
        config.connect_timeout(timeout);
    }
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(match tls {
            Tls::Plain => config.connect(NoTls),
            Tls::Native(tls) => config.connect(tls),
        });
    });
    let outcome = if timeout.is_zero() {
        rx.recv().ok()
    } else {
        // A little slack so that the driver's own, more precise, error wins when it fires.
        rx.recv_timeout(timeout + Duration::from_millis(250)).ok()
    };
    match outcome {
        Some(Ok(client)) => Ok(client),
        Some(Err(e)) => Err(classify(&e, info, timeout)),
        None => Err(Failure {
            reason: format!(
                "connect timeout: no answer from {}:{} within {} ms (TCP connected, but the \
                 TLS handshake or startup never completed)",
                info.host,
                info.port,
                timeout.as_millis()
            ),
            hint: "is something other than PostgreSQL listening on that port, or is the server \
                   overloaded? raise --connect-timeout if the network is slow"
                .into(),
            transient: true,
        }),
    }
}

/// Turns a driver error into a reason and a fix, without its raw text.
fn classify(err: &postgres::Error, info: &ConnInfo, timeout: Duration) -> Failure {
    let at = format!("{}:{}", info.host, info.port);
    if let Some(db) = err.as_db_error() {
        let msg = redact::scrub(db.message());
        let code = db.code().code();
        return match code {
            "28P01" => Failure {
                reason: format!("authentication failed for user {:?}: {msg}", info.user),
                hint: "check the user and password in DATABASE_URL (on Render, copy the \
                       database's connection string again)"
                    .into(),
                transient: false,
            },
            "28000" => {
                let tls_hint = if msg.contains("no encryption") || msg.contains("SSL off") {
                    "the server only accepts TLS connections for this user/host: set \
                     sslmode=require (or verify-full with sslrootcert)"
                } else {
                    "the server's pg_hba.conf rejects this user/host/database combination: \
                     ask the database owner, or check the user and database names"
                };
                Failure {
                    reason: format!("the server rejected the connection: {msg}"),
                    hint: tls_hint.into(),
                    transient: false,
                }
            }
            "3D000" => Failure {
                reason: format!("database {:?} does not exist on {at}", info.dbname),
                hint: "create it (createdb) or fix the database name at the end of \
                       DATABASE_URL"
                    .into(),
                transient: false,
            },
            "57P03" | "53300" => Failure {
                reason: format!("the server is not accepting connections yet: {msg}"),
                hint: "the database is starting up, shutting down, or full; retry with --wait"
                    .into(),
                transient: true,
            },
            _ => Failure {
                reason: format!("the server refused the connection: {msg} (SQLSTATE {code})"),
                hint: "check the user's privileges (CONNECT on the database) and the URL".into(),
                transient: false,
            },
        };
    }
    let text = redact::scrub(&chain_text(err));
    debug!("driver error (scrubbed): {text}");
    let lower = text.to_lowercase();
    if let Some(io) = io_kind(err) {
        match io {
            ErrorKind::ConnectionRefused => {
                return Failure {
                    reason: format!("connection refused by {at}"),
                    hint: "nothing listens there: is the server running, and are the host and \
                           port right?"
                        .into(),
                    transient: true,
                };
            }
            ErrorKind::TimedOut => {
                return timeout_failure(&at, timeout);
            }
            _ => {}
        }
    }
    if lower.contains("lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
        || lower.contains("name resolution")
        || lower.contains("nodename nor servname")
    {
        return Failure {
            reason: format!("unknown host {:?}: the name does not resolve", info.host),
            hint: "check the host name in DATABASE_URL (on Render, the internal host name only \
                   resolves inside the same region)"
                .into(),
            transient: false,
        };
    }
    if lower.starts_with("timeout") || lower.contains("timed out") {
        return timeout_failure(&at, timeout);
    }
    if lower.contains("server does not support tls")
        || lower.contains("server does not support ssl")
    {
        return Failure {
            reason: format!(
                "TLS failure: the server at {at} does not support TLS, but sslmode={} requires it",
                info.sslmode.as_str()
            ),
            hint: "enable ssl on the server, or (only on a trusted private network) use \
                   sslmode=prefer or disable"
                .into(),
            transient: false,
        };
    }
    if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
        let (what, hint) = if lower.contains("hostname mismatch")
            || lower.contains("ip address mismatch")
            || lower.contains("host name")
        {
            (
                format!(
                    "the server certificate does not match the host name {:?}",
                    info.host
                ),
                "connect with the host name the certificate was issued for, or use \
                 sslmode=verify-ca to check the chain only",
            )
        } else if lower.contains("certificate verify failed")
            || lower.contains("self-signed")
            || lower.contains("self signed")
            || lower.contains("unable to get local issuer")
        {
            (
                "the server certificate is not trusted (its CA is not in sslrootcert or the \
                 system store)"
                    .to_string(),
                "set sslrootcert=/path/to/ca.pem to the CA that signed the server's \
                 certificate, or use sslmode=require to encrypt without verifying",
            )
        } else {
            (
                format!("the TLS handshake failed ({text})"),
                "check sslmode and sslrootcert against the server's TLS setup",
            )
        };
        return Failure {
            reason: format!("TLS failure with {at}: {what}"),
            hint: hint.into(),
            transient: false,
        };
    }
    if lower.contains("password missing") {
        return Failure {
            reason: format!(
                "the server asks for a password for user {:?}, but DATABASE_URL has none",
                info.user
            ),
            hint: "add the password to DATABASE_URL (postgresql://USER:PASSWORD@HOST/DB)".into(),
            transient: false,
        };
    }
    if lower.contains("authentication") || lower.contains("scram") {
        return Failure {
            reason: format!("authentication failed for user {:?}: {text}", info.user),
            hint: "check the user and password in DATABASE_URL".into(),
            transient: false,
        };
    }
    if err.is_closed() || lower.contains("connection reset") || lower.contains("unexpected eof") {
        return Failure {
            reason: format!("the server at {at} closed the connection during startup ({text})"),
            hint: "the server may be restarting (retry with --wait), or something other than \
                   PostgreSQL listens on that port"
                .into(),
            transient: true,
        };
    }
    Failure {
        reason: format!("cannot connect to {at}: {text}"),
        hint: "check host, port and network access to the database".into(),
        transient: false,
    }
}

fn timeout_failure(at: &str, timeout: Duration) -> Failure {
    Failure {
        reason: format!(
            "connect timeout: {at} did not answer within {} ms",
            timeout.as_millis()
        ),
        hint: "a firewall may be dropping packets, or the host is wrong; raise \
               --connect-timeout if the network is slow"
            .into(),
        transient: true,
    }
}

/// The error and all its sources, `outer: inner: innermost` (the driver's Display stops at
/// its own kind, e.g. "error connecting to server", hiding the useful part).
fn chain_text(err: &postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Reads the server facts in one round trip, then checks in a second transaction that the
/// backend stayed the same: a transaction-pooling PgBouncer hands each transaction to another
/// backend, which makes a session advisory lock meaningless (SPEC §5).
pub fn facts(client: &mut Client) -> Result<Facts> {
    let started = Instant::now();
    let rows = client
        .simple_query(
            "SELECT current_database(), current_setting('server_version'), pg_backend_pid(), \
             s.ssl, s.version \
             FROM (SELECT 1) AS one LEFT JOIN pg_stat_ssl s ON s.pid = pg_backend_pid()",
        )
        .map_err(|e| Error::db("reading server facts", &e))?;
    let latency = started.elapsed();
    let row = rows
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .ok_or_else(|| Error::Internal("the server facts query returned no row".into()))?;
    let get = |i: usize| row.get(i).unwrap_or_default().to_string();
    let version = get(1);
    let tls = get(3) == "t";
    let facts = Facts {
        database: get(0),
        server_version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        tls,
        tls_version: if tls {
            row.get(4).map(str::to_string)
        } else {
            None
        },
        latency,
        backend_pid: get(2).parse().unwrap_or(0),
    };
    let again = client
        .simple_query("SELECT pg_backend_pid()")
        .map_err(|e| Error::db("checking for a connection pooler", &e))?;
    let pid: i32 = again
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .unwrap_or(facts.backend_pid);
    if pid != facts.backend_pid {
        return Err(Error::env(format!(
            "DATABASE_URL goes through a transaction-pooling connection pooler (PgBouncer): \
             two transactions ran on different server backends ({} then {pid}), so a session \
             advisory lock cannot protect the migration. Use the database's direct connection \
             string (on Render: the Internal Database URL, not connectionPoolString)",
            facts.backend_pid
        )));
    }
    Ok(facts)
}

impl Facts {
    /// The marker line's summary: `mdraft, PostgreSQL 15.4, TLS, 11 ms`.
    pub fn summary(&self) -> String {
        format!(
            "{}, PostgreSQL {}, {}, {} ms",
            self.database,
            self.server_version,
            if self.tls { "TLS" } else { "no TLS" },
            self.latency.as_millis()
        )
    }
}
