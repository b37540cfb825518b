//! Fleets (`--targets`, SPEC §10) end to end through the real binary: up-front validation of
//! every target, the canary, `--parallel 1` and `4`, stop-on-failure with running targets
//! finishing, the table and the JSON, exit codes, per-target log labels and every target's
//! password kept out of every line.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::{Outcome, Project, TestDb, cluster, free_port, run};
use serde_json::Value;

const MIGRATIONS: [(&str, &str); 2] = [
    (
        "0001_accounts",
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL);\n",
    ),
    (
        "0002_plans",
        "CREATE TABLE plans (id int PRIMARY KEY);\nALTER TABLE accounts ADD COLUMN plan_id int;\n",
    ),
];

/// A project with two migrations and a targets file; each target's URL goes in its own
/// environment variable.
struct Fleet {
    project: Project,
    /// Name, environment variable, and its value (`None`: left unset).
    lines: Vec<(String, String, Option<String>)>,
}

impl Fleet {
    fn new() -> Fleet {
        let project = Project::new();
        for (stem, sql) in MIGRATIONS {
            project.write_migration(stem, sql);
        }
        Fleet {
            project,
            lines: Vec::new(),
        }
    }

    /// Adds target `name` whose URL is `url`.
    fn target(&mut self, name: &str, url: String) -> &mut Self {
        let var = format!("FLEET_{}_URL", name.to_uppercase().replace('-', "_"));
        self.lines.push((name.to_string(), var, Some(url)));
        self
    }

    fn targets_file(&self) -> PathBuf {
        let path = self.project.dir.path().join("targets.txt");
        let mut text = String::from("# name  env var\n");
        for (name, var, _) in &self.lines {
            text.push_str(&format!("{name} {var}\n"));
        }
        fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Outcome {
        run(&mut self.command(args))
    }

    /// The fleet command [`Fleet::run`] runs, for a test that watches it while it runs.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = common::sentry();
        cmd.current_dir(self.project.dir.path().join("cwd"))
            .arg("--migrations-dir")
            .arg(self.project.migrations())
            .arg("--targets")
            .arg(self.targets_file())
            .args(args);
        for (_, var, url) in &self.lines {
            if let Some(url) = url {
                cmd.env(var, url);
            }
        }
        cmd
    }
}

fn applied_versions(db: &TestDb) -> String {
    db.query_one_string(
        "SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migrations",
    )
}

fn has_tracking_table(db: &TestDb) -> bool {
    db.query_one_string("SELECT to_regclass('public.schema_migrations') IS NOT NULL") == "t"
}

/// A database already migrated by a single-database run.
fn migrated(fleet: &Fleet, db: &TestDb) {
    fleet.project.run(db, &["run"]).assert_code(0);
}

/// A database whose first migration was applied with other SQL: checksum drift.
fn drifted(fleet: &Fleet, db: &TestDb) {
    migrated(fleet, db);
    db.execute(
        "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '0001_accounts'",
    );
}

fn unreachable_url() -> String {
    format!(
        "postgresql://app:unreachable-pw@127.0.0.1:{}/nowhere?sslmode=disable&connect_timeout=2",
        free_port()
    )
}

/// The table row of `name` on stdout, split on runs of spaces.
fn row(out: &Outcome, name: &str) -> Vec<String> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{}", out.stdout));
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_target_is_validated_before_any_connection() {
    let c = cluster();
    let good = c.create_db();
    let mut fleet = Fleet::new();
    fleet
        .target("good", good.url())
        .target("broken", "mysql://someone:broken-pw-77@db/x".into())
        .target("typo", "postgres://app:typo-pw-91@db:54x2/x".into());
    fleet
        .lines
        .push(("unset".into(), "FLEET_NEVER_SET".into(), None));
    let out = fleet.run(&["run"]);
    out.assert_code(3);
    let all = out.all();
    assert!(all.contains("target broken (FLEET_BROKEN_URL)"), "{all}");
    assert!(all.contains("target typo (FLEET_TYPO_URL)"), "{all}");
    assert!(
        all.contains("target unset (FLEET_NEVER_SET): FLEET_NEVER_SET is not set"),
        "{all}"
    );
    for pw in ["broken-pw-77", "typo-pw-91"] {
        assert!(!all.contains(pw), "password {pw} printed:\n{all}");
    }
    // Nothing connected: the valid target was not touched either.
    assert!(!has_tracking_table(&good), "{all}");
    assert!(all.ends_with("=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ===\n"));
}

