//! Checkpoints and resume: a run stopped after the first phase or after an EM
//! iteration and then resumed writes the same files as a run that was never
//! stopped; a checkpoint from other data or parameters is refused; a write that
//! fails midway loses neither the complete outputs nor the checkpoint.

use scgnn::io::{read_matrix, ReadOptions};
use scgnn::pipeline::params::{ConvergeType, RunParams};
use scgnn::pipeline::{checkpoint, run, Job, Progress, Silent, Source};
use scgnn::simulate::{simulate, SimParams};
use scgnn::{Error, ExprMatrix};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn data(seed: u64) -> ExprMatrix {
    simulate(&SimParams {
        cells: 240,
        genes: 300,
        clusters: 3,
        seed,
        de_fraction: 0.1,
        lib_sd: 0.1,
        ..Default::default()
    })
    .unwrap()
    .0
}

fn params(seed: u64) -> RunParams {
    let mut p = RunParams {
        seed,
        ..RunParams::default()
    };
    p.regu_epochs = 20;
    p.em_epochs = 10;
    p.cluster_epochs = 10;
    p.em_iterations = 3;
    // Never converged, so every EM iteration runs and leaves a checkpoint.
    p.converge_celltype_ratio = 1.0;
    p.converge_type = ConvergeType::Celltype;
    p
}

