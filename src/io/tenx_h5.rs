//! 10X Genomics Cell Ranger `.h5` feature-barcode matrices, without libhdf5.
//!
//! Cell Ranger ≥ 3 stores one `matrix/` group: `data`, `indices`, `indptr`,
//! `shape` = (genes, cells), `barcodes` and `features/{id,name,feature_type,…}`.
//! Cell Ranger 2 stores one group per genome with `genes` (ids) and
//! `gene_names`. Both hold the genes × cells matrix in CSC form, which is the
//! cells × genes matrix in CSR form: no transpose is needed.

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::io::h5util::{
    compress_1d, compressed_from_parts, group, make_unique, write_err, write_sparse_parts,
    H5Reader, Kind, SparseData,
};
use crate::matrix::ExprMatrix;
use hdf5_pure::{DatasetBuilder, FileBuilder, GroupBuilder};
use std::path::Path;

const EXPECTED: &str = "a 10X Cell Ranger .h5 matrix (filtered_feature_bc_matrix.h5)";

/// The feature type kept when a file holds several (as scanpy's `gex_only`).
const GENE_EXPRESSION: &str = "Gene Expression";

/// Reads a Cell Ranger v3+ (or v2) `.h5` matrix as cells × genes.
///
/// Genes are named by `features/name`; when a file mixes feature types only the
/// "Gene Expression" features are kept (as `scanpy.read_10x_h5` does by default),
/// and duplicate names are made unique as scanpy's `var_names_make_unique` does
/// ("-1", "-2", …), with a warning. Values must be finite and ≥ 0.
pub fn read_10x_h5(path: &Path) -> Result<ExprMatrix> {
    read_10x_h5_genome(path, None)
}

/// Cells, features and non-zeros of a Cell Ranger ≥ 3 file from its metadata
/// (`None` for the older per-genome layout).
pub fn peek_10x_h5(path: &Path) -> Result<Option<(usize, usize, usize)>> {
    let r = H5Reader::open(path, EXPECTED)?;
    if r.kind("matrix") != Some(Kind::Group) {
        return Ok(None);
    }
    let shape = r.read_i64("matrix/shape")?;
    let nnz = r.shape("matrix/data")?.first().copied().unwrap_or(0) as usize;
    match shape.as_slice() {
        [g, n] if *g >= 0 && *n >= 0 => Ok(Some((*n as usize, *g as usize, nnz))),
        _ => Ok(None),
    }
}

/// [`read_10x_h5`] keeping the features of one genome of a multi-genome file
/// (Cell Ranger 2: one group per genome; Cell Ranger ≥ 3: `features/genome`).
pub fn read_10x_h5_genome(path: &Path, genome: Option<&str>) -> Result<ExprMatrix> {
    let r = H5Reader::open(path, EXPECTED)?;
    let (base, names_ds, ids_ds) = if r.kind("matrix") == Some(Kind::Group) {
        (
            "matrix".to_string(),
            "matrix/features/name",
            "matrix/features/id",
        )
    } else {
        let groups = r.subgroups("/")?;
        match (groups.as_slice(), genome) {
            ([], _) => return Err(r.err("group /matrix", format!("missing; not {EXPECTED}"))),
            (_, Some(g)) if groups.iter().any(|x| x == g) => (g.to_string(), "gene_names", "genes"),
            (_, Some(g)) => {
                return Err(r.err(
                    "/",
                    format!(
                        "no genome '{g}' in this file; its genomes: {}",
                        groups.join(", ")
                    ),
                ))
            }
            ([g], None) => (g.clone(), "gene_names", "genes"),
            (many, None) => {
                return Err(r.err(
                    "/",
                    format!(
                        "several genomes in this file ({}); pick one with --genome NAME",
                        many.join(", ")
                    ),
                ))
            }
        }
    };
    let at = |d: &str| format!("{base}/{d}");
    // v2 names live next to the matrix; v3 names in matrix/features.
    let (names_path, ids_path) = if base == "matrix" {
        (names_ds.to_string(), ids_ds.to_string())
    } else {
        (at(names_ds), at(ids_ds))
    };

    let shape = r.read_i64(&at("shape"))?;
    if shape.len() != 2 || shape.iter().any(|&d| d < 0 || d > u32::MAX as i64) {
        return Err(r.err(
            format!("dataset /{}", at("shape")),
            format!("is {shape:?}; expected 2 non-negative sizes (genes, cells)"),
        ));
    }
    let (n_genes, n_cells) = (shape[0] as usize, shape[1] as usize);
    let cells = r.read_strings(&at("barcodes"))?;
    if cells.len() != n_cells {
        return Err(r.err(
            format!("dataset /{}", at("barcodes")),
            format!(
                "has {} barcodes but the shape says {n_cells} cells",
                cells.len()
            ),
        ));
    }
    let name_src = if r.kind(&names_path) == Some(Kind::Dataset) {
        names_path
    } else {
        ids_path
    };
    let mut genes = r.read_strings(&name_src)?;
    if genes.len() != n_genes {
        return Err(r.err(
            format!("dataset /{name_src}"),
            format!(
                "has {} names but the shape says {n_genes} genes",
                genes.len()
            ),
        ));
    }
    let indptr = r.read_i64(&at("indptr"))?;
    let indices = r.read_indices(&at("indices"), n_genes)?;
    let data = r.read_f32(&at("data"))?;
    let x = compressed_from_parts(path, &base, (n_cells, n_genes), indptr, indices, data)?;
    let mut m = ExprMatrix {
        x,
        genes: Vec::new(),
        cells,
    };

    if base == "matrix" {
        m = keep_genome(&r, path, m, &mut genes, genome)?;
    }
    let ft_path = "matrix/features/feature_type";
    if base == "matrix" && r.kind(ft_path) == Some(Kind::Dataset) {
        r.expect_len(ft_path, n_genes, "one feature type per feature")?;
        let types = r.read_strings(ft_path)?;
        let keep: Vec<usize> = (0..n_genes)
            .filter(|&j| types[j] == GENE_EXPRESSION)
            .collect();
        if !keep.is_empty() && keep.len() < n_genes {
            tracing::warn!(
                "{}: keeping the {} '{GENE_EXPRESSION}' features and dropping {} others \
                 (e.g. antibody capture)",
                path.display(),
                keep.len(),
                n_genes - keep.len()
            );
            m.genes = genes;
            m = m.select_genes(&keep);
            genes = std::mem::take(&mut m.genes);
        }
    }
    let changed = make_unique(&mut genes);
    if changed > 0 {
        tracing::warn!(
            "{}: {changed} duplicate gene names were made unique with '-1', '-2', … suffixes \
             (as scanpy's var_names_make_unique)",
            path.display()
        );
    }
    m.genes = genes;
    Ok(m)
}

