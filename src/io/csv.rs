//! Delimited text matrices (CSV/TSV, optionally gzipped), genes × cells like scGNN
//! (header row of cell ids, first column gene names) or cells × genes with
//! `cells_as_rows`. Streamed: one thread decompresses and splits lines, the rayon
//! pool parses batches, and only the non-zeros are kept, so memory is O(nnz).

use super::{open_maybe_gz, read_error, ReadOptions};
use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense, ExprMatrix, RowEntries};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Lines handed to the parser pool at once; large enough to amortise the hand-off,
/// small enough to keep memory flat.
const BATCH_BYTES: usize = 8 << 20;

/// One parsed data line: its name and the non-zero (column, value) pairs.
struct ParsedLine {
    name: String,
    idx: Vec<u32>,
    val: Vec<f32>,
}

/// Reads a delimited matrix. The delimiter is `delim` if given, otherwise guessed
/// from the header (tab if it has tabs and no commas, else comma).
pub fn read_delimited(path: &Path, opts: &ReadOptions, delim: Option<u8>) -> Result<ExprMatrix> {
    let mut reader = open_maybe_gz(path)?;
    let mut header = Vec::new();
    let n = reader
        .read_until(b'\n', &mut header)
        .map_err(|e| read_error(path, e))?;
    if n == 0 || header.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::input(
            path,
            Some("line 1".into()),
            "the file is empty; expected a header row of cell ids",
        ));
    }
    trim_eol(&mut header);
    let delim = delim.unwrap_or_else(|| guess_delimiter(&header));
    let header_fields: Vec<String> = split(&header, delim).map(unquote).collect();
    let (rows, n_fields) = parse_lines(path, reader, delim, header_fields.len())?;

    let nf = n_fields.ok_or_else(|| {
        Error::input(
            path,
            Some("line 2".into()),
            "the file has a header but no data lines",
        )
    })?;
    let cols: Vec<String> = if nf == header_fields.len() {
        header_fields[1..].to_vec()
    } else {
        header_fields
    };
    let row_names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let n_cols = cols.len();
    if n_cols == 0 {
        return Err(Error::input(
            path,
            Some("line 1".into()),
            "the header names no columns",
        ));
    }
    // Each parsed line is freed as soon as it is copied, and gene-per-line files
    // are scattered straight into the cells × genes layout: no second full copy.
    let x = if opts.cells_as_rows {
        concat_rows(rows, n_cols)
    } else {
        Csr::from_rows_transposed(rows, n_cols)
    };
    let (genes, cells) = if opts.cells_as_rows {
        (cols, row_names)
    } else {
        (row_names, cols)
    };
    check_unique(
        path,
        &genes,
        "gene",
        if opts.cells_as_rows {
            Where::Header
        } else {
            Where::Rows
        },
    )?;
    check_unique(
        path,
        &cells,
        "cell",
        if opts.cells_as_rows {
            Where::Rows
        } else {
            Where::Header
        },
    )?;
    let out = ExprMatrix { x, genes, cells };
    if opts.layout_check {
        check_layout(path, &out, opts.cells_as_rows)?;
    }
    Ok(out)
}

/// Parses the data lines: a producer thread decompresses and cuts batches of
/// whole lines, which are parsed in parallel. Returns the lines and the number
/// of fields per line (`None` when there is no data line).
fn parse_lines(
    path: &Path,
    mut reader: Box<dyn BufRead + Send>,
    delim: u8,
    n_header: usize,
) -> Result<(Vec<ParsedLine>, Option<usize>)> {
    let mut rows: Vec<ParsedLine> = Vec::new();
    // Data lines have one more field than the header when the header lacks the
    // corner cell (R's write.table default); decided on the first data line.
    let mut n_fields: Option<usize> = None;
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<std::io::Result<(usize, Vec<u8>, Vec<usize>)>>(2);
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            // Producer: decompress and cut into batches of whole lines.
            let mut first = 2usize;
            loop {
                let mut buf = Vec::with_capacity(BATCH_BYTES + (1 << 16));
                let mut ends = Vec::new();
                while buf.len() < BATCH_BYTES {
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) => break,
                        Ok(_) => ends.push(buf.len()),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                if ends.is_empty() {
                    return;
                }
                let count = ends.len();
                if tx.send(Ok((first, buf, ends))).is_err() {
                    return;
                }
                first += count;
            }
        });
        for msg in rx {
            let (first, buf, ends) = msg.map_err(|e| read_error(path, e))?;
            let mut spans = Vec::with_capacity(ends.len());
            let mut start = 0;
            for &end in &ends {
                spans.push((start, end));
                start = end;
            }
            if n_fields.is_none() {
                if let Some(&(a, b)) = spans.iter().find(|&&(a, b)| !is_blank(&buf[a..b])) {
                    let mut l = buf[a..b].to_vec();
                    trim_eol(&mut l);
                    n_fields = Some(split(&l, delim).count());
                }
            }
            let Some(nf) = n_fields else { continue };
            if nf != n_header && nf != n_header + 1 {
                return Err(Error::input(
                    path,
                    Some(format!("line {first}")),
                    format!(
                        "data line has {nf} fields but the header has {}; every line needs a name followed by one value per column",
                        n_header
                    ),
                ));
            }
            let parsed: Vec<Result<Option<ParsedLine>>> = spans
                .par_iter()
                .enumerate()
                .map(|(i, &(a, b))| parse_line(path, first + i, &buf[a..b], delim, nf))
                .collect();
            for p in parsed {
                if let Some(line) = p? {
                    rows.push(line);
                }
            }
        }
        Ok(())
    })?;
    Ok((rows, n_fields))
}

