//! `DATABASE_URL`: parsing and validation before any network use (SPEC §8), completed from
//! libpq's environment, and the environment checks of `check-env`.
//!
//! Both `postgres[ql]://` URLs and libpq `key=value` strings are parsed here into a
//! [`ConnInfo`]; the driver never sees the raw string, so none of its parse errors (which can
//! echo part of the password) can reach the output. Every problem is collected, not just the
//! first. The password is held in a [`Secret`] from the moment it is found, and the string is
//! shown only through [`redact::redact_url`]; a value echoed in a problem goes through
//! [`output::echo`].
//!
//! As libpq does, a string without a password takes it from `PGPASSWORD`, then from the
//! password file ([`crate::passfile`]); one without a user name takes `PGUSER`, then the OS
//! user. [`Sources`] records which was used, for the log (never the value).

use std::ffi::CStr;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::output::{self, echo};
use crate::passfile::{self, Lookup};
use crate::redact::{self, Secret};

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed, validated connection target. Neither `Debug` nor any field shows the password.
#[derive(Clone)]
pub struct ConnInfo {
    pub user: String,
    pub password: Option<Secret>,
    /// A host name, an IP address, or a unix-socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: Option<String>,
    pub options: Option<String>,
    /// The connection string with the password masked, escaped onto one line, for every
    /// message.
    pub redacted: String,
    /// Where the user name and the password came from.
    pub sources: Sources,
}

impl std::fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnInfo")
            .field("target", &self.redacted)
            .finish()
    }
}

/// Where the user name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSource {
    ConnString,
    PgUser,
    OsUser,
}

/// Where the password came from — never the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    ConnString,
    PgPassword,
    File {
        path: PathBuf,
        line: usize,
    },
    /// No password anywhere: what was tried, for the error if the server asks for one.
    None {
        tried: String,
    },
}

/// Which libpq sources completed the connection string, and the warnings they raised (a
/// password file readable by others).
#[derive(Debug, Clone)]
pub struct Sources {
    pub user: UserSource,
    pub password: PasswordSource,
    pub warnings: Vec<String>,
}

impl Sources {
    /// The log line naming the sources, when anything came from outside the connection
    /// string. Names only: never a password.
    pub fn summary(&self, user: &str) -> Option<String> {
        let user_part = match self.user {
            UserSource::ConnString => None,
            UserSource::PgUser => Some(format!("user {} from PGUSER", output::esc(user))),
            UserSource::OsUser => Some(format!(
                "user {} from the operating system (no user in DATABASE_URL, PGUSER not set)",
                output::esc(user)
            )),
        };
        let password_part = match &self.password {
            PasswordSource::ConnString => None,
            PasswordSource::PgPassword => Some("password from PGPASSWORD".to_string()),
            PasswordSource::File { path, line } => Some(format!(
                "password from the password file {} (line {line})",
                output::esc(&path.display().to_string())
            )),
            PasswordSource::None { .. } => None,
        };
        match (user_part, password_part) {
            (None, None) => None,
            (Some(u), None) => Some(u),
            (None, Some(p)) => Some(p),
            (Some(u), Some(p)) => Some(format!("{u}; {p}")),
        }
    }
}

/// The environment libpq completes a connection string from (SPEC §8).
#[derive(Debug, Clone, Default)]
pub struct LibpqEnv {
    pub pguser: Option<String>,
    pub pgpassword: Option<String>,
    pub pgpassfile: Option<String>,
    pub home: Option<PathBuf>,
    pub os_user: Option<String>,
    /// Ask the system for the account (`getpwuid`) when the user name or the home directory is
    /// needed and not known otherwise. Only then: the lookup reads nsswitch.conf and
    /// /etc/passwd, which a run whose URL names the user and whose `HOME` is set never needs.
    pub look_up_account: bool,
}

