//! What every request handler can reach: cheap to clone, no per-node state that a client
//! could depend on (tokens, users and counters all live in the shared store).

use std::{
    ops::Deref,
    sync::{atomic::AtomicBool, Arc},
};

use axum::extract::FromRef;

use crate::{
    auth::Authenticator,
    boards::Boards,
    clock::Clock,
    config::Settings,
    http::{AppFiles, SessionCookie, TrustedOrigins},
    lessons::Lessons,
    media::{Media, Uploads},
    metrics::Metrics,
    realtime::Realtime,
    store::Store,
};

/// The node's services behind one reference count: every request clones the state a few
/// times (middleware, extractors), and cloning each service would cost dozens.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub auth: Authenticator,
    pub boards: Boards,
    pub realtime: Realtime,
    pub metrics: Metrics,
    pub media: Media,
    pub uploads: Uploads,
    pub lessons: Lessons,
    /// Where every handler reads the time.
    pub clock: Clock,
    /// What `/readyz` answered last, so a change is logged once rather than every poll.
    pub ready: AtomicBool,
    /// Built once from the settings: every web grant sets the cookie it describes.
    pub session_cookie: SessionCookie,
    /// Where the browser app this node serves comes from.
    pub app_files: AppFiles,
    /// The web pages that may call this node with the session cookie.
    pub origins: TrustedOrigins,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Boards {
    fn from_ref(state: &AppState) -> Self {
        state.boards.clone()
    }
}

impl FromRef<AppState> for Realtime {
    fn from_ref(state: &AppState) -> Self {
        state.realtime.clone()
    }
}

impl FromRef<AppState> for Clock {
    fn from_ref(state: &AppState) -> Self {
        state.clock.clone()
    }
}
