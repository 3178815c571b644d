//! Boards and pairing. A board registers once and keeps an id and a secret; it shows a
//! short-lived, one-time 6-digit code; a teacher who types the code gets a pairing, which lets
//! them steer that board until either side deletes it.
//!
//! A code is only 20 bits, so guessing is bounded cluster-wide per teacher and per address
//! (README has the arithmetic), codes expire and are replaced, and a code pairs once.

use std::{net::IpAddr, time::Duration};

use rand::Rng;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    auth::{
        address_key,
        tokens::{digest, mint},
    },
    config::PairingSettings,
    limiter::{Throttled, WindowLimit},
    store::{duration_millis, BoardRow, BoardSnapshot, Budget, PairingRow, Store, StoreError},
    text, wire_id,
};

/// Board registrations are budgeted per address per this window (an hour).
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(3600);

/// A board heard from within this long counts as online.
pub const ONLINE_WINDOW: Duration = Duration::from_secs(60);

/// A board's calls record "seen" at most this often: well inside [`ONLINE_WINDOW`], without
/// a database write on every call.
const SEEN_RESOLUTION: Duration = Duration::from_secs(15);

/// The longest board name or pairing label kept; longer ones are refused.
pub const MAX_NAME_CHARS: usize = 100;

/// How often a new random code may collide with a live one before giving up (with a few
/// hundred live codes among a million, one retry is already rare).
const CODE_ATTEMPTS: usize = 20;

/// Why a board or pairing request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// 404 `invalid_code`: unknown, expired and spent codes look the same.
    #[error("this code is not valid; check the code the board shows")]
    InvalidCode,
    /// 400: a name, label or code that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// 404: no such pairing for this caller.
    #[error("no such pairing")]
    NoSuchPairing,
    /// 429 with `Retry-After`.
    #[error("too many attempts")]
    Throttled(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new board's credentials, shown to it once.
#[derive(Debug, Clone)]
pub struct RegisteredBoard {
    pub board_id: String,
    pub board_secret: String,
}

/// A code for a board to show.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: i64,
}

/// Who asks to see a board: the board itself (by its id), or a person.
#[derive(Debug, Clone, Copy)]
pub enum BoardReader<'a> {
    Board(&'a str),
    Person {
        user_id: &'a str,
        is_teacher: bool,
        is_admin: bool,
    },
}

/// Registers boards, issues codes, pairs and unpairs.
#[derive(Clone)]
pub struct Boards {
    store: Store,
    code_ttl: Duration,
    registrations: WindowLimit,
    registrations_per_address: i64,
    guesses: WindowLimit,
    guesses_per_user: i64,
    guesses_per_address: i64,
}

impl Boards {
    pub fn new(store: Store, settings: &PairingSettings) -> Self {
        Self {
            registrations: WindowLimit::new(store.clone(), REGISTRATION_WINDOW),
            registrations_per_address: i64::from(settings.max_boards_per_address_per_hour),
            guesses: WindowLimit::new(store.clone(), settings.failure_window),
            guesses_per_user: i64::from(settings.max_failures_per_user),
            guesses_per_address: i64::from(settings.max_failures_per_address),
            code_ttl: settings.code_ttl,
            store,
        }
    }

    /// Registers a board for a client at `address` (limited per address, so a script cannot
    /// fill the database).
    pub async fn register(
        &self,
        name: Option<&str>,
        address: IpAddr,
        now: i64,
    ) -> Result<RegisteredBoard, PairingError> {
        let name = clean_name(name, "name")?;
        let key = address_key("board-addr", address);
        let budget = Budget {
            key: &key,
            max: self.registrations_per_address,
        };
        // Every registration counts, so the slot is never given back.
        if let Err(throttled) = self.registrations.reserve(&[budget], now).await? {
            return Err(PairingError::Throttled(throttled.retry_after));
        }
        let id = Uuid::new_v4().to_string();
        let secret = mint();
        let board = BoardRow {
            name: name.unwrap_or_else(|| format!("Board {}", &id[..4])),
            id,
            secret_digest: digest(&secret),
            created_at: now,
            last_seen_at: now,
        };
        self.store.create_board(&board).await?;
        tracing::info!(board.id = %board.id, "board registered");
        Ok(RegisteredBoard {
            board_id: board.id,
            board_secret: secret,
        })
    }

