//! Clustering stage: every method on separated blobs, the LouvainK rule, k-means
//! references, the guard, the O(N²) limits and determinism.

use clap::ValueEnum;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scgnn::cluster::{
    cluster, guard, kmeans, louvain_k, ClusterParams, KMeansParams, Method, Resolution,
};
use scgnn::evaluate::metrics::ari;
use scgnn::matrix::{Csr, Dense};
use scgnn::Error;

/// `k` Gaussian blobs of `per` points in `d` dims, centres 10 apart on the axes.
fn blobs(k: usize, per: usize, d: usize, sd: f32, seed: u64) -> (Dense, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nrm = Normal::new(0.0f32, sd).unwrap();
    let mut data = Vec::new();
    let mut truth = Vec::new();
    // Interleave the blobs so no method can lean on the input order.
    for _ in 0..per {
        for c in 0..k {
            for j in 0..d {
                let centre = if j == c % d {
                    10.0 * (1 + c / d) as f32
                } else {
                    0.0
                };
                data.push(centre + nrm.sample(&mut rng));
            }
            truth.push(c);
        }
    }
    (Dense::from_vec(k * per, d, data), truth)
}

/// Naive symmetric kNN graph with unit weights.
fn knn_graph(x: &Dense, k: usize) -> Csr<f32> {
    let n = x.rows;
    let mut t = Vec::new();
    for i in 0..n {
        let mut d: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let s: f32 = x
                    .row(i)
                    .iter()
                    .zip(x.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                (s, j)
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, j) in d.iter().take(k) {
            t.push((i as u32, j as u32));
            t.push((j as u32, i as u32));
        }
    }
    t.sort_unstable();
    t.dedup();
    Csr::from_triplets(n, n, t.into_iter().map(|(a, b)| (a, b, 1.0)).collect())
}

fn params(method: Method) -> ClusterParams {
    ClusterParams {
        method,
        n_clusters: 4,
        ..ClusterParams::default()
    }
}

fn run(x: &Dense, truth: &[usize], method: Method, p: ClusterParams) -> f64 {
    let g = knn_graph(x, 10);
    let c = cluster(x, &g, &p, 10, 7, None).unwrap();
    let a = ari(&c.labels, truth);
    eprintln!(
        "{method}: K = {} ARI = {a:.4} note = {:?}",
        c.n_clusters, c.note
    );
    assert_eq!(c.labels.len(), x.rows);
    assert_eq!(c.labels.iter().max().unwrap() + 1, c.n_clusters);
    a
}

#[test]
fn cluster_every_method_recovers_blobs() {
    let (x, truth) = blobs(4, 50, 10, 1.0, 1);
    for m in [
        Method::KMeans,
        Method::Louvain,
        Method::Leiden,
        Method::Birch,
        Method::AgglomerativeClusteringK,
        Method::AgglomerativeClustering,
        Method::SpectralClustering,
        Method::AffinityPropagation,
        Method::Optics,
    ] {
        assert!(run(&x, &truth, m, params(m)) > 0.95, "{m}");
    }
    // LouvainK/LouvainB with r = 1 keep the Louvain count (4) as K.
    for m in [Method::LouvainK, Method::LouvainB] {
        let p = ClusterParams {
            resolution: Resolution::Fixed(1.0),
            ..params(m)
        };
        assert!(run(&x, &truth, m, p) > 0.95, "{m}");
    }
    // BIRCH subclusters are blobs only when the blobs fit the 0.5 radius threshold.
    let (xt, tt) = blobs(4, 50, 10, 0.05, 2);
    assert!(run(&xt, &tt, Method::BirchN, params(Method::BirchN)) > 0.99);
    // Mean shift's bandwidth (0.3 quantile) spans a blob only if blobs hold > 30 %.
    let (x3, t3) = blobs(3, 70, 10, 1.0, 3);
    assert!(run(&x3, &t3, Method::MeanShift, params(Method::MeanShift)) > 0.95);
}

