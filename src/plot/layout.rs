//! 2-D layout of the cells for the figures: UMAP (McInnes et al. 2018) computed
//! from the KNN graph of the embedding, with a measured quality and a PCA fallback.
//!
//! The UMAP follows umap-learn 0.5 (`fuzzy_simplicial_set`, `find_ab_params`,
//! `optimize_layout_euclidean`) with a PCA initialisation (`init="pca"`): a
//! spectral initialisation needs an eigensolver on the N × N graph Laplacian,
//! which we avoid (no O(N²) memory). The SGD runs on one thread with one seeded
//! stream, so a layout depends only on the embedding and the seed.
//!
//! Quality: a 2-D picture is only useful if cells that are neighbours — and
//! clusters that are separated — in the embedding stay so in the picture. Two
//! measures, both on k nearest neighbours (`quality_k`):
//! - *label purity*: the mean fraction of a cell's neighbours that share its
//!   label. Computed in the embedding and in the layout, the ratio says how much
//!   cluster separation the picture lost;
//! - *kNN preservation*: the mean fraction of a cell's embedding neighbours that
//!   are also its layout neighbours.
//!
//! UMAP is kept unless its label purity falls below `min_purity_ratio` times the
//! embedding's and PCA does better, in which case the PCA layout is drawn.

use faer::{Mat, Side};
use rand::Rng as _;

use crate::error::{Error, Result};
use crate::graph::knn::{knn, Distance, Knn};
use crate::matrix::Dense;

/// Layout parameters. Defaults are umap-learn's (`n_neighbors=15`,
/// `min_dist=0.1`, `spread=1.0`, `negative_sample_rate=5`,
/// `learning_rate=1.0`, 500 epochs up to 10 000 cells and 200 above).
#[derive(Clone, Debug)]
pub struct LayoutParams {
    /// Neighbours of the fuzzy graph, the cell itself included (as umap-learn).
    pub n_neighbors: usize,
    /// Smallest distance between points in the layout.
    pub min_dist: f64,
    /// Scale of the embedded points.
    pub spread: f64,
    /// SGD epochs; `None` = 500 up to 10 000 cells, 200 above.
    pub n_epochs: Option<usize>,
    /// Negative samples per positive sample.
    pub negative_sample_rate: usize,
    /// Initial SGD learning rate.
    pub learning_rate: f64,
    /// Neighbours used by the quality measures.
    pub quality_k: usize,
    /// UMAP is replaced by PCA when its label purity is below this fraction of
    /// the embedding's purity and PCA's purity is higher.
    pub min_purity_ratio: f64,
    /// Seed of the initial noise, the negative sampling and the drawing order.
    pub seed: u64,
}

impl Default for LayoutParams {
    fn default() -> Self {
        LayoutParams {
            n_neighbors: 15,
            min_dist: 0.1,
            spread: 1.0,
            n_epochs: None,
            negative_sample_rate: 5,
            learning_rate: 1.0,
            quality_k: 10,
            min_purity_ratio: 0.9,
            seed: 0,
        }
    }
}

impl LayoutParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.n_neighbors < 2 {
            return Err(Error::Usage("UMAP needs n_neighbors >= 2".into()));
        }
        if !(self.spread > 0.0 && self.min_dist >= 0.0 && self.min_dist < self.spread * 3.0) {
            return Err(Error::Usage(
                "UMAP needs spread > 0 and 0 <= min_dist < 3·spread".into(),
            ));
        }
        if self.n_epochs == Some(0) || self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
            return Err(Error::Usage(
                "UMAP needs at least one epoch and a positive learning rate".into(),
            ));
        }
        if self.quality_k == 0 || !(0.0..=1.0).contains(&self.min_purity_ratio) {
            return Err(Error::Usage(
                "layout quality needs quality_k >= 1 and min_purity_ratio in [0, 1]".into(),
            ));
        }
        Ok(())
    }
}

/// Which algorithm produced a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LayoutMethod {
    /// UMAP of the embedding's KNN graph.
    Umap,
    /// The first two principal components of the embedding.
    Pca,
}

impl LayoutMethod {
    /// Axis prefix used in the figures (`UMAP`, `PC`).
    pub fn axis(&self) -> &'static str {
        match self {
            LayoutMethod::Umap => "UMAP",
            LayoutMethod::Pca => "PC",
        }
    }
}

/// Quality of one 2-D layout against the embedding.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayoutScore {
    /// Mean fraction of a cell's layout neighbours in its cluster.
    pub cluster_purity: f64,
    /// The same for the ground-truth labels, when given.
    pub truth_purity: Option<f64>,
    /// Mean fraction of a cell's embedding neighbours that are layout neighbours.
    pub knn_preservation: f64,
}

