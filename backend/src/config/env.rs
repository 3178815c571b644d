//! The `BOARDCAST_*` environment as the last layer of the settings: `__` nests
//! (`BOARDCAST_LDAP__URLS`), and values keep the operator's spelling unless they are plainly
//! TOML (so a secret or a name made of digits is never altered).

use figment::{
    providers::Serialized,
    value::{Dict, Map},
    Metadata, Profile, Provider,
};

use super::{ConfigError, ENV_PREFIX};

/// Writes `value` at the `__`-separated `key` path, parsing it as a TOML value when it is one
/// (numbers, booleans, arrays) and as a plain string otherwise.
pub(super) fn apply_env_override(
    table: &mut toml::Table,
    key: &str,
    value: &str,
) -> Result<(), ConfigError> {
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
pub(super) struct EnvOverrides(pub(super) toml::Table);

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("{ENV_PREFIX}* environment"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.0).data()
    }
}
