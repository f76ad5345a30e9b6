//! The scGNN method on a preprocessed [`Dataset`]: first phase → EM iterations
//! until the clustering is stable → imputation. Fills the data set's clusters,
//! embedding, graph, imputed matrix, LTMG states and report, and releases its
//! working matrix.

use super::checkpoint::{Checkpoints, State};
use super::dataset::Dataset;
use super::em::{self, EmTraining, Step};
use super::gene_scale;
use super::impute::{self, ImputeInput};
use super::memory;
use super::params::{ImputeMethod, RunParams};
use super::phase1::{self, em_penalty};
use super::progress::Progress;
use super::report::{Convergence, Phase, Report};
use super::trainer::Trainer;
use crate::error::{Error, Result};
use crate::matrix::Dense;
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

/// Runs the whole method on `ds` (spec §3–§9). With `checkpoints`, the state is
/// saved after the first phase and after every EM iteration; `resume` is a saved
/// state to continue from (read by [`Checkpoints::load`]).
pub fn run(
    ds: &mut Dataset,
    p: &RunParams,
    progress: &dyn Progress,
    checkpoints: Option<&Checkpoints>,
    resume: Option<State>,
) -> Result<()> {
    let estimate = check(ds, p)?;
    let t_all = Instant::now();
    // The autoencoders see the gene-scaled matrix from here on; the imputation
    // maps its autoencoder's output back (the neighbourhood model reads counts).
    let gene_factors =
        ds.x.as_mut()
            .and_then(|x| gene_scale::scale_in_place(x, p.gene_scale));
    let trainer = Trainer::new(p, progress);
    // States read from scGNN's LTMG file come with the data set; computed ones
    // are recomputed on resume (deterministic, and cheap beside training).
    let mut ltmg_phases = Vec::new();
    let ltmg = match ds.ltmg.take() {
        Some(l) => Some(l),
        None => phase1::ltmg_states(ds, p, &mut ltmg_phases, progress)?,
    };
    let mut s = match resume {
        Some(s) => {
            tracing::info!(
                "resuming after {} from the checkpoint",
                if s.t == 0 {
                    "the first phase".to_string()
                } else {
                    format!("EM iteration {}", s.t)
                }
            );
            s
        }
        None => {
            let s = first_phase(
                ds,
                p,
                ltmg.as_ref(),
                &trainer,
                ltmg_phases,
                progress,
                &t_all,
            )?;
            save(checkpoints, &s, progress)?;
            s
        }
    };
    let seconds_before = s.seconds - t_all.elapsed().as_secs_f64();
    em_loop(ds, p, trainer, &mut s, checkpoints, progress, &t_all)?;
    let State {
        ae,
        initial,
        trained,
        current,
        graph,
        embedding,
        clustering,
        iterations,
        mut phases,
        convergence,
        ..
    } = s;
    let models = phase1::Phase1 {
        ae,
        initial,
        trained,
    };
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
    let x = (p.impute_method == ImputeMethod::Scgnn).then_some(x);
    let missing =
        |what: &str| Error::Usage(format!("the imputation needs the {what} of the data set"));
    let input = ImputeInput {
        x: x.as_ref(),
        counts: ds.counts.as_ref().ok_or_else(|| missing("counts"))?,
        scale: ds.scale.as_ref().ok_or_else(|| missing("count scale"))?,
        graph: &graph,
        labels: &clustering.labels,
        ltmg: ltmg.as_ref(),
        gene_factors: gene_factors.as_deref(),
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
        total_seconds: seconds_before + t_all.elapsed().as_secs_f64(),
        ltmg_states: ltmg.as_ref().map(|l| l.state_histogram()),
        imputation,
        imputed_scale: imputed_scale(ds),
        evaluation: None,
    };
    ds.clusters = Some(clustering.labels);
    ds.embedding = Some(embedding);
    ds.graph = Some(graph);
    ds.imputed = Some(imputed);
    ds.ltmg = ltmg;
    Ok(())
}

/// The first phase and its clustering (step 0), as the state EM starts from.
fn first_phase(
    ds: &Dataset,
    p: &RunParams,
    ltmg: Option<&crate::ltmg::Ltmg>,
    trainer: &Trainer,
    mut phases: Vec<Phase>,
    progress: &dyn Progress,
    t_all: &Instant,
) -> Result<State> {
    let mut current = ds.x("the feature autoencoder")?.to_dense();
    let models = phase1::feature_ae(&current, ltmg, p, trainer, &mut phases)?;
    let z = models.ae.reconstruct_in_place(&mut current)?;
    let mut consensus = None;
    let step = em::cluster_step(&z, p, 0, None, &mut consensus, &mut phases, progress)?;
    let iterations = vec![em::iteration_record(0, &step, None, None)];
    em::log_step(0, &step, None, t_all.elapsed().as_secs_f64());
    Ok(State {
        t: 0,
        ae: models.ae,
        initial: models.initial,
        trained: models.trained,
        current,
        graph: step.graph,
        embedding: step.embedding,
        clustering: step.clustering,
        consensus,
        iterations,
        phases,
        convergence: None,
        seconds: t_all.elapsed().as_secs_f64(),
    })
}

/// EM iterations from the state `s` until the clustering converges or the
/// cap is reached, saving a checkpoint after each.
fn em_loop(
    ds: &Dataset,
    p: &RunParams,
    trainer: Trainer,
    s: &mut State,
    checkpoints: Option<&Checkpoints>,
    progress: &dyn Progress,
    t_all: &Instant,
) -> Result<()> {
    let seconds_before = s.seconds - t_all.elapsed().as_secs_f64();
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
    while s.convergence.is_none() && s.t < p.em_iterations {
        let t = s.t + 1;
        let current = std::mem::replace(&mut s.current, Dense::zeros(0, 0));
        let (next_current, z) = em::autoencoders(
            &em,
            &mut s.ae,
            current,
            &s.clustering.labels,
            t,
            &mut s.phases,
        )?;
        s.current = next_current;
        let previous = Some(s.clustering.labels.as_slice());
        let next: Step = em::cluster_step(
            &z,
            p,
            t,
            previous,
            &mut s.consensus,
            &mut s.phases,
            progress,
        )?;
        let (rec, conv) = em::compare(&s.graph, &s.clustering, &next, p, t)?;
        em::log_step(
            t,
            &next,
            rec.ari_previous,
            seconds_before + t_all.elapsed().as_secs_f64(),
        );
        s.iterations.push(rec);
        s.graph = next.graph;
        s.embedding = next.embedding;
        s.clustering = next.clustering;
        s.convergence = conv;
        s.t = t;
        s.seconds = seconds_before + t_all.elapsed().as_secs_f64();
        save(checkpoints, s, progress)?;
    }
    Ok(())
}

/// Saves the checkpoint of `s`, if the run keeps checkpoints.
fn save(checkpoints: Option<&Checkpoints>, s: &State, progress: &dyn Progress) -> Result<()> {
    let Some(c) = checkpoints else {
        return Ok(());
    };
    let t = Instant::now();
    super::progress::step(progress, "checkpoint", || c.save(s))?;
    tracing::info!(
        "checkpoint after step {} written to {} in {:.2} s",
        s.t,
        c.path().display(),
        t.elapsed().as_secs_f64()
    );
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