/// The measures of both candidate layouts and of the embedding itself.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayoutQuality {
    /// Neighbours used.
    pub k: usize,
    /// Cluster purity of the embedding's own neighbourhoods (the reference).
    pub embedding_cluster_purity: f64,
    /// Truth purity of the embedding's neighbourhoods, when labels are given.
    pub embedding_truth_purity: Option<f64>,
    /// Scores of the UMAP layout.
    pub umap: LayoutScore,
    /// Scores of the PCA layout.
    pub pca: LayoutScore,
}

/// A 2-D layout of the cells.
#[derive(Clone, Debug)]
pub struct Layout {
    /// One (x, y) per cell, in the input order.
    pub coords: Vec<[f32; 2]>,
    /// The algorithm kept.
    pub method: LayoutMethod,
    /// Why: the measures behind the choice (`None` below 4 cells, where PCA is used).
    pub quality: Option<LayoutQuality>,
}

impl Layout {
    /// The score of the kept layout, if measured.
    pub fn score(&self) -> Option<&LayoutScore> {
        self.quality.as_ref().map(|q| match self.method {
            LayoutMethod::Umap => &q.umap,
            LayoutMethod::Pca => &q.pca,
        })
    }
}

/// The 2-D layout of `emb` (cells × d): UMAP, or PCA when UMAP loses the
/// cluster separation (see the module doc). `clusters` are the run's labels;
/// `truth` (codes) only adds a reported measure and never changes the choice.
pub fn layout(
    emb: &Dense,
    clusters: &[usize],
    truth: Option<&[usize]>,
    p: &LayoutParams,
) -> Result<Layout> {
    p.validate()?;
    let n = emb.rows;
    if clusters.len() != n || truth.is_some_and(|t| t.len() != n) {
        return Err(Error::Usage(format!(
            "layout: {n} embedding rows but {} cluster labels",
            clusters.len()
        )));
    }
    let pca = pca_2d(emb)?;
    if n < 4 {
        return Ok(Layout {
            coords: pca,
            method: LayoutMethod::Pca,
            quality: None,
        });
    }
    let um = umap(emb, Some(&pca), p)?;
    let k = p.quality_k.min(n - 1);
    let emb_knn = knn(emb, k, Distance::Euclidean)?;
    let score = |coords: &[[f32; 2]]| -> Result<LayoutScore> {
        let lk = knn(&to_dense(coords), k, Distance::Euclidean)?;
        Ok(LayoutScore {
            cluster_purity: purity(&lk, clusters),
            truth_purity: truth.map(|t| purity(&lk, t)),
            knn_preservation: preservation(&emb_knn, &lk),
        })
    };
    let quality = LayoutQuality {
        k,
        embedding_cluster_purity: purity(&emb_knn, clusters),
        embedding_truth_purity: truth.map(|t| purity(&emb_knn, t)),
        umap: score(&um)?,
        pca: score(&pca)?,
    };
    let method = choose(&quality, p.min_purity_ratio);
    Ok(Layout {
        coords: if method == LayoutMethod::Umap {
            um
        } else {
            pca
        },
        method,
        quality: Some(quality),
    })
}

/// The fallback rule: UMAP unless its cluster purity is below `min_ratio` × the
/// embedding's and PCA's is higher.
pub fn choose(q: &LayoutQuality, min_ratio: f64) -> LayoutMethod {
    let poor = q.umap.cluster_purity < min_ratio * q.embedding_cluster_purity;
    if poor && q.pca.cluster_purity > q.umap.cluster_purity {
        LayoutMethod::Pca
    } else {
        LayoutMethod::Umap
    }
}

/// Mean over cells of the fraction of its neighbours carrying its label.
pub fn purity(g: &Knn, labels: &[usize]) -> f64 {
    let s: f64 = (0..g.n)
        .map(|i| {
            let same = g
                .neighbors(i)
                .iter()
                .filter(|&&j| labels[j as usize] == labels[i])
                .count();
            same as f64 / g.k as f64
        })
        .sum();
    s / g.n as f64
}

/// Mean over cells of |N_a(i) ∩ N_b(i)| / k (both graphs with the same k).
pub fn preservation(a: &Knn, b: &Knn) -> f64 {
    let s: f64 = (0..a.n)
        .map(|i| {
            let nb = b.neighbors(i);
            let common = a.neighbors(i).iter().filter(|j| nb.contains(j)).count();
            common as f64 / a.k as f64
        })
        .sum();
    s / a.n as f64
}

