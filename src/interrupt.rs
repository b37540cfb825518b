//! Interruptions (SPEC §5.7): SIGINT/SIGTERM, the `--timeout` deadline, and the watchdog that
//! notices a connection gone silent. A deploy gate must never leave production locked.
//!
//! One controller thread watches three things while the main thread works:
//! - a signal (from a signal-hook thread) or the `--timeout` deadline: it sends a cancel
//!   request for the running statement (the driver's `CancelToken`, on a new connection) and
//!   lets the main thread unwind normally: the cancelled statement fails, every error path asks
//!   [`error`] first and becomes [`Error::Interrupted`], the transaction is rolled back, the
//!   advisory lock released, `main` prints the FAILED line and (for a signal) ends by that same
//!   signal. A second signal ends the process at once;
//! - a round trip that must be quick (catalog queries, lock polls, commits: everything outside a
//!   [`long`] section) and got no answer within the watchdog bound: a proxy can keep TCP alive
//!   while forwarding nothing, which no socket option notices;
//! - a [`long`] section (a migration statement, which may rightly run for an hour): a probe on a
//!   second connection asks the server whether our backend is still running it. Twice "no"
//!   (idle: the reply was lost; gone; or the server cannot be reached at all) and the link is
//!   declared dead (exit 4).
//!
//! If the main thread has not finished cleaning up [`GRACE`] after any of these (its call is
//! stuck on a dead socket), the controller prints the error and the FAILED line itself and
//! ends the process; the server then cleans up by itself (`idle_in_transaction_session_timeout`
//! and friends, set by the opening message that takes the lock: `connect::cleanup_sql`).
//!
//! The API is global, like a process's signals: [`install`] once, [`arm`] a session (its guard
//! disarms), [`long`] around a statement that may run long, [`tick`] on each quick round trip,
//! [`sleep`] instead of `thread::sleep`, [`check`] between steps, [`error`] in error mapping.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::{Error, ExitKind, Result};

/// How long the main thread gets to cancel, roll back and unlock after an interruption before
/// the controller ends the process without it.
pub const GRACE: Duration = Duration::from_secs(5);

/// How often a cancel request is repeated while a long statement still runs after a stop (the
/// first one can land in the gap before the statement reached the server).
const RECANCEL_EVERY: Duration = Duration::from_secs(1);

/// Consecutive failed probes that declare a long statement's connection dead.
const PROBES_TO_FAIL: u32 = 2;

/// Why the command was interrupted (exit 10, or death by the signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// `--timeout` passed.
    Deadline(Duration),
}

impl Cause {
    /// The signal to end the process with, for a signal.
    pub fn signal(self) -> Option<i32> {
        match self {
            Cause::Signal(s) => Some(s),
            Cause::Deadline(_) => None,
        }
    }

    /// What the sentry did about it, for the error message.
    pub fn consequence(self) -> &'static str {
        "the running statement was cancelled on the server and its transaction rolled back (a \
         migration is all or nothing: nothing of the interrupted one was committed; those \
         marked ✓ above are), and the advisory lock released"
    }
}

/// `SIGTERM`, `SIGINT`, or the number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        SIGTERM => "SIGTERM".into(),
        SIGINT => "SIGINT".into(),
        n => format!("signal {n}"),
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Signal(s) => write!(f, "interrupted by {}", signal_name(*s)),
            Cause::Deadline(d) => write!(
                f,
                "--timeout {} passed",
                humantime::format_duration(Duration::from_millis(d.as_millis() as u64))
            ),
        }
    }
}

/// What a probe on a second connection found about the main connection's backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The backend is still running our statement.
    Running,
    /// The backend is still running our statement, waiting for a lock held by these sessions
    /// (`pg_blocking_pids`), described for the log.
    Blocked(String),
    /// The server answered, and our backend is not running anything (`idle in transaction`:
    /// it finished and its reply was lost) or is gone.
    NotRunning(String),
    /// The server could not be reached on a new connection.
    Unreachable(String),
}

/// What the controller needs of a connected session.
pub struct Session {
    /// Sends a cancel request for whatever the session runs (on a new connection; may block).
    pub cancel: Box<dyn Fn() + Send + Sync>,
    /// Asks the server, on a new connection, about the session's backend (may block).
    pub probe: Box<dyn Fn() -> Probe + Send + Sync>,
    /// How long a round trip outside a [`long`] section may take.
    pub watchdog: Duration,
}

