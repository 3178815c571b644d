//! Each board's durable event log and the state it leads to. Commands of many boards are
//! appended together, per batch (see `batch` and `board_append`): each command is checked
//! against its board's state, accepted ones are appended with the next offset and the state
//! is written with them. A command id already in the log answers with its offset and appends
//! nothing.
//!
//! On PostgreSQL the statement that appends also notifies every node (`pg_notify` is
//! delivered only on commit), so an event is announced if and only if it is durable.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{
    batch::{placeholders, IN_LIST_CHUNK},
    Store, StoreError, StoreResult,
};
use crate::domain::board::{Action, ActionError, BoardState};

/// The PostgreSQL channel every node listens on for new events.
pub const EVENTS_CHANNEL: &str = "boardcast_events";

/// PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; events are split below this.
const NOTIFY_PAYLOAD_BUDGET: usize = 7_000;

/// One accepted command, as stored and as fanned out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedEvent {
    #[serde(rename = "b")]
    pub board_id: String,
    #[serde(rename = "s")]
    pub seq: i64,
    #[serde(rename = "c")]
    pub command_id: String,
    #[serde(rename = "a")]
    pub action: Action,
    /// The user id of the teacher who sent it.
    #[serde(rename = "u")]
    pub by: String,
    #[serde(rename = "t")]
    pub at: i64,
}

/// A controller's command, to be checked and appended.
#[derive(Debug, Clone)]
pub struct NewCommand {
    pub board_id: String,
    /// The pairing the controller steers through; it must still exist when appending.
    pub pairing_id: String,
    pub command_id: String,
    pub action: Action,
    pub by: String,
    /// Whether the sender is an admin (who may open any lesson).
    pub by_admin: bool,
    pub at: i64,
}

/// What became of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Appended now.
    New(LoggedEvent),
    /// The id was in the log already, at this offset: nothing appended.
    Again { seq: i64 },
    /// Not valid against the board's state: nothing appended.
    Refused(ActionError),
    /// The pairing was deleted: nothing appended.
    Unpaired,
}

/// A board's state and the offset of the last event it includes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardSnapshot {
    pub seq: i64,
    pub state: BoardState,
}

impl Store {
    /// Checks and appends one command, in one transaction with the commands of other
    /// sockets that arrive meanwhile (see the module docs).
    pub async fn append_commands(&self, command: NewCommand) -> StoreResult<Appended> {
        self.batches.appends.call(command).await
    }

    /// Up to `limit` events of `board_id` after offset `after`, in order.
    pub async fn events_after(
        &self,
        board_id: &str,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<LoggedEvent>> {
        let rows = sqlx::query(
            "select board_id, seq, command_id, action, by_user_id, at from board_events \
             where board_id = $1 and seq > $2 order by seq limit $3",
        )
        .bind(board_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.read_pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The board's current state; a board never commanded has the empty state at offset 0.
    pub async fn board_snapshot(&self, board_id: &str) -> StoreResult<BoardSnapshot> {
        let row = sqlx::query("select seq, state from board_states where board_id = $1")
            .bind(board_id)
            .fetch_optional(self.read_pool())
            .await?;
        match row {
            Some(row) => Ok(BoardSnapshot {
                seq: row.try_get("seq")?,
                state: parse_state(&row.try_get::<String, _>("state")?)?,
            }),
            None => Ok(BoardSnapshot::default()),
        }
    }

    /// The boards whose state shows `lesson_id`, so they can be told when it is edited. A
    /// lesson save is rare, so reading every board's state text (narrowed by `like`, then
    /// checked exactly) is cheaper than keeping a column in step on every append.
    pub async fn boards_showing_lesson(&self, lesson_id: &str) -> StoreResult<Vec<String>> {
        let quoted = serde_json::to_string(lesson_id)
            .map_err(|e| StoreError::Other(format!("cannot quote a lesson id: {e}")))?;
        let escaped = quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let rows =
            sqlx::query("select board_id, state from board_states where state like $1 escape '\\'")
                .bind(format!("%\"lesson_id\":{escaped}%"))
                .fetch_all(self.read_pool())
                .await?;
        let mut boards = Vec::new();
        for row in rows {
            let state = parse_state(&row.try_get::<String, _>("state")?)?;
            if state.lesson_id.as_deref() == Some(lesson_id) {
                boards.push(row.try_get("board_id")?);
            }
        }
        Ok(boards)
    }

    /// The last offset of each of `board_ids` that has events (to catch up after a gap).
    pub async fn board_heads(&self, board_ids: &[String]) -> StoreResult<HashMap<String, i64>> {
        let mut heads = HashMap::new();
        for chunk in board_ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "select board_id, seq from board_states where board_id in ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(self.read_pool()).await? {
                heads.insert(row.try_get("board_id")?, row.try_get("seq")?);
            }
        }
        Ok(heads)
    }

    /// Deletes events older than `before`; states keep what they led to. A board's latest
    /// event stays: its offset is what makes a node that decided from a stale state collide
    /// on the log's key (see `board_append`). Returns the count.
    pub async fn trim_board_events(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "delete from board_events where at < $1 and seq < \
             (select s.seq from board_states s where s.board_id = board_events.board_id)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// The notification payloads announcing `events`, each under PostgreSQL's limit.
pub fn notification_payloads(events: &[LoggedEvent]) -> StoreResult<Vec<String>> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let encoded = serde_json::to_string(event)
            .map_err(|e| StoreError::Other(format!("cannot encode an event: {e}")))?;
        if current.len() > 1 && current.len() + encoded.len() + 2 > NOTIFY_PAYLOAD_BUDGET {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&encoded);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    Ok(payloads)
}

/// The events of one notification payload.
pub fn parse_notification(payload: &str) -> StoreResult<Vec<LoggedEvent>> {
    serde_json::from_str(payload)
        .map_err(|e| StoreError::Other(format!("unreadable event notification: {e}")))
}

fn event_from_row(row: &sqlx::any::AnyRow) -> StoreResult<LoggedEvent> {
    let action: String = row.try_get("action")?;
    Ok(LoggedEvent {
        board_id: row.try_get("board_id")?,
        seq: row.try_get("seq")?,
        command_id: row.try_get("command_id")?,
        action: serde_json::from_str(&action)
            .map_err(|e| StoreError::Other(format!("unreadable stored action: {e}")))?,
        by: row.try_get("by_user_id")?,
        at: row.try_get("at")?,
    })
}

pub(super) fn encode_state(state: &BoardState) -> String {
    // A struct of plain fields always serializes.
    serde_json::to_string(state).unwrap_or_default()
}

pub(super) fn parse_state(stored: &str) -> StoreResult<BoardState> {
    serde_json::from_str(stored)
        .map_err(|e| StoreError::Other(format!("unreadable stored board state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> LoggedEvent {
        LoggedEvent {
            board_id: "b".repeat(36),
            seq,
            command_id: "c".repeat(36),
            action: Action::Blank { on: true },
            by: "u".repeat(36),
            at: 1_700_000_000_000,
        }
    }

    #[test]
    fn notifications_stay_under_the_limit_and_carry_every_event() {
        let events: Vec<_> = (1..=500).map(event).collect();
        let payloads = notification_payloads(&events).unwrap();
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < NOTIFY_PAYLOAD_BUDGET));
        let parsed: Vec<_> = payloads
            .iter()
            .flat_map(|p| parse_notification(p).unwrap())
            .collect();
        assert_eq!(parsed, events);
    }

    #[test]
    fn no_events_need_no_notification() {
        assert!(notification_payloads(&[]).unwrap().is_empty());
    }
}
