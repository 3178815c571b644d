//! The school's LDAP directory (ldap3): find the person as the service account, bind as the
//! entry found with the given password, and read the roles from membership of the teacher
//! and admin groups (member lists reused for `ldap.role_cache`, see `roles`).
//!
//! Built for a directory that may be slow or down at 8:30: a login is bounded by `timeout`
//! in total however many `urls` are tried, connections are kept and reused (see
//! `connections`), and a circuit breaker makes logins fail at once while the directory is
//! known to be down, so waiting logins never pile up. Issued tokens never need the directory.

mod breaker;
mod connections;
mod roles;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use ldap3::{Scope, SearchEntry, SearchResult};
use rustls::ClientConfig;

use self::{breaker::Breaker, connections::Connections, roles::RoleCache};
use super::{BreakerState, Directory, DirectoryError, Identity};
use crate::config::LdapSettings;

/// Consecutive unreachable results that open the breaker.
const BREAKER_THRESHOLD: u32 = 3;
/// How long an open breaker refuses logins before one trial goes to the directory: long
/// enough to spare a restarting server, short enough that logins resume soon after.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(10);

/// LDAP result codes (RFC 4511) that change what a login means.
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const NO_SUCH_OBJECT: u32 = 32;
const INVALID_CREDENTIALS: u32 = 49;

/// Logins checked against LDAP; see the module docs for the guarantees.
pub struct LdapDirectory {
    settings: LdapSettings,
    /// The attribute `user_filter` compares the username with, to learn its spelling.
    username_attribute: Option<String>,
    connections: Connections,
    roles: RoleCache,
    breaker: Breaker,
}

/// The entry a login matched.
struct Person {
    dn: String,
    username: String,
    display_name: String,
}

impl LdapDirectory {
    /// User-bind connections open at most at once (besides the one service connection);
    /// more simultaneous logins wait their turn within their timeout.
    pub const MAX_BIND_CONNECTIONS: usize = 16;

    /// No network I/O here: connections open on the first login. `tls` decides which
    /// certificates `ldaps://` and StartTLS trust (see `crate::tls::for_directory`).
    pub fn new(settings: &LdapSettings, tls: Arc<ClientConfig>) -> Self {
        Self {
            settings: settings.clone(),
            username_attribute: username_attribute(&settings.user_filter),
            connections: Connections::new(settings, tls, Self::MAX_BIND_CONNECTIONS),
            roles: RoleCache::new(
                &settings.teacher_group,
                &settings.admin_group,
                settings.role_cache,
            ),
            breaker: Breaker::new(BREAKER_THRESHOLD, BREAKER_COOLDOWN),
        }
    }

