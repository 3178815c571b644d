//! The school's LDAP directory (ldap3): search for the person as the service account, bind as
//! the entry found with the given password, read roles from group membership.
//!
//! Built for a directory that may be slow or down at 8:30: every login is bounded by
//! `timeout` in total (however many `urls` are tried), connections are kept and reused (one
//! multiplexed service-account connection, a small pool for user binds), and a circuit
//! breaker makes logins fail at once while the directory is known to be down, so waiting
//! logins never pile up. Already-issued tokens do not depend on the directory at all.
//! Role groups are read whole and cached for a minute (see `roles_of`).

mod breaker;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};

use self::breaker::Breaker;
use super::{BreakerState, Directory, DirectoryError, Identity, Roles};
use crate::config::LdapSettings;

/// Consecutive unreachable results that open the breaker.
const BREAKER_THRESHOLD: u32 = 3;
/// How long the breaker stays open before one trial login may try again.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(10);
/// Idle user-bind connections kept per node.
const BIND_POOL_SIZE: usize = 8;
/// How long the member lists of the teacher and admin groups are trusted.
const GROUP_CACHE_TTL: Duration = Duration::from_secs(60);
/// LDAP result code for a wrong password (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;

/// The members of the two role groups, as last read.
struct GroupMembers {
    teachers: HashSet<String>,
    admins: HashSet<String>,
    fetched_at: Instant,
}

/// Logins checked against LDAP.
pub struct LdapDirectory {
    settings: LdapSettings,
    /// The service account's connection; ldap3 multiplexes operations over one socket, so
    /// every login's searches share it.
    service: tokio::sync::Mutex<Option<Ldap>>,
    /// Idle connections for user binds (a bind changes a connection's identity, so they are
    /// never used for searches).
    bind_pool: Mutex<Vec<Ldap>>,
    /// The URL that answered last; tried first.
    preferred_url: AtomicUsize,
    groups: tokio::sync::Mutex<Option<GroupMembers>>,
    breaker: Breaker,
    connections_opened: AtomicU64,
}

impl LdapDirectory {
    /// No network I/O here: connections open on the first login.
    pub fn new(settings: &LdapSettings) -> Self {
        Self {
            settings: settings.clone(),
            service: tokio::sync::Mutex::new(None),
            bind_pool: Mutex::new(Vec::new()),
            preferred_url: AtomicUsize::new(0),
            groups: tokio::sync::Mutex::new(None),
            breaker: Breaker::new(BREAKER_THRESHOLD, BREAKER_COOLDOWN),
            connections_opened: AtomicU64::new(0),
        }
    }

