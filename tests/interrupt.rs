//! SPEC §5.7 and §5.4: a deploy gate never leaves production locked. Signals, `--timeout`,
//! dead and black-holed connections (through the fault-injecting proxy of `common::proxy`),
//! a killed sentry behind a partition, lock-timeout retries, a real hot standby, and a role
//! without the privileges the sentry needs. Every check of "unlocked" is made on the server.

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::proxy::{Mode, Proxy};
use common::{
    Cluster, ClusterOptions, Outcome, Project, TestDb, cluster, run, sentry_backends, sentry_locks,
    server_is_clean, wait_for_statement, wait_until,
};

/// A sentry running in the background; killed (SIGKILL) on drop if still running, so that no
/// test leaves a process behind. Its stderr is collected as it comes, so that a test can wait
/// for a line.
struct Running {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the sentry");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().unwrap();
        let reader = thread::spawn({
            let stderr = stderr.clone();
            move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    stderr.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }
        });
        Running {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// What the sentry printed on stderr so far.
    fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits (at most 30 s) until the sentry has printed `needle` on stderr.
    fn wait_for_stderr(&self, needle: &str) {
        assert!(
            wait_until(Duration::from_secs(30), || self
                .stderr_so_far()
                .contains(needle)),
            "the sentry never printed {needle:?}:\n{}",
            self.stderr_so_far()
        );
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits at most `limit` for the process to end; panics (after killing it) otherwise.
    fn wait(mut self, limit: Duration) -> Ended {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (_, err) = self.read_output();
                panic!("the sentry did not end within {limit:?}\n--- stderr ---\n{err}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let at = Instant::now();
        let (_, stderr) = self.read_output();
        Ended { status, stderr, at }
    }

    fn read_output(&mut self) -> (String, String) {
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (out, self.stderr_so_far())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
struct Ended {
    status: ExitStatus,
    stderr: String,
    /// When the process was seen to end.
    at: Instant,
}

impl Ended {
    /// Exit code, or 128 + the signal, as a shell shows it.
    fn shell_status(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }
}

/// Whether `version` has a tracking row. A failing query (no tracking table, say) fails the
/// test rather than reading as "not recorded".
fn recorded(db: &TestDb, version: &str) -> bool {
    db.client()
        .query_opt(
            "SELECT 1 FROM schema_migrations WHERE version = $1",
            &[&version],
        )
        .unwrap_or_else(|e| {
            let why = e
                .as_db_error()
                .map_or(e.to_string(), |d| d.message().to_string());
            panic!("reading the tracking row of {version}: {why}")
        })
        .is_some()
}

/// Waits until a sentry on `db` has found the advisory lock held and polls for it: its
/// session is idle after the polling statement (not the opening's attempt), so one attempt
/// has failed, and the sentry says "waiting for advisory lock" whatever happens next.
fn wait_until_polling_for_the_lock(db: &TestDb) {
    assert!(
        wait_until(Duration::from_secs(30), || sentry_backends(db).iter().any(
            |(_, state, q)| state == "idle" && q == "SELECT pg_try_advisory_lock($1)"
        )),
        "the sentry never polled for the lock: {:?}",
        sentry_backends(db)
    );
}

/// A project whose second migration takes an ACCESS EXCLUSIVE lock on `t` and then sleeps.
fn slow_project(sleep_secs: u32) -> Project {
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.write_migration(
        "0002_slow",
        &format!("ALTER TABLE t ADD COLUMN c int;\nSELECT pg_sleep({sleep_secs});\n"),
    );
    p
}

fn url_via(db: &TestDb, proxy: &Proxy) -> String {
    db.url().replace(
        &format!("127.0.0.1:{}/", db.port),
        &format!("127.0.0.1:{}/", proxy.port()),
    )
}

/// The FAILED line and status of a run ended by `sig`, its statement cancelled on the server
/// (the server clean long before the statement's minute is up); then a re-run (with the slow
/// migration made quick) takes the lock at once.
fn signal_mid_statement(sig: &str, number: i32) {
    let db = cluster().create_db();
    let p = slow_project(60);
    let sentry = Running::spawn(p.sentry(&db).arg("run"));
    wait_for_statement(&db, "pg_sleep");
    assert!(
        !sentry_locks(&db).is_empty(),
        "the migration holds its locks"
    );
    sentry.signal(sig);
    // The statement sleeps for a minute: ending within 30 s, the sentry did not wait for it.
    let ended = sentry.wait(Duration::from_secs(30));
    assert_eq!(
        ended.status.signal(),
        Some(number),
        "ended by {sig}: {ended:?}"
    );
    assert_eq!(ended.shell_status(), 128 + number);
    let last = ended.stderr.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "=== MIGRATION SENTRY: FAILED (SIG{sig}: interrupted, status {}) ===",
            128 + number
        ),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .contains(&format!("interrupted by SIG{sig} while applying 0002_slow")),
        "{}",
        ended.stderr
    );
    assert!(
        ended.stderr.contains("cancelled on the server"),
        "{}",
        ended.stderr
    );
    // The main thread cleaned up itself, rather than being ended after the grace period.
    assert!(
        !ended.stderr.contains("did not answer the cancel request"),
        "{}",
        ended.stderr
    );
    // On the server: nothing of the sentry runs or holds a lock, long before the statement
    // would have ended by itself.
    assert!(
        wait_until(Duration::from_secs(30), || server_is_clean(&db)),
        "backends {:?} locks {:?}",
        sentry_backends(&db),
        sentry_locks(&db)
    );
    assert!(recorded(&db, "0001_t"));
    assert!(!recorded(&db, "0002_slow"), "rolled back");
    // No lock left to wait for: `--wait-for-lock 0` fails at once if there were one.
    p.write_migration("0002_slow", "ALTER TABLE t ADD COLUMN c int;\n");
    let out = p.run(&db, &["run", "--wait-for-lock", "0"]);
    out.assert_code(0);
    assert!(recorded(&db, "0002_slow"));
}

#[test]
fn sigterm_mid_statement_cancels_rolls_back_unlocks_and_ends_by_sigterm() {
    signal_mid_statement("TERM", 15);
}

#[test]
fn sigint_mid_statement_cancels_rolls_back_unlocks_and_ends_by_sigint() {
    signal_mid_statement("INT", 2);
}

/// SIGTERM during the second statement of a no-transaction migration: its first statement
/// committed and stays, and the message says so (SPEC §5.3) instead of "nothing was committed".
#[test]
fn sigterm_mid_no_transaction_migration_says_which_statements_stayed() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration(
        "0001_nt",
        "-- sentry:no-transaction\nCREATE TABLE IF NOT EXISTS u (id int);\nSELECT pg_sleep(60);\n\
         CREATE TABLE IF NOT EXISTS v (id int);\n",
    );
    let sentry = Running::spawn(p.sentry(&db).arg("run"));
    wait_for_statement(&db, "pg_sleep");
    sentry.signal("TERM");
    let ended = sentry.wait(Duration::from_secs(30));
    assert_eq!(ended.status.signal(), Some(15), "{ended:?}");
    // Long before the statement's minute is up: it was cancelled.
    assert!(
        wait_until(Duration::from_secs(30), || server_is_clean(&db)),
        "backends {:?} locks {:?}",
        sentry_backends(&db),
        sentry_locks(&db)
    );
    for needle in [
        "interrupted by SIGTERM while applying 0001_nt: 0001_nt is a no-transaction migration: \
         its statements commit one by one. Its statement at line 3 was cancelled on the server \
         before it completed, and those after it did not run.",
        "\n    These 1 stayed applied (no tracking row was written):\n      \
         line 2: CREATE TABLE IF NOT EXISTS u (id int)\n",
        "\n    The next run replays the whole file",
    ] {
        assert!(
            ended.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            ended.stderr
        );
    }
    assert!(
        !ended.stderr.contains("nothing of the interrupted one"),
        "{}",
        ended.stderr
    );
    let exists = |t: &str| {
        db.client()
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
            .unwrap()
            .get::<_, bool>(0)
    };
    assert!(exists("u") && !exists("v"));
    assert!(!recorded(&db, "0001_nt"));
}

#[test]
fn sigterm_while_waiting_for_the_lock_ends_at_once_by_sigterm() {
    let db = cluster().create_db();
    let p = slow_project(0);
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(4242)")
        .unwrap();
    let sentry = Running::spawn(p.sentry(&db).args(["run", "--lock-key", "4242"]));
    sentry.wait_for_stderr("waiting for advisory lock 4242");
    sentry.signal("TERM");
    // Well before --wait-for-lock's 120 s would have run out, and not by the grace period's
    // forced end.
    let ended = sentry.wait(Duration::from_secs(30));
    assert_eq!(ended.shell_status(), 143, "{ended:?}");
    assert!(
        ended
            .stderr
            .contains("interrupted by SIGTERM while waiting for the advisory lock"),
        "{}",
        ended.stderr
    );
    assert!(
        !ended.stderr.contains("did not answer the cancel request"),
        "{}",
        ended.stderr
    );
    assert!(wait_until(Duration::from_secs(30), || sentry_backends(&db).is_empty()));
}

#[test]
fn a_second_signal_ends_at_once_when_cleanup_cannot_finish() {
    // Behind a black hole the cancel request cannot get through and cleanup would wait for the
    // grace period; the second signal does not wait.
    let db = cluster().create_db();
    let p = slow_project(60);
    let proxy = Proxy::start(db.port);
    let sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .args(["run", "--connect-timeout", "2s"]),
    );
    wait_for_statement(&db, "pg_sleep");
    proxy.set(Mode::BlackHole);
    sentry.signal("TERM");
    // The first signal was taken in (two signals sent at once would count as one).
    sentry.wait_for_stderr("SIGTERM received");
    sentry.signal("TERM");
    let ended = sentry.wait(Duration::from_secs(30));
    assert_eq!(ended.shell_status(), 143, "{ended:?}");
    // Ended by the second signal, at once: not by the grace period's forced end, which
    // prints that the server did not answer.
    assert!(ended.stderr.contains("SIGTERM again"), "{}", ended.stderr);
    assert!(
        !ended.stderr.contains("did not answer the cancel request"),
        "{}",
        ended.stderr
    );
}

