//! Standard normal density, log-CDF and inverse Mills ratio, accurate far into
//! the lower tail (the censored mass of a gene can sit many sds below a mean).

/// ln(sqrt(2π)).
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Below this z the lower tail is evaluated through the Mills-ratio continued
/// fraction instead of the erf series (the series loses relative precision there).
const TAIL_SWITCH: f64 = -3.0;

/// `(ln Φ(z), φ(z)/Φ(z))` for the standard normal.
///
/// The ratio λ = φ(z)/Φ(z) is the inverse Mills ratio that appears in the
/// moments of a normal truncated above at `z`; it is computed without forming
/// φ or Φ separately when they would underflow.
pub(crate) fn ln_cdf_and_mills(z: f64) -> (f64, f64) {
    if z.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if z == f64::NEG_INFINITY {
        // Φ → 0 and λ ~ −z → ∞; callers only use λ multiplied by a zero mass.
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    if z < TAIL_SWITCH {
        // Φ(z) = φ(z)·M(t), t = −z, with M(t) = 1/(t + 1/(t + 2/(t + 3/(t + …)))).
        let t = -z;
        let m = mills_cf(t);
        let ln_phi = -0.5 * z * z - LN_SQRT_2PI;
        (ln_phi + m.ln(), 1.0 / m)
    } else {
        let cdf = cdf_series(z);
        let phi = (-0.5 * z * z - LN_SQRT_2PI).exp();
        (cdf.ln(), phi / cdf)
    }
}

/// Φ(z) for z ≥ −3 through erf with the all-positive series
/// erf(x) = 2/√π · e^{−x²} Σ (2x²)ⁿ x / (1·3·…·(2n+1)).
fn cdf_series(z: f64) -> f64 {
    if z > 9.0 {
        return 1.0;
    }
    let x = z.abs() / std::f64::consts::SQRT_2;
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
        // `<=` also ends the z = 0 case, where every term is 0.
        if term <= sum * 1e-17 || n > 2000.0 {
            break;
        }
    }
    let erf = std::f64::consts::FRAC_2_SQRT_PI * (-x2).exp() * sum;
    let erf = erf.min(1.0);
    if z >= 0.0 {
        0.5 + 0.5 * erf
    } else {
        0.5 - 0.5 * erf
    }
}

/// Mills ratio M(t) = (1 − Φ(t))/φ(t) for t ≥ 3 by Lentz's continued fraction.
fn mills_cf(t: f64) -> f64 {
    // M(t) = 1/(t + 1/(t + 2/(t + 3/(t + …)))).
    const TINY: f64 = 1e-300;
    let mut f = t;
    let mut c = t;
    let mut d = 0.0;
    for k in 1..300 {
        let a = k as f64;
        d = t + a * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = t + a / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    1.0 / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_scipy() {
        // Reference values from scipy.stats.norm.cdf (scipy).
        let cases = [
            (-1.0, 0.15865525393145707),
            (-3.5, 0.00023262907903552502),
            (-8.0, 6.22096057427174e-16),
            (-30.0, 4.906713927147908e-198),
            (2.5, 0.9937903346742238),
            (0.3, 0.6179114221889526),
        ];
        for (z, want) in cases {
            let (l, _) = ln_cdf_and_mills(z);
            let rel = (l.exp() - want).abs() / want;
            assert!(rel < 1e-12, "z={z}: got {} want {want}", l.exp());
        }
    }

    #[test]
    fn mills_is_continuous_at_the_switch() {
        let (_, a) = ln_cdf_and_mills(TAIL_SWITCH - 1e-9);
        let (_, b) = ln_cdf_and_mills(TAIL_SWITCH + 1e-9);
        assert!((a - b).abs() < 1e-7 * a);
        // λ(z) ≈ −z for very negative z.
        let (_, l) = ln_cdf_and_mills(-200.0);
        assert!((l - 200.0).abs() < 0.01);
    }
}
