//! Log output: human-readable lines on a terminal, JSON lines (one object per event, with the
//! request span's fields) for log pipelines otherwise, or either as `log_format` says. Both
//! carry the request id of the request a line belongs to. `RUST_LOG` filters.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text when stderr is a terminal (a person is watching), JSON otherwise (systemd,
    /// containers, a pipe).
    #[default]
    Auto,
    Json,
    Text,
}

impl LogFormat {
    fn is_json(self) -> bool {
        match self {
            Self::Auto => !std::io::stderr().is_terminal(),
            Self::Json => true,
            Self::Text => false,
        }
    }
}

/// Installs the global subscriber. Logs go to stderr so that stdout stays for command output
/// (e.g. a generated password).
pub fn init(format: LogFormat) {
    let json = format.is_json();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .init();
    } else {
        // Colours only for a person at a terminal, never into a file or a pipe.
        registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .init();
    }
}
