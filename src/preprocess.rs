//! Preprocessing as scGNN does it (spec §1.1): keep genes expressed in at least
//! 1 % of cells, then cells expressing at least 1 % of the kept genes, then the
//! 2 000 genes of largest variance of the raw values, then ln(1 + x).
//!
//! One deliberate addition, on by default: library-size normalisation
//! (`--normalize total`). Each kept cell is scaled to the median total count of the
//! kept cells (over the genes that passed the gene filter) before the variance
//! ranking and the log, as scanpy's `normalize_total` does. scGNN skips this, so its
//! clusters follow sequencing depth on UMI data: PCA + KMeans on
//! ../shared/data/worm_neuron reaches ARI 0.13 without and 0.46 with it (goolam
//! 0.54 → 0.76, chung unchanged at 0.28). `--normalize none` restores scGNN's rule.
//!
//! scGNN's two input paths rank genes by different statistics (§1.1 vs §1.2); we use
//! the CSV path's rule for every format so that the format never changes the result.
//! The kept genes stay in their input order (scGNN's CSV path writes them by
//! ascending variance; the set is the same).

use crate::error::{Error, Result};
use crate::matrix::{Csr, ExprMatrix};
use rayon::prelude::*;

/// Value transform applied after selection.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Transform {
    /// ln(1 + x) (scGNN's `--transform log`).
    #[value(alias = "log1p")]
    Log,
    /// Values unchanged (input already logged).
    #[value(alias = "no")]
    None,
}

crate::choice::value_enum_str!(Transform, "--transform");

/// Per-cell depth normalisation applied before the variance ranking and the log.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Normalize {
    /// Scale every cell to the median library size of the kept cells (default).
    #[value(alias = "median")]
    Total,
    /// Raw values, as scGNN does.
    #[value(alias = "no")]
    None,
}

crate::choice::value_enum_str!(Normalize, "--normalize");

/// Preprocessing parameters, defaults from scGNN's `PreprocessingscGNN.py` (spec §1.3)
/// plus the library-size normalisation described in the module docs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PreprocessParams {
    /// A gene is kept if its fraction of non-zero cells is ≥ 1 − `gene_ratio` (0.99).
    pub gene_ratio: f64,
    /// A cell is kept if its fraction of non-zero kept genes is ≥ 1 − `cell_ratio` (0.99).
    pub cell_ratio: f64,
    /// Number of most variable genes to keep (2000; all genes if fewer remain).
    pub n_top_genes: usize,
    /// Transform applied to the kept values.
    pub transform: Transform,
    /// Library-size normalisation (`total`, our default; scGNN: `none`).
    pub normalize: Normalize,
}

impl Default for PreprocessParams {
    fn default() -> Self {
        PreprocessParams {
            gene_ratio: 0.99,
            cell_ratio: 0.99,
            n_top_genes: 2000,
            transform: Transform::Log,
            normalize: Normalize::Total,
        }
    }
}

impl PreprocessParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("--geneRatio", self.gene_ratio),
            ("--cellRatio", self.cell_ratio),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::Usage(format!(
                    "{name} must be between 0 and 1, got {v}"
                )));
            }
        }
        if self.n_top_genes == 0 {
            return Err(Error::Usage("--geneSelectnum must be at least 1".into()));
        }
        Ok(())
    }
}

/// The result of preprocessing.
#[derive(Clone, Debug)]
pub struct Preprocessed {
    /// Transformed values of the kept cells and genes (cells × genes).
    pub expr: ExprMatrix,
    /// Raw values of the same cells and genes (`layers["counts"]`, benchmarks).
    pub counts: Csr<f32>,
    /// Factor each cell's raw values were multiplied by before the transform
    /// (all 1 without normalisation); maps outputs back to the count scale.
    pub size_factors: Vec<f32>,
    /// The transform that produced `expr` from the normalised values.
    pub transform: Transform,
    /// Indices of the kept cells in the input.
    pub kept_cells: Vec<usize>,
    /// Indices of the kept genes in the input, in input order.
    pub kept_genes: Vec<usize>,
}

/// Per-column (gene) non-zero counts restricted to `rows`.
fn gene_nonzeros(x: &Csr<f32>) -> Vec<u64> {
    let mut nz = vec![0u64; x.cols];
    for &c in &x.indices {
        nz[c as usize] += 1;
    }
    nz
}

