//! The fault suite: faults of the local cluster (`deploy/local-cluster`) during real
//! lessons, logins and uploads, and the invariants that must survive them. Each test starts a
//! cluster of its own; they run one at a time, as each takes the machine's cores. Figures are
//! printed as tables (run with `--nocapture`) and recorded in FAULTS.md.
// Test code: a panic is a failed check with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod checks;
mod cluster;
mod directory_faults;
mod directory_proxy;
mod lesson;
mod node_kills;
mod primary_loss;
mod school;
mod standby_loss;
mod teacher;
mod uploads_during_restart;

/// One cluster at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
