//! `kind = "mysql"`: MySQL / MariaDB binlog source.
pub mod decode;
