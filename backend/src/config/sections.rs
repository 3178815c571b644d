//! The tables of the settings (`[web]`, `[ldap]`, `[auth]`, `[pairing]`, `[realtime]`,
//! `[media]`) with their defaults; docs/configuration.md says what each key means, and a test
//! holds it to these types.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{
    secret::Secret,
    units::{byte_size, duration},
};

/// Browser-facing settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Serve the browser app from this directory; unset, the app built into the binary.
    pub static_dir: Option<PathBuf>,
    pub allowed_origins: Vec<String>,
    pub cookie_domain: String,
    /// Reverse proxies (e.g. nginx) whose `X-Forwarded-For` tells the real client address;
    /// without this every client behind the proxy would share one login-failure budget.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// PEM certificate chain and key: with both set the node serves https itself, for
    /// schools without a TLS-terminating proxy.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The school directory; see docs/configuration.md for the meaning of each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    pub urls: Vec<String>,
    pub bind_dn: String,
    pub bind_password: Secret,
    pub user_base: String,
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    #[serde(default = "default_display_name_attribute")]
    pub display_name_attribute: String,
    pub teacher_group: String,
    pub admin_group: String,
    #[serde(default = "default_ldap_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// How long the member lists of the role groups are reused; a change of membership
    /// counts for new logins within this window (`0s`: read on every login).
    #[serde(default = "default_role_cache", deserialize_with = "duration")]
    pub role_cache: Duration,
    /// PEM bundle trusted for `ldaps://` and StartTLS besides the system's roots, for
    /// directories with a certificate from the school's own CA.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Upgrade `ldap://` URLs with StartTLS before anything is sent; a server that cannot
    /// is refused rather than used in clear.
    #[serde(default)]
    pub starttls: bool,
}

/// Boards and pairing codes (all optional; see docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairingSettings {
    /// How long a pairing code shown on a board stays valid.
    #[serde(deserialize_with = "duration")]
    pub code_ttl: Duration,
    /// Wrong codes allowed per teacher per `failure_window`, then 429.
    pub max_failures_per_user: u32,
    /// Wrong codes allowed per client address per `failure_window`, then 429.
    pub max_failures_per_address: u32,
    #[serde(deserialize_with = "duration")]
    pub failure_window: Duration,
    /// Board registrations allowed per client address per hour.
    pub max_boards_per_address_per_hour: u32,
    /// Boards never paired are removed once this old.
    #[serde(deserialize_with = "duration")]
    pub unpaired_board_ttl: Duration,
}

impl Default for PairingSettings {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(10 * 60),
            max_failures_per_user: 10,
            max_failures_per_address: 30,
            failure_window: Duration::from_secs(15 * 60),
            max_boards_per_address_per_hour: 30,
            unpaired_board_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The boards' event logs (all optional; see docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeSettings {
    /// Events older than this are trimmed; a client resuming from before them gets the
    /// board's state (`reset`), and a command id re-sent after it counts as new.
    #[serde(deserialize_with = "duration")]
    pub history_retention: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self {
            history_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Uploaded media and their copies on every node (all optional; see docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// The largest upload accepted (413 above), in bytes or with a unit (`500MiB`).
    #[serde(deserialize_with = "byte_size")]
    pub max_upload_size: u64,
    /// How often a node looks for blobs it lacks and fetches them from its peers. Uploads
    /// other nodes announce are fetched at once; this catches what a node was not told of.
    #[serde(deserialize_with = "duration")]
    pub sync_interval: Duration,
    /// Blobs fetched from peers at once.
    pub sync_concurrency: usize,
    /// A blob no upload refers to any more is deleted once unreferenced this long.
    #[serde(deserialize_with = "duration")]
    pub gc_grace: Duration,
    /// How long a signed media URL stays valid (at least; URLs are stable for a day, so
    /// browsers and CDNs cache them).
    #[serde(deserialize_with = "duration")]
    pub url_lifetime: Duration,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_upload_size: 500 << 20,
            sync_interval: Duration::from_secs(10),
            sync_concurrency: 4,
            gc_grace: Duration::from_secs(3600),
            url_lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Token lifetimes and login throttling (all optional; see docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    #[serde(deserialize_with = "duration")]
    pub access_token_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub refresh_token_ttl: Duration,
    /// How long a node may trust a token it has already checked; revocation takes at most this.
    #[serde(deserialize_with = "duration")]
    pub token_cache_window: Duration,
    /// While the directory cannot be reached, a login whose account it last confirmed within
    /// this long may still refresh from the stored identity; never past `login_lifetime`.
    #[serde(deserialize_with = "duration")]
    pub directory_grace: Duration,
    /// Failed logins allowed per username per `login_failure_window`.
    pub max_failures_per_user: u32,
    /// Failed logins allowed per client address per `login_failure_window`.
    pub max_failures_per_address: u32,
    #[serde(deserialize_with = "duration")]
    pub login_failure_window: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            token_cache_window: Duration::from_secs(5),
            directory_grace: Duration::from_secs(3600),
            max_failures_per_user: 10,
            max_failures_per_address: 50,
            login_failure_window: Duration::from_secs(15 * 60),
        }
    }
}

fn default_user_filter() -> String {
    "(&(objectClass=inetOrgPerson)(uid={username}))".to_string()
}

fn default_display_name_attribute() -> String {
    "cn".to_string()
}

fn default_ldap_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_role_cache() -> Duration {
    Duration::from_secs(30)
}