#[test]
fn a_signal_behind_a_black_hole_still_ends_by_the_signal_after_the_grace_period() {
    let db = cluster().create_db();
    let p = slow_project(60);
    let proxy = Proxy::start(db.port);
    let sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .args(["run", "--connect-timeout", "2s"]),
    );
    wait_for_statement(&db, "pg_sleep");
    proxy.set(Mode::BlackHole);
    let sent = Instant::now();
    sentry.signal("INT");
    let ended = sentry.wait(Duration::from_secs(40));
    assert_eq!(ended.shell_status(), 130, "{ended:?}");
    // Not before the grace period (5 s); the upper bound only catches a hang, as the cancel
    // request can never get through.
    let took = ended.at - sent;
    assert!(took >= Duration::from_secs(4), "{took:?}");
    assert!(
        ended.stderr.contains("did not answer the cancel request"),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .trim_end()
            .ends_with("=== MIGRATION SENTRY: FAILED (SIGINT: interrupted, status 130) ==="),
        "{}",
        ended.stderr
    );
}

#[test]
fn timeout_cancels_a_long_migration_with_exit_10_and_leaves_nothing_locked() {
    let db = cluster().create_db();
    let p = slow_project(60);
    let out = {
        let started = Instant::now();
        let out = p.run(&db, &["run", "--timeout", "2s"]);
        // The statement sleeps for a minute: well before, it was cancelled.
        let took = started.elapsed();
        assert!(took < Duration::from_secs(30), "{took:?}");
        out
    };
    out.assert_code(10);
    assert!(
        out.stderr
            .contains("--timeout 2s passed while applying 0002_slow"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .trim_end()
            .ends_with("=== MIGRATION SENTRY: FAILED (exit 10: interrupted) ==="),
        "{}",
        out.stderr
    );
    assert!(wait_until(Duration::from_secs(30), || server_is_clean(&db)));
    assert!(!recorded(&db, "0002_slow"));
    // SENTRY_TIMEOUT is the same option.
    let out = run(p.sentry(&db).env("SENTRY_TIMEOUT", "1s").arg("upgrade"));
    out.assert_code(10);
}

#[test]
fn timeout_while_waiting_for_the_lock_is_exit_10_not_5() {
    let db = cluster().create_db();
    let p = slow_project(0);
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(4243)")
        .unwrap();
    let started = Instant::now();
    let out = p.run(
        &db,
        &[
            "run",
            "--lock-key",
            "4243",
            "--wait-for-lock",
            "60s",
            "--timeout",
            "1500ms",
        ],
    );
    out.assert_code(10);
    // Long before --wait-for-lock's 60 s: the deadline ended the wait.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        out.stderr
            .contains("--timeout 1s 500ms passed while waiting for the advisory lock"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_black_hole_during_the_lock_wait_is_noticed_by_the_watchdog_and_the_server_cleans_up() {
    let db = cluster().create_db();
    let p = slow_project(0);
    let proxy = Proxy::start(db.port);
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(4244)")
        .unwrap();
    let sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .args([
                "run",
                "--lock-key",
                "4244",
                "--wait-for-lock",
                "10m",
                "--connect-timeout",
                "2s",
            ]),
    );
    // Polling for the lock, with the cleanup timeouts set by the message that first tried it.
    sentry.wait_for_stderr("waiting for advisory lock 4244");
    let cut = Instant::now();
    proxy.set(Mode::BlackHole);
    // Watchdog bound: 2 × --connect-timeout = 5 s (its floor), then the 5 s grace; without
    // the watchdog, the sentry would wait for --wait-for-lock's 10 minutes.
    let ended = sentry.wait(Duration::from_secs(60));
    assert_eq!(ended.shell_status(), 4, "{ended:?}");
    let took = ended.at - cut;
    assert!(
        ended.stderr.contains("the connection went silent while"),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .trim_end()
            .ends_with("=== MIGRATION SENTRY: FAILED (exit 4: database unreachable) ==="),
        "{}",
        ended.stderr
    );
    // The orphaned session (kept open by the proxy) is ended by the server:
    // idle_session_timeout, set while the sentry waits for the lock.
    assert!(
        wait_until(Duration::from_secs(60), || sentry_backends(&db).is_empty()),
        "{:?}",
        sentry_backends(&db)
    );
    eprintln!(
        "black hole in lock wait: exit after {took:?}; server session gone after {:?}",
        cut.elapsed()
    );
}

#[test]
fn a_black_hole_mid_migration_is_noticed_and_the_server_releases_the_locks() {
    let db = cluster().create_db();
    let p = slow_project(3);
    let proxy = Proxy::start(db.port);
    let sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .args(["run", "--connect-timeout", "2s"]),
    );
    wait_for_statement(&db, "pg_sleep");
    let cut = Instant::now();
    proxy.set(Mode::BlackHole);
    let ended = sentry.wait(Duration::from_secs(60));
    assert_eq!(ended.shell_status(), 4, "{ended:?}");
    let took = ended.at - cut;
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        ended
            .stderr
            .contains("the connection went silent while applying 0002_slow"),
        "{}",
        ended.stderr
    );
    assert!(
        ended.stderr.contains("nothing of it was committed"),
        "{}",
        ended.stderr
    );
    // The server finished the statement, found nobody listening, and ends the session idle in
    // its transaction (idle_in_transaction_session_timeout): the table lock is gone.
    assert!(
        wait_until(Duration::from_secs(60), || sentry_locks(&db).is_empty()),
        "{:?}",
        sentry_locks(&db)
    );
    let released = cut.elapsed();
    eprintln!("black hole mid-migration: exit after {took:?}; locks released after {released:?}");
    assert!(!recorded(&db, "0002_slow"));
    p.write_migration("0002_slow", "ALTER TABLE t ADD COLUMN c int;\n");
    p.run(&db, &["run", "--wait-for-lock", "60s"])
        .assert_code(0);
}

