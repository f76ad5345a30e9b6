//! The `scgnn` binary: parses the command line, calls the library, maps errors
//! to exit codes (0 ok, 2 bad input or usage, 1 anything else, 130 interrupted).
//! One file per subcommand; the work is done by the library.

mod benchmark;
mod convert;
mod evaluate;
mod info;
mod ltmg;
mod plot;
mod preprocess;
mod run;
mod simulate;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scgnn::error::{Error, Result};
use scgnn::options::ReadArgs;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// scGNN in Rust: single-cell graph neural network for clustering and imputation.
#[derive(Parser, Debug)]
#[command(name = "scgnn", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

/// Options shared by every subcommand.
#[derive(Args, Debug, Clone)]
struct Global {
    /// Seed for every random choice (same seed + same thread count ⇒ identical files).
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Worker threads: a number or 'all' (default: all cores). scGNN's --coresUsage is an alias.
    #[arg(long, global = true, visible_alias = "coresUsage", value_name = "N")]
    threads: Option<String>,
    /// More detail on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Run scGNN: graph neural network clustering and imputation (scGNN.py).
    Run(Box<run::RunArgs>),
    /// Filter cells and genes, keep the most variable genes, log-transform (scGNN's PreprocessingscGNN.py).
    Preprocess(preprocess::PreprocessArgs),
    /// Write a simulated data set with known clusters (negative-binomial counts).
    Simulate(simulate::SimulateArgs),
    /// Convert a matrix between formats (CSV, TSV, 10X mtx, 10X h5, h5ad).
    Convert(convert::ConvertArgs),
    /// Read a matrix and print its size and sparsity (checks that it parses).
    Info(info::InfoArgs),
    /// Compare cluster labels with reference labels (ARI, NMI, AMI, silhouette, …).
    Evaluate(evaluate::EvaluateArgs),
    /// LTMG regulatory states of every (gene, cell) (scGNN's R package, natively).
    Ltmg(ltmg::LtmgArgs),
    /// Redraw the figures and the HTML report of a finished run from its output folder.
    Plot(plot::PlotArgs),
    /// Imputation benchmarks with built-in baselines: dropout recovery and molecular cross-validation.
    #[command(subcommand)]
    Benchmark(benchmark::BenchmarkCommand),
}

/// How to read the input matrix.
#[derive(Args, Debug, Clone)]
struct InputArgs {
    /// Expression matrix: CSV/TSV (optionally .gz, genes × cells), 10X mtx folder, 10X .h5 or .h5ad.
    #[arg(long, short = 'i')]
    input: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
}

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
    remove_partials_on_interrupt();
    let result = init_threads(cli.global.threads.as_deref()).and_then(|_| dispatch(&cli));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}

/// Ctrl-C (or SIGTERM) removes the temporary files being written, then exits 130.
fn remove_partials_on_interrupt() {
    let r = ctrlc::set_handler(|| {
        let n = scgnn::io::atomic::remove_partials();
        eprintln!("\ninterrupted: stopped, {n} partial file(s) removed");
        std::process::exit(130);
    });
    if let Err(e) = r {
        tracing::debug!("no interrupt handler: {e}");
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

fn dispatch(cli: &Cli) -> Result<()> {
    let seed = cli.global.seed;
    let bars = Bars::new(!cli.global.quiet);
    match &cli.command {
        Command::Run(a) => run::run(a, seed, cli.global.quiet, &bars),
        Command::Preprocess(a) => preprocess::run(a, seed),
        Command::Simulate(a) => simulate::run(a, seed),
        Command::Convert(a) => convert::run(a),
        Command::Info(a) => info::run(a),
        Command::Evaluate(a) => evaluate::run(a, seed),
        Command::Ltmg(a) => ltmg::run(a, seed),
        Command::Plot(a) => plot::run(a, seed),
        Command::Benchmark(b) => benchmark::run(b, seed),
    }
}

/// Terminal progress bars (hidden when stderr is not a terminal or with -q).
struct Bars {
    enabled: bool,
    live: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(enabled: bool) -> Self {
        Bars {
            enabled,
            live: Mutex::new(HashMap::new()),
        }
    }

    fn bar(total: Option<usize>, step: &str) -> ProgressBar {
        let (b, template) = match total {
            Some(n) => (
                ProgressBar::new(n as u64),
                "{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{prefix:>16} {spinner} {elapsed}",
            ),
        };
        b.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(step.to_string());
        if total.is_none() {
            b.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        b
    }
}

impl scgnn::pipeline::Progress for Bars {
    fn start(&self, step: &str, total: Option<usize>) {
        if self.enabled {
            let b = Bars::bar(total, step);
            self.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(step.to_string(), b);
        }
    }

    fn advance(&self, step: &str, done: usize, loss: Option<f64>) {
        if let Some(b) = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(step)
        {
            b.set_position(done as u64);
            if let Some(l) = loss {
                b.set_message(format!("loss {l:.4e}"));
            }
        }
    }

    fn finish(&self, step: &str) {
        if let Some(b) = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(step)
        {
            b.finish_and_clear();
        }
    }
}
