//! Tests of the test harness itself (tests/common): clusters, roles, pg_hba.conf, TLS, databases,
//! passwords and the way the binary is run.

mod common;

use std::net::TcpStream;
use std::time::Instant;

use common::{Cluster, ClusterOptions, Outcome, cluster, psql, run};

/// libpq conninfo for psql against the shared cluster.
fn conninfo(user: &str, password: &str, host: &str, db: &str, extra: &str) -> String {
    format!(
        "host={host} port={} user={user} password='{}' dbname={db} connect_timeout=5 {extra}",
        cluster().port(),
        password.replace('\\', r"\\").replace('\'', r"\'"),
    )
}

fn psql_run(conninfo: &str, sql: &str) -> Outcome {
    run(psql().arg("-d").arg(conninfo).arg("-c").arg(sql))
}

const SSL_IN_USE: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

#[test]
fn shared_cluster_starts_and_is_private() {
    let c = cluster();
    assert!(c.is_running());
    assert_ne!(c.port(), 5432, "must not be the system PostgreSQL");
    let out = psql_run(
        &conninfo("postgres", "", "127.0.0.1", "postgres", "sslmode=disable"),
        "SHOW data_directory",
    );
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), c.data_dir().to_str().unwrap());
}

#[test]
fn app_connects_over_tcp_without_tls() {
    let db = cluster().create_db();
    let info = conninfo(
        "app",
        common::APP_PASSWORD,
        "127.0.0.1",
        &db.name,
        "sslmode=disable",
    );
    let out = psql_run(&info, &format!("SELECT current_user; {SSL_IN_USE}"));
    out.assert_code(0);
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["app", "f"]
    );
    // The URL form, through the same driver the binary uses.
    let mut client = postgres::Client::connect(&db.url(), postgres::NoTls).expect("db.url()");
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, "app");
}

