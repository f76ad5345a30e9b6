//! In-memory matrices: a generic CSR sparse matrix, a row-major dense matrix and
//! the expression matrix (cells × genes, CSR, with names) that flows through the pipeline.

/// Compressed sparse row matrix. Column indices within a row are strictly increasing.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Csr<T> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row pointers, length `rows + 1`.
    pub indptr: Vec<usize>,
    /// Column index of every stored entry.
    pub indices: Vec<u32>,
    /// Value of every stored entry.
    pub data: Vec<T>,
}

/// A sparse row given as (sorted column indices, values).
pub trait RowEntries<T> {
    /// The row's column indices and values.
    fn entries(&self) -> (&[u32], &[T]);
}

impl<T> RowEntries<T> for (&[u32], &[T]) {
    fn entries(&self) -> (&[u32], &[T]) {
        (self.0, self.1)
    }
}

impl<T: Copy + Default + PartialEq> Csr<T> {
    /// An empty `rows × cols` matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Csr {
            rows,
            cols,
            indptr: vec![0; rows + 1],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Column indices and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[T]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Builds from (row, col, value) triplets; duplicates are summed by `add`
    /// only if the caller pre-merged them — here they must be unique.
    /// Entries equal to `T::default()` are dropped.
    pub fn from_triplets(rows: usize, cols: usize, mut t: Vec<(u32, u32, T)>) -> Self {
        t.retain(|e| e.2 != T::default());
        t.sort_unstable_by_key(|e| (e.0, e.1));
        let mut indptr = vec![0usize; rows + 1];
        for e in &t {
            indptr[e.0 as usize + 1] += 1;
        }
        for r in 0..rows {
            indptr[r + 1] += indptr[r];
        }
        let indices = t.iter().map(|e| e.1).collect();
        let data = t.iter().map(|e| e.2).collect();
        Csr {
            rows,
            cols,
            indptr,
            indices,
            data,
        }
    }

    /// The transpose, in O(nnz + rows + cols).
    pub fn transpose(&self) -> Csr<T> {
        let rows: Vec<(&[u32], &[T])> = (0..self.rows).map(|r| self.row(r)).collect();
        Csr::from_rows_transposed(rows, self.cols)
    }

