//! The output files of a run, in exactly the formats scGNN writes (spec §10), so
//! that scripts written for scGNN's outputs keep working. Every file is written to
//! a temporary name and renamed when complete.

use super::atomic::write_atomic;
use super::csv::{push_f32, write_dense_genes_by_cells, write_genes_by_cells};
use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense, ExprMatrix};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Opens `tmp` for buffered writing, gzip-compressed if `dest` ends in `.gz`, runs
/// `body`, and flushes everything.
fn with_writer(
    dest: &Path,
    tmp: &Path,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    let buf = BufWriter::with_capacity(1 << 20, f);
    let io = |e| Error::io(dest, e);
    if dest.extension().is_some_and(|e| e == "gz") {
        let mut w = GzEncoder::new(buf, Compression::fast());
        body(&mut w).map_err(io)?;
        w.finish().map_err(io)?.flush().map_err(io)
    } else {
        let mut w = buf;
        body(&mut w).map_err(io)?;
        w.flush().map_err(io)
    }
}

/// Writes a text file atomically through `body` (gzip if the name ends in `.gz`).
pub fn write_text(
    dest: &Path,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    write_atomic(dest, |tmp| with_writer(dest, tmp, body))
}

/// `<name>_recon.csv`: the imputed matrix, genes × cells; header: empty corner then
/// cell ids; first column gene names.
pub fn write_recon(dest: &Path, genes: &[String], cells: &[String], recon: &Dense) -> Result<()> {
    write_text(dest, |w| {
        write_dense_genes_by_cells(w, "", genes, cells, recon)
    })
}

/// An expression matrix as a genes × cells CSV in the canonical layout of
/// `../shared/data` (corner cell `gene`).
pub fn write_matrix_csv(dest: &Path, m: &ExprMatrix) -> Result<()> {
    let gene_major = m.x.transpose();
    write_text(dest, |w| {
        write_genes_by_cells(w, "gene", &m.genes, &m.cells, &gene_major)
    })
}

/// `<name>_embedding.csv`: cells × d; header: empty corner then `embedding0..`.
pub fn write_embedding(dest: &Path, cells: &[String], emb: &Dense) -> Result<()> {
    write_text(dest, |w| {
        for j in 0..emb.cols {
            write!(w, ",embedding{j}")?;
        }
        writeln!(w)?;
        let mut line = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            line.clear();
            line.extend_from_slice(c.as_bytes());
            for &v in emb.row(i) {
                line.push(b',');
                push_f32(&mut line, v);
            }
            line.push(b'\n');
            w.write_all(&line)?;
        }
        Ok(())
    })
}

/// `<name>_graph.csv`: the directed KNN edge list `NodeA,NodeB,Weights` with
/// 0-based cell positions and weights written as `1.0` (kept) or `0.0` (pruned).
pub fn write_graph(dest: &Path, edges: impl Iterator<Item = (u32, u32, f32)>) -> Result<()> {
    write_text(dest, |w| {
        writeln!(w, "NodeA,NodeB,Weights")?;
        for (a, b, wt) in edges {
            writeln!(w, "{a},{b},{wt:.1}")?;
        }
        Ok(())
    })
}

/// `<name>_results.txt`: CSV despite the name; header `,Celltype`, rows `cell,label`.
pub fn write_results(dest: &Path, cells: &[String], labels: &[usize]) -> Result<()> {
    write_text(dest, |w| {
        writeln!(w, ",Celltype")?;
        for (c, l) in cells.iter().zip(labels) {
            writeln!(w, "{c},{l}")?;
        }
        Ok(())
    })
}

/// Ground-truth style labels `cell_id,label` (the simulator's `labels.csv`).
pub fn write_labels(dest: &Path, cells: &[String], labels: &[String]) -> Result<()> {
    write_text(dest, |w| {
        writeln!(w, "cell_id,label")?;
        for (c, l) in cells.iter().zip(labels) {
            writeln!(w, "{c},{l}")?;
        }
        Ok(())
    })
}

/// LTMG states: `.h5ad` → X = the log expression, `layers["ltmg"]` = the states;
/// anything else → the states as a genes × cells CSV.
pub fn write_ltmg(dest: &Path, expr: &ExprMatrix, states: &Csr<u8>) -> Result<()> {
    let as_f32 = Csr {
        rows: states.rows,
        cols: states.cols,
        indptr: states.indptr.clone(),
        indices: states.indices.clone(),
        data: states.data.iter().map(|&s| s as f32).collect(),
    };
    if dest.extension().is_some_and(|e| e == "h5ad") {
        let mut h = super::h5ad::H5adOutput::new(
            super::h5ad::XData::Csr(&expr.x),
            &expr.cells,
            &expr.genes,
        );
        h.extra_layers.push(("ltmg", &as_f32));
        super::h5ad::write_h5ad(dest, h)
    } else {
        let m = ExprMatrix {
            x: as_f32,
            genes: expr.genes.clone(),
            cells: expr.cells.clone(),
        };
        write_matrix_csv(dest, &m)
    }
}