#[test]
fn parallel_one_stops_at_the_first_failure_and_reports_every_target() {
    let c = cluster();
    let (canary, done, drift, fresh) = (c.create_db(), c.create_db(), c.create_db(), c.create_db());
    let mut fleet = Fleet::new();
    migrated(&fleet, &done);
    drifted(&fleet, &drift);
    fleet
        .target("canary", canary.url())
        .target("done", done.url())
        .target("drift", drift.url())
        .target("fresh", fresh.url())
        .target("down", unreachable_url());
    let out = fleet.run(&["run", "--parallel", "1"]);
    out.assert_code(6);

    assert_eq!(
        row(&out, "canary")[1..4],
        ["ok", "2", "0"],
        "{}",
        out.stdout
    );
    assert_eq!(row(&out, "done")[1..4], ["ok", "0", "0"], "{}", out.stdout);
    assert_eq!(
        row(&out, "drift")[1..4],
        ["FAILED", "0", "6"],
        "{}",
        out.stdout
    );
    assert_eq!(row(&out, "fresh")[1..], ["not attempted", "-", "-", "-"]);
    assert_eq!(row(&out, "down")[1..], ["not attempted", "-", "-", "-"]);
    assert!(
        out.stdout.contains("2 ok, 1 failed, 2 not attempted"),
        "{}",
        out.stdout
    );

    assert_eq!(applied_versions(&canary), "0001_accounts,0002_plans");
    assert!(
        !has_tracking_table(&fresh),
        "a target after the failure was touched"
    );

    // Every line of a target carries its label; the fleet's own lines carry none.
    let err = &out.stderr;
    assert!(err.contains("[drift] [sentry] ERROR: "), "{err}");
    assert!(
        err.contains("[drift] === MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===")
    );
    assert!(
        err.contains("[canary] === MIGRATION SENTRY: success ==="),
        "{err}"
    );
    assert!(!err.contains("[fresh]"), "{err}");
    for line in err.lines() {
        let rest = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .filter(|(name, _)| ["canary", "done", "drift"].contains(name))
            .map_or(line, |(_, rest)| rest);
        assert!(
            rest.starts_with("[sentry] ") || rest.starts_with("=== ") || rest.starts_with("  "),
            "a line that is neither a record nor a marker: {line:?}\n{err}"
        );
    }
    assert!(err.contains("fleet: 1 of 5 targets failed, 2 not attempted; the first failure, in file order, is drift (exit 6: migration set invalid)"), "{err}");
    assert!(err.ends_with("=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===\n"));
}

#[test]
fn a_failing_canary_stops_everything() {
    let c = cluster();
    let (drift, fresh) = (c.create_db(), c.create_db());
    let mut fleet = Fleet::new();
    drifted(&fleet, &drift);
    fleet
        .target("canary", drift.url())
        .target("fresh", fresh.url());
    let out = fleet.run(&["run"]);
    out.assert_code(6);
    assert!(
        out.stderr
            .contains("the canary canary failed: no other target was attempted")
    );
    assert_eq!(row(&out, "fresh")[1], "not attempted");
    assert!(!has_tracking_table(&fresh));
}

#[test]
fn parallel_four_migrates_every_target_and_reports_json() {
    let c = cluster();
    let dbs: Vec<TestDb> = (0..6).map(|_| c.create_db()).collect();
    let mut fleet = Fleet::new();
    migrated(&fleet, &dbs[2]);
    for (i, db) in dbs.iter().enumerate() {
        fleet.target(&format!("t{i}"), db.url());
    }
    let out = fleet.run(&["run", "--parallel", "4", "--format", "json"]);
    out.assert_code(0);
    let objects: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objects.len(), 7, "{}", out.stdout);
    for (i, obj) in objects[..6].iter().enumerate() {
        assert_eq!(obj["target"], format!("t{i}"));
        assert_eq!(obj["outcome"], "ok");
        assert_eq!(obj["exit_code"], 0);
        assert_eq!(obj["applied"], if i == 2 { 0 } else { 2 }, "{obj}");
        assert_eq!(obj["result"]["ok"], true, "{obj}");
        assert!(obj["duration_ms"].is_u64());
    }
    let summary = &objects[6]["summary"];
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["succeeded"], 6);
    assert_eq!(summary["not_attempted"], 0);
    for db in &dbs {
        assert_eq!(applied_versions(db), "0001_accounts,0002_plans");
    }
    assert!(
        out.stderr.ends_with("=== MIGRATION SENTRY: success ===\n"),
        "{}",
        out.stderr
    );

    // status on the fleet: everything applied, one row per target.
    let out = fleet.run(&["status", "--format", "json"]);
    out.assert_code(0);
    let first: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["applied"], 2);
    assert_eq!(first["result"]["at_head"], true);
}

