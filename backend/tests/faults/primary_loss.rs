//! `kill -9` of the PostgreSQL primary and its keeper together (its host is lost) during a
//! lesson: pg_auto_failover promotes the standby, `status` shows it, commands are
//! acknowledged again within 30 s, and no acknowledged command is lost.

use std::time::{Duration, Instant};

use crate::{
    checks::{log_matches, print_table},
    cluster::{kill, LocalCluster},
    lesson::Running,
    school::School,
    SERIAL,
};

const BOARDS: usize = 10;
const COMMANDS_PER_BOARD: usize = 60;
const PACE: Duration = Duration::from_millis(500);
/// The budget for acknowledging commands again after the primary's host is lost.
const BACK_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_primary_promotes_the_standby_and_loses_no_acknowledged_command() {
    let _one_at_a_time = SERIAL.lock().await;
    let mut cluster = LocalCluster::up(3);
    let school = School::open(&cluster, BOARDS).await;
    let lesson = Running::start(&school, COMMANDS_PER_BOARD, PACE);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = cluster.status().clone();
    let primary = before
        .postgres
        .iter()
        .find(|member| member.role == "primary")
        .unwrap()
        .clone();
    let acked_before = lesson.acknowledged();
    kill(&[primary.pid.unwrap(), primary.agent_pid.expect("a keeper")]);
    let killed = Instant::now();
    let gap = loop {
        if lesson.acknowledged() > acked_before + BOARDS {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < BACK_WITHIN,
            "no command acknowledged within {BACK_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let observed = lesson.finish().await;
    let now = cluster.status().clone();
    let promoted = now
        .postgres
        .iter()
        .find(|member| member.role == "primary")
        .expect("a primary");
    assert_ne!(
        promoted.name, primary.name,
        "the lost primary is still the primary"
    );
    let database = cluster.primary_url();
    let logged = log_matches(&database, &school, &observed).await;
    assert_eq!(logged, BOARDS * COMMANDS_PER_BOARD);
    print_table(
        "kill -9 of the PostgreSQL primary and its keeper during a lesson",
        &[
            ("commands acknowledged", logged.to_string()),
            ("lost / applied twice", "0 / 0".into()),
            (
                "new primary",
                format!("{} (was {})", promoted.name, primary.name),
            ),
            (
                "commands acknowledged again after",
                format!("{:.1} s", gap.as_secs_f64()),
            ),
        ],
    );
}
