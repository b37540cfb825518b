//! A real hot standby of a test cluster (`pg_basebackup -R`), for the tests of SPEC §5.4: the
//! sentry must refuse to write there and say so when it reads there.

use std::fs;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use super::{Cluster, TestDb, check, free_port, is_root, server_cmd, wait_until};

impl Cluster {
    /// A streaming-replication hot standby of this (running) cluster, in its own temp dir and
    /// on its own port, started and in recovery. Databases made on this cluster before the
    /// call exist on it; [`Cluster::on_standby`] gives their URLs there.
    pub fn standby(&self) -> Cluster {
        // The harness's pg_hba.conf has no replication line: allow the superuser over the
        // unix socket, and reload.
        let hba = self.data.join("pg_hba.conf");
        let mut text = fs::read_to_string(&hba).expect("read pg_hba.conf");
        if !text.contains("local replication postgres trust") {
            text = format!("local replication postgres trust\n{text}");
            fs::write(&hba, text).expect("write pg_hba.conf");
            self.admin_client("postgres")
                .batch_execute("SELECT pg_reload_conf()")
                .expect("reload");
        }
        let root = tempfile::Builder::new()
            .prefix("sentry-standby-")
            .tempdir()
            .expect("create temp dir")
            .keep();
        let standby = Cluster {
            data: root.join("data"),
            sock: root.join("sock"),
            log: root.join("server.log"),
            root,
            tls: self.tls,
            port: AtomicU16::new(free_port()),
            // The roles came with the base backup (and a standby cannot create any).
            provisioned: Mutex::new(true),
            passwords: Mutex::new(self.passwords.lock().unwrap().clone()),
        };
        standby.spawn_watchdog();
        fs::create_dir(&standby.sock).expect("create socket dir");
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&standby.root),
            );
        }
        check(
            server_cmd("pg_basebackup", &standby.root)
                .arg("-D")
                .arg(&standby.data)
                .args(["-R", "-X", "stream", "-c", "fast", "-U", "postgres", "-h"])
                .arg(&self.sock)
                .arg("-p")
                .arg(self.port().to_string()),
        );
        standby.append_config(&format!(
            "\n# standby of the test cluster\nport = {}\nunix_socket_directories = '{}'\n\
             hot_standby = on\n",
            standby.port(),
            standby.sock.display()
        ));
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&standby.root),
            );
        }
        if let Err(msg) = standby.try_start() {
            standby.start_failed(&msg);
        }
        assert!(
            wait_until(Duration::from_secs(30), || {
                standby
                    .admin_client("postgres")
                    .query_one("SELECT pg_is_in_recovery()", &[])
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false)
            }),
            "the standby is not in recovery\n{}",
            standby.log_tail(20)
        );
        standby
    }

    /// `db` (made on the primary before [`Cluster::standby`]) as served by this standby.
    pub fn on_standby<'a>(&'a self, db: &TestDb<'_>) -> TestDb<'a> {
        TestDb {
            name: db.name.clone(),
            port: self.port(),
            cluster: self,
        }
    }
}
