//! Mean shift (scikit-learn's `MeanShift()` as scGNN calls it): flat kernel,
//! bandwidth from `estimate_bandwidth(quantile = 0.3)` computed on a seeded
//! sample of at most [`BW_SAMPLE`] cells (scikit-learn's `n_samples` option),
//! seeds by binning (`bin_seeding = True`, a documented departure that only
//! removes duplicate seeds), centres deduplicated by intensity and every cell
//! assigned to its nearest centre (`cluster_all = True`). Each seed scans all
//! cells per iteration, so time is O(#seeds · N · d · iterations): [`LIMIT`].

use super::{check_quadratic, sqdist, Method};
use crate::error::Result;
use crate::matrix::Dense;
use crate::rng::stream;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Cell limit (quadratic time).
pub(crate) const LIMIT: usize = 10_000;
/// Cells used to estimate the bandwidth.
pub(crate) const BW_SAMPLE: usize = 1_000;
const QUANTILE: f64 = 0.3;
const MAX_ITER: usize = 300;

/// Mean-shift labels.
pub(crate) fn mean_shift(emb: &Dense, seed: u64) -> Result<Vec<usize>> {
    let (n, d) = (emb.rows, emb.cols);
    check_quadratic(
        Method::MeanShift,
        n,
        LIMIT,
        "every seed scans every cell per iteration",
    )?;
    let bw = bandwidth(emb, seed);
    if bw.is_nan() || bw <= 0.0 {
        // All cells identical: one cluster.
        return Ok(vec![0; n]);
    }
    let seeds = bin_seeds(emb, bw);
    let bw2 = bw * bw;
    let stop = 1e-3 * bw;
    let within = |m: &[f64]| -> Vec<usize> {
        (0..n)
            .filter(|&i| {
                let s: f64 = emb
                    .row(i)
                    .iter()
                    .zip(m)
                    .map(|(&a, b)| (a as f64 - b).powi(2))
                    .sum();
                s <= bw2
            })
            .collect()
    };
    let centres: Vec<(usize, Vec<f64>)> = seeds
        .into_par_iter()
        .filter_map(|mut m| {
            let mut count = 0;
            for _ in 0..MAX_ITER {
                let pts = within(&m);
                if pts.is_empty() {
                    break;
                }
                count = pts.len();
                let mut new = vec![0f64; d];
                for &i in &pts {
                    new.iter_mut()
                        .zip(emb.row(i))
                        .for_each(|(a, &v)| *a += v as f64);
                }
                new.iter_mut().for_each(|a| *a /= pts.len() as f64);
                let shift: f64 = new
                    .iter()
                    .zip(&m)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                m = new;
                if shift < stop {
                    break;
                }
            }
            (count > 0).then_some((count, m))
        })
        .collect();
    let kept = unique_centres(centres, bw2);
    if kept.is_empty() {
        return Ok(vec![0; n]);
    }
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            let mut best = (f64::INFINITY, 0);
            for (c, m) in kept.iter().enumerate() {
                let s: f64 = emb
                    .row(i)
                    .iter()
                    .zip(m)
                    .map(|(&a, b)| (a as f64 - b).powi(2))
                    .sum();
                if s < best.0 {
                    best = (s, c);
                }
            }
            best.1
        })
        .collect())
}

/// scikit-learn's `estimate_bandwidth`: mean distance from each sampled cell to
/// its ⌊0.3·S⌋-th nearest sampled cell (itself counted as the first).
fn bandwidth(emb: &Dense, seed: u64) -> f64 {
    let n = emb.rows;
    let mut idx: Vec<usize> = (0..n).collect();
    if n > BW_SAMPLE {
        idx.shuffle(&mut stream(seed, "meanshift-bandwidth"));
        idx.truncate(BW_SAMPLE);
    }
    let s = idx.len();
    let kth = ((s as f64 * QUANTILE) as usize).max(1);
    let total: f64 = idx
        .par_iter()
        .map(|&i| {
            let mut dist: Vec<f64> = idx
                .iter()
                .map(|&j| sqdist(emb.row(i), emb.row(j)))
                .collect();
            let (_, v, _) = dist.select_nth_unstable_by(kth - 1, f64::total_cmp);
            v.sqrt()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    total / s as f64
}

/// Bin seeding: one seed per occupied grid cell of side `bw` (every cell when
/// no two share a grid cell).
fn bin_seeds(emb: &Dense, bw: f64) -> Vec<Vec<f64>> {
    let n = emb.rows;
    let mut bins: Vec<Vec<i64>> = (0..n)
        .map(|i| {
            emb.row(i)
                .iter()
                .map(|&v| (v as f64 / bw).round() as i64)
                .collect()
        })
        .collect();
    bins.sort();
    bins.dedup();
    if bins.len() == n {
        (0..n)
            .map(|i| emb.row(i).iter().map(|&v| v as f64).collect())
            .collect()
    } else {
        bins.iter()
            .map(|b| b.iter().map(|&v| v as f64 * bw).collect())
            .collect()
    }
}

/// The converged centres, highest intensity first, dropping any within the
/// bandwidth of one kept before it.
fn unique_centres(mut centres: Vec<(usize, Vec<f64>)>, bw2: f64) -> Vec<Vec<f64>> {
    // Highest intensity first (ties: larger centre, as scikit-learn's reverse sort).
    centres.sort_by(|a, b| {
        b.0.cmp(&a.0).then_with(|| {
            b.1.iter()
                .zip(&a.1)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut kept: Vec<Vec<f64>> = Vec::new();
    let mut unique = vec![true; centres.len()];
    for i in 0..centres.len() {
        if !unique[i] {
            continue;
        }
        for j in i + 1..centres.len() {
            let s: f64 = centres[i]
                .1
                .iter()
                .zip(&centres[j].1)
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            if s <= bw2 {
                unique[j] = false;
            }
        }
        kept.push(centres[i].1.clone());
    }
    kept
}
