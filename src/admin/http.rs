//! The admin endpoint's HTTP/1.1 server, over TCP (`[admin] listen`) and
//! over the Unix socket in the state dir: one request per connection, the
//! same handler ([`Registry::answer`]) for both.
//!
//! A request head is at most [`MAX_HEAD`] bytes, a body (only `POST
//! /copy` has one, with a `Content-Length`) at most [`MAX_BODY`], and a
//! connection gets [`CONNECTION_TIMEOUT`] to send its request and take
//! the answer; then it is closed.

use super::{Registry, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// Longest request head taken (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest request body taken: a copy request with many keys
/// (`verify --repair`) fits; a runaway client does not fill the memory.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Time one connection gets for its request and the answer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

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
}

impl Request {
    /// The first query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Serves TCP connections until the process ends.
pub async fn serve_tcp(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        spawn_connection(stream, registry.clone());
    }
}

/// Serves Unix-socket connections until the process ends.
pub async fn serve_unix(listener: UnixListener, registry: Arc<Registry>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        spawn_connection(stream, registry.clone());
    }
}

fn spawn_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S, registry: Arc<Registry>) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection(stream, &registry)).await;
    });
}

/// Reads one request, answers it, and closes the connection.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, registry: &Registry) -> std::io::Result<()> {
    let response = match read_request(&mut stream).await? {
        Ok(request) => registry.answer(&request),
        Err(refusal) => refusal,
    };
    write_response(&mut stream, &response).await
}

/// Reads a request head and its body; `Ok(Err(answer))` for a request
/// refused before it reached a route.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Result<Request, Response>> {
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
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.trim().eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<usize>() {
                Ok(n) => length = Some(n),
                Err(_) => return Ok(Err(Response::text(400, "bad Content-Length\n"))),
            }
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Err(Response::text(411, "send the body with a Content-Length, not a transfer encoding\n")));
        }
    }
    let mut body = data[head_end..].to_vec();
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
    Ok(Ok(Request { method, path: path.to_string(), query: parse_query(query), body }))
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
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        r.code,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(r.body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

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
