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
mod connection_caps;
mod connections;
mod database_stall;
mod health;
mod helpers;
mod idempotency;
mod input_forms;
mod ldap_directory;
mod ldap_login;
mod ldap_tls;
mod lessons;
mod media_cluster;
mod media_helpers;
mod media_ranges;
mod media_tls;
mod node_process;
mod oauth;
mod pairing;
mod postgres;
mod postgres_tls;
mod realtime;
mod realtime_cluster;
mod realtime_limits;
mod session;
mod session_store;
mod slapd;
mod socket_close;
mod stall_proxy;
mod store;
mod store_lists;
mod test_ca;
mod tls;
mod tls_proxy;
mod uploads;
mod ws_client;
