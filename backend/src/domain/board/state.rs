//! What a board shows, and what checking a command needs to know about the lessons it names.
//! A board's state is its log folded with [`super::apply`], so every copy that replays the log
//! reaches the same state.

use serde::{Deserialize, Serialize};

/// What a board shows: the `state` of `welcome` frames and `GET /api/boards/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardState {
    pub lesson_id: Option<String>,
    pub slide: u32,
    pub blank: bool,
    /// When the timer runs out (milliseconds inside, RFC 3339 on the wire).
    #[serde(with = "crate::wire_time::optional")]
    pub timer_ends_at: Option<i64>,
}

/// What validation needs to know about a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonFacts {
    pub owner_id: String,
    pub slides: u32,
}

/// The lessons a batch of commands may refer to, by id.
pub trait LessonCatalog {
    fn lesson(&self, lesson_id: &str) -> Option<&LessonFacts>;
}

impl LessonCatalog for std::collections::HashMap<String, LessonFacts> {
    fn lesson(&self, lesson_id: &str) -> Option<&LessonFacts> {
        self.get(lesson_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(slide: u32) -> BoardState {
        BoardState {
            lesson_id: Some("fractions".into()),
            slide,
            ..BoardState::default()
        }
    }

    #[test]
    fn the_state_serializes_as_the_reference_writes_it() {
        let json = serde_json::to_value(open(1)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"lesson_id":"fractions","slide":1,"blank":false,"timer_ends_at":null})
        );
        let timed = BoardState {
            timer_ends_at: Some(0),
            ..open(1)
        };
        let json = serde_json::to_value(&timed).unwrap();
        assert_eq!(json["timer_ends_at"], "1970-01-01T00:00:00Z");
        assert_eq!(serde_json::from_value::<BoardState>(json).unwrap(), timed);
    }
}
