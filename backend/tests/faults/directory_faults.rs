//! The directory fails while teachers work: first slapd is killed (its port refuses), then,
//! with slapd back, every byte between the nodes and slapd is held 10 s each way by a proxy.
//! Throughout, teachers who logged in before keep refreshing their tokens (the node goes on
//! from the stored identity within `[auth] directory_grace`) and using them, new logins get
//! a 503 `temporarily_unavailable` without waiting long for the directory, and `/healthz` is
//! untouched. After each fault, logins work again within a bound the node's breaker sets.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::{
    checks::{percentile, print_table},
    cluster::{kill, DemoUser, LocalCluster},
    directory_proxy::{DirectoryProxy, Link},
    teacher::{log_in, Answer, Session},
    SERIAL,
};

/// The nodes' `[ldap] timeout`, which the local cluster leaves at its default.
const LDAP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a node's directory circuit breaker stays open (`BREAKER_COOLDOWN` in
/// backend/src/directory/ldap.rs), and the consecutive failures that open it.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(10);
const BREAKER_THRESHOLD: usize = 3;
/// A login the node refuses without waiting for the directory costs a few database round
/// trips (the login budget is reserved and given back): well under a second even on a busy
/// two-core host, and far from `LDAP_TIMEOUT`, so a slower one waited for the directory.
const FAST: Duration = Duration::from_secs(1);
/// Scheduling slack on top of `LDAP_TIMEOUT` for a call that did wait.
const SLACK: Duration = Duration::from_secs(1);
const HEALTHZ_P99: Duration = Duration::from_millis(50);
const HEALTHZ_SAMPLES: usize = 200;
const HEALTHZ_PACE: Duration = Duration::from_millis(25);
/// The latency the proxy adds in each direction.
const SLOWED_BY: Duration = Duration::from_secs(10);
const STOPPED_FOR: Duration = Duration::from_secs(12);
const SLOWED_FOR: Duration = Duration::from_secs(30);
/// From the directory's return to a login on every node: a breaker may have just opened
/// (or reopened after a trial that waited `LDAP_TIMEOUT`) and lets the next trial through
/// only after its cooldown.
const BACK_WITHIN: Duration =
    Duration::from_secs(BREAKER_COOLDOWN.as_secs() + LDAP_TIMEOUT.as_secs() + SLACK.as_secs());
/// Between one teacher's rounds of refresh, `/api/me` and login.
const PAUSE: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_or_slow_directory_keeps_teachers_working_and_refuses_logins_fast() {
    let _one_at_a_time = SERIAL.lock().await;
    let proxy = DirectoryProxy::start().await;
    let url = proxy.url.clone();
    let mut cluster = tokio::task::spawn_blocking(move || LocalCluster::up_with_ldap_url(3, &url))
        .await
        .unwrap();
    proxy.forward_to(&cluster.description.ldap.url);
    let nodes = cluster.node_urls();
    let (jan, anna) = (cluster.user("teacher"), other_teacher(&cluster));
    let client = reqwest::Client::new();
    let mut sessions = Vec::new();
    let mut first_logins = Vec::new();
    for node in &nodes {
        let (session, took) = Session::open(&client, node, &jan).await;
        sessions.push(session);
        first_logins.push(took);
    }

    kill(&[cluster.description.ldap.pid.expect("slapd runs")]);
    proxy.set(Link::Down);
    let stopped = run_phase(&mut sessions, &anna, STOPPED_FOR).await;
    // A refused connection is an answer at once: nothing may wait.
    stopped.check("slapd stopped", FAST);
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart_ldap();
        cluster
    })
    .await
    .unwrap();
    assert!(
        cluster.description.ldap.pid.is_some(),
        "slapd did not come back"
    );
    proxy.set(Link::Up);
    let back_after_stop = logins_back(&nodes, &anna).await;

    proxy.set(Link::Slow(SLOWED_BY));
    let slowed = run_phase(&mut sessions, &anna, SLOWED_FOR).await;
    slowed.check("slapd slowed", LDAP_TIMEOUT + SLACK);
    // The breaker opens after BREAKER_THRESHOLD calls that waited, then lets one trial
    // through per cooldown: no more calls than that may wait, and the rest must be fast.
    let waiting_allowed =
        BREAKER_THRESHOLD + SLOWED_FOR.as_secs().div_ceil(BREAKER_COOLDOWN.as_secs()) as usize;
    for (node, waited) in slowed.waited().iter().enumerate() {
        assert!(
            *waited <= waiting_allowed,
            "slapd slowed: {waited} calls waited for the directory on node {node}"
        );
    }
    // And the breaker did open: some logins were refused without asking the directory.
    for node in 0..nodes.len() {
        assert!(
            slowed.fast_logins(node) > 0,
            "slapd slowed: node {node} never refused a login fast"
        );
    }
    proxy.set(Link::Up);
    let back_after_slow = logins_back(&nodes, &anna).await;

    let mut rows = vec![(
        "logins before the faults (one per node)",
        format!(
            "200 × {}, slowest {} ms",
            first_logins.len(),
            first_logins.iter().max().unwrap().as_millis()
        ),
    )];
    rows.extend(stopped.rows("slapd killed", STOPPED_FOR));
    rows.push((
        "slapd listening again → logins 200 on every node",
        format!("{:.1} s", back_after_stop.as_secs_f64()),
    ));
    rows.extend(slowed.rows("slapd +10 s each way", SLOWED_FOR));
    rows.push((
        "proxy delay removed → logins 200 on every node",
        format!("{:.1} s", back_after_slow.as_secs_f64()),
    ));
    print_table(
        "slapd stopped, then slowed by 10 s: refreshes, logins and /healthz",
        &rows,
    );
}

