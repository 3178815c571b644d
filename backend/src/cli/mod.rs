//! The `boardcast` command line. Doc comments here are the `--help` text, written for the
//! school's admin.

mod accounts;
mod backup;
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
    #[arg(long, global = true, env = crate::config::CONFIG_FILE_VARIABLE)]
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
    /// Back up the database and the uploaded media into a backups directory.
    ///
    /// The backup is consistent (one read of every table) and nodes keep serving meanwhile.
    /// Media already in DIR from an earlier backup are not copied again. The new backup's
    /// path is the last line on stdout.
    Backup {
        /// The backups directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Then delete all but the newest N backups in DIR, and media none of them needs.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        keep: Option<u16>,
    },
    /// Check a backup (as printed by `backup`) without any database; fails naming every
    /// missing or damaged part.
    Verify {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Restore a backup into the configured database and data directory.
    ///
    /// Creates the schema first, so a brand-new database works, of either engine. Verifies
    /// the backup first and writes nothing if it is damaged. Stop the nodes before restoring.
    Restore {
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Replace a database that already holds data.
        #[arg(long)]
        force: bool,
    },
    /// Show the cluster's nodes: alive or silent, and how far their media copies are behind.
    Status {
        /// Print JSON for scripts and monitoring.
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The settings the command runs with; none for `verify`, which checks a backup anywhere,
    /// also on a machine with no settings at all.
    pub fn settings(&self) -> anyhow::Result<Option<Settings>> {
        if let Command::Verify { .. } = &self.command {
            return Ok(None);
        }
        Ok(Some(Settings::load(self.config.as_deref())?))
    }

    /// Runs the command with the settings [`Cli::settings`] read.
    pub async fn run(self, settings: Option<Settings>) -> anyhow::Result<()> {
        let Some(settings) = settings else {
            return match &self.command {
                Command::Verify { path } => backup::run_verify(path),
                _ => Err(anyhow::anyhow!("this command needs settings")),
            };
        };
        match self.command {
            Command::Serve => serve::run(settings).await,
            Command::Migrate => {
                open_store(&settings).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::User(command) => command.run(&open_store(&settings).await?).await,
            Command::Client(command) => command.run(&open_store(&settings).await?).await,
            Command::Backup { out, keep } => {
                backup::run_backup(&settings, &out, keep.map(usize::from)).await
            }
            Command::Verify { .. } => Ok(()),
            Command::Restore { path, force } => backup::run_restore(&settings, &path, force).await,
            Command::Status { json } => status::run(&open_store(&settings).await?, json).await,
        }
    }
}

/// Opens and migrates the node's database.
pub(super) async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}
