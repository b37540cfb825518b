//! Where output goes and what it looks like.
//!
//! Logs (markers, progress, warnings, errors) go to stderr through `log` and the formatter
//! installed by [`init_logger`]; results (status table, JSON) go to stdout through a
//! [`Results`] writer handed to the commands as `&mut dyn Write`. Colour only when stderr is a
//! terminal and `NO_COLOR` is unset.
//!
//! Secrets: nothing here searches the sentry's own words for a password — they are built
//! without it ([`crate::redact`]). Records of other crates (the driver's, at `-vv`) are
//! external text and are scrubbed.
//!
//! Escaping: a value from the database, a file or the environment is interpolated through
//! [`esc`] (control characters, newlines included, shown as `\n`, `\u{1b}`…; tabs kept) or, when it is
//! input echoed back in an error, through [`echo`] (also scrubbed and shortened with a
//! count). As a backstop the formatter escapes every control character but newline and tab
//! and indents every continuation line, so that only [`marker`] can start a line with `===`
//! and only the formatter can start one with `[sentry]`.

use std::borrow::Cow;
use std::io::{self, BufWriter, IsTerminal, Write};

use log::{Level, LevelFilter};

use crate::error::ExitKind;
use crate::redact;

/// The version printed in the starting marker.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The log target of marker lines: the formatter prints these, and only these, bare.
pub const MARKER: &str = "migration_sentry::marker";

/// How much of an input echoed in an error is shown.
const ECHO_MAX_CHARS: usize = 200;

/// How much of a server's or driver's message is shown.
const EXTERNAL_MAX_CHARS: usize = 2000;

/// Installs the stderr logger. `verbosity`: -1 quiet, 0 info, 1 `-v`, 2 `-vv`.
///
/// `RUST_LOG` (env_logger's syntax) is applied on top. Without `-q` or `-v` it may also set
/// the level of the sentry's own records: `RUST_LOG=warn` is as quiet as `-q`, `RUST_LOG=debug`
/// shows every crate's debug records; naming only another crate (`RUST_LOG=rustls=debug`)
/// keeps the sentry's default. With `-q` or `-v` the flag sets the sentry's level. The FAILED
/// line prints whatever the level ([`failed`]).
pub fn init_logger(verbosity: i8) {
    let ours = match verbosity {
        i8::MIN..=-1 => LevelFilter::Warn,
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let rust_log = std::env::var("RUST_LOG").ok();
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(LevelFilter::Warn)
        .write_style(env_logger::WriteStyle::Never)
        .target(env_logger::Target::Stderr);
    // A flag is more specific than `RUST_LOG`'s bare level, so it wins over it.
    if verbosity != 0 || !rust_log.as_deref().is_some_and(sets_our_level) {
        builder.filter_module("migration_sentry", ours);
    }
    if verbosity >= 2 {
        // Every round trip: the driver logs each query and its parameters at debug.
        builder
            .filter_module("tokio_postgres", LevelFilter::Debug)
            .filter_module("postgres", LevelFilter::Debug);
    }
    if let Some(spec) = &rust_log {
        builder.parse_filters(spec);
    }
    let colour = colour_enabled();
    builder.format(move |buf, record| {
        let text = record.args().to_string();
        // The sentry's own records are built without secrets; another crate's are not ours.
        let text = if record.target().starts_with("migration_sentry") {
            text
        } else {
            redact::scrub(&text)
        };
        let line = format_line(record.level(), record.target(), &text, colour);
        writeln!(buf, "{line}")
    });
    // A second init (tests) is harmless.
    let _ = builder.try_init();
}

/// Whether the `RUST_LOG` spec sets the level of the sentry's records: a bare level (`warn`),
/// or a directive for `migration_sentry` or one of its modules. What follows a `/` filters
/// messages, not levels.
fn sets_our_level(spec: &str) -> bool {
    let directives = spec.split('/').next().unwrap_or_default();
    directives
        .split(',')
        .map(str::trim)
        .any(|d| match d.split_once('=') {
            None => d.parse::<LevelFilter>().is_ok() || d.starts_with("migration_sentry"),
            Some((name, _)) => name.trim().starts_with("migration_sentry"),
        })
}

fn colour_enabled() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One stderr record: markers (target [`MARKER`]) as they are, everything else behind
/// `[sentry]`, confined to its own lines.
fn format_line(level: Level, target: &str, text: &str, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    if target == MARKER {
        let code = if text.contains("FAILED") {
            "1;31"
        } else if text.ends_with(": success ===") {
            "1;32"
        } else {
            "1"
        };
        return paint(code, text);
    }
    let text = confine(text);
    let body = if target.starts_with("migration_sentry") {
        text.into_owned()
    } else {
        format!("[{target}] {text}")
    };
    match level {
        Level::Error => format!("[sentry] {} {body}", paint("1;31", "ERROR:")),
        Level::Warn => format!("[sentry] {} {body}", paint("1;33", "WARNING:")),
        _ => {
            let body = if colour {
                body.replacen('✓', &paint("32", "✓"), 1)
                    .replacen('✗', &paint("31", "✗"), 1)
            } else {
                body
            };
            format!("[sentry] {body}")
        }
    }
}

/// Whether `c` would let a value start a new line, move the cursor, or change the terminal.
/// (A tab does none of these, and SQL is full of them.)
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c => out.push_str(&c.escape_unicode().to_string()),
    }
}

