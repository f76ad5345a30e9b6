//! 10X Matrix Market folders: `matrix.mtx[.gz]` (genes × cells), `features.tsv[.gz]`
//! (v3) or `genes.tsv[.gz]` (v2), `barcodes.tsv[.gz]`. Gene names are the features'
//! name column (made unique the way scanpy does), not their position.

use super::{open_maybe_gz, read_error};
use crate::error::{Error, Result};
use crate::io::csv::{parse_value, push_f32};
use crate::io::outputs::write_text;
use crate::matrix::{Csr, ExprMatrix};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Finds `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stems: &[&str]) -> Option<PathBuf> {
    for s in stems {
        for cand in [dir.join(s), dir.join(format!("{s}.gz"))] {
            if cand.is_file() {
                return Some(cand);
            }
        }
    }
    None
}

/// Reads a 10X mtx folder into cells × genes.
pub fn read_10x_mtx(dir: &Path) -> Result<ExprMatrix> {
    if !dir.is_dir() {
        return Err(Error::input(dir, None, "not a folder; a 10X mtx input is a folder with matrix.mtx, features.tsv (or genes.tsv) and barcodes.tsv"));
    }
    let mtx = find(dir, &["matrix.mtx"])
        .ok_or_else(|| Error::input(dir, None, "no matrix.mtx or matrix.mtx.gz in this folder"))?;
    let feat = find(dir, &["features.tsv", "genes.tsv"]).ok_or_else(|| {
        Error::input(
            dir,
            None,
            "no features.tsv(.gz) or genes.tsv(.gz) in this folder",
        )
    })?;
    let bc = find(dir, &["barcodes.tsv"])
        .ok_or_else(|| Error::input(dir, None, "no barcodes.tsv(.gz) in this folder"))?;

    let mut genes = read_names(&feat, true)?;
    let renamed = crate::io::h5util::make_unique(&mut genes);
    if renamed > 0 {
        tracing::warn!(
            "{renamed} repeated gene names in {} were made unique by appending -1, -2, …",
            feat.display()
        );
    }
    let cells = read_names(&bc, false)?;
    check_unique_cells(&bc, &cells)?;
    let gm = read_mtx(&mtx)?; // genes × cells
    if gm.rows != genes.len() {
        return Err(Error::input(
            &mtx,
            Some("size line".into()),
            format!("the matrix has {} rows (genes) but {} lists {} features; the files do not belong together", gm.rows, feat.display(), genes.len()),
        ));
    }
    if gm.cols != cells.len() {
        return Err(Error::input(
            &mtx,
            Some("size line".into()),
            format!("the matrix has {} columns (cells) but {} lists {} barcodes; the files do not belong together", gm.cols, bc.display(), cells.len()),
        ));
    }
    Ok(ExprMatrix {
        x: gm.transpose(),
        genes,
        cells,
    })
}

/// Reads name lines; for features the name column (second) is used when present.
fn read_names(path: &Path, features: bool) -> Result<Vec<String>> {
    let r = open_maybe_gz(path)?;
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| read_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.split('\t');
        let first = f.next().unwrap_or("").trim();
        let name = if features {
            f.next()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(first)
        } else {
            first
        };
        if name.is_empty() {
            return Err(Error::input(
                path,
                Some(format!("line {}", i + 1)),
                "empty name",
            ));
        }
        out.push(name.to_string());
    }
    if out.is_empty() {
        return Err(Error::input(path, None, "the file is empty"));
    }
    Ok(out)
}

fn check_unique_cells(path: &Path, cells: &[String]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        if let Some(j) = seen.insert(c, i) {
            return Err(Error::input(
                path,
                Some(format!("lines {} and {}", j + 1, i + 1)),
                format!("duplicate barcode \"{c}\"; barcodes must be unique"),
            ));
        }
    }
    Ok(())
}

/// Lines of a text file with their 1-based numbers.
struct Lines<'a> {
    path: &'a Path,
    r: Box<dyn BufRead + Send>,
    line: String,
    no: usize,
}

impl Lines<'_> {
    /// Reads the next line into `self.line`; false at the end of the file.
    fn next(&mut self) -> Result<bool> {
        self.line.clear();
        self.no += 1;
        Ok(self
            .r
            .read_line(&mut self.line)
            .map_err(|e| read_error(self.path, e))?
            > 0)
    }

    /// An input error at the current line.
    fn error(&self, msg: impl Into<String>) -> Error {
        Error::input(self.path, Some(format!("line {}", self.no)), msg)
    }
}

/// What the banner and the size line of a Matrix Market file say.
struct Header {
    pattern: bool,
    rows: usize,
    cols: usize,
    nnz: usize,
}

/// Reads the banner, the comments and the size line.
fn read_header(l: &mut Lines) -> Result<Header> {
    if !l.next()? {
        return Err(l.error("the file is empty"));
    }
    let banner = l.line.to_ascii_lowercase();
    if !banner.starts_with("%%matrixmarket") {
        return Err(l.error("missing the %%MatrixMarket header; is this a Matrix Market file?"));
    }
    if !banner.contains("coordinate") {
        return Err(l.error("only the sparse 'coordinate' Matrix Market format is supported"));
    }
    let pattern = banner.contains("pattern");
    // Skip comments up to the size line.
    loop {
        if !l.next()? {
            return Err(l.error("no size line (rows cols entries) after the header"));
        }
        let t = l.line.trim();
        if !t.is_empty() && !t.starts_with('%') {
            break;
        }
    }
    let dims: Vec<usize> = l
        .line
        .split_whitespace()
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            l.error(format!(
                "bad size line \"{}\"; expected three integers: rows cols entries",
                l.line.trim()
            ))
        })?;
    if dims.len() != 3 {
        return Err(l.error("the size line must hold three integers: rows cols entries"));
    }
    let (rows, cols, nnz) = (dims[0], dims[1], dims[2]);
    if rows > u32::MAX as usize || cols > u32::MAX as usize {
        return Err(l.error("matrix dimensions exceed 4 294 967 295"));
    }
    Ok(Header {
        pattern,
        rows,
        cols,
        nnz,
    })
}

/// Parses one entry line `i j [value]` (1-based) into a 0-based triplet.
fn parse_entry(l: &Lines, t: &str, h: &Header) -> Result<(u32, u32, f32)> {
    let mut f = t.split_ascii_whitespace();
    let i: usize = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| l.error("bad row index"))?;
    let j: usize = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| l.error("bad column index"))?;
    let v = if h.pattern {
        1.0
    } else {
        f.next()
            .and_then(|s| parse_value(s.as_bytes()))
            .ok_or_else(|| l.error("missing or non-numeric value"))?
    };
    if i == 0 || i > h.rows || j == 0 || j > h.cols {
        return Err(l.error(format!(
            "entry ({i}, {j}) is outside the {} × {} matrix of the size line (indices are 1-based)",
            h.rows, h.cols
        )));
    }
    if !v.is_finite() || v < 0.0 {
        return Err(l.error(format!(
            "value {v} is not allowed; expression values must be finite and ≥ 0"
        )));
    }
    Ok(((i - 1) as u32, (j - 1) as u32, v))
}

/// Rows, columns and entries of a 10X folder's `matrix.mtx` from its size line
/// (genes, cells, non-zeros), without reading the entries.
pub fn peek_10x_mtx(dir: &Path) -> Result<(usize, usize, usize)> {
    let mtx = find(dir, &["matrix.mtx"])
        .ok_or_else(|| Error::input(dir, None, "no matrix.mtx or matrix.mtx.gz in this folder"))?;
    let mut l = Lines {
        path: &mtx,
        r: open_maybe_gz(&mtx)?,
        line: String::new(),
        no: 0,
    };
    let h = read_header(&mut l)?;
    Ok((h.rows, h.cols, h.nnz))
}

/// Reads a Matrix Market coordinate file (as stored: rows × cols).
pub fn read_mtx(path: &Path) -> Result<Csr<f32>> {
    let mut l = Lines {
        path,
        r: open_maybe_gz(path)?,
        line: String::new(),
        no: 0,
    };
    let h = read_header(&mut l)?;
    let nnz = h.nnz;
    let mut trip: Vec<(u32, u32, f32)> = Vec::with_capacity(nnz.min(1 << 28));
    let mut seen = 0usize;
    while l.next()? {
        let t = l.line.trim();
        if t.is_empty() || t.starts_with('%') {
            continue;
        }
        seen += 1;
        if seen > nnz {
            return Err(l.error(format!("more entries than the {nnz} announced in the size line; the header and the data disagree")));
        }
        trip.push(parse_entry(&l, t, &h)?);
    }
    if seen != nnz {
        return Err(l.error(format!("the size line announces {nnz} entries but the file has {seen}; the file is truncated or its header is wrong")));
    }
    let mut m = Csr::from_triplets(h.rows, h.cols, trip);
    // Duplicated coordinates would have been summed by scipy; we refuse them instead
    // of silently picking one.
    for r in 0..m.rows {
        let (idx, _) = m.row(r);
        if idx.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::input(
                path,
                None,
                format!(
                    "row {} has a repeated (row, column) entry; each coordinate may appear once",
                    r + 1
                ),
            ));
        }
    }
    m.indices.shrink_to_fit();
    Ok(m)
}

/// Writes a 10X v3 folder (gzipped): `matrix.mtx.gz` genes × cells (integer if all
/// values are integral), `features.tsv.gz` (id, name, "Gene Expression"), `barcodes.tsv.gz`.
pub fn write_10x_mtx(dir: &Path, m: &ExprMatrix) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_text(&dir.join("features.tsv.gz"), |w| {
        m.genes
            .iter()
            .try_for_each(|g| writeln!(w, "{g}\t{g}\tGene Expression"))
    })?;
    write_text(&dir.join("barcodes.tsv.gz"), |w| {
        m.cells.iter().try_for_each(|c| writeln!(w, "{c}"))
    })?;
    write_text(&dir.join("matrix.mtx.gz"), |w| {
        let integral = m.x.data.iter().all(|v| v.fract() == 0.0);
        let field = if integral { "integer" } else { "real" };
        writeln!(w, "%%MatrixMarket matrix coordinate {field} general")?;
        writeln!(
            w,
            "%metadata_json: {{\"software_version\": \"scgnn-rs {}\"}}",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(w, "{} {} {}", m.n_genes(), m.n_cells(), m.x.nnz())?;
        // 10X order: sorted by cell, which is our CSR row order.
        let mut buf = Vec::with_capacity(1 << 17);
        for c in 0..m.n_cells() {
            let (idx, val) = m.x.row(c);
            for (&g, &v) in idx.iter().zip(val) {
                write!(buf, "{} {} ", g + 1, c + 1)?;
                push_f32(&mut buf, v);
                buf.push(b'\n');
            }
            if buf.len() > 1 << 16 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)
    })
}
