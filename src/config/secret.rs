//! Secrets that never print.
//!
//! [`Secret`] prints as `***`. [`SecretUrl`] prints the URL with only its
//! passwords replaced, so messages still say which server was meant:
//! `postgres://logferry:***@127.0.0.1:5432/shop`. Passwords are the
//! userinfo's and the values of query parameters that carry secrets
//! (`password=`, `sslpassword=`, `tlsCertificateKeyFilePassword=`, any
//! name holding `password`, `passwd`, `secret` or `token`, and a few
//! others: [`is_secret_param`]; names compared case-insensitively):
//! `mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***`. When a URL is
//! malformed in a way that leaves unclear where the password ends (a raw
//! `/`, `?` or `#` in it), more is hidden rather than less; a string that
//! is not a URL at all (a libpq `key=value` string) is hidden whole.
use std::fmt;

/// A secret string: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for handing to a driver. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A connection URL whose password is a secret: `Debug` and `Display` show
/// the URL with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(s: impl Into<String>) -> Self {
        SecretUrl(Secret::new(s))
    }
    /// The full URL with its password, for handing to a driver. Never log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    /// The scheme (`postgres`, `mongodb+srv`, …), if the URL starts with a
    /// well-formed `scheme://`. Safe to print.
    pub fn scheme(&self) -> Option<&str> {
        let (scheme, _) = self.expose().split_once("://")?;
        let well_formed = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        well_formed.then_some(scheme)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.expose();
        let Some(scheme) = self.scheme() else {
            // Not a URL we can take apart (a libpq keyword string, say):
            // any part of it could be the password.
            return f.write_str("***");
        };
        let rest = &url[scheme.len() + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);

        // An `@` after the authority with a `:` before it: most likely a
        // password holding a raw `/`, `?` or `#`. Hide all of the user part.
        if let Some(last_at) = rest.rfind('@') {
            if tail.contains('@') && rest[..last_at].contains(':') {
                return write!(f, "{scheme}://***@{}", mask_query(&rest[last_at + 1..]));
            }
        }
        // The userinfo ends at the last `@` of the authority (a raw `@` in
        // a password is a common mistake); the password starts at its first `:`.
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                let user = &authority[..colon];
                return write!(f, "{scheme}://{user}:***{}", mask_query(&rest[at..]));
            }
        }
        write!(f, "{scheme}://{authority}{}", mask_query(tail))
    }
}

/// True for query parameter names whose values are secrets (compared
/// case-insensitively): names holding `password`, `passwd`, `secret` or
/// `token` (`password`, `sslpassword`, `tlsCertificateKeyFilePassword`,
/// `access_token`, `client_secret`), and `pwd`, `pass`, `apikey`,
/// `api_key`, `api-key`, `key`, `sig`, `signature`, `auth`,
/// `authorization`, `credentials`, `authMechanismProperties` (MongoDB's,
/// which can hold `AWS_SESSION_TOKEN:…`).
pub fn is_secret_param(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|w| n.contains(w))
        || matches!(
            n.as_str(),
            "pwd" | "pass" | "apikey" | "api_key" | "api-key" | "key" | "sig" | "signature" | "auth" | "authorization"
                | "credentials" | "authmechanismproperties"
        )
}

