//! LTMG: recovery of known censored mixtures, BIC choice of K, thread-count
//! independence, and a run on the labelled datasets.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use scgnn::ltmg::em::CensoredSample;
use scgnn::ltmg::{self, select, LtmgParams};
use scgnn::Csr;

/// Draws `n` values from the mixture (w, μ, σ) with a seeded stream.
fn draw(n: usize, w: &[f64], mu: &[f64], sd: &[f64], seed: u64) -> Vec<f64> {
    let mut rng = scgnn::rng::stream(seed, "ltmg-test");
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut i = w.len() - 1;
            for (j, wj) in w.iter().enumerate() {
                acc += wj;
                if u < acc {
                    i = j;
                    break;
                }
            }
            Normal::new(mu[i], sd[i]).unwrap().sample(&mut rng)
        })
        .collect()
}

struct Case {
    w: &'static [f64],
    mu: &'static [f64],
    sd: &'static [f64],
    /// Censoring point; −∞ for no censoring.
    cut: f64,
}

const CASES: &[Case] = &[
    Case {
        w: &[1.0],
        mu: &[2.0],
        sd: &[0.5],
        cut: f64::NEG_INFINITY,
    },
    Case {
        w: &[1.0],
        mu: &[1.0],
        sd: &[1.0],
        cut: 0.5,
    },
    Case {
        w: &[0.4, 0.6],
        mu: &[0.0, 4.0],
        sd: &[0.8, 0.7],
        cut: f64::NEG_INFINITY,
    },
    Case {
        w: &[0.4, 0.6],
        mu: &[0.0, 4.0],
        sd: &[1.0, 0.7],
        cut: 0.0,
    },
    Case {
        w: &[0.3, 0.4, 0.3],
        mu: &[0.0, 3.0, 6.0],
        sd: &[0.5, 0.6, 0.5],
        cut: f64::NEG_INFINITY,
    },
    Case {
        w: &[0.3, 0.4, 0.3],
        mu: &[0.0, 3.0, 6.0],
        sd: &[0.5, 0.6, 0.5],
        cut: 0.2,
    },
];

const N: usize = 20_000;

fn sample(c: &Case, seed: u64) -> CensoredSample {
    let y = draw(N, c.w, c.mu, c.sd, seed);
    CensoredSample::new(y, 0, c.cut, LtmgParams::default().bin_width)
}

#[test]
fn em_recovers_known_censored_mixtures() {
    // Tolerances are ~5 standard errors at n = 20 000 (the censored component of
    // case 3 keeps only half its mass above the cut, hence its looser bounds).
    let p = LtmgParams::default();
    for (ci, c) in CASES.iter().enumerate() {
        let s = sample(c, ci as u64);
        if c.cut.is_finite() {
            assert!(s.n_censored() > 0.05 * N as f64, "case {ci} not censored");
        } else {
            assert_eq!(s.n_censored(), 0.0);
        }
        let mut rng = scgnn::rng::substream(123, "ltmg", ci as u64);
        let f = select::fit_k(&s, c.w.len(), &p, &mut rng).expect("fit");
        let m = &f.mixture;
        assert!(f.converged, "case {ci} did not converge");
        for i in 0..c.w.len() {
            let loose = if c.cut.is_finite() && i == 0 {
                2.0
            } else {
                1.0
            };
            assert!(
                (m.weights[i] - c.w[i]).abs() < 0.02 * loose,
                "case {ci} w{i}: {:?}",
                m
            );
            assert!(
                (m.means[i] - c.mu[i]).abs() < 0.05 * loose,
                "case {ci} mu{i}: {:?}",
                m
            );
            assert!(
                (m.sds[i] - c.sd[i]).abs() < 0.04 * loose,
                "case {ci} sd{i}: {:?}",
                m
            );
        }
    }
}

#[test]
fn naive_fit_ignoring_censoring_is_biased() {
    // Guards the censored E-step: fitting only the observed part of case 1
    // without its censored mass moves the mean up by ~0.5.
    let c = &CASES[1];
    let y: Vec<f64> = draw(N, c.w, c.mu, c.sd, 1)
        .into_iter()
        .filter(|v| *v >= c.cut)
        .collect();
    let naive = CensoredSample::new(y, 0, c.cut, LtmgParams::default().bin_width);
    let p = LtmgParams::default();
    let mut rng = scgnn::rng::substream(123, "ltmg", 0);
    let f = select::fit_k(&naive, 1, &p, &mut rng).unwrap();
    assert!(f.mixture.means[0] > 1.4, "{:?}", f.mixture);
}

#[test]
fn bic_picks_the_true_k() {
    let p = LtmgParams::default();
    for (ci, c) in CASES.iter().enumerate() {
        let s = sample(c, 100 + ci as u64);
        let mut rng = scgnn::rng::substream(123, "ltmg", ci as u64);
        let sel = select::select(&s, &p, &mut rng).unwrap();
        assert_eq!(sel.mixture.k(), c.w.len(), "case {ci}: {:?}", sel.mixture);
    }
}

