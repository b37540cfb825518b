//! Integration-test harness: owns throwaway PostgreSQL clusters and the way tests run the binary.
//!
//! Every integration test file does `mod common;` and then either uses the shared cluster of its
//! test binary ([`cluster()`]) or a private one ([`Cluster::new`]) when it needs to stop, crash or
//! reconfigure the server. A cluster lives in its own temp dir (data, unix socket, log, TLS
//! files), listens on 127.0.0.1 on a free port, and never touches the system PostgreSQL.
//!
//! Roles (see [`Cluster::new`] for pg_hba.conf):
//! - `postgres`: superuser, `trust` over the unix socket and over 127.0.0.1;
//! - `app`: LOGIN with [`APP_PASSWORD`], scram-sha-256 over TCP with or without TLS; owns every
//!   database made by [`Cluster::create_db`];
//! - `tlsonly`: LOGIN with [`TLSONLY_PASSWORD`], only over TLS (`hostnossl ... reject`);
//! - any other role (see [`Cluster::create_role`]): scram-sha-256 over TCP.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

mod process;
mod project;
pub mod proxy;
mod standby;
// Not every test binary uses every fixture.
#[allow(unused_imports)]
pub use process::{GroupChild, group_alive, signal_group, spawn_group};
#[allow(unused_imports)]
pub use project::{Project, as_app};

/// Password the harness gives the `app` role.
pub const APP_PASSWORD: &str = "app-pw-5e1f9c";
/// Password the harness gives the `tlsonly` role.
pub const TLSONLY_PASSWORD: &str = "tlsonly-pw-8b27d4";

/// Options for [`Cluster::new`].
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// Generate certificates and turn `ssl=on` (default true).
    pub tls: bool,
    /// Start the server before returning (default true).
    pub start: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            tls: true,
            start: true,
        }
    }
}

/// A private PostgreSQL cluster in a temp dir. Dropping it stops the server and removes the dir;
/// a watchdog process does the same if the test process exits without dropping it.
pub struct Cluster {
    root: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    tls: bool,
    port: AtomicU16,
    // Roles are created on the first successful start (a cluster may be built stopped).
    provisioned: Mutex<bool>,
    passwords: Mutex<HashMap<String, String>>,
}

/// The cluster shared by all tests of one test binary: started lazily, with TLS.
///
/// Do not stop, kill or restart it, and do not change `app`'s password on it: tests run in
/// parallel. Use a private [`Cluster::new`] for that.
pub fn cluster() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| Cluster::new(ClusterOptions::default()))
}

/// A port on 127.0.0.1 where nothing listened a moment ago (bind to port 0, then release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Path of a PostgreSQL program.
///
/// `SENTRY_TEST_PG_BIN` selects the server under test (scripts/test points it at each version
/// of the matrix): a program found there is taken from there. Otherwise, and for client
/// programs that directory lacks (the npm server packages ship only initdb, pg_ctl and
/// postgres; psql then comes from the system), `$PG_BIN/<name>`, else the highest
/// `/usr/lib/postgresql/<version>/bin/<name>`, else `<name>` from `PATH`.
pub fn pg_bin(name: &str) -> PathBuf {
    static SELECTED: OnceLock<Option<PathBuf>> = OnceLock::new();
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let selected = SELECTED.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os("SENTRY_TEST_PG_BIN")?);
        assert!(
            dir.join("initdb").exists() && dir.join("pg_ctl").exists(),
            "SENTRY_TEST_PG_BIN={} has no initdb and pg_ctl",
            dir.display()
        );
        Some(dir)
    });
    if let Some(dir) = selected
        && dir.join(name).exists()
    {
        return dir.join(name);
    }
    let dir = DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PG_BIN") {
            return Some(PathBuf::from(dir));
        }
        let mut best: Option<(Vec<u32>, PathBuf)> = None;
        for entry in fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
        {
            let version: Option<Vec<u32>> = entry
                .file_name()
                .to_str()
                .and_then(|v| v.split('.').map(|p| p.parse().ok()).collect());
            let bin = entry.path().join("bin");
            if let Some(version) = version
                && bin.join("initdb").exists()
                && best.as_ref().is_none_or(|(b, _)| version > *b)
            {
                best = Some((version, bin));
            }
        }
        best.map(|(_, bin)| bin)
    });
    match dir {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

/// The major version the suite must run against, when `SENTRY_TEST_PG_MAJOR` says (scripts/test
/// sets it with `SENTRY_TEST_PG_BIN`, so a leg of the matrix cannot silently test another
/// server).
fn expected_major() -> Option<u32> {
    let v = std::env::var("SENTRY_TEST_PG_MAJOR").ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("SENTRY_TEST_PG_MAJOR={v:?} is not a major version")),
    )
}

