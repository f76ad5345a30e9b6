//! The self-contained HTML report: one file, no scripts, no external resources,
//! figures inlined as base64 PNG data URIs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use super::{display_name, PlotOutput};
use crate::error::{Error, Result};
use crate::pipeline::report::Report;
use crate::pipeline::Dataset;

/// A typed value as JSON for the tables, through its text form so that f32
/// parameters keep their short decimal form (0.9, not 0.8999999761581421).
fn json_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_string(v)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A number for a table: integers as such, others with 4 significant digits.
fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 1e5 || v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Number(x) => x.as_f64().map(num).unwrap_or_else(|| x.to_string()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Nested objects flattened to `a.b.c` keys, in the report's (sorted) order.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        _ => out.push((prefix.to_string(), value(v))),
    }
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1150px;color:#222;line-height:1.4}\
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}td.num{text-align:right}figure{margin:16px 0}img{max-width:100%;border:1px solid #ddd}\
.muted{color:#666;font-size:14px}.warn{background:#fff3cd;border:1px solid #e0c36c;padding:6px 10px}";

/// Writes `<dir>/<name>_report.html` (atomically): the run's summary, evaluation,
/// figures (read from `plots`' files and inlined), layout quality, phases with
/// timings and losses, EM iterations with cluster sizes, and all parameters.
pub fn write_html_report(dir: &Path, ds: &Dataset, plots: &PlotOutput) -> Result<PathBuf> {
    let r = &ds.report;
    let name = &ds.name;
    let dataset = display_name(ds);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>scGNN report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(dataset)
    );
    let _ = writeln!(h, "<h1>scGNN run report: {}</h1>", esc(dataset));
    let peak = format!("{:.1} MiB", r.estimated_peak_bytes as f64 / 1048576.0);
    h.push_str("<h2>Summary</h2>");
    if !r.convergence.converged && !r.convergence.message.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"warn\">Warning: the EM loop {}</p>",
            esc(&r.convergence.message)
        );
    }
    table(
        &mut h,
        &["item", "value"],
        &[
            vec!["scgnn-rs version".into(), r.version.clone()],
            vec!["input".into(), r.input.clone()],
            vec![
                "cells × genes (after preprocessing)".into(),
                format!("{} × {}", r.n_cells, r.n_genes),
            ],
            vec!["threads".into(), r.threads.to_string()],
            vec!["total time (s)".into(), num(r.total_seconds)],
            vec!["estimated peak memory".into(), peak],
            vec!["final clusters".into(), ds.n_clusters().to_string()],
            vec!["convergence".into(), r.convergence.message.clone()],
        ],
    );

    if let Some(ev) = &r.evaluation {
        h.push_str("<h2>Evaluation against the given labels</h2>");
        let mut rows = Vec::new();
        flatten("", &json_value(ev), &mut rows);
        let rows: Vec<Vec<String>> = rows.into_iter().map(|(a, b)| vec![a, b]).collect();
        table(&mut h, &["metric", "value"], &rows);
    }

    h.push_str("<h2>Figures</h2>\n");
    for f in &plots.figures {
        let bytes = std::fs::read(&f.path).map_err(|e| Error::io(&f.path, e))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        // The caption is drawn in the figure itself; it is repeated as alt text.
        let _ = writeln!(
            h,
            "<figure id=\"{key}\"><img alt=\"{cap}\" title=\"{cap}\" src=\"data:image/png;base64,{b64}\"></figure>",
            key = f.key,
            cap = esc(&f.caption)
        );
    }

    layout_section(&mut h, plots);
    run_tables(&mut h, r);
    if let Some(states) = &r.ltmg_states {
        h.push_str("<h2>LTMG states</h2>");
        let rows: Vec<Vec<String>> = states
            .iter()
            .map(|(s, c)| vec![s.to_string(), c.to_string()])
            .collect();
        table(&mut h, &["state", "entries"], &rows);
    }

    h.push_str("<h2>Parameters</h2>");
    let mut rows = Vec::new();
    flatten("", &json_value(&r.params), &mut rows);
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(a, b)| vec![a, b]).collect();
    table(&mut h, &["parameter", "value"], &rows);
    h.push_str("</body></html>\n");

    let path = dir.join(format!("{name}_report.html"));
    crate::io::atomic::write_atomic(&path, |tmp| {
        std::fs::write(tmp, h.as_bytes()).map_err(|e| Error::io(tmp, e))
    })?;
    Ok(path)
}

/// The 2-D layout's quality measures.
fn layout_section(h: &mut String, plots: &PlotOutput) {
    h.push_str("<h2>2-D layout quality</h2>");
    match &plots.layout.quality {
        Some(q) => {
            let _ = write!(
                h,
                "<p class=\"muted\">Drawn: <b>{}</b>. Measures over each cell's {} nearest neighbours: label purity = share of neighbours in the cell's cluster (or true class); kNN preservation = share of its embedding neighbours kept as layout neighbours. UMAP is replaced by PCA when its cluster purity falls below 90 % of the embedding's and PCA does better.</p>",
                plots.layout.method.axis().replace("PC", "PCA"),
                q.k
            );
            let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
            table(
                h,
                &[
                    "space",
                    "cluster purity",
                    "truth purity",
                    "kNN preservation",
                ],
                &[
                    vec![
                        "embedding".into(),
                        num(q.embedding_cluster_purity),
                        opt(q.embedding_truth_purity),
                        "1".into(),
                    ],
                    vec![
                        "UMAP".into(),
                        num(q.umap.cluster_purity),
                        opt(q.umap.truth_purity),
                        num(q.umap.knn_preservation),
                    ],
                    vec![
                        "PCA".into(),
                        num(q.pca.cluster_purity),
                        opt(q.pca.truth_purity),
                        num(q.pca.knn_preservation),
                    ],
                ],
            );
        }
        None => h.push_str("<p class=\"muted\">Too few cells to measure; PCA drawn.</p>"),
    }
}

/// The phases and EM iterations of the report.
fn run_tables(h: &mut String, r: &Report) {
    h.push_str("<h2>Phases</h2>");
    let rows: Vec<Vec<String>> = r
        .phases
        .iter()
        .map(|p| {
            let first = p
                .losses
                .first()
                .copied()
                .map(num)
                .unwrap_or_else(|| "–".into());
            let last = p
                .losses
                .last()
                .copied()
                .map(num)
                .unwrap_or_else(|| "–".into());
            vec![
                p.name.clone(),
                num(p.seconds),
                p.epochs.to_string(),
                first,
                last,
            ]
        })
        .collect();
    table(
        h,
        &["phase", "seconds", "epochs", "first loss", "final loss"],
        &rows,
    );

    h.push_str("<h2>EM iterations</h2>");
    let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = r
        .iterations
        .iter()
        .map(|it| {
            let sizes: Vec<String> = it.cluster_sizes.iter().map(|s| s.to_string()).collect();
            vec![
                it.iteration.to_string(),
                it.cluster_sizes.len().to_string(),
                sizes.join(", "),
                it.louvain_communities.map_or("–".into(), |v| v.to_string()),
                opt(it.ari_previous),
                opt(it.graph_change),
                it.kept_edges.to_string(),
            ]
        })
        .collect();
    table(
        h,
        &[
            "iteration",
            "clusters",
            "cluster sizes",
            "Louvain communities",
            "ARI with previous",
            "graph change",
            "kept edges",
        ],
        &rows,
    );
}
