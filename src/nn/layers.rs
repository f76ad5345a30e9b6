//! Layers and activations. Activations are row-major `rows × dim` slices;
//! backward passes accumulate into caller-owned gradient buffers so a large
//! batch can be processed in chunks with identical results.

use super::ops::gemm;
use rand::Rng;
use rayon::prelude::*;

/// Rows per rayon task in element-wise loops: large enough to amortise the
/// task overhead, small enough to balance two threads on 128-row batches.
const ROWS_PER_TASK: usize = 16;
/// Columns per rayon task in the bias-gradient column sums.
const COLS_PER_TASK: usize = 64;

/// Fully connected layer `y = x·W + b`, with `W` stored row-major as
/// `in_dim × out_dim` so the forward product needs no transpose.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linear {
    /// Input width.
    pub in_dim: usize,
    /// Output width.
    pub out_dim: usize,
    /// Weights, `in_dim × out_dim` row-major.
    pub weight: Vec<f32>,
    /// Bias, length `out_dim`.
    pub bias: Vec<f32>,
}

impl Linear {
    /// PyTorch's default initialisation: weights and biases U(±1/√in_dim)
    /// (spec §3.1), drawn weights first (row-major), then biases.
    pub fn new<R: Rng>(in_dim: usize, out_dim: usize, rng: &mut R) -> Self {
        let bound = 1.0 / (in_dim.max(1) as f32).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..=bound)).collect() };
        let weight = draw(in_dim * out_dim);
        let bias = draw(out_dim);
        Linear {
            in_dim,
            out_dim,
            weight,
            bias,
        }
    }

    /// Number of parameters (weights and biases).
    pub fn n_params(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    /// `y = x·W + b`, then ReLU when `relu`; `x` is `rows × in_dim`, `y` is
    /// `rows × out_dim`. Bias and activation are fused into one pass.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32], relu: bool) {
        gemm(
            rows,
            self.out_dim,
            self.in_dim,
            x,
            false,
            &self.weight,
            false,
            y,
            false,
        );
        let b = &self.bias;
        y.par_chunks_mut(self.out_dim * ROWS_PER_TASK)
            .for_each(|block| {
                for row in block.chunks_mut(b.len()) {
                    if relu {
                        for (v, &bj) in row.iter_mut().zip(b) {
                            *v = (*v + bj).max(0.0);
                        }
                    } else {
                        for (v, &bj) in row.iter_mut().zip(b) {
                            *v += bj;
                        }
                    }
                }
            });
    }

    /// Backward pass given `dy = ∂L/∂y` (already multiplied by the activation
    /// derivative): `dw += xᵀ·dy`, `db += Σ_rows dy`, and `dx = dy·Wᵀ` if asked.
    /// With `overwrite` the gradients are set instead of accumulated, which spares
    /// the caller a pass zeroing them (it is most of a memory-bound step at small
    /// batch sizes).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        dy: &[f32],
        rows: usize,
        dw: &mut [f32],
        db: &mut [f32],
        dx: Option<&mut [f32]>,
        overwrite: bool,
    ) {
        gemm(
            self.in_dim,
            self.out_dim,
            rows,
            x,
            true,
            dy,
            false,
            dw,
            !overwrite,
        );
        if overwrite {
            db.fill(0.0);
        }
        col_sums_into(dy, rows, self.out_dim, db);
        if let Some(dx) = dx {
            gemm(
                rows,
                self.in_dim,
                self.out_dim,
                dy,
                false,
                &self.weight,
                true,
                dx,
                false,
            );
        }
    }
}

/// `out[j] += Σ_r m[r, j]` for a row-major `rows × cols` matrix. Each column is
/// summed in row order whatever the thread count, so results are reproducible.
pub fn col_sums_into(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert_eq!(m.len(), rows * cols, "col_sums_into: wrong length");
    assert_eq!(out.len(), cols, "col_sums_into: wrong output length");
    out.par_chunks_mut(COLS_PER_TASK)
        .enumerate()
        .for_each(|(blk, o)| {
            let c0 = blk * COLS_PER_TASK;
            for r in 0..rows {
                let row = &m[r * cols + c0..r * cols + c0 + o.len()];
                for (acc, &v) in o.iter_mut().zip(row) {
                    *acc += v;
                }
            }
        });
}

/// ReLU in place.
pub fn relu_inplace(x: &mut [f32]) {
    x.par_chunks_mut(4096).for_each(|c| {
        for v in c {
            *v = v.max(0.0);
        }
    });
}

/// ReLU backward in place: `d *= 1[y > 0]`, where `y` is the ReLU output.
pub fn relu_backward(d: &mut [f32], y: &[f32]) {
    assert_eq!(d.len(), y.len(), "relu_backward: lengths differ");
    d.par_chunks_mut(4096)
        .zip(y.par_chunks(4096))
        .for_each(|(dc, yc)| {
            for (g, &v) in dc.iter_mut().zip(yc) {
                if v <= 0.0 {
                    *g = 0.0;
                }
            }
        });
}

/// Logistic sigmoid, evaluated without overflow for large |x|.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Derivative of the sigmoid given its output `s = sigmoid(x)`.
pub fn sigmoid_grad(s: f32) -> f32 {
    s * (1.0 - s)
}

/// `ln(1 + eˣ)` without overflow, in f64 for accurate loss sums.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
