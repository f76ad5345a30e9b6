//! Figures and the HTML report of a run, rendered in pure Rust (plotters with an
//! embedded DejaVu Sans font; no system font or image library).
//!
//! - [`plot_run`] draws the PNG figures of a run: a 2-D layout of the cells
//!   (UMAP, with a measured quality and a PCA fallback, see [`layout`]) coloured
//!   by cluster and by ground truth, the training-loss curves, the cluster sizes
//!   per EM iteration and the degree distribution of the cell graph;
//! - [`write_html_report`] writes one self-contained HTML file with the run's
//!   parameters, timings, convergence, clusters, evaluation and the figures inlined;
//! - [`load_run`] reads a finished run's outputs back, so figures can be redrawn
//!   without rerunning (`scgnn plot`).

mod figures;
mod html;
pub mod layout;
pub mod png;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::evaluate::labels::{embedding_rows, read_embedding, read_labels};
use crate::matrix::Dense;

pub use html::write_html_report;
pub use layout::{Layout, LayoutMethod, LayoutParams, LayoutQuality, LayoutScore};

/// Label shown for cells absent from the ground-truth file.
pub const UNLABELLED: &str = "(unlabelled)";

/// Everything the figures and the report are drawn from.
#[derive(Clone, Debug)]
pub struct PlotInput {
    /// Cell ids, in the order of every per-cell field below.
    pub cells: Vec<String>,
    /// The final embedding (cells × d).
    pub embedding: Dense,
    /// Final cluster label of every cell.
    pub labels: Vec<usize>,
    /// Ground-truth label of every cell, when known ([`UNLABELLED`] for cells the
    /// truth file does not list). Used for drawing only.
    pub truth: Option<Vec<String>>,
    /// The run report (`Report` serialised with `serde_json::to_value`, or the
    /// parsed `<name>_report.json`).
    pub report: Value,
    /// Directed edges of the final cell graph: (from, to, weight); weight 0 marks
    /// an edge pruned away, as in `<name>_graph.csv`.
    pub edges: Vec<(u32, u32, f32)>,
}

impl PlotInput {
    /// Checks that the per-cell fields agree and the edges name existing cells.
    pub fn validate(&self) -> Result<()> {
        let n = self.cells.len();
        if self.embedding.rows != n || self.labels.len() != n {
            return Err(Error::Usage(format!(
                "plot input: {n} cells, {} embedding rows, {} labels",
                self.embedding.rows,
                self.labels.len()
            )));
        }
        if self.truth.as_ref().is_some_and(|t| t.len() != n) {
            return Err(Error::Usage(format!(
                "plot input: {n} cells but a different number of truth labels"
            )));
        }
        if let Some(e) = self
            .edges
            .iter()
            .find(|e| e.0 as usize >= n || e.1 as usize >= n)
        {
            return Err(Error::Usage(format!(
                "plot input: graph edge {} -> {} outside the {n} cells",
                e.0, e.1
            )));
        }
        Ok(())
    }

    /// The report's dataset name, if any.
    pub fn dataset(&self) -> Option<&str> {
        self.report.get("dataset").and_then(Value::as_str)
    }
}

/// Plotting parameters.
#[derive(Clone, Debug)]
pub struct PlotParams {
    /// The 2-D layout (its `seed` also orders the drawing of overlapping points).
    pub layout: LayoutParams,
    /// Figure width in pixels.
    pub width: u32,
    /// Figure height in pixels.
    pub height: u32,
}

impl Default for PlotParams {
    fn default() -> Self {
        PlotParams {
            layout: LayoutParams::default(),
            width: 1650,
            height: 1140,
        }
    }
}

impl PlotParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        self.layout.validate()?;
        if !(400..=8000).contains(&self.width) || !(300..=8000).contains(&self.height) {
            return Err(Error::Usage(
                "figure size must be 400–8000 × 300–8000 pixels".into(),
            ));
        }
        Ok(())
    }
}

