//! librdkafka client settings shared by the Kafka source and target (as
//! `tls` is for the database connections), and the scrubbing of the
//! user's `options` out of librdkafka's messages: option values are
//! secrets (SASL passwords, keys), and librdkafka quotes a value it
//! refuses.

use crate::config::ClientOptions;
use rdkafka::config::ClientConfig;

/// librdkafka settings: the bootstrap list, our `defaults`, then the
/// user's `options` (which win).
pub fn client_config(brokers: &str, options: &ClientOptions, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    for (k, v) in options {
        c.set(k, v.expose());
    }
    c
}

/// `message` with every option value replaced by `***`.
pub fn scrub(message: impl std::fmt::Display, options: &ClientOptions) -> String {
    let mut m = message.to_string();
    for (_, v) in options {
        if !v.expose().is_empty() {
            m = m.replace(v.expose(), "***");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn refused_option_values_are_not_quoted_back() {
        let options = vec![("sasl.password".to_string(), Secret::new("hunter2")), ("acks".to_string(), Secret::new("nonsense"))];
        let err = client_config("127.0.0.1:1", &options, &[]).create::<rdkafka::producer::FutureProducer>().err().expect("acks=nonsense is refused");
        assert!(err.to_string().contains("nonsense") || err.to_string().contains("acks"), "{err}");
        let said = scrub(&err, &options);
        assert!(!said.contains("nonsense") && !said.contains("hunter2"), "{said}");
        assert_eq!(scrub("pw hunter2 twice hunter2", &options), "pw *** twice ***");
    }
}
