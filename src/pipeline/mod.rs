//! The scGNN method end to end (spec §3–§9): feature autoencoder → cell graph →
//! (graph autoencoder) → clustering → cluster autoencoders → EM iterations until the
//! clustering is stable → imputation autoencoder.
//!
//! Deliberate differences from scGNN's code (spec §17), all in favour of what the
//! paper describes:
//! - every EM iteration trains on the previous reconstruction (scGNN's HEAD trains on
//!   the raw input every time), and each cluster autoencoder trains on its own
//!   cluster's cells and writes back to those cells;
//! - each cluster autoencoder starts from the current feature autoencoder with a
//!   fresh optimizer, and clusters train in parallel;
//! - the labels, embedding and graph written out all come from the same step (scGNN's
//!   labels lag one step behind);
//! - convergence compares consecutive labelings, never the ground truth;
//! - the imputation autoencoder restarts from the initial weights and trains on the
//!   first-phase reconstruction, with the graph/cell-type regularizer computed as the
//!   exact per-cell weighted error of spec §9.2 (O(cells), no N × N matrices).

pub mod benchmark;
pub mod params;
pub mod report;

use crate::cluster::{self, Clustering};
use crate::error::{Error, Result};
use crate::evaluate::metrics::ari;
use crate::graph::{self, CellGraph};
use crate::ltmg::{self, Ltmg};
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::{AeLoss, Autoencoder};
use crate::models::gae::{self, binarize_by_column_mean};
use crate::nn::{Penalty, WeightedSse};
use crate::preprocess::Preprocessed;
use indicatif::{ProgressBar, ProgressStyle};
use params::{
    ConvergeType, EmbeddingUse, GraphUse, ImputeRegularizer, PenaltyPhases, Regularizer, RunParams,
};
use rayon::prelude::*;
use report::{Iteration, Phase, Report};
use std::time::Instant;

/// Everything a run produces.
pub struct RunOutput {
    /// Final cluster labels (contiguous 0..K−1).
    pub labels: Vec<usize>,
    /// Final clustering embedding (cells × d).
    pub embedding: Dense,
    /// Final cell graph.
    pub graph: CellGraph,
    /// Imputed matrix (cells × genes, ln(1+x) scale).
    pub imputed: Dense,
    /// LTMG states, if computed.
    pub ltmg: Option<Ltmg>,
    /// The run report.
    pub report: Report,
}

/// How much to show on stderr.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Draw progress bars (they are hidden anyway when stderr is not a terminal).
    pub bars: bool,
}

