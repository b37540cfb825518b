//! Help that answers, through the real binary: each command's help shows its own options and
//! exit codes, `help COMMAND` is `COMMAND --help`, and no help ever shows an environment value.

mod common;

use common::{Outcome, run, sentry};

const COMMANDS: [&str; 11] = [
    "run",
    "check-env",
    "ping",
    "upgrade",
    "verify",
    "status",
    "stamp",
    "repair",
    "check",
    "new",
    "help",
];

fn help(args: &[&str]) -> Outcome {
    let out = run(sentry()
        .env("DATABASE_URL", "postgres://app:HelpSecret77@db/x")
        .env("SENTRY_TABLE", "visible_table_value")
        .env("SENTRY_WAIT_FOR_LOCK", "17s")
        .args(args));
    out.assert_code(0);
    assert!(out.stderr.is_empty(), "{args:?}: {}", out.stderr);
    for secret in ["HelpSecret77", "visible_table_value", "17s"] {
        assert!(!out.stdout.contains(secret), "{args:?} shows {secret}");
    }
    out
}

#[test]
fn help_command_and_help_flag_agree_for_every_command() {
    for cmd in COMMANDS {
        let flag = help(&[cmd, "--help"]);
        let word = help(&["help", cmd]);
        assert_eq!(flag.stdout, word.stdout, "{cmd}");
        assert!(
            flag.stdout
                .contains(&format!("Usage: migration-sentry {cmd} ")),
            "{cmd}: {}",
            flag.stdout
        );
        assert!(flag.stdout.contains("Exit codes:\n  0  success\n"), "{cmd}");
    }
    assert_eq!(help(&["help"]).stdout, help(&["--help"]).stdout);
}

#[test]
fn each_command_lists_its_own_options_and_exit_codes() {
    let new = help(&["new", "--help"]).stdout;
    for absent in ["--database-url", "--wait-for-lock", "--table", "--dry-run"] {
        assert!(!new.contains(absent), "new --help shows {absent}:\n{new}");
    }
    assert!(new.contains("--migrations-dir"), "{new}");

    let status = help(&["status", "--help"]).stdout;
    assert!(status.contains("  9  migrations are pending\n"), "{status}");
    assert!(status.contains("[env: DATABASE_URL]"), "{status}");
    assert!(!status.contains("--dry-run") && !status.contains("--wait-for-lock"));

    let check_env = help(&["check-env", "--help"]).stdout;
    assert!(
        !check_env.contains("  4  database unreachable"),
        "{check_env}"
    );

    // The top level keeps every option and every code.
    let top = help(&["--help"]).stdout;
    for shown in [
        "--wait-for-lock",
        "--dry-run",
        "  5  advisory lock not acquired",
    ] {
        assert!(top.contains(shown), "{shown}");
    }
}

#[test]
fn help_about_help_is_not_a_usage_error() {
    let out = help(&["help", "--help"]);
    assert!(
        out.stdout
            .contains("Usage: migration-sentry help [OPTIONS] [COMMAND]"),
        "{}",
        out.stdout
    );
    let out = run(sentry().args(["help", "no-such-command"]));
    out.assert_code(2);
    assert!(out.stderr.contains("no-such-command"), "{}", out.stderr);
}

#[test]
fn an_option_after_a_command_that_does_not_take_it_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(sentry()
            .current_dir(dir.path())
            .args(["new", "add users", "--wait-for-lock", "5s"]));
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "--wait-for-lock does not apply to `new`; it is an option of: run, upgrade, stamp, repair"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with("=== MIGRATION SENTRY: FAILED (exit 2: usage error) ===\n")
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Before the command an option is a shared setting, like its environment variable.
    let out =
        run(sentry()
            .current_dir(dir.path())
            .args(["--wait-for-lock", "5s", "new", "add users"]));
    out.assert_code(0);
    assert!(
        dir.path()
            .join("sql/migrations/0001_add_users.sql")
            .is_file()
    );
}
