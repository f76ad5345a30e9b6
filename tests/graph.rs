//! Integration tests of the cell graph (spec §4, §8.1): exact KNN against a brute force,
//! pruning rules, derived sparse graphs, the isolation forest and thread independence.

use rand::Rng as _;
use rand_distr::{Distribution, Normal};
use scgnn::graph::iforest::{average_path_length, IsolationForest, IsolationForestParams};
use scgnn::graph::prune::{prune_weights, stats_weights};
use scgnn::graph::{
    build, degrees, graph_change, knn, knn_approx, sum_adjacency, ApproxParams, CellGraph,
    Distance, GraphParams, Knn, PruneType,
};
use scgnn::matrix::{Csr, Dense};
use scgnn::rng::stream;

/// Gaussian blobs far from the origin (stresses the cancellation of ‖x‖² − 2x·y).
fn blobs(n: usize, d: usize, centres: usize, seed: u64) -> Dense {
    let mut rng = stream(seed, "test-blobs");
    let c: Vec<f32> = (0..centres * d)
        .map(|_| 50.0 + rng.random::<f32>() * 10.0)
        .collect();
    let noise = Normal::new(0.0f32, 1.0).unwrap();
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let b = i % centres;
        for t in 0..d {
            data.push(c[b * d + t] + noise.sample(&mut rng));
        }
    }
    Dense::from_vec(n, d, data)
}

/// scipy `cdist` definitions in f64.
fn naive_dist(a: &[f32], b: &[f32], m: Distance) -> f64 {
    let f = |v: &f32| *v as f64;
    match m {
        Distance::Euclidean => a
            .iter()
            .zip(b)
            .map(|(u, v)| (f(u) - f(v)).powi(2))
            .sum::<f64>()
            .sqrt(),
        Distance::Cosine | Distance::Correlation => {
            let (ma, mb) = if m == Distance::Correlation {
                (
                    a.iter().map(f).sum::<f64>() / a.len() as f64,
                    b.iter().map(f).sum::<f64>() / b.len() as f64,
                )
            } else {
                (0.0, 0.0)
            };
            let dot: f64 = a
                .iter()
                .zip(b)
                .map(|(u, v)| (f(u) - ma) * (f(v) - mb))
                .sum();
            let na = a.iter().map(|u| (f(u) - ma).powi(2)).sum::<f64>().sqrt();
            let nb = b.iter().map(|v| (f(v) - mb).powi(2)).sum::<f64>().sqrt();
            1.0 - dot / (na * nb)
        }
    }
}

/// O(N²) brute force: full sort of every row by (distance, index), self excluded by index.
fn naive_knn(x: &Dense, k: usize, m: Distance) -> (Vec<Vec<u32>>, Vec<Vec<f64>>) {
    let mut ind = Vec::new();
    let mut dis = Vec::new();
    for i in 0..x.rows {
        let mut row: Vec<(f64, u32)> = (0..x.rows)
            .filter(|&j| j != i)
            .map(|j| (naive_dist(x.row(i), x.row(j), m), j as u32))
            .collect();
        row.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        ind.push(row[..k].iter().map(|e| e.1).collect());
        dis.push(row[..k].iter().map(|e| e.0).collect());
    }
    (ind, dis)
}

fn assert_matches_brute_force(x: &Dense, k: usize, m: Distance) {
    let got = knn(x, k, m).unwrap();
    let (ind, dis) = naive_knn(x, k, m);
    let mut index_diffs = 0;
    for i in 0..x.rows {
        for t in 0..k {
            let j = got.neighbors(i)[t] as usize;
            assert_ne!(j, i, "self in the list of {i}");
            // Returned distance is the true distance of the returned pair …
            let true_d = naive_dist(x.row(i), x.row(j), m);
            assert!(
                (got.distances(i)[t] as f64 - true_d).abs() <= 1e-5 * (1.0 + true_d),
                "{m}: cell {i} rank {t}: {} vs {true_d}",
                got.distances(i)[t]
            );
            // … and equals the brute force's t-th distance (indices may differ only on float ties).
            assert!(
                (true_d - dis[i][t]).abs() <= 1e-9 * (1.0 + dis[i][t]),
                "{m}: cell {i} rank {t}: got {j} at {true_d}, brute force {} at {}",
                ind[i][t],
                dis[i][t]
            );
            if j as u32 != ind[i][t] {
                index_diffs += 1;
            }
        }
    }
    assert!(
        index_diffs <= x.rows * k / 1000,
        "{index_diffs} index differences"
    );
}

