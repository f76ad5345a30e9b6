//! Figures and report of real runs, for inspection (ignored by default: needs run
//! directories). `SCGNN_PLOT_RUNS="dir[=truth.csv];dir2[=truth2.csv]"`
//! `cargo test --release --test plot_runs -- --ignored --nocapture` writes the
//! figures and `<name>_report.html` into each run directory and prints the
//! layout quality.

use std::path::Path;

use scgnn::evaluate::metrics::silhouette_guarded;
use scgnn::matrix::Dense;
use scgnn::plot::{self, PlotParams};

#[test]
#[ignore]
fn plot_run_directories() {
    let Ok(spec) = std::env::var("SCGNN_PLOT_RUNS") else {
        println!("SCGNN_PLOT_RUNS not set; nothing to plot");
        return;
    };
    for item in spec.split(';').filter(|s| !s.is_empty()) {
        let (dir, truth) = match item.split_once('=') {
            Some((d, t)) => (Path::new(d), Some(Path::new(t))),
            None => (Path::new(item), None),
        };
        let name = plot::run_name(dir).unwrap();
        let input = plot::load_run(dir, &name, truth).unwrap();
        let t0 = std::time::Instant::now();
        let out = plot::plot_run(dir, &input, &PlotParams::default()).unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let html = plot::write_html_report(dir, &input, &out).unwrap();
        let q = out.layout.quality.as_ref().unwrap();
        println!(
            "{name}: {} cells, drawn {:?} in {secs:.2} s -> {}",
            input.cells.len(),
            out.layout.method,
            html.display()
        );
        println!(
            "  embedding: cluster purity {:.3}, truth purity {:?}",
            q.embedding_cluster_purity, q.embedding_truth_purity
        );
        for (m, s) in [("UMAP", &q.umap), ("PCA", &q.pca)] {
            println!(
                "  {m}: cluster purity {:.3}, truth purity {:?}, kNN preservation {:.3}",
                s.cluster_purity, s.truth_purity, s.knn_preservation
            );
        }
        // Silhouette of the run's clusters in the embedding and in the drawn layout.
        let d2 = Dense::from_vec(
            input.cells.len(),
            2,
            out.layout.coords.iter().flatten().copied().collect(),
        );
        let labels = input.clusters.as_deref().unwrap();
        let emb = input.embedding.as_ref().unwrap();
        let se = silhouette_guarded(emb, labels, 5000, 0).map(|s| s.value);
        let s2 = silhouette_guarded(&d2, labels, 5000, 0).map(|s| s.value);
        println!("  cluster silhouette: embedding {se:?}, layout {s2:?}");
    }
}
