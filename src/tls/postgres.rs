//! PostgreSQL: `sslmode` and `sslrootcert` from the URL (libpq's names and
//! values), a tokio-postgres TLS connector on rustls with SCRAM channel
//! binding, and TLS for the replication session.
//!
//! # URL parameters
//!
//! `sslmode=disable|prefer|require|verify-ca|verify-full` (default
//! `prefer`, as in libpq) and `sslrootcert=/path/ca.pem` (or `system` for
//! the built-in Mozilla roots) are taken out of the URL before
//! tokio-postgres sees it: tokio-postgres knows neither the verify modes
//! nor `sslrootcert`. See [`super`] for what each mode checks.
//!
//! # Channel binding
//!
//! Over TLS the server offers SCRAM-SHA-256-PLUS: the SQL sessions prove
//! the password *and* that they talk to the holder of the certificate they
//! saw (`tls-server-end-point`, RFC 5929: a hash of the server certificate
//! with the hash of its signature algorithm), so that SCRAM exchange cannot
//! be relayed. This does not make `require` safe against an active man in
//! the middle: tokio-postgres (with its default `channel_binding=prefer`)
//! still answers a server that asks for a plain or MD5 password, and the
//! replication session (pgwire-replication) does SCRAM-SHA-256 without
//! channel binding and answers a plain-password request too. Only the
//! verify modes keep the login to the real server; the README says so.
//! Certificates signed with other algorithms (Ed25519, RSA-PSS), for which
//! PostgreSQL defines no binding, fall back to plain SCRAM-SHA-256.
//!
//! # The replication session
//!
//! pgwire-replication opens its TCP connection itself, and its own TLS
//! feature is left off (see [`super`]). So for TLS we open the connection
//! ourselves — SSLRequest, handshake, the same certificate check as the SQL
//! sessions — and give pgwire-replication a Unix socket in a fresh private
//! directory (mode 0700, only our user can enter it) whose single connection
//! is relayed into that TLS stream. pgwire-replication speaks the plain
//! protocol to the socket; the server sees a TLS session from us. The socket
//! and its directory are removed as soon as the connection is accepted (or
//! after [`RELAY_ACCEPT_TIMEOUT`]). A certificate problem therefore shows up
//! here, before pgwire-replication starts, as a definite error.

use super::{server_name, take_params, tls_problem, Mode, Policy, Roots};
use rustls::ClientConfig;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixListener};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_rustls::TlsConnector;

/// The parameters this module takes out of a PostgreSQL URL.
const PARAMS: [&str; 2] = ["sslmode", "sslrootcert"];

/// The values `sslmode` may take, for error messages.
const MODES: &str = "disable, prefer, require, verify-ca, verify-full";

/// How long the replication relay waits for pgwire-replication to connect
/// to its socket; it connects right after the relay is set up, so this only
/// bounds how long a directory is left behind when it never does.
pub const RELAY_ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bounds the relay's TCP connect and TLS handshake, like the SQL sessions'
/// connect timeout: an unanswered connect is retried, not waited on forever.
const RELAY_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The TLS settings of one PostgreSQL URL.
#[derive(Clone)]
pub struct PgTls {
    policy: Policy,
    /// The rustls settings; `None` with `sslmode=disable`.
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTls").field("policy", &self.policy).finish()
    }
}

/// `url` without the TLS parameters (for display; no validation).
pub fn without_tls_params(url: &str) -> String {
    take_params(url, |k| PARAMS.contains(&k)).0
}

/// Takes `sslmode` and `sslrootcert` out of `url`: the rest of the URL (for
/// tokio-postgres) and the TLS settings, with the CA file already read. The
/// error names the parameter and the allowed values; it never holds the URL.
pub fn from_url(url: &str) -> Result<(String, PgTls), String> {
    let (rest, params) = take_params(url, |k| PARAMS.contains(&k));
    let mut mode = Mode::Prefer;
    let mut roots = Roots::Default;
    for (key, value) in params {
        if key == "sslmode" {
            mode = match value.as_str() {
                "disable" => Mode::Disable,
                "prefer" => Mode::Prefer,
                "require" => Mode::Require,
                "verify-ca" => Mode::VerifyCa,
                "verify-full" => Mode::VerifyFull,
                "allow" => {
                    return Err(format!("sslmode=allow is not supported (it tries plain TCP before TLS): use one of {MODES}"))
                }
                other => return Err(format!("sslmode=`{other}` is not valid: use one of {MODES}")),
            };
        } else {
            roots = match value.as_str() {
                "" => return Err("sslrootcert is empty: give the path of a PEM file of CA certificates, or `system`".into()),
                "system" => Roots::BuiltIn,
                path => Roots::File(PathBuf::from(path)),
            };
        }
    }
    let policy = Policy { mode, roots };
    let config = match mode {
        Mode::Disable => None,
        _ => Some(policy.client_config("sslrootcert")?),
    };
    Ok((rest, PgTls { policy, config }))
}