    /// The board whose id and secret these are, marked as seen; `None` when they do not match.
    pub async fn authenticate(
        &self,
        board_id: &str,
        secret: &str,
        now: i64,
    ) -> Result<Option<BoardRow>, PairingError> {
        let Some(board_id) = wire_id::canonical(board_id) else {
            return Ok(None);
        };
        let Some(board) = self.store.find_board(&board_id).await? else {
            return Ok(None);
        };
        if !same_digest(&board.secret_digest, &digest(secret)) {
            return Ok(None);
        }
        if now - board.last_seen_at >= duration_millis(SEEN_RESOLUTION) {
            self.store.touch_board(&board_id, now).await?;
        }
        Ok(Some(board))
    }

    /// Records that the board is connected (its socket calls this while open).
    pub async fn seen(&self, board_id: &str, now: i64) -> Result<(), PairingError> {
        Ok(self.store.touch_board(board_id, now).await?)
    }

    /// A fresh code for the board, replacing the one it showed before.
    pub async fn issue_code(&self, board_id: &str, now: i64) -> Result<IssuedCode, PairingError> {
        let expires_at = now + duration_millis(self.code_ttl);
        for _ in 0..CODE_ATTEMPTS {
            let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
            if self
                .store
                .issue_pairing_code(board_id, &code, expires_at, now)
                .await?
            {
                return Ok(IssuedCode { code, expires_at });
            }
        }
        Err(PairingError::Store(StoreError::Other(
            "no free pairing code after many attempts".into(),
        )))
    }

    /// Pairs the teacher `user_id` with the board showing `code`. Each wrong code counts
    /// against the teacher and the address; either budget spent means 429 until the window
    /// ends, right code or not.
    pub async fn pair(
        &self,
        user_id: &str,
        code: &str,
        label: Option<&str>,
        address: IpAddr,
        now: i64,
    ) -> Result<PairingRow, PairingError> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PairingError::Invalid("a code is six digits".into()));
        }
        let label = clean_name(label, "label")?;
        let user_key = format!("pair-user:{user_id}");
        let address_key = address_key("pair-addr", address);
        let budgets = [
            Budget {
                key: &user_key,
                max: self.guesses_per_user,
            },
            Budget {
                key: &address_key,
                max: self.guesses_per_address,
            },
        ];
        // Counted as a wrong code before the code is looked at, so parallel guesses cannot
        // all slip through while the counters still read low.
        let reserved = match self.guesses.reserve(&budgets, now).await? {
            Ok(reserved) => reserved,
            Err(Throttled { retry_after }) => {
                tracing::info!(?retry_after, "pairing attempt throttled");
                return Err(PairingError::Throttled(retry_after));
            }
        };
        let pairing_id = Uuid::new_v4().to_string();
        let paired = self
            .store
            .pair_with_code(code, &pairing_id, user_id, label.as_deref(), now)
            .await;
        match paired {
            Ok(Some(pairing)) => {
                self.guesses.refund(reserved).await?;
                tracing::info!(pairing.id = %pairing.id, board.id = %pairing.board_id, "board paired");
                Ok(pairing)
            }
            Ok(None) => {
                tracing::info!("pairing refused: invalid code");
                Err(PairingError::InvalidCode)
            }
            Err(error) => {
                self.guesses.refund(reserved).await?;
                Err(error.into())
            }
        }
    }

    /// The board and where its log stands, if `reader` may see it: the board itself, an
    /// admin, or a teacher paired with it. Anyone else is told there is no such board, so
    /// board ids cannot be probed.
    pub async fn visible(
        &self,
        reader: BoardReader<'_>,
        board_id: &str,
    ) -> Result<Option<(BoardRow, BoardSnapshot)>, PairingError> {
        let allowed = match reader {
            BoardReader::Board(own_id) => own_id == board_id,
            BoardReader::Person { is_admin: true, .. } => true,
            BoardReader::Person {
                user_id,
                is_teacher: true,
                ..
            } => self.store.is_paired(user_id, board_id).await?,
            BoardReader::Person { .. } => false,
        };
        if !allowed {
            return Ok(None);
        }
        let Some(board) = self.store.find_board(board_id).await? else {
            return Ok(None);
        };
        let snapshot = self.store.board_snapshot(&board.id).await?;
        Ok(Some((board, snapshot)))
    }

    /// Whether anyone is paired with the board (a board nobody is paired with shows a code).
    pub async fn has_pairings(&self, board_id: &str) -> Result<bool, PairingError> {
        Ok(self.store.board_has_pairings(board_id).await?)
    }

    /// The pairing if it is the teacher `user_id`'s; someone else's is as good as none.
    pub async fn pairing_of(
        &self,
        user_id: &str,
        pairing_id: &str,
    ) -> Result<Option<PairingRow>, PairingError> {
        let pairing = self.store.find_pairing(pairing_id).await?;
        Ok(pairing.filter(|pairing| pairing.user_id == user_id))
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<PairingRow>, PairingError> {
        Ok(self.store.list_pairings(user_id).await?)
    }

    /// Deletes a pairing of the teacher `user_id`; someone else's is `NoSuchPairing` too, so
    /// pairing ids cannot be probed.
    pub async fn unpair_as_teacher(
        &self,
        user_id: &str,
        pairing_id: &str,
    ) -> Result<PairingRow, PairingError> {
        self.unpair(pairing_id, |pairing| pairing.user_id == user_id)
            .await
    }

    /// Deletes a pairing of the board `board_id` (its "not me" button).
    pub async fn unpair_as_board(
        &self,
        board_id: &str,
        pairing_id: &str,
    ) -> Result<PairingRow, PairingError> {
        self.unpair(pairing_id, |pairing| pairing.board_id == board_id)
            .await
    }

    async fn unpair(
        &self,
        pairing_id: &str,
        may_delete: impl Fn(&PairingRow) -> bool,
    ) -> Result<PairingRow, PairingError> {
        let pairing = self
            .store
            .find_pairing(pairing_id)
            .await?
            .filter(|pairing| may_delete(pairing))
            .ok_or(PairingError::NoSuchPairing)?;
        if !self.store.delete_pairing(pairing_id).await? {
            return Err(PairingError::NoSuchPairing);
        }
        tracing::info!(pairing.id = %pairing.id, board.id = %pairing.board_id, "pairing deleted");
        Ok(pairing)
    }
}

