//! Bad input never panics: the binary prints one line naming the file, the position
//! and what to do, and exits with code 2.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scgnn-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `scgnn preprocess` on `input` and returns (exit code, stderr).
fn preprocess(input: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args(["-q", "preprocess", "--input"])
        .arg(input)
        .args(["--output"])
        .arg(input.with_extension("out.csv"))
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Asserts a clean one-line error naming the file and containing every `needle`.
fn assert_clean_error(file: &Path, code_err: (i32, String), needles: &[&str]) {
    let (code, err) = code_err;
    assert_eq!(code, 2, "exit code for {}: stderr = {err}", file.display());
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(
        err.contains(&file.display().to_string()),
        "file not named: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn text_input_errors_are_one_clear_line() {
    let d = tmpdir("text");
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("empty.csv", b"".to_vec(), vec!["empty"]),
        ("ragged.csv", b"gene,c1,c2\ng1,1,2\ng2,3\n".to_vec(), vec!["line 3", "ragged"]),
        ("nonnum.csv", b"gene,c1,c2\ng1,1,abc\n".to_vec(), vec!["line 2, column 3", "not a number"]),
        ("nan.csv", b"gene,c1,c2\ng1,1,NaN\n".to_vec(), vec!["line 2, column 3", "finite"]),
        ("inf.csv", b"gene,c1,c2\ng1,inf,1\n".to_vec(), vec!["line 2, column 2"]),
        ("neg.csv", b"gene,c1,c2\ng1,1,-2\n".to_vec(), vec!["line 2, column 3", "≥ 0"]),
        ("dupgene.csv", b"gene,c1,c2\ng1,1,2\ng1,3,4\n".to_vec(), vec!["lines 2 and 3", "duplicate gene"]),
        ("dupcell.csv", b"gene,c1,c1\ng1,1,2\n".to_vec(), vec!["columns 2 and 3", "duplicate cell"]),
        ("headeronly.csv", b"gene,c1,c2\n".to_vec(), vec!["no data lines"]),
        (
            "transposed.csv",
            b"cell,ENSG00000000003,ENSG00000000005\nAAACCTGAGAAGGCCT-1,1,2\nAAACCTGAGACAGACC-1,0,3\n".to_vec(),
            vec!["transposed", "--cells-as-rows"],
        ),
    ];
    for (name, bytes, needles) in cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        assert_clean_error(&p, preprocess(&p, &[]), &needles);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn missing_all_zero_and_truncated_inputs() {
    let d = tmpdir("misc");
    let missing = d.join("nope.csv");
    assert_clean_error(&missing, preprocess(&missing, &[]), &["no such file"]);

    let zero = d.join("zero.csv");
    std::fs::write(&zero, "gene,c1,c2\ng1,0,0\ng2,0,0\n").unwrap();
    let (code, err) = preprocess(&zero, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("all zero"), "{err}");

    let mut text = String::from("gene");
    for c in 0..200 {
        text.push_str(&format!(",c{c}"));
    }
    text.push('\n');
    for g in 0..200 {
        text.push_str(&format!("g{g}"));
        for c in 0..200 {
            text.push_str(&format!(",{}", (g * c) % 7));
        }
        text.push('\n');
    }
    let full = gz(text.as_bytes());
    let trunc = d.join("trunc.csv.gz");
    std::fs::write(&trunc, &full[..full.len() / 2]).unwrap();
    assert_clean_error(&trunc, preprocess(&trunc, &[]), &["truncated"]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn mtx_inconsistencies_are_reported() {
    let d = tmpdir("mtx");
    let write_folder = |name: &str, mtx: &str, n_genes: usize, n_cells: usize| -> PathBuf {
        let f = d.join(name);
        std::fs::create_dir_all(&f).unwrap();
        std::fs::write(f.join("matrix.mtx"), mtx).unwrap();
        let feats: String = (0..n_genes)
            .map(|g| format!("ENSG{g:011}\tG{g}\tGene Expression\n"))
            .collect();
        std::fs::write(f.join("features.tsv"), feats).unwrap();
        let bcs: String = (0..n_cells).map(|c| format!("BC{c}-1\n")).collect();
        std::fs::write(f.join("barcodes.tsv"), bcs).unwrap();
        f
    };
    let head = "%%MatrixMarket matrix coordinate integer general\n%metadata_json: {}\n";
    let cases = [
        (
            "count",
            format!("{head}3 2 3\n1 1 5\n2 2 1\n"),
            3,
            2,
            vec!["announces 3 entries", "has 2"],
        ),
        (
            "range",
            format!("{head}3 2 1\n4 1 5\n"),
            3,
            2,
            vec!["outside the 3 × 2"],
        ),
        (
            "genes",
            format!("{head}3 2 1\n1 1 5\n"),
            4,
            2,
            vec!["4 features"],
        ),
        (
            "cells",
            format!("{head}3 2 1\n1 1 5\n"),
            3,
            5,
            vec!["5 barcodes"],
        ),
        (
            "banner",
            "3 2 1\n1 1 5\n".to_string(),
            3,
            2,
            vec!["%%MatrixMarket"],
        ),
    ];
    for (name, mtx, g, c, needles) in cases {
        let f = write_folder(name, &mtx, g, c);
        let (code, err) = preprocess(&f, &[]);
        assert_eq!(code, 2, "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{name}: expected '{n}' in {err}");
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args(["preprocess", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args([
            "simulate",
            "--cells",
            "10",
            "--clusters",
            "50",
            "--output-dir",
        ])
        .arg(std::env::temp_dir().join("scgnn-never"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clusters"));
}

#[test]
fn ltmg_command_writes_a_state_matrix() {
    let d = tmpdir("ltmg");
    let mut text = String::from("gene");
    for c in 0..60 {
        text.push_str(&format!(",c{c}"));
    }
    text.push('\n');
    for g in 0..30 {
        text.push_str(&format!("g{g}"));
        for c in 0..60 {
            // Two expression levels per gene, and zeros.
            let v = match (g * 7 + c * 3) % 5 {
                0 => 0,
                1 | 2 => 2 + (c % 3),
                _ => 40 + (g % 4) * 5 + c % 7,
            };
            text.push_str(&format!(",{v}"));
        }
        text.push('\n');
    }
    let input = d.join("x.csv");
    std::fs::write(&input, text).unwrap();
    let out = d.join("states.csv");
    let st = Command::new(env!("CARGO_BIN_EXE_scgnn"))
        .args(["-q", "ltmg", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let s = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 31, "header + one line per gene");
    let values: Vec<u32> = lines[1..]
        .iter()
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<u32>().unwrap()))
        .collect();
    assert_eq!(values.len(), 30 * 60);
    // Zeros of the input are state 0; expressed entries get states ≥ 1.
    assert!(values.iter().any(|&v| v == 0) && values.iter().any(|&v| v >= 2));
    std::fs::remove_dir_all(&d).unwrap();
}
