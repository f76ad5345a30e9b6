//! `scgnn run`: the whole method. Every option of scGNN's `scGNN.py` is accepted
//! under its original spelling (spec §11; the options live in
//! `scgnn::options`); this file only calls the library and prints the summary.

use scgnn::error::Result;
pub use scgnn::options::RunArgs;
use scgnn::pipeline::{self, Job, Progress};
use std::time::Instant;

/// Runs `scgnn run`.
pub fn run(a: &RunArgs, seed: u64, quiet: bool, progress: &dyn Progress) -> Result<()> {
    let t0 = Instant::now();
    let job = Job {
        source: a.source()?,
        name: a.io.dataset_name.clone(),
        labels: a.io.labels.clone(),
        output_dir: Some(a.io.output_dir.clone()),
        plots: !a.io.no_plot,
        params: a.params(seed)?,
        checkpoint_dir: (!a.io.no_checkpoint).then(|| {
            a.io.checkpoint_dir
                .clone()
                .unwrap_or_else(|| a.io.output_dir.join("checkpoint"))
        }),
        resume: a.io.resume,
    };
    let ds = pipeline::run(job, progress)?;
    if let Some(r) = &ds.report.evaluation {
        let against =
            a.io.labels
                .as_ref()
                .map_or("demo truth".to_string(), |l| l.display().to_string());
        println!(
            "ARI {:.4}  NMI {:.4}  against {against} ({} cells)",
            r.ari, r.nmi, r.n_cells
        );
    }
    if !quiet {
        print_summary(&ds.report);
    }
    tracing::info!(
        "done in {:.1} s: {} clusters, outputs in {}",
        t0.elapsed().as_secs_f64(),
        ds.n_clusters(),
        a.io.output_dir.display()
    );
    Ok(())
}

/// The final summary table: time, epochs and last loss of every phase, then the
/// clusters of every iteration, then how the EM loop ended.
fn print_summary(r: &pipeline::report::Report) {
    println!(
        "{:<20} {:>9} {:>7} {:>14}",
        "phase", "seconds", "epochs", "final loss"
    );
    for p in &r.phases {
        let loss = p
            .final_loss()
            .map(|l| format!("{l:.4e}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<20} {:>9.2} {:>7} {:>14}",
            p.name, p.seconds, p.epochs, loss
        );
    }
    println!("{:<20} {:>9.2}", "total", r.total_seconds);
    for it in &r.iterations {
        let ari = it
            .ari_previous
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "iteration {:>2}: {:>3} clusters, ARI vs previous {ari}, sizes {:?}",
            it.iteration, it.n_clusters, it.cluster_sizes
        );
    }
    if r.convergence.converged {
        println!("{}", r.convergence.message);
    } else {
        println!("warning: the EM loop {}", r.convergence.message);
    }
}
