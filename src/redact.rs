//! Secrets, and how they are kept out of every output.
//!
//! By construction first. A password only ever lives in a [`Secret`], whose `Display` and
//! `Debug` print `****` and nothing else; a connection string is shown through
//! [`redact_url`], which rebuilds it with the password field masked. Nothing the sentry writes
//! itself is searched and replaced afterwards, so a password that happens to be a word of the
//! output (`success`, `true`, `public`, the user name) changes no marker, no log line and no
//! JSON value.
//!
//! Texts that come from outside — driver and server errors, clap errors, panic messages,
//! input echoed back in an error — cannot be built that way, so they pass through [`scrub`]
//! where they enter the sentry's messages: every secret in the registry, in every spelling it
//! could take (raw, as written, percent-encoded, form-encoded, libpq-quoted, escaped), is
//! masked whatever its length, and any URL or `password=` pair in the text is redacted
//! structurally. The registry holds any number of secrets (one per target when several
//! databases are migrated): each is masked in every external text, whichever target it
//! came from.

use std::fmt;
use std::sync::RwLock;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What replaces a secret in output.
pub const MASK: &str = "****";

/// RFC 3986 unreserved characters stay as they are: how most tools percent-encode userinfo.
const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A password. It cannot be printed: `Display` and `Debug` show [`MASK`]. Creating one
/// registers it for [`scrub`], so every external text printed afterwards is cleaned of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps (and registers) a password.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret::spelled(value, None)
    }

    /// Wraps a password that was written differently in its source (percent-encoded in a URL,
    /// quoted in a key=value string): that spelling is registered too.
    pub fn spelled(value: impl Into<String>, as_written: Option<&str>) -> Secret {
        let value = value.into();
        REGISTRY
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .register(&value, as_written);
        Secret(value)
    }

    /// The password itself, for the driver. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

/// Every spelling of every registered secret, longest first.
#[derive(Default)]
pub struct Registry {
    forms: Vec<String>,
}

impl Registry {
    /// An empty registry (the process has one, behind [`Secret`]; tests make their own).
    pub const fn new() -> Registry {
        Registry { forms: Vec::new() }
    }

