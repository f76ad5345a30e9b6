//! The options of `scgnn run` and `scgnn preprocess` as clap structs, with
//! their mapping to [`RunParams`]: one definition shared by the CLI and the
//! Python package (whose keyword arguments are these options in snake_case),
//! so both accept, default and validate every parameter identically.

use crate::cluster::{Method, Resolution};
use crate::compat::{self, ScgnnDataset};
use crate::error::{Error, Result};
use crate::graph::{Distance, KnnMethod, PruneType};
use crate::io::h5ad::H5adMatrix;
use crate::io::{Format, ReadOptions};
use crate::models::gae::GaeModel;
use crate::pipeline::params::{
    ConvergeType, EmEmbed, EmGraph, EmbeddingUse, GeneScale, GraphUse, ImputeMethod,
    ImputeRegularizer, PenaltyPhases, Regularizer, RunParams, Schedule,
};
use crate::pipeline::Source;
use crate::preprocess::{Normalize, PreprocessParams, Transform};
use clap::Args;
use std::path::PathBuf;
use std::sync::LazyLock;

/// How to parse an input file (shared by every command that reads one).
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Input format (default: guessed from the path).
    #[arg(long, value_enum, ignore_case = true)]
    format: Option<Format>,
    /// Text input has cells in rows and genes in columns (scGNN's --transpose).
    #[arg(long, visible_alias = "transpose")]
    cells_as_rows: bool,
    /// Do not refuse text input whose row/column names look swapped.
    #[arg(long)]
    no_layout_check: bool,
    /// .h5ad input: read the counts from layers[NAME] (e.g. counts) instead of X.
    #[arg(long, value_name = "NAME", conflicts_with = "use_raw")]
    layer: Option<String>,
    /// .h5ad input: read the counts from .raw (raw.X with raw.var's genes) instead of X.
    #[arg(long)]
    use_raw: bool,
    /// Multi-genome 10X .h5 input: keep the features of this genome.
    #[arg(long, value_name = "NAME")]
    genome: Option<String>,
}

impl ReadArgs {
    /// The reader options.
    pub fn options(&self) -> ReadOptions {
        let h5ad_matrix = match (&self.layer, self.use_raw) {
            (Some(l), _) => H5adMatrix::Layer(l.clone()),
            (None, true) => H5adMatrix::Raw,
            (None, false) => H5adMatrix::X,
        };
        ReadOptions {
            format: self.format,
            cells_as_rows: self.cells_as_rows,
            layout_check: !self.no_layout_check,
            h5ad_matrix,
            genome: self.genome.clone(),
        }
    }
}

static PRE: LazyLock<PreprocessParams> = LazyLock::new(PreprocessParams::default);

/// Preprocessing parameters (defaults of scGNN's PreprocessingscGNN.py, plus depth normalisation).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Preprocessing")]
pub struct PreprocessOpts {
    /// Number of most variable genes to keep.
    #[arg(long, visible_alias = "geneSelectnum", default_value_t = PRE.n_top_genes)]
    n_top_genes: usize,
    /// Keep a cell if its fraction of non-zero genes is ≥ 1 − this.
    #[arg(long, visible_alias = "cellRatio", default_value_t = PRE.cell_ratio)]
    cell_ratio: f64,
    /// Keep a gene if its fraction of non-zero cells is ≥ 1 − this.
    #[arg(long, visible_alias = "geneRatio", default_value_t = PRE.gene_ratio)]
    gene_ratio: f64,
    /// Transform of the kept values: log (ln(1+x)) or none.
    #[arg(long, value_enum, ignore_case = true, default_value_t = PRE.transform)]
    transform: Transform,
    /// Library-size normalisation before the gene ranking and the log: total
    /// (each cell scaled to the median total count) or none (scGNN's rule).
    #[arg(long, value_enum, ignore_case = true, default_value_t = PRE.normalize)]
    normalize: Normalize,
}

