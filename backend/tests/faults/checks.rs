//! What must hold after a fault: the log in the database against what the clients saw.

use std::{collections::HashSet, time::Duration};

use serde_json::{json, Value};

use crate::{
    lesson::{apply, Observed},
    school::School,
};

/// Checks invariants 1 and 2 for every board of `school`, panicking with the first breach;
/// the number of commands in the log.
pub async fn log_matches(database_url: &str, school: &School, observed: &Observed) -> usize {
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(database_url)
        .await
        .unwrap();
    let mut total = 0;
    assert!(
        observed.refused.is_empty(),
        "commands refused: {:?}",
        observed.refused
    );
    for seat in &school.seats {
        let board = &seat.board_id;
        let log: Vec<(i64, String, String)> = sqlx::query_as(
            "select seq, command_id, action from board_events where board_id = $1 order by seq",
        )
        .bind(board)
        .fetch_all(&mut connection)
        .await
        .unwrap();
        let offsets: Vec<i64> = log.iter().map(|(seq, _, _)| *seq).collect();
        assert_eq!(
            offsets,
            (1..=log.len() as i64).collect::<Vec<_>>(),
            "board {board}: gaps"
        );
        let ids: HashSet<&str> = log.iter().map(|(_, id, _)| id.as_str()).collect();
        assert_eq!(
            ids.len(),
            log.len(),
            "board {board}: a command applied twice"
        );
        let acks = observed.acks.get(board).cloned().unwrap_or_default();
        for (id, offset) in &acks {
            let logged = log.get(usize::try_from(*offset - 1).unwrap());
            assert_eq!(
                logged.map(|(_, logged, _)| logged.as_str()),
                Some(id.as_str()),
                "board {board}: acknowledged command {id} at {offset} is not in the log there"
            );
        }
        assert_eq!(
            acks.len(),
            log.len(),
            "board {board}: logged commands never acknowledged"
        );
        let expected: Vec<(i64, String)> =
            log.iter().map(|(seq, id, _)| (*seq, id.clone())).collect();
        assert_eq!(
            observed.seen.get(board).cloned().unwrap_or_default(),
            expected,
            "board {board}: its socket did not see exactly the log"
        );
        let folded = log.iter().fold(
            json!({"lesson_id": null, "slide": 0, "blank": false}),
            |state, (_, _, action)| apply(&state, &serde_json::from_str::<Value>(action).unwrap()),
        );
        let shown = &observed.final_state[board];
        for key in ["lesson_id", "slide", "blank"] {
            assert_eq!(
                shown[key], folded[key],
                "board {board}: {key} differs from its log"
            );
        }
        total += log.len();
    }
    total
}

/// The `p`th percentile (0..=100) of `samples`.
pub fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p / 100]
}

/// Prints a scenario's figures as a table, for FAULTS.md.
pub fn print_table(scenario: &str, rows: &[(&str, String)]) {
    println!("\n{scenario}");
    println!("| figure | value |\n| --- | --- |");
    for (figure, value) in rows {
        println!("| {figure} | {value} |");
    }
}