#[test]
fn knn_equals_brute_force_all_metrics() {
    // 2500 cells: several query blocks and two reference tiles of 2048.
    let x = blobs(2500, 12, 7, 1);
    for m in [Distance::Euclidean, Distance::Cosine, Distance::Correlation] {
        assert_matches_brute_force(&x, 10, m);
    }
}

#[test]
fn knn_small_k_and_small_n() {
    let x = blobs(40, 3, 2, 2);
    for m in [Distance::Euclidean, Distance::Cosine, Distance::Correlation] {
        assert_matches_brute_force(&x, 1, m);
        assert_matches_brute_force(&x, 39, m);
    }
}

#[test]
fn knn_distances_match_scipy() {
    // scipy.spatial.distance.cdist(X, X, metric)[0] for this X, in float64 (scipy 1.x):
    // euclidean [0, 3.16227766, 3.90512484, 1.87082869]
    // cosine [0, 0.16666667, 0.29870629, 0.05524389]
    // correlation [~0, 0.402385695, 0.520487776, 0.105572809]
    let x = Dense::from_vec(
        4,
        4,
        vec![
            1.0, 2.0, 3.0, 4.0, 2.0, 0.0, 1.0, 5.0, -1.0, 3.0, 0.5, 2.0, 0.5, 0.5, 4.0, 4.0,
        ],
    );
    let cases = [
        (
            Distance::Euclidean,
            [1.87082869, 3.16227766, 3.90512484],
            [3, 1, 2],
        ),
        (
            Distance::Cosine,
            [0.05524389, 0.16666667, 0.29870629],
            [3, 1, 2],
        ),
        (
            Distance::Correlation,
            [0.105572809, 0.402385695, 0.520487776],
            [3, 1, 2],
        ),
    ];
    for (m, d, j) in cases {
        let r = knn(&x, 3, m).unwrap();
        assert_eq!(r.neighbors(0), &j, "{m}");
        for (t, (&got, want)) in r.distances(0).iter().zip(d).enumerate() {
            assert!((got as f64 - want).abs() < 1e-6, "{m} {t}");
        }
    }
}

#[test]
fn knn_handles_duplicates_and_ties_by_index() {
    // Every point three times: the two copies are the nearest, at distance 0, lower index first.
    let base = blobs(60, 5, 3, 3);
    let mut data = Vec::new();
    for r in 0..60 {
        for _ in 0..3 {
            data.extend_from_slice(base.row(r));
        }
    }
    let x = Dense::from_vec(180, 5, data);
    for m in [Distance::Euclidean, Distance::Cosine, Distance::Correlation] {
        let r = knn(&x, 4, m).unwrap();
        for i in 0..180 {
            let g = i / 3 * 3;
            let copies: Vec<u32> = (g..g + 3).filter(|&j| j != i).map(|j| j as u32).collect();
            assert_eq!(&r.neighbors(i)[..2], &copies[..], "{m} cell {i}");
            assert_eq!(&r.distances(i)[..2], &[0.0, 0.0]);
        }
        assert_matches_brute_force(&x, 4, m);
    }
    // All points identical: the neighbours are the lowest other indices.
    let same = Dense::from_vec(50, 3, [1.0f32, -2.0, 0.5].repeat(50));
    let r = knn(&same, 5, Distance::Euclidean).unwrap();
    assert_eq!(r.neighbors(0), &[1, 2, 3, 4, 5]);
    assert_eq!(r.neighbors(3), &[0, 1, 2, 4, 5]);
    assert_eq!(r.neighbors(49), &[0, 1, 2, 3, 4]);
}

