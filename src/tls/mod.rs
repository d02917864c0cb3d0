//! TLS to the databases, on rustls with the ring provider (pure Rust, no
//! OpenSSL, no C build).
//!
//! # Modes
//!
//! Every engine is configured in its URL, with the names its own clients
//! use (PostgreSQL: `sslmode`, `sslrootcert`; MySQL / MariaDB: `ssl-mode`,
//! `ssl-ca`; MongoDB: the driver's own `tls`, `tlsCAFile`, which never
//! passes through here). Underneath they are one ladder, [`Mode`]:
//!
//! | mode | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | disable | no | – | – |
//! | prefer (default) | if the server offers TLS, else plain | only with a CA file | no |
//! | require | yes, or fail | only with a CA file | no |
//! | verify-ca | yes, or fail | yes | no |
//! | verify-full | yes, or fail | yes | yes |
//!
//! As in libpq and the mysql client, naming a CA file makes `prefer` and
//! `require` check the chain against it too. Without a CA file the verify
//! modes trust the Mozilla root set compiled in (webpki-roots), not the
//! system store. `prefer` and `require` without a CA file protect against
//! eavesdropping only: an active attacker can present any certificate (and,
//! for `prefer`, just refuse TLS). `verify-full` is the mode to use across
//! networks one does not control.
//!
//! # Why our own certificate check
//!
//! rustls checks chain and name together ([`WebPkiServerVerifier`]: the
//! chain first, the name last, so a name error means the chain was fine).
//! `verify-ca` therefore accepts exactly the name error and nothing else;
//! `prefer`/`require` without a CA accept any certificate but still check
//! the handshake signatures, so the server must hold the key of the
//! certificate it shows (SCRAM channel binding relies on that).
//!
//! mysql_async has a "skip the name check" switch, but it recognises the
//! name error by its old text, which rustls 0.23 no longer prints, so it
//! skips nothing. For MySQL `verify-ca` we therefore learn, in a short probe
//! handshake that checks the chain, a name the certificate carries, and let
//! the driver check chain and that name ([`mysql`]).
//!
//! The PostgreSQL replication session (pgwire-replication) gets its TLS
//! from here too, through a private Unix-socket relay ([`postgres`]): the
//! crate's own TLS feature would pull in aws-lc (a C library built with
//! cmake) and shares the same stale name-error check.

pub mod mysql;
pub mod postgres;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How much TLS a connection insists on (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain otherwise.
    Prefer,
    /// TLS or fail; the certificate is checked only against a given CA file.
    Require,
    /// TLS, certificate chain checked, any host name.
    VerifyCa,
    /// TLS, certificate chain and host name checked.
    VerifyFull,
}

/// Which CA certificates a connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// None named: the Mozilla set, used by the verify modes only.
    Default,
    /// Named as `system` (libpq's spelling): the Mozilla set, and the chain
    /// is checked in every mode.
    BuiltIn,
    /// A PEM file of CA certificates; the chain is checked in every mode.
    File(PathBuf),
}

/// What the certificate check verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing but the handshake signatures (encryption only).
    Nothing,
    /// The chain up to a trusted CA, any host name.
    Chain,
    /// Chain and host name.
    ChainAndName,
}

/// A connection's TLS settings, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub roots: Roots,
}

impl Policy {
    /// What the certificate check verifies in this mode with these roots.
    pub fn check(&self) -> Check {
        match (self.mode, &self.roots) {
            (Mode::VerifyFull, _) => Check::ChainAndName,
            (Mode::VerifyCa, _) => Check::Chain,
            (_, Roots::Default) => Check::Nothing,
            (_, _) => Check::Chain,
        }
    }

    /// The rustls client settings for this policy; `ca_param` names the
    /// URL parameter of the CA file in error messages.
    pub fn client_config(&self, ca_param: &str) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = self.check();
        let webpki = match check {
            Check::Nothing => None,
            Check::Chain | Check::ChainAndName => {
                let roots = match &self.roots {
                    Roots::File(path) => load_roots(path, ca_param)?,
                    Roots::Default | Roots::BuiltIn => mozilla_roots(),
                };
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("{ca_param}: cannot use these CA certificates: {e}"))?,
                )
            }
        };
        let verifier = ServerCheck { check, webpki, provider: provider.clone() };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // PostgreSQL turns session resumption off on its side; without a
        // session cache the settings hold no state shared between the
        // connections that use them.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(config))
    }
}

