//! The cluster secret as a signing key. Nodes never send the secret itself: internal requests
//! and media URLs carry an HMAC-SHA256 over what they ask for and until when, which any node
//! holding the same secret can check, and which is useless for anything else once it expires.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying a node's proof of the cluster secret on `/internal/` requests.
pub const CLUSTER_AUTH_HEADER: &str = "x-boardcast-cluster";

/// How long a signed internal request stays valid: long enough for clock skew between nodes.
pub const INTERNAL_REQUEST_TTL_SECS: u64 = 60;

/// The shared secret of the cluster, able to sign and check.
#[derive(Clone)]
pub struct ClusterKey {
    /// The HMAC state after absorbing the key; each signature starts from a copy.
    keyed: HmacSha256,
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(***)")
    }
}

impl ClusterKey {
    #[allow(clippy::expect_used)]
    pub fn new(secret: &str) -> Self {
        Self {
            keyed: HmacSha256::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// Hex HMAC of `purpose`, `subject` and `expires` (unix seconds). The purpose keeps a
    /// signature made for one use (a media URL) from being replayed for another.
    pub fn sign(&self, purpose: &str, subject: &str, expires: u64) -> String {
        hex::encode(self.mac(purpose, subject, expires).finalize().into_bytes())
    }

    /// Whether `signature` was made by [`sign`](Self::sign) with these inputs and has not
    /// expired at `now` (unix seconds). Compared in constant time.
    pub fn verify(
        &self,
        purpose: &str,
        subject: &str,
        expires: u64,
        signature: &str,
        now: u64,
    ) -> bool {
        let Ok(tag) = hex::decode(signature) else {
            return false;
        };
        expires >= now
            && self
                .mac(purpose, subject, expires)
                .verify_slice(&tag)
                .is_ok()
    }

    /// The value of [`CLUSTER_AUTH_HEADER`] for a request to `path`: `expires.signature`.
    pub fn authorize(&self, path: &str, now: u64) -> String {
        let expires = now + INTERNAL_REQUEST_TTL_SECS;
        format!("{expires}.{}", self.sign("internal", path, expires))
    }

    /// Checks a [`CLUSTER_AUTH_HEADER`] value for a request to `path`.
    pub fn is_authorized(&self, path: &str, header: &str, now: u64) -> bool {
        let Some((expires, signature)) = header.split_once('.') else {
            return false;
        };
        let Ok(expires) = expires.parse::<u64>() else {
            return false;
        };
        expires <= now + 2 * INTERNAL_REQUEST_TTL_SECS
            && self.verify("internal", path, expires, signature, now)
    }

    fn mac(&self, purpose: &str, subject: &str, expires: u64) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        for part in [purpose.as_bytes(), b"\n", subject.as_bytes(), b"\n"] {
            mac.update(part);
        }
        mac.update(expires.to_string().as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_signature_holds_only_for_what_was_signed_until_it_expires() {
        let key = ClusterKey::new("secret");
        let signature = key.sign("media", "abc", NOW + 10);
        assert!(key.verify("media", "abc", NOW + 10, &signature, NOW));
        assert!(key.verify("media", "abc", NOW + 10, &signature, NOW + 10));
        assert!(!key.verify("media", "abc", NOW + 10, &signature, NOW + 11));
        assert!(!key.verify("media", "abd", NOW + 10, &signature, NOW));
        assert!(!key.verify("media", "abc", NOW + 11, &signature, NOW));
        assert!(!key.verify("internal", "abc", NOW + 10, &signature, NOW));
        assert!(!ClusterKey::new("other").verify("media", "abc", NOW + 10, &signature, NOW));
        assert!(!key.verify("media", "abc", NOW + 10, "zz", NOW));
    }

    #[test]
    fn internal_requests_are_bound_to_their_path_and_short_lived() {
        let key = ClusterKey::new("secret");
        let header = key.authorize("/internal/blobs/x", NOW);
        assert!(key.is_authorized("/internal/blobs/x", &header, NOW));
        assert!(!key.is_authorized("/internal/blobs/y", &header, NOW));
        assert!(!key.is_authorized("/internal/blobs/x", &header, NOW + 61));
        assert!(!key.is_authorized("/internal/blobs/x", "garbage", NOW));
        // A signature reaching far into the future was not made by a node: refused.
        let far = NOW + 3600;
        let forged = format!("{far}.{}", key.sign("internal", "/internal/blobs/x", far));
        assert!(!key.is_authorized("/internal/blobs/x", &forged, NOW));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        assert_eq!(
            format!("{:?}", ClusterKey::new("hunter2")),
            "ClusterKey(***)"
        );
    }
}
