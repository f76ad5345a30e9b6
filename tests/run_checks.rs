//! `scgnn run` checks everything it can before any heavy work, ends cleanly when
//! interrupted, never leaves a folder mixing two runs, and says when the EM loop
//! did not converge. Each test takes seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-checks-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scgnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args(args)
        .output()
        .unwrap()
}

/// A small simulated data set (`counts.csv.gz`, `labels.csv`) in `dir`.
fn small_data(dir: &Path) -> (String, String) {
    let out = scgnn(&[
        "-q",
        "simulate",
        "--cells",
        "150",
        "--genes",
        "300",
        "--clusters",
        "3",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join("counts.csv.gz").display().to_string(),
        dir.join("labels.csv").display().to_string(),
    )
}

/// Short epochs so a run takes about a second.
const QUICK: [&str; 9] = [
    "--Regu-epochs",
    "5",
    "--EM-epochs",
    "3",
    "--EM-iteration",
    "1",
    "--quickmode",
    "--n-top-genes",
    "200",
];

/// Asserts exit code 2 with one line on stderr containing every needle, quickly.
fn assert_refused(out: &Output, started: Instant, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not refused up front"
    );
}

#[test]
fn bad_labels_output_paths_and_parameters_are_refused_before_training() {
    let d = tmpdir("refuse");
    let (counts, _) = small_data(&d);
    let run = |extra: &[&str]| {
        let mut a = vec!["-q", "run", "-i", counts.as_str()];
        a.extend_from_slice(extra);
        // Full epochs: a check that only happened after training would time out.
        scgnn(&a)
    };
    let out_dir = d.join("out").display().to_string();

    let wrong = d.join("wrong_labels.csv");
    std::fs::write(&wrong, "cell,label\nnot_a_cell,A\nnor_this,B\n").unwrap();
    let t = Instant::now();
    let out = run(&[
        "--labels",
        wrong.to_str().unwrap(),
        "--output-dir",
        &out_dir,
    ]);
    assert_refused(&out, t, &["wrong_labels.csv", "no cell id in common"]);

    let file = d.join("a_file");
    std::fs::write(&file, "x").unwrap();
    let t = Instant::now();
    let out = run(&["--output-dir", file.to_str().unwrap()]);
    assert_refused(&out, t, &["--output-dir", "is a file"]);

    let below_file = file.join("sub");
    let t = Instant::now();
    let out = run(&["--output-dir", below_file.to_str().unwrap()]);
    assert_refused(&out, t, &["--output-dir", "cannot create"]);

    let t = Instant::now();
    let out = run(&[
        "--clustering-method",
        "OPTICS",
        "--k",
        "3",
        "--output-dir",
        &out_dir,
    ]);
    assert_refused(&out, t, &["OPTICS", "--k"]);
    assert!(!d.join("out").join("counts_results.txt").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_read_only_output_folder_is_refused_before_training() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("readonly");
    let (counts, _) = small_data(&d);
    let ro = d.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), "x").is_ok() {
        // Running as root: permissions do not stop writes; /proc does.
        let _ = std::fs::remove_file(ro.join("probe"));
        eprintln!("root: testing an output folder under /proc instead");
        let t = Instant::now();
        let out = scgnn(&[
            "-q",
            "run",
            "-i",
            &counts,
            "--output-dir",
            "/proc/scgnn-out",
        ]);
        assert_refused(&out, t, &["--output-dir", "/proc/scgnn-out"]);
    } else {
        let t = Instant::now();
        let out = scgnn(&[
            "-q",
            "run",
            "-i",
            &counts,
            "--output-dir",
            ro.to_str().unwrap(),
        ]);
        assert_refused(&out, t, &["--output-dir", "cannot write"]);
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".partial-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigint_while_writing_leaves_no_partial_file() {
    let d = tmpdir("sigint");
    // Writing 40 000 cells × 2 000 genes gzipped takes seconds: long enough to
    // interrupt it midway.
    let mut child = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args([
            "-q",
            "--threads",
            "1",
            "simulate",
            "--cells",
            "40000",
            "--genes",
            "2000",
        ])
        .arg("--output-dir")
        .arg(&d)
        .spawn()
        .unwrap();
    let t = Instant::now();
    while partials(&d).is_empty() {
        if child.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(60) {
            panic!("the writer finished before it could be interrupted");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(partials(&d), Vec::<String>::new());
    assert!(!d.join("counts.csv.gz").exists(), "nothing half-written");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rerun_leaves_no_stale_figures_and_non_convergence_is_said() {
    let d = tmpdir("rerun");
    let (counts, labels) = small_data(&d);
    let out_dir = d.join("out");
    let base = {
        let mut a = vec![
            "run",
            "-i",
            counts.as_str(),
            "--dataset-name",
            "counts",
            "--output-dir",
        ];
        a.push(out_dir.to_str().unwrap());
        a.extend_from_slice(&QUICK);
        // ARI with the previous labels can never exceed 1: the loop cannot converge.
        a.extend_from_slice(&["--converge-celltyperatio", "1.0"]);
        a
    };
    let fig = |k: &str| out_dir.join(format!("counts_{k}.png"));

    let mut a = base.clone();
    a.extend_from_slice(&["--labels", labels.as_str()]);
    let out = scgnn(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fig("umap_truth").exists() && fig("loss").exists());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("warning: the EM loop did not converge"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("counts_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["convergence"]["converged"], false);
    let html = std::fs::read_to_string(out_dir.join("counts_report.html")).unwrap();
    assert!(html.contains("class=\"warn\""), "the HTML says it");

    // A temporary file of a run that was killed (pid 999999999 does not exist)
    // goes at the next run; another program's file stays.
    let stale = out_dir.join(".counts_recon.csv.partial-999999999");
    let other = out_dir.join(".other.csv.partial-999999999");
    std::fs::write(&stale, "half").unwrap();
    std::fs::write(&other, "x").unwrap();
    // Without labels there is no truth figure: the earlier one must go.
    let out = scgnn(&base);
    assert!(!stale.exists(), "stale partial file left");
    assert!(other.exists());
    assert!(out.status.success());
    assert!(!fig("umap_truth").exists(), "stale truth figure left");
    assert!(fig("umap_clusters").exists());

    // Without figures, none of the earlier ones nor their HTML report remain.
    let mut a = base.clone();
    a.push("--no-plot");
    assert!(scgnn(&a).status.success());
    for k in ["umap_clusters", "loss", "clusters", "degree"] {
        assert!(!fig(k).exists(), "stale {k} figure left");
    }
    assert!(!out_dir.join("counts_report.html").exists());
    assert!(out_dir.join("counts_results.txt").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_reading() {
    // The size line promises a million cells; the body is not even valid, so
    // only a check made before reading can give the memory error.
    let d = tmpdir("memory");
    let tenx = d.join("big");
    std::fs::create_dir_all(&tenx).unwrap();
    std::fs::write(
        tenx.join("matrix.mtx"),
        "%%MatrixMarket matrix coordinate integer general\n30000 1000000 500000000\n1 1 1\n",
    )
    .unwrap();
    std::fs::write(tenx.join("features.tsv"), "G1\tG1\tGene Expression\n").unwrap();
    std::fs::write(tenx.join("barcodes.tsv"), "C1\n").unwrap();
    let t = Instant::now();
    let out = scgnn(&[
        "-q",
        "run",
        "-i",
        tenx.to_str().unwrap(),
        "--max-memory",
        "4",
        "--output-dir",
        d.join("out").to_str().unwrap(),
    ]);
    assert_refused(&out, t, &["GiB", "1000000 cells"]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_h5ad_input_keeps_its_obs_and_var_columns() {
    use scgnn::io::columns::Column;
    use scgnn::io::h5ad::{read_columns, write_h5ad, H5adMatrix, H5adOutput, XData};
    let d = tmpdir("columns");
    let (counts, _) = small_data(&d);
    let m = scgnn::io::read_matrix(Path::new(&counts), &Default::default()).unwrap();
    let n = m.n_cells();
    let batch = Column::Categorical {
        codes: (0..n as i32).map(|i| i % 2).collect(),
        categories: vec!["a".into(), "b".into()],
    };
    let depth = Column::F64((0..n).map(|i| i as f64 * 0.5).collect());
    let ids = Column::Str((0..m.n_genes()).map(|j| format!("ENSG{j:05}")).collect());
    let mut h = H5adOutput::new(XData::Csr(&m.x), &m.cells, &m.genes);
    h.obs_columns = vec![("batch", &batch), ("depth", &depth)];
    h.var_columns = vec![("gene_ids", &ids)];
    let input = d.join("in.h5ad");
    write_h5ad(&input, h).unwrap();
    let out_dir = d.join("out");
    let mut a = vec![
        "-q",
        "run",
        "-i",
        input.to_str().unwrap(),
        "--output-dir",
        out_dir.to_str().unwrap(),
    ];
    a.extend_from_slice(&QUICK);
    a.push("--no-plot");
    let out = scgnn(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = out_dir.join("in.h5ad");
    let (obs, var) = read_columns(&written, &H5adMatrix::X).unwrap();
    let names: Vec<&str> = obs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["cluster", "batch", "depth"]);
    let res = scgnn::io::read_matrix(&written, &Default::default()).unwrap();
    // Rows follow the kept cells: cell_i had depth i / 2.
    let Column::F64(depth) = &obs[2].1 else {
        panic!("depth is not numeric")
    };
    for (c, v) in res.cells.iter().zip(depth) {
        let i: f64 = c.trim_start_matches("cell_").parse().unwrap();
        assert_eq!(*v, i * 0.5);
    }
    let Column::Str(ids) = &var[0].1 else {
        panic!("gene_ids are not strings")
    };
    assert_eq!(ids.len(), res.n_genes());
    for (g, id) in res.genes.iter().zip(ids) {
        let j: usize = g.trim_start_matches("gene_").parse().unwrap();
        assert_eq!(id, &format!("ENSG{j:05}"));
    }
    std::fs::remove_dir_all(&d).unwrap();
}
