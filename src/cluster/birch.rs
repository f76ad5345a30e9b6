//! BIRCH (scikit-learn's `Birch`, threshold 0.5, branching factor 50): a CF-tree
//! built by inserting the cells in order, then either a global Ward step to K
//! clusters on the leaf subcluster centroids (`Birch`, `LouvainB`; unweighted, as
//! scikit-learn) or the subclusters themselves as clusters (`BirchN`). Every cell
//! gets the label of its nearest subcluster centroid (scikit-learn's `predict`).
//! Deterministic (no randomness); memory O(#subclusters · d).

use super::agglomerative::{self, Cut};
use super::{check_quadratic, Method};
use crate::error::Result;
use crate::matrix::Dense;
use rayon::prelude::*;

/// scikit-learn's default radius threshold.
const THRESHOLD: f64 = 0.5;
/// scikit-learn's default branching factor.
const BRANCHING: usize = 50;

/// A clustering feature: count, linear sum, squared sum (+ cached centroid).
#[derive(Clone)]
struct Sub {
    n: f64,
    ls: Vec<f64>,
    ss: f64,
    centroid: Vec<f64>,
    sq_norm: f64,
    child: Option<usize>,
}

impl Sub {
    fn empty(d: usize, child: usize) -> Sub {
        Sub {
            n: 0.0,
            ls: vec![0.0; d],
            ss: 0.0,
            centroid: vec![0.0; d],
            sq_norm: 0.0,
            child: Some(child),
        }
    }

    fn point(x: &[f32]) -> Sub {
        let ls: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let ss = ls.iter().map(|v| v * v).sum();
        Sub {
            n: 1.0,
            centroid: ls.clone(),
            ls,
            ss,
            sq_norm: ss,
            child: None,
        }
    }

    fn update(&mut self, o: &Sub) {
        self.n += o.n;
        self.ls.iter_mut().zip(&o.ls).for_each(|(a, b)| *a += b);
        self.ss += o.ss;
        for (c, l) in self.centroid.iter_mut().zip(&self.ls) {
            *c = l / self.n;
        }
        self.sq_norm = self.centroid.iter().map(|v| v * v).sum();
    }

    /// Absorbs `o` if the merged radius stays within the threshold.
    fn try_merge(&mut self, o: &Sub) -> bool {
        let n = self.n + o.n;
        let ss = self.ss + o.ss;
        let ls: Vec<f64> = self.ls.iter().zip(&o.ls).map(|(a, b)| a + b).collect();
        let c: Vec<f64> = ls.iter().map(|v| v / n).collect();
        let sq_norm: f64 = c.iter().map(|v| v * v).sum();
        if ss / n - sq_norm <= THRESHOLD * THRESHOLD {
            self.n = n;
            self.ss = ss;
            self.ls = ls;
            self.centroid = c;
            self.sq_norm = sq_norm;
            true
        } else {
            false
        }
    }
}

struct Node {
    subs: Vec<Sub>,
    leaf: bool,
}

struct Tree {
    nodes: Vec<Node>,
    d: usize,
}

impl Tree {
    fn closest(subs: &[Sub], x: &[f64]) -> usize {
        let mut best = (f64::INFINITY, 0);
        for (i, s) in subs.iter().enumerate() {
            let dot: f64 = s.centroid.iter().zip(x).map(|(a, b)| a * b).sum();
            let v = s.sq_norm - 2.0 * dot;
            if v < best.0 {
                best = (v, i);
            }
        }
        best.1
    }

    /// Inserts into node `ni`; true if the node now overflows and must split.
    fn insert(&mut self, ni: usize, sub: Sub) -> bool {
        if self.nodes[ni].subs.is_empty() {
            self.nodes[ni].subs.push(sub);
            return false;
        }
        let ci = Self::closest(&self.nodes[ni].subs, &sub.centroid);
        if let Some(child) = self.nodes[ni].subs[ci].child {
            if !self.insert(child, sub.clone()) {
                self.nodes[ni].subs[ci].update(&sub);
                return false;
            }
            let (s1, s2) = self.split(child);
            self.nodes[ni].subs[ci] = s1;
            self.nodes[ni].subs.push(s2);
            self.nodes[ni].subs.len() > BRANCHING
        } else {
            if self.nodes[ni].subs[ci].try_merge(&sub) {
                return false;
            }
            self.nodes[ni].subs.push(sub);
            self.nodes[ni].subs.len() > BRANCHING
        }
    }

