//! Command-line definitions (clap). scGNN's flag spellings are accepted as aliases
//! of ours so that existing scripts keep working. This module only parses; the
//! work is done by the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// scGNN in Rust: single-cell graph neural network for clustering and imputation.
#[derive(Parser, Debug)]
#[command(name = "scgnn", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Options shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Seed for every random choice (same seed + same thread count ⇒ identical files).
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: all cores). scGNN's --coresUsage is an alias.
    #[arg(long, global = true, alias = "coresUsage", value_name = "N")]
    pub threads: Option<String>,
    /// More detail on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scGNN: graph neural network clustering and imputation (scGNN.py).
    Run(Box<RunArgs>),
    /// Filter cells and genes, keep the most variable genes, log-transform (scGNN's PreprocessingscGNN.py).
    Preprocess(PreprocessArgs),
    /// Write a simulated data set with known clusters (negative-binomial counts).
    Simulate(SimulateArgs),
    /// Convert a matrix between formats (CSV, TSV, 10X mtx, 10X h5, h5ad).
    Convert(ConvertArgs),
    /// Read a matrix and print its size and sparsity (checks that it parses).
    Info(InfoArgs),
    /// Compare cluster labels with reference labels (ARI, NMI, AMI, silhouette, …).
    Evaluate(EvaluateArgs),
    /// LTMG regulatory states of every (gene, cell) (scGNN's R package, natively).
    Ltmg(LtmgArgs),
    /// Redraw the figures and the HTML report of a finished run from its output folder.
    Plot(PlotArgs),
    /// Imputation benchmarks with built-in baselines: dropout recovery and molecular cross-validation.
    #[command(subcommand)]
    Benchmark(BenchmarkCommand),
}

/// `scgnn plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Output folder of a run.
    #[arg(long, short = 'i')]
    pub input: PathBuf,
    /// Dataset name of the run (default: the single `<name>_report.json` in the folder).
    #[arg(long)]
    pub name: Option<String>,
    /// Reference labels (`cell,label` CSV) for the layout coloured by ground truth.
    #[arg(long)]
    pub labels: Option<PathBuf>,
}

/// `scgnn benchmark …`.
#[derive(Subcommand, Debug)]
pub enum BenchmarkCommand {
    /// Hide a fraction of the non-zero counts, impute, score the hidden entries (scGNN paper protocol).
    Dropout(DropoutArgs),
    /// Molecular cross-validation: binomial split A/B, impute from A, predict B.
    Mcv(McvArgs),
}

