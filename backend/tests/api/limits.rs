//! Failure budgets under parallel bursts: every attempt reserves its slot before it is
//! checked, so exactly the budget is checked however many arrive at once, on one node or
//! spread over two; plus the counters' purge and the refusal of oversized usernames.

use std::{future::Future, time::Duration};

use boardcast::{
    config::Settings,
    store::{Budget, Slot, Store},
};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp, TestDatabase},
    ws_client::teacher,
};

/// How many of `statuses` are `status`.
fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

/// Runs `attempts` at once; their status codes.
async fn burst<F, Fut>(attempts: usize, attempt: F) -> Vec<u16>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    join_all((0..attempts).map(attempt))
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect()
}

/// Counter rows stored, by key.
async fn counter_keys(store: &Store) -> Vec<String> {
    sqlx::query_scalar::<_, String>("select key from login_failures order by key")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

both_engines!(
    parallel_wrong_passwords_for_one_user_are_checked_exactly_the_budget,
    |engine| async move {
        let window = Duration::from_secs(20);
        let app = TestApp::spawn_with(engine, |s| {
            s.auth.max_failures_per_user = 10;
            s.auth.max_failures_per_address = 1_000;
            s.auth.login_failure_window = window;
        })
        .await;
        app.add_user("jan", "right", "teacher").await;
        let statuses = burst(150, |_| app.password_grant("jan", "wrong")).await;
        assert_eq!(count(&statuses, 400), 10, "checked by the directory");
        assert_eq!(count(&statuses, 429), 140, "refused before checking");
        let refused = app.password_grant("jan", "right").await;
        assert_eq!(
            refused.status(),
            429,
            "the budget is spent, right password or not"
        );
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after <= window.as_secs());
        tokio::time::sleep(Duration::from_secs(retry_after + 1)).await;
        assert_eq!(app.password_grant("jan", "right").await.status(), 200);
    }
);

both_engines!(
    parallel_guesses_from_one_address_are_checked_exactly_the_budget,
    |engine| async move {
        let app = TestApp::spawn_with(engine, |s| {
            s.auth.max_failures_per_address = 20;
        })
        .await;
        let app = &app;
        let statuses = burst(200, |i| async move {
            app.password_grant(&format!("user{i}"), "guess").await
        })
        .await;
        assert_eq!(count(&statuses, 400), 20, "{statuses:?}");
        assert_eq!(count(&statuses, 429), 180, "{statuses:?}");
    }
);

both_engines!(
    spellings_of_one_username_share_its_budget,
    |engine| async move {
        let app = TestApp::spawn_with(engine, |s| {
            s.auth.max_failures_per_user = 3;
        })
        .await;
        app.add_user("teacher", "right", "teacher").await;
        for spelling in ["Teacher", " teacher ", "ｔｅａｃｈｅｒ"] {
            assert_eq!(app.password_grant(spelling, "wrong").await.status(), 400);
        }
        assert_eq!(app.password_grant("TEACHER", "wrong").await.status(), 429);
        assert_eq!(app.password_grant("teacher", "right").await.status(), 429);
    }
);

/// A password grant that arrives through the trusted proxy at 127.0.0.1 for `client`.
async fn grant_via_proxy(app: &TestApp, client: &str, username: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .header("x-forwarded-for", client)
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", "guess"),
            ("client_id", "web"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_ipv6_64_and_mapped_ipv4_addresses_share_a_budget() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.auth.max_failures_per_address = 2;
        s.web.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let status = |client: &'static str, user: &'static str| {
        let app = &app;
        async move { grant_via_proxy(app, client, user).await.status() }
    };
    assert_eq!(status("2001:db8:1:2::1", "a").await, 400);
    assert_eq!(status("2001:db8:1:2:ffff::9", "b").await, 400);
    assert_eq!(status("2001:db8:1:2:1:2:3:4", "c").await, 429, "same /64");
    assert_eq!(status("2001:db8:1:3::1", "d").await, 400, "next /64");
    assert_eq!(status("192.0.2.7", "e").await, 400);
    assert_eq!(status("::ffff:192.0.2.7", "f").await, 400);
    assert_eq!(status("192.0.2.7", "g").await, 429, "mapped is the same");
}

#[tokio::test]
async fn a_burst_split_over_two_nodes_is_checked_exactly_the_budget() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let limit = |s: &mut Settings| s.auth.max_failures_per_user = 10;
    let a = TestApp::spawn_on(&database.url, limit).await;
    let b = TestApp::spawn_on(&database.url, limit).await;
    let statuses = burst(150, |i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.password_grant("jan", "wrong")
    })
    .await;
    assert_eq!(count(&statuses, 400), 10);
    assert_eq!(count(&statuses, 429), 140);
}

