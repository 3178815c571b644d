//! `kill -9` of each node in turn during a lesson of 50 boards and 1,000 commands, boards and
//! their controllers on different nodes: no acknowledged command is lost or applied twice,
//! and every board ends showing what its log says.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    checks::{log_matches, percentile, print_table},
    cluster::{kill, LocalCluster},
    lesson::{board, controller, socket_urls, Shared},
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
    let nodes = socket_urls(&school.nodes);
    let observed = Shared::default();
    let (stop, stopped) = watch::channel(false);
    let mut boards = Vec::new();
    let mut controllers = Vec::new();
    for (n, seat) in school.seats.iter().enumerate() {
        boards.push(tokio::spawn(board(
            nodes.clone(),
            n,
            seat.clone(),
            Arc::clone(&observed),
            stopped.clone(),
        )));
        controllers.push(tokio::spawn(controller(
            nodes.clone(),
            n + 1,
            seat.clone(),
            school.token.clone(),
            school.lesson_id.clone(),
            COMMANDS_PER_BOARD,
            PACE,
            n as u64,
            Arc::clone(&observed),
        )));
    }
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
    for played in controllers {
        played.await.unwrap();
    }
    let lesson_time = started.elapsed();
    // Every board has every acknowledged event before it stops.
    let converged = Instant::now() + Duration::from_secs(30);
    while !all_boards_caught_up(&observed) {
        assert!(
            Instant::now() < converged,
            "boards did not catch up with the log"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(true).unwrap();
    for shown in boards {
        shown.await.unwrap();
    }
    let database = cluster.primary_url();
    let observed = std::mem::take(&mut *observed.lock().unwrap());
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

/// Whether every board has seen its last acknowledged command; reads, never takes, what the
/// clients observed, which the checks still need.
pub fn all_boards_caught_up(observed: &Shared) -> bool {
    let observed = observed.lock().unwrap();
    observed.acks.iter().all(|(board, acks)| {
        let head = acks.iter().map(|(_, offset)| *offset).max().unwrap_or(0);
        let seen = observed
            .seen
            .get(board)
            .and_then(|seen| seen.last())
            .map_or(0, |(offset, _)| *offset);
        seen >= head
    })
}
