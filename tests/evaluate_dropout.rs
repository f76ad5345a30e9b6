//! The dropout benchmark: mask reproducibility, size and disjointness; scores
//! and baselines checked by hand.

use scgnn::evaluate::dropout::*;
use scgnn::matrix::Csr;
use std::collections::HashSet;

/// A 40 × 30 count matrix with about half the entries non-zero, plus one
/// explicitly stored zero that must never be masked.
fn counts() -> Csr<f32> {
    let mut t = Vec::new();
    for i in 0..40u32 {
        for j in 0..30u32 {
            let v = (i * 7 + j * 13 + i * j) % 11;
            if v < 6 {
                t.push((i, j, v as f32 + 1.0));
            }
        }
    }
    let mut m = Csr::from_triplets(40, 30, t);
    // Store an explicit zero at the first entry of row 0.
    m.data[0] = 0.0;
    m
}

#[test]
fn mask_is_seeded_sized_and_disjoint() {
    let x = counts();
    let nonzero = x.data.iter().filter(|&&v| v != 0.0).count();
    let m = make_mask(&x, 0.1, 1).unwrap();
    assert_eq!(m.len(), (0.1 * nonzero as f64).floor() as usize);
    assert_eq!(m, make_mask(&x, 0.1, 1).unwrap());
    assert_ne!(m.entries, make_mask(&x, 0.1, 2).unwrap().entries);
    assert_eq!(
        make_mask(&x, 0.3, 5).unwrap().len(),
        (0.3 * nonzero as f64).floor() as usize
    );

    let dense = x.to_dense();
    let hidden: HashSet<(u32, u32)> = m.entries.iter().map(|e| (e.cell, e.gene)).collect();
    assert_eq!(
        hidden.len(),
        m.len(),
        "entries are drawn without replacement"
    );
    for e in &m.entries {
        assert!(e.original != 0.0);
        assert_eq!(dense.get(e.cell as usize, e.gene as usize), e.original);
    }
    let kept = m.apply(&x).unwrap();
    assert_eq!(kept.nnz() + m.len(), x.nnz());
    for r in 0..kept.rows {
        let (ci, cv) = kept.row(r);
        for (&c, &v) in ci.iter().zip(cv) {
            assert!(
                !hidden.contains(&(r as u32, c)),
                "kept entry ({r},{c}) is also masked"
            );
            assert_eq!(dense.get(r, c as usize), v);
        }
    }
    // Kept + hidden rebuilds the original.
    let mut rebuilt = kept.to_dense();
    for e in &m.entries {
        rebuilt.data[e.cell as usize * x.cols + e.gene as usize] = e.original;
    }
    assert_eq!(rebuilt, dense);
}

#[test]
fn mask_refuses_bad_rates_and_foreign_matrices() {
    let x = counts();
    assert!(make_mask(&x, 0.0, 1).is_err());
    assert!(make_mask(&x, 1.0, 1).is_err());
    assert!(make_mask(&x, f64::NAN, 1).is_err());
    let tiny = Csr::from_triplets(1, 2, vec![(0, 0, 1.0f32)]);
    assert!(
        make_mask(&tiny, 0.5, 1).is_err(),
        "floor(0.5·1) = 0 entries"
    );
    let m = make_mask(&x, 0.1, 1).unwrap();
    assert!(m
        .apply(&x.select_rows(&(0..39).collect::<Vec<_>>()))
        .is_err());
    // Same shape and sparsity but a different value at a hidden entry.
    let mut d = x.to_dense();
    let e = m.entries[0];
    d.data[e.cell as usize * x.cols + e.gene as usize] += 1.0;
    let mut other = Csr::from_dense(&d);
    other.data.insert(0, 0.0); // restore the explicit zero at row 0, column 0
    other.indices.insert(0, 0);
    other.indptr.iter_mut().skip(1).for_each(|p| *p += 1);
    assert_eq!(other.nnz(), x.nnz());
    assert!(m.apply(&other).is_err());
    assert!(DropoutParams::default().validate().is_ok());
    assert_eq!(DropoutParams::default().rate, 0.1);
    assert!(DropoutParams {
        rate: 0.1,
        seeds: vec![]
    }
    .validate()
    .is_err());
}