    /// The transpose of the `rows.len() × n_cols` matrix whose rows are given as
    /// (sorted column indices, values). Rows are consumed in order, so a caller's
    /// owned rows are freed while the result fills, and every output row stays sorted.
    pub fn from_rows_transposed<R: RowEntries<T>>(rows: Vec<R>, n_cols: usize) -> Csr<T> {
        let n_rows = rows.len();
        let mut indptr = vec![0usize; n_cols + 1];
        for r in &rows {
            for &c in r.entries().0 {
                indptr[c as usize + 1] += 1;
            }
        }
        for c in 0..n_cols {
            indptr[c + 1] += indptr[c];
        }
        let nnz = indptr[n_cols];
        let mut next = indptr[..n_cols].to_vec();
        let mut indices = vec![0u32; nnz];
        let mut data = vec![T::default(); nnz];
        for (i, r) in rows.into_iter().enumerate() {
            let (ci, cv) = r.entries();
            for (&c, &v) in ci.iter().zip(cv) {
                let p = next[c as usize];
                indices[p] = i as u32;
                data[p] = v;
                next[c as usize] += 1;
            }
        }
        Csr {
            rows: n_cols,
            cols: n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// Keeps the given rows (in the given order).
    pub fn select_rows(&self, keep: &[usize]) -> Csr<T> {
        let mut indptr = Vec::with_capacity(keep.len() + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for &r in keep {
            let (ci, cv) = self.row(r);
            indices.extend_from_slice(ci);
            data.extend_from_slice(cv);
            indptr.push(indices.len());
        }
        Csr {
            rows: keep.len(),
            cols: self.cols,
            indptr,
            indices,
            data,
        }
    }

    /// Keeps the given columns (in the given order; the order must be a valid
    /// selection, each column at most once). Column indices are renumbered.
    pub fn select_cols(&self, keep: &[usize]) -> Csr<T> {
        let mut map = vec![u32::MAX; self.cols];
        for (new, &old) in keep.iter().enumerate() {
            map[old] = new as u32;
        }
        let mut indptr = Vec::with_capacity(self.rows + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        let mut buf: Vec<(u32, T)> = Vec::new();
        for r in 0..self.rows {
            buf.clear();
            let (ci, cv) = self.row(r);
            for (&c, &v) in ci.iter().zip(cv) {
                let m = map[c as usize];
                if m != u32::MAX {
                    buf.push((m, v));
                }
            }
            buf.sort_unstable_by_key(|e| e.0);
            for &(c, v) in &buf {
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        Csr {
            rows: self.rows,
            cols: keep.len(),
            indptr,
            indices,
            data,
        }
    }
}

impl Csr<f32> {
    /// Dense row-major copy of rows `r0..r1`.
    pub fn dense_rows(&self, r0: usize, r1: usize) -> Dense {
        let mut d = Dense::zeros(r1 - r0, self.cols);
        for r in r0..r1 {
            let (ci, cv) = self.row(r);
            let out = d.row_mut(r - r0);
            for (&c, &v) in ci.iter().zip(cv) {
                out[c as usize] = v;
            }
        }
        d
    }

    /// Dense row-major copy of the whole matrix. Only for matrices known to be small
    /// (e.g. after selecting the variable genes).
    pub fn to_dense(&self) -> Dense {
        self.dense_rows(0, self.rows)
    }

    /// Sparse copy of a dense matrix, dropping exact zeros.
    pub fn from_dense(d: &Dense) -> Csr<f32> {
        let mut indptr = Vec::with_capacity(d.rows + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for r in 0..d.rows {
            for (c, &v) in d.row(r).iter().enumerate() {
                if v != 0.0 {
                    indices.push(c as u32);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Csr {
            rows: d.rows,
            cols: d.cols,
            indptr,
            indices,
            data,
        }
    }
}

/// Dense row-major `f32` matrix.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dense {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

impl Dense {
    /// A zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Dense {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps row-major data; panics if the length is wrong (a programming error).
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), rows * cols, "Dense::from_vec: wrong length");
        Dense { rows, cols, data }
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Row `r`, mutable.
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Element `(r, c)`.
    pub fn get(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.cols + c]
    }

    /// Copies the given rows into a new matrix.
    pub fn select_rows(&self, rows: &[usize]) -> Dense {
        let mut out = Dense::zeros(rows.len(), self.cols);
        for (i, &r) in rows.iter().enumerate() {
            out.row_mut(i).copy_from_slice(self.row(r));
        }
        out
    }
}

/// The expression matrix: cells × genes, sparse, with gene names and cell ids.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprMatrix {
    /// Values, cells × genes.
    pub x: Csr<f32>,
    /// Gene names (length = number of columns).
    pub genes: Vec<String>,
    /// Cell ids (length = number of rows).
    pub cells: Vec<String>,
}

impl ExprMatrix {
    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.x.rows
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.x.cols
    }

    /// Keeps the given cells (rows).
    pub fn select_cells(&self, keep: &[usize]) -> ExprMatrix {
        ExprMatrix {
            x: self.x.select_rows(keep),
            genes: self.genes.clone(),
            cells: keep.iter().map(|&i| self.cells[i].clone()).collect(),
        }
    }

    /// Keeps the given genes (columns), in the given order.
    pub fn select_genes(&self, keep: &[usize]) -> ExprMatrix {
        ExprMatrix {
            x: self.x.select_cols(keep),
            genes: keep.iter().map(|&j| self.genes[j].clone()).collect(),
            cells: self.cells.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Csr<f32> {
        Csr::from_triplets(
            3,
            4,
            vec![(0, 1, 1.0), (2, 3, 2.0), (1, 0, 3.0), (0, 3, 4.0)],
        )
    }

    #[test]
    fn transpose_twice_is_identity() {
        let m = small();
        let t = m.transpose();
        assert_eq!(t.rows, 4);
        assert_eq!(t.to_dense().get(3, 0), 4.0);
        assert_eq!(t.transpose(), m);
    }

    #[test]
    fn select_cols_renumbers() {
        let m = small().select_cols(&[3, 1]);
        let d = m.to_dense();
        assert_eq!(d.row(0), &[4.0, 1.0]);
        assert_eq!(d.row(2), &[2.0, 0.0]);
    }

    #[test]
    fn dense_round_trip() {
        let m = small();
        assert_eq!(Csr::from_dense(&m.to_dense()), m);
    }
}
