//! The two imputation benchmarks, run through the normal pipeline so that nothing
//! of the hidden values can leak into training (preprocessing, LTMG and every
//! network only ever see the masked or thinned matrix).
//!
//! - Dropout (spec §13): hide a random fraction of the non-zero raw entries, impute,
//!   and score the hidden entries against ln(1 + original).
//! - Molecular cross-validation (Batson, Royer & Webber 2019): split every count by
//!   binomial thinning into A and B, impute from A, and score the prediction of B
//!   over all entries.
//!
//! Each prints trivial baselines measured on the same mask or split.

use super::dataset::Dataset;
use super::params::RunParams;
use super::{Job, Silent, Source};
use crate::error::{Error, Result};
use crate::evaluate::dropout::{self, DropoutBaseline, DropoutScore, Mask};
use crate::evaluate::mcv::{self, McvBaseline, McvScore};
use crate::matrix::{Dense, ExprMatrix};
use crate::preprocess;
use serde::Serialize;
use std::collections::HashMap;

/// Scale of an external tool's imputed matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Scale {
    /// ln(1 + x) values.
    #[value(alias = "log1p")]
    Log,
    /// Count-scale values (ln(1 + x) is applied before scoring).
    #[value(alias = "count", alias = "raw")]
    Counts,
}

crate::choice::value_enum_str!(Scale, "--imputed-scale");

/// The whole job on `m` in memory, through the library's one entry point.
fn run_job(m: ExprMatrix, p: &RunParams, what: &str) -> Result<Dataset> {
    let job = Job {
        source: Source::Matrix {
            matrix: m,
            description: what.to_string(),
        },
        name: Some(what.to_string()),
        labels: None,
        output_dir: None,
        plots: false,
        params: p.clone(),
        checkpoint_dir: None,
        resume: false,
    };
    super::run(job, &Silent)
}

/// The imputed matrix of a finished run, mapped back to its count scale.
fn imputed_counts(ds: &mut Dataset) -> Result<Dense> {
    let mut m = ds
        .imputed
        .take()
        .ok_or_else(|| Error::Usage("the run produced no imputed matrix".into()))?;
    if let Some(scale) = &ds.scale {
        scale.to_counts(&mut m);
    }
    Ok(m)
}

/// The seed of dropout repeat `r`: its own stream, so repeat r's mask and run
/// never reuse repeat r−1's seeds.
pub fn repeat_seed(seed: u64, r: usize) -> u64 {
    use rand::RngCore;
    crate::rng::substream(seed, "benchmark/dropout-repeat", r as u64).next_u64()
}

/// `repeats` dropout repeats on `raw` (the `scgnn benchmark dropout` job):
/// repeat r hides entries with the mask of [`repeat_seed`]`(seed, r)`, runs
/// scGNN-rs unless `external` is given, and scores it beside the baselines.
/// `on_mask` sees every repeat's masked data first (e.g. to write it out).
pub fn dropout(
    raw: &ExprMatrix,
    rate: f64,
    repeats: usize,
    seed: u64,
    p: &RunParams,
    external: Option<(&ExprMatrix, Scale)>,
    on_mask: &mut dyn FnMut(usize, &MaskedData) -> Result<()>,
) -> Result<Vec<DropoutRepeat>> {
    if repeats == 0 {
        return Err(Error::Usage("--repeats must be at least 1".into()));
    }
    (0..repeats)
        .map(|r| {
            let s = repeat_seed(seed, r);
            let data = dropout_mask(raw, rate, s)?;
            on_mask(r, &data)?;
            let rep = dropout_repeat(raw, &data, s, p, external.is_none(), external)?;
            tracing::info!("repeat {} (seed {s}) done in {:.1} s", r + 1, rep.seconds);
            Ok(rep)
        })
        .collect()
}

/// One dropout repeat: our score and the baselines on the same hidden entries.
#[derive(Clone, Debug, Serialize)]
pub struct DropoutRepeat {
    /// Seed of the mask.
    pub seed: u64,
    /// scGNN-rs imputation (absent when only an external matrix was scored).
    pub ours: Option<DropoutScore>,
    /// Hidden entries left at zero.
    pub zero: DropoutScore,
    /// Each hidden entry gets its gene's mean of ln(1 + x) over observed non-zeros.
    pub gene_mean: DropoutScore,
    /// An external tool's matrix, if given.
    pub external: Option<DropoutScore>,
    /// Pipeline seconds.
    pub seconds: f64,
}

/// The masked counts of a dropout repeat, for `--write-mask`.
pub struct MaskedData {
    /// The mask on the full input.
    pub mask: Mask,
    /// The input with the hidden entries removed.
    pub masked: ExprMatrix,
}

