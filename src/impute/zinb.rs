//! Per-gene zero-inflated negative binomial around the graph's expected counts,
//! and the posterior expectation each entry is replaced by.
//!
//! x_ig ~ π_g δ₀ + (1 − π_g) NB(mean μ_ig, shape θ_g): μ comes from the graph,
//! so only two numbers per gene are fitted, θ by golden-section search on ln θ
//! with π profiled out (for fixed θ the log-likelihood is concave in π).

use super::lognb::{Slice, Table};
use super::special::ln_gamma;

/// θ is kept inside [1e-2, 1e4]: below, NB(0) → 1 and the model is a point
/// mass; above, NB is Poisson to within the sampling error of any real gene.
pub(crate) const THETA_MIN: f64 = 1e-2;
pub(crate) const THETA_MAX: f64 = 1e4;
/// Width of the final golden-section bracket in ln θ (θ to ~1 %, far below
/// its sampling error on ≤ a few thousand cells).
const LN_THETA_TOL: f64 = 0.01;
/// π stays below 1 so ln(1 − π) is finite when every observation is a zero.
const PI_MAX: f64 = 1.0 - 1e-9;

/// A fitted gene.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Zinb {
    /// NB shape (inverse over-dispersion).
    pub theta: f64,
    /// Zero-inflation (dropout) probability.
    pub pi: f64,
}

/// The sample of one gene: expected counts of the zero entries, and
/// (count, expected count) of the non-zero ones. Entries whose expected count
/// is 0 carry no information (their likelihood is 1 for every θ, π).
#[derive(Default)]
pub(crate) struct Sample {
    zero_mu: Vec<f64>,
    pos: Vec<(f64, f64)>,
}

impl Sample {
    /// Adds one observed count `x` with expected count `mu`.
    pub(crate) fn push(&mut self, x: f64, mu: f64) {
        if mu > 0.0 {
            if x > 0.0 {
                self.pos.push((x, mu));
            } else {
                self.zero_mu.push(mu);
            }
        }
    }
}

/// Maximum-likelihood ZINB for one gene. Without a single non-zero count the
/// zero inflation is not identifiable, so π = 0 (no evidence of dropout) and θ
/// is fitted to the zeros alone.
pub(crate) fn fit(s: &Sample) -> Zinb {
    let mut q = vec![0.0; s.zero_mu.len()];
    // Each evaluation starts π's Newton iteration from the previous optimum:
    // θ moves little between golden-section steps, so two or three
    // iterations suffice instead of ~8 from scratch.
    let mut pi = None;
    let mut eval = |ln_theta: f64| {
        let (ll, best) = profile(s, ln_theta.exp(), &mut q, pi);
        pi = Some(best);
        (ll, best)
    };
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (THETA_MIN.ln(), THETA_MAX.ln());
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (eval(c), eval(d));
    while b - a > LN_THETA_TOL {
        if fc.0 >= fd.0 {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = eval(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = eval(d);
        }
    }
    let (ln_theta, (_, pi)) = if fc.0 >= fd.0 { (c, fc) } else { (d, fd) };
    Zinb {
        theta: ln_theta.exp(),
        pi,
    }
}

/// Log-likelihood at `theta` with π at its maximum, up to terms free of θ and
/// π; returns (log-likelihood, π). `q` is scratch for NB(0; μ, θ) of the
/// zeros; `pi_start` is where π's search starts (None: a moment estimate).
fn profile(s: &Sample, theta: f64, q: &mut [f64], pi_start: Option<f64>) -> (f64, f64) {
    let (lg_theta, ln_theta) = (ln_gamma(theta), theta.ln());
    let ll_pos: f64 = s
        .pos
        .iter()
        .map(|&(x, mu)| {
            ln_rising(theta, x, lg_theta) + theta * ln_theta - (theta + x) * (theta + mu).ln()
        })
        .sum();
    let mut ln_nb0 = 0.0;
    for (q, &mu) in q.iter_mut().zip(&s.zero_mu) {
        let l = -theta * (mu / theta).ln_1p();
        ln_nb0 += l;
        // Floored so (1 − q)/q below stays finite for deep genes.
        *q = l.exp().max(1e-300);
    }
    let n_pos = s.pos.len() as f64;
    let pi = if n_pos == 0.0 {
        0.0
    } else {
        best_pi(q, n_pos, pi_start)
    };
    // Without zero inflation the zeros' term is Σ ln q, already summed.
    let ll_zero = match pi {
        0.0 => ln_nb0,
        _ => q.iter().map(|&q| (pi + (1.0 - pi) * q).ln()).sum(),
    };
    (ll_pos + ll_zero + n_pos * (1.0 - pi).ln(), pi)
}

/// argmax over π ∈ [0, 1) of Σ ln(π + (1 − π) q) + n₊ ln(1 − π), by Newton's
/// method kept inside a bisection bracket (the function is concave, so the
/// sign of its slope tells which side of the optimum a point is).
fn best_pi(q: &[f64], n_pos: f64, start: Option<f64>) -> f64 {
    let slope = |pi: f64| {
        let (mut d1, mut d2) = (-n_pos / (1.0 - pi), -n_pos / ((1.0 - pi) * (1.0 - pi)));
        for &q in q {
            let u = (1.0 - q) / (pi + (1.0 - pi) * q);
            d1 += u;
            d2 -= u * u;
        }
        (d1, d2)
    };
    if slope(0.0).0 <= 0.0 {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0, PI_MAX);
    let mut pi = start.unwrap_or_else(|| {
        // The moment estimate: zeros in excess of those NB predicts.
        let (n0, sum_q) = (q.len() as f64, q.iter().sum::<f64>());
        (n0 - sum_q) / (n0 + n_pos - sum_q)
    });
    pi = pi.clamp(0.0, PI_MAX);
    for _ in 0..60 {
        let (d1, d2) = slope(pi);
        if d1 > 0.0 {
            lo = pi;
        } else {
            hi = pi;
        }
        let newton = pi - d1 / d2;
        let next = if newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - pi).abs() < 1e-9 || hi - lo < 1e-9 {
            return next;
        }
        pi = next;
    }
    pi
}

