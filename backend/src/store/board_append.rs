//! Appending a batch of board commands in as few round trips as the engine allows.
//!
//! One statement reads everything the batch is checked against (see `batch_facts`): the
//! boards' states, the command ids already in their logs, the pairings still alive, and the
//! lessons opened by the commands or open on the boards. [`decide`] then checks each command
//! with [`apply`], and the accepted events and new states are written.
//!
//! - **PostgreSQL** (several nodes): the write is one statement: states, events and
//!   `pg_notify` together, so an event is announced if and only if it is durable. A batch is
//!   first tried without a transaction (two round trips, where locking first takes five):
//!   each event takes the next offset of its board, and `(board_id, seq)` is the log's key,
//!   so if another node appended to one of the boards since the read, the write fails whole
//!   on that key (a re-sent command id racing its first copy fails the same way). The batch
//!   is then read and decided again with the boards' states locked, which always succeeds:
//!   a busy board costs its nodes a retry, never an error. Every writer locks a board's state
//!   row before it inserts that board's events, and takes the rows in board order, so
//!   writers wait for one another in one direction only and cannot deadlock.
//! - **SQLite** (one node, one writer): read and writes in one transaction, which is the lock.

use std::collections::HashMap;

use sqlx::{AnyConnection, Connection};

use super::{
    batch::{placeholders, value_rows, AnyQuery},
    batch_facts::{read_facts, Facts},
    board_log::{
        encode_state, notification_payloads, Appended, BoardSnapshot, LoggedEvent, NewCommand,
        EVENTS_CHANNEL,
    },
    held_connection::HeldConnection,
    Engine, StoreResult, SQLITE_BEGIN_WRITE,
};
use crate::domain::board::{apply, Steerer};

/// Locked attempts after the optimistic one. A locked attempt fails only when another node
/// creates the state row of a board never commanded before at the same moment; the next one
/// then finds the row and locks it.
const LOCKED_ATTEMPTS: u32 = 3;

/// The outcome of each command, the events to append and the boards' states after them.
struct Decided {
    outcomes: Vec<Appended>,
    appended: Vec<LoggedEvent>,
    states: HashMap<String, BoardSnapshot>,
}

/// One batch of commands; see the module docs.
pub(super) async fn append_batch(
    held: HeldConnection,
    engine: Engine,
    commands: Vec<NewCommand>,
) -> StoreResult<Vec<Appended>> {
    let mut lease = held.lease().await?;
    let connection = lease.connection()?;
    let result = match engine {
        Engine::Postgres => append_optimistically(connection, &commands).await,
        Engine::Sqlite => append_in_transaction(connection, &commands).await,
    };
    result.map_err(|e| lease.failed(e))
}

