//! Progress of a run, reported to whoever drives it. The library never draws:
//! the CLI implements [`Progress`] with terminal bars, the Python package with
//! tqdm, tests with [`Silent`].

use crate::error::{Error, Result};

/// Receives the steps of a run as they happen. Calls may come from several
/// threads at once (the cluster autoencoders train in parallel).
pub trait Progress: Sync {
    /// A step begins: `total` units (epochs, clusters) when known, else a spinner.
    fn start(&self, step: &str, total: Option<usize>) {
        let _ = (step, total);
    }

    /// `done` units of `step` are complete; `loss` is the latest training loss.
    fn advance(&self, step: &str, done: usize, loss: Option<f64>) {
        let _ = (step, done, loss);
    }

    /// The step ended (successfully or not).
    fn finish(&self, step: &str) {
        let _ = step;
    }

    /// Whether the driver asked the run to stop; polled between epochs and
    /// steps, so a run stops within about one epoch.
    fn cancelled(&self) -> bool {
        false
    }
}

/// [`Error::Interrupted`] when the driver asked the run to stop.
pub fn check_cancelled(progress: &dyn Progress) -> Result<()> {
    if progress.cancelled() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Runs `f` as the step `name` without units (a spinner), finishing the step
/// whether `f` succeeds or not.
pub fn step<T>(progress: &dyn Progress, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    check_cancelled(progress)?;
    progress.start(name, None);
    let r = f();
    progress.finish(name);
    r
}