/// Why the command is being stopped.
#[derive(Debug, Clone)]
enum Stop {
    Cause(Cause),
    /// The connection went silent (exit 4): what the sentry was doing, and the evidence.
    Silent {
        what: String,
        evidence: String,
    },
}

struct Long {
    what: String,
    since: Instant,
    next_probe: Instant,
    failures: u32,
    evidence: String,
}

struct State {
    stop: Option<(Stop, Instant)>,
    signals: u32,
    deadline: Option<(Instant, Duration)>,
    session: Option<Arc<Session>>,
    session_id: u64,
    last_tick: Instant,
    /// What the main thread is doing outside [`long`], for the watchdog's message.
    doing: String,
    sleeping: bool,
    long: Option<Long>,
    /// A probe in flight: its id and start.
    probe: Option<(u64, Instant)>,
    /// What the last probe saw blocking the current (or last) long statement.
    blockers: Option<String>,
    probe_id: u64,
    last_cancel: Option<Instant>,
    /// The final line is printed (by `main` or by the controller): nobody else may.
    concluded: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        state: Mutex::new(State {
            stop: None,
            signals: 0,
            deadline: None,
            session: None,
            session_id: 0,
            last_tick: Instant::now(),
            doing: String::new(),
            sleeping: false,
            long: None,
            probe: None,
            blockers: None,
            probe_id: 0,
            last_cancel: None,
            concluded: false,
        }),
        wake: Condvar::new(),
    })
}

fn state() -> MutexGuard<'static, State> {
    shared().state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the signal handler and the controller, and sets the `--timeout` deadline (zero: none).
/// Called once by `main`; later calls only reset the deadline.
pub fn install(timeout: Duration) {
    {
        let mut st = state();
        st.deadline = (!timeout.is_zero()).then(|| (Instant::now() + timeout, timeout));
    }
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                thread::Builder::new()
                    .name("sentry-signals".into())
                    .spawn(move || {
                        for sig in signals.forever() {
                            on_signal(sig);
                        }
                    })
                    .expect("spawn the signal thread");
            }
            Err(e) => log::warn!("cannot handle SIGINT/SIGTERM ({e}): a signal ends at once"),
        }
        thread::Builder::new()
            .name("sentry-interrupt".into())
            .spawn(controller)
            .expect("spawn the interrupt controller");
    });
}

fn on_signal(sig: i32) {
    let mut st = state();
    st.signals += 1;
    if st.signals >= 2 {
        // The second signal: the operator means it. No cleanup, no waiting.
        drop(st);
        eprintln!(
            "[sentry] {} again: ending at once (the server ends the session and releases its \
             locks when it notices)",
            signal_name(sig)
        );
        end_by_signal(sig);
    }
    if st.stop.is_none() {
        st.stop = Some((Stop::Cause(Cause::Signal(sig)), Instant::now()));
        drop(st);
        log::warn!(
            "{} received: cancelling the running statement, rolling back, releasing the lock \
             (a second signal ends at once)",
            signal_name(sig)
        );
        shared().wake.notify_all();
    }
}

/// Ends the process by `sig` with its default action, as Unix tools do, so that the calling
/// shell sees status 128 + sig and stops too.
pub fn end_by_signal(sig: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    // Not reached for SIGINT/SIGTERM; the conventional status otherwise.
    std::process::exit(128 + sig)
}

/// Registers the connected session; the guard unregisters it.
pub fn arm(session: Session) -> Armed {
    let mut st = state();
    st.session_id += 1;
    st.session = Some(Arc::new(session));
    st.last_tick = Instant::now();
    Armed { id: st.session_id }
}

/// Keeps a session armed; dropping it disarms (the connection is being closed).
pub struct Armed {
    id: u64,
}

impl Drop for Armed {
    fn drop(&mut self) {
        let mut st = state();
        if st.session_id == self.id {
            st.session = None;
            st.long = None;
        }
    }
}

