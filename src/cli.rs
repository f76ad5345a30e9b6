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
