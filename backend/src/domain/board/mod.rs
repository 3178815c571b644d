//! A board's state machine: the actions a controller sends ([`Action`]), the state they fold
//! into ([`BoardState`]), and the rules that accept or refuse each ([`apply`]). The store
//! checks commands with it inside the write, and the realtime layer parses and replays with it;
//! it knows nothing of either.

mod actions;
mod state;
mod validation;

pub use self::{
    actions::{Action, MAX_TIMER_SECONDS},
    state::{BoardState, LessonCatalog, LessonFacts},
    validation::{apply, ActionError, Steerer},
};
