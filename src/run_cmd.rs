//! `scgnn run`: turns the parsed options into `RunParams`, reads (or simulates) the
//! input, calls the pipeline and writes the outputs.

use crate::cli::{DropoutArgs, McvArgs, RunArgs};
use scgnn::cluster::{Method, Resolution};
use scgnn::error::{Error, Result};
use scgnn::evaluate::dropout::{aggregate, DropoutScore, DropoutSummary};
use scgnn::io::{self, Format, ReadOptions};
use scgnn::models::gae::GaeModel;
use scgnn::pipeline::benchmark::{self, Scale};
use scgnn::pipeline::params::{EmbeddingUse, RunParams};
use scgnn::pipeline::{self, Progress};
use scgnn::plot;
use scgnn::preprocess::{self, Preprocessed};
use scgnn::simulate::{SimDesign, SimParams};
use std::path::PathBuf;
use std::time::Instant;

/// Size of the built-in demo data set.
const DEMO: (usize, usize, usize) = (500, 1000, 5);

fn parse<T: std::str::FromStr<Err = Error>>(v: &Option<String>) -> Result<Option<T>> {
    v.as_deref().map(str::parse::<T>).transpose()
}

/// Builds the run parameters: scGNN's defaults, then `--paper`, then explicit options.
pub fn params(a: &RunArgs, seed: u64) -> Result<RunParams> {
    if a.reduction != "sum" {
        return Err(Error::Usage(format!(
            "--reduction {}: only 'sum' (scGNN's default) is supported",
            a.reduction
        )));
    }
    if !a.model.eq_ignore_ascii_case("AE") {
        return Err(Error::Usage(format!(
            "--model {}: only 'AE' is supported (scGNN's VAE has a sigmoid output that cannot fit log data > 1)",
            a.model
        )));
    }
    if !a.precision_model.eq_ignore_ascii_case("Float") {
        return Err(Error::Usage(
            "--precisionModel: only 'Float' (32-bit) is supported".into(),
        ));
    }
    if a.gae_dropout != 0.0 {
        return Err(Error::Usage(
            "--GAEdropout: only 0 (scGNN's default) is supported".into(),
        ));
    }
    let mut p = RunParams {
        seed,
        ..RunParams::default()
    };
    if a.paper {
        p = p.paper();
    }
    p.preprocess = crate::preprocess_params(&a.pre)?;
    p.skip_preprocess = a.skip_preprocess;
    if let Some(r) = parse(&a.regulized_type)? {
        p.regularizer = r;
    }
    macro_rules! set {
        ($field:expr, $opt:expr) => {
            if let Some(v) = $opt {
                $field = v;
            }
        };
    }
    set!(p.gamma, a.gamma_para);
    set!(p.alpha, a.alpha_regularize_para);
    set!(p.l1, a.l1_para);
    set!(p.l2, a.l2_para);
    set!(p.penalty_phases, parse(&a.penalty_phases)?);
    set!(p.ae.batch_size, a.batch_size);
    set!(p.regu_epochs, a.regu_epochs);
    set!(p.em_epochs, a.em_epochs);
    set!(p.em_iterations, a.em_iteration);
    set!(p.cluster_epochs, a.cluster_epochs);
    if a.quickmode {
        p.quickmode = true;
    }
    set!(p.early_stop_tol, a.early_stop);
    set!(p.patience, a.patience);
    set!(p.graph.k, a.k);
    set!(p.graph.distance, parse(&a.knn_distance)?);
    set!(p.graph.prune, parse(&a.prunetype)?);
    set!(p.graph_use, parse(&a.gae_graph)?);
    if a.use_both_embedding {
        p.embedding = EmbeddingUse::Both;
    } else if a.use_gae_embedding {
        p.embedding = EmbeddingUse::Gae;
    }
    if let Some(m) = &a.gae_model {
        p.gae.model = match m.to_ascii_lowercase().as_str() {
            "gcn_vae" => GaeModel::GcnVae,
            "gcn_ae" => GaeModel::GcnAe,
            _ => {
                return Err(Error::Usage(format!(
                    "--GAEmodel {m}: use gcn_vae or gcn_ae"
                )))
            }
        };
    }
    set!(p.gae.epochs, a.gae_epochs);
    set!(p.gae.hidden1, a.gae_hidden1);
    set!(p.gae.hidden2, a.gae_hidden2);
    set!(p.gae.lr, a.gae_lr);
    set!(p.cluster.method, parse::<Method>(&a.clustering_method)?);
    set!(p.cluster.n_clusters, a.n_clusters);
    set!(p.cluster.resolution, parse::<Resolution>(&a.resolution)?);
    set!(p.cluster.max_clusters, a.max_cluster_number);
    set!(p.cluster.min_members, a.min_member_in_cluster);
    set!(p.converge_type, parse(&a.converge_type)?);
    set!(p.converge_celltype_ratio, a.converge_celltyperatio);
    set!(p.converge_graph_ratio, a.converge_graphratio);
    set!(p.impute_regularizer, parse(&a.em_regulized_type)?);
    set!(p.gamma_impute, a.gamma_impute_para);
    set!(p.graph_impute, a.graph_impute_para);
    set!(p.celltype_impute, a.celltype_impute_para);
    p.zero_below = a.zero_below.or(if a.no_postprocessing_tag {
        Some(a.post_threshold)
    } else {
        None
    });
    p.validate()?;
    Ok(p)
}

