//! The admin endpoint's HTTP/1.1 server, over TCP (`[admin] listen`) and
//! over the Unix socket in the state dir: one request per connection, the
//! same handler ([`Registry::answer`]) for both.
//!
//! # Limits (what a client that misbehaves gets)
//!
//! - A request head is at most [`MAX_HEAD`] bytes, and must arrive whole
//!   within [`HEAD_TIMEOUT`] of the connection being accepted, however
//!   slowly it trickles in (a slow sender is answered `408` and closed);
//!   a body (only `POST /copy` has one, with a `Content-Length`) is at
//!   most [`MAX_BODY`]; a connection gets [`CONNECTION_TIMEOUT`] in all to
//!   send its request and take the answer; then it is closed.
//! - At most [`MAX_CONNECTIONS`] connections per transport are open at
//!   once. When a new one arrives at the bound, the connection that has
//!   waited longest without sending its whole request head is closed to
//!   make room (idle and slow connections cannot lock probes out); when
//!   every open connection is busy being answered, the new one is closed
//!   at once.
//! - When `accept` fails (out of file descriptors, say), the server waits
//!   10 ms before the next try, doubling up to 1 s while it keeps failing,
//!   instead of spinning; the first failure of a series is logged.
//! - With `[admin] token`, every route but `GET /health` and `GET /ready`
//!   (the probes) needs `Authorization: Bearer <token>` on TCP, else `401`.
//!   The Unix socket needs none: the state dir's permissions guard it.

use super::{Registry, Response};
use crate::config::Secret;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Notify;

/// Longest request head taken (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest request body taken: a copy request with many keys
/// (`verify --repair`) fits; a runaway client does not fill the memory.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Time one connection gets for its request and the answer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a connection gets to send its whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections open at once, per transport.
pub const MAX_CONNECTIONS: usize = 64;
/// The first wait after a failed `accept`; it doubles up to [`MAX_ACCEPT_BACKOFF`].
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// The longest wait between failed `accept`s.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// One parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// `(name, value)` pairs of the query, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// The token of an `Authorization: Bearer …` header (checked by the
    /// server before a route sees the request; prints as `***`).
    pub bearer: Option<Secret>,
}

impl Request {
    /// The first query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Who may ask what on a transport.
#[derive(Clone, Default)]
pub struct Access {
    /// `[admin] token`: needed (as a bearer token) for every route but the
    /// probes. `None`: no authentication (the Unix socket, or no token set).
    pub token: Option<Secret>,
}

/// The open connections of one transport, and those still waiting for
/// their request head (oldest first), which may be closed to make room.
#[derive(Default)]
struct Slots {
    open: AtomicUsize,
    next_id: AtomicU64,
    waiting: Mutex<VecDeque<(u64, Arc<Notify>)>>,
}

impl Slots {
    /// Takes a slot for a new connection: `None` when the bound is reached
    /// and no connection waiting for its head can be closed for it.
    fn take(self: &Arc<Self>) -> Option<Slot> {
        if self.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let oldest = self.waiting.lock().expect("slots lock").pop_front();
            match oldest {
                // Told to close; it frees its slot as it goes.
                Some((_, evict)) => evict.notify_one(),
                None => return None,
            }
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let evict = Arc::new(Notify::new());
        self.waiting.lock().expect("slots lock").push_back((id, evict.clone()));
        Some(Slot { slots: self.clone(), id, evict })
    }
}

/// One connection's place among the open ones.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    evict: Arc<Notify>,
}

