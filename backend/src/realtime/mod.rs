//! Live board traffic: what a controller may command and the state it leads to (`actions`).
//! The board log, the websocket and cross-node fan-out build on it.

pub mod actions;
