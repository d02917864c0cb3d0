//! `logferry bench --source mariadb`: a MariaDB/MySQL binlog backlog, read by
//! logferry and (with `--compare`) by `mariadb-binlog --read-from-remote-server`.

use super::BenchArgs;
use crate::cli::CliError;

/// Runs the MariaDB bench; prints the result.
pub(super) async fn run(args: &BenchArgs) -> Result<(), CliError> {
    let _ = args;
    Err(CliError::Usage("bench: --source mariadb is being built".into()))
}
