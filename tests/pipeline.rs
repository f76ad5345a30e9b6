//! The whole method end to end on small simulated data (short epochs so CI stays
//! fast): output formats, determinism for a fixed seed, and clustering quality on a
//! clearly separated data set.

use scgnn::evaluate::metrics::ari;
use scgnn::pipeline::params::{EmbeddingUse, Regularizer, RunParams};
use scgnn::pipeline::{run, Dataset, Job, Silent, Source};
use scgnn::simulate::{simulate, SimParams};
use scgnn::ExprMatrix;
use std::path::PathBuf;

fn data(cells: usize, clusters: usize, de: f64, seed: u64) -> (ExprMatrix, Vec<usize>) {
    let (m, truth) = simulate(&SimParams {
        cells,
        genes: 400,
        clusters,
        seed,
        de_fraction: de,
        // scGNN does not normalise sequencing depth, so depth differences dominate
        // its embedding; these cells have similar depths.
        lib_sd: 0.1,
        ..Default::default()
    })
    .unwrap();
    (m, truth)
}

/// The library's entry point on an in-memory matrix, writing into `out` if given.
fn run_job(m: &ExprMatrix, p: &RunParams, out: Option<&PathBuf>) -> scgnn::Result<Dataset> {
    let job = Job {
        source: Source::Matrix {
            matrix: m.clone(),
            description: "simulated".into(),
        },
        name: Some("sim".into()),
        labels: None,
        output_dir: out.cloned(),
        plots: false,
        params: p.clone(),
        checkpoint_dir: None,
        resume: false,
    };
    run(job, &Silent)
}

fn quick_params(seed: u64) -> RunParams {
    let mut p = RunParams {
        seed,
        ..RunParams::default()
    };
    p.regu_epochs = 60;
    p.em_epochs = 30;
    p.cluster_epochs = 20;
    p.em_iterations = 3;
    p.gae.epochs = 40;
    p.ae.hidden = 128;
    p.ae.latent = 32;
    p.ae.batch_size = 64;
    p.preprocess.n_top_genes = 300;
    p
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-pipe-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn separated_clusters_are_recovered() {
    let (m, truth) = data(400, 4, 0.15, 11);
    let ds = run_job(&m, &quick_params(1), None).unwrap();
    let truth: Vec<usize> = ds.kept_cells.iter().map(|&c| truth[c]).collect();
    let a = ari(ds.clusters.as_ref().unwrap(), &truth);
    eprintln!("ARI on 4 well-separated simulated clusters: {a:.3}");
    assert!(a > 0.8, "ARI {a}");
    let imputed = ds.imputed.as_ref().unwrap();
    assert_eq!(imputed.rows, ds.n_cells());
    assert!(imputed.data.iter().all(|v| v.is_finite() && *v >= 0.0));
    // The method released the working matrix; the counts stay for the outputs.
    assert!(ds.x.is_none() && ds.counts.is_some());
}

#[test]
fn same_seed_same_files_and_scgnn_formats() {
    let (m, _) = data(200, 3, 0.1, 5);
    let mut p = quick_params(7);
    p.embedding = EmbeddingUse::Gae;
    p.regularizer = Regularizer::Ltmg;
    let d1 = tmpdir("a");
    let d2 = tmpdir("b");
    let mut ds = None;
    for d in [&d1, &d2] {
        ds = Some(run_job(&m, &p, Some(d)).unwrap());
    }
    let ds = ds.unwrap();
    for f in [
        "sim_recon.csv",
        "sim_embedding.csv",
        "sim_graph.csv",
        "sim_results.txt",
    ] {
        let a = std::fs::read(d1.join(f)).unwrap();
        let b = std::fs::read(d2.join(f)).unwrap();
        assert!(a == b, "{f} differs between two runs with the same seed");
    }
    let n = ds.n_cells();
    let recon = std::fs::read_to_string(d1.join("sim_recon.csv")).unwrap();
    let first = recon.lines().next().unwrap();
    assert!(first.starts_with(&format!(",{}", ds.cells[0])));
    assert_eq!(recon.lines().count(), ds.n_genes() + 1);
    assert_eq!(first.split(',').count(), n + 1);
    let emb = std::fs::read_to_string(d1.join("sim_embedding.csv")).unwrap();
    assert!(emb.starts_with(",embedding0,"));
    assert_eq!(
        emb.lines().next().unwrap().split(',').count(),
        1 + p.gae.hidden2
    );
    assert_eq!(emb.lines().count(), n + 1);
    let graph = std::fs::read_to_string(d1.join("sim_graph.csv")).unwrap();
    assert_eq!(graph.lines().next().unwrap(), "NodeA,NodeB,Weights");
    assert_eq!(graph.lines().count(), n * p.graph.k + 1);
    assert!(graph
        .lines()
        .skip(1)
        .all(|l| l.ends_with(",1.0") || l.ends_with(",0.0")));
    let res = std::fs::read_to_string(d1.join("sim_results.txt")).unwrap();
    assert_eq!(res.lines().next().unwrap(), ",Celltype");
    assert_eq!(res.lines().count(), n + 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d1.join("sim_report.json")).unwrap())
            .unwrap();
    let phases = report["phases"].as_array().unwrap();
    assert!(phases.len() >= 3);
    if cfg!(target_os = "linux") {
        // A running maximum: positive and never falling from one phase to the next.
        let rss: Vec<f64> = phases
            .iter()
            .map(|ph| ph["peak_rss_mib"].as_f64().unwrap())
            .collect();
        assert!(rss[0] > 1.0, "peak RSS {rss:?}");
        assert!(rss.windows(2).all(|w| w[1] >= w[0]), "peak RSS {rss:?}");
    }
    assert!(report["convergence"]["message"].as_str().unwrap().len() > 5);
    // Plain JSON of numbers and strings: parameters are typed, f32 values short.
    assert_eq!(report["params"]["gamma"].as_f64(), Some(0.1));
    assert_eq!(report["params"]["ae"]["hidden"].as_u64(), Some(128));
    assert_eq!(
        report["params"]["cluster"]["method"].as_str(),
        Some("Leiden")
    );
    assert_eq!(report["params"]["schedule"].as_str(), Some("Fast"));
    let text = std::fs::read_to_string(d1.join("sim_report.json")).unwrap();
    assert!(
        !text.contains("0.0999999") && !text.contains("AeConfig {"),
        "{text}"
    );
    let back: scgnn::pipeline::report::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back.params, p);
    std::fs::remove_dir_all(&d1).unwrap();
    std::fs::remove_dir_all(&d2).unwrap();
}