impl PgTls {
    /// Plain TCP, as with `sslmode=disable`.
    pub fn disabled() -> Self {
        PgTls { policy: Policy { mode: Mode::Disable, roots: Roots::Default }, config: None }
    }

    pub fn mode(&self) -> Mode {
        self.policy.mode
    }

    /// What tokio-postgres should do with TLS; the certificate check is the
    /// connector's.
    pub fn ssl_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode;
        match self.policy.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// The connector to hand to `tokio_postgres::Config::connect`.
    pub fn connector(&self) -> Connector {
        Connector { config: self.config.clone() }
    }

    /// For a failed connection attempt that has to do with TLS: what went
    /// wrong, in words, and whether retrying can help. Definite: a rejected
    /// certificate, a server without TLS in a mode that needs it, a server
    /// that takes only TLS with `sslmode=disable`. Transient: any other
    /// failure during the handshake. `None` for errors that are not about TLS.
    pub fn connect_problem(&self, e: &tokio_postgres::Error) -> Option<TlsFailure> {
        let definite = |message| Some(TlsFailure { message, definite: true });
        if let Some(m) = tls_problem(e) {
            return definite(m);
        }
        let text = error_chain(e);
        if text.contains("server does not support TLS") {
            return definite(format!("the server does not offer TLS, and {} requires it", self.mode_param()));
        }
        if let Some(db) = e.as_db_error() {
            if db.code().code() == "28000" && db.message().contains("no encryption") && self.policy.mode == Mode::Disable {
                return definite(format!(
                    "{} (SQLSTATE 28000): the server accepts this connection only over TLS; remove sslmode=disable",
                    db.message()
                ));
            }
        }
        text.starts_with("error performing TLS handshake").then_some(TlsFailure { message: text, definite: false })
    }

    fn mode_param(&self) -> String {
        let name = match self.policy.mode {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        };
        format!("sslmode={name}")
    }

    /// Where the replication session should connect: straight to the
    /// server (no TLS: `disable`, a Unix socket, or `prefer` with a server
    /// that declines), or to a relay socket over our TLS connection (see
    /// the module docs).
    pub async fn replication_route(&self, host: &str, port: u16) -> Result<ReplicationRoute, RouteError> {
        let Some(config) = &self.config else {
            return Ok(ReplicationRoute::Direct);
        };
        if host.starts_with('/') {
            return Ok(ReplicationRoute::Direct); // Unix socket: PostgreSQL has no TLS there.
        }
        let transient = |message: String| RouteError { message, transient: true };
        let definite = |message: String| RouteError { message, transient: false };
        let handshake = async {
            let mut tcp = TcpStream::connect((host, port))
                .await
                .map_err(|e| transient(format!("cannot connect to {host}:{port}: {e}")))?;
            tcp.set_nodelay(true).map_err(|e| transient(format!("cannot set up the connection: {e}")))?;
            tcp.write_all(&SSL_REQUEST).await.map_err(|e| transient(format!("asking for TLS: {e}")))?;
            let mut answer = [0u8; 1];
            tcp.read_exact(&mut answer).await.map_err(|e| transient(format!("asking for TLS: {e}")))?;
            match answer[0] {
                b'S' => {}
                b'N' if self.policy.mode == Mode::Prefer => return Ok(None),
                b'N' => {
                    return Err(definite(format!("the server does not offer TLS, and {} requires it", self.mode_param())))
                }
                other => return Err(definite(format!("the server answered the TLS request with {other:#04x}"))),
            }
            let name = server_name(host).map_err(definite)?;
            let tls = TlsConnector::from(config.clone()).connect(name, tcp).await.map_err(|e| match tls_problem(&e) {
                Some(m) => definite(m),
                None => transient(format!("TLS handshake: {e}")),
            })?;
            Ok(Some(tls))
        };
        let tls = match tokio::time::timeout(RELAY_CONNECT_TIMEOUT, handshake).await {
            Ok(Ok(Some(tls))) => tls,
            Ok(Ok(None)) => return Ok(ReplicationRoute::Direct),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(transient(format!("no TLS session with {host}:{port} within {RELAY_CONNECT_TIMEOUT:?}"))),
        };
        let dir = private_dir().map_err(|e| definite(format!("cannot create a private directory for the replication relay: {e}")))?;
        let socket = dir.join(format!(".s.PGSQL.{port}"));
        let listener = match UnixListener::bind(&socket) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(definite(format!("cannot create the replication relay socket {}: {e}", socket.display())));
            }
        };
        let socket_dir = dir.to_string_lossy().into_owned();
        tokio::spawn(relay(listener, dir, tls));
        Ok(ReplicationRoute::Relay { socket_dir })
    }
}