/// A 1 × 3 matrix with rate 0.7 hides floor(2.1) = 2 of its 3 entries.
#[test]
fn score_by_hand() {
    let x = Csr::from_triplets(1, 3, vec![(0, 0, 1.0f32), (0, 1, 3.0), (0, 2, 7.0)]);
    let m = make_mask(&x, 0.7, 4).unwrap();
    assert_eq!(m.len(), 2);
    // Imputing exactly ln(1 + x) scores 0 and cosine 1.
    let exact = score(&m, |c, g| (x.to_dense().get(c, g) as f64).ln_1p() as f32).unwrap();
    assert!(exact.max_l1 < 1e-6 && (exact.cosine.unwrap() - 1.0).abs() < 1e-6);
    // Imputing 1.0 everywhere: L1 = |1 − ln(1 + xᵢ)| for the two hidden xᵢ.
    let s = score(&m, |_, _| 1.0).unwrap();
    let y: Vec<f64> = m
        .entries
        .iter()
        .map(|e| (e.original as f64).ln_1p())
        .collect();
    let l: Vec<f64> = y.iter().map(|v| (1.0 - v).abs()).collect();
    assert_eq!(s.n_masked, 2);
    assert!((s.median_l1 - 0.5 * (l[0] + l[1])).abs() < 1e-12);
    assert!((s.mean_l1 - 0.5 * (l[0] + l[1])).abs() < 1e-12);
    assert!((s.min_l1 - l[0].min(l[1])).abs() < 1e-12);
    assert!((s.max_l1 - l[0].max(l[1])).abs() < 1e-12);
    // cos((1,1), (y0,y1)) = (y0 + y1) / (√2 · ‖y‖)
    let cos = (y[0] + y[1]) / (2f64.sqrt() * (y[0] * y[0] + y[1] * y[1]).sqrt());
    assert!((s.cosine.unwrap() - cos).abs() < 1e-12);
    // Zero baseline: L1 = ln(1 + x), no cosine.
    let kept = m.apply(&x).unwrap();
    let z = score_baseline(&m, &kept, DropoutBaseline::Zero).unwrap();
    assert!((z.mean_l1 - 0.5 * (y[0] + y[1])).abs() < 1e-12);
    assert_eq!(z.cosine, None);
    assert!(score(&m, |_, _| f32::NAN).is_err());
}

#[test]
fn odd_median_and_gene_mean_baseline_by_hand() {
    // Gene 0: counts 1, 3, 7, 15 in cells 0..4; gene 1: count 2 in cell 0 only.
    let x = Csr::from_triplets(
        4,
        2,
        vec![
            (0, 0, 1.0f32),
            (1, 0, 3.0),
            (2, 0, 7.0),
            (3, 0, 15.0),
            (0, 1, 2.0),
        ],
    );
    // floor(0.6 · 5) = 3 hidden entries.
    let m = make_mask(&x, 0.6, 11).unwrap();
    assert_eq!(m.len(), 3);
    let kept = m.apply(&x).unwrap();
    // Gene means of ln(1 + x) over the observed (kept) non-zeros, by hand.
    let ln1p = |v: f32| (v as f64).ln_1p();
    let mut want = [0.0f64; 2];
    for g in 0..2u32 {
        let obs: Vec<f64> = (0..4)
            .filter_map(|c| {
                let v = kept.to_dense().get(c, g as usize);
                (v != 0.0).then(|| ln1p(v))
            })
            .collect();
        want[g as usize] = if obs.is_empty() {
            0.0
        } else {
            obs.iter().sum::<f64>() / obs.len() as f64
        };
    }
    let means = gene_log_means(&kept);
    assert!((means[0] as f64 - want[0]).abs() < 1e-6 && (means[1] as f64 - want[1]).abs() < 1e-6);
    let s = score_baseline(&m, &kept, DropoutBaseline::GeneMean).unwrap();
    let mut l: Vec<f64> = m
        .entries
        .iter()
        .map(|e| (means[e.gene as usize] as f64 - ln1p(e.original)).abs())
        .collect();
    l.sort_by(f64::total_cmp);
    assert!(
        (s.median_l1 - l[1]).abs() < 1e-12,
        "odd count: the middle value"
    );
    assert!((s.mean_l1 - l.iter().sum::<f64>() / 3.0).abs() < 1e-12);
}

