//! A school on the cluster: a teacher logged in over LDAP, a lesson, boards registered and
//! paired through the codes they show, spread over the nodes.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    cluster::LocalCluster,
    lesson::{socket_urls, Seat, SLIDES},
    teacher::Session,
};

pub struct School {
    pub nodes: Vec<String>,
    pub token: String,
    pub lesson_id: String,
    pub seats: Vec<Seat>,
}

impl School {
    /// A teacher with a lesson of [`SLIDES`] slides and `boards` paired boards; board `i`
    /// registers and pairs on node `i % nodes`.
    pub async fn open(cluster: &LocalCluster, boards: usize) -> Self {
        let client = reqwest::Client::new();
        let nodes = cluster.node_urls();
        let (teacher, _) = Session::open(&client, &nodes[0], &cluster.user("teacher")).await;
        let token = teacher.access_token;
        let slides: Vec<Value> = (0..SLIDES)
            .map(|n| json!({"kind": "text", "text": format!("Slide {n}")}))
            .collect();
        let lesson = post(
            &client,
            &format!("{}/api/lessons", nodes[0]),
            Some(&token),
            json!({"title": "Fault drill", "slides": slides}),
        )
        .await;
        let lesson_id = lesson["id"].as_str().expect("lesson").to_string();
        let mut seats = Vec::new();
        for n in 0..boards {
            let node = &nodes[n % nodes.len()];
            seats.push(seat(&client, node, &token, n).await);
        }
        Self {
            nodes,
            token,
            lesson_id,
            seats,
        }
    }
}

/// Registers a board on `node`, reads the code its socket shows and pairs with it.
async fn seat(client: &reqwest::Client, node: &str, token: &str, n: usize) -> Seat {
    let url = format!("{node}/api/boards");
    let board = post(client, &url, None, json!({"name": format!("Room {n}")})).await;
    let board_id = board["board_id"].as_str().expect("board").to_string();
    let board_secret = board["board_secret"].as_str().unwrap().to_string();
    let url = &socket_urls(&[node.to_string()])[0];
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = json!({"type": "hello", "role": "board", "board_id": board_id,
        "board_secret": board_secret});
    socket.send(Message::text(hello.to_string())).await.unwrap();
    let code = loop {
        let Some(Ok(Message::Text(text))) = socket.next().await else {
            panic!("board socket ended before its code");
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == "code" {
            break frame["code"].as_str().unwrap().to_string();
        }
    };
    let url = format!("{node}/api/pairings");
    let pairing = post(client, &url, Some(token), json!({"code": code})).await;
    Seat {
        board_id,
        board_secret,
        pairing_id: pairing["pairing_id"].as_str().expect("pairing").to_string(),
    }
}

/// A JSON `POST`, with a bearer token when given; the JSON answer.
async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}