/// The Mozilla root set (webpki-roots).
fn mozilla_roots() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// The CA certificates in a PEM file, with an error naming the parameter
/// and the file when it cannot be read or holds none.
pub fn load_roots(path: &Path, param: &str) -> Result<RootCertStore, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{param}={shown}: cannot read the CA file: {}", pem_error(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{param}={shown}: not a PEM certificate file: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{param}={shown}: no certificate in the file (expected PEM blocks starting with -----BEGIN CERTIFICATE-----)"
        ));
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{param}={shown}: none of the certificates in the file can be used as a CA"));
    }
    Ok(roots)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("{other:?}"),
    }
}

/// The certificate check behind every mode (see the module docs).
#[derive(Debug)]
struct ServerCheck {
    check: Check,
    /// rustls' standard check against the trusted roots; `None` when the
    /// mode checks nothing.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// For the handshake signatures, which are checked in every mode.
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            // `prefer` / `require` without a CA file, like libpq and the
            // mysql client: any certificate is accepted. This encrypts but
            // does not authenticate the server (documented in the README).
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The chain was checked before the name: only the name is wrong.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls server name for `host` (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("`{host}` is not a host name or IP address TLS can check a certificate against"))
}

/// A name `cert` is valid for: `host` itself when it is, else the first DNS
/// name in its subjectAltName (a wildcard gets a label filled in). Used
/// where a driver can only check chain and name together (`verify-ca`).
pub fn name_in_certificate(cert: &CertificateDer<'_>, host: &str) -> Result<String, String> {
    let parsed = webpki::EndEntityCert::try_from(cert).map_err(|e| format!("the server's certificate cannot be parsed: {e}"))?;
    if let Ok(name) = ServerName::try_from(host) {
        if parsed.verify_is_valid_for_subject_name(&name).is_ok() {
            return Ok(host.to_string());
        }
    }
    match parsed.valid_dns_names().next() {
        Some(name) => Ok(match name.strip_prefix("*.") {
            Some(rest) => format!("logferry-verify-ca.{rest}"),
            None => name.to_string(),
        }),
        None => Err(format!(
            "the server's certificate names no DNS host in its subjectAltName, and not `{host}`: verify-ca cannot be \
             checked with this driver; use verify-full with a host name the certificate carries"
        )),
    }
}

/// When `e` (or an error it wraps) is a TLS failure that retrying cannot
/// fix — a rejected certificate, a refused handshake — what went wrong, in
/// words; `None` for everything else.
pub fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(describe(r));
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(r) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                return Some(describe(r));
            }
        }
        cur = err.source();
    }
    None
}

/// The certificate problem named in an error's *text*, for drivers that
/// keep only the text of the rustls error (the MongoDB driver's
/// server-selection errors): the same words as [`tls_problem`], `None` when
/// the text names no rejected certificate.
pub fn certificate_problem_in_text(text: &str) -> Option<String> {
    const MARK: &str = "invalid peer certificate: ";
    let rest = &text[text.find(MARK)? + MARK.len()..];
    let end = [", labels", ", source", " }", "\n"].iter().filter_map(|m| rest.find(m)).min().unwrap_or(rest.len());
    let what = rest[..end].trim();
    Some(if what == "UnknownIssuer" {
        describe(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
    } else if what.contains("not valid for name") || what.starts_with("NotValidForName") {
        format!(
            "the server's certificate does not name the host connected to ({what}): connect by a name the certificate \
             carries, or allow other names in the driver's options"
        )
    } else {
        format!("the server's certificate was rejected: {what}")
    })
}

/// A rustls error as an operator can act on it.
fn describe(e: &rustls::Error) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the server's certificate is not signed by a trusted CA (unknown issuer): check that the CA \
                                 file (sslrootcert / ssl-ca) holds the CA that signed the server's certificate"
                .into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the server's certificate does not name the host connected to ({c}): connect by a name the certificate \
                 carries, or use verify-ca (VERIFY_CA) to check the CA only"
            ),
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the server's certificate is outside its validity period ({c})")
            }
            C::BadSignature => "the server's certificate has a bad signature (it does not match its issuer)".into(),
            other => format!("the server's certificate was rejected: {other}"),
        },
        rustls::Error::AlertReceived(alert) => format!("the server ended the TLS handshake ({alert:?})"),
        other => format!("TLS failed: {other}"),
    }
}

