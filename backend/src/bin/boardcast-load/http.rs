//! Just enough HTTP/1.1 to set up a load test (register boards, log in, pair): one request
//! per connection, a `Content-Length` body back. The load generator talks to nodes directly,
//! on plain HTTP.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends a POST and returns the status and the JSON body.
pub async fn post(
    node: SocketAddr,
    path: &str,
    content_type: &str,
    body: &str,
    bearer: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(node)
        .await
        .with_context(|| format!("cannot connect to {node}"))?;
    let authorization = bearer
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {node}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n{authorization}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("{node}{path}: no HTTP response");
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("{node}{path}: bad status line"))?;
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Ok((status, json))
}
