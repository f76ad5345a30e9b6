//! The whole job as one library call: read → check → preprocess → method →
//! evaluate → write. The CLI, the benchmarks, the tests (and the Python
//! package) all go through [`run`]; everything that can be checked without
//! training is checked before the first heavy step.

use super::checkpoint::Checkpoints;
use super::dataset::Dataset;
use super::params::RunParams;
use super::progress::{self, Progress};
use super::{method, write};
use crate::compat::{self, RunLayout};
use crate::error::{Error, Result};
use crate::evaluate::{labels, metrics};
use crate::io::{self, ReadOptions};
use crate::matrix::ExprMatrix;
use crate::plot::{self, PlotParams};
use crate::preprocess;
use crate::simulate::{SimDesign, SimParams};
use std::path::{Path, PathBuf};

/// Cells, genes and clusters of the built-in demo data set.
pub const DEMO_SIZE: (usize, usize, usize) = (500, 1000, 5);

/// Where a job's expression matrix comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file or folder in any supported format.
    File {
        /// The path.
        path: PathBuf,
        /// How to read it.
        read: ReadOptions,
    },
    /// scGNN's folder layout (`--datasetDir D --datasetName N`): what its first
    /// step wrote (`D/N/Use_expression.csv`, already transformed, and the LTMG
    /// file), else D/N itself.
    Scgnn {
        /// The layout's options.
        layout: compat::ScgnnDataset,
        /// How to read D/N when it was not preprocessed.
        read: ReadOptions,
    },
    /// The built-in simulated data set, with its true labels.
    Demo,
    /// A matrix already in memory (e.g. from Python), with a description for the report.
    Matrix {
        /// The matrix (cells × genes).
        matrix: ExprMatrix,
        /// What it is, for the report.
        description: String,
    },
}

/// A whole job.
#[derive(Clone, Debug)]
pub struct Job {
    /// The input.
    pub source: Source,
    /// Name of the output files (default: from the input's file name).
    pub name: Option<String>,
    /// Reference labels (`cell,label`) to evaluate against; never seen by the method.
    pub labels: Option<PathBuf>,
    /// Output folder; `None` keeps the results in memory only.
    pub output_dir: Option<PathBuf>,
    /// Draw the figures and the HTML report into the output folder.
    pub plots: bool,
    /// Every parameter of the method.
    pub params: RunParams,
    /// Folder of the run's checkpoint (`--checkpoint-dir`); `None` keeps none.
    /// Removed once the outputs are complete.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir`, if there is one.
    pub resume: bool,
}

