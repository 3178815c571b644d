//! boardcast: a teacher's laptop or phone steers a classroom's digital board. This crate is
//! one stateless API node; several share a database and serve any client interchangeably.
#![forbid(unsafe_code)]

/// Logins, OAuth2 grants and tokens.
pub mod auth;
/// Backups of the database and blobs, their verification and restore.
pub mod backup;
/// Classroom boards, their pairing codes and pairings.
pub mod boards;
/// The admin command line (`boardcast serve`, `user`, `client`, ...).
pub mod cli;
/// The time a node goes by, passed to every rule that depends on it.
pub mod clock;
/// Settings from defaults, file and environment.
pub mod config;
/// Who a person is and what they may do (LDAP or builtin accounts).
pub mod directory;
/// The rules that need nothing but data: a board's state machine, people and their roles.
pub mod domain;
/// Routes, layers and handlers.
pub mod http;
/// Lessons and the slides a teacher may save.
pub mod lessons;
/// Cluster-wide budgets of attempts per key in a time window.
pub mod limiter;
/// Uploaded media: blob store, signed URLs, copies on every node.
pub mod media;
/// Prometheus counters and histograms.
pub mod metrics;
/// Live board traffic: commands, the board log, fan-out.
pub mod realtime;
/// Listeners: connection caps, deadlines and TLS.
pub mod serve;
/// Wiring a node together and serving it.
pub mod startup;
/// What handlers share.
pub mod state;
/// All SQL, one layer for SQLite and PostgreSQL.
pub mod store;
/// Log setup.
pub mod telemetry;
/// What text may be stored: no control characters.
pub mod text;
/// Trust for the TLS connections a node opens.
pub mod tls;
/// Ids as clients may spell them, read into their stored form.
pub mod wire_id;
/// Times as RFC 3339 on the wire, milliseconds inside.
pub mod wire_time;
