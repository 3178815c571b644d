//! Log output: JSON lines (one object per event, with the request span's fields) for
//! operators' log pipelines, or human-readable text on a terminal. `RUST_LOG` filters.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber; `json` picks the machine-readable format. Logs go to
/// stderr so that stdout stays for command output (e.g. a generated password).
pub fn init(json: bool) {
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
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .init();
    }
}
