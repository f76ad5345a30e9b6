//! scGNN's graph autoencoder (spec §5): a two-layer GCN encoder on the
//! symmetric-normalised adjacency, an inner-product decoder, trained full batch
//! with Adam. The reconstruction loss of spec §5.3 is a mean over all N² pairs;
//! here it is estimated without bias from all positive pairs plus negative
//! pairs sampled uniformly each epoch, so time and memory are O(edges).

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};
use crate::nn::layers::{relu_backward, sigmoid, softplus};
use crate::nn::ops::gemm;
use crate::nn::{Adam, Penalty};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Encoder variant (scGNN's `--GAEmodel`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum GaeModel {
    /// GCN autoencoder: Z = Â·ReLU(Â·X·W₁)·W₂, no KL term.
    #[value(name = "gcn_ae")]
    GcnAe,
    /// Variational GCN: Z = μ + ε·exp(logσ), plus the KL term (scGNN's default).
    #[value(name = "gcn_vae")]
    GcnVae,
}

/// Graph-autoencoder hyper-parameters (scGNN defaults, spec §5.2–5.3).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaeConfig {
    /// Encoder variant (`gcn_vae`).
    pub model: GaeModel,
    /// First GCN layer width (`GAEhidden1` = 32).
    pub hidden1: usize,
    /// Embedding width (`GAEhidden2` = 16).
    pub hidden2: usize,
    /// Full-batch epochs (`GAEepochs` = 200).
    pub epochs: usize,
    /// Adam learning rate (`GAElr` = 0.01).
    pub lr: f32,
    /// Sampled negative pairs per positive pair and epoch (not in scGNN, which
    /// scores all N² pairs; 1.0 gives an unbiased estimate of its loss).
    pub neg_ratio: f32,
}

impl Default for GaeConfig {
    fn default() -> Self {
        GaeConfig {
            model: GaeModel::GcnVae,
            hidden1: 32,
            hidden2: 16,
            epochs: 200,
            lr: 0.01,
            neg_ratio: 1.0,
        }
    }
}

impl GaeConfig {
    /// Checks sizes and rates.
    pub fn validate(&self) -> Result<()> {
        if self.hidden1 == 0 || self.hidden2 == 0 {
            return Err(Error::Usage("GAE layer widths must be positive".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Usage(format!(
                "GAE learning rate must be positive, got {}",
                self.lr
            )));
        }
        if !(self.neg_ratio.is_finite() && self.neg_ratio > 0.0) {
            return Err(Error::Usage(format!(
                "GAE negative sampling ratio must be positive, got {}",
                self.neg_ratio
            )));
        }
        Ok(())
    }
}

/// Result of [`train_gae`].
#[derive(Clone, Debug)]
pub struct GaeOutput {
    /// μ (cells × hidden2) from a clean forward pass after training.
    pub embedding: Dense,
    /// Loss per epoch (sampled estimate of spec §5.3's loss).
    pub losses: Vec<f64>,
}

/// scGNN's GAE input features: 1[z > column mean of z] (spec §5.1).
pub fn binarize_by_column_mean(z: &Dense) -> Dense {
    let mut mean = vec![0.0f64; z.cols];
    for r in 0..z.rows {
        for (m, &v) in mean.iter_mut().zip(z.row(r)) {
            *m += v as f64;
        }
    }
    let n = z.rows.max(1) as f64;
    let mean: Vec<f32> = mean.iter().map(|&m| (m / n) as f32).collect();
    let mut out = Dense::zeros(z.rows, z.cols);
    out.data
        .par_chunks_mut(z.cols.max(1))
        .zip(z.data.par_chunks(z.cols.max(1)))
        .for_each(|(o, zr)| {
            for ((ov, &v), &m) in o.iter_mut().zip(zr).zip(&mean) {
                *ov = if v > m { 1.0 } else { 0.0 };
            }
        });
    out
}

/// Â = D̃^−½(A + I)D̃^−½ from a square, symmetric adjacency without self loops
/// (any stored non-zero counts as an edge; stored diagonal entries are
/// ignored). Also returns the label pattern A + I (values 1).
pub fn normalized_adjacency(adj: &Csr<f32>) -> Result<(Csr<f32>, Csr<f32>)> {
    if adj.rows != adj.cols {
        return Err(Error::Usage(format!(
            "the cell graph must be square, got {}×{}",
            adj.rows, adj.cols
        )));
    }
    let n = adj.rows;
    // Label pattern A + I with the diagonal inserted in column order.
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0usize);
    let mut indices = Vec::with_capacity(adj.nnz() + n);
    for r in 0..n {
        let (ci, cv) = adj.row(r);
        let mut diag_done = false;
        for (&c, &v) in ci.iter().zip(cv) {
            if c as usize == r || v == 0.0 {
                continue;
            }
            if !diag_done && c as usize > r {
                indices.push(r as u32);
                diag_done = true;
            }
            indices.push(c);
        }
        if !diag_done {
            indices.push(r as u32);
        }
        indptr.push(indices.len());
    }
    let labels = Csr {
        rows: n,
        cols: n,
        data: vec![1.0f32; indices.len()],
        indptr,
        indices,
    };
    if labels.transpose() != labels {
        return Err(Error::Usage(
            "the cell graph must be symmetric (an edge i–j needs j–i too)".into(),
        ));
    }
    let dinv: Vec<f32> = (0..n)
        .map(|r| 1.0 / ((labels.indptr[r + 1] - labels.indptr[r]) as f32).sqrt())
        .collect();
    let mut a_hat = labels.clone();
    for r in 0..n {
        for p in a_hat.indptr[r]..a_hat.indptr[r + 1] {
            a_hat.data[p] = dinv[r] * dinv[a_hat.indices[p] as usize];
        }
    }
    Ok((a_hat, labels))
}

