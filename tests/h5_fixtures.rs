//! The HDF5 readers against files written by Python (anndata 0.12.19 / h5py
//! 3.16.0, see tests/fixtures/make_fixtures.py): every value and name must come
//! back exactly.

use scgnn::io::h5ad::read_h5ad;
use scgnn::io::tenx_h5::read_10x_h5;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `BASE` of make_fixtures.py (6 cells × 5 genes), as printed by the script.
const BASE: [[f32; 5]; 6] = [
    [0., 4., 7., 0., 6.],
    [6., 0., 5., 1., 0.],
    [4., 7., 0., 6., 2.],
    [0., 5., 1., 0., 7.],
    [7., 0., 6., 2., 0.],
    [5., 1., 0., 7., 3.],
];

fn cells() -> Vec<String> {
    [
        "cell_0",
        "cell_1",
        "cell_2",
        "zelle_\u{e9}_3",
        "cell_4",
        "cell_5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn genes() -> Vec<String> {
    ["Actb", "Gapdh", "Cd3e", "Ms4a1", "Lyz2"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn barcodes() -> Vec<String> {
    (0..6).map(|i| format!("AAACCTGAG{i}AT-1")).collect()
}

fn assert_matrix(m: &scgnn::ExprMatrix, scale: f32) {
    assert_eq!((m.n_cells(), m.n_genes()), (6, 5));
    let d = m.x.to_dense();
    for (i, row) in BASE.iter().enumerate() {
        let want: Vec<f32> = row.iter().map(|v| v * scale).collect();
        assert_eq!(d.row(i), want.as_slice(), "row {i}");
    }
    // Zeros are not stored.
    assert_eq!(m.x.nnz(), 20);
}

#[test]
fn h5ad_dense_f32() {
    let m = read_h5ad(&fixture("dense_f32.h5ad")).unwrap();
    assert_matrix(&m, 0.5);
    assert_eq!(m.cells, cells());
    assert_eq!(m.genes, genes());
}

#[test]
fn h5ad_csr_f64_gzip_named_index() {
    let m = read_h5ad(&fixture("csr_f64_gzip.h5ad")).unwrap();
    assert_matrix(&m, 0.25);
    assert_eq!(m.cells, cells());
    assert_eq!(m.genes, genes());
}

#[test]
fn h5ad_csc_i64() {
    let m = read_h5ad(&fixture("csc_i64.h5ad")).unwrap();
    assert_matrix(&m, 1.0);
    assert_eq!(m.cells, cells());
    assert_eq!(m.genes, genes());
}

#[test]
fn tenx_v3_filters_features_and_dedups_names() {
    let m = read_10x_h5(&fixture("tenx_v3.h5")).unwrap();
    assert_matrix(&m, 1.0);
    assert_eq!(m.cells, barcodes());
    // Antibody feature dropped; "Dup","Dup","Dup-1" → "Dup","Dup-2","Dup-1" as
    // anndata.utils.make_index_unique gives (checked in Python).
    assert_eq!(m.genes, ["Actb", "Dup", "Dup-2", "Dup-1", "Lyz2"]);
}

#[test]
fn tenx_v2_genome_group() {
    let m = read_10x_h5(&fixture("tenx_v2.h5")).unwrap();
    assert_matrix(&m, 1.0);
    assert_eq!(m.cells, barcodes());
    assert_eq!(m.genes, genes());
}

#[test]
fn wrong_reader_gives_input_errors() {
    let e = read_10x_h5(&fixture("dense_f32.h5ad")).unwrap_err();
    assert!(matches!(e, scgnn::Error::Input { .. }), "{e}");
    let e = read_h5ad(&fixture("tenx_v3.h5")).unwrap_err();
    assert!(e.to_string().contains("dataset /X"), "{e}");
    let e = read_h5ad(&fixture("make_fixtures.py")).unwrap_err();
    assert!(e.to_string().contains("not an HDF5 file"), "{e}");
    let e = read_h5ad(&fixture("does_not_exist.h5ad")).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[test]
fn truncated_files_are_input_errors() {
    let dir = std::env::temp_dir().join(format!("scgnn-h5-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["csr_f64_gzip.h5ad", "dense_f32.h5ad", "tenx_v3.h5"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for frac in [0.05, 0.3, 0.6, 0.9, 0.99] {
            let p = dir.join(format!("{frac}-{name}"));
            std::fs::write(&p, &bytes[..(bytes.len() as f64 * frac) as usize]).unwrap();
            let r = if name.ends_with(".h5ad") {
                read_h5ad(&p)
            } else {
                read_10x_h5(&p)
            };
            match r {
                Err(scgnn::Error::Input { path, .. }) => assert_eq!(path, p),
                other => panic!("{name} cut to {frac}: expected an input error, got {other:?}"),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn h5ad_layers_and_raw_hold_the_counts() {
    use scgnn::io::h5ad::{read_h5ad_matrix, H5adMatrix};
    // X = BASE / 2, layers["counts"] = BASE.
    let m = read_h5ad_matrix(
        &fixture("dense_f32.h5ad"),
        &H5adMatrix::Layer("counts".into()),
    )
    .unwrap();
    assert_matrix(&m, 1.0);
    assert_eq!(m.genes, genes());
    // X scaled (negative): refused, naming the layer and .raw to use instead.
    let e = read_h5ad(&fixture("scaled_raw.h5ad"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--layer counts") && e.contains("--use-raw"),
        "{e}"
    );
    let m = read_h5ad_matrix(
        &fixture("scaled_raw.h5ad"),
        &H5adMatrix::Layer("counts".into()),
    )
    .unwrap();
    assert_matrix(&m, 1.0);
    // .raw keeps one more gene than X, with raw.var's names.
    let m = read_h5ad_matrix(&fixture("scaled_raw.h5ad"), &H5adMatrix::Raw).unwrap();
    let mut want = genes();
    want.push("Extra".to_string());
    assert_eq!(m.genes, want);
    assert_eq!(m.x.to_dense().get(2, 5), 1.0);
    let e = read_h5ad_matrix(
        &fixture("scaled_raw.h5ad"),
        &H5adMatrix::Layer("spliced".into()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no layer 'spliced'") && e.contains("counts"),
        "{e}"
    );
    let e = read_h5ad_matrix(&fixture("dense_f32.h5ad"), &H5adMatrix::Raw).unwrap_err();
    assert!(e.to_string().contains("no .raw"), "{e}");
}

#[test]
fn tenx_multi_genome_files_need_a_genome() {
    use scgnn::io::tenx_h5::read_10x_h5_genome;
    for f in ["tenx_v3_two_genomes.h5", "tenx_v2_two_genomes.h5"] {
        let e = read_10x_h5(&fixture(f)).unwrap_err().to_string();
        assert!(
            e.contains("GRCh38, mm10") && e.contains("--genome"),
            "{f}: {e}"
        );
        let m = read_10x_h5_genome(&fixture(f), Some("mm10")).unwrap();
        assert_matrix(&m, 1.0);
        assert_eq!(m.genes, genes(), "{f}");
        let h = read_10x_h5_genome(&fixture(f), Some("GRCh38")).unwrap();
        assert_eq!(h.genes, ["HUMAN1", "HUMAN2", "HUMAN3"], "{f}");
        assert_eq!(h.x.to_dense().get(1, 0), 4.0, "{f}");
        let e = read_10x_h5_genome(&fixture(f), Some("hg19"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no genome 'hg19'") && e.contains("GRCh38, mm10"),
            "{f}: {e}"
        );
    }
}
