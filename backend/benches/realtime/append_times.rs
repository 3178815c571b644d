//! How long the nodes took to append a run's commands, read from their own histogram at
//! `/metrics`: it tells the database's part of the fan-out's time from the rest (sockets,
//! notification, shared cores), since both are measured in the same run.

use std::net::SocketAddr;

const HISTOGRAM: &str = "boardcast_board_command_duration_seconds_bucket{le=\"";

/// One line: the bucket that holds the p99, and the share of commands slower than 2 and
/// 8 ms, over all `nodes`.
pub async fn append_times(nodes: &[SocketAddr]) -> String {
    // (bound in seconds, commands at or under it), summed over the nodes.
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for node in nodes {
        let text = reqwest::get(format!("http://{node}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in text.lines() {
            let Some(bucket) = line.strip_prefix(HISTOGRAM) else {
                continue;
            };
            let (bound, count) = bucket.split_once("\"} ").unwrap();
            let bound = bound.parse::<f64>().unwrap_or(f64::INFINITY);
            let count: u64 = count.parse().unwrap();
            match buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some(summed) => summed.1 += count,
                None => buckets.push((bound, count)),
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0, |b| b.1).max(1) as f64;
    let p99 = buckets
        .iter()
        .find(|(_, count)| *count as f64 >= 0.99 * total)
        .map_or(f64::INFINITY, |b| b.0);
    let slower_than = |seconds: f64| {
        let within = buckets
            .iter()
            .rfind(|(bound, _)| *bound <= seconds * 1.000_001)
            .map_or(0, |b| b.1);
        100.0 * (1.0 - within as f64 / total)
    };
    format!(
        "  append at the nodes (arrival to durable, from /metrics): p99 <= {:.1} ms; slower than 2 ms {:.1}%, than 8 ms {:.2}%",
        p99 * 1e3,
        slower_than(0.002),
        slower_than(0.008)
    )
}
