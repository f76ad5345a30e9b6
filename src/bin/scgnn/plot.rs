//! `scgnn plot`: redraw the figures and the HTML report of a finished run.

use clap::Args;
use scgnn::error::Result;
use scgnn::plot::{self, PlotParams};
use std::path::PathBuf;

/// `scgnn plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Output folder of a run.
    #[arg(long, short = 'i')]
    input: PathBuf,
    /// Dataset name of the run (default: the single `<name>_report.json` in the folder).
    #[arg(long)]
    name: Option<String>,
    /// Reference labels (`cell,label` CSV) for the layout coloured by ground truth.
    #[arg(long)]
    labels: Option<PathBuf>,
}

/// Runs `scgnn plot`.
pub fn run(a: &PlotArgs, seed: u64) -> Result<()> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => plot::run_name(&a.input)?,
    };
    let ds = plot::load_run(&a.input, &name, a.labels.as_deref())?;
    let figs = plot::plot_run(&a.input, &ds, &PlotParams::for_seed(seed))?;
    let html = plot::write_html_report(&a.input, &ds, &figs)?;
    plot::remove_stale_figures(&a.input, &name, Some(&figs))?;
    for f in figs.paths() {
        println!("{}", f.display());
    }
    println!("{}", html.display());
    Ok(())
}
