//! scGNN's documented workflow, verbatim: the folders of its README's "Prepare
//! datasets" step (`GSE138852/GSE138852_counts.csv.gz`, and a `liver/<name>.mtx/`
//! 10X folder), then its eight command lines (preprocess and run; CSV and 10X;
//! without and with LTMG), with `python -W ignore PreprocessingscGNN.py` read as
//! `scgnn preprocess` and `python -W ignore scGNN.py` as `scgnn run`. Every file
//! the two steps write is checked; so is the one-line error of a wrong layout.

use scgnn::simulate::{SimDesign, SimParams};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The 10X data set name of scGNN's README.
const TENX: &str = "481193cb-c021-4e04-b477-0b7cfef4614b.mtx";
/// Neighbours per cell (`--k`, scGNN's default): rows of `_graph.csv` per cell.
const K: usize = 10;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-docs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn design() -> SimDesign {
    SimDesign::new(&SimParams {
        cells: 150,
        genes: 300,
        clusters: 3,
        seed: 7,
        ..Default::default()
    })
    .unwrap()
}

/// Runs one documented command line (`scgnn …`) in `dir`; returns (exit code, stderr).
fn scgnn(dir: &Path, line: &str) -> (i32, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "scgnn");
    let out = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args(&words[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command line that must succeed; returns its stderr.
fn ok(dir: &Path, line: &str) -> String {
    let (code, err) = scgnn(dir, line);
    assert_eq!(code, 0, "{line}\n{err}");
    err
}

fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!text.is_empty(), "{} is empty", path.display());
    text.lines().map(str::to_string).collect()
}

/// Checks `Use_expression.csv` (genes × cells, `Gene_ID` header, ln(1+x)) and
/// returns its genes and cells.
fn check_expression(path: &Path, names: &HashSet<String>) -> (Vec<String>, Vec<String>) {
    let lines = read_lines(path);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "Gene_ID", "{}", path.display());
    let cells: Vec<String> = header[1..].iter().map(|c| c.to_string()).collect();
    assert!(cells.len() > 100, "{} cells kept", cells.len());
    let mut genes = Vec::new();
    let mut fractional = false;
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(
            f.len(),
            cells.len() + 1,
            "ragged line in {}",
            path.display()
        );
        assert!(
            names.contains(f[0]),
            "gene '{}' is not a real gene name",
            f[0]
        );
        genes.push(f[0].to_string());
        for v in &f[1..] {
            let v: f64 = v.parse().unwrap();
            assert!(v.is_finite() && (0.0..20.0).contains(&v), "{v}");
            fractional |= v.fract() != 0.0;
        }
    }
    assert!(genes.len() > 100, "{} genes kept", genes.len());
    assert!(fractional, "values are not ln(1+x)");
    (genes, cells)
}

/// Checks `LTMG_sparse.mtx` as R's WriteSparse writes it for these genes and cells.
fn check_ltmg(path: &Path, n_genes: usize, n_cells: usize) {
    let lines = read_lines(path);
    assert!(lines[0].starts_with("%%MatrixMarket matrix coordinate"));
    let dims: Vec<usize> = lines[1].split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(&dims[..2], &[n_genes, n_cells]);
    assert_eq!(dims[2], lines.len() - 2, "entry count of the size line");
    assert!(dims[2] > 0);
    let mut last_cell = 0;
    for l in &lines[2..] {
        let e: Vec<usize> = l.split(' ').map(|v| v.parse().unwrap()).collect();
        assert!((1..=n_genes).contains(&e[0]) && (1..=n_cells).contains(&e[1]) && e[2] >= 1);
        assert!(e[1] >= last_cell, "entries are sorted by cell");
        last_cell = e[1];
    }
}

