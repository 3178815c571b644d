//! The `boardcast` binary: parse the command line, set up logs, run the command.
#![forbid(unsafe_code)]

use boardcast::telemetry::LogFormat;
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = boardcast::cli::Cli::parse();
    // Settings first: they say how to log. One that cannot be read is reported below.
    let settings = cli.settings();
    let format = match &settings {
        Ok(Some(settings)) => settings.log_format,
        _ => LogFormat::default(),
    };
    boardcast::telemetry::init(format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("boardcast: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { cli.run(settings?).await }) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boardcast: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
