//! `scgnn evaluate`: compare cluster labels with reference labels.

use clap::Args;
use scgnn::error::{Error, Result};
use scgnn::evaluate::{labels, metrics};
use std::path::PathBuf;

/// `scgnn evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Predicted labels: our or scGNN's `<name>_results.txt`, or any `cell,label` CSV.
    #[arg(long)]
    clusters: PathBuf,
    /// Reference labels (`cell,label` CSV, e.g. labels.csv).
    #[arg(long)]
    labels: PathBuf,
    /// Embedding (`<name>_embedding.csv`) for silhouette, Calinski–Harabasz, Davies–Bouldin.
    #[arg(long)]
    embedding: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `scgnn evaluate`.
pub fn run(a: &EvaluateArgs, seed: u64) -> Result<()> {
    let m = labels::read_and_match(&a.clusters, &a.labels)?;
    if let Some(w) = &m.warning {
        tracing::warn!("{w}");
    }
    let emb = match &a.embedding {
        Some(p) => {
            let (ids, e) = labels::read_embedding(p)?;
            Some(labels::embedding_rows(p, &ids, &e, &m.cells)?)
        }
        None => None,
    };
    let r = metrics::evaluate(&m.pred, &m.truth, emb.as_ref(), seed)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Error::Numeric(e.to_string()))?
        );
    } else {
        println!("{} cells matched\n{r}", m.n_common);
    }
    Ok(())
}