    /// The same directory with another breaker cooldown (tests use a short one).
    pub fn with_breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.breaker = Breaker::new(BREAKER_THRESHOLD, cooldown);
        self
    }

    /// TCP connections opened so far: shows that logins reuse them.
    pub fn connections_opened(&self) -> u64 {
        self.connections_opened.load(Ordering::Relaxed)
    }

    async fn login(
        &self,
        username: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<Identity, DirectoryError> {
        let entry = self.find_user(username, deadline).await?;
        self.bind_as(&entry.dn, password, deadline).await?;
        let roles = self.roles_of(&entry.dn, username, deadline).await?;
        let display_name = entry
            .attrs
            .get(&self.settings.display_name_attribute)
            .and_then(|values| values.first())
            .filter(|name| !name.is_empty())
            .cloned()
            .unwrap_or_else(|| username.to_string());
        Ok(Identity {
            username: username.to_string(),
            display_name,
            roles,
        })
    }

    /// Exactly one entry must match the escaped filter; none or several is a refusal.
    async fn find_user(
        &self,
        username: &str,
        deadline: Instant,
    ) -> Result<SearchEntry, DirectoryError> {
        let filter = self
            .settings
            .user_filter
            .replace("{username}", &ldap_escape(username));
        let attributes = vec![self.settings.display_name_attribute.as_str()];
        let (entries, _) = self
            .search(
                &self.settings.user_base,
                Scope::Subtree,
                &filter,
                attributes,
                deadline,
            )
            .await?;
        match <[_; 1]>::try_from(entries) {
            Ok([entry]) => Ok(SearchEntry::construct(entry)),
            Err(entries) => {
                tracing::debug!(
                    matches = entries.len(),
                    "login refused: not exactly one directory entry"
                );
                Err(DirectoryError::InvalidCredentials)
            }
        }
    }

    /// Roles from the cached member lists of the two groups, refreshed when older than
    /// [`GROUP_CACHE_TTL`]. Reading whole groups once a minute instead of two searches per
    /// login halves the directory's work per login; a membership change takes effect within
    /// the TTL. A failed refresh keeps the previous lists rather than locking everyone out.
    async fn roles_of(
        &self,
        dn: &str,
        username: &str,
        deadline: Instant,
    ) -> Result<Roles, DirectoryError> {
        let mut groups = self.groups.lock().await;
        let stale = groups
            .as_ref()
            .is_none_or(|g| g.fetched_at.elapsed() >= GROUP_CACHE_TTL);
        if stale {
            let fetched = tokio::try_join!(
                self.group_members(&self.settings.teacher_group, deadline),
                self.group_members(&self.settings.admin_group, deadline),
            );
            match (fetched, groups.as_ref()) {
                (Ok((teachers, admins)), _) => {
                    *groups = Some(GroupMembers {
                        teachers,
                        admins,
                        fetched_at: Instant::now(),
                    });
                }
                (Err(error), Some(_)) => {
                    tracing::warn!(%error, "group refresh failed; using the previous member lists")
                }
                (Err(error), None) => return Err(error),
            }
        }
        let groups = groups
            .as_ref()
            .ok_or_else(|| DirectoryError::Other("no group lists".into()))?;
        let dn = dn.to_lowercase();
        let uid = format!("uid:{}", username.to_lowercase());
        let is_in = |members: &HashSet<String>| members.contains(&dn) || members.contains(&uid);
        Ok(Roles {
            teacher: is_in(&groups.teachers),
            admin: is_in(&groups.admins),
        })
    }

    /// Member DNs (lowercased) and `uid:`-prefixed memberUid values of a group; a group that
    /// does not exist has none.
    async fn group_members(
        &self,
        group: &str,
        deadline: Instant,
    ) -> Result<HashSet<String>, DirectoryError> {
        let attributes = vec!["member", "uniqueMember", "memberUid"];
        let (entries, _) = self
            .search(group, Scope::Base, "(objectClass=*)", attributes, deadline)
            .await?;
        let mut members = HashSet::new();
        for entry in entries {
            for (attribute, values) in SearchEntry::construct(entry).attrs {
                let prefix = if attribute.eq_ignore_ascii_case("memberUid") {
                    "uid:"
                } else {
                    ""
                };
                members.extend(
                    values
                        .into_iter()
                        .map(|v| format!("{prefix}{}", v.to_lowercase())),
                );
            }
        }
        Ok(members)
    }

    /// A search on the shared service connection, reconnecting (and failing over) once if
    /// the connection turns out to be broken.
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: Vec<&str>,
        deadline: Instant,
    ) -> Result<(Vec<ldap3::ResultEntry>, ldap3::LdapResult), DirectoryError> {
        for attempt in 0..2 {
            let mut ldap = self.service_connection(deadline).await?;
            let result = ldap
                .with_timeout(remaining(deadline)?)
                .search(base, scope, filter, attributes.clone())
                .await
                .and_then(ldap3::SearchResult::success);
            match result {
                Ok(found) => return Ok(found),
                Err(LdapError::LdapResult { result }) if result.rc == 32 => {
                    // noSuchObject: the base does not exist.
                    return Ok((Vec::new(), result));
                }
                Err(LdapError::LdapResult { result }) => {
                    return Err(DirectoryError::Other(format!("search failed: {result}")))
                }
                Err(error) => {
                    tracing::warn!(%error, attempt, "directory connection failed; reconnecting");
                    *self.service.lock().await = None;
                }
            }
        }
        Err(DirectoryError::Unreachable(
            "the directory connection keeps failing".into(),
        ))
    }

    /// The shared service-account connection, opened and bound if needed.
    async fn service_connection(&self, deadline: Instant) -> Result<Ldap, DirectoryError> {
        let mut service = self.service.lock().await;
        if let Some(ldap) = service.as_mut() {
            if !ldap.is_closed() {
                return Ok(ldap.clone());
            }
        }
        let mut ldap = self.connect(deadline).await?;
        let bound = ldap
            .with_timeout(remaining(deadline)?)
            .simple_bind(&self.settings.bind_dn, self.settings.bind_password.expose())
            .await
            .and_then(ldap3::LdapResult::success);
        if let Err(error) = bound {
            return Err(match error {
                LdapError::LdapResult { result } => {
                    tracing::error!(rc = result.rc, "the service account cannot bind: check ldap.bind_dn and ldap.bind_password");
                    DirectoryError::Other(format!("service bind refused: {result}"))
                }
                other => DirectoryError::Unreachable(other.to_string()),
            });
        }
        *service = Some(ldap.clone());
        Ok(ldap)
    }

    /// Binds as the user on a pooled connection; the password is the proof.
    async fn bind_as(
        &self,
        dn: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<(), DirectoryError> {
        let pooled = self
            .bind_pool
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .filter(|ldap| !ldap.clone().is_closed());
        let mut ldap = match pooled {
            Some(ldap) => ldap,
            None => self.connect(deadline).await?,
        };
        let result = ldap
            .with_timeout(remaining(deadline)?)
            .simple_bind(dn, password)
            .await;
        match result {
            Ok(result) => {
                if let Ok(mut pool) = self.bind_pool.lock() {
                    if pool.len() < BIND_POOL_SIZE {
                        pool.push(ldap);
                    }
                }
                match result.rc {
                    0 => Ok(()),
                    INVALID_CREDENTIALS => Err(DirectoryError::InvalidCredentials),
                    _ => Err(DirectoryError::Other(format!("user bind failed: {result}"))),
                }
            }
            Err(error) => Err(DirectoryError::Unreachable(error.to_string())),
        }
    }

    /// Opens a connection, trying the URLs in order from the one that worked last. Each
    /// attempt gets an equal share of the time left, so a hanging first server still leaves
    /// time for the second.
    async fn connect(&self, deadline: Instant) -> Result<Ldap, DirectoryError> {
        let urls = &self.settings.urls;
        let first = self.preferred_url.load(Ordering::Relaxed) % urls.len().max(1);
        let mut last_error = String::from("no ldap.urls configured");
        for (tried, index) in (0..urls.len())
            .map(|i| (first + i) % urls.len())
            .enumerate()
        {
            let left = remaining(deadline)?;
            let share = left / u32::try_from(urls.len() - tried).unwrap_or(1);
            let settings = LdapConnSettings::new().set_conn_timeout(share);
            match tokio::time::timeout(share, LdapConnAsync::with_settings(settings, &urls[index]))
                .await
            {
                Ok(Ok((driver, ldap))) => {
                    tokio::spawn(async move {
                        if let Err(error) = driver.drive().await {
                            tracing::debug!(%error, "directory connection closed");
                        }
                    });
                    self.connections_opened.fetch_add(1, Ordering::Relaxed);
                    if index != first {
                        tracing::warn!(url = %urls[index], "failed over to another directory server");
                    }
                    self.preferred_url.store(index, Ordering::Relaxed);
                    return Ok(ldap);
                }
                Ok(Err(error)) => last_error = format!("{}: {error}", urls[index]),
                Err(_) => last_error = format!("{}: connect timed out", urls[index]),
            }
            tracing::warn!(reason = %last_error, "directory server unreachable");
        }
        Err(DirectoryError::Unreachable(last_error))
    }
}

