//! Choice of the number of components by BIC, with deterministic quantile
//! starts plus optional seeded random restarts.

use super::em::{self, CensoredSample, Mixture};
use super::LtmgParams;
use crate::rng::Rng;
use rand::Rng as _;

/// BIC = p·ln n − 2·LL with p = 3K − 1 free parameters (K means, K sds, K − 1
/// weights) and n = all entries of the gene (observed and censored), since the
/// censored-data likelihood of [`em::log_likelihood`] covers every entry.
pub fn bic(log_lik: f64, k: usize, n: f64) -> f64 {
    (3 * k - 1) as f64 * n.ln() - 2.0 * log_lik
}

/// The selected mixture of one gene.
#[derive(Clone, Debug)]
pub struct Selected {
    /// Fitted mixture, components sorted by mean.
    pub mixture: Mixture,
    /// Its censored-data log-likelihood.
    pub log_lik: f64,
    /// Its BIC.
    pub bic: f64,
}

/// Starting points for K components: observed quantiles at (i − ½)/K, and the
/// spread start of the R package (quantiles i/(K+1) with the outer means pushed
/// one unit beyond the data, which lets a component reach into the censored
/// region); then `restarts` starts at random observed values.
fn starts(
    s: &CensoredSample,
    k: usize,
    restarts: usize,
    rng: &mut Rng,
    min_sd: f64,
) -> Vec<Mixture> {
    let (_, sd) = s.observed_moments();
    let sd = sd.max(min_sd);
    let w = vec![1.0 / k as f64; k];
    let mut out = Vec::with_capacity(2 + restarts);
    out.push(Mixture {
        weights: w.clone(),
        means: (0..k)
            .map(|i| s.quantile((i as f64 + 0.5) / k as f64))
            .collect(),
        sds: vec![sd; k],
    });
    if k >= 2 {
        let mut means: Vec<f64> = (0..k)
            .map(|i| s.quantile((i + 1) as f64 / (k + 1) as f64))
            .collect();
        means[0] = s.values()[0] - 1.0;
        means[k - 1] = s.values()[s.values().len() - 1] + 1.0;
        out.push(Mixture {
            weights: w.clone(),
            means,
            sds: vec![sd; k],
        });
    }
    for _ in 0..restarts {
        let mut means: Vec<f64> = (0..k).map(|_| s.quantile(rng.random::<f64>())).collect();
        means.sort_by(|a, b| a.total_cmp(b));
        out.push(Mixture {
            weights: w.clone(),
            means,
            sds: vec![sd / (k as f64).sqrt(); k],
        });
    }
    out
}

/// Best fit with exactly `k` components over all starts (largest likelihood).
pub fn fit_k(s: &CensoredSample, k: usize, p: &LtmgParams, rng: &mut Rng) -> Option<em::EmFit> {
    let set = p.em_settings();
    let mut best: Option<em::EmFit> = None;
    for init in starts(s, k, p.restarts, rng, p.min_sd) {
        if let Some(f) = em::fit(s, init, &set) {
            if best.as_ref().is_none_or(|b| f.log_lik > b.log_lik) {
                best = Some(f);
            }
        }
    }
    best
}

/// Fits K = 1..=min(kmax, #distinct observed values) and keeps the lowest BIC
/// (ties to the smaller K). Returns `None` only if the sample has no observed value.
pub fn select(s: &CensoredSample, p: &LtmgParams, rng: &mut Rng) -> Option<Selected> {
    if s.values().is_empty() {
        return None;
    }
    let n = s.n_total();
    if s.values().len() == 1 {
        // One distinct value: a single component at it with the floor sd.
        let mixture = Mixture {
            weights: vec![1.0],
            means: vec![s.values()[0]],
            sds: vec![p.min_sd],
        };
        let log_lik = em::log_likelihood(s, &mixture);
        return Some(Selected {
            bic: bic(log_lik, 1, n),
            mixture,
            log_lik,
        });
    }
    let kmax = p.kmax.min(s.values().len());
    let mut best: Option<Selected> = None;
    for k in 1..=kmax {
        if let Some(f) = fit_k(s, k, p, rng) {
            let b = bic(f.log_lik, k, n);
            if best.as_ref().is_none_or(|x| b < x.bic) {
                best = Some(Selected {
                    mixture: f.mixture,
                    log_lik: f.log_lik,
                    bic: b,
                });
            }
        }
    }
    // K = 1 cannot lose all its mass, so `best` is set unless every value was
    // non-finite, which `CensoredSample` excludes; keep a moment fit as a guard.
    Some(best.unwrap_or_else(|| {
        let (mean, sd) = s.observed_moments();
        let mixture = Mixture {
            weights: vec![1.0],
            means: vec![mean],
            sds: vec![sd.max(p.min_sd)],
        };
        let log_lik = em::log_likelihood(s, &mixture);
        Selected {
            bic: bic(log_lik, 1, n),
            mixture,
            log_lik,
        }
    }))
}
