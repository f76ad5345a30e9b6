//! Readers and writers for every supported format. The reader is chosen from the
//! path (folder → 10X mtx, `.h5ad`, `.h5`, `.tsv`/`.txt`, otherwise CSV) unless a
//! format is given explicitly.

pub mod atomic;
pub mod columns;
pub mod csv;
pub mod h5ad;
pub mod h5util;
pub mod mtx;
pub mod outputs;
pub mod tenx_h5;

use crate::error::{Error, Result};
use crate::matrix::{Csr, ExprMatrix};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated text, optionally gzipped.
    Csv,
    /// Tab-separated text, optionally gzipped.
    Tsv,
    /// 10X Matrix Market folder.
    #[value(name = "10x-mtx", alias = "mtx", alias = "10x")]
    TenxMtx,
    /// 10X HDF5 (Cell Ranger v3 `matrix/` group).
    #[value(name = "10x-h5", alias = "h5")]
    TenxH5,
    /// AnnData HDF5.
    H5ad,
}

crate::choice::value_enum_str!(Format, "format");

impl Format {
    /// Guesses the format from the path.
    pub fn detect(path: &Path) -> Format {
        if path.is_dir() {
            return Format::TenxMtx;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".h5ad") {
            Format::H5ad
        } else if name.ends_with(".h5") || name.ends_with(".hdf5") {
            Format::TenxH5
        } else if name.ends_with(".tsv") || name.ends_with(".tab") || name.ends_with(".txt") {
            Format::Tsv
        } else if name.ends_with(".mtx") {
            Format::TenxMtx
        } else {
            Format::Csv
        }
    }
}

/// How to read an input matrix.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Force a format instead of guessing it from the path.
    pub format: Option<Format>,
    /// Text input has cells in rows (scGNN's `--transpose`); default genes in rows.
    pub cells_as_rows: bool,
    /// Refuse text input whose names look transposed.
    pub layout_check: bool,
    /// Which matrix of an `.h5ad` file to read (`X`, a layer, or `.raw`).
    pub h5ad_matrix: h5ad::H5adMatrix,
    /// The genome to keep from a multi-genome 10X `.h5` file.
    pub genome: Option<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            cells_as_rows: false,
            layout_check: true,
            h5ad_matrix: h5ad::H5adMatrix::X,
            genome: None,
        }
    }
}

/// Reads an expression matrix (cells × genes) in any supported format.
pub fn read_matrix(path: &Path, opts: &ReadOptions) -> Result<ExprMatrix> {
    if !path.exists() {
        return Err(Error::input(
            path,
            None,
            "no such file or folder; check the path",
        ));
    }
    let format = opts.format.unwrap_or_else(|| Format::detect(path));
    let m = match format {
        Format::Csv => csv::read_delimited(path, opts, None)?,
        Format::Tsv => csv::read_delimited(path, opts, Some(b'\t'))?,
        Format::TenxMtx => {
            let dir = if path.is_dir() {
                path
            } else {
                path.parent().unwrap_or(Path::new("."))
            };
            mtx::read_10x_mtx(dir)?
        }
        Format::H5ad => h5ad::read_h5ad_matrix(path, &opts.h5ad_matrix)?,
        Format::TenxH5 => tenx_h5::read_10x_h5_genome(path, opts.genome.as_deref())?,
    };
    if m.n_cells() == 0 || m.n_genes() == 0 {
        return Err(Error::input(
            path,
            None,
            format!(
                "the matrix is empty ({} cells × {} genes)",
                m.n_cells(),
                m.n_genes()
            ),
        ));
    }
    tracing::info!(
        "read {}: {} cells × {} genes, {} non-zeros",
        path.display(),
        m.n_cells(),
        m.n_genes(),
        m.x.nnz()
    );
    Ok(m)
}

