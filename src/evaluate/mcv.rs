//! Molecular cross-validation (Batson, Royer & Webber 2019): split each raw
//! count by binomial thinning into two independent halves A ~ Binomial(X, p) and
//! B = X − A, denoise A, and score how well the denoised A predicts B. It needs
//! no ground truth, so it applies to any dataset with raw integer counts.
//!
//! Memory is O(nnz) for the split and the baselines; scoring streams one cell
//! row of Â at a time, so a method's output never has to be densified whole.

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};
use rand::distr::Distribution;
use rand_distr::Binomial;
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

/// Added inside the logarithm of the Poisson loss so that B̂ = 0 gives a large
/// finite penalty ln(1e-8) ≈ −18.4 per count instead of −∞ (PyTorch's
/// `poisson_nll_loss(log_input=False)` uses the same ε).
pub const POISSON_EPS: f64 = 1e-8;

/// Parameters of molecular cross-validation.
#[derive(Clone, Debug, PartialEq)]
pub struct McvParams {
    /// Fraction of each count sent to the training half A. The scGNN spec has
    /// no MCV section; 0.5 (equal halves) is the common choice in MCV code.
    pub p: f64,
}

impl Default for McvParams {
    fn default() -> Self {
        McvParams { p: 0.5 }
    }
}

impl McvParams {
    /// Checks `0 < p < 1`.
    pub fn validate(&self) -> Result<()> {
        check_p(self.p)
    }
}

fn check_p(p: f64) -> Result<()> {
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::Usage(format!(
            "the MCV split fraction must be strictly between 0 and 1, got {p}"
        )));
    }
    Ok(())
}

/// Checks that every stored value is a finite non-negative integer; the error
/// names `source` and the first offending entry in row-major order.
pub fn check_integer_counts(counts: &Csr<f32>, source: &Path) -> Result<()> {
    for r in 0..counts.rows {
        let (ci, cv) = counts.row(r);
        if let Some((c, v)) = ci
            .iter()
            .zip(cv)
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0))
        {
            return Err(Error::input(
                source,
                Some(format!("cell {r}, gene {c}")),
                format!(
                    "value {v}: MCV needs raw integer counts (not normalised or log-transformed values)"
                ),
            ));
        }
    }
    Ok(())
}

/// Binomial thinning: A ~ Binomial(X, p) entry-wise and B = X − A, from `seed`
/// (one sub-stream of "mcv-split" per cell, so the split does not depend on the
/// thread count). Refuses non-integer input; call [`check_integer_counts`] first
/// to get an error naming the input file rather than "counts matrix".
pub fn split(counts: &Csr<f32>, p: f64, seed: u64) -> Result<(Csr<f32>, Csr<f32>)> {
    check_p(p)?;
    check_integer_counts(counts, Path::new("counts matrix"))?;
    Ok(thin(counts, p, seed, "mcv-split"))
}

