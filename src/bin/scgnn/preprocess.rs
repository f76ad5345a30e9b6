//! `scgnn preprocess`: filter, select variable genes, transform, write.

use crate::{InputArgs, PreprocessOpts};
use clap::Args;
use scgnn::error::Result;
use scgnn::io::{self, Format};
use std::path::PathBuf;
use std::time::Instant;

/// `scgnn preprocess`.
#[derive(Args, Debug)]
pub struct PreprocessArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output: .csv/.csv.gz (genes × cells), .h5ad, or a folder for 10X mtx (see --output-format).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// Output format (default: from the extension).
    #[arg(long, value_enum, ignore_case = true)]
    output_format: Option<Format>,
    #[command(flatten)]
    pre: PreprocessOpts,
}

/// Runs `scgnn preprocess`.
pub fn run(a: &PreprocessArgs) -> Result<()> {
    let t = Instant::now();
    let m = io::read_matrix(&a.input.input, &a.input.read.options())?;
    let r = scgnn::preprocess::preprocess(&m, &a.pre.params())?;
    io::write_matrix(&a.output, &r.expr, a.output_format)?;
    tracing::info!(
        "wrote {} ({} cells × {} genes) in {:.2} s",
        a.output.display(),
        r.expr.n_cells(),
        r.expr.n_genes(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