/// Cells × genes counts: each gene a censored 1- to 3-component mixture of ln values.
fn simulated_counts(cells: usize, genes: usize, seed: u64) -> Csr<f32> {
    let mut t = Vec::new();
    for g in 0..genes {
        let c = &CASES[g % CASES.len()];
        let cut = if c.cut.is_finite() { c.cut } else { -1.0 };
        let y = draw(cells, c.w, c.mu, c.sd, seed * 1000 + g as u64);
        for (r, v) in y.into_iter().enumerate() {
            if v >= cut {
                t.push((r as u32, g as u32, v.exp() as f32));
            }
        }
    }
    Csr::from_triplets(cells, genes, t)
}

#[test]
fn states_follow_components_and_zeros_are_zero() {
    let m = simulated_counts(2000, 6, 7);
    let l = ltmg::run(&m, &LtmgParams::default(), 123).unwrap();
    assert_eq!(l.states.indptr, m.indptr);
    assert_eq!(l.states.indices, m.indices);
    // Gene 4: three components at ln v = 0, 3, 6 → states 1, 2, 3.
    let g = 4;
    assert_eq!(l.models[g].k, 3);
    let mut agree = 0;
    let mut total = 0;
    for r in 0..m.rows {
        let (ci, cv) = m.row(r);
        let (_, sv) = l.states.row(r);
        for k in 0..ci.len() {
            if ci[k] as usize == g {
                let y = (cv[k] as f64).ln();
                let nearest = [0.0, 3.0, 6.0]
                    .iter()
                    .enumerate()
                    .min_by(|a, b| (a.1 - y).abs().total_cmp(&(b.1 - y).abs()))
                    .unwrap()
                    .0;
                agree += usize::from(sv[k] as usize == nearest + 1);
                total += 1;
            }
        }
    }
    assert!(agree as f64 > 0.97 * total as f64, "{agree}/{total}");
    let h = l.state_histogram();
    assert_eq!(h.iter().map(|e| e.1).sum::<u64>(), 2000 * 6);
    let zeros = 2000 * 6 - m.nnz() as u64;
    assert!(h[0].0 == 0 && h[0].1 >= zeros);
    let b = l.binarized();
    assert!(b.data.iter().all(|&s| s <= 1));
    let d = l.binary_dense_rows(0, 10);
    assert_eq!(d.rows, 10);
}

#[test]
fn states_do_not_depend_on_thread_count() {
    let m = simulated_counts(400, 30, 3);
    let p = LtmgParams {
        restarts: 2,
        ..Default::default()
    };
    let run_with = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| ltmg::run(&m, &p, 123).unwrap())
    };
    let a = run_with(1);
    let b = run_with(2);
    assert_eq!(a.states, b.states);
    assert_eq!(a.models, b.models);
    assert_eq!(a.zcut_global.to_bits(), b.zcut_global.to_bits());
}

/// A shared dataset as cells × genes (the first `genes` genes), or `None` if absent.
fn load(name: &str, genes: usize) -> Option<Csr<f32>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name)
        .join("counts.csv.gz");
    if !path.exists() {
        println!("skipping: {} not found", path.display());
        return None;
    }
    let m = scgnn::io::read_matrix(&path, &scgnn::io::ReadOptions::default()).unwrap();
    let keep: Vec<usize> = (0..genes.min(m.n_genes())).collect();
    Some(m.x.select_cols(&keep))
}

#[test]
fn real_datasets_give_state_matrices() {
    // chung is TPM (continuous), whose fits are the slowest: 500 of its genes keep
    // the test short; goolam's 2000 raw-count genes run whole.
    for (name, genes) in [("chung", 500), ("goolam", 2000)] {
        let Some(m) = load(name, genes) else { continue };
        let t = std::time::Instant::now();
        let l = ltmg::run(&m, &LtmgParams::default(), 123).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(l.states.nnz(), m.nnz());
        assert_eq!(l.models.len(), m.cols);
        let mut ks = [0usize; 6];
        for g in &l.models {
            assert!(g.k <= 5);
            ks[g.k] += 1;
            assert!(g
                .weights
                .iter()
                .chain(&g.means)
                .chain(&g.sds)
                .all(|v| v.is_finite()));
        }
        assert!(l.states.data.iter().all(|&s| s <= 5));
        let h = l.state_histogram();
        assert_eq!(h.iter().map(|e| e.1).sum::<u64>(), (m.rows * m.cols) as u64);
        println!(
            "{name}: {} cells x {} genes, nnz {}, Zcut_G {:.4}, genes per K (0..5) {:?}, states {:?}, {:.2} s",
            m.rows, m.cols, m.nnz(), l.zcut_global, ks, h, secs
        );
    }
}