/// Runs `scgnn run`.
pub fn run(a: &RunArgs, seed: u64, quiet: bool) -> Result<()> {
    let p = params(a, seed)?;
    let t0 = Instant::now();
    let (input_desc, raw, truth, name) = if a.demo {
        // Similar sequencing depths (lib_sd 0.1): like the original, the method does
        // not normalise depth, which would otherwise dominate the embedding.
        let sp = SimParams {
            cells: DEMO.0,
            genes: DEMO.1,
            clusters: DEMO.2,
            seed,
            lib_sd: 0.1,
            de_fraction: 0.1,
            ..Default::default()
        };
        let d = SimDesign::new(&sp)?;
        tracing::info!(
            "demo: simulated {} cells × {} genes in {} clusters (seed {seed})",
            DEMO.0,
            DEMO.1,
            DEMO.2
        );
        let truth: Vec<(String, String)> = d.cell_ids().into_iter().zip(d.labels()).collect();
        (
            "built-in demo".to_string(),
            d.matrix(),
            Some(truth),
            a.dataset_name.clone().unwrap_or_else(|| "demo".into()),
        )
    } else {
        let spin = Progress { bars: !quiet }.spinner("reading");
        let r = read_input(a);
        spin.finish_and_clear();
        let (path, m) = r?;
        let truth = match &a.labels {
            Some(l) => Some(scgnn::evaluate::labels::read_labels(l)?),
            None => None,
        };
        let name = a
            .dataset_name
            .clone()
            .unwrap_or_else(|| dataset_name(&path));
        (path.display().to_string(), m, truth, name)
    };
    let pre: Preprocessed = if p.skip_preprocess {
        preprocess::from_logged(raw)
    } else {
        let pre = preprocess::preprocess(&raw, &p.preprocess)?;
        drop(raw);
        pre
    };
    let mut out = pipeline::run(&pre, &p, Progress { bars: !quiet })?;
    out.report.dataset = name.clone();
    out.report.input = input_desc;
    if let Some(truth) = &truth {
        let pred: Vec<(String, String)> = pre
            .expr
            .cells
            .iter()
            .cloned()
            .zip(out.labels.iter().map(|l| l.to_string()))
            .collect();
        let src = a
            .labels
            .clone()
            .unwrap_or_else(|| PathBuf::from("demo truth"));
        let m = scgnn::evaluate::labels::match_labels(
            std::path::Path::new("run labels"),
            &pred,
            &src,
            truth,
        )?;
        let emb = scgnn::evaluate::labels::embedding_rows(
            std::path::Path::new("run embedding"),
            &pre.expr.cells,
            &out.embedding,
            &m.cells,
        )?;
        let r = scgnn::evaluate::metrics::evaluate(&m.pred, &m.truth, Some(&emb), seed)?;
        println!(
            "ARI {:.4}  NMI {:.4}  against {} ({} cells)",
            r.ari,
            r.nmi,
            src.display(),
            m.n_common
        );
        out.report.evaluation =
            Some(serde_json::to_value(&r).map_err(|e| Error::Numeric(e.to_string()))?);
    }
    // Only the names and the raw counts of `pre` are written. Emptying the
    // transformed matrix first keeps the output stage (the h5ad writer copies the
    // counts) within `estimate_peak_bytes`.
    let mut pre = pre;
    pre.expr.x = scgnn::Csr::zeros(pre.expr.x.rows, pre.expr.x.cols);
    pipeline::write_outputs(&a.output_dir, &name, &pre, &mut out)?;
    if !a.no_plot {
        let t = Instant::now();
        let by_cell: Option<std::collections::HashMap<&str, &str>> = truth
            .as_ref()
            .map(|t| t.iter().map(|(c, l)| (c.as_str(), l.as_str())).collect());
        let input = plot::PlotInput {
            cells: pre.expr.cells.clone(),
            embedding: out.embedding.clone(),
            labels: out.labels.clone(),
            truth: by_cell.map(|m| {
                pre.expr
                    .cells
                    .iter()
                    .map(|c| m.get(c.as_str()).unwrap_or(&plot::UNLABELLED).to_string())
                    .collect()
            }),
            report: serde_json::to_value(&out.report).map_err(|e| Error::Numeric(e.to_string()))?,
            edges: out.graph.edge_list(),
        };
        let pp = plot::PlotParams {
            layout: plot::LayoutParams {
                seed,
                ..Default::default()
            },
            ..Default::default()
        };
        let figs = plot::plot_run(&a.output_dir, &name, &input, &pp)?;
        let html = plot::write_html_report(&a.output_dir, &name, &input, &figs)?;
        tracing::info!(
            "figures and {} written in {:.1} s",
            html.display(),
            t.elapsed().as_secs_f64()
        );
    }
    if !quiet {
        print_summary(&out.report);
    }
    tracing::info!(
        "done in {:.1} s: {} clusters, outputs in {}",
        t0.elapsed().as_secs_f64(),
        out.labels.iter().max().map_or(0, |m| m + 1),
        a.output_dir.display()
    );
    Ok(())
}

