//! `boardcast user ...` and `boardcast client ...`: accounts and OAuth2 clients, for admins.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};
use rand::{distributions::Alphanumeric, Rng};

use crate::{
    auth::{password::hash_password, Registrar},
    clock::Clock,
    directory::Roles,
    store::{NewUser, Store, StoreError},
};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from stdin with --password-stdin, otherwise a
    /// random one is generated and printed.
    Add {
        username: String,
        /// The name shown on the board when this person pairs ("Jan de Vries").
        #[arg(long)]
        display_name: Option<String>,
        /// Roles: teacher, admin (repeat or comma-separate). Default: teacher.
        #[arg(long, value_delimiter = ',', default_value = "teacher")]
        role: Vec<String>,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts (builtin and those seen through LDAP).
    List,
    /// Set a new password; every device of this account is logged out.
    Passwd {
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete an account and its tokens.
    Remove { username: String },
}

#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of stdin instead of generating one.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    /// The password, and whether it was generated (and so must be shown).
    fn obtain(&self) -> anyhow::Result<(String, bool)> {
        if !self.password_stdin {
            return Ok((random_password(), true));
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read stdin")?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        anyhow::ensure!(!password.is_empty(), "the password on stdin is empty");
        Ok((password, false))
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth2 client. With --confidential a secret is generated and printed once
    /// (only its hash is stored).
    Add {
        client_id: String,
        #[arg(long)]
        confidential: bool,
        /// Space-separated scopes the client may ask for.
        #[arg(long, default_value = "boardcast")]
        scope: String,
    },
    /// List clients.
    List,
    /// Remove a client; every token issued to it stops working.
    Remove { client_id: String },
}

impl UserCommand {
    pub async fn run(self, store: &Store) -> anyhow::Result<()> {
        let now = Clock::system().now_millis();
        match self {
            Self::Add {
                username,
                display_name,
                role,
                password,
            } => {
                let roles = Roles::parse(&role.join(","));
                anyhow::ensure!(
                    !roles.is_empty()
                        && role.iter().all(|r| matches!(r.trim(), "teacher" | "admin")),
                    "roles must be teacher and/or admin"
                );
                anyhow::ensure!(!username.trim().is_empty(), "the username is empty");
                let (password, generated) = password.obtain()?;
                let user = NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username: username.clone(),
                    password_hash: hash_password(password.clone()).await?,
                    roles: roles.to_stored(),
                };
                store.create_user(user, now).await.map_err(|e| match e {
                    StoreError::Conflict { .. } => {
                        anyhow::anyhow!("user {username} already exists")
                    }
                    other => other.into(),
                })?;
                report_password(&username, &password, generated);
            }
            Self::List => {
                for user in store.list_users().await? {
                    println!(
                        "{}\t{}\t{}\t{}",
                        user.username, user.roles, user.source, user.display_name
                    );
                }
            }
            Self::Passwd { username, password } => {
                let (password, generated) = password.obtain()?;
                let hash = hash_password(password.clone()).await?;
                store
                    .set_password(&username, &hash, now)
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound => anyhow::anyhow!("no builtin user {username}"),
                        other => other.into(),
                    })?;
                report_password(&username, &password, generated);
            }
            Self::Remove { username } => {
                store.remove_user(&username).await.map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no user {username}"),
                    other => other.into(),
                })?;
                println!("removed {username}");
            }
        }
        Ok(())
    }
}

impl ClientCommand {
    pub async fn run(self, store: &Store) -> anyhow::Result<()> {
        match self {
            Self::Add {
                client_id,
                confidential,
                scope,
            } => {
                let scope = scope
                    .parse()
                    .map_err(|_| anyhow::anyhow!("`{scope}` is not a valid scope"))?;
                let secret = confidential.then(random_password);
                let row = Registrar::new_client_row(
                    &client_id,
                    secret.clone(),
                    &scope,
                    Clock::system().now_millis(),
                )
                .await?;
                store.create_client(&row).await.map_err(|e| match e {
                    StoreError::Conflict { .. } => {
                        anyhow::anyhow!("client {client_id} already exists")
                    }
                    other => other.into(),
                })?;
                match secret {
                    Some(secret) => {
                        println!("client {client_id} added; secret (shown only now): {secret}")
                    }
                    None => println!("public client {client_id} added"),
                }
            }
            Self::List => {
                for client in store.list_clients().await? {
                    let kind = if client.secret_hash.is_some() {
                        "confidential"
                    } else {
                        "public"
                    };
                    println!("{}\t{kind}\t{}", client.client_id, client.scope);
                }
            }
            Self::Remove { client_id } => {
                store.remove_client(&client_id).await.map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no client {client_id}"),
                    other => other.into(),
                })?;
                println!("removed {client_id}");
            }
        }
        Ok(())
    }
}

fn report_password(username: &str, password: &str, generated: bool) {
    if generated {
        println!("{username}: password {password} (shown only now)");
    } else {
        println!("{username}: password set");
    }
}

/// 20 alphanumeric characters from the OS CSPRNG: about 119 bits.
pub fn random_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}