impl PreprocessOpts {
    /// The preprocessing parameters.
    pub fn params(&self) -> PreprocessParams {
        PreprocessParams {
            gene_ratio: self.gene_ratio,
            cell_ratio: self.cell_ratio,
            n_top_genes: self.n_top_genes,
            transform: self.transform,
            normalize: self.normalize,
        }
    }
}

/// The library's defaults, shown in `--help` and used when an option is absent.
static D: LazyLock<RunParams> = LazyLock::new(RunParams::default);

/// `scgnn run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub io: IoOpts,
    #[command(flatten)]
    pub pre: PreprocessOpts,
    #[command(flatten)]
    ae: AeOpts,
    #[command(flatten)]
    graph: GraphOpts,
    #[command(flatten)]
    gae: GaeOpts,
    #[command(flatten)]
    cluster: ClusterOpts,
    #[command(flatten)]
    em: EmOpts,
    #[command(flatten)]
    impute: ImputeOpts,
    #[command(flatten)]
    compat: CompatOpts,
}

/// Input, output and what to run.
#[derive(Args, Debug)]
#[command(next_help_heading = "Input and output")]
pub struct IoOpts {
    /// Expression matrix (any supported format). Alternatively --datasetDir/--datasetName.
    #[arg(long, short = 'i', required_unless_present_any = ["demo", "dataset_dir", "dataset_name"])]
    pub input: Option<PathBuf>,
    /// Run on a simulated data set built into the binary and report ARI/NMI against its truth.
    #[arg(long, conflicts_with = "input")]
    pub demo: bool,
    #[command(flatten)]
    pub read: ReadArgs,
    /// scGNN's input folder [default: the current folder]: reads <datasetDir>/<datasetName>/Use_expression.csv
    /// (written by `scgnn preprocess`), else <datasetDir>/<datasetName> itself.
    #[arg(long = "datasetDir", value_name = "DIR")]
    pub dataset_dir: Option<PathBuf>,
    /// Name used for the output files [default: the input's file name]; without --input, scGNN's --datasetName.
    #[arg(long = "dataset-name", visible_alias = "datasetName")]
    pub dataset_name: Option<String>,
    /// With --datasetName: LTMG states are read from <LTMGDir>/<datasetName>/<ltmgFile> when
    /// the regularizer needs them (computed when absent) [default: --datasetDir].
    #[arg(long = "LTMGDir")]
    pub ltmg_dir: Option<PathBuf>,
    /// With --datasetName: the LTMG file.
    #[arg(long = "ltmgFile", default_value = compat::LTMG_FILE)]
    pub ltmg_file: String,
    /// With --datasetName: the preprocessed expression file.
    #[arg(long = "ltmgExpressionFile", default_value = compat::EXPRESSION_FILE)]
    pub ltmg_expression_file: String,
    /// Output folder (created if missing).
    #[arg(
        long = "output-dir",
        visible_alias = "outputDir",
        default_value = "outputDir"
    )]
    pub output_dir: PathBuf,
    /// Reference labels (`cell,label` CSV): only used to print ARI/NMI at the end, never by the method.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Do not draw the PNG figures and the HTML report.
    #[arg(long)]
    pub no_plot: bool,
    /// Where the run saves its state after the first phase and every EM iteration
    /// [default: <output-dir>/checkpoint]; removed once the outputs are written.
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep no checkpoints.
    #[arg(long, conflicts_with_all = ["checkpoint_dir", "resume"])]
    pub no_checkpoint: bool,
    /// Continue a stopped run from its checkpoint (same input, options and --threads);
    /// starts from the beginning when there is none.
    #[arg(long)]
    pub resume: bool,
    /// The paper's configuration: scGNN's schedule, LTMG regularizer, GAE embedding, cluster
    /// autoencoders, L1/L2 in imputation only.
    #[arg(long)]
    pub paper: bool,
    /// Epochs, widths and clustering rule to start from: fast (measured, README "Defaults") or
    /// scgnn (scGNN's own, to reproduce the original); options given explicitly win.
    #[arg(long, value_enum, ignore_case = true, default_value_t = D.schedule)]
    pub schedule: Schedule,
    /// Input is already filtered and log-transformed (scGNN's Use_expression.csv).
    #[arg(long)]
    pub skip_preprocess: bool,
    /// Refuse a run whose estimated peak memory exceeds this many GiB [default: the available memory].
    #[arg(long, value_name = "GIB")]
    pub max_memory: Option<f64>,
}