impl Slot {
    /// The head arrived: this connection is busy now, not to be closed for room.
    fn busy(&self) {
        self.slots.waiting.lock().expect("slots lock").retain(|(id, _)| *id != self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.busy();
        self.slots.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves TCP connections until the process ends.
pub async fn serve_tcp(listener: TcpListener, registry: Arc<Registry>, access: Access) {
    serve(|| listener.accept(), "admin.listen", registry, access).await
}

/// Serves Unix-socket connections until the process ends (no token: the
/// state dir's permissions guard the socket).
pub async fn serve_unix(listener: UnixListener, registry: Arc<Registry>) {
    serve(|| listener.accept(), "the control socket", registry, Access::default()).await
}

/// The accept loop of one transport: bounded connections, a backoff while
/// `accept` fails.
async fn serve<S, A, F, Fut>(mut accept: F, what: &'static str, registry: Arc<Registry>, access: Access)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<(S, A)>>,
{
    let slots = Arc::new(Slots::default());
    let access = Arc::new(access);
    let mut backoff = Backoff::default();
    loop {
        let stream = match accept().await {
            Ok((stream, _)) => {
                backoff.reset();
                stream
            }
            Err(e) => {
                let wait = backoff.next();
                if wait == ACCEPT_BACKOFF {
                    tracing::warn!(transport = what, error = %e,
                        "the admin endpoint cannot accept connections (out of file descriptors?); retrying, waiting up to 1s between tries");
                }
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let Some(slot) = slots.take() else {
            // Every open connection is being answered: no room, close at once.
            drop(stream);
            continue;
        };
        let (registry, access) = (registry.clone(), access.clone());
        tokio::spawn(async move {
            let evict = slot.evict.clone();
            tokio::select! {
                _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection(stream, &registry, &access, &slot)) => {}
                _ = evict.notified() => {}
            }
            drop(slot);
        });
    }
}

/// The wait after each failed `accept` in a row: 10 ms, doubling to 1 s.
#[derive(Default)]
struct Backoff {
    last: Option<Duration>,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let wait = match self.last {
            None => ACCEPT_BACKOFF,
            Some(d) => (d * 2).min(MAX_ACCEPT_BACKOFF),
        };
        self.last = Some(wait);
        wait
    }

    fn reset(&mut self) {
        self.last = None;
    }
}

/// Reads one request, answers it, and closes the connection.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, registry: &Registry, access: &Access, slot: &Slot) -> std::io::Result<()> {
    let response = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => Response::text(408, "the request head did not arrive in time\n"),
        Ok(head) => match head? {
            Err(refusal) => refusal,
            Ok((head, rest)) => {
                slot.busy();
                match read_request(&mut stream, &head, rest).await? {
                    Err(refusal) => refusal,
                    Ok(request) => match authorized(&request, access) {
                        Some(refusal) => refusal,
                        None => registry.answer(&request),
                    },
                }
            }
        },
    };
    write_response(&mut stream, &response).await
}

/// `Some(401)` when `request` needs the token and does not carry it.
fn authorized(request: &Request, access: &Access) -> Option<Response> {
    let token = access.token.as_ref()?;
    if request.method == "GET" && matches!(request.path.as_str(), "/health" | "/ready") {
        return None;
    }
    let given = request.bearer.as_ref().map_or("", Secret::expose);
    if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
        return None;
    }
    Some(Response::text(
        401,
        "this route needs the admin token: send `Authorization: Bearer <[admin] token>` (only GET /health and /ready are open)\n",
    ))
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads until the end of the request head: the head's bytes and what
/// came after it; `Ok(Err(answer))` for a head refused as too large.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Result<(Vec<u8>, Vec<u8>), Response>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if data.len() > MAX_HEAD {
            return Ok(Err(Response::text(431, "request head too large\n")));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            // A head without its blank line: answer what we have.
            break data.len();
        }
        data.extend_from_slice(&buf[..n]);
    };
    if head_end > MAX_HEAD {
        return Ok(Err(Response::text(431, "request head too large\n")));
    }
    let rest = data.split_off(head_end);
    Ok(Ok((data, rest)))
}

/// Parses a request `head` and reads its body (`rest` is what came after
/// the head); `Ok(Err(answer))` for a request refused before it reached a
/// route.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, head: &[u8], rest: Vec<u8>) -> std::io::Result<Result<Request, Response>> {
    let mut buf = [0u8; 4096];
    let head = String::from_utf8_lossy(head).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut length = None;
    let mut bearer = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.trim().eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<usize>() {
                Ok(n) => length = Some(n),
                Err(_) => return Ok(Err(Response::text(400, "bad Content-Length\n"))),
            }
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Err(Response::text(411, "send the body with a Content-Length, not a transfer encoding\n")));
        } else if name.trim().eq_ignore_ascii_case("authorization") {
            let value = value.trim();
            if let Some((scheme, token)) = value.split_once(' ') {
                if scheme.eq_ignore_ascii_case("bearer") {
                    bearer = Some(Secret::new(token.trim()));
                }
            }
        }
    }
    let mut body = rest;
    if let Some(n) = length {
        if n > MAX_BODY {
            return Ok(Err(Response::text(413, &format!("request body too large: at most {MAX_BODY} bytes\n"))));
        }
        while body.len() < n {
            let got = stream.read(&mut buf).await?;
            if got == 0 {
                return Ok(Err(Response::text(400, "the body ended before its Content-Length\n")));
            }
            body.extend_from_slice(&buf[..got]);
        }
        body.truncate(n);
    } else {
        body.clear();
    }
    Ok(Ok(Request { method, path: path.to_string(), query: parse_query(query), body, bearer }))
}

