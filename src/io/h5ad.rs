//! AnnData `.h5ad` input and output (cells × genes), without libhdf5.
//!
//! Reading takes `X` (dense, `csr_matrix` or `csc_matrix`, any integer or float
//! type, plus the pre-0.7 `h5sparse_format` spelling) and the obs/var index
//! named by each dataframe's `_index` attribute. Writing produces the layout
//! anndata ≥ 0.7 reads (encoding-type/-version attributes on every element), with
//! the scGNN results in their scanpy places: `obs["cluster"]` (categorical),
//! `obsm["X_scgnn"]`, `obsp["scgnn_graph"]`, `layers["counts"]`.

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::io::columns::{Column, Columns};
use crate::io::h5util::{
    self, attr_u64s, bad_value_msg, compressed_from_parts, group, vstr, write_err, H5Reader, Kind,
    Parent, SparseData,
};
use crate::matrix::{Csr, Dense, ExprMatrix};
use hdf5_pure::{make_f32_type, AttrValue, FileBuilder, GroupBuilder};
use std::path::Path;

const EXPECTED: &str = "an AnnData .h5ad file (anndata ≥ 0.7)";

/// Reads `X` with obs names (cells) and var names (genes) from an `.h5ad` file.
///
/// Values are converted to `f32` and must be finite and ≥ 0. Any corrupt,
/// truncated or non-HDF5 file gives an `Error::Input` naming the dataset.
pub fn read_h5ad(path: &Path) -> Result<ExprMatrix> {
    read_h5ad_matrix(path, &H5adMatrix::X)
}

/// Which matrix of an `.h5ad` file holds the counts to analyse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum H5adMatrix {
    /// `X` (the default).
    #[default]
    X,
    /// `layers[name]` (e.g. `counts`, when `X` holds scaled values).
    Layer(String),
    /// `raw.X` with `raw.var`'s gene names (scanpy's `.raw`).
    Raw,
}

/// The `obs` and `var` columns of an `.h5ad` file (`var` of `.raw` with
/// [`H5adMatrix::Raw`]): strings, numbers and categoricals of strings. Other
/// kinds (booleans, nullable arrays, nested frames) are left out with a warning.
pub fn read_columns(path: &Path, which: &H5adMatrix) -> Result<(Columns, Columns)> {
    let r = H5Reader::open(path, EXPECTED)?;
    let (_, var) = which.location();
    Ok((read_frame(&r, "obs")?, read_frame(&r, var)?))
}

/// The columns of dataframe `df` in its `column-order`.
fn read_frame(r: &H5Reader, df: &str) -> Result<Columns> {
    if r.kind(df) != Some(Kind::Group) {
        return Ok(Vec::new());
    }
    let order = match r.attrs(df)?.get("column-order") {
        Some(AttrValue::VarLenStringArray(v)) => v.clone(),
        Some(AttrValue::StringArray(v)) => v.clone(),
        _ => Vec::new(),
    };
    let mut cols = Vec::new();
    for name in order {
        let p = format!("{df}/{name}");
        match read_column(r, &p) {
            Some(c) => cols.push((name, c)),
            None => tracing::warn!(
                "{}: {df} column '{name}' is of a kind not carried to the output (booleans, \
                 nullable arrays, frames); it is left out",
                r.path().display()
            ),
        }
    }
    Ok(cols)
}

/// One column, or `None` for a kind that is not carried.
fn read_column(r: &H5Reader, p: &str) -> Option<Column> {
    use hdf5_pure::DType as T;
    match r.kind(p)? {
        Kind::Dataset => match r.dtype(p).ok()? {
            T::String | T::VariableLengthString => r.read_strings(p).ok().map(Column::Str),
            T::F32 | T::F64 => r.read_f64(p).ok().map(Column::F64),
            T::I8 | T::I16 | T::I32 | T::I64 | T::U8 | T::U16 | T::U32 | T::U64 => {
                r.read_i64(p).ok().map(Column::I64)
            }
            _ => None,
        },
        Kind::Group => {
            let enc = r.attr_str(p, "encoding-type").ok()??;
            if enc != "categorical" {
                return None;
            }
            let codes = r.read_i64(&format!("{p}/codes")).ok()?;
            let categories = r.read_strings(&format!("{p}/categories")).ok()?;
            let n = categories.len() as i64;
            let codes = codes
                .into_iter()
                .map(|c| if (0..n).contains(&c) { c as i32 } else { -1 })
                .collect();
            Some(Column::Categorical { codes, categories })
        }
    }
}

