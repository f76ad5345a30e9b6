//! The dropout (leave-out) imputation benchmark of scGNN (spec §13), in its
//! intended form: hide a random fraction of the non-zero raw counts, impute from
//! what is left, and score the imputed values at the hidden entries against
//! ln(1 + original count).
//!
//! The mask is drawn from our seeded ChaCha stream, so it is reproducible for a
//! seed but is not the NumPy `choice` draw of the original scripts.

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::matrix::{Csr, Dense};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::path::Path;

/// Fixed chunk length for parallel sums: chunk boundaries do not depend on the
/// thread count, so neither do the sums.
const CHUNK: usize = 8192;

/// Parameters of the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct DropoutParams {
    /// Fraction of the non-zero entries hidden (spec §13: `--dropoutRatio`, 0.1).
    pub rate: f64,
    /// One mask per seed; scores are aggregated over them (spec §13: seeds 1, 2, 3).
    pub seeds: Vec<u64>,
}

impl Default for DropoutParams {
    fn default() -> Self {
        DropoutParams {
            rate: 0.1,
            seeds: vec![1, 2, 3],
        }
    }
}

impl DropoutParams {
    /// Checks `0 < rate < 1` and that there is at least one seed.
    pub fn validate(&self) -> Result<()> {
        check_rate(self.rate)?;
        if self.seeds.is_empty() {
            return Err(Error::Usage(
                "the dropout benchmark needs at least one seed".into(),
            ));
        }
        Ok(())
    }
}

fn check_rate(rate: f64) -> Result<()> {
    if !(rate > 0.0 && rate < 1.0) {
        return Err(Error::Usage(format!(
            "dropout rate must be strictly between 0 and 1, got {rate}"
        )));
    }
    Ok(())
}

/// One hidden entry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MaskedEntry {
    /// Row (cell) index.
    pub cell: u32,
    /// Column (gene) index.
    pub gene: u32,
    /// The hidden raw value.
    pub original: f32,
}

/// The hidden entries of one matrix, in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// Rows (cells) of the matrix the mask was drawn from.
    pub rows: usize,
    /// Columns (genes) of that matrix.
    pub cols: usize,
    /// The hidden entries.
    pub entries: Vec<MaskedEntry>,
    /// Stored-entry positions (into the source CSR's `data`) of the hidden
    /// entries, increasing; `apply` uses them to drop the entries in one pass.
    positions: Vec<usize>,
    /// Stored entries of the source matrix, to recognise it in `apply`.
    source_nnz: usize,
}

/// Draws ⌊rate · n⌋ of the n non-zero entries of `counts` without replacement,
/// from `seed` (stream "dropout-mask"). The same seed gives the same mask.
/// Errors when the rate is outside (0, 1) or selects no entry.
pub fn make_mask(counts: &Csr<f32>, rate: f64, seed: u64) -> Result<Mask> {
    check_rate(rate)?;
    // Explicitly stored zeros are not observations and cannot be hidden.
    let candidates: Vec<usize> = (0..counts.nnz())
        .filter(|&p| counts.data[p] != 0.0)
        .collect();
    let k = (rate * candidates.len() as f64).floor() as usize;
    if k == 0 {
        return Err(Error::Usage(format!(
            "a dropout rate of {rate} hides no entry of a matrix with {} non-zero values",
            candidates.len()
        )));
    }
    let mut rng = crate::rng::stream(seed, "dropout-mask");
    let mut positions: Vec<usize> = rand::seq::index::sample(&mut rng, candidates.len(), k)
        .into_iter()
        .map(|i| candidates[i])
        .collect();
    positions.sort_unstable();
    let mut entries = Vec::with_capacity(k);
    let mut row = 0usize;
    for &p in &positions {
        while counts.indptr[row + 1] <= p {
            row += 1;
        }
        entries.push(MaskedEntry {
            cell: row as u32,
            gene: counts.indices[p],
            original: counts.data[p],
        });
    }
    Ok(Mask {
        rows: counts.rows,
        cols: counts.cols,
        entries,
        positions,
        source_nnz: counts.nnz(),
    })
}

