//! The `scgnn` binary: parses the command line, calls the library, maps errors
//! to exit codes (0 ok, 2 bad input or usage, 1 anything else).

mod cli;
mod run_cmd;

use clap::Parser;
use cli::{Cli, Command};
use scgnn::error::{Error, Result};
use scgnn::io::{self, Format, ReadOptions};
use scgnn::preprocess::{Normalize, PreprocessParams, Transform};
use scgnn::simulate::{SimDesign, SimParams};
use std::time::Instant;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let result = init_threads(cli.global.threads.as_deref()).and_then(|_| dispatch(&cli));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCGNN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("scgnn={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

fn init_threads(threads: Option<&str>) -> Result<()> {
    let n = match threads {
        None | Some("all") => 0,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| Error::Usage(format!("--threads must be a number or 'all', got '{s}'")))?,
    };
    scgnn::nn::init_thread_pool(n)
}

fn read_opts(a: &cli::InputArgs) -> Result<ReadOptions> {
    Ok(ReadOptions {
        format: a.format.as_deref().map(str::parse::<Format>).transpose()?,
        cells_as_rows: a.cells_as_rows,
        layout_check: !a.no_layout_check,
    })
}

fn preprocess_params(a: &cli::PreprocessOpts) -> Result<PreprocessParams> {
    Ok(PreprocessParams {
        gene_ratio: a.gene_ratio,
        cell_ratio: a.cell_ratio,
        n_top_genes: a.n_top_genes,
        transform: a.transform.parse::<Transform>()?,
        normalize: a.normalize.parse::<Normalize>()?,
    })
}

fn dispatch(cli: &Cli) -> Result<()> {
    let seed = cli.global.seed;
    match &cli.command {
        Command::Run(a) => run_cmd::run(a, seed, cli.global.quiet),
        Command::Plot(a) => run_cmd::plot(a, seed),
        Command::Benchmark(cli::BenchmarkCommand::Dropout(a)) => run_cmd::dropout(a, seed),
        Command::Benchmark(cli::BenchmarkCommand::Mcv(a)) => run_cmd::mcv(a, seed),
        Command::Preprocess(a) => {
            let t = Instant::now();
            let m = io::read_matrix(&a.input.input, &read_opts(&a.input)?)?;
            let r = scgnn::preprocess::preprocess(&m, &preprocess_params(&a.pre)?)?;
            let fmt = a
                .output_format
                .as_deref()
                .map(str::parse::<Format>)
                .transpose()?;
            io::write_matrix(&a.output, &r.expr, fmt)?;
            tracing::info!(
                "wrote {} ({} cells × {} genes) in {:.2} s",
                a.output.display(),
                r.expr.n_cells(),
                r.expr.n_genes(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Simulate(a) => {
            let t = Instant::now();
            let p = SimParams {
                cells: a.cells,
                genes: a.genes,
                clusters: a.clusters,
                seed,
                ..Default::default()
            };
            let d = SimDesign::new(&p)?;
            let fmt: Format = a.format.parse()?;
            let nnz = match fmt {
                Format::Csv => d.write_csv(&a.output_dir.join("counts.csv.gz"))?,
                Format::TenxMtx => d.write_10x_mtx(&a.output_dir.join("counts"))?,
                Format::H5ad | Format::TenxH5 => {
                    let m = d.matrix();
                    let name = if fmt == Format::H5ad {
                        "counts.h5ad"
                    } else {
                        "counts.h5"
                    };
                    io::write_matrix(&a.output_dir.join(name), &m, Some(fmt))?;
                    m.x.nnz()
                }
                Format::Tsv => {
                    return Err(Error::Usage(
                        "simulate writes csv, h5ad, 10x-h5 or 10x-mtx".into(),
                    ))
                }
            };
            io::outputs::write_labels(
                &a.output_dir.join("labels.csv"),
                &d.cell_ids(),
                &d.labels(),
            )?;
            tracing::info!(
                "simulated {} cells × {} genes, {} clusters, {} non-zeros ({:.1} %) into {} in {:.2} s",
                a.cells,
                a.genes,
                a.clusters,
                nnz,
                100.0 * nnz as f64 / (a.cells as f64 * a.genes as f64),
                a.output_dir.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Info(a) => {
            let t = Instant::now();
            let m = io::read_matrix(&a.input.input, &read_opts(&a.input)?)?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{}\t{} cells\t{} genes\t{} non-zeros\t{:.2} % dense\tread in {:.2} s ({:.0} cells/s)",
                a.input.input.display(),
                m.n_cells(),
                m.n_genes(),
                m.x.nnz(),
                100.0 * scgnn::simulate::density(&m.x),
                secs,
                m.n_cells() as f64 / secs
            );
            Ok(())
        }
        Command::Evaluate(a) => {
            use scgnn::evaluate::{labels, metrics};
            let m = labels::read_and_match(&a.clusters, &a.labels)?;
            if let Some(w) = &m.warning {
                tracing::warn!("{w}");
            }
            let emb = match &a.embedding {
                Some(p) => {
                    let (ids, e) = labels::read_embedding(p)?;
                    Some(labels::embedding_rows(p, &ids, &e, &m.cells)?)
                }
                None => None,
            };
            let r = metrics::evaluate(&m.pred, &m.truth, emb.as_ref(), seed)?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| Error::Numeric(e.to_string()))?
                );
            } else {
                println!("{} cells matched\n{r}", m.n_common);
            }
            Ok(())
        }
        Command::Ltmg(a) => {
            let t = Instant::now();
            let m = io::read_matrix(&a.input.input, &read_opts(&a.input)?)?;
            let pre = if a.skip_preprocess {
                scgnn::preprocess::from_logged(m)
            } else {
                scgnn::preprocess::preprocess(&m, &preprocess_params(&a.pre)?)?
            };
            let p = scgnn::ltmg::LtmgParams {
                kmax: a.kmax,
                seed,
                ..Default::default()
            };
            let l = scgnn::ltmg::run(&pre.scaled_counts(), &p)?;
            scgnn::io::outputs::write_ltmg(&a.output, &pre.expr, &l.states)?;
            tracing::info!(
                "LTMG states of {} genes × {} cells in {:.2} s; (state, count): {:?}",
                pre.expr.n_genes(),
                pre.expr.n_cells(),
                t.elapsed().as_secs_f64(),
                l.state_histogram()
            );
            Ok(())
        }
        Command::Convert(a) => {
            let m = io::read_matrix(&a.input.input, &read_opts(&a.input)?)?;
            let fmt = a
                .output_format
                .as_deref()
                .map(str::parse::<Format>)
                .transpose()?;
            io::write_matrix(&a.output, &m, fmt)
        }
    }
}
