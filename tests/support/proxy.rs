//! A fault-injecting TCP proxy for tests, loopback only.
//!
//! [`Proxy::start`] listens on `127.0.0.1:<free port>` and forwards every
//! connection to a `127.0.0.1` upstream (a database server). Point a
//! component's URL at [`Proxy::addr`] and the test can then misbehave on the
//! network between the component and the server:
//!
//! | control | new connections | open connections |
//! |---|---|---|
//! | [`pass`](Proxy::pass) | accepted, forwarded | forwarded |
//! | [`delay`](Proxy::delay)`(d)` | accepted, forwarded | each chunk forwarded `d` after it was read |
//! | [`blackhole`](Proxy::blackhole) | accepted and held open, nothing forwarded | held open, nothing forwarded either way |
//! | [`refuse`](Proxy::refuse) | refused: the listener is closed (`ECONNREFUSED`) | forwarded |
//! | [`cut`](Proxy::cut) | (mode unchanged) | closed now, with FIN |
//! | [`reset`](Proxy::reset) | (mode unchanged) | closed now, with RST |
//!
//! `pass`, `delay`, `blackhole` and `refuse` set the *mode* (one at a
//! time); `cut` and `reset` act once on the connections open at that
//! moment. Data held by a blackhole stays in socket buffers and flows again
//! after `pass` (a partition that heals); a connection accepted during a
//! blackhole connects upstream only when it ends. Leaving `refuse` binds the
//! same port again. Either side closing its end closes the whole connection
//! (the servers proxied here do not half-close).
//!
//! The proxy runs its own Tokio runtime on its own thread, so blocking
//! tests (`std::process`, `std::thread::sleep`) and async tests alike can
//! use it; every control returns once it has taken effect. Dropping the
//! [`Proxy`] stops it and closes every connection.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Bytes read from a socket at a time: one forwarded chunk at most.
const CHUNK: usize = 16 * 1024;

/// Pending connections the listener keeps.
const BACKLOG: u32 = 1024;

/// How long leaving `refuse` keeps trying to bind the port again (another
/// socket could hold it for a moment).
const REBIND_FOR: Duration = Duration::from_secs(5);

/// What the proxy does with traffic; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Delay(Duration),
    Blackhole,
    Refuse,
}

/// How [`Proxy::cut`] and [`Proxy::reset`] end a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// FIN to both peers.
    Cut,
    /// RST to both peers (`SO_LINGER` 0, then close).
    Reset,
}

/// Counters since the proxy started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub accepted: u64,
    /// Connections currently open (accepted and not yet closed).
    pub open: u64,
    /// Connections closed by `cut` or `reset`.
    pub killed: u64,
    /// Bytes forwarded client → upstream.
    pub bytes_up: u64,
    /// Bytes forwarded upstream → client.
    pub bytes_down: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    killed: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// Something for the proxy's runtime to do; `done` is signalled once it
/// has taken effect.
enum Command {
    Mode(Mode, std::sync::mpsc::SyncSender<()>),
    Kill(Kill, std::sync::mpsc::SyncSender<()>),
}

