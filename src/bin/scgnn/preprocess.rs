//! `scgnn preprocess`: filter, select variable genes, transform, write; with
//! `--input/--output`, or scGNN's `PreprocessingscGNN.py` layout
//! (`--datasetName/--datasetDir/--LTMGDir`, resolved by the library's `compat`).

use clap::Args;
use scgnn::compat::{self, FileType, ScgnnDataset};
use scgnn::error::{Error, Result};
use scgnn::io::{self, Format};
use scgnn::ltmg::LtmgParams;
use scgnn::options::{PreprocessOpts, ReadArgs};
use std::path::PathBuf;
use std::time::Instant;

/// `scgnn preprocess`: --input/--output, or scGNN's --datasetName/--datasetDir/--LTMGDir.
#[derive(Args, Debug)]
pub struct PreprocessArgs {
    /// Expression matrix: CSV/TSV (optionally .gz, genes × cells), 10X mtx folder, 10X .h5 or .h5ad.
    #[arg(
        long,
        short = 'i',
        required_unless_present = "dataset_name",
        conflicts_with = "dataset_name"
    )]
    input: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// Output: .csv/.csv.gz (genes × cells), .h5ad, or a folder for 10X mtx (see --output-format).
    #[arg(
        long,
        short = 'o',
        required_unless_present = "dataset_name",
        conflicts_with = "dataset_name"
    )]
    output: Option<PathBuf>,
    /// Output format (default: from the extension).
    #[arg(long, value_enum, ignore_case = true)]
    output_format: Option<Format>,
    #[command(flatten)]
    pre: PreprocessOpts,
    #[command(flatten)]
    scgnn: ScgnnPreprocessArgs,
}

/// scGNN's `PreprocessingscGNN.py` layout: reads <datasetDir>/<datasetName> and writes
/// Use_expression.csv (and LTMG_sparse.mtx) where scGNN's next step reads them.
#[derive(Args, Debug)]
#[command(next_help_heading = "scGNN's PreprocessingscGNN.py layout")]
struct ScgnnPreprocessArgs {
    /// A matrix file in --datasetDir (CSV layout) or a folder there with matrix.mtx,
    /// features.tsv or genes.tsv, barcodes.tsv (10X layout).
    #[arg(long = "datasetName", value_name = "NAME")]
    dataset_name: Option<String>,
    /// Folder holding --datasetName [default: the current folder].
    #[arg(long = "datasetDir", value_name = "DIR", requires = "dataset_name")]
    dataset_dir: Option<PathBuf>,
    /// Output folder: Use_expression.csv goes to <LTMGDir>/ (CSV) or <LTMGDir>/<datasetName>/ (10X) [default: --datasetDir].
    #[arg(long = "LTMGDir", value_name = "DIR", requires = "dataset_name")]
    ltmg_dir: Option<PathBuf>,
    /// Layout of --datasetName [default: whichever exists].
    #[arg(
        long = "filetype",
        value_enum,
        ignore_case = true,
        requires = "dataset_name"
    )]
    filetype: Option<FileType>,
    /// Also write the LTMG states (native LTMG) beside Use_expression.csv.
    #[arg(long = "inferLTMGTag", requires = "dataset_name")]
    infer_ltmg: bool,
    /// Name of the preprocessed expression file.
    #[arg(long = "expressionFile", default_value = compat::EXPRESSION_FILE)]
    expression_file: String,
    /// Name of the LTMG file (.mtx as scGNN reads it, or .csv).
    #[arg(long = "ltmgFile", default_value = compat::LTMG_FILE)]
    ltmg_file: String,
    /// No effect: scGNN's sparse pickle is not written (run reads Use_expression.csv).
    #[arg(long = "nonsparseOutTag")]
    nonsparse_out: bool,
    /// No effect: the `sparseOut` word of scGNN's documented 10X command.
    #[arg(value_name = "sparseOut", value_parser = ["sparseOut"], hide = true)]
    sparse_out: Option<String>,
}

/// Runs `scgnn preprocess`.
pub fn run(a: &PreprocessArgs, seed: u64) -> Result<()> {
    let t = Instant::now();
    let read = a.read.options();
    if let Some(name) = &a.scgnn.dataset_name {
        let s = &a.scgnn;
        let ds = ScgnnDataset {
            dir: s.dataset_dir.clone().unwrap_or_else(|| ".".into()),
            name: name.clone(),
            ltmg_dir: s.ltmg_dir.clone(),
            expression_file: s.expression_file.clone(),
            ltmg_file: s.ltmg_file.clone(),
        };
        let ltmg = s.infer_ltmg.then(LtmgParams::default);
        compat::preprocess_dataset(&ds, s.filetype, &read, &a.pre.params(), ltmg.as_ref(), seed)?;
        return Ok(());
    }
    let (Some(input), Some(output)) = (&a.input, &a.output) else {
        return Err(Error::Usage(
            "give --input FILE --output FILE, or scGNN's --datasetName NAME --datasetDir DIR"
                .into(),
        ));
    };
    let m = io::read_matrix(input, &read)?;
    let r = scgnn::preprocess::preprocess(m, &a.pre.params())?;
    io::write_matrix(output, &r.expr, a.output_format)?;
    tracing::info!(
        "wrote {} ({} cells × {} genes) in {:.2} s",
        output.display(),
        r.expr.n_cells(),
        r.expr.n_genes(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