/// `psql` with `-X -w -A -t` (no psqlrc, never prompt, unaligned, tuples only), `PG*` variables
/// removed from its environment. Add `-d <conninfo> -c <sql>`.
pub fn psql() -> Command {
    let mut cmd = Command::new(pg_bin("psql"));
    clean_pg_env(&mut cmd);
    cmd.args(["-X", "-w", "-A", "-t"]);
    cmd
}

fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        let out = Command::new("id").arg("-u").output().expect("run `id -u`");
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    })
}

/// Makes `cmd` run as the `postgres` user when we are root (PostgreSQL's programs and pgbouncer
/// refuse to run as root) by switching user in the child itself, so that no wrapper process
/// stands between us and the program. Does nothing when we are not root.
pub fn as_server_user(cmd: &mut Command) -> &mut Command {
    if is_root() {
        static IDS: OnceLock<(u32, u32)> = OnceLock::new();
        let (uid, gid) = *IDS.get_or_init(|| {
            let id = |flag: &str| -> u32 {
                let out = check(Command::new("id").args([flag, "postgres"]));
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("numeric id")
            };
            (id("-u"), id("-g"))
        });
        // std drops the supplementary groups when root switches uid.
        cmd.uid(uid)
            .gid(gid)
            .env("HOME", "/")
            .env("USER", "postgres");
    }
    cmd
}

fn clean_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

