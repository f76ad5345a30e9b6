//! Molecular cross-validation: the split, the refusal of non-integer input, a
//! hand-computed score and an oracle that must beat the no-denoising baseline.

use rand::distr::Distribution;
use scgnn::evaluate::mcv::*;
use scgnn::matrix::{Csr, Dense};
use std::path::Path;

fn sim_counts() -> Csr<f32> {
    let x: Vec<(u32, u32, f32)> = (0..30u32)
        .flat_map(|i| (0..20u32).map(move |j| (i, j, ((i * 5 + j * 3 + i * j) % 9) as f32)))
        .collect();
    Csr::from_triplets(30, 20, x)
}

#[test]
fn split_halves_add_up_and_are_seeded() {
    let x = sim_counts();
    let (a, b) = split(&x, 0.3, 9).unwrap();
    let (da, db, dx) = (a.to_dense(), b.to_dense(), x.to_dense());
    for k in 0..dx.data.len() {
        assert_eq!(da.data[k] + db.data[k], dx.data[k]);
        assert!(da.data[k] >= 0.0 && db.data[k] >= 0.0 && da.data[k].fract() == 0.0);
    }
    assert!(
        !a.data.contains(&0.0) && !b.data.contains(&0.0),
        "no stored zeros"
    );
    let (a2, b2) = split(&x, 0.3, 9).unwrap();
    assert_eq!((&a, &b), (&a2, &b2));
    assert_ne!(a, split(&x, 0.3, 10).unwrap().0);
    // Sum of A ~ Binomial(total, 0.3): within 5 standard deviations of its mean.
    let total: f64 = x.data.iter().map(|&v| v as f64).sum();
    let sa: f64 = a.data.iter().map(|&v| v as f64).sum();
    let sd = (total * 0.3 * 0.7).sqrt();
    assert!(
        (sa - 0.3 * total).abs() < 5.0 * sd,
        "A total {sa}, expected {}",
        0.3 * total
    );
    assert!(split(&x, 1.0, 1).is_err() && split(&x, 0.0, 1).is_err());
    assert!(McvParams::default().validate().is_ok());
}

#[test]
fn non_integer_input_is_refused_naming_the_entry() {
    let x = Csr::from_triplets(3, 5, vec![(0, 1, 2.0f32), (2, 3, 1.5), (2, 4, 0.5)]);
    let e = split(&x, 0.5, 1).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let s = e.to_string();
    assert!(
        s.contains("cell 2, gene 3") && s.contains("MCV needs raw integer counts"),
        "{s}"
    );
    let neg = Csr::from_triplets(1, 2, vec![(0, 1, -1.0f32)]);
    let s = check_integer_counts(&neg, Path::new("in.csv"))
        .unwrap_err()
        .to_string();
    assert!(s.starts_with("in.csv:cell 0, gene 1"), "{s}");
}

#[test]
fn none_baseline_by_hand() {
    // A = [[1,0],[2,3]], B = [[0,1],[1,3]], p = 0.25  ⇒  B̂ = A·(1−p)/p = 3A = [[3,0],[6,9]].
    // MSE = [ (ln4−ln1)² + (ln1−ln2)² + (ln7−ln2)² + (ln10−ln4)² ] / 4
    //     = [ 1.921812055673 + 0.480453013918 + 1.569415055233 + 0.839588705318 ] / 4
    //     = 1.202817207536
    // Poisson = [ (3 − 0) + (0 − 1·ln(0+1e-8)) + (6 − 1·ln 6) + (9 − 3·ln 9) ] / 4
    //     = [ 3 + 18.420680743952 + 4.208240529105 + 2.408326264658 ] / 4
    //     = 7.009311884429
    let a = Csr::from_triplets(2, 2, vec![(0, 0, 1.0f32), (1, 0, 2.0), (1, 1, 3.0)]);
    let b = Csr::from_triplets(2, 2, vec![(0, 1, 1.0f32), (1, 0, 1.0), (1, 1, 3.0)]);
    let l = |x: f64| x.ln();
    let mse = ((l(4.0) - l(1.0)).powi(2)
        + (l(1.0) - l(2.0)).powi(2)
        + (l(7.0) - l(2.0)).powi(2)
        + (l(10.0) - l(4.0)).powi(2))
        / 4.0;
    let pois = (3.0 + (0.0 - l(1e-8)) + (6.0 - l(6.0 + 1e-8)) + (9.0 - 3.0 * l(9.0 + 1e-8))) / 4.0;
    assert!((mse - 1.202817207536).abs() < 1e-9 && (pois - 7.009311884429).abs() < 1e-9);
    let s = score_baseline(&a, &b, 0.25, McvBaseline::None).unwrap();
    assert_eq!(s.n_entries, 4);
    assert!(
        (s.mse_log1p - mse).abs() < 1e-12,
        "{} vs {mse}",
        s.mse_log1p
    );
    assert!((s.poisson - pois).abs() < 1e-12, "{} vs {pois}", s.poisson);
    // The dense entry point agrees.
    let d = score(&a.to_dense(), &b, 0.25).unwrap();
    assert_eq!(d, s);
    assert!(score(&Dense::zeros(2, 3), &b, 0.25).is_err());
    let mut bad = a.to_dense();
    bad.data[1] = f32::NAN;
    assert!(score(&bad, &b, 0.25).is_err());
}

