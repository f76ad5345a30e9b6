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

use crate::error::{Error, Result};
use crate::evaluate::labels::{embedding_rows, read_embedding, read_labels};
use crate::graph::CellGraph;
use crate::matrix::Dense;
use crate::pipeline::report::Report;
use crate::pipeline::Dataset;

pub use html::write_html_report;
pub use layout::{Layout, LayoutMethod, LayoutParams, LayoutQuality, LayoutScore};

/// Label shown for cells absent from the ground-truth file.
pub const UNLABELLED: &str = "(unlabelled)";

/// The per-cell parts of a finished run the figures need, checked to agree.
struct Parts<'a> {
    embedding: &'a Dense,
    labels: &'a [usize],
    edges: Vec<(u32, u32, f32)>,
}

fn parts(ds: &Dataset) -> Result<Parts<'_>> {
    let n = ds.n_cells();
    let missing = |what: &str| Error::Usage(format!("plot: the run has no {what}"));
    let embedding = ds.embedding.as_ref().ok_or_else(|| missing("embedding"))?;
    let labels = ds.clusters.as_deref().ok_or_else(|| missing("clusters"))?;
    if embedding.rows != n || labels.len() != n {
        return Err(Error::Usage(format!(
            "plot input: {n} cells, {} embedding rows, {} labels",
            embedding.rows,
            labels.len()
        )));
    }
    if ds.truth.as_ref().is_some_and(|t| t.len() != n) {
        return Err(Error::Usage(format!(
            "plot input: {n} cells but a different number of truth labels"
        )));
    }
    let edges = ds
        .graph
        .as_ref()
        .map(CellGraph::edge_list)
        .unwrap_or_default();
    Ok(Parts {
        embedding,
        labels,
        edges,
    })
}

/// The dataset's display name: the report's, else the file name.
fn display_name(ds: &Dataset) -> &str {
    if ds.report.dataset.is_empty() {
        &ds.name
    } else {
        &ds.report.dataset
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

impl PlotParams {
    /// The default figures with the layout seeded by the run seed.
    pub fn for_seed(seed: u64) -> Self {
        PlotParams {
            layout: LayoutParams {
                seed,
                ..Default::default()
            },
            ..Default::default()
        }
    }
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
pub fn plot_run(dir: &Path, ds: &Dataset, p: &PlotParams) -> Result<PlotOutput> {
    p.validate()?;
    let input = parts(ds)?;
    let name = &ds.name;
    if ds.cells.is_empty() {
        return Err(Error::Data("no cells to plot".into()));
    }
    let (truth_codes, truth_names) = match &ds.truth {
        Some(t) => {
            let (c, n) = codes(t);
            (Some(c), n)
        }
        None => (None, Vec::new()),
    };
    let lay = layout::layout(
        input.embedding,
        input.labels,
        truth_codes.as_deref(),
        &p.layout,
    )?;
    let dataset = display_name(ds).to_string();
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
    let k = ds.n_clusters();
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
            input.labels,
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
    let title = format!("{dataset}: training loss per phase");
    figs.push((
        "loss",
        title.clone(),
        figures::losses(size, &title, &ds.report.phases)?,
    ));
    let title = format!("{dataset}: cluster sizes per EM iteration");
    figs.push((
        "clusters",
        title.clone(),
        figures::cluster_sizes(size, &title, &ds.report.iterations)?,
    ));
    let title = format!("{dataset}: degree distribution of the cell graph");
    figs.push((
        "degree",
        title.clone(),
        figures::degrees(size, &title, ds.n_cells(), &input.edges)?,
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

/// Every figure key [`plot_run`] can write, in report order.
pub const FIGURE_KEYS: [&str; 5] = ["umap_clusters", "umap_truth", "loss", "clusters", "degree"];

/// Removes the figures of `name` in `dir` that `drawn` did not write (all of
/// them, and the HTML report, when nothing was drawn), so that a folder never
/// shows figures of an earlier run beside this run's results.
pub fn remove_stale_figures(dir: &Path, name: &str, drawn: Option<&PlotOutput>) -> Result<()> {
    let kept: Vec<&str> = drawn
        .map(|d| d.figures.iter().map(|f| f.key).collect())
        .unwrap_or_default();
    let mut stale: Vec<PathBuf> = FIGURE_KEYS
        .iter()
        .filter(|k| !kept.contains(k))
        .map(|k| dir.join(format!("{name}_{k}.png")))
        .collect();
    if drawn.is_none() {
        stale.push(dir.join(format!("{name}_report.html")));
    }
    for path in stale {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!("removed {} left by an earlier run", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Ok(())
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
/// ground truth from `truth` (a `cell,label` file) if given, as a data set
/// without expression values.
pub fn load_run(dir: &Path, name: &str, truth: Option<&Path>) -> Result<Dataset> {
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
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        let older = serde_json::from_str::<serde_json::Value>(&text).is_ok();
        let msg = if older {
            format!(
                "{e}; this report was written by an older scgnn (untyped parameters), whose \
                 figures cannot be redrawn: run `scgnn run` again"
            )
        } else {
            e.to_string()
        };
        Error::input(&rep_path, Some(format!("line {}", e.line())), msg)
    })?;
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
    let n = cells.len();
    let ds = Dataset {
        name: name.to_string(),
        source: dir.display().to_string(),
        cells,
        truth,
        clusters: Some(labels),
        embedding: Some(embedding),
        graph: Some(
            CellGraph::from_edge_list(n, &edges)
                .map_err(|m| Error::input(f("_graph.csv"), None, m))?,
        ),
        report,
        ..Default::default()
    };
    parts(&ds)?;
    Ok(ds)
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
