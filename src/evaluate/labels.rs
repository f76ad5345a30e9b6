//! Reading label and embedding files for evaluation, and matching two label
//! files by cell id.
//!
//! Accepted label files: scGNN's (and our) `<name>_results.txt` (header
//! `,Celltype`, rows `cell,label`), the `labels.csv` of the shared datasets
//! (header `cell_id,label`), and any `cell,label` table with or without a header,
//! comma- or tab-separated, optionally gzipped (`.gz`). Fields may be quoted as
//! pandas quotes them.

use crate::error::{Error, Result};
use crate::matrix::Dense;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// First-column names that mark a header line.
const ID_HEADERS: &[&str] = &[
    "cell",
    "cells",
    "cell_id",
    "cellid",
    "cell_name",
    "cellname",
    "barcode",
    "barcodes",
    "id",
    "index",
    "obs_names",
    "sample",
];

/// Second-column names that mark a header line.
const LABEL_HEADERS: &[&str] = &[
    "label",
    "labels",
    "celltype",
    "cell_type",
    "cluster",
    "clusters",
    "class",
    "type",
    "truth",
    "group",
    "annotation",
];

/// Whole file as text, gunzipped when the name ends in `.gz`.
fn read_text(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    let gz = path.extension().is_some_and(|e| e == "gz");
    let res = if gz {
        flate2::read::MultiGzDecoder::new(file).read_to_string(&mut text)
    } else {
        std::io::BufReader::new(file).read_to_string(&mut text)
    };
    match res {
        Ok(_) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(Error::input(
            path,
            None,
            "not UTF-8 text (or a corrupt .gz); expected a CSV/TSV table",
        )),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Non-empty lines with their 1-based line numbers, `\r` stripped.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Tab if the first line has one, comma otherwise.
fn detect_delimiter(first: &str) -> char {
    if first.contains('\t') {
        '\t'
    } else {
        ','
    }
}

/// Splits one line, honouring double-quoted fields with `""` escapes.
fn split_fields(line: &str, delim: char) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == delim {
            out.push(std::mem::take(&mut field).trim().to_string());
            at_start = true;
        } else {
            field.push(c);
            if !c.is_whitespace() {
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(field.trim().to_string());
    Ok(out)
}

fn is_label_header(f: &[String]) -> bool {
    let low = |s: &str| s.to_ascii_lowercase();
    f[0].is_empty()
        || ID_HEADERS.contains(&low(&f[0]).as_str())
        || LABEL_HEADERS.contains(&low(&f[1]).as_str())
}

/// Reads `(cell id, label)` pairs in file order. A first line is taken as a
/// header when its first field is empty (pandas index, as in `_results.txt`),
/// is a usual id column name (`cell`, `cell_id`, `barcode`, …) or its second
/// field is a usual label column name (`label`, `celltype`, `cluster`, …).
/// Columns after the second are ignored. Duplicate ids, empty ids or labels,
/// and lines with a single field are errors naming the line.
pub fn read_labels(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read_text(path)?;
    let mut it = lines(&text).peekable();
    let Some(&(_, first)) = it.peek() else {
        return Err(Error::input(
            path,
            None,
            "empty label file; expected `cell,label` rows",
        ));
    };
    let delim = detect_delimiter(first);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first_line = true;
    for (no, line) in it {
        let pos = Some(format!("line {no}"));
        let f = split_fields(line, delim).map_err(|m| Error::input(path, pos.clone(), m))?;
        if f.len() < 2 {
            return Err(Error::input(
                path,
                pos,
                format!(
                    "expected two columns `cell{}label`, found one (`{line}`); a file of bare labels without cell ids cannot be matched",
                    if delim == '\t' { "<TAB>" } else { "," }
                ),
            ));
        }
        if std::mem::take(&mut first_line) && is_label_header(&f) {
            continue;
        }
        let (id, label) = (&f[0], &f[1]);
        if id.is_empty() {
            return Err(Error::input(path, pos, "empty cell id"));
        }
        if label.is_empty() {
            return Err(Error::input(
                path,
                pos,
                format!("empty label for cell `{id}`; remove unlabelled cells from the file"),
            ));
        }
        if let Some(prev) = seen.insert(id.clone(), no) {
            return Err(Error::input(
                path,
                pos,
                format!("cell id `{id}` appears twice (also on line {prev})"),
            ));
        }
        out.push((id.clone(), label.clone()));
    }
    if out.is_empty() {
        return Err(Error::input(path, None, "no label rows after the header"));
    }
    Ok(out)
}

/// Two label files matched by cell id, with labels encoded as integers.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchedLabels {
    /// The common cell ids, in the prediction file's order.
    pub cells: Vec<String>,
    /// Predicted label codes (index into `pred_names`), one per common cell.
    pub pred: Vec<usize>,
    /// Reference label codes (index into `truth_names`), one per common cell.
    pub truth: Vec<usize>,
    /// Predicted label names by code, in order of first appearance.
    pub pred_names: Vec<String>,
    /// Reference label names by code, in order of first appearance.
    pub truth_names: Vec<String>,
    /// Number of cells present in both files.
    pub n_common: usize,
    /// Cells of the prediction missing from the reference.
    pub only_in_pred: usize,
    /// Cells of the reference missing from the prediction.
    pub only_in_truth: usize,
    /// Set when some ids did not match; the caller should show it to the user.
    pub warning: Option<String>,
}

/// Encodes `label` as an integer, growing `names` on first sight.
fn code(label: &str, names: &mut Vec<String>, index: &mut HashMap<String, usize>) -> usize {
    if let Some(&c) = index.get(label) {
        return c;
    }
    names.push(label.to_string());
    index.insert(label.to_string(), names.len() - 1);
    names.len() - 1
}

/// Matches a prediction with a reference by cell id. The paths are only used in
/// messages. Errors when no id is shared; sets `warning` when some are not.
pub fn match_labels(
    pred_path: &Path,
    pred: &[(String, String)],
    truth_path: &Path,
    truth: &[(String, String)],
) -> Result<MatchedLabels> {
    let tmap: HashMap<&str, &str> = truth
        .iter()
        .map(|(c, l)| (c.as_str(), l.as_str()))
        .collect();
    let mut m = MatchedLabels {
        cells: Vec::new(),
        pred: Vec::new(),
        truth: Vec::new(),
        pred_names: Vec::new(),
        truth_names: Vec::new(),
        n_common: 0,
        only_in_pred: 0,
        only_in_truth: 0,
        warning: None,
    };
    let (mut pidx, mut tidx) = (HashMap::new(), HashMap::new());
    for (cell, pl) in pred {
        match tmap.get(cell.as_str()) {
            Some(tl) => {
                m.cells.push(cell.clone());
                m.pred.push(code(pl, &mut m.pred_names, &mut pidx));
                m.truth.push(code(tl, &mut m.truth_names, &mut tidx));
            }
            None => m.only_in_pred += 1,
        }
    }
    m.n_common = m.cells.len();
    m.only_in_truth = truth.len() - m.n_common;
    if m.n_common == 0 {
        let ex = |v: &[(String, String)]| v.first().map(|e| e.0.clone()).unwrap_or_default();
        return Err(Error::input(
            pred_path,
            None,
            format!(
                "no cell id in common with the reference labels {} (e.g. `{}` here, `{}` there). \
                 Likely cause: the wrong file, a header line read as a cell, or ids written \
                 differently (both files need the cell names of the same matrix)",
                truth_path.display(),
                ex(pred),
                ex(truth)
            ),
        ));
    }
    if m.only_in_pred > 0 || m.only_in_truth > 0 {
        m.warning = Some(format!(
            "{} cells of {} are not in {} and {} cells of the reference are not in the prediction; \
             scoring the {} common cells",
            m.only_in_pred,
            pred_path.display(),
            truth_path.display(),
            m.only_in_truth,
            m.n_common
        ));
    }
    Ok(m)
}

/// Reads both label files and matches them (see [`read_labels`], [`match_labels`]).
pub fn read_and_match(pred_path: &Path, truth_path: &Path) -> Result<MatchedLabels> {
    let pred = read_labels(pred_path)?;
    let truth = read_labels(truth_path)?;
    match_labels(pred_path, &pred, truth_path, &truth)
}

/// Reads an embedding table `<name>_embedding.csv`: first column the cell id,
/// then one numeric column per dimension. A first line whose second field is not
/// a number (e.g. `,embedding0,embedding1,…`) is a header. Comma or tab separated,
/// optionally gzipped.
pub fn read_embedding(path: &Path) -> Result<(Vec<String>, Dense)> {
    let text = read_text(path)?;
    let mut it = lines(&text).peekable();
    let Some(&(_, first)) = it.peek() else {
        return Err(Error::input(path, None, "empty embedding file"));
    };
    let delim = detect_delimiter(first);
    let mut ids = Vec::new();
    let mut data: Vec<f32> = Vec::new();
    let mut dim: Option<usize> = None;
    let mut first_line = true;
    for (no, line) in it {
        let pos = Some(format!("line {no}"));
        let f = split_fields(line, delim).map_err(|m| Error::input(path, pos.clone(), m))?;
        if std::mem::take(&mut first_line) && (f.len() < 2 || f[1].parse::<f32>().is_err()) {
            continue;
        }
        if f.len() < 2 {
            return Err(Error::input(
                path,
                pos,
                "expected a cell id and at least one value",
            ));
        }
        let d = f.len() - 1;
        match dim {
            None => dim = Some(d),
            Some(e) if e != d => {
                return Err(Error::input(
                    path,
                    pos,
                    format!("{d} values where the previous rows have {e}"),
                ))
            }
            _ => {}
        }
        for (k, v) in f[1..].iter().enumerate() {
            let x: f32 = v.parse().map_err(|_| {
                Error::input(
                    path,
                    Some(format!("line {no}, column {}", k + 2)),
                    format!("`{v}` is not a number"),
                )
            })?;
            if !x.is_finite() {
                return Err(Error::input(
                    path,
                    Some(format!("line {no}, column {}", k + 2)),
                    format!("non-finite value `{v}`"),
                ));
            }
            data.push(x);
        }
        ids.push(f[0].clone());
    }
    let Some(d) = dim else {
        return Err(Error::input(
            path,
            None,
            "no embedding rows after the header",
        ));
    };
    let n = ids.len();
    Ok((ids, Dense::from_vec(n, d, data)))
}

/// The rows of an embedding for the given cells, in their order. `path` names
/// the embedding file in the error raised when a cell is missing from it.
pub fn embedding_rows(path: &Path, ids: &[String], emb: &Dense, cells: &[String]) -> Result<Dense> {
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut rows = Vec::with_capacity(cells.len());
    let mut missing: Vec<&str> = Vec::new();
    for c in cells {
        match index.get(c.as_str()) {
            Some(&i) => rows.push(i),
            None => missing.push(c),
        }
    }
    if let Some(m) = missing.first() {
        return Err(Error::input(
            PathBuf::from(path),
            None,
            format!(
                "{} labelled cells (e.g. `{m}`) have no row in the embedding; use the embedding of the same run",
                missing.len()
            ),
        ));
    }
    Ok(emb.select_rows(&rows))
}
