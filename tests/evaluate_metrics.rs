//! Clustering metrics against scikit-learn 1.9.1.
//!
//! Every expected number below was computed with scikit-learn 1.9.1 (numpy 2.4.6)
//! with the one-liners quoted next to each case, where `M = sklearn.metrics` and
//! the inputs are built by the same formulas as here.

use scgnn::evaluate::metrics::*;
use scgnn::matrix::Dense;

const TOL: f64 = 1e-10;

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= TOL * want.abs().max(1.0),
        "{what}: got {got}, scikit-learn {want}"
    );
}

/// Checks [ARI, NMI, AMI, homogeneity, completeness, V-measure, FM] computed as
/// `[M.adjusted_rand_score(t,p), M.normalized_mutual_info_score(t,p),
///   M.adjusted_mutual_info_score(t,p), *M.homogeneity_completeness_v_measure(t,p),
///   M.fowlkes_mallows_score(t,p)]`.
fn check_external(t: &[usize], p: &[usize], want: [f64; 7]) {
    let (h, c, v) = homogeneity_completeness_v_measure(t, p);
    let got = [
        ari(t, p),
        nmi(t, p),
        ami(t, p),
        h,
        c,
        v,
        fowlkes_mallows(t, p),
    ];
    let names = [
        "ARI",
        "NMI",
        "AMI",
        "homogeneity",
        "completeness",
        "V",
        "FM",
    ];
    for k in 0..7 {
        close(got[k], want[k], names[k]);
    }
    let r = evaluate(p, t, None, 0).unwrap();
    close(r.ari, want[0], "report ARI");
    close(r.ami, want[2], "report AMI");
    close(r.fowlkes_mallows, want[6], "report FM");
    assert_eq!(r.silhouette, None);
}

#[test]
fn unequal_cluster_counts() {
    // t=[0,0,0,1,1,1,2,2,2,2]; p=[0,0,1,1,1,2,2,2,3,3]
    check_external(
        &[0, 0, 0, 1, 1, 1, 2, 2, 2, 2],
        &[0, 0, 1, 1, 1, 2, 2, 2, 3, 3],
        [
            0.23728813559322035,
            0.5759466679735675,
            0.3393713656092221,
            0.6492712741077914,
            0.5175031261015377,
            0.5759466679735676,
            0.408248290463863,
        ],
    );
}

#[test]
fn singletons() {
    // t=[0,0,0,0,1,1,1,2,2,3]; p=[0,1,2,3,4,5,5,5,6,6]
    check_external(
        &[0, 0, 0, 0, 1, 1, 1, 2, 2, 3],
        &[0, 1, 2, 3, 4, 5, 5, 5, 6, 6],
        [
            0.01818181818181818,
            0.6102771471247717,
            0.030357983283709204,
            0.7424834172925049,
            0.5180359025478042,
            0.6102771471247717,
            0.15811388300841897,
        ],
    );
}

#[test]
fn partial_agreement_200_cells() {
    // t=[(i*i+3*i)%5 for i in range(200)]; p=[((i*11)%8 if i%3==0 else t[i]) for i in range(200)]
    let t: Vec<usize> = (0..200).map(|i| (i * i + 3 * i) % 5).collect();
    let p: Vec<usize> = (0..200)
        .map(|i| if i % 3 == 0 { (i * 11) % 8 } else { t[i] })
        .collect();
    check_external(
        &t,
        &p,
        [
            0.4919414991209998,
            0.4000234225591637,
            0.3826524249856737,
            0.5214994241421455,
            0.32444783449182063,
            0.40002342255916373,
            0.6490002865304852,
        ],
    );
}

#[test]
fn trivial_reference() {
    // t=[0]*6; p=[0,0,1,1,2,2]
    check_external(
        &[0; 6],
        &[0, 0, 1, 1, 2, 2],
        [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.4472135954999579],
    );
}

#[test]
fn ami_5000_cells() {
    // t=[(i*i+3*i)%7 for i in range(5000)]; p=[(i%9 if i%2 else t[i]) for i in range(5000)]
    // [M.adjusted_mutual_info_score(t,p), M.adjusted_rand_score(t,p), M.normalized_mutual_info_score(t,p)]
    let t: Vec<usize> = (0..5000).map(|i| (i * i + 3 * i) % 7).collect();
    let p: Vec<usize> = (0..5000)
        .map(|i| if i % 2 == 1 { i % 9 } else { t[i] })
        .collect();
    close(ami(&t, &p), 0.24565989884135941, "AMI");
    close(ari(&t, &p), 0.29035891550693665, "ARI");
    close(nmi(&t, &p), 0.24673418986433399, "NMI");
}

