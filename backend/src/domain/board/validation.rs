//! The one place that decides whether a command is valid and what state it leads to. The log
//! appends a command only after [`apply`] has accepted it, so a refused command changes
//! nothing; the same function checks a command before it is written and again inside the
//! write, against the state it is appended to, even when two nodes race for one board.

use super::{Action, BoardState, LessonCatalog, MAX_TIMER_SECONDS};

/// Who sent a command, as far as validation cares: a teacher opens their own lessons, an
/// admin any lesson. Once a lesson is open, every teacher paired with the board may move
/// through it (a colleague taking over the class).
#[derive(Debug, Clone, Copy)]
pub struct Steerer<'a> {
    pub user_id: &'a str,
    pub is_admin: bool,
}

/// Why a command was refused; the `error` frame carries [`ActionError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("there is no such lesson, or it is not yours")]
    UnknownLesson,
    #[error("slide {slide} does not exist; the lesson has {count} slides")]
    SlideOutOfRange { slide: u32, count: u32 },
    #[error("no lesson is open")]
    NoLesson,
    #[error("a timer runs at most {MAX_TIMER_SECONDS} seconds and at least 1")]
    BadTimer,
}

impl ActionError {
    /// The snake_case code of the `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownLesson => "unknown_lesson",
            Self::SlideOutOfRange { .. } => "slide_out_of_range",
            Self::NoLesson => "no_lesson",
            Self::BadTimer => "invalid_timer",
        }
    }
}

/// The state after `action`, applied at `now` (milliseconds) on `state`, or why not.
pub fn apply(
    state: &BoardState,
    action: &Action,
    lessons: &impl LessonCatalog,
    by: Steerer<'_>,
    now: i64,
) -> Result<BoardState, ActionError> {
    let mut next = state.clone();
    match action {
        Action::OpenLesson { lesson_id, slide } => {
            let count = lessons
                .lesson(lesson_id)
                .filter(|lesson| by.is_admin || lesson.owner_id == by.user_id)
                .ok_or(ActionError::UnknownLesson)?
                .slides;
            check_slide(*slide, count)?;
            next.lesson_id = Some(lesson_id.clone());
            next.slide = *slide;
            next.blank = false;
        }
        Action::Goto { slide } => {
            check_slide(*slide, open_lesson_slides(state, lessons)?)?;
            next.slide = *slide;
        }
        Action::Next {} => {
            let count = open_lesson_slides(state, lessons)?;
            // At the last slide, "next" stays there: a double tap must not be an error.
            next.slide = (state.slide + 1).min(count.saturating_sub(1));
        }
        Action::Prev {} => {
            open_lesson_slides(state, lessons)?;
            next.slide = state.slide.saturating_sub(1);
        }
        Action::Blank { on } => next.blank = *on,
        Action::Timer { seconds: None } => next.timer_ends_at = None,
        Action::Timer {
            seconds: Some(seconds),
        } => {
            if *seconds == 0 || *seconds > MAX_TIMER_SECONDS {
                return Err(ActionError::BadTimer);
            }
            next.timer_ends_at = Some(now + i64::from(*seconds) * 1000);
        }
        Action::Clear {} => next = BoardState::default(),
    }
    Ok(next)
}

fn open_lesson_slides(
    state: &BoardState,
    lessons: &impl LessonCatalog,
) -> Result<u32, ActionError> {
    let lesson_id = state.lesson_id.as_deref().ok_or(ActionError::NoLesson)?;
    lessons
        .lesson(lesson_id)
        .map(|lesson| lesson.slides)
        .ok_or(ActionError::UnknownLesson)
}