impl LibpqEnv {
    /// This process's environment; its account is looked up only if needed.
    pub fn from_process() -> LibpqEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        LibpqEnv {
            pguser: var("PGUSER"),
            pgpassword: var("PGPASSWORD"),
            pgpassfile: var("PGPASSFILE"),
            home: var("HOME").map(PathBuf::from),
            os_user: None,
            look_up_account: true,
        }
    }

    /// The operating system user's name.
    fn os_user(&self) -> Option<String> {
        self.os_user
            .clone()
            .or_else(|| self.look_up_account.then(os_account).flatten().map(|a| a.0))
    }

    /// The home directory: libpq prefers `$HOME`, then the account's.
    fn home(&self) -> Option<PathBuf> {
        self.home
            .clone()
            .or_else(|| self.look_up_account.then(os_account).flatten().map(|a| a.1))
    }
}

/// The effective user's name and home directory, as libpq finds them (`getpwuid`).
fn os_account() -> Option<(String, PathBuf)> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `pwd` and `buf` outlive the call and `buf.len()` is their real size;
    // getpwuid_r writes only into them, and on success `pw_name`/`pw_dir` point into `buf`
    // as NUL-terminated strings, which are copied before `buf` is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        let name = CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned();
        let dir = if pwd.pw_dir.is_null() {
            PathBuf::new()
        } else {
            PathBuf::from(CStr::from_ptr(pwd.pw_dir).to_string_lossy().into_owned())
        };
        Some((name, dir))
    }
}

/// Parameters accepted in a URL query string or a key=value string. Anything else is a
/// problem, so that `sslmod=require` does not silently connect without TLS.
const KNOWN_PARAMS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "application_name",
    "options",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "target_session_attrs",
];

const ENCODE_HINT: &str =
    "if the password contains @ : / ? # % & or spaces, percent-encode it (e.g. # as %23)";

/// Why a connection string is unusable: every problem found, and the redacted target when the
/// string could be read far enough to show one (so the user sees which URL is meant; it is
/// context, not one more problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub problems: Vec<String>,
    pub target: Option<String>,
}

impl From<Vec<String>> for Invalid {
    fn from(problems: Vec<String>) -> Self {
        Invalid {
            problems,
            target: None,
        }
    }
}

/// How much of a connection string is shown.
const TARGET_MAX_CHARS: usize = 500;

/// Parses and validates a connection string, completed from this process's environment. On
/// failure, returns every problem found.
pub fn parse(raw: &str) -> Result<ConnInfo, Invalid> {
    parse_in(raw, &LibpqEnv::from_process())
}

/// [`parse`] against an explicit environment.
pub fn parse_in(raw: &str, env: &LibpqEnv) -> Result<ConnInfo, Invalid> {
    let mut problems = Vec::new();
    if raw.is_empty() {
        return Err(vec!["DATABASE_URL is empty".to_string()].into());
    }
    let mut text = raw;
    if text.trim() != text {
        problems.push(
            "DATABASE_URL has leading or trailing whitespace (often a stray newline pasted into \
             the dashboard): remove it"
                .to_string(),
        );
        text = text.trim();
    }
    for q in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            problems.push(format!(
                "DATABASE_URL is wrapped in {q}quotes{q}: remove them (dashboards and env files \
                 keep them literally)"
            ));
            text = &text[1..text.len() - 1];
        }
    }
    if text.is_empty() {
        problems.push("DATABASE_URL is empty".into());
        return Err(problems.into());
    }
    let parsed = if text.contains("://") {
        parse_url(text, env, &mut problems)
    } else if text.contains('=') {
        parse_keyword_value(text, env, &mut problems)
    } else {
        problems.push(
            "DATABASE_URL is neither a postgres:// URL nor a libpq key=value string \
             (expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
                .into(),
        );
        None
    };
    match parsed {
        Some(info) if problems.is_empty() => Ok(info),
        Some(info) => Err(Invalid {
            problems,
            target: Some(info.redacted),
        }),
        None => Err(problems.into()),
    }
}

/// Fields collected from either syntax before validation.
#[derive(Default)]
struct Fields {
    user: Option<String>,
    password: Option<Secret>,
    host: Option<String>,
    port: Option<String>,
    dbname: Option<String>,
    params: Vec<(String, String)>,
}