/// A connection attempt that failed over TLS (see [`PgTls::connect_problem`]).
#[derive(Debug)]
pub struct TlsFailure {
    pub message: String,
    /// Retrying cannot help: the settings or the certificate need a fix.
    pub definite: bool,
}

/// Where the replication session connects (see [`PgTls::replication_route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationRoute {
    /// To the server's own host and port.
    Direct,
    /// To `{socket_dir}/.s.PGSQL.{port}`, relayed over TLS.
    Relay { socket_dir: String },
}

/// Why the replication session's TLS connection could not be made.
#[derive(Debug)]
pub struct RouteError {
    pub message: String,
    /// A network problem a later attempt may not have (vs. settings or
    /// certificates, which need a fix).
    pub transient: bool,
}

/// A new directory only our user can enter.
fn private_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("logferry-pgrepl-{}-{n}-{nanos:x}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            other => return other.map(|()| dir),
        }
    }
}

/// Accepts the one connection of the relay socket, removes the socket, and
/// copies bytes both ways until either side closes.
async fn relay(listener: UnixListener, dir: PathBuf, mut tls: tokio_rustls::client::TlsStream<TcpStream>) {
    let accepted = tokio::time::timeout(RELAY_ACCEPT_TIMEOUT, listener.accept()).await;
    drop(listener);
    remove_relay_dir(&dir);
    match accepted {
        Ok(Ok((mut local, _))) => {
            if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut tls).await {
                tracing::debug!(error = %e, "replication TLS relay ended");
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "replication TLS relay: accepting the local connection failed"),
        Err(_) => tracing::debug!("replication TLS relay: nobody connected; closed"),
    }
}

fn remove_relay_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "cannot remove the replication relay directory");
    }
}

/// Every message in an error's chain, for matching texts tokio-postgres
/// keeps private.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// tokio-postgres' `MakeTlsConnect` on rustls (see the module docs).
#[derive(Clone)]
pub struct Connector {
    config: Option<Arc<ClientConfig>>,
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    /// tokio-postgres asks for a connector for every host, also with
    /// `sslmode=disable`, where it then never uses it.
    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let Some(config) = self.config.clone() else { return Ok(Connect(None)) };
        let name = server_name(domain).map_err(io::Error::other)?;
        Ok(Connect(Some((TlsConnector::from(config), name))))
    }
}

/// One TLS handshake to come (tokio-postgres' `TlsConnect`); `None` with
/// `sslmode=disable`.
pub struct Connect(Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>);

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let (connector, name) = self.0.ok_or_else(|| io::Error::other("TLS is off (sslmode=disable)"))?;
            Ok(TlsStream(connector.connect(name, stream).await?))
        })
    }
}

