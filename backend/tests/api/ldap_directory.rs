//! The LDAP directory against a real slapd: roles, refusals, escaping, failover, a dead or
//! hung server, the circuit breaker, connection reuse.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use boardcast::directory::{
    BreakerState, Directory, DirectoryError, Identity, LdapDirectory, Roles,
};

use crate::slapd::Slapd;

const TEACHER: Roles = Roles {
    teacher: true,
    admin: false,
};
const ADMIN: Roles = Roles {
    teacher: false,
    admin: true,
};

/// What a node trusts without any `tls_ca_file`; these servers speak plain LDAP anyway.
fn system_roots() -> Arc<rustls::ClientConfig> {
    Arc::new(boardcast::tls::client_config(&[]).unwrap())
}

async fn log_in(slapd: &Slapd, username: &str, password: &str) -> Result<Identity, DirectoryError> {
    LdapDirectory::new(&slapd.settings(), system_roots())
        .authenticate(username, password)
        .await
}

fn assert_invalid(result: Result<Identity, DirectoryError>, what: &str) {
    assert!(
        matches!(result, Err(DirectoryError::InvalidCredentials)),
        "{what}: {result:?}"
    );
}

fn assert_unreachable(result: Result<Identity, DirectoryError>) {
    assert!(
        matches!(result, Err(DirectoryError::Unreachable(_))),
        "{result:?}"
    );
}

/// A directory on a paused server whose breaker has opened after three failed logins.
async fn directory_with_open_breaker(slapd: &Slapd, cooldown: Duration) -> LdapDirectory {
    let mut settings = slapd.settings();
    settings.timeout = Duration::from_millis(300);
    let directory = LdapDirectory::new(&settings, system_roots()).with_breaker_cooldown(cooldown);
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.pause();
    for _ in 0..3 {
        assert_unreachable(directory.authenticate("jdevries", "jan-pw").await);
    }
    directory
}

#[tokio::test]
async fn teacher_logs_in_with_the_teacher_role_and_a_utf8_display_name() {
    let slapd = Slapd::start().await;
    let identity = log_in(&slapd, "jdevries", "jan-pw").await.unwrap();
    assert_eq!(identity.username, "jdevries");
    assert_eq!(identity.display_name, "Jânneke de Vries");
    assert_eq!(identity.roles, TEACHER);
}

#[tokio::test]
async fn member_of_the_admin_group_only_is_an_admin_only() {
    let slapd = Slapd::start().await;
    let identity = log_in(&slapd, "admin1", "admin-pw").await.unwrap();
    assert_eq!(identity.roles, ADMIN);
}

#[tokio::test]
async fn member_of_both_groups_has_both_roles() {
    let slapd = Slapd::start().await;
    let identity = log_in(&slapd, "anna", "anna-pw").await.unwrap();
    assert!(identity.roles.teacher && identity.roles.admin);
}

#[tokio::test]
async fn someone_in_neither_group_has_no_roles() {
    let slapd = Slapd::start().await;
    let identity = log_in(&slapd, "outsider", "outsider-pw").await.unwrap();
    assert_eq!(identity.roles, Roles::default());
}

#[tokio::test]
async fn the_username_comes_back_as_the_directory_spells_it() {
    let slapd = Slapd::start().await;
    let identity = log_in(&slapd, "JDevries", "jan-pw").await.unwrap();
    assert_eq!(identity.username, "jdevries");
}

#[tokio::test]
async fn wrong_password_is_invalid_credentials() {
    let slapd = Slapd::start().await;
    assert_invalid(
        log_in(&slapd, "jdevries", "anna-pw").await,
        "wrong password",
    );
}

#[tokio::test]
async fn unknown_user_is_invalid_credentials() {
    let slapd = Slapd::start().await;
    assert_invalid(log_in(&slapd, "nobody", "jan-pw").await, "unknown user");
}

