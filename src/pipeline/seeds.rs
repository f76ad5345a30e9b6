//! Every random stream of a run, derived from the run seed and a stage tag, so
//! that no two stages (or two iterations of one) share a stream and adding a
//! stage never shifts another's randomness.

use super::params::RunParams;
use crate::rng;
use rand::RngCore;

fn seed_of(p: &RunParams, tag: &str) -> u64 {
    rng::stream(p.seed, tag).next_u64()
}

/// The feature autoencoder's initial weights.
pub fn feature_ae(p: &RunParams) -> u64 {
    seed_of(p, "feature-ae")
}

/// The imputation autoencoder's initial weights, when it has its own widths.
pub fn impute_ae(p: &RunParams) -> u64 {
    seed_of(p, "impute-ae")
}

/// The neighbourhood imputation's samples and held-out split.
pub fn impute(p: &RunParams) -> u64 {
    seed_of(p, "impute")
}

/// LTMG's random restarts.
pub fn ltmg(p: &RunParams) -> u64 {
    seed_of(p, "ltmg")
}

/// The cell graph of EM step `t` (only the isolation-forest pruning draws).
pub fn graph(p: &RunParams, t: usize) -> u64 {
    seed_of(p, &format!("graph/{t}"))
}

/// The clustering of EM step `t`.
pub fn cluster(p: &RunParams, t: usize) -> u64 {
    seed_of(p, &format!("cluster/{t}"))
}

/// The graph autoencoder of EM step `t`.
pub fn gae(p: &RunParams, t: usize) -> u64 {
    seed_of(p, &format!("gae/{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_and_step_has_its_own_seed() {
        let p = RunParams::default();
        let q = RunParams {
            seed: 2,
            ..p.clone()
        };
        let all = |p: &RunParams| {
            vec![
                feature_ae(p),
                impute(p),
                ltmg(p),
                graph(p, 0),
                graph(p, 1),
                cluster(p, 0),
                cluster(p, 1),
                gae(p, 0),
                gae(p, 1),
            ]
        };
        let (a, b) = (all(&p), all(&q));
        let mut seen = a.clone();
        seen.extend(&b);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), a.len() + b.len(), "no two streams share a seed");
        assert_eq!(a, all(&p), "reproducible");
    }
}
