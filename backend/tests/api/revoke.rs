//! `POST /oauth/revoke` (RFC 7009 §2.1): a confidential client must prove who it is, and a
//! client revokes only its own tokens.

use serde_json::Value;

use crate::{both_engines, helpers::TestApp};

const SECRET: &str = "t0p secret";

/// A node with teacher `jan` and a confidential client `tool`.
async fn app_with_tool(engine: crate::helpers::Engine) -> TestApp {
    let app = TestApp::spawn(engine).await;
    app.add_user("jan", "pw", "teacher").await;
    let scope = "boardcast".parse().unwrap();
    let row = boardcast::auth::Registrar::new_client_row("tool", Some(SECRET.into()), &scope, 0)
        .await
        .unwrap();
    app.store.create_client(&row).await.unwrap();
    app
}

/// Logs `jan` in through the confidential client; the token response.
async fn tool_login(app: &TestApp) -> Value {
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth("tool", Some(SECRET))
        .form(&[
            ("grant_type", "password"),
            ("username", "jan"),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn revoke_as_tool(app: &TestApp, token: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/revoke"))
        .basic_auth("tool", Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

both_engines!(
    a_confidential_client_must_authenticate_to_revoke,
    |engine| async move {
        let app = app_with_tool(engine).await;
        let tokens = tool_login(&app).await;
        let access = tokens["access_token"].as_str().unwrap();
        let refused = revoke_as_tool(&app, access, "guess").await;
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().contains_key("www-authenticate"));
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        // As a public client, without the secret: refused too.
        let as_public = app
            .client
            .post(app.url("/oauth/revoke"))
            .form(&[("token", access), ("client_id", "tool")])
            .send()
            .await
            .unwrap();
        assert_eq!(as_public.status(), 401);
        assert_eq!(app.me(access).await.status(), 200);

        let secret_in_body = app
            .client
            .post(app.url("/oauth/revoke"))
            .form(&[
                ("token", access),
                ("client_id", "tool"),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(secret_in_body.status(), 200);
        assert_eq!(app.me(access).await.status(), 401);
    }
);

both_engines!(
    revoking_another_clients_token_changes_nothing,
    |engine| async move {
        let app = app_with_tool(engine).await;
        let tool_tokens = tool_login(&app).await;
        let web_tokens = app.login("jan", "pw").await;
        // The public web client presents the tool's tokens: 200, and nothing is revoked.
        for token in ["access_token", "refresh_token"] {
            let response = app.revoke(tool_tokens[token].as_str().unwrap()).await;
            assert_eq!(response.status(), 200);
        }
        let tool_access = tool_tokens["access_token"].as_str().unwrap();
        assert_eq!(app.me(tool_access).await.status(), 200);
        // The tool presents the web client's refresh token: nothing is revoked either.
        let web_refresh = web_tokens["refresh_token"].as_str().unwrap();
        assert_eq!(
            revoke_as_tool(&app, web_refresh, SECRET).await.status(),
            200
        );
        assert_eq!(app.refresh(web_refresh).await.status(), 200);
        // Its own refresh token the tool may revoke, ending its login.
        let tool_refresh = tool_tokens["refresh_token"].as_str().unwrap();
        assert_eq!(
            revoke_as_tool(&app, tool_refresh, SECRET).await.status(),
            200
        );
        assert_eq!(app.me(tool_access).await.status(), 401);
    }
);

#[tokio::test]
async fn a_revoke_without_a_client_is_an_invalid_request() {
    let app = TestApp::spawn(crate::helpers::Engine::Sqlite).await;
    let response = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[("token", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}
