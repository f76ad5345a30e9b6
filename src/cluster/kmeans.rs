//! k-means (k-means++ seeding + Lloyd) with scikit-learn's defaults, as scGNN's
//! `KMeans(n_clusters=K, random_state=0)` (spec §6.1): n_init = 10, max_iter = 300,
//! tol = 1e−4 × mean feature variance, best of the runs by inertia.
//!
//! Parallel over points; every sum is taken per fixed block of points and the
//! blocks are reduced in order, so results are identical whatever the thread count.

use super::sqdist;
use crate::error::{Error, Result};
use crate::matrix::Dense;
use crate::rng::substream;
use rand::Rng as _;
use rayon::prelude::*;

/// Points per reduction block (fixed so sums never depend on the thread count).
const BLOCK: usize = 1024;

/// k-means parameters; defaults are scikit-learn's (as used by scGNN, spec §6.1).
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Independent k-means++ initialisations; the lowest inertia wins (10).
    pub n_init: usize,
    /// Lloyd iterations per run (300).
    pub max_iter: usize,
    /// Relative tolerance on the total squared centre shift (1e−4), scaled by
    /// the mean per-feature variance as scikit-learn does.
    pub tol: f64,
    /// Seed; run `i` uses sub-stream `i` of stage "kmeans".
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            k: 8,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

impl KMeansParams {
    /// Checks the parameters are usable.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.n_init == 0 || self.max_iter == 0 {
            return Err(Error::Usage(
                "k-means needs k, n_init and max_iter of at least 1".into(),
            ));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::Usage(format!(
                "k-means tol must be >= 0, got {}",
                self.tol
            )));
        }
        Ok(())
    }
}

/// A fitted k-means model.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansResult {
    /// Cluster of every point (0..k; a cluster may be empty only if there are
    /// fewer distinct points than k).
    pub labels: Vec<usize>,
    /// Centres, row-major k × d.
    pub centers: Vec<f64>,
    /// Sum of squared distances of the points to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub n_iter: usize,
}