/// Draws the mask of `seed` on the raw input.
pub fn dropout_mask(raw: &ExprMatrix, rate: f64, seed: u64) -> Result<MaskedData> {
    let mask = dropout::make_mask(&raw.x, rate, seed)?;
    let masked = ExprMatrix {
        x: mask.apply(&raw.x)?,
        genes: raw.genes.clone(),
        cells: raw.cells.clone(),
    };
    Ok(MaskedData { mask, masked })
}

/// Runs one dropout repeat. With `run_ours` false only the baselines and the
/// external matrix are scored.
pub fn dropout_repeat(
    raw: &ExprMatrix,
    data: &MaskedData,
    seed: u64,
    p: &RunParams,
    run_ours: bool,
    external: Option<(&ExprMatrix, Scale)>,
) -> Result<DropoutRepeat> {
    let baselines_masked = &data.masked.x;
    let zero = dropout::score_baseline(&data.mask, baselines_masked, DropoutBaseline::Zero)?;
    let gene_mean =
        dropout::score_baseline(&data.mask, baselines_masked, DropoutBaseline::GeneMean)?;
    let t = std::time::Instant::now();
    let (ours, zero, gene_mean) = if run_ours {
        let mut ds = run_job(
            data.masked.clone(),
            &RunParams { seed, ..p.clone() },
            "dropout",
        )?;
        // Only hidden entries of the kept cells and genes can be imputed; the
        // baselines are scored on exactly the same entries.
        let kept = data.mask.restrict(&ds.kept_cells, &ds.kept_genes);
        // Scored like the baselines, on ln(1 + raw count): undo the depth
        // normalisation first.
        let mut imputed = imputed_counts(&mut ds)?;
        imputed.data.iter_mut().for_each(|v| *v = v.ln_1p());
        let ours = dropout::score_dense(&kept, &imputed)?;
        let means = dropout::gene_log_means(baselines_masked);
        let gm = dropout::score(&kept, |_, g| means[ds.kept_genes[g]])?;
        let z = dropout::score(&kept, |_, _| 0.0)?;
        (Some(ours), z, gm)
    } else {
        (None, zero, gene_mean)
    };
    let seconds = t.elapsed().as_secs_f64();
    let external = match external {
        Some((m, scale)) => Some(score_external(raw, &data.mask, m, scale)?),
        None => None,
    };
    Ok(DropoutRepeat {
        seed,
        ours,
        zero,
        gene_mean,
        external,
        seconds,
    })
}

/// Scores an external imputed matrix (cells × genes after reading) at the hidden
/// entries whose cell and gene it contains, matching by name.
fn score_external(
    raw: &ExprMatrix,
    mask: &Mask,
    ext: &ExprMatrix,
    scale: Scale,
) -> Result<DropoutScore> {
    let (cell_idx, gene_idx) = (index_of(&ext.cells), index_of(&ext.genes));
    let rows: Vec<usize> = raw
        .cells
        .iter()
        .map(|c| cell_idx.get(c.as_str()).copied().unwrap_or(usize::MAX))
        .collect();
    let cols: Vec<usize> = raw
        .genes
        .iter()
        .map(|g| gene_idx.get(g.as_str()).copied().unwrap_or(usize::MAX))
        .collect();
    let kept_rows: Vec<usize> = (0..raw.n_cells())
        .filter(|&i| rows[i] != usize::MAX)
        .collect();
    let kept_cols: Vec<usize> = (0..raw.n_genes())
        .filter(|&j| cols[j] != usize::MAX)
        .collect();
    if kept_rows.is_empty() || kept_cols.is_empty() {
        return Err(Error::Data(
            "the imputed matrix shares no cell id or no gene name with the input; is it genes × cells with the same names?".into(),
        ));
    }
    let m = mask.restrict(&kept_rows, &kept_cols);
    let dense_rows: Vec<usize> = kept_rows.iter().map(|&i| rows[i]).collect();
    let x = &ext.x;
    dropout::score(&m, |c, g| {
        let (r, col) = (dense_rows[c], cols[kept_cols[g]] as u32);
        let (idx, val) = x.row(r);
        let v = idx.binary_search(&col).map(|k| val[k]).unwrap_or(0.0);
        match scale {
            Scale::Log => v,
            Scale::Counts => v.max(0.0).ln_1p(),
        }
    })
}