/// Cells, genes and stored values of the chosen matrix, from the file's
/// metadata, without reading the values.
pub fn peek_h5ad(path: &Path, which: &H5adMatrix) -> Result<(usize, usize, usize)> {
    let r = H5Reader::open(path, EXPECTED)?;
    let (key, _) = which.location();
    match r.kind(&key) {
        Some(Kind::Dataset) => {
            let s = r.shape(&key)?;
            let (n, g) = (
                *s.first().unwrap_or(&0) as usize,
                *s.get(1).unwrap_or(&0) as usize,
            );
            Ok((n, g, n * g))
        }
        Some(Kind::Group) => {
            let shape = r
                .attrs(&key)?
                .get("shape")
                .and_then(attr_u64s)
                .unwrap_or_default();
            let nnz = r
                .shape(&format!("{key}/data"))?
                .first()
                .copied()
                .unwrap_or(0);
            match shape.as_slice() {
                [n, g] => Ok((*n as usize, *g as usize, nnz as usize)),
                _ => Err(r.err(format!("group /{key}"), "has no valid 'shape' attribute")),
            }
        }
        None => Err(r.err(format!("/{key}"), "missing")),
    }
}

impl H5adMatrix {
    /// The matrix's path in the file and the dataframe naming its columns.
    fn location(&self) -> (String, &'static str) {
        match self {
            H5adMatrix::X => ("X".to_string(), "var"),
            H5adMatrix::Layer(name) => (format!("layers/{name}"), "var"),
            H5adMatrix::Raw => ("raw/X".to_string(), "raw/var"),
        }
    }
}

/// Reads the chosen matrix (cells × genes) with obs names and its var names.
pub fn read_h5ad_matrix(path: &Path, which: &H5adMatrix) -> Result<ExprMatrix> {
    let r = H5Reader::open(path, EXPECTED)?;
    let (key, var) = which.location();
    match which {
        H5adMatrix::X => {}
        H5adMatrix::Layer(name) if r.kind(&key).is_none() => {
            let found = match r.kind("layers") {
                Some(Kind::Group) => r.members("layers")?.join(", "),
                _ => String::new(),
            };
            let found = if found.is_empty() {
                "none".to_string()
            } else {
                found
            };
            return Err(r.err(
                format!("/{key}"),
                format!("no layer '{name}' in this file; its layers: {found}"),
            ));
        }
        H5adMatrix::Layer(_) => {}
        H5adMatrix::Raw if r.kind("raw") != Some(Kind::Group) => {
            return Err(r.err(
                "group /raw",
                "missing: this file has no .raw; drop --use-raw or name a layer with --layer",
            ));
        }
        H5adMatrix::Raw => {}
    }
    let x = read_x(&r, &key).map_err(|e| counts_hint(&r, which, e))?;
    let cells = read_index(&r, "obs", x.rows)?;
    let genes = read_index(&r, var, x.cols)?;
    Ok(ExprMatrix { x, genes, cells })
}

/// When `X` cannot be read as counts but the file has layers or `.raw`, says
/// how to read those instead.
fn counts_hint(r: &H5Reader, which: &H5adMatrix, e: Error) -> Error {
    let Error::Input { path, pos, msg } = e else {
        return e;
    };
    if *which != H5adMatrix::X {
        return Error::Input { path, pos, msg };
    }
    let mut other = Vec::new();
    if r.kind("layers") == Some(Kind::Group) {
        if let Ok(layers) = r.members("layers") {
            other.extend(layers.iter().map(|l| format!("--layer {l}")));
        }
    }
    if r.kind("raw") == Some(Kind::Group) {
        other.push("--use-raw".to_string());
    }
    let msg = if other.is_empty() {
        msg
    } else {
        format!(
            "{msg}; if X holds scaled or logged values, read the counts with {}",
            other.join(" or ")
        )
    };
    Error::Input { path, pos, msg }
}