/// A TLS session to PostgreSQL.
pub struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        match session.peer_certificates().and_then(|c| c.first()).and_then(|c| end_point_hash(c)) {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

/// `tls-server-end-point` (RFC 5929 §4.1): the certificate hashed with the
/// hash of its signature algorithm, SHA-256 for MD5 and SHA-1. `None` when
/// the algorithm has no such hash.
fn end_point_hash(cert: &[u8]) -> Option<Vec<u8>> {
    use ring::digest;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (0x30, certificate, _) = der_item(cert)? else { return None };
    let (_, _tbs, rest) = der_item(certificate)?;
    let (0x30, algorithm, _) = der_item(rest)? else { return None };
    let (0x06, oid, _) = der_item(algorithm)? else { return None };
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]; // 1.2.840.113549.1.1
    const ECDSA: [u8; 6] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]; // 1.2.840.10045.4
    let hash = match oid {
        [r @ .., 0x04 | 0x05 | 0x0b] if *r == RSA => &digest::SHA256, // MD5, SHA-1, SHA-256 with RSA
        [r @ .., 0x0c] if *r == RSA => &digest::SHA384,
        [r @ .., 0x0d] if *r == RSA => &digest::SHA512,
        [e @ .., 0x01] if *e == ECDSA => &digest::SHA256, // ecdsa-with-SHA1
        [e @ .., 0x03, 0x02] if *e == ECDSA => &digest::SHA256,
        [e @ .., 0x03, 0x03] if *e == ECDSA => &digest::SHA384,
        [e @ .., 0x03, 0x04] if *e == ECDSA => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(hash, cert).as_ref().to_vec())
}

/// One DER item: (tag, contents, what follows).
fn der_item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(header..end)?, b.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_values_and_errors() {
        let (rest, tls) = from_url("postgres://u:secret@h:5432/db?application_name=a&sslmode=require").unwrap();
        assert_eq!(rest, "postgres://u:secret@h:5432/db?application_name=a");
        assert_eq!(tls.mode(), Mode::Require);
        assert_eq!(from_url("postgres://h/db").unwrap().1.mode(), Mode::Prefer, "libpq's default");
        assert_eq!(from_url("postgres://h/db?sslmode=disable").unwrap().1.mode(), Mode::Disable);
        assert_eq!(from_url("postgres://h/db?sslmode=verify-full").unwrap().1.mode(), Mode::VerifyFull);
        let e = from_url("postgres://u:secret@h/db?sslmode=verify_full").unwrap_err();
        assert_eq!(e, "sslmode=`verify_full` is not valid: use one of disable, prefer, require, verify-ca, verify-full");
        assert!(!e.contains("secret"));
        assert!(from_url("postgres://h/db?sslmode=allow").unwrap_err().contains("not supported"));
        let e = from_url("postgres://h/db?sslmode=verify-ca&sslrootcert=/nope/ca.pem").unwrap_err();
        assert!(e.starts_with("sslrootcert=/nope/ca.pem: cannot read the CA file"), "{e}");
        assert!(from_url("postgres://h/db?sslrootcert=").unwrap_err().contains("sslrootcert is empty"));
        assert_eq!(without_tls_params("postgres://h/db?sslmode=bogus"), "postgres://h/db");
    }

    #[test]
    fn the_rest_of_the_url_still_parses() {
        let (rest, _) = from_url("postgresql://u:p@127.0.0.1:55432/db?sslmode=verify-full&sslrootcert=system").unwrap();
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_dbname(), Some("db"));
    }

    /// SEQUENCE { SEQUENCE {} (tbs), SEQUENCE { OID }, BIT STRING }
    fn fake_cert(oid: &[u8]) -> Vec<u8> {
        let mut body = vec![0x30, 0x00, 0x30, oid.len() as u8 + 2, 0x06, oid.len() as u8];
        body.extend_from_slice(oid);
        body.extend_from_slice(&[0x03, 0x01, 0x00]);
        let mut cert = vec![0x30, body.len() as u8];
        cert.extend_from_slice(&body);
        cert
    }

    #[test]
    fn end_point_hash_follows_the_signature_algorithm() {
        use ring::digest::{digest, SHA256, SHA384};
        let sha384_rsa = fake_cert(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c]);
        assert_eq!(end_point_hash(&sha384_rsa).unwrap(), digest(&SHA384, &sha384_rsa).as_ref());
        let sha1_ecdsa = fake_cert(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]);
        assert_eq!(end_point_hash(&sha1_ecdsa).unwrap(), digest(&SHA256, &sha1_ecdsa).as_ref(), "SHA-1 becomes SHA-256");
        assert!(end_point_hash(&fake_cert(&[0x2b, 0x65, 0x70])).is_none(), "Ed25519 has no binding");
        assert!(end_point_hash(&[0x30, 0x85]).is_none());
    }
}
