//! The session advisory lock that serialises concurrent sentries (SPEC §5).
//!
//! Taken with `pg_try_advisory_lock` on the connection that runs the migrations, polled until
//! `--wait-for-lock` with a progress line, and released with `pg_advisory_unlock`, whose
//! boolean is checked. If the process dies, the server ends the session and frees the lock.

use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use postgres::Client;
use postgres::types::{ToSql, Type};

use crate::db::Traced;
use crate::error::{Error, Result};

/// How often a waiting sentry says it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Polls for the lock until `wait` has passed. Returns how long it took.
pub fn acquire(client: &mut Client, key: i64, wait: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut next_progress = PROGRESS_EVERY;
    let mut first_miss = true;
    loop {
        let row = client
            .traced(
                "SELECT pg_try_advisory_lock($1)",
                &[(&key as &(dyn ToSql + Sync), Type::INT8)],
            )
            .map_err(|e| Error::db("taking the advisory lock", &e))?;
        if row.first().is_some_and(|r| r.get::<_, bool>(0)) {
            let waited = started.elapsed();
            info!("lock acquired (key {key}) after {} ms", waited.as_millis());
            return Ok(waited);
        }
        let waited = started.elapsed();
        if waited >= wait {
            return Err(Error::LockTimeout {
                key,
                waited,
                holder: holder(client, key),
            });
        }
        // Say so on the first miss (an elapsed time is never exactly zero), then periodically.
        if waited >= next_progress || first_miss {
            first_miss = false;
            let who = holder(client, key).unwrap_or_else(|| "another session".into());
            info!(
                "waiting for advisory lock {key}, held by {who} ({} s of --wait-for-lock {} s)",
                waited.as_secs(),
                wait.as_secs()
            );
            next_progress = waited + PROGRESS_EVERY;
        }
        thread::sleep(pause.min(wait.saturating_sub(waited)));
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Releases the lock and checks that it was held.
pub fn release(client: &mut Client, key: i64) -> Result<()> {
    let rows = client
        .traced(
            "SELECT pg_advisory_unlock($1)",
            &[(&key as &(dyn ToSql + Sync), Type::INT8)],
        )
        .map_err(|e| Error::db("releasing the advisory lock", &e))?;
    if rows.first().is_some_and(|r| r.get::<_, bool>(0)) {
        log::debug!("lock released (key {key})");
    } else {
        // The lock was not ours any more: the session was reset under us, which only a
        // pooler or an administrator's pg_terminate_backend would do.
        warn!("advisory lock {key} was not held at release: was the session reset by a pooler?");
    }
    Ok(())
}

/// Who holds the lock: pid, application, client address and for how long, if visible.
fn holder(client: &mut Client, key: i64) -> Option<String> {
    // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits).
    let rows = client
        .traced(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local'), \
             coalesce(extract(epoch FROM now() - a.xact_start)::int8, \
                      extract(epoch FROM now() - a.backend_start)::int8, 0), \
             coalesce(a.state, '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid = (($1 >> 32) & 4294967295)::oid \
               AND l.objid = ($1 & 4294967295)::oid \
             LIMIT 1",
            &[(&key as &(dyn ToSql + Sync), Type::INT8)],
        )
        .ok()?;
    let r = rows.first()?;
    let pid: i32 = r.get(0);
    let app: String = r.get(1);
    let addr: String = r.get(2);
    let secs: i64 = r.get(3);
    let state: String = r.get(4);
    Some(format!(
        "pid {pid} ({}{addr}, {state}, for {secs} s)",
        if app.is_empty() {
            String::new()
        } else {
            format!("{app} from ")
        }
    ))
}
