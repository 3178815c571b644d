//! `boardcast serve`: run a node until SIGTERM or Ctrl-C, then drain and stop.

use crate::{
    auth::password::hash_password,
    clock::Clock,
    config::Settings,
    startup::Application,
    store::{NewUser, Store, StoreError},
};

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let uses_builtin_directory = settings.ldap.is_none();
    let app = Application::build(settings).await?;
    let shutdown = shutdown_signal()?;
    if uses_builtin_directory {
        create_first_account(app.store()).await?;
    }
    app.run(shutdown).await
}

/// On a fresh embedded install there is nobody to log in as: create `teacher` with a random
/// password and print it once (stdout, not the log).
async fn create_first_account(store: &Store) -> anyhow::Result<()> {
    if store.count_builtin_users().await? > 0 {
        return Ok(());
    }
    let password = super::accounts::random_password();
    let user = NewUser {
        username: "teacher".into(),
        display_name: "Teacher".into(),
        password_hash: hash_password(password.clone()).await?,
        roles: "teacher,admin".into(),
    };
    match store.create_user(user, Clock::system().now_millis()).await {
        Ok(_) => {
            println!("created the first account: username `teacher`, password `{password}` (shown only this once; change it with `boardcast user passwd teacher`)");
            Ok(())
        }
        // Another node created it at the same moment.
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Resolves at SIGTERM or SIGINT (Ctrl-C). Both are caught from the call on, before the node
/// serves, so a stop asked for right after start drains too instead of killing the process.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};

    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown requested: draining");
    })
}