/// Parsed lines as the rows of a CSR matrix.
fn concat_rows(rows: Vec<ParsedLine>, n_cols: usize) -> Csr<f32> {
    let n_rows = rows.len();
    let nnz: usize = rows.iter().map(|r| r.idx.len()).sum();
    let mut indptr = Vec::with_capacity(n_rows + 1);
    indptr.push(0usize);
    let mut indices = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    for r in rows {
        indices.extend_from_slice(&r.idx);
        data.extend_from_slice(&r.val);
        indptr.push(indices.len());
    }
    Csr {
        rows: n_rows,
        cols: n_cols,
        indptr,
        indices,
        data,
    }
}

impl RowEntries<f32> for ParsedLine {
    fn entries(&self) -> (&[u32], &[f32]) {
        (&self.idx, &self.val)
    }
}

fn is_blank(l: &[u8]) -> bool {
    l.iter().all(|b| b.is_ascii_whitespace())
}

fn trim_eol(l: &mut Vec<u8>) {
    while matches!(l.last(), Some(b'\n') | Some(b'\r')) {
        l.pop();
    }
}

fn guess_delimiter(header: &[u8]) -> u8 {
    let tabs = header.iter().filter(|&&b| b == b'\t').count();
    let commas = header.iter().filter(|&&b| b == b',').count();
    if tabs > 0 && commas == 0 {
        b'\t'
    } else {
        b','
    }
}

fn split(line: &[u8], delim: u8) -> impl Iterator<Item = &[u8]> {
    line.split(move |&b| b == delim)
}

fn unquote(f: &[u8]) -> String {
    let s = String::from_utf8_lossy(f);
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t);
    t.to_string()
}

fn parse_line(
    path: &Path,
    line_no: usize,
    raw: &[u8],
    delim: u8,
    nf: usize,
) -> Result<Option<ParsedLine>> {
    let mut l = raw;
    while let Some((&last, rest)) = l.split_last() {
        if last == b'\n' || last == b'\r' {
            l = rest;
        } else {
            break;
        }
    }
    if is_blank(l) {
        return Ok(None);
    }
    let mut fields = split(l, delim);
    let name = unquote(fields.next().unwrap_or_default());
    let mut idx = Vec::new();
    let mut val = Vec::new();
    let mut count = 1usize;
    for (c, f) in fields.enumerate() {
        count += 1;
        if count > nf {
            continue;
        }
        let v = parse_value(f).ok_or_else(|| {
            let shown = String::from_utf8_lossy(f);
            Error::input(
                path,
                Some(format!("line {line_no}, column {}", c + 2)),
                format!(
                    "\"{}\" is not a number; expression values must be plain numbers",
                    shown.trim()
                ),
            )
        })?;
        if !v.is_finite() || v < 0.0 {
            return Err(Error::input(
                path,
                Some(format!("line {line_no}, column {}", c + 2)),
                format!("value {v} is not allowed; expression values must be finite and ≥ 0 (raw counts or normalised, not logged-with-negatives)"),
            ));
        }
        if v != 0.0 {
            idx.push(c as u32);
            val.push(v);
        }
    }
    if count != nf {
        return Err(Error::input(
            path,
            Some(format!("line {line_no}")),
            format!("this line has {count} fields but earlier lines have {nf}; the file is ragged (a truncated or malformed line?)"),
        ));
    }
    Ok(Some(ParsedLine { name, idx, val }))
}