/// The server-side cleanup settings (SPEC §5.7) as a migration sees them in its own session:
/// `name=setting` lines, recorded by the migration into a table.
fn cleanup_settings_seen(p: &Project, db: &TestDb, args: &[&str]) -> (Outcome, String) {
    p.write_migration(
        "0001_seen",
        "CREATE TABLE seen AS SELECT name, setting FROM pg_settings WHERE name IN \
         ('idle_in_transaction_session_timeout', 'idle_session_timeout', \
          'client_connection_check_interval', 'tcp_keepalives_idle', \
          'tcp_keepalives_interval', 'tcp_keepalives_count', 'tcp_user_timeout');\n",
    );
    let out = p.run(db, args);
    out.assert_code(0);
    let seen = db
        .query_one_string("SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM seen");
    (out, seen)
}

/// Every path that holds the advisory lock has the same server-side cleanup settings (issue
/// #8): the lock taken at once by the opening message, and the lock polled for while another
/// session held it. Seen from inside the sentry's own session, by a migration.
#[test]
fn the_server_side_cleanup_settings_are_set_whether_the_lock_is_taken_at_once_or_waited_for() {
    let expected = "client_connection_check_interval=5000 idle_in_transaction_session_timeout=30000 \
                    idle_session_timeout=30000 tcp_keepalives_count=3 tcp_keepalives_idle=10 \
                    tcp_keepalives_interval=5 tcp_user_timeout=30000";

    let db = cluster().create_db();
    let p = Project::new();
    let (out, seen) = cleanup_settings_seen(&p, &db, &["run", "--lock-key", "4245"]);
    assert!(
        out.stderr.contains("lock acquired (key 4245)"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("waiting for advisory lock"),
        "{}",
        out.stderr
    );
    assert_eq!(seen, expected, "lock taken at once");

    let db = cluster().create_db();
    let p = Project::new();
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(4245)")
        .unwrap();
    let (out, seen) = thread::scope(|scope| {
        // Released once the sentry has found it held and polls for it.
        scope.spawn(|| {
            wait_until_polling_for_the_lock(&db);
            holder
                .batch_execute("SELECT pg_advisory_unlock(4245)")
                .unwrap();
        });
        cleanup_settings_seen(
            &p,
            &db,
            &["run", "--lock-key", "4245", "--wait-for-lock", "60s"],
        )
    });
    assert!(
        out.stderr.contains("waiting for advisory lock 4245"),
        "{}",
        out.stderr
    );
    assert_eq!(seen, expected, "lock waited for");
}

/// The lock taken at once, then a partition while the session holds it outside any
/// transaction (between two statements of a no-transaction migration), then `kill -9`: the
/// server ends the orphaned session, and so releases the lock, within a minute
/// (`idle_session_timeout`). Before issue #8 was closed this path never set it, and the proxy
/// kept the session — and the lock — alive for good.
#[test]
fn a_partition_while_holding_the_lock_idle_then_kill_9_the_server_releases_it() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration(
        "0001_nt",
        "-- sentry:no-transaction\nSELECT pg_sleep(1);\nSELECT 1;\n",
    );
    let proxy = Proxy::start(db.port);
    let mut sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .args(["run", "--lock-key", "4246"]),
    );
    wait_for_statement(&db, "pg_sleep");
    let cut = Instant::now();
    proxy.set(Mode::BlackHole);
    sentry.child.kill().unwrap();
    let _ = sentry.child.wait();
    let (_, stderr) = sentry.read_output();
    assert!(stderr.contains("lock acquired (key 4246)"), "{stderr}");
    assert!(!stderr.contains("waiting for advisory lock"), "{stderr}");
    // The statement ends by itself; its reply goes into the black hole, and the session sits
    // idle, in no transaction, holding the advisory lock.
    assert!(
        wait_until(Duration::from_secs(10), || {
            sentry_backends(&db)
                .iter()
                .any(|(_, state, _)| state == "idle")
        }),
        "{:?}",
        sentry_backends(&db)
    );
    assert_eq!(sentry_locks(&db), ["advisory ExclusiveLock"]);
    assert!(
        wait_until(Duration::from_secs(60), || sentry_locks(&db).is_empty()
            && sentry_backends(&db).is_empty()),
        "locks {:?} backends {:?}",
        sentry_locks(&db),
        sentry_backends(&db)
    );
    eprintln!(
        "partition while holding the lock + kill -9: server clean after {:?}",
        cut.elapsed()
    );
    drop(proxy);
    // `--wait-for-lock 0`: fails at once if the lock were still held.
    p.run(&db, &["run", "--lock-key", "4246", "--wait-for-lock", "0"])
        .assert_code(0);
}