fn parse_url(text: &str, env: &LibpqEnv, problems: &mut Vec<String>) -> Option<ConnInfo> {
    let scheme_end = text.find("://").unwrap_or(0);
    let scheme = &text[..scheme_end];
    if scheme != "postgres" && scheme != "postgresql" {
        let readable = scheme.len() <= 20
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let shown = if readable {
            format!("{scheme:?}")
        } else {
            "(unreadable)".into()
        };
        problems.push(format!(
            "DATABASE_URL scheme is {shown}: it must be postgres:// or postgresql://"
        ));
        return None;
    }
    // libpq URIs are not WHATWG URLs (a raw '@' or '/' in a password is common, several
    // hosts may be listed), and a URL parser stops at the first error where every problem
    // must be listed: so the parts are split here and each is checked. The userinfo ends at
    // the last '@' — a raw '@', '/' or '#' in a password is malformed but common — which is
    // also where `redact::redact_url` looks for the password, so nothing of it is ever taken
    // for a host or a port and echoed.
    let rest = &text[scheme_end + 3..];
    let (userinfo, after) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let mut fields = Fields::default();
    if let Some(info) = userinfo {
        let (user, password) = match info.find(':') {
            Some(i) => (&info[..i], Some(&info[i + 1..])),
            None => (info, None),
        };
        if let Some(written) = password {
            // An empty password is no password, as in libpq.
            fields.password = decode_part(written, "password", problems)
                .filter(|pw| !pw.is_empty())
                .map(|pw| Secret::spelled(pw, Some(written)));
            if written.contains('#') {
                problems.push(format!(
                    "DATABASE_URL password contains '#', which would end the URL there; \
                     {ENCODE_HINT}"
                ));
            }
        }
        fields.user = decode_part(user, "user name", problems);
    }
    let after = match after.find('#') {
        Some(i) => {
            problems.push(format!(
                "DATABASE_URL contains '#', which would end the URL there; {ENCODE_HINT}"
            ));
            &after[..i]
        }
        None => after,
    };
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (hostport, tail) = after.split_at(authority_end);
    let (path, query) = match tail.find('?') {
        Some(i) => (&tail[..i], Some(&tail[i + 1..])),
        None => (tail, None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.find(']') {
            Some(i) => (&v6[..i], v6[i + 1..].strip_prefix(':')),
            None => {
                problems.push("DATABASE_URL host has an unclosed '[' (IPv6 address)".into());
                ("", None)
            }
        }
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    if host.contains(',') {
        problems.push(
            "DATABASE_URL lists several hosts: migration-sentry connects to one; give the \
             primary's host"
                .into(),
        );
    }
    fields.host = decode_part(host, "host", problems);
    fields.port = port.map(str::to_string);
    fields.dbname = decode_part(path.trim_start_matches('/'), "database name", problems);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (
            decode_part(k, "parameter name", problems),
            decode_part(v, "parameter value", problems),
        ) {
            fields.params.push((k, v));
        }
    }
    finish(fields, text, env, problems)
}

/// Percent-decodes one part of the URL; a part that is not UTF-8 once decoded is a problem.
fn decode_part(s: &str, what: &str, problems: &mut Vec<String>) -> Option<String> {
    match percent_decode_str(s).decode_utf8() {
        Ok(v) => Some(v.into_owned()),
        Err(_) => {
            problems.push(format!(
                "DATABASE_URL {what} is not valid UTF-8 once percent-decoded"
            ));
            None
        }
    }
}

fn parse_keyword_value(text: &str, env: &LibpqEnv, problems: &mut Vec<String>) -> Option<ConnInfo> {
    let pairs = match split_keyword_value(text) {
        Ok(p) => p,
        Err(msg) => {
            problems.push(format!("DATABASE_URL (key=value form): {msg}"));
            return None;
        }
    };
    // Every pair is a parameter; `finish` maps them as it does a URL's query string.
    let fields = Fields {
        params: pairs,
        ..Fields::default()
    };
    finish(fields, text, env, problems)
}

/// A key of a key=value string, for an error message: shown when it is a known parameter,
/// since a word without '=' is as likely a password cut at a space.
fn shown_key(key: &str) -> String {
    if KNOWN_PARAMS.contains(&key) {
        format!("{key:?}")
    } else {
        "a word (not shown: it may be part of a password)".into()
    }
}

/// Splits libpq's `key = value` syntax: values may be single-quoted, with `\'` and `\\`.
fn split_keyword_value(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("missing '=' after {}", shown_key(&key)));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value for {}", shown_key(&key)));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Validates the collected fields, completes them from libpq's environment, and builds the
/// [`ConnInfo`].
fn finish(
    mut f: Fields,
    text: &str,
    env: &LibpqEnv,
    problems: &mut Vec<String>,
) -> Option<ConnInfo> {
    // A value PostgreSQL cannot receive is refused before anything else looks at it.
    refuse_nul(&mut f, problems);
    // The password first: once it is a Secret, every value echoed below is scrubbed of it.
    let mut params = std::mem::take(&mut f.params);
    params.retain(|(k, v)| {
        if k == "password" {
            f.password = (!v.is_empty()).then(|| Secret::new(v.clone()));
            false
        } else {
            true
        }
    });
    let mut sslmode = SslMode::Prefer;
    let mut sslrootcert = None;
    let mut application_name = None;
    let mut options = None;
    let mut passfile_param = None;
    for (k, v) in params {
        match k.as_str() {
            "sslmode" => match SslMode::parse(&v) {
                Some(m) => sslmode = m,
                None => problems.push(format!(
                    "unknown sslmode \"{}\": use disable, allow, prefer, require, verify-ca or \
                     verify-full",
                    echo(&v)
                )),
            },
            "sslrootcert" => sslrootcert = Some(PathBuf::from(v)),
            "application_name" => application_name = Some(v),
            "options" => options = Some(v),
            "passfile" => passfile_param = Some(v),
            "user" => f.user = Some(v),
            "host" | "hostaddr" => f.host = Some(v),
            "port" => f.port = Some(v),
            "dbname" => f.dbname = Some(v),
            "sslcert" | "sslkey" | "sslpassword" => problems.push(format!(
                "{k} (client certificates) is not supported by migration-sentry; use password \
                 authentication"
            )),
            _ if KNOWN_PARAMS.contains(&k.as_str()) => {}
            _ => problems.push(format!(
                "unknown connection parameter \"{}\" (a typo? known: sslmode, sslrootcert, \
                 application_name, options, connect_timeout, …)",
                echo(&k)
            )),
        }
    }
    let (user, user_source) = match f.user.filter(|u| !u.is_empty()) {
        Some(u) => (u, UserSource::ConnString),
        None => match (
            &env.pguser,
            env.pguser.is_none().then(|| env.os_user()).flatten(),
        ) {
            (Some(u), _) => (u.clone(), UserSource::PgUser),
            (None, Some(u)) => (u, UserSource::OsUser),
            (None, None) => {
                problems.push(
                    "DATABASE_URL has no user name, PGUSER is not set, and the operating \
                     system user cannot be determined (postgresql://USER:PASSWORD@HOST/DB)"
                        .into(),
                );
                (String::new(), UserSource::ConnString)
            }
        },
    };
    let host = match f.host.filter(|h| !h.is_empty()) {
        Some(h) => h,
        None => {
            problems.push("DATABASE_URL has no host".into());
            String::new()
        }
    };
    let port = match f.port.as_deref() {
        None | Some("") => 5432,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            // Reported as holding a NUL byte, without its value.
            _ if p.contains('\0') => 0,
            _ => {
                problems.push(format!(
                    "DATABASE_URL port \"{}\" is not a number from 1 to 65535",
                    echo(p)
                ));
                0
            }
        },
    };
    let dbname = match f.dbname.filter(|d| !d.is_empty()) {
        Some(d) if d.contains('/') && !d.contains('\0') => {
            problems.push(format!(
                "DATABASE_URL database name \"{}\" contains '/'",
                echo(&d)
            ));
            d
        }
        Some(d) => d,
        None => {
            problems.push("DATABASE_URL has no database name (…@HOST:PORT/DATABASE)".into());
            String::new()
        }
    };
    if let Some(cert) = &sslrootcert {
        if !cert.is_file() {
            problems.push(format!(
                "sslrootcert {} does not exist or is not a file",
                echo(&cert.display().to_string())
            ));
        }
        if sslmode == SslMode::Disable {
            problems.push("sslrootcert is set but sslmode=disable turns TLS off".into());
        }
    }
    let mut warnings = Vec::new();
    let (password, password_source) = match f.password {
        Some(p) => (Some(p), PasswordSource::ConnString),
        None if problems.is_empty() => password_from_env(
            env,
            passfile_param.as_deref(),
            (&host, port, &dbname, &user),
            &mut warnings,
        ),
        None => (
            None,
            PasswordSource::None {
                tried: String::new(),
            },
        ),
    };
    // A password file is a file: it can hold what no environment variable can.
    if let (Some(p), PasswordSource::File { path, line }) = (&password, &password_source)
        && p.expose().contains('\0')
    {
        problems.push(format!(
            "the password the password file {} gives at line {line} contains a NUL byte, which \
             PostgreSQL cannot receive: fix that line",
            output::esc(&path.display().to_string())
        ));
    }
    let info = ConnInfo {
        user,
        password,
        host,
        port,
        dbname,
        sslmode,
        sslrootcert,
        application_name,
        options,
        redacted: output::esc(&output::shorten(
            &redact::redact_url(text),
            TARGET_MAX_CHARS,
        ))
        .into_owned(),
        sources: Sources {
            user: user_source,
            password: password_source,
            warnings,
        },
    };
    Some(info)
}