/// A running proxy. See the module docs.
pub struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    commands: Option<mpsc::UnboundedSender<Command>>,
    counters: Arc<Counters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (a loopback address) in `pass` mode.
    pub fn start(upstream: SocketAddr) -> Proxy {
        assert!(upstream.ip().is_loopback(), "the test proxy forwards to loopback addresses only, not {upstream}");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("proxy runtime");
        let listener = rt.block_on(bind("127.0.0.1:0".parse().unwrap())).expect("proxy binds 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || rt.block_on(serve(listener, addr, upstream, rx, c)))
            .unwrap();
        Proxy { addr, upstream, commands: Some(tx), counters, thread: Some(thread) }
    }

    /// Where clients connect (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Forward everything as it comes.
    pub fn pass(&self) {
        self.send(|done| Command::Mode(Mode::Pass, done));
    }

    /// Forward each chunk `d` after it was read (both directions).
    pub fn delay(&self, d: Duration) {
        self.send(|done| Command::Mode(Mode::Delay(d), done));
    }

    /// Accept connections and keep them open, but forward nothing either way.
    pub fn blackhole(&self) {
        self.send(|done| Command::Mode(Mode::Blackhole, done));
    }

    /// Refuse new connections (the listener is closed); open ones go on.
    pub fn refuse(&self) {
        self.send(|done| Command::Mode(Mode::Refuse, done));
    }

    /// Close every open connection now, cleanly (FIN both ways).
    pub fn cut(&self) {
        self.send(|done| Command::Kill(Kill::Cut, done));
    }

    /// Close every open connection now with a TCP reset (RST both ways).
    pub fn reset(&self) {
        self.send(|done| Command::Kill(Kill::Reset, done));
    }

    /// Counters since start.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::SeqCst),
            open: c.open.load(Ordering::SeqCst),
            killed: c.killed.load(Ordering::SeqCst),
            bytes_up: c.bytes_up.load(Ordering::SeqCst),
            bytes_down: c.bytes_down.load(Ordering::SeqCst),
        }
    }

    fn send(&self, command: impl FnOnce(std::sync::mpsc::SyncSender<()>) -> Command) {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let commands = self.commands.as_ref().expect("proxy running");
        commands.send(command(done_tx)).expect("proxy thread alive");
        done_rx.recv().expect("proxy thread answered");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Closing the command channel ends `serve`; the runtime then drops
        // every connection task, which closes their sockets.
        self.commands = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener with `SO_REUSEADDR`, so the port can be bound again after
/// `refuse` while its old connections sit in TIME_WAIT.
async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn rebind(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + REBIND_FOR;
    loop {
        match bind(addr).await {
            Ok(l) => return l,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the proxy cannot bind {addr} again after refusing: {e}"),
        }
    }
}

/// The kill switch of one connection: the kind, and where to say it is closed.
type KillSwitch = oneshot::Sender<(Kill, oneshot::Sender<()>)>;

/// Accepts connections and carries out commands until the `Proxy` is dropped.
async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut commands: mpsc::UnboundedReceiver<Command>,
    counters: Arc<Counters>,
) {
    let (mode_tx, _) = watch::channel(Mode::Pass);
    let mut listener = Some(listener);
    let mut switches: Vec<KillSwitch> = Vec::new();
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None => return,
                Some(Command::Mode(mode, done)) => {
                    mode_tx.send_replace(mode);
                    if mode == Mode::Refuse {
                        listener = None;
                    } else if listener.is_none() {
                        listener = Some(rebind(addr).await);
                    }
                    let _ = done.send(());
                }
                Some(Command::Kill(kill, done)) => {
                    let mut closed = Vec::new();
                    for switch in switches.drain(..) {
                        let (tx, rx) = oneshot::channel();
                        if switch.send((kill, tx)).is_ok() {
                            closed.push(rx);
                        }
                    }
                    for rx in closed {
                        // An error means the connection ended on its own meanwhile.
                        let _ = rx.await;
                    }
                    let _ = done.send(());
                }
            },
            accepted = async { listener.as_ref().expect("guarded").accept().await }, if listener.is_some() => {
                let Ok((client, _)) = accepted else { continue };
                counters.accepted.fetch_add(1, Ordering::SeqCst);
                switches.retain(|s| !s.is_closed());
                let (switch, kill) = oneshot::channel();
                switches.push(switch);
                tokio::spawn(connection(client, upstream, mode_tx.subscribe(), kill, counters.clone()));
            }
        }
    }
}

