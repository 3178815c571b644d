//! Signed media URLs: `/media/{sha256}?exp=..&sig=..`. `<img>` and `<video>` cannot send a
//! bearer token, so the URL itself is the permission, signed with the cluster secret so any
//! node (and a CDN in front of them) can honour it. Expiry is rounded up to a whole day, so
//! the URL of a blob stays the same all day and browsers and CDNs reuse their cached copy.

use std::time::Duration;

use boardcast_sync::ClusterKey;

const PURPOSE: &str = "media";
const DAY_SECS: u64 = 24 * 3600;

/// A media URL's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUrl {
    pub sha256: String,
    pub expires: u64,
    pub signature: String,
}

impl MediaUrl {
    /// Signs a URL valid for at least `lifetime` from `now` (unix seconds).
    pub fn sign(key: &ClusterKey, sha256: &str, lifetime: Duration, now: u64) -> Self {
        let expires = (now + lifetime.as_secs()).div_ceil(DAY_SECS) * DAY_SECS;
        Self {
            sha256: sha256.to_string(),
            expires,
            signature: key.sign(PURPOSE, sha256, expires),
        }
    }

    /// The path and query, relative to a node's `public_url`.
    pub fn path(&self) -> String {
        format!(
            "/media/{}?exp={}&sig={}",
            self.sha256, self.expires, self.signature
        )
    }

    /// Whether the signature is the cluster's and still valid at `now`.
    pub fn is_valid(&self, key: &ClusterKey, now: u64) -> bool {
        key.verify(PURPOSE, &self.sha256, self.expires, &self.signature, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_123;

    #[test]
    fn a_signed_url_is_valid_until_its_day_ends_and_stable_within_a_day() {
        let key = ClusterKey::new("secret");
        let lifetime = Duration::from_secs(7 * DAY_SECS);
        let url = MediaUrl::sign(&key, "ab", lifetime, NOW);
        assert!(url.expires >= NOW + lifetime.as_secs());
        assert!(url.expires < NOW + lifetime.as_secs() + DAY_SECS);
        assert_eq!(MediaUrl::sign(&key, "ab", lifetime, NOW + 60), url);
        assert!(url.is_valid(&key, NOW));
        assert!(!url.is_valid(&key, url.expires + 1));
        assert!(url.path().starts_with("/media/ab?exp="));
    }

    #[test]
    fn a_tampered_url_is_refused() {
        let key = ClusterKey::new("secret");
        let url = MediaUrl::sign(&key, "ab", Duration::from_secs(60), NOW);
        let other_blob = MediaUrl {
            sha256: "cd".into(),
            ..url.clone()
        };
        let longer = MediaUrl {
            expires: url.expires + DAY_SECS,
            ..url.clone()
        };
        assert!(!other_blob.is_valid(&key, NOW));
        assert!(!longer.is_valid(&key, NOW));
        assert!(!url.is_valid(&ClusterKey::new("guess"), NOW));
    }
}
