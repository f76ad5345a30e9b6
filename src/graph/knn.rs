//! Exact k-nearest neighbours of every cell in an embedding (spec §4.1, §17 item 2).
//!
//! scGNN computes a full distance row per cell and argsorts it: O(N² log N) time in a
//! Python loop. Here the distances come from blocked GEMM tiles (‖y‖² − 2·XYᵀ, or −XYᵀ on
//! normalised rows for the angular metrics) and each row keeps only a small sorted
//! candidate list, so memory is O(threads · tile + N·k) and there is no sort of N values.
//!
//! The f32 GEMM scores are only used to shortlist `k + EXTRA` candidates per cell; the
//! returned distances are then recomputed exactly in f64 from the input rows and the
//! final order is by (exact distance, index). This keeps scipy-level accuracy (scGNN
//! uses float64 `cdist`) while the bulk of the work runs in fast f32 kernels.

use std::fmt;
use std::str::FromStr;

use gemm::Parallelism;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::matrix::Dense;

/// Distance between embedding rows, with the definitions of scipy's `cdist`
/// (scGNN `--knn-distance`, default `euclidean`, spec §11).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Distance {
    /// ‖u − v‖₂.
    #[default]
    Euclidean,
    /// 1 − u·v / (‖u‖‖v‖). A zero row is taken to be at distance 1 from every row
    /// (scipy returns NaN there).
    Cosine,
    /// 1 − (u − ū)·(v − v̄) / (‖u − ū‖‖v − v̄‖). A constant row is at distance 1 from every row.
    Correlation,
}

impl FromStr for Distance {
    type Err = Error;

    /// Accepts scGNN's / scipy's metric names, case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "euclidean" => Ok(Distance::Euclidean),
            "cosine" => Ok(Distance::Cosine),
            "correlation" => Ok(Distance::Correlation),
            _ => Err(Error::Usage(format!(
                "unknown KNN distance '{s}': supported are euclidean, cosine, correlation"
            ))),
        }
    }
}

impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distance::Euclidean => "euclidean",
            Distance::Cosine => "cosine",
            Distance::Correlation => "correlation",
        })
    }
}

/// The k nearest neighbours of every row, self excluded, nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Knn {
    /// Number of rows (cells).
    pub n: usize,
    /// Neighbours per row.
    pub k: usize,
    /// `n * k` neighbour indices; row `i` is `indices[i*k..(i+1)*k]`.
    pub indices: Vec<u32>,
    /// `n * k` distances matching `indices`, non-decreasing within a row.
    pub dists: Vec<f32>,
}

impl Knn {
    /// Neighbours of row `i`, nearest first.
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// Distances of row `i` to its neighbours, non-decreasing.
    pub fn distances(&self, i: usize) -> &[f32] {
        &self.dists[i * self.k..(i + 1) * self.k]
    }
}

/// Reference rows per GEMM tile: a query block × this many columns of scores is the
/// only transient buffer (≤ 512 × 2048 × 4 B = 4 MiB per worker).
const REF_BLOCK: usize = 2048;
/// Largest query block.
const QUERY_BLOCK_MAX: usize = 512;
/// Extra shortlisted candidates per row, so f32 rounding in the GEMM scores cannot
/// push a true neighbour out before the exact f64 re-ranking.
const EXTRA: usize = 16;
/// Scores are screened in chunks of this many lanes before the scalar insertion path.
const LANES: usize = 16;

/// Exact k-nearest neighbours of every row of `emb` (cells × d) under `metric`.
///
/// Self is excluded by index (a duplicate of cell i is a legitimate neighbour at distance 0),
/// ties are broken by the lower index, and the result does not depend on the number of
/// threads. Errors if `k == 0`, `k >= n`, the embedding has no columns or holds non-finite values.
pub fn knn(emb: &Dense, k: usize, metric: Distance) -> Result<Knn> {
    let n = emb.rows;
    let d = emb.cols;
    if k == 0 {
        return Err(Error::Usage("KNN needs k >= 1".into()));
    }
    if k >= n {
        return Err(Error::Usage(format!(
            "KNN with k = {k} needs more than {k} cells, got {n}; lower --k"
        )));
    }
    if n > u32::MAX as usize {
        return Err(Error::Resources(format!(
            "{n} cells exceed the 2^32 limit of the graph indices"
        )));
    }
    if d == 0 {
        return Err(Error::Usage("KNN on an embedding with no columns".into()));
    }
    if emb.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numeric(
            "the embedding holds NaN or infinite values".into(),
        ));
    }

    let prep = Prepared::new(emb, metric);
    let shortlist = (k + EXTRA).min(n - 1);
    let qb = query_block(n);
    let mut indices = vec![0u32; n * k];
    let mut dists = vec![0f32; n * k];
    indices
        .par_chunks_mut(qb * k)
        .zip(dists.par_chunks_mut(qb * k))
        .enumerate()
        .try_for_each(|(b, (ind, dis))| -> Result<()> {
            let q0 = b * qb;
            let q1 = (q0 + qb).min(n);
            let cand = prep.shortlist(q0, q1, shortlist);
            let mut exact: Vec<(f64, u32)> = Vec::with_capacity(shortlist);
            for (r, q) in (q0..q1).enumerate() {
                exact.clear();
                let row = &cand.idx[r * shortlist..r * shortlist + cand.len[r]];
                exact.extend(row.iter().map(|&j| (prep.exact(q, j as usize), j)));
                if exact.len() < k {
                    return Err(Error::Numeric(format!(
                        "distances of cell {q} overflow f32; rescale the embedding"
                    )));
                }
                exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (t, &(dist, j)) in exact[..k].iter().enumerate() {
                    ind[r * k + t] = j;
                    dis[r * k + t] = dist as f32;
                }
            }
            Ok(())
        })?;
    Ok(Knn {
        n,
        k,
        indices,
        dists,
    })
}

