//! A small HTTP/1.1 client for the webhook target: one `POST` with a
//! `Content-Length` body per exchange, over plain TCP or rustls, with a few
//! idle connections kept for the next exchange.
//!
//! Responses are read per RFC 9112: interim `1xx` answers are skipped; the
//! body is framed by `Transfer-Encoding: chunked`, `Content-Length`, or the
//! end of the connection; `204` and `304` have none. Only the first
//! [`BODY_KEPT`] bytes of a body are kept (errors quote 200 of them); the
//! rest is read and dropped so that the connection can be used again, up to
//! [`BODY_DRAINED`], past which the connection is closed instead. Nothing
//! here ever includes a request header in an error: header values are
//! secrets.

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Bytes of a response body kept for error messages.
pub(crate) const BODY_KEPT: usize = 1024;
/// Bytes of a response body read (and dropped) to keep the connection usable.
const BODY_DRAINED: u64 = 1 << 20;
/// Longest status line plus headers accepted.
const HEAD_MAX: usize = 64 * 1024;
/// Idle connections kept, and for how long.
const IDLE_MAX: usize = 16;
const IDLE_FOR: Duration = Duration::from_secs(30);

/// Where to POST, parsed from the target's URL.
pub(crate) struct Endpoint {
    /// Host to connect to (without the brackets of an IPv6 address).
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority without credentials.
    host_header: String,
    /// Path and query: the request target.
    target: String,
    /// For `https`: the rustls settings and the name the certificate must carry.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

/// The URL's parts: the endpoint, the credentials in it (user, password,
/// percent-decoded), and the URL without credentials, query and fragment
/// (safe to print).
pub(crate) struct ParsedUrl {
    pub endpoint: Endpoint,
    pub credentials: Option<(String, String)>,
    pub shown: String,
}

/// Parses an `http://` or `https://` URL. Errors never quote the URL's
/// credentials.
pub(crate) fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL (no `scheme://` at the start)")?;
    let scheme = scheme.to_ascii_lowercase();
    let (https, default_port) = match scheme.as_str() {
        "http" => (false, 80),
        "https" => (true, 443),
        _ => return Err(format!("the scheme must be http or https; found {scheme}")),
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let credentials = userinfo.map(|u| {
        let (user, password) = u.split_once(':').unwrap_or((u, ""));
        (percent_decode(user), percent_decode(password))
    });
    let (host, port, v6) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("an IPv6 host lacks its closing `]`")?;
        if !after.is_empty() && !after.starts_with(':') {
            return Err("unexpected text after the IPv6 host's `]`".into());
        }
        (h, after.strip_prefix(':'), true)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (hostport, None, false),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    if !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || (v6 && b == b':')) {
        return Err(format!("`{host}` is not a host name or IP address"));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse::<u16>().map_err(|_| format!("`{p}` is not a port number"))?,
    };
    let path_end = tail.find('?').unwrap_or(tail.len());
    let path = if tail[..path_end].is_empty() { "/" } else { &tail[..path_end] };
    let target = format!("{path}{}", &tail[path_end..]);
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("the URL's path holds spaces or control characters (percent-encode them)".into());
    }
    let tls = if https {
        let policy = crate::tls::Policy { mode: crate::tls::Mode::VerifyFull, roots: crate::tls::Roots::BuiltIn };
        let mut config = (*policy.client_config("url")?).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = rustls::client::Resumption::default();
        Some((Arc::new(config), crate::tls::server_name(host)?))
    } else {
        None
    };
    let host_header = if port == default_port { hostport.trim_end_matches(':').to_string() } else { hostport.to_string() };
    let shown = format!("{scheme}://{hostport}{path}");
    Ok(ParsedUrl { endpoint: Endpoint { host: host.to_string(), port, host_header, target, tls }, credentials, shown })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response: status, reason phrase, headers (names lowercased), and the
/// first [`BODY_KEPT`] bytes of the body.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why an exchange failed; every kind is worth retrying.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS handshake with {0} failed: {1}")]
    Tls(String, std::io::Error),
    #[error("the connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the answer is not HTTP/1.1: {0}")]
    Protocol(String),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: BufReader<Box<dyn Io>>,
    idle_since: Instant,
}

