//! Connecting to PostgreSQL: TLS per `sslmode`, the connect timeout, `--wait` retries, and the
//! classification of every connection failure into something an on-call engineer can act on
//! (exit 4). Also the server facts that `ping` and `run` print. What each `sslmode` means is
//! [`tls`]'s. The driver's error texts are never printed raw: they are classified, and the
//! detail that is shown goes through [`output::external`] (scrubbed of the password, escaped).

use std::io::ErrorKind;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use postgres::config::SslMode as PgSslMode;
use postgres::{Client, NoTls, SimpleQueryRow};

use crate::conninfo::{ConnInfo, PasswordSource, SslMode};
use crate::error::{Error, Result, io_kind};
use crate::output;
use crate::pooler;
use crate::tls::{self, Tls};

/// The first delay between `--wait` attempts; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Client-side TCP keepalive: first probe after 10 s of silence, then every 5 s, 3 tries.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent and not acknowledged for this long ends the connection (Linux TCP_USER_TIMEOUT).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server keeps an orphaned session of the sentry: idle in a transaction
/// (`idle_in_transaction_session_timeout`), or idle while it waits for or holds the advisory
/// lock (`idle_session_timeout`, set by `lock`). The sentry itself never idles for more than a
/// round trip, so only a killed or cut-off sentry's session is ended by these.
pub const SERVER_CLEANUP: Duration = Duration::from_secs(30);

/// The watchdog bound when `--connect-timeout` is 0.
const DEFAULT_WATCHDOG: Duration = Duration::from_secs(20);

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
    /// `pg_is_in_recovery()`: a hot standby.
    pub in_recovery: bool,
    /// `transaction_read_only` is on (a standby, or `default_transaction_read_only`).
    pub read_only: bool,
    /// `current_user`, for the GRANT of a privilege error.
    pub role: String,
    /// The session's TCP endpoints as the server sees them (none over a unix socket).
    pub endpoints: Option<pooler::Endpoints>,
    /// The [`CLEANUP`] settings' values, in order (`None`: the server has no such setting).
    pub cleanup: Vec<Option<String>>,
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
    connect_link(info, connect_timeout, wait).map(|(client, _)| client)
}

/// What it takes to open more connections to the same server: the controller's cancel
/// requests and probes (see `interrupt`), and the pooler check.
#[derive(Clone)]
pub struct Link {
    info: ConnInfo,
    tls: (Tls, PgSslMode),
    timeout: Duration,
}

