//! Spectral clustering (scikit-learn's `SpectralClustering(n_clusters=K,
//! assign_labels="discretize", random_state=0)` as scGNN calls it, spec §6.3),
//! with the sparse kNN cell graph as the affinity instead of an N × N RBF kernel.
//! The K eigenvectors of the normalised Laplacian with the smallest eigenvalues
//! come from a dense self-adjoint eigendecomposition (faer): O(N²) memory and
//! O(N³) time, hence [`LIMIT`]. Isolated cells keep a zero Laplacian row, as
//! scikit-learn does.

use super::{check_quadratic, gib, Method};
use crate::error::{Error, Result};
use crate::matrix::Csr;
use crate::rng::stream;
use faer::{Mat, Side};
use rand::Rng as _;

/// Cell limit (two dense N × N f64 matrices: 1 GiB at 8 000 cells).
pub(crate) const LIMIT: usize = 8_000;

/// Spectral clustering of the cell graph into (at most) `k` clusters.
pub(crate) fn spectral(graph: &Csr<f32>, k: usize, seed: u64) -> Result<Vec<usize>> {
    let n = graph.rows;
    let need = gib(2.0 * (n as f64) * (n as f64) * 8.0);
    check_quadratic(
        Method::SpectralClustering,
        n,
        LIMIT,
        &format!("a dense eigendecomposition needing {need}"),
    )?;
    let k = k.min(n);
    // Symmetrised unit-free affinity: the stored weight, taking either direction.
    let mut a = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        let (ci, cv) = graph.row(i);
        for (&j, &w) in ci.iter().zip(cv) {
            let j = j as usize;
            if j != i {
                a[(i, j)] = w as f64;
                a[(j, i)] = w as f64;
            }
        }
    }
    let deg: Vec<f64> = (0..n).map(|i| (0..n).map(|j| a[(i, j)]).sum()).collect();
    let dd: Vec<f64> = deg
        .iter()
        .map(|&g| if g > 0.0 { g.sqrt() } else { 1.0 })
        .collect();
    let mut lap = Mat::<f64>::zeros(n, n);
    for j in 0..n {
        for i in 0..n {
            let v = -a[(i, j)] / (dd[i] * dd[j]);
            lap[(i, j)] = if i == j {
                if deg[i] > 0.0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                v
            };
        }
    }
    drop(a);
    let eig = lap
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Numeric(format!("spectral clustering eigendecomposition: {e:?}")))?;
    let u = eig.U();
    // Embedding = eigenvectors / √degree (scikit-learn's spectral_embedding).
    let mut v = vec![0f64; n * k];
    for i in 0..n {
        for c in 0..k {
            v[i * k + c] = u[(i, c)] / dd[i];
        }
    }
    discretize(&mut v, n, k, seed)
}

/// Yu & Shi discretisation (scikit-learn's `discretize`, 30 restarts, 20 iterations).
fn discretize(v: &mut [f64], n: usize, k: usize, seed: u64) -> Result<Vec<usize>> {
    let norm_ones = (n as f64).sqrt();
    for c in 0..k {
        let norm = (0..n)
            .map(|i| v[i * k + c].powi(2))
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        let sign = if v[c] != 0.0 { -v[c].signum() } else { 1.0 };
        for i in 0..n {
            v[i * k + c] = v[i * k + c] / norm * norm_ones * sign;
        }
    }
    for i in 0..n {
        let r = v[i * k..(i + 1) * k]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
        if r > 0.0 {
            v[i * k..(i + 1) * k].iter_mut().for_each(|x| *x /= r);
        }
    }
    let mut rng = stream(seed, "spectral-discretize");
    let mut labels = vec![0usize; n];
    for _restart in 0..30 {
        // Initial rotation: a random row, then rows most orthogonal to those chosen.
        let mut rot = Mat::<f64>::zeros(k, k);
        let first = rng.random_range(0..n);
        for r in 0..k {
            rot[(r, 0)] = v[first * k + r];
        }
        let mut cacc = vec![0f64; n];
        for j in 1..k {
            let mut best = (f64::INFINITY, 0);
            for (i, ca) in cacc.iter_mut().enumerate() {
                let dot: f64 = (0..k).map(|r| v[i * k + r] * rot[(r, j - 1)]).sum();
                *ca += dot.abs();
                if *ca < best.0 {
                    best = (*ca, i);
                }
            }
            for r in 0..k {
                rot[(r, j)] = v[best.1 * k + r];
            }
        }
        let mut last = 0f64;
        let mut n_iter = 0;
        loop {
            n_iter += 1;
            for (i, l) in labels.iter_mut().enumerate() {
                let mut best = (f64::NEG_INFINITY, 0);
                for c in 0..k {
                    let t: f64 = (0..k).map(|r| v[i * k + r] * rot[(r, c)]).sum();
                    if t > best.0 {
                        best = (t, c);
                    }
                }
                *l = best.1;
            }
            // t_svd = (indicator)ᵀ · v, a k × k matrix.
            let mut t = Mat::<f64>::zeros(k, k);
            for (i, &l) in labels.iter().enumerate() {
                for r in 0..k {
                    t[(l, r)] += v[i * k + r];
                }
            }
            let Ok(svd) = t.svd() else { break };
            let s: f64 = (0..k).map(|i| svd.S()[i]).sum();
            let ncut = 2.0 * (n as f64 - s);
            if (ncut - last).abs() < f64::EPSILON || n_iter > 20 {
                return Ok(labels);
            }
            last = ncut;
            // rotation = V · Uᵀ
            rot = svd.V() * svd.U().transpose();
        }
    }
    Err(Error::Numeric(
        "spectral clustering discretisation did not converge in 30 restarts".into(),
    ))
}