/// A quick round trip is starting (or local work progressed): resets the watchdog. `doing`
/// names it for the message if it never returns.
pub fn tick(doing: &str) {
    let mut st = state();
    st.last_tick = Instant::now();
    if st.doing != doing {
        st.doing.clear();
        st.doing.push_str(doing);
    }
}

/// Marks a statement that may rightly run long (a migration's SQL): the watchdog leaves it
/// alone and probes the backend instead. Refused once the command is being stopped, so that no
/// new statement starts after a cancel request.
pub fn long(what: &str) -> Result<LongGuard> {
    long_with(what, None)
}

/// [`long`] for a statement that runs under `lock_timeout`: the first probe comes at 60 % of
/// it, so that if the statement is waiting for a lock, [`blockers`] can name who holds it.
pub fn long_under_lock_timeout(what: &str, lock_timeout: Duration) -> Result<LongGuard> {
    long_with(
        what,
        (!lock_timeout.is_zero()).then(|| lock_timeout.mul_f64(0.6)),
    )
}

fn long_with(what: &str, first_probe: Option<Duration>) -> Result<LongGuard> {
    let mut st = state();
    if let Some(e) = stop_error(&st, what) {
        return Err(e);
    }
    let now = Instant::now();
    let watchdog = st.session.as_ref().map_or(Duration::MAX, |s| s.watchdog);
    let first = first_probe.map_or(watchdog, |f| f.min(watchdog));
    st.blockers = None;
    st.long = Some(Long {
        what: what.to_string(),
        since: now,
        next_probe: now
            .checked_add(first)
            .unwrap_or(now + Duration::from_secs(3600)),
        failures: 0,
        evidence: String::new(),
    });
    Ok(LongGuard { _private: () })
}

/// Ends a [`long`] section on drop.
pub struct LongGuard {
    _private: (),
}

impl Drop for LongGuard {
    fn drop(&mut self) {
        let mut st = state();
        st.long = None;
        st.last_tick = Instant::now();
    }
}