impl Progress {
    /// A spinner for a step without a known length (reading, LTMG, KNN, clustering).
    pub fn spinner(&self, phase: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{prefix:>16} {spinner} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.set_prefix(phase.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    }

    fn bar(&self, phase: &str, len: usize) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let b = ProgressBar::new(len as u64);
        b.set_style(
            ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(phase.to_string());
        b
    }
}

/// Rough peak memory of a run in bytes: the dense working copies of the expression
/// matrix, the sparse input, the embeddings, the KNN lists, the graph and the LTMG
/// states.
pub fn estimate_peak_bytes(n_cells: usize, n_genes: usize, nnz: usize, p: &RunParams) -> u64 {
    let (n, g) = (n_cells as u64, n_genes as u64);
    // Reconstructions are written in place, so one dense cells × genes matrix is
    // alive at a time, two while the cluster autoencoders split and reassemble it
    // (not in quick mode); the h5ad writer releases the imputed matrix as it encodes
    // it. Two sparse matrices are alive throughout: the transformed input and the
    // raw counts kept for the output during training, the raw counts and the
    // writer's copy of them while writing (the CLI frees the transformed input
    // first).
    let dense_copies = if p.quickmode { 1 } else { 2 };
    let dense = dense_copies * n * g * 4 + 2 * nnz as u64 * 8;
    let ae_work = 3
        * (p.ae.chunk_rows.min(n_cells) as u64)
        * (2 * g + 2 * p.ae.hidden as u64 + p.ae.latent as u64)
        * 4;
    // Shortlists of k + 16 candidates (score and index) per cell, the exact
    // neighbour lists and the graph's edges; the distance tiles are per thread.
    let k = p.graph.k as u64;
    let knn = n * (k + 16) * 8 + n * k * 24 + rayon::current_num_threads() as u64 * (1 << 20);
    let ltmg = if p.needs_ltmg() { nnz as u64 * 9 } else { 0 };
    let gae = if p.embedding == EmbeddingUse::Autoencoder {
        0
    } else {
        n * (p.gae.hidden1 as u64 + 3 * p.gae.hidden2 as u64) * 4 * 4 + n * k * 2 * 12
    };
    // The embedding, its copy for clustering and the KNN's normalised copy.
    let embeddings = 3 * n * p.ae.latent as u64 * 4;
    dense + ae_work + knn + ltmg + gae + embeddings + (256 << 20)
}

/// Runs the whole method on preprocessed data.
pub fn run(pre: &Preprocessed, p: &RunParams, progress: Progress) -> Result<RunOutput> {
    p.validate()?;
    let t_all = Instant::now();
    let n = pre.expr.n_cells();
    let g = pre.expr.n_genes();
    if n <= p.graph.k {
        return Err(Error::Data(format!(
            "only {n} cells remain after preprocessing; the cell graph needs more than --k {} cells",
            p.graph.k
        )));
    }
    let estimate = estimate_peak_bytes(n, g, pre.expr.x.nnz(), p);
    if estimate > p.memory_limit {
        return Err(Error::Resources(format!(
            "this run needs about {:.1} GiB but only {:.1} GiB are available ({n} cells × {g} genes); \
             use fewer genes (--geneSelectnum), run on a larger machine, or split the data",
            estimate as f64 / (1u64 << 30) as f64,
            p.memory_limit as f64 / (1u64 << 30) as f64
        )));
    }
    let mut phases: Vec<Phase> = Vec::new();
    let mut iterations: Vec<Iteration> = Vec::new();

    // LTMG regulatory states on the count scale of the kept genes (spec §2).
    let ltmg_states = if p.needs_ltmg() {
        let t = Instant::now();
        let spin = progress.spinner("ltmg");
        let l = ltmg::run(&pre.scaled_counts(), &p.ltmg);
        spin.finish_and_clear();
        let l = l?;
        let hist = l.state_histogram();
        tracing::info!(
            "LTMG: {} genes fitted in {:.2} s, states {:?}",
            g,
            t.elapsed().as_secs_f64(),
            hist
        );
        phases.push(Phase::new("ltmg", t.elapsed().as_secs_f64(), 0, vec![]));
        Some(l)
    } else {
        None
    };
    let ltmg_entry: Option<Csr<u8>> = match (p.regularizer, &ltmg_states) {
        (Regularizer::Ltmg, Some(l)) => Some(l.states.clone()),
        (Regularizer::Ltmg01, Some(l)) => Some(l.binarized()),
        _ => None,
    };

    let x = pre.expr.x.to_dense();
    let mut ae = Autoencoder::new(
        g,
        &p.ae,
        crate::rng::stream(p.seed, "feature-ae").next_seed(),
    )?;
    let lifted = ae.lift_dead_outputs(&x)?;
    tracing::debug!("feature AE: {lifted} output biases raised so every gene starts positive");
    // The imputation autoencoder restarts from these weights (spec §9.1).
    let initial_ae = ae.clone();
    let em_penalty = match p.penalty_phases {
        PenaltyPhases::All => Penalty { l1: p.l1, l2: p.l2 },
        PenaltyPhases::Impute => Penalty::none(),
    };

    // Phase 1: feature autoencoder with the optional LTMG regularizer (spec §3.3).
    let loss1 = AeLoss {
        sse: WeightedSse {
            gamma: p.gamma,
            alpha: if ltmg_entry.is_some() { p.alpha } else { 0.0 },
            entry: ltmg_entry.as_ref(),
            row: None,
        },
        penalty: em_penalty,
    };
    let ph = train_phase(
        "feature_ae",
        &mut ae,
        &x,
        &x,
        &loss1,
        p.regu_epochs,
        p,
        progress,
    )?;
    phases.push(ph);
    // The imputation needs this phase's reconstruction again at the end; keeping the
    // weights and recomputing it then (one forward pass) saves a dense cells × genes
    // copy through the whole EM loop.
    let mut ae_phase1 = ae.clone();
    ae_phase1.reset_optimizer(); // only its weights are used: free the Adam moments
    let mut current = x;
    let mut z = ae.reconstruct_in_place(&mut current)?;

    let mut graph = timed(&mut phases, "graph0", progress, || {
        graph::build(&z, &p.graph, p.seed)
    })?;
    let mut emb = embedding(&z, &graph, p, 0, &mut phases, progress)?;
    let mut clustering = timed(&mut phases, "cluster0", progress, || {
        cluster::cluster(&emb, &graph.pruned_graph(), &cluster_params(p, 0))
    })?;
    iterations.push(iteration_record(0, &clustering, None, None, &graph));
    log_iteration(0, &clustering, None, &graph, t_all.elapsed().as_secs_f64());

    let em_loss = AeLoss {
        sse: WeightedSse {
            gamma: p.gamma,
            alpha: 0.0,
            entry: None,
            row: None,
        },
        penalty: em_penalty,
    };
    let mut convergence = format!("reached --EM-iteration {}", p.em_iterations);
    for t in 1..=p.em_iterations {
        if !p.quickmode {
            let tc = Instant::now();
            let (next, epochs) =
                cluster_autoencoders(&ae, current, &clustering.labels, &em_loss, p, t, progress)?;
            current = next;
            phases.push(Phase::new(
                format!("em{t}.cluster_ae"),
                tc.elapsed().as_secs_f64(),
                epochs,
                vec![],
            ));
        }
        let ph = train_phase(
            &format!("em{t}.feature_ae"),
            &mut ae,
            &current,
            &current,
            &em_loss,
            p.em_epochs,
            p,
            progress,
        )?;
        phases.push(ph);
        z = ae.reconstruct_in_place(&mut current)?;
        let prev_graph = graph;
        graph = timed(&mut phases, &format!("em{t}.graph"), progress, || {
            graph::build(&z, &p.graph, p.seed)
        })?;
        emb = embedding(&z, &graph, p, t, &mut phases, progress)?;
        let next = timed(&mut phases, &format!("em{t}.cluster"), progress, || {
            cluster::cluster(&emb, &graph.pruned_graph(), &cluster_params(p, t))
        })?;
        let a = ari(&clustering.labels, &next.labels);
        let change = graph::graph_change(&prev_graph.pruned_graph(), &graph.pruned_graph())?;
        iterations.push(iteration_record(t, &next, Some(a), Some(change), &graph));
        log_iteration(t, &next, Some(a), &graph, t_all.elapsed().as_secs_f64());
        clustering = next;
        let cell_ok = a > p.converge_celltype_ratio;
        let graph_ok = change < p.converge_graph_ratio;
        let done = match p.converge_type {
            ConvergeType::Celltype => cell_ok,
            ConvergeType::Graph => graph_ok,
            ConvergeType::Both => cell_ok && graph_ok,
            ConvergeType::Either => cell_ok || graph_ok,
        };
        if done {
            convergence = format!(
                "converged at iteration {t} ({:?}: ARI with previous labels {a:.4}, graph change {change:.4})",
                p.converge_type
            );
            break;
        }
    }
    tracing::info!("EM loop: {convergence}");

    // Imputation autoencoder (spec §9).
    let adj = graph.adjacency(p.graph_use == GraphUse::Pruned);
    let weights = impute_weights(&adj, &clustering.labels, p);
    let binary_ltmg = match (p.impute_regularizer, &ltmg_states) {
        (ImputeRegularizer::CelltypeR, Some(l)) => Some(l.binarized()),
        _ => None,
    };
    let imp_loss = AeLoss {
        sse: WeightedSse {
            gamma: p.gamma_impute,
            alpha: if binary_ltmg.is_some() {
                1.0 - p.gamma_impute
            } else {
                0.0
            },
            entry: binary_ltmg.as_ref(),
            row: weights.as_deref(),
        },
        penalty: Penalty { l1: p.l1, l2: p.l2 },
    };
    drop(current);
    let mut recon_ori = pre.expr.x.to_dense();
    ae_phase1.reconstruct_in_place(&mut recon_ori)?;
    drop(ae_phase1);
    let mut imp = initial_ae;
    let ph = train_phase(
        "impute_ae",
        &mut imp,
        &recon_ori,
        &recon_ori,
        &imp_loss,
        p.em_epochs,
        p,
        progress,
    )?;
    phases.push(ph);
    imp.reconstruct_in_place(&mut recon_ori)?;
    let mut imputed = recon_ori;
    if let Some(th) = p.zero_below {
        imputed.data.par_iter_mut().for_each(|v| {
            if *v < th {
                *v = 0.0
            }
        });
    }

    let report = Report {
        version: env!("CARGO_PKG_VERSION").to_string(),
        dataset: String::new(),
        input: String::new(),
        n_cells: n,
        n_genes: g,
        threads: rayon::current_num_threads(),
        params: p.to_json(),
        phases,
        iterations,
        convergence,
        estimated_peak_bytes: estimate,
        total_seconds: t_all.elapsed().as_secs_f64(),
        ltmg_states: ltmg_states.as_ref().map(|l| l.state_histogram()),
        evaluation: None,
    };
    Ok(RunOutput {
        labels: clustering.labels,
        embedding: emb,
        graph,
        imputed,
        ltmg: ltmg_states,
        report,
    })
}

trait NextSeed {
    fn next_seed(self) -> u64;
}

impl NextSeed for crate::rng::Rng {
    fn next_seed(mut self) -> u64 {
        use rand::RngCore;
        self.next_u64()
    }
}

fn cluster_params(p: &RunParams, iteration: usize) -> cluster::ClusterParams {
    cluster::ClusterParams {
        seed: p.seed.wrapping_add(iteration as u64),
        knn_k: p.graph.k,
        ..p.cluster.clone()
    }
}

fn timed<T>(
    phases: &mut Vec<Phase>,
    name: &str,
    progress: Progress,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let t = Instant::now();
    let spin = progress.spinner(name);
    let r = f();
    spin.finish_and_clear();
    let r = r?;
    phases.push(Phase::new(name, t.elapsed().as_secs_f64(), 0, vec![]));
    Ok(r)
}

fn iteration_record(
    t: usize,
    c: &Clustering,
    a: Option<f64>,
    change: Option<f64>,
    graph: &CellGraph,
) -> Iteration {
    let mut sizes = vec![0usize; c.n_clusters];
    for &l in &c.labels {
        sizes[l] += 1;
    }
    Iteration {
        iteration: t,
        n_clusters: c.n_clusters,
        cluster_sizes: sizes,
        louvain_communities: c.louvain_communities,
        ari_previous: a,
        graph_change: change,
        kept_edges: graph.n_kept(),
    }
}

fn log_iteration(t: usize, c: &Clustering, a: Option<f64>, graph: &CellGraph, secs: f64) {
    let ari_txt = a
        .map(|a| format!(", ARI vs previous {a:.4}"))
        .unwrap_or_default();
    tracing::info!(
        "iteration {t}: {} clusters{ari_txt}, {} kept edges, {secs:.1} s elapsed",
        c.n_clusters,
        graph.n_kept()
    );
}

/// Trains `ae` for up to `max_epochs`, stopping early when the mean loss of the last
/// `patience` epochs improves by less than `early_stop_tol` (relative) on the
/// window before. Training in windows keeps the optimizer state, so without early
/// stopping this is exactly `max_epochs` epochs. Returns the loss of every epoch run.
fn train_windows(
    ae: &mut Autoencoder,
    input: &Dense,
    target: &Dense,
    loss: &AeLoss,
    max_epochs: usize,
    p: &RunParams,
    on_epoch: &mut dyn FnMut(usize, f64),
) -> Result<Vec<f64>> {
    let window = if p.early_stop_tol > 0.0 {
        p.patience
    } else {
        max_epochs.max(1)
    };
    let mut losses: Vec<f64> = Vec::with_capacity(max_epochs);
    let mut previous: Option<f64> = None;
    while losses.len() < max_epochs {
        let base = losses.len();
        let e = window.min(max_epochs - base);
        let l = ae.train(input, target, loss, e, &mut |i, v| on_epoch(base + i, v))?;
        let mean = l.iter().sum::<f64>() / l.len().max(1) as f64;
        losses.extend(l);
        if p.early_stop_tol > 0.0 {
            if let Some(prev) = previous {
                if (prev - mean) / prev.abs().max(f64::MIN_POSITIVE) < p.early_stop_tol {
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

/// [`train_windows`] with a progress bar and a summary line.
fn train_phase(
    name: &str,
    ae: &mut Autoencoder,
    input: &Dense,
    target: &Dense,
    loss: &AeLoss,
    max_epochs: usize,
    p: &RunParams,
    progress: Progress,
) -> Result<Phase> {
    let t = Instant::now();
    let bar = progress.bar(name, max_epochs);
    let losses = train_windows(ae, input, target, loss, max_epochs, p, &mut |i, v| {
        bar.set_position(i as u64 + 1);
        bar.set_message(format!("loss {v:.4e}"));
    })
    .map_err(|e| match e {
        Error::Numeric(m) => Error::Numeric(format!("{name}: {m}")),
        e => e,
    })?;
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    tracing::info!(
        "{name}: {} epochs in {secs:.2} s, loss {:.4e}",
        losses.len(),
        losses.last().copied().unwrap_or(f64::NAN)
    );
    Ok(Phase::new(name, secs, losses.len(), losses))
}

/// The clustering embedding of step `t`: the AE embedding, the GAE's μ, or both.
fn embedding(
    z: &Dense,
    graph: &CellGraph,
    p: &RunParams,
    t: usize,
    phases: &mut Vec<Phase>,
    progress: Progress,
) -> Result<Dense> {
    if p.embedding == EmbeddingUse::Autoencoder {
        return Ok(z.clone());
    }
    let tg = Instant::now();
    let adj = graph.adjacency(p.graph_use == GraphUse::Pruned);
    let features = binarize_by_column_mean(z);
    let name = if t == 0 {
        "gae0".to_string()
    } else {
        format!("em{t}.gae")
    };
    let bar = progress.bar(&name, p.gae.epochs);
    let out = gae::train_gae(
        &features,
        &adj,
        &p.gae,
        p.seed.wrapping_add(1000 + t as u64),
        &mut |i, v| {
            bar.set_position(i as u64 + 1);
            bar.set_message(format!("loss {v:.4}"));
        },
    )?;
    bar.finish_and_clear();
    let secs = tg.elapsed().as_secs_f64();
    tracing::info!(
        "{name}: {} epochs in {secs:.2} s, loss {:.4}",
        out.losses.len(),
        out.losses.last().unwrap_or(&f64::NAN)
    );
    phases.push(Phase::new(name, secs, out.losses.len(), out.losses));
    Ok(match p.embedding {
        EmbeddingUse::Gae => out.embedding,
        _ => concat_cols(z, &out.embedding),
    })
}

fn concat_cols(a: &Dense, b: &Dense) -> Dense {
    let mut out = Dense::zeros(a.rows, a.cols + b.cols);
    for r in 0..a.rows {
        let row = out.row_mut(r);
        row[..a.cols].copy_from_slice(a.row(r));
        row[a.cols..].copy_from_slice(b.row(r));
    }
    out
}

/// One autoencoder per cluster (spec §7.1, intended behaviour): each starts from
/// the current feature autoencoder with a fresh optimizer, trains on its own
/// cluster's rows of `current`, and its reconstruction replaces exactly those rows.
/// Also returns the most epochs any cluster ran (fewer than `--cluster-epochs`
/// only with early stopping).
fn cluster_autoencoders(
    ae: &Autoencoder,
    current: Dense,
    labels: &[usize],
    loss: &AeLoss,
    p: &RunParams,
    t: usize,
    progress: Progress,
) -> Result<(Dense, usize)> {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let bar = progress.bar(&format!("em{t}.cluster_ae"), k);
    // Split by cluster and free the whole: two dense copies at most (the clusters'
    // parts, then the reassembled matrix).
    let parts: Vec<Dense> = members
        .iter()
        .map(|rows| current.select_rows(rows))
        .collect();
    let (n, g) = (current.rows, current.cols);
    drop(current);
    let results: Vec<Result<(Dense, usize)>> = parts
        .into_par_iter()
        .map(|mut xc| {
            let mut m = ae.clone();
            m.reset_optimizer();
            let l = train_windows(&mut m, &xc, &xc, loss, p.cluster_epochs, p, &mut |_, _| {})?;
            m.reconstruct_in_place(&mut xc)?;
            bar.inc(1);
            Ok((xc, l.len()))
        })
        .collect();
    bar.finish_and_clear();
    let mut out = Dense::zeros(n, g);
    let mut epochs = 0;
    for (rows, r) in members.iter().zip(results) {
        let (r, e) = r?;
        epochs = epochs.max(e);
        for (j, &i) in rows.iter().enumerate() {
            out.row_mut(i).copy_from_slice(r.row(j));
        }
    }
    Ok((out, epochs))
}

/// Per-cell weights of the imputation regularizer (spec §9.2): scGNN's
/// Σ(A_b·E) + Σ(C_b·E) equals Σ_k w_k‖x̂_k − x_k‖² with
/// w_k = graph·deg(k) + celltype·|cluster(k)|. scGNN counts both inside k's
/// minibatch because it slices dense N × N matrices per batch; with its default batch
/// (12 800 cells, one batch) that is the whole data set, which is what we use for
/// any batch size, so the regularizer does not change with the batch size.
fn impute_weights(adj: &Csr<f32>, labels: &[usize], p: &RunParams) -> Option<Vec<f32>> {
    let (use_graph, use_type) = match p.impute_regularizer {
        ImputeRegularizer::Celltype | ImputeRegularizer::CelltypeR => (true, true),
        ImputeRegularizer::Graph => (true, false),
        ImputeRegularizer::NoRegu => return None,
    };
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    let degrees = graph::degrees(adj);
    Some(
        labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let g = if use_graph {
                    p.graph_impute * degrees[i]
                } else {
                    0.0
                };
                let c = if use_type {
                    p.celltype_impute * sizes[l] as f32
                } else {
                    0.0
                };
                g + c
            })
            .collect(),
    )
}

/// Writes every output file of a run into `dir`: the scGNN files (spec §10), the
/// h5ad and the JSON report. The imputed matrix is handed to the h5ad writer, which
/// releases it while encoding (the output stage's memory peak), so `out.imputed`
/// is left empty (0 × 0).
pub fn write_outputs(
    dir: &std::path::Path,
    name: &str,
    pre: &Preprocessed,
    out: &mut RunOutput,
) -> Result<()> {
    use crate::io::{h5ad, outputs};
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let f = |suffix: &str| dir.join(format!("{name}{suffix}"));
    let (genes, cells) = (&pre.expr.genes, &pre.expr.cells);
    outputs::write_recon(&f("_recon.csv"), genes, cells, &out.imputed)?;
    outputs::write_embedding(&f("_embedding.csv"), cells, &out.embedding)?;
    outputs::write_graph(&f("_graph.csv"), out.graph.edge_list().into_iter())?;
    outputs::write_results(&f("_results.txt"), cells, &out.labels)?;
    let json =
        serde_json::to_string_pretty(&out.report).map_err(|e| Error::Numeric(e.to_string()))?;
    let graph = out.graph.pruned_graph();
    let imputed = std::mem::replace(&mut out.imputed, Dense::zeros(0, 0));
    let mut h5 = h5ad::H5adOutput::new(h5ad::XData::DenseOwned(imputed), cells, genes);
    h5.counts_layer = Some(&pre.counts);
    h5.obs_cluster = Some(&out.labels);
    h5.obsm.push(("X_scgnn", &out.embedding));
    h5.obsp.push(("scgnn_graph", &graph));
    h5.uns_json = Some(json.clone());
    h5ad::write_h5ad(&f(".h5ad"), h5)?;
    outputs::write_text(&f("_report.json"), |w| w.write_all(json.as_bytes()))?;
    Ok(())
}
