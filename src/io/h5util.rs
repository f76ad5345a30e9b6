//! Shared plumbing for the two HDF5 formats (`.h5ad`, 10X `.h5`) on top of the
//! pure-Rust `hdf5-pure` crate: panic-proof reads that turn every failure into an
//! `Error::input` naming the file and the dataset, validation of sparse parts read
//! from a file, scanpy-compatible name de-duplication, and small writing helpers.
//!
//! Why the panic guard: `hdf5-pure` is fuzzed and sizes its allocations with
//! `try_reserve`, but a parser of untrusted bytes can still hit an index or an
//! `unwrap` it did not expect. A corrupt input file must give the user an error
//! message, never a crash, so every call into the crate on user data runs under
//! `catch_unwind` (this relies on the default `panic = "unwind"`, which the
//! crate's profiles keep).

use crate::error::{Error, Result};
use crate::matrix::Csr;
use hdf5_pure::{AttrValue, DatasetBuilder, FileBuilder, GroupBuilder};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs a guarded `hdf5-pure` call, so the panic hook
    /// stays silent for panics that `guard` turns into an error anyway.
    static IN_GUARD: Cell<bool> = const { Cell::new(false) };
}

static QUIET_HOOK: Once = Once::new();

/// Installs, once per process, a panic hook that forwards to the previous hook
/// except on a thread inside `guard`. The flag is thread-local and `hdf5-pure`
/// spawns no threads, so concurrent guarded reads and unrelated panics on other
/// threads do not interfere. A hook installed later by someone else replaces
/// this one; the only effect is that a caught panic is printed as well.
fn install_quiet_hook() {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(|g| g.get()) {
                previous(info);
            }
        }));
    });
}

/// Text of a panic payload, for the error message.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown failure".to_string()
    }
}

/// Runs `f` (one call into `hdf5-pure` on data from `path`) so that a panic or
/// an `hdf5_pure::Error` becomes an `Error::input` at `pos`.
pub(crate) fn guard<T>(
    path: &Path,
    pos: &str,
    f: impl FnOnce() -> std::result::Result<T, hdf5_pure::Error>,
) -> Result<T> {
    install_quiet_hook();
    let was = IN_GUARD.with(|g| g.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(was));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::input(path, Some(pos.to_string()), describe(&e))),
        Err(payload) => Err(Error::input(
            path,
            Some(pos.to_string()),
            format!(
                "the HDF5 data is malformed (reader failure: {}); the file is probably truncated \
                 or corrupt, so re-create or re-download it",
                panic_text(payload.as_ref())
            ),
        )),
    }
}

/// A user-facing sentence for an `hdf5-pure` error.
fn describe(e: &hdf5_pure::Error) -> String {
    match e {
        hdf5_pure::Error::Format(hdf5_pure::FormatError::PathNotFound(p)) => format!(
            "'{p}' is missing; the file does not have the expected layout (or it is truncated)"
        ),
        _ => format!("cannot read the HDF5 data ({e}); the file is probably corrupt or truncated"),
    }
}

/// What an HDF5 path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A group.
    Group,
    /// A dataset.
    Dataset,
}

/// An HDF5 file opened for reading, remembering its path for error messages.
pub(crate) struct H5Reader {
    file: hdf5_pure::File,
    path: PathBuf,
    /// File size in bytes: bounds variable-length string payloads, which live
    /// uncompressed in the file's global heap.
    size: u64,
}

/// Element count of a shape, refusing overflow.
fn elements(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
}

