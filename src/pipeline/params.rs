//! Every parameter of a run in one validated struct, with scGNN's defaults
//! (spec §11) unless a measured better default is documented in the README.

use crate::cluster::ClusterParams;
use crate::error::{Error, Result};
use crate::graph::GraphParams;
use crate::impute::NeighbourhoodParams;
use crate::ltmg::LtmgParams;
use crate::models::autoencoder::AeConfig;
use crate::models::gae::GaeConfig;
use crate::preprocess::PreprocessParams;

/// The feature autoencoder's regularizer in the first phase (`--regulized-type`, spec §3.3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Regularizer {
    /// Plain SSE (scGNN's CLI default).
    #[value(name = "noregu", alias = "none")]
    NoRegu,
    /// SSE weighted by the LTMG regulatory states.
    #[value(name = "LTMG")]
    Ltmg,
    /// SSE weighted by the binarised LTMG states (state > 0 → 1).
    #[value(name = "LTMG01")]
    Ltmg01,
}

crate::choice::value_enum_str!(Regularizer, "--regulized-type");

/// The imputation autoencoder's regularizer (`--EMregulized-type`, spec §9).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum ImputeRegularizer {
    /// Graph degree and cell-type size weights (default).
    #[value(name = "Celltype")]
    Celltype,
    /// Celltype plus the binarised LTMG term.
    #[value(name = "CelltypeR")]
    CelltypeR,
    /// Graph degree weights only.
    #[value(name = "Graph")]
    Graph,
    /// No regularizer: γ_imp·SSE (+ L1/L2).
    #[value(name = "noregu", alias = "none")]
    NoRegu,
}

crate::choice::value_enum_str!(ImputeRegularizer, "--EMregulized-type");

/// When the EM loop stops (`--converge-type`, spec §8.1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum ConvergeType {
    /// ARI between consecutive labelings above `converge_celltype_ratio`.
    Celltype,
    /// Graph change below `converge_graph_ratio`.
    Graph,
    /// Both tests pass.
    Both,
    /// Either test passes.
    Either,
}

crate::choice::value_enum_str!(ConvergeType, "--converge-type");

/// Which cell graph feeds the graph autoencoder and the imputation regularizer.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum GraphUse {
    /// The pruned KNN graph (what scGNN's documentation describes).
    Pruned,
    /// The union of all KNN pairs, unpruned (what scGNN's code does, spec §4.2).
    #[value(alias = "union")]
    Unpruned,
}

crate::choice::value_enum_str!(GraphUse, "--gae-graph");

/// Which embedding is clustered and written out.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum EmbeddingUse {
    /// The feature autoencoder's 128-d embedding (scGNN's CLI default).
    Autoencoder,
    /// The graph autoencoder's 16-d μ (`--useGAEembedding`).
    Gae,
    /// Both, concatenated (`--useBothembedding`).
    Both,
}

/// Where the L1/L2 penalties apply (spec §3.3 "L1 placement").
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum PenaltyPhases {
    /// Every training phase (scGNN.py).
    All,
    /// Only the imputation autoencoder (main_benchmark.py, the paper's runs).
    #[value(alias = "imputation")]
    Impute,
}

crate::choice::value_enum_str!(PenaltyPhases, "--penalty-phases");

/// The training schedule and clustering rule a run starts from (`--schedule`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Schedule {
    /// Narrow autoencoders in mini-batches, few epochs, Leiden on the cell graph
    /// warm-started across EM iterations (README, "Defaults"; measured in BENCHMARKS.md).
    #[default]
    Fast,
    /// scGNN's schedule: 512/128 units, full batch, 500 + 10 × (200 + 200) epochs,
    /// LouvainK from scratch at every iteration (spec §11).
    Scgnn,
}

crate::choice::value_enum_str!(Schedule, "--schedule");

