//! EM for a Gaussian mixture fitted to left-censored data (spec §2.5.1, done
//! correctly): values at or above the cut are observed exactly; every value
//! below it (zeros included) contributes only the mass Φ of the mixture below
//! the cut. The E-step splits that censored mass over the components and uses the
//! closed-form moments of a normal truncated above at the cut.

use super::normal::{ln_cdf_and_mills, LN_SQRT_2PI};

/// One gene's data on the log scale: observed values grouped by distinct value
/// (count data repeats the same few values, so grouping makes EM cost scale with
/// the number of distinct values, not of cells) and the number censored below `cut`.
#[derive(Clone, Debug)]
pub struct CensoredSample {
    values: Vec<f64>,
    counts: Vec<f64>,
    n_observed: f64,
    n_censored: f64,
    cut: f64,
}

impl CensoredSample {
    /// Builds a sample from log values `y` (any order) and `extra_censored`
    /// entries known to lie below the cut (the zeros). Values below `cut` or not
    /// finite are counted as censored too. `cut` may be −∞ (no censoring).
    ///
    /// With `bin_width` > 0 observed values are rounded to the grid
    /// `cut + i·bin_width` (anchored at 0 when `cut` is −∞), which bounds the EM
    /// cost per iteration by the range of the data over the width instead of the
    /// number of cells; 0 keeps the values exact.
    pub fn new(mut y: Vec<f64>, extra_censored: usize, cut: f64, bin_width: f64) -> Self {
        let before = y.len();
        y.retain(|v| v.is_finite() && *v >= cut);
        if bin_width > 0.0 {
            let anchor = if cut.is_finite() { cut } else { 0.0 };
            for v in y.iter_mut() {
                *v = anchor + ((*v - anchor) / bin_width).round() * bin_width;
            }
        }
        let n_censored = (extra_censored + before - y.len()) as f64;
        y.sort_unstable_by(|a, b| a.total_cmp(b));
        let mut values: Vec<f64> = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        for v in y.iter().copied() {
            match values.last() {
                Some(&last) if last == v => *counts.last_mut().expect("parallel vecs") += 1.0,
                _ => {
                    values.push(v);
                    counts.push(1.0);
                }
            }
        }
        CensoredSample {
            n_observed: y.len() as f64,
            values,
            counts,
            n_censored,
            cut,
        }
    }

    /// Distinct observed values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Multiplicity of each distinct observed value.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// Number of observed entries (≥ cut).
    pub fn n_observed(&self) -> f64 {
        self.n_observed
    }

    /// Number of censored entries (< cut, zeros included).
    pub fn n_censored(&self) -> f64 {
        self.n_censored
    }

    /// All entries, observed and censored: the `n` of the BIC.
    pub fn n_total(&self) -> f64 {
        self.n_observed + self.n_censored
    }

    /// The censoring point on the log scale.
    pub fn cut(&self) -> f64 {
        self.cut
    }

    /// Weighted mean and population sd of the observed values.
    pub fn observed_moments(&self) -> (f64, f64) {
        let n = self.n_observed.max(1.0);
        let mean = self
            .values
            .iter()
            .zip(&self.counts)
            .map(|(v, c)| v * c)
            .sum::<f64>()
            / n;
        let var = self
            .values
            .iter()
            .zip(&self.counts)
            .map(|(v, c)| c * (v - mean) * (v - mean))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    /// The observed value at weighted quantile `p` ∈ [0, 1].
    pub fn quantile(&self, p: f64) -> f64 {
        let target = p.clamp(0.0, 1.0) * self.n_observed;
        let mut acc = 0.0;
        for (v, c) in self.values.iter().zip(&self.counts) {
            acc += c;
            if acc >= target {
                return *v;
            }
        }
        *self.values.last().unwrap_or(&f64::NAN)
    }
}

/// A univariate Gaussian mixture; components are kept sorted by mean after a fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// Mixing weights (sum to 1).
    pub weights: Vec<f64>,
    /// Component means (log scale).
    pub means: Vec<f64>,
    /// Component standard deviations.
    pub sds: Vec<f64>,
}

impl Mixture {
    /// Number of components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// ln(w_i φ(y; μ_i, σ_i)) for component `i`.
    #[inline]
    pub fn ln_weighted_density(&self, i: usize, y: f64) -> f64 {
        let z = (y - self.means[i]) / self.sds[i];
        self.weights[i].ln() - self.sds[i].ln() - LN_SQRT_2PI - 0.5 * z * z
    }