/// Feature autoencoder (spec §3).
#[derive(Args, Debug)]
#[command(next_help_heading = "Feature autoencoder")]
pub struct AeOpts {
    /// Regularizer of the first phase [default: noregu; LTMG with --paper].
    #[arg(
        long = "regulized-type",
        alias = "regularized-type",
        value_enum,
        ignore_case = true
    )]
    regulized_type: Option<Regularizer>,
    /// Weight of the plain squared error.
    #[arg(long = "gamma", visible_alias = "gammaPara", default_value_t = D.gamma)]
    gamma_para: f32,
    /// Weight of the LTMG-weighted squared error.
    #[arg(long = "alpha-ltmg", visible_alias = "alphaRegularizePara", default_value_t = D.alpha)]
    alpha_regularize_para: f32,
    /// L1 penalty on all weights and biases.
    #[arg(long = "l1", visible_alias = "L1Para", default_value_t = D.l1)]
    l1_para: f32,
    /// L2 penalty on all weights and biases.
    #[arg(long = "l2", visible_alias = "L2Para", default_value_t = D.l2)]
    l2_para: f32,
    /// Phases with the L1/L2 penalty: all (scGNN.py) or impute (the paper's benchmark script).
    #[arg(long, value_enum, ignore_case = true, default_value_t = D.penalty_phases)]
    penalty_phases: PenaltyPhases,
    /// Cells per optimizer step [default: 32; scgnn schedule: 12800].
    #[arg(long = "batch-size")]
    batch_size: Option<usize>,
    /// Adam learning rate of the autoencoders.
    #[arg(long = "ae-lr", default_value_t = D.ae.lr)]
    ae_lr: f32,
    /// Width of the autoencoders' two hidden layers [default: 128; scgnn schedule: 512].
    #[arg(long = "ae-hidden")]
    ae_hidden: Option<usize>,
    /// Width of the autoencoders' embedding [default: 64; scgnn schedule: 128].
    #[arg(long = "ae-latent")]
    ae_latent: Option<usize>,
    /// Epochs of the first phase [default: 100; scgnn schedule: 500].
    #[arg(long = "regu-epochs", visible_alias = "Regu-epochs")]
    regu_epochs: Option<usize>,
    /// Feature-AE epochs per EM iteration, and imputation epochs [default: 30; scgnn schedule: 200].
    #[arg(long = "em-epochs", visible_alias = "EM-epochs")]
    em_epochs: Option<usize>,
    /// At most this many optimizer steps per epoch: on larger sets an epoch counts as several
    /// [default: 60; scgnn schedule: no cap].
    #[arg(long = "max-epoch-steps", value_name = "STEPS")]
    max_epoch_steps: Option<usize>,
    /// Divide each gene's values by a power of its standard deviation before the autoencoders
    /// see them: none, sqrt-sd or sd (unit variance).
    #[arg(long = "gene-scale", value_enum, ignore_case = true, default_value_t = D.gene_scale)]
    gene_scale: GeneScale,
    /// Stop a training phase when its loss improves by less than this fraction over --patience epochs (0: fixed epochs).
    #[arg(long, default_value_t = D.early_stop_tol)]
    early_stop: f64,
    /// Window of epochs for --early-stop.
    #[arg(long, default_value_t = D.patience)]
    patience: usize,
}