/// What each EM iteration's clustering embeds (`--em-embed`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum EmEmbed {
    /// The retrained feature autoencoder's embedding of the observed matrix, so the
    /// clustering never sees a reconstruction of a reconstruction (fast schedule).
    #[default]
    Observed,
    /// Its embedding of the cluster autoencoders' reconstruction (scGNN, spec §8).
    Reconstruction,
}

crate::choice::value_enum_str!(EmEmbed, "--em-embed");

/// How the autoencoders weigh the genes (`--gene-scale`): each gene's working
/// values are divided by a power of their standard deviation over cells before
/// the feature and cluster autoencoders see them (capped at 10, as scanpy's
/// `scale(max_value=10)`), so a squared error no longer spends itself on the few
/// genes of largest variance. Zeros stay zeros; the imputation's outputs are on
/// the working scale whatever this is. Off by default: on the shared sets it moved
/// the mean ARI up on some and down on others, within the seed spread
/// (BENCHMARKS.md, "Gene scaling").
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum GeneScale {
    /// Leave the values as they are (scGNN).
    #[default]
    None,
    /// Divide by the square root of the standard deviation: a middle way between
    /// raw log values and unit variance.
    SqrtSd,
    /// Divide by the standard deviation (unit variance, not centred).
    Sd,
}

crate::choice::value_enum_str!(GeneScale, "--gene-scale");

/// Which graph each EM iteration's Louvain/Leiden clusters (`--em-graph`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum EmGraph {
    /// The step's own pruned KNN graph (scGNN).
    #[default]
    Current,
    /// The sum of the pruned graphs of every step so far: later steps move the
    /// clustering graph less and less, so the labels settle.
    Consensus,
}

crate::choice::value_enum_str!(EmGraph, "--em-graph");

/// How the imputed matrix is made (`--impute-method`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum ImputeMethod {
    /// The counts of each cell's graph neighbourhood through a zero-inflated
    /// negative binomial per gene, the smoothing chosen by held-out molecules
    /// (`crate::impute`; README, "Imputation").
    #[default]
    Neighbourhood,
    /// scGNN's imputation autoencoder with the graph and cell-type regularizer (spec §9).
    Scgnn,
}

crate::choice::value_enum_str!(ImputeMethod, "--impute-method");