    /// Splits node `ni` around its two farthest subclusters; `ni` is reused as
    /// the first half. Returns the two parent-level subclusters.
    fn split(&mut self, ni: usize) -> (Sub, Sub) {
        let subs = std::mem::take(&mut self.nodes[ni].subs);
        let leaf = self.nodes[ni].leaf;
        let m = subs.len();
        let dist = |i: usize, j: usize| {
            if i == j {
                return 0.0;
            }
            let dot: f64 = subs[i]
                .centroid
                .iter()
                .zip(&subs[j].centroid)
                .map(|(a, b)| a * b)
                .sum();
            (subs[i].sq_norm - 2.0 * dot + subs[j].sq_norm).max(0.0)
        };
        let mut far = (f64::NEG_INFINITY, 0, 0);
        for i in 0..m {
            for j in 0..m {
                let v = dist(i, j);
                if v > far.0 {
                    far = (v, i, j);
                }
            }
        }
        let (a, b) = (far.1, far.2);
        let n2 = self.nodes.len();
        self.nodes.push(Node {
            subs: Vec::new(),
            leaf,
        });
        let mut s1 = Sub::empty(self.d, ni);
        let mut s2 = Sub::empty(self.d, n2);
        let closer: Vec<bool> = (0..m).map(|i| i == a || dist(a, i) < dist(b, i)).collect();
        for (i, s) in subs.into_iter().enumerate() {
            if closer[i] {
                s1.update(&s);
                self.nodes[ni].subs.push(s);
            } else {
                s2.update(&s);
                self.nodes[n2].subs.push(s);
            }
        }
        (s1, s2)
    }

    /// Leaf subcluster centroids, left to right.
    fn leaf_centroids(&self, ni: usize, out: &mut Vec<f64>) {
        for s in &self.nodes[ni].subs {
            match s.child {
                Some(c) => self.leaf_centroids(c, out),
                None => out.extend_from_slice(&s.centroid),
            }
        }
    }
}

/// BIRCH labels: `Some(k)` = global Ward step to k clusters (if there are at
/// least k subclusters, else the subclusters), `None` = subclusters as clusters.
pub(crate) fn birch(emb: &Dense, k: Option<usize>) -> Result<Vec<usize>> {
    let d = emb.cols;
    let mut t = Tree {
        nodes: vec![Node {
            subs: Vec::new(),
            leaf: true,
        }],
        d,
    };
    let mut root = 0;
    for i in 0..emb.rows {
        if t.insert(root, Sub::point(emb.row(i))) {
            let (s1, s2) = t.split(root);
            root = t.nodes.len();
            t.nodes.push(Node {
                subs: vec![s1, s2],
                leaf: false,
            });
        }
    }
    let mut cent = Vec::new();
    t.leaf_centroids(root, &mut cent);
    let m = cent.len() / d.max(1);
    let sub_labels: Vec<usize> = match k {
        Some(k) if m >= k => {
            check_quadratic(
                Method::Birch,
                m,
                agglomerative::LIMIT,
                "its global Ward step over the CF subclusters",
            )?;
            agglomerative::ward(&cent, m, d, Cut::K(k))
        }
        _ => (0..m).collect(),
    };
    let sq: Vec<f64> = (0..m)
        .map(|s| cent[s * d..(s + 1) * d].iter().map(|v| v * v).sum())
        .collect();
    Ok((0..emb.rows)
        .into_par_iter()
        .map(|i| {
            let x = emb.row(i);
            let mut best = (f64::INFINITY, 0);
            for s in 0..m {
                let dot: f64 = cent[s * d..(s + 1) * d]
                    .iter()
                    .zip(x)
                    .map(|(a, &b)| a * b as f64)
                    .sum();
                let v = sq[s] - 2.0 * dot;
                if v < best.0 {
                    best = (v, s);
                }
            }
            sub_labels[best.1]
        })
        .collect())
}