impl Mask {
    /// Number of hidden entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is hidden (never true for a mask from [`make_mask`]).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The hidden entries that fall in the kept rows and columns of a filtered
    /// matrix (e.g. after preprocessing), renumbered to that matrix. The result
    /// is for scoring only: it cannot be applied to a matrix.
    pub fn restrict(&self, kept_rows: &[usize], kept_cols: &[usize]) -> Mask {
        let mut row_map = vec![u32::MAX; self.rows];
        for (new, &old) in kept_rows.iter().enumerate() {
            row_map[old] = new as u32;
        }
        let mut col_map = vec![u32::MAX; self.cols];
        for (new, &old) in kept_cols.iter().enumerate() {
            col_map[old] = new as u32;
        }
        let entries = self
            .entries
            .iter()
            .filter_map(|e| {
                let (r, c) = (row_map[e.cell as usize], col_map[e.gene as usize]);
                (r != u32::MAX && c != u32::MAX).then_some(MaskedEntry {
                    cell: r,
                    gene: c,
                    original: e.original,
                })
            })
            .collect();
        Mask {
            rows: kept_rows.len(),
            cols: kept_cols.len(),
            entries,
            positions: Vec::new(),
            source_nnz: usize::MAX,
        }
    }

    /// `counts` with the hidden entries removed (the matrix to impute from).
    /// Errors if `counts` is not the matrix the mask was drawn from.
    pub fn apply(&self, counts: &Csr<f32>) -> Result<Csr<f32>> {
        let same = counts.rows == self.rows
            && counts.cols == self.cols
            && counts.nnz() == self.source_nnz
            && self.positions.iter().zip(&self.entries).all(|(&p, e)| {
                counts.indices[p] == e.gene
                    && counts.data[p] == e.original
                    && counts.indptr[e.cell as usize] <= p
                    && p < counts.indptr[e.cell as usize + 1]
            });
        if !same {
            return Err(Error::Usage(
                "the dropout mask was drawn from a different matrix".into(),
            ));
        }
        let mut indptr = Vec::with_capacity(counts.rows + 1);
        indptr.push(0);
        let keep = counts.nnz() - self.len();
        let mut indices = Vec::with_capacity(keep);
        let mut data = Vec::with_capacity(keep);
        let mut hidden = self.positions.iter().peekable();
        for r in 0..counts.rows {
            for p in counts.indptr[r]..counts.indptr[r + 1] {
                if hidden.peek() == Some(&&p) {
                    hidden.next();
                } else {
                    indices.push(counts.indices[p]);
                    data.push(counts.data[p]);
                }
            }
            indptr.push(indices.len());
        }
        Ok(Csr {
            rows: counts.rows,
            cols: counts.cols,
            indptr,
            indices,
            data,
        })
    }

    /// Writes the mask as CSV `cell,gene,original` (one hidden entry per row,
    /// names from `cells` and `genes`), atomically.
    pub fn write(&self, path: &Path, cells: &[String], genes: &[String]) -> Result<()> {
        if cells.len() != self.rows || genes.len() != self.cols {
            return Err(Error::Usage(format!(
                "mask is {} × {} but {} cell and {} gene names were given",
                self.rows,
                self.cols,
                cells.len(),
                genes.len()
            )));
        }
        write_atomic(path, |tmp| {
            let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
            let mut w = std::io::BufWriter::new(f);
            let io = |e| Error::io(tmp, e);
            writeln!(w, "cell,gene,original").map_err(io)?;
            for e in &self.entries {
                writeln!(
                    w,
                    "{},{},{}",
                    csv_field(&cells[e.cell as usize]),
                    csv_field(&genes[e.gene as usize]),
                    e.original
                )
                .map_err(io)?;
            }
            w.flush().map_err(io)
        })
    }
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Recovery of the hidden entries (spec §13 step 4). L1 statistics pool all
/// hidden entries; the cosine is one global cosine over them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DropoutScore {
    /// Number of hidden entries scored.
    pub n_masked: usize,
    /// Median of |x̂ − ln(1 + x)| (the paper's headline; mean of the two middle values for an even count).
    pub median_l1: f64,
    /// Mean absolute error.
    pub mean_l1: f64,
    /// Smallest absolute error.
    pub min_l1: f64,
    /// Largest absolute error.
    pub max_l1: f64,
    /// cos(x̂, ln(1 + x)) over the hidden entries; `None` when either vector is
    /// all zeros (e.g. the zero baseline).
    pub cosine: Option<f64>,
}

