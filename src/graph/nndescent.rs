//! Approximate k-nearest neighbours for large inputs (`--knn approx`): a forest of
//! random-projection trees gives every cell a first guess of neighbours, then
//! NN-descent (Dong, Charikar & Li, WWW 2011) refines it on the idea that a
//! neighbour of a neighbour is likely a neighbour. Time O(N · k² · d) per
//! round instead of the exact search's O(N² · d); memory O(N · k).
//!
//! Deterministic for a seed whatever the thread count: the trees draw their
//! hyperplanes from per-node streams, and every round reads a snapshot of the
//! lists and each cell updates only its own list (a Jacobi-style round rather
//! than the usual in-place updates, so no order of threads enters).
//!
//! The search ranks by squared euclidean distance between the rows [`Prepared`]
//! makes (centred, or unit-normalised for the angular metrics, where it ranks as
//! the metric does); the final lists are re-ranked by the exact f64 distance,
//! exactly as the exact search returns them.

use rayon::prelude::*;

use super::knn::{check_input, Distance, Knn, Prepared};
use crate::error::Result;
use crate::matrix::Dense;
use crate::rng::substream;
use rand::Rng as _;

/// Rows per parallel task of a round (each task keeps an N-long "seen" array).
const CHUNK: usize = 16_384;

/// Parameters of the approximate search; `Default` holds the measured defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ApproxParams {
    /// Random-projection trees of the first guess.
    pub trees: usize,
    /// Most cells in a tree's leaf (all pairs of a leaf are compared, in one GEMM).
    pub leaf_size: usize,
    /// Candidates kept per cell while searching (at least `k`); more raise
    /// recall at a quadratic cost per round.
    pub pool: usize,
    /// Most NN-descent rounds.
    pub max_rounds: usize,
    /// Stop once a round changes fewer than this share of the N · pool entries.
    pub delta: f64,
}

impl Default for ApproxParams {
    fn default() -> Self {
        ApproxParams {
            trees: 20,
            leaf_size: 512,
            pool: 20,
            max_rounds: 2,
            delta: 0.001,
        }
    }
}

/// Approximate k nearest neighbours of every row of `emb` under `metric`, self
/// excluded, nearest first, ties by index; the same input errors as the exact search.
pub fn knn_approx(
    emb: &Dense,
    k: usize,
    metric: Distance,
    params: &ApproxParams,
    seed: u64,
) -> Result<Knn> {
    check_input(emb, k)?;
    let (n, d) = (emb.rows, emb.cols);
    let mut prep = Prepared::new(emb, metric);
    let pool = params.pool.max(k).min(n - 1);
    let mut forest: Vec<Vec<Vec<u32>>> = (0..params.trees)
        .into_par_iter()
        .map(|t| {
            let all: Vec<u32> = (0..n as u32).collect();
            let mut leaves = Vec::new();
            let leaf = params.leaf_size.max(2);
            grow(&prep.y, d, all, leaf, seed, t as u64, 1, &mut leaves);
            leaves
        })
        .collect();
    // The search runs on the cells renumbered in the first tree's leaf order: cells
    // that are close get nearby rows, so the random reads of neighbours' rows
    // mostly hit the cache. `order[p]` is the cell at position p.
    let order: Vec<u32> = forest[0].concat();
    let mut pos = vec![0u32; n];
    for (p, &c) in order.iter().enumerate() {
        pos[c as usize] = p as u32;
    }
    let y: Vec<f32> = order
        .iter()
        .flat_map(|&c| prep.y[c as usize * d..(c as usize + 1) * d].iter().copied())
        .collect();
    prep.y = Vec::new();
    forest
        .par_iter_mut()
        .flatten()
        .flatten()
        .for_each(|c| *c = pos[*c as usize]);

    let mut lists = Lists::new(n, pool);
    join_leaves(&mut lists, &forest, &y, d);
    drop(forest);
    descend(&mut lists, &y, d, params);
    prep.rerank_all(k, |q, cand| {
        let p = pos[q] as usize;
        cand.extend(
            lists.idx[p * pool..(p + 1) * pool]
                .iter()
                .map(|&j| order[j as usize]),
        );
    })
}

