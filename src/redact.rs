//! The one redaction path: every line the sentry prints, on stderr or stdout, passes through
//! [`scrub`].
//!
//! Two layers. Structural: [`redact_url`] replaces the password of a `postgres://` URL or a
//! libpq `key=value` string (and `password=` in a query string) with `****`. Defence in depth:
//! once the URL has been parsed, its password is registered with [`register_secret`] in every
//! spelling it could be printed in (raw, as written, percent-encoded, form-encoded, libpq-quoted)
//! and [`scrub`] replaces any of them wherever they appear, including inside a driver's or the
//! server's error text.

use std::sync::RwLock;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// What replaces a secret in output.
pub const MASK: &str = "****";

/// Secrets shorter than this are only redacted structurally: masking every "ab" in every log
/// line would make the output unreadable without protecting anything.
const MIN_SCRUB_LEN: usize = 3;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static TARGET: RwLock<String> = RwLock::new(String::new());

/// Registers a password so that [`scrub`] removes it in every spelling. `as_written` is the
/// form it had in the URL or key=value string (percent-encoded, quoted), if different.
pub fn register_secret(secret: &str, as_written: Option<&str>) {
    if secret.is_empty() {
        return;
    }
    let mut forms = vec![secret.to_string()];
    if let Some(w) = as_written {
        forms.push(w.to_string());
    }
    let pct = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    forms.push(pct.to_lowercase_hex());
    forms.push(pct);
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    // libpq key=value quoting and Rust's Debug escaping of strings.
    forms.push(secret.replace('\\', "\\\\").replace('\'', "\\'"));
    forms.push(format!("{secret:?}").trim_matches('"').to_string());
    let mut guard = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for f in forms {
        if f.chars().count() >= MIN_SCRUB_LEN && !guard.contains(&f) {
            guard.push(f);
        }
    }
    // Longest first, so that a form containing another is masked whole.
    guard.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Remembers the redacted target, for errors raised far from the connection code.
pub fn set_target(redacted: &str) {
    *TARGET.write().unwrap_or_else(|e| e.into_inner()) = redacted.to_string();
}

/// The redacted target set by [`set_target`], or a placeholder.
pub fn current_target() -> String {
    let t = TARGET.read().unwrap_or_else(|e| e.into_inner());
    if t.is_empty() {
        "(DATABASE_URL)".to_string()
    } else {
        t.clone()
    }
}

/// Removes every registered secret, and any URL password, from `text`.
pub fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
    }
    if out.contains("://") || out.contains("password") {
        out = redact_embedded(&out);
    }
    out
}

/// Redacts a connection string: a `postgres://` URL or a libpq `key=value` string.
pub fn redact_url(conn: &str) -> String {
    let trimmed = conn.trim();
    if trimmed.contains("://") {
        redact_uri(trimmed)
    } else {
        redact_keyword_value(trimmed)
    }
}

/// Redacts URLs and `password=` pairs found anywhere inside free text.
fn redact_embedded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // Back up to the start of the scheme.
        let start = rest[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let end = rest[pos..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .map(|i| pos + i)
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        out.push_str(&redact_uri(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    if out.contains("password") {
        out = redact_keyword_value(&out);
    }
    out
}

/// Masks the userinfo password and any `password=` query parameter of a URL. Works on the
/// text as written (no parsing that could fail or re-encode), so that even a malformed URL is
/// redacted.
fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let after = &uri[scheme_end + 3..];
    // The authority ends at the first '/', '?' or '#' after the last '@' (a raw '@' or '/' in
    // a password is malformed but must still be masked whole).
    let at = after.rfind('@');
    let mut out = String::from(&uri[..scheme_end + 3]);
    let rest = match at {
        Some(at) => {
            let userinfo = &after[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &after[at + 1..]
        }
        None => after,
    };
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..q + 1]);
            let (query, fragment) = match rest[q + 1..].find('#') {
                Some(h) => (&rest[q + 1..q + 1 + h], &rest[q + 1 + h..]),
                None => (&rest[q + 1..], ""),
            };
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={MASK}"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&masked.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(rest),
    }
    out
}