/// Keeps the features of `genome` in a Cell Ranger ≥ 3 file whose
/// `features/genome` names several genomes; refuses such a file without a
/// genome, naming the genomes found.
fn keep_genome(
    r: &H5Reader,
    path: &Path,
    m: ExprMatrix,
    genes: &mut Vec<String>,
    genome: Option<&str>,
) -> Result<ExprMatrix> {
    let g_path = "matrix/features/genome";
    if r.kind(g_path) != Some(Kind::Dataset) {
        return match genome {
            Some(g) => Err(r.err(
                format!("/{g_path}"),
                format!("missing; cannot pick genome '{g}'"),
            )),
            None => Ok(m),
        };
    }
    r.expect_len(g_path, genes.len(), "one genome per feature")?;
    let per_feature = r.read_strings(g_path)?;
    let mut found: Vec<&str> = per_feature.iter().map(String::as_str).collect();
    found.sort_unstable();
    found.dedup();
    let want = match (genome, found.as_slice()) {
        (Some(g), _) if found.contains(&g) => g,
        (Some(g), _) => {
            return Err(r.err(
                format!("/{g_path}"),
                format!(
                    "no genome '{g}' in this file; its genomes: {}",
                    found.join(", ")
                ),
            ))
        }
        (None, [_]) | (None, []) => return Ok(m),
        (None, many) => {
            return Err(r.err(
                format!("/{g_path}"),
                format!(
                    "several genomes in this file ({}); pick one with --genome NAME",
                    many.join(", ")
                ),
            ))
        }
    };
    let keep: Vec<usize> = (0..genes.len())
        .filter(|&j| per_feature[j] == want)
        .collect();
    tracing::info!(
        "{}: keeping the {} features of genome {want}",
        path.display(),
        keep.len()
    );
    let mut m = m;
    m.genes = std::mem::take(genes);
    let mut m = m.select_genes(&keep);
    *genes = std::mem::take(&mut m.genes);
    Ok(m)
}

/// Writes `m` as a Cell Ranger v3 `.h5` (gzip-compressed like Cell Ranger's),
/// atomically. Values are stored as int32 when all are integers (counts), as
/// float32 otherwise; gene names double as feature ids.
pub fn write_10x_h5(path: &Path, m: &ExprMatrix) -> Result<()> {
    if m.genes.len() != m.n_genes() || m.cells.len() != m.n_cells() {
        return Err(Error::Usage(format!(
            "10X output: {} gene names and {} cell ids for a {}×{} matrix",
            m.genes.len(),
            m.cells.len(),
            m.n_cells(),
            m.n_genes()
        )));
    }
    write_atomic(path, |tmp| {
        let fb = build(m).map_err(|e| write_err(tmp, e))?;
        fb.write(tmp).map_err(|e| write_err(tmp, e))
    })
}

/// Gzip level used for 10X output (Cell Ranger also compresses).
const GZIP: Option<u32> = Some(4);

/// Assembles the file.
fn build(m: &ExprMatrix) -> std::result::Result<FileBuilder, hdf5_pure::Error> {
    let mut fb = FileBuilder::new();
    let mut g = group("matrix");
    strings(g.create_dataset("barcodes"), &m.cells)?;
    write_sparse_parts(&mut g, &m.x, SparseData::for_values(&m.x.data), GZIP);
    g.create_dataset("shape")
        .with_i32_data(&[m.n_genes() as i32, m.n_cells() as i32]);
    let mut f: GroupBuilder = group("features");
    strings(f.create_dataset("id"), &m.genes)?;
    strings(f.create_dataset("name"), &m.genes)?;
    let n = m.n_genes();
    strings(
        f.create_dataset("feature_type"),
        &vec![GENE_EXPRESSION.to_string(); n],
    )?;
    strings(f.create_dataset("genome"), &vec![String::new(); n])?;
    strings(f.create_dataset("_all_tag_keys"), &["genome".to_string()])?;
    g.add_group(f.finish());
    fb.add_group(g.finish());
    Ok(fb)
}

/// Fixed-width strings, as Cell Ranger writes them (ASCII when possible).
fn strings(d: &mut DatasetBuilder, v: &[String]) -> std::result::Result<(), hdf5_pure::Error> {
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    if refs.iter().all(|s| s.is_ascii()) {
        d.with_ascii_strings(&refs)?;
    } else {
        d.with_strings(&refs)?;
    }
    compress_1d(d, v.len(), GZIP);
    Ok(())
}
