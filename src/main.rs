//! The `promptyard` binary: parse the command line, load the configuration, start logging,
//! dispatch. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use promptyard::cli::{self, Cli, Command};
use promptyard::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Variables that are not UTF-8 cannot be ours; skip them rather than fail.
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let loaded = match Config::load(cli.config.as_deref(), env, &cli.overrides()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let quiet = matches!(
        cli.command,
        Some(
            Command::CheckConfig
                | Command::Admin(_)
                | Command::Reindex
                | Command::Backup { .. }
                | Command::Restore { .. }
        )
    );
    if quiet {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
    } else {
        cli::init_tracing(&loaded.config);
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        if let Some(file) = &loaded.file {
            tracing::info!(file = %file.display(), "loaded configuration");
        }
    }
    match cli::run(cli, loaded.config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// jemalloc instead of glibc's malloc: tokio moves tasks between threads, so memory is often
/// freed on another thread than the one that allocated it, and glibc's arena locks showed in
/// profiles (`cargo bench --bench gateway`: throughput 0.22 to 0.29 of direct). Its options are
/// compiled in from `.cargo/config.toml`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
