//! The global censoring point Zcut_G (spec §2.3): a two-component normal
//! mixture fitted to ln(smallest positive value) of every gene, cut where the
//! two weighted components cross.

use super::em::{self, CensoredSample, EmSettings, Mixture};

/// Zcut_G on the ln(value) scale from the per-gene ln(min positive value).
///
/// Returns −∞ (no global cut: every gene is cut at its own minimum) when fewer
/// than two distinct minima exist or the two-component fit degenerates; the R
/// package returns 0 on such errors, which silently depends on the data's units.
pub fn global_cut(ln_min: &[f64], set: &EmSettings) -> f64 {
    let s = CensoredSample::new(ln_min.to_vec(), 0, f64::NEG_INFINITY, 0.0);
    if s.values().len() < 2 {
        return f64::NEG_INFINITY;
    }
    let (_, sd) = s.observed_moments();
    let init = Mixture {
        weights: vec![0.5, 0.5],
        means: vec![s.quantile(0.25), s.quantile(0.75)],
        sds: vec![sd.max(set.min_sd); 2],
    };
    let init = if init.means[0] == init.means[1] {
        Mixture {
            means: vec![s.values()[0], s.values()[s.values().len() - 1]],
            ..init
        }
    } else {
        init
    };
    match em::fit(&s, init, set) {
        Some(f) => intersect(&f.mixture),
        None => f64::NEG_INFINITY,
    }
}

/// Crossing point of w₁φ(x; μ₁, σ₁) and w₂φ(x; μ₂, σ₂) (components sorted by
/// mean), solved in closed form instead of AdaptGauss's 20 001-point grid, on the
/// same search range [μ₁ − 2σ₁, μ₂ + 2σ₂]. A crossing between the means is
/// preferred; without a crossing in range the left end is returned (the grid's
/// rule when μ₁ < μ₂); equal means give μ₁.
pub fn intersect(m: &Mixture) -> f64 {
    let (w1, w2) = (m.weights[0], m.weights[1]);
    let (m1, m2) = (m.means[0], m.means[1]);
    let (s1, s2) = (m.sds[0], m.sds[1]);
    if (m1 - m2).abs() < 1e-5 {
        return m1;
    }
    let lo = m1 - 2.0 * s1;
    let hi = m2 + 2.0 * s2;
    // ln(w₁φ₁) − ln(w₂φ₂) = A x² + B x + C.
    let (v1, v2) = (s1 * s1, s2 * s2);
    let a = -0.5 / v1 + 0.5 / v2;
    let b = m1 / v1 - m2 / v2;
    let c = -0.5 * m1 * m1 / v1 + 0.5 * m2 * m2 / v2 + (w1 / s1).ln() - (w2 / s2).ln();
    let mut roots = Vec::with_capacity(2);
    if a.abs() < 1e-12 * (b.abs() + 1.0) {
        if b != 0.0 {
            roots.push(-c / b);
        }
    } else {
        let disc = b * b - 4.0 * a * c;
        if disc >= 0.0 {
            // Numerically stable pair of roots.
            let q = -0.5 * (b + b.signum() * disc.sqrt());
            roots.push(q / a);
            if q != 0.0 {
                roots.push(c / q);
            }
        }
    }
    let mid = 0.5 * (m1 + m2);
    let pick = roots
        .iter()
        .copied()
        .filter(|r| r.is_finite() && *r >= lo && *r <= hi)
        .min_by(|x, y| {
            let inside = |r: f64| !(m1..=m2).contains(&r);
            (inside(*x), (x - mid).abs())
                .partial_cmp(&(inside(*y), (y - mid).abs()))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    pick.unwrap_or(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_components_cross_at_midpoint() {
        let m = Mixture {
            weights: vec![0.5, 0.5],
            means: vec![0.0, 4.0],
            sds: vec![1.0, 1.0],
        };
        assert!((intersect(&m) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn crossing_matches_brute_force_grid() {
        let m = Mixture {
            weights: vec![0.3, 0.7],
            means: vec![-1.0, 2.5],
            sds: vec![0.6, 1.3],
        };
        let f = |x: f64| m.ln_weighted_density(0, x).exp() - m.ln_weighted_density(1, x).exp();
        let x = intersect(&m);
        assert!(x > -1.0 && x < 2.5);
        assert!(f(x).abs() < 1e-12);
        // Sign change around the root.
        assert!(f(x - 1e-3) * f(x + 1e-3) < 0.0);
    }

    #[test]
    fn bimodal_minima_give_a_cut_between_modes() {
        let mut v = Vec::new();
        for i in 0..300 {
            v.push(-2.0 + (i % 17) as f64 * 0.05);
            v.push(3.0 + (i % 13) as f64 * 0.05);
        }
        let set = EmSettings {
            max_iter: 500,
            tol: 1e-10,
            min_sd: 1e-3,
        };
        let c = global_cut(&v, &set);
        assert!(c > -1.0 && c < 3.0, "cut {c}");
        assert_eq!(global_cut(&[1.0, 1.0, 1.0], &set), f64::NEG_INFINITY);
    }
}