impl H5Reader {
    /// Opens `path`; a missing file is an I/O error, a non-HDF5 or corrupt one an
    /// input error that says which formats are expected.
    pub(crate) fn open(path: &Path, expected: &str) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::input(
                path,
                None,
                format!("is a folder; expected {expected}"),
            ));
        }
        let is_h5 = hdf5_pure::is_hdf5(path).map_err(|e| Error::io(path, e))?;
        if !is_h5 {
            return Err(Error::input(
                path,
                None,
                format!("not an HDF5 file (no HDF5 signature); expected {expected}"),
            ));
        }
        let file = guard(path, "superblock", || hdf5_pure::File::open_streaming(path))?;
        // The superblock records where the file ends; a shorter file lost its
        // tail (an interrupted copy or download), as libhdf5 also reports.
        let sb = file.superblock();
        let eof = sb.base_address.get().saturating_add(sb.eof_address);
        if eof > meta.len() {
            return Err(Error::input(
                path,
                None,
                format!(
                    "truncated: the HDF5 superblock says the file is {eof} bytes but it has {}; \
                     copy or download it again",
                    meta.len()
                ),
            ));
        }
        Ok(H5Reader {
            file,
            path: path.to_path_buf(),
            size: meta.len(),
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// An input error about `what` (e.g. "dataset /X/indptr") in this file.
    pub(crate) fn err(&self, what: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::input(&self.path, Some(what.into()), msg)
    }

    /// What `p` names, or `None` if nothing (or something unreadable) is there.
    pub(crate) fn kind(&self, p: &str) -> Option<Kind> {
        let probe = |k: Kind| {
            guard(&self.path, p, || match k {
                Kind::Dataset => self.file.dataset(p).map(|_| ()),
                Kind::Group => self.file.group(p).map(|_| ()),
            })
            .is_ok()
        };
        if probe(Kind::Dataset) {
            Some(Kind::Dataset)
        } else if probe(Kind::Group) {
            Some(Kind::Group)
        } else {
            None
        }
    }

    /// Names of the groups directly under group `p` ("" or "/" for the root).
    pub(crate) fn subgroups(&self, p: &str) -> Result<Vec<String>> {
        guard(&self.path, &format!("group /{p}"), || {
            if p.is_empty() || p == "/" {
                self.file.root().groups()
            } else {
                self.file.group(p)?.groups()
            }
        })
    }

    /// Names of the groups and datasets directly under group `p`.
    pub(crate) fn members(&self, p: &str) -> Result<Vec<String>> {
        guard(&self.path, &format!("group /{p}"), || {
            let g = self.file.group(p)?;
            let mut m = g.groups()?;
            m.extend(g.datasets()?);
            m.sort();
            Ok(m)
        })
    }

    /// Attributes of the group or dataset at `p` (the root for "" or "/").
    pub(crate) fn attrs(&self, p: &str) -> Result<HashMap<String, AttrValue>> {
        let what = format!("/{}", p.trim_start_matches('/'));
        guard(&self.path, &what, || {
            if p.is_empty() || p == "/" {
                return self.file.root().attrs();
            }
            match self.file.dataset(p) {
                Ok(d) => d.attrs(),
                Err(_) => self.file.group(p)?.attrs(),
            }
        })
    }

    /// A string attribute of `p`, if present and a (scalar) string.
    pub(crate) fn attr_str(&self, p: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .attrs(p)?
            .get(name)
            .and_then(|v| v.as_str().map(str::to_string)))
    }

    /// The most bytes a dataset of this file can honestly decode to: its whole
    /// size times deflate's maximum expansion (about 1032:1), plus slack. Some
    /// `hdf5-pure` read paths allocate the size a header claims before reading,
    /// and an allocation failure aborts the process (it cannot be caught), so
    /// impossible claims from a corrupt header are refused first.
    fn max_decoded_bytes(&self) -> u64 {
        self.size.saturating_mul(1100).saturating_add(1 << 20)
    }

    /// Refuses a dataset whose claimed size (or chunk size) exceeds what the
    /// file could hold.
    fn check_claimed_size(&self, d: &hdf5_pure::Dataset, what: &str) -> Result<()> {
        let (shape, elem, chunk) = guard(&self.path, what, || {
            Ok((d.shape()?, d.element_size()?, d.chunk_shape()?))
        })?;
        let limit = self.max_decoded_bytes();
        let bytes = |dims: &[u64]| elements(dims).and_then(|n| n.checked_mul(elem.max(1)));
        for (dims, label) in [(Some(shape), "dataset"), (chunk, "chunk")] {
            if let Some(dims) = dims {
                if bytes(&dims).is_none_or(|b| b > limit) {
                    return Err(self.err(
                        what,
                        format!(
                            "the {label} shape {dims:?} claims more data than a {} byte file can                              hold; the file is corrupt",
                            self.size
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Opens dataset `p` and checks its claimed size, with a position string for
    /// errors.
    fn dataset(&self, p: &str) -> Result<(hdf5_pure::Dataset, String)> {
        let what = format!("dataset /{p}");
        let d = guard(&self.path, &what, || self.file.dataset(p)).map_err(|e| match e {
            Error::Input { path, pos, msg } if self.kind(p).is_none() => Error::Input {
                path,
                pos,
                msg: format!("missing ({msg})"),
            },
            e => e,
        })?;
        self.check_claimed_size(&d, &what)?;
        Ok((d, what))
    }

    /// Shape of dataset `p`.
    pub(crate) fn shape(&self, p: &str) -> Result<Vec<u64>> {
        let (d, what) = self.dataset(p)?;
        guard(&self.path, &what, || d.shape())
    }

    /// All values of numeric dataset `p` as `f32` (any integer or float type).
    pub(crate) fn read_f32(&self, p: &str) -> Result<Vec<f32>> {
        let (d, what) = self.dataset(p)?;
        self.check_numeric(&d, &what)?;
        guard(&self.path, &what, || d.read_f32())
    }

    /// Rows `start..start + n` of numeric dataset `p` (first dimension) as `f32`.
    pub(crate) fn read_f32_rows(&self, p: &str, start: usize, n: usize) -> Result<Vec<f32>> {
        let (d, what) = self.dataset(p)?;
        self.check_numeric(&d, &what)?;
        guard(&self.path, &what, || {
            d.read_f32_rows(start as u64, n as u64)
        })
    }

    /// All values of numeric dataset `p` as `f64`.
    pub(crate) fn read_f64(&self, p: &str) -> Result<Vec<f64>> {
        let (d, what) = self.dataset(p)?;
        self.check_numeric(&d, &what)?;
        guard(&self.path, &what, || d.read_f64())
    }

    /// The element type of dataset `p`.
    pub(crate) fn dtype(&self, p: &str) -> Result<hdf5_pure::DType> {
        let (d, what) = self.dataset(p)?;
        guard(&self.path, &what, || d.dtype())
    }

    /// All values of integer dataset `p` as `i64`.
    pub(crate) fn read_i64(&self, p: &str) -> Result<Vec<i64>> {
        let (d, what) = self.dataset(p)?;
        let dt = guard(&self.path, &what, || d.dtype())?;
        use hdf5_pure::DType as T;
        if !matches!(
            dt,
            T::I8 | T::I16 | T::I32 | T::I64 | T::U8 | T::U16 | T::U32 | T::U64
        ) {
            return Err(self.err(what, format!("has element type {dt}; expected integers")));
        }
        guard(&self.path, &what, || d.read_i64())
    }

    /// Column (or row) indices of dataset `p`, each checked to lie in
    /// `0..bound`, as `u32`. 32-bit files convert in place (no second copy).
    pub(crate) fn read_indices(&self, p: &str, bound: usize) -> Result<Vec<u32>> {
        let (d, what) = self.dataset(p)?;
        let dt = guard(&self.path, &what, || d.dtype())?;
        let bad = |i: usize, v: i64| {
            self.err(
                format!("{p}[{i}]"),
                format!("index {v} is out of range 0..{bound}"),
            )
        };
        use hdf5_pure::DType as T;
        match dt {
            T::I8 | T::I16 | T::I32 => {
                let v = guard(&self.path, &what, || d.read_i32())?;
                if let Some(i) = v.iter().position(|&x| x < 0 || x as u64 >= bound as u64) {
                    return Err(bad(i, v[i] as i64));
                }
                Ok(v.into_iter().map(|x| x as u32).collect())
            }
            T::U8 | T::U16 | T::U32 => {
                let v = guard(&self.path, &what, || d.read_u32())?;
                if let Some(i) = v.iter().position(|&x| x as u64 >= bound as u64) {
                    return Err(bad(i, v[i] as i64));
                }
                Ok(v)
            }
            T::I64 | T::U64 => {
                let v = guard(&self.path, &what, || d.read_i64())?;
                if let Some(i) = v.iter().position(|&x| x < 0 || x as u64 >= bound as u64) {
                    return Err(bad(i, v[i]));
                }
                Ok(v.into_iter().map(|x| x as u32).collect())
            }
            other => Err(self.err(what, format!("has element type {other}; expected integers"))),
        }
    }

    /// Refuses non-numeric datasets with a clear message instead of the crate's
    /// conversion error.
    fn check_numeric(&self, d: &hdf5_pure::Dataset, what: &str) -> Result<()> {
        use hdf5_pure::DType as T;
        let dt = guard(&self.path, what, || d.dtype())?;
        if matches!(
            dt,
            T::F32 | T::F64 | T::I8 | T::I16 | T::I32 | T::I64 | T::U8 | T::U16 | T::U32 | T::U64
        ) {
            Ok(())
        } else {
            Err(self.err(what, format!("has element type {dt}; expected numbers")))
        }
    }

    /// All values of string dataset `p` (fixed- or variable-length).
    pub(crate) fn read_strings(&self, p: &str) -> Result<Vec<String>> {
        let (d, what) = self.dataset(p)?;
        let dt = guard(&self.path, &what, || d.dtype())?;
        match dt {
            hdf5_pure::DType::VariableLengthString => {
                let opts = hdf5_pure::VlenStringReadOptions::new()
                    .with_max_payload_bytes(usize::try_from(self.size).unwrap_or(usize::MAX));
                guard(&self.path, &what, || d.read_vlen_strings(opts))
            }
            hdf5_pure::DType::String => guard(&self.path, &what, || d.read_string()),
            other => Err(self.err(what, format!("has element type {other}; expected strings"))),
        }
    }

    /// Checks that dataset `p` holds `n` elements in one dimension.
    pub(crate) fn expect_len(&self, p: &str, n: usize, meaning: &str) -> Result<()> {
        let shape = self.shape(p)?;
        if shape.len() != 1 || elements(&shape) != Some(n as u64) {
            return Err(self.err(
                format!("dataset /{p}"),
                format!("has shape {shape:?}; expected {n} entries ({meaning})"),
            ));
        }
        Ok(())
    }
}

/// Integer attribute array (e.g. an anndata sparse `shape`) as `u64`s.
pub(crate) fn attr_u64s(v: &AttrValue) -> Option<Vec<u64>> {
    v.to_u64s().or_else(|| v.as_u64().map(|x| vec![x]))
}

/// The message for a NaN, infinite or negative expression value.
pub(crate) fn bad_value_msg(x: f32) -> String {
    if x.is_finite() {
        format!(
            "negative value {x}; expression values must be ≥ 0 (give raw counts or normalised \
             values, not scaled data)"
        )
    } else {
        format!("value {x} is not finite; expression values must be finite numbers")
    }
}

/// Validates compressed sparse parts read from a file and builds a `Csr<f32>`
/// with `major` rows and `minor` columns (for CSC parts, the transpose),
/// reusing the `indices` and `data` buffers (no second copy of a large matrix).
///
/// `indices` must already be range-checked (see [`H5Reader::read_indices`]).
/// Checks indptr length, start, monotonicity and end, and values (finite, ≥ 0);
/// error positions name the dataset and entry, e.g. `X/data[12]`. Indices
/// unsorted within a row are sorted and duplicates summed (scipy's semantics
/// for such files); explicit zeros are dropped.
pub(crate) fn compressed_from_parts(
    path: &Path,
    group: &str,
    (major, minor): (usize, usize),
    indptr: Vec<i64>,
    mut indices: Vec<u32>,
    mut data: Vec<f32>,
) -> Result<Csr<f32>> {
    check_parts(path, group, major, &indptr, &indices, &data)?;
    // Compact in place: the write position `w` never passes the read position.
    let mut out_indptr = Vec::with_capacity(major + 1);
    out_indptr.push(0usize);
    let mut w = 0usize;
    let mut row: Vec<(u32, f32)> = Vec::new();
    for r in 0..major {
        let (a, b) = (indptr[r] as usize, indptr[r + 1] as usize);
        let row_start = w;
        if indices[a..b].windows(2).all(|p| p[0] < p[1]) {
            for k in a..b {
                if data[k] != 0.0 {
                    indices[w] = indices[k];
                    data[w] = data[k];
                    w += 1;
                }
            }
        } else {
            row.clear();
            row.extend(
                indices[a..b]
                    .iter()
                    .copied()
                    .zip(data[a..b].iter().copied()),
            );
            row.sort_by_key(|e| e.0);
            for &(c, v) in &row {
                if w > row_start && indices[w - 1] == c {
                    data[w - 1] += v;
                } else {
                    indices[w] = c;
                    data[w] = v;
                    w += 1;
                }
            }
            // Drop explicit zeros (and duplicate sums that are zero).
            let mut z = row_start;
            for k in row_start..w {
                if data[k] != 0.0 {
                    indices[z] = indices[k];
                    data[z] = data[k];
                    z += 1;
                }
            }
            w = z;
        }
        out_indptr.push(w);
    }
    indices.truncate(w);
    data.truncate(w);
    Ok(Csr {
        rows: major,
        cols: minor,
        indptr: out_indptr,
        indices,
        data,
    })
}

/// Checks that compressed parts are consistent: `indptr` of `major + 1`
/// non-decreasing entries from 0 to the number of values, as many indices as
/// values, values finite and ≥ 0.
fn check_parts(
    path: &Path,
    group: &str,
    major: usize,
    indptr: &[i64],
    indices: &[u32],
    data: &[f32],
) -> Result<()> {
    let at = |ds: &str, i: usize| Some(format!("{group}/{ds}[{i}]"));
    if indptr.len() != major + 1 {
        return Err(Error::input(
            path,
            Some(format!("{group}/indptr")),
            format!(
                "has {} entries; expected {} (one more than the {major} rows/columns of the \
                 stored shape)",
                indptr.len(),
                major + 1
            ),
        ));
    }
    if indices.len() != data.len() {
        return Err(Error::input(
            path,
            Some(format!("{group}/indices")),
            format!(
                "has {} entries but {group}/data has {}; they must match",
                indices.len(),
                data.len()
            ),
        ));
    }
    if indptr[0] != 0 {
        return Err(Error::input(
            path,
            at("indptr", 0),
            format!("is {}; must be 0", indptr[0]),
        ));
    }
    for i in 1..indptr.len() {
        if indptr[i] < indptr[i - 1] {
            return Err(Error::input(
                path,
                at("indptr", i),
                format!(
                    "{} is smaller than the previous entry {}; indptr must be non-decreasing",
                    indptr[i],
                    indptr[i - 1]
                ),
            ));
        }
    }
    if indptr[major] as u64 != data.len() as u64 {
        return Err(Error::input(
            path,
            at("indptr", major),
            format!(
                "last entry is {} but there are {} stored values; the file is inconsistent",
                indptr[major],
                data.len()
            ),
        ));
    }
    if let Some(p) = data.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::input(path, at("data", p), bad_value_msg(data[p])));
    }
    Ok(())
}

/// Makes `names` unique the way scanpy's `var_names_make_unique` does
/// (anndata's `make_index_unique`, join "-"): the first occurrence keeps its
/// name, later ones get "-1", "-2", … skipping any candidate already present.
/// Returns how many names were changed.
pub fn make_unique(names: &mut [String]) -> usize {
    let mut seen: HashSet<&str> = HashSet::with_capacity(names.len());
    let mut dup = vec![false; names.len()];
    let mut any = false;
    for (i, n) in names.iter().enumerate() {
        if !seen.insert(n.as_str()) {
            dup[i] = true;
            any = true;
        }
    }
    if !any {
        return 0;
    }
    let mut taken: HashSet<String> = names.iter().cloned().collect();
    let mut counter: HashMap<String, usize> = HashMap::new();
    let mut changed = 0;
    for (i, is_dup) in dup.into_iter().enumerate() {
        if !is_dup {
            continue;
        }
        let base = names[i].clone();
        let k = counter.entry(base.clone()).or_insert(0);
        loop {
            *k += 1;
            let candidate = format!("{base}-{k}");
            if taken.insert(candidate.clone()) {
                names[i] = candidate;
                changed += 1;
                break;
            }
        }
    }
    changed
}

/// Either the file root or a group being built: where datasets and groups go.
pub(crate) trait Parent {
    /// Starts a dataset named `name` here.
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
    /// Sets an attribute on this group.
    fn attr(&mut self, name: &str, v: AttrValue);
}

impl Parent for FileBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn attr(&mut self, name: &str, v: AttrValue) {
        self.set_attr(name, v);
    }
}

impl Parent for GroupBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn attr(&mut self, name: &str, v: AttrValue) {
        self.set_attr(name, v);
    }
}

/// A new group builder named `name` (the builder's constructor is only reachable
/// through a parent; this avoids needing one).
pub(crate) fn group(name: &str) -> GroupBuilder {
    FileBuilder::new().create_group(name)
}

/// Variable-length UTF-8 string attribute value (what h5py reads back as `str`).
pub(crate) fn vstr(s: &str) -> AttrValue {
    AttrValue::VarLenString(s.to_string())
}

/// Chunked gzip for a 1-D dataset of `len` elements when `level` is set and the
/// dataset is non-empty (a zero-size dataset cannot be chunked from its shape).
pub(crate) fn compress_1d(d: &mut DatasetBuilder, len: usize, level: Option<u32>) {
    if let Some(l) = level {
        if len > 0 {
            d.with_chunks(&[len.min(1 << 16) as u64]).with_deflate(l);
        }
    }
}

/// Writes `v` as a 1-D integer dataset `name`, as i32 when every value fits (as
/// anndata/scipy do for small matrices) and as i64 otherwise.
pub(crate) fn write_index_array<P: Parent>(
    p: &mut P,
    name: &str,
    v: impl ExactSizeIterator<Item = u64> + Clone,
    gzip: Option<u32>,
) {
    let len = v.len();
    let fits = v.clone().all(|x| x <= i32::MAX as u64);
    let d = p.dataset(name);
    if fits {
        let a: Vec<i32> = v.map(|x| x as i32).collect();
        d.with_i32_data(&a);
    } else {
        let a: Vec<i64> = v.map(|x| x as i64).collect();
        d.with_i64_data(&a);
    }
    compress_1d(d, len, gzip);
}

/// Writes the three parts of a compressed sparse matrix into `g`.
pub(crate) fn write_sparse_parts(
    g: &mut GroupBuilder,
    m: &Csr<f32>,
    data: SparseData,
    gzip: Option<u32>,
) {
    let dd = g.create_dataset("data");
    match data {
        SparseData::F32 => {
            dd.with_f32_data(&m.data);
        }
        SparseData::I32 => {
            let a: Vec<i32> = m.data.iter().map(|&v| v as i32).collect();
            dd.with_i32_data(&a);
        }
    }
    compress_1d(dd, m.nnz(), gzip);
    write_index_array(g, "indices", m.indices.iter().map(|&c| c as u64), gzip);
    write_index_array(g, "indptr", m.indptr.iter().map(|&c| c as u64), gzip);
}

/// Element type used to store sparse values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SparseData {
    /// 32-bit float.
    F32,
    /// 32-bit integer (only when every value is an integer in range).
    I32,
}

impl SparseData {
    /// `I32` when every value is integral and fits in i32, else `F32`.
    pub(crate) fn for_values(v: &[f32]) -> SparseData {
        if v.iter()
            .all(|&x| x.fract() == 0.0 && x.abs() <= i32::MAX as f32 && x.is_finite())
        {
            SparseData::I32
        } else {
            SparseData::F32
        }
    }
}

/// Converts an `hdf5-pure` write error into this crate's error for `path`.
pub(crate) fn write_err(path: &Path, e: hdf5_pure::Error) -> Error {
    match e {
        hdf5_pure::Error::Io(io) => Error::io(path, io),
        other => Error::io(
            path,
            std::io::Error::other(format!("HDF5 writer failed: {other}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn make_unique_matches_anndata() {
        // anndata.utils.make_index_unique(pd.Index(["a","a","b","a","a-1"]))
        // → ['a', 'a-2', 'b', 'a-3', 'a-1']
        let mut n = s(&["a", "a", "b", "a", "a-1"]);
        assert_eq!(make_unique(&mut n), 2);
        assert_eq!(n, s(&["a", "a-2", "b", "a-3", "a-1"]));
        let mut u = s(&["x", "y"]);
        assert_eq!(make_unique(&mut u), 0);
    }

    #[test]
    fn parts_sort_merge_and_drop_zeros() {
        let p = Path::new("f.h5");
        let m = compressed_from_parts(
            p,
            "X",
            (3, 3),
            vec![0, 3, 4, 6],
            vec![2, 0, 2, 1, 0, 2],
            vec![1.0, 2.0, 3.0, 0.0, 5.0, 6.0],
        )
        .unwrap();
        assert_eq!(m.indptr, vec![0, 2, 2, 4]);
        assert_eq!(m.indices, vec![0, 2, 0, 2]);
        assert_eq!(m.data, vec![2.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn parts_errors_name_the_entry() {
        let p = Path::new("f.h5");
        let e = compressed_from_parts(p, "X", (1, 3), vec![0, 2], vec![0, 1], vec![1.0, -1.0])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("X/data[1]") && e.contains("negative value -1"),
            "{e}"
        );
        let e = compressed_from_parts(p, "X", (2, 3), vec![0, 1, 0], vec![0], vec![1.0])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("X/indptr[2]") && e.contains("non-decreasing"),
            "{e}"
        );
        let e = compressed_from_parts(p, "X", (2, 3), vec![0, 1], vec![0], vec![1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("X/indptr") && e.contains("expected 3"), "{e}");
        let e = compressed_from_parts(p, "X", (1, 3), vec![0, 1], vec![0], vec![f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(e.contains("X/data[0]") && e.contains("not finite"), "{e}");
        let e = compressed_from_parts(p, "X", (1, 3), vec![0, 2], vec![0, 1], vec![1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("X/indices") && e.contains("must match"), "{e}");
    }

    #[test]
    fn guard_turns_panics_into_errors() {
        let r: Result<()> = guard(Path::new("f.h5"), "dataset /X", || panic!("boom"));
        let e = r.unwrap_err().to_string();
        assert!(e.contains("dataset /X") && e.contains("boom"), "{e}");
    }
}
