//! Node settings: built-in defaults < TOML file (`--config`) < `BOARDCAST_*` environment.
//!
//! Every key of docs/configuration.md is accepted and nothing else: an unknown key or a bad value stops the
//! node at start with a message that names the key, so a typo never silently falls back to a
//! default in production.

mod limits;
mod secret;
mod units;

pub use self::limits::LimitsSettings;
pub use self::secret::Secret;
pub use crate::store::DatabaseUrl;
use crate::telemetry::LogFormat;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    providers::{Format, Serialized, Toml},
    value::{Dict, Map},
    Figment, Metadata, Profile, Provider,
};
use serde::Deserialize;

use self::{
    secret::{string_or_scalar, weak_cluster_secret},
    units::{byte_size, duration},
};

/// Prefix of environment variables that override file settings; `__` nests (`LDAP__URLS`).
const ENV_PREFIX: &str = "BOARDCAST_";

/// All settings of one node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    #[serde(deserialize_with = "string_or_scalar")]
    pub node_id: String,
    pub listen: SocketAddr,
    /// How clients and peers reach this node; empty means `http://` and the bound address.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// `None` means the SQLite file under `data_dir` (the embedded default).
    pub database_url: Option<DatabaseUrl>,
    pub peers: Vec<String>,
    /// PEM bundle trusted besides the system's roots for `https://` peers and the directory,
    /// for a school whose nodes have certificates from its own CA.
    pub tls_ca_file: Option<PathBuf>,
    pub cluster_secret: Secret,
    pub web: WebSettings,
    /// `None` selects the builtin user directory.
    pub ldap: Option<LdapSettings>,
    pub auth: AuthSettings,
    pub pairing: PairingSettings,
    pub realtime: RealtimeSettings,
    pub media: MediaSettings,
    pub limits: LimitsSettings,
    /// Serve `/metrics` on this address instead of `listen`, so it need not be public.
    pub metrics_listen: Option<SocketAddr>,
    /// After SIGTERM, how long the node may take to finish requests in flight and say goodbye
    /// to its sockets before it exits anyway, so a stuck or slow client cannot hold a
    /// restart hostage.
    #[serde(deserialize_with = "duration")]
    pub shutdown_drain: Duration,
    /// `auto` (text on a terminal, JSON otherwise), `json` or `text`.
    pub log_format: LogFormat,
}

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

/// The shortest history kept: two nodes that decided a board's next offset from the same
/// state collide on the event the first one appended, so it must outlive any such race.
const MIN_HISTORY_RETENTION: Duration = Duration::from_secs(60);

/// The longest `media.url_lifetime` accepted: a leaked media URL must stop working within
/// a bounded time, whatever the configuration says.
const MAX_MEDIA_URL_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

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

