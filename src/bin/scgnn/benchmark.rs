//! `scgnn benchmark dropout|mcv`: imputation benchmarks with built-in baselines.

use crate::run::RunArgs;
use clap::{Args, Subcommand};
use scgnn::error::{Error, Result};
use scgnn::evaluate::dropout::{aggregate, DropoutScore, DropoutSummary};
use scgnn::io::{self, Format, ReadOptions};
use scgnn::pipeline::benchmark::{self, Scale};
use scgnn::pipeline::Source;
use std::path::PathBuf;

/// `scgnn benchmark …`.
#[derive(Subcommand, Debug)]
pub enum BenchmarkCommand {
    /// Hide a fraction of the non-zero counts, impute, score the hidden entries (scGNN paper protocol).
    Dropout(DropoutArgs),
    /// Molecular cross-validation: binomial split A/B, impute from A, predict B.
    Mcv(McvArgs),
}

/// `scgnn benchmark dropout`.
#[derive(Args, Debug)]
pub struct DropoutArgs {
    /// Fraction of the non-zero raw entries to hide.
    #[arg(long, default_value_t = 0.1)]
    rate: f64,
    /// Repeats (one mask each, seeds derived from --seed); mean ± std is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Score this imputed matrix (genes × cells, e.g. from another tool run on --write-mask output) instead of running scGNN-rs.
    #[arg(long)]
    imputed: Option<PathBuf>,
    /// Scale of --imputed: log (ln(1+x)) or counts.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Scale::Log)]
    imputed_scale: Scale,
    /// Write the masked counts (masked_counts.csv.gz, genes × cells) and the mask (mask.csv) of the first repeat here.
    #[arg(long)]
    write_mask: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    run: Box<RunArgs>,
}

/// `scgnn benchmark mcv`.
#[derive(Args, Debug)]
pub struct McvArgs {
    /// Thinning probability: A ~ Binomial(X, p).
    #[arg(long = "p", default_value_t = 0.5)]
    p: f64,
    /// Score this imputed A (genes × cells, from another tool run on --write-split output) instead of running scGNN-rs.
    #[arg(long)]
    imputed: Option<PathBuf>,
    /// Scale of --imputed: log (ln(1+x) of A's counts) or counts.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Scale::Log)]
    imputed_scale: Scale,
    /// Write the halves A.csv.gz and B.csv.gz (genes × cells) here.
    #[arg(long)]
    write_split: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    run: Box<RunArgs>,
}

/// Runs a benchmark subcommand.
pub fn run(b: &BenchmarkCommand, seed: u64) -> Result<()> {
    match b {
        BenchmarkCommand::Dropout(a) => dropout(a, seed),
        BenchmarkCommand::Mcv(a) => mcv(a, seed),
    }
}

/// The benchmark's input file and its matrix.
fn read_input(a: &RunArgs) -> Result<(PathBuf, scgnn::ExprMatrix)> {
    match a.source()? {
        Source::File { path, read } => {
            let m = io::read_matrix(&path, &read)?;
            Ok((path, m))
        }
        // The benchmarks hide or split raw counts: D/N itself, never the first
        // step's output.
        Source::Scgnn { layout, read } => {
            let path = layout.dir.join(&layout.name);
            let m = io::read_matrix(&path, &read)?;
            Ok((path, m))
        }
        _ => Err(Error::Usage("benchmarks need --input".into())),
    }
}

fn read_external(
    path: &Option<PathBuf>,
    scale: Scale,
) -> Result<Option<(scgnn::ExprMatrix, Scale)>> {
    match path {
        Some(p) => Ok(Some((io::read_matrix(p, &ReadOptions::default())?, scale))),
        None => Ok(None),
    }
}

/// `scgnn benchmark dropout`.
fn dropout(a: &DropoutArgs, seed: u64) -> Result<()> {
    let p = a.run.params(seed)?;
    let (_, raw) = read_input(&a.run)?;
    let ext = read_external(&a.imputed, a.imputed_scale)?;
    let mut write_first = |r: usize, data: &benchmark::MaskedData| -> Result<()> {
        match (&a.write_mask, r) {
            (Some(dir), 0) => {
                let counts = dir.join("masked_counts.csv.gz");
                io::write_matrix(&counts, &data.masked, Some(Format::Csv))?;
                data.mask
                    .write(&dir.join("mask.csv"), &raw.cells, &raw.genes)
            }
            _ => Ok(()),
        }
    };
    let external = ext.as_ref().map(|(m, sc)| (m, *sc));
    let reps = benchmark::dropout(
        &raw,
        a.rate,
        a.repeats,
        seed,
        &p,
        external,
        &mut write_first,
    )?;
    if a.json {
        return print_json(&reps);
    }
    print_dropout_table(a.rate, &reps);
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| Error::Numeric(e.to_string()))?
    );
    Ok(())
}

fn print_dropout_table(rate: f64, reps: &[benchmark::DropoutRepeat]) {
    let col =
        |f: &dyn Fn(&benchmark::DropoutRepeat) -> Option<DropoutScore>| -> Option<DropoutSummary> {
            let v: Option<Vec<DropoutScore>> = reps.iter().map(f).collect();
            v.and_then(|v| aggregate(&v))
        };
    println!(
        "dropout benchmark: rate {rate}, {} repeat(s), hidden entries scored per repeat: {}",
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
}

/// `scgnn benchmark mcv`.
fn mcv(a: &McvArgs, seed: u64) -> Result<()> {
    let p = a.run.params(seed)?;
    let (path, raw) = read_input(&a.run)?;
    let split = benchmark::mcv_split(&raw, a.p, seed, &path)?;
    drop(raw);
    if let Some(dir) = &a.write_split {
        io::write_matrix(&dir.join("A.csv.gz"), &split.a, Some(Format::Csv))?;
        io::write_matrix(&dir.join("B.csv.gz"), &split.b, Some(Format::Csv))?;
    }
    let ext = read_external(&a.imputed, a.imputed_scale)?;
    let r = benchmark::mcv_run(
        &split,
        a.p,
        seed,
        &p,
        ext.is_none(),
        ext.as_ref().map(|(m, sc)| (m, *sc)),
    )?;
    if a.json {
        return print_json(&r);
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
