//! Count-aware graph-neighbourhood imputation.
//!
//! Each cell's expected counts come from a short random walk on the cell graph
//! (its own profile included); a per-gene zero-inflated negative binomial
//! around those expectations says how far to trust the observed count versus
//! the neighbourhood, and each entry becomes the posterior E[ln(1 + X_new)]
//! for a fresh count X_new of the same cell at its own depth. The walk length
//! is chosen per data set by molecular cross-validation on the input itself:
//! the counts are split by binomial thinning, each candidate length imputes one
//! half and is scored on how well it predicts the other.
//!
//! Memory: one cells × genes dense buffer for the output plus one more while
//! the walk runs; the graph is only ever used sparse.

mod lognb;
mod special;
mod walk;
mod zinb;

use crate::error::{Error, Result};
use crate::evaluate::mcv::thin;
use crate::matrix::{Csr, Dense};
use lognb::Table;
use rayon::prelude::*;
use std::time::Instant;
use walk::Walk;
use zinb::{GeneModel, Sample};

/// Settings of [`neighbourhood`] (serialisable, for the run parameters).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeighbourhoodParams {
    /// Longest walk tried; every length 1..=max_steps is scored on held-out
    /// molecules. Beyond ~3 steps a kNN walk mixes whole clusters.
    pub max_steps: usize,
    /// Cells sampled (with the seed) to fit each gene's θ and π: two numbers
    /// per gene are pinned down well by a few thousand cells, and the fit is
    /// the costly part, so large data sets are not fitted on every cell.
    pub fit_cells: usize,
    /// Genes sampled (with the seed) for the held-out choice of the walk length.
    pub select_genes: usize,
    /// Fraction of each count kept in the imputed half of the held-out split.
    pub holdout_p: f64,
}

impl Default for NeighbourhoodParams {
    fn default() -> Self {
        NeighbourhoodParams {
            max_steps: 3,
            fit_cells: 2000,
            select_genes: 500,
            holdout_p: 0.5,
        }
    }
}

impl NeighbourhoodParams {
    /// Checks the ranges: at least one step, 50 fit cells (fewer cannot pin
    /// down a dispersion; data sets with fewer cells simply use all of
    /// them), one gene, and 0 < holdout_p < 1.
    pub fn validate(&self) -> Result<()> {
        if self.max_steps == 0 {
            return Err(Error::Usage("impute: max_steps must be at least 1".into()));
        }
        if self.fit_cells < 50 {
            return Err(Error::Usage(format!(
                "impute: fit_cells {} is too few to fit a dispersion (use at least 50)",
                self.fit_cells
            )));
        }
        if self.select_genes == 0 {
            return Err(Error::Usage(
                "impute: select_genes must be at least 1".into(),
            ));
        }
        if !(self.holdout_p > 0.0 && self.holdout_p < 1.0) {
            return Err(Error::Usage(format!(
                "impute: holdout_p {} must lie strictly between 0 and 1",
                self.holdout_p
            )));
        }
        Ok(())
    }
}

/// What [`neighbourhood`] did, for the run report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImputeReport {
    /// False when the input was not integer counts (normalised or logged
    /// values): then one plain diffusion step of ln(1 + x) was applied instead
    /// of the count model, and no held-out choice was made.
    pub counts_input: bool,
    /// Walk length used.
    pub steps: usize,
    /// Held-out error of every candidate ("t=1", "t=2", ...): mean squared
    /// difference of ln(1 + predicted) and ln(1 + held-out count) over all
    /// cells of the sampled genes. The smallest was chosen.
    pub held_out_mse: Vec<(String, f64)>,
    /// Median over genes of the fitted NB shape θ (0 if nothing was fitted).
    pub median_theta: f64,
    /// Median over genes of the fitted zero-inflation π (0 if nothing was fitted).
    pub median_dropout_probability: f64,
    /// Wall time of the whole imputation.
    pub seconds: f64,
}

/// The imputed matrix and its report.
#[derive(Clone, Debug, PartialEq)]
pub struct Imputed {
    /// Cells × genes, E[ln(1 + count)] on each cell's own raw count scale (so
    /// comparable with ln(1 + raw), not with a normalised profile).
    pub values: Dense,
    /// How it was obtained.
    pub report: ImputeReport,
}

/// Genes diffused at a time for the final matrix: two cells × this buffers
/// beside the result instead of two cells × genes matrices.
const DIFFUSE_BLOCK: usize = 64;