/// Reads the matrix at `key` (`X`, `layers/…`, `raw/X`) as cells × genes CSR.
fn read_x(r: &H5Reader, key: &str) -> Result<Csr<f32>> {
    match r.kind(key) {
        None => Err(r.err(
            format!("dataset /{key}"),
            "missing; the file has no expression matrix X (is it an .h5ad file?)",
        )),
        Some(Kind::Dataset) => read_dense_x(r, key, DENSE_WINDOW_VALUES),
        Some(Kind::Group) => read_sparse_x(r, key),
    }
}

/// Values per row window when reading a dense `X` (16 MiB of f32).
const DENSE_WINDOW_VALUES: usize = 1 << 22;

/// Dense `X`: a 2-D dataset, converted to CSR while checking every value. It is
/// read about `window_values` values (whole rows) at a time, so memory follows
/// the non-zeros rather than cells × genes.
fn read_dense_x(r: &H5Reader, key: &str, window_values: usize) -> Result<Csr<f32>> {
    let shape = r.shape(key)?;
    if shape.len() != 2 {
        return Err(r.err(
            format!("dataset /{key}"),
            format!("has shape {shape:?}; expected 2 dimensions (cells × genes)"),
        ));
    }
    let (rows, cols) = (to_usize(r, shape[0])?, to_usize(r, shape[1])?);
    let mut indptr = Vec::with_capacity(rows + 1);
    indptr.push(0usize);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    if cols == 0 {
        // No values to read; every row is empty.
        indptr.resize(rows + 1, 0);
    }
    let window = (window_values / cols.max(1)).max(1);
    let mut start = 0;
    while start < rows && cols > 0 {
        let n = window.min(rows - start);
        let v = r.read_f32_rows(key, start, n)?;
        if v.len() != n * cols {
            return Err(r.err(
                format!("dataset /{key}"),
                format!(
                    "rows {start}..{} hold {} values, expected {}",
                    start + n,
                    v.len(),
                    n * cols
                ),
            ));
        }
        for (k, row) in v.chunks_exact(cols).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                if !x.is_finite() || x < 0.0 {
                    return Err(r.err(format!("{key}[{}, {j}]", start + k), bad_value_msg(x)));
                }
                if x != 0.0 {
                    indices.push(j as u32);
                    data.push(x);
                }
            }
            indptr.push(indices.len());
        }
        start += n;
    }
    Ok(Csr {
        rows,
        cols,
        indptr,
        indices,
        data,
    })
}

/// Sparse `X`: a `csr_matrix` / `csc_matrix` group.
fn read_sparse_x(r: &H5Reader, key: &str) -> Result<Csr<f32>> {
    let attrs = r.attrs(key)?;
    let enc = attrs
        .get("encoding-type")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            // anndata < 0.7 wrote h5sparse's attribute instead.
            attrs
                .get("h5sparse_format")
                .and_then(|v| v.as_str())
                .map(|f| format!("{f}_matrix"))
        });
    let shape = attrs
        .get("shape")
        .or_else(|| attrs.get("h5sparse_shape"))
        .and_then(attr_u64s);
    let Some(shape) = shape.filter(|s| s.len() == 2) else {
        return Err(r.err(
            format!("group /{key}"),
            "has no valid 'shape' attribute (2 integers); the sparse matrix cannot be read",
        ));
    };
    let (n_obs, n_var) = (to_usize(r, shape[0])?, to_usize(r, shape[1])?);
    let csc = match enc.as_deref() {
        Some("csr_matrix") => false,
        Some("csc_matrix") => true,
        other => {
            return Err(r.err(
                format!("group /{key}"),
                format!(
                    "has encoding-type {:?}; supported: a dense array, csr_matrix or csc_matrix",
                    other.unwrap_or("(none)")
                ),
            ))
        }
    };
    let (major, minor) = if csc { (n_var, n_obs) } else { (n_obs, n_var) };
    let indptr = r.read_i64(&format!("{key}/indptr"))?;
    let indices = r.read_indices(&format!("{key}/indices"), minor)?;
    let data = r.read_f32(&format!("{key}/data"))?;
    let m = compressed_from_parts(r.path(), key, (major, minor), indptr, indices, data)?;
    Ok(if csc { m.transpose() } else { m })
}

