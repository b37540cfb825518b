//! A real hot standby of a test cluster (a base backup and streaming replication), for the tests of SPEC §5.4: the
//! sentry must refuse to write there and say so when it reads there.

use std::fs;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use super::{Cluster, TestDb, check, free_port, is_root, wait_until};

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
        self.base_backup_into(&standby.data, &slot_name(&standby));
        fs::write(standby.data.join("standby.signal"), "").expect("write standby.signal");
        standby.append_config(&format!(
            "\n# standby of the test cluster\nport = {}\nunix_socket_directories = '{}'\n\
             hot_standby = on\nprimary_conninfo = 'host={} port={} user=postgres'\n\
             primary_slot_name = '{}'\n",
            standby.port(),
            standby.sock.display(),
            self.sock.display(),
            self.port(),
            slot_name(&standby),
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

    /// A base backup of this running cluster into `dest`, through the low-level backup API
    /// rather than `pg_basebackup`: the npm server builds of the test matrix ship no
    /// `pg_basebackup`, and the system's (one major version) refuses other servers. A physical
    /// slot, reserved before the backup starts, keeps the primary's WAL until the standby
    /// streams it, so the copy's own `pg_wal` is left empty.
    fn base_backup_into(&self, dest: &std::path::Path, slot: &str) {
        let mut admin = self.admin_client("postgres");
        let version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .expect("server_version_num")
            .get(0);
        admin
            .execute(
                "SELECT pg_create_physical_replication_slot($1, true)",
                &[&slot],
            )
            .expect("create the standby's slot");
        // pg_backup_start/stop are the PostgreSQL 15 names of the non-exclusive backup calls.
        let (start, stop) = if version >= 150000 {
            (
                "SELECT pg_backup_start('sentry-standby', true)",
                "SELECT labelfile FROM pg_backup_stop(true)",
            )
        } else {
            (
                "SELECT pg_start_backup('sentry-standby', true, false)",
                "SELECT labelfile FROM pg_stop_backup(false, true)",
            )
        };
        admin.batch_execute(start).expect("start the backup");
        // `cp -a` keeps the owner (the server user) and the data directory's 0700 mode.
        check(Command::new("cp").arg("-a").arg(&self.data).arg(dest));
        let label: String = admin.query_one(stop, &[]).expect("stop the backup").get(0);
        fs::write(dest.join("backup_label"), label).expect("write backup_label");
        // What a base backup leaves out: the primary's run files, its WAL (streamed instead)
        // and its slots (the standby's own slot included).
        for file in ["postmaster.pid", "postmaster.opts"] {
            let _ = fs::remove_file(dest.join(file));
        }
        for dir in ["pg_wal", "pg_replslot"] {
            for entry in fs::read_dir(dest.join(dir))
                .expect("read a copied directory")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() && dir == "pg_replslot" {
                    fs::remove_dir_all(&path).expect("remove a copied slot");
                } else if path.is_file() {
                    fs::remove_file(&path).expect("remove a copied WAL file");
                }
            }
        }
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

/// The name of the replication slot the primary keeps for `standby`.
fn slot_name(standby: &Cluster) -> String {
    format!("standby_{}", dir_tag(&standby.root))
}

/// A slot-name-safe tag for a standby's temp dir (slot names allow `[a-z0-9_]` only).
fn dir_tag(dir: &std::path::Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    h.finish()
}
