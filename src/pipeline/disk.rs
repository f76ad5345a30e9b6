//! The pre-flight disk check: a run whose outputs would not fit in the free
//! space of the output folder is refused before training, with both sizes and
//! what to change, instead of failing at the end of the run. A write that fails
//! anyway leaves the earlier complete files (every output goes to a temporary
//! name and is renamed when complete, `io::atomic`).

use super::params::RunParams;
use crate::error::{Error, Result};
use std::path::Path;

/// Upper estimate of the bytes the outputs take: the imputed matrix twice
/// (`_recon.csv` text of up to 11 bytes a value with its comma, `.h5ad` `X` in
/// f32), the counts layer (value and index), the embedding (text and f32), the
/// graph (`_graph.csv` lines and the `.h5ad` graph), and 64 MiB for the report,
/// the figures and the names.
pub fn estimate_output_bytes(n_cells: usize, n_genes: usize, nnz: usize, p: &RunParams) -> u64 {
    let (n, g, nnz) = (n_cells as u64, n_genes as u64, nnz as u64);
    let d = p.ae.latent as u64 + p.gae.hidden2 as u64;
    let k = p.graph.k as u64;
    let imputed = n * g * (11 + 4);
    let counts = nnz * 8;
    let embedding = n * d * (11 + 4);
    let graph = n * k * (24 + 2 * 8);
    imputed + counts + embedding + graph + (64 << 20)
}

/// Free bytes of the file system holding `dir` for an unprivileged writer, or
/// `None` where the system does not tell.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

/// Refuses a run whose outputs need more than `free` bytes; returns the estimate.
pub fn check_fits(dir: &Path, needed: u64, free: Option<u64>) -> Result<u64> {
    match free {
        Some(free) if needed > free => Err(Error::Resources(format!(
            "{}: the outputs (and the checkpoint, if kept) need about {} MB but the disk has \
             {} MB free; free some space, choose another --output-dir or --checkpoint-dir, \
             give --no-checkpoint, or keep fewer genes (--n-top-genes)",
            dir.display(),
            needed.div_ceil(1_000_000),
            free / 1_000_000
        ))),
        _ => Ok(needed),
    }
}

/// The check for a preprocessed data set of `n_cells` × `n_genes` with `nnz`
/// stored counts, written into `dir`.
pub fn check(
    dir: &Path,
    checkpoint_dir: Option<&Path>,
    n_cells: usize,
    n_genes: usize,
    nnz: usize,
    p: &RunParams,
) -> Result<u64> {
    let mut needed = estimate_output_bytes(n_cells, n_genes, nnz, p);
    if let Some(ck) = checkpoint_dir {
        let ck_bytes = estimate_checkpoint_bytes(n_cells, n_genes, p);
        if same_file_system(dir, ck) {
            needed += ck_bytes;
        } else {
            std::fs::create_dir_all(ck).map_err(|e| Error::io(ck, e))?;
            check_fits(ck, ck_bytes, free_bytes(ck))?;
        }
    }
    check_fits(dir, needed, free_bytes(dir))
}

/// Disk space of the checkpoint at its largest: the dense reconstruction, the
/// embedding, the graph and the models, twice while a new checkpoint replaces
/// the old one.
pub fn estimate_checkpoint_bytes(n_cells: usize, n_genes: usize, p: &RunParams) -> u64 {
    let (n, g) = (n_cells as u64, n_genes as u64);
    let d = (p.ae.latent + p.gae.hidden2) as u64;
    let k = p.graph.k as u64;
    let ae = |h: u64, l: u64| 4 * 3 * (2 * g * h + 2 * h * l + 2 * h + g + l);
    let models = 3 * ae(p.ae.hidden as u64, p.ae.latent as u64);
    2 * (4 * n * g + 4 * n * d + 12 * n * k + 16 * n + models)
}

/// Whether `a` and `b` (or the folders they will be made in) share a file system.
fn same_file_system(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| {
        p.ancestors()
            .find_map(|q| std::fs::metadata(q).ok())
            .map(|m| m.dev())
    };
    dev(a).is_some() && dev(a) == dev(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_does_not_fit_is_refused_with_both_sizes() {
        let dir = Path::new("/tmp/out");
        let e = check_fits(dir, 150_000_000, Some(20_000_000)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("150 MB") && msg.contains("20 MB free"),
            "{msg}"
        );
        assert!(matches!(e, Error::Resources(_)));
        assert_eq!(check_fits(dir, 10, Some(20)).unwrap(), 10);
        assert_eq!(check_fits(dir, 10, None).unwrap(), 10);
    }

    #[test]
    fn free_space_of_a_real_folder_is_known() {
        let free = free_bytes(&std::env::temp_dir()).expect("statvfs of the temp folder");
        assert!(free > 0);
        assert!(free_bytes(Path::new("/no/such/folder/anywhere")).is_none());
    }

    #[test]
    fn the_estimate_grows_with_the_matrix() {
        let p = RunParams::default();
        let small = estimate_output_bytes(100, 2000, 50_000, &p);
        let large = estimate_output_bytes(4186, 2000, 2_000_000, &p);
        assert!(large > small);
        // worm_neuron's outputs (4 186 × 2 000, dense imputed matrix) are about
        // 140 MB; the estimate must not be below them.
        assert!(large > 140_000_000, "{large}");
    }
}