/// A dimension from the file as `usize`.
fn to_usize(r: &H5Reader, v: u64) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|&n| n <= u32::MAX as usize)
        .ok_or_else(|| r.err("group /X", format!("dimension {v} is too large")))
}

/// The index (names) of dataframe `df` ("obs" or "var"), which must have `n` rows.
fn read_index(r: &H5Reader, df: &str, n: usize) -> Result<Vec<String>> {
    match r.kind(df) {
        Some(Kind::Group) => {}
        Some(Kind::Dataset) => {
            return Err(r.err(
                format!("dataset /{df}"),
                "is stored in the pre-0.7 anndata layout; re-save the file with a current \
                 anndata (adata.write_h5ad)",
            ))
        }
        None => {
            return Err(r.err(
                format!("group /{df}"),
                format!("missing; an .h5ad file needs {df} names"),
            ))
        }
    }
    let key = r
        .attr_str(df, "_index")?
        .unwrap_or_else(|| "_index".to_string());
    let p = format!("{df}/{key}");
    let names = r.read_strings(&p)?;
    if names.len() != n {
        return Err(r.err(
            format!("dataset /{p}"),
            format!(
                "has {} names but X has {n} {}",
                names.len(),
                if df == "obs" {
                    "rows (cells)"
                } else {
                    "columns (genes)"
                }
            ),
        ));
    }
    Ok(names)
}

/// `X` to write: sparse or dense, cells × genes.
#[derive(Clone, Debug)]
pub enum XData<'a> {
    /// Sparse matrix, written as `csr_matrix`.
    Csr(&'a Csr<f32>),
    /// Dense matrix, written as a 2-D array.
    Dense(&'a Dense),
    /// Dense matrix handed over to the writer, written as a 2-D array. Its values
    /// are released while they are turned into the file's bytes, so the writer
    /// never holds a second dense copy (7.5 GiB at a million cells × 2 000 genes).
    DenseOwned(Dense),
}

impl XData<'_> {
    /// (rows, cols).
    fn shape(&self) -> (usize, usize) {
        match self {
            XData::Csr(m) => (m.rows, m.cols),
            XData::Dense(d) => (d.rows, d.cols),
            XData::DenseOwned(d) => (d.rows, d.cols),
        }
    }
}

/// Everything `write_h5ad` writes. Build with [`H5adOutput::new`] and fill the
/// optional parts; all matrices are cells × something, in the obs order.
#[derive(Clone, Debug)]
pub struct H5adOutput<'a> {
    /// The main matrix (typically the imputed or normalised expression).
    pub x: XData<'a>,
    /// Cell ids, one per row of `x`.
    pub obs_names: &'a [String],
    /// Gene names, one per column of `x`.
    pub var_names: &'a [String],
    /// Raw counts, written as `layers["counts"]`.
    pub counts_layer: Option<&'a Csr<f32>>,
    /// More layers, same shape as `x`: `layers[name]`.
    pub extra_layers: Vec<(&'a str, &'a Csr<f32>)>,
    /// Cluster label per cell, written as the pandas categorical `obs["cluster"]`.
    pub obs_cluster: Option<&'a [usize]>,
    /// More columns of obs (e.g. true labels, the input's annotations): `obs[name]`.
    pub obs_columns: Vec<(&'a str, &'a Column)>,
    /// Columns of var (e.g. the input's `gene_ids`): `var[name]`.
    pub var_columns: Vec<(&'a str, &'a Column)>,
    /// Cell embeddings, `obsm[name]` (e.g. "X_scgnn").
    pub obsm: Vec<(&'a str, &'a Dense)>,
    /// Cell × cell graphs as `csr_matrix`, `obsp[name]` (e.g. "scgnn_graph").
    pub obsp: Vec<(&'a str, &'a Csr<f32>)>,
    /// Run parameters/report as JSON text, stored as the string `uns["scgnn_json"]`.
    pub uns_json: Option<String>,
    /// Gzip level (1–9) for the large datasets, or `None` for no compression
    /// (scanpy's default; reading is about 3× faster uncompressed).
    pub gzip: Option<u32>,
}

