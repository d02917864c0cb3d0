//! MySQL / MariaDB: `ssl-mode` and `ssl-ca` from the URL (the mysql
//! client's names), carried out with mysql_async's rustls support.
//!
//! # URL parameters
//!
//! `ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY` (default
//! `PREFERRED`, as in the mysql client; any case, `ssl_mode` also accepted)
//! and `ssl-ca=/path/ca.pem` (or `ssl_ca`). They are the modes of [`super`]:
//! PREFERRED = prefer, REQUIRED = require, VERIFY_CA = verify-ca,
//! VERIFY_IDENTITY = verify-full. mysql_async's own parameters are accepted
//! instead, with their meaning: `require_ssl=true` is VERIFY_IDENTITY,
//! plus `verify_identity=false` VERIFY_CA, plus `verify_ca=false` REQUIRED;
//! without `require_ssl=true` they mean DISABLED. Mixing the two families
//! is an error.
//!
//! # How the modes map onto mysql_async
//!
//! mysql_async either requires TLS (when given `SslOpts`) or does not use
//! it. PREFERRED therefore asks for TLS and, when the server's greeting
//! says it has none (`NoClientSslFlagFromServer`), connects again in plain
//! TCP and remembers that for this endpoint. Certificates: REQUIRED and
//! PREFERRED without a CA accept any certificate; VERIFY_IDENTITY is the
//! driver's full check. The driver's "skip the name" switch no longer works
//! with rustls 0.23 (see [`super`]), so where only the chain is to be
//! checked (VERIFY_CA, or a CA file with PREFERRED / REQUIRED) a probe
//! connection — greeting, SSLRequest, TLS handshake with a chain-only check
//! — learns a name the certificate carries, and the driver then checks the
//! chain and that name. The probe runs once per endpoint.

use super::{name_in_certificate, server_name, take_params, tls_problem, Check, Mode, Policy, Roots};
use mysql_async::{Conn, DriverError, Opts, OptsBuilder, SslOpts};
use rustls::ClientConfig;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Our parameters (the mysql client's spellings).
const OURS: [&str; 4] = ["ssl-mode", "ssl_mode", "ssl-ca", "ssl_ca"];

/// mysql_async's own TLS parameters, accepted instead of ours.
const DRIVER: [&str; 4] = ["require_ssl", "verify_ca", "verify_identity", "built_in_roots"];

/// The values `ssl-mode` may take, for error messages.
const MODES: &str = "DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY";

/// Bounds the VERIFY_CA probe (connect, greeting, handshake).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest server greeting we read (real ones are ~100 bytes).
const MAX_GREETING: usize = 64 << 10;

/// CLIENT_SSL in the greeting's capability flags.
const CLIENT_SSL: u16 = 0x0800;

/// The TLS settings of one MySQL URL.
#[derive(Clone)]
pub struct MysqlTls {
    policy: Policy,
    /// The CA file's contents (read once, at parse time).
    ca_pem: Option<Vec<u8>>,
    /// The chain-only rustls settings for the probe (see the module docs).
    probe: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for MysqlTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlTls").field("policy", &self.policy).finish()
    }
}

/// `url` without any TLS parameter (for display; no validation).
pub fn without_tls_params(url: &str) -> String {
    take_params(url, |k| OURS.contains(&k) || DRIVER.contains(&k)).0
}

/// Takes the TLS parameters out of `url`: the rest (for mysql_async) and
/// the settings, the CA file already read. The error names the parameter
/// and the allowed values; it never holds the URL.
pub fn from_url(url: &str) -> Result<(String, MysqlTls), String> {
    let (rest, params) = take_params(url, |k| OURS.contains(&k) || DRIVER.contains(&k));
    let ours = params.iter().find(|(k, _)| OURS.contains(&k.as_str()));
    let driver = params.iter().find(|(k, _)| DRIVER.contains(&k.as_str()));
    if let (Some((a, _)), Some((b, _))) = (ours, driver) {
        return Err(format!(
            "the url has both `{a}` and mysql_async's `{b}`: use ssl-mode / ssl-ca, or require_ssl / verify_ca / \
             verify_identity / built_in_roots, not both"
        ));
    }
    let policy = if driver.is_some() { driver_policy(&params)? } else { our_policy(&params)? };
    let ca_pem = match &policy.roots {
        Roots::File(path) if policy.mode != Mode::Disable => Some(
            std::fs::read(path).map_err(|e| format!("ssl-ca={}: cannot read the CA file: {e}", path.display()))?,
        ),
        _ => None,
    };
    let probe = match policy.check() {
        Check::Chain if policy.mode != Mode::Disable => Some(policy.client_config("ssl-ca")?),
        // Validates the CA file (and its parameter name in errors) early.
        Check::ChainAndName if ca_pem.is_some() => {
            policy.client_config("ssl-ca")?;
            None
        }
        _ => None,
    };
    Ok((rest, MysqlTls { policy, ca_pem, probe }))
}

