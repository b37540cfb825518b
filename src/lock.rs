//! The session advisory lock that serialises concurrent sentries (SPEC §5).
//!
//! Taken with `pg_try_advisory_lock` on the connection that runs the migrations, polled until
//! `--wait-for-lock` with a progress line, and released with `pg_advisory_unlock`, whose
//! boolean is checked. If the process dies, the server ends the session and frees the lock.

use std::time::{Duration, Instant};

use log::{info, warn};
use postgres::Client;
use postgres::types::{ToSql, Type};

use crate::connect::{self, Facts, SERVER_CLEANUP};
use crate::db::Traced;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::output::esc;

/// How often a waiting sentry says it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Polls for the lock until `wait` has passed. Returns how long it took.
///
/// The session was opened to take the lock (`opening::second`), whose message also set the
/// server-side cleanup timeouts (`connect::cleanup_sql`): while the session waits for or holds
/// the lock, the server ends it if it stays idle for long (`idle_session_timeout`, SPEC §5.7),
/// so a killed or cut-off sentry never blocks the next deploy for more than that. The sentry
/// itself is never idle for more than a poll interval.
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
            acquired(key, waited);
            return Ok(waited);
        }
        let waited = started.elapsed();
        if waited >= wait {
            // The configured wait, as the user wrote it: the measured time would print as
            // "5s 2ms", which says nothing more.
            return Err(Error::LockTimeout {
                key,
                waited: wait,
                holder: holder(client, key),
            });
        }
        // Say so on the first miss (an elapsed time is never exactly zero), then periodically.
        if waited >= next_progress || first_miss {
            first_miss = false;
            let who = holder(client, key).unwrap_or_else(|| "another session".into());
            info!(
                "waiting for advisory lock {key}, held by {who} ({}s of --wait-for-lock {})",
                waited.as_secs(),
                crate::error::human(wait)
            );
            next_progress = waited + PROGRESS_EVERY;
        }
        interrupt::sleep(
            pause.min(wait.saturating_sub(waited)),
            "waiting for the advisory lock",
        )?;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Says that the lock is held (the opening exchange's attempt, or [`acquire`]'s).
pub fn acquired(key: i64, waited: Duration) {
    info!("lock acquired (key {key}) after {} ms", waited.as_millis());
}