#[test]
fn cluster_kmeans_hand_checked() {
    let x = Dense::from_vec(4, 1, vec![0.0, 1.0, 10.0, 11.0]);
    let r = kmeans(
        &x,
        &KMeansParams {
            k: 2,
            seed: 3,
            ..KMeansParams::default()
        },
    )
    .unwrap();
    assert_eq!(r.labels[0], r.labels[1]);
    assert_eq!(r.labels[2], r.labels[3]);
    assert_ne!(r.labels[0], r.labels[2]);
    assert!((r.inertia - 1.0).abs() < 1e-12);
    let mut c = r.centers.clone();
    c.sort_by(f64::total_cmp);
    assert_eq!(c, vec![0.5, 10.5]);
    // Three 2-d pairs: centres are the pair midpoints, inertia 3 × 2 × 0.25.
    let x = Dense::from_vec(6, 2, vec![0., 0., 0., 1., 5., 5., 5., 6., -5., 5., -5., 6.]);
    let r = kmeans(
        &x,
        &KMeansParams {
            k: 3,
            ..KMeansParams::default()
        },
    )
    .unwrap();
    assert!((r.inertia - 1.5).abs() < 1e-12);
    assert!(kmeans(
        &x,
        &KMeansParams {
            k: 7,
            ..KMeansParams::default()
        }
    )
    .is_err());
}

