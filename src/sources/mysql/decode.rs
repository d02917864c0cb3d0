//! MySQL / MariaDB binlog row values to canonical values.