/// One written figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Short key, also the file suffix: `umap_clusters`, `umap_truth`, `loss`,
    /// `clusters`, `degree`.
    pub key: &'static str,
    /// One-line description (the HTML caption).
    pub caption: String,
    /// Where it was written.
    pub path: PathBuf,
}

/// What [`plot_run`] produced.
#[derive(Clone, Debug)]
pub struct PlotOutput {
    /// The figures, in report order.
    pub figures: Vec<Figure>,
    /// The 2-D layout drawn, with its quality measures.
    pub layout: Layout,
}

impl PlotOutput {
    /// Paths of the figures.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.figures.iter().map(|f| f.path.clone()).collect()
    }
}

/// Draws the figures of a run into `dir` as `<name>_<key>.png` (each written
/// atomically): `umap_clusters`, `umap_truth` (only with ground truth), `loss`,
/// `clusters`, `degree`.
pub fn plot_run(dir: &Path, name: &str, input: &PlotInput, p: &PlotParams) -> Result<PlotOutput> {
    p.validate()?;
    input.validate()?;
    if input.cells.is_empty() {
        return Err(Error::Data("no cells to plot".into()));
    }
    let (truth_codes, truth_names) = match &input.truth {
        Some(t) => {
            let (c, n) = codes(t);
            (Some(c), n)
        }
        None => (None, Vec::new()),
    };
    let lay = layout::layout(
        &input.embedding,
        &input.labels,
        truth_codes.as_deref(),
        &p.layout,
    )?;
    let dataset = input.dataset().unwrap_or(name).to_string();
    let size = figures::Canvas::new(p.width, p.height);
    let mut figs: Vec<(&'static str, String, Vec<u8>)> = Vec::new();

    let method = match lay.method {
        LayoutMethod::Umap => "UMAP",
        LayoutMethod::Pca => "PCA (UMAP lost the cluster separation)",
    };
    let quality_note = lay
        .score()
        .zip(lay.quality.as_ref())
        .map(|(s, q)| {
            format!(
                "{}-NN cluster purity {:.2} (embedding {:.2}), kNN preservation {:.2}",
                q.k, s.cluster_purity, q.embedding_cluster_purity, s.knn_preservation
            )
        })
        .unwrap_or_default();
    let k = input.labels.iter().max().map_or(0, |m| m + 1);
    let cluster_names: Vec<String> = (0..k).map(|c| format!("cluster {c}")).collect();
    let title = format!("{dataset}: {method} of the embedding, by cluster ({k} clusters)");
    figs.push((
        "umap_clusters",
        format!("{title}. {quality_note}"),
        figures::scatter(
            size,
            &title,
            &quality_note,
            lay.method,
            &lay.coords,
            &input.labels,
            &cluster_names,
            false,
            p.layout.seed,
        )?,
    ));
    if let Some(tc) = &truth_codes {
        let note = lay
            .score()
            .zip(lay.quality.as_ref())
            .and_then(|(s, q)| Some((s.truth_purity?, q.embedding_truth_purity?, q.k)))
            .map(|(s, e, k)| format!("{k}-NN truth purity {s:.2} (embedding {e:.2})"))
            .unwrap_or_default();
        let title = format!(
            "{dataset}: {method} of the embedding, by ground truth ({} labels)",
            truth_names.len()
        );
        figs.push((
            "umap_truth",
            format!("{title}. {note}"),
            figures::scatter(
                size,
                &title,
                &note,
                lay.method,
                &lay.coords,
                tc,
                &truth_names,
                true,
                p.layout.seed,
            )?,
        ));
    }
    let phases = report_phases(&input.report);
    let title = format!("{dataset}: training loss per phase");
    figs.push((
        "loss",
        title.clone(),
        figures::losses(size, &title, &phases)?,
    ));
    let iters = report_iterations(&input.report);
    let title = format!("{dataset}: cluster sizes per EM iteration");
    figs.push((
        "clusters",
        title.clone(),
        figures::cluster_sizes(size, &title, &iters)?,
    ));
    let title = format!("{dataset}: degree distribution of the cell graph");
    figs.push((
        "degree",
        title.clone(),
        figures::degrees(size, &title, input.cells.len(), &input.edges)?,
    ));

    let mut out = Vec::with_capacity(figs.len());
    for (key, caption, bytes) in figs {
        let path = dir.join(format!("{name}_{key}.png"));
        crate::io::atomic::write_atomic(&path, |tmp| {
            std::fs::write(tmp, &bytes).map_err(|e| Error::io(tmp, e))
        })?;
        out.push(Figure { key, caption, path });
    }
    Ok(PlotOutput {
        figures: out,
        layout: lay,
    })
}

/// Sort key comparing digit runs as numbers, so `class_2` comes before `class_10`.
fn natural_key(s: &str) -> Vec<(u8, u128, String)> {
    let mut key = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (part, tail) = if digits > 0 {
            rest.split_at(digits)
        } else {
            rest.split_at(
                rest.find(|c: char| c.is_ascii_digit())
                    .unwrap_or(rest.len()),
            )
        };
        key.push(match part.parse::<u128>() {
            Ok(v) if digits > 0 => (0, v, part.to_string()),
            _ => (1, 0, part.to_string()),
        });
        rest = tail;
    }
    key
}