/// The thinning of [`split`] with the random sub-streams of `stage` (one per
/// cell), for integer counts and p in (0, 1) checked by the caller: a stage
/// of its own keeps a split inside a run independent of an evaluation's.
pub fn thin(counts: &Csr<f32>, p: f64, seed: u64, stage: &str) -> (Csr<f32>, Csr<f32>) {
    type Row = Vec<(u32, f32)>;
    let rows: Vec<(Row, Row)> = (0..counts.rows)
        .into_par_iter()
        .map(|r| {
            let mut rng = crate::rng::substream(seed, stage, r as u64);
            let (ci, cv) = counts.row(r);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (&c, &v) in ci.iter().zip(cv) {
                let n = v as u64;
                // p is in (0, 1), so Binomial::new cannot fail.
                let k = Binomial::new(n, p).map_or(0, |d| d.sample(&mut rng));
                if k > 0 {
                    a.push((c, k as f32));
                }
                if n > k {
                    b.push((c, (n - k) as f32));
                }
            }
            (a, b)
        })
        .collect();
    let build = |pick: fn(&(Row, Row)) -> &Row| {
        let nnz = rows.iter().map(|r| pick(r).len()).sum();
        let mut indptr = Vec::with_capacity(counts.rows + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(nnz);
        let mut data = Vec::with_capacity(nnz);
        for r in &rows {
            for &(c, v) in pick(r) {
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        Csr {
            rows: counts.rows,
            cols: counts.cols,
            indptr,
            indices,
            data,
        }
    };
    (build(|r| &r.0), build(|r| &r.1))
}

/// MCV errors over all cells × genes, zeros included.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct McvScore {
    /// Number of entries averaged over (cells × genes).
    pub n_entries: usize,
    /// mean((ln(1 + B̂) − ln(1 + B))²).
    pub mse_log1p: f64,
    /// mean(B̂ − B · ln(B̂ + ε)), the Poisson negative log-likelihood up to the
    /// method-independent term ln(B!); ε = [`POISSON_EPS`].
    pub poisson: f64,
}

/// Scores a denoised A given one cell row at a time: `a_hat_row(i, buf)` must
/// fill `buf` (length = genes) with row i of Â on A's count scale. Negative
/// values are clamped to 0 (expected counts cannot be negative). The prediction
/// of B is B̂ = Â · (1 − p) / p. Errors on a non-finite value of Â.
pub fn score_rows<F>(b: &Csr<f32>, p: f64, a_hat_row: F) -> Result<McvScore>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    check_p(p)?;
    let scale = (1.0 - p) / p;
    let genes = b.cols;
    let per_row: Vec<Result<(f64, f64)>> = (0..b.rows)
        .into_par_iter()
        .map_init(
            || vec![0.0f32; genes],
            |buf, i| {
                buf.fill(0.0);
                a_hat_row(i, buf);
                let (bi, bv) = b.row(i);
                let mut next = bi.iter().zip(bv).peekable();
                let (mut mse, mut pois) = (0.0f64, 0.0f64);
                for (j, &a) in buf.iter().enumerate() {
                    if !a.is_finite() {
                        return Err(Error::Numeric(format!(
                            "denoised value at cell {i}, gene {j} is {a}"
                        )));
                    }
                    let bhat = (a as f64).max(0.0) * scale;
                    let bij = match next.peek() {
                        Some((&c, &v)) if c as usize == j => {
                            next.next();
                            v as f64
                        }
                        _ => 0.0,
                    };
                    let d = bhat.ln_1p() - bij.ln_1p();
                    mse += d * d;
                    pois += bhat;
                    if bij > 0.0 {
                        pois -= bij * (bhat + POISSON_EPS).ln();
                    }
                }
                Ok((mse, pois))
            },
        )
        .collect();
    let (mut mse, mut pois) = (0.0f64, 0.0f64);
    for r in per_row {
        let (m, q) = r?;
        mse += m;
        pois += q;
    }
    let n = b.rows * genes;
    let denom = n.max(1) as f64;
    Ok(McvScore {
        n_entries: n,
        mse_log1p: mse / denom,
        poisson: pois / denom,
    })
}

/// [`score_rows`] for a dense Â (cells × genes, on A's count scale).
pub fn score(a_hat: &Dense, b: &Csr<f32>, p: f64) -> Result<McvScore> {
    if a_hat.rows != b.rows || a_hat.cols != b.cols {
        return Err(Error::Usage(format!(
            "denoised matrix is {} × {} but the held-out half is {} × {} (cells × genes)",
            a_hat.rows, a_hat.cols, b.rows, b.cols
        )));
    }
    score_rows(b, p, |i, buf| buf.copy_from_slice(a_hat.row(i)))
}

/// Reference denoisers every method should beat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum McvBaseline {
    /// No denoising: Â = A.
    None,
    /// Â_ij = (gene j's share of all A counts) × (cell i's A library size):
    /// every cell expresses the average profile, scaled to its depth.
    GeneMean,
}

/// Scores a baseline from the split halves.
pub fn score_baseline(
    a: &Csr<f32>,
    b: &Csr<f32>,
    p: f64,
    baseline: McvBaseline,
) -> Result<McvScore> {
    if a.rows != b.rows || a.cols != b.cols {
        return Err(Error::Usage(
            "the two MCV halves have different shapes".into(),
        ));
    }
    match baseline {
        McvBaseline::None => score_rows(b, p, |i, buf| {
            let (ci, cv) = a.row(i);
            for (&c, &v) in ci.iter().zip(cv) {
                buf[c as usize] = v;
            }
        }),
        McvBaseline::GeneMean => {
            let mut gene = vec![0.0f64; a.cols];
            for (&c, &v) in a.indices.iter().zip(&a.data) {
                gene[c as usize] += v as f64;
            }
            let total: f64 = gene.iter().sum();
            if total > 0.0 {
                gene.iter_mut().for_each(|g| *g /= total);
            }
            score_rows(b, p, |i, buf| {
                let lib: f64 = a.row(i).1.iter().map(|&v| v as f64).sum();
                for (o, &s) in buf.iter_mut().zip(&gene) {
                    *o = (s * lib) as f32;
                }
            })
        }
    }
}