    /// Adds `secret` in every spelling it could be printed in. Several secrets may be
    /// registered; none is ever removed.
    pub fn register(&mut self, secret: &str, as_written: Option<&str>) {
        if secret.is_empty() {
            return;
        }
        let mut forms = vec![secret.to_string()];
        if let Some(w) = as_written {
            forms.push(w.to_string());
        }
        for set in [NON_ALPHANUMERIC, UNRESERVED_KEPT] {
            let pct = utf8_percent_encode(secret, set).to_string();
            forms.push(lowercase_hex(&pct));
            forms.push(pct);
        }
        forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        // libpq key=value quoting, and Rust's (and JSON's) escaping of strings.
        forms.push(secret.replace('\\', "\\\\").replace('\'', "\\'"));
        forms.push(format!("{secret:?}").trim_matches('"').to_string());
        forms.push(
            serde_json::to_string(secret)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        );
        for f in forms {
            if !f.is_empty() && !self.forms.contains(&f) {
                self.forms.push(f);
            }
        }
        // Longest first, so that a spelling containing another is masked whole.
        self.forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every spelling of every secret masked, in one pass (a mask is never
    /// searched again, so a secret such as `*` cannot grow it).
    pub fn mask(&self, text: &str) -> String {
        if !self.forms.iter().any(|f| text.contains(f.as_str())) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let rest = &text[i..];
            for f in &self.forms {
                if rest.starts_with(f.as_str()) {
                    out.push_str(MASK);
                    i += f.len();
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
        out
    }
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry::new());
static TARGET: RwLock<String> = RwLock::new(String::new());

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

/// Cleans a text that comes from outside the sentry (a driver or server error, a clap error,
/// a panic message, echoed input): every registered secret is masked in every spelling, and
/// any URL or `password=` pair is redacted structurally. Never used on the sentry's own words.
pub fn scrub(text: &str) -> String {
    let out = REGISTRY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .mask(text);
    if out.contains("://") || out.to_ascii_lowercase().contains("password") {
        redact_embedded(&out)
    } else {
        out
    }
}

/// Redacts a connection string structurally: a `postgres://` URL or a libpq `key=value`
/// string, with the password field (userinfo, `password=` in a query or a key=value string)
/// replaced by [`MASK`] and everything else as written.
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
    if out.to_ascii_lowercase().contains("password") {
        out = redact_keyword_value(&out);
    }
    out
}

/// Masks the userinfo password and any `password=` query parameter of a URL. Works on the
/// text as written (no parsing that could fail or re-encode), so that even a malformed URL is
/// redacted. The userinfo ends at the last '@' (a raw '@', '/' or '#' in a password is
/// malformed but common): [`crate::conninfo`] splits by the same rule.
fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let after = &uri[scheme_end + 3..];
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
            // An unquoted value ends at whitespace; a backslash escapes the next character.
            let mut end = value.len();
            let mut escaped = false;
            for (i, c) in value.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c.is_whitespace() || c == '&' {
                    end = i;
                    break;
                }
            }
            end
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

/// `%2F` → `%2f`: some encoders emit lowercase hex digits.
fn lowercase_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
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
    fn a_password_equal_to_other_fields_masks_only_the_password_field() {
        assert_eq!(
            redact_url("postgres://postgres:postgres@localhost:5432/postgres"),
            "postgres://postgres:****@localhost:5432/postgres"
        );
        assert_eq!(
            redact_url("host=app user=app password=app dbname=app"),
            "host=app user=app password=**** dbname=app"
        );
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let u = "postgres://app@db:5432/x";
        assert_eq!(redact_url(u), u);
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn password_with_at_slash_and_hash_is_masked_whole() {
        assert_eq!(
            redact_url("postgres://u:p@ss/w:rd@host:5432/db"),
            "postgres://u:****@host:5432/db"
        );
        assert_eq!(
            redact_url("postgres://u:pw#1234@host/db"),
            "postgres://u:****@host/db"
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
        assert_eq!(
            redact_url(r"host=db password=a\ b dbname=x"),
            "host=db password=**** dbname=x"
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
    fn secret_cannot_be_formatted() {
        let s = Secret::new("Fmt-Secret-71");
        assert_eq!(s.to_string(), MASK);
        assert_eq!(format!("{s:?}"), "Secret(****)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(****))");
        assert_eq!(s.expose(), "Fmt-Secret-71");
    }

    #[test]
    fn every_spelling_of_a_secret_is_masked() {
        let mut r = Registry::new();
        let secret = "Xq7/@:%#? 'z\\-";
        r.register(secret, Some("Xq7%2F%40%3A%25%23%3F%20'z%5C-"));
        let enc = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let unreserved = utf8_percent_encode(secret, UNRESERVED_KEPT).to_string();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for text in [
            format!("raw {secret} end"),
            format!("enc {enc} end"),
            format!("lower {} end", lowercase_hex(&enc)),
            format!("unreserved {unreserved} end"),
            format!("form {form} end"),
            format!("debug {secret:?} end"),
            format!("json {} end", serde_json::to_string(secret).unwrap()),
        ] {
            let s = r.mask(&text);
            assert!(!s.contains(secret), "{s}");
            assert!(!s.contains(&enc), "{s}");
            assert!(s.contains(MASK), "{s}");
            assert!(s.ends_with(" end"), "{s}");
        }
    }

    #[test]
    fn a_one_character_secret_is_masked_too() {
        let mut r = Registry::new();
        r.register("x", None);
        assert_eq!(r.mask("fox"), "fo****");
        // A mask is never searched again: a secret that is part of the mask cannot grow it.
        let mut r = Registry::new();
        r.register("*", None);
        assert_eq!(r.mask("a*b"), "a****b");
    }

    #[test]
    fn several_secrets_are_all_masked() {
        let mut r = Registry::new();
        r.register("first-target-pw", None);
        r.register("second-target-pw", None);
        assert_eq!(
            r.mask("first-target-pw and second-target-pw"),
            "**** and ****"
        );
    }
}
