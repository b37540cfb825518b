//! The `migration-sentry` binary: parse, set up logging, run, map the error to an exit code.
//! This is the only place an error becomes a process status (SPEC §3).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;

use migration_sentry::cli;
use migration_sentry::config::Format;
use migration_sentry::error::{Error, ExitKind};
use migration_sentry::{annotate, commands, interrupt, output, redact};

fn main() -> ExitCode {
    // A panic is an internal error (exit 1). Its message is external text: scrubbed of the
    // password and kept on one line. This relies on panics unwinding, in release builds too:
    // Cargo.toml's release profile must not set `panic = "abort"` (tests/history.rs checks).
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "[sentry] ERROR: internal error (a bug in migration-sentry, please report it): {}",
            output::external(&info.to_string())
        );
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            eprintln!("{}", output::failed_line(ExitKind::Internal));
            ExitCode::from(ExitKind::Internal.code())
        }
    }
}

fn run() -> ExitCode {
    // Debug builds only: lets tests/history.rs prove that a panic ends with the FAILED line.
    #[cfg(debug_assertions)]
    if std::env::var_os("MIGRATION_SENTRY_TEST_PANIC").is_some() {
        panic!("MIGRATION_SENTRY_TEST_PANIC is set");
    }
    let cli = match cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are the sentry's own words (env values hidden, SPEC §8).
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{}", e.render());
                return ExitCode::SUCCESS;
            }
            // A usage error may echo any argument, the URL included: external text.
            eprint!("{}", redact::scrub(&e.render().to_string()));
            eprintln!("{}", output::failed_line(ExitKind::Usage));
            return ExitCode::from(ExitKind::Usage.code());
        }
    };
    // The logger comes first, so that a configuration error is reported through it.
    output::init_logger(cli.global.verbosity());
    let (command, config) = match cli.into_config() {
        Ok(parsed) => parsed,
        Err(e) => {
            log::error!("{e}");
            annotate::error(&e);
            output::failed(e.kind());
            return ExitCode::from(e.kind().code());
        }
    };
    // Signals and --timeout are handled from here on (SPEC §5.7).
    interrupt::install(config.timeout);
    let mut stdout = output::Results::new(io::stdout().lock());
    let result = commands::execute(&command, &config, &mut stdout);
    match interrupt::conclude(result) {
        Ok(()) => {
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let kind = e.kind();
            if config.format == Format::Json && !stdout.wrote_anything() {
                let obj = serde_json::json!({
                    "ok": false,
                    "exit_code": kind.code(),
                    "error": e.to_string(),
                });
                let _ = writeln!(stdout, "{obj}");
            }
            let _ = stdout.flush();
            // Schema failures were already printed line by line (✗ …); the summary suffices.
            log::error!("{e}");
            annotate::error(&e);
            if let Error::Interrupted { cause, .. } = &e
                && let Some(sig) = cause.signal()
            {
                // Cleaned up: now end by the same signal, as Unix tools do, so that the
                // calling script stops too (status 130/143).
                output::failed_by_signal(sig);
                interrupt::end_by_signal(sig);
            }
            output::failed(kind);
            ExitCode::from(kind.code())
        }
    }
}
