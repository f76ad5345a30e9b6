//! Write → read round trips for `.h5ad` and 10X `.h5`, the full scGNN h5ad
//! output, and validation errors with positions.
//!
//! Set `SCGNN_H5AD_OUT=<path>` / `SCGNN_10X_OUT=<path>` to also keep the full
//! h5ad output and an integral 10X file, which tests/fixtures/check_h5ad.py
//! then opens with anndata and scanpy (the gzip variant is kept as
//! `<path>.gz.h5ad`).

use scgnn::io::columns::Column;
use scgnn::io::h5ad::{read_h5ad, write_h5ad, H5adOutput, XData};
use scgnn::io::tenx_h5::{read_10x_h5, write_10x_h5};
use scgnn::matrix::{Csr, Dense, ExprMatrix};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-h5-rt-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A deterministic sparse matrix with some empty rows and columns, float values.
fn sample(cells: usize, genes: usize, integral: bool) -> ExprMatrix {
    let mut t = Vec::new();
    for i in 0..cells {
        for j in 0..genes {
            let h = (i * 31 + j * 17 + i * j) % 11;
            if h < 3 && i % 5 != 4 && j % 7 != 6 {
                let v = if integral {
                    (h + 1) as f32 * 3.0
                } else {
                    (h as f32 + 0.1) * 1.7 + i as f32 * 1e-3
                };
                t.push((i as u32, j as u32, v));
            }
        }
    }
    ExprMatrix {
        x: Csr::from_triplets(cells, genes, t),
        genes: (0..genes).map(|j| format!("Gene-{j}")).collect(),
        cells: (0..cells).map(|i| format!("cell_{i}_\u{3b1}")).collect(),
    }
}

#[test]
fn h5ad_csr_round_trip_exact() {
    for gzip in [None, Some(4)] {
        let m = sample(37, 23, false);
        let p = tmp(&format!("rt-{gzip:?}.h5ad"));
        let mut out = H5adOutput::new(XData::Csr(&m.x), &m.cells, &m.genes);
        out.gzip = gzip;
        write_h5ad(&p, out.clone()).unwrap();
        assert_eq!(read_h5ad(&p).unwrap(), m);
    }
}