/// Cell graph (spec §4).
#[derive(Args, Debug)]
#[command(next_help_heading = "Cell graph")]
pub struct GraphOpts {
    /// Neighbours per cell.
    #[arg(long, default_value_t = D.graph.k)]
    k: usize,
    /// KNN distance.
    #[arg(long = "knn-distance", value_enum, ignore_case = true, default_value_t = D.graph.distance)]
    knn_distance: Distance,
    /// Pruning of the KNN edges.
    #[arg(long, value_enum, ignore_case = true, default_value_t = D.graph.prune)]
    prunetype: PruneType,
    /// Neighbour search: exact, approximate (NN-descent), or auto (approximate
    /// above 200 000 cells).
    #[arg(long, value_enum, ignore_case = true, default_value_t = D.graph.knn)]
    knn: KnnMethod,
    /// Graph for the GAE and the imputation regularizer.
    #[arg(long, value_enum, ignore_case = true, default_value_t = D.graph_use)]
    gae_graph: GraphUse,
}

/// Graph autoencoder (spec §5).
#[derive(Args, Debug)]
#[command(next_help_heading = "Graph autoencoder")]
pub struct GaeOpts {
    /// Cluster on the graph autoencoder's embedding [default with --paper].
    #[arg(long = "use-gae-embedding", visible_alias = "useGAEembedding")]
    use_gae_embedding: bool,
    /// Cluster on both embeddings, concatenated.
    #[arg(long = "use-both-embedding", visible_alias = "useBothembedding")]
    use_both_embedding: bool,
    /// Graph autoencoder variant.
    #[arg(long = "gae-model", visible_alias = "GAEmodel", value_enum, ignore_case = true, default_value_t = D.gae.model)]
    gae_model: GaeModel,
    /// GAE epochs.
    #[arg(long = "gae-epochs", visible_alias = "GAEepochs", default_value_t = D.gae.epochs)]
    gae_epochs: usize,
    /// GAE hidden width.
    #[arg(long = "gae-hidden1", visible_alias = "GAEhidden1", default_value_t = D.gae.hidden1)]
    gae_hidden1: usize,
    /// GAE embedding width.
    #[arg(long = "gae-hidden2", visible_alias = "GAEhidden2", default_value_t = D.gae.hidden2)]
    gae_hidden2: usize,
    /// GAE learning rate.
    #[arg(long = "gae-lr", visible_alias = "GAElr", default_value_t = D.gae.lr)]
    gae_lr: f32,
    /// GAE dropout; only 0 (scGNN's default) is supported.
    #[arg(
        long = "gae-dropout",
        visible_alias = "GAEdropout",
        default_value_t = 0.0
    )]
    gae_dropout: f32,
}

/// Clustering (spec §6).
#[derive(Args, Debug)]
#[command(next_help_heading = "Clustering")]
pub struct ClusterOpts {
    /// Clustering method [default: Leiden; scgnn schedule: LouvainK].
    #[arg(long = "clustering-method", value_enum, ignore_case = true)]
    clustering_method: Option<Method>,
    /// Clusters for the methods that need a number.
    #[arg(long = "n-clusters", default_value_t = D.cluster.n_clusters)]
    n_clusters: usize,
    /// Leiden resolution, or LouvainK's multiplier: auto (Leiden: 0.5 below 2 000 cells, else
    /// 0.7; LouvainK: 0.8 below 2 000 cells, else 0.5) or a number.
    #[arg(long, default_value_t = D.cluster.resolution)]
    resolution: Resolution,
    /// Maximum number of clusters.
    #[arg(long = "max-clusters", visible_alias = "maxClusterNumber", default_value_t = D.cluster.max_clusters)]
    max_cluster_number: usize,
    /// Minimum cells per cluster.
    #[arg(long = "min-cluster-size", visible_alias = "minMemberinCluster", default_value_t = D.cluster.min_members)]
    min_member_in_cluster: usize,
}

