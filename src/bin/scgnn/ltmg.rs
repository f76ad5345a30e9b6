//! `scgnn ltmg`: LTMG regulatory states of every (gene, cell).

use crate::InputArgs;
use clap::Args;
use scgnn::error::Result;
use scgnn::io;
use scgnn::ltmg::LtmgParams;
use scgnn::options::PreprocessOpts;
use scgnn::pipeline::dataset::CountScale;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Instant;

static LTMG: LazyLock<LtmgParams> = LazyLock::new(LtmgParams::default);

/// `scgnn ltmg`.
#[derive(Args, Debug)]
pub struct LtmgArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output: .csv/.csv.gz (states, genes × cells) or .h5ad (X = log expression, layers["ltmg"] = states).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// Input is already filtered and log-transformed (states are fitted on expm1 of it).
    #[arg(long)]
    skip_preprocess: bool,
    #[command(flatten)]
    pre: PreprocessOpts,
    /// Largest number of Gaussian components per gene.
    #[arg(long, default_value_t = LTMG.kmax)]
    kmax: usize,
}

/// Runs `scgnn ltmg`.
pub fn run(a: &LtmgArgs, seed: u64) -> Result<()> {
    let t = Instant::now();
    let m = io::read_matrix(&a.input.input, &a.input.read.options())?;
    let pre = scgnn::preprocess::prepare(m, a.skip_preprocess, &a.pre.params())?;
    let p = LtmgParams {
        kmax: a.kmax,
        ..LTMG.clone()
    };
    let scale = CountScale {
        size_factors: pre.size_factors.clone(),
        transform: pre.transform,
    };
    let l = scgnn::ltmg::run(&scale.normalised(&pre.counts), &p, seed)?;
    io::outputs::write_ltmg(&a.output, &pre.expr, &l.states)?;
    tracing::info!(
        "LTMG states of {} genes × {} cells in {:.2} s; (state, count): {:?}",
        pre.expr.n_genes(),
        pre.expr.n_cells(),
        t.elapsed().as_secs_f64(),
        l.state_histogram()
    );
    Ok(())
}