/// Sleeps for `pause` (a backoff, a lock poll), waking at once when the command is stopped.
pub fn sleep(pause: Duration, during: &str) -> Result<()> {
    let until = Instant::now() + pause;
    let mut st = state();
    st.sleeping = true;
    loop {
        if st.stop.is_some() {
            break;
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        st = shared()
            .wake
            .wait_timeout(st, until - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    st.sleeping = false;
    st.last_tick = Instant::now();
    match stop_error(&st, during) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Fails with the interruption, if the command is being stopped.
pub fn check(during: &str) -> Result<()> {
    match error(during) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether the command is being stopped.
pub fn stopping() -> bool {
    state().stop.is_some()
}

/// The error of the interruption, if the command is being stopped: what every error path
/// reports instead of the error the interruption caused (a cancelled statement, a reset
/// connection).
pub fn error(during: &str) -> Option<Error> {
    stop_error(&state(), during)
}

fn stop_error(st: &State, during: &str) -> Option<Error> {
    let (stop, _) = st.stop.as_ref()?;
    Some(match stop {
        Stop::Cause(cause) => Error::Interrupted {
            cause: *cause,
            during: during.to_string(),
            aftermath: None,
        },
        Stop::Silent { what, evidence } => silent_error(what, evidence),
    })
}

fn silent_error(what: &str, evidence: &str) -> Error {
    Error::Unreachable {
        target: crate::redact::current_target(),
        reason: format!(
            "the connection went silent while {what}: {evidence}. The server rolls back the \
             open transaction by itself (a migration is all or nothing: nothing of it was \
             committed), and ends the orphaned session within idle_in_transaction_session_timeout"
        ),
        hint: "a proxy or the network stopped forwarding (the TCP connection stayed open); \
               run the sentry again once the database is reachable — `migration-sentry status` \
               shows what is applied"
            .into(),
    }
}

/// Who blocked the last long statement, as a probe saw it while the statement waited for a
/// lock (`pg_blocking_pids`). Waits up to a second for a probe still in flight.
pub fn blockers() -> Option<String> {
    let until = Instant::now() + Duration::from_secs(1);
    let mut st = state();
    while st.probe.is_some() && st.blockers.is_none() {
        let now = Instant::now();
        if now >= until {
            break;
        }
        st = shared()
            .wake
            .wait_timeout(st, until - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    st.blockers.take()
}

/// `pid 123 (idle in transaction, transaction open for 12 s, last query: …)`; `secs` < 0 and
/// an empty `query` when the role may not see them.
pub fn describe_blocker(pid: i32, state: &str, secs: i64, query: &str) -> String {
    // Another session's text: scrubbed and escaped like every server text.
    let (state, query) = (
        crate::output::external(state),
        crate::output::external(query),
    );
    format!(
        "pid {pid} ({state}{}{})",
        if secs >= 0 {
            format!(", transaction open for {secs} s")
        } else {
            String::new()
        },
        if query.is_empty() {
            String::new()
        } else {
            format!(", last query: {query}")
        }
    )
}

/// The jittered exponential backoff of the `attempt`-th retry (1-based): about 1 s, 2 s, 4 s …,
/// at most 30 s, each between 50 % and 100 % of that (full jitter would allow near-zero pauses
/// that hammer a busy table).
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + 0.5 * jitter())
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A number in [0, 1) that differs between processes and calls (no RNG crate for one number).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `main` calls this before printing its last line. Returns the result to report (a signal
/// that arrived while the command finished still ends the process by it). If the controller
/// is already ending the process (the main thread came back too late), this never returns.
pub fn conclude(result: Result<()>) -> Result<()> {
    let mut st = state();
    if st.concluded {
        drop(st);
        loop {
            thread::park();
        }
    }
    st.concluded = true;
    match (&result, &st.stop) {
        (Ok(()), Some((Stop::Cause(cause @ Cause::Signal(_)), _))) => Err(Error::Interrupted {
            cause: *cause,
            during: "finishing (everything above completed)".into(),
            aftermath: None,
        }),
        _ => result,
    }
}

/// The controller: deadline, watchdog, probes, cancel requests, and the end of a stuck run.
fn controller() {
    let sh = shared();
    let mut st = state();
    loop {
        st = sh
            .wake
            .wait_timeout(st, Duration::from_millis(100))
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if st.concluded {
            continue;
        }
        let now = Instant::now();
        let mut newly_stopped = false;
        if st.stop.is_none() {
            if let Some((at, timeout)) = st.deadline
                && now >= at
            {
                st.stop = Some((Stop::Cause(Cause::Deadline(timeout)), now));
                newly_stopped = true;
                log::warn!(
                    "--timeout {} passed: cancelling the running statement, rolling back, \
                     releasing the lock",
                    humantime::format_duration(timeout)
                );
            } else if let Some(stop) = watch(&mut st, now) {
                log::warn!("{}", stop_summary(&stop));
                st.stop = Some((stop, now));
                newly_stopped = true;
            }
        }
        let Some((stop, stopped_at)) = st.stop.clone() else {
            continue;
        };
        // Wake a sleeping main thread.
        sh.wake.notify_all();
        let recancel = st.long.is_some()
            && st
                .last_cancel
                .is_none_or(|t| now.duration_since(t) >= RECANCEL_EVERY);
        if (newly_stopped || recancel)
            && let Some(session) = st.session.clone()
        {
            st.last_cancel = Some(now);
            // On its own thread: behind a black hole the cancel connection hangs too.
            let _ = thread::Builder::new()
                .name("sentry-cancel".into())
                .spawn(move || (session.cancel)());
        }
        if now.duration_since(stopped_at) >= GRACE {
            st.concluded = true;
            let doing = if let Some(l) = &st.long {
                l.what.clone()
            } else {
                st.doing.clone()
            };
            drop(st);
            end_stuck(&stop, &doing);
        }
    }
}

/// The watchdog and the probes. Returns a stop when the connection is judged dead.
fn watch(st: &mut State, now: Instant) -> Option<Stop> {
    let session = st.session.clone()?;
    if let Some(long) = &mut st.long {
        if let Some((id, started)) = st.probe {
            if now.duration_since(started) >= session.watchdog {
                // The probe itself hangs: the server cannot be reached on a new connection.
                st.probe = None;
                let _ = id;
                long.failures += 1;
                long.evidence = format!(
                    "a second connection to the server got no answer within {} s either",
                    session.watchdog.as_secs()
                );
            }
        } else if now >= long.next_probe {
            st.probe_id += 1;
            let id = st.probe_id;
            st.probe = Some((id, now));
            long.next_probe = now + session.watchdog;
            let _ = thread::Builder::new()
                .name("sentry-probe".into())
                .spawn(move || {
                    let result = (session.probe)();
                    probe_done(id, result);
                });
        }
        if long.failures >= PROBES_TO_FAIL {
            return Some(Stop::Silent {
                what: long.what.clone(),
                evidence: format!(
                    "no answer for {} s, and {}",
                    now.duration_since(long.since).as_secs(),
                    long.evidence
                ),
            });
        }
        return None;
    }
    if st.sleeping {
        return None;
    }
    let waited = now.duration_since(st.last_tick);
    (waited >= session.watchdog).then(|| Stop::Silent {
        what: if st.doing.is_empty() {
            "talking to the server".into()
        } else {
            st.doing.clone()
        },
        evidence: format!(
            "a round trip that takes milliseconds got no answer in {} s",
            waited.as_secs()
        ),
    })
}

fn probe_done(id: u64, result: Probe) {
    let mut st = state();
    if st.probe.is_none_or(|(current, _)| current != id) {
        return;
    }
    st.probe = None;
    if let Probe::Blocked(who) = &result {
        st.blockers = Some(who.clone());
    }
    shared().wake.notify_all();
    let Some(long) = &mut st.long else {
        return;
    };
    match result {
        Probe::Running | Probe::Blocked(_) => {
            long.failures = 0;
            log::debug!(
                "probe: the server still runs {} ({} s)",
                long.what,
                long.since.elapsed().as_secs()
            );
        }
        Probe::NotRunning(why) | Probe::Unreachable(why) => {
            long.failures += 1;
            log::warn!(
                "no answer from the server for {} s while {}: {why} (check {} of {PROBES_TO_FAIL})",
                long.since.elapsed().as_secs(),
                long.what,
                long.failures
            );
            long.evidence = why;
        }
    }
}

fn stop_summary(stop: &Stop) -> String {
    match stop {
        Stop::Cause(c) => c.to_string(),
        Stop::Silent { what, .. } => {
            format!("the connection went silent while {what}: cancelling and giving up")
        }
    }
}

/// The main thread did not come back within [`GRACE`]: its call is stuck on a dead socket.
/// Print what `main` would have printed, then end the process.
fn end_stuck(stop: &Stop, doing: &str) -> ! {
    let during = if doing.is_empty() {
        "talking to the server"
    } else {
        doing
    };
    let note = format!(
        "the server did not answer the cancel request within {} s (the connection is dead); \
         ending now — the server ends the orphaned session and releases its locks by itself \
         (idle_in_transaction_session_timeout, idle_session_timeout, TCP keepalives)",
        GRACE.as_secs()
    );
    match stop {
        Stop::Cause(cause) => {
            let e = Error::Interrupted {
                cause: *cause,
                during: during.to_string(),
                aftermath: None,
            };
            log::error!("{e}");
            log::error!("{note}");
            match cause.signal() {
                Some(sig) => {
                    crate::output::failed_by_signal(sig);
                    end_by_signal(sig)
                }
                None => {
                    crate::output::failed(ExitKind::Interrupted);
                    std::process::exit(ExitKind::Interrupted.code().into())
                }
            }
        }
        Stop::Silent { what, evidence } => {
            let e = silent_error(what, evidence);
            log::error!("{e}");
            crate::output::failed(e.kind());
            std::process::exit(e.kind().code().into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        for attempt in 1..=10 {
            let base = Duration::from_secs(1u64 << (attempt - 1).min(5)).min(MAX_BACKOFF);
            let b = backoff(attempt);
            assert!(b >= base / 2 && b <= base, "attempt {attempt}: {b:?}");
        }
        assert!(backoff(20) <= MAX_BACKOFF);
    }

    #[test]
    fn causes_name_themselves() {
        assert_eq!(Cause::Signal(SIGTERM).to_string(), "interrupted by SIGTERM");
        assert_eq!(Cause::Signal(SIGINT).signal(), Some(SIGINT));
        assert_eq!(
            Cause::Deadline(Duration::from_secs(90)).to_string(),
            "--timeout 1m 30s passed"
        );
        assert_eq!(Cause::Deadline(Duration::from_secs(1)).signal(), None);
    }
}