/// EM loop (spec §7–§8).
#[derive(Args, Debug)]
#[command(next_help_heading = "EM loop")]
pub struct EmOpts {
    /// Maximum EM iterations [default: 3; scgnn schedule: 10].
    #[arg(long = "em-iteration", visible_alias = "EM-iteration")]
    em_iteration: Option<usize>,
    /// Cluster-autoencoder epochs [default: 30; scgnn schedule: 200].
    #[arg(long = "cluster-epochs")]
    cluster_epochs: Option<usize>,
    /// Skip the cluster autoencoders.
    #[arg(long)]
    quickmode: bool,
    /// What each EM iteration clusters: the feature AE's embedding of the observed matrix or of
    /// the cluster AEs' reconstruction [default: observed; scgnn schedule: reconstruction].
    #[arg(long = "em-embed", value_enum, ignore_case = true)]
    em_embed: Option<EmEmbed>,
    /// The graph each EM iteration's Louvain/Leiden clusters: its own (current) or the sum of
    /// every iteration's so far (consensus) [default: current].
    #[arg(long = "em-graph", value_enum, ignore_case = true)]
    em_graph: Option<EmGraph>,
    /// Convergence test.
    #[arg(long = "converge-type", value_enum, ignore_case = true, default_value_t = D.converge_type)]
    converge_type: ConvergeType,
    /// ARI between consecutive labelings that counts as converged.
    #[arg(long = "converge-celltyperatio", default_value_t = D.converge_celltype_ratio)]
    converge_celltyperatio: f64,
    /// Relative graph change that counts as converged.
    #[arg(long = "converge-graphratio", default_value_t = D.converge_graph_ratio)]
    converge_graphratio: f64,
}

/// Imputation (spec §9).
#[derive(Args, Debug)]
#[command(next_help_heading = "Imputation")]
pub struct ImputeOpts {
    /// How to impute: neighbourhood (counts of the cell's graph neighbourhood through a
    /// zero-inflated NB, smoothing chosen by held-out molecules) or scgnn (scGNN's imputation
    /// autoencoder) [default: neighbourhood; scgnn schedule: scgnn].
    #[arg(long = "impute-method", value_enum, ignore_case = true)]
    impute_method: Option<ImputeMethod>,
    /// Longest random walk the neighbourhood imputation tries (each length is scored on
    /// held-out molecules).
    #[arg(long = "impute-max-steps", default_value_t = D.neighbourhood.max_steps)]
    impute_max_steps: usize,
    /// Imputation epochs [default: as many as 200 optimizer steps of 256 cells need; scgnn schedule: --em-epochs].
    #[arg(long = "impute-epochs")]
    impute_epochs: Option<usize>,
    /// Imputation regularizer.
    #[arg(long = "impute-regularizer", visible_alias = "EMregulized-type", value_enum, ignore_case = true, default_value_t = D.impute_regularizer)]
    em_regulized_type: ImputeRegularizer,
    /// Weight of the plain squared error in imputation.
    #[arg(long = "gamma-impute", visible_alias = "gammaImputePara", default_value_t = D.gamma_impute)]
    gamma_impute_para: f32,
    /// Weight of the graph regularizer in imputation.
    #[arg(long = "graph-impute", visible_alias = "graphImputePara", default_value_t = D.graph_impute)]
    graph_impute_para: f32,
    /// Weight of the cell-type regularizer in imputation.
    #[arg(long = "celltype-impute", visible_alias = "celltypeImputePara", default_value_t = D.celltype_impute)]
    celltype_impute_para: f32,
    /// Set imputed values below this threshold to 0 [default: keep them].
    #[arg(long)]
    zero_below: Option<f32>,
    /// scGNN's (inverted) flag: passing it turns ON zeroing below --postThreshold.
    #[arg(long = "noPostprocessingTag")]
    no_postprocessing_tag: bool,
    /// Threshold used with --noPostprocessingTag.
    #[arg(long = "postThreshold", default_value_t = 0.01)]
    post_threshold: f32,
}