/// Fills every cell's list from the leaves of every tree (each searched exactly,
/// one GEMM per leaf, one tree at a time), then tops up lists that small leaves
/// left short with neighbouring positions, so every cell starts with a full list.
fn join_leaves(lists: &mut Lists, forest: &[Vec<Vec<u32>>], y: &[f32], d: usize) {
    let (n, pool) = (lists.idx.len() / lists.pool, lists.pool);
    let mut leaf_of = vec![0u32; n];
    let mut rank = vec![0u32; n];
    for leaves in forest {
        for (l, cells) in leaves.iter().enumerate() {
            for (r, &c) in cells.iter().enumerate() {
                leaf_of[c as usize] = l as u32;
                rank[c as usize] = r as u32;
            }
        }
        let found: Vec<(Vec<f32>, Vec<u32>)> = leaves
            .par_iter()
            .map(|cells| leaf_join(y, d, cells, pool))
            .collect();
        lists.par_rows().for_each(|(i, mut row)| {
            let (dist, idx) = &found[leaf_of[i] as usize];
            let r = rank[i] as usize;
            let slots = r * pool..(r + 1) * pool;
            for (&v, &j) in dist[slots.clone()].iter().zip(&idx[slots]) {
                if j != u32::MAX {
                    row.offer(v, j);
                }
            }
        });
    }
    lists.par_rows().for_each(|(i, mut row)| {
        let mut j = (i + 1) % n;
        while row.idx[pool - 1] == u32::MAX {
            if j != i {
                row.offer(sqdist(y, d, i, j), j as u32);
            }
            j = (j + 1) % n;
        }
    });
}

/// NN-descent rounds on `lists` until a round changes fewer than `delta` of
/// the entries or `max_rounds` have run.
fn descend(lists: &mut Lists, y: &[f32], d: usize, params: &ApproxParams) {
    let n = lists.idx.len() / lists.pool;
    for round in 0..params.max_rounds {
        let graph = Joined::of(lists);
        let changed: usize = lists
            .par_row_chunks(CHUNK)
            .map(|rows| {
                // seen[w] == i + 1: w was already a candidate of cell i.
                let mut seen = vec![0u32; n];
                let mut changed = 0;
                for (i, mut row) in rows {
                    for w in graph.candidates(i) {
                        if seen[w as usize] == i as u32 + 1 {
                            continue;
                        }
                        seen[w as usize] = i as u32 + 1;
                        if row.offer(sqdist(y, d, i, w as usize), w) {
                            changed += 1;
                        }
                    }
                }
                changed
            })
            .sum();
        tracing::debug!("NN-descent round {round}: {changed} list entries changed");
        if (changed as f64) < params.delta * lists.idx.len() as f64 {
            break;
        }
    }
}

/// The `pool` nearest cells of every cell of a leaf among the leaf's cells,
/// exactly: squared distances ‖a‖² + ‖b‖² − 2⟨a, b⟩ from one GEMM. Returns the
/// members' lists one after the other, `pool` (distance, cell) each, sorted,
/// padded with (∞, u32::MAX).
fn leaf_join(y: &[f32], d: usize, cells: &[u32], pool: usize) -> (Vec<f32>, Vec<u32>) {
    let m = cells.len();
    // Centred on the leaf's mean: a leaf is compact, so ‖a‖² + ‖b‖² − 2⟨a, b⟩
    // then loses little to cancellation in f32.
    let mut mean = vec![0f64; d];
    for &c in cells {
        for (s, &v) in mean
            .iter_mut()
            .zip(&y[c as usize * d..(c as usize + 1) * d])
        {
            *s += v as f64;
        }
    }
    mean.iter_mut().for_each(|s| *s /= m as f64);
    let block: Vec<f32> = cells
        .iter()
        .flat_map(|&c| {
            y[c as usize * d..(c as usize + 1) * d]
                .iter()
                .zip(&mean)
                .map(|(&v, &s)| (v as f64 - s) as f32)
        })
        .collect();
    let norm: Vec<f32> = block
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let mut gram = vec![0f32; m * m];
    // SAFETY: gram is m × m row-major; lhs is block (m × d row-major); rhs is
    // blockᵀ (d × m: column j is row j of block). All strides stay in bounds.
    unsafe {
        gemm::gemm(
            m,
            m,
            d,
            gram.as_mut_ptr(),
            1,
            m as isize,
            false,
            block.as_ptr(),
            1,
            d as isize,
            block.as_ptr(),
            d as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    let mut dist = vec![f32::INFINITY; m * pool];
    let mut idx = vec![u32::MAX; m * pool];
    let take = pool.min(m - 1);
    let mut row: Vec<(f32, u32)> = Vec::with_capacity(m);
    for (i, (drow, irow)) in dist
        .chunks_exact_mut(pool)
        .zip(idx.chunks_exact_mut(pool))
        .enumerate()
    {
        let g = &gram[i * m..(i + 1) * m];
        row.clear();
        row.extend(
            g.iter()
                .zip(&norm)
                .zip(cells)
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, ((&gij, &nj), &c))| ((norm[i] + nj - 2.0 * gij).max(0.0), c)),
        );
        let order = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if take < row.len() {
            row.select_nth_unstable_by(take, order);
            row.truncate(take);
        }
        row.sort_unstable_by(order);
        for (t, &(v, c)) in row.iter().enumerate() {
            drow[t] = v;
            irow[t] = c;
        }
    }
    (dist, idx)
}

