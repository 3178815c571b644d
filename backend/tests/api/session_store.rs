//! The web sessions logins start, on both engines: a login's session commits with its
//! tokens, ends the session it replaces, and never takes over someone else's.

use boardcast::{
    clock::Clock,
    store::{LoginSession, LoginSpan, NewTokenPair, Store, WebLogin, LOGIN_KEY},
};
use tower_sessions::{session::Id, SessionStore};

use crate::{
    both_engines,
    helpers::{create_teacher, TestDatabase},
};

/// A login no test here needs to end.
const UNBOUNDED: LoginSpan = LoginSpan {
    ends_at: i64::MAX,
    directory_checked_at: 0,
};

const NOW: i64 = 1_000;

fn pair(tag: &str) -> NewTokenPair {
    NewTokenPair {
        access_digest: format!("access-{tag}"),
        access_expires_at: i64::MAX / 2,
        refresh_digest: format!("refresh-{tag}"),
        refresh_expires_at: i64::MAX / 2,
    }
}

fn session(replaces: Option<Id>) -> LoginSession {
    LoginSession {
        id: Id::default(),
        expires_at: Clock::system().now_millis() + 86_400_000,
        replaces,
    }
}

/// The login family a stored session remembers, or `None` when there is no such session.
async fn remembered_family(store: &Store, id: Id) -> Option<String> {
    let record = store
        .web_sessions(Clock::system())
        .load(&id)
        .await
        .unwrap()?;
    let login: WebLogin = serde_json::from_value(record.data[LOGIN_KEY].clone()).unwrap();
    Some(login.family_id)
}

both_engines!(
    a_login_session_commits_with_its_tokens_and_replaces_the_old_one,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let user_id = create_teacher(&store, "jan").await;
        let first = session(None);
        let login = store
            .create_token_family(
                &user_id,
                "web",
                "boardcast",
                &pair("1"),
                Some(&first),
                UNBOUNDED,
            )
            .await
            .unwrap();
        assert_eq!(login.session, Some(first.id));
        assert_eq!(
            remembered_family(&store, first.id).await,
            Some(login.family_id.clone())
        );
        let token = store.find_access_token("access-1", NOW).await.unwrap();
        assert_eq!(token.unwrap().family_id, login.family_id);

        let second = session(Some(first.id));
        let again = store
            .create_token_family(
                &user_id,
                "web",
                "boardcast",
                &pair("2"),
                Some(&second),
                UNBOUNDED,
            )
            .await
            .unwrap();
        assert_eq!(remembered_family(&store, first.id).await, None);
        assert_eq!(
            remembered_family(&store, second.id).await,
            Some(again.family_id)
        );
    }
);

both_engines!(
    a_taken_session_id_is_not_overwritten_but_the_login_stands,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let user_id = create_teacher(&store, "jan").await;
        let taken = session(None);
        let owner = store
            .create_token_family(
                &user_id,
                "web",
                "boardcast",
                &pair("a"),
                Some(&taken),
                UNBOUNDED,
            )
            .await
            .unwrap();
        let intruder = store
            .create_token_family(
                &user_id,
                "web",
                "boardcast",
                &pair("b"),
                Some(&taken),
                UNBOUNDED,
            )
            .await
            .unwrap();
        assert_eq!(intruder.session, None);
        assert_eq!(
            remembered_family(&store, taken.id).await,
            Some(owner.family_id)
        );
        assert!(store
            .find_access_token("access-b", NOW)
            .await
            .unwrap()
            .is_some());
    }
);

both_engines!(
    concurrent_logins_each_get_their_own_session,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let user_id = create_teacher(&store, "jan").await;
        // Half of the browsers held a session before; half come without a cookie.
        let mut held = Vec::new();
        for n in 0..20 {
            let old = session(None);
            let tag = format!("old-{n}");
            store
                .create_token_family(
                    &user_id,
                    "web",
                    "boardcast",
                    &pair(&tag),
                    Some(&old),
                    UNBOUNDED,
                )
                .await
                .unwrap();
            held.push(old.id);
        }
        let logins = (0..40).map(|n| {
            let store = store.clone();
            let user_id = user_id.clone();
            let replaces = held.get(n).copied();
            async move {
                let new = session(replaces);
                // Some logins of the rush are tokens only (not the web client).
                let started = (n % 5 != 0).then(|| new.clone());
                let login = store
                    .create_token_family(
                        &user_id,
                        "web",
                        "boardcast",
                        &pair(&n.to_string()),
                        started.as_ref(),
                        UNBOUNDED,
                    )
                    .await
                    .unwrap();
                (new, started.is_some(), login)
            }
        });
        for (new, started, login) in futures_util::future::join_all(logins).await {
            let remembered = remembered_family(&store, new.id).await;
            if started {
                assert_eq!(login.session, Some(new.id));
                assert_eq!(remembered, Some(login.family_id));
            } else {
                assert_eq!((login.session, remembered), (None, None));
            }
            if let Some(old) = new.replaces.filter(|_| started) {
                assert_eq!(remembered_family(&store, old).await, None);
            }
        }
    }
);

both_engines!(
    the_table_keeps_a_digest_of_the_session_id_never_the_id,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = database.store().await;
        let user_id = create_teacher(&store, "jan").await;
        let started = session(None);
        store
            .create_token_family(
                &user_id,
                "web",
                "boardcast",
                &pair("h"),
                Some(&started),
                UNBOUNDED,
            )
            .await
            .unwrap();
        let stored = store.web_sessions(Clock::system());
        let ids = stored_session_ids(&database).await;
        let cookie_value = started.id.to_string();
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            cookie_value.as_bytes(),
        ));
        assert_eq!(ids, vec![digest]);
        // The id the browser presents still finds its session.
        assert!(stored.load(&started.id).await.unwrap().is_some());
    }
);

/// Every id column value of `web_sessions`, read straight from the database.
async fn stored_session_ids(database: &TestDatabase) -> Vec<String> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    sqlx::query_scalar("select id from web_sessions")
        .fetch_all(&mut connection)
        .await
        .unwrap()
}
