//! Progress for a person at a terminal (bars) or a log (one line per finished step), both on
//! stderr: stdout carries only what scripts read.

use std::{io::IsTerminal, time::Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// What a step counts.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Rows,
    Bytes,
}

/// How a command reports its steps.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    terminal: bool,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn detect() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A step of `total` units, shown from now until [`Step::finish`].
    pub fn step(&self, name: &str, total: u64, unit: Unit) -> Step {
        let bar = self.terminal.then(|| {
            let template = match unit {
                Unit::Rows => "{prefix:>8} [{bar:30}] {human_pos}/{human_len} rows {msg}",
                Unit::Bytes => "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            ProgressBar::new(total)
                .with_style(style)
                .with_prefix(name.to_string())
        });
        Step {
            name: name.to_string(),
            bar,
            started: Instant::now(),
        }
    }
}

/// One step under way; shared by the threads doing it.
pub struct Step {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Step {
    pub fn advance(&self, by: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(by);
        }
    }

    /// A word on what is being done now (the table being copied).
    pub fn note(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// Ends the step with a line saying what it did.
    pub fn finish(self, what: &str) {
        let line = format!(
            "{}: {what} in {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}
