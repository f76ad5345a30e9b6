//! The first phase (spec §2–§3.3): LTMG regulatory states when a regularizer
//! needs them, then the feature autoencoder on the working matrix.

use super::dataset::Dataset;
use super::params::{ImputeMethod, PenaltyPhases, Regularizer, RunParams};
use super::progress::{self, Progress};
use super::report::Phase;
use super::seeds;
use super::trainer::Trainer;
use crate::error::Result;
use crate::ltmg::{self, Ltmg};
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::{AeLoss, Autoencoder};
use crate::nn::{Penalty, WeightedSse};
use std::time::Instant;

/// What the first phase leaves for the rest of the method.
pub struct Phase1 {
    /// The trained feature autoencoder (the EM loop keeps training it).
    pub ae: Autoencoder,
    /// The imputation autoencoder's starting weights: the feature autoencoder's before
    /// training (spec §9.1), or a fresh one when the imputation has its own widths;
    /// `None` when the imputation is not an autoencoder.
    pub initial: Option<Autoencoder>,
    /// Its weights after this phase, without optimizer state, when the imputation
    /// trains on this phase's reconstruction: recomputing it at the end (one
    /// forward pass) saves a dense cells × genes copy through the whole EM loop.
    pub trained: Option<Autoencoder>,
}

/// The L1/L2 penalty of the feature and cluster autoencoders.
pub fn em_penalty(p: &RunParams) -> Penalty {
    match p.penalty_phases {
        PenaltyPhases::All => Penalty { l1: p.l1, l2: p.l2 },
        PenaltyPhases::Impute => Penalty::none(),
    }
}

/// LTMG regulatory states on the count scale of the kept genes (spec §2), when
/// the first-phase or the imputation regularizer needs them.
pub fn ltmg_states(
    ds: &Dataset,
    p: &RunParams,
    phases: &mut Vec<Phase>,
    progress: &dyn Progress,
) -> Result<Option<Ltmg>> {
    if !p.needs_ltmg() {
        return Ok(None);
    }
    let (Some(counts), Some(scale)) = (&ds.counts, &ds.scale) else {
        return Err(crate::Error::Usage(
            "LTMG needs the counts of the data set".into(),
        ));
    };
    let t = Instant::now();
    let l = progress::step(progress, "ltmg", || {
        ltmg::run(&scale.normalised(counts), &p.ltmg, seeds::ltmg(p))
    })?;
    tracing::info!(
        "LTMG: {} genes fitted in {:.2} s, states {:?}",
        ds.n_genes(),
        t.elapsed().as_secs_f64(),
        l.state_histogram()
    );
    phases.push(Phase::new("ltmg", t.elapsed().as_secs_f64(), 0, vec![]));
    Ok(Some(l))
}

/// Trains the feature autoencoder on `x` (dense working matrix) with the
/// optional LTMG regularizer (spec §3.3).
pub fn feature_ae(
    x: &Dense,
    ltmg: Option<&Ltmg>,
    p: &RunParams,
    trainer: &Trainer,
    phases: &mut Vec<Phase>,
) -> Result<Phase1> {
    let mut ae = Autoencoder::new(x.cols, &p.ae, seeds::feature_ae(p))?;
    let lifted = ae.lift_dead_outputs(x)?;
    tracing::debug!("feature AE: {lifted} output biases raised so every gene starts positive");
    let initial = match (p.impute_method, &p.impute_ae) {
        (ImputeMethod::Neighbourhood, _) => None,
        (ImputeMethod::Scgnn, None) => Some(ae.clone()),
        (ImputeMethod::Scgnn, Some(cfg)) => {
            let mut imp = Autoencoder::new(x.cols, cfg, seeds::impute_ae(p))?;
            imp.lift_dead_outputs(x)?;
            Some(imp)
        }
    };
    let entry: Option<Csr<u8>> = match (p.regularizer, ltmg) {
        (Regularizer::Ltmg, Some(l)) => Some(l.states.clone()),
        (Regularizer::Ltmg01, Some(l)) => Some(l.binarized()),
        _ => None,
    };
    let loss = AeLoss {
        sse: WeightedSse {
            gamma: p.gamma,
            alpha: if entry.is_some() { p.alpha } else { 0.0 },
            entry: entry.as_ref(),
            row: None,
        },
        penalty: em_penalty(p),
    };
    let epochs = p.capped_epochs(x.rows, p.regu_epochs);
    phases.push(trainer.phase("feature_ae", &mut ae, x, &loss, epochs)?);
    let trained = (p.impute_method == ImputeMethod::Scgnn && !p.impute_on_observed).then(|| {
        let mut t = ae.clone();
        t.reset_optimizer();
        t
    });
    Ok(Phase1 {
        ae,
        initial,
        trained,
    })
}
