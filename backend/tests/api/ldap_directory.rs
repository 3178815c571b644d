//! The LDAP directory against a real slapd: roles, refusals, escaping, failover, a dead or
//! hung server, the breaker, connection reuse.

use std::time::{Duration, Instant};

use boardcast::directory::{BreakerState, Directory, DirectoryError, LdapDirectory, Roles};

use crate::slapd::Slapd;

#[tokio::test]
async fn teacher_logs_in_with_roles_and_utf8_display_name() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings());
    let identity = directory.authenticate("jdevries", "jan-pw").await.unwrap();
    assert_eq!(identity.display_name, "Jânneke de Vries");
    assert_eq!(
        identity.roles,
        Roles {
            teacher: true,
            admin: false
        }
    );
    let anna = directory.authenticate("anna", "anna-pw").await.unwrap();
    assert_eq!(
        anna.roles,
        Roles {
            teacher: true,
            admin: true
        }
    );
    let admin = directory.authenticate("admin1", "admin-pw").await.unwrap();
    assert_eq!(
        admin.roles,
        Roles {
            teacher: false,
            admin: true
        }
    );
}

#[tokio::test]
async fn someone_in_neither_group_has_no_roles() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings());
    let identity = directory
        .authenticate("outsider", "outsider-pw")
        .await
        .unwrap();
    assert!(identity.roles.is_empty());
}

#[tokio::test]
async fn wrong_and_empty_passwords_are_refused() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings());
    assert!(matches!(
        directory.authenticate("jdevries", "nope").await,
        Err(DirectoryError::InvalidCredentials)
    ));
    assert!(matches!(
        directory.authenticate("jdevries", "").await,
        Err(DirectoryError::InvalidCredentials)
    ));
    assert!(matches!(
        directory.authenticate("nobody", "jan-pw").await,
        Err(DirectoryError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn filter_metacharacters_in_the_username_match_nobody() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings());
    for username in ["*", ")(uid=*", "jdev*", "*)(|(uid=*", "jdevries)(uid=anna"] {
        let result = directory.authenticate(username, "jan-pw").await;
        assert!(
            matches!(result, Err(DirectoryError::InvalidCredentials)),
            "{username}: {result:?}"
        );
    }
}

#[tokio::test]
async fn fails_over_to_the_second_url_when_the_first_is_dead() {
    let slapd = Slapd::start().await;
    let dead = format!("ldap://127.0.0.1:{}", crate::postgres::free_port());
    let mut settings = slapd.settings();
    settings.urls = vec![dead, slapd.url()];
    let directory = LdapDirectory::new(&settings);
    let identity = directory.authenticate("jdevries", "jan-pw").await.unwrap();
    assert_eq!(identity.username, "jdevries");
}

#[tokio::test]
async fn a_stopped_directory_is_unreachable_within_the_timeout() {
    let mut slapd = Slapd::start().await;
    let settings = slapd.settings();
    let directory = LdapDirectory::new(&settings);
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.stop();
    let started = Instant::now();
    let result = directory.authenticate("jdevries", "jan-pw").await;
    assert!(
        matches!(result, Err(DirectoryError::Unreachable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < settings.timeout * 2,
        "took {:?}",
        started.elapsed()
    );
    slapd.restart().await;
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
}

#[tokio::test]
async fn a_hung_directory_opens_the_breaker_and_later_recovers() {
    let slapd = Slapd::start().await;
    let mut settings = slapd.settings();
    settings.timeout = Duration::from_millis(300);
    let directory = LdapDirectory::new(&settings).with_breaker_cooldown(Duration::from_millis(500));
    directory.authenticate("jdevries", "jan-pw").await.unwrap();
    slapd.pause();
    for _ in 0..3 {
        let started = Instant::now();
        let result = directory.authenticate("jdevries", "jan-pw").await;
        assert!(
            matches!(result, Err(DirectoryError::Unreachable(_))),
            "{result:?}"
        );
        assert!(
            started.elapsed() < settings.timeout * 2,
            "took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(directory.breaker_state(), BreakerState::Open);
    let started = Instant::now();
    assert!(matches!(
        directory.authenticate("jdevries", "jan-pw").await,
        Err(DirectoryError::Unreachable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "an open breaker must answer at once"
    );

    slapd.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if directory.authenticate("jdevries", "jan-pw").await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the directory did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(directory.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn logins_reuse_connections() {
    let slapd = Slapd::start().await;
    let directory = LdapDirectory::new(&slapd.settings());
    for _ in 0..20 {
        directory.authenticate("jdevries", "jan-pw").await.unwrap();
    }
    // One service connection and one user-bind connection, reused 20 times.
    assert!(
        directory.connections_opened() <= 2,
        "{} connections",
        directory.connections_opened()
    );
}
