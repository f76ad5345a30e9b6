//! `scgnn simulate`: write a simulated data set with known clusters.

use clap::Args;
use scgnn::error::{Error, Result};
use scgnn::io::{self, Format};
use scgnn::simulate::{SimDesign, SimParams};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Instant;

static SIM: LazyLock<SimParams> = LazyLock::new(SimParams::default);

/// `scgnn simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Number of cells.
    #[arg(long, default_value_t = SIM.cells)]
    cells: usize,
    /// Number of genes.
    #[arg(long, default_value_t = SIM.genes)]
    genes: usize,
    /// Number of clusters.
    #[arg(long, default_value_t = SIM.clusters)]
    clusters: usize,
    /// Output folder: counts.csv.gz (or counts.h5ad / counts.h5 / counts/ for 10X) and labels.csv.
    #[arg(long)]
    output_dir: PathBuf,
    /// Output format of the counts.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Csv)]
    format: Format,
}

/// Runs `scgnn simulate`.
pub fn run(a: &SimulateArgs, seed: u64) -> Result<()> {
    let t = Instant::now();
    let p = SimParams {
        cells: a.cells,
        genes: a.genes,
        clusters: a.clusters,
        seed,
        ..SIM.clone()
    };
    let d = SimDesign::new(&p)?;
    let nnz = match a.format {
        Format::Csv => d.write_csv(&a.output_dir.join("counts.csv.gz"))?,
        Format::TenxMtx => d.write_10x_mtx(&a.output_dir.join("counts"))?,
        Format::H5ad | Format::TenxH5 => {
            let m = d.matrix();
            let name = if a.format == Format::H5ad {
                "counts.h5ad"
            } else {
                "counts.h5"
            };
            io::write_matrix(&a.output_dir.join(name), &m, Some(a.format))?;
            m.x.nnz()
        }
        Format::Tsv => {
            return Err(Error::Usage(
                "--format: simulate writes csv, h5ad, 10x-h5 or 10x-mtx".into(),
            ))
        }
    };
    io::outputs::write_labels(&a.output_dir.join("labels.csv"), &d.cell_ids(), &d.labels())?;
    tracing::info!(
        "simulated {} cells × {} genes, {} clusters, {} non-zeros ({:.1} %) into {} in {:.2} s",
        a.cells,
        a.genes,
        a.clusters,
        nnz,
        100.0 * nnz as f64 / (a.cells as f64 * a.genes as f64),
        a.output_dir.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