/// All parameters of `scgnn run`. Stage parameters are the stages' own validated
/// structs, so each default lives in exactly one place; the run seed and the
/// graph's k are not repeated inside them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunParams {
    /// Seed of every random choice.
    pub seed: u64,
    /// The schedule the epoch counts, widths and clustering rule came from.
    #[serde(default)]
    pub schedule: Schedule,
    /// Preprocessing (spec §1).
    pub preprocess: PreprocessParams,
    /// Skip preprocessing: the input is already filtered and log-transformed.
    pub skip_preprocess: bool,
    /// LTMG fit (used when a regularizer needs it).
    pub ltmg: LtmgParams,
    /// First-phase regularizer (`--regulized-type`, default noregu).
    pub regularizer: Regularizer,
    /// Weight γ of the plain SSE (`--gammaPara`, 0.1).
    pub gamma: f32,
    /// Weight α of the LTMG-weighted SSE (`--alphaRegularizePara`, 0.9).
    pub alpha: f32,
    /// L1 weight (`--L1Para`, 1.0).
    pub l1: f32,
    /// L2 weight (`--L2Para`, 0.0).
    pub l2: f32,
    /// Phases that get the L1/L2 penalty.
    pub penalty_phases: PenaltyPhases,
    /// Autoencoder architecture and optimizer (spec §3.1–3.2).
    pub ae: AeConfig,
    /// First-phase epochs (`--Regu-epochs`, 500).
    pub regu_epochs: usize,
    /// Feature AE epochs per EM iteration and imputation epochs (`--EM-epochs`, 200).
    pub em_epochs: usize,
    /// Maximum EM iterations (`--EM-iteration`, 10).
    pub em_iterations: usize,
    /// Cluster AE epochs (`--cluster-epochs`, 200).
    pub cluster_epochs: usize,
    /// Skip the cluster autoencoders (`--quickmode`).
    pub quickmode: bool,
    /// At most this many optimizer steps per epoch of the feature and cluster
    /// autoencoders: on a set of more mini-batches an epoch counts as several
    /// (`--max-epoch-steps`; `None`: every epoch is one pass, as in scGNN).
    #[serde(default)]
    pub max_epoch_steps: Option<usize>,
    /// What the EM iterations cluster.
    #[serde(default)]
    pub em_embed: EmEmbed,
    /// How the autoencoders weigh the genes.
    #[serde(default)]
    pub gene_scale: GeneScale,
    /// Which graph the EM iterations' Louvain/Leiden clusters.
    #[serde(default)]
    pub em_graph: EmGraph,
    /// Stop a training phase early once its loss improves by less than this
    /// fraction over `patience` epochs (0 disables: scGNN's fixed epoch counts).
    pub early_stop_tol: f64,
    /// Window of epochs for the early-stop test.
    pub patience: usize,
    /// Cell graph (spec §4).
    pub graph: GraphParams,
    /// Graph for the GAE and the imputation regularizer.
    pub graph_use: GraphUse,
    /// Embedding to cluster and output.
    pub embedding: EmbeddingUse,
    /// Graph autoencoder (spec §5).
    pub gae: GaeConfig,
    /// Clustering (spec §6).
    pub cluster: ClusterParams,
    /// Start each EM iteration's Louvain/Leiden from the previous labels.
    #[serde(default)]
    pub warm_start: bool,
    /// Convergence test (`--converge-type`).
    pub converge_type: ConvergeType,
    /// ARI threshold between consecutive labelings (`--converge-celltyperatio`, 0.99).
    pub converge_celltype_ratio: f64,
    /// Graph-change threshold (`--converge-graphratio`, 0.01).
    pub converge_graph_ratio: f64,
    /// How the imputed matrix is made.
    #[serde(default)]
    pub impute_method: ImputeMethod,
    /// The neighbourhood imputation's settings.
    #[serde(default)]
    pub neighbourhood: NeighbourhoodParams,
    /// Imputation epochs; `None`: enough epochs for `impute_steps` optimizer
    /// steps, or `em_epochs` (scGNN) when that is unset too.
    #[serde(default)]
    pub impute_epochs: Option<usize>,
    /// Imputation budget in optimizer steps (used when `impute_epochs` is unset).
    #[serde(default)]
    pub impute_steps: Option<usize>,
    /// The imputation autoencoder's widths and optimizer; `None`: the feature
    /// autoencoder's, restarting from its initial weights, as scGNN.
    #[serde(default)]
    pub impute_ae: Option<AeConfig>,
    /// Train the imputation autoencoder on the observed matrix rather than on the
    /// first phase's reconstruction (scGNN).
    #[serde(default)]
    pub impute_on_observed: bool,
    /// Imputation regularizer (`--EMregulized-type`).
    pub impute_regularizer: ImputeRegularizer,
    /// γ_imp (`--gammaImputePara`, 0.0).
    pub gamma_impute: f32,
    /// Graph weight (`--graphImputePara`, 0.3).
    pub graph_impute: f32,
    /// Cell-type weight (`--celltypeImputePara`, 0.1).
    pub celltype_impute: f32,
    /// Set imputed values below this to 0 (what scGNN's inverted
    /// `--noPostprocessingTag` does with `--postThreshold`); `None` keeps them.
    pub zero_below: Option<f32>,
    /// Memory budget in bytes for the pre-flight estimate.
    pub memory_limit: u64,
}