/// Query rows per parallel task. Depends on `n` only (never on the thread count) so the
/// GEMM tile shapes, hence the f32 scores, are identical whatever the pool size.
fn query_block(n: usize) -> usize {
    (n.div_ceil(8).div_ceil(32) * 32).clamp(32, QUERY_BLOCK_MAX)
}

/// Per-row candidate lists of one query block, sorted by (score, index).
struct Shortlist {
    idx: Vec<u32>,
    len: Vec<usize>,
}

/// The embedding transformed so that a GEMM gives a score that ranks like the metric:
/// score(i, j) = offset[j] + beta · ⟨y_i, y_j⟩.
struct Prepared<'a> {
    x: &'a Dense,
    metric: Distance,
    /// Transformed rows (column-centred for euclidean, unit-normalised for the angular metrics).
    y: Vec<f32>,
    offset: Vec<f32>,
    beta: f32,
    /// f64 row means (correlation) for the exact re-ranking; zeros otherwise.
    mean: Vec<f64>,
    /// f64 norms of the (centred) rows for the exact re-ranking (angular metrics).
    norm: Vec<f64>,
}

impl<'a> Prepared<'a> {
    fn new(x: &'a Dense, metric: Distance) -> Self {
        let (n, d) = (x.rows, x.cols);
        let mut y = x.data.clone();
        let mut mean = vec![0f64; n];
        let mut norm = vec![0f64; n];
        let (offset, beta) = match metric {
            Distance::Euclidean => {
                // Centring is free for euclidean distances and shrinks ‖y‖², hence the
                // cancellation error of ‖y_j‖² − 2⟨y_i, y_j⟩ in f32.
                let mut colmean = vec![0f64; d];
                for r in 0..n {
                    for (m, &v) in colmean.iter_mut().zip(x.row(r)) {
                        *m += v as f64;
                    }
                }
                colmean.iter_mut().for_each(|m| *m /= n as f64);
                y.par_chunks_mut(d).for_each(|row| {
                    for (v, &m) in row.iter_mut().zip(&colmean) {
                        *v = (*v as f64 - m) as f32;
                    }
                });
                let offset = y
                    .par_chunks(d)
                    .map(|row| row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() as f32)
                    .collect();
                (offset, -2.0)
            }
            Distance::Cosine | Distance::Correlation => {
                let centre = metric == Distance::Correlation;
                y.par_chunks_mut(d)
                    .zip(mean.par_iter_mut().zip(norm.par_iter_mut()))
                    .for_each(|(row, (mu, nr))| {
                        if centre {
                            *mu = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
                        }
                        *nr = row
                            .iter()
                            .map(|&v| (v as f64 - *mu).powi(2))
                            .sum::<f64>()
                            .sqrt();
                        let inv = if *nr > 0.0 { 1.0 / *nr } else { 0.0 };
                        for v in row.iter_mut() {
                            *v = ((*v as f64 - *mu) * inv) as f32;
                        }
                    });
                (vec![0f32; n], -1.0)
            }
        };
        Prepared {
            x,
            metric,
            y,
            offset,
            beta,
            mean,
            norm,
        }
    }