/// Checks scGNN's four output files of a run named `name`.
fn check_outputs(out: &Path, name: &str, genes: &[String], cells: &[String]) {
    let f = |suffix: &str| out.join(format!("{name}{suffix}"));
    let recon = read_lines(&f("_recon.csv"));
    assert_eq!(recon[0], format!(",{}", cells.join(",")));
    assert_eq!(recon.len(), genes.len() + 1);
    for (l, g) in recon[1..].iter().zip(genes) {
        let v: Vec<&str> = l.split(',').collect();
        assert_eq!((v[0], v.len()), (g.as_str(), cells.len() + 1));
        assert!(v[1..]
            .iter()
            .all(|x| x.parse::<f32>().is_ok_and(|x| x >= 0.0)));
    }
    let emb = read_lines(&f("_embedding.csv"));
    assert!(emb[0].starts_with(",embedding0,embedding1"));
    let width = emb[0].split(',').count();
    assert_eq!(emb.len(), cells.len() + 1);
    for (l, c) in emb[1..].iter().zip(cells) {
        let v: Vec<&str> = l.split(',').collect();
        assert_eq!((v[0], v.len()), (c.as_str(), width));
    }
    let graph = read_lines(&f("_graph.csv"));
    assert_eq!(graph[0], "NodeA,NodeB,Weights");
    assert_eq!(graph.len(), cells.len() * K + 1);
    for l in &graph[1..] {
        let v: Vec<&str> = l.split(',').collect();
        assert!(v[0].parse::<usize>().unwrap() < cells.len());
        assert!(v[1].parse::<usize>().unwrap() < cells.len());
        assert!(v[2] == "1.0" || v[2] == "0.0", "{l}");
    }
    let results = read_lines(&f("_results.txt"));
    assert_eq!(results[0], ",Celltype");
    assert_eq!(results.len(), cells.len() + 1);
    for (l, c) in results[1..].iter().zip(cells) {
        let (cell, label) = l.split_once(',').unwrap();
        assert_eq!(cell, c);
        assert!(label.parse::<usize>().is_ok());
    }
}

/// The run flags shared by the README's four scGNN command lines.
const RUN: &str =
    "--outputDir outputdir/ --EM-iteration 2 --Regu-epochs 50 --EM-epochs 20 --quickmode";