/// A teacher of the demo school other than the one whose sessions are kept.
fn other_teacher(cluster: &LocalCluster) -> DemoUser {
    let first = cluster.user("teacher");
    cluster
        .description
        .ldap
        .users
        .iter()
        .find(|user| user.role == "teacher" && user.username != first.username)
        .cloned()
        .expect("two demo teachers")
}

/// What one phase's clients saw, per node.
struct Phase {
    calls: Vec<Calls>,
    healthz: Vec<Vec<Duration>>,
}

#[derive(Default)]
struct Calls {
    refreshes: Vec<Answer>,
    me: Vec<u16>,
    logins: Vec<Answer>,
}

/// For `length`: on every node at once, a teacher refreshes, calls `/api/me` and another
/// teacher tries to log in, round after round, while `/healthz` of every node is timed.
async fn run_phase(sessions: &mut Vec<Session>, other: &DemoUser, length: Duration) -> Phase {
    let until = Instant::now() + length;
    let nodes: Vec<String> = sessions.iter().map(|s| s.node.clone()).collect();
    let healthz = tokio::spawn(probe_health(nodes, until));
    let rounds = std::mem::take(sessions).into_iter().map(|mut session| {
        let other = other.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut calls = Calls::default();
            while Instant::now() < until {
                calls.refreshes.push(session.refresh(&client).await);
                calls.me.push(session.me(&client).await);
                calls
                    .logins
                    .push(log_in(&client, &session.node, &other).await);
                tokio::time::sleep(PAUSE).await;
            }
            (session, calls)
        })
    });
    let mut calls = Vec::new();
    for played in join_all(rounds).await {
        let (session, seen) = played.unwrap();
        sessions.push(session);
        calls.push(seen);
    }
    Phase {
        calls,
        healthz: healthz.await.unwrap(),
    }
}

/// `/healthz` of each node in turn until `until`: how long each answer took, per node.
async fn probe_health(nodes: Vec<String>, until: Instant) -> Vec<Vec<Duration>> {
    let client = reqwest::Client::new();
    let mut samples = vec![Vec::new(); nodes.len()];
    while Instant::now() < until {
        for (node, taken) in nodes.iter().zip(&mut samples) {
            let started = Instant::now();
            let answer = client.get(format!("{node}/healthz")).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{node}/healthz");
            answer.bytes().await.unwrap();
            taken.push(started.elapsed());
        }
        tokio::time::sleep(HEALTHZ_PACE).await;
    }
    samples
}