/// Options of scGNN.py accepted so its command lines run unchanged.
#[derive(Args, Debug)]
#[command(next_help_heading = "Accepted for scGNN compatibility")]
pub struct CompatOpts {
    /// Loss reduction; only `sum` (scGNN's default) is supported.
    #[arg(long, default_value = "sum")]
    reduction: String,
    /// Model; only `AE` (scGNN's default) is supported.
    #[arg(long, default_value = "AE")]
    model: String,
    /// Floating-point precision; only `Float` is supported.
    #[arg(long = "precisionModel", default_value = "Float")]
    precision_model: String,
    /// No effect: there is no GPU code path.
    #[arg(long = "no-cuda")]
    no_cuda: bool,
    /// No effect: inputs are always read sparse, and --datasetName reads Use_expression.csv.
    #[arg(long = "nonsparseMode")]
    nonsparse_mode: bool,
    /// No effect: the regularizer is always the exact sparse form.
    #[arg(long = "sparseImputation")]
    sparse_imputation: Option<String>,
    /// No effect: progress bars replace periodic log lines.
    #[arg(long = "log-interval")]
    log_interval: Option<usize>,
    /// No effect (scGNN's debugging checkpoints).
    #[arg(long = "debugMode")]
    debug_mode: Option<String>,
    /// No effect: the graph-convergence test needs no mixing factor here.
    #[arg(long = "alpha")]
    alpha_graph: Option<f64>,
    /// No effect (unused in scGNN too).
    #[arg(long = "GAElr_dw")]
    gae_lr_dw: Option<f64>,
    /// No effect (broken in scGNN).
    #[arg(long = "zerofillFlag")]
    zerofill_flag: bool,
    /// No effect (scGNN's LTMG-in-EM switch).
    #[arg(long = "EMreguTag")]
    em_regu_tag: bool,
    /// No effect (per-iteration copies are not written).
    #[arg(long = "saveinternal")]
    save_internal: bool,
}

impl CompatOpts {
    /// Refuses the scGNN values this implementation does not have.
    fn check(&self) -> Result<()> {
        if self.reduction != "sum" {
            return Err(Error::Usage(format!(
                "--reduction {}: only 'sum' (scGNN's default) is supported",
                self.reduction
            )));
        }
        if !self.model.eq_ignore_ascii_case("AE") {
            return Err(Error::Usage(format!(
                "--model {}: only 'AE' is supported (scGNN's VAE has a sigmoid output that cannot fit log data > 1)",
                self.model
            )));
        }
        if !self.precision_model.eq_ignore_ascii_case("Float") {
            return Err(Error::Usage(
                "--precisionModel: only 'Float' (32-bit) is supported".into(),
            ));
        }
        Ok(())
    }
}

impl RunArgs {
    /// The run parameters: the library's defaults, then `--paper`, then the options.
    pub fn params(&self, seed: u64) -> Result<RunParams> {
        self.compat.check()?;
        if self.gae.gae_dropout != 0.0 {
            return Err(Error::Usage(
                "--GAEdropout: only 0 (scGNN's default) is supported".into(),
            ));
        }
        let mut p = RunParams { seed, ..D.clone() };
        if self.io.paper {
            p = p.paper();
        } else if self.io.schedule == Schedule::Scgnn {
            p = p.scgnn_schedule();
        }
        p.preprocess = self.pre.params();
        p.skip_preprocess = self.io.skip_preprocess;
        if let Some(g) = self.io.max_memory {
            p.memory_limit = (g.max(0.0) * (1u64 << 30) as f64) as u64;
        }
        if let Some(r) = self.ae.regulized_type {
            p.regularizer = r;
        }
        self.ae.apply(&mut p);
        self.graph.apply(&mut p);
        self.gae.apply(&mut p);
        self.cluster.apply(&mut p);
        self.em.apply(&mut p);
        self.impute.apply(&mut p);
        p.validate()?;
        Ok(p)
    }

