//! Logging: human-readable text or one JSON object per line (production),
//! with the request id of the request being served on every line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG` overrides `log_level`.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file
        // or a log collector.
        .with_ansi(std::io::stderr().is_terminal());
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            // The request's span (method, path, request id) on each line;
            // not the list of outer spans.
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    if result.is_err() {
        // Already installed (tests start several apps in one process).
    }
}
