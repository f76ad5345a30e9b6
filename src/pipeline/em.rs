//! The EM loop's parts (spec §4–§8): the cell graph, the clustering embedding
//! (optionally through the graph autoencoder) and the clustering of a step; the
//! cluster autoencoders and the feature autoencoder of one iteration; and the
//! convergence test between consecutive steps.

use super::params::{ConvergeType, EmEmbed, EmGraph, EmbeddingUse, GraphUse, RunParams};
use super::progress::{self, Progress};
use super::report::{Convergence, Iteration, Phase};
use super::seeds;
use super::trainer::Trainer;
use crate::cluster::{self, Clustering};
use crate::error::Result;
use crate::evaluate::metrics::ari;
use crate::graph::{self, CellGraph};
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::{AeLoss, Autoencoder};
use crate::models::gae::{self, binarize_by_column_mean};
use rayon::prelude::*;
use std::time::Instant;

/// The outcome of one clustering step.
pub struct Step {
    /// The cell graph of the step's embedding.
    pub graph: CellGraph,
    /// The clustering embedding (AE, GAE or both).
    pub embedding: Dense,
    /// The clustering.
    pub clustering: Clustering,
}

fn timed<T>(
    phases: &mut Vec<Phase>,
    name: &str,
    progress: &dyn Progress,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let t = Instant::now();
    let r = progress::step(progress, name, f)?;
    phases.push(Phase::new(name, t.elapsed().as_secs_f64(), 0, vec![]));
    Ok(r)
}

/// Cells whose exact neighbours measure an approximate graph's recall.
const RECALL_SAMPLE: usize = 1000;

/// Step `t` (0 after the first phase): graph of `z`, embedding, clustering;
/// `previous` is the last step's labeling, the warm start of the clustering
/// when `p.warm_start` is set; `consensus` the sum of the earlier steps' pruned
/// graphs, which this step's joins under `EmGraph::Consensus`.
pub fn cluster_step(
    z: &Dense,
    p: &RunParams,
    t: usize,
    previous: Option<&[usize]>,
    consensus: &mut Option<Csr<f32>>,
    phases: &mut Vec<Phase>,
    progress: &dyn Progress,
) -> Result<Step> {
    let tag = |what: &str| {
        if t == 0 {
            format!("{what}0")
        } else {
            format!("em{t}.{what}")
        }
    };
    let graph = timed(phases, &tag("graph"), progress, || {
        graph::build(z, &p.graph, seeds::graph(p, t))
    })?;
    if p.graph.knn.is_approx(z.rows) {
        let tr = Instant::now();
        let r = graph::knn::recall(
            &graph.neighbors,
            z,
            p.graph.distance,
            RECALL_SAMPLE,
            seeds::graph(p, t),
        )?;
        tracing::info!(
            "{}: approximate KNN, recall@{} {r:.4} on {} sampled cells (measured in {:.2} s)",
            tag("graph"),
            p.graph.k,
            RECALL_SAMPLE.min(z.rows),
            tr.elapsed().as_secs_f64()
        );
        if let Some(ph) = phases.last_mut() {
            ph.knn_recall = Some(r);
        }
    }
    let embedding = embedding(z, &graph, p, t, &tag("gae"), phases, progress)?;
    let own = graph.pruned_graph();
    let clustered = match (p.em_graph, consensus.take()) {
        (EmGraph::Consensus, Some(sum)) => &*consensus.insert(graph::sum_adjacency(&sum, &own)?),
        (EmGraph::Consensus, None) => &*consensus.insert(own),
        (EmGraph::Current, _) => &own,
    };
    let clustering = timed(phases, &tag("cluster"), progress, || {
        cluster::cluster(
            &embedding,
            clustered,
            &p.cluster,
            p.graph.k,
            seeds::cluster(p, t),
            previous.filter(|_| p.warm_start),
        )
    })?;
    Ok(Step {
        graph,
        embedding,
        clustering,
    })
}

/// The clustering embedding of step `t`: the AE embedding, the GAE's μ, or both.
fn embedding(
    z: &Dense,
    graph: &CellGraph,
    p: &RunParams,
    t: usize,
    name: &str,
    phases: &mut Vec<Phase>,
    progress: &dyn Progress,
) -> Result<Dense> {
    if p.embedding == EmbeddingUse::Autoencoder {
        return Ok(z.clone());
    }
    let tg = Instant::now();
    let adj = graph.adjacency(p.graph_use == GraphUse::Pruned);
    let features = binarize_by_column_mean(z);
    progress.start(name, Some(p.gae.epochs));
    let out = gae::train_gae(&features, &adj, &p.gae, seeds::gae(p, t), &mut |i, v| {
        progress.advance(name, i + 1, Some(v))
    });
    progress.finish(name);
    let out = out?;
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

/// What every EM iteration's training shares.
pub struct EmTraining<'a> {
    /// The run's parameters.
    pub p: &'a RunParams,
    /// The training loop.
    pub trainer: Trainer<'a>,
    /// The loss of the feature and cluster autoencoders.
    pub loss: AeLoss<'a>,
    /// The observed working matrix, embedded for the clustering under
    /// `EmEmbed::Observed`.
    pub observed: &'a Csr<f32>,
}

