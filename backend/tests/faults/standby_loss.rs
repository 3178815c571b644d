//! `kill -9` of the only standby and its keeper during a lesson: the primary goes on
//! accepting writes (pg_auto_failover's `wait_primary`), the standby is brought back, and no
//! acknowledged command is lost.

use std::time::{Duration, Instant};

use crate::{
    checks::{log_matches, print_table},
    cluster::{kill, LocalCluster},
    lesson::Running,
    school::School,
    SERIAL,
};

const BOARDS: usize = 10;
const COMMANDS_PER_BOARD: usize = 50;
const PACE: Duration = Duration::from_millis(500);
/// The longest the lesson may go without an acknowledgement: the primary waits for the lost
/// standby only until the monitor notices (a few seconds), never for its return.
const LONGEST_PAUSE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_standby_keeps_writes_going_and_brings_it_back() {
    let _one_at_a_time = SERIAL.lock().await;
    let mut cluster = LocalCluster::up(3);
    let school = School::open(&cluster, BOARDS).await;
    let lesson = Running::start(&school, COMMANDS_PER_BOARD, PACE);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let standby = cluster
        .status()
        .postgres
        .iter()
        .find(|member| member.role == "standby")
        .cloned()
        .expect("a standby");
    kill(&[standby.pid.unwrap(), standby.agent_pid.expect("a keeper")]);
    let killed = Instant::now();
    let (mut longest_pause, mut last_ack, mut acked) =
        (Duration::ZERO, Instant::now(), lesson.acknowledged());
    let mut back = None;
    let mut next_look = Instant::now();
    while acked < BOARDS * COMMANDS_PER_BOARD || back.is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = lesson.acknowledged();
        if now > acked {
            (acked, last_ack) = (now, Instant::now());
        }
        if acked < BOARDS * COMMANDS_PER_BOARD {
            longest_pause = longest_pause.max(last_ack.elapsed());
        }
        assert!(
            longest_pause < LONGEST_PAUSE,
            "no acknowledgement for {longest_pause:?}"
        );
        if back.is_none() && Instant::now() >= next_look {
            next_look = Instant::now() + Duration::from_millis(500);
            if tokio::task::block_in_place(|| has_a_standby(&mut cluster)) {
                back = Some(killed.elapsed());
            }
            assert!(
                killed.elapsed() < Duration::from_secs(90),
                "no standby again; the cluster's logs: {:?}",
                cluster.dir()
            );
        }
    }
    let observed = lesson.finish().await;
    let back = back.unwrap_or_default();
    let database = cluster.primary_url();
    let logged = log_matches(&database, &school, &observed).await;
    assert_eq!(logged, BOARDS * COMMANDS_PER_BOARD);
    print_table(
        "kill -9 of the standby and its keeper during a lesson",
        &[
            ("commands acknowledged", logged.to_string()),
            ("lost / applied twice", "0 / 0".into()),
            (
                "longest pause in acknowledgements",
                format!("{:.1} s", longest_pause.as_secs_f64()),
            ),
            ("standby back after", format!("{:.1} s", back.as_secs_f64())),
        ],
    );
}

fn has_a_standby(cluster: &mut LocalCluster) -> bool {
    let roles: Vec<&str> = cluster
        .status()
        .postgres
        .iter()
        .map(|member| member.role.as_str())
        .collect();
    roles.contains(&"standby") && roles.contains(&"primary")
}