/// `rest` (from the path on) with the values of its secret query
/// parameters replaced by `***`; the fragment is left out when the query
/// holds a secret (a raw `#` in a password would start it).
fn mask_query(rest: &str) -> std::borrow::Cow<'_, str> {
    let Some(q) = rest.find('?') else { return rest.into() };
    let (head, query) = (&rest[..q], &rest[q + 1..]);
    let mut out = String::with_capacity(rest.len());
    let mut masked = false;
    let mut left = query;
    loop {
        let end = left.find(['&', ';']).unwrap_or(left.len());
        let pair = &left[..end];
        match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => {
                out.push_str(name);
                out.push_str("=***");
                masked = true;
            }
            _ => out.push_str(pair),
        }
        if end == left.len() {
            break;
        }
        out.push_str(&left[end..=end]);
        left = &left[end + 1..];
    }
    if !masked {
        return rest.into();
    }
    if let Some(h) = out.find('#') {
        // A fragment after a masked value may be the rest of that value.
        out.truncate(h);
    }
    format!("{head}?{out}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        let s = SecretUrl::new(url);
        assert_eq!(format!("SecretUrl({s})"), format!("{s:?}"));
        s.to_string()
    }

    #[test]
    fn password_is_replaced() {
        assert_eq!(
            shown("postgres://logferry:hunter2@127.0.0.1:5432/shop"),
            "postgres://logferry:***@127.0.0.1:5432/shop"
        );
        assert_eq!(
            shown("mysql://root:pw@db.example.com/app?ssl-mode=REQUIRED"),
            "mysql://root:***@db.example.com/app?ssl-mode=REQUIRED"
        );
        assert_eq!(
            shown("mongodb+srv://app:s3cr3t@cluster0.example.net/?retryWrites=true"),
            "mongodb+srv://app:***@cluster0.example.net/?retryWrites=true"
        );
        assert_eq!(
            shown("mongodb://app:pw@h1:27017,h2:27017/shop?replicaSet=rs0"),
            "mongodb://app:***@h1:27017,h2:27017/shop?replicaSet=rs0"
        );
    }

    #[test]
    fn url_without_password_is_unchanged() {
        for url in [
            "postgres://127.0.0.1:5432/shop",
            "postgres://logferry@127.0.0.1/shop",
            "postgresql://logferry@localhost/shop?application_name=x",
            "mongodb://localhost:27017/",
            "postgres://user@host/db?options=a@b",
        ] {
            assert_eq!(shown(url), url);
        }
    }

    #[test]
    fn empty_password_is_still_hidden() {
        assert_eq!(shown("postgres://u:@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn percent_encoded_at_in_password() {
        assert_eq!(
            shown("postgres://logferry:p%40ss%3Aword@127.0.0.1:5432/shop"),
            "postgres://logferry:***@127.0.0.1:5432/shop"
        );
    }

    #[test]
    fn raw_special_characters_in_password_never_show() {
        for (url, secret, expected) in [
            (
                "postgres://u:p@ss@host/db",
                "p@ss",
                "postgres://u:***@host/db",
            ),
            (
                "postgres://u:p:w@host/db",
                "p:w",
                "postgres://u:***@host/db",
            ),
            (
                "postgres://u:pa/ss@host/db",
                "pa/ss",
                "postgres://***@host/db",
            ),
            (
                "postgres://u:12/34@host/db",
                "12/34",
                "postgres://***@host/db",
            ),
            (
                "postgres://u:pa?ss@host/db",
                "pa?ss",
                "postgres://***@host/db",
            ),
            (
                "postgres://u:pa#ss@host/db",
                "pa#ss",
                "postgres://***@host/db",
            ),
            (
                "postgres://u:p@s/s@host/db",
                "p@s/s",
                "postgres://***@host/db",
            ),
        ] {
            let out = shown(url);
            assert_eq!(out, expected, "{url}");
            assert!(!out.contains(secret), "{out} shows {secret}");
        }
    }

    #[test]
    fn secret_query_parameters_are_replaced() {
        for (url, expected) in [
            (
                "postgres://logferry@db:5432/shop?sslmode=verify-full&password=hunter2",
                "postgres://logferry@db:5432/shop?sslmode=verify-full&password=***",
            ),
            ("postgresql://db/shop?sslpassword=k3y&sslcert=/c.pem", "postgresql://db/shop?sslpassword=***&sslcert=/c.pem"),
            ("postgres://u:pw@db/shop?PassWord=x", "postgres://u:***@db/shop?PassWord=***"),
            ("mysql://root@db:3306/app?ssl-mode=REQUIRED&password=x", "mysql://root@db:3306/app?ssl-mode=REQUIRED&password=***"),
            (
                "mongodb://h1,h2/?tls=true&tlsCertificateKeyFile=/k.pem&tlsCertificateKeyFilePassword=k3y",
                "mongodb://h1,h2/?tls=true&tlsCertificateKeyFile=/k.pem&tlsCertificateKeyFilePassword=***",
            ),
            (
                "mongodb://app:pw@h1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:t0k",
                "mongodb://app:***@h1/?authMechanism=MONGODB-AWS&authMechanismProperties=***",
            ),
            ("nats://n:pw@127.0.0.1:4222", "nats://n:***@127.0.0.1:4222"),
            ("nats://127.0.0.1:4222?token=t0k", "nats://127.0.0.1:4222?token=***"),
            ("https://hooks.example.com/in?api_key=t0k&x=1", "https://hooks.example.com/in?api_key=***&x=1"),
            ("https://h/in?sig=t0k;sv=2020", "https://h/in?sig=***;sv=2020"),
            ("https://h/in?ACCESS_TOKEN=t0k#frag", "https://h/in?ACCESS_TOKEN=***"),
            ("http://h/in?password=a#b", "http://h/in?password=***"),
            ("postgres://u:p/w@h/db?password=x", "postgres://***@h/db?password=***"),
        ] {
            assert_eq!(shown(url), expected, "{url}");
        }
        for url in ["postgres://db/shop?sslmode=require&application_name=x", "mongodb://h/?replicaSet=rs0&authSource=admin", "https://h/in?x=1&y"] {
            assert_eq!(shown(url), url);
        }
    }

    #[test]
    fn not_a_url_is_hidden_entirely() {
        assert_eq!(shown("host=db user=u password=pw"), "***");
        assert_eq!(shown("://u:pw@h"), "***");
        assert_eq!(SecretUrl::new("x y://a").scheme(), None);
        assert_eq!(
            SecretUrl::new("mongodb+srv://a").scheme(),
            Some("mongodb+srv")
        );
    }
}
