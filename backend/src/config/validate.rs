//! The checks a node makes on its settings before it starts: values a type cannot refuse by
//! itself (an empty URL list, a zero lifetime, a weak cluster secret, an origin with a path),
//! each refused with a message that names the key.

use std::time::Duration;

use super::{secret::weak_cluster_secret, ConfigError, Settings};

/// The shortest history kept: two nodes that decided a board's next offset from the same
/// state collide on the event the first one appended, so it must outlive any such race.
const MIN_HISTORY_RETENTION: Duration = Duration::from_secs(60);

/// The longest `media.url_lifetime` accepted: a leaked media URL must stop working within
/// a bounded time, whatever the configuration says.
const MAX_MEDIA_URL_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database_url();
        if !url.is_sqlite() && !url.is_postgres() {
            return Err(ConfigError(
                "database_url: must start with sqlite:// or postgres://".into(),
            ));
        }
        if let Some(ldap) = &self.ldap {
            if ldap.urls.is_empty() {
                return Err(ConfigError("ldap.urls: at least one URL is needed".into()));
            }
            if !ldap.user_filter.contains("{username}") {
                return Err(ConfigError(
                    "ldap.user_filter: must contain {username}".into(),
                ));
            }
            if ldap.timeout.is_zero() {
                return Err(ConfigError("ldap.timeout: must be above zero".into()));
            }
        }
        if self.pairing.code_ttl.is_zero() {
            return Err(ConfigError("pairing.code_ttl: must be above zero".into()));
        }
        let auth = &self.auth;
        if auth.access_token_ttl.is_zero() || auth.refresh_token_ttl.is_zero() {
            return Err(ConfigError(
                "auth: token lifetimes must be above zero".into(),
            ));
        }
        let cluster_secret = self.cluster_secret.expose();
        if url.is_postgres() && cluster_secret.is_empty() {
            return Err(ConfigError(
                "cluster_secret: required when nodes share a PostgreSQL database (the same \
                 long random string on every node)"
                    .into(),
            ));
        }
        if let Some(reason) = Some(cluster_secret)
            .filter(|secret| !secret.is_empty())
            .and_then(weak_cluster_secret)
        {
            return Err(ConfigError(format!("cluster_secret: {reason}")));
        }
        if self.limits.login_lifetime.is_zero() {
            return Err(ConfigError(
                "limits.login_lifetime: must be above zero".into(),
            ));
        }
        if self.media.url_lifetime.is_zero() || self.media.url_lifetime > MAX_MEDIA_URL_LIFETIME {
            return Err(ConfigError(
                "media.url_lifetime: must be above zero and at most 30d (a signed URL handed \
                 out must stop working eventually)"
                    .into(),
            ));
        }
        for origin in &self.web.allowed_origins {
            if !is_origin(origin) {
                return Err(ConfigError(format!(
                    "web.allowed_origins: `{origin}` is not an origin; write \
                     scheme://host[:port] (e.g. https://boards.school.example), one per site"
                )));
            }
        }
        if self.realtime.history_retention < MIN_HISTORY_RETENTION {
            return Err(ConfigError(
                "realtime.history_retention: must be at least 1m (a board's recent events \
                 are how nodes appending at the same moment notice each other)"
                    .into(),
            ));
        }
        if self.limits.statement_timeout.is_zero() {
            return Err(ConfigError(
                "limits.statement_timeout: must be above zero".into(),
            ));
        }
        if self.media.sync_interval.is_zero() || self.media.sync_concurrency == 0 {
            return Err(ConfigError(
                "media: sync_interval and sync_concurrency must be above zero".into(),
            ));
        }
        Ok(())
    }
}

/// Whether `text` is what a browser sends in `Origin`: `http(s)://host[:port]`, nothing
/// after it but an optional `/`. Wildcards are refused: they would hand the teacher's
/// session cookie to any site.
fn is_origin(text: &str) -> bool {
    let text = text.strip_suffix('/').unwrap_or(text);
    let Some((scheme, authority)) = text.split_once("://") else {
        return false;
    };
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, "")) if address.parse::<std::net::Ipv6Addr>().is_ok() => (address, None),
            Some((address, rest)) if address.parse::<std::net::Ipv6Addr>().is_ok() => {
                let Some(port) = rest.strip_prefix(':') else {
                    return false;
                };
                (address, Some(port))
            }
            _ => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let is_host_char = |c: char| c.is_ascii_alphanumeric() || "-.:".contains(c);
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.chars().all(is_host_char)
        && port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0))
}
