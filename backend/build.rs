//! Builds the browser app (`frontend/`) into `frontend/dist` when its sources are newer than
//! the last build, so that `cargo run` on a fresh clone serves the app and a release binary
//! carries it inside (see `http::app_files`). Needs `npm`; a machine without it gets one
//! line naming the package to install.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

/// What the build reads, besides `node_modules`.
const INPUTS: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
    "scripts",
];

fn main() {
    let frontend = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend");
    // Only inputs that exist: cargo takes a missing path as changed, and would rebuild the
    // crate on every command. (A `public` folder added later is seen with the next change
    // to another input.)
    for input in INPUTS.iter().map(|input| frontend.join(input)) {
        if input.exists() {
            println!("cargo::rerun-if-changed={}", input.display());
        }
    }
    let built = frontend.join("dist/index.html");
    println!("cargo::rerun-if-changed={}", built.display());
    if let Err(message) = build_if_stale(&frontend, &built) {
        println!("cargo::error={message}");
    }
}

fn build_if_stale(frontend: &Path, built: &Path) -> Result<(), String> {
    let sources = INPUTS
        .iter()
        .filter_map(|input| newest(&frontend.join(input)))
        .max();
    let build = modified(built);
    if build.is_some() && build >= sources {
        return Ok(());
    }
    if Command::new("npm").arg("--version").output().is_err() {
        if build.is_some() {
            println!("cargo::warning=npm is missing: the browser app is served as built before");
            return Ok(());
        }
        return Err(
            "building the browser app needs npm: install Debian's nodejs and npm packages \
             (apt-get install nodejs npm)"
                .into(),
        );
    }
    let installed = modified(&frontend.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&frontend.join("package-lock.json")) {
        npm(frontend, &["ci", "--no-audit", "--no-fund"])?;
    }
    npm(frontend, &["run", "build"])
}

fn npm(frontend: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(frontend)
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm {}` in frontend/ failed ({status}); its output is above",
            args.join(" ")
        ))
    }
}

/// The latest modification time of a file, or of any file under a directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}
