//! Exact k-nearest neighbours of every cell in an embedding (spec §4.1, §17 item 2).
//!
//! scGNN computes a full distance row per cell and argsorts it: O(N² log N) time in a
//! Python loop. Here the distances come from blocked GEMM tiles (‖x‖² + ‖y‖² − 2·XYᵀ, or
//! −XYᵀ on normalised rows for the angular metrics). Scores are symmetric, so only the tiles
//! on and above the block diagonal are computed (half the GEMM work), each feeding the
//! candidate lists of both its row block and its column block. Every cell keeps only a
//! small sorted candidate list, so memory is O(threads · tile + N·k) and nothing sorts N values.
//!
//! The f32 GEMM scores are only used to shortlist `k + EXTRA` candidates per cell; the
//! returned distances are then recomputed exactly in f64 from the input rows and the
//! final order is by (exact distance, index). This keeps scipy-level accuracy (scGNN
//! uses float64 `cdist`) while the bulk of the work runs in fast f32 kernels.

use std::sync::{Mutex, PoisonError};

use gemm::Parallelism;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::matrix::Dense;

/// Distance between embedding rows, with the definitions of scipy's `cdist`
/// (scGNN `--knn-distance`, default `euclidean`, spec §11).
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

crate::choice::value_enum_str!(Distance, "--knn-distance");

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

/// Largest block of cells: a tile of block × block f32 scores (≤ 1 MiB) is the only
/// transient buffer of a worker.
const BLOCK_MAX: usize = 512;
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
    check_input(emb, k)?;
    let n = emb.rows;
    let prep = Prepared::new(emb, metric);
    let m = (k + EXTRA).min(n - 1);
    let bs = block_size(n);
    let cand = prep.shortlist(m);
    prep.rerank_all(k, |q, out| {
        let (list, r) = (&cand[q / bs], q % bs);
        out.extend_from_slice(&list.idx[r * m..r * m + list.len[r]]);
    })
}

/// Recall@k of `neighbors` (k per row of `emb`, row-major, as [`Knn::indices`]):
/// the share of the exact k nearest neighbours of `sample` seeded random cells
/// that it also lists. Costs O(sample · n · d) in GEMM tiles, so it can be
/// measured on every large run.
pub fn recall(
    neighbors: &[u32],
    emb: &Dense,
    metric: Distance,
    sample: usize,
    seed: u64,
) -> Result<f64> {
    let n = emb.rows;
    let k = neighbors.len() / n.max(1);
    check_input(emb, k)?;
    let queries = sample_rows(n, sample, seed);
    let prep = Prepared::new(emb, metric);
    let m = (k + EXTRA).min(n - 1);
    let found: Vec<Result<usize>> = queries
        .par_chunks(BLOCK_MAX / 2)
        .map(|qs| {
            let lists = prep.shortlist_queries(qs, m);
            let (mut ind, mut dis, mut buf) = (vec![0u32; k], vec![0f32; k], Vec::new());
            let mut hits = 0;
            for (r, &q) in qs.iter().enumerate() {
                prep.rerank(
                    q,
                    &lists.idx[r * m..r * m + lists.len[r]],
                    &mut buf,
                    &mut ind,
                    &mut dis,
                )?;
                let listed = &neighbors[q * k..(q + 1) * k];
                hits += ind.iter().filter(|j| listed.contains(j)).count();
            }
            Ok(hits)
        })
        .collect();
    let hits: usize = found.into_iter().sum::<Result<usize>>()?;
    Ok(hits as f64 / (queries.len() * k) as f64)
}

/// `min(sample, n)` distinct rows of `0..n`, seeded, in increasing order.
fn sample_rows(n: usize, sample: usize, seed: u64) -> Vec<usize> {
    use rand::seq::index;
    let mut rng = crate::rng::stream(seed, "knn-recall");
    let mut rows = index::sample(&mut rng, n, sample.min(n)).into_vec();
    rows.sort_unstable();
    rows
}

/// Refuses what no neighbour search can answer: `k == 0`, `k >= n`, more cells
/// than the u32 indices hold, no columns, non-finite values.
pub(super) fn check_input(emb: &Dense, k: usize) -> Result<()> {
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
    Ok(())
}

