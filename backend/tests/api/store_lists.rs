//! What a node asks about all of its sockets at once, and what a removed board leaves
//! behind: both on SQLite and PostgreSQL.

use boardcast::{
    domain::board::Action,
    store::{Appended, BoardRow, LoginSpan, NewCommand, NewTokenPair},
};

use crate::{
    both_engines,
    helpers::{create_teacher, TestDatabase},
};

/// More ids than either engine binds in one statement (SQLite 32,766, PostgreSQL 65,535).
const MORE_IDS_THAN_ONE_STATEMENT_BINDS: usize = 70_000;

fn board(id: &str, last_seen_at: i64) -> BoardRow {
    BoardRow {
        id: id.into(),
        name: id.into(),
        secret_digest: "digest".into(),
        created_at: 0,
        last_seen_at,
    }
}

/// `live` among many ids that name nothing.
fn ids_around(live: &str) -> Vec<String> {
    let mut ids: Vec<String> = (0..MORE_IDS_THAN_ONE_STATEMENT_BINDS)
        .map(|i| format!("gone-{i}"))
        .collect();
    ids.insert(MORE_IDS_THAN_ONE_STATEMENT_BINDS / 2, live.to_string());
    ids
}

both_engines!(
    questions_about_every_socket_of_a_node_are_answered_whole,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let teacher = create_teacher(&store, "jan").await;
        store.create_board(&board("b", 0)).await.unwrap();
        assert!(store
            .issue_pairing_code("b", "123456", i64::MAX, 0)
            .await
            .unwrap());
        let pairing = store
            .pair_with_code("123456", "p", &teacher, None, 0)
            .await
            .unwrap()
            .unwrap();
        let tokens = NewTokenPair {
            access_digest: "access".into(),
            access_expires_at: 60_000,
            refresh_digest: "refresh".into(),
            refresh_expires_at: 600_000,
        };
        let login = store
            .create_token_family(
                &teacher,
                "web",
                "boardcast",
                &tokens,
                None,
                LoginSpan {
                    ends_at: i64::MAX,
                    directory_checked_at: 0,
                },
            )
            .await
            .unwrap();
        let command = NewCommand {
            board_id: "b".into(),
            pairing_id: pairing.id.clone(),
            command_id: "00000000-0000-4000-8000-000000000001".into(),
            action: Action::Blank { on: true },
            by: teacher.clone(),
            by_admin: false,
            at: 1,
        };
        assert!(matches!(
            store.append_commands(command).await.unwrap(),
            Appended::New(_)
        ));

        let pairings = store
            .existing_pairings(&ids_around(&pairing.id))
            .await
            .unwrap();
        assert_eq!(pairings.into_iter().collect::<Vec<_>>(), vec![pairing.id]);
        let logins = store
            .live_logins(&ids_around(&login.family_id), 1_000)
            .await
            .unwrap();
        assert_eq!(
            logins.into_iter().collect::<Vec<_>>(),
            vec![login.family_id]
        );
        let heads = store.board_heads(&ids_around("b")).await.unwrap();
        assert_eq!(heads.into_iter().collect::<Vec<_>>(), vec![("b".into(), 1)]);
    }
);

both_engines!(
    a_purged_board_leaves_no_state_or_log_behind,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let teacher = create_teacher(&store, "jan").await;
        for id in ["unpaired", "kept"] {
            store.create_board(&board(id, 1_000)).await.unwrap();
        }
        for (id, code) in [("unpaired", "111111"), ("kept", "222222")] {
            assert!(store
                .issue_pairing_code(id, code, i64::MAX, 0)
                .await
                .unwrap());
            let pairing = store
                .pair_with_code(code, &format!("p-{id}"), &teacher, None, 0)
                .await
                .unwrap()
                .unwrap();
            let command = NewCommand {
                board_id: id.into(),
                pairing_id: pairing.id,
                command_id: uuid::Uuid::new_v4().to_string(),
                action: Action::Blank { on: true },
                by: teacher.clone(),
                by_admin: false,
                at: 1,
            };
            assert!(matches!(
                store.append_commands(command).await.unwrap(),
                Appended::New(_)
            ));
        }
        // The teacher unpairs one board; it goes quiet and is purged with what it showed.
        assert!(store.delete_pairing("p-unpaired").await.unwrap());
        assert_eq!(store.purge_unpaired_boards(5_000).await.unwrap(), 1);

        assert!(store.find_board("unpaired").await.unwrap().is_none());
        assert_eq!(store.board_snapshot("unpaired").await.unwrap().seq, 0);
        assert!(store
            .events_after("unpaired", 0, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.board_snapshot("kept").await.unwrap().seq, 1);
        assert_eq!(store.events_after("kept", 0, 10).await.unwrap().len(), 1);
    }
);
