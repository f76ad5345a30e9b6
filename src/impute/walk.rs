//! The random walk P = D⁻¹(A + W) on the cell graph, W diagonal: each cell is
//! one of its own neighbours, with the weight of its strongest edge.
//!
//! Why that self weight: the graph's weights may be on any scale (1 for a
//! plain kNN graph, similarities or kernel values otherwise), and a constant 1
//! would make the cell's own profile count for anything from nothing to
//! everything depending on that scale. The strongest edge is the graph's own
//! statement of how similar a close neighbour is, and a cell is at least as
//! similar to itself. An isolated cell (no edges) keeps its own profile.

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};
use rayon::prelude::*;

/// Row-stochastic transition matrix, self loops included.
pub(crate) struct Walk {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    weights: Vec<f32>,
}

impl Walk {
    /// Builds the walk of an `n × n` adjacency; explicit diagonal entries are
    /// ignored (the self weight is set as described above).
    pub(crate) fn new(adj: &Csr<f32>, n: usize) -> Result<Walk> {
        if adj.rows != n || adj.cols != n {
            return Err(Error::Usage(format!(
                "the cell graph is {} × {} but there are {n} cells",
                adj.rows, adj.cols
            )));
        }
        if let Some(w) = adj.data.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::Data(format!(
                "cell graph weight {w}: weights must be finite and non-negative"
            )));
        }
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let (mut indices, mut weights) = (Vec::new(), Vec::new());
        for i in 0..n {
            let (ci, cv) = adj.row(i);
            let edges = || {
                ci.iter()
                    .zip(cv)
                    .filter(|(&j, &w)| j as usize != i && w > 0.0)
            };
            let self_w = edges().map(|(_, &w)| w as f64).fold(0.0, f64::max);
            let self_w = if self_w > 0.0 { self_w } else { 1.0 };
            let total = self_w + edges().map(|(_, &w)| w as f64).sum::<f64>();
            indices.push(i as u32);
            weights.push((self_w / total) as f32);
            for (&j, &w) in edges() {
                indices.push(j);
                weights.push((w as f64 / total) as f32);
            }
            indptr.push(indices.len());
        }
        Ok(Walk {
            indptr,
            indices,
            weights,
        })
    }

    fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()]
            .iter()
            .map(|&j| j as usize)
            .zip(self.weights[r].iter().copied())
    }

    /// P·Y for the sparse Y whose entry (j, g) is `f(j, x[j, g])`: the first
    /// step reads the sparse input directly, so no dense copy of it is made.
    pub(crate) fn spread<F>(&self, x: &Csr<f32>, f: F) -> Dense
    where
        F: Fn(usize, f32) -> f32 + Sync,
    {
        let mut out = Dense::zeros(x.rows, x.cols);
        if x.cols == 0 {
            return out;
        }
        out.data
            .par_chunks_mut(x.cols)
            .enumerate()
            .for_each(|(i, row)| {
                for (j, w) in self.row(i) {
                    let (ci, cv) = x.row(j);
                    for (&g, &v) in ci.iter().zip(cv) {
                        row[g as usize] += w * f(j, v);
                    }
                }
            });
        out
    }

    /// `to = P·from`.
    pub(crate) fn step(&self, from: &Dense, to: &mut Dense) {
        let cols = from.cols;
        if cols == 0 {
            return;
        }
        to.data
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(i, row)| {
                row.fill(0.0);
                for (j, w) in self.row(i) {
                    for (o, &v) in row.iter_mut().zip(from.row(j)) {
                        *o += w * v;
                    }
                }
            });
    }

    /// Pᵗ y for the normalised profiles y_j = x_j · s_j, t ≥ 1, with at most
    /// two dense buffers alive; `each(t, buffer)` sees every intermediate step
    /// (the held-out choice scores all of them in one pass).
    pub(crate) fn diffuse(
        &self,
        x: &Csr<f32>,
        size_factors: &[f32],
        steps: usize,
        mut each: impl FnMut(usize, &Dense),
    ) -> Dense {
        let mut cur = self.spread(x, |j, v| v * size_factors[j]);
        each(1, &cur);
        let mut other = Dense::zeros(0, 0);
        for t in 2..=steps {
            if other.rows == 0 {
                other = Dense::zeros(cur.rows, cur.cols);
            }
            self.step(&cur, &mut other);
            std::mem::swap(&mut cur, &mut other);
            each(t, &cur);
        }
        cur
    }

    /// [`Walk::diffuse`]'s last step only, computed `block` genes at a time: the
    /// result and two cells × `block` buffers are alive, not two cells × genes
    /// matrices. Every entry is summed in the same order, so the values are
    /// identical.
    pub(crate) fn diffuse_blocked(
        &self,
        x: &Csr<f32>,
        size_factors: &[f32],
        steps: usize,
        block: usize,
    ) -> Dense {
        let (n, g) = (x.rows, x.cols);
        let mut out = Dense::zeros(n, g);
        for c0 in (0..g).step_by(block.max(1)) {
            let c1 = (c0 + block.max(1)).min(g);
            let part = column_block(x, c0, c1);
            let d = self.diffuse(&part, size_factors, steps, |_, _| {});
            out.data
                .par_chunks_mut(g)
                .zip(d.data.par_chunks(c1 - c0))
                .for_each(|(o, r)| o[c0..c1].copy_from_slice(r));
        }
        out
    }
}

