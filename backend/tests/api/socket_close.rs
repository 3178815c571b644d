//! A client's close frame is answered with one before the node closes TCP (RFC 6455 §5.5.1),
//! so a clean close is seen as clean (not as 1006, a lost connection).

use crate::{
    helpers::{Engine, TestApp},
    ws_client::{board_socket, register_board, Socket},
};

#[tokio::test]
async fn a_close_before_hello_is_answered_with_a_close_frame() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let socket = Socket::connect(app.address).await;
    assert!(socket.close().await.is_some());
}

#[tokio::test]
async fn a_board_closing_its_socket_gets_a_close_frame_back() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let board = register_board(&app, "room 12").await;
    let (socket, _) = board_socket(app.address, &board, None).await;
    assert!(socket.close().await.is_some());
}