/// `out = A·X` for sparse `A` (rows × n) and dense row-major `X` (n × cols),
/// parallel over rows; each row is summed in stored order (reproducible).
pub fn spmm(a: &Csr<f32>, x: &[f32], cols: usize, out: &mut [f32]) {
    assert_eq!(x.len(), a.cols * cols, "spmm: X has the wrong length");
    assert_eq!(
        out.len(),
        a.rows * cols,
        "spmm: output has the wrong length"
    );
    if cols == 0 {
        return;
    }
    out.par_chunks_mut(cols).enumerate().for_each(|(r, o)| {
        o.fill(0.0);
        let (ci, cv) = a.row(r);
        for (&c, &v) in ci.iter().zip(cv) {
            let xr = &x[c as usize * cols..(c as usize + 1) * cols];
            for (ov, &xv) in o.iter_mut().zip(xr) {
                *ov += v * xv;
            }
        }
    });
}

/// Unordered negative pairs per sampling task; fixed so the samples do not
/// depend on the thread count.
const NEG_CHUNK: usize = 1 << 15;
/// Rows of ε per sampling task.
const NOISE_CHUNK: usize = 4096;
/// Rejection attempts before a negative sample is given up (only matters for
/// nearly complete graphs).
const MAX_TRIES: usize = 64;

/// The training problem: normalised graph, labels, features and constants of
/// the loss.
struct Problem<'a> {
    x: &'a Dense,
    a_hat: Csr<f32>,
    labels: Csr<f32>,
    /// pos_weight = (N² − ΣA)/ΣA (spec §5.3).
    pos_weight: f64,
    /// norm / N² (the mean over N² pairs folded in).
    scale: f64,
    /// Number of negative ordered pairs, N² − ΣA − N.
    n_neg: f64,
}

impl<'a> Problem<'a> {
    fn new(x: &'a Dense, adj: &Csr<f32>) -> Result<Self> {
        let (a_hat, labels) = normalized_adjacency(adj)?;
        let n = labels.rows as f64;
        let n2 = n * n;
        let sum_a = (labels.nnz() - labels.rows) as f64;
        if sum_a == 0.0 {
            return Err(Error::Usage("the cell graph has no edges".into()));
        }
        let pos_weight = (n2 - sum_a) / sum_a;
        let norm = n2 / (2.0 * (n2 - sum_a));
        Ok(Problem {
            x,
            a_hat,
            labels,
            pos_weight,
            scale: norm / n2,
            n_neg: n2 - sum_a - n,
        })
    }

    fn is_edge(&self, i: usize, j: usize) -> bool {
        self.labels.row(i).0.binary_search(&(j as u32)).is_ok()
    }

