//! `scgnn_rs._scgnn_rs`: the Python door into the library's one entry point
//! (`scgnn::pipeline::run`). The Python package (`scgnn_rs/__init__.py`) turns
//! an AnnData into CSR parts and keyword arguments into `scgnn run` options;
//! this module parses them with the CLI's own definitions, runs the job with
//! the GIL released, relays progress, stops on KeyboardInterrupt, and hands the
//! results back as NumPy arrays. Library errors become Python exceptions:
//! `ValueError` for bad parameters or data, `MemoryError` when the run would
//! not fit, `KeyboardInterrupt` when interrupted, `OSError` for files.

use clap::Parser;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scgnn::pipeline::{self, Dataset, Job, Progress, Source};
use scgnn::{Error, ExprMatrix};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// `scgnn run`'s options, parsed from the tokens the Python side builds.
#[derive(Parser, Debug)]
#[command(name = "scgnn_rs.run", no_binary_name = true)]
struct RunOptions {
    #[command(flatten)]
    run: scgnn::options::RunArgs,
}

/// A library error as the Python exception a scanpy user expects.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::Resources(m) => PyMemoryError::new_err(m),
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        Error::Numeric(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// One progress event, relayed to the Python callback by the calling thread.
enum Event {
    Start(String, Option<usize>),
    Advance(String, usize, Option<f64>),
    Finish(String),
}

/// Collects events from the worker threads; the run stops when `cancel` is set.
#[derive(Default)]
struct Relay {
    events: Mutex<Vec<Event>>,
    cancel: AtomicBool,
}

impl Relay {
    fn push(&self, e: Event) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e);
    }

    fn drain(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Progress for Relay {
    fn start(&self, step: &str, total: Option<usize>) {
        self.push(Event::Start(step.to_string(), total));
    }

    fn advance(&self, step: &str, done: usize, loss: Option<f64>) {
        self.push(Event::Advance(step.to_string(), done, loss));
    }

    fn finish(&self, step: &str) {
        self.push(Event::Finish(step.to_string()));
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Calls `callback(kind, step, count, loss)` for every event.
fn relay_events(py: Python<'_>, relay: &Relay, callback: Option<&PyObject>) -> PyResult<()> {
    let Some(cb) = callback else {
        relay.drain();
        return Ok(());
    };
    for e in relay.drain() {
        let _ = match e {
            Event::Start(s, t) => cb.call1(py, ("start", s, t, None::<f64>)),
            Event::Advance(s, d, l) => cb.call1(py, ("advance", s, Some(d), l)),
            Event::Finish(s) => cb.call1(py, ("finish", s, None::<usize>, None::<f64>)),
        }?;
    }
    Ok(())
}

/// Runs `job` on a pool of `threads` workers with the GIL released, relaying
/// progress every 50 ms and turning KeyboardInterrupt into a cancellation that
/// the run honours before its next epoch or step.
fn run_job(
    py: Python<'_>,
    job: Job,
    threads: usize,
    callback: Option<&PyObject>,
) -> PyResult<Dataset> {
    let pool = scgnn::nn::thread_pool(threads).map_err(py_err)?;
    let relay = Relay::default();
    let mut interrupt: Option<PyErr> = None;
    let result = std::thread::scope(|s| {
        let worker = s.spawn(|| pool.install(|| pipeline::run(job, &relay)));
        while !worker.is_finished() {
            py.allow_threads(|| std::thread::sleep(Duration::from_millis(50)));
            if let Err(e) = relay_events(py, &relay, callback).and_then(|_| py.check_signals()) {
                relay.cancel.store(true, Ordering::Relaxed);
                interrupt.get_or_insert(e);
            }
        }
        worker.join()
    });
    relay_events(py, &relay, callback)?;
    if let Some(e) = interrupt {
        return Err(e);
    }
    match result {
        Ok(r) => r.map_err(py_err),
        Err(_) => Err(PyRuntimeError::new_err(
            "the run panicked; please report this",
        )),
    }
}

fn vec_array<T: numpy::Element>(py: Python<'_>, v: Vec<T>) -> Bound<'_, PyArray1<T>> {
    PyArray1::from_vec_bound(py, v)
}

/// The results of a finished run as a dict of NumPy arrays and strings; the
/// arrays take over the data set's buffers (no copy of the imputed matrix).
fn results<'py>(py: Python<'py>, mut ds: Dataset) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new_bound(py);
    let missing = |w: &str| PyRuntimeError::new_err(format!("the run produced no {w}"));
    let clusters = ds.clusters.take().ok_or_else(|| missing("clusters"))?;
    let emb = ds.embedding.take().ok_or_else(|| missing("embedding"))?;
    let graph = ds.graph.take().ok_or_else(|| missing("cell graph"))?;
    let imputed = ds.imputed.take().ok_or_else(|| missing("imputed matrix"))?;
    let clusters: Vec<i64> = clusters.iter().map(|&c| c as i64).collect();
    out.set_item("clusters", vec_array(py, clusters))?;
    let (r, c) = (emb.rows, emb.cols);
    out.set_item("embedding", vec_array(py, emb.data).reshape([r, c])?)?;
    let (r, c) = (imputed.rows, imputed.cols);
    out.set_item("imputed", vec_array(py, imputed.data).reshape([r, c])?)?;
    let conn = graph.pruned_graph();
    let indptr: Vec<i64> = conn.indptr.iter().map(|&i| i as i64).collect();
    out.set_item("graph_indptr", vec_array(py, indptr))?;
    out.set_item("graph_indices", vec_array(py, conn.indices))?;
    out.set_item("graph_data", vec_array(py, conn.data))?;
    out.set_item("k", graph.k)?;
    out.set_item("knn_neighbors", vec_array(py, graph.neighbors))?;
    out.set_item("knn_distances", vec_array(py, graph.dists))?;
    out.set_item("knn_kept", vec_array(py, graph.weights))?;
    let kept_cells: Vec<i64> = ds.kept_cells.iter().map(|&i| i as i64).collect();
    let kept_genes: Vec<i64> = ds.kept_genes.iter().map(|&i| i as i64).collect();
    out.set_item("kept_cells", vec_array(py, kept_cells))?;
    out.set_item("kept_genes", vec_array(py, kept_genes))?;
    let report =
        serde_json::to_string(&ds.report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    out.set_item("report", report)?;
    Ok(out)
}

/// Runs scGNN on a cells × genes matrix given as CSR parts.
///
/// `args` are `scgnn run` options (e.g. `["--regu-epochs", "50"]`); returns
/// clusters, embedding, graph, imputed matrix, kept cells and genes, report.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, shape, cells, genes, args, seed=1, threads=None, callback=None, source="AnnData"))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f32>,
    shape: (usize, usize),
    cells: Vec<String>,
    genes: Vec<String>,
    args: Vec<String>,
    seed: u64,
    threads: Option<usize>,
    callback: Option<PyObject>,
    source: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let (matrix, params, name) =
        matrix_and_params((indptr, indices, data), shape, cells, genes, args, seed)?;
    let job = Job {
        source: Source::Matrix {
            matrix,
            description: source.to_string(),
        },
        name,
        labels: None,
        output_dir: None,
        plots: false,
        params,
        checkpoint_dir: None,
        resume: false,
    };
    let ds = run_job(py, job, threads.unwrap_or(0), callback.as_ref())?;
    results(py, ds)
}

/// The matrix, the run parameters and `--dataset-name` of a Python call
/// (the options are parsed once, by the CLI's definitions).
fn matrix_and_params(
    parts: (
        PyReadonlyArray1<'_, i64>,
        PyReadonlyArray1<'_, i64>,
        PyReadonlyArray1<'_, f32>,
    ),
    shape: (usize, usize),
    cells: Vec<String>,
    genes: Vec<String>,
    args: Vec<String>,
    seed: u64,
) -> PyResult<(
    ExprMatrix,
    scgnn::pipeline::params::RunParams,
    Option<String>,
)> {
    let opts = RunOptions::try_parse_from(args)
        .map_err(|e| PyValueError::new_err(e.render().to_string()))?;
    let params = opts.run.params(seed).map_err(py_err)?;
    if cells.len() != shape.0 || genes.len() != shape.1 {
        return Err(PyValueError::new_err(format!(
            "{} cell names and {} gene names for a {} × {} matrix",
            cells.len(),
            genes.len(),
            shape.0,
            shape.1
        )));
    }
    let (indptr, indices, data) = parts;
    let x = scgnn::io::csr_from_parts(
        "AnnData",
        shape,
        indptr.as_slice()?.to_vec(),
        indices.as_slice()?,
        data.as_slice()?.to_vec(),
    )
    .map_err(py_err)?;
    let name = opts.run.io.dataset_name.clone();
    Ok((ExprMatrix { x, genes, cells }, params, name))
}

/// `scgnn benchmark dropout` on a counts matrix: the repeats as JSON.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, shape, cells, genes, args, seed=1, rate=0.1, repeats=3, threads=None))]
#[allow(clippy::too_many_arguments)]
fn dropout<'py>(
    py: Python<'py>,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f32>,
    shape: (usize, usize),
    cells: Vec<String>,
    genes: Vec<String>,
    args: Vec<String>,
    seed: u64,
    rate: f64,
    repeats: usize,
    threads: Option<usize>,
) -> PyResult<String> {
    let (m, p, _) = matrix_and_params((indptr, indices, data), shape, cells, genes, args, seed)?;
    let pool = scgnn::nn::thread_pool(threads.unwrap_or(0)).map_err(py_err)?;
    let reps = py
        .allow_threads(|| {
            pool.install(|| {
                scgnn::pipeline::benchmark::dropout(
                    &m,
                    rate,
                    repeats,
                    seed,
                    &p,
                    None,
                    &mut |_, _| Ok(()),
                )
            })
        })
        .map_err(py_err)?;
    serde_json::to_string(&reps).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// `scgnn benchmark mcv` on a counts matrix: the scores as JSON.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, shape, cells, genes, args, seed=1, p=0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
fn mcv<'py>(
    py: Python<'py>,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f32>,
    shape: (usize, usize),
    cells: Vec<String>,
    genes: Vec<String>,
    args: Vec<String>,
    seed: u64,
    p: f64,
    threads: Option<usize>,
) -> PyResult<String> {
    use scgnn::pipeline::benchmark as b;
    let (m, params, _) =
        matrix_and_params((indptr, indices, data), shape, cells, genes, args, seed)?;
    let pool = scgnn::nn::thread_pool(threads.unwrap_or(0)).map_err(py_err)?;
    let r = py
        .allow_threads(|| {
            pool.install(|| {
                let split = b::mcv_split(&m, p, seed, std::path::Path::new("AnnData"))?;
                b::mcv_run(&split, p, seed, &params, true, None)
            })
        })
        .map_err(py_err)?;
    serde_json::to_string(&r).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Reads a matrix in any supported format; returns its CSR parts and names.
#[pyfunction]
#[pyo3(signature = (path, format=None, cells_as_rows=false, layer=None, use_raw=false, genome=None))]
fn read<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    format: Option<&str>,
    cells_as_rows: bool,
    layer: Option<String>,
    use_raw: bool,
    genome: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let format = format
        .map(|f| f.parse::<scgnn::io::Format>())
        .transpose()
        .map_err(py_err)?;
    let h5ad_matrix = match (layer, use_raw) {
        (Some(l), _) => scgnn::io::h5ad::H5adMatrix::Layer(l),
        (None, true) => scgnn::io::h5ad::H5adMatrix::Raw,
        (None, false) => scgnn::io::h5ad::H5adMatrix::X,
    };
    let opts = scgnn::io::ReadOptions {
        format,
        cells_as_rows,
        h5ad_matrix,
        genome,
        ..Default::default()
    };
    let m = py
        .allow_threads(|| scgnn::io::read_matrix(&path, &opts))
        .map_err(py_err)?;
    let out = PyDict::new_bound(py);
    let indptr: Vec<i64> = m.x.indptr.iter().map(|&i| i as i64).collect();
    out.set_item("shape", (m.x.rows, m.x.cols))?;
    out.set_item("indptr", vec_array(py, indptr))?;
    out.set_item("indices", vec_array(py, m.x.indices))?;
    out.set_item("data", vec_array(py, m.x.data))?;
    out.set_item("cells", m.cells)?;
    out.set_item("genes", m.genes)?;
    Ok(out)
}

/// Clustering metrics (ARI, NMI, AMI, …, and silhouette etc. on `embedding`)
/// of integer-coded labels, as a JSON string.
#[pyfunction]
#[pyo3(signature = (pred, truth, embedding=None, seed=1))]
fn evaluate<'py>(
    py: Python<'py>,
    pred: PyReadonlyArray1<'py, i64>,
    truth: PyReadonlyArray1<'py, i64>,
    embedding: Option<numpy::PyReadonlyArray2<'py, f32>>,
    seed: u64,
) -> PyResult<String> {
    let code = |v: &[i64]| -> PyResult<Vec<usize>> {
        v.iter()
            .map(|&x| usize::try_from(x).map_err(|_| PyValueError::new_err("labels must be ≥ 0")))
            .collect()
    };
    let (p, t) = (code(pred.as_slice()?)?, code(truth.as_slice()?)?);
    let emb = match &embedding {
        Some(e) => {
            let [r, c] = [e.shape()[0], e.shape()[1]];
            Some(scgnn::matrix::Dense::from_vec(r, c, e.as_slice()?.to_vec()))
        }
        None => None,
    };
    let r = py
        .allow_threads(|| scgnn::evaluate::metrics::evaluate(&p, &t, emb.as_ref(), seed))
        .map_err(py_err)?;
    serde_json::to_string(&r).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The extension module.
#[pymodule]
fn _scgnn_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(dropout, m)?)?;
    m.add_function(wrap_pyfunction!(mcv, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