/// Cells, genes and non-zeros of an input from its header or metadata alone,
/// for the formats that state them (10X mtx, 10X h5, h5ad); `None` for text,
/// whose size is known only once read.
pub fn peek_shape(path: &Path, opts: &ReadOptions) -> Result<Option<(usize, usize, usize)>> {
    if !path.exists() {
        return Ok(None);
    }
    Ok(match opts.format.unwrap_or_else(|| Format::detect(path)) {
        Format::TenxMtx => {
            let dir = if path.is_dir() {
                path
            } else {
                path.parent().unwrap_or(Path::new("."))
            };
            let (genes, cells, nnz) = mtx::peek_10x_mtx(dir)?;
            Some((cells, genes, nnz))
        }
        Format::H5ad => Some(h5ad::peek_h5ad(path, &opts.h5ad_matrix)?),
        Format::TenxH5 => tenx_h5::peek_10x_h5(path)?,
        Format::Csv | Format::Tsv => None,
    })
}

/// Guesses the output format from a path: known extensions as for reading, and a
/// path without extension is a 10X mtx folder.
pub fn output_format(path: &Path) -> Format {
    let has_ext = path.extension().is_some();
    if !has_ext || path.is_dir() {
        Format::TenxMtx
    } else {
        Format::detect(path)
    }
}

/// Writes an expression matrix (cells × genes) in `format` (guessed from the path if
/// `None`). Text formats are genes × cells like the inputs scGNN takes.
pub fn write_matrix(path: &Path, m: &ExprMatrix, format: Option<Format>) -> Result<()> {
    match format.unwrap_or_else(|| output_format(path)) {
        Format::Csv => outputs::write_matrix_csv(path, m),
        Format::Tsv => Err(Error::Usage(
            "TSV output is not supported; write .csv or .csv.gz".into(),
        )),
        Format::TenxMtx => mtx::write_10x_mtx(path, m),
        Format::TenxH5 => tenx_h5::write_10x_h5(path, m),
        Format::H5ad => h5ad::write_h5ad(
            path,
            h5ad::H5adOutput::new(h5ad::XData::Csr(&m.x), &m.cells, &m.genes),
        ),
    }
}

/// Opens a file for buffered reading, decompressing it if it starts with the gzip
/// magic bytes (whatever its extension).
pub(crate) fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let f = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(path, None, "no such file; check the path")
        } else {
            Error::io(path, e)
        }
    })?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let magic = r.fill_buf().map_err(|e| Error::io(path, e))?;
    if magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
        let dec = flate2::bufread::MultiGzDecoder::new(r);
        Ok(Box::new(BufReader::with_capacity(1 << 20, dec)))
    } else {
        Ok(Box::new(r))
    }
}

/// Turns a read failure into a user-facing error (truncated or corrupt gzip
/// streams are the common case).
pub(crate) fn read_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::input(
            path,
            None,
            "the compressed stream ends early: the file is truncated (re-download or re-copy it)",
        ),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => Error::input(
            path,
            None,
            format!("the file is corrupt or not valid text ({e})"),
        ),
        _ => Error::io(path, e),
    }
}

/// A cells × genes matrix from compressed sparse row parts given by a caller
/// (e.g. scipy's `csr_matrix`), with the checks of the file readers; `source`
/// names the matrix in errors.
pub fn csr_from_parts(
    source: &str,
    shape: (usize, usize),
    indptr: Vec<i64>,
    indices: &[i64],
    data: Vec<f32>,
) -> Result<Csr<f32>> {
    let path = Path::new(source);
    let (rows, cols) = shape;
    if let Some((i, &c)) = indices
        .iter()
        .enumerate()
        .find(|&(_, &c)| c < 0 || c as usize >= cols)
    {
        return Err(Error::input(
            path,
            Some(format!("indices[{i}]")),
            format!("column {c} is outside the {cols} columns"),
        ));
    }
    let indices: Vec<u32> = indices.iter().map(|&c| c as u32).collect();
    h5util::compressed_from_parts(path, "X", (rows, cols), indptr, indices, data)
}