/// The autoencoder part of EM iteration `t` (spec §7–§8): the cluster
/// autoencoders (not in quick mode), then the feature autoencoder on the result.
/// Returns the new reconstruction (in place of `current`) and the embedding to
/// cluster: of the observed matrix or of the reconstruction (`p.em_embed`).
pub fn autoencoders(
    em: &EmTraining,
    ae: &mut Autoencoder,
    mut current: Dense,
    labels: &[usize],
    t: usize,
    phases: &mut Vec<Phase>,
) -> Result<(Dense, Dense)> {
    let (p, trainer, loss) = (em.p, &em.trainer, &em.loss);
    if !p.quickmode {
        let tc = Instant::now();
        let (next, epochs) = cluster_autoencoders(ae, current, labels, loss, p, t, trainer)?;
        current = next;
        phases.push(Phase::new(
            format!("em{t}.cluster_ae"),
            tc.elapsed().as_secs_f64(),
            epochs,
            vec![],
        ));
    }
    let name = format!("em{t}.feature_ae");
    let epochs = p.capped_epochs(current.rows, p.em_epochs);
    phases.push(trainer.phase(&name, ae, &current, loss, epochs)?);
    let z = ae.reconstruct_in_place(&mut current)?;
    let z = match p.em_embed {
        EmEmbed::Reconstruction => z,
        EmEmbed::Observed => ae.encode_sparse(em.observed)?,
    };
    Ok((current, z))
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
    trainer: &Trainer,
) -> Result<(Dense, usize)> {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let name = format!("em{t}.cluster_ae");
    // Split by cluster and free the whole: two dense copies at most (the clusters'
    // parts, then the reassembled matrix).
    let parts: Vec<Dense> = members
        .iter()
        .map(|rows| current.select_rows(rows))
        .collect();
    let (n, g) = (current.rows, current.cols);
    drop(current);
    trainer.progress.start(&name, Some(k));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<(Dense, usize)>> = parts
        .into_par_iter()
        .map(|mut xc| {
            let mut m = ae.clone();
            m.reset_optimizer();
            let epochs = p.capped_epochs(xc.rows, p.cluster_epochs);
            let l = trainer.fit(&mut m, &xc, loss, epochs, &mut |_, _| {})?;
            m.reconstruct_in_place(&mut xc)?;
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            trainer.progress.advance(&name, d, None);
            Ok((xc, l.len()))
        })
        .collect();
    trainer.progress.finish(&name);
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

/// The report's record of step `t`.
pub fn iteration_record(t: usize, step: &Step, a: Option<f64>, change: Option<f64>) -> Iteration {
    let c = &step.clustering;
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
        kept_edges: step.graph.n_kept(),
    }
}

/// Compares step `t` with the previous one (its graph and clustering; spec
/// §8.1); `Some` when the loop has converged.
pub fn compare(
    prev_graph: &CellGraph,
    prev: &Clustering,
    next: &Step,
    p: &RunParams,
    t: usize,
) -> Result<(Iteration, Option<Convergence>)> {
    let a = ari(&prev.labels, &next.clustering.labels);
    let change = graph::graph_change(&prev_graph.pruned_graph(), &next.graph.pruned_graph())?;
    let cell_ok = a > p.converge_celltype_ratio;
    let graph_ok = change < p.converge_graph_ratio;
    let done = match p.converge_type {
        ConvergeType::Celltype => cell_ok,
        ConvergeType::Graph => graph_ok,
        ConvergeType::Both => cell_ok && graph_ok,
        ConvergeType::Either => cell_ok || graph_ok,
    };
    let rec = iteration_record(t, next, Some(a), Some(change));
    let conv = done.then(|| Convergence::reached(t, a, change, p.converge_type));
    Ok((rec, conv))
}

/// One log line per step.
pub fn log_step(t: usize, step: &Step, a: Option<f64>, secs: f64) {
    let ari_txt = a
        .map(|a| format!(", ARI vs previous {a:.4}"))
        .unwrap_or_default();
    tracing::info!(
        "iteration {t}: {} clusters{ari_txt}, {} kept edges, {secs:.1} s elapsed",
        step.clustering.n_clusters,
        step.graph.n_kept()
    );
}
