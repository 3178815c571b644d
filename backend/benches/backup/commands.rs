//! Running the programs a benchmark times, as an admin would: the `boardcast` binary, the
//! baselines (`pg_dump`, `cp -r`), and the file-system chores around them.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Instant,
};

use sqlx::{Connection, PgConnection};

use crate::node_process::CLUSTER_SECRET;

/// What a run of the `boardcast` binary printed, and how long it took.
pub(crate) struct Ran {
    pub(crate) seconds: f64,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    /// The steps the command reported on stderr ("blobs: ... in 3.2 s"), with their seconds.
    pub(crate) fn steps(&self) -> Vec<(&str, f64)> {
        self.stderr
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.split_once(": ")?;
                let seconds = rest.strip_suffix(" s")?.rsplit_once(" in ")?.1;
                (!name.contains(' ')).then_some((name, seconds.parse().ok()?))
            })
            .collect()
    }

    pub(crate) fn steps_line(&self) -> String {
        let steps: Vec<String> = self
            .steps()
            .iter()
            .map(|(name, seconds)| format!("{name} {seconds:.1} s"))
            .collect();
        steps.join(", ")
    }

    /// The last line on stdout: the new backup's path, for `backup`.
    pub(crate) fn last_line(&self) -> PathBuf {
        PathBuf::from(self.stdout.lines().last().unwrap_or_default())
    }
}

/// Runs `boardcast ARGS` against a database and data directory as an admin would, and
/// requires it to succeed.
pub(crate) async fn run_boardcast(args: &[&OsStr], database_url: &str, data_dir: &Path) -> Ran {
    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .args(args)
        .env("BOARDCAST_DATABASE_URL", database_url)
        .env("BOARDCAST_DATA_DIR", data_dir)
        .env("BOARDCAST_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("BOARDCAST_NODE_ID", "admin-shell")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let ran = Ran {
        seconds,
        stdout: String::from_utf8_lossy(&output.stdout).into(),
        stderr: String::from_utf8_lossy(&output.stderr).into(),
    };
    assert!(
        output.status.success(),
        "boardcast {args:?} failed ({}):\n{}\n{}",
        output.status,
        ran.stdout,
        ran.stderr
    );
    ran
}

/// Seconds a program took; it must succeed.
pub(crate) async fn timed(program: impl AsRef<OsStr>, args: &[&OsStr]) -> f64 {
    let started = Instant::now();
    let output = tokio::process::Command::new(program.as_ref())
        .args(args)
        .stdout(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{:?} {args:?} failed: {}",
        program.as_ref(),
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// Writes every dirty page to disk, so no step pays for the one before it.
pub(crate) fn sync() {
    let status = std::process::Command::new("sync").status().unwrap();
    assert!(status.success());
}

pub(crate) async fn drop_database(url: &str) {
    let (server, name) = url.rsplit_once('/').unwrap();
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}

pub(crate) fn count_files(dir: &Path) -> u64 {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files += count_files(&path);
        } else {
            files += 1;
        }
    }
    files
}

/// Hard links of every file under `from`, at the same places under `to`.
pub(crate) fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            link_tree(&path, &target);
        } else {
            std::fs::hard_link(&path, &target).unwrap();
        }
    }
}