    /// Index of the component with the largest w_i φ(y; μ_i, σ_i); ties go to
    /// the first (lowest-mean) component.
    pub fn most_likely(&self, y: f64) -> usize {
        let mut best = 0;
        let mut best_v = f64::NEG_INFINITY;
        for i in 0..self.k() {
            let v = self.ln_weighted_density(i, y);
            if v > best_v {
                best_v = v;
                best = i;
            }
        }
        best
    }

    fn sort_by_mean(&mut self) {
        let mut idx: Vec<usize> = (0..self.k()).collect();
        idx.sort_by(|&a, &b| self.means[a].total_cmp(&self.means[b]));
        self.weights = idx.iter().map(|&i| self.weights[i]).collect();
        self.means = idx.iter().map(|&i| self.means[i]).collect();
        self.sds = idx.iter().map(|&i| self.sds[i]).collect();
    }
}

/// Stopping and guarding rules of the EM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmSettings {
    /// Maximum number of EM iterations.
    pub max_iter: usize,
    /// Stop when an iteration gains ≤ `tol` in log-likelihood (absolute: BIC
    /// compares fits on the scale of units of LL, whatever the number of cells).
    pub tol: f64,
    /// Floor on every component sd (log scale); keeps the likelihood bounded when
    /// a component would collapse onto one repeated value.
    pub min_sd: f64,
}

/// Result of one EM run.
#[derive(Clone, Debug)]
pub struct EmFit {
    /// Fitted mixture, components sorted by mean ascending.
    pub mixture: Mixture,
    /// Censored-data log-likelihood of `mixture` (see [`log_likelihood`]).
    pub log_lik: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the tolerance was reached before `max_iter`.
    pub converged: bool,
}