#[tokio::test]
async fn empty_password_is_refused_without_binding() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings(), system_roots());
    assert_invalid(
        directory.authenticate("jdevries", "").await,
        "empty password",
    );
    // Nothing reached the server, so no anonymous bind could have "succeeded".
    assert_eq!(directory.connections_opened(), 0);
}

#[tokio::test]
async fn wildcard_usernames_match_nobody() {
    let slapd = Slapd::start().await;
    // Unescaped, `jdev*` would match jdevries alone and log in with her password.
    for username in ["*", "jdev*"] {
        assert_invalid(log_in(&slapd, username, "jan-pw").await, username);
    }
}

#[tokio::test]
async fn filter_injection_in_the_username_matches_nobody() {
    let slapd = Slapd::start().await;
    for username in [
        ")(uid=*",
        "*)(|(uid=*",
        "jdevries)(uid=anna",
        "jdevries\\2a",
    ] {
        assert_invalid(log_in(&slapd, username, "jan-pw").await, username);
    }
}

#[tokio::test]
async fn fails_over_to_the_second_url_when_the_first_is_dead() {
    let slapd = Slapd::start().await;
    let mut settings = slapd.settings();
    let dead = format!("ldap://127.0.0.1:{}", crate::postgres::free_port());
    settings.urls = vec![dead, slapd.url()];
    let identity = LdapDirectory::new(&settings, system_roots())
        .authenticate("jdevries", "jan-pw")
        .await
        .unwrap();
    assert_eq!(identity.roles, TEACHER);
}

