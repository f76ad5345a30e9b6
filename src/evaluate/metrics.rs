//! Clustering metrics, each defined exactly as scikit-learn defines it so that our
//! numbers can be compared with published ones (scGNN's `main_benchmark.py`
//! reports silhouette, Calinski–Harabasz, Davies–Bouldin, ARI, AMI, NMI,
//! completeness, Fowlkes–Mallows, V-measure and homogeneity).
//!
//! External metrics (comparing two labelings) work on a sparse contingency table,
//! so memory is O(N) even when one labeling is all singletons. Internal metrics
//! (labels + embedding) are computed in `f64` on a copy of the embedding.

use crate::error::{Error, Result};
use crate::matrix::Dense;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// Above this many cells the silhouette is computed on a seeded random sample of
/// this many cells (its cost is O(N²·d) time).
pub const SILHOUETTE_MAX_CELLS: usize = 20_000;

/// Maps arbitrary labels to `0..k` in order of first appearance; returns the codes
/// and `k`.
fn encode(x: &[usize]) -> (Vec<usize>, usize) {
    let mut m: HashMap<usize, usize> = HashMap::new();
    let v = x
        .iter()
        .map(|l| {
            let n = m.len();
            *m.entry(*l).or_insert(n)
        })
        .collect();
    (v, m.len())
}

/// Sparse contingency table between two labelings: the non-zero cells
/// `(i, j, count)` and the marginals (`a` for the first labeling, `b` for the second).
struct Contingency {
    n: u64,
    cells: Vec<(usize, usize, u64)>,
    a: Vec<u64>,
    b: Vec<u64>,
}

fn contingency(x: &[usize], y: &[usize]) -> Contingency {
    assert_eq!(x.len(), y.len(), "labelings must have equal length");
    let (rx, nx) = encode(x);
    let (ry, ny) = encode(y);
    let mut a = vec![0u64; nx];
    let mut b = vec![0u64; ny];
    let mut keys: Vec<(usize, usize)> = rx
        .into_iter()
        .zip(ry)
        .inspect(|&(i, j)| {
            a[i] += 1;
            b[j] += 1;
        })
        .collect();
    keys.sort_unstable();
    let mut cells = Vec::new();
    let mut k = 0;
    while k < keys.len() {
        let start = k;
        while k < keys.len() && keys[k] == keys[start] {
            k += 1;
        }
        cells.push((keys[start].0, keys[start].1, (k - start) as u64));
    }
    Contingency {
        n: x.len() as u64,
        cells,
        a,
        b,
    }
}

fn comb2(n: u64) -> f64 {
    let n = n as f64;
    n * (n - 1.0) / 2.0
}

