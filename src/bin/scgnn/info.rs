//! `scgnn info`: read a matrix and print its size and sparsity.

use crate::InputArgs;
use clap::Args;
use scgnn::error::Result;
use scgnn::io;
use std::time::Instant;

/// `scgnn info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    input: InputArgs,
}

/// Runs `scgnn info`.
pub fn run(a: &InfoArgs) -> Result<()> {
    let t = Instant::now();
    let m = io::read_matrix(&a.input.input, &a.input.read.options())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}\t{} cells\t{} genes\t{} non-zeros\t{:.2} % dense\tread in {:.2} s ({:.0} cells/s)",
        a.input.input.display(),
        m.n_cells(),
        m.n_genes(),
        m.x.nnz(),
        100.0 * scgnn::simulate::density(&m.x),
        secs,
        m.n_cells() as f64 / secs
    );
    Ok(())
}