fn chunked_sum(v: &[f64]) -> f64 {
    let parts: Vec<f64> = v.par_chunks(CHUNK).map(|c| c.iter().sum()).collect();
    parts.iter().sum()
}

/// Scores imputed values, given on the ln(1 + x) scale by `imputed(cell, gene)`,
/// against ln(1 + original) at the hidden entries. Errors on a non-finite
/// imputed value.
pub fn score<F>(mask: &Mask, imputed: F) -> Result<DropoutScore>
where
    F: Fn(usize, usize) -> f32 + Sync,
{
    if mask.is_empty() {
        return Err(Error::Usage("cannot score an empty dropout mask".into()));
    }
    let pairs: Vec<(f64, f64)> = mask
        .entries
        .par_iter()
        .map(|e| {
            let x = imputed(e.cell as usize, e.gene as usize) as f64;
            (x, (e.original as f64).ln_1p())
        })
        .collect();
    if let Some(i) = pairs.iter().position(|p| !p.0.is_finite()) {
        let e = mask.entries[i];
        return Err(Error::Numeric(format!(
            "imputed value at cell {}, gene {} is {}",
            e.cell, e.gene, pairs[i].0
        )));
    }
    let mut l1: Vec<f64> = pairs.par_iter().map(|(x, y)| (x - y).abs()).collect();
    let n = l1.len();
    let mean_l1 = chunked_sum(&l1) / n as f64;
    let dot = chunked_sum(&pairs.par_iter().map(|(x, y)| x * y).collect::<Vec<_>>());
    let nx = chunked_sum(&pairs.par_iter().map(|(x, _)| x * x).collect::<Vec<_>>());
    let ny = chunked_sum(&pairs.par_iter().map(|(_, y)| y * y).collect::<Vec<_>>());
    let min_l1 = l1.iter().copied().fold(f64::INFINITY, f64::min);
    let max_l1 = l1.iter().copied().fold(0.0, f64::max);
    let (_, &mut hi, _) = l1.select_nth_unstable_by(n / 2, f64::total_cmp);
    let median_l1 = if n % 2 == 1 {
        hi
    } else {
        // The lower middle is the largest value left of position n/2.
        let lo = l1[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    };
    let cosine = (nx > 0.0 && ny > 0.0).then(|| dot / (nx.sqrt() * ny.sqrt()));
    Ok(DropoutScore {
        n_masked: n,
        median_l1,
        mean_l1,
        min_l1,
        max_l1,
        cosine,
    })
}

/// [`score`] for an imputed matrix held densely (cells × genes, ln(1 + x) scale).
pub fn score_dense(mask: &Mask, imputed: &Dense) -> Result<DropoutScore> {
    if imputed.rows != mask.rows || imputed.cols != mask.cols {
        return Err(Error::Usage(format!(
            "imputed matrix is {} × {} but the masked matrix is {} × {} (cells × genes)",
            imputed.rows, imputed.cols, mask.rows, mask.cols
        )));
    }
    score(mask, |c, g| imputed.get(c, g))
}

/// Reference imputations every method should beat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DropoutBaseline {
    /// Every hidden entry imputed as 0 (what the masked input itself says).
    Zero,
    /// Every hidden entry imputed as its gene's mean of ln(1 + x) over the
    /// gene's observed (unmasked) non-zero values; 0 for a gene with none.
    GeneMean,
}