/// MCV scores: ours and the baselines on the same split.
#[derive(Clone, Debug, Serialize)]
pub struct McvResult {
    /// Seed of the split.
    pub seed: u64,
    /// Thinning probability p.
    pub p: f64,
    /// scGNN-rs imputation (absent when only an external matrix was scored).
    pub ours: Option<McvScore>,
    /// Â = A.
    pub none: McvScore,
    /// Â = gene share × library size.
    pub gene_mean: McvScore,
    /// An external tool's matrix (on A's count scale after the scale conversion).
    pub external: Option<McvScore>,
    /// Cells and genes scored.
    pub shape: (usize, usize),
    /// Pipeline seconds.
    pub seconds: f64,
}

/// The two halves of an MCV split, as expression matrices.
pub struct Split {
    /// A ~ Binomial(X, p): what the method sees.
    pub a: ExprMatrix,
    /// B = X − A: what is predicted.
    pub b: ExprMatrix,
}

/// Splits the raw counts (refusing non-integer input, naming `source`).
pub fn mcv_split(raw: &ExprMatrix, p: f64, seed: u64, source: &std::path::Path) -> Result<Split> {
    mcv::check_integer_counts(&raw.x, source)?;
    let (a, b) = mcv::split(&raw.x, p, seed)?;
    Ok(Split {
        a: ExprMatrix {
            x: a,
            genes: raw.genes.clone(),
            cells: raw.cells.clone(),
        },
        b: ExprMatrix {
            x: b,
            genes: raw.genes.clone(),
            cells: raw.cells.clone(),
        },
    })
}

/// Runs MCV on a split: impute from A through the pipeline, map back to A's count
/// scale, predict B, and score over all entries of the kept cells and genes.
pub fn mcv_run(
    split: &Split,
    thin_p: f64,
    seed: u64,
    params: &RunParams,
    run_ours: bool,
    external: Option<(&ExprMatrix, Scale)>,
) -> Result<McvResult> {
    let rp = RunParams {
        seed,
        ..params.clone()
    };
    let t = std::time::Instant::now();
    let mut ds = if run_ours {
        run_job(split.a.clone(), &rp, "mcv")?
    } else {
        let pre = preprocess::prepare(split.a.clone(), rp.skip_preprocess, &rp.preprocess)?;
        Dataset::from_preprocessed(pre, "mcv", "mcv")
    };
    let seconds = t.elapsed().as_secs_f64();
    let b = split
        .b
        .x
        .select_rows(&ds.kept_cells)
        .select_cols(&ds.kept_genes);
    let counts = ds
        .counts
        .as_ref()
        .ok_or_else(|| Error::Usage("the A half has no counts".into()))?;
    let none = mcv::score_baseline(counts, &b, thin_p, McvBaseline::None)?;
    let gene_mean = mcv::score_baseline(counts, &b, thin_p, McvBaseline::GeneMean)?;
    let ours = if run_ours {
        Some(mcv::score(&imputed_counts(&mut ds)?, &b, thin_p)?)
    } else {
        None
    };
    let external = match external {
        Some((m, scale)) => {
            let sub = ExprMatrix {
                x: b.clone(),
                genes: ds.genes.clone(),
                cells: ds.cells.clone(),
            };
            let ext = align(m, &sub)?;
            let mut a_hat = ext;
            if scale == Scale::Log {
                a_hat.data.iter_mut().for_each(|v| *v = v.exp_m1().max(0.0));
            }
            Some(mcv::score(&a_hat, &b, thin_p)?)
        }
        None => None,
    };
    Ok(McvResult {
        seed,
        p: thin_p,
        ours,
        none,
        gene_mean,
        external,
        shape: (b.rows, b.cols),
        seconds,
    })
}

/// The external matrix's values on `like`'s cells and genes (dense, cells × genes),
/// refusing when any cell or gene is missing.
fn align(ext: &ExprMatrix, like: &ExprMatrix) -> Result<Dense> {
    let (cell_idx, gene_idx) = (index_of(&ext.cells), index_of(&ext.genes));
    let missing = |what: &str, name: &str| {
        Error::Data(format!(
            "the imputed matrix lacks {what} '{name}' of the scored matrix; impute the written A half (--write-split) whole"
        ))
    };
    let rows = like
        .cells
        .iter()
        .map(|c| {
            cell_idx
                .get(c.as_str())
                .copied()
                .ok_or_else(|| missing("cell", c))
        })
        .collect::<Result<Vec<_>>>()?;
    let cols = like
        .genes
        .iter()
        .map(|g| {
            gene_idx
                .get(g.as_str())
                .copied()
                .ok_or_else(|| missing("gene", g))
        })
        .collect::<Result<Vec<_>>>()?;
    let sub = ext.x.select_rows(&rows).select_cols(&cols);
    Ok(sub.to_dense())
}

/// Position of every name.
fn index_of(names: &[String]) -> HashMap<&str, usize> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect()
}