#[test]
fn cluster_kmeans_same_on_one_and_two_threads() {
    let (x, _) = blobs(6, 500, 12, 3.0, 4);
    let p = KMeansParams {
        k: 6,
        seed: 11,
        ..KMeansParams::default()
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let a = one.install(|| kmeans(&x, &p).unwrap());
    let b = two.install(|| kmeans(&x, &p).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
}

#[test]
fn cluster_louvain_k_rule() {
    assert_eq!(louvain_k(6, 0.8), 4);
    assert_eq!(louvain_k(3, 0.8), 2);
    assert_eq!(louvain_k(4, 0.5), 2);
    assert_eq!(louvain_k(10, 0.5), 5);
    assert_eq!(louvain_k(1, 0.8), 2);
    // Planted partition: 6 cliques of 25 joined in a ring by single edges,
    // plus 3 isolated cells that count as communities (as igraph).
    let (c, size, iso) = (6usize, 25usize, 3usize);
    let n = c * size + iso;
    let mut t = Vec::new();
    for b in 0..c {
        for i in 0..size {
            for j in 0..size {
                if i != j {
                    t.push(((b * size + i) as u32, (b * size + j) as u32, 1.0f32));
                }
            }
        }
        let (u, v) = ((b * size) as u32, (((b + 1) % c) * size + 1) as u32);
        t.push((u, v, 1.0));
        t.push((v, u, 1.0));
    }
    let g = Csr::from_triplets(n, n, t);
    let (x, _) = blobs(1, n, 5, 1.0, 5);
    let p = ClusterParams::default();
    let r = cluster(&x, &g, &p, 10, 1, None).unwrap();
    assert_eq!(r.louvain_communities, Some(c + iso));
    // auto resolution below 2 000 cells: ⌊9 × 0.8⌋ = 7.
    assert_eq!(r.n_clusters, 7);
    let p = ClusterParams {
        method: Method::Louvain,
        ..p
    };
    let r = cluster(&x, &g, &p, 10, 1, None).unwrap();
    assert_eq!(r.n_clusters, c + iso);
    let truth: Vec<usize> = (0..n)
        .map(|i| if i < c * size { i / size } else { i })
        .collect();
    assert!((ari(&r.labels, &truth) - 1.0).abs() < 1e-12);
}

#[test]
fn cluster_guard_merges_and_relabels() {
    // 40 clusters: 20 of 10 cells and 20 singletons, on a line.
    let mut raw = Vec::new();
    let mut pts = Vec::new();
    for c in 0..20i64 {
        for _ in 0..10 {
            raw.push(c * 7 + 3);
            pts.push(c as f32 * 10.0);
        }
        raw.push(1000 + c);
        pts.push(c as f32 * 10.0 + 1.0);
    }
    let x = Dense::from_vec(pts.len(), 1, pts);
    let g = guard(&x, &raw, 30, 5).unwrap();
    assert_eq!(g.n_clusters, 20);
    let mut sizes = vec![0; g.n_clusters];
    for &l in &g.labels {
        sizes[l] += 1;
    }
    assert!(sizes.iter().all(|&s| s == 11), "{sizes:?}");
    // Contiguous, by first appearance.
    assert_eq!(g.labels[0], 0);
    assert_eq!(g.labels[11], 1);
    assert!(g.note.is_some());
    // Cap: 20 clusters with max 8 → the smallest merge first.
    let g2 = guard(&x, &raw.iter().map(|l| l % 1000).collect::<Vec<_>>(), 8, 1).unwrap();
    assert!(g2.n_clusters <= 8);
    assert_eq!(*g2.labels.iter().max().unwrap() + 1, g2.n_clusters);
    // Below the cap nothing merges (scGNN applies the guard only when K > max).
    let g3 = guard(&x, &raw, 50, 5).unwrap();
    assert_eq!(g3.n_clusters, 40);
    // Noise joins the nearest centroid.
    let x = Dense::from_vec(5, 1, vec![0.0, 0.1, 9.0, 9.1, 8.0]);
    let g = guard(&x, &[4, 4, 2, 2, -1], 30, 1).unwrap();
    assert_eq!(g.labels, vec![0, 0, 1, 1, 1]);
    let g = guard(&x, &[-1; 5], 30, 1).unwrap();
    assert_eq!(g.labels, vec![0; 5]);
}

#[test]
fn cluster_quadratic_methods_refuse_large_inputs() {
    let n = 20_001;
    let x = Dense::from_vec(n, 2, (0..2 * n).map(|i| i as f32).collect());
    let g = Csr::zeros(n, n);
    for m in [
        Method::AffinityPropagation,
        Method::SpectralClustering,
        Method::AgglomerativeClustering,
        Method::AgglomerativeClusteringK,
        Method::Optics,
        Method::MeanShift,
    ] {
        match cluster(&x, &g, &params(m), 10, 7, None) {
            Err(Error::Resources(msg)) => {
                assert!(
                    msg.contains("20001 cells") && msg.contains("LouvainK"),
                    "{msg}"
                );
            }
            other => panic!("{m}: expected a resources error, got {other:?}"),
        }
    }
}

#[test]
fn cluster_methods_deterministic_across_threads() {
    let (x, _) = blobs(4, 60, 8, 2.5, 6);
    let g = knn_graph(&x, 10);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for &m in Method::value_variants() {
        let p = params(m);
        let a = one.install(|| cluster(&x, &g, &p, 10, 7, None).unwrap());
        let b = two.install(|| cluster(&x, &g, &p, 10, 7, None).unwrap());
        let c = two.install(|| cluster(&x, &g, &p, 10, 7, None).unwrap());
        assert_eq!(a, b, "{m}");
        assert_eq!(b, c, "{m}");
    }
}

#[test]
fn cluster_parse_and_validate() {
    for &m in Method::value_variants() {
        assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
        assert_eq!(m.to_string().to_uppercase().parse::<Method>().unwrap(), m);
    }
    assert_eq!("optics".parse::<Method>().unwrap(), Method::Optics);
    assert_eq!(Method::Optics.to_string(), "OPTICS");
    assert!("Kmedoids".parse::<Method>().is_err());
    assert_eq!("AUTO".parse::<Resolution>().unwrap(), Resolution::Auto);
    assert_eq!("0.3".parse::<Resolution>().unwrap(), Resolution::Fixed(0.3));
    assert!("-1".parse::<Resolution>().is_err());
    assert_eq!(Resolution::Auto.multiplier(1999), 0.8);
    assert_eq!(Resolution::Auto.multiplier(2000), 0.5);
    assert_eq!(Resolution::Auto.gamma(1999), 0.5);
    assert_eq!(Resolution::Auto.gamma(2000), 0.7);
    assert_eq!(Resolution::Fixed(1.2).gamma(10), 1.2);
    assert!(ClusterParams::default().validate(10).is_ok());
    assert!(ClusterParams {
        n_clusters: 0,
        ..ClusterParams::default()
    }
    .validate(10)
    .is_err());
    let optics = ClusterParams {
        method: Method::Optics,
        ..ClusterParams::default()
    };
    assert!(optics.validate(4).is_ok() && optics.validate(3).is_err());
    let x = Dense::from_vec(3, 1, vec![0.0, 1.0, 2.0]);
    assert!(cluster(
        &x,
        &Csr::zeros(2, 2),
        &ClusterParams::default(),
        10,
        0,
        None
    )
    .is_err());
}

/// Timing only (run with `--ignored --nocapture`): LouvainK on 20 000 cells × 128-d,
/// 20 blocks of a planted graph with 10 in-block neighbours per cell.
#[test]
#[ignore]
fn cluster_bench_louvaink_20k() {
    let (x, truth) = blobs(20, 1000, 128, 1.0, 9);
    let n = x.rows;
    let mut t = Vec::new();
    for i in 0..n {
        for s in 1..=5 {
            // Same-blob cells are 20 apart in the interleaved order.
            let j = (i + 20 * s) % n;
            t.push((i as u32, j as u32));
            t.push((j as u32, i as u32));
        }
    }
    t.sort_unstable();
    t.dedup();
    let g = Csr::from_triplets(n, n, t.into_iter().map(|(a, b)| (a, b, 1.0)).collect());
    let t0 = std::time::Instant::now();
    let c = cluster(&x, &g, &ClusterParams::default(), 10, 0, None).unwrap();
    eprintln!(
        "LouvainK 20k x 128: {:.2} s, k_L = {:?}, K = {}, ARI = {:.3}",
        t0.elapsed().as_secs_f64(),
        c.louvain_communities,
        c.n_clusters,
        ari(&c.labels, &truth)
    );
    let p = ClusterParams {
        method: Method::KMeans,
        ..ClusterParams::default()
    };
    let t0 = std::time::Instant::now();
    let c = cluster(&x, &g, &p, 10, 0, None).unwrap();
    eprintln!(
        "KMeans(20) 20k x 128: {:.2} s, ARI = {:.3}",
        t0.elapsed().as_secs_f64(),
        ari(&c.labels, &truth)
    );
}

/// Warm start (the EM loop's clustering): Leiden started from a labeling that already
/// fits the graph keeps it whatever the seed, while a cold start from singletons with
/// another seed may number or split differently; a warm start from a labeling with
/// misplaced cells moves them back.
#[test]
fn leiden_warm_start_keeps_a_fitting_labeling() {
    let (x, truth) = blobs(4, 30, 4, 1.0, 3);
    let g = knn_graph(&x, 10);
    let p = ClusterParams {
        method: Method::Leiden,
        resolution: Resolution::Fixed(0.5),
        ..ClusterParams::default()
    };
    let cold = cluster(&x, &g, &p, 10, 1, None).unwrap();
    assert!(
        ari(&cold.labels, &truth) > 0.99,
        "cold start {:?}",
        cold.labels
    );
    for seed in [2, 3, 4] {
        let warm = cluster(&x, &g, &p, 10, seed, Some(&cold.labels)).unwrap();
        assert_eq!(warm.labels, cold.labels, "seed {seed}");
    }
    // Ten cells put in the wrong community return to their blob.
    let mut noisy = cold.labels.clone();
    for i in (0..noisy.len()).step_by(12) {
        noisy[i] = (noisy[i] + 1) % 4;
    }
    let fixed = cluster(&x, &g, &p, 10, 5, Some(&noisy)).unwrap();
    assert!(ari(&fixed.labels, &truth) > 0.99, "{:?}", fixed.labels);
}