#[test]
fn app_wrong_password_is_rejected() {
    let db = cluster().create_db();
    let out = psql_run(
        &conninfo("app", "wrong", "127.0.0.1", &db.name, "sslmode=disable"),
        "SELECT 1",
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("password authentication failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_full_passes_for_localhost_and_fails_for_ip() {
    let c = cluster();
    let db = c.create_db();
    let ca = c.ca_cert_path();
    let tls = format!("sslmode=verify-full sslrootcert={}", ca.display());

    let ok = psql_run(
        &conninfo("app", common::APP_PASSWORD, "localhost", &db.name, &tls),
        SSL_IN_USE,
    );
    ok.assert_code(0);
    assert_eq!(ok.stdout.trim(), "t");

    let mismatch = psql_run(
        &conninfo("app", common::APP_PASSWORD, "127.0.0.1", &db.name, &tls),
        "SELECT 1",
    );
    assert_ne!(mismatch.code, 0);
    assert!(
        mismatch.stderr.contains("does not match host name"),
        "{}",
        mismatch.stderr
    );

    // verify-ca does not check the name, so the IP is fine there.
    let verify_ca = format!("sslmode=verify-ca sslrootcert={}", ca.display());
    psql_run(
        &conninfo(
            "app",
            common::APP_PASSWORD,
            "127.0.0.1",
            &db.name,
            &verify_ca,
        ),
        "SELECT 1",
    )
    .assert_code(0);
}

#[test]
fn other_ca_does_not_verify_the_server() {
    let c = cluster();
    let tls = format!(
        "sslmode=verify-ca sslrootcert={}",
        c.other_ca_cert_path().display()
    );
    let out = psql_run(
        &conninfo("app", common::APP_PASSWORD, "localhost", "postgres", &tls),
        "SELECT 1",
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("certificate verify failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn tlsonly_needs_tls() {
    let pw = common::TLSONLY_PASSWORD;
    let plain = psql_run(
        &conninfo("tlsonly", pw, "127.0.0.1", "postgres", "sslmode=disable"),
        "SELECT 1",
    );
    assert_ne!(plain.code, 0);
    assert!(
        plain.stderr.contains("pg_hba.conf rejects connection"),
        "{}",
        plain.stderr
    );
    assert!(plain.stderr.contains("no encryption"), "{}", plain.stderr);

    let tls = psql_run(
        &conninfo("tlsonly", pw, "127.0.0.1", "postgres", "sslmode=require"),
        SSL_IN_USE,
    );
    tls.assert_code(0);
    assert_eq!(tls.stdout.trim(), "t");
}

#[test]
fn create_db_gives_distinct_databases_app_can_use() {
    let c = cluster();
    let (a, b) = (c.create_db(), c.create_db());
    assert_ne!(a.name, b.name);
    for db in [&a, &b] {
        let mut client = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
        client
            .batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
            .expect("app can create tables in public");
        assert_eq!(db.query_one_string("SELECT count(*) FROM public.t"), "1");
        assert_eq!(
            db.query_one_string("SELECT tableowner FROM pg_tables WHERE tablename = 't'"),
            "app"
        );
        assert_eq!(db.query_one_string("SELECT current_database()"), db.name);
    }
    a.execute("CREATE TABLE only_in_a (x int)");
    assert_eq!(
        b.query_one_string("SELECT to_regclass('only_in_a') IS NULL"),
        "t"
    );
    // Superuser over TCP, no password.
    let mut su = postgres::Client::connect(&a.superuser_url(), postgres::NoTls).unwrap();
    let is_super: bool = su
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(is_super);
}

#[test]
fn set_password_accepts_any_string() {
    let c = cluster();
    let db = c.create_db();
    let nasty = r#"p@ss:/?#%'"\ w0rd"#;
    let role = c.create_role("initial");
    c.set_password(&role, nasty);
    assert_eq!(c.password(&role), nasty);

    let url = db.url_with(&role, Some(nasty), "127.0.0.1", "sslmode=disable");
    assert!(!url.contains(nasty), "{url}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("percent-encoded URL");
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, role);
    // psql agrees (URL form, decoded by libpq).
    psql_run(&url, "SELECT 1").assert_code(0);
    // And the old password is gone.
    let old = db.url_with(&role, Some("initial"), "127.0.0.1", "sslmode=disable");
    assert!(postgres::Client::connect(&old, postgres::NoTls).is_err());
}

#[test]
fn url_tls_verifies_with_the_test_ca() {
    let db = cluster().create_db();
    psql_run(&db.url_tls("localhost", "verify-full"), SSL_IN_USE).assert_code(0);
    assert_ne!(
        psql_run(&db.url_tls("127.0.0.1", "verify-full"), "SELECT 1").code,
        0
    );
}

#[test]
fn private_cluster_lifecycle() {
    let t = Instant::now();
    let c = Cluster::new(ClusterOptions {
        tls: false,
        start: false,
    });
    eprintln!("private cluster (no TLS) created in {:?}", t.elapsed());
    assert!(!c.is_running());
    let root = c.data_dir().parent().unwrap().to_path_buf();

    let t = Instant::now();
    c.start();
    eprintln!("started in {:?}", t.elapsed());
    assert!(c.is_running());
    let db = c.create_db();
    db.execute("CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)");
    assert_eq!(db.query_one_string("SHOW ssl"), "off");

    c.stop();
    assert!(!c.is_running());
    assert!(TcpStream::connect(("127.0.0.1", c.port())).is_err());

    let port = c.port();
    c.start();
    assert_eq!(c.port(), port, "port is stable across restarts");
    c.restart();
    assert!(c.is_running());

    // A crash (immediate stop) and recovery keep committed data.
    c.kill();
    assert!(!c.is_running());
    c.start();
    assert_eq!(db.query_one_string("SELECT x FROM survives"), "42");
    postgres::Client::connect(&db.url(), postgres::NoTls).expect("app after recovery");

    drop(db);
    drop(c);
    assert!(!root.exists(), "drop removes {}", root.display());
}

#[test]
fn free_port_has_no_listener() {
    let port = common::free_port();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn sentry_command_has_a_clean_environment() {
    let cmd = common::sentry();
    let envs: Vec<_> = cmd.get_envs().collect();
    assert!(envs.contains(&("NO_COLOR".as_ref(), Some("1".as_ref()))));
    assert!(envs.contains(&("DATABASE_URL".as_ref(), None)));
    assert!(envs.contains(&("RUST_LOG".as_ref(), None)));
    // The binary cargo built for these tests, and it runs: its help names it and succeeds.
    let out = run(common::sentry().arg("--help"));
    out.assert_code(0);
    assert!(
        out.stdout.contains("Usage: migration-sentry"),
        "{}",
        out.stdout
    );
}

/// Whether `pid` is alive (a zombie is dead: it only waits to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
}

#[test]
fn dropping_a_group_child_kills_the_whole_group() {
    use std::io::{BufRead, BufReader};
    // A wrapper with a grandchild, as `runuser pgbouncer` was: killing only the wrapper left
    // the grandchild running with parent PID 1.
    let mut group = common::spawn_group(
        std::process::Command::new("sh")
            .args(["-c", "sleep 600 & echo $!; wait"])
            .stdout(std::process::Stdio::piped()),
    );
    let wrapper = group.id();
    let mut line = String::new();
    let stdout = group_stdout(&mut group);
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    assert!(alive(wrapper) && alive(grandchild));
    drop(group);
    assert!(
        common::wait_until(std::time::Duration::from_secs(30), || !alive(grandchild)),
        "the grandchild {grandchild} survived the group's drop"
    );
    assert!(!alive(wrapper));
}

fn group_stdout(group: &mut common::GroupChild) -> std::process::ChildStdout {
    group.stdout().expect("piped stdout")
}

/// A test that dies without unwinding (abort, SIGKILL, a timeout) leaves neither its process
/// groups nor its clusters behind: their watchdogs clean up once it is gone. The test runs
/// itself as the victim (with `SENTRY_HARNESS_VICTIM` set), which reports the pids and folder
/// it made and then aborts.
#[test]
fn an_aborted_test_leaves_no_process_and_no_cluster() {
    use std::io::{BufRead, BufReader, Write};
    if std::env::var_os("SENTRY_HARNESS_VICTIM").is_some() {
        let c = Cluster::new(ClusterOptions {
            tls: false,
            start: true,
        });
        let group = common::spawn_group(
            std::process::Command::new("sleep")
                .arg("600")
                .stdout(std::process::Stdio::null()),
        );
        let postmaster = std::fs::read_to_string(c.data_dir().join("postmaster.pid")).unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "VICTIM group {}", group.id()).unwrap();
        writeln!(
            out,
            "VICTIM postmaster {}",
            postmaster.lines().next().unwrap()
        )
        .unwrap();
        writeln!(
            out,
            "VICTIM root {}",
            c.data_dir().parent().unwrap().display()
        )
        .unwrap();
        out.flush().unwrap();
        std::process::abort();
    }
    let mut victim = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_aborted_test_leaves_no_process_and_no_cluster",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SENTRY_HARNESS_VICTIM", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read only the report: reading to EOF would wait for whatever still holds the pipe.
    let mut facts = std::collections::HashMap::new();
    let mut lines = BufReader::new(victim.stdout.take().unwrap()).lines();
    while facts.len() < 3 {
        let Some(line) = lines.next() else { break };
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once("VICTIM ") {
            let (key, value) = rest.split_once(' ').unwrap();
            facts.insert(key.to_string(), value.to_string());
        }
    }
    drop(lines);
    // Reaped at once, as cargo reaps a test binary: the watchdogs wait for the pid to vanish.
    let status = victim.wait().unwrap();
    assert!(!status.success(), "the victim must abort");
    let pid = |key: &str| -> u32 {
        facts
            .get(key)
            .unwrap_or_else(|| panic!("victim did not report {key} ({status})"))
            .parse()
            .unwrap()
    };
    let (group, postmaster) = (pid("group"), pid("postmaster"));
    let root = std::path::PathBuf::from(&facts["root"]);
    let gone = common::wait_until(std::time::Duration::from_secs(30), || {
        !alive(group) && !alive(postmaster) && !root.exists()
    });
    assert!(
        gone,
        "after the victim aborted: group {group} alive {}, postmaster {postmaster} alive {}, \
         {} exists {}",
        alive(group),
        alive(postmaster),
        root.display(),
        root.exists()
    );
}
