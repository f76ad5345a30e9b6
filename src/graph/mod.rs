//! The cell graph (spec §4): exact KNN on the embedding, per-edge pruning, and the
//! sparse graphs derived from it, plus the graph-convergence measure of the EM loop (§8.1).
//!
//! Everything is O(N·k) memory. Derived graphs (spec §4.2):
//! - [`CellGraph::edge_list`]: the N·k directed (i, j, w) triples of `<name>_graph.csv`;
//! - [`CellGraph::pruned_graph`]: the Louvain graph, the symmetric union of kept edges with
//!   unit weights. scGNN lets the triple of the higher cell index overwrite a mutual pair's
//!   weight (so an edge kept by i but pruned by j disappears); here an edge kept by either
//!   end is kept, which does not depend on cell order;
//! - [`CellGraph::union_adjacency`]: the GAE/imputation graph, the binary symmetric union of
//!   all KNN pairs, pruning ignored. Self loops never occur: self is excluded by index.

pub mod iforest;
pub mod knn;
pub mod nndescent;
pub mod prune;

pub use knn::{knn, Distance, Knn};
pub use nndescent::{knn_approx, ApproxParams};
pub use prune::PruneType;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};

/// How the k nearest neighbours are found (`--knn`).
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
pub enum KnnMethod {
    /// Exact below [`APPROX_ABOVE`] cells, approximate above (where the exact
    /// search's O(N²) time starts to dominate the run; BENCHMARKS.md).
    #[default]
    Auto,
    /// The exact search (blocked GEMM, O(N²·d)).
    Exact,
    /// Random-projection trees and NN-descent, O(N·k²·d) per round.
    Approx,
}

crate::choice::value_enum_str!(KnnMethod, "--knn");

/// Cells above which `--knn auto` searches approximately.
pub const APPROX_ABOVE: usize = 200_000;

impl KnnMethod {
    /// Whether a graph of `n` cells is searched approximately.
    pub fn is_approx(self, n: usize) -> bool {
        match self {
            KnnMethod::Auto => n > APPROX_ABOVE,
            KnnMethod::Exact => false,
            KnnMethod::Approx => true,
        }
    }
}

/// Parameters of the cell graph. `Default` holds scGNN's defaults (spec §4, §11):
/// `--k 10`, `--knn-distance euclidean`, `--prunetype KNNgraphStatsSingleThread`,
/// plus the search method (`--knn auto`: exact on every size scGNN can run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GraphParams {
    /// Neighbours per cell (`--k`).
    pub k: usize,
    /// Distance between embedding rows (`--knn-distance`).
    pub distance: Distance,
    /// Edge pruning (`--prunetype`).
    pub prune: PruneType,
    /// How the neighbours are found (`--knn`).
    #[serde(default)]
    pub knn: KnnMethod,
}

impl Default for GraphParams {
    fn default() -> Self {
        GraphParams {
            k: 10,
            distance: Distance::Euclidean,
            prune: PruneType::KnnGraphStats,
            knn: KnnMethod::Auto,
        }
    }
}

impl GraphParams {
    /// Checks the parameters that do not depend on the data (k < number of cells is checked by [`build`]).
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::Usage("--k must be at least 1".into()));
        }
        Ok(())
    }
}

/// The pruned KNN graph of the cells: for every cell its k nearest neighbours (nearest
/// first), their distances and the pruning weights (1.0 kept, 0.0 pruned).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CellGraph {
    /// Number of cells.
    pub n: usize,
    /// Neighbours per cell.
    pub k: usize,
    /// `n * k` neighbour indices; cell i's are `neighbors[i*k..(i+1)*k]`.
    pub neighbors: Vec<u32>,
    /// `n * k` distances matching `neighbors`.
    pub dists: Vec<f32>,
    /// `n * k` pruning weights matching `neighbors`.
    pub weights: Vec<f32>,
}

