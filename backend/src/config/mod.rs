//! Node settings: built-in defaults < TOML file (`--config`) < `BOARDCAST_*` environment.
//!
//! Every key of docs/configuration.md is accepted and nothing else: an unknown key or a bad value stops the
//! node at start with a message that names the key, so a typo never silently falls back to a
//! default in production.

mod env;
mod limits;
mod secret;
mod sections;
mod units;
mod validate;

pub use self::limits::LimitsSettings;
pub use self::secret::Secret;
pub use self::sections::{
    AuthSettings, LdapSettings, MediaSettings, PairingSettings, RealtimeSettings, WebSettings,
};
pub use crate::store::DatabaseUrl;
use crate::telemetry::LogFormat;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    providers::{Format, Toml},
    Figment,
};
use serde::Deserialize;

use self::{
    env::{apply_env_override, EnvOverrides},
    secret::string_or_scalar,
    units::duration,
};

/// Prefix of environment variables that override file settings; `__` nests (`LDAP__URLS`).
const ENV_PREFIX: &str = "BOARDCAST_";

/// The variable that may give the settings file instead of `--config`.
pub const CONFIG_FILE_VARIABLE: &str = "BOARDCAST_CONFIG_FILE";

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
            // `BOARDCAST_CONFIG_FILE` names the file (the command line's `--config`), not a key.
            if name == CONFIG_FILE_VARIABLE {
                continue;
            }
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
    fn the_variable_naming_the_settings_file_is_not_taken_for_a_key() {
        let settings = Settings::from_sources(
            None,
            env(&[("BOARDCAST_CONFIG_FILE", "/etc/boardcast/boardcast.toml")]),
        )
        .unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
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
