//! One training loop for every autoencoder of the method (feature, cluster,
//! imputation): fixed epochs or early stopping in windows, progress, the phase
//! record and the non-finite-loss check.

use super::params::RunParams;
use super::progress::{check_cancelled, Progress};
use super::report::Phase;
use crate::error::{Error, Result};
use crate::matrix::Dense;
use crate::models::autoencoder::{AeLoss, Autoencoder};
use std::time::Instant;

/// Trains autoencoders with the run's stopping rule and reports progress.
#[derive(Clone, Copy)]
pub struct Trainer<'a> {
    /// Stop when the mean loss of a window improves by less than this fraction
    /// on the window before (0: fixed epochs).
    pub early_stop_tol: f64,
    /// Window of epochs for the early-stop test.
    pub patience: usize,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
}

impl<'a> Trainer<'a> {
    /// The trainer of a run.
    pub fn new(p: &RunParams, progress: &'a dyn Progress) -> Self {
        Trainer {
            early_stop_tol: p.early_stop_tol,
            patience: p.patience,
            progress,
        }
    }

    /// Trains `ae` on `data` (input and target) for up to `max_epochs` as the
    /// phase `name`, with progress and a summary line; returns the phase record.
    pub fn phase(
        &self,
        name: &str,
        ae: &mut Autoencoder,
        data: &Dense,
        loss: &AeLoss,
        max_epochs: usize,
    ) -> Result<Phase> {
        let t = Instant::now();
        self.progress.start(name, Some(max_epochs));
        let r = self.fit(ae, data, loss, max_epochs, &mut |i, v| {
            self.progress.advance(name, i + 1, Some(v))
        });
        self.progress.finish(name);
        let losses = r.map_err(|e| match e {
            Error::Numeric(m) => Error::Numeric(format!("{name}: {m}")),
            e => e,
        })?;
        let secs = t.elapsed().as_secs_f64();
        tracing::info!(
            "{name}: {} epochs in {secs:.2} s, loss {:.4e}",
            losses.len(),
            losses.last().copied().unwrap_or(f64::NAN)
        );
        Ok(Phase::new(name, secs, losses.len(), losses))
    }

    /// Trains `ae` for up to `max_epochs`, stopping early when the mean loss of
    /// the last `patience` epochs improves by less than `early_stop_tol`
    /// (relative) on the window before. Training in windows keeps the optimizer
    /// state, so without early stopping this is exactly `max_epochs` epochs.
    /// Returns the loss of every epoch run.
    pub fn fit(
        &self,
        ae: &mut Autoencoder,
        data: &Dense,
        loss: &AeLoss,
        max_epochs: usize,
        on_epoch: &mut dyn FnMut(usize, f64),
    ) -> Result<Vec<f64>> {
        let window = if self.early_stop_tol > 0.0 {
            self.patience
        } else {
            max_epochs.max(1)
        };
        let mut losses: Vec<f64> = Vec::with_capacity(max_epochs);
        let mut previous: Option<f64> = None;
        while losses.len() < max_epochs {
            let base = losses.len();
            let e = window.min(max_epochs - base);
            // One epoch per call (the optimizer state carries over, so this is
            // the same training), to stop within an epoch when asked.
            let mut l = Vec::with_capacity(e);
            for i in 0..e {
                check_cancelled(self.progress)?;
                let v = ae.train(data, data, loss, 1, &mut |_, _| {})?[0];
                on_epoch(base + i, v);
                l.push(v);
            }
            let mean = l.iter().sum::<f64>() / l.len().max(1) as f64;
            losses.extend(l);
            if self.early_stop_tol > 0.0 {
                if let Some(prev) = previous {
                    if (prev - mean) / prev.abs().max(f64::MIN_POSITIVE) < self.early_stop_tol {
                        break;
                    }
                }
                previous = Some(mean);
            }
        }
        if losses.iter().any(|l| !l.is_finite()) {
            return Err(Error::Numeric(
                "the training loss became non-finite; lower the learning rate or check the input"
                    .into(),
            ));
        }
        Ok(losses)
    }
}