/// Keeps `counters.open` right however the connection task ends (also when
/// the runtime drops it).
struct OpenGuard(Arc<Counters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One proxied connection: connect upstream (once not blackholed), then
/// forward both ways until either side closes or a kill arrives.
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    kill: oneshot::Receiver<(Kill, oneshot::Sender<()>)>,
    counters: Arc<Counters>,
) {
    counters.open.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(counters.clone());
    let _ = client.set_nodelay(true);
    let mut kill = kill;
    let server = tokio::select! {
        k = &mut kill => {
            if let Ok((how, closed)) = k {
                finish(how, &client, None, &counters);
                drop(client);
                let _ = closed.send(());
            }
            return;
        }
        server = async {
            let _ = mode.wait_for(|m| *m != Mode::Blackhole).await;
            TcpStream::connect(upstream).await
        } => match server {
            Ok(s) => s,
            // The upstream is down: the client sees its connection closed.
            Err(_) => return,
        },
    };
    let _ = server.set_nodelay(true);
    let up = pump(&client, &server, mode.clone(), &counters.bytes_up);
    let down = pump(&server, &client, mode, &counters.bytes_down);
    let killed = tokio::select! {
        k = &mut kill => k.ok(),
        _ = up => None,
        _ = down => None,
    };
    if let Some((how, closed)) = killed {
        finish(how, &client, Some(&server), &counters);
        drop(client);
        drop(server);
        let _ = closed.send(());
    }
}

/// Prepares the sockets for closing the way `how` says (they are closed
/// when dropped right after).
fn finish(how: Kill, client: &TcpStream, server: Option<&TcpStream>, counters: &Counters) {
    counters.killed.fetch_add(1, Ordering::SeqCst);
    for s in std::iter::once(client).chain(server) {
        match how {
            // SO_LINGER 0: close sends RST and discards unsent data.
            Kill::Reset => {
                let _ = s.set_zero_linger();
            }
            // A plain close sends FIN (RST only if unread data is pending,
            // which the pumps keep to a minimum by reading eagerly).
            Kill::Cut => {}
        }
    }
}

/// Forwards `from` → `to` chunk by chunk, obeying the mode, until EOF or an error.
async fn pump(from: &TcpStream, to: &TcpStream, mut mode: watch::Receiver<Mode>, bytes: &AtomicU64) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let _ = mode.wait_for(|m| *m != Mode::Blackhole).await;
        from.readable().await?;
        let n = match from.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let current = *mode.borrow();
        if let Mode::Delay(d) = current {
            tokio::time::sleep(d).await;
        }
        // Entered a blackhole while this chunk was in hand: hold it.
        let _ = mode.wait_for(|m| *m != Mode::Blackhole).await;
        write_all(to, &buf[..n]).await?;
        bytes.fetch_add(n as u64, Ordering::SeqCst);
    }
}

