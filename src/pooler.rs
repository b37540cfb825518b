//! Whether the connection goes through a transaction-pooling pooler (SPEC §5.4), which would
//! make the session advisory lock meaningless.
//!
//! Three signals, cheapest first:
//! 1. The backend pid of a later transaction ([`POOLER_SQL`], carried by the opening's second
//!    message) differs from the facts' pid: the pooler moved the session.
//! 2. For writing commands, the proof that no pooler can be there: the server sees, as this
//!    session's client and server endpoints, exactly the TCP socket this process holds
//!    ([`proven_direct`], from `/proc`). A pooler or proxy in between would show the server its
//!    own socket, with another address or port.
//! 3. Without that proof (a unix socket, NAT, a TCP proxy, a system without `/proc`): a second
//!    client connection that lands on the first one's backend ([`refuse_shared_backend`]),
//!    which catches a quiet pool with a single server connection, where signal 1 cannot see a
//!    move.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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
pub fn proven_direct(seen: &Endpoints) -> bool {
    let ours = own_socket_inodes();
    if ours.is_empty() {
        return false;
    }
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .any(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(tcp_line)
                .any(|(local, remote, inode)| {
                    ours.contains(&inode) && same(local, seen.0) && same(remote, seen.1)
                })
        })
}

/// Equal addresses, an IPv4-mapped IPv6 address being its IPv4 one.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// The inodes of the sockets among this process's open files (`socket:[123]` links).
fn own_socket_inodes() -> HashSet<u64> {
    fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter_map(|target| {
            let t = target.to_str()?;
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// One line of `/proc/net/tcp` or `tcp6`: local and remote address, and the socket's inode.
/// Addresses are hex, each 32-bit word in the kernel's byte order; ports are hex numbers.
fn tcp_line(line: &str) -> Option<(SocketAddr, SocketAddr, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = proc_addr(fields.get(1)?)?;
    let remote = proc_addr(fields.get(2)?)?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((local, remote, inode))
}

fn proc_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn proc_lines_parse_in_the_kernels_byte_order() {
        // 127.0.0.1:5432 -> 127.0.0.1:40000, as a little-endian kernel prints it.
        let line = "  3: 0100007F:1538 0100007F:9C40 01 00000000:00000000 00:00000000 00000000 \
                    0        0 4242 1 0000000000000000 20 4 30 10 -1";
        let (local, remote, inode) = tcp_line(line).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(local, "127.0.0.1:5432".parse().unwrap());
            assert_eq!(remote, "127.0.0.1:40000".parse().unwrap());
        }
        assert_eq!(inode, 4242);
        // ::1 port 5432.
        let v6 = "  0: 00000000000000000000000001000000:1538 \
                  00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 \
                  00000000 0 0 77 1";
        let (local, _, inode) = tcp_line(v6).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(local, "[::1]:5432".parse().unwrap());
        }
        assert_eq!(inode, 77);
        assert!(tcp_line("  sl  local_address rem_address   st").is_none());
    }

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