/// The dataset name from a path: the file name without `.csv.gz`-like extensions.
fn dataset_name(path: &std::path::Path) -> String {
    let mut s = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scgnn".into());
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

/// Reads the input of a run (a file, or --datasetDir/--datasetName).
fn read_input(a: &RunArgs) -> Result<(PathBuf, scgnn::ExprMatrix)> {
    let path: PathBuf = match (&a.input, &a.dataset_dir) {
        (Some(i), _) => i.clone(),
        (None, Some(d)) => d.join(a.dataset_name.as_deref().ok_or_else(|| {
            Error::Usage("--datasetDir needs --datasetName (the file or folder inside it)".into())
        })?),
        (None, None) => return Err(Error::Usage("give --input FILE".into())),
    };
    let opts = ReadOptions {
        format: a.format.as_deref().map(str::parse::<Format>).transpose()?,
        cells_as_rows: a.cells_as_rows,
        layout_check: !a.no_layout_check,
    };
    let m = io::read_matrix(&path, &opts)?;
    Ok((path, m))
}

fn read_external(
    path: &Option<PathBuf>,
    scale: &str,
) -> Result<Option<(scgnn::ExprMatrix, Scale)>> {
    match path {
        Some(p) => Ok(Some((
            io::read_matrix(p, &ReadOptions::default())?,
            scale.parse()?,
        ))),
        None => Ok(None),
    }
}

/// `scgnn benchmark dropout`.
pub fn dropout(a: &DropoutArgs, seed: u64) -> Result<()> {
    if a.run.demo {
        return Err(Error::Usage("benchmarks need --input".into()));
    }
    let p = params(&a.run, seed)?;
    let (_, raw) = read_input(&a.run)?;
    let ext = read_external(&a.imputed, &a.imputed_scale)?;
    if a.repeats == 0 {
        return Err(Error::Usage("--repeats must be at least 1".into()));
    }
    let mut reps = Vec::new();
    for r in 0..a.repeats {
        let s = seed + r as u64;
        let data = benchmark::dropout_mask(&raw, a.rate, s)?;
        if r == 0 {
            if let Some(dir) = &a.write_mask {
                io::write_matrix(
                    &dir.join("masked_counts.csv.gz"),
                    &data.masked,
                    Some(Format::Csv),
                )?;
                data.mask
                    .write(&dir.join("mask.csv"), &raw.cells, &raw.genes)?;
            }
        }
        let rep = benchmark::dropout_repeat(
            &raw,
            &data,
            s,
            &p,
            ext.is_none(),
            ext.as_ref().map(|(m, sc)| (m, *sc)),
        )?;
        tracing::info!("repeat {} (seed {s}) done in {:.1} s", r + 1, rep.seconds);
        reps.push(rep);
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reps).map_err(|e| Error::Numeric(e.to_string()))?
        );
        return Ok(());
    }
    let col =
        |f: &dyn Fn(&benchmark::DropoutRepeat) -> Option<DropoutScore>| -> Option<DropoutSummary> {
            let v: Option<Vec<DropoutScore>> = reps.iter().map(f).collect();
            v.and_then(|v| aggregate(&v))
        };
    println!(
        "dropout benchmark: rate {}, {} repeat(s), hidden entries scored per repeat: {}",
        a.rate,
        reps.len(),
        reps.iter()
            .map(|r| r.zero.n_masked.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:<12} {:>18} {:>18} {:>18}",
        "method", "median L1", "mean L1", "cosine"
    );
    let rows: [(&str, Option<DropoutSummary>); 4] = [
        ("scgnn-rs", col(&|r| r.ours.clone())),
        ("external", col(&|r| r.external.clone())),
        ("zero", col(&|r| Some(r.zero.clone()))),
        ("gene-mean", col(&|r| Some(r.gene_mean.clone()))),
    ];
    for (name, s) in rows {
        if let Some(s) = s {
            let cos = s
                .cosine
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into());
            println!(
                "{name:<12} {:>18} {:>18} {:>18}",
                s.median_l1.to_string(),
                s.mean_l1.to_string(),
                cos
            );
        }
    }
    Ok(())
}