#[test]
fn refuses_runs_that_would_not_fit_in_memory() {
    let (m, _) = data(200, 3, 0.1, 2);
    let p = RunParams {
        memory_limit: 1 << 20,
        ..quick_params(1)
    };
    let err = run_job(&m, &p, None).err().expect("must refuse");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("GiB"), "{err}");
}

#[test]
fn dropout_benchmark_scores_ours_and_baselines_on_the_same_entries() {
    use scgnn::pipeline::benchmark::{dropout_mask, dropout_repeat};
    let (m, _) = simulate(&SimParams {
        cells: 150,
        genes: 300,
        clusters: 3,
        seed: 4,
        ..Default::default()
    })
    .unwrap();
    let mut p = quick_params(3);
    p.quickmode = true;
    p.em_iterations = 3;
    p.preprocess.n_top_genes = 200;
    let data = dropout_mask(&m, 0.1, 3).unwrap();
    assert_eq!(data.masked.x.nnz() + data.mask.len(), m.x.nnz());
    let r = dropout_repeat(&m, &data, 3, &p, true, None).unwrap();
    let ours = r.ours.unwrap();
    assert_eq!(ours.n_masked, r.zero.n_masked);
    assert_eq!(ours.n_masked, r.gene_mean.n_masked);
    // Only entries of the 200 kept genes are scored.
    assert!(ours.n_masked < data.mask.len() && ours.n_masked > 0);
    // Leaving the hidden entries at zero is the worst possible answer here.
    assert!(r.zero.median_l1 > r.gene_mean.median_l1);
}

/// With `--gene-scale` the autoencoders see each gene divided by a power of its
/// standard deviation; scGNN's imputation autoencoder must still write values on
/// the working scale, gene by gene (unit variance is the strongest scaling).
#[test]
fn scgnn_imputation_under_gene_scaling_stays_on_the_working_scale() {
    use scgnn::pipeline::params::{GeneScale, ImputeMethod};
    let (m, _) = data(300, 3, 0.15, 5);
    let mut p = quick_params(2);
    p.gene_scale = GeneScale::Sd;
    p.impute_method = ImputeMethod::Scgnn;
    p.impute_on_observed = true;
    p.impute_epochs = Some(60);
    let ds = run_job(&m, &p, None).unwrap();
    let imputed = ds.imputed.as_ref().unwrap();
    let observed = ds
        .scale
        .as_ref()
        .unwrap()
        .normalised(ds.counts.as_ref().unwrap())
        .into_owned();
    let (n, g) = (imputed.rows, imputed.cols);
    let mut obs_mean = vec![0f64; g];
    for (&j, &v) in observed.indices.iter().zip(&observed.data) {
        obs_mean[j as usize] += (v as f64).ln_1p() / n as f64;
    }
    let mut imp_mean = vec![0f64; g];
    for r in 0..n {
        for (j, &v) in imputed.row(r).iter().enumerate() {
            imp_mean[j] += v as f64 / n as f64;
        }
    }
    let mut rel: Vec<f64> = (0..g)
        .filter(|&j| obs_mean[j] > 0.05)
        .map(|j| (imp_mean[j] / obs_mean[j] - 1.0).abs())
        .collect();
    rel.sort_by(f64::total_cmp);
    let median = rel[rel.len() / 2];
    eprintln!(
        "median relative error of the per-gene mean: {median:.3} over {} genes",
        rel.len()
    );
    assert!(
        median < 0.25,
        "imputed gene means are off the working scale: {median}"
    );
}
