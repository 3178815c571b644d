//! The store suite: the same behaviours on SQLite and PostgreSQL.

use boardcast::{
    clock::Clock,
    directory::{Identity, Roles},
    store::{Claim, KeyClaim, LoginSpan, NewTokenPair, NewUser, RotateOutcome, StoreError},
};

use crate::{both_engines, helpers::TestDatabase};

/// A login no test here needs to end.
const UNBOUNDED: LoginSpan = LoginSpan {
    ends_at: i64::MAX,
    directory_checked_at: 0,
};

fn pair(tag: &str, now: i64) -> NewTokenPair {
    NewTokenPair {
        access_digest: format!("access-{tag}"),
        access_expires_at: now + 60_000,
        refresh_digest: format!("refresh-{tag}"),
        refresh_expires_at: now + 600_000,
    }
}

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: "Jânneke de Vries".into(),
        password_hash: "hash".into(),
        roles: "teacher".into(),
    }
}

both_engines!(usernames_are_unique, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    store.create_user(user("jan"), 1).await.unwrap();
    let again = store.create_user(user("jan"), 2).await.unwrap_err();
    assert!(
        matches!(again, StoreError::Conflict { ref constraint } if constraint == "users_username_key"),
        "{again:?}"
    );
    let found = store.find_user("jan").await.unwrap().unwrap();
    assert_eq!(found.display_name, "Jânneke de Vries");
    assert_eq!(store.count_builtin_users().await.unwrap(), 1);
});

both_engines!(
    directory_users_keep_one_id_across_logins,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let identity = Identity {
            username: "anna".into(),
            display_name: "Anna".into(),
            roles: Roles {
                teacher: true,
                admin: false,
            },
        };
        let first = store.upsert_directory_user(&identity, 1).await.unwrap();
        let promoted = Identity {
            roles: Roles {
                teacher: true,
                admin: true,
            },
            ..identity
        };
        let second = store.upsert_directory_user(&promoted, 2).await.unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(second.roles, "teacher,admin");
        assert_eq!(second.source, "ldap");
    }
);

both_engines!(access_tokens_expire_and_revoke, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    let user = store.create_user(user("jan"), 0).await.unwrap();
    let now = 1_000;
    let family = store
        .create_token_family(
            &user.id,
            "web",
            "boardcast",
            &pair("a", now),
            None,
            UNBOUNDED,
        )
        .await
        .unwrap();
    let principal = store
        .find_access_token("access-a", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.username, "jan");
    assert_eq!(principal.family_id, family.family_id);
    assert!(store
        .find_access_token("access-a", now + 60_000)
        .await
        .unwrap()
        .is_none());
    store.revoke_token("access-a", "web", now).await.unwrap();
    assert!(store
        .find_access_token("access-a", now)
        .await
        .unwrap()
        .is_none());
});

both_engines!(refresh_rotation_is_single_use, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    let user = store.create_user(user("jan"), 0).await.unwrap();
    let now = 1_000;
    store
        .create_token_family(
            &user.id,
            "web",
            "boardcast",
            &pair("1", now),
            None,
            UNBOUNDED,
        )
        .await
        .unwrap();
    let rotated = store
        .rotate_refresh_token("refresh-1", "web", &pair("2", now), None, now)
        .await
        .unwrap();
    assert!(matches!(rotated, RotateOutcome::Rotated(ref p) if p.username == "jan"));
    assert_eq!(
        store
            .rotate_refresh_token("refresh-1", "other-client", &pair("x", now), None, now)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert!(matches!(
        store
            .rotate_refresh_token("refresh-1", "web", &pair("3", now), None, now)
            .await
            .unwrap(),
        RotateOutcome::Reused(_)
    ));
    // Reuse revoked the family: the pair issued by the rotation is dead too.
    assert!(store
        .find_access_token("access-2", now)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .rotate_refresh_token("refresh-2", "web", &pair("4", now), None, now)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
});

both_engines!(removing_a_user_removes_their_tokens, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    let user = store.create_user(user("jan"), 0).await.unwrap();
    store
        .create_token_family(&user.id, "web", "boardcast", &pair("a", 0), None, UNBOUNDED)
        .await
        .unwrap();
    store.remove_user("jan").await.unwrap();
    assert!(store
        .find_access_token("access-a", 0)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.remove_user("jan").await,
        Err(StoreError::NotFound)
    ));
});

both_engines!(migrating_twice_changes_nothing, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    store.migrate().await.unwrap();
    assert!(store.find_client("web").await.unwrap().is_some());
});

