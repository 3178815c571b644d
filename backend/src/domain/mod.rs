//! The rules of boardcast that need nothing but data: a board's state machine and the people
//! who steer it. Nothing here reads a clock, a socket or a database, and nothing here imports
//! from the rest of the crate, so every layer above (the store included) can use it and it
//! can be tested alone.

pub mod board;
pub mod people;