impl<'a> H5adOutput<'a> {
    /// An output with just `X` and its names; every optional part empty.
    pub fn new(x: XData<'a>, obs_names: &'a [String], var_names: &'a [String]) -> Self {
        H5adOutput {
            x,
            obs_names,
            var_names,
            counts_layer: None,
            extra_layers: Vec::new(),
            obs_cluster: None,
            obs_columns: Vec::new(),
            var_columns: Vec::new(),
            obsm: Vec::new(),
            obsp: Vec::new(),
            uns_json: None,
            gzip: None,
        }
    }

    /// Checks that every part matches `X`'s shape and that keys are usable
    /// HDF5 names, so a mistake is reported before anything is written.
    pub fn validate(&self) -> Result<()> {
        let (n, g) = self.x.shape();
        let bad = |m: String| Err(Error::Usage(format!("h5ad output: {m}")));
        if self.obs_names.len() != n {
            return bad(format!(
                "{} obs names for {n} rows of X",
                self.obs_names.len()
            ));
        }
        if self.var_names.len() != g {
            return bad(format!(
                "{} var names for {g} columns of X",
                self.var_names.len()
            ));
        }
        let layers = self.counts_layer.map(|c| ("counts", c)).into_iter();
        for (k, m) in layers.chain(self.extra_layers.iter().copied()) {
            check_key(k)?;
            if (m.rows, m.cols) != (n, g) {
                return bad(format!(
                    "layer '{k}' is {}×{}, X is {n}×{g}",
                    m.rows, m.cols
                ));
            }
        }
        if let Some(c) = self.obs_cluster {
            if c.len() != n {
                return bad(format!("{} cluster labels for {n} cells", c.len()));
            }
        }
        let mut cols = std::collections::HashSet::new();
        if self.obs_cluster.is_some() {
            cols.insert("cluster");
        }
        for (k, v) in &self.obs_columns {
            check_key(k)?;
            if *k == "_index" || !cols.insert(k) {
                return bad(format!("obs column '{k}' is reserved or given twice"));
            }
            if v.len() != n {
                return bad(format!(
                    "obs column '{k}' has {} values for {n} cells",
                    v.len()
                ));
            }
        }
        let mut vcols = std::collections::HashSet::new();
        for (k, v) in &self.var_columns {
            check_key(k)?;
            if *k == "_index" || !vcols.insert(k) {
                return bad(format!("var column '{k}' is reserved or given twice"));
            }
            if v.len() != g {
                return bad(format!(
                    "var column '{k}' has {} values for {g} genes",
                    v.len()
                ));
            }
        }
        for (k, d) in &self.obsm {
            check_key(k)?;
            if d.rows != n {
                return bad(format!("obsm '{k}' has {} rows for {n} cells", d.rows));
            }
        }
        for (k, m) in &self.obsp {
            check_key(k)?;
            if (m.rows, m.cols) != (n, n) {
                return bad(format!(
                    "obsp '{k}' is {}×{}, expected {n}×{n}",
                    m.rows, m.cols
                ));
            }
        }
        if let Some(l) = self.gzip {
            if !(1..=9).contains(&l) {
                return bad(format!("gzip level {l} is not in 1..=9"));
            }
        }
        Ok(())
    }
}