    /// Symmetric list of sampled negative pairs (both directions of each
    /// unordered sample), as a pattern matrix.
    fn sample_negatives(&self, ratio: f32, seed: u64, epoch: usize) -> Csr<f32> {
        let n = self.labels.rows;
        let want = ((self.labels.nnz() as f64 * ratio as f64) / 2.0).ceil() as usize;
        let n_chunks = want.div_ceil(NEG_CHUNK);
        let pairs: Vec<Vec<(u32, u32)>> = if self.n_neg <= 0.0 {
            Vec::new()
        } else {
            (0..n_chunks)
                .into_par_iter()
                .map(|c| {
                    let mut rng = crate::rng::substream(
                        seed,
                        "gae-negatives",
                        ((epoch as u64) << 32) | c as u64,
                    );
                    let len = NEG_CHUNK.min(want - c * NEG_CHUNK);
                    let mut v = Vec::with_capacity(len);
                    for _ in 0..len {
                        for _ in 0..MAX_TRIES {
                            let i = rng.random_range(0..n);
                            let j = rng.random_range(0..n);
                            if !self.is_edge(i, j) {
                                v.push((i as u32, j as u32));
                                break;
                            }
                        }
                    }
                    v
                })
                .collect()
        };
        let mut counts = vec![0usize; n + 1];
        for &(i, j) in pairs.iter().flatten() {
            counts[i as usize + 1] += 1;
            counts[j as usize + 1] += 1;
        }
        for r in 0..n {
            counts[r + 1] += counts[r];
        }
        let mut next = counts.clone();
        let total = counts[n];
        let mut indices = vec![0u32; total];
        for &(i, j) in pairs.iter().flatten() {
            indices[next[i as usize]] = j;
            next[i as usize] += 1;
            indices[next[j as usize]] = i;
            next[j as usize] += 1;
        }
        Csr {
            rows: n,
            cols: n,
            indptr: counts,
            indices,
            data: vec![1.0; total],
        }
    }
}

/// The GCN encoder's weights: `w1` is `d × hidden1`; `w2` is `hidden1 × out`
/// with `out = hidden2` (AE) or `2·hidden2` (VAE: columns [W_μ | W_logσ]).
#[derive(Clone, Debug)]
struct Gae {
    model: GaeModel,
    d: usize,
    h1: usize,
    h2: usize,
    w1: Vec<f32>,
    w2: Vec<f32>,
}

/// Activations and gradients of one full-batch pass.
struct Buffers {
    xw: Vec<f32>,
    h: Vec<f32>,
    hw: Vec<f32>,
    o: Vec<f32>,
    z: Vec<f32>,
    dz: Vec<f32>,
    d_o: Vec<f32>,
    g: Vec<f32>,
    dh: Vec<f32>,
    q: Vec<f32>,
    gw1: Vec<f32>,
    gw2: Vec<f32>,
    row_loss: Vec<f64>,
}

impl Gae {
    fn new(d: usize, cfg: &GaeConfig, seed: u64) -> Self {
        let mut rng = crate::rng::stream(seed, "gae-init");
        let mut xavier = |fan_in: usize, fan_out: usize| -> Vec<f32> {
            let b = (6.0 / (fan_in + fan_out) as f32).sqrt();
            (0..fan_in * fan_out)
                .map(|_| rng.random_range(-b..=b))
                .collect()
        };
        let (h1, h2) = (cfg.hidden1, cfg.hidden2);
        let w1 = xavier(d, h1);
        let w2 = match cfg.model {
            GaeModel::GcnAe => xavier(h1, h2),
            GaeModel::GcnVae => {
                // Two separately initialised h1×h2 matrices, interleaved row by row.
                let (wm, ws) = (xavier(h1, h2), xavier(h1, h2));
                (0..h1)
                    .flat_map(|r| {
                        wm[r * h2..(r + 1) * h2]
                            .iter()
                            .chain(&ws[r * h2..(r + 1) * h2])
                            .copied()
                            .collect::<Vec<_>>()
                    })
                    .collect()
            }
        };
        Gae {
            model: cfg.model,
            d,
            h1,
            h2,
            w1,
            w2,
        }
    }

    fn out_cols(&self) -> usize {
        match self.model {
            GaeModel::GcnAe => self.h2,
            GaeModel::GcnVae => 2 * self.h2,
        }
    }

    fn buffers(&self, n: usize) -> Buffers {
        let (h1, oc, h2) = (self.h1, self.out_cols(), self.h2);
        Buffers {
            xw: vec![0.0; n * h1],
            h: vec![0.0; n * h1],
            hw: vec![0.0; n * oc],
            o: vec![0.0; n * oc],
            z: vec![0.0; n * h2],
            dz: vec![0.0; n * h2],
            d_o: vec![0.0; n * oc],
            g: vec![0.0; n * oc],
            dh: vec![0.0; n * h1],
            q: vec![0.0; n * h1],
            gw1: vec![0.0; self.w1.len()],
            gw2: vec![0.0; self.w2.len()],
            row_loss: vec![0.0; n],
        }
    }

