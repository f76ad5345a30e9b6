//! Losses: per-entry/per-row weighted sums of squared errors (scGNN's AE loss,
//! spec §3.3 and §9.2), binary cross-entropy with logits (the GAE, spec §5.3),
//! and L1/L2 penalties on all weights and biases.

use super::layers::softplus;
use crate::error::{Error, Result};
use crate::matrix::Csr;
use rayon::prelude::*;

/// Weighted sum of squared errors
/// `Σ_ij (γ + α·R_ij + w_i)·(p_ij − t_ij)²`, which covers scGNN's plain SSE
/// (γ), the LTMG term (α·R, spec §3.3) and the graph/cell-type imputation
/// regulariser, which is exactly a per-cell weight `w_i` (spec §9.2).
#[derive(Clone, Copy, Debug)]
pub struct WeightedSse<'a> {
    /// Weight of every entry (scGNN's `gammaPara`).
    pub gamma: f32,
    /// Weight of the per-entry term `R` (scGNN's `alphaRegularizePara`).
    pub alpha: f32,
    /// Optional per-entry weights `R` (e.g. LTMG states), rows × columns.
    pub entry: Option<&'a Csr<u8>>,
    /// Optional per-row weights `w`.
    pub row: Option<&'a [f32]>,
}

impl Default for WeightedSse<'_> {
    /// Spec §3.3 defaults: γ = 0.1, α = 0.9, no LTMG, no per-cell weights.
    fn default() -> Self {
        WeightedSse {
            gamma: 0.1,
            alpha: 0.9,
            entry: None,
            row: None,
        }
    }
}

impl WeightedSse<'_> {
    /// Plain sum of squared errors (γ = 1, nothing else).
    pub fn plain() -> Self {
        WeightedSse {
            gamma: 1.0,
            alpha: 0.0,
            entry: None,
            row: None,
        }
    }

    /// Checks the weights are finite, non-negative and fit `rows × cols`.
    pub fn validate(&self, rows: usize, cols: usize) -> Result<()> {
        let ok = |v: f32| v.is_finite() && v >= 0.0;
        if !ok(self.gamma) || !ok(self.alpha) {
            return Err(Error::Usage(format!(
                "loss weights must be finite and non-negative (gamma {}, alpha {})",
                self.gamma, self.alpha
            )));
        }
        if let Some(r) = self.entry {
            if r.rows != rows || r.cols != cols {
                return Err(Error::Usage(format!(
                    "the per-entry weight matrix is {}×{} but the data are {rows}×{cols}",
                    r.rows, r.cols
                )));
            }
        }
        if let Some(w) = self.row {
            if w.len() != rows {
                return Err(Error::Usage(format!(
                    "{} per-cell weights given for {rows} cells",
                    w.len()
                )));
            }
            if let Some(i) = w.iter().position(|&v| !ok(v)) {
                return Err(Error::Usage(format!(
                    "per-cell weight {i} is {} (must be finite and non-negative)",
                    w[i]
                )));
            }
        }
        Ok(())
    }

    /// Loss of the rows `row0 .. row0 + pred.len()/cols` (global row numbers
    /// index `R` and `w`). Writes `∂L/∂pred` into `grad` when given, and one
    /// f64 loss per row into `row_loss` (summed in order by the caller for a
    /// thread-count-independent total); returns that total.
    pub fn eval(
        &self,
        row0: usize,
        pred: &[f32],
        target: &[f32],
        cols: usize,
        grad: Option<&mut [f32]>,
        row_loss: &mut [f64],
    ) -> f64 {
        let rows = pred.len() / cols.max(1);
        assert_eq!(pred.len(), target.len(), "WeightedSse: lengths differ");
        assert!(row_loss.len() >= rows, "WeightedSse: row_loss too short");
        let row_loss = &mut row_loss[..rows];
        let one_row = |i: usize, p: &[f32], t: &[f32], g: Option<&mut [f32]>| -> f64 {
            let r = row0 + i;
            let base = self.gamma + self.row.map_or(0.0, |w| w[r]);
            let mut s = 0.0f64;
            for (&a, &b) in p.iter().zip(t) {
                let d = (a - b) as f64;
                s += d * d;
            }
            let mut loss = base as f64 * s;
            let sparse = self.entry.filter(|_| self.alpha != 0.0).map(|m| m.row(r));
            if let Some((ci, cv)) = sparse {
                for (&c, &v) in ci.iter().zip(cv) {
                    let d = (p[c as usize] - t[c as usize]) as f64;
                    loss += (self.alpha * v as f32) as f64 * d * d;
                }
            }
            if let Some(g) = g {
                for ((gv, &a), &b) in g.iter_mut().zip(p).zip(t) {
                    *gv = 2.0 * base * (a - b);
                }
                if let Some((ci, cv)) = sparse {
                    for (&c, &v) in ci.iter().zip(cv) {
                        let c = c as usize;
                        g[c] += 2.0 * self.alpha * v as f32 * (p[c] - t[c]);
                    }
                }
            }
            loss
        };
        match grad {
            Some(g) => {
                assert_eq!(g.len(), pred.len(), "WeightedSse: grad length");
                g.par_chunks_mut(cols)
                    .zip(row_loss.par_iter_mut())
                    .enumerate()
                    .for_each(|(i, (gr, l))| {
                        let p = &pred[i * cols..(i + 1) * cols];
                        let t = &target[i * cols..(i + 1) * cols];
                        *l = one_row(i, p, t, Some(gr));
                    })
            }
            None => row_loss.par_iter_mut().enumerate().for_each(|(i, l)| {
                let p = &pred[i * cols..(i + 1) * cols];
                let t = &target[i * cols..(i + 1) * cols];
                *l = one_row(i, p, t, None);
            }),
        }
        row_loss.iter().sum()
    }
}

