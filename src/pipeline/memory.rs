//! The pre-flight memory model: a run that cannot fit is refused before any
//! heavy work, with the numbers and what to change.

use super::params::{EmbeddingUse, ImputeMethod, RunParams};
use crate::error::{Error, Result};

/// Rough peak memory of a run in bytes: the dense working copies of the expression
/// matrix, the sparse input, the embeddings, the KNN lists, the graph and the LTMG
/// states.
pub fn estimate_peak_bytes(n_cells: usize, n_genes: usize, nnz: usize, p: &RunParams) -> u64 {
    let (n, g) = (n_cells as u64, n_genes as u64);
    // Reconstructions are written in place, so one dense cells × genes matrix is
    // alive at a time, two while the cluster autoencoders split and reassemble it
    // (not in quick mode); the h5ad writer releases the imputed matrix as it encodes
    // it. Two sparse matrices are alive throughout: the transformed input and the
    // raw counts kept for the output during training, the raw counts and the
    // writer's copy of them while writing (the method releases the transformed
    // input before the outputs are written).
    // The neighbourhood imputation holds two (the walk's input and output).
    let neighbourhood = p.impute_method == ImputeMethod::Neighbourhood;
    let dense_copies = if p.quickmode && !neighbourhood { 1 } else { 2 };
    let dense = dense_copies * n * g * 4 + 2 * nnz as u64 * 8;
    // The feature and the imputation autoencoders train one after the other.
    let autoencoders = if neighbourhood {
        vec![&p.ae]
    } else {
        vec![&p.ae, p.impute_ae()]
    };
    let ae_work = autoencoders
        .iter()
        .map(|a| {
            3 * (a.chunk_rows.min(n_cells) as u64)
                * (2 * g + 2 * a.hidden as u64 + a.latent as u64)
                * 4
        })
        .max()
        .unwrap_or(0);
    // Shortlists of k + 16 candidates (score and index) per cell, the exact
    // neighbour lists and the graph's edges; the distance tiles are per thread.
    let k = p.graph.k as u64;
    let knn = n * (k + 16) * 8 + n * k * 24 + rayon::current_num_threads() as u64 * (1 << 20);
    let ltmg = if p.needs_ltmg() { nnz as u64 * 9 } else { 0 };
    let gae = if p.embedding == EmbeddingUse::Autoencoder {
        0
    } else {
        n * (p.gae.hidden1 as u64 + 3 * p.gae.hidden2 as u64) * 4 * 4 + n * k * 2 * 12
    };
    // The embedding, its copy for clustering and the KNN's normalised copy.
    let embeddings = 3 * n * p.ae.latent as u64 * 4;
    dense + ae_work + knn + ltmg + gae + embeddings + (256 << 20)
}

/// Refuses a run whose estimate exceeds `p.memory_limit`; returns the estimate.
pub fn check(n_cells: usize, n_genes: usize, nnz: usize, p: &RunParams) -> Result<u64> {
    let estimate = estimate_peak_bytes(n_cells, n_genes, nnz, p);
    if estimate > p.memory_limit {
        return Err(Error::Resources(format!(
            "this run needs about {:.1} GiB but only {:.1} GiB are available ({n_cells} cells × {n_genes} genes); \
             use fewer genes (--geneSelectnum), --quickmode, run on a larger machine, or split the data",
            estimate as f64 / (1u64 << 30) as f64,
            p.memory_limit as f64 / (1u64 << 30) as f64
        )));
    }
    Ok(estimate)
}
