//! Ward agglomerative clustering (scikit-learn's `AgglomerativeClustering`,
//! linkage "ward") by the nearest-neighbour-chain algorithm with distances
//! computed on the fly from centroids and sizes: O(N·d) memory, O(N²·d) time,
//! hence the cell limit [`LIMIT`].
//!
//! `AgglomerativeClusteringK` cuts the tree at `n_clusters`. scGNN's plain
//! `AgglomerativeClustering()` silently used scikit-learn's default of 2
//! clusters; here it instead cuts at a distance threshold placed in the largest
//! relative gap between successive Ward merge heights, among the cuts giving
//! 2..=`max_clusters` clusters (the classic "longest branch" reading of a
//! dendrogram).

use super::{check_quadratic, Method};
use crate::error::Result;
use crate::matrix::Dense;
use rayon::prelude::*;

/// Cell (or point) limit: the NN-chain needs ~3·N nearest-neighbour scans of O(N·d).
pub(crate) const LIMIT: usize = 20_000;

/// Where to cut the Ward tree.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cut {
    /// Exactly this many clusters (fewer if there are fewer points).
    K(usize),
    /// Largest relative gap in merge heights, giving 2..=max clusters.
    Gap(usize),
}

/// Ward clustering of the cells of `emb`.
pub(crate) fn ward_cells(emb: &Dense, cut: Cut, method: Method) -> Result<Vec<usize>> {
    check_quadratic(method, emb.rows, LIMIT, "O(N²·d) time for the Ward tree")?;
    let x: Vec<f64> = emb.data.iter().map(|&v| v as f64).collect();
    Ok(ward(&x, emb.rows, emb.cols, cut))
}

/// Ward clustering of `n` unweighted points (row-major `n × d`); labels 0..K−1.
pub(crate) fn ward(x: &[f64], n: usize, d: usize, cut: Cut) -> Vec<usize> {
    if n <= 1 {
        return vec![0; n];
    }
    let merges = nn_chain(x, n, d);
    let k = match cut {
        Cut::K(k) => k.clamp(1, n),
        Cut::Gap(max) => {
            // With merge heights h sorted, keeping K clusters applies merges
            // 0..n−K; the gap is h[n−K] / h[n−K−1] (next merge over last one).
            let h: Vec<f64> = merges.iter().map(|m| m.2).collect();
            let max = max.min(n - 1);
            let mut best = (f64::NEG_INFINITY, 2.min(n));
            for k in 2..=max {
                let ratio = h[n - k] / h[n - k - 1].max(f64::MIN_POSITIVE);
                if ratio > best.0 {
                    best = (ratio, k);
                }
            }
            best.1
        }
    };
    // Union-find over the first n−k merges in height order.
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut a: usize) -> usize {
        while p[a] != a {
            p[a] = p[p[a]];
            a = p[a];
        }
        a
    }
    for &(a, b, _) in merges.iter().take(n - k) {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    let mut map = std::collections::HashMap::new();
    roots
        .iter()
        .map(|r| {
            let m = map.len();
            *map.entry(*r).or_insert(m)
        })
        .collect()
}

/// Ward merges as (point a, point b, height), sorted by height (stable). Each
/// cluster is identified by one of its original points, so the merges can be
/// replayed with a union-find. Heights are scipy's: √(2·nA·nB/(nA+nB))·‖cA−cB‖.
fn nn_chain(x: &[f64], n: usize, d: usize) -> Vec<(usize, usize, f64)> {
    let mut cent = x.to_vec();
    let mut size = vec![1f64; n];
    let mut active = vec![true; n];
    let mut merges = Vec::with_capacity(n - 1);
    let mut chain: Vec<usize> = Vec::new();
    let cost = |cent: &[f64], size: &[f64], a: usize, b: usize| {
        let s: f64 = (0..d)
            .map(|j| {
                let t = cent[a * d + j] - cent[b * d + j];
                t * t
            })
            .sum();
        s * size[a] * size[b] / (size[a] + size[b])
    };
    let mut next_start = 0;
    while merges.len() < n - 1 {
        if chain.is_empty() {
            while !active[next_start] {
                next_start += 1;
            }
            chain.push(next_start);
        }
        let a = *chain.last().unwrap_or(&0);
        let (best_c, best_b) = (0..n)
            .into_par_iter()
            .filter(|&b| active[b] && b != a)
            .map(|b| (cost(&cent, &size, a, b), b))
            .reduce(
                || (f64::INFINITY, usize::MAX),
                |p, q| {
                    if q.0 < p.0 || (q.0 == p.0 && q.1 < p.1) {
                        q
                    } else {
                        p
                    }
                },
            );
        // Prefer the previous chain element on ties, so the chain terminates.
        let prev = (chain.len() >= 2).then(|| chain[chain.len() - 2]);
        let b = match prev {
            Some(p) if cost(&cent, &size, a, p) <= best_c => p,
            _ => best_b,
        };
        if Some(b) == prev {
            chain.pop();
            chain.pop();
            let c = cost(&cent, &size, a, b);
            merges.push((a, b, (2.0 * c).sqrt()));
            let (keep, drop) = (a.min(b), a.max(b));
            let (na, nb) = (size[keep], size[drop]);
            for j in 0..d {
                cent[keep * d + j] =
                    (cent[keep * d + j] * na + cent[drop * d + j] * nb) / (na + nb);
            }
            size[keep] = na + nb;
            active[drop] = false;
        } else {
            chain.push(b);
        }
    }
    merges.sort_by(|p, q| p.2.total_cmp(&q.2));
    merges
}
