//! Adam (Kingma & Ba) with PyTorch's update order, fused with the L1/L2
//! penalty gradient into one parallel pass per parameter tensor.

use super::loss::Penalty;
use rayon::prelude::*;

/// Elements per rayon task in the fused update; also the unit of the penalty's
/// partial sums, so the reported penalty does not depend on the thread count.
const CHUNK: usize = 8192;

/// Adam state for a fixed list of parameter tensors. The moments are allocated
/// at the first step and freed by [`Adam::reset`], so a model that is only
/// evaluated (or kept as a snapshot of its weights) carries no optimizer memory.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    sizes: Vec<usize>,
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
            sizes: sizes.to_vec(),
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Forgets the moments and the step count (a fresh optimizer).
    pub fn reset(&mut self) {
        self.t = 0;
        self.m = Vec::new();
        self.v = Vec::new();
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
        assert_eq!(
            params.len(),
            self.sizes.len(),
            "Adam: wrong number of tensors"
        );
        assert_eq!(
            grads.len(),
            self.sizes.len(),
            "Adam: wrong number of gradients"
        );
        if self.m.is_empty() {
            self.m = self.sizes.iter().map(|&n| vec![0.0; n]).collect();
            self.v = self.m.clone();
        }
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
            let k = Kernel {
                b1,
                b2,
                eps,
                step_size,
                inv_sqrt_bc2,
                l1: penalty.l1,
                l2: penalty.l2,
            };
            let partial: Vec<f64> = p
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .map(|(((pc, gc), mc), vc)| k.run(pc, gc, mc, vc, use_pen))
                .collect();
            total += partial.iter().sum::<f64>();
        }
        total
    }
}

/// The constants of one Adam step, applied to a chunk of one tensor.
#[derive(Clone, Copy)]
struct Kernel {
    b1: f32,
    b2: f32,
    eps: f32,
    step_size: f32,
    inv_sqrt_bc2: f32,
    l1: f32,
    l2: f32,
}

impl Kernel {
    /// Updates a chunk and returns its penalty (0 without one). The AVX2 copy is
    /// chosen at run time; Rust never contracts a·b + c into an FMA, and sqrt and
    /// division are correctly rounded, so both copies give identical bits.
    fn run(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], pen: bool) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe {
                if pen {
                    self.run_avx2::<true>(p, g, m, v)
                } else {
                    self.run_avx2::<false>(p, g, m, v)
                }
            };
        }
        if pen {
            self.run_generic::<true>(p, g, m, v)
        } else {
            self.run_generic::<false>(p, g, m, v)
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<const PEN: bool>(
        &self,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> f64 {
        self.run_generic::<PEN>(p, g, m, v)
    }

    /// Lanes of eight with their own penalty accumulators keep the loop
    /// vectorisable; the lanes are added in f64 per chunk, so the sum does not
    /// depend on the thread count.
    #[inline(always)]
    fn run_generic<const PEN: bool>(
        &self,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> f64 {
        let n = p.len();
        assert!(g.len() == n && m.len() == n && v.len() == n);
        let mut lanes = [0.0f32; 8];
        let full = n / 8 * 8;
        for i in (0..full).step_by(8) {
            let (p8, g8) = (&mut p[i..i + 8], &g[i..i + 8]);
            let (m8, v8) = (&mut m[i..i + 8], &mut v[i..i + 8]);
            for l in 0..8 {
                lanes[l] += self.one::<PEN>(&mut p8[l], g8[l], &mut m8[l], &mut v8[l]);
            }
        }
        let mut rest = 0.0f64;
        for i in full..n {
            rest += self.one::<PEN>(&mut p[i], g[i], &mut m[i], &mut v[i]) as f64;
        }
        rest + lanes.iter().map(|&x| x as f64).sum::<f64>()
    }

    #[inline(always)]
    fn one<const PEN: bool>(&self, p: &mut f32, g: f32, m: &mut f32, v: &mut f32) -> f32 {
        let theta = *p;
        let (gi, pen) = if PEN {
            // Branch-free sign with sign(0) = 0, as PyTorch's |θ|'.
            let sign = (theta > 0.0) as i32 as f32 - (theta < 0.0) as i32 as f32;
            (
                g + self.l1 * sign + 2.0 * self.l2 * theta,
                self.l1 * theta.abs() + self.l2 * theta * theta,
            )
        } else {
            (g, 0.0)
        };
        let mi = self.b1 * *m + (1.0 - self.b1) * gi;
        let vi = self.b2 * *v + (1.0 - self.b2) * gi * gi;
        *m = mi;
        *v = vi;
        *p = theta - self.step_size * mi / (vi.sqrt() * self.inv_sqrt_bc2 + self.eps);
        pen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// PyTorch's documented Adam (torch.optim.Adam, no weight decay) in f64,
    /// with the L1/L2 gradient added to the loss gradient.
    #[test]
    fn matches_the_reference_update() {
        let n = 37;
        let (l1, l2) = (0.01f32, 0.02f32);
        let mut p = pseudo(n, 1);
        let mut adam = Adam::new(0.001, &[n]);
        let (mut m, mut v) = (vec![0.0f64; n], vec![0.0f64; n]);
        let mut q: Vec<f64> = p.iter().map(|&x| x as f64).collect();
        for t in 1..=5 {
            let g = pseudo(n, 10 + t);
            adam.step(&mut [&mut p], &[&g], Penalty { l1, l2 });
            for i in 0..n {
                let sign = if q[i] > 0.0 {
                    1.0
                } else if q[i] < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                let gi = g[i] as f64 + l1 as f64 * sign + 2.0 * l2 as f64 * q[i];
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                let mh = m[i] / (1.0 - 0.9f64.powi(t as i32));
                let vh = v[i] / (1.0 - 0.999f64.powi(t as i32));
                q[i] -= 0.001 * mh / (vh.sqrt() + 1e-8);
            }
        }
        for i in 0..n {
            assert!(
                (p[i] as f64 - q[i]).abs() < 1e-6,
                "{i}: {} vs {}",
                p[i],
                q[i]
            );
        }
    }

    /// The run-time dispatched copy (AVX2 where available) and the portable copy
    /// must give the same bits, or results would depend on the CPU.
    #[test]
    fn dispatch_paths_agree_bitwise() {
        let k = Kernel {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            step_size: 0.003,
            inv_sqrt_bc2: 1.7,
            l1: 0.1,
            l2: 0.05,
        };
        for pen in [false, true] {
            let n = 1003;
            let g = pseudo(n, 3);
            let (mut p1, mut m1, mut v1) = (pseudo(n, 4), pseudo(n, 5), pseudo(n, 6));
            v1.iter_mut().for_each(|x| *x = x.abs());
            let (mut p2, mut m2, mut v2) = (p1.clone(), m1.clone(), v1.clone());
            let a = k.run(&mut p1, &g, &mut m1, &mut v1, pen);
            let b = if pen {
                k.run_generic::<true>(&mut p2, &g, &mut m2, &mut v2)
            } else {
                k.run_generic::<false>(&mut p2, &g, &mut m2, &mut v2)
            };
            assert_eq!(a.to_bits(), b.to_bits());
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p1), bits(&p2));
            assert_eq!(bits(&m1), bits(&m2));
            assert_eq!(bits(&v1), bits(&v2));
        }
    }
}