#[test]
fn aggregate_is_mean_and_population_std() {
    let mk = |m: f64, c: Option<f64>| DropoutScore {
        n_masked: 10,
        median_l1: m,
        mean_l1: m + 0.1,
        min_l1: 0.0,
        max_l1: 2.0,
        cosine: c,
    };
    let a = aggregate(&[mk(0.3, Some(0.9)), mk(0.5, Some(0.8))]).unwrap();
    assert_eq!(a.n_repeats, 2);
    assert!((a.median_l1.mean - 0.4).abs() < 1e-12);
    assert!((a.median_l1.std - 0.1).abs() < 1e-12);
    assert!((a.cosine.unwrap().mean - 0.85).abs() < 1e-12);
    assert_eq!(a.max_l1.std, 0.0);
    assert!(aggregate(&[mk(0.3, None), mk(0.5, Some(0.8))])
        .unwrap()
        .cosine
        .is_none());
    assert!(aggregate(&[]).is_none());
    assert!(a.to_string().contains("0.4000 ± 0.1000"));
}

#[test]
fn writes_mask_as_cell_gene_original() {
    let x = Csr::from_triplets(2, 2, vec![(0, 0, 1.0f32), (0, 1, 3.0), (1, 1, 5.5)]);
    let m = make_mask(&x, 0.7, 3).unwrap();
    let dir = std::env::temp_dir().join(format!("scgnn-evaluate-dropout-{}", std::process::id()));
    let p = dir.join("mask.csv");
    let cells = vec!["c,0".to_string(), "c1".to_string()];
    let genes = vec!["g0".to_string(), "g1".to_string()];
    m.write(&p, &cells, &genes).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let mut want = String::from("cell,gene,original\n");
    for e in &m.entries {
        let c = if e.cell == 0 { "\"c,0\"" } else { "c1" };
        want += &format!("{c},g{},{}\n", e.gene, e.original);
    }
    assert_eq!(text, want);
    assert!(m.write(&p, &cells[..1], &genes).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restricting_a_mask_keeps_and_renumbers_the_kept_entries() {
    let x = counts();
    let m = make_mask(&x, 0.5, 9).unwrap();
    let kept_rows: Vec<usize> = (0..x.rows).filter(|r| r % 2 == 0).collect();
    let kept_cols: Vec<usize> = (0..x.cols).filter(|c| c % 3 != 1).collect();
    let r = m.restrict(&kept_rows, &kept_cols);
    assert_eq!((r.rows, r.cols), (kept_rows.len(), kept_cols.len()));
    let expected: Vec<(u32, u32, f32)> = m
        .entries
        .iter()
        .filter_map(|e| {
            let row = kept_rows.iter().position(|&k| k == e.cell as usize)?;
            let col = kept_cols.iter().position(|&k| k == e.gene as usize)?;
            Some((row as u32, col as u32, e.original))
        })
        .collect();
    let got: Vec<(u32, u32, f32)> = r
        .entries
        .iter()
        .map(|e| (e.cell, e.gene, e.original))
        .collect();
    assert_eq!(got, expected);
    assert!(
        r.apply(&x).is_err(),
        "a restricted mask is for scoring only"
    );
}