/// Splits `url` into the URL without the query parameters for which
/// `ours(key)` holds, and those parameters (percent-decoded), in order.
pub fn take_params(url: &str, ours: impl Fn(&str) -> bool) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), Vec::new());
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k);
        if ours(&key) {
            taken.push((key, percent_decode(v)));
        } else {
            kept.push(pair);
        }
    }
    let mut out = base.to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    (out, taken)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_params_keeps_the_others_in_place() {
        let (url, taken) =
            take_params("postgres://u:p%3Fw@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca%20x.pem", |k| {
                k.starts_with("ssl")
            });
        assert_eq!(url, "postgres://u:p%3Fw@h:5/db?application_name=x");
        assert_eq!(
            taken,
            vec![("sslmode".into(), "verify-full".into()), ("sslrootcert".into(), "/tmp/ca x.pem".into())]
        );
        let (url, taken) = take_params("postgres://h/db?sslmode=require", |k| k == "sslmode");
        assert_eq!(url, "postgres://h/db");
        assert_eq!(taken.len(), 1);
        assert_eq!(take_params("postgres://h/db", |_| true), ("postgres://h/db".into(), vec![]));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%"), "A%");
    }

    #[test]
    fn checks_per_mode_and_roots() {
        let p = |mode, roots| Policy { mode, roots }.check();
        assert_eq!(p(Mode::Prefer, Roots::Default), Check::Nothing);
        assert_eq!(p(Mode::Require, Roots::Default), Check::Nothing);
        assert_eq!(p(Mode::Require, Roots::File("/ca".into())), Check::Chain);
        assert_eq!(p(Mode::Prefer, Roots::BuiltIn), Check::Chain);
        assert_eq!(p(Mode::VerifyCa, Roots::Default), Check::Chain);
        assert_eq!(p(Mode::VerifyFull, Roots::File("/ca".into())), Check::ChainAndName);
    }

    #[test]
    fn a_bad_ca_file_is_named_with_its_parameter() {
        let missing = Policy { mode: Mode::VerifyFull, roots: Roots::File("/nonexistent/ca.pem".into()) };
        let e = missing.client_config("sslrootcert").unwrap_err();
        assert!(e.starts_with("sslrootcert=/nonexistent/ca.pem: cannot read the CA file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = Policy { mode: Mode::VerifyCa, roots: Roots::File(empty) }.client_config("ssl-ca").unwrap_err();
        assert!(e.contains("ssl-ca=") && e.contains("no certificate in the file"), "{e}");
        // Encryption-only modes need no CA at all.
        assert!(Policy { mode: Mode::Require, roots: Roots::Default }.client_config("sslrootcert").is_ok());
        assert!(Policy { mode: Mode::VerifyFull, roots: Roots::Default }.client_config("sslrootcert").is_ok());
    }

    #[test]
    fn certificate_errors_are_found_inside_io_errors() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let m = tls_problem(&io).unwrap();
        assert!(m.contains("not signed by a trusted CA"), "{m}");
        assert!(tls_problem(&std::io::Error::other("connection refused")).is_none());
        let driver = "Kind: Server selection timeout: No available servers. Topology: { Servers: [ { Address: h:1, \
                      Error: Kind: I/O error: invalid peer certificate: UnknownIssuer, labels: {}, source: None } ] }";
        assert!(certificate_problem_in_text(driver).unwrap().contains("not signed by a trusted CA"));
        let expired = "I/O error: invalid peer certificate: Expired";
        assert_eq!(certificate_problem_in_text(expired).unwrap(), "the server's certificate was rejected: Expired");
        assert!(certificate_problem_in_text("Kind: I/O error: connection refused").is_none());
    }
}