#[test]
fn knn_rejects_bad_input() {
    let x = blobs(5, 2, 1, 4);
    assert!(knn(&x, 5, Distance::Euclidean).is_err());
    assert!(knn(&x, 0, Distance::Euclidean).is_err());
    let mut y = x.clone();
    y.data[3] = f32::NAN;
    assert!(knn(&y, 2, Distance::Euclidean).is_err());
    assert!(build(
        &x,
        &GraphParams {
            k: 0,
            ..Default::default()
        },
        0
    )
    .is_err());
}

#[test]
fn stats_pruning_follows_the_spec_rule() {
    // Boundary b = mean + population std of the k distances; keep d <= b.
    // [1,2,3,4,10]: mean 4, std sqrt(10) = 3.162, b = 7.162 -> last pruned.
    // [1,1,1,1,10]: mean 2.8, std 3.6, b = 6.4 -> last pruned.
    // [2,2,2,2,2]: b = 2 exactly -> all kept.
    // [0,5,5,5,5]: mean 4, std 2, b = 6 -> all kept.
    // [1,1.5,6,6.5,7]: mean 4.4, std 2.538, b = 6.938 -> 7 pruned, 6.5 kept.
    let dists = vec![
        1.0, 2.0, 3.0, 4.0, 10.0, 1.0, 1.0, 1.0, 1.0, 10.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0, 5.0, 5.0,
        5.0, 5.0, 1.0, 1.5, 6.0, 6.5, 7.0,
    ];
    let knn = Knn {
        n: 5,
        k: 5,
        indices: vec![0; 25],
        dists,
    };
    let w = stats_weights(&knn);
    let expected = vec![
        1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
    ];
    assert_eq!(w, expected);
    let dummy = Dense::zeros(5, 1);
    assert_eq!(
        prune_weights(&knn, &dummy, PruneType::KnnGraph, 0).unwrap(),
        vec![1.0; 25]
    );
}

#[test]
fn prune_type_names() {
    for (s, p) in [
        ("KNNgraphStatsSingleThread", PruneType::KnnGraphStats),
        ("KNNgraphStats", PruneType::KnnGraphStats),
        ("KNNgraphML", PruneType::KnnGraphMl),
        ("KNNgraph", PruneType::KnnGraph),
    ] {
        assert_eq!(s.parse::<PruneType>().unwrap(), p);
    }
    assert!("Thresholdgraph".parse::<PruneType>().is_err());
    assert_eq!(
        PruneType::default()
            .to_string()
            .parse::<PruneType>()
            .unwrap(),
        PruneType::KnnGraphStats
    );
    let d = GraphParams::default();
    assert_eq!(
        (d.k, d.distance, d.prune),
        (10, Distance::Euclidean, PruneType::KnnGraphStats)
    );
}

/// Hand-made 4-cell graph, k = 2. Kept edges: 0→1, 1→0, 2→3, 3→1; pruned: 0→2, 1→2, 2→0, 3→2.
fn hand_graph() -> CellGraph {
    CellGraph {
        n: 4,
        k: 2,
        neighbors: vec![1, 2, 0, 2, 3, 0, 1, 2],
        dists: vec![1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0, 5.0],
        weights: vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
    }
}

fn edges(a: &Csr<f32>) -> Vec<(usize, usize)> {
    (0..a.rows)
        .flat_map(|r| a.row(r).0.iter().map(move |&c| (r, c as usize)))
        .collect()
}