async fn append_optimistically(
    connection: &mut AnyConnection,
    commands: &[NewCommand],
) -> Result<Vec<Appended>, sqlx::Error> {
    let facts = read_facts(&mut *connection, Engine::Postgres, commands).await?;
    let decided = decide(commands, facts);
    if decided.appended.is_empty() {
        return Ok(decided.outcomes);
    }
    match write_and_notify(&mut *connection, &decided).await {
        Ok(()) => return Ok(decided.outcomes),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            tracing::debug!("another node appended to these boards meanwhile; locking them");
        }
        Err(error) => return Err(error),
    }
    let mut attempt = 1;
    loop {
        match append_locked(&mut *connection, commands).await {
            Err(sqlx::Error::Database(error))
                if error.is_unique_violation() && attempt < LOCKED_ATTEMPTS =>
            {
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// Reads, decides and writes with the states of the batch's boards locked.
async fn append_locked(
    connection: &mut AnyConnection,
    commands: &[NewCommand],
) -> Result<Vec<Appended>, sqlx::Error> {
    let boards = batch_boards(commands);
    let mut tx = connection.begin().await?;
    let sql = format!(
        "select board_id from board_states where board_id in ({}) order by board_id for update",
        placeholders(1, boards.len())
    );
    let mut lock = sqlx::query(&sql);
    for board in &boards {
        lock = lock.bind(*board);
    }
    lock.execute(&mut *tx).await?;
    let facts = read_facts(&mut tx, Engine::Postgres, commands).await?;
    let decided = decide(commands, facts);
    if !decided.appended.is_empty() {
        write_and_notify(&mut tx, &decided).await?;
    }
    tx.commit().await?;
    Ok(decided.outcomes)
}

/// The batch's boards, sorted, each once.
fn batch_boards(commands: &[NewCommand]) -> Vec<&str> {
    let mut boards: Vec<&str> = commands.iter().map(|c| c.board_id.as_str()).collect();
    boards.sort_unstable();
    boards.dedup();
    boards
}

async fn append_in_transaction(
    connection: &mut AnyConnection,
    commands: &[NewCommand],
) -> Result<Vec<Appended>, sqlx::Error> {
    let mut tx = connection.begin_with(SQLITE_BEGIN_WRITE).await?;
    let facts = read_facts(&mut tx, Engine::Sqlite, commands).await?;
    let decided = decide(commands, facts);
    if !decided.appended.is_empty() {
        let events = &decided.appended;
        let sql = insert_events_sql(events.len(), 1);
        bind_events(sqlx::query(&sql), events)?
            .execute(&mut *tx)
            .await?;
        let states = changed_states(&decided)?;
        let sql = upsert_states_sql(states.len(), 1);
        bind_states(sqlx::query(&sql), states)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(decided.outcomes)
}

/// Checks each command against its board as the earlier commands of the batch left it.
fn decide(commands: &[NewCommand], facts: Facts) -> Decided {
    let Facts {
        mut states,
        mut known,
        pairings,
        lessons,
    } = facts;
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
    // Every writer inserts in board and offset order, so two nodes appending to the same
    // boards wait for each other in one direction only and cannot deadlock.
    appended.sort_by(|a, b| (&a.board_id, a.seq).cmp(&(&b.board_id, b.seq)));
    Decided {
        outcomes,
        appended,
        states,
    }
}

/// PostgreSQL: states, events and their notifications in one statement. Each event row is
/// joined to its board's written state row, so a board's state is locked before its events
/// go in (see the module docs).
async fn write_and_notify(
    connection: &mut AnyConnection,
    decided: &Decided,
) -> Result<(), sqlx::Error> {
    let events = &decided.appended;
    let states = changed_states(decided)?;
    let payloads =
        notification_payloads(events).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let events_first = states.len() * STATE_COLUMNS + 1;
    let channel = events_first + events.len() * EVENT_COLUMNS;
    let notifies = (0..payloads.len())
        .map(|i| format!("pg_notify(${channel}, ${})", channel + 1 + i))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "with moved as ({} returning board_id), \
         appended as (insert into board_events ({EVENT_COLUMN_NAMES}) \
           select e.* from (values {}) as e ({EVENT_COLUMN_NAMES}) join moved using (board_id)) \
         select {notifies}",
        upsert_states_sql(states.len(), 1),
        value_rows(events.len(), events_first, EVENT_COLUMNS),
    );
    let query = bind_states(sqlx::query(&sql), states);
    let mut query = bind_events(query, events)?.bind(EVENTS_CHANNEL);
    for payload in payloads {
        query = query.bind(payload);
    }
    query.execute(connection).await?;
    Ok(())
}

const EVENT_COLUMNS: usize = 6;
const STATE_COLUMNS: usize = 4;

const EVENT_COLUMN_NAMES: &str = "board_id, seq, command_id, action, by_user_id, at";

fn insert_events_sql(count: usize, first: usize) -> String {
    format!(
        "insert into board_events ({EVENT_COLUMN_NAMES}) values {}",
        value_rows(count, first, EVENT_COLUMNS)
    )
}

fn bind_events<'q>(
    mut query: AnyQuery<'q>,
    events: &[LoggedEvent],
) -> Result<AnyQuery<'q>, sqlx::Error> {
    for event in events {
        let action = serde_json::to_string(&event.action)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        query = query
            .bind(event.board_id.clone())
            .bind(event.seq)
            .bind(event.command_id.clone())
            .bind(action)
            .bind(event.by.clone())
            .bind(event.at);
    }
    Ok(query)
}

/// A board's row after the batch: id, offset, encoded state, time of its last event.
type StateRow = (String, i64, String, i64);

/// The rows of the boards that got events.
fn changed_states(decided: &Decided) -> Result<Vec<StateRow>, sqlx::Error> {
    let mut last_at: Vec<(&str, i64)> = Vec::new();
    for event in &decided.appended {
        match last_at
            .iter_mut()
            .find(|(board, _)| *board == event.board_id)
        {
            Some(entry) => entry.1 = event.at.max(entry.1),
            None => last_at.push((&event.board_id, event.at)),
        }
    }
    last_at
        .into_iter()
        .map(|(board, at)| {
            let snapshot = decided
                .states
                .get(board)
                .ok_or_else(|| sqlx::Error::Protocol(format!("no state for board {board}")))?;
            Ok((
                board.to_string(),
                snapshot.seq,
                encode_state(&snapshot.state),
                at,
            ))
        })
        .collect()
}

/// Writes the boards' new states. Unconditionally: a state decided from a stale read is
/// written by a statement whose events then collide on the log's key, which undoes it.
fn upsert_states_sql(count: usize, first: usize) -> String {
    format!(
        "insert into board_states (board_id, seq, state, updated_at) values {} \
         on conflict (board_id) do update set seq = excluded.seq, state = excluded.state, \
         updated_at = excluded.updated_at",
        value_rows(count, first, STATE_COLUMNS)
    )
}

fn bind_states(mut query: AnyQuery<'_>, states: Vec<StateRow>) -> AnyQuery<'_> {
    for (board, seq, state, at) in states {
        query = query.bind(board).bind(seq).bind(state).bind(at);
    }
    query
}