/// ln Γ(θ + x) − ln Γ(θ) for a count x: as the log of a rising product when x
/// is small (one logarithm; most non-zero counts of sparse data are 1 to 3),
/// by ln Γ otherwise. `lg_theta` is ln Γ(θ). 16 factors of at most ~1e4 cannot
/// overflow.
fn ln_rising(theta: f64, x: f64, lg_theta: f64) -> f64 {
    if x > 16.0 {
        return ln_gamma(x + theta) - lg_theta;
    }
    let (mut p, mut k) = (1.0, 0.0);
    while k < x {
        p *= theta + k;
        k += 1.0;
    }
    p.ln()
}

/// A fitted gene ready to score its entries: the shape-θ slice of the
/// E[ln(1 + NB)] table serves every zero entry of the gene.
pub(crate) struct GeneModel {
    /// The fit.
    pub fit: Zinb,
    slice: Slice,
}

impl GeneModel {
    /// Prepares the gene's lookups.
    pub(crate) fn new(fit: Zinb, table: &Table) -> GeneModel {
        GeneModel {
            fit,
            slice: table.slice(fit.theta),
        }
    }

    /// E[ln(1 + X_new)] for a fresh count X_new of an entry observed as `x`
    /// with expected count `mu`. With λ ~ Gamma(θ, θ/μ) a priori, a count
    /// x > 0 gives λ | x ~ Gamma(θ + x, θ/μ + 1), hence X_new ~ NB(mean
    /// (θ + x)μ/(θ + μ), shape θ + x). A zero is a dropout (λ keeps its prior,
    /// X_new ~ NB(μ, θ)) with probability π/(π + (1 − π) NB(0; μ, θ)), else a
    /// sampled zero (X_new ~ NB(θμ/(θ + μ), θ)).
    pub(crate) fn value(&self, x: f64, mu: f64, table: &Table) -> f64 {
        if mu <= 0.0 {
            return 0.0;
        }
        let Zinb { theta, pi } = self.fit;
        if x > 0.0 {
            return table.get((theta + x) * mu / (theta + mu), theta + x);
        }
        // ln of the posterior mean θμ/(θ + μ) is ln μ − l: two logarithms
        // serve both branches.
        let (l, ln_mu) = ((mu / theta).ln_1p(), mu.ln());
        let sampled = self.slice.get_ln(ln_mu - l);
        if pi == 0.0 {
            return sampled;
        }
        let nb0 = (-theta * l).exp();
        let w = pi / (pi + (1.0 - pi) * nb0);
        w * self.slice.get_ln(ln_mu) + (1.0 - w) * sampled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Gamma, Poisson};

