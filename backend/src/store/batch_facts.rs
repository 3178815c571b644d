//! What a batch of board commands is checked against, read in one statement: for each
//! command, its board's state, whether its id is in the board's log already, whether its
//! pairing still exists, the lesson it opens and the lesson its board shows.
//!
//! Every lookup is a correlated subquery on a unique key, one per command row, so each is an
//! index lookup whatever the tables hold: joins or `in` lists over a batch let the planner
//! switch to hashing whole tables as batches grow, and a generic plan keeps that choice while
//! the tables grow too. The statement's text depends on the batch size alone, so each size
//! is prepared once per connection.

use std::collections::HashMap;

use sqlx::{any::AnyRow, AnyConnection, Row};

use super::{
    batch::value_rows,
    board_log::{parse_state, BoardSnapshot, NewCommand},
    Engine,
};
use crate::domain::board::{Action, LessonFacts};

/// What a batch is checked against.
#[derive(Default)]
pub(super) struct Facts {
    pub states: HashMap<String, BoardSnapshot>,
    /// (board, command id) → offset, for the batch's ids already in the log.
    pub known: HashMap<(String, String), i64>,
    /// pairing id → board id, for the batch's pairings that still exist.
    pub pairings: HashMap<String, String>,
    pub lessons: HashMap<String, LessonFacts>,
}

/// Parameters per command: board, command id, pairing, the lesson it opens (or null).
const SENT_COLUMNS: usize = 4;

pub(super) async fn read_facts(
    connection: &mut AnyConnection,
    engine: Engine,
    commands: &[NewCommand],
) -> Result<Facts, sqlx::Error> {
    let (lesson_row, shown_lesson) = match engine {
        Engine::Postgres => (
            "json_build_array(owner_id, slide_count)",
            "(found.state::json ->> 'lesson_id')",
        ),
        Engine::Sqlite => (
            "json_array(owner_id, slide_count)",
            "json_extract(found.state, '$.lesson_id')",
        ),
    };
    let sql = format!(
        "with sent (board_id, command_id, pairing_id, lesson_id) as (values {}), \
         found as (select sent.*, \
           (select seq from board_states s where s.board_id = sent.board_id) as state_seq, \
           (select state from board_states s where s.board_id = sent.board_id) as state, \
           (select seq from board_events e \
             where e.board_id = sent.board_id and e.command_id = sent.command_id) as known_seq, \
           (select board_id from pairings p where p.id = sent.pairing_id) as paired_board \
           from sent) \
         select found.*, \
           (select cast({lesson_row} as text) from lessons l where l.id = found.lesson_id) as opened, \
           {shown_lesson} as shown_id, \
           (select cast({lesson_row} as text) from lessons l where l.id = {shown_lesson}) as shown \
         from found",
        value_rows(commands.len(), 1, SENT_COLUMNS)
    );
    let mut query = sqlx::query(&sql);
    for command in commands {
        let opened = match &command.action {
            Action::OpenLesson { lesson_id, .. } => Some(lesson_id.as_str()),
            _ => None,
        };
        query = query
            .bind(command.board_id.as_str())
            .bind(command.command_id.as_str())
            .bind(command.pairing_id.as_str())
            .bind(opened);
    }
    let mut facts = Facts::default();
    for row in query.fetch_all(connection).await? {
        facts.add(&row)?;
    }
    Ok(facts)
}

impl Facts {
    /// Adds what one command's row found.
    fn add(&mut self, row: &AnyRow) -> Result<(), sqlx::Error> {
        let board: String = row.try_get("board_id")?;
        if let (Some(seq), Some(state)) = (
            row.try_get::<Option<i64>, _>("state_seq")?,
            row.try_get::<Option<String>, _>("state")?,
        ) {
            let state = parse_state(&state).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            self.states
                .insert(board.clone(), BoardSnapshot { seq, state });
        }
        if let Some(seq) = row.try_get::<Option<i64>, _>("known_seq")? {
            self.known.insert((board, row.try_get("command_id")?), seq);
        }
        if let Some(paired) = row.try_get::<Option<String>, _>("paired_board")? {
            self.pairings.insert(row.try_get("pairing_id")?, paired);
        }
        for (id, facts) in [("lesson_id", "opened"), ("shown_id", "shown")] {
            if let Some(facts) = row.try_get::<Option<String>, _>(facts)? {
                self.lessons.insert(row.try_get(id)?, lesson_facts(&facts)?);
            }
        }
        Ok(())
    }
}

/// A lesson's `[owner_id, slide_count]`.
fn lesson_facts(json: &str) -> Result<LessonFacts, sqlx::Error> {
    let (owner_id, slides): (String, i64) = serde_json::from_str(json)
        .map_err(|e| sqlx::Error::Protocol(format!("unreadable lesson facts: {e}")))?;
    Ok(LessonFacts {
        owner_id,
        slides: u32::try_from(slides).unwrap_or(u32::MAX),
    })
}
