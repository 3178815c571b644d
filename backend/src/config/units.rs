//! Human units in settings: durations (`5s`, `10m`, `1h 30m`, read by humantime) and sizes
//! (`500MiB`, `2GB`, read by bytesize), so an operator never counts zeros.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Reads durations written as `250ms`, `5s`, `10m`, `12h`, `30d` or combined (`1h 30m`).
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration (write e.g. 500ms, 5s, 10m, 12h, 30d)"
        ))
    })
}

fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// Reads sizes written as a number of bytes or with a unit: `64KiB`, `500MiB`, `2GiB`
/// (or `kB`, `MB`, `GB` in powers of ten).
pub fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Bytes(u64),
        Text(String),
    }
    match Written::deserialize(deserializer)? {
        Written::Bytes(bytes) => Ok(bytes),
        Written::Text(text) => parse_byte_size(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a size (write e.g. 65536, 64KiB, 500MiB, 2GiB)"
            ))
        }),
    }
}

fn parse_byte_size(text: &str) -> Option<u64> {
    let size: bytesize::ByteSize = text.trim().parse().ok()?;
    // Too large a number saturates; a limit of "everything" was never what was meant.
    Some(size.as_u64()).filter(|bytes| *bytes != u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_byte_size("500MiB"), Some(500 << 20));
        assert_eq!(parse_byte_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_byte_size("10 kB"), Some(10_000));
        assert_eq!(parse_byte_size("123"), Some(123));
        assert_eq!(parse_byte_size("12XB"), None);
        assert_eq!(parse_byte_size("MiB"), None);
        assert_eq!(parse_byte_size("99999999999GiB"), None);
    }
}