impl Phase {
    /// Refreshes 200 and `/api/me` 200, logins 503 `temporarily_unavailable`, every token
    /// request within `bound`, and `/healthz` p99 under [`HEALTHZ_P99`] on every node.
    fn check(&self, phase: &str, bound: Duration) {
        for (node, calls) in self.calls.iter().enumerate() {
            for answer in &calls.refreshes {
                assert_eq!(
                    answer.status, 200,
                    "{phase}: refresh on node {node}: {}",
                    answer.body
                );
            }
            assert!(
                calls.me.iter().all(|&status| status == 200),
                "{phase}: /api/me on node {node}"
            );
            for answer in &calls.logins {
                assert_eq!(
                    (answer.status, answer.body["error"].as_str()),
                    (503, Some("temporarily_unavailable")),
                    "{phase}: login on node {node}"
                );
            }
            let slowest = calls
                .refreshes
                .iter()
                .chain(&calls.logins)
                .map(|a| a.took)
                .max();
            assert!(
                slowest.unwrap() <= bound,
                "{phase}: a token request on node {node} took {slowest:?}, over {bound:?}"
            );
        }
        for (node, samples) in self.healthz.iter().enumerate() {
            assert!(
                samples.len() >= HEALTHZ_SAMPLES,
                "{phase}: {} /healthz on node {node}",
                samples.len()
            );
            let p99 = percentile(samples, 99);
            assert!(
                p99 < HEALTHZ_P99,
                "{phase}: /healthz p99 {p99:?} on node {node}"
            );
        }
    }

    /// Per node, the token requests that waited for the directory (slower than [`FAST`]).
    fn waited(&self) -> Vec<usize> {
        self.calls
            .iter()
            .map(|calls| {
                let all = calls.refreshes.iter().chain(&calls.logins);
                all.filter(|answer| answer.took > FAST).count()
            })
            .collect()
    }

    fn fast_logins(&self, node: usize) -> usize {
        let logins = &self.calls[node].logins;
        logins.iter().filter(|answer| answer.took <= FAST).count()
    }

    fn rows(&self, name: &'static str, length: Duration) -> Vec<(&'static str, String)> {
        let all = |pick: fn(&Calls) -> &Vec<Answer>| -> Vec<Duration> {
            self.calls
                .iter()
                .flat_map(|calls| pick(calls).iter().map(|a| a.took))
                .collect()
        };
        let (refreshes, logins) = (all(|c| &c.refreshes), all(|c| &c.logins));
        let me: usize = self.calls.iter().map(|calls| calls.me.len()).sum();
        let healthz: Vec<Duration> = self.healthz.iter().flatten().copied().collect();
        let worst_p99 = self
            .healthz
            .iter()
            .map(|samples| percentile(samples, 99))
            .max()
            .unwrap();
        let waited: usize = self.waited().iter().sum();
        let ms = |d: Duration| d.as_millis();
        vec![
            (
                name,
                format!("{} s, {} nodes", length.as_secs(), self.calls.len()),
            ),
            (
                "  refresh grants: 200",
                format!(
                    "{} of {}, p50 {} ms, max {} ms",
                    refreshes.len(),
                    refreshes.len(),
                    ms(percentile(&refreshes, 50)),
                    ms(percentile(&refreshes, 100))
                ),
            ),
            (
                "  /api/me with the refreshed token: 200",
                format!("{me} of {me}"),
            ),
            (
                "  logins: 503 temporarily_unavailable",
                format!(
                    "{} of {}, p50 {} ms, p90 {} ms, max {} ms",
                    logins.len(),
                    logins.len(),
                    ms(percentile(&logins, 50)),
                    ms(percentile(&logins, 90)),
                    ms(percentile(&logins, 100))
                ),
            ),
            (
                "  token requests that waited for the directory (> 1 s)",
                waited.to_string(),
            ),
            (
                "  /healthz: p99 (worst node), max",
                format!(
                    "{} ms, {} ms over {} requests",
                    ms(worst_p99),
                    ms(percentile(&healthz, 100)),
                    healthz.len()
                ),
            ),
        ]
    }
}

/// Tries a login on every node every quarter second until each succeeds; the longest wait.
async fn logins_back(nodes: &[String], user: &DemoUser) -> Duration {
    let started = Instant::now();
    let waits = nodes.iter().map(|node| async move {
        let client = reqwest::Client::new();
        loop {
            if log_in(&client, node, user).await.status == 200 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < BACK_WITHIN,
                "no login on {node} within {BACK_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    join_all(waits).await.into_iter().max().unwrap()
}