fn to_dense(coords: &[[f32; 2]]) -> Dense {
    Dense::from_vec(coords.len(), 2, coords.iter().flatten().copied().collect())
}

/// The first two principal components of `emb` (cells × d), signs fixed so the
/// largest-magnitude loading of each component is positive. The d × d covariance
/// is eigendecomposed (faer), so memory is O(N·d + d²).
pub fn pca_2d(emb: &Dense) -> Result<Vec<[f32; 2]>> {
    let (n, d) = (emb.rows, emb.cols);
    if n == 0 || d == 0 {
        return Err(Error::Data(
            "no cells or no embedding dimension to lay out".into(),
        ));
    }
    if emb.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numeric(
            "the embedding holds NaN or infinite values".into(),
        ));
    }
    let mut mean = vec![0f64; d];
    for r in 0..n {
        for (m, &v) in mean.iter_mut().zip(emb.row(r)) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = Mat::<f64>::zeros(d, d);
    let mut c = vec![0f64; d];
    for r in 0..n {
        for ((ci, &v), m) in c.iter_mut().zip(emb.row(r)).zip(&mean) {
            *ci = v as f64 - m;
        }
        for a in 0..d {
            if c[a] != 0.0 {
                for b in 0..=a {
                    cov[(a, b)] += c[a] * c[b];
                }
            }
        }
    }
    let eig = cov
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Numeric(format!("PCA eigendecomposition: {e:?}")))?;
    let u = eig.U();
    // Eigenvalues come in non-decreasing order: the last columns are the top components.
    let comps: Vec<Vec<f64>> = (0..2)
        .map(|t| {
            if t >= d {
                return vec![0.0; d];
            }
            let col: Vec<f64> = (0..d).map(|a| u[(a, d - 1 - t)]).collect();
            let big = col
                .iter()
                .copied()
                .fold(0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            let s = if big < 0.0 { -1.0 } else { 1.0 };
            col.iter().map(|v| v * s).collect()
        })
        .collect();
    Ok((0..n)
        .map(|r| {
            let row = emb.row(r);
            let proj = |w: &[f64]| -> f32 {
                row.iter()
                    .zip(&mean)
                    .zip(w)
                    .map(|((&v, m), w)| (v as f64 - m) * w)
                    .sum::<f64>() as f32
            };
            [proj(&comps[0]), proj(&comps[1])]
        })
        .collect())
}

