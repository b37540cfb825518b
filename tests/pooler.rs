//! A transaction-pooling PgBouncer in front of the database is refused (SPEC §5): a session
//! advisory lock means nothing when each transaction may run on another server backend.
//! Runs a real pgbouncer (Debian's package; `.ci/run` installs it) on a free port.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    Cluster, ClusterOptions, GroupChild, as_server_user, free_port, run, sentry, spawn_group,
    wait_until,
};

/// A pgbouncer process in its own process group, killed on drop.
struct Bouncer {
    _process: GroupChild,
    port: u16,
    // Declared after the process: removed once pgbouncer is gone.
    _dir: tempfile::TempDir,
}

fn pgbouncer_bin() -> PathBuf {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn start_bouncer(pg_port: u16, mode: &str) -> Bouncer {
    // Round robin over two pre-opened server connections makes consecutive transactions land
    // on different backends, as a busy production pooler does.
    start_bouncer_with(
        pg_port,
        mode,
        "server_round_robin = 1\ndefault_pool_size = 4\nmin_pool_size = 2\n",
    )
}

fn start_bouncer_with(pg_port: u16, mode: &str, pool: &str) -> Bouncer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let ini = dir.path().join("pgbouncer.ini");
    fs::write(
        &ini,
        format!(
            "[databases]\n\
             * = host=127.0.0.1 port={pg_port} user=postgres\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = any\n\
             pool_mode = {mode}\n\
             {pool}\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {}/pgbouncer.log\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // pgbouncer refuses to run as root: it runs as `postgres` then, and must own its folder.
    if is_root() {
        Command::new("chown")
            .args(["-R", "postgres", &dir.path().to_string_lossy()])
            .status()
            .unwrap();
    }
    let mut cmd = Command::new(pgbouncer_bin());
    as_server_user(&mut cmd);
    let process = spawn_group(
        cmd.arg(&ini)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let bouncer = Bouncer {
        _process: process,
        port,
        _dir: dir,
    };
    let url = bouncer_url(port);
    assert!(
        wait_until(Duration::from_secs(10), || {
            postgres::Client::connect(&url, postgres::NoTls).is_ok()
        }),
        "pgbouncer did not start"
    );
    bouncer
}

fn bouncer_url(port: u16) -> String {
    format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable")
}

/// Opens two server connections in the pool by holding two transactions at once.
fn warm_pool(port: u16) {
    let url = bouncer_url(port);
    let mut a = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut b = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut ta = a.transaction().unwrap();
    let mut tb = b.transaction().unwrap();
    ta.batch_execute("SELECT 1").unwrap();
    tb.batch_execute("SELECT 1").unwrap();
    ta.commit().unwrap();
    tb.commit().unwrap();
}

#[test]
fn transaction_pooling_is_refused_with_exit_3_and_a_hint() {
    let pg = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let bouncer = start_bouncer(pg.port(), "transaction");
    warm_pool(bouncer.port);
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    fs::write(migrations.join("0001_t.sql"), "CREATE TABLE t (id int);\n").unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", bouncer_url(bouncer.port))
        .arg("run")
        .arg("--migrations-dir")
        .arg(&migrations));
    out.assert_code(3);
    assert!(out.stderr.contains("transaction-pooling"), "{}", out.stderr);
    assert!(
        out.stderr.contains("direct connection string"),
        "{}",
        out.stderr
    );
    // Refused before anything was changed.
    let mut c = pg.admin_client("postgres");
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('t', 'schema_migrations')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

/// A session-pooling PgBouncer lends one server backend to the sentry for its whole session:
/// `run` passes the pooler checks and migrates, every migration on the backend that holds the
/// session advisory lock, and the lock is released on the way out.
#[test]
fn session_pooling_keeps_the_backend_and_is_accepted() {
    let pg = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let bouncer = start_bouncer(pg.port(), "session");
    // Two server connections open, as in the transaction-pooling test: were the session moved
    // between them, it would show.
    warm_pool(bouncer.port);
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    // Each migration records the backend it ran on. The no-transaction one also records
    // whether that backend held an advisory lock: outside a transaction, only the sentry's
    // session lock can be there (a transactional migration also takes the key for its
    // transaction, on whichever backend runs it).
    let seen = |step: u32| {
        format!(
            "INSERT INTO seen SELECT {step}, pg_backend_pid(), EXISTS (SELECT 1 FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid());\n"
        )
    };
    let write = |name: &str, sql: String| fs::write(migrations.join(name), sql).unwrap();
    write(
        "0001_seen.sql",
        format!(
            "CREATE TABLE seen (step int, pid int, locked bool);\n{}",
            seen(1)
        ),
    );
    write(
        "0002_seen.sql",
        format!("-- sentry:no-transaction\n{}", seen(2)),
    );
    write("0003_seen.sql", seen(3));
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", bouncer_url(bouncer.port))
        .arg("run")
        .arg("--migrations-dir")
        .arg(&migrations));
    out.assert_code(0);
    let mut c = pg.admin_client("postgres");
    let rows: Vec<(i32, i32, bool)> = c
        .query("SELECT step, pid, locked FROM seen ORDER BY step", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.1 == rows[0].1),
        "the migrations ran on more than one backend: {rows:?}"
    );
    assert!(
        rows[1].2,
        "the backend that ran the migrations did not hold the session lock: {rows:?}"
    );
    let versions: Vec<String> = c
        .query(
            "SELECT version::text FROM schema_migrations ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["0001_seen", "0002_seen", "0003_seen"]);
    // Released, though the pooler keeps the server backend for its next client.
    let locks: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        locks, 0,
        "the advisory lock outlived the run on the pooled backend"
    );
}

#[test]
fn a_quiet_transaction_pool_with_one_server_connection_is_refused_too() {
    // One server connection, no round robin, nobody else: every transaction lands on the same
    // backend, so the backend pid never changes and session settings survive. Only the third
    // signal of SPEC §5.4 sees it: a second client connection is served by the same backend.
    let pg = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let bouncer = start_bouncer_with(
        pg.port(),
        "transaction",
        "server_round_robin = 0\ndefault_pool_size = 1\nmin_pool_size = 0\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    fs::write(migrations.join("0001_t.sql"), "CREATE TABLE t (id int);\n").unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", bouncer_url(bouncer.port))
        .arg("run")
        .arg("--migrations-dir")
        .arg(&migrations));
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("a second client connection was served by the first one's server backend"),
        "{}",
        out.stderr
    );
    let tables: i64 = pg
        .admin_client("postgres")
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('t', 'schema_migrations')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "refused before anything was changed");
    // The opening message ran on the pooled backend: its advisory lock and its cleanup
    // timeouts must not outlive the sentry there, where they would block the next deploy and
    // end the application's idle pooled sessions.
    let locks: i64 = pg
        .admin_client("postgres")
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(locks, 0, "the advisory lock was left on the pooled backend");
    let mut app = postgres::Client::connect(&bouncer_url(bouncer.port), postgres::NoTls)
        .expect("connect through the pool");
    let shown: Vec<String> = app
        .simple_query("SHOW idle_session_timeout; SHOW idle_in_transaction_session_timeout")
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(
        shown,
        ["0", "0"],
        "the cleanup timeouts were left on the pooled backend"
    );
    drop(app);
    // Reading through it is allowed: ping has no lock to protect.
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", bouncer_url(bouncer.port))
        .arg("ping"));
    out.assert_code(0);
}