/// Imputes `counts` (cells × genes, raw) from the cell graph `adj` (cells ×
/// cells, symmetric, positive weights). `size_factors[i]` scales cell i's raw
/// counts to the normalised profile (all 1.0 without normalisation); the walk
/// averages normalised profiles so that deep and shallow neighbours count
/// alike, and the result is mapped back to each cell's own depth. Results
/// depend on `seed` only, never on the number of threads.
pub fn neighbourhood(
    counts: &Csr<f32>,
    size_factors: &[f32],
    adj: &Csr<f32>,
    p: &NeighbourhoodParams,
    seed: u64,
) -> Result<Imputed> {
    let start = Instant::now();
    p.validate()?;
    check_inputs(counts, size_factors)?;
    let walk = Walk::new(adj, counts.rows)?;
    if !counts.data.iter().all(|v| v.fract() == 0.0) {
        return Ok(fallback(counts, size_factors, &walk, start));
    }
    let table = lognb::table();
    let fit_cells = sample_indices(counts.rows, p.fit_cells, seed, "impute/fit-cells");
    let held_out_mse = held_out_errors(counts, size_factors, &walk, p, seed, &fit_cells, table)?;
    let steps = 1
        + (0..held_out_mse.len())
            .min_by(|&a, &b| held_out_mse[a].1.total_cmp(&held_out_mse[b].1))
            .unwrap_or(0);
    let mut values = walk.diffuse_blocked(counts, size_factors, steps, DIFFUSE_BLOCK);
    let models = fit_genes(&values, counts, size_factors, &fit_cells, table);
    values
        .data
        .par_chunks_mut(counts.cols)
        .enumerate()
        .for_each(|(i, row)| to_values(row, counts.row(i), size_factors[i], &models, table));
    let report = ImputeReport {
        counts_input: true,
        steps,
        held_out_mse,
        median_theta: median(models.iter().map(|m| m.fit.theta).collect()),
        median_dropout_probability: median(models.iter().map(|m| m.fit.pi).collect()),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(Imputed { values, report })
}

/// Shapes, and values the count model or the fallback can take: finite and
/// non-negative (scaled data with negative values has no ln(1 + raw) scale).
fn check_inputs(counts: &Csr<f32>, size_factors: &[f32]) -> Result<()> {
    if counts.rows == 0 || counts.cols == 0 {
        return Err(Error::Data(format!(
            "impute: nothing to impute ({} cells × {} genes)",
            counts.rows, counts.cols
        )));
    }
    if size_factors.len() != counts.rows {
        return Err(Error::Usage(format!(
            "impute: {} size factors for {} cells",
            size_factors.len(),
            counts.rows
        )));
    }
    if let Some(s) = size_factors.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(Error::Data(format!(
            "impute: size factor {s}: size factors must be finite and positive"
        )));
    }
    if let Some(v) = counts.data.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(Error::Data(format!(
            "impute: value {v}: the imputation needs non-negative expression values \
             (raw counts, or normalised values before any scaling)"
        )));
    }
    Ok(())
}

/// For non-count input no count model applies: one step of the walk on
/// ln(1 + normalised values), mapped back to each cell's raw scale.
fn fallback(counts: &Csr<f32>, size_factors: &[f32], walk: &Walk, start: Instant) -> Imputed {
    let mut values = walk.spread(counts, |j, v| (v * size_factors[j]).ln_1p());
    values
        .data
        .par_chunks_mut(counts.cols)
        .zip(size_factors.par_iter())
        .for_each(|(row, &s)| {
            for v in row {
                *v = ((*v as f64).exp_m1() / s as f64).ln_1p() as f32;
            }
        });
    let report = ImputeReport {
        counts_input: false,
        steps: 1,
        held_out_mse: Vec::new(),
        median_theta: 0.0,
        median_dropout_probability: 0.0,
        seconds: start.elapsed().as_secs_f64(),
    };
    Imputed { values, report }
}

/// Up to `k` of `0..n`, sorted, drawn with the seed (all of them if k ≥ n).
fn sample_indices(n: usize, k: usize, seed: u64, stage: &str) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = crate::rng::substream(seed, stage, 0);
    let mut idx = rand::seq::index::sample(&mut rng, n, k).into_vec();
    idx.sort_unstable();
    idx
}