both_engines!(
    parallel_wrong_pairing_codes_are_checked_exactly_the_budget,
    |engine| async move {
        let app = TestApp::spawn_with(engine, |s| {
            s.pairing.max_failures_per_user = 10;
        })
        .await;
        let token = teacher(&app, "jan").await;
        let (app, token) = (&app, &token);
        // No board shows a code: every guess is wrong.
        let statuses = burst(100, |_| async move {
            app.client
                .post(app.url("/api/pairings"))
                .bearer_auth(token)
                .json(&json!({ "code": "000000" }))
                .send()
                .await
                .unwrap()
        })
        .await;
        assert_eq!(count(&statuses, 404), 10);
        assert_eq!(count(&statuses, 429), 90);
    }
);

both_engines!(
    parallel_board_registrations_get_exactly_the_hourly_budget,
    |engine| async move {
        let app = TestApp::spawn_with(engine, |s| {
            s.pairing.max_boards_per_address_per_hour = 5;
        })
        .await;
        let app = &app;
        let statuses = burst(40, |i| async move {
            app.client
                .post(app.url("/api/boards"))
                .json(&json!({ "name": format!("Room {i}") }))
                .send()
                .await
                .unwrap()
        })
        .await;
        assert_eq!(count(&statuses, 201), 5);
        assert_eq!(count(&statuses, 429), 35);
    }
);

both_engines!(
    an_overlong_username_is_refused_before_anything_is_asked,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let name = "a".repeat(300);
        let response = app.password_grant(&name, "guess").await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(counter_keys(&app.store).await.is_empty(), "nothing counted");
        let at_limit = "a".repeat(256);
        assert_eq!(app.password_grant(&at_limit, "guess").await.status(), 400);
        assert_eq!(counter_keys(&app.store).await.len(), 2, "user and address");
    }
);

both_engines!(
    reservations_are_all_or_none_and_refunds_give_back,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let budgets = [
            Budget {
                key: "user:jan",
                max: 5,
            },
            Budget {
                key: "addr:10.0.0.1",
                max: 1,
            },
        ];
        let slots = store
            .reserve_attempt(&budgets, 1_000, 10_000)
            .await
            .unwrap();
        assert_eq!(
            slots.unwrap(),
            vec![
                Slot {
                    key: "user:jan".into(),
                    window_start: 1_000
                },
                Slot {
                    key: "addr:10.0.0.1".into(),
                    window_start: 1_000
                },
            ]
        );
        let refused = store
            .reserve_attempt(&budgets, 2_000, 10_000)
            .await
            .unwrap();
        assert_eq!(refused, Err(11_000), "the address window ends at 11s");
        // The refused attempt took nothing from the user either: four more fit.
        let user_only = [Budget {
            key: "user:jan",
            max: 5,
        }];
        for _ in 0..4 {
            assert!(store
                .reserve_attempt(&user_only, 3_000, 10_000)
                .await
                .unwrap()
                .is_ok());
        }
        assert!(store
            .reserve_attempt(&user_only, 3_000, 10_000)
            .await
            .unwrap()
            .is_err());
        let address = [Slot {
            key: "addr:10.0.0.1".into(),
            window_start: 1_000,
        }];
        store.refund_attempt(&address).await.unwrap();
        let again = store
            .reserve_attempt(&budgets[1..], 4_000, 10_000)
            .await
            .unwrap();
        assert!(again.is_ok(), "the refunded slot is free again");
        let next_window = store
            .reserve_attempt(&user_only, 11_000, 10_000)
            .await
            .unwrap();
        assert_eq!(next_window.unwrap()[0].window_start, 11_000);
    }
);

both_engines!(
    the_purge_removes_counters_whose_window_is_over,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        for (key, started) in [("user:old", 1_000), ("user:live", 50_000)] {
            let budget = [Budget { key, max: 10 }];
            assert!(store
                .reserve_attempt(&budget, started, 10_000)
                .await
                .unwrap()
                .is_ok());
        }
        let purged = store.purge_expired_counters(55_000 - 10_000).await.unwrap();
        assert_eq!(purged, 1);
        assert_eq!(counter_keys(&store).await, vec!["user:live".to_string()]);
    }
);
