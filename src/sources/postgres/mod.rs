//! `kind = "postgres"`: consistent snapshot + logical replication (pgoutput).
pub mod decode;
pub mod types;
