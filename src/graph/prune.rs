//! Edge pruning of the KNN graph (spec §4.1, §4.3): every directed KNN edge gets weight
//! 1.0 (kept) or 0.0 (pruned); pruned edges stay in the edge list, as in scGNN.

use rayon::prelude::*;

use super::iforest::{IsolationForest, IsolationForestParams};
use super::knn::Knn;
use crate::error::{Error, Result};
use crate::matrix::Dense;
use crate::rng::substream;

/// How KNN edges are pruned (scGNN `--prunetype`, default `KNNgraphStatsSingleThread`, spec §4).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
pub enum PruneType {
    /// Keep neighbour j of cell i iff d_ij ≤ mean(d_i) + std(d_i) over its k distances
    /// (population std). scGNN's `KNNgraphStatsSingleThread` and `KNNgraphStats`.
    #[default]
    #[value(name = "KNNgraphStatsSingleThread", alias = "KNNgraphStats")]
    KnnGraphStats,
    /// Isolation forest on each cell's k+1 nearest points (itself included); neighbours
    /// it flags as outliers are pruned. scGNN's `KNNgraphML`, here seeded.
    #[value(name = "KNNgraphML")]
    KnnGraphMl,
    /// No pruning: every KNN edge is kept. scGNN's `KNNgraph`.
    #[value(name = "KNNgraph")]
    KnnGraph,
}

crate::choice::value_enum_str!(PruneType, "--prunetype");

/// RNG stage tag of the isolation-forest pruning; cell i uses sub-stream i.
pub const IFOREST_STAGE: &str = "prune-iforest";

/// The `n * k` edge weights (1.0 kept, 0.0 pruned) of `knn` under `prune`.
/// `emb` is the embedding the KNN was computed on (used by the isolation forest only).
pub fn prune_weights(knn: &Knn, emb: &Dense, prune: PruneType, seed: u64) -> Result<Vec<f32>> {
    match prune {
        PruneType::KnnGraphStats => Ok(stats_weights(knn)),
        PruneType::KnnGraph => Ok(vec![1.0; knn.n * knn.k]),
        PruneType::KnnGraphMl => {
            if emb.rows != knn.n {
                return Err(Error::Usage(format!(
                    "embedding has {} rows but the KNN graph {} cells",
                    emb.rows, knn.n
                )));
            }
            Ok(iforest_weights(knn, emb, seed))
        }
    }
}

/// Spec §4.1: boundary b_i = mean + population std of cell i's k distances; an edge is
/// kept iff its distance ≤ b_i. The nearest neighbour always survives (min ≤ mean).
pub fn stats_weights(knn: &Knn) -> Vec<f32> {
    let k = knn.k;
    let mut w = vec![0f32; knn.n * k];
    w.par_chunks_mut(k)
        .zip(knn.dists.par_chunks(k))
        .for_each(|(w, d)| {
            // f64 sums of ≤ a few dozen f32 values are exact, so equal distances give
            // mean == value and std == 0 exactly: ties at the boundary are kept.
            let mean = d.iter().map(|&v| v as f64).sum::<f64>() / k as f64;
            let var = d.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / k as f64;
            let bound = mean + var.sqrt();
            for (w, &v) in w.iter_mut().zip(d) {
                *w = if (v as f64) <= bound { 1.0 } else { 0.0 };
            }
        });
    w
}

/// Spec §4.3 `KNNgraphML`: per cell, an isolation forest (scikit-learn defaults, seeded from
/// `seed` and the cell index) on the cell and its k neighbours; flagged neighbours get 0.
pub fn iforest_weights(knn: &Knn, emb: &Dense, seed: u64) -> Vec<f32> {
    let k = knn.k;
    let d = emb.cols;
    let params = IsolationForestParams::default();
    let mut w = vec![0f32; knn.n * k];
    w.par_chunks_mut(k).enumerate().for_each(|(i, w)| {
        let mut pts = Vec::with_capacity((k + 1) * d);
        pts.extend_from_slice(emb.row(i));
        for &j in knn.neighbors(i) {
            pts.extend_from_slice(emb.row(j as usize));
        }
        let mut rng = substream(seed, IFOREST_STAGE, i as u64);
        let forest = IsolationForest::fit(&pts, d, &params, &mut rng);
        let out = forest.outliers(&pts[d..]);
        for (w, o) in w.iter_mut().zip(out) {
            *w = if o { 0.0 } else { 1.0 };
        }
    });
    w
}
