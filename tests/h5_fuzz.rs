//! Robustness of the HDF5 readers: random bytes and random mutations (bit
//! flips, overwrites, truncation) of valid files must give `Ok` or `Err`, never
//! a panic; and whatever is returned as `Ok` must be a well-formed matrix.

use proptest::prelude::*;
use scgnn::io::h5ad::read_h5ad;
use scgnn::io::tenx_h5::read_10x_h5;
use scgnn::ExprMatrix;
use std::path::{Path, PathBuf};

/// HDF5 superblock signature: random data behind it reaches the parser.
const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).unwrap()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-h5-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(tag)
}

/// The invariants every successfully read matrix must satisfy.
fn well_formed(m: &ExprMatrix) -> bool {
    let x = &m.x;
    x.indptr.len() == x.rows + 1
        && x.indptr[0] == 0
        && x.indptr.windows(2).all(|w| w[0] <= w[1])
        && x.indptr[x.rows] == x.data.len()
        && x.indices.len() == x.data.len()
        && (0..x.rows).all(|r| x.row(r).0.windows(2).all(|w| w[0] < w[1]))
        && x.indices.iter().all(|&c| (c as usize) < x.cols)
        && x.data.iter().all(|v| v.is_finite() && *v > 0.0)
        && m.cells.len() == x.rows
        && m.genes.len() == x.cols
}

/// Reads `bytes` with both readers; fails the property only on a malformed `Ok`
/// (a panic fails the test by itself).
fn read_both(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    for m in [read_h5ad(path), read_10x_h5(path)].into_iter().flatten() {
        prop_assert!(well_formed(&m), "malformed matrix from a corrupt file");
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Overwrite(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Positions are taken modulo the file length; half of them fall in the
    // first 4 KiB, where the superblock and root metadata live.
    let pos = prop_oneof![0usize..4096, any::<usize>()];
    prop_oneof![
        4 => (pos.clone(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        3 => (pos.clone(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, v)| Mutation::Overwrite(p, v)),
        1 => pos.prop_map(Mutation::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        match m {
            Mutation::Flip(p, bit) => b[p % n] ^= 1 << bit,
            Mutation::Overwrite(p, v) => {
                for (k, &x) in v.iter().enumerate() {
                    let i = (p + k) % n;
                    b[i] = x;
                }
            }
            Mutation::Truncate(p) => b.truncate(p % n),
        }
    }
    b
}

/// 64 cases per property keeps the test fast; `H5_FUZZ_CASES=N` runs a longer sweep.
fn cases() -> u32 {
    std::env::var("H5_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(
        signed in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = if signed { SIGNATURE.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&body);
        read_both(&scratch("random.h5"), &bytes)?;
    }

    #[test]
    fn mutated_h5ad_never_panics(
        which in 0usize..3,
        muts in proptest::collection::vec(mutation(), 1..8),
    ) {
        let name = ["dense_f32.h5ad", "csr_f64_gzip.h5ad", "csc_i64.h5ad"][which];
        read_both(&scratch("mut.h5ad"), &apply(fixture(name), &muts))?;
    }

    #[test]
    fn mutated_10x_never_panics(
        which in 0usize..2,
        muts in proptest::collection::vec(mutation(), 1..8),
    ) {
        let name = ["tenx_v3.h5", "tenx_v2.h5"][which];
        read_both(&scratch("mut.h5"), &apply(fixture(name), &muts))?;
    }
}