/// An HDF5 link name must be non-empty, not "." and free of '/'.
fn check_key(k: &str) -> Result<()> {
    if k.is_empty() || k == "." || k.contains('/') {
        return Err(Error::Usage(format!(
            "h5ad output: '{k}' is not a valid key (empty, '.' or containing '/')"
        )));
    }
    Ok(())
}

/// Sets anndata's element encoding attributes.
fn encode<P: Parent + ?Sized>(p: &mut P, ty: &str, version: &str) {
    p.attr("encoding-type", vstr(ty));
    p.attr("encoding-version", vstr(version));
}

/// Writes `out` as an `.h5ad` file at `path`, atomically (temporary file, then
/// rename), in the layout anndata ≥ 0.7 and scanpy read.
pub fn write_h5ad(path: &Path, out: H5adOutput) -> Result<()> {
    out.validate()?;
    write_atomic(path, |tmp| {
        let fb = build(out);
        fb.write(tmp).map_err(|e| write_err(tmp, e))
    })
}

/// Assembles the whole file in an `hdf5-pure` builder.
fn build(out: H5adOutput) -> FileBuilder {
    let gz = out.gzip;
    let mut fb = FileBuilder::new();
    encode(&mut fb, "anndata", "0.1.0");
    fb.add_group(obs_group(&out));
    let var_cols = out
        .var_columns
        .iter()
        .map(|&(k, c)| column_writer(k, c))
        .collect();
    fb.add_group(dataframe("var", out.var_names, var_cols));
    fb.add_group(dict("layers", |g| {
        let layers = out.counts_layer.map(|c| ("counts", c)).into_iter();
        for (k, m) in layers.chain(out.extra_layers.iter().copied()) {
            g.add_group(csr_group(k, m, gz));
        }
    }));
    fb.add_group(dict("obsm", |g| {
        for (k, d) in &out.obsm {
            dense_dataset(g, k, d.rows, d.cols, f32_bytes(&d.data), gz);
        }
    }));
    fb.add_group(dict("obsp", |g| {
        for (k, m) in &out.obsp {
            g.add_group(csr_group(k, m, gz));
        }
    }));
    fb.add_group(dict("varm", |_| {}));
    fb.add_group(dict("varp", |_| {}));
    fb.add_group(dict("uns", |g| {
        if let Some(j) = &out.uns_json {
            let d = g.create_dataset("scgnn_json");
            // A 0-d dataset is anndata's "string" scalar encoding.
            d.with_vlen_strings(&[j.as_str()]).with_shape(&[]);
            d.set_attr("encoding-type", vstr("string"));
            d.set_attr("encoding-version", vstr("0.2.0"));
        }
    }));
    // Last, so that an owned X is converted after everything else is staged.
    match out.x {
        XData::Csr(m) => fb.add_group(csr_group("X", m, gz)),
        XData::Dense(d) => dense_dataset(&mut fb, "X", d.rows, d.cols, f32_bytes(&d.data), gz),
        XData::DenseOwned(d) => {
            let (rows, cols) = (d.rows, d.cols);
            dense_dataset(&mut fb, "X", rows, cols, into_f32_bytes(d.data), gz)
        }
    }
    fb
}

/// An anndata "dict" group named `name`, filled by `fill`.
fn dict(name: &str, fill: impl FnOnce(&mut GroupBuilder)) -> hdf5_pure::FinishedGroup {
    let mut g = group(name);
    encode(&mut g, "dict", "0.1.0");
    fill(&mut g);
    g.finish()
}

/// A `csr_matrix` group.
fn csr_group(name: &str, m: &Csr<f32>, gz: Option<u32>) -> hdf5_pure::FinishedGroup {
    let mut g = group(name);
    encode(&mut g, "csr_matrix", "0.1.0");
    g.set_attr(
        "shape",
        AttrValue::I64Array(vec![m.rows as i64, m.cols as i64]),
    );
    h5util::write_sparse_parts(&mut g, m, SparseData::F32, gz);
    g.finish()
}

