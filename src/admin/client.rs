//! The client side of the control endpoint, for the commands that talk to
//! a running `logferry run` (`status`, `snapshot`): connect to the Unix
//! socket of a state dir or to an admin address, send one request, read
//! the answer (status code and body).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Time to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for one whole exchange (the server closes a connection after 10 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest answer read (a `/status` with long histories is well below).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Where a running process answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// The control socket in its state dir.
    Unix(PathBuf),
    /// Its `[admin] listen` address, and `[admin] token` if set (sent as
    /// a bearer token; never printed).
    Tcp(SocketAddr, Option<crate::config::Secret>),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp(a, _) => write!(f, "http://{a}"),
        }
    }
}

impl Endpoint {
    /// The control socket of `state_dir`.
    pub fn socket_of(state_dir: &Path) -> Self {
        Endpoint::Unix(super::socket_path(state_dir))
    }

    /// The TCP endpoint of `[admin]`, with its token.
    pub fn admin(admin: &crate::config::AdminConfig) -> Self {
        Endpoint::Tcp(admin.listen, admin.token.clone())
    }
}

/// An answer: status code and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

/// Talking to a running process failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers there (no process, or a stale socket).
    #[error("nothing answers on {endpoint}")]
    Connect {
        /// Where.
        endpoint: Endpoint,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The exchange broke off.
    #[error("talking to {endpoint} failed")]
    Io {
        /// Where.
        endpoint: Endpoint,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It did not answer in time.
    #[error("{endpoint} did not answer within {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout {
        /// Where.
        endpoint: Endpoint,
    },
    /// The answer is not HTTP as the endpoint speaks it.
    #[error("{endpoint} answered something that is not an HTTP response ({what}); is it a logferry admin endpoint?")]
    BadAnswer {
        /// Where.
        endpoint: Endpoint,
        /// What was wrong.
        what: String,
    },
}

/// Sends one request (`target` is the path and query) and reads the answer.
pub async fn request(endpoint: &Endpoint, method: &str, target: &str, body: Option<&[u8]>) -> Result<Answer, ClientError> {
    let connect_err = |source| ClientError::Connect { endpoint: endpoint.clone(), source };
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
    let exchange = async {
        match endpoint {
            Endpoint::Unix(path) => {
                let s = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path)).await.map_err(|_| connect_err(timed_out()))?.map_err(connect_err)?;
                exchange(s, endpoint, "localhost", None, method, target, body).await
            }
            Endpoint::Tcp(addr, token) => {
                let s = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await.map_err(|_| connect_err(timed_out()))?.map_err(connect_err)?;
                exchange(s, endpoint, &addr.to_string(), token.as_ref(), method, target, body).await
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| ClientError::Timeout { endpoint: endpoint.clone() })?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    endpoint: &Endpoint,
    host: &str,
    token: Option<&crate::config::Secret>,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
) -> Result<Answer, ClientError> {
    let io = |source| ClientError::Io { endpoint: endpoint.clone(), source };
    let body = body.unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {}\r\n", t.expose())).unwrap_or_default();
    let head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).await.map_err(io)?;
    s.write_all(body).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut s).take(MAX_ANSWER as u64 + 1).read_to_end(&mut raw).await.map_err(io)?;
    parse_answer(&raw).map_err(|what| ClientError::BadAnswer { endpoint: endpoint.clone(), what })
}

/// Splits a close-delimited HTTP/1.1 answer into status and body.
fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    if raw.len() > MAX_ANSWER {
        return Err(format!("longer than {MAX_ANSWER} bytes"));
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of the head")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(format!("status line {status_line:?}"));
    }
    let status = code.parse().map_err(|_| format!("status line {status_line:?}"))?;
    let mut body = &raw[end + 4..];
    if let Some(n) = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
    {
        if body.len() < n {
            return Err(format!("the body ended after {} of {n} bytes", body.len()));
        }
        body = &body[..n];
    }
    Ok(Answer { status, body: String::from_utf8_lossy(body).into_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_split_by_their_content_length() {
        let a = parse_answer(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap();
        assert_eq!(a, Answer { status: 503, body: "ok".into() });
        let a = parse_answer(b"HTTP/1.0 200 OK\r\n\r\nuntil close").unwrap();
        assert_eq!(a.body, "until close");
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n\r\n").unwrap_err().contains("status line"));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").unwrap_err().contains("ended after 5 of 9"));
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = request(&Endpoint::socket_of(dir.path()), "GET", "/status", None).await.unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
        assert!(e.to_string().starts_with("nothing answers on ") && e.to_string().ends_with("logferry.sock"), "{e}");
    }
}