#[test]
fn derived_graphs_have_the_right_edges() {
    let g = hand_graph();
    assert_eq!(g.edge_list().len(), 8);
    assert_eq!(g.edge_list()[1], (0, 2, 0.0));
    assert_eq!(g.n_kept(), 4);
    let p = g.pruned_graph();
    assert_eq!(
        edges(&p),
        vec![(0, 1), (1, 0), (1, 3), (2, 3), (3, 1), (3, 2)]
    );
    assert!(p.data.iter().all(|&v| v == 1.0));
    let u = g.union_adjacency();
    assert_eq!(
        edges(&u),
        vec![
            (0, 1),
            (0, 2),
            (1, 0),
            (1, 2),
            (1, 3),
            (2, 0),
            (2, 1),
            (2, 3),
            (3, 1),
            (3, 2)
        ]
    );
    assert_eq!(g.adjacency(true), p);
    assert_eq!(g.adjacency(false), u);
    assert_eq!(degrees(&u), vec![2.0, 3.0, 3.0, 2.0]);
}

#[test]
fn built_graphs_are_symmetric_unions() {
    let x = blobs(600, 8, 4, 5);
    let g = build(&x, &GraphParams::default(), 0).unwrap();
    let nn = knn(&x, 10, Distance::Euclidean).unwrap();
    assert_eq!(g.neighbors, nn.indices);
    assert_eq!(g.weights, stats_weights(&nn));
    for (a, pruned) in [(g.union_adjacency(), false), (g.pruned_graph(), true)] {
        let mut want = std::collections::BTreeSet::new();
        for i in 0..g.n {
            for t in 0..g.k {
                if !pruned || g.weights[i * g.k + t] == 1.0 {
                    let j = g.neighbors[i * g.k + t] as usize;
                    want.insert((i, j));
                    want.insert((j, i));
                }
            }
        }
        let got: Vec<_> = edges(&a);
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert_eq!(a.transpose(), a);
        assert!(got.iter().all(|&(i, j)| i != j));
    }
}

#[test]
fn iforest_scores_match_scikit_learn() {
    // sklearn 1.9.1: mean over random_state 0..199 of
    // IsolationForest(random_state=s).fit(P).score_samples(P) for these 11 points
    // (per-forest std ≈ 0.008).
    let p: Vec<f32> = vec![
        0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 0.1, 0.1, 0.05, 0.05, -0.1, 0.0, 0.0, -0.1, -0.1, -0.1, 0.05,
        -0.05, -0.05, 0.05, 3.0, 3.0,
    ];
    let sk = [
        -0.38515831,
        -0.44626669,
        -0.44588256,
        -0.48345794,
        -0.41136727,
        -0.45625874,
        -0.45621597,
        -0.50302871,
        -0.44031261,
        -0.44099445,
        -0.82938352,
    ];
    let reps = 40;
    let mut mean = [0f64; 11];
    for s in 0..reps {
        let mut rng = stream(s, "test-iforest");
        let f = IsolationForest::fit(&p, 2, &IsolationForestParams::default(), &mut rng);
        for (m, v) in mean.iter_mut().zip(f.score_samples(&p)) {
            *m += v / reps as f64;
        }
    }
    for i in 0..11 {
        assert!(
            (mean[i] - sk[i]).abs() < 0.01,
            "point {i}: {} vs {}",
            mean[i],
            sk[i]
        );
    }
    // c(n): sklearn.ensemble._iforest._average_path_length([11]) = 3.9414196983.
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    assert!((average_path_length(11) - 3.941_419_698).abs() < 1e-8);
}