/// Integer codes of string labels in natural name order ([`UNLABELLED`] last), and the names.
fn codes(labels: &[String]) -> (Vec<usize>, Vec<String>) {
    let set: BTreeSet<&str> = labels
        .iter()
        .map(String::as_str)
        .filter(|l| *l != UNLABELLED)
        .collect();
    let mut names: Vec<String> = set.into_iter().map(str::to_string).collect();
    names.sort_by_cached_key(|n| natural_key(n));
    if labels.iter().any(|l| l == UNLABELLED) {
        names.push(UNLABELLED.to_string());
    }
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    (labels.iter().map(|l| index[l.as_str()]).collect(), names)
}

/// One phase of the report, read leniently (missing fields become empty).
#[derive(Clone, Debug, Default)]
pub(crate) struct PhaseView {
    pub name: String,
    pub seconds: f64,
    pub epochs: usize,
    /// NaN where the report holds `null` (a non-finite loss).
    pub losses: Vec<f64>,
}

/// One EM iteration of the report.
#[derive(Clone, Debug, Default)]
pub(crate) struct IterView {
    pub iteration: usize,
    pub sizes: Vec<usize>,
    pub louvain: Option<usize>,
    pub ari_previous: Option<f64>,
    pub graph_change: Option<f64>,
    pub kept_edges: Option<usize>,
}

fn as_usize(v: Option<&Value>) -> Option<usize> {
    v.and_then(Value::as_u64).map(|x| x as usize)
}

pub(crate) fn report_phases(r: &Value) -> Vec<PhaseView> {
    r.get("phases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| PhaseView {
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    seconds: p.get("seconds").and_then(Value::as_f64).unwrap_or(f64::NAN),
                    epochs: as_usize(p.get("epochs")).unwrap_or(0),
                    losses: p
                        .get("losses")
                        .and_then(Value::as_array)
                        .map(|l| l.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn report_iterations(r: &Value) -> Vec<IterView> {
    r.get("iterations")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, it)| IterView {
                    iteration: as_usize(it.get("iteration")).unwrap_or(i),
                    sizes: it
                        .get("cluster_sizes")
                        .and_then(Value::as_array)
                        .map(|s| {
                            s.iter()
                                .filter_map(Value::as_u64)
                                .map(|x| x as usize)
                                .collect()
                        })
                        .unwrap_or_default(),
                    louvain: as_usize(it.get("louvain_communities")),
                    ari_previous: it.get("ari_previous").and_then(Value::as_f64),
                    graph_change: it.get("graph_change").and_then(Value::as_f64),
                    kept_edges: as_usize(it.get("kept_edges")),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The run name of a run directory: the prefix of its single `<name>_report.json`.
/// Errors when there is none or several (then pass the name explicitly).
pub fn run_name(dir: &Path) -> Result<String> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|f| f.strip_suffix("_report.json"))
                .map(str::to_string)
        })
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    match names.len() {
        1 => Ok(names.remove(0)),
        0 => Err(Error::input(
            dir,
            None,
            "no <name>_report.json here; is this the --output-dir of a `scgnn run`?",
        )),
        _ => Err(Error::input(
            dir,
            None,
            format!(
                "several runs here ({}); name the one to plot",
                names.join(", ")
            ),
        )),
    }
}