/// `scgnn benchmark dropout`.
#[derive(Args, Debug)]
pub struct DropoutArgs {
    /// Fraction of the non-zero raw entries to hide.
    #[arg(long, default_value_t = 0.1)]
    pub rate: f64,
    /// Repeats (seeds --seed, --seed+1, …); mean ± std is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Score this imputed matrix (genes × cells, e.g. from another tool run on --write-mask output) instead of running scGNN-rs.
    #[arg(long)]
    pub imputed: Option<PathBuf>,
    /// Scale of --imputed: log (ln(1+x)) or counts.
    #[arg(long, default_value = "log")]
    pub imputed_scale: String,
    /// Write the masked counts (masked_counts.csv.gz, genes × cells) and the mask (mask.csv) of the first repeat here.
    #[arg(long)]
    pub write_mask: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `scgnn benchmark mcv`.
#[derive(Args, Debug)]
pub struct McvArgs {
    /// Thinning probability: A ~ Binomial(X, p).
    #[arg(long = "p", default_value_t = 0.5)]
    pub p: f64,
    /// Score this imputed A (genes × cells, from another tool run on --write-split output) instead of running scGNN-rs.
    #[arg(long)]
    pub imputed: Option<PathBuf>,
    /// Scale of --imputed: log (ln(1+x) of A's counts) or counts.
    #[arg(long, default_value = "log")]
    pub imputed_scale: String,
    /// Write the halves A.csv.gz and B.csv.gz (genes × cells) here.
    #[arg(long)]
    pub write_split: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `scgnn ltmg`.
#[derive(Args, Debug)]
pub struct LtmgArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output: .csv/.csv.gz (states, genes × cells) or .h5ad (X = log expression, layers["ltmg"] = states).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Input is already filtered and log-transformed (states are fitted on expm1 of it).
    #[arg(long)]
    pub skip_preprocess: bool,
    #[command(flatten)]
    pub pre: PreprocessOpts,
    /// Largest number of Gaussian components per gene.
    #[arg(long, default_value_t = 5)]
    pub kmax: usize,
}

/// `scgnn evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Predicted labels: our or scGNN's `<name>_results.txt`, or any `cell,label` CSV.
    #[arg(long)]
    pub clusters: PathBuf,
    /// Reference labels (`cell,label` CSV, e.g. labels.csv).
    #[arg(long)]
    pub labels: PathBuf,
    /// Embedding (`<name>_embedding.csv`) for silhouette, Calinski–Harabasz, Davies–Bouldin.
    #[arg(long)]
    pub embedding: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `scgnn info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

/// How to read the input matrix.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Expression matrix: CSV/TSV (optionally .gz, genes × cells), 10X mtx folder, 10X .h5 or .h5ad.
    #[arg(long, short = 'i')]
    pub input: PathBuf,
    /// Input format (default: guessed from the path).
    #[arg(long, value_name = "csv|tsv|10x-mtx|10x-h5|h5ad")]
    pub format: Option<String>,
    /// Text input has cells in rows and genes in columns (scGNN's --transpose).
    #[arg(long, alias = "transpose")]
    pub cells_as_rows: bool,
    /// Do not refuse text input whose row/column names look swapped.
    #[arg(long)]
    pub no_layout_check: bool,
}

/// Preprocessing parameters (defaults of scGNN's PreprocessingscGNN.py).
#[derive(Args, Debug, Clone)]
pub struct PreprocessOpts {
    /// Number of most variable genes to keep.
    #[arg(long, alias = "geneSelectnum", default_value_t = 2000)]
    pub n_top_genes: usize,
    /// Keep a cell if its fraction of non-zero genes is ≥ 1 − this.
    #[arg(long, alias = "cellRatio", default_value_t = 0.99)]
    pub cell_ratio: f64,
    /// Keep a gene if its fraction of non-zero cells is ≥ 1 − this.
    #[arg(long, alias = "geneRatio", default_value_t = 0.99)]
    pub gene_ratio: f64,
    /// Transform of the kept values: log (ln(1+x)) or none.
    #[arg(long, default_value = "log")]
    pub transform: String,
    /// Library-size normalisation before the gene ranking and the log: total
    /// (each cell scaled to the median total count) or none (scGNN's rule).
    #[arg(long, default_value = "total", value_name = "total|none")]
    pub normalize: String,
}

/// `scgnn preprocess`.
#[derive(Args, Debug)]
pub struct PreprocessArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output: .csv/.csv.gz (genes × cells), .h5ad, or a folder for 10X mtx (see --output-format).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Output format (default: from the extension).
    #[arg(long, value_name = "csv|tsv|10x-mtx|10x-h5|h5ad")]
    pub output_format: Option<String>,
    #[command(flatten)]
    pub pre: PreprocessOpts,
}

/// `scgnn simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Number of cells.
    #[arg(long, default_value_t = 1000)]
    pub cells: usize,
    /// Number of genes.
    #[arg(long, default_value_t = 2000)]
    pub genes: usize,
    /// Number of clusters.
    #[arg(long, default_value_t = 5)]
    pub clusters: usize,
    /// Output folder: counts.csv.gz (or counts.h5ad / counts/ for 10X) and labels.csv.
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Output format of the counts.
    #[arg(long, default_value = "csv", value_name = "csv|h5ad|10x-mtx")]
    pub format: String,
}

/// `scgnn convert`.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output path.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Output format (default: from the extension; a path without extension is a 10X mtx folder).
    #[arg(long, value_name = "csv|tsv|10x-mtx|10x-h5|h5ad")]
    pub output_format: Option<String>,
}