#[test]
fn iforest_pruning_drops_a_far_point_and_is_seeded() {
    // Ten cells in a tight blob, one far away: for each blob cell the far cell is among
    // its 10 neighbours and is pruned.
    let mut rng = stream(9, "test-outlier");
    let mut data: Vec<f32> = (0..10 * 6).map(|_| rng.random::<f32>() * 0.1).collect();
    data.extend([5.0f32; 6]);
    let x = Dense::from_vec(11, 6, data);
    let params = GraphParams {
        k: 10,
        distance: Distance::Euclidean,
        prune: PruneType::KnnGraphMl,
        ..Default::default()
    };
    let g = build(&x, &params, 7).unwrap();
    for i in 0..10 {
        let t = g.neighbors[i * 10..(i + 1) * 10]
            .iter()
            .position(|&j| j == 10)
            .unwrap();
        assert_eq!(t, 9, "far cell is the farthest");
        assert_eq!(g.weights[i * 10 + t], 0.0, "cell {i} keeps the far cell");
        let kept = g.weights[i * 10..i * 10 + 9].iter().sum::<f32>();
        assert!(kept >= 7.0, "cell {i} keeps only {kept} blob neighbours");
    }
    assert_eq!(build(&x, &params, 7).unwrap(), g);
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let x = blobs(3000, 10, 6, 6);
    let run = |threads: usize, prune: PruneType| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let params = GraphParams {
            prune,
            distance: Distance::Correlation,
            ..Default::default()
        };
        pool.install(|| build(&x, &params, 11).unwrap())
    };
    for prune in [PruneType::KnnGraphStats, PruneType::KnnGraphMl] {
        assert_eq!(run(1, prune), run(2, prune), "{prune}");
    }
    assert_ne!(
        run(2, PruneType::KnnGraphMl).weights,
        run(2, PruneType::KnnGraphStats).weights
    );
}

#[test]
fn graph_change_is_relative_edge_difference() {
    let g = hand_graph();
    let p = g.pruned_graph();
    let u = g.union_adjacency();
    assert_eq!(graph_change(&p, &p).unwrap(), 0.0);
    // u has p's 6 entries plus 4 more: Δ = 4 / 6 from p, 4 / 10 from u.
    assert!((graph_change(&p, &u).unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert!((graph_change(&u, &p).unwrap() - 0.4).abs() < 1e-12);
    // One undirected edge moved: 0–1 replaced by 0–2 → 4 changed entries out of 6.
    let moved = Csr::from_triplets(
        4,
        4,
        vec![
            (0, 2, 1.0),
            (2, 0, 1.0),
            (1, 3, 1.0),
            (3, 1, 1.0),
            (2, 3, 1.0),
            (3, 2, 1.0),
        ],
    );
    assert!((graph_change(&p, &moved).unwrap() - 4.0 / 6.0).abs() < 1e-12);
    let empty = Csr::<f32>::zeros(4, 4);
    assert_eq!(graph_change(&empty, &empty).unwrap(), 0.0);
    assert!(graph_change(&empty, &p).unwrap().is_infinite());
    assert!(graph_change(&p, &Csr::zeros(3, 3)).is_err());
}

#[test]
fn the_consensus_graph_counts_the_graphs_that_hold_an_edge() {
    // a: 0-1, 1-2; b: 0-1, 0-2 (symmetric, unit weights).
    let a = Csr::from_triplets(
        3,
        3,
        vec![(0, 1, 1.0f32), (1, 0, 1.0), (1, 2, 1.0), (2, 1, 1.0)],
    );
    let b = Csr::from_triplets(
        3,
        3,
        vec![(0, 1, 1.0f32), (1, 0, 1.0), (0, 2, 1.0), (2, 0, 1.0)],
    );
    let s = sum_adjacency(&a, &b).unwrap();
    let want = Csr::from_triplets(
        3,
        3,
        vec![
            (0, 1, 2.0f32),
            (0, 2, 1.0),
            (1, 0, 2.0),
            (1, 2, 1.0),
            (2, 0, 1.0),
            (2, 1, 1.0),
        ],
    );
    assert_eq!(s, want);
    assert!(sum_adjacency(&a, &Csr::zeros(4, 4)).is_err());
}

/// Recall@k of `approx` against the exact neighbours, over every cell.
fn full_recall(approx: &Knn, exact: &Knn) -> f64 {
    let hits: usize = (0..exact.n)
        .map(|i| {
            exact
                .neighbors(i)
                .iter()
                .filter(|j| approx.neighbors(i).contains(j))
                .count()
        })
        .sum();
    hits as f64 / (exact.n * exact.k) as f64
}

#[test]
fn approximate_neighbours_are_close_to_exact_and_exact_distances() {
    // 8-d blobs: a low intrinsic dimension, as in an autoencoder's embedding.
    let x = blobs(4000, 8, 5, 21);
    for metric in [Distance::Euclidean, Distance::Cosine] {
        let exact = knn(&x, 10, metric).unwrap();
        let approx = knn_approx(&x, 10, metric, &ApproxParams::default(), 3).unwrap();
        let r = full_recall(&approx, &exact);
        eprintln!("{metric}: recall@10 {r:.4}");
        assert!(r >= 0.95, "{metric}: recall@10 {r}");
        for i in 0..x.rows {
            assert!(
                !approx.neighbors(i).contains(&(i as u32)),
                "self in cell {i}'s list"
            );
            let d = approx.distances(i);
            assert!(d.windows(2).all(|w| w[0] <= w[1]), "cell {i} not sorted");
            // Listed distances are the exact ones (f64 recomputed, as the exact search's).
            for (t, &j) in approx.neighbors(i).iter().enumerate() {
                if let Some(s) = exact.neighbors(i).iter().position(|&e| e == j) {
                    assert_eq!(d[t], exact.distances(i)[s]);
                }
            }
        }
        // The sampled recall the runs report agrees with the full one.
        let sampled = scgnn::graph::knn::recall(&approx.indices, &x, metric, 1000, 5).unwrap();
        assert!((sampled - r).abs() < 0.02, "sampled {sampled} vs full {r}");
        let perfect = scgnn::graph::knn::recall(&exact.indices, &x, metric, 300, 5).unwrap();
        assert_eq!(perfect, 1.0);
    }
}

#[test]
fn approximate_neighbours_do_not_depend_on_thread_count() {
    let x = blobs(3000, 12, 4, 8);
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            knn_approx(&x, 10, Distance::Euclidean, &ApproxParams::default(), seed).unwrap()
        })
    };
    let one = run(1, 4);
    assert_eq!(one, run(2, 4));
    assert_eq!(one, run(3, 4));
}