/// Per-gene mean of ln(1 + x) over the non-zero entries of `masked` (the
/// counts after [`Mask::apply`]): the averaging is on the log scale, matching
/// the scale the benchmark scores on.
pub fn gene_log_means(masked: &Csr<f32>) -> Vec<f32> {
    let mut sum = vec![0.0f64; masked.cols];
    let mut cnt = vec![0u64; masked.cols];
    for (&g, &v) in masked.indices.iter().zip(&masked.data) {
        if v != 0.0 {
            sum[g as usize] += (v as f64).ln_1p();
            cnt[g as usize] += 1;
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(&s, &c)| if c > 0 { (s / c as f64) as f32 } else { 0.0 })
        .collect()
}

/// Scores a baseline; `masked` is the matrix after [`Mask::apply`].
pub fn score_baseline(
    mask: &Mask,
    masked: &Csr<f32>,
    baseline: DropoutBaseline,
) -> Result<DropoutScore> {
    match baseline {
        DropoutBaseline::Zero => score(mask, |_, _| 0.0),
        DropoutBaseline::GeneMean => {
            if masked.cols != mask.cols {
                return Err(Error::Usage(format!(
                    "masked matrix has {} genes, the mask {}",
                    masked.cols, mask.cols
                )));
            }
            let means = gene_log_means(masked);
            score(mask, |_, g| means[g])
        }
    }
}

/// Mean and standard deviation over repeats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation (divisor n, NumPy's default `np.std`).
    pub std: f64,
}

impl MeanStd {
    /// Mean and population standard deviation of `v` (non-empty).
    pub fn of(v: &[f64]) -> MeanStd {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

impl fmt::Display for MeanStd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.4} ± {:.4}", self.mean, self.std)
    }
}

/// Scores aggregated over repeated masks (one per seed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DropoutSummary {
    /// Number of repeats.
    pub n_repeats: usize,
    /// Median L1 across repeats (spec §12.3(c) reports its mean ± std).
    pub median_l1: MeanStd,
    /// Mean L1 across repeats.
    pub mean_l1: MeanStd,
    /// Min L1 across repeats.
    pub min_l1: MeanStd,
    /// Max L1 across repeats.
    pub max_l1: MeanStd,
    /// Cosine across repeats; `None` if any repeat had no cosine.
    pub cosine: Option<MeanStd>,
}

/// Mean ± std of every statistic over repeats; `None` for no repeats.
pub fn aggregate(scores: &[DropoutScore]) -> Option<DropoutSummary> {
    if scores.is_empty() {
        return None;
    }
    let col = |f: fn(&DropoutScore) -> f64| MeanStd::of(&scores.iter().map(f).collect::<Vec<_>>());
    let cos: Option<Vec<f64>> = scores.iter().map(|s| s.cosine).collect();
    Some(DropoutSummary {
        n_repeats: scores.len(),
        median_l1: col(|s| s.median_l1),
        mean_l1: col(|s| s.mean_l1),
        min_l1: col(|s| s.min_l1),
        max_l1: col(|s| s.max_l1),
        cosine: cos.map(|c| MeanStd::of(&c)),
    })
}

impl fmt::Display for DropoutSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cos = self
            .cosine
            .map_or_else(|| "-".to_string(), |c| c.to_string());
        writeln!(
            f,
            "  {:<10} {:>18}",
            "median L1",
            self.median_l1.to_string()
        )?;
        writeln!(f, "  {:<10} {:>18}", "mean L1", self.mean_l1.to_string())?;
        writeln!(f, "  {:<10} {:>18}", "min L1", self.min_l1.to_string())?;
        writeln!(f, "  {:<10} {:>18}", "max L1", self.max_l1.to_string())?;
        writeln!(f, "  {:<10} {:>18}", "cosine", cos)?;
        write!(f, "  ({} repeats; mean ± population std)", self.n_repeats)
    }
}