    /// The `m` best candidates (by f32 score, then index) of every query row in `q0..q1`,
    /// self excluded. Columns are scanned in increasing index order and a candidate only
    /// displaces a strictly worse score, which realises the lower-index tie-break.
    fn shortlist(&self, q0: usize, q1: usize, m: usize) -> Shortlist {
        let n = self.x.rows;
        let d = self.x.cols;
        let rows = q1 - q0;
        let mut tile = vec![0f32; rows * REF_BLOCK.min(n)];
        let mut score = vec![f32::INFINITY; rows * m];
        let mut idx = vec![u32::MAX; rows * m];
        let mut len = vec![0usize; rows];
        for r0 in (0..n).step_by(REF_BLOCK) {
            let r1 = (r0 + REF_BLOCK).min(n);
            let w = r1 - r0;
            let tile = &mut tile[..rows * w];
            for row in tile.chunks_exact_mut(w) {
                row.copy_from_slice(&self.offset[r0..r1]);
            }
            // SAFETY: dst is rows × w row-major inside `tile`; lhs is rows × d row-major
            // (query rows of y); rhs is d × w, column j being row r0 + j of y. All
            // pointers stay within their buffers for these strides.
            unsafe {
                gemm::gemm(
                    rows,
                    w,
                    d,
                    tile.as_mut_ptr(),
                    1,
                    w as isize,
                    true,
                    self.y[q0 * d..].as_ptr(),
                    1,
                    d as isize,
                    self.y[r0 * d..].as_ptr(),
                    d as isize,
                    1,
                    1.0,
                    self.beta,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
            for (i, row) in tile.chunks_exact(w).enumerate() {
                let q = q0 + i;
                let s = &mut score[i * m..(i + 1) * m];
                let ix = &mut idx[i * m..(i + 1) * m];
                let l = &mut len[i];
                let mut thr = if *l == m { s[m - 1] } else { f32::INFINITY };
                for (c, chunk) in row.chunks(LANES).enumerate() {
                    // Branch-free screen that vectorises; almost every chunk stops here.
                    if !chunk.iter().fold(false, |a, &v| a | (v < thr)) {
                        continue;
                    }
                    for (t, &v) in chunk.iter().enumerate() {
                        let j = r0 + c * LANES + t;
                        if v < thr && j != q {
                            insert(s, ix, l, v, j as u32);
                            if *l == m {
                                thr = s[m - 1];
                            }
                        }
                    }
                }
            }
        }
        Shortlist { idx, len }
    }

    /// Exact distance between rows `i` and `j` in f64 (scipy `cdist` definitions).
    fn exact(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (self.x.row(i), self.x.row(j));
        match self.metric {
            Distance::Euclidean => a
                .iter()
                .zip(b)
                .map(|(&u, &v)| (u as f64 - v as f64).powi(2))
                .sum::<f64>()
                .sqrt(),
            Distance::Cosine | Distance::Correlation => {
                let (ni, nj) = (self.norm[i], self.norm[j]);
                if ni == 0.0 || nj == 0.0 {
                    return 1.0;
                }
                let (mi, mj) = (self.mean[i], self.mean[j]);
                // 1 − cos = ½‖û − v̂‖²: no cancellation near 0, exactly 0 for duplicates.
                let sq: f64 = a
                    .iter()
                    .zip(b)
                    .map(|(&u, &v)| ((u as f64 - mi) / ni - (v as f64 - mj) / nj).powi(2))
                    .sum();
                (0.5 * sq).min(2.0)
            }
        }
    }
}

/// Inserts (v, j) into the sorted list (`s`, `ix`) of current length `len` and capacity
/// `s.len()`, after any equal score (those have lower indices), dropping the worst if full.
fn insert(s: &mut [f32], ix: &mut [u32], len: &mut usize, v: f32, j: u32) {
    let cap = s.len();
    let pos = s[..*len].partition_point(|&x| x <= v);
    if pos >= cap {
        return;
    }
    let end = if *len < cap { *len } else { cap - 1 };
    s.copy_within(pos..end, pos + 1);
    ix.copy_within(pos..end, pos + 1);
    s[pos] = v;
    ix[pos] = j;
    if *len < cap {
        *len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_order_and_capacity() {
        let mut s = [0f32; 3];
        let mut ix = [0u32; 3];
        let mut len = 0;
        for (v, j) in [(5.0, 0), (1.0, 1), (3.0, 2), (1.0, 3), (0.5, 4)] {
            insert(&mut s, &mut ix, &mut len, v, j);
        }
        assert_eq!(len, 3);
        assert_eq!(s, [0.5, 1.0, 1.0]);
        assert_eq!(ix, [4, 1, 3]);
    }

    #[test]
    fn query_block_depends_on_n_only() {
        assert_eq!(query_block(10), 32);
        assert_eq!(query_block(100_000), QUERY_BLOCK_MAX);
        assert_eq!(query_block(2000) % 32, 0);
    }

    #[test]
    fn metric_names() {
        assert_eq!(
            "Euclidean".parse::<Distance>().unwrap(),
            Distance::Euclidean
        );
        assert_eq!(
            "correlation".parse::<Distance>().unwrap(),
            Distance::Correlation
        );
        assert!("minkowski".parse::<Distance>().is_err());
        assert_eq!(Distance::Cosine.to_string(), "cosine");
    }
}