fn job(m: &ExprMatrix, p: &RunParams, out: &Path, resume: bool) -> Job {
    Job {
        source: Source::Matrix {
            matrix: m.clone(),
            description: "simulated".into(),
        },
        name: Some("sim".into()),
        labels: None,
        output_dir: Some(out.to_path_buf()),
        plots: false,
        params: p.clone(),
        checkpoint_dir: Some(out.join("checkpoint")),
        resume,
    }
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-ckpt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Asks the run to stop once `after` checkpoints are written (as Ctrl-C does).
struct StopAfter {
    after: usize,
    written: AtomicUsize,
    stop: AtomicBool,
}

impl StopAfter {
    fn new(after: usize) -> Self {
        StopAfter {
            after,
            written: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }
}

impl Progress for StopAfter {
    fn finish(&self, step: &str) {
        if step == "checkpoint" && self.written.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The report without what depends on the clock or the machine's free memory.
fn report_without_timings(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("sim_report.json")).unwrap();
    let mut r: serde_json::Value = serde_json::from_str(&text).unwrap();
    r["total_seconds"] = 0.into();
    r["imputation"]["seconds"] = 0.into();
    r["params"]["memory_limit"] = 0.into();
    for ph in r["phases"].as_array_mut().unwrap() {
        ph["seconds"] = 0.into();
        ph["peak_rss_mib"] = 0.into();
    }
    r
}

/// Every output of `a` equals `b`'s: the text files byte for byte, the report
/// but for its timings, the `.h5ad`'s matrix, cells and genes (its embedded
/// report holds the timings too).
fn assert_same_outputs(a: &Path, b: &Path) {
    for f in [
        "sim_recon.csv",
        "sim_embedding.csv",
        "sim_graph.csv",
        "sim_results.txt",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs after resuming");
    }
    assert_eq!(report_without_timings(a), report_without_timings(b));
    let read = |d: &Path| read_matrix(&d.join("sim.h5ad"), &ReadOptions::default()).unwrap();
    assert_eq!(read(a), read(b), "the h5ad's matrix differs after resuming");
}

#[test]
fn stopped_and_resumed_runs_write_what_an_uninterrupted_run_writes() {
    let m = data(3);
    let p = params(1);
    let whole = tmpdir("whole");
    run(job(&m, &p, &whole, false), &Silent).unwrap();
    assert!(
        !whole.join("checkpoint").exists(),
        "the checkpoint is removed once the outputs are complete"
    );
    // Checkpoint 1 is the first phase's, 2 the first EM iteration's.
    for after in [1, 2] {
        let out = tmpdir(&format!("stop{after}"));
        let stop = StopAfter::new(after);
        let e = run(job(&m, &p, &out, false), &stop).unwrap_err();
        assert!(matches!(e, Error::Interrupted), "{e}");
        assert!(out.join("checkpoint").join(checkpoint::FILE).exists());
        assert!(!out.join("sim_recon.csv").exists());
        let ds = run(job(&m, &p, &out, true), &Silent).unwrap();
        assert_eq!(ds.report.iterations.len(), p.em_iterations + 1);
        assert_same_outputs(&whole, &out);
        std::fs::remove_dir_all(&out).unwrap();
    }
    std::fs::remove_dir_all(&whole).unwrap();
}

#[test]
fn a_checkpoint_of_other_data_or_parameters_is_refused() {
    let m = data(3);
    let p = params(1);
    let out = tmpdir("refuse");
    let e = run(job(&m, &p, &out, false), &StopAfter::new(1)).unwrap_err();
    assert!(matches!(e, Error::Interrupted));

    let mut other = p.clone();
    other.seed = 2;
    let e = run(job(&m, &other, &out, true), &Silent).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("other parameters (seed)"), "{msg}");
    assert!(msg.contains("without --resume"), "{msg}");
    assert_eq!(e.exit_code(), 2);

    let e = run(job(&data(4), &p, &out, true), &Silent).unwrap_err();
    assert!(e.to_string().contains("other data"), "{e}");

    // Without --resume the old checkpoint is simply replaced.
    run(job(&data(4), &p, &out, false), &Silent).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_failed_write_keeps_the_complete_outputs_and_the_checkpoint() {
    let m = data(3);
    let p = params(1);
    let whole = tmpdir("whole-w");
    run(job(&m, &p, &whole, false), &Silent).unwrap();

    let out = tmpdir("failwrite");
    // The report is written last: a folder in its place makes that write fail.
    std::fs::create_dir_all(out.join("sim_report.json").join("blocker")).unwrap();
    let e = run(job(&m, &p, &out, false), &Silent).unwrap_err();
    eprintln!("failed write: {e}");
    for f in [
        "sim_recon.csv",
        "sim_embedding.csv",
        "sim_graph.csv",
        "sim_results.txt",
        "sim.h5ad",
    ] {
        assert!(out.join(f).is_file(), "{f} was written before the failure");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written files left: {leftovers:?}"
    );
    assert!(out.join("checkpoint").join(checkpoint::FILE).exists());

    std::fs::remove_dir_all(out.join("sim_report.json")).unwrap();
    run(job(&m, &p, &out, true), &Silent).unwrap();
    assert_same_outputs(&whole, &out);
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&whole).unwrap();
}

/// The CLI killed with SIGKILL once its first checkpoint exists, then resumed,
/// writes what an uninterrupted run writes.
#[test]
fn a_killed_cli_run_resumes_to_the_same_files() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_scgnn");
    let args = |out: &Path| -> Vec<String> {
        [
            "-q",
            "run",
            "--demo",
            "--no-plot",
            "--dataset-name",
            "sim",
            "--threads",
            "2",
            "--EM-iteration",
            "3",
            "--converge-celltyperatio",
            "1",
            "--output-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let whole = tmpdir("cli-whole");
    let st = Command::new(bin).args(args(&whole)).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    let out = tmpdir("cli-killed");
    let ck = out.join("checkpoint").join(checkpoint::FILE);
    let mut child = Command::new(bin)
        .args(args(&out))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !ck.exists() && child.try_wait().unwrap().is_none() {
        assert!(t.elapsed().as_secs() < 300, "no checkpoint after 300 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(killed, "the run ended before its first checkpoint appeared");
    assert!(ck.exists(), "the checkpoint survives the kill");
    assert!(!out.join("sim_recon.csv").exists());
    let mut resumed = args(&out);
    resumed.push("--resume".into());
    let st = Command::new(bin).args(&resumed).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_same_outputs(&whole, &out);
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&whole).unwrap();
}
