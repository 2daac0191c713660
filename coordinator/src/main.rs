//! `argus`: one binary for every Argus role and tool.

use clap::Parser;

mod cli;

use argus_coordinator::config;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    let config = match config::Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("argus: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    match cli::run(args.command, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("argus: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