/// Reads back a run's outputs from `dir`: `<name>_results.txt`,
/// `<name>_embedding.csv`, `<name>_graph.csv` and `<name>_report.json`, plus the
/// ground truth from `truth` (a `cell,label` file) if given.
pub fn load_run(dir: &Path, name: &str, truth: Option<&Path>) -> Result<PlotInput> {
    let f = |suffix: &str| dir.join(format!("{name}{suffix}"));
    let results = f("_results.txt");
    let pairs = read_labels(&results)?;
    let mut cells = Vec::with_capacity(pairs.len());
    let mut labels = Vec::with_capacity(pairs.len());
    for (i, (c, l)) in pairs.into_iter().enumerate() {
        let v: usize = l.parse().map_err(|_| {
            Error::input(
                &results,
                Some(format!("row {}", i + 1)),
                format!("cluster label `{l}` is not a non-negative integer"),
            )
        })?;
        cells.push(c);
        labels.push(v);
    }
    let emb_path = f("_embedding.csv");
    let (ids, emb) = read_embedding(&emb_path)?;
    let embedding = embedding_rows(&emb_path, &ids, &emb, &cells)?;
    let edges = read_graph(&f("_graph.csv"), cells.len())?;
    let rep_path = f("_report.json");
    let text = std::fs::read_to_string(&rep_path).map_err(|e| Error::io(&rep_path, e))?;
    let report: Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(&rep_path, Some(format!("line {}", e.line())), e.to_string()))?;
    let truth = match truth {
        None => None,
        Some(tp) => {
            let map: HashMap<String, String> = read_labels(tp)?.into_iter().collect();
            let t: Vec<String> = cells
                .iter()
                .map(|c| {
                    map.get(c)
                        .cloned()
                        .unwrap_or_else(|| UNLABELLED.to_string())
                })
                .collect();
            if t.iter().all(|l| l == UNLABELLED) {
                return Err(Error::input(
                    tp,
                    None,
                    format!("no cell id matches the cells of {}", results.display()),
                ));
            }
            Some(t)
        }
    };
    let input = PlotInput {
        cells,
        embedding,
        labels,
        truth,
        report,
        edges,
    };
    input.validate()?;
    Ok(input)
}

/// Parses `<name>_graph.csv` (`NodeA,NodeB,Weights`, 0-based cell indices).
fn read_graph(path: &Path, n: usize) -> Result<Vec<(u32, u32, f32)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut edges = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || (no == 0 && line.starts_with("NodeA")) {
            continue;
        }
        let pos = || Some(format!("line {}", no + 1));
        let mut it = line.split(',').map(str::trim);
        let (Some(a), Some(b), Some(w)) = (it.next(), it.next(), it.next()) else {
            return Err(Error::input(path, pos(), "expected NodeA,NodeB,Weights"));
        };
        let a: u32 = a
            .parse()
            .map_err(|_| Error::input(path, pos(), format!("`{a}` is not a cell index")))?;
        let b: u32 = b
            .parse()
            .map_err(|_| Error::input(path, pos(), format!("`{b}` is not a cell index")))?;
        let w: f32 = w
            .parse()
            .map_err(|_| Error::input(path, pos(), format!("`{w}` is not a weight")))?;
        if a as usize >= n || b as usize >= n {
            return Err(Error::input(
                path,
                pos(),
                format!("cell index beyond the {n} cells of the results file"),
            ));
        }
        edges.push((a, b, w));
    }
    Ok(edges)
}
