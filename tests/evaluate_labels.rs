//! Label and embedding files: formats, matching by cell id, clear errors.

use scgnn::evaluate::labels::*;
use std::path::{Path, PathBuf};

fn tmp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scgnn-evaluate-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn reads_scgnn_results_and_headerless_and_tab_files() {
    let want = pairs(&[("c1", "0"), ("c2", "1"), ("c3", "0")]);
    let results = tmp("x_results.txt", ",Celltype\nc1,0\nc2,1\r\nc3,0\n\n");
    assert_eq!(read_labels(&results).unwrap(), want);
    let bare = tmp("bare.csv", "c1,0\nc2,1\nc3,0\n");
    assert_eq!(read_labels(&bare).unwrap(), want);
    let tab = tmp("tab.tsv", "cell\tcluster\nc1\t0\nc2\t1\nc3\t0\n");
    assert_eq!(read_labels(&tab).unwrap(), want);
    let quoted = tmp("q.csv", "cell_id,label\n\"a,b\",\"T \"\"reg\"\"\"\nc2,B\n");
    assert_eq!(
        read_labels(&quoted).unwrap(),
        pairs(&[("a,b", "T \"reg\""), ("c2", "B")])
    );
}

#[test]
fn rejects_bad_label_files_with_line_numbers() {
    let dup = tmp("dup.csv", "c1,a\nc2,b\nc1,c\n");
    let e = read_labels(&dup).unwrap_err().to_string();
    assert!(
        e.contains("line 3") && e.contains("twice") && e.contains("line 1"),
        "{e}"
    );
    let one = tmp("one.txt", "0\n1\n");
    let e = read_labels(&one).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("two columns"), "{e}");
    let empty = tmp("empty.csv", "\n");
    assert!(read_labels(&empty).is_err());
    let nolabel = tmp("nolabel.csv", "cell,label\nc1,\n");
    assert!(read_labels(&nolabel)
        .unwrap_err()
        .to_string()
        .contains("line 2"));
}

#[test]
fn matches_by_id_and_warns_on_partial_overlap() {
    let pred = pairs(&[("c3", "k0"), ("c1", "k1"), ("c9", "k1"), ("c2", "k0")]);
    let truth = pairs(&[("c1", "A"), ("c2", "B"), ("c3", "A"), ("c4", "B")]);
    let m = match_labels(Path::new("pred.txt"), &pred, Path::new("truth.csv"), &truth).unwrap();
    assert_eq!(m.cells, ["c3", "c1", "c2"]);
    assert_eq!(m.pred, [0, 1, 0]);
    assert_eq!(m.truth, [0, 0, 1]);
    assert_eq!(m.pred_names, ["k0", "k1"]);
    assert_eq!(m.truth_names, ["A", "B"]);
    assert_eq!((m.n_common, m.only_in_pred, m.only_in_truth), (3, 1, 1));
    assert!(m.warning.as_deref().unwrap().contains("3 common cells"));
    let full = match_labels(Path::new("p"), &truth, Path::new("t"), &truth).unwrap();
    assert_eq!(full.warning, None);
}

#[test]
fn no_common_id_is_an_input_error_naming_both_files() {
    let pred = pairs(&[("0", "1"), ("1", "1")]);
    let truth = pairs(&[("c1", "A")]);
    let e = match_labels(Path::new("pred.txt"), &pred, Path::new("truth.csv"), &truth).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let s = e.to_string();
    assert!(
        s.contains("pred.txt") && s.contains("truth.csv") && s.contains("header"),
        "{s}"
    );
}

#[test]
fn shared_dataset_labels_match_themselves() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/goolam/labels.csv");
    if !p.exists() {
        eprintln!("skipping: {} not found", p.display());
        return;
    }
    let l = read_labels(&p).unwrap();
    assert_eq!(l.len(), 124);
    assert_eq!(l[0], ("2cell_1_A".to_string(), "2cell".to_string()));
    let m = read_and_match(&p, &p).unwrap();
    assert_eq!(m.n_common, 124);
    assert_eq!(m.truth_names.len(), 5);
    assert_eq!(scgnn::evaluate::metrics::ari(&m.pred, &m.truth), 1.0);
}

#[test]
fn reads_embedding_and_selects_rows() {
    let p = tmp(
        "x_embedding.csv",
        ",embedding0,embedding1\nc1,0.5,-1\nc2,2,3e-1\nc3,4,5\n",
    );
    let (ids, e) = read_embedding(&p).unwrap();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    assert_eq!((e.rows, e.cols), (3, 2));
    assert_eq!(e.row(1), &[2.0, 0.3]);
    let cells = ["c3".to_string(), "c1".to_string()];
    let sel = embedding_rows(&p, &ids, &e, &cells).unwrap();
    assert_eq!(sel.data, [4.0, 5.0, 0.5, -1.0]);
    let missing = ["c7".to_string()];
    let err = embedding_rows(&p, &ids, &e, &missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("c7"), "{err}");

    let bad = tmp("bad_embedding.csv", ",embedding0,embedding1\nc1,0.5,x\n");
    let err = read_embedding(&bad).unwrap_err().to_string();
    assert!(
        err.contains("line 2, column 3") && err.contains("`x`"),
        "{err}"
    );
    let ragged = tmp("ragged_embedding.csv", "c1,1,2\nc2,1\n");
    assert!(read_embedding(&ragged)
        .unwrap_err()
        .to_string()
        .contains("line 2"));
}