/// Mean squared error `Σ(p − t)²/n` and its gradient `2(p − t)/n` (into `grad`).
pub fn mse(pred: &[f32], target: &[f32], grad: Option<&mut [f32]>) -> f64 {
    let n = pred.len().max(1) as f64;
    let mut s = 0.0f64;
    for (&a, &b) in pred.iter().zip(target) {
        s += ((a - b) as f64).powi(2);
    }
    if let Some(g) = grad {
        for ((gv, &a), &b) in g.iter_mut().zip(pred).zip(target) {
            *gv = (2.0 * (a - b) as f64 / n) as f32;
        }
    }
    s / n
}

/// Binary cross-entropy with logits for one entry, PyTorch's
/// `BCEWithLogitsLoss` with `pos_weight`:
/// `−pos_weight·y·ln σ(x) − (1 − y)·ln(1 − σ(x))`. Returns (loss, ∂loss/∂x).
pub fn bce_with_logits(x: f32, y: f32, pos_weight: f32) -> (f64, f32) {
    let (x64, y64, pw) = (x as f64, y as f64, pos_weight as f64);
    // ln σ(x) = −softplus(−x); ln(1 − σ(x)) = −softplus(x).
    let loss = pw * y64 * softplus(-x64) + (1.0 - y64) * softplus(x64);
    let s = super::layers::sigmoid(x) as f64;
    let grad = -pw * y64 * (1.0 - s) + (1.0 - y64) * s;
    (loss, grad as f32)
}

/// L1/L2 penalty `λ1·Σ|θ| + λ2·Σθ²` over all weights and biases (spec §3.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penalty {
    /// L1 strength λ1.
    pub l1: f32,
    /// L2 strength λ2.
    pub l2: f32,
}

impl Default for Penalty {
    /// Spec §3.3: `L1Para` = 1.0, `L2Para` = 0.0.
    fn default() -> Self {
        Penalty { l1: 1.0, l2: 0.0 }
    }
}

impl Penalty {
    /// No penalty.
    pub fn none() -> Self {
        Penalty { l1: 0.0, l2: 0.0 }
    }

    /// Whether both strengths are zero.
    pub fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// Checks both strengths are finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        if !(self.l1.is_finite() && self.l1 >= 0.0 && self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::Usage(format!(
                "L1/L2 strengths must be finite and non-negative (got {}, {})",
                self.l1, self.l2
            )));
        }
        Ok(())
    }

    /// Penalty of one parameter.
    #[inline]
    pub fn value(&self, theta: f32) -> f64 {
        let t = theta as f64;
        self.l1 as f64 * t.abs() + self.l2 as f64 * t * t
    }

    /// Derivative of the penalty of one parameter; the subgradient of |θ| at 0
    /// is taken as 0, as PyTorch does.
    #[inline]
    pub fn grad(&self, theta: f32) -> f32 {
        let sign = if theta > 0.0 {
            1.0
        } else if theta < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.l1 * sign + 2.0 * self.l2 * theta
    }

    /// Penalty of a set of parameter tensors.
    pub fn total(&self, params: &[&[f32]]) -> f64 {
        params
            .iter()
            .map(|p| p.iter().map(|&t| self.value(t)).sum::<f64>())
            .sum()
    }
}