/// Shannon entropy (nats) of a labeling given its class sizes.
fn entropy(s: &[u64], n: u64) -> f64 {
    if s.len() <= 1 {
        return 0.0;
    }
    let n = n as f64;
    s.iter()
        .filter(|&&x| x > 0)
        .map(|&x| {
            let p = x as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Mutual information (nats) from the contingency table, clipped at 0 as
/// scikit-learn does.
fn mutual_info(c: &Contingency) -> f64 {
    let n = c.n as f64;
    let mi: f64 = c
        .cells
        .iter()
        .map(|&(i, j, nij)| {
            let nij = nij as f64;
            nij / n * (nij * n / (c.a[i] as f64 * c.b[j] as f64)).ln()
        })
        .sum();
    mi.max(0.0)
}

/// Adjusted Rand index (Hubert & Arabie), as scikit-learn's `adjusted_rand_score`.
/// Symmetric; panics if the lengths differ (a programming error).
pub fn ari(a: &[usize], b: &[usize]) -> f64 {
    let c = contingency(a, b);
    let index: f64 = c.cells.iter().map(|&(_, _, x)| comb2(x)).sum();
    let ia: f64 = c.a.iter().map(|&x| comb2(x)).sum();
    let ib: f64 = c.b.iter().map(|&x| comb2(x)).sum();
    let expected = ia * ib / comb2(c.n).max(1.0);
    let max = 0.5 * (ia + ib);
    if (max - expected).abs() < 1e-12 {
        // Both labelings trivial in the same way (scikit-learn returns 1.0).
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// Normalised mutual information with arithmetic-mean normalisation
/// (scikit-learn's `normalized_mutual_info_score` default).
pub fn nmi(a: &[usize], b: &[usize]) -> f64 {
    let c = contingency(a, b);
    if (c.a.len() == 1 && c.b.len() == 1) || c.n == 0 {
        return 1.0;
    }
    let mi = mutual_info(&c);
    if mi == 0.0 {
        return 0.0;
    }
    let denom = 0.5 * (entropy(&c.a, c.n) + entropy(&c.b, c.n));
    (mi / denom).clamp(0.0, 1.0)
}

/// ln(k!) for k = 0..=n, by a compensated running sum (absolute error ~1e-10 at
/// n = 10⁶, far below what the expected-MI sum can resolve).
fn ln_factorials(n: u64) -> Vec<f64> {
    let mut out = Vec::with_capacity(n as usize + 1);
    out.push(0.0);
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    for k in 1..=n {
        let y = (k as f64).ln() - comp;
        let t = sum + y;
        comp = (t - sum) - y;
        sum = t;
        out.push(sum);
    }
    out
}

/// Expected mutual information under the hypergeometric model of random
/// labelings with the given marginals (Vinh et al. 2010), the same sum as
/// scikit-learn's `expected_mutual_information`, with every factorial in log space.
fn expected_mutual_info(a: &[u64], b: &[u64], n: u64) -> f64 {
    if a.len() <= 1 || b.len() <= 1 {
        return 0.0;
    }
    let lf = ln_factorials(n);
    let nf = n as f64;
    let ln_n = nf.ln();
    // Rows are independent; per-row sums are added in row order so the result
    // does not depend on the thread count.
    let rows: Vec<f64> = a
        .par_iter()
        .map(|&ai| {
            let mut s = 0.0;
            for &bj in b {
                let start = 1.max((ai + bj).saturating_sub(n));
                let end = ai.min(bj);
                let fixed = lf[ai as usize]
                    + lf[bj as usize]
                    + lf[(n - ai) as usize]
                    + lf[(n - bj) as usize]
                    - lf[n as usize];
                let ln_ab = (ai as f64).ln() + (bj as f64).ln();
                for nij in start..=end {
                    let term2 = ln_n + (nij as f64).ln() - ln_ab;
                    let gln = fixed
                        - lf[nij as usize]
                        - lf[(ai - nij) as usize]
                        - lf[(bj - nij) as usize]
                        - lf[(n + nij - ai - bj) as usize];
                    s += nij as f64 / nf * term2 * gln.exp();
                }
            }
            s
        })
        .collect();
    rows.iter().sum()
}

/// Adjusted mutual information with arithmetic-mean normalisation, as
/// scikit-learn's `adjusted_mutual_info_score` (default `average_method`).
/// Time is O(R·C + Σ min(aᵢ, bⱼ)) over the R × C pairs of classes.
pub fn ami(labels_true: &[usize], labels_pred: &[usize]) -> f64 {
    let c = contingency(labels_true, labels_pred);
    if (c.a.len() == 1 && c.b.len() == 1) || c.n == 0 {
        return 1.0;
    }
    if c.a.len() == 1 || c.b.len() == 1 {
        return 0.0;
    }
    let mi = mutual_info(&c);
    let emi = expected_mutual_info(&c.a, &c.b, c.n);
    let normalizer = 0.5 * (entropy(&c.a, c.n) + entropy(&c.b, c.n));
    // scikit-learn keeps numerator and denominator away from zero with their sign.
    let away = |x: f64| {
        if x < 0.0 {
            x.min(-f64::EPSILON)
        } else {
            x.max(f64::EPSILON)
        }
    };
    away(mi - emi) / away(normalizer - emi)
}

/// Homogeneity, completeness and V-measure (β = 1), as scikit-learn's
/// `homogeneity_completeness_v_measure`.
pub fn homogeneity_completeness_v_measure(
    labels_true: &[usize],
    labels_pred: &[usize],
) -> (f64, f64, f64) {
    if labels_true.is_empty() {
        return (1.0, 1.0, 1.0);
    }
    let c = contingency(labels_true, labels_pred);
    let hc = entropy(&c.a, c.n);
    let hk = entropy(&c.b, c.n);
    let mi = mutual_info(&c);
    let h = if hc != 0.0 { mi / hc } else { 1.0 };
    let k = if hk != 0.0 { mi / hk } else { 1.0 };
    let v = if h + k == 0.0 {
        0.0
    } else {
        2.0 * h * k / (h + k)
    };
    (h, k, v)
}

/// Fowlkes–Mallows index, as scikit-learn's `fowlkes_mallows_score`.
pub fn fowlkes_mallows(labels_true: &[usize], labels_pred: &[usize]) -> f64 {
    let c = contingency(labels_true, labels_pred);
    let sq = |v: &mut dyn Iterator<Item = u64>| {
        v.map(|x| (x as f64) * (x as f64)).sum::<f64>() - c.n as f64
    };
    let tk = sq(&mut c.cells.iter().map(|e| e.2));
    if tk == 0.0 {
        return 0.0;
    }
    (tk / sq(&mut c.b.iter().copied())).sqrt() * (tk / sq(&mut c.a.iter().copied())).sqrt()
}

/// The embedding in f64 with encoded labels, after checking the shapes and that
/// the number of clusters k satisfies 2 ≤ k ≤ N − 1 (scikit-learn's condition
/// for internal metrics). `None` when the metric is undefined.
fn internal_setup(emb: &Dense, labels: &[usize]) -> Option<(Vec<f64>, Vec<usize>, usize)> {
    let (codes, k) = encode(labels);
    if k < 2 || k + 1 > labels.len() {
        return None;
    }
    Some((emb.data.iter().map(|&v| v as f64).collect(), codes, k))
}

/// Squared euclidean distance; four accumulators let the compiler vectorise
/// without reassociating a single f64 sum.
#[inline]
fn sqdist(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut xc = x.chunks_exact(4);
    let mut yc = y.chunks_exact(4);
    for (p, q) in (&mut xc).zip(&mut yc) {
        for t in 0..4 {
            let d = p[t] - q[t];
            acc[t] += d * d;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (p, q) in xc.remainder().iter().zip(yc.remainder()) {
        let d = p - q;
        s += d * d;
    }
    s
}

/// Rows per block of the distance computation: each block holds
/// `SILHOUETTE_BLOCK × N` f64 dot products (10 MB at N = 20 000).
const SILHOUETTE_BLOCK: usize = 64;

/// Mean silhouette over all cells (euclidean), as scikit-learn's
/// `silhouette_score` without sampling. A cell in a singleton cluster scores 0.
/// O(N²·d) time; memory O(N·d + 64·N) (one block of dot products per thread),
/// never N × N. `None` unless 2 ≤ k ≤ N − 1.
/// Panics if `emb.rows != labels.len()` (a programming error).
pub fn silhouette(emb: &Dense, labels: &[usize]) -> Option<f64> {
    use faer::{linalg::matmul::matmul, Accum, MatMut, MatRef, Par};
    assert_eq!(emb.rows, labels.len(), "embedding rows must match labels");
    let (x, codes, k) = internal_setup(emb, labels)?;
    let d = emb.cols;
    let n = labels.len();
    let mut freq = vec![0usize; k];
    for &c in &codes {
        freq[c] += 1;
    }
    let norms: Vec<f64> = x
        .chunks_exact(d.max(1))
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let all = MatRef::from_row_major_slice(&x, n, d);
    // Distances through ‖x‖² + ‖y‖² − 2x·y in f64, blockwise with a GEMM — the
    // formula scikit-learn's `euclidean_distances` uses. Blocks run in parallel,
    // each with a sequential GEMM, so results do not depend on the thread count.
    let starts: Vec<usize> = (0..n).step_by(SILHOUETTE_BLOCK).collect();
    let per_block: Vec<Vec<f64>> = starts
        .par_iter()
        .map(|&r0| {
            let r1 = (r0 + SILHOUETTE_BLOCK).min(n);
            let b = r1 - r0;
            let mut g = vec![0.0f64; b * n];
            matmul(
                MatMut::from_row_major_slice_mut(&mut g, b, n),
                Accum::Replace,
                MatRef::from_row_major_slice(&x[r0 * d..r1 * d], b, d),
                all.transpose(),
                1.0,
                Par::Seq,
            );
            let mut acc = vec![0.0f64; k];
            (r0..r1)
                .map(|i| {
                    acc.fill(0.0);
                    let gi = &g[(i - r0) * n..(i - r0 + 1) * n];
                    for (j, (&cj, &dot)) in codes.iter().zip(gi).enumerate() {
                        if j != i {
                            acc[cj] += (norms[i] + norms[j] - 2.0 * dot).max(0.0).sqrt();
                        }
                    }
                    let ci = codes[i];
                    if freq[ci] == 1 {
                        return 0.0;
                    }
                    let a = acc[ci] / (freq[ci] - 1) as f64;
                    let b = (0..k)
                        .filter(|&c| c != ci)
                        .map(|c| acc[c] / freq[c] as f64)
                        .fold(f64::INFINITY, f64::min);
                    let m = a.max(b);
                    if m > 0.0 {
                        (b - a) / m
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    Some(per_block.iter().flatten().sum::<f64>() / n as f64)
}

/// The silhouette of a clustering, possibly on a sample of cells.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Silhouette {
    /// Mean silhouette over the cells used.
    pub value: f64,
    /// Number of cells it was computed on.
    pub n_used: usize,
    /// Whether those cells are a random sample (true above `max_cells`).
    pub sampled: bool,
}

/// Silhouette with a size guard: above `max_cells` cells, a sample of
/// `max_cells` cells drawn without replacement from `seed` (stream
/// "silhouette-sample") is scored instead, as scikit-learn's `sample_size`.
/// `None` when the (sampled) labeling has fewer than 2 or more than n − 1 clusters.
pub fn silhouette_guarded(
    emb: &Dense,
    labels: &[usize],
    max_cells: usize,
    seed: u64,
) -> Option<Silhouette> {
    assert_eq!(emb.rows, labels.len(), "embedding rows must match labels");
    if labels.len() <= max_cells {
        return silhouette(emb, labels).map(|value| Silhouette {
            value,
            n_used: labels.len(),
            sampled: false,
        });
    }
    let mut rng = crate::rng::stream(seed, "silhouette-sample");
    let mut idx = rand::seq::index::sample(&mut rng, labels.len(), max_cells).into_vec();
    idx.sort_unstable();
    let sub_labels: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
    silhouette(&emb.select_rows(&idx), &sub_labels).map(|value| Silhouette {
        value,
        n_used: max_cells,
        sampled: true,
    })
}

/// Per-cluster sizes and centroids (k × d, f64).
fn centroids(x: &[f64], d: usize, codes: &[usize], k: usize) -> (Vec<usize>, Vec<f64>) {
    let mut size = vec![0usize; k];
    let mut cent = vec![0.0f64; k * d];
    for (i, &c) in codes.iter().enumerate() {
        size[c] += 1;
        for (s, v) in cent[c * d..(c + 1) * d]
            .iter_mut()
            .zip(&x[i * d..(i + 1) * d])
        {
            *s += v;
        }
    }
    for c in 0..k {
        for s in &mut cent[c * d..(c + 1) * d] {
            *s /= size[c] as f64;
        }
    }
    (size, cent)
}

/// Calinski–Harabasz index (variance ratio), as scikit-learn's
/// `calinski_harabasz_score`; `None` unless 2 ≤ k ≤ N − 1.
pub fn calinski_harabasz(emb: &Dense, labels: &[usize]) -> Option<f64> {
    assert_eq!(emb.rows, labels.len(), "embedding rows must match labels");
    let (x, codes, k) = internal_setup(emb, labels)?;
    let d = emb.cols;
    let n = labels.len();
    let (size, cent) = centroids(&x, d, &codes, k);
    let mut mean = vec![0.0f64; d];
    for row in x.chunks_exact(d.max(1)) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let extra: f64 = (0..k)
        .map(|c| size[c] as f64 * sqdist(&cent[c * d..(c + 1) * d], &mean))
        .sum();
    let intra: f64 = codes
        .iter()
        .enumerate()
        .map(|(i, &c)| sqdist(&x[i * d..(i + 1) * d], &cent[c * d..(c + 1) * d]))
        .sum();
    if intra == 0.0 {
        return Some(1.0);
    }
    Some(extra * (n - k) as f64 / (intra * (k - 1) as f64))
}

/// Davies–Bouldin index, as scikit-learn's `davies_bouldin_score`;
/// `None` unless 2 ≤ k ≤ N − 1.
pub fn davies_bouldin(emb: &Dense, labels: &[usize]) -> Option<f64> {
    assert_eq!(emb.rows, labels.len(), "embedding rows must match labels");
    let (x, codes, k) = internal_setup(emb, labels)?;
    let d = emb.cols;
    let (size, cent) = centroids(&x, d, &codes, k);
    let mut intra = vec![0.0f64; k];
    for (i, &c) in codes.iter().enumerate() {
        intra[c] += sqdist(&x[i * d..(i + 1) * d], &cent[c * d..(c + 1) * d]).sqrt();
    }
    for c in 0..k {
        intra[c] /= size[c] as f64;
    }
    let cdist =
        |p: usize, q: usize| sqdist(&cent[p * d..(p + 1) * d], &cent[q * d..(q + 1) * d]).sqrt();
    // numpy's allclose(v, 0) with its default atol = 1e-8.
    let all_zero_intra = intra.iter().all(|v| v.abs() <= 1e-8);
    let all_zero_cent = (0..k).all(|p| (0..k).all(|q| cdist(p, q) <= 1e-8));
    if all_zero_intra || all_zero_cent {
        return Some(0.0);
    }
    let total: f64 = (0..k)
        .map(|p| {
            (0..k)
                .filter(|&q| q != p)
                .map(|q| {
                    let dist = cdist(p, q);
                    if dist == 0.0 {
                        0.0
                    } else {
                        (intra[p] + intra[q]) / dist
                    }
                })
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum();
    Some(total / k as f64)
}

/// Every clustering metric for one prediction against a reference labeling,
/// plus the internal metrics of the prediction on an embedding when given.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ClusteringReport {
    /// Number of cells compared.
    pub n_cells: usize,
    /// Number of predicted clusters.
    pub n_clusters_pred: usize,
    /// Number of reference classes.
    pub n_classes_true: usize,
    /// Adjusted Rand index.
    pub ari: f64,
    /// Normalised mutual information (arithmetic mean).
    pub nmi: f64,
    /// Adjusted mutual information (arithmetic mean).
    pub ami: f64,
    /// Homogeneity.
    pub homogeneity: f64,
    /// Completeness.
    pub completeness: f64,
    /// V-measure (β = 1).
    pub v_measure: f64,
    /// Fowlkes–Mallows index.
    pub fowlkes_mallows: f64,
    /// Silhouette of the predicted labels on the embedding (euclidean); `None`
    /// without an embedding or when undefined (fewer than 2 or more than N − 1 clusters).
    pub silhouette: Option<f64>,
    /// Number of cells the silhouette used.
    pub silhouette_cells: Option<usize>,
    /// Whether the silhouette used a random sample of `SILHOUETTE_MAX_CELLS` cells.
    pub silhouette_sampled: bool,
    /// Calinski–Harabasz index of the predicted labels on the embedding.
    pub calinski_harabasz: Option<f64>,
    /// Davies–Bouldin index of the predicted labels on the embedding.
    pub davies_bouldin: Option<f64>,
}

/// Computes every metric. `seed` only drives the silhouette sample above
/// `SILHOUETTE_MAX_CELLS` cells. Errors when the lengths disagree.
pub fn evaluate(
    labels_pred: &[usize],
    labels_true: &[usize],
    emb: Option<&Dense>,
    seed: u64,
) -> Result<ClusteringReport> {
    if labels_pred.len() != labels_true.len() {
        return Err(Error::Usage(format!(
            "cannot compare {} predicted labels with {} reference labels; match them by cell id first",
            labels_pred.len(),
            labels_true.len()
        )));
    }
    if let Some(e) = emb {
        if e.rows != labels_pred.len() {
            return Err(Error::Usage(format!(
                "the embedding has {} rows but there are {} labelled cells; select its rows by cell id first",
                e.rows,
                labels_pred.len()
            )));
        }
    }
    let (homogeneity, completeness, v_measure) =
        homogeneity_completeness_v_measure(labels_true, labels_pred);
    let sil = emb.and_then(|e| silhouette_guarded(e, labels_pred, SILHOUETTE_MAX_CELLS, seed));
    Ok(ClusteringReport {
        n_cells: labels_pred.len(),
        n_clusters_pred: encode(labels_pred).1,
        n_classes_true: encode(labels_true).1,
        ari: ari(labels_true, labels_pred),
        nmi: nmi(labels_true, labels_pred),
        ami: ami(labels_true, labels_pred),
        homogeneity,
        completeness,
        v_measure,
        fowlkes_mallows: fowlkes_mallows(labels_true, labels_pred),
        silhouette: sil.as_ref().map(|s| s.value),
        silhouette_cells: sil.as_ref().map(|s| s.n_used),
        silhouette_sampled: sil.as_ref().is_some_and(|s| s.sampled),
        calinski_harabasz: emb.and_then(|e| calinski_harabasz(e, labels_pred)),
        davies_bouldin: emb.and_then(|e| davies_bouldin(e, labels_pred)),
    })
}

impl fmt::Display for ClusteringReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
        writeln!(
            f,
            "{} cells, {} predicted clusters, {} reference classes",
            self.n_cells, self.n_clusters_pred, self.n_classes_true
        )?;
        let sil_note = match (self.silhouette_sampled, self.silhouette_cells) {
            (true, Some(m)) => format!("  (random sample of {m} cells)"),
            _ => String::new(),
        };
        let rows = [
            ("ARI", format!("{:.4}", self.ari), String::new()),
            ("NMI", format!("{:.4}", self.nmi), String::new()),
            ("AMI", format!("{:.4}", self.ami), String::new()),
            (
                "homogeneity",
                format!("{:.4}", self.homogeneity),
                String::new(),
            ),
            (
                "completeness",
                format!("{:.4}", self.completeness),
                String::new(),
            ),
            ("V-measure", format!("{:.4}", self.v_measure), String::new()),
            (
                "Fowlkes-Mallows",
                format!("{:.4}", self.fowlkes_mallows),
                String::new(),
            ),
            ("silhouette", opt(self.silhouette), sil_note),
            (
                "Calinski-Harabasz",
                opt(self.calinski_harabasz),
                String::new(),
            ),
            ("Davies-Bouldin", opt(self.davies_bouldin), String::new()),
        ];
        for (name, value, note) in &rows {
            writeln!(f, "  {name:<18} {value:>12}{note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ARI by hand from the contingency table [[2,0,0],[0,1,1],[0,0,2]]:
    //   index = 1+0+1 = 2, sum_a = 3, sum_b = 1+0+3 = 4, expected = 3*4/15 = 0.8, max = 3.5
    //   ari = (2-0.8)/(3.5-0.8) = 0.4444…
    #[test]
    fn ari_known_value() {
        let a = [0, 0, 1, 1, 2, 2];
        let b = [0, 0, 1, 2, 2, 2];
        assert!((ari(&a, &b) - 0.4444444444444444).abs() < 1e-12);
        assert!((ari(&a, &a) - 1.0).abs() < 1e-12);
        // Label permutation invariance.
        assert!((ari(&a, &[5, 5, 3, 3, 1, 1]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nmi_bounds() {
        let a = [0, 0, 1, 1, 2, 2];
        assert!((nmi(&a, &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        let v = nmi(&a, &[0, 0, 1, 2, 2, 2]);
        assert!(v > 0.0 && v < 1.0);
    }

    #[test]
    fn ln_factorials_match_products() {
        let lf = ln_factorials(20);
        let mut p = 1.0f64;
        for (k, &v) in lf.iter().enumerate().skip(1) {
            p *= k as f64;
            assert!((v - p.ln()).abs() < 1e-12, "k = {k}");
        }
    }
}
