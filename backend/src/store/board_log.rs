//! Each board's durable event log and the state it leads to. Commands of many boards are
//! appended in one transaction per batch (see `batch`): the states of the boards involved are
//! locked, each command is checked against its board's state with [`apply`], accepted ones are
//! appended with the next offset, and the states are written back, all before the commit.
//! A command id already in the log answers with its offset and appends nothing.
//!
//! On PostgreSQL the same transaction notifies every node (`pg_notify` is delivered only on
//! commit), so an event is announced if and only if it is durable.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Connection, Row};

use super::{
    batch::{placeholders, HeldConnection},
    lessons::lesson_facts,
    Engine, Store, StoreError, StoreResult,
};
use crate::realtime::actions::{apply, Action, ActionError, BoardState, Steerer};

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

    /// The last offset of each of `board_ids` that has events (to catch up after a gap).
    pub async fn board_heads(&self, board_ids: &[String]) -> StoreResult<HashMap<String, i64>> {
        if board_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "select board_id, seq from board_states where board_id in ({})",
            placeholders(1, board_ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in board_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.read_pool()).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("board_id")?, row.try_get("seq")?)))
            .collect()
    }

    /// Deletes events older than `before`; states keep what they led to. Returns the count.
    pub async fn trim_board_events(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("delete from board_events where at < $1")
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

/// One batch of commands; see the module docs.
pub(super) async fn append_batch(
    held: HeldConnection,
    engine: Engine,
    commands: Vec<NewCommand>,
) -> StoreResult<Vec<Appended>> {
    let mut lease = held.lease().await?;
    let connection = lease.connection()?;
    let result = append_in_transaction(connection, engine, &commands).await;
    result.map_err(|e| lease.failed(e))
}

async fn append_in_transaction(
    connection: &mut AnyConnection,
    engine: Engine,
    commands: &[NewCommand],
) -> Result<Vec<Appended>, sqlx::Error> {
    let mut boards: Vec<&str> = commands.iter().map(|c| c.board_id.as_str()).collect();
    boards.sort_unstable();
    boards.dedup();
    let now = commands.iter().map(|c| c.at).max().unwrap_or_default();
    let mut tx = connection.begin().await?;
    create_missing_states(&mut tx, &boards, now).await?;
    let mut states = lock_states(&mut tx, engine, &boards).await?;
    let mut known = logged_command_ids(&mut tx, &boards, commands).await?;
    let pairings = live_pairings(&mut tx, commands).await?;
    let lessons = lesson_facts(&mut tx, &lessons_referred_to(commands, &states)).await?;
    let mut outcomes = Vec::with_capacity(commands.len());
    let mut appended = Vec::new();
    for command in commands {
        let key = (command.board_id.clone(), command.command_id.clone());
        if let Some(&seq) = known.get(&key) {
            outcomes.push(Appended::Again { seq });
            continue;
        }
        if pairings.get(&command.pairing_id) != Some(&command.board_id) {
            outcomes.push(Appended::Unpaired);
            continue;
        }
        let snapshot = states.entry(command.board_id.clone()).or_default();
        let by = Steerer {
            user_id: &command.by,
            is_admin: command.by_admin,
        };
        match apply(&snapshot.state, &command.action, &lessons, by, command.at) {
            Err(refusal) => outcomes.push(Appended::Refused(refusal)),
            Ok(next) => {
                snapshot.seq += 1;
                snapshot.state = next;
                known.insert(key, snapshot.seq);
                let event = LoggedEvent {
                    board_id: command.board_id.clone(),
                    seq: snapshot.seq,
                    command_id: command.command_id.clone(),
                    action: command.action.clone(),
                    by: command.by.clone(),
                    at: command.at,
                };
                appended.push(event.clone());
                outcomes.push(Appended::New(event));
            }
        }
    }
    if !appended.is_empty() {
        insert_events(&mut tx, &appended).await?;
        write_states(&mut tx, &states, &appended).await?;
        if engine == Engine::Postgres {
            let payloads = notification_payloads(&appended)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            for payload in payloads {
                sqlx::query("select pg_notify($1, $2)")
                    .bind(EVENTS_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// The lessons a batch may need: those it opens and those open on its boards.
fn lessons_referred_to(
    commands: &[NewCommand],
    states: &HashMap<String, BoardSnapshot>,
) -> Vec<String> {
    let opened = commands.iter().filter_map(|c| match &c.action {
        Action::OpenLesson { lesson_id, .. } => Some(lesson_id.clone()),
        _ => None,
    });
    let open = states.values().filter_map(|s| s.state.lesson_id.clone());
    let mut ids: Vec<String> = opened.chain(open).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Boards never commanded get their empty state, so that every board has a row to lock.
async fn create_missing_states(
    tx: &mut AnyConnection,
    boards: &[&str],
    now: i64,
) -> Result<(), sqlx::Error> {
    let rows = (0..boards.len())
        .map(|i| format!("(${}, 0, $1, $2)", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "insert into board_states (board_id, seq, state, updated_at) values {rows} \
         on conflict (board_id) do nothing"
    );
    let empty = encode_state(&BoardState::default());
    let mut query = sqlx::query(&sql).bind(empty).bind(now);
    for board in boards {
        query = query.bind(*board);
    }
    query.execute(tx).await?;
    Ok(())
}

/// The states of `boards` (sorted), locked until the commit on PostgreSQL; locks are taken
/// in board order, so two nodes appending to the same boards cannot deadlock. SQLite has a
/// single writer: the transaction itself is the lock.
async fn lock_states(
    tx: &mut AnyConnection,
    engine: Engine,
    boards: &[&str],
) -> Result<HashMap<String, BoardSnapshot>, sqlx::Error> {
    let lock = if engine == Engine::Postgres {
        " for update"
    } else {
        ""
    };
    let sql = format!(
        "select board_id, seq, state from board_states where board_id in ({}) order by board_id{lock}",
        placeholders(1, boards.len())
    );
    let mut query = sqlx::query(&sql);
    for board in boards {
        query = query.bind(*board);
    }
    let rows = query.fetch_all(tx).await?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            let state = parse_state(&state).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            Ok((
                row.try_get("board_id")?,
                BoardSnapshot {
                    seq: row.try_get("seq")?,
                    state,
                },
            ))
        })
        .collect()
}

/// The offsets of the batch's command ids already in the logs of their boards.
async fn logged_command_ids(
    tx: &mut AnyConnection,
    boards: &[&str],
    commands: &[NewCommand],
) -> Result<HashMap<(String, String), i64>, sqlx::Error> {
    let sql = format!(
        "select board_id, command_id, seq from board_events \
         where board_id in ({}) and command_id in ({})",
        placeholders(1, boards.len()),
        placeholders(boards.len() + 1, commands.len())
    );
    let mut query = sqlx::query(&sql);
    for board in boards {
        query = query.bind(*board);
    }
    for command in commands {
        query = query.bind(&command.command_id);
    }
    let rows = query.fetch_all(tx).await?;
    rows.iter()
        .map(|row| {
            Ok((
                (row.try_get("board_id")?, row.try_get("command_id")?),
                row.try_get("seq")?,
            ))
        })
        .collect()
}

/// The board of each pairing of the batch that still exists.
async fn live_pairings(
    tx: &mut AnyConnection,
    commands: &[NewCommand],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let sql = format!(
        "select id, board_id from pairings where id in ({})",
        placeholders(1, commands.len())
    );
    let mut query = sqlx::query(&sql);
    for command in commands {
        query = query.bind(&command.pairing_id);
    }
    let rows = query.fetch_all(tx).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("board_id")?)))
        .collect()
}

async fn insert_events(tx: &mut AnyConnection, events: &[LoggedEvent]) -> Result<(), sqlx::Error> {
    let rows = (0..events.len())
        .map(|i| format!("({})", placeholders(i * 6 + 1, 6)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "insert into board_events (board_id, seq, command_id, action, by_user_id, at) values {rows}"
    );
    let mut query = sqlx::query(&sql);
    for event in events {
        let action = serde_json::to_string(&event.action)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        query = query
            .bind(&event.board_id)
            .bind(event.seq)
            .bind(&event.command_id)
            .bind(action)
            .bind(&event.by)
            .bind(event.at);
    }
    query.execute(tx).await?;
    Ok(())
}

/// Writes back the states of the boards that got events.
async fn write_states(
    tx: &mut AnyConnection,
    states: &HashMap<String, BoardSnapshot>,
    appended: &[LoggedEvent],
) -> Result<(), sqlx::Error> {
    let mut changed: Vec<(&str, i64)> = Vec::new();
    for event in appended {
        match changed
            .iter_mut()
            .find(|(board, _)| *board == event.board_id)
        {
            Some(entry) => entry.1 = event.at.max(entry.1),
            None => changed.push((&event.board_id, event.at)),
        }
    }
    let rows = (0..changed.len())
        .map(|i| format!("({})", placeholders(i * 4 + 1, 4)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "insert into board_states (board_id, seq, state, updated_at) values {rows} \
         on conflict (board_id) do update set seq = excluded.seq, state = excluded.state, \
         updated_at = excluded.updated_at"
    );
    let mut query = sqlx::query(&sql);
    for (board, at) in changed {
        let snapshot = states
            .get(board)
            .ok_or_else(|| sqlx::Error::Protocol(format!("no state for board {board}")))?;
        query = query
            .bind(board)
            .bind(snapshot.seq)
            .bind(encode_state(&snapshot.state))
            .bind(at);
    }
    query.execute(tx).await?;
    Ok(())
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

fn encode_state(state: &BoardState) -> String {
    // A struct of plain fields always serializes.
    serde_json::to_string(state).unwrap_or_default()
}

fn parse_state(stored: &str) -> StoreResult<BoardState> {
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