#[test]
fn targets_already_running_finish_after_a_failure() {
    let c = cluster();
    let (canary, slow, drift, later) = (c.create_db(), c.create_db(), c.create_db(), c.create_db());
    let mut fleet = Fleet::new();
    drifted(&fleet, &drift);
    fleet
        .target("canary", canary.url())
        .target("slow", slow.url())
        .target("drift", drift.url())
        .target("later", later.url());
    // Someone holds the sentry's lock on `slow`: its run waits, and is still running when
    // `drift` fails. The lock is released once the fleet has taken in that failure (drift's
    // run printed its FAILED line and was reaped: only slow's run is left), never on a clock.
    let mut holder = slow.client();
    holder
        .execute("SELECT pg_advisory_lock(4242)", &[])
        .unwrap();
    let log = fleet.project.dir.path().join("fleet.log");
    let child = common::spawn_group(
        fleet
            .command(&["run", "--parallel", "2", "--lock-key", "4242"])
            .stdout(std::process::Stdio::piped())
            .stderr(fs::File::create(&log).unwrap()),
    );
    let drift_failed = common::wait_until(Duration::from_secs(60), || {
        fs::read_to_string(&log)
            .unwrap()
            .contains("[drift] === MIGRATION SENTRY: FAILED (exit 6")
            && children_of(child.id()).len() == 1
    });
    assert!(
        drift_failed,
        "drift never failed alone:\n{}",
        fs::read_to_string(&log).unwrap()
    );
    holder
        .execute("SELECT pg_advisory_unlock(4242)", &[])
        .unwrap();
    let output = child.wait_with_output();
    let out = Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: fs::read_to_string(&log).unwrap(),
    };
    out.assert_code(6);
    assert_eq!(row(&out, "slow")[1..4], ["ok", "2", "0"], "{}", out.stdout);
    assert_eq!(row(&out, "drift")[1..4], ["FAILED", "0", "6"]);
    assert_eq!(row(&out, "later")[1], "not attempted");
    assert_eq!(applied_versions(&slow), "0001_accounts,0002_plans");
    assert!(!has_tracking_table(&later));
}

#[test]
fn no_target_password_appears_in_any_line() {
    let c = cluster();
    let mut fleet = Fleet::new();
    let mut passwords = Vec::new();
    let mut dbs = Vec::new();
    for i in 0..3 {
        let db = c.create_db();
        // Each target connects as its own role with its own password, which is also a word
        // the fleet prints.
        let password = ["canary", "ok", "target"][i].to_string() + "-secret";
        let role = c.create_role(&password);
        db.execute(&format!(
            "GRANT ALL ON DATABASE {} TO {role}; ALTER DATABASE {} OWNER TO {role}",
            db.name, db.name
        ));
        let url = db.url_with(&role, Some(&password), "127.0.0.1", "sslmode=disable");
        passwords.push(password);
        dbs.push((role, db, url));
    }
    for (i, (_, _, url)) in dbs.iter().enumerate() {
        fleet.target(&format!("db{i}"), url.clone());
    }
    // A wrong password for the last one: its error text is the server's.
    fleet.lines[2].2 = Some(dbs[2].2.replace("target-secret", "target-secret-wrong"));
    let out = fleet.run(&["-vv", "run", "--parallel", "2"]);
    out.assert_code(4);
    let all = out.all();
    for pw in passwords
        .iter()
        .map(String::as_str)
        .chain(["target-secret-wrong"])
    {
        assert!(!all.contains(pw), "password {pw} printed:\n{all}");
    }
    assert!(
        all.contains("[db0] [sentry] DB (redacted): postgresql://"),
        "{all}"
    );
}

