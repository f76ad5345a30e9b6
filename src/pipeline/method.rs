//! The scGNN method on a preprocessed [`Dataset`]: first phase → EM iterations
//! until the clustering is stable → imputation. Fills the data set's clusters,
//! embedding, graph, imputed matrix, LTMG states and report, and releases its
//! working matrix.

use super::dataset::Dataset;
use super::em::{self, EmTraining, Step};
use super::impute::{self, ImputeInput};
use super::memory;
use super::params::RunParams;
use super::phase1::{self, em_penalty};
use super::progress::Progress;
use super::report::{Convergence, Report};
use super::trainer::Trainer;
use crate::error::{Error, Result};
use crate::models::autoencoder::AeLoss;
use crate::nn::WeightedSse;
use std::time::Instant;

/// Checks that the method can run on `ds` with `p` (cells left, memory);
/// returns the memory estimate. Cheap: no training.
pub fn check(ds: &Dataset, p: &RunParams) -> Result<u64> {
    p.validate()?;
    let n = ds.n_cells();
    if n <= p.graph.k {
        return Err(Error::Data(format!(
            "only {n} cells remain after preprocessing; the cell graph needs more than --k {} cells",
            p.graph.k
        )));
    }
    let nnz = ds.x("the method")?.nnz();
    memory::check(n, ds.n_genes(), nnz, p)
}

/// Runs the whole method on `ds` (spec §3–§9).
pub fn run(ds: &mut Dataset, p: &RunParams, progress: &dyn Progress) -> Result<()> {
    let estimate = check(ds, p)?;
    let t_all = Instant::now();
    let trainer = Trainer::new(p, progress);
    let mut phases = Vec::new();
    // States read from scGNN's LTMG file come with the data set.
    let ltmg = match ds.ltmg.take() {
        Some(l) => Some(l),
        None => phase1::ltmg_states(ds, p, &mut phases, progress)?,
    };
    let mut current = ds.x("the feature autoencoder")?.to_dense();
    let mut models = phase1::feature_ae(&current, ltmg.as_ref(), p, &trainer, &mut phases)?;
    let z = models.ae.reconstruct_in_place(&mut current)?;

    let mut consensus = None;
    let mut step = em::cluster_step(&z, p, 0, None, &mut consensus, &mut phases, progress)?;
    let mut iterations = vec![em::iteration_record(0, &step, None, None)];
    em::log_step(0, &step, None, t_all.elapsed().as_secs_f64());
    let em = EmTraining {
        p,
        trainer,
        observed: ds.x("the EM loop")?,
        loss: AeLoss {
            sse: WeightedSse {
                gamma: p.gamma,
                alpha: 0.0,
                entry: None,
                row: None,
            },
            penalty: em_penalty(p),
        },
    };
    let mut convergence = None;
    for t in 1..=p.em_iterations {
        let labels = &step.clustering.labels;
        let (next_current, z) =
            em::autoencoders(&em, &mut models.ae, current, labels, t, &mut phases)?;
        current = next_current;
        let previous = Some(step.clustering.labels.as_slice());
        let next: Step =
            em::cluster_step(&z, p, t, previous, &mut consensus, &mut phases, progress)?;
        let (rec, conv) = em::compare(&step, &next, p, t)?;
        em::log_step(t, &next, rec.ari_previous, t_all.elapsed().as_secs_f64());
        iterations.push(rec);
        step = next;
        if conv.is_some() {
            convergence = conv;
            break;
        }
    }
    let convergence =
        convergence.unwrap_or_else(|| Convergence::not_reached(p.em_iterations, iterations.last()));
    if convergence.converged {
        tracing::info!("EM loop: {}", convergence.message);
    } else {
        tracing::warn!("EM loop: {}", convergence.message);
    }
    drop(current);

    let x =
        ds.x.take()
            .ok_or_else(|| Error::Usage("the working matrix was already released".into()))?;
    let missing =
        |what: &str| Error::Usage(format!("the imputation needs the {what} of the data set"));
    let input = ImputeInput {
        x: &x,
        counts: ds.counts.as_ref().ok_or_else(|| missing("counts"))?,
        scale: ds.scale.as_ref().ok_or_else(|| missing("count scale"))?,
        graph: &step.graph,
        labels: &step.clustering.labels,
        ltmg: ltmg.as_ref(),
    };
    let (imputed, imputation) = impute::impute(&input, models, p, &trainer, &mut phases)?;
    drop(x);

    ds.report = Report {
        version: env!("CARGO_PKG_VERSION").to_string(),
        dataset: ds.name.clone(),
        input: ds.source.clone(),
        n_cells: ds.n_cells(),
        n_genes: ds.n_genes(),
        threads: rayon::current_num_threads(),
        params: p.clone(),
        phases,
        iterations,
        convergence,
        estimated_peak_bytes: estimate,
        total_seconds: t_all.elapsed().as_secs_f64(),
        ltmg_states: ltmg.as_ref().map(|l| l.state_histogram()),
        imputation,
        imputed_scale: imputed_scale(ds),
        evaluation: None,
    };
    ds.clusters = Some(step.clustering.labels);
    ds.embedding = Some(step.embedding);
    ds.graph = Some(step.graph);
    ds.imputed = Some(imputed);
    ds.ltmg = ltmg;
    Ok(())
}

/// What the values of the imputed matrix are, in words, for the report and the
/// `.h5ad`'s readers.
fn imputed_scale(ds: &Dataset) -> String {
    let normalised = ds
        .scale
        .as_ref()
        .is_some_and(|s| s.size_factors.iter().any(|&f| f != 1.0));
    let log = ds
        .scale
        .as_ref()
        .is_none_or(|s| s.transform == crate::preprocess::Transform::Log);
    match (normalised, log) {
        (true, true) => "ln(1 + x), x = counts scaled to the median library size (layers['counts'] holds the raw counts)",
        (false, true) => "ln(1 + x), x = raw counts (layers['counts'])",
        (true, false) => "counts scaled to the median library size",
        (false, false) => "the input's values",
    }
    .to_string()
}
