//! Times on the wire: docs/api.md writes every time as an RFC 3339 UTC string, while boardcast
//! keeps milliseconds since the epoch. The conversions live here, for HTTP bodies and
//! websocket frames alike.

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// `millis` as RFC 3339, UTC.
pub fn to_rfc3339(millis: i64) -> String {
    OffsetDateTime::UNIX_EPOCH
        .checked_add(time::Duration::milliseconds(millis))
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{millis}ms"))
}

/// Milliseconds since the epoch of an RFC 3339 time, or `None` if it is not one.
pub fn from_rfc3339(text: &str) -> Option<i64> {
    let time = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `#[serde(serialize_with = "crate::wire_time::serialize")]` for an `i64` of milliseconds.
pub fn serialize<S: serde::Serializer>(millis: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&to_rfc3339(*millis))
}

/// `#[serde(with = "crate::wire_time::optional")]` for an `Option<i64>` of milliseconds.
pub mod optional {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(millis) => serializer.serialize_some(&super::to_rfc3339(*millis)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                super::from_rfc3339(&text)
                    .ok_or_else(|| D::Error::custom(format!("{text:?} is not an RFC 3339 time")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_and_read_back() {
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(to_rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(
            from_rfc3339("2026-11-18T11:06:40.123Z"),
            Some(1_795_000_000_123)
        );
        assert_eq!(
            from_rfc3339("2026-11-18T12:06:40.123+01:00"),
            Some(1_795_000_000_123)
        );
        assert_eq!(from_rfc3339("yesterday"), None);
    }
}