#[test]
fn a_partition_then_kill_9_the_server_releases_everything_within_a_minute() {
    let db = cluster().create_db();
    let p = slow_project(2);
    let proxy = Proxy::start(db.port);
    let mut sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .arg("run"),
    );
    wait_for_statement(&db, "pg_sleep");
    let cut = Instant::now();
    proxy.set(Mode::BlackHole);
    sentry.child.kill().unwrap();
    let _ = sentry.child.wait();
    assert!(
        !sentry_locks(&db).is_empty(),
        "still locked right after the kill"
    );
    assert!(
        wait_until(Duration::from_secs(60), || sentry_locks(&db).is_empty()
            && sentry_backends(&db).is_empty()),
        "locks {:?} backends {:?}",
        sentry_locks(&db),
        sentry_backends(&db)
    );
    eprintln!(
        "partition + kill -9: server clean after {:?}",
        cut.elapsed()
    );
    drop(proxy);
    p.write_migration("0002_slow", "ALTER TABLE t ADD COLUMN c int;\n");
    // `--wait-for-lock 0`: fails at once if the lock were still held.
    p.run(&db, &["run", "--wait-for-lock", "0"]).assert_code(0);
}

#[test]
fn a_connection_cut_mid_migration_is_exit_4_and_says_nothing_was_committed() {
    let db = cluster().create_db();
    let p = slow_project(30);
    let proxy = Proxy::start(db.port);
    let sentry = Running::spawn(
        p.sentry(&db)
            .env("DATABASE_URL", url_via(&db, &proxy))
            .arg("run"),
    );
    wait_for_statement(&db, "pg_sleep");
    proxy.set(Mode::Cut);
    let ended = sentry.wait(Duration::from_secs(10));
    assert_eq!(ended.shell_status(), 4, "{ended:?}");
    assert!(
        ended
            .stderr
            .contains("connection was lost while applying 0002_slow"),
        "{}",
        ended.stderr
    );
    assert!(
        ended
            .stderr
            .contains("every migration is atomic, so nothing was half-applied"),
        "{}",
        ended.stderr
    );
    // The server noticed the closed socket (client_connection_check_interval) and ended the
    // statement instead of sleeping on for 30 s.
    assert!(
        wait_until(Duration::from_secs(20), || sentry_locks(&db).is_empty()),
        "{:?}",
        sentry_locks(&db)
    );
    // What the message says is what the database holds: 0001 stays, nothing of 0002 (its
    // column, its tracking row) was committed.
    assert!(recorded(&db, "0001_t"));
    assert!(!recorded(&db, "0002_slow"));
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 't' AND column_name = 'c'"
        ),
        "0",
        "0002_slow's column was committed"
    );
}