fn remaining(deadline: Instant) -> Result<Duration, DirectoryError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .ok_or_else(|| DirectoryError::Unreachable("the directory did not answer in time".into()))
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, DirectoryError> {
        if password.is_empty() {
            // A simple bind with an empty password is an anonymous bind: it would "succeed".
            return Err(DirectoryError::InvalidCredentials);
        }
        if !self.breaker.allow(Instant::now()) {
            return Err(DirectoryError::Unreachable(
                "the directory is failing; not trying for a while".into(),
            ));
        }
        let deadline = Instant::now() + self.settings.timeout;
        let result = match tokio::time::timeout(
            self.settings.timeout,
            self.login(username, password, deadline),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(DirectoryError::Unreachable(
                "the directory did not answer in time".into(),
            )),
        };
        match &result {
            Err(DirectoryError::Unreachable(_)) => {
                // A hung connection must not be reused by the next login.
                *self.service.lock().await = None;
                if let Ok(mut pool) = self.bind_pool.lock() {
                    pool.clear();
                }
                self.breaker.record_failure(Instant::now());
            }
            _ => self.breaker.record_success(),
        }
        result
    }

    fn breaker_state(&self) -> BreakerState {
        self.breaker.state(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_metacharacters_are_escaped() {
        assert_eq!(ldap_escape("*"), "\\2a");
        assert_eq!(ldap_escape(")(uid=*"), "\\29\\28uid=\\2a");
        assert_eq!(ldap_escape("a\\b\0"), "a\\5cb\\00");
        assert_eq!(ldap_escape("jânneke"), "jânneke");
    }
}