/// `scgnn benchmark mcv`.
pub fn mcv(a: &McvArgs, seed: u64) -> Result<()> {
    if a.run.demo {
        return Err(Error::Usage("benchmarks need --input".into()));
    }
    let p = params(&a.run, seed)?;
    let (path, raw) = read_input(&a.run)?;
    let split = benchmark::mcv_split(&raw, a.p, seed, &path)?;
    drop(raw);
    if let Some(dir) = &a.write_split {
        io::write_matrix(&dir.join("A.csv.gz"), &split.a, Some(Format::Csv))?;
        io::write_matrix(&dir.join("B.csv.gz"), &split.b, Some(Format::Csv))?;
    }
    let ext = read_external(&a.imputed, &a.imputed_scale)?;
    let r = benchmark::mcv_run(
        &split,
        a.p,
        seed,
        &p,
        ext.is_none(),
        ext.as_ref().map(|(m, sc)| (m, *sc)),
    )?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Error::Numeric(e.to_string()))?
        );
        return Ok(());
    }
    println!(
        "MCV: p {}, seed {seed}, {} cells × {} genes scored (all entries)",
        r.p, r.shape.0, r.shape.1
    );
    println!("{:<12} {:>14} {:>14}", "method", "MSE ln(1+x)", "Poisson");
    for (name, s) in [
        ("scgnn-rs", r.ours),
        ("external", r.external),
        ("none", Some(r.none)),
        ("gene-mean", Some(r.gene_mean)),
    ] {
        if let Some(s) = s {
            println!("{name:<12} {:>14.5} {:>14.5}", s.mse_log1p, s.poisson);
        }
    }
    Ok(())
}

/// `scgnn plot`: redraws the figures and the HTML report from a run folder.
pub fn plot(a: &crate::cli::PlotArgs, seed: u64) -> Result<()> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => plot::run_name(&a.input)?,
    };
    let input = plot::load_run(&a.input, &name, a.labels.as_deref())?;
    let pp = plot::PlotParams {
        layout: plot::LayoutParams {
            seed,
            ..Default::default()
        },
        ..Default::default()
    };
    let figs = plot::plot_run(&a.input, &name, &input, &pp)?;
    let html = plot::write_html_report(&a.input, &name, &input, &figs)?;
    for f in figs.paths() {
        println!("{}", f.display());
    }
    println!("{}", html.display());
    Ok(())
}

/// The final summary table: time, epochs and last loss of every phase, then the
/// clusters of every iteration.
fn print_summary(r: &pipeline::report::Report) {
    println!(
        "{:<20} {:>9} {:>7} {:>14}",
        "phase", "seconds", "epochs", "final loss"
    );
    for p in &r.phases {
        let loss = p
            .final_loss()
            .map(|l| format!("{l:.4e}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<20} {:>9.2} {:>7} {:>14}",
            p.name, p.seconds, p.epochs, loss
        );
    }
    println!("{:<20} {:>9.2}", "total", r.total_seconds);
    for it in &r.iterations {
        let ari = it
            .ari_previous
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "iteration {:>2}: {:>3} clusters, ARI vs previous {ari}, sizes {:?}",
            it.iteration, it.n_clusters, it.cluster_sizes
        );
    }
    println!("{}", r.convergence);
}