/// `a=1&b=x%20y` as pairs, percent-decoded (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                let hex = |b: u8| (b as char).to_digit(16).expect("checked") as u8;
                out.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write_response<S: AsyncWrite + Unpin>(stream: &mut S, r: &Response) -> std::io::Result<()> {
    let reason = match r.code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        408 => "Request Timeout",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n{}\r\n",
        r.code,
        r.content_type,
        r.body.len(),
        if r.code == 401 { "WWW-Authenticate: Bearer realm=\"logferry\"\r\n" } else { "" }
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(r.body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<Result<Request, Response>> {
        match read_head(s).await? {
            Err(refusal) => Ok(Err(refusal)),
            Ok((head, rest)) => super::read_request(s, &head, rest).await,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failing_accepts_back_off_up_to_a_second_instead_of_spinning() {
        let tries = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = tries.clone();
        let start = tokio::time::Instant::now();
        let accept = move || {
            seen.lock().unwrap().push(start.elapsed());
            // EMFILE: out of file descriptors.
            std::future::ready(Err::<(tokio::io::DuplexStream, ()), _>(std::io::Error::from_raw_os_error(24)))
        };
        let registry = Arc::new(Registry::new(Vec::new(), None));
        let server = tokio::spawn(serve(accept, "test", registry, Access::default()));
        tokio::time::sleep(Duration::from_secs(10)).await;
        server.abort();
        let tries = tries.lock().unwrap().clone();
        let gaps: Vec<u128> = tries.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        assert_eq!(&gaps[..8], &[10, 20, 40, 80, 160, 320, 640, 1000], "{gaps:?}");
        assert!(gaps[8..].iter().all(|g| *g == 1000), "{gaps:?}");
        assert!(tries.len() < 20, "{} tries in 10 s", tries.len());
    }

    #[test]
    fn the_token_is_compared_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab") && !constant_time_eq(b"", b"a"));
        let r = |bearer: Option<&str>, path: &str| Request {
            method: "GET".into(),
            path: path.into(),
            query: vec![],
            body: vec![],
            bearer: bearer.map(Secret::new),
        };
        let access = Access { token: Some(Secret::new("t")) };
        assert!(authorized(&r(None, "/health"), &access).is_none() && authorized(&r(None, "/ready"), &access).is_none());
        assert_eq!(authorized(&r(None, "/status"), &access).map(|a| a.code), Some(401));
        assert_eq!(authorized(&r(Some("x"), "/status"), &access).map(|a| a.code), Some(401));
        assert!(authorized(&r(Some("t"), "/status"), &access).is_none());
        assert!(authorized(&r(None, "/status"), &Access::default()).is_none());
        assert!(!format!("{:?}", r(Some("t0k"), "/")).contains("t0k"), "the token never prints");
    }

    #[test]
    fn queries_are_split_and_percent_decoded() {
        assert_eq!(
            parse_query("pipeline=shop&id=12&t=a%2Eb+c&bad=%zz&end=%4"),
            vec![
                ("pipeline".into(), "shop".into()),
                ("id".into(), "12".into()),
                ("t".into(), "a.b c".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
        assert!(parse_query("").is_empty());
    }

    #[tokio::test]
    async fn a_request_with_a_body_is_read_whole_and_limits_hold() {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        client.write_all(b"POST /copy?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 11\r\n\r\nhello").await.unwrap();
        let reader = tokio::spawn(async move { read_request(&mut server).await.unwrap() });
        client.write_all(b" world!!").await.unwrap();
        let r = reader.await.unwrap().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str(), r.param("x")), ("POST", "/copy", Some("1")));
        assert_eq!(r.body, b"hello world");

        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        client.write_all(format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1).as_bytes()).await.unwrap();
        assert_eq!(read_request(&mut server).await.unwrap().unwrap_err().code, 413);

        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        client.write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
        assert_eq!(read_request(&mut server).await.unwrap().unwrap_err().code, 411);

        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&vec![b'a'; MAX_HEAD + 10]).await;
            client
        });
        assert_eq!(read_request(&mut server).await.unwrap().unwrap_err().code, 431);
        drop(writer);
    }
}