#[test]
fn a_plain_tcp_proxy_is_not_mistaken_for_a_pooler() {
    let db = cluster().create_db();
    let p = slow_project(0);
    let proxy = Proxy::start(db.port);
    let out = run(p
        .sentry(&db)
        .env("DATABASE_URL", url_via(&db, &proxy))
        .arg("run"));
    out.assert_code(0);
    assert!(recorded(&db, "0002_slow"));
}

/// A session of the application (same role as the sentry, so that its state and query are
/// visible) holding `ACCESS SHARE` on `t` in an open transaction.
fn blocker(db: &TestDb) -> (postgres::Client, i32) {
    let mut c = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    c.batch_execute("BEGIN; SELECT count(*) FROM t;").unwrap();
    (c, pid)
}

/// Waits until a sentry session on the database of `url` has waited for a lock and stopped
/// waiting (its lock_timeout expired), then commits `blocker`'s transaction.
fn commit_after_first_lock_wait(url: &str, blocker: &mut postgres::Client) {
    let mut watch = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut waiting = || -> bool {
        watch
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() \
                 AND application_name = 'migration-sentry' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert!(
        wait_until(Duration::from_secs(30), &mut waiting),
        "never waited"
    );
    assert!(
        wait_until(Duration::from_secs(30), || !waiting()),
        "never gave up"
    );
    blocker.batch_execute("COMMIT").unwrap();
}

#[test]
fn a_lock_timeout_is_retried_with_backoff_and_succeeds_once_the_blocker_commits() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.run(&db, &["run"]).assert_code(0);
    p.write_migration("0002_add", "ALTER TABLE t ADD COLUMN c int;\n");
    let (mut c, pid) = blocker(&db);
    let watch_url = db.url();
    let committer = thread::spawn(move || {
        // Commit once the sentry's first attempt has waited and given up.
        commit_after_first_lock_wait(&watch_url, &mut c);
    });
    let started = Instant::now();
    // 5 s: the probe comes at 60 % of it and has the other 2 s (and the 1 s the sentry waits
    // for a probe under way) to see pg_blocking_pids() while the migration waits, even on a
    // loaded machine; otherwise the sentry can only guess ("(probably)").
    let out = p.run(&db, &["run", "--lock-timeout", "5s", "--lock-retries", "6"]);
    committer.join().unwrap();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("0002_add: lock_timeout (5000 ms) expired"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Retry 1 of 6"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Blocked by pid {pid} (idle in transaction")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("SELECT count(*) FROM t"),
        "{}",
        out.stderr
    );
    assert!(recorded(&db, "0002_add"));
    eprintln!("lock retry: succeeded after {:?}", started.elapsed());
}

