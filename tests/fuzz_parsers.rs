//! Property tests: random bytes and random mutations of valid files never make a
//! parser panic; it returns a matrix or an error.

use proptest::prelude::*;
use scgnn::io::{read_matrix, ReadOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn scratch(ext: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("scgnn-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("case{n}.{ext}"))
}

const VALID_CSV: &str = "gene,c1,c2,c3\ng1,1,0,2.5\ng2,0,0,3\ng3,7,1,0\n";
const VALID_MTX: &str =
    "%%MatrixMarket matrix coordinate integer general\n%c\n3 2 3\n1 1 5\n2 2 1\n3 1 2\n";

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Applies (position, byte) overwrites and an optional truncation.
fn mutate(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(p, b) in edits {
        if !v.is_empty() {
            let i = p % v.len();
            v[i] = b;
        }
    }
    if let Some(c) = cut {
        v.truncate(c % (v.len() + 1));
    }
    v
}

fn read_text(bytes: &[u8], ext: &str, cells_as_rows: bool) {
    let p = scratch(ext);
    std::fs::write(&p, bytes).unwrap();
    let _ = read_matrix(
        &p,
        &ReadOptions {
            cells_as_rows,
            ..Default::default()
        },
    );
    let _ = std::fs::remove_file(&p);
}

fn read_mtx_folder(mtx: &[u8]) {
    let p = scratch("d");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("matrix.mtx"), mtx).unwrap();
    std::fs::write(
        p.join("features.tsv"),
        "a\tA\tGene Expression\nb\tB\tGene Expression\nc\tC\tGene Expression\n",
    )
    .unwrap();
    std::fs::write(p.join("barcodes.tsv"), "x\ny\n").unwrap();
    let _ = read_matrix(&p, &ReadOptions::default());
    let _ = std::fs::remove_dir_all(&p);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), rows in any::<bool>()) {
        read_text(&bytes, "csv", rows);
        read_text(&bytes, "tsv", rows);
        read_text(&gz(&bytes), "csv.gz", rows);
        read_mtx_folder(&bytes);
    }

    #[test]
    fn mutated_csv_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in proptest::option::of(any::<usize>()), rows in any::<bool>()) {
        read_text(&mutate(VALID_CSV.as_bytes(), &edits, cut), "csv", rows);
        // Mutating the compressed bytes exercises corrupt and truncated gzip streams.
        read_text(&mutate(&gz(VALID_CSV.as_bytes()), &edits, cut), "csv.gz", rows);
    }

    #[test]
    fn mutated_mtx_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in proptest::option::of(any::<usize>())) {
        read_mtx_folder(&mutate(VALID_MTX.as_bytes(), &edits, cut));
    }
}

#[test]
fn the_unmutated_inputs_are_valid() {
    let p = scratch("csv");
    std::fs::write(&p, VALID_CSV).unwrap();
    assert_eq!(
        read_matrix(&p, &ReadOptions::default()).unwrap().n_cells(),
        3
    );
    let d = scratch("d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("matrix.mtx"), VALID_MTX).unwrap();
    std::fs::write(d.join("features.tsv"), "a\tA\nb\tB\nc\tC\n").unwrap();
    std::fs::write(d.join("barcodes.tsv"), "x\ny\n").unwrap();
    let m = read_matrix(&d, &ReadOptions::default()).unwrap();
    assert_eq!((m.n_cells(), m.n_genes()), (2, 3));
    assert_eq!(m.genes, vec!["A", "B", "C"]);
}