fn our_policy(params: &[(String, String)]) -> Result<Policy, String> {
    let mut mode = Mode::Prefer;
    let mut roots = Roots::Default;
    for (key, value) in params {
        if key == "ssl-mode" || key == "ssl_mode" {
            mode = match value.to_ascii_uppercase().as_str() {
                "DISABLED" => Mode::Disable,
                "PREFERRED" => Mode::Prefer,
                "REQUIRED" => Mode::Require,
                "VERIFY_CA" => Mode::VerifyCa,
                "VERIFY_IDENTITY" => Mode::VerifyFull,
                _ => return Err(format!("{key}=`{value}` is not valid: use one of {MODES}")),
            };
        } else if value.is_empty() {
            return Err(format!("{key} is empty: give the path of a PEM file of CA certificates"));
        } else {
            roots = Roots::File(PathBuf::from(value));
        }
    }
    Ok(Policy { mode, roots })
}

fn driver_policy(params: &[(String, String)]) -> Result<Policy, String> {
    let flag = |name: &str, default: bool| -> Result<bool, String> {
        match params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!("{name}=`{other}` is not valid: use true or false")),
        }
    };
    let (require, verify_ca, verify_identity, built_in) =
        (flag("require_ssl", false)?, flag("verify_ca", true)?, flag("verify_identity", true)?, flag("built_in_roots", true)?);
    let mode = match (require, verify_ca, verify_identity) {
        (false, _, _) => Mode::Disable,
        (true, false, _) => Mode::Require,
        (true, true, false) => Mode::VerifyCa,
        (true, true, true) => Mode::VerifyFull,
    };
    if !built_in && matches!(mode, Mode::VerifyCa | Mode::VerifyFull) {
        return Err("built_in_roots=false leaves no CA to trust: use ssl-mode with ssl-ca=/path/ca.pem instead".into());
    }
    Ok(Policy { mode, roots: Roots::Default })
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Disable => "DISABLED",
        Mode::Prefer => "PREFERRED",
        Mode::Require => "REQUIRED",
        Mode::VerifyCa => "VERIFY_CA",
        Mode::VerifyFull => "VERIFY_IDENTITY",
    }
}

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// The driver's own error (classify it as usual).
    Driver(mysql_async::Error),
    /// A network failure of the probe: worth retrying.
    Network(String),
    /// A TLS problem retrying cannot fix (settings, certificate, a server
    /// without TLS in a mode that needs it).
    Tls(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Driver(e) => e.fmt(f),
            ConnectError::Network(m) | ConnectError::Tls(m) => f.write_str(m),
        }
    }
}

/// A server to connect to: the driver's options (without TLS) and what
/// TLS to add, with what was learned about the server on the way.
#[derive(Clone)]
pub struct MysqlEndpoint {
    opts: Opts,
    tls: MysqlTls,
    learned: Arc<Mutex<Learned>>,
}

#[derive(Default)]
struct Learned {
    /// PREFERRED: the server offers no TLS; connect in plain TCP.
    no_tls: bool,
    /// The name the driver checks the certificate against (chain-only
    /// modes; found by the probe).
    name: Option<String>,
}

impl MysqlEndpoint {
    /// `opts` must come from the URL that [`from_url`] returned.
    pub fn new(opts: Opts, tls: MysqlTls) -> Self {
        MysqlEndpoint { opts, tls, learned: Default::default() }
    }

