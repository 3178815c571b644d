//! The websocket's frames as docs/api.md writes them: one JSON object per text frame, with a
//! `type`. Client frames are parsed strictly (unknown types, wrong types and extra fields are
//! refused), so a malformed frame is answered with an `error` frame and changes nothing.

use serde::{Deserialize, Serialize};

use crate::domain::board::{Action, BoardState};
use crate::{store::LoggedEvent, wire_id};

/// The longest command id an error frame echoes back; ids are UUIDs.
const MAX_ID_CHARS: usize = 64;

/// Offsets run from 0 to the largest integer a browser's JSON keeps exact (2^53 - 1); a
/// resume point outside that range names no event, and arithmetic on it could overflow.
const OFFSETS: std::ops::RangeInclusive<i64> = 0..=(1 << 53) - 1;

/// Who is on the other end of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Board,
    Controller,
}

/// The first frame of every socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub role: Role,
    pub board_id: Option<String>,
    pub board_secret: Option<String>,
    pub access_token: Option<String>,
    pub pairing_id: Option<String>,
    /// The last offset the client has applied.
    pub offset: Option<i64>,
}

/// Frames a client sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Hello(Hello),
    Command {
        id: String,
        action: Action,
    },
    Pointer {
        x: Option<f64>,
        y: Option<f64>,
        hidden: Option<bool>,
    },
    RequestCode {},
    Ping {},
    /// A board has rendered the state up to `offset` (best-effort, for the controllers).
    Shown {
        offset: i64,
    },
}

/// A client frame that cannot be used, with the `error` frame's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
    /// The command id, when the frame was a command that could be read that far.
    pub id: Option<String>,
}

impl FrameError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: "invalid_frame",
            message: message.into(),
            id: None,
        }
    }
}

/// Parses and checks a client frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let mut frame: ClientFrame = serde_json::from_str(text).map_err(|e| {
        let mut error = FrameError::invalid(format!("not a valid frame: {e}"));
        error.id = command_id_of(text);
        error
    })?;
    match &mut frame {
        ClientFrame::Command { id, action } => {
            *id = wire_id::canonical(id)
                .ok_or_else(|| FrameError::invalid("a command id is a UUID"))?;
            if let Action::OpenLesson { lesson_id, .. } = action {
                *lesson_id = wire_id::canonical(lesson_id).ok_or_else(|| {
                    let mut error = FrameError::invalid("lesson_id is a UUID");
                    error.id = Some(id.clone());
                    error
                })?;
            }
        }
        ClientFrame::Hello(hello) => {
            check_offset(hello.offset)?;
            for sent in [&mut hello.board_id, &mut hello.pairing_id]
                .into_iter()
                .flatten()
            {
                *sent = wire_id::canonical(sent)
                    .ok_or_else(|| FrameError::invalid("board_id and pairing_id are UUIDs"))?;
            }
        }
        ClientFrame::Pointer { x, y, hidden } => check_pointer(*x, *y, *hidden)?,
        ClientFrame::Shown { offset } => check_offset(Some(*offset))?,
        ClientFrame::RequestCode {} | ClientFrame::Ping {} => {}
    }
    Ok(frame)
}

fn check_offset(offset: Option<i64>) -> Result<(), FrameError> {
    match offset {
        Some(offset) if !OFFSETS.contains(&offset) => Err(FrameError::invalid(
            "an offset counts from 0 and stays below 2^53",
        )),
        _ => Ok(()),
    }
}

/// A pointer is either a position inside the board or hidden.
fn check_pointer(x: Option<f64>, y: Option<f64>, hidden: Option<bool>) -> Result<(), FrameError> {
    let on_board = |v: f64| (0.0..=1.0).contains(&v);
    match (x, y, hidden) {
        (Some(x), Some(y), None | Some(false)) if on_board(x) && on_board(y) => Ok(()),
        (None, None, Some(true)) => Ok(()),
        _ => Err(FrameError::invalid(
            "a pointer is {\"x\":0..1,\"y\":0..1} or {\"hidden\":true}",
        )),
    }
}

/// The `id` of a command frame that did not parse, so its error can name it.
fn command_id_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        id: String,
    }
    serde_json::from_str::<Named>(text)
        .ok()
        .map(|named| named.id)
        .filter(|id| id.len() <= MAX_ID_CHARS)
}

/// Frames the node sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        node: &'a str,
        board_id: &'a str,
        offset: i64,
        state: &'a BoardState,
        events: Vec<EventFrame<'a>>,
        reset: bool,
    },
    Ack {
        id: &'a str,
        offset: i64,
    },
    Event(EventFrame<'a>),
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        error: &'a str,
        message: &'a str,
    },
    Pong {},
    Pointer {
        #[serde(skip_serializing_if = "Option::is_none")]
        x: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        y: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        hidden: Option<bool>,
    },
    Code {
        code: &'a str,
        #[serde(serialize_with = "crate::wire_time::serialize")]
        expires_at: i64,
    },
    Presence {
        board_online: bool,
        controllers: usize,
    },
    /// To the board: a teacher paired with it (so it can stop showing the code and offer
    /// "not me", which deletes `pairing_id`).
    Paired {
        pairing_id: &'a str,
        by: &'a str,
    },
    /// To the controllers: the board has rendered the state up to `offset`.
    Shown {
        offset: i64,
        #[serde(serialize_with = "crate::wire_time::serialize")]
        at: i64,
    },
    /// A lesson open on the board was edited: read it again.
    LessonUpdated {
        lesson_id: &'a str,
        version: i64,
    },
}

