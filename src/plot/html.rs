//! The self-contained HTML report: one file, no scripts, no external resources,
//! figures inlined as base64 PNG data URIs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use super::{report_iterations, report_phases, PlotInput, PlotOutput};
use crate::error::{Error, Result};

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
.muted{color:#666;font-size:14px}";

/// Writes `<dir>/<name>_report.html` (atomically): the run's summary, evaluation,
/// figures (read from `plots`' files and inlined), layout quality, phases with
/// timings and losses, EM iterations with cluster sizes, and all parameters.
pub fn write_html_report(
    dir: &Path,
    name: &str,
    input: &PlotInput,
    plots: &PlotOutput,
) -> Result<PathBuf> {
    let r = &input.report;
    let get = |k: &str| r.get(k).map(value).unwrap_or_else(|| "–".into());
    let dataset = input.dataset().unwrap_or(name);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>scGNN report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(dataset)
    );
    let _ = writeln!(h, "<h1>scGNN run report: {}</h1>", esc(dataset));
    let k = input.labels.iter().max().map_or(0, |m| m + 1);
    let peak = r
        .get("estimated_peak_bytes")
        .and_then(Value::as_f64)
        .map(|b| format!("{:.1} MiB", b / 1048576.0))
        .unwrap_or_else(|| "–".into());
    h.push_str("<h2>Summary</h2>");
    table(
        &mut h,
        &["item", "value"],
        &[
            vec!["scgnn-rs version".into(), get("version")],
            vec!["input".into(), get("input")],
            vec![
                "cells × genes (after preprocessing)".into(),
                format!("{} × {}", get("n_cells"), get("n_genes")),
            ],
            vec!["threads".into(), get("threads")],
            vec!["total time (s)".into(), get("total_seconds")],
            vec!["estimated peak memory".into(), peak],
            vec!["final clusters".into(), k.to_string()],
            vec!["convergence".into(), get("convergence")],
        ],
    );

    if let Some(ev) = r.get("evaluation").filter(|v| !v.is_null()) {
        h.push_str("<h2>Evaluation against the given labels</h2>");
        let mut rows = Vec::new();
        flatten("", ev, &mut rows);
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
                &mut h,
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

    h.push_str("<h2>Phases</h2>");
    let rows: Vec<Vec<String>> = report_phases(r)
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
        &mut h,
        &["phase", "seconds", "epochs", "first loss", "final loss"],
        &rows,
    );

    h.push_str("<h2>EM iterations</h2>");
    let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = report_iterations(r)
        .iter()
        .map(|it| {
            let sizes: Vec<String> = it.sizes.iter().map(|s| s.to_string()).collect();
            vec![
                it.iteration.to_string(),
                it.sizes.len().to_string(),
                sizes.join(", "),
                it.louvain.map_or("–".into(), |v| v.to_string()),
                opt(it.ari_previous),
                opt(it.graph_change),
                it.kept_edges.map_or("–".into(), |v| v.to_string()),
            ]
        })
        .collect();
    table(
        &mut h,
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

    if let Some(states) = r.get("ltmg_states").and_then(Value::as_array) {
        h.push_str("<h2>LTMG states</h2>");
        let rows: Vec<Vec<String>> = states
            .iter()
            .filter_map(Value::as_array)
            .map(|p| p.iter().map(value).collect())
            .collect();
        table(&mut h, &["state", "entries"], &rows);
    }

    h.push_str("<h2>Parameters</h2>");
    let mut rows = Vec::new();
    if let Some(p) = r.get("params") {
        flatten("", p, &mut rows);
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(a, b)| vec![a, b]).collect();
    table(&mut h, &["parameter", "value"], &rows);
    h.push_str("</body></html>\n");

    let path = dir.join(format!("{name}_report.html"));
    crate::io::atomic::write_atomic(&path, |tmp| {
        std::fs::write(tmp, h.as_bytes()).map_err(|e| Error::io(tmp, e))
    })?;
    Ok(path)
}