/// A command line running a server program; as the `postgres` user when we are root, because
/// initdb and postgres refuse to run as root (see [`as_server_user`]).
fn server_cmd(name: &str, cwd: &Path) -> Command {
    let mut cmd = Command::new(pg_bin(name));
    as_server_user(&mut cmd);
    clean_pg_env(&mut cmd);
    // The postgres user may not be able to enter our cwd (e.g. /root).
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn check(cmd: &mut Command) -> Output {
    let out = output(cmd);
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Single-quote `s` for `sh`.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

impl Cluster {
    /// initdb a new cluster in a fresh temp dir, write its configuration, pg_hba.conf and (with
    /// `opts.tls`) certificates, and start it unless `opts.start` is false.
    pub fn new(opts: ClusterOptions) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("sentry-pg-")
            .tempdir()
            .expect("create temp dir")
            .keep();
        let cluster = Cluster {
            data: root.join("data"),
            sock: root.join("sock"),
            log: root.join("server.log"),
            root,
            tls: opts.tls,
            port: AtomicU16::new(free_port()),
            provisioned: Mutex::new(false),
            passwords: Mutex::new(HashMap::from([
                ("app".to_string(), APP_PASSWORD.to_string()),
                ("tlsonly".to_string(), TLSONLY_PASSWORD.to_string()),
            ])),
        };
        // First, so that even a failed setup is cleaned up when the process exits.
        cluster.spawn_watchdog();
        fs::create_dir(&cluster.sock).expect("create socket dir");
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&cluster.root),
            );
        }
        check(
            server_cmd("initdb", &cluster.root)
                .args(["-A", "trust", "-U", "postgres", "--no-sync"])
                .args(["-E", "UTF8", "--no-locale", "-D"])
                .arg(&cluster.data),
        );
        if opts.tls {
            cluster.make_certificates();
        }
        cluster.write_config();
        if is_root() {
            // Files written by us (root) must belong to the server, the key with mode 0600.
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&cluster.root),
            );
        }
        if opts.start {
            cluster.first_start();
        }
        cluster
    }

    fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// Certificate of the CA that signed the server certificate (for `sslrootcert`).
    pub fn ca_cert_path(&self) -> PathBuf {
        assert!(self.tls, "cluster was created without TLS");
        self.tls_dir().join("ca.crt")
    }

    /// Certificate of an unrelated CA: verifying the server against it must fail.
    pub fn other_ca_cert_path(&self) -> PathBuf {
        assert!(self.tls, "cluster was created without TLS");
        self.tls_dir().join("other-ca.crt")
    }

    /// Whether the server has `ssl=on`.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// TCP port on 127.0.0.1 (stable across stop/start).
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// Directory of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The data directory (PGDATA).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn make_certificates(&self) {
        let dir = self.tls_dir();
        fs::create_dir(&dir).expect("create tls dir");
        let openssl = |args: &[&str]| {
            check(Command::new("openssl").args(args).current_dir(&dir));
        };
        // EC keys: generated in milliseconds, unlike RSA.
        let self_signed_ca = |name: &str, cn: &str| {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                cn,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
        };
        self_signed_ca("ca", "/CN=migration-sentry test CA");
        self_signed_ca("other-ca", "/CN=migration-sentry other CA");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        // SAN DNS:localhost only: verify-full passes for host=localhost, fails for 127.0.0.1.
        fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        fs::set_permissions(dir.join("server.key"), fs::Permissions::from_mode(0o600))
            .expect("chmod server.key");
    }

    fn write_config(&self) {
        let mut conf = format!(
            "\n# migration-sentry test harness\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{sock}'\n\
             max_connections = 100\n\
             password_encryption = 'scram-sha-256'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             lc_messages = 'C'\n\
             timezone = 'UTC'\n",
            port = self.port(),
            sock = self.sock.display(),
        );
        if self.tls {
            let dir = self.tls_dir();
            conf += &format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            );
        }
        self.append_config(&conf);
        let mut hba = String::from(
            "# migration-sentry test harness: first match wins\n\
             local all postgres trust\n\
             local all all scram-sha-256\n",
        );
        if self.tls {
            // Only with ssl=on: otherwise the server warns that the line cannot match.
            hba += "hostssl all tlsonly 127.0.0.1/32 scram-sha-256\n";
        }
        hba += "hostnossl all tlsonly 127.0.0.1/32 reject\n\
                host all postgres 127.0.0.1/32 trust\n\
                host all app 127.0.0.1/32 scram-sha-256\n\
                host all all 127.0.0.1/32 scram-sha-256\n";
        fs::write(self.data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
    }

    fn append_config(&self, text: &str) {
        use std::io::Write;
        fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("append to postgresql.conf");
    }

    /// Start, picking another port if someone took ours between [`free_port`] and the start.
    fn first_start(&self) {
        for _ in 0..5 {
            match self.try_start() {
                Ok(()) => return self.provision(),
                Err(msg) if self.log_tail(20).contains("could not bind") => {
                    eprintln!("test cluster: port {} taken, retrying: {msg}", self.port());
                    self.port.store(free_port(), Ordering::SeqCst);
                    self.append_config(&format!("port = {}\n", self.port()));
                }
                Err(msg) => self.start_failed(&msg),
            }
        }
        self.start_failed("no free port after 5 attempts");
    }

    fn start_failed(&self, msg: &str) -> ! {
        panic!(
            "test cluster in {} failed to start: {msg}\n--- server log (tail) ---\n{}",
            self.root.display(),
            self.log_tail(40)
        );
    }

    fn try_start(&self) -> Result<(), String> {
        let out = output(
            server_cmd("pg_ctl", &self.root)
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(&self.log),
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start: {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Start the server (waits until it accepts connections). Panics, with the log tail, if it
    /// does not start.
    pub fn start(&self) {
        if let Err(msg) = self.try_start() {
            self.start_failed(&msg);
        }
        self.provision();
    }

    /// Stop the server, fast mode (disconnects clients, clean shutdown).
    pub fn stop(&self) {
        self.pg_ctl_stop("fast");
    }

    /// Stop the server in immediate mode: no shutdown checkpoint, recovery at the next start,
    /// like a crash.
    pub fn kill(&self) {
        self.pg_ctl_stop("immediate");
    }

    /// Stop (fast) if running, then start.
    pub fn restart(&self) {
        if self.is_running() {
            self.stop();
        }
        self.start();
    }

    /// Whether a postmaster is running on the data directory.
    pub fn is_running(&self) -> bool {
        output(
            server_cmd("pg_ctl", &self.root)
                .arg("status")
                .arg("-D")
                .arg(&self.data),
        )
        .status
        .success()
    }

    fn pg_ctl_stop(&self, mode: &str) {
        check(
            server_cmd("pg_ctl", &self.root)
                .args(["stop", "-w", "-t", "60", "-m", mode, "-D"])
                .arg(&self.data),
        );
    }

    /// Create the harness roles, once per cluster.
    fn provision(&self) {
        let mut done = self.provisioned.lock().unwrap();
        if *done {
            return;
        }
        let mut admin = self.admin_client("postgres");
        if let Some(major) = expected_major() {
            let num: String = admin
                .query_one("SELECT current_setting('server_version_num')", &[])
                .expect("server_version_num")
                .get(0);
            let actual = num.parse::<u32>().expect("numeric server_version_num") / 10000;
            assert_eq!(
                actual,
                major,
                "SENTRY_TEST_PG_MAJOR={major} but {} started PostgreSQL {num}",
                pg_bin("pg_ctl").display()
            );
        }
        admin
            .batch_execute("CREATE ROLE app LOGIN; CREATE ROLE tlsonly LOGIN;")
            .expect("create harness roles");
        self.set_password("app", APP_PASSWORD);
        self.set_password("tlsonly", TLSONLY_PASSWORD);
        *done = true;
    }

    /// A superuser (`postgres`) connection over the unix socket to database `db`.
    pub fn admin_client(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(&self.sock)
            .port(self.port())
            .user("postgres")
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| {
                panic!(
                    "superuser connection to {db} failed: {e}\n--- server log (tail) ---\n{}",
                    self.log_tail(20)
                )
            })
    }

    /// Set `role`'s password to any string; the server quotes both (`format('%I', '%L')`).
    pub fn set_password(&self, role: &str, password: &str) {
        let mut client = self.admin_client("postgres");
        let sql: String = client
            .query_one(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                &[&role, &password],
            )
            .expect("format ALTER ROLE")
            .get(0);
        client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("set password of {role}: {e}"));
        self.passwords
            .lock()
            .unwrap()
            .insert(role.to_string(), password.to_string());
    }

    /// The password the harness last set for `role`.
    pub fn password(&self, role: &str) -> String {
        self.passwords
            .lock()
            .unwrap()
            .get(role)
            .unwrap_or_else(|| panic!("no password known for role {role}"))
            .clone()
    }

    /// Create a uniquely named LOGIN role with `password` (scram-sha-256 over TCP); returns its
    /// name. Use it rather than changing `app`'s password on the shared cluster.
    pub fn create_role(&self, password: &str) -> String {
        let name = unique_name("role");
        self.admin_client("postgres")
            .batch_execute(&format!("CREATE ROLE {name} LOGIN"))
            .expect("create role");
        self.set_password(&name, password);
        name
    }

    /// Create a uniquely named database owned by `app` (on PostgreSQL 15 the owner of the
    /// database owns schema `public`, so `app` can create tables there).
    pub fn create_db(&self) -> TestDb<'_> {
        let name = unique_name("db");
        self.admin_client("postgres")
            .batch_execute(&format!("CREATE DATABASE {name} OWNER app"))
            .expect("create database");
        TestDb {
            name,
            port: self.port(),
            cluster: self,
        }
    }

    /// The postmaster's pid from `postmaster.pid`, while that file exists.
    fn postmaster_pid(&self) -> Option<i32> {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether `pid` is a live process started on our data directory (a stale `postmaster.pid`
    /// may name a pid that now belongs to something else).
    fn runs_on_our_data(&self, pid: i32) -> bool {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(self.data.to_string_lossy().as_ref())
        })
    }

    /// A detached shell that stops the server and removes the temp dir once this process is
    /// gone: statics are never dropped, and a test may exit without unwinding. If `pg_ctl stop`
    /// fails, it kills the postmaster (whose backends then exit on their own).
    fn spawn_watchdog(&self) {
        let pg_ctl = if is_root() {
            format!("runuser -u postgres -- {}", sh_quote(&pg_bin("pg_ctl")))
        } else {
            sh_quote(&pg_bin("pg_ctl"))
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             cd /; {pg_ctl} -D {data} stop -w -t 30 -m immediate >/dev/null 2>&1 \
             || {{ read -r pm < {data}/postmaster.pid \
                   && tr '\\0' ' ' < /proc/\"$pm\"/cmdline | grep -qF -- {data} \
                   && kill -KILL \"$pm\"; sleep 1; }}; \
             rm -rf {root}",
            pid = std::process::id(),
            data = sh_quote(&self.data),
            root = sh_quote(&self.root),
        );
        // Never waited for: it outlives us by design, so it cannot become our zombie.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a Ctrl-C of the tests must not kill the watchdog.
            .process_group(0)
            .spawn()
            .expect("spawn cluster watchdog");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never panic here: this may run while a failed test is unwinding.
        if let Some(pid) = self.postmaster_pid() {
            let stopped = server_cmd("pg_ctl", &self.root)
                .args(["stop", "-w", "-t", "30", "-m", "immediate", "-D"])
                .arg(&self.data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !stopped && self.runs_on_our_data(pid) {
                // SAFETY: kill(2) only sends a signal, to our own postmaster.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                wait_until(Duration::from_secs(10), || !self.runs_on_our_data(pid));
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn unique_name(kind: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "sentry_{kind}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Userinfo and query-value encoding: everything but RFC 3986 unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode `s` for a URL's userinfo or a query value.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// A database made by [`Cluster::create_db`], owned by `app`.
pub struct TestDb<'a> {
    /// Database name (plain identifier, no quoting needed).
    pub name: String,
    /// The cluster's TCP port.
    pub port: u16,
    /// The cluster it lives in.
    pub cluster: &'a Cluster,
}

impl TestDb<'_> {
    /// `postgresql://app:<pw>@127.0.0.1:<port>/<db>?sslmode=disable`.
    pub fn url(&self) -> String {
        self.url_with(
            "app",
            Some(&self.cluster.password("app")),
            "127.0.0.1",
            "sslmode=disable",
        )
    }

    /// `postgresql://<user>[:<password>]@<host>:<port>/<db>[?<params>]`; user and password are
    /// percent-encoded, `params` is used as given (see [`encode`]).
    pub fn url_with(&self, user: &str, password: Option<&str>, host: &str, params: &str) -> String {
        let auth = match password {
            Some(pw) => format!("{}:{}", encode(user), encode(pw)),
            None => encode(user),
        };
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{params}")
        };
        format!(
            "postgresql://{auth}@{host}:{}/{}{query}",
            self.port, self.name
        )
    }

    /// `app` over TLS: `sslmode=<sslmode>&sslrootcert=<test CA>` to `host` (`localhost` passes
    /// verify-full, `127.0.0.1` does not).
    pub fn url_tls(&self, host: &str, sslmode: &str) -> String {
        let ca = self.cluster.ca_cert_path();
        let params = format!(
            "sslmode={sslmode}&sslrootcert={}",
            encode(&ca.to_string_lossy())
        );
        self.url_with("app", Some(&self.cluster.password("app")), host, &params)
    }

    /// `postgresql://postgres@127.0.0.1:<port>/<db>?sslmode=disable` (trust, no password).
    pub fn superuser_url(&self) -> String {
        self.url_with("postgres", None, "127.0.0.1", "sslmode=disable")
    }

    /// A superuser connection over the unix socket, for setup and assertions.
    pub fn client(&self) -> postgres::Client {
        self.cluster.admin_client(&self.name)
    }

    /// Run `sql` (one or more statements) as superuser; panics on error.
    pub fn execute(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// First column of the first row of `sql`, as text (simple protocol, so any type works);
    /// panics if there is no row or the value is NULL.
    pub fn query_one_string(&self, sql: &str) -> String {
        let messages = self
            .client()
            .simple_query(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        for message in messages {
            if let postgres::SimpleQueryMessage::Row(row) = message {
                return row
                    .get(0)
                    .unwrap_or_else(|| panic!("{sql}: NULL"))
                    .to_string();
            }
        }
        panic!("{sql}: no row");
    }
}

/// The migration-sentry binary with a clean environment: no `DATABASE_URL`, `SENTRY_*`,
/// `RUST_LOG` or `PG*` variables, and `NO_COLOR=1`. The current dir is inherited; tests set it.
pub fn sentry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migration-sentry"));
    cmd.env_remove("DATABASE_URL").env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("SENTRY_") || key_str.starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

/// Exit code and output of a finished process.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code; 128 + signal number when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` to completion, capturing both streams.
pub fn run(cmd: &mut Command) -> Outcome {
    let out = output(cmd);
    Outcome {
        code: out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Outcome {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panic, printing both streams, unless the exit code is `expected`. Returns `self` for
    /// chaining.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        if self.code != expected {
            panic!(
                "expected exit code {expected}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code, self.stdout, self.stderr
            );
        }
        self
    }
}

/// Wait up to `timeout` for `cond`, polling every 50 ms; returns whether it became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The repository root (where Cargo.toml, `sql/` and `scripts/` are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the example application's `sql/` (migrations and required schema) into `dest/sql/`,
/// passing each migration's text through `edit(file name, text)`. Returns the migrations folder.
pub fn copy_example_sql(dest: &Path, edit: impl Fn(&str, String) -> String) -> PathBuf {
    let migrations = dest.join("sql/migrations");
    fs::create_dir_all(&migrations).unwrap();
    fs::copy(
        repo_root().join("sql/required_schema.txt"),
        dest.join("sql/required_schema.txt"),
    )
    .unwrap();
    for entry in fs::read_dir(repo_root().join("sql/migrations")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let text = fs::read_to_string(entry.path()).unwrap();
        fs::write(migrations.join(&name), edit(&name, text)).unwrap();
    }
    migrations
}

// What the sentry's sessions do on the server, for the interruption tests (interrupt.rs,
// rollback.rs).

/// The sentry's sessions on `db`: (pid, state, query).
pub fn sentry_backends(db: &TestDb) -> Vec<(i32, String, String)> {
    db.client()
        .query(
            "SELECT pid, coalesce(state, ''), query FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'migration-sentry'",
            &[&db.name],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Locks held by the sentry's sessions on `db`, as `locktype mode` strings.
pub fn sentry_locks(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT l.locktype || ' ' || l.mode FROM pg_locks l \
             JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE a.datname = $1 AND a.application_name = 'migration-sentry' AND l.granted \
               AND l.locktype <> 'virtualxid'",
            &[&db.name],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Whether no sentry session on `db` is active or holds a lock.
pub fn server_is_clean(db: &TestDb) -> bool {
    sentry_locks(db).is_empty()
        && sentry_backends(db)
            .iter()
            .all(|(_, state, _)| state == "idle")
}

/// Waits until the sentry's backend on `db` runs a statement containing `needle`.
pub fn wait_for_statement(db: &TestDb, needle: &str) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            sentry_backends(db)
                .iter()
                .any(|(_, state, q)| state == "active" && q.contains(needle))
        }),
        "the sentry never ran {needle:?}: {:?}",
        sentry_backends(db)
    );
}
