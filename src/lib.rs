//! logferry: change-data-capture replication.
pub mod admin;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod pipeline;
pub mod record;
pub mod sinks;
pub mod sources;
pub mod tls;

/// A boxed, sendable future: what the object-safe `Source` and `Sink`
/// traits return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Displays an error with its causes, `outer: inner: innermost`, each text
/// once: a cause whose text the output already holds (an error that also
/// prints its source, or is `transparent`) is not repeated. The binary's
/// `error: …` line and log lines of boundary errors use it.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = e.source();
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorChain;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the log")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn the_chain_is_printed_once() {
        let io = || std::io::Error::other("connection reset");
        assert_eq!(ErrorChain(&Outer(io())).to_string(), "reading the log: connection reset");
        assert_eq!(ErrorChain(&Repeats(io())).to_string(), "wrapped: connection reset");
    }
}
