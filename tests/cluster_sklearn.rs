//! The clustering methods against scikit-learn 1.9.1 on one fixed data set.
//!
//! Expected values were produced by Python with scikit-learn running:
//! ```text
//! X = 90 × 5 rows built by the LCG below (float32, passed to sklearn as float64)
//! KMeans(n_clusters=3, random_state=0, n_init=10).fit(X).inertia_
//! AgglomerativeClustering(n_clusters=3).fit_predict(X)
//! Birch(n_clusters=3).fit(X).labels_ ; Birch(n_clusters=None).fit(X)
//! OPTICS(min_samples=5, min_cluster_size=5).fit(X).labels_
//! AffinityPropagation(random_state=0).fit_predict(X) ; MeanShift(bin_seeding=True).fit_predict(X)
//! ```

use scgnn::cluster::{kmeans, raw_labels, ClusterParams, KMeansParams, Method};
use scgnn::evaluate::metrics::ari;
use scgnn::matrix::{Csr, Dense};

/// 3 blobs × 30 points in 5-d, uniform noise ±1.5, centres 0, 4·e0, 4·e1.
fn data() -> Dense {
    let mut s: u64 = 12345;
    let mut v = Vec::new();
    for i in 0..90 {
        let c = i % 3;
        for j in 0..5 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            let centre = if c > 0 && j == c - 1 { 4.0 } else { 0.0 };
            v.push((centre + 3.0 * (u - 0.5)) as f32);
        }
    }
    Dense::from_vec(90, 5, v)
}

const WARD: [usize; 90] = [
    1, 0, 2, 1, 0, 2, 0, 0, 2, 1, 0, 2, 1, 0, 1, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0,
    2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 1, 0, 2, 1, 0, 2, 0, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 0,
    0, 2, 1, 0, 2, 1, 0, 1, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 1,
];
const BIRCH_N: [usize; 90] = [
    0, 48, 1, 2, 49, 3, 50, 51, 4, 5, 52, 6, 0, 53, 7, 8, 49, 9, 10, 54, 11, 12, 55, 13, 14, 56,
    15, 16, 57, 17, 58, 59, 18, 60, 61, 19, 62, 63, 20, 64, 65, 21, 66, 67, 22, 2, 51, 23, 68, 53,
    24, 25, 69, 26, 27, 70, 28, 29, 71, 30, 31, 72, 32, 73, 74, 33, 34, 54, 35, 36, 69, 37, 38, 75,
    19, 39, 76, 40, 41, 77, 42, 43, 67, 44, 45, 78, 33, 46, 79, 47,
];
const OPTICS: [i64; 90] = [
    -1, -1, -1, 0, -1, -1, -1, -1, -1, -1, -1, 2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, 0, -1, -1, -1, -1, -1, -1, -1, 2, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, -1,
    -1, -1, 2, -1, 1, -1, -1, -1, -1, 0, -1, -1, -1, 1, -1, -1, 1, 2, 0, -1, -1, 0, 1, -1, 0, 1, 2,
    0, -1, -1, -1, -1, 2, 0, -1, -1, -1, -1, 2, -1, 1, -1,
];
const AP: [usize; 90] = [
    1, 2, 5, 4, 3, 8, 3, 2, 8, 4, 2, 8, 1, 6, 5, 4, 6, 7, 0, 0, 8, 1, 3, 5, 1, 0, 7, 4, 2, 8, 1, 6,
    7, 3, 6, 5, 3, 6, 5, 3, 2, 7, 1, 6, 5, 4, 2, 7, 3, 6, 5, 1, 6, 5, 0, 2, 7, 4, 2, 7, 4, 6, 5, 3,
    6, 5, 1, 0, 7, 4, 6, 5, 4, 6, 5, 4, 2, 8, 4, 2, 5, 4, 2, 8, 1, 6, 5, 1, 6, 5,
];

fn raw(m: Method, k: usize) -> Vec<i64> {
    let x = data();
    let p = ClusterParams {
        method: m,
        n_clusters: k,
        ..ClusterParams::default()
    };
    raw_labels(&x, &Csr::zeros(90, 90), &p, 10, 0, None)
        .unwrap()
        .0
}

fn as_usize(v: &[i64]) -> Vec<usize> {
    v.iter()
        .map(|&l| if l < 0 { usize::MAX } else { l as usize })
        .collect()
}

#[test]
fn cluster_sklearn_data_matches_python_generator() {
    let x = data();
    // X[0] as printed by the Python script.
    let first = [
        -1.1712641716003418f64,
        -0.7038441300392151,
        1.156872034072876,
        1.0072122812271118,
        -0.5231068134307861,
    ];
    let got: Vec<f64> = x.row(0).iter().map(|&v| v as f64).collect();
    assert_eq!(got, first);
}

#[test]
fn cluster_sklearn_kmeans_inertia() {
    let r = kmeans(
        &data(),
        &KMeansParams {
            k: 3,
            ..KMeansParams::default()
        },
    )
    .unwrap();
    // sklearn: 343.7264593063153 (labels: i % 3 pattern).
    assert!(
        (r.inertia - 343.7264593063153).abs() < 1e-6 * 343.7,
        "{}",
        r.inertia
    );
}

#[test]
fn cluster_sklearn_ward_birch() {
    assert_eq!(
        ari(&as_usize(&raw(Method::AgglomerativeClusteringK, 3)), &WARD),
        1.0
    );
    // sklearn's Birch(n_clusters=3) gives the same labels as Ward here.
    assert_eq!(ari(&as_usize(&raw(Method::Birch, 3)), &WARD), 1.0);
    let bn = as_usize(&raw(Method::BirchN, 3));
    assert_eq!(ari(&bn, &BIRCH_N), 1.0);
}

#[test]
fn cluster_sklearn_optics_and_affinity() {
    assert_eq!(
        ari(&as_usize(&raw(Method::Optics, 3)), &as_usize(&OPTICS)),
        1.0
    );
    assert_eq!(
        raw(Method::Optics, 3).iter().filter(|&&l| l < 0).count(),
        68
    );
    assert_eq!(
        ari(&as_usize(&raw(Method::AffinityPropagation, 3)), &AP),
        1.0
    );
}

const MS: [usize; 90] = [
    1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0,
    1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0,
    0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1,
];

#[test]
fn cluster_sklearn_mean_shift() {
    // All 90 cells are in the bandwidth sample, so the bandwidth is sklearn's.
    let a = ari(&as_usize(&raw(Method::MeanShift, 3)), &MS);
    assert_eq!(a, 1.0, "ARI vs sklearn {a}");
}