/// Idle connections to one endpoint.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    fn take(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if c.idle_since.elapsed() < IDLE_FOR {
                return Some(c);
            }
        }
        None
    }

    fn put(&self, mut c: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Bytes after the answer: the connection is out of step; drop it.
        if idle.len() < IDLE_MAX && c.io.buffer().is_empty() {
            c.idle_since = Instant::now();
            idle.push(c);
        }
    }
}

/// POSTs `body` with `headers` (plus `Host`, `Content-Length`,
/// `User-Agent`) and reads the answer. A kept-alive connection that fails
/// before any answer (the server closed it while idle) is replaced by a new
/// one once; the receiver dedups by `Idempotency-Key` if the first attempt
/// did arrive. The caller bounds the time.
pub(crate) async fn post(endpoint: &Endpoint, pool: &Pool, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, ClientError> {
    let head = request_head(endpoint, headers, body.len());
    if let Some(mut conn) = pool.take() {
        match exchange(&mut conn, &head, body).await {
            Ok((response, reusable)) => {
                if reusable {
                    pool.put(conn);
                }
                return Ok(response);
            }
            Err((e, answered)) if answered => return Err(e),
            Err(_) => {} // stale: try a new connection
        }
    }
    let mut conn = connect(endpoint).await?;
    let (response, reusable) = exchange(&mut conn, &head, body).await.map_err(|(e, _)| e)?;
    if reusable {
        pool.put(conn);
    }
    Ok(response)
}

fn request_head(endpoint: &Endpoint, headers: &[(&str, &str)], len: usize) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: logferry/{}\r\nContent-Length: {len}\r\n",
        endpoint.target,
        endpoint.host_header,
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

async fn connect(endpoint: &Endpoint) -> Result<Conn, ClientError> {
    let at = format!("{}:{}", endpoint.host_header_host(), endpoint.port);
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await.map_err(|e| ClientError::Connect(at.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match &endpoint.tls {
        None => Box::new(tcp),
        Some((config, name)) => {
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| ClientError::Tls(at, e))?;
            Box::new(tls)
        }
    };
    Ok(Conn { io: BufReader::new(io), idle_since: Instant::now() })
}

impl Endpoint {
    fn host_header_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// One request and its answer on `conn`: the response and whether the
/// connection can carry another request; on failure, whether any byte of
/// an answer had arrived.
async fn exchange(conn: &mut Conn, head: &[u8], body: &[u8]) -> Result<(Response, bool), (ClientError, bool)> {
    let sent = async {
        let w = conn.io.get_mut();
        w.write_all(head).await?;
        w.write_all(body).await?;
        w.flush().await
    };
    sent.await.map_err(|e| (ClientError::Io(e), false))?;
    read_response(&mut conn.io).await
}

/// Reads one final response (skipping `1xx`) and its body.
pub(crate) async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<(Response, bool), (ClientError, bool)> {
    let mut answered = false;
    loop {
        let (version, status, reason) = match read_line(r, HEAD_MAX).await {
            Ok(Some(line)) => parse_status_line(&line).map_err(|e| (e, true))?,
            Ok(None) if !answered => return Err((ClientError::Protocol("the server closed the connection without answering".into()), false)),
            Ok(None) => return Err((ClientError::Protocol("the connection ended inside the answer".into()), true)),
            Err(e) => return Err((e, answered)),
        };
        answered = true;
        let headers = read_headers(r).await.map_err(|e| (e, true))?;
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let mut response = Response { status, reason, headers, body: Vec::new() };
        let reusable = read_body(r, &mut response, version).await.map_err(|e| (e, true))?;
        return Ok((response, reusable));
    }
}

fn parse_status_line(line: &str) -> Result<(u8, u16, String), ClientError> {
    let bad = || ClientError::Protocol(format!("bad status line {:?}", excerpt(line, 80)));
    let mut parts = line.splitn(3, ' ');
    let version = match parts.next() {
        Some("HTTP/1.1") => 1,
        Some("HTTP/1.0") => 0,
        _ => return Err(bad()),
    };
    let code = parts.next().filter(|c| c.len() == 3).and_then(|c| c.parse::<u16>().ok()).filter(|c| *c >= 100).ok_or_else(bad)?;
    Ok((version, code, parts.next().unwrap_or("").trim().to_string()))
}

async fn read_headers<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Vec<(String, String)>, ClientError> {
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let line = read_line(r, HEAD_MAX).await?.ok_or_else(|| ClientError::Protocol("the connection ended inside the headers".into()))?;
        if line.is_empty() {
            return Ok(headers);
        }
        total += line.len();
        if total > HEAD_MAX {
            return Err(ClientError::Protocol(format!("headers longer than {HEAD_MAX} bytes")));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| ClientError::Protocol(format!("bad header line {:?}", excerpt(&line, 80))))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Reads the body as the headers frame it; returns whether the connection
/// can be used again.
async fn read_body<R: AsyncBufRead + Unpin>(r: &mut R, response: &mut Response, version: u8) -> Result<bool, ClientError> {
    let closes = |v: &str| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
    let mut reusable = version == 1 && !response.headers.iter().any(|(n, v)| n == "connection" && closes(v));
    if matches!(response.status, 204 | 304) {
        return Ok(reusable);
    }
    let encodings: Vec<&str> = response.headers.iter().filter(|(n, _)| n == "transfer-encoding").map(|(_, v)| v.as_str()).collect();
    let body = &mut response.body;
    if !encodings.is_empty() {
        let chunked = encodings.last().and_then(|v| v.rsplit(',').next()).is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        if chunked {
            return Ok(read_chunked(r, body).await? && reusable);
        }
        read_to_end(r, body).await?;
        return Ok(false);
    }
    let lengths: Vec<&str> = response.headers.iter().filter(|(n, _)| n == "content-length").flat_map(|(_, v)| v.split(',')).map(str::trim).collect();
    if let Some(first) = lengths.first() {
        if lengths.iter().any(|l| l != first) {
            return Err(ClientError::Protocol("conflicting Content-Length headers".into()));
        }
        let len: u64 = first.parse().map_err(|_| ClientError::Protocol(format!("bad Content-Length {:?}", excerpt(first, 40))))?;
        if len > BODY_DRAINED {
            reusable = false;
        }
        read_exact_kept(r, len.min(BODY_DRAINED), body).await?;
        return Ok(reusable);
    }
    read_to_end(r, body).await?;
    Ok(false)
}

/// Reads `len` bytes, keeping the first [`BODY_KEPT`] of the body.
async fn read_exact_kept<R: AsyncBufRead + Unpin>(r: &mut R, mut len: u64, body: &mut Vec<u8>) -> Result<(), ClientError> {
    while len > 0 {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(ClientError::Protocol("the connection ended inside the body".into()));
        }
        let n = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        keep(body, &buf[..n]);
        r.consume(n);
        len -= n as u64;
    }
    Ok(())
}

/// Reads until the server closes (at most [`BODY_DRAINED`] bytes).
async fn read_to_end<R: AsyncBufRead + Unpin>(r: &mut R, body: &mut Vec<u8>) -> Result<(), ClientError> {
    let mut read = 0u64;
    while read < BODY_DRAINED {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        keep(body, buf);
        r.consume(n);
        read += n as u64;
    }
    Ok(())
}

/// A chunked body; returns false when it was too long to read to its end.
async fn read_chunked<R: AsyncBufRead + Unpin>(r: &mut R, body: &mut Vec<u8>) -> Result<bool, ClientError> {
    let mut read = 0u64;
    loop {
        let line = read_line(r, 1024).await?.ok_or_else(|| ClientError::Protocol("the connection ended inside a chunked body".into()))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| ClientError::Protocol(format!("bad chunk size {:?}", excerpt(size, 40))))?;
        if size == 0 {
            // Trailers, up to the empty line.
            read_headers(r).await?;
            return Ok(true);
        }
        read = read.saturating_add(size);
        if read > BODY_DRAINED {
            return Ok(false);
        }
        read_exact_kept(r, size, body).await?;
        let end = read_line(r, 2).await?;
        if end.as_deref() != Some("") {
            return Err(ClientError::Protocol("a chunk does not end with CRLF".into()));
        }
    }
}

fn keep(body: &mut Vec<u8>, data: &[u8]) {
    let room = BODY_KEPT.saturating_sub(body.len());
    body.extend_from_slice(&data[..data.len().min(room)]);
}

/// One line without its CRLF (or bare LF); `None` at a clean end of input.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Result<Option<String>, ClientError> {
    let mut line = Vec::new();
    let limited = &mut (&mut *r).take(max as u64 + 2);
    let n = limited.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > max {
            ClientError::Protocol(format!("a line of the answer is longer than {max} bytes"))
        } else {
            ClientError::Protocol("the connection ended inside a line".into())
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// The first `max` characters of `s`, with `…` when cut.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &[u8]) -> Result<(Response, bool), (ClientError, bool)> {
        let mut r = BufReader::new(raw);
        read_response(&mut r).await
    }

    #[tokio::test]
    async fn content_length_chunked_and_close_delimited_bodies() {
        let (r, reuse) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await.unwrap();
        assert_eq!((r.status, r.reason.as_str(), r.body.as_slice(), reuse), (200, "OK", &b"hello"[..], true));
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nbad \r\n4\r\nrow!\r\n0\r\nTrailer: t\r\n\r\n";
        let (r, reuse) = parse(raw).await.unwrap();
        assert_eq!((r.status, r.body.as_slice(), reuse), (400, &b"bad row!"[..], true));
        let (r, reuse) = parse(b"HTTP/1.0 503 Busy\nRetry-After: 2\n\nlater").await.unwrap();
        assert_eq!((r.status, r.header("retry-after"), r.body.as_slice(), reuse), (503, Some("2"), &b"later"[..], false));
        let (r, reuse) = parse(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await.unwrap();
        assert_eq!((r.status, reuse), (204, false));
    }

    #[tokio::test]
    async fn a_long_body_is_kept_in_part_and_bad_answers_are_errors() {
        let mut raw = b"HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 5000));
        let (r, reuse) = parse(&raw).await.unwrap();
        assert_eq!((r.body.len(), reuse), (BODY_KEPT, true));
        assert!(matches!(parse(b"").await, Err((ClientError::Protocol(_), false))), "no answer at all");
        assert!(matches!(parse(b"SSH-2.0-x\r\n").await, Err((ClientError::Protocol(_), true))));
        assert!(matches!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").await, Err((ClientError::Protocol(_), true))));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").await.is_err());
    }

    #[test]
    fn urls() {
        let u = parse_url("http://user:p%40ss@127.0.0.1:8080/hook?token=x#frag").unwrap();
        assert_eq!(u.shown, "http://127.0.0.1:8080/hook");
        assert_eq!(u.credentials, Some(("user".into(), "p@ss".into())));
        assert_eq!((u.endpoint.host.as_str(), u.endpoint.port, u.endpoint.target.as_str()), ("127.0.0.1", 8080, "/hook?token=x"));
        assert_eq!(u.endpoint.host_header, "127.0.0.1:8080");
        let u = parse_url("https://[::1]").unwrap();
        assert_eq!((u.endpoint.host.as_str(), u.endpoint.port, u.endpoint.target.as_str(), u.shown.as_str()), ("::1", 443, "/", "https://[::1]/"));
        assert!(u.endpoint.tls.is_some());
        let u = parse_url("http://hooks.example?x=1").unwrap();
        assert_eq!((u.endpoint.target.as_str(), u.endpoint.host_header.as_str()), ("/?x=1", "hooks.example"));
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
        assert!(parse_url("http://h/a b").is_err());
        let e = parse_url("ftp://u:secret@h/").err().unwrap();
        assert!(!e.contains("secret"), "{e}");
    }
}
