//! Whether the connection goes through a transaction-pooling pooler (SPEC §5.4), which would
//! make the session advisory lock meaningless.
//!
//! Three signals, cheapest first:
//! 1. The backend pid of a later transaction ([`POOLER_SQL`], carried by the opening's second
//!    message) differs from the facts' pid: the pooler moved the session.
//! 2. For writing commands, the proof that no pooler can be there: the server sees, as this
//!    session's client and server endpoints, exactly the TCP socket this process holds
//!    ([`proven_direct`]). A pooler or proxy in between would show the server its
//!    own socket, with another address or port.
//! 3. Without that proof (a unix socket, NAT, a TCP proxy, a system without `/proc`): a second
//!    client connection that lands on the first one's backend ([`refuse_shared_backend`]),
//!    which catches a quiet pool with a single server connection, where signal 1 cannot see a
//!    move.

use std::fs;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, RawFd};

use postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use crate::connect::Facts;
use crate::error::{Error, Result};

/// The pooler evidence read in the transaction after the facts': the backend's pid.
pub const POOLER_SQL: &str = "SELECT pg_backend_pid()";

fn pooler_error(evidence: &str) -> Error {
    Error::env(format!(
        "DATABASE_URL goes through a transaction-pooling connection pooler (PgBouncer): \
         {evidence}, so a session advisory lock cannot protect the migration. Use the \
         database's direct connection string (on Render: the Internal Database URL, not \
         connectionPoolString)"
    ))
}

/// Signal 1: refuses a pooler, given [`POOLER_SQL`]'s row from a later transaction.
pub fn refuse_moved(facts: &Facts, row: Option<&SimpleQueryRow>) -> Result<()> {
    let pid: i32 = row
        .and_then(|r| r.get(0))
        .and_then(|v| v.parse().ok())
        .unwrap_or(facts.backend_pid);
    if pid != facts.backend_pid {
        return Err(pooler_error(&format!(
            "two transactions ran on different server backends ({} then {pid})",
            facts.backend_pid
        )));
    }
    Ok(())
}

/// Signal 3: `other`, a second client connection, must not be served by the first one's
/// backend. A plain TCP proxy (one backend per client connection) passes.
pub fn refuse_shared_backend(facts: &Facts, other: &mut Client) -> Result<()> {
    let pid = other
        .simple_query(POOLER_SQL)
        .map_err(|e| Error::db("checking for a connection pooler", &e))?
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse::<i32>().ok()),
            _ => None,
        });
    if pid == Some(facts.backend_pid) {
        return Err(pooler_error(&format!(
            "a second client connection was served by the first one's server backend \
             (pid {pid}), which only a pooler does",
            pid = facts.backend_pid
        )));
    }
    Ok(())
}

/// The session's TCP endpoints as the server sees them: (client, server). `None` over a unix
/// socket, where the server has no addresses to show.
pub type Endpoints = (SocketAddr, SocketAddr);

/// [`Endpoints`] from the facts' `host(inet_client_addr())`, `inet_client_port()`,
/// `host(inet_server_addr())` and `inet_server_port()` (NULL, hence empty, over a unix socket).
pub fn endpoints(client: (&str, &str), server: (&str, &str)) -> Option<Endpoints> {
    let addr = |(ip, port): (&str, &str)| -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
    };
    Some((addr(client)?, addr(server)?))
}

/// Signal 2: whether this process holds a TCP socket whose local end is the client the server
/// sees and whose remote end is the server's own address. Then nothing sits between the
/// sentry and the backend, and the second connection of signal 3 is not needed. Any doubt
/// (no `/proc`, no match) is `false`, and signal 3 runs.
///
/// The sockets are found through `/proc/self/fd` (a handful of links) and asked for their own
/// addresses; `/proc/net/tcp` would say the same but makes the kernel walk its whole
/// connection table, which measured 4 ms per run.
pub fn proven_direct(seen: &Endpoints) -> bool {
    own_sockets().any(|fd| tcp_ends(fd).is_some_and(|(l, r)| same(l, seen.0) && same(r, seen.1)))
}

/// Equal addresses, an IPv4-mapped IPv6 address being its IPv4 one.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// The descriptors among this process's open files that are sockets (`socket:[…]` links).
fn own_sockets() -> impl Iterator<Item = RawFd> {
    fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            fs::read_link(e.path())
                .is_ok_and(|t| t.to_str().is_some_and(|t| t.starts_with("socket:[")))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// The local and remote address of `fd` if it is a connected TCP socket.
fn tcp_ends(fd: RawFd) -> Option<(SocketAddr, SocketAddr)> {
    // SAFETY: `fd` was listed as an open socket of this process; it is only borrowed for two
    // getsockname/getpeername calls and never closed (ManuallyDrop). Should it have been
    // closed meanwhile, the calls fail (or describe whatever took the number) and the answer
    // is `None` or a socket that is not the session's, never undefined behaviour.
    let stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
    Some((stream.local_addr().ok()?, stream.peer_addr().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_mapped_address_is_its_ipv4_address() {
        assert!(same(
            "[::ffff:10.0.0.7]:5432".parse().unwrap(),
            "10.0.0.7:5432".parse().unwrap()
        ));
        assert!(!same(
            "10.0.0.7:5432".parse().unwrap(),
            "10.0.0.7:6432".parse().unwrap()
        ));
    }

    #[test]
    fn only_a_socket_this_process_holds_is_proof() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let stream = std::net::TcpStream::connect(server).unwrap();
        let client = stream.local_addr().unwrap();
        // The server's view of this connection: our socket, exactly.
        assert!(proven_direct(&(client, server)));
        // The same server seen through anything else (another port, a proxy's address).
        let elsewhere: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(!proven_direct(&(elsewhere, server)));
        assert!(!proven_direct(&(client, elsewhere)));
        drop(stream);
    }

    #[test]
    fn unix_socket_sessions_have_no_endpoints() {
        assert_eq!(endpoints(("", ""), ("", "")), None);
        assert_eq!(
            endpoints(("127.0.0.1", "40000"), ("127.0.0.1", "5432")),
            Some((
                "127.0.0.1:40000".parse().unwrap(),
                "127.0.0.1:5432".parse().unwrap()
            ))
        );
    }
}