/// Runs the job and returns the finished data set (its imputed matrix is
/// released when it was written to an `.h5ad`).
pub fn run(job: Job, progress: &dyn Progress) -> Result<Dataset> {
    let p = &job.params;
    p.validate()?;
    if let Some(dir) = &job.output_dir {
        check_output_dir(dir)?;
    }
    let truth_pairs = job.labels.as_deref().map(labels::read_labels).transpose()?;
    let mut annotations = None;
    if let Source::File { path, read } = &job.source {
        check_memory_before_reading(path, read, p)?;
        if read.format.unwrap_or_else(|| io::Format::detect(path)) == io::Format::H5ad {
            annotations = Some(io::h5ad::read_columns(path, &read.h5ad_matrix)?);
        }
    }
    let input = read_source(job.source, p.seed, progress)?;
    // Columns whose length disagrees with the matrix are not the matrix's.
    let annotations =
        annotations.map(|(obs, var): (io::columns::Columns, io::columns::Columns)| {
            let fits = |cols: io::columns::Columns, n: usize| -> io::columns::Columns {
                cols.into_iter().filter(|(_, c)| c.len() == n).collect()
            };
            (
                fits(obs, input.matrix.n_cells()),
                fits(var, input.matrix.n_genes()),
            )
        });
    let truth = match (&truth_pairs, &job.labels) {
        (Some(t), Some(path)) => Some((path.clone(), t.clone())),
        _ => input.truth.map(|t| (PathBuf::from("demo truth"), t)),
    };
    if let Some((path, t)) = &truth {
        check_labels(&input.matrix.cells, path, t)?;
    }
    let name = job
        .name
        .clone()
        .unwrap_or_else(|| dataset_name(&input.description));
    let logged = p.skip_preprocess || input.layout.as_ref().is_some_and(|l| l.preprocessed);
    let pre = preprocess::prepare(input.matrix, logged, &p.preprocess)?;
    let mut ds = Dataset::from_preprocessed(pre, &name, &input.description);
    if let Some(l) = &input.layout {
        ds.ltmg = compat::load_ltmg(&l.ltmg, &ds.genes, &ds.cells, p.needs_ltmg())?;
    }
    if let Some((_, t)) = &truth {
        ds.truth = Some(align_truth(&ds.cells, t));
    }
    if let Some((obs, var)) = &annotations {
        ds.obs_columns = io::columns::select(obs, &ds.kept_cells);
        ds.var_columns = io::columns::select(var, &ds.kept_genes);
    }
    if let Some(dir) = &job.output_dir {
        let nnz = ds.x("the disk check")?.nnz();
        let ck = job.checkpoint_dir.as_deref();
        super::disk::check(dir, ck, ds.n_cells(), ds.n_genes(), nnz, p)?;
    }
    if job.resume && job.checkpoint_dir.is_none() {
        return Err(Error::Usage(
            "--resume needs the --checkpoint-dir of the run to continue".into(),
        ));
    }
    let checkpoints = job
        .checkpoint_dir
        .as_deref()
        .map(|d| Checkpoints::new(d, &ds, p))
        .transpose()?;
    let resume = match (&checkpoints, job.resume) {
        (Some(c), true) => {
            let state = c.load()?;
            if state.is_none() {
                tracing::warn!(
                    "--resume: no checkpoint at {}; starting from the beginning",
                    c.path().display()
                );
            }
            state
        }
        _ => None,
    };
    method::run(&mut ds, p, progress, checkpoints.as_ref(), resume)?;
    if let Some((path, t)) = &truth {
        ds.report.evaluation = Some(evaluate(&ds, path, t, p.seed)?);
    }
    if let Some(dir) = &job.output_dir {
        let plots = job.plots.then(|| PlotParams::for_seed(p.seed));
        write::write_run(dir, &mut ds, plots.as_ref(), progress)?;
    }
    if let (Some(c), Some(dir)) = (&checkpoints, &job.checkpoint_dir) {
        c.remove()?;
        // The folder goes too when the run made it and nothing else is in it.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(ds)
}

/// The input as read.
struct Input {
    matrix: ExprMatrix,
    description: String,
    /// The demo's true labels.
    truth: Option<Vec<(String, String)>>,
    /// What scGNN's layout held.
    layout: Option<RunLayout>,
}

/// Reads (or simulates) the input.
fn read_source(source: Source, seed: u64, progress: &dyn Progress) -> Result<Input> {
    let input = |matrix, description: String| Input {
        matrix,
        description,
        truth: None,
        layout: None,
    };
    match source {
        Source::File { path, read } => {
            let m = progress::step(progress, "reading", || io::read_matrix(&path, &read))?;
            Ok(input(m, path.display().to_string()))
        }
        Source::Scgnn { layout, read } => {
            let r = progress::step(progress, "reading", || compat::read_dataset(&layout, &read))?;
            let description = r.layout.input.display().to_string();
            Ok(Input {
                layout: Some(r.layout),
                ..input(r.matrix, description)
            })
        }
        Source::Matrix {
            matrix,
            description,
        } => Ok(input(matrix, description)),
        Source::Demo => {
            let (m, truth) = demo(seed)?;
            Ok(Input {
                truth: Some(truth),
                ..input(m, "built-in demo".to_string())
            })
        }
    }
}

/// The built-in demo: cells of similar sequencing depth (like the original, the
/// method does not normalise depth, which would otherwise dominate the embedding).
pub fn demo(seed: u64) -> Result<(ExprMatrix, Vec<(String, String)>)> {
    let (cells, genes, clusters) = DEMO_SIZE;
    let d = SimDesign::new(&SimParams {
        cells,
        genes,
        clusters,
        seed,
        lib_sd: 0.1,
        de_fraction: 0.1,
        ..Default::default()
    })?;
    tracing::info!(
        "demo: simulated {cells} cells × {genes} genes in {clusters} clusters (seed {seed})"
    );
    let truth = d.cell_ids().into_iter().zip(d.labels()).collect();
    Ok((d.matrix(), truth))
}

/// Refuses, before reading, an input whose header already shows that the run
/// cannot fit: at most `--n-top-genes` genes are kept (all with
/// `--skip-preprocess`), and the non-zeros are taken in proportion. Text input
/// states no size; it is checked once read and preprocessed.
fn check_memory_before_reading(path: &Path, read: &ReadOptions, p: &RunParams) -> Result<()> {
    if let Some((cells, genes, nnz)) = io::peek_shape(path, read)? {
        let kept = if p.skip_preprocess {
            genes
        } else {
            genes.min(p.preprocess.n_top_genes)
        };
        let nnz_kept = (nnz as u128 * kept as u128 / genes.max(1) as u128) as usize;
        super::memory::check(cells, kept, nnz_kept, p)?;
    }
    Ok(())
}

/// Refuses an output folder that cannot receive the outputs: a file in its
/// place, a parent that is a file, or a folder that cannot be written. Creates
/// the folder when it is missing.
pub fn check_output_dir(dir: &Path) -> Result<()> {
    let refuse = |why: String| {
        Error::Usage(format!(
            "--output-dir {}: {why}; choose another --output-dir",
            dir.display()
        ))
    };
    if dir.exists() && !dir.is_dir() {
        return Err(refuse("this is a file, not a folder".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| refuse(format!("cannot create the folder ({e})")))?;
    let probe = dir.join(format!(".scgnn-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| refuse(format!("cannot write into the folder ({e})")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Refuses reference labels that share no cell id with the matrix, before any
/// work; warns when only some match.
fn check_labels(cells: &[String], path: &Path, truth: &[(String, String)]) -> Result<()> {
    let ids: std::collections::HashSet<&str> = cells.iter().map(String::as_str).collect();
    let common = truth
        .iter()
        .filter(|(c, _)| ids.contains(c.as_str()))
        .count();
    if common == 0 {
        let ex = |v: Option<&String>| v.cloned().unwrap_or_default();
        return Err(Error::input(
            path,
            None,
            format!(
                "no cell id in common with the input's {} cells (e.g. `{}` there, `{}` here); \
                 give the labels of this data set (first column: the cell ids of the matrix)",
                cells.len(),
                ex(cells.first()),
                ex(truth.first().map(|t| &t.0))
            ),
        ));
    }
    if common < cells.len() {
        tracing::warn!(
            "{}: {common} of the input's {} cells have a label; the rest are not evaluated",
            path.display(),
            cells.len()
        );
    }
    Ok(())
}

/// The reference label of every cell of `cells` ([`plot::UNLABELLED`] when missing).
fn align_truth(cells: &[String], truth: &[(String, String)]) -> Vec<String> {
    let map: std::collections::HashMap<&str, &str> = truth
        .iter()
        .map(|(c, l)| (c.as_str(), l.as_str()))
        .collect();
    cells
        .iter()
        .map(|c| map.get(c.as_str()).unwrap_or(&plot::UNLABELLED).to_string())
        .collect()
}

/// The clustering metrics of the finished run against the reference labels.
fn evaluate(
    ds: &Dataset,
    path: &Path,
    truth: &[(String, String)],
    seed: u64,
) -> Result<metrics::ClusteringReport> {
    let clusters = ds.clusters("evaluation")?;
    let pred: Vec<(String, String)> = ds
        .cells
        .iter()
        .cloned()
        .zip(clusters.iter().map(|l| l.to_string()))
        .collect();
    let m = labels::match_labels(Path::new("run labels"), &pred, path, truth)?;
    let emb = ds
        .embedding
        .as_ref()
        .ok_or_else(|| Error::Usage("evaluation: the run has no embedding".into()))?;
    let emb = labels::embedding_rows(Path::new("run embedding"), &ds.cells, emb, &m.cells)?;
    metrics::evaluate(&m.pred, &m.truth, Some(&emb), seed)
}

/// The dataset name from a path: the file name without `.csv.gz`-like
/// extensions, or the folder's name for a file called `counts…`.
pub fn dataset_name(source: &str) -> String {
    let path = Path::new(source);
    let mut s = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scgnn".into());
    if source == "built-in demo" {
        return "demo".into();
    }
    for ext in [".gz", ".csv", ".tsv", ".txt", ".h5ad", ".h5", ".mtx"] {
        if let Some(t) = s.strip_suffix(ext) {
            s = t.to_string();
        }
    }
    if s.is_empty() || s == "counts" {
        // `data/chung/counts.csv.gz` → `chung`
        if let Some(parent) = path.parent().and_then(|p| p.file_name()) {
            return parent.to_string_lossy().into_owned();
        }
    }
    s
}
