//! E[ln(1 + X)] for X ~ NB(mean m, shape r), the output scale of the
//! imputation. There is no closed form and a direct sum over the pmf costs
//! O(m + sd) terms, far too slow for every entry of a large matrix, so the
//! function is tabulated once on a grid in (ln m, ln r) and read back by
//! cubic interpolation.
//!
//! The table itself comes from Frullani's integral ln(1 + x) = ∫ (e^{-s} −
//! e^{-s(1+x)})/s ds, whose expectation needs only the NB generating function:
//! E[ln(1 + X)] = ∫ e^{-s} (1 − (1 + (m/r)(1 − e^{-s}))^{-r}) ds/s. With
//! s = e^w the integrand is smooth and decays at both ends, so the trapezoid
//! rule converges geometrically and ~200 nodes give every table entry to
//! ~1e-12, whatever m and r.

use rayon::prelude::*;
use std::sync::OnceLock;

/// Grid bounds. Below m = 1e-6 the function is linear in m to ~1e-6 relative;
/// above 1e8 it grows as ln m; above r = 1e7 NB is Poisson to ~1/(2r); θ is
/// never below 1e-2 (its fitting clamp) and the shapes used are θ or θ + x.
const LN_M_MIN: f64 = -13.815_510_557_964_274;
const LN_M_MAX: f64 = 18.420_680_743_952_367;
const LN_R_MIN: f64 = -4.605_170_185_988_091;
const LN_R_MAX: f64 = 16.118_095_650_958_32;
/// Grid spacing in both log coordinates: cubic interpolation at this spacing
/// stays below 3e-4 absolute error over the whole grid, the worst being shapes
/// below 1 with means above 1e6 (the unit tests check it against the direct
/// pmf sum and the integral).
const STEP: f64 = 0.2;

/// Number of nodes covering [lo, hi] with one spare node below and two above,
/// as four-point interpolation needs.
fn n_nodes(lo: f64, hi: f64) -> usize {
    ((hi - lo) / STEP).ceil() as usize + 3
}

/// Fractional node position of `u` in a grid starting at `lo` (node 0 lies one
/// step below `lo`), split into the first of the four nodes used and the offset.
fn locate(u: f64, lo: f64, n: usize) -> (usize, f64) {
    let pos = (u - lo) / STEP + 1.0;
    let k = (pos.floor() as usize).clamp(1, n - 3);
    (k - 1, pos - k as f64)
}

/// Lagrange weights of the four nodes k−1..k+2 at offset t from node k.
fn cubic_weights(t: f64) -> [f64; 4] {
    [
        -t * (t - 1.0) * (t - 2.0) / 6.0,
        (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0,
        -(t + 1.0) * t * (t - 2.0) / 2.0,
        (t + 1.0) * t * (t - 1.0) / 6.0,
    ]
}

fn dot4(v: &[f64], w: &[f64; 4]) -> f64 {
    v[0] * w[0] + v[1] * w[1] + v[2] * w[2] + v[3] * w[3]
}

/// E[ln(1 + X)] by the Frullani integral: accurate to ~1e-12 but ~200
/// exponentials per call, so only for building the table and for tests.
pub(crate) fn exact(m: f64, r: f64) -> f64 {
    if m <= 0.0 {
        return 0.0;
    }
    let a = m / r;
    let h = 0.2;
    // Below w_lo the integrand is < m e^w, so the cut-off tail is < 1e-12.
    let w_lo = (1e-12 / m).ln();
    let n = ((3.6 - w_lo) / h).ceil() as usize;
    let sum: f64 = (0..=n)
        .map(|k| {
            let s = (w_lo + k as f64 * h).exp();
            let v = -(-s).exp_m1();
            (-s).exp() * -(-r * (a * v).ln_1p()).exp_m1()
        })
        .sum();
    sum * h
}

/// The tabulated function, `nr` rows (one per ln r node) of `nm` values.
pub(crate) struct Table {
    nm: usize,
    nr: usize,
    data: Vec<f64>,
}

/// The process-wide table, built on first use (~0.1 s, in parallel).
pub(crate) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::build)
}

impl Table {
    fn build() -> Table {
        let nm = n_nodes(LN_M_MIN, LN_M_MAX);
        let nr = n_nodes(LN_R_MIN, LN_R_MAX);
        let data = (0..nr * nm)
            .into_par_iter()
            .map(|i| {
                let lr = LN_R_MIN + ((i / nm) as f64 - 1.0) * STEP;
                let lm = LN_M_MIN + ((i % nm) as f64 - 1.0) * STEP;
                exact(lm.exp(), lr.exp())
            })
            .collect();
        Table { nm, nr, data }
    }

    /// The table restricted to one shape `r`: every x = 0 entry of a gene
    /// uses the gene's θ, so the interpolation in r is done once per gene.
    pub(crate) fn slice(&self, r: f64) -> Slice {
        let lr = r.ln().clamp(LN_R_MIN, LN_R_MAX);
        let (k, t) = locate(lr, LN_R_MIN, self.nr);
        let w = cubic_weights(t);
        let nodes = (0..self.nm)
            .map(|j| {
                (0..4)
                    .map(|i| w[i] * self.data[(k + i) * self.nm + j])
                    .sum()
            })
            .collect();
        Slice { nodes }
    }

