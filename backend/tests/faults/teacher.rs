//! A teacher's side of the token endpoint, as the app does it: a password login, refreshes
//! that rotate the refresh token, and `/api/me` with the access token of the moment. Each
//! answer is timed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::DemoUser;

/// A teacher's login on one node: the tokens it holds now.
pub struct Session {
    pub node: String,
    pub access_token: String,
    refresh_token: String,
}

/// A token endpoint's answer and how long it took.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub took: Duration,
}

async fn token_request(client: &reqwest::Client, node: &str, form: &[(&str, &str)]) -> Answer {
    let started = Instant::now();
    let answer = client
        .post(format!("{node}/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        took: started.elapsed(),
    }
}

pub async fn log_in(client: &reqwest::Client, node: &str, user: &DemoUser) -> Answer {
    let form = [
        ("grant_type", "password"),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
        ("client_id", "web"),
    ];
    token_request(client, node, &form).await
}

impl Session {
    /// A password login on `node`, which must succeed; how long it took.
    pub async fn open(client: &reqwest::Client, node: &str, user: &DemoUser) -> (Self, Duration) {
        let answer = log_in(client, node, user).await;
        assert_eq!(answer.status, 200, "login on {node}: {}", answer.body);
        let mut session = Self {
            node: node.to_string(),
            access_token: String::new(),
            refresh_token: String::new(),
        };
        session.keep(&answer.body);
        (session, answer.took)
    }

    fn keep(&mut self, tokens: &Value) {
        self.access_token = tokens["access_token"].as_str().unwrap().to_string();
        self.refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    }

    /// Refreshes (the refresh token rotates) and keeps the new tokens.
    pub async fn refresh(&mut self, client: &reqwest::Client) -> Answer {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("client_id", "web"),
        ];
        let answer = token_request(client, &self.node, &form).await;
        if answer.status == 200 {
            self.keep(&answer.body);
        }
        answer
    }

    pub async fn me(&self, client: &reqwest::Client) -> u16 {
        let answer = client
            .get(format!("{}/api/me", self.node))
            .bearer_auth(&self.access_token)
            .send()
            .await
            .unwrap();
        answer.status().as_u16()
    }
}