#[test]
fn gene_mean_baseline_by_hand() {
    // A = [[1,0],[2,3]]: gene shares (3/6, 3/6), libraries (1, 5) ⇒ Â = [[0.5,0.5],[2.5,2.5]].
    let a = Csr::from_triplets(2, 2, vec![(0, 0, 1.0f32), (1, 0, 2.0), (1, 1, 3.0)]);
    let b = Csr::from_triplets(2, 2, vec![(0, 1, 1.0f32), (1, 0, 1.0), (1, 1, 3.0)]);
    let want = score(&Dense::from_vec(2, 2, vec![0.5, 0.5, 2.5, 2.5]), &b, 0.5).unwrap();
    let got = score_baseline(&a, &b, 0.5, McvBaseline::GeneMean).unwrap();
    assert!((got.mse_log1p - want.mse_log1p).abs() < 1e-12);
    assert!((got.poisson - want.poisson).abs() < 1e-12);
}

#[test]
fn oracle_beats_no_denoising_on_poisson_counts() {
    // Two cell groups with different gene profiles and varying depths:
    // μ_ij = depth_i · profile_{group(i)}(j); X ~ Poisson(μ).
    let (cells, genes, p) = (300usize, 80usize, 0.5);
    let mut rng = scgnn::rng::stream(42, "test-mcv-sim");
    let mut mu = Dense::zeros(cells, genes);
    let mut t = Vec::new();
    for i in 0..cells {
        let depth = 0.5 + (i % 7) as f64 * 0.5;
        for j in 0..genes {
            let prof = if (i < cells / 2) == (j % 3 == 0) {
                4.0
            } else {
                0.3
            };
            let m = depth * prof;
            mu.row_mut(i)[j] = m as f32;
            let x: f64 = rand_distr::Poisson::new(m).unwrap().sample(&mut rng);
            t.push((i as u32, j as u32, x as f32));
        }
    }
    let x = Csr::from_triplets(cells, genes, t);
    let (a, b) = split(&x, p, 3).unwrap();
    // The oracle knows E[A] = p·μ.
    let oracle = score_rows(&b, p, |i, buf| {
        for (o, &m) in buf.iter_mut().zip(mu.row(i)) {
            *o = (p as f32) * m;
        }
    })
    .unwrap();
    let none = score_baseline(&a, &b, p, McvBaseline::None).unwrap();
    let gm = score_baseline(&a, &b, p, McvBaseline::GeneMean).unwrap();
    eprintln!("MCV oracle {oracle:?}\nMCV none {none:?}\nMCV gene-mean {gm:?}");
    assert!(oracle.mse_log1p < none.mse_log1p, "{oracle:?} vs {none:?}");
    assert!(oracle.poisson < none.poisson, "{oracle:?} vs {none:?}");
    assert!(
        oracle.mse_log1p < gm.mse_log1p && oracle.poisson < gm.poisson,
        "{oracle:?} vs {gm:?}"
    );
}
