//! The one carrier of a run, in AnnData's shape: the names, the working matrix,
//! the counts, the per-cell results and the report. Stages take the parts they
//! consume (`Option::take`) and put their results back, so memory is released
//! because ownership moves, not because a caller remembers to empty a field.

use super::report::Report;
use crate::error::{Error, Result};
use crate::graph::CellGraph;
use crate::io::columns::Columns;
use crate::ltmg::Ltmg;
use crate::matrix::{Csr, Dense};
use crate::preprocess::{Preprocessed, Transform};
use rayon::prelude::*;

/// How the working matrix relates to the counts, to map results back to them.
#[derive(Clone, Debug, PartialEq)]
pub struct CountScale {
    /// Factor each cell's raw values were multiplied by before the transform.
    pub size_factors: Vec<f32>,
    /// The transform that produced `X` from the normalised values.
    pub transform: Transform,
}

impl CountScale {
    /// Maps a matrix on the transformed scale (ln(1 + normalised value)) back to
    /// raw counts in place: expm1, then divided by the cell's size factor.
    pub fn to_counts(&self, m: &mut Dense) {
        let log = self.transform == Transform::Log;
        self.map_cells(m, |v, f| {
            let x = if log { v.exp_m1() } else { v };
            x.max(0.0) / f
        });
    }

    /// Maps E[ln(1 + count)] on each cell's own count scale (what
    /// [`crate::impute`] gives) to the working scale in place, the inverse of
    /// [`Self::to_counts`] after its ln(1 + ·).
    pub fn from_log_counts(&self, m: &mut Dense) {
        let log = self.transform == Transform::Log;
        self.map_cells(m, |v, f| {
            let normalised = v.exp_m1().max(0.0) * f;
            if log {
                normalised.ln_1p()
            } else {
                normalised
            }
        });
    }

    /// `v ← f(v, size factor of v's cell)` for every entry of `m` (cells × genes).
    fn map_cells(&self, m: &mut Dense, f: impl Fn(f32, f32) -> f32 + Sync) {
        m.data
            .par_chunks_mut(m.cols.max(1))
            .zip(self.size_factors.par_iter())
            .for_each(|(row, &s)| row.iter_mut().for_each(|v| *v = f(*v, s)));
    }

    /// The normalised values before the transform (counts times the size
    /// factors): what LTMG models.
    pub fn normalised<'a>(&self, counts: &'a Csr<f32>) -> std::borrow::Cow<'a, Csr<f32>> {
        if self.size_factors.iter().all(|&f| f == 1.0) {
            return std::borrow::Cow::Borrowed(counts);
        }
        let mut c = counts.clone();
        crate::preprocess::scale_rows(&mut c, &self.size_factors);
        std::borrow::Cow::Owned(c)
    }
}

/// One data set flowing through a run. Rows are cells (`obs`), columns the kept
/// genes (`var`); every per-cell field is in `cells` order.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Name of the output files (`<name>_recon.csv`, …).
    pub name: String,
    /// Where the data came from: the input path, or `built-in demo`.
    pub source: String,
    /// `obs_names`: cell ids.
    pub cells: Vec<String>,
    /// `var_names`: kept genes.
    pub genes: Vec<String>,
    /// `X`: the working matrix (cells × genes, transformed). The method takes it.
    pub x: Option<Csr<f32>>,
    /// `layers["counts"]`: the raw values of the same cells and genes.
    pub counts: Option<Csr<f32>>,
    /// Maps the working scale back to counts.
    pub scale: Option<CountScale>,
    /// Positions of the kept cells in the input.
    pub kept_cells: Vec<usize>,
    /// Positions of the kept genes in the input, in input order.
    pub kept_genes: Vec<usize>,
    /// `obs["truth"]`: reference labels, for evaluation and figures only (never
    /// seen by the method); cells the reference lacks hold `plot::UNLABELLED`.
    pub truth: Option<Vec<String>>,
    /// `obs["cluster"]`: final cluster labels (0..K−1).
    pub clusters: Option<Vec<usize>>,
    /// `obsm["X_scgnn"]`: the final clustering embedding.
    pub embedding: Option<Dense>,
    /// `obsp["scgnn_graph"]`: the final cell graph.
    pub graph: Option<CellGraph>,
    /// The imputed matrix (cells × genes, on `X`'s scale); the output `X`.
    pub imputed: Option<Dense>,
    /// LTMG regulatory states, when a regularizer used them.
    pub ltmg: Option<Ltmg>,
    /// The input's `obs` columns, for the kept cells (`.h5ad` input).
    pub obs_columns: Columns,
    /// The input's `var` columns, for the kept genes (`.h5ad` input).
    pub var_columns: Columns,
    /// The typed run report (`uns["scgnn_json"]`, `<name>_report.json`).
    pub report: Report,
}

impl Dataset {
    /// The carrier of preprocessed data, before the method runs.
    pub fn from_preprocessed(pre: Preprocessed, name: &str, source: &str) -> Self {
        let Preprocessed {
            expr,
            counts,
            size_factors,
            transform,
            kept_cells,
            kept_genes,
        } = pre;
        Dataset {
            name: name.to_string(),
            source: source.to_string(),
            cells: expr.cells,
            genes: expr.genes,
            x: Some(expr.x),
            counts: Some(counts),
            scale: Some(CountScale {
                size_factors,
                transform,
            }),
            kept_cells,
            kept_genes,
            ..Default::default()
        }
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.cells.len()
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// The working matrix, or an error naming the stage that needed it.
    pub fn x(&self, stage: &str) -> Result<&Csr<f32>> {
        self.x.as_ref().ok_or_else(|| {
            Error::Usage(format!("{stage}: the working matrix was already released"))
        })
    }

    /// The final cluster labels, or an error naming the stage that needed them.
    pub fn clusters(&self, stage: &str) -> Result<&[usize]> {
        self.clusters
            .as_deref()
            .ok_or_else(|| Error::Usage(format!("{stage}: the data set has no clusters yet")))
    }

    /// Number of clusters (0 before clustering).
    pub fn n_clusters(&self) -> usize {
        self.clusters
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |m| m + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_counts_map_to_the_working_scale_and_back() {
        let scale = CountScale {
            size_factors: vec![0.5, 2.0],
            transform: Transform::Log,
        };
        let counts = [0.0f32, 3.0, 10.0, 1.5];
        let mut m = Dense::from_vec(2, 2, counts.iter().map(|c| c.ln_1p()).collect());
        scale.from_log_counts(&mut m);
        // Cell 1 has size factor 2: 10 counts are 20 normalised.
        assert!((m.get(1, 0) - 20f32.ln_1p()).abs() < 1e-5);
        scale.to_counts(&mut m);
        for (got, want) in m.data.iter().zip(counts) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }
}