/// Builds the cell graph of `emb` (cells × d): KNN then pruning (spec §4.1).
/// `seed` drives the approximate search and [`PruneType::KnnGraphMl`].
pub fn build(emb: &Dense, params: &GraphParams, seed: u64) -> Result<CellGraph> {
    params.validate()?;
    let nn = if params.knn.is_approx(emb.rows) {
        knn_approx(
            emb,
            params.k,
            params.distance,
            &ApproxParams::default(),
            seed,
        )?
    } else {
        knn(emb, params.k, params.distance)?
    };
    let weights = prune::prune_weights(&nn, emb, params.prune, seed)?;
    Ok(CellGraph {
        n: nn.n,
        k: nn.k,
        neighbors: nn.indices,
        dists: nn.dists,
        weights,
    })
}

impl CellGraph {
    /// The graph from its edge list (the rows of `<name>_graph.csv`): every cell's
    /// k edges together, in cell order. Distances are not in the list and read as 0.
    pub fn from_edge_list(
        n: usize,
        edges: &[(u32, u32, f32)],
    ) -> std::result::Result<Self, String> {
        if n == 0 || edges.is_empty() {
            return Ok(CellGraph {
                n,
                k: 0,
                neighbors: Vec::new(),
                dists: Vec::new(),
                weights: Vec::new(),
            });
        }
        if !edges.len().is_multiple_of(n) {
            return Err(format!(
                "{} edges for {n} cells: expected the same number of neighbours for every cell",
                edges.len()
            ));
        }
        let k = edges.len() / n;
        if let Some((t, e)) = edges
            .iter()
            .enumerate()
            .find(|(t, e)| e.0 as usize != t / k)
        {
            return Err(format!(
                "edge {} starts at cell {}, expected cell {} (edges grouped by cell, {k} per cell)",
                t + 1,
                e.0,
                t / k
            ));
        }
        Ok(CellGraph {
            n,
            k,
            neighbors: edges.iter().map(|e| e.1).collect(),
            dists: vec![0.0; edges.len()],
            weights: edges.iter().map(|e| e.2).collect(),
        })
    }

    /// The N·k directed triples (cell, neighbour, weight), by cell then nearest first:
    /// the rows of scGNN's `<name>_graph.csv`.
    pub fn edge_list(&self) -> Vec<(u32, u32, f32)> {
        (0..self.n)
            .flat_map(|i| {
                let r = i * self.k..(i + 1) * self.k;
                self.neighbors[r.clone()]
                    .iter()
                    .zip(&self.weights[r])
                    .map(move |(&j, &w)| (i as u32, j, w))
            })
            .collect()
    }

    /// Number of directed edges kept by the pruning.
    pub fn n_kept(&self) -> usize {
        self.weights.iter().filter(|&&w| w != 0.0).count()
    }

    /// The Louvain graph: symmetric, unit weights, union of the kept edges, no self loops.
    pub fn pruned_graph(&self) -> Csr<f32> {
        self.symmetric(true)
    }

    /// The GAE/imputation graph: binary symmetric union of all KNN pairs, unpruned, no self loops.
    pub fn union_adjacency(&self) -> Csr<f32> {
        self.symmetric(false)
    }

    /// [`Self::pruned_graph`] if `pruned`, else [`Self::union_adjacency`].
    pub fn adjacency(&self, pruned: bool) -> Csr<f32> {
        self.symmetric(pruned)
    }