#[test]
fn lock_retries_give_up_with_exit_7_naming_the_blocker() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.run(&db, &["run"]).assert_code(0);
    p.write_migration("0002_add", "ALTER TABLE t ADD COLUMN c int;\n");
    let (_c, pid) = blocker(&db);
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "200ms", "--lock-retries", "2"],
    );
    out.assert_code(7);
    assert!(out.stderr.contains("Retry 2 of 2"), "{}", out.stderr);
    assert!(!out.stderr.contains("Retry 3"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("lock_timeout (200 ms) expired on each of 3 attempt(s) (--lock-retries 2)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("pid {pid} (idle in transaction")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("SQLSTATE 55P03"), "{}", out.stderr);
    assert!(!recorded(&db, "0002_add"));
    // --lock-retries 0: the first lock_timeout is final.
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "200ms", "--lock-retries", "0"],
    );
    out.assert_code(7);
    assert!(!out.stderr.contains("Retry"), "{}", out.stderr);
}

#[test]
fn a_hot_standby_is_refused_by_writing_commands_and_named_by_reading_ones() {
    let primary = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let db = primary.create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.run(&db, &["run"]).assert_code(0);
    let standby = primary.standby();
    let sdb = standby.on_standby(&db);
    let refused = |args: &[&str]| -> Outcome {
        let out = p.run(&sdb, args);
        out.assert_code(3);
        assert!(
            out.stderr
                .contains("DATABASE_URL points at a read-only standby"),
            "{args:?}: {}",
            out.stderr
        );
        out
    };
    // Nothing pending: refused all the same (a deploy gate pointed at a standby is wrong).
    refused(&["run"]);
    p.write_migration("0002_u", "CREATE TABLE u (id int);\n");
    let out = refused(&["run"]);
    assert!(!out.stderr.contains("25006"), "{}", out.stderr);
    refused(&["upgrade"]);
    refused(&["stamp"]);
    refused(&["repair"]);
    for args in [&["status"][..], &["verify"], &["ping"]] {
        let out = p.run(&sdb, args);
        assert!(
            out.stderr.contains("reading a read-only standby"),
            "{args:?}: {}",
            out.stderr
        );
    }
    p.run(&sdb, &["status"]).assert_code(9);
}

#[test]
fn a_role_without_the_privileges_the_sentry_needs_gets_exit_3_and_the_grant() {
    let c = cluster();
    let db = c.create_db();
    let password = "weak-role-pw-31c9";
    let role = c.create_role(password);
    let url = db.url_with(&role, Some(password), "127.0.0.1", "sslmode=disable");
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    // 1. It cannot create the tracking table in public (PostgreSQL 15: only the owner can).
    let out = run(p.sentry(&db).env("DATABASE_URL", &url).arg("run"));
    out.assert_code(3);
    assert!(
        out.stderr.contains(&format!(
            "Fix, as the database owner: GRANT CREATE ON SCHEMA public TO {role};"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("internal error"), "{}", out.stderr);
    // 2. The table exists (made by the owner) but the role may not read it.
    p.run(&db, &["run"]).assert_code(0);
    let out = run(p.sentry(&db).env("DATABASE_URL", &url).arg("run"));
    out.assert_code(3);
    assert!(
        out.stderr.contains(&format!(
            "GRANT SELECT, INSERT ON TABLE public.schema_migrations TO {role};"
        )),
        "{}",
        out.stderr
    );
    // 3. The advisory-lock function revoked.
    db.execute(&format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON schema_migrations TO {role}; \
         REVOKE EXECUTE ON FUNCTION pg_try_advisory_lock(bigint) FROM PUBLIC;"
    ));
    let out = run(p.sentry(&db).env("DATABASE_URL", &url).arg("run"));
    out.assert_code(3);
    assert!(
        out.stderr.contains(&format!(
            "GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(bigint) TO {role};"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_no_transaction_migration_is_retried_only_before_its_first_statement_succeeded() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.run(&db, &["run"]).assert_code(0);
    // Past the first statement: something is committed already, so never retried.
    p.write_migration(
        "0002_two",
        "-- sentry:no-transaction\nCREATE TABLE u (id int);\nALTER TABLE t ADD COLUMN c int;\n",
    );
    let (c, _) = blocker(&db);
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "200ms", "--lock-retries", "3"],
    );
    out.assert_code(7);
    assert!(!out.stderr.contains("Retry"), "{}", out.stderr);
    assert!(
        out.stderr.contains("these 1 stayed applied"),
        "{}",
        out.stderr
    );
    drop(c);
    // Its first statement: nothing committed yet, retried until the blocker is gone.
    p.write_migration(
        "0002_two",
        "-- sentry:no-transaction\nALTER TABLE t ADD COLUMN c int;\nCREATE TABLE IF NOT EXISTS u (id int);\n",
    );
    let (mut c, _) = blocker(&db);
    let watch_url = db.url();
    let committer = thread::spawn(move || commit_after_first_lock_wait(&watch_url, &mut c));
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "200ms", "--lock-retries", "6"],
    );
    committer.join().unwrap();
    out.assert_code(0);
    assert!(out.stderr.contains("Retry 1 of 6"), "{}", out.stderr);
    assert!(recorded(&db, "0002_two"));
}

/// A stricter cleanup setting the database (or role, or server) already has is kept, whatever
/// unit its SHOW text uses (`10s`, or the plain milliseconds of tcp_user_timeout's show hook);
/// looser ones are tightened.
#[test]
fn a_stricter_cleanup_setting_already_in_force_is_kept() {
    let db = cluster().create_db();
    db.execute(&format!(
        "ALTER DATABASE {} SET idle_in_transaction_session_timeout = '10s'",
        db.name
    ));
    db.execute(&format!(
        "ALTER DATABASE {} SET tcp_user_timeout = 10000",
        db.name
    ));
    db.execute(&format!(
        "ALTER DATABASE {} SET tcp_keepalives_idle = 600",
        db.name
    ));
    let p = Project::new();
    let (_, seen) = cleanup_settings_seen(&p, &db, &["run"]);
    assert_eq!(
        seen,
        "client_connection_check_interval=5000 idle_in_transaction_session_timeout=10000 \
         idle_session_timeout=30000 tcp_keepalives_count=3 tcp_keepalives_idle=10 \
         tcp_keepalives_interval=5 tcp_user_timeout=10000"
    );
}

// ---------------------------------------------------------------------------------------------
// A concurrent index build cut off midway keeps its index, INVALID

/// A project whose 0002 builds `big_v_idx` concurrently on `big` (0001, applied), and a session
/// holding a write transaction open on `big`: the build commits its catalog entry, then waits
/// for that writer ("waiting for writers before build") — a build observable for as long as the
/// test needs, without millions of rows.
fn blocked_index_build(db: &TestDb) -> (Project, postgres::Client) {
    let p = Project::new();
    p.write_migration("0001_big", "CREATE TABLE big (v int);\n");
    p.run(db, &["run"]).assert_code(0);
    p.write_migration(
        "0002_big_v",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS big_v_idx ON big (v);\n",
    );
    let mut writer = db.client();
    writer
        .batch_execute("BEGIN; INSERT INTO big VALUES (1)")
        .unwrap();
    (p, writer)
}

/// Waits until the sentry's build of an index on `big` has committed its catalog entry and waits
/// for the writer.
fn wait_for_the_build_to_wait(db: &TestDb) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            db.query_one_string(
                "SELECT count(*) FROM pg_stat_progress_create_index \
                 WHERE relid = 'big'::regclass AND phase = 'waiting for writers before build'",
            ) == "1"
        }),
        "the build never waited for the writer: {:?}",
        sentry_backends(db)
    );
}

