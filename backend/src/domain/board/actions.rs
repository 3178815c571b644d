//! What a controller may ask a board to do: the actions of a command, as they arrive on the
//! wire. Commands that set absolute state are absolute (`goto {slide}`, `timer` as an end
//! time), so a retried or late command cannot drift.

use serde::{Deserialize, Serialize};

/// The longest timer a teacher can start: a school day.
pub const MAX_TIMER_SECONDS: u32 = 12 * 3600;

/// A command's action (`action.kind` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    OpenLesson {
        lesson_id: String,
        #[serde(default)]
        slide: u32,
    },
    Goto {
        slide: u32,
    },
    // Braces, not unit variants: serde refuses unknown fields only on struct variants.
    Next {},
    Prev {},
    Blank {
        on: bool,
    },
    /// Starts a countdown of `seconds`, or stops it with `null`.
    Timer {
        seconds: Option<u32>,
    },
    /// Back to an empty board: no lesson, not blanked, no timer.
    Clear {},
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Action {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn actions_parse_as_the_reference_writes_them() {
        assert_eq!(
            parse(r#"{"kind":"open_lesson","lesson_id":"l1"}"#),
            Action::OpenLesson {
                lesson_id: "l1".into(),
                slide: 0
            }
        );
        assert_eq!(
            parse(r#"{"kind":"goto","slide":2}"#),
            Action::Goto { slide: 2 }
        );
        assert_eq!(parse(r#"{"kind":"next"}"#), Action::Next {});
        assert_eq!(
            parse(r#"{"kind":"timer","seconds":null}"#),
            Action::Timer { seconds: None }
        );
        assert_eq!(
            parse(r#"{"kind":"blank","on":true}"#),
            Action::Blank { on: true }
        );
    }

    #[test]
    fn unknown_kinds_wrong_types_and_extra_fields_do_not_parse() {
        for json in [
            r#"{"kind":"explode"}"#,
            r#"{"kind":"goto","slide":-1}"#,
            r#"{"kind":"goto","slide":"2"}"#,
            r#"{"kind":"goto"}"#,
            r#"{"kind":"next","slide":3}"#,
            r#"{"slide":3}"#,
        ] {
            assert!(serde_json::from_str::<Action>(json).is_err(), "{json}");
        }
    }
}
