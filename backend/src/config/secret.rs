//! Secrets in the settings: masked in every `Debug` output, taken as written whatever the
//! environment parser made of them (`BOARDCAST_CLUSTER_SECRET=123...` reads as a TOML
//! integer), and the cluster secret refused at start-up when it is short or a known example.

use std::fmt;

use serde::{de, Deserialize, Deserializer};

/// The fewest characters a configured `cluster_secret` may have: it signs media URLs and
/// internal calls, so it must not be guessable offline from one signed URL.
pub const MIN_CLUSTER_SECRET_LEN: usize = 32;

/// Values copied from documentation and templates; a node using one is as open as no secret.
const EXAMPLE_SECRETS: &[&str] = &[
    "change-me",
    "changeme",
    "secret",
    "<32+ random chars>",
    "the same long random string on every node",
];

/// A string that never appears in logs or `Debug` output.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_or_scalar(deserializer).map(Self)
    }
}

/// A string key's value as the operator wrote it, also when the environment parser read it
/// as a number or boolean (it keeps those only when they print back exactly as written).
pub fn string_or_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Scalar;
    impl de::Visitor<'_> for Scalar {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_string())
        }
        fn visit_i64<E: de::Error>(self, number: i64) -> Result<String, E> {
            Ok(number.to_string())
        }
        fn visit_u64<E: de::Error>(self, number: u64) -> Result<String, E> {
            Ok(number.to_string())
        }
        fn visit_f64<E: de::Error>(self, number: f64) -> Result<String, E> {
            Ok(number.to_string())
        }
        fn visit_bool<E: de::Error>(self, flag: bool) -> Result<String, E> {
            Ok(flag.to_string())
        }
    }
    deserializer.deserialize_any(Scalar)
}

/// Why a configured cluster secret is refused, if it is: `None` for an acceptable one.
pub fn weak_cluster_secret(secret: &str) -> Option<String> {
    let trimmed = secret.trim();
    if EXAMPLE_SECRETS
        .iter()
        .any(|example| trimmed.eq_ignore_ascii_case(example))
    {
        return Some("is an example value; generate one, e.g. `openssl rand -hex 32`".into());
    }
    let length = trimmed.chars().count();
    (length < MIN_CLUSTER_SECRET_LEN).then(|| {
        format!(
            "has {length} characters, at least {MIN_CLUSTER_SECRET_LEN} are needed \
             (e.g. `openssl rand -hex 32`)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_example_cluster_secrets_are_weak() {
        assert!(weak_cluster_secret("change-me").is_some());
        assert!(weak_cluster_secret("<32+ random chars>").is_some());
        assert!(weak_cluster_secret("the same long random string on every node").is_some());
        assert!(weak_cluster_secret(&"x".repeat(31)).is_some());
        assert!(weak_cluster_secret(&"x".repeat(32)).is_none());
    }
}