    /// The driver's options (without TLS).
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    fn learned(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a connection with the TLS the URL asks for.
    pub async fn connect(&self) -> Result<Conn, ConnectError> {
        let mode = self.tls.policy.mode;
        if mode == Mode::Disable || self.learned().no_tls {
            return Conn::new(self.opts.clone()).await.map_err(ConnectError::Driver);
        }
        let Some(ssl) = self.ssl_opts().await? else {
            return Conn::new(self.opts.clone()).await.map_err(ConnectError::Driver);
        };
        match Conn::new(OptsBuilder::from_opts(self.opts.clone()).ssl_opts(ssl)).await {
            Ok(conn) => Ok(conn),
            Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) if mode == Mode::Prefer => {
                tracing::info!(host = self.opts.ip_or_hostname(), "the server offers no TLS; ssl-mode=PREFERRED: using plain TCP");
                self.learned().no_tls = true;
                Conn::new(self.opts.clone()).await.map_err(ConnectError::Driver)
            }
            Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                Err(ConnectError::Tls(format!("the server does not offer TLS, and ssl-mode={} requires it", mode_name(mode))))
            }
            Err(e) => match tls_problem(&e) {
                Some(m) => {
                    self.learned().name = None; // probe again next time (a new certificate?)
                    Err(ConnectError::Tls(m))
                }
                None => Err(ConnectError::Driver(e)),
            },
        }
    }

    /// The driver's TLS options; `None` when PREFERRED found no TLS.
    async fn ssl_opts(&self) -> Result<Option<SslOpts>, ConnectError> {
        let mut ssl = SslOpts::default();
        if let Some(pem) = &self.tls.ca_pem {
            ssl = ssl.with_root_certs(vec![pem.clone().into()]).with_disable_built_in_roots(true);
        }
        Ok(Some(match self.tls.policy.check() {
            // PREFERRED / REQUIRED without a CA: any certificate (the
            // handshake signatures are still checked by the driver).
            Check::Nothing => ssl.with_danger_accept_invalid_certs(true),
            Check::ChainAndName => ssl,
            Check::Chain => {
                let known = self.learned().name.clone();
                let name = match known {
                    Some(n) => n,
                    None => match self.probe().await? {
                        Some(n) => {
                            self.learned().name = Some(n.clone());
                            n
                        }
                        None if self.tls.policy.mode == Mode::Prefer => {
                            self.learned().no_tls = true;
                            return Ok(None);
                        }
                        None => {
                            return Err(ConnectError::Tls(format!(
                                "the server does not offer TLS, and ssl-mode={} requires it",
                                mode_name(self.tls.policy.mode)
                            )))
                        }
                    },
                };
                ssl.with_danger_tls_hostname_override(Some(name))
            }
        }))
    }

    /// Greets the server, asks for TLS, checks the certificate's chain and
    /// returns a name it is valid for; `None` when the server has no TLS.
    async fn probe(&self) -> Result<Option<String>, ConnectError> {
        let host = self.opts.ip_or_hostname().to_string();
        let port = self.opts.tcp_port();
        let config = self.tls.probe.clone().ok_or_else(|| ConnectError::Tls("TLS probe without settings".into()))?;
        let net = |what: &str, e: std::io::Error| ConnectError::Network(format!("{what} {host}:{port}: {e}"));
        let run = async {
            let mut tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| net("cannot connect to", e))?;
            let mut header = [0u8; 4];
            tcp.read_exact(&mut header).await.map_err(|e| net("no greeting from", e))?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            if len > MAX_GREETING {
                return Err(ConnectError::Network(format!("{host}:{port} does not greet like a MySQL server")));
            }
            let mut greeting = vec![0u8; len];
            tcp.read_exact(&mut greeting).await.map_err(|e| net("no greeting from", e))?;
            if !greeting_offers_tls(&greeting).map_err(ConnectError::Network)? {
                return Ok(None);
            }
            // SSLRequest: capabilities (protocol 4.1, SSL, secure connection,
            // plugin auth), max packet, utf8mb4, 23 zero bytes; sequence 1.
            let caps: u32 = 0x0200 | u32::from(CLIENT_SSL) | 0x8000 | 0x0008_0000;
            let mut request = vec![32, 0, 0, 1];
            request.extend_from_slice(&caps.to_le_bytes());
            request.extend_from_slice(&(16u32 << 20).to_le_bytes());
            request.push(45);
            request.extend_from_slice(&[0u8; 23]);
            tcp.write_all(&request).await.map_err(|e| net("asking for TLS at", e))?;
            let name = server_name(&host).map_err(ConnectError::Tls)?;
            let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| match tls_problem(&e) {
                Some(m) => ConnectError::Tls(m),
                None => ConnectError::Network(format!("TLS handshake with {host}:{port}: {e}")),
            })?;
            let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
            let _ = tls.shutdown().await;
            let cert = cert.ok_or_else(|| ConnectError::Tls("the server sent no certificate".into()))?;
            name_in_certificate(&cert, &host).map(Some).map_err(ConnectError::Tls)
        };
        match tokio::time::timeout(PROBE_TIMEOUT, run).await {
            Ok(r) => r,
            Err(_) => Err(ConnectError::Network(format!("no TLS session with {host}:{port} within {PROBE_TIMEOUT:?}"))),
        }
    }
}