#[test]
fn csv_layout_documented_commands() {
    let root = tmpdir("csv");
    let d = design();
    d.write_csv(&root.join("GSE138852/GSE138852_counts.csv.gz"))
        .unwrap();
    let names: HashSet<String> = d.gene_names().into_iter().collect();
    let expr = root.join("GSE138852/Use_expression.csv");
    let ltmg = root.join("GSE138852/LTMG_sparse.mtx");

    ok(&root, "scgnn preprocess --datasetName GSE138852_counts.csv.gz --datasetDir GSE138852/ --LTMGDir GSE138852/ --filetype CSV --geneSelectnum 2000");
    let (genes, cells) = check_expression(&expr, &names);
    assert!(!ltmg.exists());
    ok(
        &root,
        &format!("scgnn run --datasetName GSE138852 --datasetDir ./ {RUN} --nonsparseMode"),
    );
    check_outputs(&root.join("outputdir"), "GSE138852", &genes, &cells);

    // LTMG asked for before the first step wrote it: computed, with a message.
    std::fs::remove_dir_all(root.join("outputdir")).unwrap();
    let err = ok(&root, &format!("scgnn run --datasetName GSE138852 --datasetDir ./ --LTMGDir ./ {RUN} --nonsparseMode --regulized-type LTMG"));
    assert!(
        err.contains("LTMG_sparse.mtx not found; computing LTMG"),
        "{err}"
    );
    check_outputs(&root.join("outputdir"), "GSE138852", &genes, &cells);

    ok(&root, "scgnn preprocess --datasetName GSE138852_counts.csv.gz --datasetDir GSE138852/ --LTMGDir GSE138852/ --filetype CSV --geneSelectnum 2000 --inferLTMGTag");
    assert_eq!(
        check_expression(&expr, &names),
        (genes.clone(), cells.clone())
    );
    check_ltmg(&ltmg, genes.len(), cells.len());
    std::fs::remove_dir_all(root.join("outputdir")).unwrap();
    let err = ok(&root, &format!("scgnn run --datasetName GSE138852 --datasetDir ./ --LTMGDir ./ {RUN} --nonsparseMode --regulized-type LTMG"));
    assert!(
        err.contains("LTMG: read ./GSE138852/LTMG_sparse.mtx"),
        "{err}"
    );
    check_outputs(&root.join("outputdir"), "GSE138852", &genes, &cells);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Writes a plain (not gzipped) 10X v2 folder: `matrix.mtx`, `genes.tsv` (id,
/// name), `barcodes.tsv`.
fn write_10x_v2(dir: &Path, d: &SimDesign) {
    std::fs::create_dir_all(dir).unwrap();
    let m = d.matrix();
    let mut mtx = std::io::BufWriter::new(std::fs::File::create(dir.join("matrix.mtx")).unwrap());
    writeln!(mtx, "%%MatrixMarket matrix coordinate integer general").unwrap();
    writeln!(mtx, "%metadata_json: {{}}").unwrap();
    writeln!(mtx, "{} {} {}", m.n_genes(), m.n_cells(), m.x.nnz()).unwrap();
    for c in 0..m.n_cells() {
        let (idx, val) = m.x.row(c);
        for (&g, &v) in idx.iter().zip(val) {
            writeln!(mtx, "{} {} {}", g + 1, c + 1, v).unwrap();
        }
    }
    mtx.flush().unwrap();
    let genes: String = m
        .genes
        .iter()
        .enumerate()
        .map(|(j, g)| format!("ENSG{j:011}\t{g}\n"))
        .collect();
    std::fs::write(dir.join("genes.tsv"), genes).unwrap();
    let cells: String = m.cells.iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(dir.join("barcodes.tsv"), cells).unwrap();
}

#[test]
fn tenx_layout_documented_commands() {
    let root = tmpdir("10x");
    let d = design();
    let folder = root.join("liver").join(TENX);
    write_10x_v2(&folder, &d);
    let names: HashSet<String> = d.gene_names().into_iter().collect();
    let expr = folder.join("Use_expression.csv");
    let ltmg = folder.join("LTMG_sparse.mtx");

    ok(&root, &format!("scgnn preprocess --datasetName {TENX} --datasetDir liver/ --LTMGDir liver/ --geneSelectnum 2000 sparseOut"));
    let (genes, cells) = check_expression(&expr, &names);
    assert!(!ltmg.exists());
    ok(
        &root,
        &format!("scgnn run --datasetName {TENX} --datasetDir liver/ {RUN}"),
    );
    check_outputs(&root.join("outputdir"), TENX, &genes, &cells);

    ok(&root, &format!("scgnn preprocess --datasetName {TENX} --datasetDir liver/ --LTMGDir liver/ --geneSelectnum 2000 --inferLTMGTag"));
    assert_eq!(
        check_expression(&expr, &names),
        (genes.clone(), cells.clone())
    );
    check_ltmg(&ltmg, genes.len(), cells.len());
    std::fs::remove_dir_all(root.join("outputdir")).unwrap();
    let err = ok(&root, &format!("scgnn run --datasetName {TENX} --LTMGDir liver/ --datasetDir liver/ {RUN} --regulized-type LTMG"));
    assert!(err.contains("LTMG: read liver/"), "{err}");
    check_outputs(&root.join("outputdir"), TENX, &genes, &cells);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Asserts exit code 2 and one stderr line holding every needle.
fn assert_one_line(r: (i32, String), needles: &[&str]) {
    let (code, err) = r;
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn wrong_layouts_are_one_line_listing_what_was_looked_for() {
    let root = tmpdir("wrong");
    design()
        .write_csv(&root.join("GSE138852/GSE138852_counts.csv.gz"))
        .unwrap();
    // The second step before the first: nothing preprocessed in ./GSE138852/.
    assert_one_line(
        scgnn(
            &root,
            &format!("scgnn run --datasetName GSE138852 --datasetDir ./ {RUN} --nonsparseMode"),
        ),
        &[
            "./GSE138852/Use_expression.csv",
            "scgnn preprocess",
            "matrix.mtx",
            "holds: GSE138852",
        ],
    );
    // --datasetName naming nothing.
    assert_one_line(
        scgnn(
            &root,
            &format!("scgnn run --datasetName GSE13885 --datasetDir ./ {RUN}"),
        ),
        &[
            "./GSE13885/Use_expression.csv",
            "./GSE13885 (a matrix file)",
            "holds: GSE138852",
        ],
    );
    assert_one_line(
        scgnn(&root, "scgnn preprocess --datasetName GSE138852_count.csv.gz --datasetDir GSE138852/ --LTMGDir GSE138852/ --filetype CSV --geneSelectnum 2000"),
        &["GSE138852/GSE138852_count.csv.gz (a matrix file", "holds: GSE138852_counts.csv.gz"],
    );
    assert_one_line(
        scgnn(&root, "scgnn preprocess --datasetName GSE138852_counts.csv.gz --datasetDir GSE138852/ --LTMGDir GSE138852/ --filetype 10X"),
        &["matrix.mtx[.gz] (a 10X folder", "pass --filetype CSV"],
    );
    assert_one_line(
        scgnn(&root, &format!("scgnn preprocess --datasetName {TENX} --datasetDir liver/ --geneSelectnum 2000 sparseOut")),
        &["liver/ does not exist"],
    );
    std::fs::remove_dir_all(&root).unwrap();
}
