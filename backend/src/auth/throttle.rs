//! Limits failed logins per username and per client address, across the whole cluster (see
//! `limiter`), with keys that a guesser cannot multiply: usernames compared as the directory
//! would, IPv6 addresses grouped by their /64.

use std::net::{IpAddr, Ipv6Addr};

use unicode_normalization::UnicodeNormalization;

use crate::{
    config::AuthSettings,
    limiter::{Reserved, Throttled, WindowLimit},
    store::{Budget, Store, StoreResult},
};

/// Failed logins per username and per address.
#[derive(Clone)]
pub struct LoginThrottle {
    limit: WindowLimit,
    per_user: i64,
    per_address: i64,
}

/// A login's reserved attempt, and whose.
#[derive(Debug)]
pub struct LoginAttempt {
    reserved: Reserved,
    user_key: String,
}

impl LoginThrottle {
    pub fn new(store: Store, settings: &AuthSettings) -> Self {
        Self {
            limit: WindowLimit::new(store, settings.login_failure_window),
            per_user: i64::from(settings.max_failures_per_user),
            per_address: i64::from(settings.max_failures_per_address),
        }
    }

    /// Counts the login as a failure in advance; `Err(Throttled)` when the username or the
    /// address has no failures left.
    pub async fn reserve(
        &self,
        username: &str,
        address: IpAddr,
        now: i64,
    ) -> StoreResult<Result<LoginAttempt, Throttled>> {
        let user_key = user_key(username);
        let address_key = address_key("addr", address);
        let budgets = [
            Budget {
                key: &user_key,
                max: self.per_user,
            },
            Budget {
                key: &address_key,
                max: self.per_address,
            },
        ];
        Ok(self
            .limit
            .reserve(&budgets, now)
            .await?
            .map(|reserved| LoginAttempt { reserved, user_key }))
    }

    /// The login did not fail (the directory could not tell, or it was not a wrong
    /// password): it counts against nobody.
    pub async fn refund(&self, attempt: LoginAttempt) -> StoreResult<()> {
        self.limit.refund(attempt.reserved).await
    }

    /// A successful login forgets the user's failures and gives the address its attempt back
    /// (but not the address's other failures: one good password must not reset a guesser's
    /// budget for other accounts).
    pub async fn succeeded(&self, attempt: LoginAttempt) -> StoreResult<()> {
        self.limit
            .succeeded(attempt.reserved, &attempt.user_key)
            .await
    }
}

/// The budget key of a username, compared as an LDAP directory compares `uid`
/// (caseIgnoreMatch): compatibility-normalised (NFKC), trimmed, inner runs of spaces
/// collapsed, lowercased. So `Teacher`, ` teacher ` and `ｔｅａｃｈｅｒ` share one budget.
pub fn user_key(username: &str) -> String {
    let normalised: String = username.nfkc().collect();
    let words: Vec<&str> = normalised.split_whitespace().collect();
    format!("user:{}", words.join(" ").to_lowercase())
}

/// The budget key of a client address under `kind`. An IPv4 client seen through an IPv6
/// socket (`::ffff:1.2.3.4`) is the IPv4 address; IPv6 clients are grouped by /64, the block
/// one site or device is usually given, so hopping addresses within it gains nothing.
pub fn address_key(kind: &str, address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("{kind}:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{kind}:{v4}"),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                let network = Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0);
                format!("{kind}:{network}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_differing_in_case_spaces_or_width_share_a_key() {
        let key = user_key("teacher");
        for variant in [
            "Teacher",
            " teacher ",
            "TEACHER\t",
            "ｔｅａｃｈｅｒ",
            "Ｔeacher",
        ] {
            assert_eq!(user_key(variant), key, "{variant:?}");
        }
        assert_eq!(user_key("  jan   de\u{3000}vries "), "user:jan de vries");
        assert_ne!(user_key("teacher2"), key);
    }

    #[test]
    fn mapped_ipv4_is_the_ipv4_address() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let plain: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key("addr", mapped), "addr:192.0.2.7");
        assert_eq!(address_key("addr", plain), "addr:192.0.2.7");
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let next: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key("addr", one), "addr:2001:db8:1:2::/64");
        assert_eq!(address_key("addr", one), address_key("addr", other));
        assert_ne!(address_key("addr", one), address_key("addr", next));
    }
}