    /// Where the input is: --input, or scGNN's --datasetDir/--datasetName.
    pub fn source(&self) -> Result<Source> {
        let io = &self.io;
        if io.demo {
            return Ok(Source::Demo);
        }
        let read = self.io.read.options();
        if let Some(path) = &io.input {
            return Ok(Source::File {
                path: path.clone(),
                read,
            });
        }
        let name = io.dataset_name.as_ref().ok_or_else(|| {
            Error::Usage(
                "give --input FILE, or --datasetName (the file or folder inside --datasetDir)"
                    .into(),
            )
        })?;
        Ok(Source::Scgnn {
            layout: ScgnnDataset {
                dir: io.dataset_dir.clone().unwrap_or_else(|| ".".into()),
                name: name.clone(),
                ltmg_dir: io.ltmg_dir.clone(),
                expression_file: io.ltmg_expression_file.clone(),
                ltmg_file: io.ltmg_file.clone(),
            },
            read,
        })
    }
}

/// Overwrites `slot` with an option the user gave.
fn set<T>(slot: &mut T, given: Option<T>) {
    if let Some(v) = given {
        *slot = v;
    }
}

impl AeOpts {
    fn apply(&self, p: &mut RunParams) {
        p.gamma = self.gamma_para;
        p.alpha = self.alpha_regularize_para;
        p.l1 = self.l1_para;
        p.l2 = self.l2_para;
        p.penalty_phases = self.penalty_phases;
        set(&mut p.ae.batch_size, self.batch_size);
        p.ae.lr = self.ae_lr;
        set(&mut p.ae.hidden, self.ae_hidden);
        set(&mut p.ae.latent, self.ae_latent);
        set(&mut p.regu_epochs, self.regu_epochs);
        set(&mut p.em_epochs, self.em_epochs);
        if self.max_epoch_steps.is_some() {
            p.max_epoch_steps = self.max_epoch_steps;
        }
        p.gene_scale = self.gene_scale;
        p.early_stop_tol = self.early_stop;
        p.patience = self.patience;
    }
}

impl GraphOpts {
    fn apply(&self, p: &mut RunParams) {
        p.graph.k = self.k;
        p.graph.distance = self.knn_distance;
        p.graph.prune = self.prunetype;
        p.graph.knn = self.knn;
        p.graph_use = self.gae_graph;
    }
}

impl GaeOpts {
    fn apply(&self, p: &mut RunParams) {
        if self.use_both_embedding {
            p.embedding = EmbeddingUse::Both;
        } else if self.use_gae_embedding {
            p.embedding = EmbeddingUse::Gae;
        }
        p.gae.model = self.gae_model;
        p.gae.epochs = self.gae_epochs;
        p.gae.hidden1 = self.gae_hidden1;
        p.gae.hidden2 = self.gae_hidden2;
        p.gae.lr = self.gae_lr;
    }
}

impl ClusterOpts {
    fn apply(&self, p: &mut RunParams) {
        set(&mut p.cluster.method, self.clustering_method);
        p.cluster.n_clusters = self.n_clusters;
        p.cluster.resolution = self.resolution;
        p.cluster.max_clusters = self.max_cluster_number;
        p.cluster.min_members = self.min_member_in_cluster;
    }
}

impl EmOpts {
    fn apply(&self, p: &mut RunParams) {
        set(&mut p.em_iterations, self.em_iteration);
        set(&mut p.cluster_epochs, self.cluster_epochs);
        p.quickmode |= self.quickmode;
        set(&mut p.em_embed, self.em_embed);
        set(&mut p.em_graph, self.em_graph);
        p.converge_type = self.converge_type;
        p.converge_celltype_ratio = self.converge_celltyperatio;
        p.converge_graph_ratio = self.converge_graphratio;
    }
}

impl ImputeOpts {
    fn apply(&self, p: &mut RunParams) {
        set(&mut p.impute_method, self.impute_method);
        p.neighbourhood.max_steps = self.impute_max_steps;
        if self.impute_epochs.is_some() {
            p.impute_epochs = self.impute_epochs;
        }
        p.impute_regularizer = self.em_regulized_type;
        p.gamma_impute = self.gamma_impute_para;
        p.graph_impute = self.graph_impute_para;
        p.celltype_impute = self.celltype_impute_para;
        p.zero_below = self
            .zero_below
            .or(self.no_postprocessing_tag.then_some(self.post_threshold));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Method;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        run: RunArgs,
    }