async fn write_all(to: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        to.writable().await?;
        match to.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener as StdListener, TcpStream as StdStream};
    use std::time::Instant;

    /// A loopback echo server on its own threads; returns its address.
    fn echo_server() -> SocketAddr {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if conn.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(proxy: &Proxy) -> StdStream {
        let s = StdStream::connect(proxy.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Sends `msg` and reads the same number of bytes back.
    fn round_trip(s: &mut StdStream, msg: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(msg)?;
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back)?;
        Ok(back)
    }

    /// Waits (up to 5 s) for `f` to hold.
    fn eventually(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn passes_bytes_both_ways_and_counts_them() {
        let proxy = Proxy::start(echo_server());
        assert!(proxy.addr().ip().is_loopback());
        let mut a = connect(&proxy);
        let mut b = connect(&proxy);
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(round_trip(&mut a, b"hello").unwrap(), b"hello");
        // Larger than a chunk and the socket buffers: needs both pumps going.
        let mut reader = b.try_clone().unwrap();
        let expect = big.clone();
        let t = std::thread::spawn(move || {
            let mut back = vec![0u8; expect.len()];
            reader.read_exact(&mut back).unwrap();
            assert!(back == expect, "echoed bytes differ");
        });
        b.write_all(&big).unwrap();
        t.join().unwrap();
        let s = proxy.stats();
        assert_eq!(s.accepted, 2);
        assert_eq!(s.open, 2);
        assert_eq!((s.bytes_up, s.bytes_down), (200_005, 200_005));
        drop((a, b));
        eventually("connections closed", || proxy.stats().open == 0);
    }

    #[test]
    fn delay_holds_each_chunk() {
        let proxy = Proxy::start(echo_server());
        let mut s = connect(&proxy);
        proxy.delay(Duration::from_millis(150));
        let t = Instant::now();
        assert_eq!(round_trip(&mut s, b"x").unwrap(), b"x");
        // Delayed on the way up and on the way down.
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
        proxy.pass();
        assert_eq!(round_trip(&mut s, b"y").unwrap(), b"y");
    }

    #[test]
    fn blackhole_holds_traffic_and_new_connections_until_pass() {
        let proxy = Proxy::start(echo_server());
        let mut old = connect(&proxy);
        assert_eq!(round_trip(&mut old, b"before").unwrap(), b"before");
        proxy.blackhole();
        old.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        old.write_all(b"held").unwrap();
        let mut buf = [0u8; 4];
        let e = old.read_exact(&mut buf).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{e}");
        // A new connection is accepted (connect succeeds) but goes nowhere.
        let mut new = connect(&proxy);
        new.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        new.write_all(b"new!").unwrap();
        assert!(new.read_exact(&mut buf).is_err());
        eventually("the new connection is accepted", || proxy.stats().accepted == 2);
        let before = proxy.stats();
        assert_eq!((before.bytes_up, before.bytes_down), (6, 6));
        // Healing delivers what was held, in order.
        proxy.pass();
        old.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        new.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        old.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"held");
        new.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"new!");
    }

    #[test]
    fn refuse_closes_the_listener_and_pass_reopens_the_same_port() {
        let proxy = Proxy::start(echo_server());
        let mut old = connect(&proxy);
        // Accepted by the proxy (not just queued in the listener's backlog,
        // where closing the listener resets it).
        assert_eq!(round_trip(&mut old, b"first").unwrap(), b"first");
        proxy.refuse();
        let e = StdStream::connect(proxy.addr()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        // Open connections are not affected.
        assert_eq!(round_trip(&mut old, b"still").unwrap(), b"still");
        proxy.pass();
        let mut s = connect(&proxy);
        assert_eq!(round_trip(&mut s, b"again").unwrap(), b"again");
        assert_eq!(proxy.stats().accepted, 2);
    }

    #[test]
    fn cut_closes_open_connections_with_fin() {
        let proxy = Proxy::start(echo_server());
        let mut a = connect(&proxy);
        let mut b = connect(&proxy);
        round_trip(&mut a, b"a").unwrap();
        round_trip(&mut b, b"b").unwrap();
        proxy.cut();
        let s = proxy.stats();
        assert_eq!((s.open, s.killed), (0, 2));
        for c in [&mut a, &mut b] {
            let mut buf = [0u8; 1];
            // A clean end of stream, not a reset.
            assert_eq!(c.read(&mut buf).unwrap(), 0);
        }
        // The proxy still takes new connections.
        let mut c = connect(&proxy);
        assert_eq!(round_trip(&mut c, b"c").unwrap(), b"c");
    }

    #[test]
    fn reset_closes_open_connections_with_rst() {
        let proxy = Proxy::start(echo_server());
        let mut a = connect(&proxy);
        round_trip(&mut a, b"a").unwrap();
        proxy.reset();
        assert_eq!(proxy.stats().open, 0);
        let mut buf = [0u8; 1];
        let e = a.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
        let mut c = connect(&proxy);
        assert_eq!(round_trip(&mut c, b"c").unwrap(), b"c");
    }

    #[test]
    fn a_down_upstream_closes_the_client_connection() {
        let dead = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let proxy = Proxy::start(addr);
        let mut s = connect(&proxy);
        let mut buf = [0u8; 1];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        eventually("closed", || proxy.stats().open == 0);
    }

    #[test]
    #[should_panic(expected = "loopback")]
    fn refuses_non_loopback_upstreams() {
        Proxy::start("192.0.2.1:5432".parse().unwrap());
    }
}
