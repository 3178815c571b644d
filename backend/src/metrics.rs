//! Prometheus metrics of one node: HTTP requests (count and latency per route), login
//! outcomes, directory latency and the directory circuit breaker, open websockets and board
//! commands by outcome, rendered as text at `/metrics`.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet, EncodeLabelValue},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::directory::BreakerState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum LoginOutcome {
    success,
    invalid_credentials,
    no_role,
    throttled,
    directory_unavailable,
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: LoginOutcome,
}

/// What became of a controller's command.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CommandOutcome {
    appended,
    repeated,
    refused,
    unpaired,
    failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    outcome: CommandOutcome,
}

/// Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    logins: Family<LoginLabels, Counter>,
    directory_seconds: Histogram,
    breaker_open: Gauge,
    websockets: Gauge,
    commands: Family<CommandLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let logins = Family::<LoginLabels, Counter>::default();
        let directory_seconds = latency_histogram();
        let breaker_open = Gauge::default();
        let websockets = Gauge::default();
        let commands = Family::<CommandLabels, Counter>::default();
        let mut registry = Registry::with_prefix("boardcast");
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
            request_seconds.clone(),
        );
        registry.register(
            "logins",
            "Password-grant attempts by outcome",
            logins.clone(),
        );
        registry.register(
            "directory_duration_seconds",
            "Time the user directory took to check a password",
            directory_seconds.clone(),
        );
        registry.register(
            "directory_breaker_state",
            "Directory circuit breaker: 0 closed, 1 half-open, 2 open",
            breaker_open.clone(),
        );
        registry.register(
            "websockets",
            "Websockets open on this node",
            websockets.clone(),
        );
        registry.register(
            "board_commands",
            "Controller commands by outcome",
            commands.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            request_seconds,
            logins,
            directory_seconds,
            breaker_open,
            websockets,
            commands,
        }
    }
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_login(&self, outcome: LoginOutcome) {
        self.logins.get_or_create(&LoginLabels { outcome }).inc();
    }

    pub fn record_directory_call(&self, elapsed: Duration) {
        self.directory_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn record_command(&self, outcome: CommandOutcome) {
        self.commands
            .get_or_create(&CommandLabels { outcome })
            .inc();
    }

    /// The Prometheus text exposition, with the breaker state and the count of open
    /// websockets read at scrape time.
    pub fn render(&self, breaker: BreakerState, websockets: usize) -> String {
        self.websockets
            .set(i64::try_from(websockets).unwrap_or(i64::MAX));
        self.breaker_open.set(match breaker {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        });
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot render metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_appear_in_the_text() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/api/me", 200, Duration::from_millis(3));
        metrics.record_login(LoginOutcome::invalid_credentials);
        metrics.record_command(CommandOutcome::refused);
        let text = metrics.render(BreakerState::Open, 3);
        assert!(text.contains("boardcast_websockets 3"), "{text}");
        assert!(
            text.contains(r#"boardcast_board_commands_total{outcome="refused"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"boardcast_http_requests_total{method="GET",route="/api/me",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"boardcast_logins_total{outcome="invalid_credentials"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("boardcast_directory_breaker_state 2"),
            "{text}"
        );
    }
}