/// [`connect`], also returning the [`Link`] to the same server.
pub fn connect_link(
    info: &ConnInfo,
    connect_timeout: Duration,
    wait: Duration,
) -> Result<(Client, Link)> {
    // Built once for every attempt; a bad sslrootcert is an environment error (exit 3).
    let tls = tls::connector(info)?;
    let link = Link {
        info: info.clone(),
        tls: tls.clone(),
        timeout: connect_timeout,
    };
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
                return Ok((client, link));
            }
            Err(f) => {
                crate::interrupt::check("connecting")?;
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
                    crate::interrupt::sleep(pause, "waiting for the database to accept")?;
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
            let text = output::external(notice.message());
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
        config.password(p.expose());
    }
    if let Some(o) = &info.options {
        config.options(o);
    }
    if !timeout.is_zero() {
        config.connect_timeout(timeout);
    }
    // A dead peer (host gone, cable cut) is noticed within about a minute in every phase:
    // keepalive probes on an idle socket, and tcp_user_timeout for data sent but never
    // acknowledged. (A proxy that keeps TCP alive but forwards nothing is the watchdog's job:
    // see `interrupt`.)
    config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES)
        .tcp_user_timeout(TCP_USER_TIMEOUT);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(match tls {
            Tls::Plain => config.connect(NoTls),
            Tls::Rustls(tls) => config.connect(tls),
        });
    });
    // A little slack so that the driver's own, more precise, error wins when it fires. The
    // wait is sliced so that a signal or --timeout is not held up by a hanging connect.
    let limit = (!timeout.is_zero()).then(|| Instant::now() + timeout + Duration::from_millis(250));
    let outcome = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(result) => break Some(result),
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if crate::interrupt::stopping() || limit.is_some_and(|l| Instant::now() >= l) {
                    break None;
                }
            }
        }
    };
    if crate::interrupt::stopping() {
        return Err(Failure {
            reason: "interrupted while connecting".into(),
            hint: String::new(),
            transient: false,
        });
    }
    match outcome {
        Some(Ok(client)) => Ok(client),
        Some(Err(e)) => Err(classify(&e, info, timeout)),
        None => Err(Failure {
            reason: format!(
                "connect timeout: no answer from {}:{} within {} ms (TCP connected, but the \
                 TLS handshake or startup never completed)",
                output::esc(&info.host),
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

/// What to do about a pg_hba.conf refusal (28000), saying only what the message proves. The
/// server adds "no encryption" to every refusal of a plaintext connection, so that alone does
/// not mean TLS would be accepted:
/// - a line that *rejects* plaintext (`hostnossl … reject`) means TLS is required;
/// - *no line* for a plaintext connection after sslmode prefer/allow means the server offered
///   no TLS at all, so TLS cannot be the fix;
/// - *no line* with sslmode=disable: either TLS is required or the user is not allowed at all.
fn pg_hba_hint(msg: &str, sslmode: SslMode) -> &'static str {
    let plaintext = msg.contains("no encryption") || msg.contains("SSL off");
    let rejected = msg.contains("rejects connection");
    let no_entry = msg.contains("no pg_hba.conf entry");
    let tried_tls = !matches!(sslmode, SslMode::Disable);
    if plaintext && rejected {
        "pg_hba.conf rejects this user/host without encryption, so the server wants TLS: set \
         sslmode=require (or verify-full with sslrootcert)"
    } else if plaintext && no_entry && !tried_tls {
        "no pg_hba.conf line allows this user, database and client address without \
         encryption: if the server accepts them over TLS, set sslmode=require; otherwise the \
         database owner has to allow them (or the user or database name is wrong)"
    } else {
        "no pg_hba.conf line allows this user, database and client address: the database \
         owner has to allow them, or the user or database name is wrong"
    }
}

/// Turns a driver error into a reason and a fix, without its raw text.
fn classify(err: &postgres::Error, info: &ConnInfo, timeout: Duration) -> Failure {
    // The host comes from DATABASE_URL, percent-decoded: escaped onto one line.
    let at = format!("{}:{}", output::esc(&info.host), info.port);
    if let Some(db) = err.as_db_error() {
        let msg = output::external(db.message());
        let code = db.code().code();
        return match code {
            // The server's text adds nothing to the SQLSTATE here, and leaving it out keeps
            // the line the same whatever the password is.
            "28P01" => Failure {
                reason: format!("password authentication failed for user {:?}", info.user),
                hint: "check the user and password in DATABASE_URL (on Render, copy the \
                       database's connection string again)"
                    .into(),
                transient: false,
            },
            "28000" => Failure {
                reason: format!("the server rejected the connection: {msg}"),
                hint: pg_hba_hint(&msg, info.sslmode).into(),
                transient: false,
            },
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
    let text = output::external(&chain_text(err));
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
    if let Some(failure) = tls::failure(err) {
        let (what, hint) = match failure {
            tls::Failure::HostName => (
                format!(
                    "the server certificate does not match the host name {:?}",
                    info.host
                ),
                "connect with the host name the certificate was issued for, or use \
                 sslmode=verify-ca to check the chain only",
            ),
            tls::Failure::Untrusted => (
                "the server certificate is not trusted (its CA is not in sslrootcert or the \
                 system store)"
                    .to_string(),
                "set sslrootcert=/path/to/ca.pem to the CA that signed the server's \
                 certificate, or use sslmode=require to encrypt without verifying",
            ),
            tls::Failure::Other => (
                format!("the TLS handshake failed ({text})"),
                "check sslmode and sslrootcert against the server's TLS setup",
            ),
        };
        return Failure {
            reason: format!("TLS failure with {at}: {what}"),
            hint: hint.into(),
            transient: false,
        };
    }
    if lower.contains("password missing") {
        let tried = match &info.sources.password {
            PasswordSource::None { tried } if !tried.is_empty() => format!(", and {tried}"),
            _ => String::new(),
        };
        return Failure {
            reason: format!(
                "the server asks for a password for user {:?}, but DATABASE_URL has none, \
                 PGPASSWORD is not set{tried}",
                info.user
            ),
            hint: "add the password to DATABASE_URL (postgresql://USER:PASSWORD@HOST/DB), or \
                   put it in a password file (~/.pgpass or PGPASSFILE, mode 0600)"
                .into(),
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

/// The server facts, as one statement without parameters (the first of the opening message,
/// see `opening`).
///
/// A new backend pays for every catalog entry a query makes it look up (a function, an
/// operator, a cast, a view's rule), about a millisecond for a handful: the TLS columns come
/// from `pg_stat_get_activity` for this backend (not the `pg_stat_ssl` view, whose rule and
/// scan of every backend cost more), and the [`CLEANUP`] settings' values are read here, as
/// text, so that the statement that sets them is decided by the sentry (see [`cleanup_sql`]).
pub const FACTS_SQL: &str = "SELECT current_database(), current_setting('server_version'), \
     pg_backend_pid(), s.ssl, s.sslversion, pg_is_in_recovery(), \
     current_setting('transaction_read_only'), current_user, \
     host(inet_client_addr()), inet_client_port(), host(inet_server_addr()), inet_server_port(), \
     current_setting('idle_in_transaction_session_timeout', true), \
     current_setting('idle_session_timeout', true), \
     current_setting('client_connection_check_interval', true), \
     current_setting('tcp_keepalives_idle', true), \
     current_setting('tcp_keepalives_interval', true), \
     current_setting('tcp_keepalives_count', true), \
     current_setting('tcp_user_timeout', true) \
     FROM (SELECT 1) AS one LEFT JOIN pg_stat_get_activity(pg_backend_pid()) s ON true";

/// The column of [`FACTS_SQL`] where the [`CLEANUP`] settings' values start, in that order.
const CLEANUP_COLUMN: usize = 12;

/// The settings, this session only, with which the server cleans up after a sentry that cannot
/// (SPEC §5.7), and their values: a session left idle in a transaction — holding a migration's
/// locks — or idle at all while it waits for or holds the advisory lock is ended after
/// [`SERVER_CLEANUP`]; a running statement is aborted within 5 s of the client's socket closing
/// (`client_connection_check_interval`); the server's own TCP keepalives notice a dead client
/// host. Each value is in the setting's base unit, followed by that unit per second (1000 for
/// milliseconds, 1 for seconds or no unit).
const CLEANUP: [(&str, u128, u32); 7] = [
    (
        "idle_in_transaction_session_timeout",
        SERVER_CLEANUP.as_millis(),
        1000,
    ),
    ("idle_session_timeout", SERVER_CLEANUP.as_millis(), 1000),
    ("client_connection_check_interval", 5000, 1000),
    ("tcp_keepalives_idle", 10, 1),
    ("tcp_keepalives_interval", 5, 1),
    ("tcp_keepalives_count", 3, 1),
    ("tcp_user_timeout", 30000, 1000),
];

/// One statement that sets the [`CLEANUP`] settings when `condition` (SQL) holds, or `None`
/// when none needs it. `shown` holds their values as the facts read them ([`Facts::cleanup`]):
/// only settings the server has are set (`idle_session_timeout` and
/// `client_connection_check_interval` are PostgreSQL 14+), and a stricter value the server or
/// role already has is kept.
///
/// The values are compared here rather than in SQL: a `pg_settings` read builds all 350-odd
/// settings (about 1 ms), and parsing them on the server (a regular expression, casts to
/// `numeric` and `interval`) cost a new backend nearly a millisecond of catalog look-ups on the
/// deploy's hot path (issue #12). SHOW's text is a plain number in the base unit (`0`, or what
/// the TCP settings' show hooks print), or a number with a unit (`30s`, `5min`, `100ms`).
///
/// It travels in the opening message that takes the advisory lock (`opening::second`), guarded
/// like the lock by the backend pid: whatever path the lock is then held on — taken at once,
/// or polled for by `lock::acquire` — the server already knows to end the session if the
/// sentry vanishes, with no round trip of its own and no gap between the lock and the settings.
pub fn cleanup_sql(condition: &str, shown: &[Option<String>]) -> Option<String> {
    let sets: Vec<String> = CLEANUP
        .iter()
        .zip(shown)
        .filter_map(|((name, value, per_second), shown)| {
            let shown = shown.as_deref()?;
            let keep = base_units(shown, *per_second)
                .is_some_and(|current| current >= 1.0 && current <= *value as f64);
            (!keep).then(|| format!("set_config('{name}', '{value}', false)"))
        })
        .collect();
    (!sets.is_empty()).then(|| format!("SELECT {} WHERE ({condition})", sets.join(", ")))
}

/// SHOW's text of a time setting (`0`, `7200`, `30s`, `5min`, `100ms`, `1h`, `2d`) in the
/// setting's base unit, of which there are `per_second` in a second; `None` if unreadable.
fn base_units(shown: &str, per_second: u32) -> Option<f64> {
    let shown = shown.trim();
    let digits = shown
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(shown.len());
    let number: f64 = shown[..digits].parse().ok()?;
    let seconds = match shown[digits..].trim() {
        "" => return Some(number),
        "us" => number / 1_000_000.0,
        "ms" => number / 1000.0,
        "s" => number,
        "min" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        _ => return None,
    };
    Some(seconds * f64::from(per_second))
}

/// The statement that puts the [`CLEANUP`] settings back to their defaults when `condition`
/// holds: for a backend that turned out to be shared through a pooler, where they must not
/// outlive the sentry.
pub fn cleanup_reset_sql(condition: &str) -> String {
    let names = CLEANUP
        .iter()
        .map(|(name, _, _)| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT set_config(name, reset_val, false) FROM pg_settings \
         WHERE name IN ({names}) AND ({condition})"
    )
}

/// The sessions `pid` waits for (`pg_blocking_pids`), described; state and query show only for
/// the sentry's own role (or with pg_read_all_stats).
fn blocking(client: &mut Client, pid: i32) -> Option<String> {
    let rows = client
        .query(
            "SELECT b.pid, coalesce(x.state, 'state not visible to this role'), \
                    coalesce(extract(epoch FROM now() - x.xact_start)::int8, -1), \
                    coalesce(left(regexp_replace(x.query, '\\s+', ' ', 'g'), 120), '') \
             FROM unnest(pg_blocking_pids($1)) AS b(pid) \
             LEFT JOIN pg_stat_activity x ON x.pid = b.pid ORDER BY x.xact_start NULLS LAST",
            &[&pid],
        )
        .ok()?;
    let described: Vec<String> = rows
        .iter()
        .map(|r| {
            let state: String = r.get(1);
            let query: String = r.get(3);
            crate::interrupt::describe_blocker(r.get(0), &state, r.get(2), &query)
        })
        .collect();
    (!described.is_empty()).then(|| described.join("; "))
}

impl Link {
    /// One more connection to the same server (one attempt, no `--wait`).
    pub fn another(&self) -> std::result::Result<Client, String> {
        connect_once(&self.info, self.tls.clone(), self.timeout).map_err(|f| f.reason)
    }

    /// How long a round trip that must be quick may take before the connection is judged
    /// silent: twice `--connect-timeout`, between 5 s and 60 s (20 s when it is 0).
    pub fn watchdog(&self) -> Duration {
        if self.timeout.is_zero() {
            DEFAULT_WATCHDOG
        } else {
            (self.timeout * 2).clamp(Duration::from_secs(5), Duration::from_secs(60))
        }
    }

    /// What the interrupt controller needs for `client`, whose backend is `pid`: a cancel
    /// request (the driver's token, over the same TLS) and a probe on a new connection.
    pub fn session(&self, client: &Client, pid: i32) -> crate::interrupt::Session {
        let token = client.cancel_token();
        let tls = self.tls.0.clone();
        let probe_link = self.clone();
        crate::interrupt::Session {
            cancel: Box::new(move || {
                let sent = match &tls {
                    Tls::Plain => token.cancel_query(NoTls),
                    Tls::Rustls(t) => token.cancel_query(t.clone()),
                };
                match sent {
                    Ok(()) => debug!("cancel request sent for backend {pid}"),
                    Err(e) => debug!(
                        "cancel request for backend {pid} failed: {}",
                        output::external(&chain_text(&e))
                    ),
                }
            }),
            probe: Box::new(move || probe_link.probe(pid)),
            watchdog: self.watchdog(),
        }
    }

    fn probe(&self, pid: i32) -> crate::interrupt::Probe {
        use crate::interrupt::Probe;
        let mut client = match self.another() {
            Ok(c) => c,
            Err(why) => {
                return Probe::Unreachable(format!(
                    "a second connection to the server failed too ({why})"
                ));
            }
        };
        match client.query_opt(
            "SELECT state, wait_event_type FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        ) {
            Ok(None) => Probe::NotRunning(format!(
                "the server says our backend (pid {pid}) is gone: it ended the session"
            )),
            Ok(Some(row)) => match row.get::<_, Option<String>>(0).as_deref() {
                Some("active") if row.get::<_, Option<String>>(1).as_deref() == Some("Lock") => {
                    match blocking(&mut client, pid) {
                        Some(who) => Probe::Blocked(who),
                        None => Probe::Running,
                    }
                }
                // NULL: not allowed to see it; assume the best.
                None | Some("active") => Probe::Running,
                Some(state) => Probe::NotRunning(format!(
                    "the server says our backend (pid {pid}) is {state}: it finished, and its \
                     reply never arrived"
                )),
            },
            Err(e) => Probe::Unreachable(format!(
                "a second connection could not ask the server ({})",
                output::external(&chain_text(&e))
            )),
        }
    }

    /// The pooler check of writing commands (SPEC §5.4, see [`pooler`]): the server's view of
    /// the session is this process's own socket, or else a second client connection is not
    /// served by the first one's backend.
    pub fn refuse_pooler(&self, facts: &Facts) -> Result<()> {
        if let Some(seen) = &facts.endpoints
            && pooler::proven_direct(seen)
        {
            debug!(
                "pooler check: the server sees this process's own socket ({} -> {}): direct",
                seen.0, seen.1
            );
            return Ok(());
        }
        crate::interrupt::tick("checking for a connection pooler");
        let mut other = match self.another() {
            Ok(c) => c,
            Err(why) => {
                // Not evidence of pooling (max_connections, say): say so and go on.
                warn!("pooler check: a second connection could not be opened ({why})");
                return Ok(());
            }
        };
        crate::interrupt::tick("checking for a connection pooler");
        pooler::refuse_shared_backend(facts, &mut other)
    }
}

impl Facts {
    /// The facts from [`FACTS_SQL`]'s row; `latency` is the round trip that brought it.
    pub fn parse(row: Option<&SimpleQueryRow>, latency: Duration) -> Result<Facts> {
        let row =
            row.ok_or_else(|| Error::Internal("the server facts query returned no row".into()))?;
        let get = |i: usize| row.get(i).unwrap_or_default().to_string();
        let version = get(1);
        let tls = get(3) == "t";
        Ok(Facts {
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
            in_recovery: get(5) == "t",
            read_only: get(6) == "on",
            role: get(7),
            endpoints: pooler::endpoints((&get(8), &get(9)), (&get(10), &get(11))),
            cleanup: (0..CLEANUP.len())
                .map(|i| row.get(CLEANUP_COLUMN + i).map(str::to_string))
                .collect(),
        })
    }

    /// The SQL condition that holds only on the backend the facts came from: a statement
    /// guarded by it does nothing if a pooler has moved the session (SPEC §5.4).
    pub fn same_backend_sql(&self) -> String {
        format!("pg_backend_pid() = {}", self.backend_pid)
    }

    /// The marker line's summary: `mdraft, PostgreSQL 15.4, TLS, 11 ms`.
    pub fn summary(&self) -> String {
        format!(
            "{}, PostgreSQL {}, {}, {} ms",
            output::esc(&self.database),
            self.server_version,
            if self.tls { "TLS" } else { "no TLS" },
            self.latency.as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_settings_are_set_unless_already_stricter() {
        assert_eq!(base_units("0", 1000), Some(0.0));
        assert_eq!(base_units("30s", 1000), Some(30_000.0));
        assert_eq!(base_units("5min", 1), Some(300.0));
        assert_eq!(base_units("100ms", 1000), Some(100.0));
        assert_eq!(base_units("7200", 1), Some(7200.0));
        assert_eq!(base_units("2h", 1), Some(7200.0));
        assert_eq!(base_units("soon", 1), None);
        let all_default: Vec<Option<String>> = vec![Some("0".into()); 7];
        let sql = cleanup_sql("pg_backend_pid() = 7", &all_default).unwrap();
        assert!(
            sql.starts_with(
                "SELECT set_config('idle_in_transaction_session_timeout', '30000', false), "
            ),
            "{sql}"
        );
        assert!(sql.ends_with(" WHERE (pg_backend_pid() = 7)"), "{sql}");
        assert_eq!(sql.matches("set_config(").count(), 7, "{sql}");
        // Stricter already (10 s idle in transaction, 2 s keepalive idle), looser (1 h), or
        // absent (PostgreSQL 13 has no idle_session_timeout): kept, set, skipped.
        let mixed = vec![
            Some("10s".into()),
            None,
            Some("1h".into()),
            Some("2".into()),
            Some("5".into()),
            Some("3".into()),
            Some("30s".into()),
        ];
        let sql = cleanup_sql("true", &mixed).unwrap();
        assert_eq!(
            sql,
            "SELECT set_config('client_connection_check_interval', '5000', false) WHERE (true)"
        );
        let strict: Vec<Option<String>> = ["10s", "10s", "1s", "2", "2", "2", "1s"]
            .iter()
            .map(|v| Some(v.to_string()))
            .collect();
        assert_eq!(cleanup_sql("true", &strict), None);
    }

    #[test]
    fn a_pg_hba_refusal_suggests_tls_only_when_the_message_says_so() {
        let reject = "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"x\", \
                      database \"d\", no encryption";
        let none = "no pg_hba.conf entry for host \"127.0.0.1\", user \"x\", database \"d\", \
                    no encryption";
        let none_tls = "no pg_hba.conf entry for host \"127.0.0.1\", user \"x\", database \"d\", \
                        SSL encryption";
        assert!(pg_hba_hint(reject, SslMode::Disable).contains("the server wants TLS"));
        // No line for plaintext with sslmode=disable: TLS might help, or nothing will.
        let h = pg_hba_hint(none, SslMode::Disable);
        assert!(h.contains("if the server accepts them over TLS") && h.contains("database owner"));
        // After prefer, a plaintext connection means the server offered no TLS: not the fix.
        for mode in [SslMode::Prefer, SslMode::Allow] {
            let h = pg_hba_hint(none, mode);
            assert!(!h.contains("TLS") && h.contains("database owner"), "{h}");
        }
        assert!(!pg_hba_hint(none_tls, SslMode::Require).contains("sslmode"));
    }
}
