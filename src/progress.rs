//! Progress of the long commands (`import`, `seed`, `export`): the work is cut into phases
//! (read the file, validate it, load each table, build the indexes, swap...), and a
//! `Progress` reports each one as it runs and when it is done.
//!
//! Three ways to report, chosen by the caller (the command line knows whether standard error
//! is a terminal; nothing here asks):
//! - `bar`: a live bar on standard error per phase (a spinner with a count and a rate when the
//!   total is not known up front), left on screen when the phase is done;
//! - `lines`: one line per finished phase, handed to a sink (plain `eprintln`, or a log event
//!   in JSON mode), in the form `line` writes;
//! - `quiet`: nothing.
//!
//! A phase that is dropped unfinished (its work failed) reports nothing: the error says it.
//! Callers count in batches (a statement's rows, a chunk of COPY data), so the cost per row
//! is nil.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Where finished phases' lines go.
type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// The reporter of one command's phases. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    /// The command the lines and bars are prefixed with (`import`, `seed`, `export`).
    command: &'static str,
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Quiet,
    Lines(Sink),
    Bar,
}

impl Progress {
    /// Reports nothing.
    pub fn quiet() -> Progress {
        Progress {
            command: "",
            mode: Mode::Quiet,
        }
    }

    /// One line per finished phase, given to `sink` (see `line` for its form).
    pub fn lines(command: &'static str, sink: impl Fn(&str) + Send + Sync + 'static) -> Progress {
        Progress {
            command,
            mode: Mode::Lines(Arc::new(sink)),
        }
    }

    /// A live bar per phase on standard error (for a terminal).
    pub fn bar(command: &'static str) -> Progress {
        Progress {
            command,
            mode: Mode::Bar,
        }
    }

    /// Starts a phase of `total` items (`None`: not known up front) counted in `unit`
    /// (`rows`, `bytes`...; empty for a phase that counts nothing).
    pub fn phase(&self, name: impl Into<String>, unit: &'static str, total: Option<u64>) -> Phase {
        let name = name.into();
        let bar = match self.mode {
            Mode::Bar => Some(new_bar(self.command, &name, unit, total)),
            _ => None,
        };
        Phase {
            command: self.command,
            name,
            unit,
            sink: match &self.mode {
                Mode::Lines(sink) => Some(sink.clone()),
                _ => None,
            },
            bar,
            done: AtomicU64::new(0),
            started: Instant::now(),
            finished: false,
        }
    }
}

fn new_bar(command: &str, name: &str, unit: &str, total: Option<u64>) -> ProgressBar {
    let template = match (total, unit) {
        (Some(_), _) => {
            "{prefix} {elapsed:>4} [{bar:30}] {human_pos}/{human_len} {msg} {rate} ETA {eta}"
        }
        (None, "") => "{prefix} {elapsed:>4} {spinner}",
        (None, _) => "{prefix} {elapsed:>4} {spinner} {human_pos} {msg} {rate}",
    };
    // Styled and named while hidden, so that its first frame is already the whole bar.
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
    // The templates above are fixed and valid; should one not be, the default style stays.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(
            style
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
        );
    }
    bar.set_prefix(format!("{command}: {name:<19}"));
    bar.set_message(unit.to_string());
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One running phase: count its items with `inc`, end it with `finish`.
pub struct Phase {
    command: &'static str,
    name: String,
    unit: &'static str,
    sink: Option<Sink>,
    bar: Option<ProgressBar>,
    done: AtomicU64,
    started: Instant,
    finished: bool,
}

impl Phase {
    /// `n` more items done.
    pub fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// The phase is done: its bar stays on screen as it ended, or its line is written.
    pub fn finish(mut self) {
        self.finished = true;
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if let Some(sink) = &self.sink {
            let count = (!self.unit.is_empty()).then(|| self.done.load(Ordering::Relaxed));
            sink(&line(
                self.command,
                &self.name,
                count.map(|n| (n, self.unit)),
                self.started.elapsed(),
            ));
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        // Unfinished: the work failed and its error is the news; the bar goes.
        if !self.finished {
            if let Some(bar) = &self.bar {
                bar.finish_and_clear();
            }
        }
    }
}

/// A finished phase's line:
/// `import: users 100000 rows in 1.20 s (83333 rows/s)`, or, for a phase that counts
/// nothing, `import: swap in 0.01 s`. Seconds always have two decimals; the rate is whole
/// items per second.
pub fn line(command: &str, phase: &str, count: Option<(u64, &str)>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut text = format!("{command}: {phase}");
    if let Some((n, unit)) = count {
        let _ = write!(text, " {n} {unit}");
    }
    let _ = write!(text, " in {secs:.2} s");
    if let Some((n, unit)) = count {
        // Under a millisecond the rate would mean nothing: it is taken over one.
        let rate = n as f64 / secs.max(0.001);
        let _ = write!(text, " ({rate:.0} {unit}/s)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn lines_form() {
        assert_eq!(
            line(
                "import",
                "users",
                Some((100_000, "rows")),
                Duration::from_millis(1200)
            ),
            "import: users 100000 rows in 1.20 s (83333 rows/s)"
        );
        assert_eq!(
            line("import", "swap", None, Duration::from_millis(7)),
            "import: swap in 0.01 s"
        );
    }

    #[test]
    fn a_line_per_finished_phase_and_none_for_a_failed_one() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress = Progress::lines("seed", move |line| {
            sink.lock().map(|mut s| s.push(line.to_string())).ok();
        });
        let phase = progress.phase("users", "rows", Some(5));
        phase.inc(2);
        phase.inc(3);
        phase.finish();
        drop(progress.phase("tags", "rows", None));
        progress.phase("swap", "", None).finish();
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[0].starts_with("seed: users 5 rows in "), "{seen:?}");
        assert!(seen[1].starts_with("seed: swap in "), "{seen:?}");
    }
}