/// A NUL byte (`%00` in a URL) in any value of the connection string: PostgreSQL receives the
/// user, the database, the parameters and the password as NUL-terminated strings, so such a
/// value can only be cut short or refused by the server — reported as an authentication
/// failure or an unreachable server, far from its cause. Each part that holds one is a
/// problem, named, never shown; a parameter holding one is taken out of the fields (but those
/// that set the user, host, port, database or password, which later checks do not echo), so
/// that no later check shows it.
fn refuse_nul(f: &mut Fields, problems: &mut Vec<String>) {
    const WHY: &str = "which PostgreSQL cannot receive (the connection's values travel as \
                       NUL-terminated strings): remove it";
    const FIELDS: [&str; 6] = ["user", "password", "host", "hostaddr", "port", "dbname"];
    let has = |v: &Option<String>| v.as_deref().is_some_and(|v| v.contains('\0'));
    for (part, value) in [
        ("user name", &f.user),
        ("host", &f.host),
        ("port", &f.port),
        ("database name", &f.dbname),
    ] {
        if has(value) {
            problems.push(format!("DATABASE_URL {part} contains a NUL byte, {WHY}"));
        }
    }
    if f.password
        .as_ref()
        .is_some_and(|p| p.expose().contains('\0'))
    {
        problems.push(format!("DATABASE_URL password contains a NUL byte, {WHY}"));
    }
    f.params.retain(|(k, v)| {
        let part = if k.contains('\0') {
            "a parameter name (not shown)".to_string()
        } else if v.contains('\0') && KNOWN_PARAMS.contains(&k.as_str()) {
            format!("the value of the parameter {k}")
        } else if v.contains('\0') {
            "the value of a parameter (its name is not a known one: not shown)".to_string()
        } else {
            return true;
        };
        problems.push(format!("DATABASE_URL: {part} contains a NUL byte, {WHY}"));
        // Kept, so that their absence is not reported as well.
        FIELDS.contains(&k.as_str())
    });
}

