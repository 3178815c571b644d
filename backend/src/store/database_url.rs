//! The database a node uses, named by URL (`sqlite://...` or `postgres://...`), kept so that
//! printing it, in a log line or a settings dump, never shows its password.

use std::fmt;

use serde::Deserialize;

/// A database URL whose `Debug` hides the password.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let credentials = &self.0[scheme_end + 3..at];
                let user = credentials.split(':').next().unwrap_or_default();
                write!(
                    f,
                    "\"{}{user}:***{}\"",
                    &self.0[..scheme_end + 3],
                    &self.0[at..]
                )
            }
            _ => write!(f, "{:?}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password_and_keeps_the_rest() {
        let url = DatabaseUrl::new("postgres://app:pw123@db:5432/boardcast");
        assert_eq!(
            format!("{url:?}"),
            "\"postgres://app:***@db:5432/boardcast\""
        );
        let file = DatabaseUrl::new("sqlite://./data/boardcast.db");
        assert_eq!(format!("{file:?}"), "\"sqlite://./data/boardcast.db\"");
    }
}