    /// E[ln(1 + NB(m, r))] by bicubic interpolation.
    pub(crate) fn get(&self, m: f64, r: f64) -> f64 {
        let lr = r.ln().clamp(LN_R_MIN, LN_R_MAX);
        let (k, t) = locate(lr, LN_R_MIN, self.nr);
        let w = cubic_weights(t);
        let nm = self.nm;
        extrapolate(m, |lm| {
            let (j, tm) = locate(lm, LN_M_MIN, nm);
            let wm = cubic_weights(tm);
            let rows: [f64; 4] = std::array::from_fn(|i| dot4(&self.data[(k + i) * nm + j..], &wm));
            dot4(&rows, &w)
        })
    }
}

/// Evaluates the interpolant `at(ln m)` inside the grid and continues it
/// outside: linearly in m towards 0 (f ≈ m ln 2 there), as ln m upwards.
fn extrapolate(m: f64, at: impl Fn(f64) -> f64) -> f64 {
    if m <= 0.0 {
        return 0.0;
    }
    extrapolate_ln(m.ln(), at)
}

/// [`extrapolate`] given ln m.
fn extrapolate_ln(lm: f64, at: impl Fn(f64) -> f64) -> f64 {
    if lm < LN_M_MIN {
        at(LN_M_MIN) * (lm - LN_M_MIN).exp()
    } else if lm > LN_M_MAX {
        at(LN_M_MAX) + (lm - LN_M_MAX)
    } else {
        at(lm)
    }
}

/// E[ln(1 + NB(m, r))] as a function of m alone, for one fixed r.
pub(crate) struct Slice {
    nodes: Vec<f64>,
}

impl Slice {
    /// E[ln(1 + NB(m, r))] by cubic interpolation in ln m, given `ln_m`
    /// (callers often have it already) for m > 0.
    pub(crate) fn get_ln(&self, ln_m: f64) -> f64 {
        extrapolate_ln(ln_m, |lm| {
            let (j, t) = locate(lm, LN_M_MIN, self.nodes.len());
            dot4(&self.nodes[j..], &cubic_weights(t))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impute::special::ln_gamma;

    /// Σ_k P(X = k) ln(1 + k) in log space (no underflow of P(X = 0) at large
    /// r), summed far enough into the tail, whose scale is max(sd, m/r).
    fn direct(m: f64, r: f64) -> f64 {
        let sd = (m + m * m / r).sqrt();
        let k_max = (m + 40.0 * sd.max(m / r) + 100.0) as u64;
        let (lp, lq) = ((m / (m + r)).ln(), (r / (m + r)).ln());
        let c = r * lq - ln_gamma(r);
        (1..=k_max)
            .map(|k| {
                let k = k as f64;
                let lpmf = c + ln_gamma(k + r) - ln_gamma(k + 1.0) + k * lp;
                lpmf.exp() * k.ln_1p()
            })
            .sum()
    }

    const MEANS: [f64; 12] = [
        1e-4, 3e-3, 0.05, 0.3, 1.0, 2.7, 9.0, 31.0, 140.0, 700.0, 3300.0, 2e4,
    ];
    const SHAPES: [f64; 9] = [0.01, 0.07, 0.4, 1.3, 4.6, 25.0, 300.0, 1e4, 5e6];

    #[test]
    fn frullani_integral_matches_the_direct_sum() {
        for &m in &MEANS {
            for &r in &SHAPES {
                if m / r > 1e5 {
                    continue; // the direct sum would need > 1e7 terms
                }
                let (want, got) = (direct(m, r), exact(m, r));
                // 1e-7: the direct sum's lnΓ(k + r) − lnΓ(r) cancels ~1e-8 at r ~ 1e6.
                assert!((got - want).abs() < 1e-7, "m {m} r {r}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn fast_path_matches_the_direct_sum() {
        let t = table();
        let mut worst: f64 = 0.0;
        for &m in &MEANS {
            for &r in &SHAPES {
                if m / r > 1e5 {
                    continue;
                }
                let want = direct(m, r);
                let (fast, sliced) = (t.get(m, r), t.slice(r).get_ln(m.ln()));
                worst = worst.max((fast - want).abs()).max((sliced - want).abs());
                assert!((fast - want).abs() < 1e-3, "m {m} r {r}: {fast} vs {want}");
                assert!((sliced - want).abs() < 1e-3, "m {m} r {r}: {sliced}");
            }
        }
        assert!(worst < 3e-4, "worst interpolation error {worst}");
    }

    #[test]
    fn fast_path_between_nodes_and_outside_the_grid() {
        // Off-grid points (mid-cell in both coordinates) against the integral,
        // which the test above ties to the direct sum.
        let t = table();
        let mut worst: f64 = 0.0;
        for i in 0..150 {
            let lm = LN_M_MIN + (i as f64 + 0.5) * STEP;
            for j in (0..100).step_by(7) {
                let lr = LN_R_MIN + (j as f64 + 0.5) * STEP;
                let (m, r) = (lm.exp(), lr.exp());
                worst = worst.max((t.get(m, r) - exact(m, r)).abs());
            }
        }
        assert!(worst < 3e-4, "worst mid-cell error {worst}");
        for (m, r) in [(1e-8, 3.0), (1e-7, 0.02), (1e9, 2.0), (5e9, 1e3)] {
            let e = (t.get(m, r) - exact(m, r)).abs();
            assert!(e < 1e-3 * exact(m, r).max(1e-3), "m {m} r {r}: error {e}");
        }
        assert_eq!(t.get(0.0, 1.0), 0.0);
    }
}