/// Runs the filters, the variable-gene selection and the transform.
pub fn preprocess(m: ExprMatrix, p: &PreprocessParams) -> Result<Preprocessed> {
    p.validate()?;
    // Each stage's matrix replaces the previous one, and a stage that keeps every
    // row or column keeps the matrix itself: at most two sparse copies are alive
    // (the kept counts and their transformed values), never the input beside them.
    let ExprMatrix {
        x,
        genes: gene_names,
        cells: cell_names,
    } = m;
    let (n_cells, n_genes) = (x.rows, x.cols);
    // Same floating-point expression as scGNN (fraction ≥ 1 − ratio) so borderline genes match.
    let gene_min = 1.0 - p.gene_ratio;
    let nz = gene_nonzeros(&x);
    let genes1: Vec<usize> = (0..n_genes)
        .filter(|&g| nz[g] as f64 / n_cells as f64 >= gene_min)
        .collect();
    if genes1.is_empty() {
        return Err(Error::Data(format!(
            "no gene is non-zero in at least {:.2} % of the {n_cells} cells; the matrix is (nearly) all zero — check the input or lower --geneRatio",
            gene_min * 100.0
        )));
    }
    let x1 = keep_cols(x, &genes1);
    let cell_min = 1.0 - p.cell_ratio;
    let ng1 = genes1.len() as f64;
    let cells: Vec<usize> = (0..n_cells)
        .filter(|&c| (x1.indptr[c + 1] - x1.indptr[c]) as f64 / ng1 >= cell_min)
        .collect();
    if cells.is_empty() {
        return Err(Error::Data(format!(
            "no cell expresses at least {:.2} % of the {} kept genes; check the input or lower --cellRatio",
            cell_min * 100.0,
            genes1.len()
        )));
    }
    let x2 = if cells.len() == n_cells {
        x1
    } else {
        x1.select_rows(&cells)
    };
    let size_factors = match p.normalize {
        Normalize::None => vec![1.0; cells.len()],
        Normalize::Total => size_factors(&x2),
    };
    let var = column_variances_scaled(&x2, &size_factors);
    let mut order: Vec<usize> = (0..genes1.len()).collect();
    // Largest variance first; ties by input position so the choice is deterministic.
    order.sort_by(|&a, &b| {
        var[b]
            .partial_cmp(&var[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    order.truncate(p.n_top_genes.min(order.len()));
    order.sort_unstable();
    let counts = keep_cols(x2, &order);
    let mut values = counts.clone();
    scale_rows(&mut values, &size_factors);
    let kept_genes: Vec<usize> = order.iter().map(|&j| genes1[j]).collect();
    if p.transform == Transform::Log {
        values.data.par_iter_mut().for_each(|v| *v = v.ln_1p());
    }
    let expr = ExprMatrix {
        x: values,
        genes: kept_genes.iter().map(|&g| gene_names[g].clone()).collect(),
        cells: cells.iter().map(|&c| cell_names[c].clone()).collect(),
    };
    tracing::info!(
        "preprocess: {} → {} genes expressed in ≥ {:.0} % of cells, {} → {} cells, {} variable genes kept, normalisation {:?}",
        n_genes,
        genes1.len(),
        gene_min * 100.0,
        n_cells,
        cells.len(),
        kept_genes.len(),
        p.normalize
    );
    Ok(Preprocessed {
        expr,
        counts,
        size_factors,
        transform: p.transform,
        kept_cells: cells,
        kept_genes,
    })
}

/// Wraps an already filtered and log-transformed matrix (e.g. scGNN's
/// `Use_expression.csv`) without changing it; the counts are recovered as
/// exp(x) − 1 for the stages that need the count scale (LTMG, `layers["counts"]`).
pub fn from_logged(m: ExprMatrix) -> Preprocessed {
    let (n, g) = (m.n_cells(), m.n_genes());
    let mut counts = m.x.clone();
    counts
        .data
        .par_iter_mut()
        .for_each(|v| *v = v.exp_m1().max(0.0));
    Preprocessed {
        expr: m,
        counts,
        size_factors: vec![1.0; n],
        transform: Transform::Log,
        kept_cells: (0..n).collect(),
        kept_genes: (0..g).collect(),
    }
}

/// median(total) / total of every row, totals summed in f64; rows without counts
/// get 1 (the cell filter normally removes them).
fn size_factors(x: &Csr<f32>) -> Vec<f32> {
    let totals: Vec<f64> = (0..x.rows)
        .map(|r| x.row(r).1.iter().map(|&v| v as f64).sum())
        .collect();
    let mut sorted: Vec<f64> = totals.iter().copied().filter(|&t| t > 0.0).collect();
    if sorted.is_empty() {
        return vec![1.0; x.rows];
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    };
    totals
        .iter()
        .map(|&t| if t > 0.0 { (median / t) as f32 } else { 1.0 })
        .collect()
}

/// Multiplies every row by its factor.
pub(crate) fn scale_rows(x: &mut Csr<f32>, factors: &[f32]) {
    if factors.iter().all(|&f| f == 1.0) {
        return;
    }
    let indptr = &x.indptr;
    let mut rest: &mut [f32] = &mut x.data;
    let mut chunks = Vec::with_capacity(x.rows);
    for r in 0..x.rows {
        let (head, tail) = rest.split_at_mut(indptr[r + 1] - indptr[r]);
        chunks.push((head, factors[r]));
        rest = tail;
    }
    chunks.into_par_iter().for_each(|(row, f)| {
        row.iter_mut().for_each(|v| *v *= f);
    });
}

/// Sample variance (ddof = 1) of every column, zeros included, in f64.
pub fn column_variances(x: &Csr<f32>) -> Vec<f64> {
    column_variances_scaled(x, &vec![1.0; x.rows])
}

/// [`column_variances`] of `x` with row r scaled by `factors[r]` (as
/// [`scale_rows`] would, in f32), without making the scaled copy.
fn column_variances_scaled(x: &Csr<f32>, factors: &[f32]) -> Vec<f64> {
    let n = x.rows as f64;
    // Fixed row blocks summed in parallel, then added in block order: the same
    // bits whatever the thread count or the work stealing (a rayon fold would
    // follow its splits, and near-ties in gene selection could flip).
    let block = x.rows.div_ceil(64).max(4096);
    let partial: Vec<(Vec<f64>, Vec<f64>)> = (0..x.rows.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            let (mut s, mut q) = (vec![0f64; x.cols], vec![0f64; x.cols]);
            for r in b * block..((b + 1) * block).min(x.rows) {
                let (idx, val) = x.row(r);
                let f = factors[r];
                for (&c, &v) in idx.iter().zip(val) {
                    let v = (v * f) as f64;
                    s[c as usize] += v;
                    q[c as usize] += v * v;
                }
            }
            (s, q)
        })
        .collect();
    let (mut sum, mut sq) = (vec![0f64; x.cols], vec![0f64; x.cols]);
    for (s, q) in &partial {
        sum.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        sq.iter_mut().zip(q).for_each(|(a, b)| *a += b);
    }
    sum.iter()
        .zip(&sq)
        .map(|(&s, &q)| {
            if n > 1.0 {
                ((q - s * s / n) / (n - 1.0)).max(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: Vec<Vec<f32>>) -> ExprMatrix {
        let d = crate::matrix::Dense::from_vec(rows.len(), rows[0].len(), rows.concat());
        ExprMatrix {
            x: Csr::from_dense(&d),
            genes: (0..d.cols).map(|j| format!("g{j}")).collect(),
            cells: (0..d.rows).map(|i| format!("c{i}")).collect(),
        }
    }

    #[test]
    fn variance_matches_two_pass() {
        let x = m(vec![vec![1.0, 0.0], vec![3.0, 0.0], vec![0.0, 5.0]]).x;
        let v = column_variances(&x);
        // column 0: mean 4/3, ss = (1-4/3)^2+(3-4/3)^2+(4/3)^2 = 14/3 → /2
        assert!((v[0] - 7.0 / 3.0).abs() < 1e-12);
        assert!((v[1] - 25.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn variances_are_the_same_bits_on_any_thread_count() {
        // 20 000 rows: several row blocks, so the order they are added in matters.
        let t: Vec<_> = (0..20_000u32)
            .flat_map(|r| {
                let v = 1.0 + (r.wrapping_mul(2_654_435_761) % 1000) as f32 / 7.0;
                [(r, 0, v), (r, 1 + r % 2, v.sqrt())]
            })
            .collect();
        let x = Csr::from_triplets(20_000, 3, t);
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| column_variances(&x))
        };
        let one = on(1);
        for threads in [2, 3, 7] {
            let got = on(threads);
            assert!(one.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn filters_and_selects() {
        // gene 2 is all zero; cell 3 is all zero.
        let e = m(vec![
            vec![1.0, 9.0, 0.0, 1.0],
            vec![2.0, 0.0, 0.0, 1.0],
            vec![3.0, 1.0, 0.0, 1.0],
            vec![0.0, 0.0, 0.0, 0.0],
        ]);
        let p = PreprocessParams {
            n_top_genes: 2,
            normalize: Normalize::None,
            ..Default::default()
        };
        let r = preprocess(e.clone(), &p).unwrap();
        assert_eq!(r.kept_cells, vec![0, 1, 2]);
        // variances over kept cells: g0 = 1, g1 = 22.33, g3 = 0 → keep g0, g1 in input order
        assert_eq!(r.kept_genes, vec![0, 1]);
        assert!((r.expr.x.to_dense().get(0, 1) - 10f32.ln()).abs() < 1e-6);
        assert_eq!(r.counts.to_dense().get(0, 1), 9.0);
    }

    #[test]
    fn total_normalisation_scales_to_the_median_depth() {
        // Totals 10, 2, 4 (gene 2 fails the filter but is all zero anyway) → median 4,
        // factors 0.4, 2, 1.
        let e = m(vec![
            vec![8.0, 2.0, 0.0],
            vec![1.0, 1.0, 0.0],
            vec![2.0, 2.0, 0.0],
        ]);
        let r = preprocess(e.clone(), &PreprocessParams::default()).unwrap();
        assert_eq!(r.size_factors, vec![0.4, 2.0, 1.0]);
        let d = r.expr.x.to_dense();
        assert!((d.get(0, 0) - 3.2f32.ln_1p()).abs() < 1e-6);
        assert!((d.get(1, 1) - 2f32.ln_1p()).abs() < 1e-6);
        assert_eq!(r.counts.to_dense().get(0, 0), 8.0);
        let scale = crate::pipeline::dataset::CountScale {
            size_factors: r.size_factors.clone(),
            transform: r.transform,
        };
        let scaled = scale.normalised(&r.counts);
        assert!((scaled.to_dense().get(0, 0) - 3.2).abs() < 1e-6);
        // Back to counts: the transform and the factors are undone.
        let mut back = r.expr.x.to_dense();
        scale.to_counts(&mut back);
        let raw = r.counts.to_dense();
        for (a, b) in back.data.iter().zip(&raw.data) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn normalisation_can_change_the_selected_genes() {
        // Cell 1 is sequenced 10× deeper: raw variance favours gene 0, which only
        // follows depth; after normalisation gene 1 (a real difference) wins.
        let e = m(vec![
            vec![10.0, 0.0, 10.0],
            vec![100.0, 0.0, 100.0],
            vec![10.0, 20.0, 10.0],
            vec![10.0, 0.0, 10.0],
        ]);
        let pick = |normalize| {
            let p = PreprocessParams {
                n_top_genes: 1,
                normalize,
                ..Default::default()
            };
            preprocess(e.clone(), &p).unwrap().kept_genes
        };
        assert_eq!(pick(Normalize::None), vec![0]);
        assert_eq!(pick(Normalize::Total), vec![1]);
    }

    #[test]
    fn all_zero_is_a_clear_error() {
        let e = m(vec![vec![0.0, 0.0], vec![0.0, 0.0]]);
        let err = preprocess(e.clone(), &PreprocessParams::default()).unwrap_err();
        assert!(err.to_string().contains("all zero"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}

/// The one place that decides between preprocessing the input and taking it as
/// already filtered and log-transformed (`--skip-preprocess`, scGNN's
/// `Use_expression.csv`). Consumes the input, so it is freed once transformed.
pub fn prepare(m: ExprMatrix, already_logged: bool, p: &PreprocessParams) -> Result<Preprocessed> {
    if already_logged {
        Ok(from_logged(m))
    } else {
        preprocess(m, p)
    }
}

/// `x` restricted to the columns `keep` (sorted), releasing `x`; `x` itself
/// when every column is kept.
fn keep_cols(x: Csr<f32>, keep: &[usize]) -> Csr<f32> {
    if keep.len() == x.cols {
        x
    } else {
        x.select_cols(keep)
    }
}
