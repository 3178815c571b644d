//! A node's log lines as an operator reads them: JSON objects for log pipelines, plain text
//! for a person, and in both the id of the request a line belongs to, so one request's lines
//! can be found among thousands.

use std::process::Stdio;

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{ChildStderr, Command},
};

use crate::node_process::serving_address;

const REQUEST_ID: &str = "7d1c0a52-logged-request";

#[tokio::test]
async fn json_log_lines_carry_the_request_id_as_a_field() {
    let line = answered_line("json").await;
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(entry["fields"]["message"], "answered", "{entry}");
    assert_eq!(entry["fields"]["status"], 401, "{entry}");
    assert_eq!(entry["span"]["request.id"], REQUEST_ID, "{entry}");
}

#[tokio::test]
async fn text_log_lines_carry_the_request_id_for_a_person_to_read() {
    let line = answered_line("text").await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&line).is_err(),
        "not JSON: {line}"
    );
    assert!(line.contains(REQUEST_ID), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes into a pipe: {line:?}"
    );
    assert!(
        line.contains("INFO") && line.contains("status=401"),
        "{line}"
    );
}

#[tokio::test]
async fn by_default_a_node_whose_logs_go_to_a_pipe_writes_json() {
    let line = answered_line("auto").await;
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(entry["span"]["request.id"], REQUEST_ID, "{entry}");
}

/// Starts `boardcast serve` with `log_format = format` (its stderr a pipe), sends one request
/// with a known `X-Request-Id`, and returns the log line that answered it.
async fn answered_line(format: &str) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .arg("serve")
        .env("BOARDCAST_LOG_FORMAT", format)
        .env("BOARDCAST_LISTEN", "127.0.0.1:0")
        .env("BOARDCAST_DATA_DIR", data_dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stderr.take().unwrap()).lines();
    let address = loop {
        let line = next_line(&mut lines).await;
        if let Some(address) = serving_address(&line) {
            break address;
        }
    };
    let answer = reqwest::Client::new()
        .get(format!("http://{address}/api/me"))
        .header("x-request-id", REQUEST_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    loop {
        let line = next_line(&mut lines).await;
        if line.contains("answered") && line.contains(REQUEST_ID) {
            return line;
        }
    }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStderr>>) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the node logged nothing more in time")
        .unwrap()
        .expect("the node ended")
}