/// Cells per block. Depends on `n` only (never on the thread count) so the GEMM tile
/// shapes, hence the f32 scores, are identical whatever the pool size.
fn block_size(n: usize) -> usize {
    (n.div_ceil(8).div_ceil(32) * 32).clamp(32, BLOCK_MAX)
}

/// Per-row candidate lists of one block of cells, each sorted by (score, index) and
/// holding at most `m` entries.
struct Lists {
    m: usize,
    score: Vec<f32>,
    idx: Vec<u32>,
    len: Vec<usize>,
}

impl Lists {
    fn new(rows: usize, m: usize) -> Self {
        Lists {
            m,
            score: vec![f32::INFINITY; rows * m],
            idx: vec![u32::MAX; rows * m],
            len: vec![0; rows],
        }
    }

    /// Scores above this cannot enter row `r`'s list (ties are decided by index in `offer`).
    fn threshold(&self, r: usize) -> f32 {
        if self.len[r] == self.m {
            self.score[r * self.m + self.m - 1]
        } else {
            f32::INFINITY
        }
    }

    /// Offers candidate `j` with score `v` to row `r`. Lists keep the `m` smallest
    /// (score, index) pairs; as that order is total, the final lists do not depend on
    /// the order in which tiles are offered, hence not on the thread schedule.
    fn offer(&mut self, r: usize, v: f32, j: u32) {
        let m = self.m;
        let l = self.len[r];
        let s = &mut self.score[r * m..(r + 1) * m];
        let ix = &mut self.idx[r * m..(r + 1) * m];
        let before = |p: usize| s[p] < v || (s[p] == v && ix[p] < j);
        if l == m && !(v < s[m - 1] || (v == s[m - 1] && j < ix[m - 1])) {
            return;
        }
        let (mut lo, mut hi) = (0, l);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let end = if l < m { l } else { m - 1 };
        s.copy_within(lo..end, lo + 1);
        ix.copy_within(lo..end, lo + 1);
        s[lo] = v;
        ix[lo] = j;
        if l < m {
            self.len[r] += 1;
        }
    }
}