/// `scgnn run`: the whole method. Every option of scGNN's `scGNN.py` is accepted
/// under its original spelling (spec §11).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Expression matrix (any supported format). Alternatively --datasetDir/--datasetName.
    #[arg(long, short = 'i', required_unless_present_any = ["demo", "dataset_dir"])]
    pub input: Option<PathBuf>,
    /// Run on a simulated data set built into the binary and report ARI/NMI against its truth.
    #[arg(long, conflicts_with = "input")]
    pub demo: bool,
    /// Input format (default: guessed from the path).
    #[arg(long, value_name = "csv|tsv|10x-mtx|10x-h5|h5ad")]
    pub format: Option<String>,
    /// Text input has cells in rows (scGNN's --transpose).
    #[arg(long, alias = "transpose")]
    pub cells_as_rows: bool,
    /// Do not refuse text input whose row/column names look swapped.
    #[arg(long)]
    pub no_layout_check: bool,
    /// scGNN's input folder; the input is <datasetDir>/<datasetName>.
    #[arg(long = "datasetDir", value_name = "DIR")]
    pub dataset_dir: Option<PathBuf>,
    /// Name used for the output files (default: the input's file name).
    #[arg(long = "dataset-name", alias = "datasetName")]
    pub dataset_name: Option<String>,
    /// Output folder (created if missing).
    #[arg(long = "output-dir", alias = "outputDir", default_value = "outputDir")]
    pub output_dir: PathBuf,
    /// Reference labels (`cell,label` CSV): only used to print ARI/NMI at the end, never by the method.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Do not draw the PNG figures and the HTML report.
    #[arg(long)]
    pub no_plot: bool,
    /// The paper's configuration: LTMG regularizer, GAE embedding, cluster autoencoders, L1/L2 in imputation only.
    #[arg(long)]
    pub paper: bool,
    /// Input is already filtered and log-transformed (scGNN's Use_expression.csv).
    #[arg(long)]
    pub skip_preprocess: bool,
    #[command(flatten)]
    pub pre: PreprocessOpts,

    // --- feature autoencoder (spec §3) ---
    /// Regularizer of the first phase: noregu, LTMG, LTMG01.
    #[arg(long = "regulized-type", alias = "regularized-type")]
    pub regulized_type: Option<String>,
    /// Weight of the plain squared error.
    #[arg(long = "gamma", alias = "gammaPara")]
    pub gamma_para: Option<f32>,
    /// Weight of the LTMG-weighted squared error.
    #[arg(long = "alpha-ltmg", alias = "alphaRegularizePara")]
    pub alpha_regularize_para: Option<f32>,
    /// L1 penalty on all weights and biases.
    #[arg(long = "l1", alias = "L1Para")]
    pub l1_para: Option<f32>,
    /// L2 penalty on all weights and biases.
    #[arg(long = "l2", alias = "L2Para")]
    pub l2_para: Option<f32>,
    /// Phases with the L1/L2 penalty: all (scGNN.py) or impute (the paper's benchmark script).
    #[arg(long)]
    pub penalty_phases: Option<String>,
    /// Cells per optimizer step.
    #[arg(long = "batch-size")]
    pub batch_size: Option<usize>,
    /// Epochs of the first phase.
    #[arg(long = "regu-epochs", alias = "Regu-epochs")]
    pub regu_epochs: Option<usize>,
    /// Feature-AE epochs per EM iteration, and imputation epochs.
    #[arg(long = "em-epochs", alias = "EM-epochs")]
    pub em_epochs: Option<usize>,
    /// Maximum EM iterations.
    #[arg(long = "em-iteration", alias = "EM-iteration")]
    pub em_iteration: Option<usize>,
    /// Cluster-autoencoder epochs.
    #[arg(long = "cluster-epochs")]
    pub cluster_epochs: Option<usize>,
    /// Skip the cluster autoencoders.
    #[arg(long)]
    pub quickmode: bool,
    /// Stop a training phase when its loss improves by less than this fraction over --patience epochs (0: fixed epochs).
    #[arg(long)]
    pub early_stop: Option<f64>,
    /// Window of epochs for --early-stop.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Loss reduction; only `sum` (scGNN's default) is supported.
    #[arg(long, default_value = "sum")]
    pub reduction: String,
    /// Model; only `AE` (scGNN's default) is supported.
    #[arg(long, default_value = "AE")]
    pub model: String,
    /// Floating-point precision; only `Float` is supported.
    #[arg(long = "precisionModel", default_value = "Float")]
    pub precision_model: String,

    // --- cell graph (spec §4) ---
    /// Neighbours per cell.
    #[arg(long)]
    pub k: Option<usize>,
    /// KNN distance: euclidean, cosine, correlation.
    #[arg(long = "knn-distance")]
    pub knn_distance: Option<String>,
    /// Pruning: KNNgraphStatsSingleThread (default), KNNgraphStats, KNNgraphML, KNNgraph.
    #[arg(long)]
    pub prunetype: Option<String>,
    /// Graph for the GAE and the imputation regularizer: pruned or unpruned.
    #[arg(long)]
    pub gae_graph: Option<String>,

    // --- graph autoencoder (spec §5) ---
    /// Cluster on the graph autoencoder's embedding.
    #[arg(long = "use-gae-embedding", alias = "useGAEembedding")]
    pub use_gae_embedding: bool,
    /// Cluster on both embeddings, concatenated.
    #[arg(long = "use-both-embedding", alias = "useBothembedding")]
    pub use_both_embedding: bool,
    /// gcn_vae (default) or gcn_ae.
    #[arg(long = "gae-model", alias = "GAEmodel")]
    pub gae_model: Option<String>,
    /// GAE epochs.
    #[arg(long = "gae-epochs", alias = "GAEepochs")]
    pub gae_epochs: Option<usize>,
    /// GAE hidden width.
    #[arg(long = "gae-hidden1", alias = "GAEhidden1")]
    pub gae_hidden1: Option<usize>,
    /// GAE embedding width.
    #[arg(long = "gae-hidden2", alias = "GAEhidden2")]
    pub gae_hidden2: Option<usize>,
    /// GAE learning rate.
    #[arg(long = "gae-lr", alias = "GAElr")]
    pub gae_lr: Option<f32>,
    /// GAE dropout; only 0 (scGNN's default) is supported.
    #[arg(long = "gae-dropout", alias = "GAEdropout", default_value_t = 0.0)]
    pub gae_dropout: f32,

    // --- clustering (spec §6) ---
    /// LouvainK (default), Louvain, LouvainB, Leiden, KMeans, SpectralClustering, AffinityPropagation,
    /// AgglomerativeClustering, AgglomerativeClusteringK, Birch, BirchN, MeanShift, OPTICS.
    #[arg(long = "clustering-method")]
    pub clustering_method: Option<String>,
    /// Clusters for the methods that need a number.
    #[arg(long = "n-clusters")]
    pub n_clusters: Option<usize>,
    /// Louvain resolution: auto (0.8 below 2 000 cells, else 0.5) or a number.
    #[arg(long)]
    pub resolution: Option<String>,
    /// Maximum number of clusters.
    #[arg(long = "max-clusters", alias = "maxClusterNumber")]
    pub max_cluster_number: Option<usize>,
    /// Minimum cells per cluster.
    #[arg(long = "min-cluster-size", alias = "minMemberinCluster")]
    pub min_member_in_cluster: Option<usize>,

    // --- EM loop (spec §8) ---
    /// Convergence test: celltype, graph, both, either.
    #[arg(long = "converge-type")]
    pub converge_type: Option<String>,
    /// ARI between consecutive labelings that counts as converged.
    #[arg(long = "converge-celltyperatio")]
    pub converge_celltyperatio: Option<f64>,
    /// Relative graph change that counts as converged.
    #[arg(long = "converge-graphratio")]
    pub converge_graphratio: Option<f64>,

    // --- imputation (spec §9) ---
    /// Imputation regularizer: Celltype (default), CelltypeR, Graph, noregu.
    #[arg(long = "impute-regularizer", alias = "EMregulized-type")]
    pub em_regulized_type: Option<String>,
    /// Weight of the plain squared error in imputation.
    #[arg(long = "gamma-impute", alias = "gammaImputePara")]
    pub gamma_impute_para: Option<f32>,
    /// Weight of the graph regularizer in imputation.
    #[arg(long = "graph-impute", alias = "graphImputePara")]
    pub graph_impute_para: Option<f32>,
    /// Weight of the cell-type regularizer in imputation.
    #[arg(long = "celltype-impute", alias = "celltypeImputePara")]
    pub celltype_impute_para: Option<f32>,
    /// Set imputed values below this threshold to 0.
    #[arg(long)]
    pub zero_below: Option<f32>,
    /// scGNN's (inverted) flag: passing it turns ON zeroing below --postThreshold.
    #[arg(long = "noPostprocessingTag")]
    pub no_postprocessing_tag: bool,
    /// Threshold used with --noPostprocessingTag.
    #[arg(long = "postThreshold", default_value_t = 0.01)]
    pub post_threshold: f32,

    // --- accepted for compatibility with scGNN's command lines; no effect here ---
    /// No effect: there is no GPU code path.
    #[arg(long = "no-cuda")]
    pub no_cuda: bool,
    /// No effect: inputs are always read sparse.
    #[arg(long = "nonsparseMode")]
    pub nonsparse_mode: bool,
    /// No effect: the regularizer is always the exact sparse form.
    #[arg(long = "sparseImputation")]
    pub sparse_imputation: Option<String>,
    /// No effect: LTMG is computed natively from the input.
    #[arg(long = "LTMGDir")]
    pub ltmg_dir: Option<PathBuf>,
    /// No effect: LTMG is computed natively from the input.
    #[arg(long = "ltmgFile")]
    pub ltmg_file: Option<String>,
    /// No effect: LTMG is computed natively from the input.
    #[arg(long = "ltmgExpressionFile")]
    pub ltmg_expression_file: Option<String>,
    /// No effect: progress bars replace periodic log lines.
    #[arg(long = "log-interval")]
    pub log_interval: Option<usize>,
    /// No effect (scGNN's debugging checkpoints).
    #[arg(long = "debugMode")]
    pub debug_mode: Option<String>,
    /// No effect: the graph-convergence test needs no mixing factor here.
    #[arg(long = "alpha")]
    pub alpha_graph: Option<f64>,
    /// No effect (unused in scGNN too).
    #[arg(long = "GAElr_dw")]
    pub gae_lr_dw: Option<f64>,
    /// No effect (broken in scGNN).
    #[arg(long = "zerofillFlag")]
    pub zerofill_flag: bool,
    /// No effect (scGNN's LTMG-in-EM switch).
    #[arg(long = "EMreguTag")]
    pub em_regu_tag: bool,
    /// No effect (per-iteration copies are not written).
    #[arg(long = "saveinternal")]
    pub save_internal: bool,
}