/// Whether a server greeting (protocol 10) has CLIENT_SSL; an error packet
/// becomes its message.
fn greeting_offers_tls(g: &[u8]) -> Result<bool, String> {
    match g.first() {
        Some(0xff) => {
            let code = g.get(1..3).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
            let text = g.get(3..).unwrap_or_default();
            let text = if text.first() == Some(&b'#') { text.get(6..).unwrap_or_default() } else { text };
            Err(format!("the server refused the connection: {} (error {code})", String::from_utf8_lossy(text)))
        }
        Some(10) => {
            let version_end = g[1..].iter().position(|b| *b == 0).ok_or("a malformed server greeting")? + 2;
            let at = version_end + 4 + 8 + 1; // connection id, auth data 1, filler
            let caps = g.get(at..at + 2).ok_or("a server greeting without capabilities")?;
            Ok(u16::from_le_bytes([caps[0], caps[1]]) & CLIENT_SSL != 0)
        }
        _ => Err("a server greeting of an unknown protocol version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> Mode {
        from_url(url).unwrap().1.policy.mode
    }

    #[test]
    fn ssl_mode_values_aliases_and_errors() {
        assert_eq!(mode("mysql://h/db"), Mode::Prefer, "the mysql client's default");
        assert_eq!(mode("mysql://h/db?ssl-mode=DISABLED"), Mode::Disable);
        assert_eq!(mode("mysql://h/db?ssl_mode=required"), Mode::Require);
        assert_eq!(mode("mysql://h/db?ssl-mode=VERIFY_CA"), Mode::VerifyCa);
        assert_eq!(mode("mysql://h/db?ssl-mode=verify_identity"), Mode::VerifyFull);
        let (rest, _) = from_url("mysql://root:pw@h:3306/db?ssl-mode=REQUIRED&pool_max=3").unwrap();
        assert_eq!(rest, "mysql://root:pw@h:3306/db?pool_max=3");
        let e = from_url("mysql://root:pw@h/db?ssl-mode=VERIFY_FULL").unwrap_err();
        assert_eq!(e, "ssl-mode=`VERIFY_FULL` is not valid: use one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY");
        assert!(!e.contains("pw"));
        let e = from_url("mysql://h/db?ssl-mode=VERIFY_CA&ssl-ca=/nope/ca.pem").unwrap_err();
        assert!(e.starts_with("ssl-ca=/nope/ca.pem: cannot read the CA file"), "{e}");
        assert!(from_url("mysql://h/db?ssl-ca=").unwrap_err().contains("ssl-ca is empty"));
        assert_eq!(without_tls_params("mysql://h/db?ssl-mode=nonsense&require_ssl=x"), "mysql://h/db");
    }

    #[test]
    fn mysql_async_parameters_keep_their_meaning() {
        assert_eq!(mode("mysql://h/db?require_ssl=true"), Mode::VerifyFull);
        assert_eq!(mode("mysql://h/db?require_ssl=true&verify_identity=false"), Mode::VerifyCa);
        assert_eq!(mode("mysql://h/db?require_ssl=true&verify_ca=false"), Mode::Require);
        assert_eq!(mode("mysql://h/db?verify_ca=false"), Mode::Disable);
        assert!(from_url("mysql://h/db?require_ssl=yes").unwrap_err().contains("require_ssl=`yes` is not valid"));
        let e = from_url("mysql://h/db?ssl-mode=REQUIRED&require_ssl=true").unwrap_err();
        assert!(e.contains("`ssl-mode`") && e.contains("`require_ssl`"), "{e}");
        assert!(from_url("mysql://h/db?require_ssl=true&built_in_roots=false").is_err());
        // What is left parses for the driver.
        let (rest, _) = from_url("mysql://h:3307/db?require_ssl=true&verify_ca=false").unwrap();
        assert_eq!(Opts::from_url(&rest).unwrap().tcp_port(), 3307);
    }

    #[test]
    fn greetings() {
        let mut g = vec![10];
        g.extend_from_slice(b"10.11.6-MariaDB\0");
        g.extend_from_slice(&[1, 0, 0, 0]);
        g.extend_from_slice(&[0; 8]);
        g.push(0);
        assert!(greeting_offers_tls(&[&g[..], &0x0800u16.to_le_bytes()].concat()).unwrap());
        assert!(!greeting_offers_tls(&[&g[..], &0xf7ffu16.to_le_bytes()].concat()).unwrap());
        let e = greeting_offers_tls(b"\xff\x10\x04#08004Too many connections").unwrap_err();
        assert_eq!(e, "the server refused the connection: Too many connections (error 1040)");
        assert!(greeting_offers_tls(&g[..5]).is_err());
    }
}
