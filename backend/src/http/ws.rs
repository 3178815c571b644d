//! `GET /ws`: the upgrade to a websocket; the socket itself lives in `realtime::socket`.

use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
    routing::get,
    Router,
};

use crate::{realtime::socket, state::AppState};

/// Frames (and messages) above this close the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Small buffers: most sockets sit idle between slide changes, and a node holds thousands.
/// Larger frames still arrive whole (the buffer grows while one is read).
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let realtime = state.realtime.clone();
    let hello_timeout = state.settings.limits.hello_timeout;
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        // Each frame is written at once: the node sends few, small frames per socket.
        .write_buffer_size(0)
        .on_upgrade(move |socket| socket::serve(socket, realtime, hello_timeout))
}
