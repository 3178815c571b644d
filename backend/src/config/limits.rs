//! `[limits]`: the bounds that keep one client, one stuck connection or one stolen login from
//! holding a node or a school's data for longer than the operator chose.

use std::{num::NonZeroU32, time::Duration};

use serde::Deserialize;

use super::units::duration;

/// Deadlines and caps on connections, logins and commands (`[limits]` in docs/configuration.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// A request's head must arrive within this, so a client that never finishes its
    /// headers cannot hold a connection (and a file descriptor) forever.
    #[serde(deserialize_with = "duration")]
    pub header_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long is abandoned: about stalls, not total
    /// time, so a large upload on a slow line still arrives while a stuck one frees its slot.
    #[serde(deserialize_with = "duration")]
    pub body_timeout: Duration,
    /// A websocket's first frame (`hello`) must arrive within this, else it is closed (4008).
    #[serde(deserialize_with = "duration")]
    pub hello_timeout: Duration,
    /// Open connections beyond this are answered 503 at once instead of queueing.
    pub max_connections: usize,
    /// Open connections from one client address beyond this are answered 503 at once, so one
    /// client cannot take every slot of `max_connections` (a school behind one NAT address
    /// needs room: a few per laptop and board).
    pub max_connections_per_address: usize,
    /// A login ends this long after the password was checked, however often it refreshes.
    #[serde(deserialize_with = "duration")]
    pub login_lifetime: Duration,
    /// How long the statements of a command or a login may wait for the database before they
    /// fail with 503 (and PostgreSQL cancels them), so one stalled connection cannot hold
    /// every request behind it.
    #[serde(deserialize_with = "duration")]
    pub statement_timeout: Duration,
    /// Commands one controller socket may send per second (bursts up to twice this).
    pub commands_per_second: NonZeroU32,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            hello_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_address: 200,
            login_lifetime: Duration::from_secs(30 * 24 * 3600),
            statement_timeout: Duration::from_secs(5),
            commands_per_second: NonZeroU32::MIN.saturating_add(19),
        }
    }
}
