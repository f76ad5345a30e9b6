//! Adam (Kingma & Ba) with PyTorch's update order, fused with the L1/L2
//! penalty gradient into one parallel pass per parameter tensor.

use super::loss::Penalty;
use rayon::prelude::*;

/// Elements per rayon task in the fused update; also the unit of the penalty's
/// partial sums, so the reported penalty does not depend on the thread count.
const CHUNK: usize = 8192;

/// Adam state for a fixed list of parameter tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay (0.9).
    pub beta1: f32,
    /// Second-moment decay (0.999).
    pub beta2: f32,
    /// Denominator offset (1e-8).
    pub eps: f32,
    t: u64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Fresh state for tensors of the given sizes, PyTorch's defaults
    /// β = (0.9, 0.999), ε = 1e-8.
    pub fn new(lr: f32, sizes: &[usize]) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// Forgets the moments and the step count (a fresh optimizer).
    pub fn reset(&mut self) {
        self.t = 0;
        for x in self.m.iter_mut().chain(self.v.iter_mut()) {
            x.fill(0.0);
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of every tensor with gradient `grads[i] + penalty'(θ)`.
    /// Returns the penalty evaluated at the parameters before the update
    /// (0 when the penalty is zero), so callers get it without another pass.
    /// Panics if the tensor list does not match the sizes given to `new`.
    pub fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]], penalty: Penalty) -> f64 {
        assert_eq!(params.len(), self.m.len(), "Adam: wrong number of tensors");
        assert_eq!(grads.len(), self.m.len(), "Adam: wrong number of gradients");
        self.t += 1;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let bc1 = 1.0 - (b1 as f64).powi(self.t as i32);
        let bc2 = 1.0 - (b2 as f64).powi(self.t as i32);
        let step_size = (self.lr as f64 / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let use_pen = !penalty.is_zero();
        let mut total = 0.0f64;
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            assert_eq!(p.len(), g.len(), "Adam: gradient length");
            assert_eq!(p.len(), m.len(), "Adam: tensor length changed");
            let partial: Vec<f64> = p
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .map(|(((pc, gc), mc), vc)| {
                    let (l1, l2) = (penalty.l1, penalty.l2);
                    let update = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| -> f32 {
                        let theta = *p;
                        // Branch-free sign with sign(0) = 0, as PyTorch's |θ|'.
                        let sign = (theta > 0.0) as i32 as f32 - (theta < 0.0) as i32 as f32;
                        let (gi, pen) = if use_pen {
                            (
                                g + l1 * sign + 2.0 * l2 * theta,
                                l1 * theta.abs() + l2 * theta * theta,
                            )
                        } else {
                            (g, 0.0)
                        };
                        let mi = b1 * *m + (1.0 - b1) * gi;
                        let vi = b2 * *v + (1.0 - b2) * gi * gi;
                        *m = mi;
                        *v = vi;
                        *p = theta - step_size * mi / (vi.sqrt() * inv_sqrt_bc2 + eps);
                        pen
                    };
                    // Groups of eight with one f32 penalty lane each keep the
                    // loop vectorisable; the lanes are added in f64 per chunk.
                    let mut lanes = [0.0f32; 8];
                    let mut pi = pc.chunks_exact_mut(8);
                    let mut gi = gc.chunks_exact(8);
                    let mut mi = mc.chunks_exact_mut(8);
                    let mut vi = vc.chunks_exact_mut(8);
                    for (((p8, g8), m8), v8) in (&mut pi).zip(&mut gi).zip(&mut mi).zip(&mut vi) {
                        for l in 0..8 {
                            lanes[l] += update(&mut p8[l], g8[l], &mut m8[l], &mut v8[l]);
                        }
                    }
                    let mut rest = 0.0f64;
                    for (((p, &g), m), v) in pi
                        .into_remainder()
                        .iter_mut()
                        .zip(gi.remainder())
                        .zip(mi.into_remainder().iter_mut())
                        .zip(vi.into_remainder().iter_mut())
                    {
                        rest += update(p, g, m, v) as f64;
                    }
                    rest + lanes.iter().map(|&x| x as f64).sum::<f64>()
                })
                .collect();
            total += partial.iter().sum::<f64>();
        }
        total
    }
}
