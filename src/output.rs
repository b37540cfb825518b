//! Where output goes and what it looks like.
//!
//! Logs (markers, progress, warnings, errors) go to stderr through `log` and the formatter
//! installed by [`init_logger`]; results (status table, JSON) go to stdout through a
//! [`Redacting`] writer handed to the commands as `&mut dyn Write`. Both paths pass every line
//! through [`redact::scrub`]. Colour only when stderr is a terminal and `NO_COLOR` is unset.

use std::io::{self, IsTerminal, Write};

use log::{Level, LevelFilter};

use crate::error::ExitKind;
use crate::redact;

/// The version printed in the starting marker.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Installs the stderr logger. `verbosity`: -1 quiet, 0 info, 1 `-v`, 2 `-vv`.
/// `RUST_LOG`, when set, is applied on top.
pub fn init_logger(verbosity: i8) {
    let ours = match verbosity {
        i8::MIN..=-1 => LevelFilter::Warn,
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(LevelFilter::Warn)
        .filter_module("migration_sentry", ours)
        .write_style(env_logger::WriteStyle::Never)
        .target(env_logger::Target::Stderr);
    if verbosity >= 2 {
        // Every round trip: the driver logs each query and its parameters at debug.
        builder
            .filter_module("tokio_postgres", LevelFilter::Debug)
            .filter_module("postgres", LevelFilter::Debug);
    }
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let colour = colour_enabled();
    builder.format(move |buf, record| {
        let text = redact::scrub(&record.args().to_string());
        let line = format_line(record.level(), record.target(), &text, colour);
        writeln!(buf, "{line}")
    });
    // A second init (tests) is harmless.
    let _ = builder.try_init();
}

fn colour_enabled() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One stderr line: markers (`=== … ===`) as they are, everything else behind `[sentry]`.
fn format_line(level: Level, target: &str, text: &str, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    if text.starts_with("===") {
        let code = if text.contains("FAILED") {
            "1;31"
        } else if text.contains("success") {
            "1;32"
        } else {
            "1"
        };
        return paint(code, text);
    }
    let body = if target.starts_with("migration_sentry") {
        text.to_string()
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

/// A section marker on stderr, e.g. `=== MIGRATION SENTRY: upgrade (verbose) ===`.
pub fn marker(title: &str) {
    log::info!("=== MIGRATION SENTRY: {title} ===");
}

/// The first marker of a run.
pub fn starting() {
    log::info!("=== MIGRATION SENTRY {VERSION}: starting ===");
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

/// Logs [`failed_line`]: always printed, even with `-q`.
pub fn failed(kind: ExitKind) {
    log::error!("{}", failed_line(kind));
}

/// A writer that scrubs every line before it reaches the inner writer (stdout).
pub struct Redacting<W: Write> {
    inner: W,
    pending: Vec<u8>,
    wrote: bool,
}

impl<W: Write> Redacting<W> {
    pub fn new(inner: W) -> Self {
        Redacting {
            inner,
            pending: Vec::new(),
            wrote: false,
        }
    }

    /// Whether anything was written: `main` prints a JSON error object only if the command
    /// did not print its own.
    pub fn wrote_anything(&self) -> bool {
        self.wrote
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        self.inner.write_all(redact::scrub(&text).as_bytes())
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wrote |= !buf.is_empty();
        self.pending.extend_from_slice(buf);
        // Scrub whole lines, so that a secret split across two writes is still seen whole.
        if let Some(last_nl) = self.pending.iter().rposition(|&b| b == b'\n') {
            let rest = self.pending.split_off(last_nl + 1);
            let ready = std::mem::replace(&mut self.pending, rest);
            self.emit(&ready)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let ready = std::mem::take(&mut self.pending);
            self.emit(&ready)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Redacting<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_printed_as_they_are() {
        let l = format_line(
            Level::Info,
            "migration_sentry::x",
            "=== MIGRATION SENTRY: success ===",
            false,
        );
        assert_eq!(l, "=== MIGRATION SENTRY: success ===");
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
    fn colour_only_when_asked() {
        let l = format_line(Level::Error, "migration_sentry", "boom", true);
        assert!(l.contains("\x1b["));
        assert!(!format_line(Level::Error, "migration_sentry", "boom", false).contains('\x1b'));
    }

    #[test]
    fn redacting_writer_scrubs_urls_split_across_writes() {
        let mut out = Vec::new();
        {
            let mut w = Redacting::new(&mut out);
            w.write_all(b"target: postgres://u:hunt").unwrap();
            w.write_all(b"er2@h/db\nnext").unwrap();
        }
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "target: postgres://u:****@h/db\nnext");
    }
}
