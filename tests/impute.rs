//! `scgnn::impute::neighbourhood` on simulated clustered counts whose true
//! means are known.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Normal, Poisson};
use scgnn::impute::{neighbourhood, Imputed, NeighbourhoodParams};
use scgnn::matrix::Csr;
use std::collections::BTreeSet;

const GROUPS: usize = 3;
const CELLS_PER_GROUP: usize = 100;
const GENES: usize = 200;
/// The first genes differ between groups; the rest share one mean.
const VARIABLE_GENES: usize = 60;
const NEIGHBOURS: usize = 10;

/// Clustered NB counts with known means λ (group mean × cell depth).
struct Sim {
    counts: Csr<f32>,
    lambda: Vec<f64>,
    size_factors: Vec<f32>,
    adj: Csr<f32>,
}

/// `base` sets the typical mean (0.3: sparse droplet data, 100: deep reads);
/// `theta` is the biological over-dispersion within a group.
fn simulate(base: f64, theta: f64, seed: u64) -> Sim {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = GROUPS * CELLS_PER_GROUP;
    let spread = LogNormal::new(0.0, 0.5).unwrap();
    let effect = Normal::new(0.0, 1.2).unwrap();
    let gene_mean: Vec<f64> = (0..GENES).map(|_| base * spread.sample(&mut rng)).collect();
    let group_mean: Vec<Vec<f64>> = (0..GROUPS)
        .map(|_| {
            (0..GENES)
                .map(|g| match g < VARIABLE_GENES {
                    true => gene_mean[g] * f64::exp(effect.sample(&mut rng)),
                    false => gene_mean[g],
                })
                .collect()
        })
        .collect();
    let depth: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
    let mut lambda = vec![0.0; n * GENES];
    let mut triplets = Vec::new();
    for i in 0..n {
        for g in 0..GENES {
            let l = group_mean[i / CELLS_PER_GROUP][g] * depth[i];
            lambda[i * GENES + g] = l;
            let rate = Gamma::new(theta, l / theta).unwrap().sample(&mut rng);
            let x = Poisson::new(rate.max(1e-12)).unwrap().sample(&mut rng);
            if x > 0.0 {
                triplets.push((i as u32, g as u32, x as f32));
            }
        }
    }
    let counts = Csr::from_triplets(n, GENES, triplets);
    let library: Vec<f64> = (0..n)
        .map(|i| counts.row(i).1.iter().map(|&v| v as f64).sum())
        .collect();
    let mean_library = library.iter().sum::<f64>() / n as f64;
    let size_factors = library
        .iter()
        .map(|&l| (mean_library / l.max(1.0)) as f32)
        .collect();
    Sim {
        counts,
        lambda,
        size_factors,
        adj: group_graph(&mut rng),
    }
}

/// Each cell linked to `NEIGHBOURS` random cells of its own group, symmetrised.
fn group_graph(rng: &mut ChaCha8Rng) -> Csr<f32> {
    let n = GROUPS * CELLS_PER_GROUP;
    let mut edges = BTreeSet::new();
    for i in 0..n {
        let first = i / CELLS_PER_GROUP * CELLS_PER_GROUP;
        for k in rand::seq::index::sample(rng, CELLS_PER_GROUP, NEIGHBOURS + 1) {
            let j = first + k;
            if j != i {
                edges.insert((i as u32, j as u32));
                edges.insert((j as u32, i as u32));
            }
        }
    }
    Csr::from_triplets(n, n, edges.into_iter().map(|(i, j)| (i, j, 1.0)).collect())
}

fn impute(sim: &Sim, counts: &Csr<f32>, seed: u64) -> Imputed {
    let p = NeighbourhoodParams::default();
    neighbourhood(counts, &sim.size_factors, &sim.adj, &p, seed).unwrap()
}