    /// The same directory with another breaker cooldown than [`BREAKER_COOLDOWN`] (tests
    /// use a short one).
    pub fn with_breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.breaker = Breaker::new(BREAKER_THRESHOLD, cooldown);
        self
    }

    /// TCP connections opened so far, to show that logins reuse them.
    pub fn connections_opened(&self) -> u64 {
        self.connections.opened()
    }

    async fn login(
        &self,
        username: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<Identity, DirectoryError> {
        let asked_at = Instant::now();
        let person = self.find_person(username, deadline).await?;
        let answer = self
            .connections
            .bind(&person.dn, password, deadline)
            .await?;
        match answer.rc {
            SUCCESS => {}
            INVALID_CREDENTIALS => {
                tracing::debug!("login refused: the directory rejected the password");
                return Err(DirectoryError::InvalidCredentials);
            }
            _ => return Err(DirectoryError::Other(format!("user bind failed: {answer}"))),
        }
        self.identity_of(person, asked_at, deadline).await
    }

    /// The account and its roles as the directory says now, read by the service account.
    async fn look_up(&self, username: &str, deadline: Instant) -> Result<Identity, DirectoryError> {
        let asked_at = Instant::now();
        let person = self.find_person(username, deadline).await?;
        self.identity_of(person, asked_at, deadline).await
    }

    /// The person found, with their roles (from the role cache when fresh since `asked_at`).
    async fn identity_of(
        &self,
        person: Person,
        asked_at: Instant,
        deadline: Instant,
    ) -> Result<Identity, DirectoryError> {
        let roles = self
            .roles
            .roles_of(
                &self.connections,
                &person.dn,
                &person.username,
                asked_at,
                deadline,
            )
            .await?;
        Ok(Identity {
            username: person.username,
            display_name: person.display_name,
            roles,
        })
    }

    /// Runs one directory question within `timeout` and through the circuit breaker, so a
    /// directory that is down costs callers nothing but a fast `Unreachable`.
    async fn ask<F, Fut>(&self, question: F) -> Result<Identity, DirectoryError>
    where
        F: FnOnce(Instant) -> Fut,
        Fut: std::future::Future<Output = Result<Identity, DirectoryError>>,
    {
        let Some(pass) = self.breaker.admit(Instant::now()) else {
            tracing::debug!("directory not asked: its circuit breaker is open");
            return Err(DirectoryError::Unreachable(
                "the directory is failing; not trying for a while".into(),
            ));
        };
        let deadline = Instant::now() + self.settings.timeout;
        let result = tokio::time::timeout_at(deadline.into(), question(deadline))
            .await
            .unwrap_or_else(|_| {
                Err(DirectoryError::Unreachable(
                    "the directory did not answer in time".into(),
                ))
            });
        match &result {
            Err(DirectoryError::Unreachable(reason)) => {
                tracing::debug!(%reason, "directory unreachable");
                self.connections.reset();
                pass.failed(Instant::now());
            }
            // Any answer, a refusal included, shows the directory is there.
            _ => pass.succeeded(),
        }
        result
    }

    /// Exactly one entry must match the filter with the escaped username; none or several
    /// is a refusal.
    async fn find_person(
        &self,
        username: &str,
        deadline: Instant,
    ) -> Result<Person, DirectoryError> {
        let filter = user_filter_for(&self.settings.user_filter, username);
        let mut attributes = vec![self.settings.display_name_attribute.as_str()];
        attributes.extend(self.username_attribute.as_deref());
        let base = &self.settings.user_base;
        // Two entries are enough to know the name is ambiguous.
        let SearchResult(entries, result) = self
            .connections
            .search(base, Scope::Subtree, &filter, &attributes, 2, deadline)
            .await?;
        match result.rc {
            SUCCESS | SIZE_LIMIT_EXCEEDED => {}
            NO_SUCH_OBJECT => tracing::warn!(%base, "ldap.user_base does not exist"),
            _ => {
                return Err(DirectoryError::Other(format!(
                    "user search failed: {result}"
                )))
            }
        }
        let entries: Vec<_> = entries
            .into_iter()
            .filter(|entry| !entry.is_ref() && !entry.is_intermediate())
            .collect();
        let entry = match <[_; 1]>::try_from(entries) {
            Ok([entry]) if result.rc == SUCCESS => SearchEntry::construct(entry),
            _ => {
                tracing::debug!("login refused: not exactly one directory entry matches");
                return Err(DirectoryError::InvalidCredentials);
            }
        };
        let username = self
            .username_attribute
            .as_deref()
            .and_then(|attribute| values(&entry, attribute).find(|v| same_name(v, username)))
            .unwrap_or(username)
            .to_string();
        let display_name = values(&entry, &self.settings.display_name_attribute)
            .find(|name| !name.trim().is_empty())
            .unwrap_or(username.as_str())
            .to_string();
        Ok(Person {
            dn: entry.dn,
            username,
            display_name,
        })
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, DirectoryError> {
        if username.is_empty() || password.is_empty() {
            // A simple bind with an empty password is an anonymous bind: it would "succeed".
            tracing::debug!("login refused: empty username or password");
            return Err(DirectoryError::InvalidCredentials);
        }
        self.ask(|deadline| self.login(username, password, deadline))
            .await
    }

    async fn lookup(&self, username: &str) -> Result<Identity, DirectoryError> {
        if username.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        self.ask(|deadline| self.look_up(username, deadline)).await
    }

    fn breaker_state(&self) -> BreakerState {
        self.breaker.state(Instant::now())
    }
}

/// The search filter for one username: `{username}` replaced by the name escaped as RFC 4515
/// asks, so a username like `*` or `)(uid=*` matches only itself.
fn user_filter_for(template: &str, username: &str) -> String {
    template.replace("{username}", &ldap3::ldap_escape(username))
}

/// The attribute a filter compares `{username}` with by equality (`uid` in
/// `(&(objectClass=inetOrgPerson)(uid={username}))`); `None` for other kinds of match.
fn username_attribute(filter: &str) -> Option<String> {
    let before = &filter[..filter.find("={username}")?];
    let name = before.rsplit('(').next()?.trim();
    let is_plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';');
    is_plain.then(|| name.to_string())
}

/// The UTF-8 values of an attribute; the server may spell its name in another case.
fn values<'a>(entry: &'a SearchEntry, attribute: &'a str) -> impl Iterator<Item = &'a str> {
    entry
        .attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
}

fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a bare `{username}` filter becomes: the escaped name alone.
    fn escaped(username: &str) -> String {
        user_filter_for("{username}", username)
    }

    #[test]
    fn a_wildcard_username_is_escaped() {
        assert_eq!(escaped("*"), "\\2a");
        assert_eq!(escaped("jdev*"), "jdev\\2a");
    }

    #[test]
    fn an_injected_filter_is_escaped() {
        assert_eq!(escaped(")(uid=*"), "\\29\\28uid=\\2a");
        assert_eq!(escaped("*)(|(uid=*"), "\\2a\\29\\28|\\28uid=\\2a");
    }

    #[test]
    fn backslash_and_nul_are_escaped() {
        assert_eq!(escaped("a\\b\0c"), "a\\5cb\\00c");
    }

    #[test]
    fn ordinary_and_utf8_names_are_left_alone() {
        assert_eq!(escaped("jdevries"), "jdevries");
        assert_eq!(escaped("jânneke.de-vries"), "jânneke.de-vries");
    }

    #[test]
    fn the_username_attribute_comes_from_the_filter() {
        let filter = "(&(objectClass=inetOrgPerson)(uid={username}))";
        assert_eq!(username_attribute(filter).as_deref(), Some("uid"));
        assert_eq!(
            username_attribute("(sAMAccountName={username})").as_deref(),
            Some("sAMAccountName")
        );
    }

    #[test]
    fn other_kinds_of_match_give_no_username_attribute() {
        assert_eq!(username_attribute("(uid:caseExactMatch:={username})"), None);
        assert_eq!(username_attribute("(uid~={username})"), None);
        assert_eq!(
            username_attribute("(uid={username}*)").as_deref(),
            Some("uid")
        );
        assert_eq!(username_attribute("(objectClass=person)"), None);
    }
}