/// Fits every gene of `x` on the cells `fit_cells`, with expected counts
/// μ = (Pᵗ y)/s read from `diffused`.
fn fit_genes(
    diffused: &Dense,
    x: &Csr<f32>,
    size_factors: &[f32],
    fit_cells: &[usize],
    table: &Table,
) -> Vec<GeneModel> {
    let by_gene = x.select_rows(fit_cells).transpose();
    let cols = x.cols;
    (0..cols)
        .into_par_iter()
        .map(|g| {
            let mut sample = Sample::default();
            let (ci, cv) = by_gene.row(g);
            let mut nz = ci.iter().zip(cv).peekable();
            for (pos, &c) in fit_cells.iter().enumerate() {
                let count = nz
                    .next_if(|(&k, _)| k as usize == pos)
                    .map_or(0.0, |e| *e.1);
                let mu = diffused.data[c * cols + g] as f64 / size_factors[c] as f64;
                sample.push(count as f64, mu);
            }
            GeneModel::new(zinb::fit(&sample), table)
        })
        .collect()
}

/// Turns one row of Pᵗ y into imputed values in place, given the cell's
/// observed counts (sparse) and size factor.
fn to_values(
    row: &mut [f32],
    (ci, cv): (&[u32], &[f32]),
    s: f32,
    models: &[GeneModel],
    table: &Table,
) {
    let mut nz = ci.iter().zip(cv).peekable();
    let s = s as f64;
    for (g, v) in row.iter_mut().enumerate() {
        let x = nz.next_if(|(&k, _)| k as usize == g).map_or(0.0, |e| *e.1);
        *v = models[g].value(x as f64, *v as f64 / s, table) as f32;
    }
}

/// Held-out error of every walk length 1..=max_steps on a sample of genes.
fn held_out_errors(
    counts: &Csr<f32>,
    size_factors: &[f32],
    walk: &Walk,
    p: &NeighbourhoodParams,
    seed: u64,
    fit_cells: &[usize],
    table: &Table,
) -> Result<Vec<(String, f64)>> {
    let mut expressed = vec![false; counts.cols];
    for &g in &counts.indices {
        expressed[g as usize] = true;
    }
    let expressed: Vec<usize> = (0..counts.cols).filter(|&g| expressed[g]).collect();
    if expressed.is_empty() {
        return Err(Error::Data("impute: every count is zero".into()));
    }
    let genes: Vec<usize> = sample_indices(expressed.len(), p.select_genes, seed, "impute/genes")
        .into_iter()
        .map(|i| expressed[i])
        .collect();
    // Its own stage tag keeps it independent of any evaluation split drawn from
    // the same run seed (molecular cross-validation of the output).
    let (a, b) = thin(
        &counts.select_cols(&genes),
        p.holdout_p,
        seed,
        "impute/holdout",
    );
    let scale = (1.0 - p.holdout_p) / p.holdout_p;
    let mut errors = Vec::with_capacity(p.max_steps);
    walk.diffuse(&a, size_factors, p.max_steps, |t, diffused| {
        let models = fit_genes(diffused, &a, size_factors, fit_cells, table);
        let per_cell: Vec<f64> = (0..a.rows)
            .into_par_iter()
            .map_init(
                || vec![0f32; a.cols],
                |row, i| {
                    row.copy_from_slice(diffused.row(i));
                    to_values(row, a.row(i), size_factors[i], &models, table);
                    held_out_sse(row, b.row(i), scale)
                },
            )
            .collect();
        let mse = per_cell.iter().sum::<f64>() / (a.rows * a.cols) as f64;
        errors.push((format!("t={t}"), mse));
    });
    Ok(errors)
}

/// Σ_g (ln(1 + B̂_g) − ln(1 + B_g))² over one cell, B̂ = expm1(value)·scale:
/// the imputed half predicts the held-out half at its depth ratio.
fn held_out_sse(values: &[f32], (ci, cv): (&[u32], &[f32]), scale: f64) -> f64 {
    let mut nz = ci.iter().zip(cv).peekable();
    let mut sse = 0.0;
    for (g, &v) in values.iter().enumerate() {
        let b = nz.next_if(|(&k, _)| k as usize == g).map_or(0.0, |e| *e.1);
        let predicted = ((v as f64).exp_m1() * scale).ln_1p();
        sse += (predicted - (b as f64).ln_1p()).powi(2);
    }
    sse
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
