//! The `logferry` binary: parse the command line, set up logging, run the
//! command, map errors to exit codes (0 ok, 2 usage/config, 1 runtime).

use clap::Parser;
use logferry::cli::{execute, Cli};
use tracing_subscriber::filter::Targets;

/// mimalloc instead of the system allocator: records are allocated on the
/// source's thread and freed on a lane's, which glibc malloc handles poorly
/// (a third of the CPU time of a catch-up went to malloc/free; see the
/// README's tuning section for the figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(execute(cli)) {
        // The whole chain of causes, each once.
        eprintln!("error: {}", logferry::ErrorChain(&e));
        std::process::exit(e.exit_code());
    }
}

/// Logs go to stderr (around the progress bars of `run`). `LOGFERRY_LOG` sets levels, e.g. `debug` or
/// `info,logferry::pipeline=debug`; the default is `info`.
fn init_logging() {
    let spec = std::env::var("LOGFERRY_LOG").unwrap_or_else(|_| "info".to_string());
    let filter: Targets = spec.parse().unwrap_or_else(|e| {
        eprintln!("warning: LOGFERRY_LOG={spec:?} is not a valid filter ({e}); using `info`");
        Targets::new().with_default(tracing::Level::INFO)
    });
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                // stderr, written around `run`'s progress bars.
                .with_writer(logferry::cli::progress::LogWriter)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .init();
}