#[test]
fn approximate_search_handles_tiny_and_degenerate_inputs() {
    // Fewer cells than the candidate pool, and many identical rows.
    let x = blobs(12, 3, 2, 1);
    let a = knn_approx(&x, 10, Distance::Euclidean, &ApproxParams::default(), 1).unwrap();
    assert_eq!(
        full_recall(&a, &knn(&x, 10, Distance::Euclidean).unwrap()),
        1.0
    );
    let same = Dense::from_vec(500, 4, vec![1.0; 2000]);
    let a = knn_approx(&same, 5, Distance::Euclidean, &ApproxParams::default(), 1).unwrap();
    assert!(a.dists.iter().all(|&d| d == 0.0));
    assert!(knn_approx(&x, 12, Distance::Euclidean, &ApproxParams::default(), 1).is_err());
    let mut bad = x.clone();
    bad.data[0] = f32::NAN;
    assert!(knn_approx(&bad, 3, Distance::Euclidean, &ApproxParams::default(), 1).is_err());
}

#[test]
fn knn_method_auto_switches_at_the_documented_size() {
    use scgnn::graph::{KnnMethod, APPROX_ABOVE};
    assert!(!KnnMethod::Auto.is_approx(APPROX_ABOVE));
    assert!(KnnMethod::Auto.is_approx(APPROX_ABOVE + 1));
    assert!(KnnMethod::Approx.is_approx(20));
    assert!(!KnnMethod::Exact.is_approx(10_000_000));
    assert_eq!("approx".parse::<KnnMethod>().unwrap(), KnnMethod::Approx);
}
