//! The board log when two nodes append to the same board at the same moment (PostgreSQL):
//! both read the same offset, only one may take it, and the other must decide again. And
//! batches that mix boards, re-sent ids and commands through the wrong pairing (both
//! engines): each command gets its own answer.

use std::collections::{BTreeMap, HashMap};

use boardcast::{
    domain::board::Action,
    store::{Appended, BoardRow, NewCommand, Store},
};

use crate::{
    both_engines,
    helpers::{create_teacher, Engine, TestDatabase},
};

const BOARD: &str = "00000000-0000-4000-8000-0000000000b1";
const PAIRING: &str = "00000000-0000-4000-8000-0000000000a1";

/// A board paired with a teacher; the teacher's id.
async fn paired_board(store: &Store) -> String {
    let teacher = create_teacher(store, "jan").await;
    pair(store, &teacher, BOARD, PAIRING, "123456").await;
    teacher
}

/// Registers `board` and pairs it with `teacher` as `pairing`.
async fn pair(store: &Store, teacher: &str, board: &str, pairing: &str, code: &str) {
    let row = BoardRow {
        id: board.into(),
        name: "Room".into(),
        secret_digest: "unused".into(),
        created_at: 0,
        last_seen_at: 0,
    };
    store.create_board(&row).await.unwrap();
    assert!(store
        .issue_pairing_code(board, code, i64::MAX, 0)
        .await
        .unwrap());
    store
        .pair_with_code(code, pairing, teacher, None, 0)
        .await
        .unwrap()
        .unwrap();
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

const SECOND_BOARD: &str = "00000000-0000-4000-8000-0000000000b2";
const SECOND_PAIRING: &str = "00000000-0000-4000-8000-0000000000a2";

both_engines!(
    commands_appended_together_each_get_their_own_answer,
    |engine: Engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let teacher = paired_board(&store).await;
        pair(&store, &teacher, SECOND_BOARD, SECOND_PAIRING, "654321").await;
        for i in 0..5 {
            let earlier = command(format!("earlier-{i}"), &teacher, i % 2 == 0);
            assert_eq!(
                offset(&store.append_commands(earlier).await.unwrap()),
                i + 1
            );
        }
        let on_second = |id: &str, pairing: &str| NewCommand {
            board_id: SECOND_BOARD.into(),
            pairing_id: pairing.into(),
            ..command(id.into(), &teacher, true)
        };
        let through_other_pairing = NewCommand {
            pairing_id: SECOND_PAIRING.into(),
            ..command("stray".into(), &teacher, true)
        };
        // Sent at once, so they share batches; queued in this order.
        let sent = vec![
            command("earlier-1".into(), &teacher, false),
            command("new-1".into(), &teacher, true),
            on_second("new-2", SECOND_PAIRING),
            through_other_pairing,
            on_second("ghost", "00000000-0000-4000-8000-0000000000ff"),
            command("new-3".into(), &teacher, false),
            on_second("new-2", SECOND_PAIRING),
        ];
        let outcomes =
            futures_util::future::join_all(sent.into_iter().map(|c| store.append_commands(c)))
                .await;
        let outcomes: Vec<Appended> = outcomes.into_iter().map(Result::unwrap).collect();
        let seq = |outcome: &Appended| match outcome {
            Appended::New(event) => ("new", event.seq),
            Appended::Again { seq } => ("again", *seq),
            Appended::Unpaired => ("unpaired", 0),
            Appended::Refused(refusal) => panic!("refused: {refusal:?}"),
        };
        assert_eq!(
            outcomes.iter().map(seq).collect::<Vec<_>>(),
            [
                ("again", 2),
                ("new", 6),
                ("new", 1),
                ("unpaired", 0),
                ("unpaired", 0),
                ("new", 7),
                ("again", 1),
            ]
        );
        let ids = |events: Vec<boardcast::store::LoggedEvent>| {
            events
                .into_iter()
                .map(|e| (e.seq, e.command_id))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(store.events_after(BOARD, 5, 100).await.unwrap()),
            [(6, "new-1".to_string()), (7, "new-3".to_string())]
        );
        assert_eq!(
            ids(store.events_after(SECOND_BOARD, 0, 100).await.unwrap()),
            [(1, "new-2".to_string())]
        );
        let first = store.board_snapshot(BOARD).await.unwrap();
        assert_eq!((first.seq, first.state.blank), (7, false));
        let second = store.board_snapshot(SECOND_BOARD).await.unwrap();
        assert_eq!((second.seq, second.state.blank), (1, true));
    }
);