/// ln(1 + x) of every entry, dense row-major.
fn log1p_dense(counts: &Csr<f32>) -> Vec<f64> {
    let mut out = vec![0.0; counts.rows * counts.cols];
    for i in 0..counts.rows {
        let (ci, cv) = counts.row(i);
        for (&g, &v) in ci.iter().zip(cv) {
            out[i * counts.cols + g as usize] = (v as f64).ln_1p();
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn sparse_clustered_counts_are_denoised() {
    let sim = simulate(0.3, 5.0, 1);
    let out = impute(&sim, &sim.counts, 1);
    let raw = log1p_dense(&sim.counts);
    let mse = |est: &dyn Fn(usize) -> f64| {
        let n = sim.lambda.len();
        (0..n)
            .map(|k| (est(k) - sim.lambda[k].ln_1p()).powi(2))
            .sum::<f64>()
            / n as f64
    };
    let imputed = mse(&|k| out.values.data[k] as f64);
    let observed = mse(&|k| raw[k]);
    assert!(
        imputed < 0.25 * observed,
        "MSE vs ln(1 + λ): imputed {imputed}, raw {observed}; report {:?}",
        out.report
    );
    assert!(out.report.counts_input);
}

#[test]
fn deep_counts_keep_their_highly_variable_genes() {
    let sim = simulate(100.0, 4.0, 2);
    let out = impute(&sim, &sim.counts, 2);
    let raw = log1p_dense(&sim.counts);
    let n = sim.counts.rows;
    let diffs: Vec<f64> = (0..n)
        .flat_map(|i| (0..VARIABLE_GENES).map(move |g| i * GENES + g))
        .map(|k| (out.values.data[k] as f64 - raw[k]).abs())
        .collect();
    let med = median(diffs);
    assert!(
        med < 0.05,
        "median |imputed − ln(1 + x)| {med}; report {:?}",
        out.report
    );
}

#[test]
fn hidden_deep_entries_are_filled() {
    let sim = simulate(100.0, 4.0, 3);
    let mut masked = sim.counts.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    let mut hidden = Vec::new();
    for i in 0..masked.rows {
        for k in masked.indptr[i]..masked.indptr[i + 1] {
            if rng.random::<f64>() < 0.1 {
                hidden.push((i, masked.indices[k] as usize, masked.data[k] as f64));
                masked.data[k] = 0.0;
            }
        }
    }
    // Stored zeros are allowed by the value check but rebuild to keep it canonical.
    let masked = Csr::from_dense(&masked.to_dense());
    let out = impute(&sim, &masked, 3);
    let errors: Vec<f64> = hidden
        .iter()
        .map(|&(i, g, x)| (out.values.get(i, g) as f64 - x.ln_1p()).abs())
        .collect();
    let med = median(errors);
    assert!(
        med < 0.5,
        "median |log error| on hidden entries {med}; report {:?}",
        out.report
    );
    assert!(
        out.report.median_dropout_probability > 0.03,
        "{:?}",
        out.report
    );
}

#[test]
fn same_seed_same_values_whatever_the_thread_count() {
    let sim = simulate(0.5, 3.0, 4);
    let p = NeighbourhoodParams {
        fit_cells: 150,
        select_genes: 50,
        ..NeighbourhoodParams::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| neighbourhood(&sim.counts, &sim.size_factors, &sim.adj, &p, 9).unwrap())
    };
    let (one, two) = (run(1), run(2));
    let bits = |o: &Imputed| {
        o.values
            .data
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&one), bits(&two));
    assert_eq!(one.report.held_out_mse, two.report.held_out_mse);
    let other_seed = neighbourhood(&sim.counts, &sim.size_factors, &sim.adj, &p, 10).unwrap();
    assert_ne!(bits(&one), bits(&other_seed), "the seed should matter");
}

#[test]
fn non_integer_input_falls_back_to_one_diffusion_step() {
    let sim = simulate(0.5, 3.0, 5);
    let mut tpm = sim.counts.clone();
    tpm.data.iter_mut().for_each(|v| *v *= 1.37);
    let ones = vec![1.0f32; tpm.rows];
    let p = NeighbourhoodParams::default();
    let out = neighbourhood(&tpm, &ones, &sim.adj, &p, 1).unwrap();
    assert!(!out.report.counts_input);
    assert_eq!(out.report.steps, 1);
    assert!(out.report.held_out_mse.is_empty());
    // All edge weights are 1, so cell 0's value is the plain mean of ln(1 + x)
    // over itself and its neighbours.
    let logged = log1p_dense(&tpm);
    let (nbrs, _) = sim.adj.row(0);
    let members: Vec<usize> = std::iter::once(0)
        .chain(nbrs.iter().map(|&j| j as usize))
        .collect();
    for g in 0..GENES {
        let want =
            members.iter().map(|&j| logged[j * GENES + g]).sum::<f64>() / members.len() as f64;
        let got = out.values.get(0, g) as f64;
        assert!((got - want).abs() < 1e-5, "gene {g}: {got} vs {want}");
    }
}

#[test]
fn held_out_choice_reports_every_candidate_and_picks_the_smallest() {
    let sim = simulate(0.1, 5.0, 6);
    let p = NeighbourhoodParams {
        max_steps: 4,
        ..NeighbourhoodParams::default()
    };
    let out = neighbourhood(&sim.counts, &sim.size_factors, &sim.adj, &p, 6).unwrap();
    let r = &out.report;
    let names: Vec<&str> = r.held_out_mse.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["t=1", "t=2", "t=3", "t=4"]);
    let best = r
        .held_out_mse
        .iter()
        .map(|c| c.1)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(r.held_out_mse[r.steps - 1].1, best, "{r:?}");
    assert!(
        r.held_out_mse.iter().all(|c| c.1.is_finite() && c.1 > 0.0),
        "{r:?}"
    );
    let json = serde_json::to_string(r).unwrap();
    let back: scgnn::impute::ImputeReport = serde_json::from_str(&json).unwrap();
    assert_eq!((back.steps, back.held_out_mse.len()), (r.steps, 4));
}

#[test]
fn bad_inputs_are_refused() {
    let sim = simulate(0.5, 3.0, 7);
    let p = NeighbourhoodParams::default();
    let s = &sim.size_factors;
    let small_graph = Csr::<f32>::zeros(10, 10);
    assert!(neighbourhood(&sim.counts, s, &small_graph, &p, 1).is_err());
    assert!(neighbourhood(&sim.counts, &s[1..], &sim.adj, &p, 1).is_err());
    let mut negative = sim.counts.clone();
    negative.data[0] = -1.0;
    assert!(neighbourhood(&negative, s, &sim.adj, &p, 1).is_err());
    for bad in [
        NeighbourhoodParams {
            max_steps: 0,
            ..p.clone()
        },
        NeighbourhoodParams {
            holdout_p: 1.0,
            ..p.clone()
        },
        NeighbourhoodParams {
            fit_cells: 3,
            ..p.clone()
        },
        NeighbourhoodParams {
            select_genes: 0,
            ..p.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
        assert!(neighbourhood(&sim.counts, s, &sim.adj, &bad, 1).is_err());
    }
}