#[tokio::test]
async fn fails_over_within_the_timeout_when_the_first_server_hangs() {
    let hung = Slapd::start().await;
    let healthy = Slapd::start().await;
    hung.pause();
    let mut settings = healthy.settings();
    settings.urls = vec![hung.url(), healthy.url()];
    let directory = LdapDirectory::new(&settings, system_roots());
    let started = Instant::now();
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    assert!(
        started.elapsed() < settings.timeout,
        "took {:?}",
        started.elapsed()
    );
    // The server that answered is tried first from now on.
    let started = Instant::now();
    directory.authenticate("anna", "anna-pw").await.unwrap();
    assert!(
        started.elapsed() < settings.timeout / 4,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stopped_directory_is_unreachable_within_the_timeout() {
    let mut slapd = Slapd::start().await;
    let settings = slapd.settings();
    let directory = LdapDirectory::new(&settings, system_roots());
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.stop();
    let started = Instant::now();
    assert_unreachable(directory.authenticate("jdevries", "jan-pw").await);
    assert!(
        started.elapsed() < settings.timeout * 2,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_restarted_directory_is_used_again() {
    let mut slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings(), system_roots());
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.restart().await;
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
}

#[tokio::test]
async fn a_hung_directory_is_unreachable_within_the_timeout() {
    let slapd = Slapd::start().await;
    let settings = slapd.settings();
    let directory = LdapDirectory::new(&settings, system_roots());
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.pause();
    for _ in 0..2 {
        // Once on the open connection, once on a new one that is accepted but not answered.
        let started = Instant::now();
        assert_unreachable(directory.authenticate("jdevries", "jan-pw").await);
        let elapsed = started.elapsed();
        assert!(elapsed < settings.timeout * 2, "took {elapsed:?}");
    }
}

#[tokio::test]
async fn three_unreachable_logins_open_the_breaker_which_then_answers_at_once() {
    let slapd = Slapd::start().await;
    let directory = directory_with_open_breaker(&slapd, Duration::from_secs(10)).await;
    assert_eq!(directory.breaker_state(), BreakerState::Open);
    let opened = directory.connections_opened();
    let started = Instant::now();
    assert_unreachable(directory.authenticate("jdevries", "jan-pw").await);
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        directory.connections_opened(),
        opened,
        "an open breaker touches no server"
    );
}

#[tokio::test]
async fn the_breaker_closes_once_the_directory_answers_after_the_cooldown() {
    let slapd = Slapd::start().await;
    let cooldown = Duration::from_millis(300);
    let directory = directory_with_open_breaker(&slapd, cooldown).await;
    slapd.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    while directory.authenticate("jdevries", "jan-pw").await.is_err() {
        assert!(Instant::now() < deadline, "the directory did not recover");
        tokio::time::sleep(cooldown / 4).await;
    }
    assert_eq!(directory.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn sequential_logins_reuse_two_connections() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings(), system_roots());
    for _ in 0..20 {
        directory.authenticate("jdevries", "jan-pw").await.unwrap();
    }
    // One service connection for the searches, one for the user binds.
    assert_eq!(directory.connections_opened(), 2);
}

#[tokio::test]
async fn concurrent_logins_get_their_own_answers_over_a_bounded_number_of_connections() {
    let slapd = Slapd::start().await;
    let directory = Arc::new(LdapDirectory::new(&slapd.settings(), system_roots()));
    let cases = [
        ("jdevries", "jan-pw", Some(TEACHER)),
        ("admin1", "admin-pw", Some(ADMIN)),
        ("anna", "jan-pw", None),
        ("outsider", "outsider-pw", Some(Roles::default())),
    ];
    let mut logins = tokio::task::JoinSet::new();
    for (username, password, expected) in cases.into_iter().cycle().take(48) {
        let directory = Arc::clone(&directory);
        logins.spawn(async move {
            let result = directory.authenticate(username, password).await;
            (username, result.map(|identity| identity.roles), expected)
        });
    }
    while let Some(joined) = logins.join_next().await {
        let (username, result, expected) = joined.unwrap();
        match expected {
            Some(roles) => assert_eq!(result.unwrap(), roles, "{username}"),
            None => assert!(
                matches!(result, Err(DirectoryError::InvalidCredentials)),
                "{username}: {result:?}"
            ),
        }
    }
    let bound = 1 + LdapDirectory::MAX_BIND_CONNECTIONS as u64;
    assert!(
        directory.connections_opened() <= bound,
        "{} connections",
        directory.connections_opened()
    );
}

const TEACHERS: &str = "cn=teachers,ou=groups,dc=school,dc=example";
const JAN: &str = "uid=jdevries,ou=people,dc=school,dc=example";

#[tokio::test]
async fn a_removed_teacher_keeps_the_role_only_until_the_role_cache_expires() {
    let slapd = Slapd::start().await;
    let mut settings = slapd.settings();
    let window = Duration::from_millis(500);
    settings.role_cache = window;
    let directory = LdapDirectory::new(&settings, system_roots());
    let roles = |identity: Identity| identity.roles;
    let lists_read_after = Instant::now();
    assert_eq!(
        roles(directory.authenticate("jdevries", "jan-pw").await.unwrap()),
        TEACHER
    );
    slapd.remove_member(TEACHERS, JAN).await;
    loop {
        let asked_at = Instant::now();
        let now_roles = roles(directory.authenticate("jdevries", "jan-pw").await.unwrap());
        if now_roles == Roles::default() {
            assert!(
                asked_at >= lists_read_after + window,
                "the member lists were read again before the window ended"
            );
            break;
        }
        assert_eq!(now_roles, TEACHER);
        assert!(
            lists_read_after.elapsed() < window * 4,
            "the removal never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_a_role_cache_a_removal_counts_at_the_next_login() {
    let slapd = Slapd::start().await;
    let mut settings = slapd.settings();
    settings.role_cache = Duration::ZERO;
    let directory = LdapDirectory::new(&settings, system_roots());
    let first = directory.authenticate("jdevries", "jan-pw").await.unwrap();
    assert_eq!(first.roles, TEACHER);
    slapd.remove_member(TEACHERS, JAN).await;
    let second = directory.authenticate("jdevries", "jan-pw").await.unwrap();
    assert_eq!(second.roles, Roles::default());
}