/// The embedding transformed so that a GEMM gives a score that ranks like the metric:
/// score(i, j) = offset[i] + offset[j] + beta · ⟨y_i, y_j⟩, symmetric in i and j.
pub(super) struct Prepared<'a> {
    x: &'a Dense,
    metric: Distance,
    /// Transformed rows (column-centred for euclidean, unit-normalised for the angular metrics).
    pub(super) y: Vec<f32>,
    offset: Vec<f32>,
    beta: f32,
    /// f64 row means (correlation) for the exact re-ranking; zeros otherwise.
    mean: Vec<f64>,
    /// f64 norms of the (centred) rows for the exact re-ranking (angular metrics).
    norm: Vec<f64>,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(x: &'a Dense, metric: Distance) -> Self {
        let (n, d) = (x.rows, x.cols);
        let mut y = x.data.clone();
        let mut mean = vec![0f64; n];
        let mut norm = vec![0f64; n];
        let (offset, beta) = match metric {
            Distance::Euclidean => {
                // Centring is free for euclidean distances and shrinks ‖y‖², hence the
                // cancellation error of ‖y_i‖² + ‖y_j‖² − 2⟨y_i, y_j⟩ in f32.
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

    /// The `m` best candidates (by f32 score, then index) of every cell, self excluded,
    /// as one [`Lists`] per block of cells. Scores are symmetric, so only tiles of block
    /// pairs (a, b) with a ≤ b are computed: each serves the rows of a and the rows of b.
    fn shortlist(&self, m: usize) -> Vec<Lists> {
        let n = self.x.rows;
        let bs = block_size(n);
        let nb = n.div_ceil(bs);
        let rows = |a: usize| a * bs..((a + 1) * bs).min(n);
        let lists: Vec<Mutex<Lists>> = (0..nb)
            .map(|a| Mutex::new(Lists::new(rows(a).len(), m)))
            .collect();
        let pairs: Vec<(usize, usize)> =
            (0..nb).flat_map(|a| (a..nb).map(move |b| (a, b))).collect();
        pairs.par_iter().for_each_init(
            || (vec![0f32; bs * bs], vec![0f32; bs]),
            |(tile, thr), &(a, b)| {
                let (ra, rb) = (rows(a), rows(b));
                let (h, w) = (ra.len(), rb.len());
                let tile = &mut tile[..h * w];
                self.score_tile(ra.start, h, rb.start, w, tile);
                let lock = |x: usize| lists[x].lock().unwrap_or_else(PoisonError::into_inner);
                {
                    // Rows of block a against the cells of block b.
                    let mut la = lock(a);
                    for (i, row) in tile.chunks_exact(w).enumerate() {
                        let q = ra.start + i;
                        let mut t = la.threshold(i);
                        for (c, chunk) in row.chunks(LANES).enumerate() {
                            // Branch-free screen that vectorises; almost every chunk stops here.
                            if !chunk.iter().fold(false, |acc, &v| acc | (v <= t)) {
                                continue;
                            }
                            for (o, &v) in chunk.iter().enumerate() {
                                let j = rb.start + c * LANES + o;
                                if v <= t && j != q {
                                    la.offer(i, v, j as u32);
                                    t = la.threshold(i);
                                }
                            }
                        }
                    }
                }
                if a != b {
                    // Rows of block b against the cells of block a: the tile read by columns,
                    // screened row by row against every column's threshold.
                    let mut lb = lock(b);
                    let thr = &mut thr[..w];
                    for (j, t) in thr.iter_mut().enumerate() {
                        *t = lb.threshold(j);
                    }
                    for (i, row) in tile.chunks_exact(w).enumerate() {
                        let src = (ra.start + i) as u32;
                        for (c, (chunk, tc)) in
                            row.chunks(LANES).zip(thr.chunks_mut(LANES)).enumerate()
                        {
                            if !chunk
                                .iter()
                                .zip(tc.iter())
                                .fold(false, |acc, (&v, &t)| acc | (v <= t))
                            {
                                continue;
                            }
                            for (o, (&v, t)) in chunk.iter().zip(tc.iter_mut()).enumerate() {
                                if v <= *t {
                                    let j = c * LANES + o;
                                    lb.offer(j, v, src);
                                    *t = lb.threshold(j);
                                }
                            }
                        }
                    }
                }
            },
        );
        lists
            .into_iter()
            .map(|l| l.into_inner().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// Writes the h × w tile of scores between cells a0.. and b0.. into `tile` (row-major).
    /// The score is symmetric: ‖y_i‖² + ‖y_j‖² − 2⟨y_i, y_j⟩ (euclidean) or −⟨ŷ_i, ŷ_j⟩.
    fn score_tile(&self, a0: usize, h: usize, b0: usize, w: usize, tile: &mut [f32]) {
        let d = self.x.cols;
        self.score_rows(
            &self.y[a0 * d..(a0 + h) * d],
            &self.offset[a0..a0 + h],
            b0,
            w,
            tile,
        );
    }

    /// The scores of transformed rows `lhs` (h × d, with their offsets) against cells
    /// b0..b0 + w, into `tile` (h × w, row-major).
    fn score_rows(&self, lhs: &[f32], lhs_off: &[f32], b0: usize, w: usize, tile: &mut [f32]) {
        let d = self.x.cols;
        let h = lhs_off.len();
        for (row, &oi) in tile.chunks_exact_mut(w).zip(lhs_off) {
            for (v, &oj) in row.iter_mut().zip(&self.offset[b0..b0 + w]) {
                *v = oi + oj;
            }
        }
        // SAFETY: dst is h × w row-major inside `tile`; lhs is h × d row-major; rhs is
        // d × w, column j being row b0 + j of y. All pointers stay within their buffers
        // for these strides.
        unsafe {
            gemm::gemm(
                h,
                w,
                d,
                tile.as_mut_ptr(),
                1,
                w as isize,
                true,
                lhs.as_ptr(),
                1,
                d as isize,
                self.y[b0 * d..].as_ptr(),
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
    }

    /// The exact `m` best candidates (by f32 score, then index) of the cells `queries`,
    /// self excluded, against every cell: O(queries · n · d), for measuring how close an
    /// approximate graph is.
    fn shortlist_queries(&self, queries: &[usize], m: usize) -> Lists {
        let (n, d) = (self.x.rows, self.x.cols);
        let bs = block_size(n);
        let lhs: Vec<f32> = queries
            .iter()
            .flat_map(|&q| self.y[q * d..(q + 1) * d].iter().copied())
            .collect();
        let off: Vec<f32> = queries.iter().map(|&q| self.offset[q]).collect();
        let h = queries.len();
        let mut lists = Lists::new(h, m);
        let mut tile = vec![0f32; h * bs];
        for b0 in (0..n).step_by(bs) {
            let w = bs.min(n - b0);
            let tile = &mut tile[..h * w];
            self.score_rows(&lhs, &off, b0, w, tile);
            for (i, row) in tile.chunks_exact(w).enumerate() {
                for (o, &v) in row.iter().enumerate() {
                    let j = b0 + o;
                    if v <= lists.threshold(i) && j != queries[i] {
                        lists.offer(i, v, j as u32);
                    }
                }
            }
        }
        lists
    }

    /// The k nearest of every row among the candidates `candidates(q, out)`
    /// appends to `out`, by exact distance then index (see [`Prepared::rerank`]).
    pub(super) fn rerank_all(
        &self,
        k: usize,
        candidates: impl Fn(usize, &mut Vec<u32>) + Sync,
    ) -> Result<Knn> {
        let n = self.x.rows;
        let mut indices = vec![0u32; n * k];
        let mut dists = vec![0f32; n * k];
        indices
            .par_chunks_mut(k)
            .zip(dists.par_chunks_mut(k))
            .enumerate()
            .try_for_each_init(
                || (Vec::new(), Vec::new()),
                |(exact, cand): &mut (Vec<(f64, u32)>, Vec<u32>), (q, (ind, dis))| {
                    cand.clear();
                    candidates(q, cand);
                    self.rerank(q, cand, exact, ind, dis)
                },
            )?;
        Ok(Knn {
            n,
            k,
            indices,
            dists,
        })
    }

    /// Re-ranks the candidates `cand` of row `q` by exact distance (then index) and
    /// writes the first `ind.len()` into `ind` / `dis`.
    pub(super) fn rerank(
        &self,
        q: usize,
        cand: &[u32],
        exact: &mut Vec<(f64, u32)>,
        ind: &mut [u32],
        dis: &mut [f32],
    ) -> Result<()> {
        let k = ind.len();
        exact.clear();
        exact.extend(cand.iter().map(|&j| (self.exact(q, j as usize), j)));
        if exact.len() < k {
            return Err(Error::Numeric(format!(
                "distances of cell {q} overflow f32; rescale the embedding"
            )));
        }
        exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (t, &(dist, j)) in exact[..k].iter().enumerate() {
            ind[t] = j;
            dis[t] = dist as f32;
        }
        Ok(())
    }

    /// Exact distance between rows `i` and `j` in f64 (scipy `cdist` definitions).
    pub(super) fn exact(&self, i: usize, j: usize) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_the_smallest_score_index_pairs_in_any_order() {
        let offers = [(5.0, 0), (1.0, 7), (3.0, 2), (1.0, 3), (0.5, 4), (1.0, 5)];
        for rot in 0..offers.len() {
            let mut l = Lists::new(1, 3);
            for t in 0..offers.len() {
                let (v, j) = offers[(t + rot) % offers.len()];
                l.offer(0, v, j);
            }
            assert_eq!(l.len[0], 3);
            assert_eq!(l.score, [0.5, 1.0, 1.0]);
            assert_eq!(l.idx, [4, 3, 5]);
            assert_eq!(l.threshold(0), 1.0);
        }
    }

    #[test]
    fn block_size_depends_on_n_only() {
        assert_eq!(block_size(10), 32);
        assert_eq!(block_size(100_000), BLOCK_MAX);
        assert_eq!(block_size(2000) % 32, 0);
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