/// Masks the value of every `password=` pair of a libpq key=value string (quoted or not).
fn redact_keyword_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = find_password_key(rest) {
        let (head, tail) = rest.split_at(pos);
        out.push_str(head);
        // tail starts with "password", then optional spaces, '=', optional spaces, value.
        let after_key = &tail["password".len()..];
        let eq = after_key.find('=').unwrap_or(0);
        let value_start = after_key[eq + 1..]
            .find(|c: char| !c.is_whitespace())
            .map(|i| eq + 1 + i)
            .unwrap_or(after_key.len());
        out.push_str(&tail[..("password".len() + value_start)]);
        let value = &after_key[value_start..];
        let consumed = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let mut end = quoted.len();
            for (i, c) in quoted.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\'' {
                    end = i + 1;
                    break;
                }
            }
            out.push('\'');
            out.push_str(MASK);
            out.push('\'');
            1 + end.min(quoted.len())
        } else {
            out.push_str(MASK);
            value
                .find(|c: char| c.is_whitespace() || c == '&')
                .unwrap_or(value.len())
        };
        rest = &value[consumed.min(value.len())..];
    }
    out.push_str(rest);
    out
}

/// Finds `password` used as a key (`password=` or `password =`), not as a word in a message.
fn find_password_key(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let at = from + i;
        let before_ok = at == 0 || {
            let b = lower.as_bytes()[at - 1];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        let after = lower[at + "password".len()..].trim_start();
        if before_ok && after.starts_with('=') {
            return Some(at);
        }
        from = at + "password".len();
    }
    None
}

trait LowerHex {
    fn to_lowercase_hex(&self) -> String;
}

impl LowerHex for String {
    /// `%2F` → `%2f`: some encoders emit lowercase hex digits.
    fn to_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut chars = self.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for _ in 0..2 {
                    if let Some(h) = chars.next() {
                        out.push(h.to_ascii_lowercase());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_masked() {
        assert_eq!(
            redact_url("postgresql://app:s3cret@db.internal:5432/mdraft?sslmode=require"),
            "postgresql://app:****@db.internal:5432/mdraft?sslmode=require"
        );
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let u = "postgres://app@db:5432/x";
        assert_eq!(redact_url(u), u);
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn password_with_at_and_slash_is_masked_whole() {
        assert_eq!(
            redact_url("postgres://u:p@ss/w:rd@host:5432/db"),
            "postgres://u:****@host:5432/db"
        );
    }

    #[test]
    fn query_string_password_is_masked() {
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=hunter2&sslmode=disable"),
            "postgres://host/db?user=u&password=****&sslmode=disable"
        );
    }

    #[test]
    fn keyword_value_password_is_masked() {
        assert_eq!(
            redact_url("host=db user=app password=hunter2 dbname=x"),
            "host=db user=app password=**** dbname=x"
        );
        assert_eq!(
            redact_url(r"host=db password = 'a b\' c' dbname=x"),
            "host=db password = '****' dbname=x"
        );
    }

    #[test]
    fn words_that_merely_mention_password_are_kept() {
        let msg = "password authentication failed for user \"app\"";
        assert_eq!(redact_keyword_value(msg), msg);
    }

    #[test]
    fn embedded_urls_are_masked_in_free_text() {
        let t = "could not use 'postgres://a:zz@h/d' and password=abc now";
        assert_eq!(
            redact_embedded(t),
            "could not use 'postgres://a:****@h/d' and password=**** now"
        );
    }

    #[test]
    fn registered_secret_is_scrubbed_in_every_spelling() {
        let secret = "Xq7/@:%#? 'z\\";
        register_secret(secret, Some("Xq7%2F%40%3A%25%23%3F%20'z%5C"));
        let enc = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for text in [
            format!("raw {secret} end"),
            format!("enc {enc} end"),
            format!("lower {} end", enc.to_lowercase_hex()),
            format!("form {form} end"),
            format!("debug {secret:?} end"),
        ] {
            let s = scrub(&text);
            assert!(!s.contains(secret), "{s}");
            assert!(!s.contains(&enc), "{s}");
            assert!(s.contains(MASK), "{s}");
        }
    }
}