    /// Draws ZINB counts with known μ and fits them.
    fn simulate_and_fit(theta: f64, pi: f64, n: usize, seed: u64) -> Zinb {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut s = Sample::default();
        for _ in 0..n {
            let mu: f64 = rng.random_range(0.5..20.0);
            let lambda = Gamma::new(theta, mu / theta).unwrap().sample(&mut rng);
            let x = if rng.random::<f64>() < pi {
                0.0
            } else {
                Poisson::new(lambda.max(1e-12)).unwrap().sample(&mut rng)
            };
            s.push(x, mu);
        }
        fit(&s)
    }

    #[test]
    fn zinb_fit_recovers_theta_and_pi() {
        for seed in 0..3 {
            let z = simulate_and_fit(2.0, 0.3, 5000, seed);
            assert!(
                (z.theta / 2.0 - 1.0).abs() < 0.2,
                "seed {seed}: θ {}",
                z.theta
            );
            assert!((z.pi - 0.3).abs() < 0.05, "seed {seed}: π {}", z.pi);
        }
    }

    #[test]
    fn zinb_fit_finds_no_inflation_in_plain_nb() {
        let z = simulate_and_fit(5.0, 0.0, 5000, 7);
        assert!((z.theta / 5.0 - 1.0).abs() < 0.2, "θ {}", z.theta);
        assert!(z.pi < 0.03, "π {}", z.pi);
    }

    #[test]
    fn rising_product_matches_ln_gamma() {
        for theta in [0.01, 0.7, 3.0, 250.0, 1e4] {
            for x in [1.0, 2.0, 5.0, 16.0, 17.0, 300.0] {
                let want = ln_gamma(theta + x) - ln_gamma(theta);
                let got = ln_rising(theta, x, ln_gamma(theta));
                assert!(
                    (got - want).abs() < 1e-9 * want.abs().max(1.0),
                    "θ {theta} x {x}"
                );
            }
        }
    }

    #[test]
    fn zinb_fit_without_non_zero_counts_assumes_no_dropout() {
        let mut s = Sample::default();
        for mu in [0.1, 0.5, 2.0] {
            s.push(0.0, mu);
        }
        assert_eq!(fit(&s).pi, 0.0);
    }

    #[test]
    fn posterior_moves_towards_the_count_as_theta_falls() {
        let table = super::super::lognb::table();
        let at = |theta: f64| {
            let m = GeneModel::new(Zinb { theta, pi: 0.0 }, table);
            m.value(50.0, 10.0, table)
        };
        // Tight prior (large θ): near ln(1 + μ); loose prior: near ln(1 + x).
        assert!((at(1e4) - 11f64.ln()).abs() < 0.1, "{}", at(1e4));
        assert!((at(0.05) - 51f64.ln()).abs() < 0.1, "{}", at(0.05));
        // A zero that is almost surely a dropout (NB(0; 100, 4) ≈ 5e-6) is
        // imputed from the prior; without zero inflation, from the posterior.
        let m = GeneModel::new(
            Zinb {
                theta: 4.0,
                pi: 0.5,
            },
            table,
        );
        let prior = table.get(100.0, 4.0);
        assert!((m.value(0.0, 100.0, table) - prior).abs() < 1e-4);
        let m = GeneModel::new(
            Zinb {
                theta: 4.0,
                pi: 0.0,
            },
            table,
        );
        let posterior = table.get(400.0 / 104.0, 4.0);
        assert!((m.value(0.0, 100.0, table) - posterior).abs() < 1e-9);
    }
}