impl Default for RunParams {
    fn default() -> Self {
        RunParams {
            seed: 1,
            schedule: Schedule::Fast,
            preprocess: PreprocessParams::default(),
            skip_preprocess: false,
            ltmg: LtmgParams::default(),
            regularizer: Regularizer::NoRegu,
            gamma: 0.1,
            alpha: 0.9,
            l1: 1.0,
            l2: 0.0,
            // Measured better than scGNN.py's "all" (README, "Defaults"): on goolam ARI
            // 0.838 vs 0.470, chung 0.568 vs 0.560, and no collapse of the embedding on
            // simulated data; it is what main_benchmark.py, behind the paper's numbers, did.
            penalty_phases: PenaltyPhases::Impute,
            ae: AeConfig {
                hidden: FAST_HIDDEN,
                latent: FAST_LATENT,
                batch_size: FAST_BATCH,
                ..AeConfig::default()
            },
            regu_epochs: FAST_REGU_EPOCHS,
            em_epochs: FAST_EM_EPOCHS,
            em_iterations: FAST_EM_ITERATIONS,
            cluster_epochs: FAST_CLUSTER_EPOCHS,
            quickmode: false,
            max_epoch_steps: Some(FAST_MAX_EPOCH_STEPS),
            em_embed: EmEmbed::Observed,
            gene_scale: GeneScale::None,
            em_graph: EmGraph::Current,
            early_stop_tol: 0.0,
            patience: 20,
            graph: GraphParams::default(),
            graph_use: GraphUse::Unpruned,
            embedding: EmbeddingUse::Autoencoder,
            gae: GaeConfig::default(),
            cluster: ClusterParams {
                method: crate::cluster::Method::Leiden,
                ..ClusterParams::default()
            },
            warm_start: true,
            converge_type: ConvergeType::Celltype,
            converge_celltype_ratio: 0.99,
            converge_graph_ratio: 0.01,
            impute_method: ImputeMethod::Neighbourhood,
            neighbourhood: NeighbourhoodParams::default(),
            impute_epochs: None,
            impute_steps: Some(FAST_IMPUTE_STEPS),
            impute_ae: Some(AeConfig {
                batch_size: FAST_IMPUTE_BATCH,
                ..AeConfig::default()
            }),
            impute_on_observed: true,
            impute_regularizer: ImputeRegularizer::Celltype,
            gamma_impute: 0.0,
            graph_impute: 0.3,
            celltype_impute: 0.1,
            zero_below: None,
            memory_limit: available_memory(),
        }
    }
}

// The fast schedule (README, "Defaults"; the ablation behind each value is in
// BENCHMARKS.md, "Time to quality").
const FAST_HIDDEN: usize = 128;
const FAST_LATENT: usize = 64;
const FAST_BATCH: usize = 32;
const FAST_REGU_EPOCHS: usize = 100;
const FAST_EM_EPOCHS: usize = 30;
const FAST_EM_ITERATIONS: usize = 3;
const FAST_CLUSTER_EPOCHS: usize = 30;
// 60 batches of 32: the small sets (below 1 920 cells) keep every epoch whole, while
// the large ones, which got 100-180 steps per epoch, stop needing epochs sized for the
// small ones (BENCHMARKS.md, "Step cap").
const FAST_MAX_EPOCH_STEPS: usize = 60;
// The imputation keeps scGNN's autoencoder (512/128 units) and its 200 optimizer steps
// (200 full-batch epochs up to 12 800 cells), in batches of 256 so that large sets need
// far fewer epochs, and trains on the observed matrix: on the narrow first phase's
// reconstruction goolam's held-out molecules come out far worse (MCV 2.45 vs 0.31).
const FAST_IMPUTE_STEPS: usize = 200;
const FAST_IMPUTE_BATCH: usize = 256;

impl RunParams {
    /// scGNN's own schedule (spec §11): 512/128 units, full batch, 500 first-phase
    /// epochs, up to 10 EM iterations of 200 cluster-AE and 200 feature-AE epochs,
    /// 200 imputation epochs, LouvainK re-run from scratch at every iteration.
    pub fn scgnn_schedule(mut self) -> Self {
        self.schedule = Schedule::Scgnn;
        self.ae = AeConfig::default();
        self.regu_epochs = 500;
        self.em_epochs = 200;
        self.em_iterations = 10;
        self.cluster_epochs = 200;
        self.max_epoch_steps = None;
        self.em_embed = EmEmbed::Reconstruction;
        self.em_graph = EmGraph::Current;
        self.cluster = ClusterParams::default();
        self.warm_start = false;
        self.impute_method = ImputeMethod::Scgnn;
        self.impute_epochs = None;
        self.impute_ae = None;
        self.impute_steps = None;
        self.impute_on_observed = false;
        self
    }

