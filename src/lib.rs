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
