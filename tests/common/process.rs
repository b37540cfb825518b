//! Processes a test starts beside the cluster (pgbouncer, a sentry it will kill, a proxy): each
//! runs in its own process group, and the whole group dies with its guard.
//!
//! Killing only the process we spawned is not enough: a wrapper (`runuser`, `sh -c`) has
//! children, and when the wrapper dies they are re-parented to PID 1 and live on (pgbouncer did,
//! for minutes, after every run as root). So [`spawn_group`] puts the child in a new process
//! group, and [`GroupChild`] sends SIGKILL to the group on drop — also while a failed test is
//! unwinding. A test process can die without unwinding (SIGKILL, `abort`, a timeout), so each
//! group also gets a watchdog: a detached shell that kills the group once the test process is
//! gone. scripts/test ends with a check that nothing started by the suite survived.
//!
//! PostgreSQL servers are not started this way: `pg_ctl start` already puts the postmaster in
//! a session of its own, and every backend calls `setsid()` too, so there is no one group to
//! kill. The cluster is stopped with `pg_ctl stop -m immediate` and, failing that, its
//! postmaster is killed (see `Cluster`'s drop and watchdog); backends exit when it dies.

use std::io;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// A child running in its own process group; the group is killed (SIGKILL) and the child
/// reaped when this is dropped.
pub struct GroupChild {
    // `None` once handed out by `wait_with_output`.
    child: Option<Child>,
    pgid: i32,
    watchdog: Option<Child>,
}

/// Spawns `cmd` as the leader of a new process group (see the module docs). Panics if it cannot
/// be started.
pub fn spawn_group(cmd: &mut Command) -> GroupChild {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pgid = i32::try_from(child.id()).expect("pid fits in i32");
    GroupChild {
        child: Some(child),
        pgid,
        watchdog: spawn_watchdog(pgid),
    }
}

/// A detached shell that kills group `pgid` once this test process has exited. It is killed
/// itself when the guard drops (so it never outlives the group and never kills a reused id).
fn spawn_watchdog(pgid: i32) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -9 -{pgid} 2>/dev/null",
        me = std::process::id(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a Ctrl-C of the tests must not kill the watchdog with them.
        .process_group(0)
        .spawn()
        .ok()
}

/// Sends `signal` to every process of group `pgid`; false if there was none.
pub fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: kill(2) with a negative pid only sends a signal; no memory is involved.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Whether any process of group `pgid` is still alive (zombies count until reaped).
pub fn group_alive(pgid: i32) -> bool {
    signal_group(pgid, 0)
}

impl GroupChild {
    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child already taken")
    }

    /// The leader's pid, which is also the process group id.
    pub fn id(&self) -> u32 {
        self.pgid as u32
    }

    /// The process group id.
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// The leader's stdin, if it was piped.
    pub fn stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child().stdin.take()
    }

    /// The leader's stdout, if it was piped.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child().stdout.take()
    }
    /// The leader's stderr, if it was piped.
    pub fn stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child().stderr.take()
    }

    /// Sends `signal` to the whole group.
    pub fn signal(&self, signal: i32) -> bool {
        signal_group(self.pgid, signal)
    }

    /// SIGKILL to the whole group, then reap the leader. Returns the leader's exit status.
    pub fn kill(&mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        self.wait()
    }

    /// Waits for the leader to exit (the rest of the group is killed on drop).
    pub fn wait(&mut self) -> ExitStatus {
        self.child().wait().expect("wait for child")
    }

    /// `Child::try_wait` of the leader.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child().try_wait()
    }

    /// Waits for the leader, collecting piped stdout and stderr; the rest of the group is then
    /// killed.
    pub fn wait_with_output(mut self) -> Output {
        let child = self.child.take().expect("child already taken");
        let out = child.wait_with_output().expect("wait for child");
        self.signal(libc::SIGKILL);
        out
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // Never panic here: this may run while a failed test is unwinding.
        self.signal(libc::SIGKILL);
        if let Some(child) = self.child.as_mut() {
            let _ = child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}