/// Whether a board last seen at `last_seen_at` counts as online at `now`.
pub fn is_online(last_seen_at: i64, now: i64) -> bool {
    now - last_seen_at < duration_millis(ONLINE_WINDOW)
}

/// A trimmed name, or `None` when absent or blank; too long or with control characters is an
/// error naming `field`.
fn clean_name(name: Option<&str>, field: &str) -> Result<Option<String>, PairingError> {
    let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PairingError::Invalid(format!(
            "{field} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if !text::is_clean_line(name) {
        return Err(PairingError::Invalid(format!(
            "{field} contains control characters"
        )));
    }
    Ok(Some(name.to_string()))
}

/// Compares two digests in time independent of where they differ, so response times do not
/// tell a guesser how much of a board secret's digest it got right.
fn same_digest(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_names_are_absent_and_long_ones_refused() {
        assert_eq!(clean_name(Some("  "), "name").unwrap(), None);
        assert_eq!(
            clean_name(Some(" Room 12 "), "name").unwrap().as_deref(),
            Some("Room 12")
        );
        assert!(clean_name(Some(&"x".repeat(101)), "name").is_err());
        assert!(clean_name(Some("a\u{0}b"), "name").is_err());
    }

    #[test]
    fn digests_compare_equal_only_when_equal() {
        assert!(same_digest("abcd", "abcd"));
        assert!(!same_digest("abcd", "abce"));
        assert!(!same_digest("abcd", "abc"));
    }

    #[test]
    fn a_board_is_online_within_the_window() {
        let window = duration_millis(ONLINE_WINDOW);
        assert!(is_online(1_000, 1_000 + window - 1));
        assert!(!is_online(1_000, 1_000 + window));
    }
}