/// The `a`, `b` of the layout's low-dimensional similarity 1 / (1 + a·d^(2b)),
/// least-squares fitted (Levenberg–Marquardt) to the target curve of
/// umap-learn's `find_ab_params`: 1 below `min_dist`, exp(−(d − min_dist)/spread)
/// above, on 300 points of [0, 3·spread].
pub fn find_ab_params(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let sse = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (1.0 / (1.0 + a * x.powf(2.0 * b)) - y).powi(2))
            .sum()
    };
    let (mut a, mut b, mut lambda) = (1.0f64, 1.0f64, 1e-3f64);
    let mut cur = sse(a, b);
    for _ in 0..500 {
        // Normal equations of the 2-parameter problem.
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            if x <= 0.0 {
                continue;
            }
            let p = x.powf(2.0 * b);
            let den = 1.0 + a * p;
            let f = 1.0 / den;
            let da = -p / (den * den);
            let db = -a * p * 2.0 * x.ln() / (den * den);
            let r = f - y;
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        let (maa, mbb) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = maa * mbb - jab * jab;
        if det.abs() < 1e-300 {
            break;
        }
        let sa = -(mbb * ga - jab * gb) / det;
        let sb = -(maa * gb - jab * ga) / det;
        let (na, nb) = (a + sa, b + sb);
        let next = if na > 0.0 && nb > 0.0 {
            sse(na, nb)
        } else {
            f64::INFINITY
        };
        if next < cur {
            let done = (cur - next) <= 1e-15 * cur.max(1e-300);
            a = na;
            b = nb;
            cur = next;
            lambda = (lambda / 10.0).max(1e-12);
            if done {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

/// Symmetric fuzzy graph as directed edge lists (both directions of every
/// undirected edge, as the sparse matrix umap-learn iterates over).
struct Fuzzy {
    head: Vec<u32>,
    tail: Vec<u32>,
    weight: Vec<f32>,
}

/// umap-learn's `smooth_knn_dist` + `compute_membership_strengths` + fuzzy union.
fn fuzzy_graph(g: &Knn, n_neighbors: usize) -> Fuzzy {
    const TOL: f64 = 1e-5;
    const MIN_K_DIST_SCALE: f64 = 1e-3;
    let target = (n_neighbors as f64).log2();
    let mean_all = g.dists.iter().map(|&v| v as f64).sum::<f64>() / g.dists.len().max(1) as f64;
    let mut directed: Vec<(u32, u32, f32)> = Vec::with_capacity(g.n * g.k);
    for i in 0..g.n {
        let ds: Vec<f64> = g.distances(i).iter().map(|&v| v as f64).collect();
        let rho = ds.iter().copied().find(|&v| v > 0.0).unwrap_or(0.0);
        let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..64 {
            let psum: f64 = ds
                .iter()
                .map(|&v| {
                    let d = v - rho;
                    if d > 0.0 {
                        (-d / mid).exp()
                    } else {
                        1.0
                    }
                })
                .sum();
            if (psum - target).abs() < TOL {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = if hi.is_infinite() {
                    mid * 2.0
                } else {
                    (lo + hi) / 2.0
                };
            }
        }
        let mean_i = ds.iter().sum::<f64>() / ds.len() as f64;
        let floor = MIN_K_DIST_SCALE * if rho > 0.0 { mean_i } else { mean_all };
        let sigma = mid.max(floor);
        for (&j, &v) in g.neighbors(i).iter().zip(&ds) {
            let w = if v - rho <= 0.0 || sigma == 0.0 {
                1.0
            } else {
                (-(v - rho) / sigma).exp()
            };
            directed.push((i as u32, j, w as f32));
        }
    }
    // Fuzzy union w_ij + w_ji − w_ij·w_ji over the undirected pairs.
    let mut keyed: Vec<(u32, u32, f32)> = directed
        .into_iter()
        .map(|(i, j, w)| (i.min(j), i.max(j), w))
        .collect();
    keyed.sort_unstable_by_key(|x| (x.0, x.1));
    let mut f = Fuzzy {
        head: Vec::new(),
        tail: Vec::new(),
        weight: Vec::new(),
    };
    let mut t = 0;
    while t < keyed.len() {
        let (i, j, mut w) = keyed[t];
        if t + 1 < keyed.len() && keyed[t + 1].0 == i && keyed[t + 1].1 == j {
            let w2 = keyed[t + 1].2;
            w = w + w2 - w * w2;
            t += 1;
        }
        t += 1;
        if w > 0.0 {
            for (h, tl) in [(i, j), (j, i)] {
                f.head.push(h);
                f.tail.push(tl);
                f.weight.push(w);
            }
        }
    }
    f
}

/// UMAP of `emb` (cells × d, euclidean) into 2-D. `init` is the starting layout
/// (the PCA of `emb` when `None`), rescaled to ±10 with N(0, 10⁻⁴) noise as
/// umap-learn's `noisy_scale_coords`. Needs at least 3 cells.
pub fn umap(emb: &Dense, init: Option<&[[f32; 2]]>, p: &LayoutParams) -> Result<Vec<[f32; 2]>> {
    p.validate()?;
    let n = emb.rows;
    if n < 3 {
        return Err(Error::Data(format!("UMAP needs at least 3 cells, got {n}")));
    }
    let k = (p.n_neighbors - 1).min(n - 1);
    let g = knn(emb, k, Distance::Euclidean)?;
    let fuzzy = fuzzy_graph(&g, k + 1);
    let owned;
    let init = match init {
        Some(c) if c.len() == n => c,
        Some(c) => {
            return Err(Error::Usage(format!(
                "UMAP init has {} points for {n} cells",
                c.len()
            )))
        }
        None => {
            owned = pca_2d(emb)?;
            &owned
        }
    };
    let mut rng = crate::rng::stream(p.seed, "plot-umap");
    let maxabs = init.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    let normal = rand_distr::Normal::new(0.0f32, 1e-4).expect("valid normal");
    let mut y: Vec<[f32; 2]> = init
        .iter()
        .map(|c| {
            c.map(|v| {
                let base = if maxabs > 0.0 {
                    10.0 * v / maxabs
                } else {
                    rng.random_range(-10.0f32..10.0)
                };
                base + rand_distr::Distribution::sample(&normal, &mut rng)
            })
        })
        .collect();
    let n_epochs = p.n_epochs.unwrap_or(if n <= 10_000 { 500 } else { 200 });
    let (a, b) = find_ab_params(p.spread, p.min_dist);
    optimize(&mut y, &fuzzy, n_epochs, a as f32, b as f32, p, &mut rng);
    Ok(y)
}

/// umap-learn's `optimize_layout_euclidean` (move_other = true), one thread.
fn optimize(
    y: &mut [[f32; 2]],
    f: &Fuzzy,
    n_epochs: usize,
    a: f32,
    b: f32,
    p: &LayoutParams,
    rng: &mut crate::rng::Rng,
) {
    let n = y.len();
    let wmax = f.weight.iter().copied().fold(0f32, f32::max);
    if wmax <= 0.0 {
        return;
    }
    // Edges too weak to be sampled even once in n_epochs are dropped (as umap-learn).
    let keep: Vec<usize> = (0..f.weight.len())
        .filter(|&e| f.weight[e] >= wmax / n_epochs as f32)
        .collect();
    let eps: Vec<f64> = keep.iter().map(|&e| (wmax / f.weight[e]) as f64).collect();
    let neg_rate = p.negative_sample_rate as f64;
    let eps_neg: Vec<f64> = eps.iter().map(|e| e / neg_rate).collect();
    let mut next = eps.clone();
    let mut next_neg = eps_neg.clone();
    let clip = |v: f32| v.clamp(-4.0, 4.0);
    for epoch in 0..n_epochs {
        let alpha = (p.learning_rate * (1.0 - epoch as f64 / n_epochs as f64)) as f32;
        let ep = epoch as f64;
        for (t, &e) in keep.iter().enumerate() {
            if next[t] > ep {
                continue;
            }
            let (j, k) = (f.head[e] as usize, f.tail[e] as usize);
            let (cur, other) = (y[j], y[k]);
            let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
            let coef = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for c in 0..2 {
                let g = clip(coef * (cur[c] - other[c])) * alpha;
                y[j][c] += g;
                y[k][c] -= g;
            }
            next[t] += eps[t];
            let n_neg = ((ep - next_neg[t]) / eps_neg[t]).floor().max(0.0) as usize;
            for _ in 0..n_neg {
                let r = rng.random_range(0..n);
                if r == j {
                    continue;
                }
                let (cur, other) = (y[j], y[r]);
                let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
                let coef = if d2 > 0.0 {
                    2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else {
                    0.0
                };
                for c in 0..2 {
                    let g = if coef > 0.0 {
                        clip(coef * (cur[c] - other[c]))
                    } else {
                        4.0
                    };
                    y[j][c] += g * alpha;
                }
            }
            next_neg[t] += n_neg as f64 * eps_neg[t];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ab_params_match_umap_learn() {
        // umap.umap_.find_ab_params(1.0, 0.1) = (1.576943460405378, 0.8950608781227859)
        // (umap-learn 0.5, scipy curve_fit).
        let (a, b) = find_ab_params(1.0, 0.1);
        assert!((a - 1.576943).abs() < 2e-3, "a = {a}");
        assert!((b - 0.895061).abs() < 1e-3, "b = {b}");
    }

    #[test]
    fn pca_recovers_the_main_axis() {
        // Points on the line y = 2x in 3-D with small orthogonal jitter: PC1 spans it.
        // t is centred (mean 0 over i = 0..50), so the projection is ±t·√5.
        let n = 50;
        let mut data = Vec::new();
        for i in 0..n {
            let t = i as f32 - 24.5;
            data.extend([t, 2.0 * t, 0.01 * ((i % 3) as f32)]);
        }
        let c = pca_2d(&Dense::from_vec(n, 3, data)).unwrap();
        let norm = 5f32.sqrt();
        for (i, p) in c.iter().enumerate() {
            let t = i as f32 - 24.5;
            // The largest loading (on y) is made positive: PC1 = +t·√5.
            assert!((p[0] - t * norm).abs() < 1e-2, "{p:?} at {t}");
            assert!(p[1].abs() < 0.05);
        }
    }

    #[test]
    fn fallback_rule() {
        let s = |c| LayoutScore {
            cluster_purity: c,
            truth_purity: None,
            knn_preservation: 0.5,
        };
        let q = |u, pc| LayoutQuality {
            k: 10,
            embedding_cluster_purity: 1.0,
            embedding_truth_purity: None,
            umap: s(u),
            pca: s(pc),
        };
        assert_eq!(choose(&q(0.95, 0.99), 0.9), LayoutMethod::Umap);
        assert_eq!(choose(&q(0.6, 0.8), 0.9), LayoutMethod::Pca);
        assert_eq!(choose(&q(0.6, 0.5), 0.9), LayoutMethod::Umap);
    }
}