/// A migration that sleeps for `app.sleep` seconds: a database-level setting makes it slow on
/// some targets only.
const SLOW: (&str, &str) = (
    "0003_slow",
    "SELECT pg_sleep(coalesce(nullif(current_setting('app.sleep', true), ''), '0')::float);\nCREATE TABLE slow_done (id int);\n",
);

fn running_sleeps(db: &TestDb) -> i64 {
    db.query_one_string(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
         AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(coalesce%'",
        db.name
    ))
    .parse()
    .unwrap()
}

fn sentry_locks(db: &TestDb) -> i64 {
    db.query_one_string(&format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = '{}' AND l.locktype = 'advisory'",
        db.name
    ))
    .parse()
    .unwrap()
}

/// SIGTERM while two members run a long statement: each is cancelled and rolled back, every
/// advisory lock is released long before the statements would have ended, the rest are not
/// attempted, and the fleet prints its table and ends by SIGTERM.
#[test]
fn a_signal_mid_fleet_stops_every_target_and_leaves_no_lock() {
    use std::process::Stdio;
    let c = cluster();
    let dbs: Vec<TestDb> = (0..4).map(|_| c.create_db()).collect();
    let mut fleet = Fleet::new();
    fleet.project.write_migration(SLOW.0, SLOW.1);
    for (i, db) in dbs.iter().enumerate() {
        if i > 0 {
            db.execute(&format!("ALTER DATABASE {} SET app.sleep = '60'", db.name));
        }
        fleet.target(&format!("t{i}"), db.url());
    }
    let mut cmd = common::sentry();
    cmd.current_dir(fleet.project.dir.path().join("cwd"))
        .arg("--migrations-dir")
        .arg(fleet.project.migrations())
        .arg("--targets")
        .arg(fleet.targets_file())
        .args(["run", "--parallel", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (_, var, url) in &fleet.lines {
        cmd.env(var, url.as_ref().unwrap());
    }
    let mut child = common::spawn_group(&mut cmd);
    let started = common::wait_until(Duration::from_secs(30), || {
        running_sleeps(&dbs[1]) == 1 && running_sleeps(&dbs[2]) == 1
    });
    assert!(
        started,
        "the two slow members never started their statement"
    );
    // SIGTERM to the fleet alone (as Render sends it): the members hear of it from the fleet.
    // SAFETY: kill(2) on the fleet this test started and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    // The statements sleep for 60 s: cleaned within 30 s, they were cancelled.
    let cleaned = common::wait_until(Duration::from_secs(30), || {
        dbs[1..3]
            .iter()
            .all(|db| running_sleeps(db) == 0 && sentry_locks(db) == 0)
    });
    let ended = common::wait_until(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(ended, "the fleet did not end within 30 s of SIGTERM");
    let output = child.wait_with_output();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        cleaned,
        "a member still runs or holds a lock 30 s after SIGTERM:\n{err}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGTERM), "{out}\n{err}");
    assert!(
        err.contains("[t1] === MIGRATION SENTRY: FAILED (SIGTERM: interrupted, status 143) ==="),
        "{err}"
    );
    assert!(
        err.contains("[t2] === MIGRATION SENTRY: FAILED (SIGTERM: interrupted, status 143) ==="),
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("FAILED (SIGTERM: interrupted, status 143)"),
        "{err}"
    );
    assert!(out.contains("not attempted"), "{out}");
    for db in &dbs[1..3] {
        assert_eq!(
            applied_versions(db),
            "0001_accounts,0002_plans",
            "0003 rolled back"
        );
    }
    assert!(!has_tracking_table(&dbs[3]));
    // Nothing left behind: the next run migrates everything (the sleep made short).
    for db in &dbs[1..] {
        db.execute(&format!("ALTER DATABASE {} RESET app.sleep", db.name));
    }
    fleet.run(&["run"]).assert_code(0);
}

/// `--timeout` on a fleet: every member stops at the fleet's deadline (exit 10), its statement
/// cancelled and its lock released; the fleet exits 10 too.
#[test]
fn the_fleet_deadline_stops_every_member_with_exit_10() {
    let c = cluster();
    let dbs: Vec<TestDb> = (0..3).map(|_| c.create_db()).collect();
    let mut fleet = Fleet::new();
    fleet.project.write_migration(SLOW.0, SLOW.1);
    for (i, db) in dbs.iter().enumerate() {
        if i > 0 {
            db.execute(&format!("ALTER DATABASE {} SET app.sleep = '60'", db.name));
        }
        fleet.target(&format!("t{i}"), db.url());
    }
    let started = std::time::Instant::now();
    let out = fleet.run(&["run", "--parallel", "2", "--timeout", "4s"]);
    out.assert_code(10);
    // The members' statements sleep for 60 s: ended well before, they were cancelled.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    for name in ["t1", "t2"] {
        assert!(
            out.stderr
                .contains(&format!("[{name}] === MIGRATION SENTRY: FAILED (exit 10")),
            "{}",
            out.stderr
        );
        assert_eq!(row(&out, name)[1..3], ["FAILED", "2"], "{}", out.stdout);
    }
    for db in &dbs[1..] {
        assert_eq!(sentry_locks(db), 0);
        assert_eq!(applied_versions(db), "0001_accounts,0002_plans");
    }
}

/// The pid of a child process of `parent` (a fleet's member), once one exists.
fn member_of(parent: u32) -> Option<i32> {
    children_of(parent).first().copied()
}

/// The child processes of `parent` (a fleet's members), zombies included: a member is gone
/// once the fleet has reaped it.
fn children_of(parent: u32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …: the comm may hold spaces, so split after the last ')'.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// A member stopped from outside the fleet (an operator's `kill`) counts as interrupted
/// (exit 10) when it could clean up (SIGTERM), and as killed (exit 1, with a line saying so)
/// when it could not (SIGKILL); either way no new target starts and no lock is left.
#[test]
fn a_member_stopped_from_outside_is_reported_by_its_signal() {
    use std::process::Stdio;
    for (sig, code, says) in [
        (libc::SIGTERM, 10, "interrupted by SIGTERM"),
        (libc::SIGKILL, 1, "killed by signal 9, without its cleanup"),
    ] {
        let c = cluster();
        let dbs: Vec<TestDb> = (0..3).map(|_| c.create_db()).collect();
        let mut fleet = Fleet::new();
        fleet.project.write_migration(SLOW.0, SLOW.1);
        dbs[1].execute(&format!(
            "ALTER DATABASE {} SET app.sleep = '60'",
            dbs[1].name
        ));
        for (i, db) in dbs.iter().enumerate() {
            fleet.target(&format!("t{i}"), db.url());
        }
        let mut cmd = common::sentry();
        cmd.current_dir(fleet.project.dir.path().join("cwd"))
            .arg("--migrations-dir")
            .arg(fleet.project.migrations())
            .arg("--targets")
            .arg(fleet.targets_file())
            .args(["run", "--parallel", "1", "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (_, var, url) in &fleet.lines {
            cmd.env(var, url.as_ref().unwrap());
        }
        let mut child = common::spawn_group(&mut cmd);
        assert!(
            common::wait_until(Duration::from_secs(30), || running_sleeps(&dbs[1]) == 1),
            "t1 never started its slow statement"
        );
        let member = member_of(child.id()).expect("the fleet's running member");
        // SAFETY: kill(2) on a process of this test's own process group.
        unsafe {
            libc::kill(member, sig);
        }
        assert!(
            common::wait_until(Duration::from_secs(15), || {
                child.try_wait().unwrap().is_some()
            }),
            "the fleet did not end after its member was stopped"
        );
        let output = child.wait_with_output();
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(code), "{out}\n{err}");
        let t1: Value = out
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["target"] == "t1")
            .unwrap_or_else(|| panic!("no t1 object:\n{out}"));
        assert_eq!(t1["exit_code"], code, "{t1}");
        assert!(t1["error"].as_str().unwrap().contains(says), "{t1}");
        if sig == libc::SIGKILL {
            // The member printed nothing about it: the fleet says it, labelled with its name.
            assert!(
                err.contains(&format!("ERROR: [t1] the run was {says}")),
                "{err}"
            );
        }
        assert!(out.contains("\"not_attempted\""), "{out}");
        // Whatever the signal, the server lets go: SIGTERM at once, SIGKILL once it notices
        // the closed socket (client_connection_check_interval, 5 s), long before the 60 s
        // statement ends.
        assert!(
            common::wait_until(Duration::from_secs(30), || {
                running_sleeps(&dbs[1]) == 0 && sentry_locks(&dbs[1]) == 0
            }),
            "t1's statement or lock outlived its process"
        );
        assert_eq!(applied_versions(&dbs[1]), "0001_accounts,0002_plans");
    }
}
