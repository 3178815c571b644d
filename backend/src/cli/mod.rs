//! The `boardcast` command line. Doc comments here are the `--help` text, written for the
//! school's admin.

mod accounts;
mod serve;
mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{config::Settings, store::Store};

/// Steer a classroom's digital board from a teacher's laptop or phone.
#[derive(Debug, Parser)]
#[command(name = "boardcast", version)]
pub struct Cli {
    /// TOML settings file; every key may also come from BOARDCAST_* environment variables.
    #[arg(long, global = true, env = "BOARDCAST_CONFIG_FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node (the embedded default when no settings are given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage builtin accounts (used when no [ldap] table is configured).
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage OAuth2 clients.
    #[command(subcommand)]
    Client(accounts::ClientCommand),
    /// Show the cluster's nodes: alive or silent, and how far their media copies are behind.
    Status {
        /// Print JSON for scripts and monitoring.
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// A running node logs JSON lines for log pipelines; one-off commands log text.
    pub fn json_logs(&self) -> bool {
        matches!(self.command, Command::Serve)
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let settings = Settings::load(self.config.as_deref())?;
        match self.command {
            Command::Serve => serve::run(settings).await,
            Command::Migrate => {
                open_store(&settings).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::User(command) => command.run(&open_store(&settings).await?).await,
            Command::Client(command) => command.run(&open_store(&settings).await?).await,
            Command::Status { json } => status::run(&open_store(&settings).await?, json).await,
        }
    }
}

/// Opens and migrates the node's database.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}