/// Parses one value; a fast path for plain integers, the standard parser otherwise.
pub(crate) fn parse_value(f: &[u8]) -> Option<f32> {
    let mut f = f;
    while let [b' ' | b'"', rest @ ..] = f {
        f = rest;
    }
    while let [rest @ .., b' ' | b'"'] = f {
        f = rest;
    }
    if f.is_empty() {
        return None;
    }
    if f.len() <= 9 && f.iter().all(u8::is_ascii_digit) {
        let mut n: u32 = 0;
        for &b in f {
            n = n * 10 + (b - b'0') as u32;
        }
        return Some(n as f32);
    }
    std::str::from_utf8(f).ok()?.parse::<f32>().ok()
}

enum Where {
    Header,
    Rows,
}

fn check_unique(path: &Path, names: &[String], what: &str, at: Where) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if let Some(&j) = seen.get(n.as_str()) {
            let pos = match at {
                Where::Header => format!("line 1, columns {} and {}", j + 2, i + 2),
                Where::Rows => format!("lines {} and {}", j + 2, i + 2),
            };
            return Err(Error::input(
                path,
                Some(pos),
                format!("duplicate {what} name \"{n}\"; {what} names must be unique (rename or merge the duplicates)"),
            ));
        }
        seen.insert(n, i);
    }
    Ok(())
}

/// Flags a matrix whose names look like they are on the wrong axis: cell
/// barcodes where genes should be, or gene ids where cells should be.
fn check_layout(path: &Path, m: &ExprMatrix, cells_as_rows: bool) -> Result<()> {
    let frac = |names: &[String], f: fn(&str) -> bool| {
        let n = names.len().min(1000);
        if n == 0 {
            return 0.0;
        }
        names.iter().take(n).filter(|s| f(s)).count() as f64 / n as f64
    };
    let genes_look_like_cells = frac(&m.genes, looks_like_barcode) > 0.9;
    let cells_look_like_genes = frac(&m.cells, looks_like_gene_id) > 0.9;
    if genes_look_like_cells || cells_look_like_genes {
        let hint = if cells_as_rows {
            "drop --cells-as-rows (the file seems to be genes × cells)"
        } else {
            "pass --cells-as-rows (the file seems to be cells × genes)"
        };
        let what = if genes_look_like_cells {
            "the gene names look like cell barcodes"
        } else {
            "the cell ids look like gene ids"
        };
        return Err(Error::input(
            path,
            None,
            format!("the matrix looks transposed: {what}; {hint}, or --no-layout-check if this is wrong"),
        ));
    }
    Ok(())
}

fn looks_like_barcode(s: &str) -> bool {
    let core = s.split('-').next().unwrap_or("");
    core.len() >= 10 && core.bytes().all(|b| matches!(b, b'A' | b'C' | b'G' | b'T'))
}

fn looks_like_gene_id(s: &str) -> bool {
    s.starts_with("ENS")
        && s.len() >= 11
        && s.bytes().skip(4).filter(u8::is_ascii_digit).count() >= 6
}

/// Writes a dense matrix as a genes × cells CSV (scGNN's layout): the header is the
/// `corner` cell then the cell ids; each line is a gene name then one value per cell.
/// `values(cell, gene)` gives the entries; f32 values are written in their shortest
/// round-trip form.
pub fn write_genes_by_cells<W: Write>(
    mut w: W,
    corner: &str,
    genes: &[String],
    cells: &[String],
    gene_major: &Csr<f32>,
) -> std::io::Result<()> {
    write!(w, "{corner}")?;
    for c in cells {
        write!(w, ",{c}")?;
    }
    writeln!(w)?;
    let mut line = Vec::with_capacity(cells.len() * 4);
    for (g, name) in genes.iter().enumerate() {
        let (idx, val) = gene_major.row(g);
        sparse_line(
            &mut line,
            name,
            cells.len(),
            idx.iter().zip(val).map(|(&c, &v)| (c, v)),
        );
        w.write_all(&line)?;
    }
    Ok(())
}

/// Fills `line` with one text row: `name`, then `n` comma-separated values that are
/// zero except at the given (column, value) pairs (in increasing column order).
pub(crate) fn sparse_line(
    line: &mut Vec<u8>,
    name: &str,
    n: usize,
    entries: impl Iterator<Item = (u32, f32)>,
) {
    line.clear();
    line.extend_from_slice(name.as_bytes());
    let mut entries = entries.peekable();
    for c in 0..n as u32 {
        line.push(b',');
        match entries.peek() {
            Some(&(col, v)) if col == c => {
                push_f32(line, v);
                entries.next();
            }
            _ => line.push(b'0'),
        }
    }
    line.push(b'\n');
}