    fn symmetric(&self, pruned: bool) -> Csr<f32> {
        let k = self.k;
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(2 * self.n * k);
        for i in 0..self.n {
            for t in i * k..(i + 1) * k {
                let j = self.neighbors[t];
                if (!pruned || self.weights[t] != 0.0) && j as usize != i {
                    pairs.push((i as u32, j));
                    pairs.push((j, i as u32));
                }
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut indptr = vec![0usize; self.n + 1];
        for &(r, _) in &pairs {
            indptr[r as usize + 1] += 1;
        }
        for r in 0..self.n {
            indptr[r + 1] += indptr[r];
        }
        Csr {
            rows: self.n,
            cols: self.n,
            indptr,
            indices: pairs.iter().map(|p| p.1).collect(),
            data: vec![1.0; pairs.len()],
        }
    }
}

/// The entry-wise sum of two adjacencies of the same cells (the EM loop's
/// consensus graph): an edge's weight counts the graphs that hold it.
pub fn sum_adjacency(a: &Csr<f32>, b: &Csr<f32>) -> Result<Csr<f32>> {
    if a.rows != b.rows || a.cols != b.cols {
        return Err(Error::Usage(format!(
            "cannot add a {}×{} graph to a {}×{} one",
            b.rows, b.cols, a.rows, a.cols
        )));
    }
    let mut out = Csr {
        rows: a.rows,
        cols: a.cols,
        indptr: Vec::with_capacity(a.rows + 1),
        indices: Vec::with_capacity(a.nnz().max(b.nnz())),
        data: Vec::with_capacity(a.nnz().max(b.nnz())),
    };
    out.indptr.push(0);
    for r in 0..a.rows {
        let (ai, av) = a.row(r);
        let (bi, bv) = b.row(r);
        let (mut p, mut q) = (0, 0);
        while p < ai.len() || q < bi.len() {
            // Column indices are below u32::MAX, so it marks an exhausted row.
            let ca = ai.get(p).copied().unwrap_or(u32::MAX);
            let cb = bi.get(q).copied().unwrap_or(u32::MAX);
            let col = ca.min(cb);
            let mut w = 0.0;
            if ca == col {
                w += av[p];
                p += 1;
            }
            if cb == col {
                w += bv[q];
                q += 1;
            }
            out.indices.push(col);
            out.data.push(w);
        }
        out.indptr.push(out.indices.len());
    }
    Ok(out)
}

/// Weighted degree (row sum) of every node of a sparse adjacency.
pub fn degrees(adj: &Csr<f32>) -> Vec<f32> {
    (0..adj.rows).map(|r| adj.row(r).1.iter().sum()).collect()
}

/// Relative change between two graphs on the same, aligned cells (spec §8.1, graph test):
///
/// Δ = Σ_ij |next_ij − prev_ij| / Σ_ij |prev_ij|,
///
/// the entrywise L1 change relative to the previous graph's mass. For the binary graphs of
/// [`CellGraph::pruned_graph`] this is the number of edges that appeared or vanished over
/// the number of edges before; the EM loop converges when Δ < `--converge-graphratio` (0.01).
/// 0 if both graphs are empty, +∞ if only `prev` is.
///
/// scGNN instead mixes a dense N × N update A_new = α·L̃0 + (1−α)·A_t·D⁻¹ and compares
/// mean|A_new − A_old| with 0.01 · mean|L̃0|, on matrices whose node order is not aligned
/// (a bug, §17). Both are L1 changes over a normaliser of order N·(mean degree); this one is
/// sparse (O(nnz)), aligned and has no mixing memory.
pub fn graph_change(prev: &Csr<f32>, next: &Csr<f32>) -> Result<f64> {
    if prev.rows != next.rows || prev.cols != next.cols {
        return Err(Error::Usage(format!(
            "graph_change: shapes differ ({}×{} vs {}×{})",
            prev.rows, prev.cols, next.rows, next.cols
        )));
    }
    // Per-row partial sums in parallel, then a sequential total: the same bits whatever
    // the thread count.
    let rows: Vec<(f64, f64)> = (0..prev.rows)
        .into_par_iter()
        .map(|r| {
            let (ai, av) = prev.row(r);
            let (bi, bv) = next.row(r);
            let (mut p, mut q) = (0, 0);
            let mut diff = 0f64;
            loop {
                match (ai.get(p), bi.get(q)) {
                    (Some(ca), Some(cb)) if ca == cb => {
                        diff += (av[p] as f64 - bv[q] as f64).abs();
                        p += 1;
                        q += 1;
                    }
                    (Some(ca), Some(cb)) if ca < cb => {
                        diff += (av[p] as f64).abs();
                        p += 1;
                    }
                    (Some(_), None) => {
                        diff += (av[p] as f64).abs();
                        p += 1;
                    }
                    (_, Some(_)) => {
                        diff += (bv[q] as f64).abs();
                        q += 1;
                    }
                    (None, None) => break,
                }
            }
            let mass: f64 = av.iter().map(|&v| (v as f64).abs()).sum();
            (diff, mass)
        })
        .collect();
    let (diff, mass) = rows.iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    Ok(if mass > 0.0 {
        diff / mass
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY
    })
}