impl Default for Settings {
    fn default() -> Self {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        Self {
            node_id: default_node_id(),
            listen,
            public_url: String::new(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            peers: Vec::new(),
            tls_ca_file: None,
            cluster_secret: Secret::default(),
            web: WebSettings::default(),
            ldap: None,
            auth: AuthSettings::default(),
            pairing: PairingSettings::default(),
            realtime: RealtimeSettings::default(),
            media: MediaSettings::default(),
            limits: LimitsSettings::default(),
            metrics_listen: None,
            shutdown_drain: Duration::from_secs(10),
            log_format: LogFormat::Auto,
        }
    }
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

impl Settings {
    /// Loads defaults, then `file` if given, then the `BOARDCAST_*` environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        Self::from_sources(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment passed in so tests need not mutate it.
    pub fn from_sources(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut overrides = toml::Table::new();
        for (name, value) in env {
            if let Some(key) = name.strip_prefix(ENV_PREFIX) {
                apply_env_override(&mut overrides, key, &value)?;
            }
        }
        // The defaults are the types' own (`#[serde(default)]`), the first layer of every key.
        let mut layers = Figment::new();
        if let Some(path) = file {
            std::fs::metadata(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            layers = layers.merge(Toml::file_exact(path));
        }
        let settings: Settings = layers
            .merge(EnvOverrides(overrides))
            .extract()
            .map_err(|e| {
                ConfigError(one_line(&e.to_string()).replace("key \"default.", "key \""))
            })?;
        settings.validate()?;
        Ok(settings)
    }

    /// The database this node uses, defaulting to SQLite under `data_dir`.
    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url.clone().unwrap_or_else(|| {
            DatabaseUrl::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("boardcast.db").display()
            ))
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
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

/// Writes `value` at the `__`-separated `key` path, parsing it as a TOML value when it is one
/// (numbers, booleans, arrays) and as a plain string otherwise.
fn apply_env_override(table: &mut toml::Table, key: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError(format!("{ENV_PREFIX}{key}: `{part}` is not a table")))?;
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        // A scalar that would not print back as written (`0x10`, `1_000`, `+5`, or an integer
        // toml cannot hold) stays text, so a secret or name made of digits is never altered.
        .filter(|parsed| parsed.is_array() || parsed.is_table() || parsed.to_string() == value)
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    current.insert(last.clone(), parsed);
    Ok(())
}

/// The `BOARDCAST_*` variables as a layer over the file, read as [`apply_env_override`] says.
struct EnvOverrides(toml::Table);

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("{ENV_PREFIX}* environment"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.0).data()
    }
}

/// A setting that could not be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Messages may spread over lines; the CLI promises one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn default_node_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "boardcast".to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write_config(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn no_config_gives_the_embedded_default() {
        let settings = Settings::from_sources(None, env(&[])).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(settings.database_url().is_sqlite());
        assert!(settings.ldap.is_none());
    }

    #[test]
    fn environment_overrides_file_and_nests_with_double_underscore() {
        let file = write_config(
            "listen = \"127.0.0.1:9000\"\n[ldap]\nurls=[\"ldap://a\"]\nbind_dn=\"x\"\nbind_password=\"p\"\nuser_base=\"b\"\nteacher_group=\"t\"\nadmin_group=\"a\"\n",
        );
        let settings = Settings::from_sources(
            Some(file.path()),
            env(&[
                ("BOARDCAST_LISTEN", "127.0.0.1:9100"),
                ("BOARDCAST_LDAP__URLS", "[\"ldap://b\", \"ldap://c\"]"),
                ("BOARDCAST_LDAP__TIMEOUT", "250ms"),
                ("OTHER_VAR", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.listen.port(), 9100);
        let ldap = settings.ldap.unwrap();
        assert_eq!(ldap.urls, vec!["ldap://b", "ldap://c"]);
        assert_eq!(ldap.timeout, Duration::from_millis(250));
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let file = write_config("lisen = \"127.0.0.1:9000\"\n");
        let err = Settings::from_sources(Some(file.path()), env(&[])).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err =
            Settings::from_sources(None, env(&[("BOARDCAST_WEB__COOKIE_DOMAN", "x")])).unwrap_err();
        assert!(err.to_string().contains("cookie_doman"), "{err}");
    }

    #[test]
    fn bad_value_is_refused_by_name() {
        let err = Settings::from_sources(None, env(&[("BOARDCAST_LISTEN", "not-an-address")]))
            .unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err =
            Settings::from_sources(None, env(&[("BOARDCAST_AUTH__ACCESS_TOKEN_TTL", "soon")]))
                .unwrap_err();
        assert!(err.to_string().contains("access_token_ttl"), "{err}");
        let err = Settings::from_sources(None, env(&[("BOARDCAST_DATABASE_URL", "mysql://x")]))
            .unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
        let err = Settings::from_sources(
            None,
            env(&[("BOARDCAST_REALTIME__HISTORY_RETENTION", "10s")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("history_retention"), "{err}");
    }

    #[test]
    fn a_numeric_secret_from_the_environment_is_kept_as_written() {
        let digits = "12345678901234567890123456789012345";
        let settings =
            Settings::from_sources(None, env(&[("BOARDCAST_CLUSTER_SECRET", digits)])).unwrap();
        assert_eq!(settings.cluster_secret.expose(), digits);
        let short_digits = "4242424242424242424242424242424242";
        let settings = Settings::from_sources(
            None,
            env(&[
                ("BOARDCAST_CLUSTER_SECRET", short_digits),
                ("BOARDCAST_NODE_ID", "0042"),
                ("BOARDCAST_LIMITS__MAX_CONNECTIONS", "500"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.cluster_secret.expose(), short_digits);
        assert_eq!(settings.node_id, "0042");
        assert_eq!(settings.limits.max_connections, 500);
    }

    #[test]
    fn a_weak_cluster_secret_is_refused_by_name() {
        for weak in ["change-me", "short secret", "<32+ random chars>"] {
            let err = Settings::from_sources(None, env(&[("BOARDCAST_CLUSTER_SECRET", weak)]))
                .unwrap_err();
            assert!(err.to_string().contains("cluster_secret"), "{err}");
        }
    }

    #[test]
    fn an_invalid_allowed_origin_is_refused_by_name() {
        for bad in [
            "[\"*\"]",
            "[\"boards.school.example\"]",
            "[\"https://boards.school.example/app\"]",
            "[\"ftp://boards.school.example\"]",
            "[\"https://boards.school.example:99999\"]",
        ] {
            let err = Settings::from_sources(None, env(&[("BOARDCAST_WEB__ALLOWED_ORIGINS", bad)]))
                .unwrap_err();
            assert!(
                err.to_string().contains("web.allowed_origins"),
                "{bad}: {err}"
            );
        }
        let good = "[\"https://boards.school.example/\", \"http://127.0.0.1:5173\", \"http://[::1]:8080\"]";
        Settings::from_sources(None, env(&[("BOARDCAST_WEB__ALLOWED_ORIGINS", good)])).unwrap();
    }

    #[test]
    fn media_url_lifetime_is_bounded() {
        let err = Settings::from_sources(None, env(&[("BOARDCAST_MEDIA__URL_LIFETIME", "365d")]))
            .unwrap_err();
        assert!(err.to_string().contains("media.url_lifetime"), "{err}");
        let err = Settings::from_sources(None, env(&[("BOARDCAST_MEDIA__URL_LIFETIME", "0s")]))
            .unwrap_err();
        assert!(err.to_string().contains("media.url_lifetime"), "{err}");
    }

    #[test]
    fn secrets_are_masked_in_debug_output() {
        let settings = Settings::from_sources(
            None,
            env(&[
                (
                    "BOARDCAST_CLUSTER_SECRET",
                    "hunter2-hunter2-hunter2-hunter2-hunter2",
                ),
                (
                    "BOARDCAST_DATABASE_URL",
                    "postgres://app:pw123@db/boardcast",
                ),
            ]),
        )
        .unwrap();
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw123"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db/boardcast"), "{shown}");
    }
}
