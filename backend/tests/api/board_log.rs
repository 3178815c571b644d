//! The board log when two nodes append to the same board at the same moment (PostgreSQL):
//! both read the same offset, only one may take it, and the other must decide again.

use std::collections::{BTreeMap, HashMap};

use boardcast::{
    realtime::actions::Action,
    store::{Appended, BoardRow, NewCommand, NewUser, Store},
};

use crate::helpers::{Engine, TestDatabase};

const BOARD: &str = "00000000-0000-4000-8000-0000000000b1";
const PAIRING: &str = "00000000-0000-4000-8000-0000000000a1";

/// A board paired with a teacher; the teacher's id.
async fn paired_board(store: &Store) -> String {
    let teacher = NewUser {
        username: "jan".into(),
        display_name: "Jan".into(),
        password_hash: "unused".into(),
        roles: "teacher".into(),
    };
    let teacher = store.create_user(teacher, 0).await.unwrap();
    let board = BoardRow {
        id: BOARD.into(),
        name: "Room 1".into(),
        secret_digest: "unused".into(),
        created_at: 0,
        last_seen_at: 0,
    };
    store.create_board(&board).await.unwrap();
    assert!(store
        .issue_pairing_code(BOARD, "123456", i64::MAX, 0)
        .await
        .unwrap());
    store
        .pair_with_code("123456", PAIRING, &teacher.id, None, 0)
        .await
        .unwrap()
        .unwrap();
    teacher.id
}

fn command(id: String, by: &str, on: bool) -> NewCommand {
    NewCommand {
        board_id: BOARD.into(),
        pairing_id: PAIRING.into(),
        command_id: id,
        action: Action::Blank { on },
        by: by.into(),
        by_admin: false,
        at: 1,
    }
}

/// The offset an outcome names; every command here is valid, so none is refused.
fn offset(outcome: &Appended) -> i64 {
    match outcome {
        Appended::New(event) => event.seq,
        Appended::Again { seq } => *seq,
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test]
async fn two_nodes_appending_to_one_board_take_each_offset_once() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let nodes = [database.store().await, database.store().await];
    let teacher = paired_board(&nodes[0]).await;
    // Three controllers per node, each sending its commands one after another; every fifth
    // command is sent to both nodes at once, as a controller re-sending after a failover.
    let mut controllers = tokio::task::JoinSet::new();
    for controller in 0..6 {
        let (here, there) = (
            nodes[controller % 2].clone(),
            nodes[(controller + 1) % 2].clone(),
        );
        let teacher = teacher.clone();
        controllers.spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..40 {
                let sent = command(format!("c{controller}-{i}"), &teacher, i % 2 == 0);
                if i % 5 == 0 {
                    let (a, b) = tokio::join!(
                        here.append_commands(sent.clone()),
                        there.append_commands(sent.clone())
                    );
                    outcomes.push((sent.command_id.clone(), a.unwrap()));
                    outcomes.push((sent.command_id, b.unwrap()));
                } else {
                    outcomes.push((
                        sent.command_id.clone(),
                        here.append_commands(sent).await.unwrap(),
                    ));
                }
            }
            outcomes
        });
    }
    let mut offsets: HashMap<String, i64> = HashMap::new();
    let mut appended: BTreeMap<i64, String> = BTreeMap::new();
    while let Some(done) = controllers.join_next().await {
        for (id, outcome) in done.unwrap() {
            let seq = offset(&outcome);
            assert_eq!(
                *offsets.entry(id.clone()).or_insert(seq),
                seq,
                "{id} got two offsets"
            );
            if let Appended::New(_) = outcome {
                assert!(
                    appended.insert(seq, id).is_none(),
                    "offset {seq} taken twice"
                );
            }
        }
    }
    // 240 commands, each appended exactly once, at offsets 1..=240 with no gap.
    assert_eq!(offsets.len(), 240);
    assert_eq!(appended.len(), 240);
    assert_eq!(
        appended.keys().copied().collect::<Vec<_>>(),
        (1..=240).collect::<Vec<_>>()
    );
    let log = nodes[1].events_after(BOARD, 0, 1_000).await.unwrap();
    let logged: BTreeMap<i64, String> = log.iter().map(|e| (e.seq, e.command_id.clone())).collect();
    assert_eq!(logged, appended);
    let snapshot = nodes[0].board_snapshot(BOARD).await.unwrap();
    assert_eq!(snapshot.seq, 240);
    let last = &log[log.len() - 1];
    assert_eq!(
        Action::Blank {
            on: snapshot.state.blank
        },
        last.action
    );
}
