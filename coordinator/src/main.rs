//! `argus`: one binary for every Argus role and tool.

use clap::Parser;

mod cli;

use argus_coordinator::{config, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let config = match config::Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("argus: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init(&config.telemetry, args.verbose, cli::identity(&args.command, &config));
    let code = match cli::run(args.command, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("argus: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    // Flushes the last metrics and spans before the process ends.
    drop(telemetry);
    code
}