/// X=np.array([[((i*7+t*3)%11)*0.25 + (i//4)*1.5 for t in range(3)] for i in range(12)])
/// l=[0,0,0,0,1,1,1,2,2,2,2,3]   (cluster 3 is a singleton)
fn emb1() -> (Dense, Vec<usize>) {
    let data = (0..12)
        .flat_map(|i| {
            (0..3).map(move |t| ((i * 7 + t * 3) % 11) as f32 * 0.25 + (i / 4) as f32 * 1.5)
        })
        .collect();
    (
        Dense::from_vec(12, 3, data),
        vec![0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3],
    )
}

/// X=np.array([[((i*37+t*17)%101)/8.0 + (i%4)*3.0 for t in range(5)] for i in range(60)])
/// l=[(i%4 if i%5 else (i*3)%6) for i in range(60)]
fn emb2() -> (Dense, Vec<usize>) {
    let data = (0..60)
        .flat_map(|i| {
            (0..5).map(move |t| ((i * 37 + t * 17) % 101) as f32 / 8.0 + (i % 4) as f32 * 3.0)
        })
        .collect();
    let l = (0..60)
        .map(|i| if i % 5 != 0 { i % 4 } else { (i * 3) % 6 })
        .collect();
    (Dense::from_vec(60, 5, data), l)
}

#[test]
fn internal_metrics_match_sklearn() {
    // [M.silhouette_score(X,l), M.calinski_harabasz_score(X,l), M.davies_bouldin_score(X,l)]
    let cases = [
        (
            emb1(),
            [-0.05904370003542549, 4.313135313531354, 1.5696565835271148],
        ),
        (
            emb2(),
            [-0.002303355274140027, 9.306347783046611, 3.908108963183223],
        ),
    ];
    for ((x, l), want) in cases {
        close(silhouette(&x, &l).unwrap(), want[0], "silhouette");
        close(
            calinski_harabasz(&x, &l).unwrap(),
            want[1],
            "Calinski-Harabasz",
        );
        close(davies_bouldin(&x, &l).unwrap(), want[2], "Davies-Bouldin");
        let r = evaluate(&l, &l, Some(&x), 0).unwrap();
        close(r.silhouette.unwrap(), want[0], "report silhouette");
        assert_eq!(r.silhouette_cells, Some(l.len()));
        assert!(!r.silhouette_sampled);
        close(r.davies_bouldin.unwrap(), want[2], "report DB");
    }
}

#[test]
fn internal_metrics_undefined_for_one_or_n_clusters() {
    let (x, _) = emb1();
    assert_eq!(silhouette(&x, &[0; 12]), None);
    let all: Vec<usize> = (0..12).collect();
    assert_eq!(calinski_harabasz(&x, &all), None);
    assert_eq!(davies_bouldin(&x, &all), None);
}

#[test]
fn silhouette_sampling_is_seeded_and_flagged() {
    let (x, l) = emb2();
    let a = silhouette_guarded(&x, &l, 40, 7).unwrap();
    assert!(a.sampled);
    assert_eq!(a.n_used, 40);
    assert_eq!(a, silhouette_guarded(&x, &l, 40, 7).unwrap());
    assert_ne!(a.value, silhouette_guarded(&x, &l, 40, 8).unwrap().value);
    let full = silhouette_guarded(&x, &l, 60, 7).unwrap();
    assert!(!full.sampled);
    close(full.value, -0.002303355274140027, "unsampled silhouette");
}

#[test]
fn report_rejects_mismatched_lengths_and_prints_a_table() {
    assert!(evaluate(&[0, 1], &[0, 1, 1], None, 0).is_err());
    let (x, l) = emb1();
    assert!(evaluate(&l[..11], &l[..11], Some(&x), 0).is_err());
    let r = evaluate(&l, &l, Some(&x), 0).unwrap();
    let s = r.to_string();
    assert!(s.contains("ARI") && s.contains("1.0000") && s.contains("silhouette"));
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["n_cells"], 12);
    assert_eq!(j["ari"], 1.0);
}
