//! Figures, layout quality and HTML report of `scgnn::plot`.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use scgnn::graph::knn::{knn, Distance};
use scgnn::graph::CellGraph;
use scgnn::matrix::Dense;
use scgnn::pipeline::report::Report;
use scgnn::pipeline::Dataset;
use scgnn::plot::{self, layout, LayoutMethod, LayoutParams, PlotParams};

/// A decoded 8-bit RGB PNG.
struct Png {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

/// Independent PNG reader (8-bit RGB, all five filters, CRCs checked), so the
/// figures are checked as any viewer would read them.
fn decode_png(bytes: &[u8]) -> Png {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let (mut pos, mut idat, mut dims) = (8, Vec::new(), None);
    let mut ended = false;
    while pos < bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = &bytes[pos + 8..pos + 8 + len];
        let crc = u32::from_be_bytes(bytes[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        let mut c = flate2::Crc::new();
        c.update(kind);
        c.update(data);
        assert_eq!(c.sum(), crc, "chunk CRC");
        match kind {
            b"IHDR" => {
                let w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                let h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(&data[8..13], &[8, 2, 0, 0, 0], "8-bit RGB, no interlace");
                dims = Some((w, h));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => ended = true,
            _ => {}
        }
        pos += 12 + len;
    }
    assert!(ended, "IEND chunk");
    let (w, h) = dims.expect("IHDR chunk");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = 3 * w;
    assert_eq!(raw.len(), (stride + 1) * h, "decompressed size");
    let mut rgb = vec![0u8; stride * h];
    for r in 0..h {
        let f = raw[r * (stride + 1)];
        let src = &raw[r * (stride + 1) + 1..(r + 1) * (stride + 1)];
        for i in 0..stride {
            let a = if i >= 3 {
                rgb[r * stride + i - 3] as i32
            } else {
                0
            };
            let b = if r > 0 {
                rgb[(r - 1) * stride + i] as i32
            } else {
                0
            };
            let c = if r > 0 && i >= 3 {
                rgb[(r - 1) * stride + i - 3] as i32
            } else {
                0
            };
            let pred = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => panic!("bad filter {f}"),
            };
            rgb[r * stride + i] = (src[i] as i32 + pred) as u8;
        }
    }
    Png {
        width: w,
        height: h,
        rgb,
    }
}

/// Distinct colours and the share of the most frequent one.
fn colour_stats(p: &Png) -> (usize, f64) {
    let mut counts = std::collections::HashMap::new();
    for px in p.rgb.chunks_exact(3) {
        *counts.entry([px[0], px[1], px[2]]).or_insert(0usize) += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    (counts.len(), top as f64 / (p.width * p.height) as f64)
}

/// `k` well separated Gaussian clusters of `per` cells in `d` dimensions: centres
/// at distance ≈ 8·√2 (standard-normal centres × 8), unit within-cluster spread.
fn blobs(k: usize, per: usize, d: usize, seed: u64) -> (Dense, Vec<usize>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let nrm = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..k)
        .map(|_| (0..d).map(|_| 8.0 * nrm.sample(&mut rng)).collect())
        .collect();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..k * per {
        let c = i % k;
        labels.push(c);
        data.extend(centres[c].iter().map(|m| m + nrm.sample(&mut rng)));
    }
    (Dense::from_vec(k * per, d, data), labels)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-plot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run-shaped input: blobs, their KNN graph (every fifth edge pruned) and a
/// report with the fields the pipeline writes.
fn synthetic_input() -> Dataset {
    let (emb, labels) = blobs(5, 40, 16, 7);
    let n = emb.rows;
    let g = knn(&emb, 10, Distance::Euclidean).unwrap();
    let mut edges = Vec::new();
    for i in 0..n {
        for (t, &j) in g.neighbors(i).iter().enumerate() {
            edges.push((i as u32, j, if (i + t) % 5 == 0 { 0.0 } else { 1.0 }));
        }
    }
    let losses = |start: f64, len: usize| -> Vec<f64> {
        (0..len).map(|e| start * 0.97f64.powi(e as i32)).collect()
    };
    let report = serde_json::json!({
        "version": "0.1.0", "dataset": "blobs", "input": "in<1>.csv", "n_cells": n, "n_genes": 16,
        "threads": 2,
        "phases": [
            {"name": "feature_ae", "seconds": 1.5, "epochs": 40, "losses": losses(8e5, 40)},
            {"name": "graph0", "seconds": 0.01, "epochs": 0, "losses": []},
            {"name": "em1.feature_ae", "seconds": 0.7, "epochs": 20, "losses": losses(2e4, 20)},
            {"name": "em1.gae", "seconds": 0.2, "epochs": 20, "losses": losses(0.9, 20)},
            {"name": "em2.feature_ae", "seconds": 0.7, "epochs": 20, "losses": losses(1.5e4, 20)},
            {"name": "impute_ae", "seconds": 0.4, "epochs": 20, "losses": losses(4e7, 20)}
        ],
        "iterations": [
            {"iteration": 0, "n_clusters": 4, "cluster_sizes": [80, 40, 40, 40], "louvain_communities": 5,
             "ari_previous": null, "graph_change": null, "kept_edges": 1600},
            {"iteration": 1, "n_clusters": 5, "cluster_sizes": [40, 40, 40, 40, 40], "louvain_communities": 5,
             "ari_previous": 0.8, "graph_change": 0.1, "kept_edges": 1600},
            {"iteration": 2, "n_clusters": 5, "cluster_sizes": [40, 40, 40, 40, 40], "louvain_communities": 5,
             "ari_previous": 1.0, "graph_change": 0.0, "kept_edges": 1600}
        ],
        "convergence": {"converged": true, "iteration": 2, "message": "converged at iteration 2"},
        "estimated_peak_bytes": 123456789u64,
        "total_seconds": 4.2, "ltmg_states": null
    });
    let mut report: Report = serde_json::from_value(report).unwrap();
    report.evaluation =
        Some(scgnn::evaluate::metrics::evaluate(&labels, &labels, None, 1).unwrap());
    Dataset {
        name: "blobs".into(),
        cells: (0..n).map(|i| format!("cell{i}")).collect(),
        embedding: Some(emb),
        truth: Some(labels.iter().map(|&l| format!("type <{l}>")).collect()),
        clusters: Some(labels),
        graph: Some(CellGraph::from_edge_list(n, &edges).unwrap()),
        report,
        ..Default::default()
    }
}

#[test]
fn png_encoder_round_trips() {
    let (w, h) = (37u32, 23u32);
    let rgb: Vec<u8> = (0..3 * w * h)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let p = decode_png(&plot::png::encode_rgb(w, h, &rgb));
    assert_eq!((p.width, p.height), (37, 23));
    assert_eq!(p.rgb, rgb);
}

#[test]
fn figures_and_html_report() {
    let dir = tmpdir("figs");
    let input = synthetic_input();
    let out = plot::plot_run(&dir, &input, &PlotParams::default()).unwrap();
    let keys: Vec<&str> = out.figures.iter().map(|f| f.key).collect();
    assert_eq!(
        keys,
        ["umap_clusters", "umap_truth", "loss", "clusters", "degree"]
    );
    for f in &out.figures {
        assert_eq!(f.path, dir.join(format!("blobs_{}.png", f.key)));
        let p = decode_png(&std::fs::read(&f.path).unwrap());
        assert_eq!((p.width, p.height), (1650, 1140), "{}", f.key);
        let (distinct, top) = colour_stats(&p);
        // Antialiased text and several series: many colours, background far from all.
        assert!(distinct >= 20, "{}: only {distinct} colours", f.key);
        assert!(
            top < 0.995,
            "{}: {:.3} of the pixels share one colour",
            f.key,
            top
        );
    }
    // The truth scatter uses one colour per class: its legend lists them all.
    let html = plot::write_html_report(&dir, &input, &out).unwrap();
    assert_eq!(html, dir.join("blobs_report.html"));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("src=\"http") && !text.contains("<script"),
        "self-contained"
    );
    assert!(
        text.contains("in&lt;1&gt;.csv") && !text.contains("in<1>"),
        "text is escaped"
    );
    for f in &out.figures {
        let marker = format!("<figure id=\"{}\"><img alt=", f.key);
        let at = text
            .find(&marker)
            .unwrap_or_else(|| panic!("{} not inlined", f.key));
        let uri = "src=\"data:image/png;base64,";
        let start = at + text[at..].find(uri).unwrap() + uri.len();
        let end = start + text[start..].find('"').unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&text[start..end])
            .unwrap();
        assert_eq!(
            bytes,
            std::fs::read(&f.path).unwrap(),
            "{} inlined verbatim",
            f.key
        );
    }
    for needle in [
        "converged at iteration 2",
        "em1.gae",
        "Louvain communities",
        "graph.distance",
        "117.7 MiB",
        "nmi",
    ] {
        assert!(text.contains(needle), "report lacks {needle}");
    }
    // No partial files left behind by the atomic writes.
    let names: HashSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    assert_eq!(names.len(), 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn umap_keeps_separated_clusters_apart() {
    let (emb, labels) = blobs(6, 100, 20, 3);
    let p = LayoutParams::default();
    let lay = layout::layout(&emb, &labels, Some(&labels), &p).unwrap();
    let q = lay.quality.clone().unwrap();
    assert_eq!(lay.method, LayoutMethod::Umap, "{q:?}");
    assert!(q.embedding_cluster_purity > 0.99, "{q:?}");
    assert!(q.umap.cluster_purity > 0.99, "{q:?}");
    assert!(q.umap.knn_preservation > 0.2, "{q:?}");
    // Separated in the picture: every cluster's 2-D bounding box is disjoint from the others'.
    let mut boxes = [[
        f32::INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
    ]; 6];
    for (c, &l) in lay.coords.iter().zip(&labels) {
        let b = &mut boxes[l];
        b[0] = b[0].min(c[0]);
        b[1] = b[1].min(c[1]);
        b[2] = b[2].max(c[0]);
        b[3] = b[3].max(c[1]);
    }
    for a in 0..6 {
        for b in a + 1..6 {
            let (p, r) = (boxes[a], boxes[b]);
            let overlap = p[0] <= r[2] && r[0] <= p[2] && p[1] <= r[3] && r[1] <= p[3];
            assert!(!overlap, "clusters {a} and {b} overlap: {p:?} {r:?}");
        }
    }
    let sil = scgnn::evaluate::metrics::silhouette(
        &Dense::from_vec(emb.rows, 2, lay.coords.iter().flatten().copied().collect()),
        &labels,
    )
    .unwrap();
    assert!(sil > 0.7, "2-D silhouette {sil}");
    // Same seed, same picture.
    let again = layout::layout(&emb, &labels, None, &p).unwrap();
    assert_eq!(again.coords, lay.coords);
    let other = layout::layout(&emb, &labels, None, &LayoutParams { seed: 1, ..p }).unwrap();
    assert_ne!(other.coords, lay.coords);
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn load_run_reads_the_outputs_back() {
    let dir = tmpdir("load");
    write(&dir.join("r_results.txt"), ",Celltype\nb,1\na,0\nc,1\n");
    write(
        &dir.join("r_embedding.csv"),
        ",embedding0,embedding1\na,1,2\nb,3,4\nc,5,6\n",
    );
    write(
        &dir.join("r_graph.csv"),
        "NodeA,NodeB,Weights\n0,1,1.0\n1,2,0.0\n2,0,1.0\n",
    );
    write(
        &dir.join("r_report.json"),
        "{\"dataset\": \"r\", \"phases\": []}",
    );
    write(&dir.join("truth.csv"), "cell_id,label\na,x\nb,y\n");
    assert_eq!(plot::run_name(&dir).unwrap(), "r");
    let inp = plot::load_run(&dir, "r", Some(&dir.join("truth.csv"))).unwrap();
    assert_eq!(inp.cells, ["b", "a", "c"]);
    assert_eq!(inp.clusters.as_deref().unwrap(), [1, 0, 1]);
    // Embedding rows follow the results' cell order.
    assert_eq!(
        inp.embedding.as_ref().unwrap().data,
        [3.0, 4.0, 1.0, 2.0, 5.0, 6.0]
    );
    assert_eq!(
        inp.graph.as_ref().unwrap().edge_list(),
        [(0, 1, 1.0), (1, 2, 0.0), (2, 0, 1.0)]
    );
    assert_eq!(inp.truth.as_deref().unwrap(), ["y", "x", plot::UNLABELLED]);
    assert_eq!(inp.report.dataset, "r");

    // A graph naming a cell that does not exist is an input error naming the line.
    write(&dir.join("r_graph.csv"), "NodeA,NodeB,Weights\n0,7,1.0\n");
    let e = plot::load_run(&dir, "r", None).unwrap_err().to_string();
    assert!(e.contains("r_graph.csv:line 2"), "{e}");
    write(&dir.join("s_report.json"), "{}");
    assert!(plot::run_name(&dir).is_err(), "two runs: ambiguous");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tiny_runs_and_empty_reports_still_draw() {
    let dir = tmpdir("tiny");
    let input = Dataset {
        name: "tiny".into(),
        cells: vec!["a".into(), "b".into(), "c".into()],
        embedding: Some(Dense::from_vec(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0])),
        clusters: Some(vec![0, 0, 1]),
        report: serde_json::from_str("{}").unwrap(),
        ..Default::default()
    };
    let out = plot::plot_run(&dir, &input, &PlotParams::default()).unwrap();
    assert_eq!(out.layout.method, LayoutMethod::Pca);
    assert!(out.layout.quality.is_none());
    assert_eq!(out.figures.len(), 4, "no truth figure without truth");
    for f in &out.figures {
        let p = decode_png(&std::fs::read(&f.path).unwrap());
        assert!(colour_stats(&p).0 >= 20, "{}: the message is drawn", f.key);
    }
    plot::write_html_report(&dir, &input, &out).unwrap();
    // Mismatched input is a usage error, not a panic.
    let bad = Dataset {
        name: "bad".into(),
        clusters: Some(vec![0]),
        ..input
    };
    assert!(plot::plot_run(&dir, &bad, &PlotParams::default()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
