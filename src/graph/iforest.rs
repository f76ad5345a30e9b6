//! A small isolation forest with scikit-learn's semantics (`IsolationForest`,
//! `contamination='auto'`), used by the `KNNgraphML` pruning (spec §4.3).
//!
//! Semantics kept from scikit-learn: each tree is grown on `max_samples` points drawn
//! without replacement; a node splits on a feature drawn uniformly among those that are
//! not constant in the node, at a threshold uniform in [min, max) (x ≤ t goes left); growth
//! stops at depth ⌈log2 max_samples⌉ or at one sample. The path length of a point is its
//! leaf depth plus c(leaf size); the score is −2^(−E[h]/c(max_samples)) and a point is an
//! outlier when its score is below −0.5. Unlike scGNN (unseeded), the forest draws from
//! the RNG it is given.

use rand::Rng as _;

use crate::rng::Rng;

/// Parameters of the forest; `Default` is scikit-learn's (and so scGNN's).
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForestParams {
    /// Number of trees (`n_estimators`, 100).
    pub n_trees: usize,
    /// Points per tree (`max_samples='auto'` = min(256, n)).
    pub max_samples: usize,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            n_trees: 100,
            max_samples: 256,
        }
    }
}

/// scikit-learn's `offset_` for `contamination='auto'`: outliers score below it.
pub const AUTO_OFFSET: f64 = -0.5;

/// Features whose spread in a node is at most this are constant (scikit-learn's `FEATURE_THRESHOLD`).
const FEATURE_THRESHOLD: f64 = 1e-7;

#[derive(Clone, Debug)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// A fitted forest.
#[derive(Clone, Debug)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    psi: usize,
    dim: usize,
}

impl IsolationForest {
    /// Fits on `n` points of dimension `dim` stored row-major in `x`.
    /// `n` must be at least 1 and `x.len() == n * dim` (internal callers guarantee both).
    pub fn fit(x: &[f32], dim: usize, params: &IsolationForestParams, rng: &mut Rng) -> Self {
        let n = x.len() / dim.max(1);
        let psi = params.max_samples.min(n).max(1);
        let max_depth = (psi.max(2) as f64).log2().ceil() as usize;
        let mut pool: Vec<usize> = (0..n).collect();
        let trees = (0..params.n_trees)
            .map(|_| {
                // Partial Fisher–Yates: the first psi entries are a uniform sample without replacement.
                for i in 0..psi {
                    let j = rng.random_range(i..n);
                    pool.swap(i, j);
                }
                let mut sample = pool[..psi].to_vec();
                let mut nodes = Vec::new();
                grow(x, dim, &mut sample, 0, max_depth, rng, &mut nodes);
                nodes
            })
            .collect();
        IsolationForest { trees, psi, dim }
    }

    /// scikit-learn's `score_samples`: −2^(−E[h(x)]/c(ψ)); lower is more abnormal.
    pub fn score_samples(&self, x: &[f32]) -> Vec<f64> {
        let norm = average_path_length(self.psi);
        x.chunks_exact(self.dim)
            .map(|p| {
                let total: f64 = self.trees.iter().map(|t| path_length(t, p)).sum();
                let mean = total / self.trees.len() as f64;
                -(2f64).powf(-mean / norm)
            })
            .collect()
    }

    /// scikit-learn's `predict(x) == -1` with `contamination='auto'`: score below −0.5.
    pub fn outliers(&self, x: &[f32]) -> Vec<bool> {
        self.score_samples(x)
            .into_iter()
            .map(|s| s - AUTO_OFFSET < 0.0)
            .collect()
    }
}

/// Grows the subtree over `idx` at `depth`, appending nodes; returns the subtree root's id.
fn grow(
    x: &[f32],
    dim: usize,
    idx: &mut [usize],
    depth: usize,
    max_depth: usize,
    rng: &mut Rng,
    nodes: &mut Vec<Node>,
) -> usize {
    let id = nodes.len();
    nodes.push(Node::Leaf { size: idx.len() });
    if depth >= max_depth || idx.len() < 2 {
        return id;
    }
    // The feature is uniform among those that vary in this node (scikit-learn draws without
    // replacement until one varies). One uniform draw usually succeeds; only if it hits a
    // constant feature is the full draw without replacement run, which keeps the law uniform
    // over varying features while avoiding a per-node allocation in the common case.
    let spread = |f: usize| {
        idx.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                let v = x[i * dim + f] as f64;
                (lo.min(v), hi.max(v))
            })
    };
    let varies = |(lo, hi): (f64, f64)| hi > lo + FEATURE_THRESHOLD;
    let first = rng.random_range(0..dim);
    let mut chosen = Some(first).map(|f| (f, spread(f))).filter(|e| varies(e.1));
    if chosen.is_none() {
        let mut features: Vec<usize> = (0..dim).collect();
        let mut remaining = dim;
        while remaining > 0 {
            let t = rng.random_range(0..remaining);
            let f = features[t];
            features.swap(t, remaining - 1);
            remaining -= 1;
            let range = spread(f);
            if varies(range) {
                chosen = Some((f, range));
                break;
            }
        }
    }
    let split = chosen.map(|(f, (lo, hi))| {
        let mut t = lo + (hi - lo) * rng.random::<f64>();
        if t >= hi {
            t = lo;
        }
        (f, t)
    });
    let Some((feature, threshold)) = split else {
        return id;
    };
    // Partition: points with x ≤ threshold first.
    let mut cut = 0;
    for p in 0..idx.len() {
        if (x[idx[p] * dim + feature] as f64) <= threshold {
            idx.swap(p, cut);
            cut += 1;
        }
    }
    let (l, r) = idx.split_at_mut(cut);
    let left = grow(x, dim, l, depth + 1, max_depth, rng, nodes);
    let right = grow(x, dim, r, depth + 1, max_depth, rng, nodes);
    nodes[id] = Node::Split {
        feature,
        threshold,
        left,
        right,
    };
    id
}

/// Edges from the root to the point's leaf plus c(leaf size).
fn path_length(tree: &[Node], p: &[f32]) -> f64 {
    let mut node = 0;
    let mut depth = 0usize;
    loop {
        match tree[node] {
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                node = if (p[feature] as f64) <= threshold {
                    left
                } else {
                    right
                };
                depth += 1;
            }
            Node::Leaf { size } => return depth as f64 + average_path_length(size),
        }
    }
}

/// c(n): the average path length of an unsuccessful search in a binary search tree of n
/// points (scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}
