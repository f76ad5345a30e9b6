//! The run report (`<name>_report.json`): parameters, versions, per-phase time and
//! losses, iterations, cluster sizes and why the loop stopped. Plain JSON of
//! numbers and strings, read back (`Deserialize`) by the figures and the HTML.

use super::params::{ConvergeType, RunParams};
use crate::evaluate::metrics::ClusteringReport;
use crate::impute::ImputeReport;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// One training or computing phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Phase {
    /// Phase name, e.g. `feature_ae`, `em1.cluster_ae`, `em1.gae`, `impute_ae`.
    pub name: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Epochs actually run (0 for non-training phases).
    pub epochs: usize,
    /// Loss of every epoch (empty for non-training phases); `null` reads as NaN.
    #[serde(deserialize_with = "losses_or_nan")]
    pub losses: Vec<f64>,
    /// Peak resident memory of the process so far, in MiB, read when the phase
    /// ended (`None` where the OS does not report it). Being a running maximum, a
    /// rise from the previous phase is what this phase added to the peak.
    pub peak_rss_mib: Option<f64>,
    /// Recall@k of an approximate cell graph, measured against the exact
    /// neighbours of a sample of cells (`None` for exact graphs and other phases).
    pub knn_recall: Option<f64>,
}

impl Phase {
    /// A phase that has just ended; records the peak RSS so far.
    pub fn new(name: impl Into<String>, seconds: f64, epochs: usize, losses: Vec<f64>) -> Self {
        Phase {
            name: name.into(),
            seconds,
            epochs,
            losses,
            peak_rss_mib: peak_rss_bytes().map(|b| b as f64 / 1_048_576.0),
            knn_recall: None,
        }
    }

    /// The last loss, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.losses.last().copied()
    }
}

/// One EM iteration.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Iteration {
    /// 1-based iteration number (0 = the clustering after the first phase).
    pub iteration: usize,
    /// Number of clusters.
    pub n_clusters: usize,
    /// Cells per cluster, by label.
    pub cluster_sizes: Vec<usize>,
    /// Louvain community count behind LouvainK's K, if any.
    pub louvain_communities: Option<usize>,
    /// ARI with the previous iteration's labels.
    pub ari_previous: Option<f64>,
    /// Relative change of the cell graph from the previous iteration.
    pub graph_change: Option<f64>,
    /// Kept (pruned-in) edges of the cell graph.
    pub kept_edges: usize,
}

/// How the EM loop ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Convergence {
    /// Whether consecutive steps met the `--converge-type` test.
    pub converged: bool,
    /// The last EM iteration run.
    pub iteration: usize,
    /// ARI between the last two labelings.
    pub ari_previous: Option<f64>,
    /// Relative change between the last two cell graphs.
    pub graph_change: Option<f64>,
    /// One sentence for people.
    pub message: String,
}

impl Convergence {
    /// The loop converged at iteration `t`.
    pub fn reached(t: usize, ari: f64, change: f64, how: ConvergeType) -> Self {
        Convergence {
            converged: true,
            iteration: t,
            ari_previous: Some(ari),
            graph_change: Some(change),
            message: format!(
                "converged at iteration {t} ({how}: ARI with previous labels {ari:.4}, graph change {change:.4})"
            ),
        }
    }

    /// The loop stopped at its cap of `cap` iterations without converging.
    pub fn not_reached(cap: usize, last: Option<&Iteration>) -> Self {
        let ari = last.and_then(|i| i.ari_previous);
        let change = last.and_then(|i| i.graph_change);
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        Convergence {
            converged: false,
            iteration: last.map_or(0, |i| i.iteration),
            ari_previous: ari,
            graph_change: change,
            message: format!(
                "did not converge within --EM-iteration {cap} (last ARI with previous labels {}, graph change {}); \
                 the clusters may still change with more iterations",
                fmt(ari),
                fmt(change)
            ),
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    /// `scgnn-rs` version.
    pub version: String,
    /// Dataset name (`--datasetName`).
    pub dataset: String,
    /// Input path.
    pub input: String,
    /// Cells and genes after preprocessing.
    pub n_cells: usize,
    /// Genes after preprocessing.
    pub n_genes: usize,
    /// Worker threads.
    pub threads: usize,
    /// All parameters.
    pub params: RunParams,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// EM iterations (iteration 0 is the clustering after the first phase).
    pub iterations: Vec<Iteration>,
    /// How the EM loop ended.
    pub convergence: Convergence,
    /// Estimated peak memory of the run (bytes), from the pre-flight check.
    pub estimated_peak_bytes: u64,
    /// Total wall seconds of the pipeline (reading and writing excluded).
    pub total_seconds: f64,
    /// LTMG state histogram (state, count including zeros), if LTMG ran.
    pub ltmg_states: Option<Vec<(u8, u64)>>,
    /// What the neighbourhood imputation chose (`None` with `--impute-method scgnn`).
    pub imputation: Option<ImputeReport>,
    /// The scale of the imputed matrix (`X` of the `.h5ad`, `<name>_recon.csv`).
    pub imputed_scale: String,
    /// Evaluation against known labels, if given (never used by the run itself).
    pub evaluation: Option<ClusteringReport>,
}

fn losses_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = Vec::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

/// Peak resident set size of this process so far (Linux `VmHWM`), in bytes.
/// The kernel sums per-CPU counters approximately, so two readings can go down
/// by a few pages; the largest reading yet is returned so the figure never falls.
pub fn peak_rss_bytes() -> Option<u64> {
    static MAX: AtomicU64 = AtomicU64::new(0);
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(MAX.fetch_max(kib * 1024, Ordering::Relaxed).max(kib * 1024))
}
