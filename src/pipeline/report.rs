//! The run report (`<name>_report.json`): parameters, versions, per-phase time and
//! losses, iterations, cluster sizes and why the loop stopped.

use serde::Serialize;

/// One training or computing phase.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// Phase name, e.g. `feature_ae`, `em1.cluster_ae`, `em1.gae`, `impute_ae`.
    pub name: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Epochs actually run (0 for non-training phases).
    pub epochs: usize,
    /// Loss of every epoch (empty for non-training phases).
    pub losses: Vec<f64>,
}

impl Phase {
    /// The last loss, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.losses.last().copied()
    }
}

/// One EM iteration.
#[derive(Clone, Debug, Serialize)]
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

/// The whole report.
#[derive(Clone, Debug, Serialize)]
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
    pub params: serde_json::Value,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// EM iterations (iteration 0 is the clustering after the first phase).
    pub iterations: Vec<Iteration>,
    /// Why the EM loop stopped.
    pub convergence: String,
    /// Estimated peak memory of the run (bytes), from the pre-flight check.
    pub estimated_peak_bytes: u64,
    /// Total wall seconds of the pipeline (reading and writing excluded).
    pub total_seconds: f64,
    /// LTMG state histogram (state, count including zeros), if LTMG ran.
    pub ltmg_states: Option<Vec<(u8, u64)>>,
    /// Evaluation against known labels, if given (never used by the run itself).
    pub evaluation: Option<serde_json::Value>,
}
