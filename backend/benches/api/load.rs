//! A small closed-loop HTTP load generator shared by the benchmarks: `concurrency` clients
//! each send the next request as soon as the previous answer arrives, for a fixed time.

use std::time::{Duration, Instant};

/// Throughput and latency of one run.
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    latencies: Vec<Duration>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[index]
    }

    /// One report of several runs of the same measurement.
    pub fn merge(reports: Vec<LoadReport>) -> LoadReport {
        let mut merged = LoadReport {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        };
        for mut report in reports {
            merged.requests += report.requests;
            merged.errors += report.errors;
            merged.elapsed += report.elapsed;
            merged.latencies.append(&mut report.latencies);
        }
        merged.latencies.sort();
        merged
    }

    pub fn summary(&self) -> String {
        format!(
            "{:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {} errors)",
            self.per_second(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.requests,
            self.errors
        )
    }
}

/// Runs `request` from `concurrency` tasks for `duration`; `request` returns whether the
/// answer was the expected one.
pub async fn run<F, Fut>(concurrency: usize, duration: Duration, request: F) -> LoadReport
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = request(worker * 1_000_000 + n).await;
                n += 1;
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.expect("load task panicked");
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    LoadReport {
        requests: latencies.len() as u64,
        errors,
        elapsed,
        latencies,
    }
}