/// Columns `c0..c1` of `x` (indices shifted to start at 0).
fn column_block(x: &Csr<f32>, c0: usize, c1: usize) -> Csr<f32> {
    let mut indptr = Vec::with_capacity(x.rows + 1);
    indptr.push(0);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for r in 0..x.rows {
        let (ci, cv) = x.row(r);
        let a = ci.partition_point(|&c| (c as usize) < c0);
        let b = ci.partition_point(|&c| (c as usize) < c1);
        indices.extend(ci[a..b].iter().map(|&c| c - c0 as u32));
        data.extend_from_slice(&cv[a..b]);
        indptr.push(indices.len());
    }
    Csr {
        rows: x.rows,
        cols: c1 - c0,
        indptr,
        indices,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_graph() -> Csr<f32> {
        // 0 — 1 (weight 2), 1 — 2 (weight 1), 3 isolated.
        Csr::from_triplets(
            4,
            4,
            vec![(0, 1, 2.0), (1, 0, 2.0), (1, 2, 1.0), (2, 1, 1.0)],
        )
    }

    #[test]
    fn walk_is_row_stochastic_with_the_strongest_edge_as_self_weight() {
        let w = Walk::new(&path_graph(), 4).unwrap();
        let rows: Vec<Vec<(usize, f32)>> = (0..4).map(|i| w.row(i).collect()).collect();
        assert_eq!(rows[0], vec![(0, 0.5), (1, 0.5)]);
        assert_eq!(rows[1], vec![(1, 0.4), (0, 0.4), (2, 0.2)]);
        assert_eq!(rows[2], vec![(2, 0.5), (1, 0.5)]);
        assert_eq!(rows[3], vec![(3, 1.0)]);
    }

    #[test]
    fn diffusion_keeps_isolated_cells_and_averages_neighbours() {
        let w = Walk::new(&path_graph(), 4).unwrap();
        let x = Csr::from_triplets(4, 1, vec![(0, 0, 4.0), (3, 0, 7.0)]);
        let mut seen = Vec::new();
        let out = w.diffuse(&x, &[1.0; 4], 2, |t, d| seen.push((t, d.data.clone())));
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(&seen[0].1, &[2.0, 1.6, 0.0, 7.0]), "{:?}", seen[0].1);
        // Second step: row 0 = 0.5·2 + 0.5·1.6, row 2 = 0.5·0 + 0.5·1.6.
        assert!(close(&out.data, &[1.8, 1.44, 0.8, 7.0]), "{:?}", out.data);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn walk_refuses_a_graph_of_the_wrong_size() {
        assert!(Walk::new(&path_graph(), 5).is_err());
    }

    #[test]
    fn blocked_diffusion_gives_the_same_values() {
        let w = Walk::new(&path_graph(), 4).unwrap();
        let x = Csr::from_triplets(
            4,
            5,
            vec![
                (0, 0, 4.0),
                (0, 3, 1.0),
                (1, 4, 2.0),
                (2, 1, 3.0),
                (3, 2, 7.0),
                (3, 4, 1.0),
            ],
        );
        let sf = [1.0, 0.5, 2.0, 1.5];
        let whole = w.diffuse(&x, &sf, 3, |_, _| {});
        for block in [1, 2, 5, 9] {
            assert_eq!(w.diffuse_blocked(&x, &sf, 3, block), whole, "block {block}");
        }
    }
}