    /// Encoder forward: fills `xw`, `h` (post-ReLU) and `o` ([μ | logσ] or Z).
    fn encode(&self, p: &Problem, b: &mut Buffers) {
        let n = p.x.rows;
        let (h1, oc) = (self.h1, self.out_cols());
        // Â·(X·W₁) rather than (Â·X)·W₁: the narrower operand goes through the sparse product.
        gemm(
            n, h1, self.d, &p.x.data, false, &self.w1, false, &mut b.xw, false,
        );
        spmm(&p.a_hat, &b.xw, h1, &mut b.h);
        crate::nn::layers::relu_inplace(&mut b.h);
        gemm(n, oc, h1, &b.h, false, &self.w2, false, &mut b.hw, false);
        spmm(&p.a_hat, &b.hw, oc, &mut b.o);
    }

    /// Full loss and gradients (into `b.gw1`, `b.gw2`) given the negative
    /// pairs and, for the VAE, the noise ε (n × h2).
    fn loss_grad(&self, p: &Problem, neg: &Csr<f32>, eps: Option<&[f32]>, b: &mut Buffers) -> f64 {
        let n = p.x.rows;
        let (h1, h2, oc) = (self.h1, self.h2, self.out_cols());
        self.encode(p, b);
        // Z from the encoder output.
        let vae = self.model == GaeModel::GcnVae;
        b.z.par_chunks_mut(h2).enumerate().for_each(|(r, zr)| {
            let o = &b.o[r * oc..(r + 1) * oc];
            for k in 0..h2 {
                zr[k] = if vae {
                    o[k] + eps.map_or(0.0, |e| e[r * h2 + k]) * o[h2 + k].exp()
                } else {
                    o[k]
                };
            }
        });
        // Decoder: row i gathers ∂L/∂z_i = 2 Σ_j c·f'(z_i·z_j)·z_j over the
        // (symmetric) positive and negative pair sets.
        let c_pos = p.scale;
        let n_samples = neg.nnz().max(1) as f64;
        let c_neg = p.scale * p.n_neg / n_samples;
        let pw = p.pos_weight;
        let z = &b.z;
        b.dz.par_chunks_mut(h2)
            .zip(b.row_loss.par_iter_mut())
            .enumerate()
            .for_each(|(i, (dzi, li))| {
                dzi.fill(0.0);
                let zi = &z[i * h2..(i + 1) * h2];
                let mut loss = 0.0f64;
                let mut visit = |cols: &[u32], positive: bool| {
                    for &j in cols {
                        let zj = &z[j as usize * h2..(j as usize + 1) * h2];
                        let x: f32 = zi.iter().zip(zj).map(|(a, b)| a * b).sum();
                        let (l, g) = if positive {
                            (
                                c_pos * pw * softplus(-(x as f64)),
                                -c_pos * pw * (1.0 - sigmoid(x) as f64),
                            )
                        } else {
                            (c_neg * softplus(x as f64), c_neg * sigmoid(x) as f64)
                        };
                        loss += l;
                        let g2 = (2.0 * g) as f32;
                        for (d, &v) in dzi.iter_mut().zip(zj) {
                            *d += g2 * v;
                        }
                    }
                };
                visit(p.labels.row(i).0, true);
                visit(neg.row(i).0, false);
                *li = loss;
            });
        let mut total: f64 = b.row_loss.iter().sum();
        // Through the reparameterisation and the KL term (spec §5.3):
        // L_kl = −(0.5/N²)·Σ(1 + 2·logσ − μ² − e^{2·logσ}).
        let inv_n2 = 1.0 / (n as f64 * n as f64);
        let dz = &b.dz;
        b.d_o
            .par_chunks_mut(oc)
            .zip(b.row_loss.par_iter_mut())
            .enumerate()
            .for_each(|(r, (dor, li))| {
                let o = &b.o[r * oc..(r + 1) * oc];
                let dzr = &dz[r * h2..(r + 1) * h2];
                *li = 0.0;
                if !vae {
                    dor.copy_from_slice(dzr);
                    return;
                }
                let mut kl = 0.0f64;
                for k in 0..h2 {
                    let (mu, ls) = (o[k] as f64, o[h2 + k] as f64);
                    let e2 = (2.0 * ls).exp();
                    kl += 1.0 + 2.0 * ls - mu * mu - e2;
                    let e = eps.map_or(0.0, |e| e[r * h2 + k]) as f64;
                    dor[k] = (dzr[k] as f64 + mu * inv_n2) as f32;
                    dor[h2 + k] = (dzr[k] as f64 * e * ls.exp() + (e2 - 1.0) * inv_n2) as f32;
                }
                *li = -0.5 * inv_n2 * kl;
            });
        total += b.row_loss.iter().sum::<f64>();
        // Back through the two GCN layers; Â is symmetric so Âᵀ = Â.
        spmm(&p.a_hat, &b.d_o, oc, &mut b.g);
        gemm(h1, oc, n, &b.h, true, &b.g, false, &mut b.gw2, false);
        gemm(n, h1, oc, &b.g, false, &self.w2, true, &mut b.dh, false);
        relu_backward(&mut b.dh, &b.h);
        spmm(&p.a_hat, &b.dh, h1, &mut b.q);
        gemm(
            self.d, h1, n, &p.x.data, true, &b.q, false, &mut b.gw1, false,
        );
        total
    }

