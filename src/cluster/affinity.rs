//! Affinity propagation (scikit-learn's `AffinityPropagation()` defaults as scGNN
//! calls it: damping 0.5, max_iter 200, convergence_iter 15, preference = median
//! similarity, similarity = −squared Euclidean distance, tiny seeded noise to
//! break ties). Four dense N × N f64 matrices: [`LIMIT`] cells. If it finds no
//! exemplar every cell is returned as noise (the guard then makes one cluster).

use super::{check_quadratic, gib, Method};
use crate::error::Result;
use crate::matrix::Dense;
use crate::rng::stream;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Cell limit (4 dense N × N f64 matrices: 1.9 GiB at 8 000 cells).
pub(crate) const LIMIT: usize = 8_000;
const DAMPING: f64 = 0.5;
const MAX_ITER: usize = 200;
const CONV_ITER: usize = 15;

/// Affinity propagation labels (−1 = no exemplar found).
pub(crate) fn affinity_propagation(emb: &Dense, seed: u64) -> Result<Vec<i64>> {
    let n = emb.rows;
    let need = gib(4.0 * (n as f64) * (n as f64) * 8.0);
    check_quadratic(
        Method::AffinityPropagation,
        n,
        LIMIT,
        &format!("four dense N × N matrices needing {need}"),
    )?;
    if n == 1 {
        return Ok(vec![0]);
    }
    let s = similarities(emb, seed);
    let mut r = vec![0f64; n * n];
    let mut a = vec![0f64; n * n];
    let mut tmp = vec![0f64; n * n];
    let mut hist = vec![0u8; n * CONV_ITER];
    let mut e = vec![false; n];
    for it in 0..MAX_ITER {
        responsibilities(&s, &a, &mut r, &mut tmp, n);
        availabilities(&r, &mut a, n);
        for i in 0..n {
            e[i] = a[i * n + i] + r[i * n + i] > 0.0;
            hist[i * CONV_ITER + it % CONV_ITER] = e[i] as u8;
        }
        let n_ex = e.iter().filter(|&&x| x).count();
        if it >= CONV_ITER {
            let stable = (0..n).all(|i| {
                let sum: u32 = hist[i * CONV_ITER..(i + 1) * CONV_ITER]
                    .iter()
                    .map(|&x| x as u32)
                    .sum();
                sum == 0 || sum == CONV_ITER as u32
            });
            if stable && n_ex > 0 {
                break;
            }
        }
    }
    drop(tmp);
    Ok(labels(&s, &e, n))
}

/// −squared distances with the median as every cell's preference, plus
/// scikit-learn's seeded tie-breaking noise (n × n, row-major).
fn similarities(emb: &Dense, seed: u64) -> Vec<f64> {
    let n = emb.rows;
    let mut s = vec![0f64; n * n];
    s.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (j, v) in row.iter_mut().enumerate() {
            *v = -super::sqdist(emb.row(i), emb.row(j));
        }
    });
    let mut sorted = s.clone();
    let mid = sorted.len() / 2;
    // numpy's median: mean of the two middle values for an even count.
    let (_, &mut hi, _) = sorted.select_nth_unstable_by(mid, f64::total_cmp);
    let lo = sorted[..mid]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let pref = if sorted.len().is_multiple_of(2) {
        0.5 * (lo + hi)
    } else {
        hi
    };
    drop(sorted);
    for i in 0..n {
        s[i * n + i] = pref;
    }
    // Remove degeneracies with noise scaled to the similarities (scikit-learn).
    let mut rng = stream(seed, "affinity-propagation");
    for v in s.iter_mut() {
        let z: f64 = StandardNormal.sample(&mut rng);
        *v += (f64::EPSILON * *v + f64::MIN_POSITIVE * 100.0) * z;
    }
    s
}

/// R ← damped (S + A − max over the other columns), row by row.
fn responsibilities(s: &[f64], a: &[f64], r: &mut [f64], tmp: &mut [f64], n: usize) {
    // Responsibilities, row by row.
    tmp.par_chunks_mut(n)
        .zip(r.par_chunks_mut(n))
        .enumerate()
        .for_each(|(i, (t, rr))| {
            let (srow, arow) = (&s[i * n..(i + 1) * n], &a[i * n..(i + 1) * n]);
            let (mut y, mut im, mut y2) = (f64::NEG_INFINITY, 0, f64::NEG_INFINITY);
            for j in 0..n {
                let v = arow[j] + srow[j];
                if v > y {
                    y2 = y;
                    y = v;
                    im = j;
                } else if v > y2 {
                    y2 = v;
                }
            }
            for j in 0..n {
                t[j] = srow[j] - y;
            }
            t[im] = srow[im] - y2;
            for j in 0..n {
                rr[j] = rr[j] * DAMPING + t[j] * (1.0 - DAMPING);
            }
        });
}

/// A ← damped availabilities from the column sums of max(R, 0).
fn availabilities(r: &[f64], a: &mut [f64], n: usize) {
    // Availabilities: column sums of max(R, 0) (diagonal kept as is),
    // reduced over rows in order within column blocks.
    let colsum: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|k| {
            (0..n)
                .map(|i| {
                    let v = r[i * n + k];
                    if i == k {
                        v
                    } else {
                        v.max(0.0)
                    }
                })
                .sum()
        })
        .collect();
    a.par_chunks_mut(n).enumerate().for_each(|(i, arow)| {
        for k in 0..n {
            let rp = if i == k {
                r[i * n + k]
            } else {
                r[i * n + k].max(0.0)
            };
            // −Anew = rp − colsum, clipped at 0 off the diagonal.
            let neg = rp - colsum[k];
            let neg = if i == k { neg } else { neg.max(0.0) };
            arow[k] = arow[k] * DAMPING - neg * (1.0 - DAMPING);
        }
    });
}

/// Labels from the exemplars `e`: each exemplar refined to the member with
/// the largest summed similarity, then every cell to its most similar exemplar
/// (−1 for every cell when there is none).
fn labels(s: &[f64], e: &[bool], n: usize) -> Vec<i64> {
    let mut ex: Vec<usize> = (0..n).filter(|&i| e[i]).collect();
    if ex.is_empty() {
        return vec![-1; n];
    }
    let assign = |ex: &[usize]| -> Vec<usize> {
        (0..n)
            .map(|i| {
                if let Some(p) = ex.iter().position(|&x| x == i) {
                    return p;
                }
                let mut best = (f64::NEG_INFINITY, 0);
                for (p, &x) in ex.iter().enumerate() {
                    if s[i * n + x] > best.0 {
                        best = (s[i * n + x], p);
                    }
                }
                best.1
            })
            .collect()
    };
    // Refine each exemplar to the member maximising the summed similarity.
    let c = assign(&ex);
    for (k, x) in ex.iter_mut().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&i| c[i] == k).collect();
        let mut best = (f64::NEG_INFINITY, *x);
        for &j in &members {
            let t: f64 = members.iter().map(|&i| s[i * n + j]).sum();
            if t > best.0 {
                best = (t, j);
            }
        }
        *x = best.1;
    }
    let c = assign(&ex);
    c.into_iter().map(|p| ex[p] as i64).collect()
}