/// Fits k-means to the rows of `x`.
pub fn kmeans(x: &Dense, p: &KMeansParams) -> Result<KMeansResult> {
    p.validate()?;
    let (n, d) = (x.rows, x.cols);
    if p.k > n {
        return Err(Error::Usage(format!(
            "k-means with k = {} needs at least as many points, got {n}",
            p.k
        )));
    }
    // scikit-learn: tol × mean of the per-feature variances.
    let mut mean = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for i in 0..n {
        for (j, &v) in x.row(i).iter().enumerate() {
            mean[j] += v as f64;
            sq[j] += v as f64 * v as f64;
        }
    }
    let var_mean = (0..d)
        .map(|j| {
            let m = mean[j] / n as f64;
            (sq[j] / n as f64 - m * m).max(0.0)
        })
        .sum::<f64>()
        / d.max(1) as f64;
    let tol = p.tol * var_mean;
    let mut best: Option<KMeansResult> = None;
    for run in 0..p.n_init {
        let mut rng = substream(p.seed, "kmeans", run as u64);
        let init = kmeans_pp(x, p.k, &mut rng);
        let r = lloyd(x, init, p.k, p.max_iter, tol);
        // Strictly lower wins, so the earliest run keeps ties (as scikit-learn).
        if best.as_ref().is_none_or(|b| r.inertia < b.inertia) {
            best = Some(r);
        }
    }
    best.ok_or_else(|| Error::Numeric("k-means produced no run".into()))
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`, 2 + ⌊ln k⌋ local trials).
fn kmeans_pp(x: &Dense, k: usize, rng: &mut crate::rng::Rng) -> Vec<f64> {
    let (n, d) = (x.rows, x.cols);
    let mut centers = vec![0f64; k * d];
    let first = rng.random_range(0..n);
    copy_row(x, first, &mut centers[..d]);
    let mut closest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| sqdist(x.row(i), x.row(first)))
        .collect();
    let mut pot = block_sum(&closest);
    let trials = 2 + (k as f64).ln().floor() as usize;
    for c in 1..k {
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0f64;
        for &v in &closest {
            acc += v;
            cum.push(acc);
        }
        let cands: Vec<usize> = (0..trials)
            .map(|_| {
                let r = rng.random::<f64>() * pot;
                // searchsorted(side='left'), clipped to the last index.
                cum.partition_point(|&v| v < r).min(n - 1)
            })
            .collect();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for &cand in &cands {
            let dist: Vec<f64> = (0..n)
                .into_par_iter()
                .map(|i| closest[i].min(sqdist(x.row(i), x.row(cand))))
                .collect();
            let s = block_sum(&dist);
            if best.as_ref().is_none_or(|b| s < b.0) {
                best = Some((s, cand, dist));
            }
        }
        if let Some((s, cand, dist)) = best {
            pot = s;
            closest = dist;
            copy_row(x, cand, &mut centers[c * d..(c + 1) * d]);
        }
    }
    centers
}

fn copy_row(x: &Dense, i: usize, out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(x.row(i)) {
        *o = v as f64;
    }
}

/// Sum in fixed blocks reduced in order (thread-count independent).
fn block_sum(v: &[f64]) -> f64 {
    let parts: Vec<f64> = v.par_chunks(BLOCK).map(|c| c.iter().sum()).collect();
    parts.iter().sum()
}

/// Nearest centre of point `i` and its squared distance (ties: lowest index).
fn assign(x: &Dense, i: usize, centers: &[f64], k: usize) -> (usize, f64) {
    let d = x.cols;
    let row = x.row(i);
    let mut best = (0usize, f64::INFINITY);
    for c in 0..k {
        let cc = &centers[c * d..(c + 1) * d];
        let mut s = 0f64;
        for (&a, &b) in row.iter().zip(cc) {
            let t = a as f64 - b;
            s += t * t;
        }
        if s < best.1 {
            best = (c, s);
        }
    }
    best
}

/// Labels, squared distances, centre sums (k × d) and counts.
type EStep = (Vec<usize>, Vec<f64>, Vec<f64>, Vec<usize>);

/// One E-step: labels, distances, and per-block partial sums/counts.
fn estep(x: &Dense, centers: &[f64], k: usize) -> EStep {
    let (n, d) = (x.rows, x.cols);
    let blocks: Vec<EStep> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (lo, hi) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
            let mut labels = Vec::with_capacity(hi - lo);
            let mut dist = Vec::with_capacity(hi - lo);
            let mut sums = vec![0f64; k * d];
            let mut counts = vec![0usize; k];
            for i in lo..hi {
                let (c, s) = assign(x, i, centers, k);
                labels.push(c);
                dist.push(s);
                counts[c] += 1;
                for (a, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(x.row(i)) {
                    *a += v as f64;
                }
            }
            (labels, dist, sums, counts)
        })
        .collect();
    let mut labels = Vec::with_capacity(n);
    let mut dist = Vec::with_capacity(n);
    let mut sums = vec![0f64; k * d];
    let mut counts = vec![0usize; k];
    for (l, di, s, c) in blocks {
        labels.extend(l);
        dist.extend(di);
        sums.iter_mut().zip(&s).for_each(|(a, b)| *a += b);
        counts.iter_mut().zip(&c).for_each(|(a, b)| *a += b);
    }
    (labels, dist, sums, counts)
}

fn lloyd(x: &Dense, mut centers: Vec<f64>, k: usize, max_iter: usize, tol: f64) -> KMeansResult {
    let d = x.cols;
    let mut prev: Option<Vec<usize>> = None;
    let mut n_iter = 0;
    for it in 0..max_iter {
        n_iter = it + 1;
        let (labels, dist, mut sums, mut counts) = estep(x, &centers, k);
        // Empty clusters take the points farthest from their centres (scikit-learn).
        let empty: Vec<usize> = (0..k).filter(|&c| counts[c] == 0).collect();
        if !empty.is_empty() {
            let mut order: Vec<usize> = (0..x.rows).collect();
            order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
            for (&c, &far) in empty.iter().zip(&order) {
                let old = labels[far];
                if counts[old] <= 1 {
                    continue;
                }
                for (j, &v) in x.row(far).iter().enumerate() {
                    sums[old * d + j] -= v as f64;
                    sums[c * d + j] = v as f64;
                }
                counts[old] -= 1;
                counts[c] = 1;
            }
        }
        let mut shift = 0f64;
        for c in 0..k {
            if counts[c] == 0 {
                continue;
            }
            for j in 0..d {
                let v = sums[c * d + j] / counts[c] as f64;
                let t = v - centers[c * d + j];
                shift += t * t;
                centers[c * d + j] = v;
            }
        }
        let same = prev.as_ref() == Some(&labels);
        prev = Some(labels);
        if same || shift <= tol {
            break;
        }
    }
    // Final E-step so labels match the final centres.
    let (labels, dist, _, _) = estep(x, &centers, k);
    KMeansResult {
        labels,
        centers,
        inertia: block_sum(&dist),
        n_iter,
    }
}