/// Releases the lock and checks that it was held.
pub fn release(client: &mut Client, key: i64) -> Result<()> {
    let rows = client
        .traced(
            // idle_session_timeout stays as the opening set it: the sentry is never idle, and
            // its session ends right after the lock is released.
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

/// Undoes what the opening message did on the backend the facts came from — the lock attempt
/// and the cleanup timeouts — when the command is refused right after it (a pooler, a
/// standby). Best effort: the refusal is what gets reported; if this fails, the backend's own
/// `idle_session_timeout` ends it soon, lock and all.
pub fn undo_opening(client: &mut Client, key: i64, facts: &Facts) {
    let same_backend = facts.same_backend_sql();
    let statements = [
        format!("SELECT pg_advisory_unlock({key}) WHERE {same_backend}"),
        connect::cleanup_reset_sql(&same_backend),
    ];
    crate::interrupt::tick("releasing the advisory lock");
    match crate::db::batch(client, &statements) {
        Ok(_) => log::debug!("refused: lock {key} released and the cleanup timeouts reset"),
        Err(e) => warn!(
            "refused, and the lock could not be released at once ({}): the server ends the \
             session within {} s (idle_session_timeout)",
            crate::output::external(&e.to_string()),
            SERVER_CLEANUP.as_secs()
        ),
    }
}

/// Who holds the lock: pid, application, user, client, state and for how long — as much as
/// this role may see. Without `pg_read_all_stats` (or membership in the holder's role) the
/// server hides the client, state and times of another role's session, and the line says so
/// instead of printing blanks.
fn holder(client: &mut Client, key: i64) -> Option<String> {
    // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits).
    let rows = client
        .traced(
            "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr), \
             a.client_port, a.state, \
             extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start))::int8 \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid = (($1 >> 32) & 4294967295)::oid \
               AND l.objid = ($1 & 4294967295)::oid \
             LIMIT 1",
            &[(&key as &(dyn ToSql + Sync), Type::INT8)],
        )
        .ok()?;
    let r = rows.first()?;
    Some(describe_holder(&Holder {
        pid: r.get(0),
        application: r.get(1),
        user: r.get(2),
        address: r.get(3),
        port: r.get(4),
        state: r.get(5),
        seconds: r.get(6),
    }))
}

/// A row of `pg_stat_activity`, as far as it is visible.
struct Holder {
    pid: i32,
    application: Option<String>,
    user: Option<String>,
    address: Option<String>,
    port: Option<i32>,
    state: Option<String>,
    seconds: Option<i64>,
}

/// `pid 4242 (psql, user deploy, from 10.0.0.5, idle in transaction, for 12 s)`, or with the
/// hidden details named: every value escaped (an application name is anyone's to choose).
fn describe_holder(h: &Holder) -> String {
    let mut parts = Vec::new();
    if let Some(app) = h.application.as_deref().filter(|a| !a.is_empty()) {
        parts.push(esc(app).into_owned());
    }
    if let Some(user) = h.user.as_deref().filter(|u| !u.is_empty()) {
        parts.push(format!("user {}", esc(user)));
    }
    if h.state.is_none() && h.seconds.is_none() {
        let who = h.user.as_deref().map_or("its role".to_string(), |u| {
            format!("membership in role {}", esc(u))
        });
        let shown = if parts.is_empty() {
            String::new()
        } else {
            format!("{}; ", parts.join(", "))
        };
        return format!(
            "pid {} ({shown}its client, state and duration are hidden from this role: \
             pg_read_all_stats or {who} would show them)",
            h.pid
        );
    }
    match (&h.address, h.port) {
        (Some(addr), _) => parts.push(format!("from {}", esc(addr))),
        (None, Some(-1)) => parts.push("from a local socket".into()),
        _ => {}
    }
    if let Some(state) = h.state.as_deref().filter(|s| !s.is_empty()) {
        parts.push(esc(state).into_owned());
    }
    if let Some(secs) = h.seconds {
        parts.push(format!("for {secs} s"));
    }
    format!("pid {} ({})", h.pid, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(app: Option<&str>, visible: bool) -> Holder {
        Holder {
            pid: 4242,
            application: app.map(str::to_string),
            user: Some("deploy".into()),
            address: visible.then(|| "10.0.0.5".to_string()),
            port: visible.then_some(5555),
            state: visible.then(|| "idle in transaction".to_string()),
            seconds: visible.then_some(12),
        }
    }

    #[test]
    fn a_visible_holder_is_described_fully() {
        assert_eq!(
            describe_holder(&holder(Some("psql"), true)),
            "pid 4242 (psql, user deploy, from 10.0.0.5, idle in transaction, for 12 s)"
        );
        let mut local = holder(None, true);
        local.address = None;
        local.port = Some(-1);
        assert_eq!(
            describe_holder(&local),
            "pid 4242 (user deploy, from a local socket, idle in transaction, for 12 s)"
        );
    }

    #[test]
    fn hidden_details_are_named_not_left_blank() {
        let line = describe_holder(&holder(Some("psql"), false));
        assert_eq!(
            line,
            "pid 4242 (psql, user deploy; its client, state and duration are hidden from this \
             role: pg_read_all_stats or membership in role deploy would show them)"
        );
        assert!(!line.contains(", ,"));
    }

    #[test]
    fn an_application_name_cannot_add_a_line() {
        let line = describe_holder(&holder(Some("x\n=== MIGRATION SENTRY: success ==="), true));
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("x\\n=== MIGRATION SENTRY"), "{line}");
    }
}
