//! `kill -9` of each node in turn during a lesson of 50 boards and 1,000 commands, boards and
//! their controllers on different nodes: no acknowledged command is lost or applied twice,
//! and every board ends showing what its log says.

use std::time::{Duration, Instant};

use crate::{
    checks::{log_matches, percentile, print_table},
    cluster::{kill, LocalCluster},
    lesson::Running,
    school::School,
    SERIAL,
};

const BOARDS: usize = 50;
const COMMANDS_PER_BOARD: usize = 20;
/// Between a controller's commands: the lesson lasts about half a minute.
const PACE: Duration = Duration::from_millis(1_200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_each_node_in_turn_mid_lesson_loses_and_repeats_nothing() {
    let _one_at_a_time = SERIAL.lock().await;
    let mut cluster = LocalCluster::up(3);
    let school = School::open(&cluster, BOARDS).await;
    let lesson = Running::start(&school, COMMANDS_PER_BOARD, PACE);
    let started = Instant::now();
    for node in 0..school.nodes.len() {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let victim = cluster.description.nodes[node].clone();
        kill(&[victim.pid.expect("a running node")]);
        tokio::time::sleep(Duration::from_secs(2)).await;
        cluster = tokio::task::spawn_blocking(move || {
            cluster.restart_node(&victim.node_id);
            cluster
        })
        .await
        .unwrap();
    }
    let observed = lesson.finish().await;
    let lesson_time = started.elapsed();
    let database = cluster.primary_url();
    let logged = log_matches(&database, &school, &observed).await;
    assert_eq!(logged, BOARDS * COMMANDS_PER_BOARD);
    let reconnects = &observed.reconnects;
    print_table(
        "kill -9 of each node in turn during a lesson",
        &[
            ("boards / controllers", format!("{BOARDS} / {BOARDS}")),
            ("commands acknowledged", logged.to_string()),
            ("lost / applied twice", "0 / 0".into()),
            ("lesson time", format!("{:.1} s", lesson_time.as_secs_f64())),
            ("reconnects", reconnects.len().to_string()),
            (
                "reconnect p50",
                format!("{} ms", percentile(reconnects, 50).as_millis()),
            ),
            (
                "reconnect p99",
                format!("{} ms", percentile(reconnects, 99).as_millis()),
            ),
        ],
    );
    assert!(!reconnects.is_empty(), "no client noticed a node dying");
}