    fn params(args: &[&str]) -> RunParams {
        let mut v = vec!["scgnn", "--input", "x.csv"];
        v.extend_from_slice(args);
        Cmd::try_parse_from(v).unwrap().run.params(1).unwrap()
    }

    #[test]
    fn schedules_and_explicit_options() {
        let fast = params(&[]);
        assert_eq!(fast, RunParams::default());
        assert_eq!(fast.schedule, Schedule::Fast);
        assert_eq!(fast.cluster.method, Method::Leiden);
        assert!(fast.warm_start && fast.impute_on_observed);

        let s = params(&["--schedule", "scgnn"]);
        assert_eq!(s, RunParams::default().scgnn_schedule());
        assert_eq!(
            (s.ae.hidden, s.ae.latent, s.ae.batch_size),
            (512, 128, 12800)
        );
        assert_eq!(
            (
                s.regu_epochs,
                s.em_epochs,
                s.em_iterations,
                s.cluster_epochs
            ),
            (500, 200, 10, 200)
        );
        assert_eq!(s.cluster.method, Method::LouvainK);
        assert_eq!(s.impute_epochs(124), 200);
        assert!(!s.warm_start && !s.impute_on_observed && s.impute_ae.is_none());

        // scGNN's own command lines keep their meaning: --EM-epochs also sets the
        // imputation epochs under scGNN's schedule.
        let s = params(&["--schedule", "scgnn", "--EM-epochs", "20", "--k", "12"]);
        assert_eq!((s.em_epochs, s.impute_epochs(500), s.graph.k), (20, 20, 12));

        // Explicit options win over either schedule.
        let s = params(&[
            "--schedule",
            "scgnn",
            "--ae-hidden",
            "64",
            "--clustering-method",
            "Leiden",
        ]);
        assert_eq!(
            (s.ae.hidden, s.cluster.method, s.regu_epochs),
            (64, Method::Leiden, 500)
        );
        let f = params(&["--Regu-epochs", "7", "--impute-epochs", "9"]);
        assert_eq!(
            (f.regu_epochs, f.impute_epochs(10_000), f.ae.hidden),
            (7, 9, 128)
        );

        // --paper implies scGNN's schedule.
        let p = params(&["--paper"]);
        assert_eq!((p.schedule, p.regu_epochs), (Schedule::Scgnn, 500));
    }

    #[test]
    fn fast_imputation_is_a_step_budget() {
        let p = RunParams::default();
        // 200 steps of 256 cells: full batch below 256 cells, fewer epochs above.
        assert_eq!(p.impute_epochs(124), 200);
        assert_eq!(p.impute_epochs(5685), 9);
        assert_eq!(p.impute_epochs(1_000_000), 1);
    }

    #[test]
    fn large_sets_count_an_epoch_as_several() {
        let p = RunParams::default();
        // 60 batches of 32 cells: nothing changes up to 1 920 cells.
        assert_eq!(p.capped_epochs(124, 100), 100);
        assert_eq!(p.capped_epochs(1920, 100), 100);
        // 5 685 cells = 178 batches: 100 epochs × 60 steps = 6 000 steps = 34 epochs.
        assert_eq!(p.capped_epochs(5685, 100), 34);
        assert_eq!(p.capped_epochs(1_000_000, 30), 1);
        assert_eq!(p.capped_epochs(1_000_000, 0), 0);
        let s = params(&["--schedule", "scgnn"]);
        assert_eq!(
            (s.max_epoch_steps, s.em_embed),
            (None, EmEmbed::Reconstruction)
        );
        assert_eq!(s.capped_epochs(1_000_000, 200), 200);
        let o = params(&[
            "--schedule",
            "scgnn",
            "--max-epoch-steps",
            "10",
            "--em-embed",
            "observed",
        ]);
        assert_eq!(
            (o.max_epoch_steps, o.em_embed),
            (Some(10), EmEmbed::Observed)
        );
    }
}