/// A dense 2-D `array` dataset.
fn dense_dataset<P: Parent + ?Sized>(
    p: &mut P,
    name: &str,
    rows: usize,
    cols: usize,
    bytes: Vec<u8>,
    gz: Option<u32>,
) {
    let ds = p.dataset(name);
    ds.with_raw_data(make_f32_type(), bytes, (rows * cols) as u64)
        .with_shape(&[rows as u64, cols as u64])
        .set_attr("encoding-type", vstr("array"))
        .set_attr("encoding-version", vstr("0.2.0"));
    if let Some(l) = gz {
        if rows > 0 && cols > 0 {
            let rows_per_chunk = ((1usize << 16) / cols).clamp(1, rows);
            ds.with_chunks(&[rows_per_chunk as u64, cols as u64])
                .with_deflate(l);
        }
    }
}

/// Little-endian bytes of `v` (HDF5's layout for our f32 datatype).
fn f32_bytes(v: &[f32]) -> Vec<u8> {
    let mut b = vec![0u8; v.len() * 4];
    for (o, x) in b.chunks_exact_mut(4).zip(v) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    b
}

/// Like [`f32_bytes`], releasing `v` as it goes: blocks are converted from the end
/// and the vector shrunk after each, while the zeroed byte buffer is only backed
/// by memory where it has been written. So the two together stay about one
/// matrix large instead of two, where the allocator returns shrunk memory (glibc
/// does for large blocks); elsewhere the peak is the same as a copy.
fn into_f32_bytes(v: Vec<f32>) -> Vec<u8> {
    into_f32_bytes_by(v, 1 << 24) // blocks of 64 MiB
}

fn into_f32_bytes_by(mut v: Vec<f32>, block: usize) -> Vec<u8> {
    let mut b = vec![0u8; v.len() * 4];
    let mut end = v.len();
    while end > 0 {
        let start = end.saturating_sub(block);
        for (o, x) in b[start * 4..end * 4]
            .chunks_exact_mut(4)
            .zip(&v[start..end])
        {
            o.copy_from_slice(&x.to_le_bytes());
        }
        v.truncate(start);
        v.shrink_to_fit();
        end = start;
    }
    b
}

/// A "string-array" dataset.
fn string_array<P: Parent + ?Sized>(p: &mut P, name: &str, v: &[String]) {
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    p.dataset(name)
        .with_vlen_strings(&refs)
        .set_attr("encoding-type", vstr("string-array"))
        .set_attr("encoding-version", vstr("0.2.0"));
}

/// A dataframe column: its name and the code that writes it into the group.
type ColumnWriter<'a> = (&'a str, Box<dyn FnOnce(&mut GroupBuilder) + 'a>);

/// A pandas dataframe group with index `index` and the given column writers.
fn dataframe(
    name: &str,
    index: &[String],
    columns: Vec<ColumnWriter<'_>>,
) -> hdf5_pure::FinishedGroup {
    let mut g = group(name);
    encode(&mut g, "dataframe", "0.2.0");
    g.set_attr("_index", vstr("_index"));
    g.set_attr(
        "column-order",
        AttrValue::VarLenStringArray(columns.iter().map(|c| c.0.to_string()).collect()),
    );
    string_array(&mut g, "_index", index);
    for (_, write) in columns {
        write(&mut g);
    }
    g.finish()
}

/// The obs dataframe: names, the categorical cluster column and string columns.
fn obs_group(out: &H5adOutput) -> hdf5_pure::FinishedGroup {
    let mut cols: Vec<ColumnWriter<'_>> = Vec::new();
    if let Some(labels) = out.obs_cluster {
        cols.push((
            "cluster",
            Box::new(move |g: &mut GroupBuilder| g.add_group(categorical("cluster", labels))),
        ));
    }
    cols.extend(out.obs_columns.iter().map(|&(k, c)| column_writer(k, c)));
    dataframe("obs", out.obs_names, cols)
}