/// Writes a dense cells × genes matrix transposed, as genes × cells CSV.
pub fn write_dense_genes_by_cells<W: Write>(
    mut w: W,
    corner: &str,
    genes: &[String],
    cells: &[String],
    cells_by_genes: &Dense,
) -> std::io::Result<()> {
    write!(w, "{corner}")?;
    for c in cells {
        write!(w, ",{c}")?;
    }
    writeln!(w)?;
    // Formatting dominates (a million cells × 2 000 genes is 2e9 numbers), so blocks
    // of consecutive genes are formatted in parallel and written in order. A block
    // reads one contiguous run of each cell's row.
    const BLOCK: usize = 8;
    let n = cells.len();
    let in_flight = BLOCK * 2 * rayon::current_num_threads();
    for group in (0..genes.len()).collect::<Vec<_>>().chunks(in_flight) {
        let blocks: Vec<Vec<Vec<u8>>> = group
            .par_chunks(BLOCK)
            .map(|block| {
                let mut lines: Vec<Vec<u8>> = block
                    .iter()
                    .map(|&g| {
                        let mut l = Vec::with_capacity(n * 8 + genes[g].len() + 1);
                        l.extend_from_slice(genes[g].as_bytes());
                        l
                    })
                    .collect();
                for c in 0..n {
                    let row = &cells_by_genes.row(c)[block[0]..block[0] + block.len()];
                    for (l, &v) in lines.iter_mut().zip(row) {
                        l.push(b',');
                        push_f32(l, v);
                    }
                }
                lines.iter_mut().for_each(|l| l.push(b'\n'));
                lines
            })
            .collect();
        for line in blocks.iter().flatten() {
            w.write_all(line)?;
        }
    }
    Ok(())
}

/// Appends `v` in the shortest text that reads back as the same f32
/// (integers without a decimal point, like the canonical data sets).
pub(crate) fn push_f32(out: &mut Vec<u8>, v: f32) {
    // Writing to a Vec cannot fail; `write!` formats without a String per value.
    let _ = if v == v.trunc() && v.abs() < 1e9 {
        write!(out, "{}", v as i64)
    } else {
        write!(out, "{v}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_writer_matches_a_plain_loop() {
        // More genes than one parallel group and not a multiple of the block.
        let (n, g) = (5, 71);
        let mut d = Dense::zeros(n, g);
        for (k, v) in d.data.iter_mut().enumerate() {
            *v = if k % 3 == 0 {
                (k % 7) as f32
            } else {
                k as f32 * 0.013 - 1.5
            };
        }
        let cells: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let genes: Vec<String> = (0..g).map(|j| format!("g{j}")).collect();
        let mut got = Vec::new();
        write_dense_genes_by_cells(&mut got, "gene", &genes, &cells, &d).unwrap();
        let mut want = String::from("gene,c0,c1,c2,c3,c4\n");
        for (j, name) in genes.iter().enumerate() {
            want.push_str(name);
            for i in 0..n {
                let v = d.get(i, j);
                if v == v.trunc() {
                    want.push_str(&format!(",{}", v as i64));
                } else {
                    want.push_str(&format!(",{v}"));
                }
            }
            want.push('\n');
        }
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }

    #[test]
    fn parse_values() {
        assert_eq!(parse_value(b"0"), Some(0.0));
        assert_eq!(parse_value(b"123"), Some(123.0));
        assert_eq!(parse_value(b"1.5e2"), Some(150.0));
        assert_eq!(parse_value(b" 7 "), Some(7.0));
        assert_eq!(parse_value(b"abc"), None);
        assert_eq!(parse_value(b""), None);
    }

    #[test]
    fn shortest_f32_round_trips() {
        for v in [0.1f32, 1.0, 2.5e-7, 123456.78, 3.0e10] {
            let mut b = Vec::new();
            push_f32(&mut b, v);
            let s = String::from_utf8(b).unwrap();
            assert_eq!(s.parse::<f32>().unwrap(), v, "{s}");
        }
    }

    #[test]
    fn barcode_and_gene_heuristics() {
        assert!(looks_like_barcode("AAACCTGAGAAGGCCT-1"));
        assert!(!looks_like_barcode("cell_1"));
        assert!(looks_like_gene_id("ENSMUSG00000051951"));
        assert!(!looks_like_gene_id("Xkr4"));
    }
}