/// libpq's fallbacks for a missing password: `PGPASSWORD`, then the password file.
fn password_from_env(
    env: &LibpqEnv,
    passfile_param: Option<&str>,
    (host, port, dbname, user): (&str, u16, &str, &str),
    warnings: &mut Vec<String>,
) -> (Option<Secret>, PasswordSource) {
    if let Some(pw) = &env.pgpassword {
        return (Some(Secret::new(pw.clone())), PasswordSource::PgPassword);
    }
    let Some(path) = passfile::location(
        passfile_param,
        env.pgpassfile.as_deref(),
        env.home().as_deref(),
    ) else {
        return (
            None,
            PasswordSource::None {
                tried: "no password file (HOME is not set)".into(),
            },
        );
    };
    let shown = output::esc(&path.display().to_string()).into_owned();
    let tried = match passfile::lookup(&path, host, port, dbname, user) {
        Lookup::Found { password, line } => {
            return (
                Some(Secret::new(password)),
                PasswordSource::File { path, line },
            );
        }
        Lookup::NoMatch => format!("no line of the password file {shown} matches"),
        Lookup::Missing => format!("no password file at {shown}"),
        Lookup::Ignored(why) => {
            warnings.push(output::esc(&why).into_owned());
            format!("the password file {shown} was ignored")
        }
    };
    (None, PasswordSource::None { tried })
}