/// The writer of one dataframe column, in anndata's encodings.
fn column_writer<'a>(k: &'a str, c: &'a Column) -> ColumnWriter<'a> {
    let array = |d: &mut hdf5_pure::DatasetBuilder| {
        d.set_attr("encoding-type", vstr("array"))
            .set_attr("encoding-version", vstr("0.2.0"));
    };
    let write: Box<dyn FnOnce(&mut GroupBuilder) + 'a> = match c {
        Column::Str(v) => Box::new(move |g: &mut GroupBuilder| string_array(g, k, v)),
        Column::F64(v) => {
            Box::new(move |g: &mut GroupBuilder| array(g.create_dataset(k).with_f64_data(v)))
        }
        Column::I64(v) => {
            Box::new(move |g: &mut GroupBuilder| array(g.create_dataset(k).with_i64_data(v)))
        }
        Column::Categorical { codes, categories } => Box::new(move |g: &mut GroupBuilder| {
            let mut cg = group(k);
            encode(&mut cg, "categorical", "0.2.0");
            cg.set_attr("ordered", AttrValue::I8(0));
            array(cg.create_dataset("codes").with_i32_data(codes));
            string_array(&mut cg, "categories", categories);
            g.add_group(cg.finish());
        }),
    };
    (k, write)
}

/// A pandas categorical of integer labels: categories are the distinct labels
/// in increasing order, as strings; codes index them (smallest int type, as
/// pandas chooses).
fn categorical(name: &str, labels: &[usize]) -> hdf5_pure::FinishedGroup {
    let mut distinct: Vec<usize> = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let code = |l: usize| distinct.binary_search(&l).unwrap_or(0);
    let mut g = group(name);
    encode(&mut g, "categorical", "0.2.0");
    // h5py writes numpy bools as an enum; anndata only needs bool(value).
    g.set_attr("ordered", AttrValue::I8(0));
    let codes = g.create_dataset("codes");
    if distinct.len() <= i8::MAX as usize {
        let c: Vec<i8> = labels.iter().map(|&l| code(l) as i8).collect();
        codes.with_i8_data(&c);
    } else if distinct.len() <= i16::MAX as usize {
        let c: Vec<i16> = labels.iter().map(|&l| code(l) as i16).collect();
        codes.with_i16_data(&c);
    } else {
        let c: Vec<i32> = labels.iter().map(|&l| code(l) as i32).collect();
        codes.with_i32_data(&c);
    }
    codes
        .set_attr("encoding-type", vstr("array"))
        .set_attr("encoding-version", vstr("0.2.0"));
    let cats: Vec<String> = distinct.iter().map(|l| l.to_string()).collect();
    string_array(&mut g, "categories", &cats);
    g.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_conversion_matches_the_copy_for_any_block() {
        let v: Vec<f32> = (0..103).map(|i| i as f32 * -0.37 + 1e-3).collect();
        for block in [1, 7, 103, 1000] {
            assert_eq!(into_f32_bytes_by(v.clone(), block), f32_bytes(&v));
        }
        assert!(into_f32_bytes_by(Vec::new(), 7).is_empty());
    }

    #[test]
    fn dense_x_read_in_small_windows_is_exact() {
        let d = Dense::from_vec(7, 3, (0..21).map(|v| (v % 4) as f32 * 0.5).collect());
        let names: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        let genes: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
        let p = std::env::temp_dir().join(format!("scgnn-h5ad-win-{}.h5ad", std::process::id()));
        write_h5ad(&p, H5adOutput::new(XData::Dense(&d), &names, &genes)).unwrap();
        let r = H5Reader::open(&p, EXPECTED).unwrap();
        for window in [1, 3, 5, 6, 21, 100] {
            assert_eq!(
                read_dense_x(&r, "X", window).unwrap(),
                Csr::from_dense(&d),
                "window {window}"
            );
        }
        std::fs::remove_file(&p).unwrap();
    }
}