fn check_slide(slide: u32, count: u32) -> Result<(), ActionError> {
    if slide < count {
        Ok(())
    } else {
        Err(ActionError::SlideOutOfRange { slide, count })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::board::LessonFacts;

    const TEACHER: Steerer<'static> = Steerer {
        user_id: "ann",
        is_admin: false,
    };

    fn lessons() -> HashMap<String, LessonFacts> {
        let lesson = |owner: &str, slides| LessonFacts {
            owner_id: owner.into(),
            slides,
        };
        HashMap::from([
            ("fractions".into(), lesson("ann", 3)),
            ("empty".into(), lesson("ann", 0)),
            ("bobs".into(), lesson("bob", 5)),
        ])
    }

    fn open(slide: u32) -> BoardState {
        BoardState {
            lesson_id: Some("fractions".into()),
            slide,
            ..BoardState::default()
        }
    }

    #[test]
    fn opening_a_lesson_shows_its_slide_and_unblanks() {
        let blanked = BoardState {
            blank: true,
            ..BoardState::default()
        };
        let action = Action::OpenLesson {
            lesson_id: "fractions".into(),
            slide: 2,
        };
        let next = apply(&blanked, &action, &lessons(), TEACHER, 0).unwrap();
        assert_eq!(next.lesson_id.as_deref(), Some("fractions"));
        assert_eq!(next.slide, 2);
        assert!(!next.blank);
    }

    #[test]
    fn unknown_lessons_and_slides_out_of_range_are_refused() {
        let unknown = Action::OpenLesson {
            lesson_id: "someone else's".into(),
            slide: 0,
        };
        assert_eq!(
            apply(&BoardState::default(), &unknown, &lessons(), TEACHER, 0),
            Err(ActionError::UnknownLesson)
        );
        assert_eq!(
            apply(&open(0), &Action::Goto { slide: 3 }, &lessons(), TEACHER, 0),
            Err(ActionError::SlideOutOfRange { slide: 3, count: 3 })
        );
        let empty = Action::OpenLesson {
            lesson_id: "empty".into(),
            slide: 0,
        };
        assert!(apply(&BoardState::default(), &empty, &lessons(), TEACHER, 0).is_err());
    }

    #[test]
    fn a_teacher_opens_only_their_own_lessons_and_an_admin_any() {
        let bobs = Action::OpenLesson {
            lesson_id: "bobs".into(),
            slide: 4,
        };
        assert_eq!(
            apply(&BoardState::default(), &bobs, &lessons(), TEACHER, 0),
            Err(ActionError::UnknownLesson)
        );
        let admin = Steerer {
            user_id: "root",
            is_admin: true,
        };
        let opened = apply(&BoardState::default(), &bobs, &lessons(), admin, 0).unwrap();
        assert_eq!(opened.slide, 4);
        // Once open, a colleague paired with the board moves through it.
        let moved = apply(&opened, &Action::Prev {}, &lessons(), TEACHER, 0).unwrap();
        assert_eq!(moved.slide, 3);
    }

    #[test]
    fn next_and_prev_stop_at_the_ends() {
        let catalog = lessons();
        assert_eq!(
            apply(&open(1), &Action::Next {}, &catalog, TEACHER, 0)
                .unwrap()
                .slide,
            2
        );
        assert_eq!(
            apply(&open(2), &Action::Next {}, &catalog, TEACHER, 0)
                .unwrap()
                .slide,
            2
        );
        assert_eq!(
            apply(&open(1), &Action::Prev {}, &catalog, TEACHER, 0)
                .unwrap()
                .slide,
            0
        );
        assert_eq!(
            apply(&open(0), &Action::Prev {}, &catalog, TEACHER, 0)
                .unwrap()
                .slide,
            0
        );
    }

    #[test]
    fn moving_without_a_lesson_is_refused() {
        for action in [Action::Next {}, Action::Prev {}, Action::Goto { slide: 0 }] {
            assert_eq!(
                apply(&BoardState::default(), &action, &lessons(), TEACHER, 0),
                Err(ActionError::NoLesson)
            );
        }
    }

    #[test]
    fn a_timer_is_an_end_time_and_null_stops_it() {
        let started = apply(
            &BoardState::default(),
            &Action::Timer { seconds: Some(90) },
            &lessons(),
            TEACHER,
            1_000,
        )
        .unwrap();
        assert_eq!(started.timer_ends_at, Some(91_000));
        let stopped = apply(
            &started,
            &Action::Timer { seconds: None },
            &lessons(),
            TEACHER,
            2_000,
        )
        .unwrap();
        assert_eq!(stopped.timer_ends_at, None);
        for seconds in [0, MAX_TIMER_SECONDS + 1] {
            assert_eq!(
                apply(
                    &BoardState::default(),
                    &Action::Timer {
                        seconds: Some(seconds)
                    },
                    &lessons(),
                    TEACHER,
                    0
                ),
                Err(ActionError::BadTimer)
            );
        }
    }

    #[test]
    fn clear_empties_the_board() {
        let busy = BoardState {
            blank: true,
            timer_ends_at: Some(5),
            ..open(2)
        };
        assert_eq!(
            apply(&busy, &Action::Clear {}, &lessons(), TEACHER, 0).unwrap(),
            BoardState::default()
        );
    }
}
