//! OPTICS (scikit-learn's `OPTICS(min_samples = k/2, min_cluster_size = 5)` as
//! scGNN calls it: max_eps = ∞, Euclidean, ξ = 0.05 extraction with predecessor
//! correction). With max_eps = ∞ every processed cell updates the reachability
//! of all unprocessed cells, so time is O(N²·d) (memory O(N)): [`LIMIT`].
//! Cells in no ξ-cluster are noise (−1); the guard assigns them to the nearest
//! cluster centroid.

use super::{check_quadratic, sqdist, Method};
use crate::error::Result;
use crate::matrix::Dense;
use rayon::prelude::*;

/// Cell limit (quadratic time).
pub(crate) const LIMIT: usize = 20_000;
const XI: f64 = 0.05;
/// scGNN passes `min_cluster_size = minMemberinCluster` (5).
const MIN_CLUSTER_SIZE: usize = 5;

/// OPTICS labels (−1 = noise).
pub(crate) fn optics(emb: &Dense, min_samples: usize) -> Result<Vec<i64>> {
    let n = emb.rows;
    check_quadratic(Method::Optics, n, LIMIT, "O(N²·d) time with max_eps = ∞")?;
    let ms = min_samples.clamp(1, n);
    // Core distance: distance to the ms-th nearest cell, the cell itself first.
    let core: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut d: Vec<f64> = (0..n)
                .map(|j| {
                    if i == j {
                        0.0
                    } else {
                        sqdist(emb.row(i), emb.row(j))
                    }
                })
                .collect();
            let (_, v, _) = d.select_nth_unstable_by(ms - 1, f64::total_cmp);
            v.sqrt()
        })
        .collect();
    let mut reach = vec![f64::INFINITY; n];
    let mut pred = vec![-1i64; n];
    let mut done = vec![false; n];
    let mut ordering = Vec::with_capacity(n);
    for _ in 0..n {
        // First unprocessed cell with the smallest reachability.
        let mut p = usize::MAX;
        for i in 0..n {
            if !done[i] && (p == usize::MAX || reach[i] < reach[p]) {
                p = i;
            }
        }
        done[p] = true;
        ordering.push(p);
        if core[p].is_finite() {
            let cp = core[p];
            let upd: Vec<(usize, f64)> = (0..n)
                .into_par_iter()
                .filter(|&j| !done[j])
                .filter_map(|j| {
                    let r = sqdist(emb.row(p), emb.row(j)).sqrt().max(cp);
                    (r < reach[j]).then_some((j, r))
                })
                .collect();
            for (j, r) in upd {
                reach[j] = r;
                pred[j] = p as i64;
            }
        }
    }
    let rp: Vec<f64> = ordering.iter().map(|&i| reach[i]).collect();
    let pp: Vec<i64> = ordering.iter().map(|&i| pred[i]).collect();
    let min_size = MIN_CLUSTER_SIZE.max(2);
    let clusters = xi_clusters(&rp, &pp, &ordering, ms, min_size);
    let mut lab_ord = vec![-1i64; n];
    let mut next = 0;
    for (s, e) in clusters {
        if lab_ord[s..=e].iter().all(|&l| l == -1) {
            lab_ord[s..=e].iter_mut().for_each(|l| *l = next);
            next += 1;
        }
    }
    let mut labels = vec![-1i64; n];
    for (pos, &i) in ordering.iter().enumerate() {
        labels[i] = lab_ord[pos];
    }
    Ok(labels)
}

struct Sda {
    start: usize,
    end: usize,
    mib: f64,
}

/// scikit-learn's `_xi_cluster` (Ankerst et al. Fig. 19 with its corrections).
fn xi_clusters(
    reach: &[f64],
    pred: &[i64],
    ordering: &[usize],
    min_samples: usize,
    min_size: usize,
) -> Vec<(usize, usize)> {
    let n = reach.len();
    let mut r = reach.to_vec();
    r.push(f64::INFINITY);
    let xc = 1.0 - XI;
    let ratio: Vec<f64> = (0..n).map(|i| r[i] / r[i + 1]).collect();
    // NaN (∞/∞) compares false everywhere, as in numpy.
    let up_steep: Vec<bool> = ratio.iter().map(|&x| x <= xc).collect();
    let down_steep: Vec<bool> = ratio.iter().map(|&x| x >= 1.0 / xc).collect();
    let down: Vec<bool> = ratio.iter().map(|&x| x > 1.0).collect();
    let up: Vec<bool> = ratio.iter().map(|&x| x < 1.0).collect();
    let mut sdas: Vec<Sda> = Vec::new();
    let mut clusters = Vec::new();
    let mut index = 0;
    let mut mib = 0f64;
    for steep in (0..n).filter(|&i| up_steep[i] || down_steep[i]) {
        if steep < index {
            continue;
        }
        mib = r[index..=steep].iter().copied().fold(mib, f64::max);
        filter_sdas(&mut sdas, mib, xc, &r);
        if down_steep[steep] {
            let end = extend_region(&down_steep, &up, steep, min_samples);
            sdas.push(Sda {
                start: steep,
                end,
                mib: 0.0,
            });
            index = end + 1;
            mib = r[index];
        } else {
            let u_start = steep;
            let u_end = extend_region(&up_steep, &down, u_start, min_samples);
            index = u_end + 1;
            mib = r[index];
            let mut found = Vec::new();
            for d in &sdas {
                let mut c_start = d.start;
                let mut c_end = u_end;
                if r[c_end + 1] * xc < d.mib {
                    continue;
                }
                let d_max = r[d.start];
                if d_max * xc >= r[c_end + 1] {
                    while r[c_start + 1] > r[c_end + 1] && c_start < d.end {
                        c_start += 1;
                    }
                } else if r[c_end + 1] * xc >= d_max {
                    while r[c_end - 1] > d_max && c_end > u_start {
                        c_end -= 1;
                    }
                }
                let Some((s, e)) = correct_predecessor(&r, pred, ordering, c_start, c_end) else {
                    continue;
                };
                if e + 1 - s < min_size || s > d.end || e < u_start {
                    continue;
                }
                found.push((s, e));
            }
            found.reverse();
            clusters.extend(found);
        }
    }
    clusters
}

fn filter_sdas(sdas: &mut Vec<Sda>, mib: f64, xc: f64, r: &[f64]) {
    if mib.is_infinite() {
        sdas.clear();
        return;
    }
    sdas.retain(|s| mib <= r[s.start] * xc);
    for s in sdas.iter_mut() {
        s.mib = s.mib.max(mib);
    }
}

fn extend_region(steep: &[bool], xward: &[bool], start: usize, min_samples: usize) -> usize {
    let mut non_xward = 0;
    let mut end = start;
    for i in start..steep.len() {
        if steep[i] {
            non_xward = 0;
            end = i;
        } else if !xward[i] {
            non_xward += 1;
            if non_xward > min_samples {
                break;
            }
        } else {
            return end;
        }
    }
    end
}

fn correct_predecessor(
    r: &[f64],
    pred: &[i64],
    ordering: &[usize],
    s: usize,
    mut e: usize,
) -> Option<(usize, usize)> {
    while s < e {
        if r[s] > r[e] {
            return Some((s, e));
        }
        let pe = pred[e];
        if ordering[s..e].iter().any(|&o| o as i64 == pe) {
            return Some((s, e));
        }
        e -= 1;
    }
    None
}
