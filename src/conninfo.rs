//! `DATABASE_URL`: parsing and validation before any network use (SPEC §8), and the
//! environment checks of `check-env`.
//!
//! Both `postgres[ql]://` URLs and libpq `key=value` strings are parsed here into a
//! [`ConnInfo`]; the driver never sees the raw string, so none of its parse errors (which can
//! echo part of the password) can reach the output. Every problem is collected, not just the
//! first, and no message contains the password. Parsing registers the password with
//! [`crate::redact`] so that it is scrubbed from everything printed afterwards.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::redact;

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

/// A parsed, validated connection target. `Debug` never shows the password.
#[derive(Clone)]
pub struct ConnInfo {
    pub user: String,
    pub password: Option<String>,
    /// A host name, an IP address, or a unix-socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: Option<String>,
    pub options: Option<String>,
    /// The connection string with the password masked, for every message.
    pub redacted: String,
}

impl std::fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnInfo")
            .field("target", &self.redacted)
            .finish()
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
    "sslmode",
    "sslrootcert",
    "application_name",
    "options",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "target_session_attrs",
];

const ENCODE_HINT: &str =
    "if the password contains @ : / ? # % & or spaces, percent-encode it (e.g. # as %23)";

/// Parses and validates a connection string. On failure, returns every problem found.
pub fn parse(raw: &str) -> Result<ConnInfo, Vec<String>> {
    let mut problems = Vec::new();
    if raw.is_empty() {
        return Err(vec!["DATABASE_URL is empty".into()]);
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
        return Err(problems);
    }
    let parsed = if text.contains("://") {
        parse_url(text, &mut problems)
    } else if text.contains('=') {
        parse_keyword_value(text, &mut problems)
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
        Some(info) => {
            // Tell the user which target the problems are about.
            problems.push(format!("(DATABASE_URL, redacted: {})", info.redacted));
            Err(problems)
        }
        None => Err(problems),
    }
}

/// Fields collected from either syntax before validation.
#[derive(Default)]
struct Fields {
    user: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<String>,
    dbname: Option<String>,
    params: Vec<(String, String)>,
}

fn parse_url(text: &str, problems: &mut Vec<String>) -> Option<ConnInfo> {
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
    // must be listed: so the parts are split here, by libpq's rules, and each is checked.
    let rest = &text[scheme_end + 3..];
    let (rest, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if fragment.is_some() {
        problems.push(format!(
            "DATABASE_URL contains '#', which would end the URL there; {ENCODE_HINT}"
        ));
    }
    // The userinfo ends at the last '@' (a raw '@' in a password is malformed but common).
    let (userinfo, after) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (hostport, tail) = after.split_at(authority_end);
    let (path, query) = match tail.find('?') {
        Some(i) => (&tail[..i], Some(&tail[i + 1..])),
        None => (tail, None),
    };
    let mut fields = Fields::default();
    if let Some(info) = userinfo {
        let (user, password) = match info.find(':') {
            Some(i) => (&info[..i], Some(&info[i + 1..])),
            None => (info, None),
        };
        if let Some(written) = password {
            let decoded = decode_part(written, "password", problems);
            if let Some(pw) = &decoded {
                redact::register_secret(pw, Some(written));
            }
            fields.password = decoded;
        }
        fields.user = decode_part(user, "user name", problems);
    }
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
    finish(fields, text, problems)
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

fn parse_keyword_value(text: &str, problems: &mut Vec<String>) -> Option<ConnInfo> {
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
    finish(fields, text, problems)
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
            return Err(format!("missing '=' after {key:?}"));
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
                return Err(format!("unterminated quoted value for {key:?}"));
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

/// Validates the collected fields and builds the [`ConnInfo`].
fn finish(mut f: Fields, text: &str, problems: &mut Vec<String>) -> Option<ConnInfo> {
    let mut sslmode = SslMode::Prefer;
    let mut sslrootcert = None;
    let mut application_name = None;
    let mut options = None;
    for (k, v) in std::mem::take(&mut f.params) {
        match k.as_str() {
            "sslmode" => match SslMode::parse(&v) {
                Some(m) => sslmode = m,
                None => problems.push(format!(
                    "unknown sslmode {v:?}: use disable, allow, prefer, require, verify-ca or \
                     verify-full"
                )),
            },
            "sslrootcert" => sslrootcert = Some(PathBuf::from(v)),
            "application_name" => application_name = Some(v),
            "options" => options = Some(v),
            "user" => f.user = Some(v),
            "password" => {
                redact::register_secret(&v, None);
                f.password = Some(v)
            }
            "host" | "hostaddr" => f.host = Some(v),
            "port" => f.port = Some(v),
            "dbname" => f.dbname = Some(v),
            "sslcert" | "sslkey" | "sslpassword" => problems.push(format!(
                "{k} (client certificates) is not supported by migration-sentry; use password \
                 authentication"
            )),
            _ if KNOWN_PARAMS.contains(&k.as_str()) => {}
            _ => problems.push(format!(
                "unknown connection parameter {k:?} (a typo? known: sslmode, sslrootcert, \
                 application_name, options, connect_timeout, …)"
            )),
        }
    }
    let user = match f.user.filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => {
            problems
                .push("DATABASE_URL has no user name (postgresql://USER:PASSWORD@HOST/DB)".into());
            String::new()
        }
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
            _ => {
                problems.push(format!(
                    "DATABASE_URL port {p:?} is not a number from 1 to 65535"
                ));
                0
            }
        },
    };
    let dbname = match f.dbname.filter(|d| !d.is_empty()) {
        Some(d) if d.contains('/') => {
            problems.push(format!("DATABASE_URL database name {d:?} contains '/'"));
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
                cert.display()
            ));
        }
        if sslmode == SslMode::Disable {
            problems.push("sslrootcert is set but sslmode=disable turns TLS off".into());
        }
    }
    let info = ConnInfo {
        user,
        password: f.password,
        host,
        port,
        dbname,
        sslmode,
        sslrootcert,
        application_name,
        options,
        redacted: redact::scrub(&redact::redact_url(text)),
    };
    Some(info)
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

    fn ok(s: &str) -> ConnInfo {
        parse(s).unwrap_or_else(|p| panic!("{s}: {p:?}"))
    }

    fn problems(s: &str) -> Vec<String> {
        match parse(s) {
            Ok(_) => panic!("{s} should be invalid"),
            Err(p) => p,
        }
    }

    #[test]
    fn full_url() {
        let c = ok("postgresql://app:s3cret@db.internal:6543/mdraft?sslmode=require");
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_deref(), Some("s3cret"));
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
        assert_eq!(c.password.as_deref(), Some("p@ss/w:rd#"));
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
        assert_eq!(c.password.as_deref(), Some("a b'c"));
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
    fn required_env_lists_missing_and_empty() {
        // SAFETY-free: only reads the environment; names chosen not to exist.
        let p = check_required_env(&["SENTRY_TEST_SURELY_UNSET_VAR".into()]);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("is not set"));
    }
}