    /// The epochs a training of `epochs` epochs on `n_rows` rows runs under
    /// `max_epoch_steps`: unchanged while an epoch fits in the cap, else as many as
    /// `epochs × cap` optimizer steps need (at least one when `epochs` > 0).
    pub fn capped_epochs(&self, n_rows: usize, epochs: usize) -> usize {
        let per_epoch = n_rows.div_ceil(self.ae.batch_size.max(1)).max(1);
        match self.max_epoch_steps {
            Some(cap) if per_epoch > cap && epochs > 0 => (epochs * cap).div_ceil(per_epoch).max(1),
            _ => epochs,
        }
    }

    /// Epochs of the imputation autoencoder on `n_cells` cells.
    pub fn impute_epochs(&self, n_cells: usize) -> usize {
        match (self.impute_epochs, self.impute_steps) {
            (Some(e), _) => e,
            (None, Some(steps)) => {
                let per_epoch = n_cells.div_ceil(self.impute_ae().batch_size).max(1);
                steps.div_ceil(per_epoch).max(1)
            }
            (None, None) => self.em_epochs,
        }
    }

    /// The imputation autoencoder's configuration.
    pub fn impute_ae(&self) -> &AeConfig {
        self.impute_ae.as_ref().unwrap_or(&self.ae)
    }

    /// The configuration of the paper's runs (spec §11, `main_benchmark.py`): scGNN's
    /// schedule, LTMG regularizer, GAE embedding, cluster autoencoders, L1/L2 only in
    /// imputation.
    pub fn paper(self) -> Self {
        let mut p = self.scgnn_schedule();
        p.regularizer = Regularizer::Ltmg;
        p.embedding = EmbeddingUse::Gae;
        p.quickmode = false;
        p.penalty_phases = PenaltyPhases::Impute;
        p
    }

    /// Whether the LTMG states are needed.
    pub fn needs_ltmg(&self) -> bool {
        self.regularizer != Regularizer::NoRegu
            || self.impute_regularizer == ImputeRegularizer::CelltypeR
    }

    /// Checks ranges and combinations.
    pub fn validate(&self) -> Result<()> {
        self.preprocess.validate()?;
        self.ae.validate()?;
        self.impute_ae().validate()?;
        self.neighbourhood.validate()?;
        self.graph.validate()?;
        self.gae.validate()?;
        self.cluster.validate(self.graph.k)?;
        if self.needs_ltmg() {
            self.ltmg.validate()?;
        }
        for (name, v) in [
            ("--gammaPara", self.gamma),
            ("--alphaRegularizePara", self.alpha),
            ("--L1Para", self.l1),
            ("--L2Para", self.l2),
            ("--gammaImputePara", self.gamma_impute),
            ("--graphImputePara", self.graph_impute),
            ("--celltypeImputePara", self.celltype_impute),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Usage(format!(
                    "{name} must be a finite number ≥ 0, got {v}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.converge_celltype_ratio) {
            return Err(Error::Usage(
                "--converge-celltyperatio must be between 0 and 1".into(),
            ));
        }
        if self.max_epoch_steps == Some(0) {
            return Err(Error::Usage("--max-epoch-steps must be at least 1".into()));
        }
        if !(self.early_stop_tol >= 0.0) || self.patience == 0 {
            return Err(Error::Usage(
                "--early-stop must be ≥ 0 and --patience ≥ 1".into(),
            ));
        }
        Ok(())
    }
}

/// Physical memory available to the process (MemAvailable), or 8 GiB if unknown.
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(8 << 30)
}
