//! Feature autoencoder: training lowers the loss and its embedding recovers
//! simulated clusters; training is reproducible for a seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scgnn::evaluate::metrics::ari;
use scgnn::matrix::Dense;
use scgnn::models::{AeConfig, AeLoss, Autoencoder};

/// `k` Gaussian clusters in log-expression space: a shared random baseline,
/// 25 marker genes per cluster raised by 1.5, noise sd 0.5, clipped at 0.
fn clustered(n: usize, g: usize, k: usize, seed: u64) -> (Dense, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base: Vec<f32> = (0..g).map(|_| rng.random_range(0.0..1.5)).collect();
    let noise = Normal::new(0.0f32, 0.5).unwrap();
    let mut x = Dense::zeros(n, g);
    let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
    for i in 0..n {
        let c = labels[i];
        for j in 0..g {
            let marker = j / 25 == c;
            let m = base[j] + if marker { 1.5 } else { 0.0 };
            x.data[i * g + j] = (m + noise.sample(&mut rng)).max(0.0);
        }
    }
    (x, labels)
}

/// Seeded k-means++ then Lloyd, best inertia of `restarts` runs.
fn kmeans(x: &Dense, k: usize, restarts: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d2 = |a: &[f32], b: &[f32]| -> f64 {
        a.iter().zip(b).map(|(u, v)| ((u - v) as f64).powi(2)).sum()
    };
    let mut best = (f64::INFINITY, vec![0; x.rows]);
    for _ in 0..restarts {
        let mut centers = vec![x.row(rng.random_range(0..x.rows)).to_vec()];
        while centers.len() < k {
            let w: Vec<f64> = (0..x.rows)
                .map(|i| {
                    centers
                        .iter()
                        .map(|c| d2(x.row(i), c))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            let total: f64 = w.iter().sum();
            let mut u = rng.random_range(0.0..total.max(1e-300));
            let mut pick = x.rows - 1;
            for (i, &wi) in w.iter().enumerate() {
                if u < wi {
                    pick = i;
                    break;
                }
                u -= wi;
            }
            centers.push(x.row(pick).to_vec());
        }
        let mut assign = vec![0usize; x.rows];
        for _ in 0..100 {
            let mut changed = false;
            for i in 0..x.rows {
                let a = (0..k)
                    .min_by(|&a, &b| {
                        d2(x.row(i), &centers[a]).total_cmp(&d2(x.row(i), &centers[b]))
                    })
                    .unwrap();
                if a != assign[i] {
                    assign[i] = a;
                    changed = true;
                }
            }
            for (c, center) in centers.iter_mut().enumerate() {
                let members: Vec<usize> = (0..x.rows).filter(|&i| assign[i] == c).collect();
                if members.is_empty() {
                    continue;
                }
                for (j, v) in center.iter_mut().enumerate() {
                    *v = members.iter().map(|&i| x.get(i, j)).sum::<f32>() / members.len() as f32;
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f64 = (0..x.rows).map(|i| d2(x.row(i), &centers[assign[i]])).sum();
        if inertia < best.0 {
            best = (inertia, assign);
        }
    }
    best.1
}

/// scGNN's default loss (γ = 0.1, L1 = 1.0, no LTMG) and sizes (512/128),
/// full batch, 300 epochs on 300 cells × 150 genes in 4 clusters.
/// Thresholds: the mean loss of the last 10 epochs is below half that of the
/// first 10, and KMeans (k = 4) on the 128-d embedding reaches ARI ≥ 0.9
/// (the clusters are well separated: 25 markers × 1.5 / sd 0.5).
#[test]
fn ae_learns_clusters() {
    let (x, labels) = clustered(300, 150, 4, 21);
    let cfg = AeConfig::default();
    let mut ae = Autoencoder::new(x.cols, &cfg, 42).unwrap();
    let mut seen = 0;
    let losses = ae
        .train(&x, &x, &AeLoss::default(), 300, &mut |_, _| seen += 1)
        .unwrap();
    assert_eq!(seen, 300);
    let first: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = losses[290..].iter().sum::<f64>() / 10.0;
    eprintln!("loss first10 {first:.1} last10 {last:.1}");
    assert!(last < 0.5 * first, "loss {first} → {last}");
    let z = ae.encode(&x).unwrap();
    assert_eq!((z.rows, z.cols), (300, 128));
    assert!(z.data.iter().all(|&v| v >= 0.0), "embedding is post-ReLU");
    let pred = kmeans(&z, 4, 10, 7);
    let a = ari(&labels, &pred);
    eprintln!("ARI of KMeans on the AE embedding: {a:.3}");
    assert!(a >= 0.9, "ARI {a}");
    let (z2, recon) = ae.reconstruct(&x).unwrap();
    assert_eq!(z2, z);
    assert_eq!((recon.rows, recon.cols), (300, 150));
}

fn train_weights(threads: usize, seed: u64, batch: usize) -> (Vec<f32>, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let (x, _) = clustered(200, 300, 3, 5);
        let cfg = AeConfig {
            batch_size: batch,
            chunk_rows: 64,
            ..AeConfig::default()
        };
        let mut ae = Autoencoder::new(x.cols, &cfg, seed).unwrap();
        let losses = ae
            .train(&x, &x, &AeLoss::default(), 5, &mut |_, _| {})
            .unwrap();
        let w = ae
            .layers()
            .iter()
            .flat_map(|l| l.weight.iter().chain(&l.bias).copied())
            .collect();
        (w, losses)
    })
}

/// Same seed and thread count ⇒ bit-identical weights and losses; a different
/// seed ⇒ different weights. Also across 1 vs 2 threads (gemm splits the
/// output, not the reduction dimension; every other reduction here has a fixed
/// order), both for minibatches with chunked accumulation and a full batch.
#[test]
fn ae_is_reproducible() {
    for batch in [100, 12800] {
        let (w1, l1) = train_weights(1, 3, batch);
        let (w1b, l1b) = train_weights(1, 3, batch);
        assert_eq!(w1, w1b);
        assert_eq!(l1, l1b);
        let (w2, l2) = train_weights(2, 3, batch);
        assert_eq!(w1, w2, "1 vs 2 threads differ at batch {batch}");
        assert_eq!(l1, l2);
        let (w3, _) = train_weights(1, 4, batch);
        assert_ne!(w1, w3);
    }
}

/// Cloning copies weights; a clone with a reset optimizer trains differently
/// from one that keeps the Adam state.
#[test]
fn clone_and_reset_optimizer() {
    let (x, _) = clustered(60, 50, 2, 9);
    let cfg = AeConfig {
        hidden: 32,
        latent: 8,
        ..AeConfig::default()
    };
    let mut ae = Autoencoder::new(x.cols, &cfg, 1).unwrap();
    ae.train(&x, &x, &AeLoss::default(), 3, &mut |_, _| {})
        .unwrap();
    let mut kept = ae.clone();
    let mut fresh = ae.clone();
    fresh.reset_optimizer();
    assert_eq!(kept.layers(), fresh.layers());
    kept.train(&x, &x, &AeLoss::default(), 1, &mut |_, _| {})
        .unwrap();
    fresh
        .train(&x, &x, &AeLoss::default(), 1, &mut |_, _| {})
        .unwrap();
    assert_ne!(kept.layers(), fresh.layers());
    // Bad input is an error, not a panic.
    let wrong = Dense::zeros(3, 7);
    assert!(ae.encode(&wrong).is_err());
    assert!(ae
        .train(&x, &wrong, &AeLoss::default(), 1, &mut |_, _| {})
        .is_err());
    assert!(Autoencoder::new(10, &AeConfig { lr: 0.0, ..cfg }, 1).is_err());
}

/// With PyTorch's initialisation many output genes start at 0 for every cell
/// (their ReLU passes no gradient, so they never learn); lifting the output
/// biases leaves none dead, keeps outputs small, and leaves live genes alone.
#[test]
fn lifting_output_biases_leaves_no_gene_dead() {
    let (mut x, _) = clustered(200, 300, 4, 11);
    // Values on the scale of ln(1 + counts) of deep data.
    x.data.iter_mut().for_each(|v| *v *= 4.0);
    let dead = |ae: &Autoencoder| {
        let (_, r) = ae.reconstruct(&x).unwrap();
        (0..x.cols)
            .filter(|&j| (0..x.rows).all(|i| r.get(i, j) == 0.0))
            .count()
    };
    let mut ae = Autoencoder::new(x.cols, &AeConfig::default(), 5).unwrap();
    let before = dead(&ae);
    assert!(
        before > 0,
        "the plain initialisation should leave some genes dead"
    );
    let bias0 = ae.layers()[3].bias.clone();
    let lifted = ae.lift_dead_outputs(&x).unwrap();
    assert!(lifted >= before);
    assert_eq!(dead(&ae), 0);
    let (_, r) = ae.reconstruct(&x).unwrap();
    let min = r.data.iter().cloned().fold(f32::INFINITY, f32::min);
    assert!(min >= 0.0099, "every output starts at ≥ 0.01, got {min}");
    let changed = bias0
        .iter()
        .zip(&ae.layers()[3].bias)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(changed, lifted);
    assert!(
        ae.layers()[3].bias.iter().all(|b| b.abs() < 2.0),
        "outputs stay small"
    );
}

#[test]
fn reconstruct_in_place_matches_reconstruct() {
    // 50 rows in chunks of 16: three full chunks and a partial one.
    let (x, _) = clustered(50, 40, 3, 5);
    let cfg = AeConfig {
        hidden: 24,
        latent: 6,
        chunk_rows: 16,
        ..AeConfig::default()
    };
    let mut ae = Autoencoder::new(40, &cfg, 3).unwrap();
    ae.train(&x, &x, &AeLoss::default(), 3, &mut |_, _| {})
        .unwrap();
    let (z, r) = ae.reconstruct(&x).unwrap();
    let mut y = x.clone();
    let z2 = ae.reconstruct_in_place(&mut y).unwrap();
    assert_eq!(z2, z);
    assert_eq!(y, r);
    assert_ne!(y, x);
}

#[test]
fn encoding_a_sparse_matrix_equals_encoding_its_dense_copy() {
    let (x, _) = clustered(301, 120, 3, 7);
    // Sparsify: about half the entries are zero after the clip at 0.
    let sparse = scgnn::matrix::Csr::from_dense(&x);
    let cfg = AeConfig {
        hidden: 32,
        latent: 8,
        chunk_rows: 64,
        ..AeConfig::default()
    };
    let ae = Autoencoder::new(120, &cfg, 3).unwrap();
    let dense = ae.encode(&x).unwrap();
    let chunked = ae.encode_sparse(&sparse).unwrap();
    assert_eq!((chunked.rows, chunked.cols), (301, 8));
    let worst = dense
        .data
        .iter()
        .zip(&chunked.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "largest difference {worst}");
    let wrong = scgnn::matrix::Csr::<f32>::zeros(4, 119);
    assert!(ae.encode_sparse(&wrong).is_err());
}