fn log_sum_exp(a: &[f64]) -> f64 {
    let m = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + a.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// Censored-data log-likelihood
/// LL = Σ_obs ln Σ_i w_i φ(y; μ_i, σ_i) + c · ln Σ_i w_i Φ((cut − μ_i)/σ_i),
/// with `c` the number of censored entries. This is a proper likelihood of all
/// `n_total` entries, so it can be compared across K by BIC.
pub fn log_likelihood(s: &CensoredSample, m: &Mixture) -> f64 {
    let k = m.k();
    let mut a = vec![0.0; k];
    let mut ll = 0.0;
    for (&y, &c) in s.values.iter().zip(&s.counts) {
        for (i, ai) in a.iter_mut().enumerate() {
            *ai = m.ln_weighted_density(i, y);
        }
        ll += c * log_sum_exp(&a);
    }
    if s.n_censored > 0.0 {
        for (i, ai) in a.iter_mut().enumerate() {
            *ai = m.weights[i].ln() + ln_cdf_and_mills((s.cut - m.means[i]) / m.sds[i]).0;
        }
        ll += s.n_censored * log_sum_exp(&a);
    }
    ll
}

/// One EM iteration from `m`. Returns the updated mixture and the
/// log-likelihood of `m` (computed as a by-product of the E-step), or `None`
/// if a component lost all its mass or a value became non-finite.
fn step(
    s: &CensoredSample,
    m: &Mixture,
    min_sd: f64,
    resp: &mut Vec<f64>,
) -> Option<(Mixture, f64)> {
    let k = m.k();
    let n = s.values.len();
    resp.clear();
    resp.resize(n * k, 0.0);
    let mut d = vec![0.0; k];
    let mut sy = vec![0.0; k];
    let mut ll = 0.0;
    let mut a = vec![0.0; k];
    // Per-component constants, so each point costs K exponentials and one log.
    let cst: Vec<f64> = (0..k)
        .map(|i| m.weights[i].ln() - m.sds[i].ln() - LN_SQRT_2PI)
        .collect();
    let inv: Vec<f64> = m.sds.iter().map(|s| 1.0 / s).collect();
    for j in 0..n {
        let y = s.values[j];
        let mut mx = f64::NEG_INFINITY;
        for i in 0..k {
            let z = (y - m.means[i]) * inv[i];
            a[i] = cst[i] - 0.5 * z * z;
            mx = mx.max(a[i]);
        }
        if !mx.is_finite() {
            return None;
        }
        let mut sum = 0.0;
        for ai in a.iter_mut() {
            *ai = (*ai - mx).exp();
            sum += *ai;
        }
        let c = s.counts[j];
        ll += c * (mx + sum.ln());
        let r = &mut resp[j * k..(j + 1) * k];
        let inv_sum = 1.0 / sum;
        for i in 0..k {
            let ri = a[i] * inv_sum;
            r[i] = ri;
            d[i] += c * ri;
            sy[i] += c * ri * y;
        }
    }
    // Censored part: expected count ĉ_i, conditional mean e_i and variance v_i of
    // component i below the cut (normal truncated above at the cut).
    let mut chat = vec![0.0; k];
    let mut e = vec![0.0; k];
    let mut v = vec![0.0; k];
    if s.n_censored > 0.0 {
        let mut lam = vec![0.0; k];
        let mut zs = vec![0.0; k];
        for i in 0..k {
            let z = (s.cut - m.means[i]) / m.sds[i];
            let (ln_cdf, l) = ln_cdf_and_mills(z);
            a[i] = m.weights[i].ln() + ln_cdf;
            lam[i] = l;
            zs[i] = z;
        }
        let lse = log_sum_exp(&a);
        if !lse.is_finite() {
            return None;
        }
        ll += s.n_censored * lse;
        for i in 0..k {
            chat[i] = s.n_censored * (a[i] - lse).exp();
            if chat[i] > 0.0 {
                let sd = m.sds[i];
                e[i] = m.means[i] - sd * lam[i];
                v[i] = (sd * sd * (1.0 - zs[i] * lam[i] - lam[i] * lam[i])).max(0.0);
                d[i] += chat[i];
                sy[i] += chat[i] * e[i];
            }
        }
    }
    let total = s.n_total();
    let mut out = Mixture {
        weights: vec![0.0; k],
        means: vec![0.0; k],
        sds: vec![0.0; k],
    };
    for i in 0..k {
        // A component with (numerically) no mass has no defined update: the fit
        // is abandoned and the caller scores K by the remaining candidates.
        if d[i] <= 1e-9 * total {
            return None;
        }
        let mu = sy[i] / d[i];
        let mut ss = 0.0;
        for j in 0..n {
            let dy = s.values[j] - mu;
            ss += s.counts[j] * resp[j * k + i] * dy * dy;
        }
        if chat[i] > 0.0 {
            let de = e[i] - mu;
            ss += chat[i] * (v[i] + de * de);
        }
        out.weights[i] = d[i] / total;
        out.means[i] = mu;
        out.sds[i] = (ss / d[i]).sqrt().max(min_sd);
        if !(mu.is_finite() && out.sds[i].is_finite()) {
            return None;
        }
    }
    Some((out, ll))
}

/// Runs EM from `init` until the log-likelihood gain falls under the tolerance.
/// Returns `None` when the fit degenerates (a component loses all its mass).
pub fn fit(s: &CensoredSample, init: Mixture, set: &EmSettings) -> Option<EmFit> {
    if s.values.is_empty() || init.k() == 0 {
        return None;
    }
    let mut m = init;
    for sd in m.sds.iter_mut() {
        *sd = sd.max(set.min_sd);
    }
    let mut resp = Vec::new();
    let mut prev = f64::NEG_INFINITY;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < set.max_iter {
        let (next, ll) = step(s, &m, set.min_sd, &mut resp)?;
        iterations += 1;
        // `ll` is the likelihood of `m`; EM never decreases it, so a gain below
        // tolerance (or a round-off-sized loss) means `m` is a fixed point.
        if ll - prev <= set.tol {
            converged = true;
            break;
        }
        prev = ll;
        m = next;
    }
    m.sort_by_mean();
    let log_lik = log_likelihood(s, &m);
    if !log_lik.is_finite() {
        return None;
    }
    Some(EmFit {
        mixture: m,
        log_lik,
        iterations,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_counts_and_censors() {
        let s = CensoredSample::new(vec![1.0, 2.0, 1.0, -1.0, f64::NEG_INFINITY], 3, 0.0, 0.0);
        assert_eq!(s.values(), &[1.0, 2.0]);
        assert_eq!(s.counts(), &[2.0, 1.0]);
        assert_eq!(s.n_censored(), 5.0);
        assert_eq!(s.n_total(), 8.0);
    }

    #[test]
    fn em_never_decreases_likelihood() {
        let y: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 20.0).collect();
        let s = CensoredSample::new(y, 50, 1.0, 0.0);
        let mut m = Mixture {
            weights: vec![0.5, 0.5],
            means: vec![0.5, 4.0],
            sds: vec![1.0, 1.0],
        };
        let mut resp = Vec::new();
        let mut prev = f64::NEG_INFINITY;
        for _ in 0..50 {
            let (next, ll) = step(&s, &m, 1e-3, &mut resp).unwrap();
            assert!(ll >= prev - 1e-9 * ll.abs(), "{ll} < {prev}");
            assert!((ll - log_likelihood(&s, &m)).abs() < 1e-9 * ll.abs());
            prev = ll;
            m = next;
        }
    }
}