fn index_valid(db: &TestDb, index: &str) -> Option<bool> {
    db.client()
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            &[&index],
        )
        .unwrap()
        .map(|r| r.get(0))
}

/// After the writer commits, the next run drops the INVALID index and builds it again.
fn the_next_run_rebuilds_it(db: &TestDb, p: &Project, mut writer: postgres::Client) {
    writer.batch_execute("COMMIT").unwrap();
    let out = p.run(db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("dropping it with DROP INDEX CONCURRENTLY and building it again"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("✓ 0002_big_v"), "{}", out.stderr);
    assert_eq!(index_valid(db, "big_v_idx"), Some(true));
    assert!(recorded(db, "0002_big_v"));
}

const LEFT_BIG_V_IDX: &str = "That statement left the index public.big_v_idx behind, INVALID: \
     queries never use it, a unique one guarantees nothing, and CREATE INDEX IF NOT EXISTS would \
     skip it. Remove it: DROP INDEX CONCURRENTLY public.big_v_idx; then deploy again";

#[test]
fn sigterm_during_a_concurrent_index_build_names_the_invalid_index_and_the_next_run_rebuilds_it() {
    let db = cluster().create_db();
    let (p, writer) = blocked_index_build(&db);
    let sentry = Running::spawn(p.sentry(&db).args(["run", "--lock-timeout", "60s"]));
    wait_for_the_build_to_wait(&db);
    sentry.signal("TERM");
    let ended = sentry.wait(Duration::from_secs(15));
    assert_eq!(ended.status.signal(), Some(15), "{ended:?}");
    assert!(
        wait_until(Duration::from_secs(2), || server_is_clean(&db)),
        "backends {:?} locks {:?}",
        sentry_backends(&db),
        sentry_locks(&db)
    );
    for needle in [
        "interrupted by SIGTERM while applying 0002_big_v: 0002_big_v is a no-transaction \
         migration: its statements commit one by one. Its statement at line 2 was cancelled on \
         the server before it completed, and those after it did not run. None of its earlier \
         statements had committed, and no tracking row was written.\n    ",
        LEFT_BIG_V_IDX,
    ] {
        assert!(
            ended.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            ended.stderr
        );
    }
    for claim in ["was committed", "nothing of the interrupted one"] {
        assert!(!ended.stderr.contains(claim), "{}", ended.stderr);
    }
    assert_eq!(index_valid(&db, "big_v_idx"), Some(false));
    assert!(!recorded(&db, "0002_big_v"));
    the_next_run_rebuilds_it(&db, &p, writer);
}

#[test]
fn timeout_during_a_concurrent_index_build_names_the_invalid_index() {
    let db = cluster().create_db();
    let (p, writer) = blocked_index_build(&db);
    let out = p.run(&db, &["run", "--lock-timeout", "60s", "--timeout", "3s"]);
    out.assert_code(10);
    for needle in [
        "--timeout 3s passed while applying 0002_big_v: 0002_big_v is a no-transaction \
         migration: its statements commit one by one. Its statement at line 2 was cancelled",
        LEFT_BIG_V_IDX,
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("was committed"), "{}", out.stderr);
    assert_eq!(index_valid(&db, "big_v_idx"), Some(false));
    the_next_run_rebuilds_it(&db, &p, writer);
}

/// lock_timeout during the build: the retry drops the INVALID index the first attempt left
/// (here the drop itself waits for the writer, and times out too); the report names the index.
#[test]
fn a_lock_timeout_during_a_concurrent_index_build_names_the_invalid_index_and_retries_from_clean() {
    let db = cluster().create_db();
    let (p, writer) = blocked_index_build(&db);
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "300ms", "--lock-retries", "1"],
    );
    out.assert_code(7);
    for needle in [
        "0002_big_v: lock_timeout (300 ms) expired at ",
        "0002_big_v.sql:2; nothing of it committed but the INVALID index public.big_v_idx, which \
         the retry drops and builds again. Retry 1 of 1",
        "the index public.big_v_idx exists but is INVALID",
        "SQLSTATE 55P03: while dropping the INVALID index public.big_v_idx to build it again \
         (DROP INDEX CONCURRENTLY): canceling statement due to lock timeout",
        "lock_timeout (300 ms) expired on each of 2 attempt(s)",
        "Its failing statement left the index public.big_v_idx behind, INVALID",
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("was committed"), "{}", out.stderr);
    assert_eq!(index_valid(&db, "big_v_idx"), Some(false));
    assert!(!recorded(&db, "0002_big_v"));
    the_next_run_rebuilds_it(&db, &p, writer);
}