/// The environment checks of `check-env` beyond the URL: every `--require-env` variable set
/// and non-empty. Returns the problems found.
pub fn check_required_env(names: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in names {
        match std::env::var_os(name) {
            None => problems.push(format!("required environment variable {name} is not set")),
            Some(v) if v.is_empty() => {
                problems.push(format!("required environment variable {name} is empty"))
            }
            Some(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No PG* variables, no home directory, no OS user: nothing but the string itself.
    fn bare() -> LibpqEnv {
        LibpqEnv::default()
    }

    fn ok(s: &str) -> ConnInfo {
        parse_in(s, &bare()).unwrap_or_else(|p| panic!("{s}: {p:?}"))
    }

    fn problems(s: &str) -> Vec<String> {
        problems_in(s, &bare())
    }

    fn problems_in(s: &str, env: &LibpqEnv) -> Vec<String> {
        match parse_in(s, env) {
            Ok(_) => panic!("{s} should be invalid"),
            Err(p) => p.problems,
        }
    }

    #[test]
    fn the_target_of_an_invalid_url_is_context_not_a_problem() {
        let invalid = parse("\"postgres://app:s3cret@db/x?sslmode=requried\"").unwrap_err();
        assert_eq!(invalid.problems.len(), 2, "{:?}", invalid.problems);
        assert!(invalid.problems.iter().all(|p| !p.contains("postgres://")));
        assert_eq!(
            invalid.target.as_deref(),
            Some("postgres://app:****@db/x?sslmode=requried")
        );
        // Nothing readable: no target.
        assert_eq!(parse("nonsense").unwrap_err().target, None);
    }

    #[test]
    fn full_url() {
        let c = ok("postgresql://app:s3cret@db.internal:6543/mdraft?sslmode=require");
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(c.host, "db.internal");
        assert_eq!(c.port, 6543);
        assert_eq!(c.dbname, "mdraft");
        assert_eq!(c.sslmode, SslMode::Require);
        assert_eq!(
            c.redacted,
            "postgresql://app:****@db.internal:6543/mdraft?sslmode=require"
        );
    }

    #[test]
    fn render_style_url_without_port_defaults_to_5432() {
        let c = ok("postgres://u:p4ss@dpg-abc-a/app_db");
        assert_eq!(c.port, 5432);
        assert_eq!(c.sslmode, SslMode::Prefer);
    }

    #[test]
    fn percent_encoded_password_is_decoded() {
        let c = ok("postgres://u:p%40ss%2Fw%3Ard%23@h/db");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p@ss/w:rd#"));
        assert!(!c.redacted.contains("p%40ss"));
    }

    #[test]
    fn ipv6_host() {
        assert_eq!(ok("postgres://u@[::1]:5432/db").host, "::1");
    }

    #[test]
    fn keyword_value_string() {
        let c =
            ok(r"host=localhost port=5433 user=app password='a b\'c' dbname=x sslmode=verify-full");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("a b'c"));
        assert_eq!(c.port, 5433);
        assert_eq!(c.sslmode, SslMode::VerifyFull);
        assert!(c.redacted.contains("password='****'"), "{}", c.redacted);
    }

    #[test]
    fn every_problem_is_listed() {
        let p = problems("postgresql://:pw@/?sslmode=sometimes&sslmod=require");
        let all = p.join("\n");
        assert!(all.contains("no user"), "{all}");
        assert!(all.contains("no host"), "{all}");
        assert!(all.contains("no database"), "{all}");
        assert!(all.contains("unknown sslmode"), "{all}");
        assert!(all.contains("\"sslmod\""), "{all}");
    }

    #[test]
    fn malformed_inputs_are_rejected_without_the_password() {
        for bad in [
            "",
            "   ",
            " postgres://u:pw1234@h/db",
            "\"postgres://u:pw1234@h/db\"",
            "'postgres://u:pw1234@h/db'",
            "mysql://u:pw1234@h/db",
            "http://u:pw1234@h/db",
            "postgres://u:pw1234@h:port/db",
            "postgres://u:pw1234@h:99999/db",
            "postgres://u:pw1234@h/db?sslmode=maybe",
            "postgres://u:pw1234@/db",
            "postgres://u:pw1234@h",
            "postgres://u:pw1234@h/",
            "postgres://u:pw#1234@h/db",
            "postgres://:pw1234@h/db",
            "just-some-text",
            "host=h user=u password='pw1234",
            "host=h user=u password=pw1234",
            "host=h user=u password=pw1234 dbname=d port=x",
            "postgres://u:pw1234@h/db?sslrootcert=/nonexistent/ca.pem&sslmode=verify-full",
            "postgres://u:pw1234@h/db?sslcert=/tmp/c.pem",
        ] {
            let p = problems(bad).join("\n");
            assert!(!p.contains("pw1234"), "{bad:?} leaked: {p}");
            assert!(!p.is_empty());
        }
    }

    #[test]
    fn a_nul_byte_anywhere_is_named_by_its_part_never_shown() {
        let cases: &[(&str, &str)] = &[
            ("postgres://ad%00min:pw1234@h/db", "user name"),
            ("postgres://u:pw%001234@h/db", "password"),
            ("postgres://u:pw1234@h%00x/db", "host"),
            ("postgres://u:pw1234@h/d%00b", "database name"),
            (
                "postgres://u:pw1234@h/db?application_name=a%00b",
                "parameter application_name",
            ),
            (
                "postgres://u:pw1234@h/db?sslmode=req%00uire",
                "parameter sslmode",
            ),
            ("postgres://u:pw1234@h/db?opt%00ions=x", "a parameter name"),
            (
                "host=h user=ad\0min password=pw1234 dbname=db",
                "parameter user",
            ),
            (
                "host=h user=u password=pw\x001234 dbname=db",
                "parameter password",
            ),
            (
                "host=h user=u password=pw1234 dbname=d\0b",
                "parameter dbname",
            ),
            (
                "host=h user=u password=pw1234 dbname=db port=54\x0032",
                "parameter port",
            ),
            (
                "host=h user=u password=pw1234 dbname=db options='-c x=\0'",
                "parameter options",
            ),
        ];
        for (url, part) in cases {
            let p = problems(url);
            assert_eq!(p.len(), 1, "{url:?}: {p:?}");
            assert!(p[0].contains(part), "{url:?}: {p:?}");
            assert!(p[0].contains("NUL byte"), "{url:?}: {p:?}");
            for value in ["ad", "pw", "1234", "x\\0", "a\\0b", "req", "\0"] {
                assert!(!p[0].contains(value), "{url:?} shows {value:?}: {p:?}");
            }
        }
    }

    #[test]
    fn a_raw_hash_in_the_password_is_never_taken_for_a_port() {
        let p = problems("postgres://app:Secr#3tPw@db/x").join("\n");
        assert!(p.contains("percent-encode"), "{p}");
        assert!(!p.contains("Secr"), "{p}");
        assert!(!p.contains("3tPw"), "{p}");
    }

    #[test]
    fn the_connection_string_wins_over_the_environment() {
        let env = LibpqEnv {
            pguser: Some("envuser".into()),
            pgpassword: Some("envpw".into()),
            ..bare()
        };
        let c = parse_in("postgres://u:Url-Pw-7@h/d", &env).unwrap();
        assert_eq!(c.user, "u");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("Url-Pw-7"));
        assert_eq!(c.sources.user, UserSource::ConnString);
        assert_eq!(c.sources.password, PasswordSource::ConnString);
        assert_eq!(c.sources.summary(&c.user), None);
    }

    #[test]
    fn missing_user_and_password_come_from_pguser_and_pgpassword() {
        let env = LibpqEnv {
            pguser: Some("envuser".into()),
            pgpassword: Some("Env-Pw-1".into()),
            os_user: Some("osuser".into()),
            ..bare()
        };
        let c = parse_in("postgres://h/d", &env).unwrap();
        assert_eq!(c.user, "envuser");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("Env-Pw-1"));
        let line = c.sources.summary(&c.user).unwrap();
        assert_eq!(line, "user envuser from PGUSER; password from PGPASSWORD");
        // An empty password in the URL is no password, as in libpq.
        let c = parse_in("host=h dbname=d password=''", &env).unwrap();
        assert_eq!(c.sources.password, PasswordSource::PgPassword);
    }

    #[test]
    fn without_pguser_the_os_user_is_used() {
        let env = LibpqEnv {
            os_user: Some("osuser".into()),
            ..bare()
        };
        let c = parse_in("postgres://:Os-Pw-3@h/d", &env).unwrap();
        assert_eq!(c.user, "osuser");
        assert_eq!(c.sources.user, UserSource::OsUser);
        assert!(
            c.sources
                .summary(&c.user)
                .unwrap()
                .contains("user osuser from the operating system")
        );
    }

    #[test]
    fn the_password_file_supplies_a_missing_password() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".pgpass");
        std::fs::write(&file, "other:*:*:*:Not-This-4\nh:5433:d:u:From-File-9\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = LibpqEnv {
            home: Some(dir.path().to_path_buf()),
            ..bare()
        };
        let c = parse_in("postgres://u@h:5433/d", &env).unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("From-File-9"));
        assert_eq!(
            c.sources.password,
            PasswordSource::File {
                path: file.clone(),
                line: 2
            }
        );
        assert!(!format!("{:?}", c.sources).contains("From-File-9"));
        // No matching line: no password, and the error will say what was tried.
        let c = parse_in("postgres://u@h:5433/other", &env).unwrap();
        assert!(c.password.is_none());
        assert!(
            matches!(&c.sources.password, PasswordSource::None { tried } if tried.contains("no line"))
        );
        // Readable by others: ignored, with a warning.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let c = parse_in("postgres://u@h:5433/d", &env).unwrap();
        assert!(c.password.is_none());
        assert!(c.sources.warnings[0].contains("group or world access"));
        // PGPASSFILE points elsewhere.
        let env = LibpqEnv {
            pgpassfile: Some(dir.path().join("none").display().to_string()),
            ..env
        };
        let c = parse_in("postgres://u@h:5433/d", &env).unwrap();
        assert!(
            matches!(&c.sources.password, PasswordSource::None { tried } if tried.contains("no password file"))
        );
        // A file can hold a NUL byte, which no server can receive: named by its line.
        let nul = dir.path().join("nul");
        std::fs::write(&nul, "h:5433:d:u:From\0File-9\n").unwrap();
        std::fs::set_permissions(&nul, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = LibpqEnv {
            pgpassfile: Some(nul.display().to_string()),
            ..env
        };
        let p = problems_in("postgres://u@h:5433/d", &env);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("at line 1 contains a NUL byte"), "{p:?}");
        assert!(!p[0].contains("From") && !p[0].contains("File-9"), "{p:?}");
    }

    #[test]
    fn required_env_lists_missing_and_empty() {
        // SAFETY-free: only reads the environment; names chosen not to exist.
        let p = check_required_env(&["SENTRY_TEST_SURELY_UNSET_VAR".into()]);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("is not set"));
    }
}