both_engines!(purging_removes_only_dead_tokens, |engine| async move {
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    let user = store.create_user(user("jan"), 0).await.unwrap();
    store
        .create_token_family(
            &user.id,
            "web",
            "boardcast",
            &pair("old", 0),
            None,
            UNBOUNDED,
        )
        .await
        .unwrap();
    let now = 1_000_000;
    store
        .create_token_family(
            &user.id,
            "web",
            "boardcast",
            &pair("new", now),
            None,
            UNBOUNDED,
        )
        .await
        .unwrap();
    let removed = store.purge_expired_tokens(now).await.unwrap();
    assert!(
        removed >= 2,
        "the old access token and the old family: {removed}"
    );
    assert!(store
        .find_access_token("access-new", now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .rotate_refresh_token("refresh-old", "web", &pair("x", now), None, now)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert!(matches!(
        store
            .rotate_refresh_token("refresh-new", "web", &pair("y", now), None, now)
            .await
            .unwrap(),
        RotateOutcome::Rotated(_)
    ));
});

both_engines!(
    concurrent_lookups_each_find_their_own_account,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let names: Vec<String> = (0..40).map(|i| format!("teacher{i}")).collect();
        for name in &names {
            store.create_user(user(name), 0).await.unwrap();
        }
        let mut lookups = tokio::task::JoinSet::new();
        for name in names.iter().cloned().chain(["nobody".to_string()]) {
            let store = store.clone();
            lookups.spawn(async move { (store.find_user(&name).await.unwrap(), name) });
        }
        while let Some(joined) = lookups.join_next().await {
            let (found, name) = joined.unwrap();
            match found {
                Some(row) => assert_eq!(row.username, name),
                None => assert_eq!(name, "nobody"),
            }
        }
    }
);

both_engines!(a_taken_session_id_gets_a_new_one, |engine| async move {
    use tower_sessions::{
        session::{Id, Record},
        SessionStore,
    };
    let database = TestDatabase::new(engine).await;
    let store = database.store().await;
    let sessions = store.web_sessions(Clock::system());
    let expiry_date = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let record = |value: &str| Record {
        id: Id(42),
        data: [("login".to_string(), serde_json::json!(value))].into(),
        expiry_date,
    };
    let mut first = record("first");
    sessions.create(&mut first).await.unwrap();
    let mut second = record("second");
    sessions.create(&mut second).await.unwrap();
    assert_eq!(first.id, Id(42));
    assert_ne!(second.id, Id(42));
    let kept = sessions.load(&Id(42)).await.unwrap().unwrap();
    assert_eq!(kept.data["login"], "first");
    let moved = sessions.load(&second.id).await.unwrap().unwrap();
    assert_eq!(moved.data["login"], "second");
});

both_engines!(
    purging_removes_only_quiet_unpaired_boards_and_dead_codes,
    |engine| async move {
        use boardcast::store::BoardRow;
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let board = |id: &str, seen: i64| BoardRow {
            id: id.into(),
            name: id.into(),
            secret_digest: "digest".into(),
            created_at: 0,
            last_seen_at: seen,
        };
        for (id, seen) in [("quiet", 1_000), ("paired", 1_000), ("recent", 9_000)] {
            store.create_board(&board(id, seen)).await.unwrap();
        }
        assert!(store
            .issue_pairing_code("paired", "111111", 50_000, 1_000)
            .await
            .unwrap());
        store
            .pair_with_code("111111", "p1", "teacher", None, 2_000)
            .await
            .unwrap()
            .unwrap();
        assert!(store
            .issue_pairing_code("quiet", "222222", 3_000, 1_000)
            .await
            .unwrap());
        assert_eq!(store.purge_expired_codes(5_000).await.unwrap(), 1);
        assert_eq!(store.purge_unpaired_boards(5_000).await.unwrap(), 1);
        assert!(store.find_board("quiet").await.unwrap().is_none());
        assert!(store.find_board("paired").await.unwrap().is_some());
        assert!(store.find_board("recent").await.unwrap().is_some());
    }
);

both_engines!(
    a_live_code_is_never_given_to_a_second_board,
    |engine| async move {
        use boardcast::store::BoardRow;
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        for id in ["a", "b"] {
            let row = BoardRow {
                id: id.into(),
                name: id.into(),
                secret_digest: "digest".into(),
                created_at: 0,
                last_seen_at: 0,
            };
            store.create_board(&row).await.unwrap();
        }
        assert!(store
            .issue_pairing_code("a", "123456", 10_000, 0)
            .await
            .unwrap());
        assert!(!store
            .issue_pairing_code("b", "123456", 20_000, 5_000)
            .await
            .unwrap());
        // Once it has expired, the code may be drawn again.
        assert!(store
            .issue_pairing_code("b", "123456", 30_000, 10_000)
            .await
            .unwrap());
        let pairing = store
            .pair_with_code("123456", "p", "teacher", None, 11_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pairing.board_id, "b");
    }
);

both_engines!(
    an_idempotency_key_is_run_once_and_taken_over_only_after_its_lease,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let claim = |request_hash, now: i64| KeyClaim {
            id: "k",
            request_hash,
            now,
            locked_until: now + 30_000,
            expires_at: now + 86_400_000,
        };
        assert_eq!(
            store.claim_idempotency_key(claim("r", 0)).await.unwrap(),
            Claim::Mine
        );
        assert_eq!(
            store
                .claim_idempotency_key(claim("r", 1_000))
                .await
                .unwrap(),
            Claim::Running,
            "the first request is still within its lease"
        );
        assert_eq!(
            store
                .claim_idempotency_key(claim("other", 1_000))
                .await
                .unwrap(),
            Claim::Mismatch
        );
        assert_eq!(
            store
                .claim_idempotency_key(claim("r", 31_000))
                .await
                .unwrap(),
            Claim::Mine,
            "a retry takes over once the lease ran out"
        );
        store.record_idempotent_answer("k", "sealed").await.unwrap();
        assert_eq!(
            store
                .claim_idempotency_key(claim("r", 32_000))
                .await
                .unwrap(),
            Claim::Answered("sealed".into())
        );
        store.release_idempotency_key("k").await.unwrap();
        assert_eq!(
            store
                .claim_idempotency_key(claim("r", 33_000))
                .await
                .unwrap(),
            Claim::Answered("sealed".into()),
            "an answered key is never released"
        );
        assert_eq!(
            store
                .claim_idempotency_key(claim("other", 86_400_001))
                .await
                .unwrap(),
            Claim::Mine,
            "after a day the key is free again"
        );
        assert_eq!(
            store
                .purge_expired_idempotency_keys(200_000_000)
                .await
                .unwrap(),
            1
        );
    }
);
