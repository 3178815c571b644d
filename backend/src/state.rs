//! What every request handler can reach: cheap to clone, no per-node state that a client
//! could depend on (tokens, users and counters all live in the shared store).

use std::sync::Arc;

use axum::extract::FromRef;

use crate::{
    auth::Authenticator, boards::Boards, config::Settings, media::Media, metrics::Metrics,
    realtime::Realtime, store::Store,
};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub auth: Authenticator,
    pub boards: Boards,
    pub realtime: Realtime,
    pub metrics: Metrics,
    pub media: Media,
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
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