    /// ε ~ N(0, 1), n × h2, from per-chunk sub-streams (thread-count independent).
    fn noise(&self, n: usize, seed: u64, epoch: usize, eps: &mut [f32]) {
        let h2 = self.h2;
        eps.par_chunks_mut(NOISE_CHUNK * h2)
            .enumerate()
            .for_each(|(c, e)| {
                let mut rng =
                    crate::rng::substream(seed, "gae-noise", ((epoch as u64) << 32) | c as u64);
                for v in e {
                    *v = rng.sample(StandardNormal);
                }
            });
        debug_assert_eq!(eps.len(), n * h2);
    }
}

/// Trains a fresh graph autoencoder (spec §5.2–5.3) on `features` (cells × d,
/// typically [`binarize_by_column_mean`] of the AE embedding) and the binary
/// symmetric cell graph `adj` (no self loops), calling `on_epoch(epoch, loss)`
/// after each epoch. Returns μ from a clean forward pass and the losses.
pub fn train_gae(
    features: &Dense,
    adj: &Csr<f32>,
    cfg: &GaeConfig,
    seed: u64,
    on_epoch: &mut dyn FnMut(usize, f64),
) -> Result<GaeOutput> {
    cfg.validate()?;
    if features.rows != adj.rows {
        return Err(Error::Usage(format!(
            "GAE features have {} cells but the graph has {}",
            features.rows, adj.rows
        )));
    }
    if features.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Usage("GAE features hold a non-finite value".into()));
    }
    let p = Problem::new(features, adj)?;
    let n = features.rows;
    let mut model = Gae::new(features.cols, cfg, seed);
    let mut adam = Adam::new(cfg.lr, &[model.w1.len(), model.w2.len()]);
    let mut b = model.buffers(n);
    let mut eps = vec![0.0f32; n * model.h2];
    let mut losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        let neg = p.sample_negatives(cfg.neg_ratio, seed, epoch);
        let noise = match model.model {
            GaeModel::GcnVae => {
                model.noise(n, seed, epoch, &mut eps);
                Some(eps.as_slice())
            }
            GaeModel::GcnAe => None,
        };
        let loss = model.loss_grad(&p, &neg, noise, &mut b);
        if !loss.is_finite() {
            return Err(Error::Numeric(format!(
                "GAE loss became {loss} at epoch {epoch}"
            )));
        }
        adam.step(
            &mut [&mut model.w1, &mut model.w2],
            &[&b.gw1, &b.gw2],
            Penalty::none(),
        );
        on_epoch(epoch, loss);
        losses.push(loss);
    }
    model.encode(&p, &mut b);
    let oc = model.out_cols();
    let h2 = model.h2;
    let mut embedding = Dense::zeros(n, h2);
    for r in 0..n {
        embedding
            .row_mut(r)
            .copy_from_slice(&b.o[r * oc..r * oc + h2]);
    }
    Ok(GaeOutput { embedding, losses })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A ring of 10 cells with chords, 5 random features.
    fn problem_data() -> (Dense, Csr<f32>) {
        let n = 10;
        let mut t = Vec::new();
        for i in 0..n as u32 {
            for j in [(i + 1) % n as u32, (i + 3) % n as u32] {
                t.push((i, j, 1.0f32));
                t.push((j, i, 1.0f32));
            }
        }
        t.sort_unstable_by_key(|e| (e.0, e.1));
        t.dedup_by_key(|e| (e.0, e.1));
        let adj = Csr::from_triplets(n, n, t);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x = Dense::from_vec(
            n,
            5,
            (0..n * 5).map(|_| rng.random_range(0.0..1.0)).collect(),
        );
        (x, adj)
    }

    /// Finite differences of the full GAE loss (two GCN layers, decoder over
    /// sampled pairs, and for the VAE the reparameterisation and KL term) with
    /// the negatives and ε held fixed: H = 1e-3, REL = 2e-2, ABS = 2e-4. At most
    /// 2 % of entries may disagree (a ReLU pre-activation within H of 0).
    fn check(model: GaeModel) {
        let (x, adj) = problem_data();
        let cfg = GaeConfig {
            model,
            hidden1: 4,
            hidden2: 3,
            ..GaeConfig::default()
        };
        let p = Problem::new(&x, &adj).unwrap();
        let gae = Gae::new(x.cols, &cfg, 9);
        let neg = p.sample_negatives(1.0, 3, 0);
        assert!(neg.nnz() > 0);
        let mut eps = vec![0.0; x.rows * cfg.hidden2];
        gae.noise(x.rows, 3, 0, &mut eps);
        let noise = (model == GaeModel::GcnVae).then_some(eps.as_slice());
        let mut b = gae.buffers(x.rows);
        gae.loss_grad(&p, &neg, noise, &mut b);
        let (g1, g2) = (b.gw1.clone(), b.gw2.clone());
        let h = 1e-3f32;
        let (mut bad, mut total) = (0, 0);
        for which in 0..2 {
            let len = if which == 0 { g1.len() } else { g2.len() };
            for k in 0..len {
                let eval = |delta: f32| {
                    let mut m = gae.clone();
                    if which == 0 {
                        m.w1[k] += delta;
                    } else {
                        m.w2[k] += delta;
                    }
                    let mut bb = m.buffers(x.rows);
                    m.loss_grad(&p, &neg, noise, &mut bb)
                };
                let fd = (eval(h) - eval(-h)) / (2.0 * h as f64);
                let an = if which == 0 { g1[k] } else { g2[k] } as f64;
                total += 1;
                if (fd - an).abs() > 2e-2 * fd.abs().max(an.abs()) + 2e-4 {
                    bad += 1;
                    eprintln!("w{} [{k}]: fd {fd} vs analytic {an}", which + 1);
                }
            }
        }
        assert!(bad * 50 <= total, "{bad} of {total} disagree");
        // The absolute tolerance must be small against the gradients tested.
        let gmax = g1.iter().chain(&g2).fold(0.0f32, |a, &v| a.max(v.abs()));
        assert!(gmax > 5e-3, "gradients too small for the check: {gmax}");
    }

    #[test]
    fn gcn_ae_gradient() {
        check(GaeModel::GcnAe);
    }

    #[test]
    fn gcn_vae_gradient() {
        check(GaeModel::GcnVae);
    }

    /// Â of a path 0–1–2: degrees with self loops are 2, 3, 2.
    #[test]
    fn normalized_adjacency_of_a_path() {
        let adj = Csr::from_triplets(
            3,
            3,
            vec![(0u32, 1u32, 1.0f32), (1, 0, 1.0), (1, 2, 1.0), (2, 1, 1.0)],
        );
        let (a, labels) = normalized_adjacency(&adj).unwrap();
        let d = a.to_dense();
        assert!((d.get(0, 0) - 0.5).abs() < 1e-6);
        assert!((d.get(0, 1) - 1.0 / 6f32.sqrt()).abs() < 1e-6);
        assert!((d.get(1, 1) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(d.get(0, 2), 0.0);
        assert_eq!(labels.nnz(), 7);
        let asym = Csr::from_triplets(3, 3, vec![(0u32, 1u32, 1.0f32)]);
        assert!(normalized_adjacency(&asym).is_err());
    }

    /// The sampled negatives are symmetric, avoid edges and self pairs, and
    /// are reproducible.
    #[test]
    fn negatives_are_valid() {
        let (x, adj) = problem_data();
        let p = Problem::new(&x, &adj).unwrap();
        let neg = p.sample_negatives(1.0, 11, 4);
        for i in 0..neg.rows {
            for &j in neg.row(i).0 {
                assert!(!p.is_edge(i, j as usize));
                assert_ne!(i, j as usize);
            }
        }
        assert_eq!(neg.nnz() % 2, 0);
        assert_eq!(neg, p.sample_negatives(1.0, 11, 4));
        assert_ne!(neg, p.sample_negatives(1.0, 11, 5));
    }
}
