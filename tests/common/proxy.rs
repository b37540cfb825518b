//! A small fault-injecting TCP proxy for the interruption tests (SPEC §5.7), run as threads in
//! the test process: [`Mode::Forward`] copies bytes both ways; [`Mode::BlackHole`] keeps every
//! TCP connection open (the kernel still acknowledges) but forwards nothing, in either
//! direction, and new connections are accepted and swallowed too — a proxy or NAT that stopped
//! forwarding; the end of a stream is not forwarded either (a killed client's server session
//! stays open, as behind a real partition); [`Mode::Cut`] closes every connection and refuses
//! new ones (closes them at once).
//! Dropping the proxy stops its threads and closes every socket.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy does with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward = 0,
    BlackHole = 1,
    Cut = 2,
}

struct Shared {
    mode: AtomicU8,
    stop: AtomicBool,
    sockets: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            0 => Mode::Forward,
            1 => Mode::BlackHole,
            _ => Mode::Cut,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A proxy listening on 127.0.0.1, forwarding to `upstream`.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl Proxy {
    /// Starts a proxy in [`Mode::Forward`] to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream: SocketAddr = format!("127.0.0.1:{upstream_port}").parse().unwrap();
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(Mode::Forward as u8),
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let proxy = Proxy {
            port,
            shared: shared.clone(),
            threads: Mutex::new(Vec::new()),
        };
        let pumps = Arc::new(Mutex::new(Vec::new()));
        let accept = thread::spawn(move || accept_loop(listener, upstream, shared, pumps));
        proxy.threads.lock().unwrap().push(accept);
        proxy
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Switches every connection, current and future, to `mode`.
    pub fn set(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
        if mode == Mode::Cut {
            for s in self.shared.sockets.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for s in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.threads.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    pumps: Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
) {
    while !shared.stopped() {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                match shared.mode() {
                    Mode::Cut => {
                        let _ = client.shutdown(Shutdown::Both);
                    }
                    Mode::BlackHole => {
                        // Accepted, never answered: read and discard until the end.
                        remember(&shared, &client);
                        let s = shared.clone();
                        pumps
                            .lock()
                            .unwrap()
                            .push(thread::spawn(move || swallow(client, s)));
                    }
                    Mode::Forward => {
                        let Ok(server) =
                            TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
                        else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        remember(&shared, &client);
                        remember(&shared, &server);
                        for (from, to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let s = shared.clone();
                            pumps
                                .lock()
                                .unwrap()
                                .push(thread::spawn(move || pump(from, to, s)));
                        }
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
    for t in pumps.lock().unwrap().drain(..) {
        let _ = t.join();
    }
}

fn remember(shared: &Shared, s: &TcpStream) {
    if let Ok(c) = s.try_clone() {
        shared.sockets.lock().unwrap().push(c);
    }
}

/// Copies `from` to `to` while forwarding; discards while black-holed; ends on cut or stop.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    loop {
        if shared.stopped() || shared.mode() == Mode::Cut {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => {
                // A partition delivers nothing, not even the end of the stream: while
                // black-holed, a side that closed (a killed sentry) leaves the other one open,
                // so that only the server's own timeouts can end its session.
                while shared.mode() == Mode::BlackHole && !shared.stopped() {
                    thread::sleep(Duration::from_millis(50));
                }
                break;
            }
            Ok(n) => {
                if shared.mode() == Mode::Forward && to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

fn swallow(mut client: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    while !shared.stopped() && shared.mode() != Mode::Cut {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}