/// An event as the `event` frame and the `welcome` frame's `events` carry it.
#[derive(Debug, Clone, Serialize)]
pub struct EventFrame<'a> {
    pub offset: i64,
    pub id: &'a str,
    pub action: &'a Action,
    pub by: &'a str,
    #[serde(serialize_with = "crate::wire_time::serialize")]
    pub at: i64,
}

impl<'a> From<&'a LoggedEvent> for EventFrame<'a> {
    fn from(event: &'a LoggedEvent) -> Self {
        Self {
            offset: event.seq,
            id: &event.command_id,
            action: &event.action,
            by: &event.by,
            at: event.at,
        }
    }
}

impl ServerFrame<'_> {
    /// The frame's text.
    pub fn encode(&self) -> String {
        // Plain data with string keys always serializes; an empty frame would be a bug.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_as_the_reference_writes_them() {
        let hello = r#"{"type":"hello","role":"controller","access_token":"t","pairing_id":"6f1c1a9e-9a43-4c59-9f0c-222222222222","offset":3}"#;
        assert!(matches!(
            parse(hello),
            Ok(ClientFrame::Hello(Hello {
                offset: Some(3),
                ..
            }))
        ));
        let command = r#"{"type":"command","id":"6f1c1a9e-9a43-4c59-9f0c-111111111111","action":{"kind":"blank","on":true}}"#;
        assert!(matches!(parse(command), Ok(ClientFrame::Command { .. })));
        assert!(parse(r#"{"type":"pointer","x":0.5,"y":1}"#).is_ok());
        assert!(parse(r#"{"type":"pointer","hidden":true}"#).is_ok());
        assert!(parse(r#"{"type":"request_code"}"#).is_ok());
        assert!(parse(r#"{"type":"ping"}"#).is_ok());
        assert!(matches!(
            parse(r#"{"type":"shown","offset":4}"#),
            Ok(ClientFrame::Shown { offset: 4 })
        ));
    }

    #[test]
    fn malformed_frames_are_refused() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"type":"dance"}"#,
            r#"{"type":"ping","extra":1}"#,
            r#"{"type":"pointer","x":1.5,"y":0}"#,
            r#"{"type":"pointer","x":0.5}"#,
            r#"{"type":"pointer","x":0.5,"y":0.5,"hidden":true}"#,
            r#"{"type":"command","id":"not-a-uuid","action":{"kind":"next"}}"#,
            r#"{"type":"hello","role":"janitor"}"#,
            r#"{"type":"shown","offset":-1}"#,
            r#"{"type":"shown","offset":9007199254740992}"#,
            r#"{"type":"hello","role":"board","offset":-1}"#,
            r#"{"type":"hello","role":"controller","offset":-9223372036854775808}"#,
            r#"{"type":"hello","role":"controller","offset":9223372036854775807}"#,
            r#"{"type":"shown"}"#,
            r#"{"type":"hello","role":"board","board_id":"room-12","board_secret":"s"}"#,
            r#"{"type":"hello","role":"controller","access_token":"t","pairing_id":"p\u0000"}"#,
            r#"{"type":"command","id":"6f1c1a9e-9a43-4c59-9f0c-111111111111","action":{"kind":"open_lesson","lesson_id":"x\u0000"}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ids_in_any_case_read_as_their_stored_form() {
        let hello = r#"{"type":"hello","role":"board","board_id":"6F1C1A9E-9A43-4C59-9F0C-111111111111","board_secret":"s"}"#;
        let Ok(ClientFrame::Hello(hello)) = parse(hello) else {
            panic!("hello refused");
        };
        assert_eq!(
            hello.board_id.as_deref(),
            Some("6f1c1a9e-9a43-4c59-9f0c-111111111111")
        );
        let command = r#"{"type":"command","id":"6F1C1A9E-9A43-4C59-9F0C-AAAAAAAAAAAA","action":{"kind":"open_lesson","lesson_id":"6F1C1A9E-9A43-4C59-9F0C-BBBBBBBBBBBB"}}"#;
        let Ok(ClientFrame::Command { id, action }) = parse(command) else {
            panic!("command refused");
        };
        assert_eq!(id, "6f1c1a9e-9a43-4c59-9f0c-aaaaaaaaaaaa");
        assert!(matches!(
            action,
            Action::OpenLesson { lesson_id, .. } if lesson_id == "6f1c1a9e-9a43-4c59-9f0c-bbbbbbbbbbbb"
        ));
    }

    #[test]
    fn a_refused_command_names_its_id() {
        let id = "6f1c1a9e-9a43-4c59-9f0c-111111111111";
        let bad = format!(r#"{{"type":"command","id":"{id}","action":{{"kind":"fly"}}}}"#);
        assert_eq!(parse(&bad).unwrap_err().id.as_deref(), Some(id));
    }

    #[test]
    fn server_frames_serialize_as_the_reference_writes_them() {
        let ack = ServerFrame::Ack { id: "c", offset: 7 }.encode();
        assert_eq!(ack, r#"{"type":"ack","id":"c","offset":7}"#);
        let presence = ServerFrame::Presence {
            board_online: true,
            controllers: 2,
        };
        assert_eq!(
            presence.encode(),
            r#"{"type":"presence","board_online":true,"controllers":2}"#
        );
        assert_eq!(ServerFrame::Pong {}.encode(), r#"{"type":"pong"}"#);
    }
}
