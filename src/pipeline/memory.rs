//! The pre-flight memory model: a run that cannot fit is refused before any
//! heavy work, with the numbers and what to change.

use super::params::{EmbeddingUse, ImputeMethod, RunParams};
use crate::error::{Error, Result};

/// Peak memory of a run in bytes: the largest of its stages' working sets
/// (preprocessing, the EM loop, the imputation, writing), each the sum of what
/// that stage holds at once. `nnz` is the non-zeros of the kept genes.
pub fn estimate_peak_bytes(n_cells: usize, n_genes: usize, nnz: usize, p: &RunParams) -> u64 {
    let (n, g) = (n_cells as u64, n_genes as u64);
    let sparse = nnz as u64 * 8;
    let dense = n * g * 4;
    // Preprocessing: a stage's input beside its output (the kept counts beside
    // their transformed copy at the end).
    let preprocess = 2 * sparse;
    // EM loop: the transformed input and the raw counts, the reconstruction
    // (written in place; twice while the cluster autoencoders split and reassemble
    // it), the autoencoders' chunk buffers, the neighbour search and the embeddings.
    let em_dense = if p.quickmode { 1 } else { 2 } * dense;
    let autoencoders = if p.impute_method == ImputeMethod::Neighbourhood {
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
    // Candidate lists (score and index) per cell, the exact neighbour lists and
    // the graph's edges; distance tiles per thread; the approximate search's
    // reordered copy of the embedding and its forest.
    let k = p.graph.k as u64;
    let latent = p.ae.latent as u64;
    let knn = n * (k + 16) * 8
        + n * k * 24
        + rayon::current_num_threads() as u64 * (1 << 20)
        + if p.graph.knn.is_approx(n_cells) {
            n * latent * 4 + 12 * n * 4
        } else {
            0
        };
    let ltmg = if p.needs_ltmg() { nnz as u64 * 9 } else { 0 };
    let gae = if p.embedding == EmbeddingUse::Autoencoder {
        0
    } else {
        n * (p.gae.hidden1 as u64 + 3 * p.gae.hidden2 as u64) * 4 * 4 + n * k * 2 * 12
    };
    // The embedding, its copy for clustering and the search's transformed copy.
    let embeddings = 3 * n * latent * 4;
    let em = 2 * sparse + em_dense + ae_work + knn + ltmg + gae + embeddings;
    // Imputation: the counts, the cell graph, and either the neighbourhood model
    // (the result and two cells × 64 buffers; before it, the held-out choice's
    // two cells × `select_genes` matrices and the thinned counts of those genes)
    // or scGNN's autoencoder (the transformed input, two dense copies).
    let graph = n * k * 2 * 12;
    let impute = sparse
        + graph
        + match p.impute_method {
            ImputeMethod::Neighbourhood => {
                let sel = (p.neighbourhood.select_genes as u64).min(g);
                (dense + 2 * n * 64 * 4).max(2 * n * sel * 4 + 2 * sparse * sel / g.max(1))
            }
            ImputeMethod::Scgnn => sparse + 2 * dense + ae_work,
        };
    // Writing the .h5ad: the imputed matrix (released block by block as it is
    // encoded), the counts, the writer's copy of them and their encoding (64-bit
    // indices): 28 bytes per non-zero, measured at 10 000 and 100 000 cells.
    let write = dense + nnz as u64 * 28 + graph;
    preprocess.max(em).max(impute).max(write) + BASE
}

/// What the process holds besides the data: code, thread stacks, allocator slack.
const BASE: u64 = 80 << 20;

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