/// REINDEX … CONCURRENTLY cut off by lock_timeout leaves its new copy, `…_ccnew`, INVALID: the
/// report names it, and it is not retried (a retry would leave one more copy each time).
#[test]
fn a_reindex_concurrently_cut_off_names_the_invalid_copy_it_left() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration(
        "0001_big",
        "CREATE TABLE big (v int);\nCREATE INDEX big_v_idx ON big (v);\n",
    );
    p.run(&db, &["run"]).assert_code(0);
    p.write_migration(
        "0002_reindex",
        "-- sentry:no-transaction\nREINDEX INDEX CONCURRENTLY big_v_idx;\n",
    );
    let mut writer = db.client();
    writer
        .batch_execute("BEGIN; INSERT INTO big VALUES (1)")
        .unwrap();
    let out = p.run(
        &db,
        &["run", "--lock-timeout", "300ms", "--lock-retries", "2"],
    );
    out.assert_code(7);
    assert!(!out.stderr.contains("Retry"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Its failing statement left the index public.big_v_idx_ccnew behind, INVALID"
        ) && out.stderr.contains(
            "Remove it: DROP INDEX CONCURRENTLY public.big_v_idx_ccnew; then deploy again."
        ),
        "{}",
        out.stderr
    );
    assert_eq!(index_valid(&db, "big_v_idx_ccnew"), Some(false));
    // The printed fix, then a deploy.
    writer.batch_execute("COMMIT").unwrap();
    db.client()
        .batch_execute("DROP INDEX CONCURRENTLY public.big_v_idx_ccnew;")
        .unwrap();
    p.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
}

/// The connection lost during a concurrent index build (its backend terminated): the catalog
/// cannot be asked, so the hint says what such a build leaves; the next run rebuilds it.
#[test]
fn a_connection_lost_during_a_concurrent_index_build_says_the_next_run_rebuilds_it() {
    let db = cluster().create_db();
    let (p, writer) = blocked_index_build(&db);
    let sentry = Running::spawn(p.sentry(&db).args(["run", "--lock-timeout", "60s"]));
    wait_for_the_build_to_wait(&db);
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_progress_create_index \
         WHERE relid = 'big'::regclass",
    );
    let ended = sentry.wait(Duration::from_secs(15));
    assert_eq!(ended.status.code(), Some(4), "{}", ended.stderr);
    assert!(
        ended.stderr.contains(
            "the statement at line 2 may or may not have completed. No tracking row was \
             written: run the sentry again once the database is back — it replays the file, and \
             stamp recovery skips what already exists. If it was cut off midway, this concurrent \
             index build left its index INVALID: the next run drops it and builds it again."
        ),
        "{}",
        ended.stderr
    );
    assert_eq!(index_valid(&db, "big_v_idx"), Some(false));
    the_next_run_rebuilds_it(&db, &p, writer);
}
