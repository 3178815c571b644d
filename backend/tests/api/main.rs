//! HTTP-level tests against real nodes; one binary, so the crate links once.
// Fixtures and helpers are test code too: a panic there is a failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app_files;
mod backup;
mod backup_damage;
mod backup_helpers;
mod board_log;
mod board_view;
mod browser;
mod health;
mod helpers;
mod idempotency;
mod ldap_directory;
mod ldap_login;
mod lessons;
mod limits;
mod media_cluster;
mod media_helpers;
mod node_process;
mod oauth;
mod pairing;
mod postgres;
mod realtime;
mod realtime_cluster;
mod session;
mod session_store;
mod slapd;
mod store;
mod uploads;
mod ws_client;