/// ⟨a, b⟩ in eight independent lanes, so that it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(u, v)| u * v)
        .sum();
    for (u, v) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += u[l] * v[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Squared euclidean distance between rows `i` and `j` of `y` (rows of `d`), in
/// eight independent lanes so that it vectorises.
fn sqdist(y: &[f32], d: usize, i: usize, j: usize) -> f32 {
    let (a, b) = (&y[i * d..(i + 1) * d], &y[j * d..(j + 1) * d]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        for l in 0..8 {
            let e = u[l] - v[l];
            acc[l] += e * e;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(u, v)| (u - v) * (u - v)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Splits `cells` by random hyperplanes until every leaf holds at most `leaf`
/// cells, appending the leaves in a fixed (depth-first) order. `node` numbers the
/// node within tree `tree` (root 1, children 2·node and 2·node + 1), so each node's
/// hyperplane comes from its own stream.
#[allow(clippy::too_many_arguments)]
fn grow(
    y: &[f32],
    d: usize,
    cells: Vec<u32>,
    leaf: usize,
    seed: u64,
    tree: u64,
    node: u64,
    out: &mut Vec<Vec<u32>>,
) {
    if cells.len() <= leaf {
        out.push(cells);
        return;
    }
    let (left, right) = split(y, d, &cells, seed, tree, node);
    drop(cells);
    // Deep nodes would overflow the node number; their split is then by position,
    // which only happens with enormous numbers of identical rows.
    let (l, r) = (node.wrapping_mul(2), node.wrapping_mul(2).wrapping_add(1));
    if left.len() + right.len() > 50_000 {
        let grow_one = |cells, node| {
            let mut o = Vec::new();
            grow(y, d, cells, leaf, seed, tree, node, &mut o);
            o
        };
        let (mut a, b) = rayon::join(|| grow_one(left, l), || grow_one(right, r));
        out.append(&mut a);
        out.extend(b);
    } else {
        grow(y, d, left, leaf, seed, tree, l, out);
        grow(y, d, right, leaf, seed, tree, r, out);
    }
}

/// One node's split: the hyperplane half-way between two random cells of the
/// node (as in Annoy and pynndescent); halves by position when that hyperplane
/// leaves one side empty (e.g. all cells identical).
fn split(
    y: &[f32],
    d: usize,
    cells: &[u32],
    seed: u64,
    tree: u64,
    node: u64,
) -> (Vec<u32>, Vec<u32>) {
    let mut rng = substream(
        seed,
        "rp-tree",
        tree.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ node,
    );
    let m = cells.len();
    let a = cells[rng.random_range(0..m)] as usize;
    let mut b = cells[rng.random_range(0..m - 1)] as usize;
    if b == a {
        b = cells[m - 1] as usize;
    }
    let (ya, yb) = (&y[a * d..(a + 1) * d], &y[b * d..(b + 1) * d]);
    let normal: Vec<f32> = ya.iter().zip(yb).map(|(u, v)| u - v).collect();
    let offset: f32 = normal
        .iter()
        .zip(ya.iter().zip(yb))
        .map(|(w, (u, v))| w * 0.5 * (u + v))
        .sum();
    let (mut left, mut right) = (Vec::with_capacity(m / 2), Vec::with_capacity(m / 2));
    for &c in cells {
        let row = &y[c as usize * d..(c as usize + 1) * d];
        let side = dot(row, &normal) - offset;
        if side > 0.0 {
            left.push(c);
        } else {
            right.push(c);
        }
    }
    if left.is_empty() || right.is_empty() {
        let (l, r) = cells.split_at(m / 2);
        return (l.to_vec(), r.to_vec());
    }
    (left, right)
}

/// Every cell's candidate list: `pool` (distance, index) pairs sorted by
/// (distance, index), padded with (∞, u32::MAX), and whether each entry arrived
/// in the last round.
struct Lists {
    pool: usize,
    dist: Vec<f32>,
    idx: Vec<u32>,
    new: Vec<bool>,
}

/// One cell's list, borrowed mutably.
struct Row<'a> {
    dist: &'a mut [f32],
    idx: &'a mut [u32],
    new: &'a mut [bool],
}

impl Lists {
    fn new(n: usize, pool: usize) -> Self {
        Lists {
            pool,
            dist: vec![f32::INFINITY; n * pool],
            idx: vec![u32::MAX; n * pool],
            new: vec![true; n * pool],
        }
    }

    /// The rows in parallel tasks of `chunk` consecutive rows each.
    fn par_row_chunks(
        &mut self,
        chunk: usize,
    ) -> impl IndexedParallelIterator<Item = impl Iterator<Item = (usize, Row<'_>)>> {
        let p = self.pool;
        self.dist
            .par_chunks_mut(p * chunk)
            .zip(self.idx.par_chunks_mut(p * chunk))
            .zip(self.new.par_chunks_mut(p * chunk))
            .enumerate()
            .map(move |(c, ((dist, idx), new))| {
                dist.chunks_mut(p)
                    .zip(idx.chunks_mut(p))
                    .zip(new.chunks_mut(p))
                    .enumerate()
                    .map(move |(r, ((dist, idx), new))| (c * chunk + r, Row { dist, idx, new }))
            })
    }

    fn par_rows(&mut self) -> impl IndexedParallelIterator<Item = (usize, Row<'_>)> {
        let p = self.pool;
        self.dist
            .par_chunks_mut(p)
            .zip(self.idx.par_chunks_mut(p))
            .zip(self.new.par_chunks_mut(p))
            .map(|((dist, idx), new)| Row { dist, idx, new })
            .enumerate()
    }
}

impl Row<'_> {
    /// Offers `j` at distance `v`; true when it entered. The list keeps the `pool`
    /// smallest (distance, index) pairs, a total order, so what a round ends with
    /// does not depend on the order of the offers. A cell already listed is not
    /// added again (the leaf GEMMs and the rounds may round its distance apart).
    fn offer(&mut self, v: f32, j: u32) -> bool {
        let p = self.dist.len();
        let before = |s: f32, x: u32| s < v || (s == v && x < j);
        if before(self.dist[p - 1], self.idx[p - 1]) || self.idx.contains(&j) {
            return false;
        }
        let at = (0..p)
            .position(|t| !before(self.dist[t], self.idx[t]))
            .unwrap_or(p - 1);
        self.dist.copy_within(at..p - 1, at + 1);
        self.idx.copy_within(at..p - 1, at + 1);
        self.new.copy_within(at..p - 1, at + 1);
        self.dist[at] = v;
        self.idx[at] = j;
        self.new[at] = true;
        true
    }
}

/// A round's snapshot of the graph: each cell's forward list and its reverse
/// neighbours (the cells that list it; the `pool` nearest when more do), each
/// entry flagged when it arrived in the previous round.
struct Joined {
    start: Vec<usize>,
    cell: Vec<u32>,
    new: Vec<bool>,
}

impl Joined {
    /// The snapshot of `lists`; marks every entry as seen.
    fn of(lists: &mut Lists) -> Self {
        let p = lists.pool;
        let n = lists.idx.len() / p;
        let mut rev_count = vec![0usize; n];
        for &j in &lists.idx {
            rev_count[j as usize] += 1;
        }
        let mut rev_start = vec![0usize; n + 1];
        for i in 0..n {
            rev_start[i + 1] = rev_start[i] + rev_count[i];
        }
        let mut fill = rev_start.clone();
        let mut rev = vec![(0f32, 0u32, false); lists.idx.len()];
        for (e, &j) in lists.idx.iter().enumerate() {
            let j = j as usize;
            rev[fill[j]] = (lists.dist[e], (e / p) as u32, lists.new[e]);
            fill[j] += 1;
        }
        let per: Vec<Vec<(u32, bool)>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let r = &mut rev[rev_start[i]..rev_start[i + 1]].to_vec();
                r.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let fwd = (0..p).map(|t| (lists.idx[i * p + t], lists.new[i * p + t]));
                fwd.chain(r.iter().take(p).map(|&(_, c, f)| (c, f)))
                    .collect()
            })
            .collect();
        lists.new.iter_mut().for_each(|f| *f = false);
        let mut start = Vec::with_capacity(n + 1);
        start.push(0);
        let (mut cell, mut new) = (Vec::new(), Vec::new());
        for l in per {
            for (c, f) in l {
                cell.push(c);
                new.push(f);
            }
            start.push(cell.len());
        }
        Joined { start, cell, new }
    }

    /// The cells two steps from `i` through a pair of edges of which at least one
    /// is new (older pairs were compared in an earlier round), `i` excluded, with
    /// repeats.
    fn candidates(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        (self.start[i]..self.start[i + 1]).flat_map(move |e| {
            let (v, fv) = (self.cell[e] as usize, self.new[e]);
            (self.start[v]..self.start[v + 1])
                .filter(move |&f| (fv || self.new[f]) && self.cell[f] as usize != i)
                .map(move |f| self.cell[f])
        })
    }
}
