//! The `boardcast` binary: parse the command line, set up logs, run the command.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = boardcast::cli::Cli::parse();
    boardcast::telemetry::init(cli.json_logs());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("boardcast: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boardcast: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
