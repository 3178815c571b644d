//! Prometheus metrics of one node: HTTP requests (count and latency per route), login
//! outcomes, directory latency and the directory circuit breaker, open websockets, board
//! commands by outcome and the time their appends took, rendered as text at `/metrics`.

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

/// Where this node's blob copies stand after a sync pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlobStatus {
    pub stored: usize,
    pub stored_bytes: u64,
    /// Blobs uploads refer to that this node still lacks.
    pub missing: usize,
    pub bytes_behind: u64,
    /// Local copies that failed verification since the node started.
    pub quarantined: u64,
    pub last_sync_at_millis: i64,
}

/// The gauges of [`BlobStatus`].
#[derive(Clone, Default)]
struct BlobGauges {
    stored: Gauge,
    stored_bytes: Gauge,
    missing: Gauge,
    bytes_behind: Gauge,
    quarantined: Gauge,
    last_sync: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl BlobGauges {
    fn register(&self, registry: &mut Registry) {
        let gauges: [(&str, &str, &Gauge); 5] = [
            ("blobs_stored", "Blobs in this node's store", &self.stored),
            (
                "blob_bytes_stored",
                "Bytes of blobs in this node's store",
                &self.stored_bytes,
            ),
            (
                "blobs_missing",
                "Uploaded blobs this node does not have yet",
                &self.missing,
            ),
            (
                "blob_bytes_behind",
                "Bytes of the blobs this node does not have yet",
                &self.bytes_behind,
            ),
            (
                "blobs_quarantined",
                "Local blob copies found corrupt since the node started",
                &self.quarantined,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "blob_last_sync_timestamp_seconds",
            "When this node's last blob sync pass ended (Unix time)",
            self.last_sync.clone(),
        );
    }
}

/// Cheap to clone (one reference count: requests clone it several times each); every clone
/// updates the same series.
#[derive(Clone)]
pub struct Metrics(Arc<Series>);

struct Series {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    logins: Family<LoginLabels, Counter>,
    directory_seconds: Histogram,
    breaker_open: Gauge,
    websockets: Gauge,
    commands: Family<CommandLabels, Counter>,
    command_seconds: Histogram,
    blobs: BlobGauges,
    sync_passes: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// Finer at the low end than [`latency_histogram`]: a command's append normally takes about
/// a millisecond, and what an operator needs to see is how often it takes several.
fn append_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 16,
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
        let command_seconds = append_histogram();
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
        registry.register(
            "board_command_duration_seconds",
            "Time from a command's arrival to its outcome: the wait for its batch, the checks \
             and the durable write",
            command_seconds.clone(),
        );
        let blobs = BlobGauges::default();
        blobs.register(&mut registry);
        let sync_passes = Counter::default();
        registry.register(
            "blob_sync_passes",
            "Full blob sync passes this node started",
            sync_passes.clone(),
        );
        Self(Arc::new(Series {
            registry,
            requests,
            request_seconds,
            logins,
            directory_seconds,
            breaker_open,
            websockets,
            commands,
            command_seconds,
            blobs,
            sync_passes,
        }))
    }
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.0
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.0
            .request_seconds
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_login(&self, outcome: LoginOutcome) {
        self.0.logins.get_or_create(&LoginLabels { outcome }).inc();
    }

    pub fn record_directory_call(&self, elapsed: Duration) {
        self.0.directory_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn record_command(&self, outcome: CommandOutcome, elapsed: Duration) {
        self.0
            .commands
            .get_or_create(&CommandLabels { outcome })
            .inc();
        self.0.command_seconds.observe(elapsed.as_secs_f64());
    }

    /// A full sync pass starts: each reads the whole upload catalog, so an operator (and a
    /// test) can see how often that happens.
    pub fn record_sync_pass(&self) {
        self.0.sync_passes.inc();
    }

    pub fn set_blob_status(&self, status: BlobStatus) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.0.blobs.stored.set(count(status.stored as u64));
        self.0.blobs.stored_bytes.set(count(status.stored_bytes));
        self.0.blobs.missing.set(count(status.missing as u64));
        self.0.blobs.bytes_behind.set(count(status.bytes_behind));
        self.0.blobs.quarantined.set(count(status.quarantined));
        self.0
            .blobs
            .last_sync
            .set(status.last_sync_at_millis as f64 / 1e3);
    }

    /// The Prometheus text exposition, with the breaker state and the count of open
    /// websockets read at scrape time.
    pub fn render(&self, breaker: BreakerState, websockets: usize) -> String {
        self.0
            .websockets
            .set(i64::try_from(websockets).unwrap_or(i64::MAX));
        self.0.breaker_open.set(match breaker {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        });
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.0.registry) {
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
        metrics.record_command(CommandOutcome::refused, Duration::from_micros(700));
        metrics.record_sync_pass();
        metrics.set_blob_status(BlobStatus {
            missing: 2,
            bytes_behind: 2048,
            ..BlobStatus::default()
        });
        let text = metrics.render(BreakerState::Open, 3);
        assert!(text.contains("boardcast_websockets 3"), "{text}");
        assert!(text.contains("boardcast_blobs_missing 2"), "{text}");
        assert!(
            text.contains("boardcast_blob_sync_passes_total 1"),
            "{text}"
        );
        assert!(text.contains("boardcast_blob_bytes_behind 2048"), "{text}");
        assert!(
            text.contains(r#"boardcast_board_commands_total{outcome="refused"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"boardcast_board_command_duration_seconds_bucket{le="0.0005"} 0"#)
                && text
                    .contains(r#"boardcast_board_command_duration_seconds_bucket{le="0.001"} 1"#),
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