#[test]
fn h5ad_owned_dense_writes_the_same_file() {
    let m = sample(40, 17, false);
    let d = m.x.to_dense();
    let (a, b) = (tmp("borrowed.h5ad"), tmp("owned.h5ad"));
    write_h5ad(&a, H5adOutput::new(XData::Dense(&d), &m.cells, &m.genes)).unwrap();
    write_h5ad(
        &b,
        H5adOutput::new(XData::DenseOwned(d.clone()), &m.cells, &m.genes),
    )
    .unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn h5ad_dense_round_trip_exact() {
    let m = sample(12, 9, false);
    let d = m.x.to_dense();
    let p = tmp("dense.h5ad");
    write_h5ad(&p, H5adOutput::new(XData::Dense(&d), &m.cells, &m.genes)).unwrap();
    assert_eq!(read_h5ad(&p).unwrap(), m);
}

#[test]
fn h5ad_empty_matrix_round_trip() {
    let m = ExprMatrix {
        x: Csr::zeros(3, 2),
        genes: vec!["a".into(), "b".into()],
        cells: vec!["x".into(), "y".into(), "z".into()],
    };
    let p = tmp("empty.h5ad");
    write_h5ad(&p, H5adOutput::new(XData::Csr(&m.x), &m.cells, &m.genes)).unwrap();
    assert_eq!(read_h5ad(&p).unwrap(), m);
}

#[test]
fn tenx_round_trip_exact_integral_and_float() {
    for integral in [true, false] {
        let mut m = sample(41, 19, integral);
        if integral {
            // Cell Ranger barcodes are ASCII (scanpy decodes them as ASCII); the
            // float case keeps non-ASCII ids, stored as fixed-width UTF-8.
            m.cells = (0..41).map(|i| format!("AAAC{i:04}-1")).collect();
        }
        let p = tmp(&format!("rt-{integral}.h5"));
        write_10x_h5(&p, &m).unwrap();
        assert_eq!(read_10x_h5(&p).unwrap(), m);
        if integral {
            if let Ok(keep) = std::env::var("SCGNN_10X_OUT") {
                std::fs::copy(&p, keep).unwrap();
            }
        }
    }
}

#[test]
fn full_scgnn_output_writes_and_reads_back_x() {
    let m = sample(30, 8, true);
    let imputed = {
        let mut d = m.x.to_dense();
        d.data.iter_mut().for_each(|v| *v = (*v + 1.0).ln());
        d
    };
    let labels: Vec<usize> = (0..30).map(|i| [0, 2, 5][i % 3]).collect();
    let truth = Column::Str((0..30).map(|i| format!("type{}", i % 3)).collect());
    let emb = Dense::from_vec(30, 3, (0..90).map(|v| v as f32 * 0.25).collect());
    let graph = Csr::from_triplets(30, 30, (0..30u32).map(|i| (i, (i + 1) % 30, 0.5)).collect());
    let norm = Csr::from_dense(&imputed);
    let mut out = H5adOutput::new(XData::Dense(&imputed), &m.cells, &m.genes);
    out.counts_layer = Some(&m.x);
    out.extra_layers = vec![("lognorm", &norm)];
    out.obs_cluster = Some(&labels);
    out.obs_columns = vec![("truth", &truth)];
    out.obsm = vec![("X_scgnn", &emb)];
    out.obsp = vec![("scgnn_graph", &graph)];
    out.uns_json = Some(r#"{"k":10,"seed":1}"#.to_string());
    for gzip in [None, Some(6)] {
        out.gzip = gzip;
        let p = tmp(&format!("full-{gzip:?}.h5ad"));
        write_h5ad(&p, out.clone()).unwrap();
        let back = read_h5ad(&p).unwrap();
        assert_eq!(back.x, Csr::from_dense(&imputed));
        assert_eq!(back.cells, m.cells);
        if let Ok(keep) = std::env::var("SCGNN_H5AD_OUT") {
            // The gzip variant goes next to it as <path>.gz.h5ad.
            let keep = if gzip.is_some() {
                format!("{keep}.gz.h5ad")
            } else {
                keep
            };
            std::fs::copy(&p, keep).unwrap();
        }
    }
    // Wrong shapes are refused before anything is written.
    let bad = vec![1usize; 29];
    out.obs_cluster = Some(&bad);
    let p2 = tmp("never.h5ad");
    assert!(write_h5ad(&p2, out).is_err());
    assert!(!p2.exists());
}

#[test]
fn invalid_values_are_input_errors_with_positions() {
    let mut m = sample(6, 5, false);
    m.x.data[3] = -1.0;
    let p = tmp("neg.h5ad");
    write_h5ad(&p, H5adOutput::new(XData::Csr(&m.x), &m.cells, &m.genes)).unwrap();
    let e = read_h5ad(&p).unwrap_err().to_string();
    assert!(
        e.contains("X/data[3]") && e.contains("negative value -1"),
        "{e}"
    );

    m.x.data[3] = f32::NAN;
    let d = m.x.to_dense();
    let p = tmp("nan.h5ad");
    write_h5ad(&p, H5adOutput::new(XData::Dense(&d), &m.cells, &m.genes)).unwrap();
    let e = read_h5ad(&p).unwrap_err().to_string();
    assert!(e.contains("X[") && e.contains("not finite"), "{e}");

    m.x.data[3] = f32::INFINITY;
    let p = tmp("inf.h5");
    write_10x_h5(&p, &m).unwrap();
    let e = read_10x_h5(&p).unwrap_err().to_string();
    assert!(
        e.contains("matrix/data[3]") && e.contains("not finite"),
        "{e}"
    );
}

#[test]
fn names_must_match_the_matrix() {
    let m = sample(6, 5, false);
    let short = &m.cells[..5];
    let e = write_h5ad(
        &tmp("x.h5ad"),
        H5adOutput::new(XData::Csr(&m.x), short, &m.genes),
    );
    assert!(matches!(e, Err(scgnn::Error::Usage(_))));
    let mut bad = m.clone();
    bad.genes.pop();
    assert!(write_10x_h5(&tmp("x.h5"), &bad).is_err());
}

/// Timing at scale (run once by hand, not in CI):
/// `cargo test --release --test h5_roundtrip large_files_timing -- --ignored --nocapture`
#[test]
#[ignore]
fn large_files_timing() {
    use std::time::Instant;
    let (cells, genes) = (100_000usize, 2_000usize);
    // ~10 % density, integral counts, deterministic.
    let mut indptr = vec![0usize];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for i in 0..cells {
        for j in (i % 10..genes).step_by(10) {
            indices.push(j as u32);
            data.push(((i * 7 + j) % 13 + 1) as f32);
        }
        indptr.push(indices.len());
    }
    let m = ExprMatrix {
        x: Csr {
            rows: cells,
            cols: genes,
            indptr,
            indices,
            data,
        },
        genes: (0..genes).map(|j| format!("Gene{j}")).collect(),
        cells: (0..cells).map(|i| format!("AAAC{i:08}-1")).collect(),
    };
    println!("{cells} cells x {genes} genes, nnz {}", m.x.nnz());
    for gzip in [None, Some(4)] {
        let p = tmp(&format!("large-{gzip:?}.h5ad"));
        let mut out = H5adOutput::new(XData::Csr(&m.x), &m.cells, &m.genes);
        out.gzip = gzip;
        let t = Instant::now();
        write_h5ad(&p, out.clone()).unwrap();
        let w = t.elapsed();
        let t = Instant::now();
        let back = read_h5ad(&p).unwrap();
        let r = t.elapsed();
        assert_eq!(back.x.nnz(), m.x.nnz());
        let size = std::fs::metadata(&p).unwrap().len();
        println!("h5ad gzip {gzip:?}: write {w:.2?}, read {r:.2?}, {size} bytes");
        std::fs::remove_file(&p).unwrap();
    }
    let p = tmp("large.h5");
    let t = Instant::now();
    write_10x_h5(&p, &m).unwrap();
    let w = t.elapsed();
    let t = Instant::now();
    let back = read_10x_h5(&p).unwrap();
    let r = t.elapsed();
    assert_eq!(back, m);
    let size = std::fs::metadata(&p).unwrap().len();
    println!("10X h5 (gzip 4, int32): write {w:.2?}, read {r:.2?}, {size} bytes");
    std::fs::remove_file(&p).unwrap();
}