/// A value from the database, a file or the environment, made safe to print inside a line:
/// control characters (newline, carriage return, escape…) and Unicode line separators are
/// shown escaped (`\n`, `\r`, `\u{1b}`), so the value can never start a line of its own.
pub fn esc(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` cut to `max` characters, with a count of what was left out.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => {
            let more = text[cut..].chars().count();
            Cow::Owned(format!("{}… ({more} more characters)", &text[..cut]))
        }
    }
}

/// Input echoed back in an error message (a malformed line, a bad value): scrubbed of
/// secrets, escaped, and cut to 200 characters with a count.
pub fn echo(input: &str) -> String {
    esc(&shorten(&redact::scrub(input), ECHO_MAX_CHARS)).into_owned()
}

/// A server's or driver's message: scrubbed of secrets, escaped, cut to 2,000 characters.
pub fn external(text: &str) -> String {
    esc(&shorten(&redact::scrub(text), EXTERNAL_MAX_CHARS)).into_owned()
}

/// The formatter's backstop: control characters other than newline and tab escaped, and
/// every line after the first indented, so that no part of a record can pass for a marker
/// or for another record.
fn confine(text: &str) -> Cow<'_, str> {
    let clean = !text.chars().any(|c| needs_escape(c) && c != '\n')
        && !text
            .split('\n')
            .skip(1)
            .any(|l| l.starts_with(|c: char| !c.is_whitespace()));
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push('\n');
                if chars.peek().is_some_and(|n| !n.is_whitespace()) {
                    out.push_str("  ");
                }
            }
            c if needs_escape(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A section marker on stderr, e.g. `=== MIGRATION SENTRY: upgrade (verbose) ===`. `title`
/// is always the sentry's own words.
pub fn marker(title: &str) {
    log::info!(target: MARKER, "=== MIGRATION SENTRY: {title} ===");
}

/// The first marker of a run.
pub fn starting() {
    log::info!(target: MARKER, "=== MIGRATION SENTRY {VERSION}: starting ===");
}

/// The last line of a failing command, e.g. `=== MIGRATION SENTRY: FAILED (exit 7: migration
/// failed) ===`. `main` prints it directly when the logger is not up yet (usage errors, panics).
pub fn failed_line(kind: ExitKind) -> String {
    format!(
        "=== MIGRATION SENTRY: FAILED (exit {}: {}) ===",
        kind.code(),
        kind.meaning()
    )
}

/// Logs [`failed_line`]: always printed, even with `-q` or `RUST_LOG=off`.
pub fn failed(kind: ExitKind) {
    always(&failed_line(kind));
}

/// Logs a final line at error level, or prints it bare when the log level (`RUST_LOG=off`)
/// would drop it: whoever reads the end of a deploy log must find the verdict there.
fn always(line: &str) {
    if log::log_enabled!(target: MARKER, Level::Error) {
        log::error!(target: MARKER, "{line}");
    } else {
        eprintln!("{line}");
    }
}

/// The last line of a run ended by a signal: the process then ends by that signal, so the
/// shell status is 128 + its number (130 for SIGINT, 143 for SIGTERM), not an exit code.
pub fn failed_by_signal_line(sig: i32) -> String {
    format!(
        "=== MIGRATION SENTRY: FAILED ({}: {}, status {}) ===",
        crate::interrupt::signal_name(sig),
        ExitKind::Interrupted.meaning(),
        128 + sig
    )
}

/// Logs [`failed_by_signal_line`]: always printed, even with `-q` or `RUST_LOG=off`.
pub fn failed_by_signal(sig: i32) {
    always(&failed_by_signal_line(sig));
}

/// stdout for results: buffered (a JSON document of 10,000 rows is written in a few large
/// writes, not one per token), and it remembers whether anything was written. Nothing is
/// rewritten on the way: the results are built without secrets.
pub struct Results<W: Write> {
    inner: BufWriter<W>,
    wrote: bool,
}

impl<W: Write> Results<W> {
    pub fn new(inner: W) -> Self {
        Results {
            inner: BufWriter::with_capacity(64 * 1024, inner),
            wrote: false,
        }
    }

    /// Whether anything was written: `main` prints a JSON error object only if the command
    /// did not print its own.
    pub fn wrote_anything(&self) -> bool {
        self.wrote
    }
}

impl<W: Write> Write for Results<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wrote |= !buf.is_empty();
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.wrote |= !buf.is_empty();
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_our_level_by_a_bare_level_or_by_naming_us() {
        for spec in [
            "warn",
            "OFF",
            "debug,rustls=info",
            "migration_sentry=debug",
            "migration_sentry::lock=trace",
            "migration_sentry",
            "info/lock",
        ] {
            assert!(sets_our_level(spec), "{spec}");
        }
        for spec in ["", "rustls=debug", "tokio_postgres=debug,rustls", "x/warn"] {
            assert!(!sets_our_level(spec), "{spec}");
        }
    }

    #[test]
    fn markers_are_printed_as_they_are() {
        let l = format_line(
            Level::Info,
            MARKER,
            "=== MIGRATION SENTRY: success ===",
            false,
        );
        assert_eq!(l, "=== MIGRATION SENTRY: success ===");
    }

    #[test]
    fn only_the_marker_target_prints_a_bare_line() {
        // A value that looks like a marker, logged as an ordinary record, stays behind the
        // prefix, and its continuation lines are indented.
        let l = format_line(
            Level::Info,
            "migration_sentry::commands",
            "=== MIGRATION SENTRY: success ===\n=== MIGRATION SENTRY: success ===",
            false,
        );
        assert_eq!(
            l,
            "[sentry] === MIGRATION SENTRY: success ===\n  === MIGRATION SENTRY: success ==="
        );
    }

    #[test]
    fn lines_get_the_sentry_prefix_and_level_word() {
        assert_eq!(
            format_line(
                Level::Info,
                "migration_sentry::x",
                "env OK: DATABASE_URL",
                false
            ),
            "[sentry] env OK: DATABASE_URL"
        );
        assert_eq!(
            format_line(Level::Warn, "migration_sentry::x", "careful", false),
            "[sentry] WARNING: careful"
        );
        assert_eq!(
            format_line(Level::Debug, "tokio_postgres::query", "executing", false),
            "[sentry] [tokio_postgres::query] executing"
        );
    }

    #[test]
    fn the_backstop_escapes_control_characters_and_indents_continuations() {
        assert_eq!(
            confine("a\r=== x\u{1b}[2K\n[sentry] forged\n    kept"),
            "a\\r=== x\\u{1b}[2K\n  [sentry] forged\n    kept"
        );
        assert!(matches!(confine("plain\n  - indented"), Cow::Borrowed(_)));
    }

    #[test]
    fn colour_only_when_asked() {
        let l = format_line(Level::Error, "migration_sentry", "boom", true);
        assert!(l.contains("\x1b["));
        assert!(!format_line(Level::Error, "migration_sentry", "boom", false).contains('\x1b'));
    }

    #[test]
    fn values_are_escaped_onto_one_line() {
        assert_eq!(esc("0002_x"), "0002_x");
        assert_eq!(
            esc("note\n=== MIGRATION SENTRY: success ===\r\u{2028}"),
            "note\\n=== MIGRATION SENTRY: success ===\\r\\u{2028}"
        );
    }

    #[test]
    fn long_echoes_are_shortened_with_a_count() {
        let long = "x".repeat(10_000_000);
        let e = echo(&long);
        assert!(e.len() < 300, "{}", e.len());
        assert!(e.ends_with("… (9999800 more characters)"), "{e}");
        assert_eq!(echo("short"), "short");
        assert_eq!(shorten("héllo", 2), "hé… (3 more characters)");
    }

    #[test]
    fn results_remember_whether_anything_was_written() {
        let mut out = Vec::new();
        {
            let mut w = Results::new(&mut out);
            assert!(!w.wrote_anything());
            write!(w, "{}", serde_json::json!({"a": 1})).unwrap();
            assert!(w.wrote_anything());
            w.flush().unwrap();
        }
        assert_eq!(out, b"{\"a\":1}");
    }
}
