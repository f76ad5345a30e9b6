//! scGNN's documented two-step workflow with its folders and file names (spec
//! §1.1–§1.3, §2.7, §11), so that its README's command lines run unchanged:
//! `scgnn preprocess --datasetName … --datasetDir … --LTMGDir …` writes
//! `Use_expression.csv` (and `LTMG_sparse.mtx` with `--inferLTMGTag`) where
//! scGNN's `PreprocessingscGNN.py` writes them, and `scgnn run --datasetName …
//! --datasetDir … [--LTMGDir …]` finds them where scGNN's `scGNN.py` looks.
//!
//! With D = `--datasetDir`, N = `--datasetName`, L = `--LTMGDir` (default D):
//!
//! | | CSV layout (D/N is a file) | 10X layout (D/N is a folder) |
//! |---|---|---|
//! | preprocess reads | D/N | D/N/`matrix.mtx`, `features.tsv` or `genes.tsv`, `barcodes.tsv` (`.gz` or not) |
//! | preprocess writes | L/`Use_expression.csv`, L/`LTMG_sparse.mtx` | L/N/`Use_expression.csv`, L/N/`LTMG_sparse.mtx` |
//! | run reads | D/N/`Use_expression.csv` (else D/N itself, unpreprocessed), L/N/`LTMG_sparse.mtx` | the same |
//!
//! What happens inside is this project's, not scGNN's: the preprocessing of
//! [`crate::preprocess`] (library-size normalisation by default, one gene-ranking
//! rule for every format, genes kept in input order), gene names from the name
//! column of `features.tsv` (scGNN's 10X path shifts them), and the native LTMG of
//! [`crate::ltmg`] fitted on the normalised counts. `Use_expression.csv` holds
//! ln(1 + x) genes × cells with the header `Gene_ID,cell…`, as scGNN's; the
//! LTMG file is what R's `WriteSparse` writes (banner, `genes cells entries`,
//! then 1-based `gene cell state` lines for the non-zero states, by cell).
//! scGNN's sparse pickle (`Use_expression_sparse.npy`) is not written: `run`
//! always reads `Use_expression.csv`, so `--nonsparseMode` changes nothing.

use crate::error::{Error, Result};
use crate::io::csv::write_genes_by_cells;
use crate::io::outputs::write_text;
use crate::io::{self, ReadOptions};
use crate::ltmg::{self, Ltmg, LtmgParams};
use crate::matrix::{Csr, ExprMatrix};
use crate::pipeline::dataset::CountScale;
use crate::preprocess::{self, PreprocessParams};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// scGNN's name of the preprocessed expression (`--expressionFile`,
/// `--ltmgExpressionFile`).
pub const EXPRESSION_FILE: &str = "Use_expression.csv";

/// The name under which scGNN's `scGNN.py` reads LTMG states (`--ltmgFile`).
pub const LTMG_FILE: &str = "LTMG_sparse.mtx";

/// `PreprocessingscGNN.py --filetype`: how D/N is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileType {
    /// D/N is a matrix file (any format the readers know; scGNN: a CSV).
    #[value(name = "CSV")]
    Csv,
    /// D/N is a 10X Matrix Market folder.
    #[value(name = "10X")]
    TenX,
}

crate::choice::value_enum_str!(FileType, "--filetype");

/// scGNN's dataset options, as given on its command lines.
#[derive(Clone, Debug)]
pub struct ScgnnDataset {
    /// `--datasetDir`: the folder holding `name`.
    pub dir: PathBuf,
    /// `--datasetName`: a matrix file (CSV layout) or a folder (10X layout, or
    /// the folder the first step wrote `Use_expression.csv` into).
    pub name: String,
    /// `--LTMGDir` (`None`: `dir`).
    pub ltmg_dir: Option<PathBuf>,
    /// `--expressionFile` / `--ltmgExpressionFile` (default [`EXPRESSION_FILE`]).
    pub expression_file: String,
    /// `--ltmgFile` (default [`LTMG_FILE`]): `.mtx` (R's `WriteSparse` format) or
    /// `.csv` (genes × cells with names, as `scgnn ltmg` writes).
    pub ltmg_file: String,
}

/// Where the first step reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreprocessLayout {
    /// The raw input: D/N.
    pub input: PathBuf,
    /// Its layout.
    pub filetype: FileType,
    /// `Use_expression.csv`: L/ (CSV) or L/N/ (10X).
    pub expression: PathBuf,
    /// The LTMG file, beside `expression`.
    pub ltmg: PathBuf,
}

/// What the second step reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLayout {
    /// D/N/`Use_expression.csv` when the first step wrote it, else D/N.
    pub input: PathBuf,
    /// `input` is the first step's output: filtered and ln(1 + x) already.
    pub preprocessed: bool,
    /// L/N/`LTMG_sparse.mtx` (it may not exist).
    pub ltmg: PathBuf,
}

/// The input of `scgnn run` in scGNN's layout, read.
pub struct RunInput {
    /// The layout that was found.
    pub layout: RunLayout,
    /// The matrix read from `layout.input` (cells × genes).
    pub matrix: ExprMatrix,
}

impl ScgnnDataset {
    /// `--datasetDir dir --datasetName name` with scGNN's other defaults.
    pub fn new(dir: impl Into<PathBuf>, name: impl Into<String>) -> ScgnnDataset {
        ScgnnDataset {
            dir: dir.into(),
            name: name.into(),
            ltmg_dir: None,
            expression_file: EXPRESSION_FILE.into(),
            ltmg_file: LTMG_FILE.into(),
        }
    }

    fn check_names(&self) -> Result<()> {
        for (flag, v) in [
            ("--datasetName", &self.name),
            ("--expressionFile", &self.expression_file),
            ("--ltmgFile", &self.ltmg_file),
        ] {
            if v.trim().is_empty() {
                return Err(Error::Usage(format!("{flag} must not be empty")));
            }
        }
        Ok(())
    }

    fn ltmg_dir(&self) -> &Path {
        self.ltmg_dir.as_deref().unwrap_or(&self.dir)
    }

    /// The first step's paths. `filetype` `None` takes the layout that exists
    /// (a file: CSV, a 10X folder: 10X). Fails with one line listing every path
    /// looked for when D/N is not laid out as asked.
    pub fn preprocess_layout(&self, filetype: Option<FileType>) -> Result<PreprocessLayout> {
        self.check_names()?;
        let input = self.dir.join(&self.name);
        let is_file = input.is_file();
        let is_10x = input.is_dir() && has_matrix(&input);
        let filetype = match (filetype, is_file, is_10x) {
            (Some(FileType::Csv) | None, true, _) => FileType::Csv,
            (Some(FileType::TenX) | None, _, true) => FileType::TenX,
            _ => return Err(self.preprocess_not_found(&input, filetype, is_file, is_10x)),
        };
        let out_dir = match filetype {
            FileType::Csv => self.ltmg_dir().to_path_buf(),
            FileType::TenX => self.ltmg_dir().join(&self.name),
        };
        Ok(PreprocessLayout {
            input,
            filetype,
            expression: out_dir.join(&self.expression_file),
            ltmg: out_dir.join(&self.ltmg_file),
        })
    }

    fn preprocess_not_found(
        &self,
        input: &Path,
        want: Option<FileType>,
        is_file: bool,
        is_10x: bool,
    ) -> Error {
        let d = input.display();
        let csv = format!("{d} (a matrix file, --filetype CSV)");
        let tenx = format!("{d}/matrix.mtx[.gz] (a 10X folder, --filetype 10X)");
        let looked = match want {
            Some(FileType::Csv) => vec![csv],
            Some(FileType::TenX) => vec![tenx],
            None => vec![csv, tenx],
        };
        let hint = match (want, is_file, is_10x) {
            (Some(FileType::Csv), _, true) => "; it is a 10X folder: pass --filetype 10X",
            (Some(FileType::TenX), true, _) => "; it is a file: pass --filetype CSV",
            _ => "",
        };
        not_found(
            &format!(
                "--datasetDir {} --datasetName {}",
                self.dir.display(),
                self.name
            ),
            "nothing to preprocess",
            &looked,
            hint,
            &self.dir,
        )
    }

    /// The second step's paths: the first step's `Use_expression.csv` in D/N/
    /// if it is there, else D/N itself (a matrix file or a 10X folder, to be
    /// preprocessed). Fails with one line listing every path looked for.
    pub fn run_layout(&self) -> Result<RunLayout> {
        self.check_names()?;
        let folder = self.dir.join(&self.name);
        let ltmg = self.ltmg_dir().join(&self.name).join(&self.ltmg_file);
        let expression = folder.join(&self.expression_file);
        if expression.is_file() {
            return Ok(RunLayout {
                input: expression,
                preprocessed: true,
                ltmg,
            });
        }
        if folder.is_file() || (folder.is_dir() && has_matrix(&folder)) {
            return Ok(RunLayout {
                input: folder,
                preprocessed: false,
                ltmg,
            });
        }
        let d = folder.display();
        let looked = [
            format!("{} (written by `scgnn preprocess`)", expression.display()),
            format!("{d} (a matrix file)"),
            format!("{d}/matrix.mtx[.gz] (a 10X folder)"),
        ];
        Err(not_found(
            &format!(
                "--datasetDir {} --datasetName {}",
                self.dir.display(),
                self.name
            ),
            "nothing to read",
            &looked,
            "",
            &self.dir,
        ))
    }
}

/// Whether `dir` holds `matrix.mtx` or `matrix.mtx.gz`.
fn has_matrix(dir: &Path) -> bool {
    dir.join("matrix.mtx").is_file() || dir.join("matrix.mtx.gz").is_file()
}

/// The one-line "nothing found" error: what was asked, every path looked for,
/// a hint, and what `dir` holds (so that a misspelt name is easy to spot).
fn not_found(asked: &str, what: &str, looked: &[String], hint: &str, dir: &Path) -> Error {
    const SHOWN: usize = 8;
    let holds = match std::fs::read_dir(dir) {
        Err(_) => format!("; {} does not exist", dir.display()),
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            let more = names.len().saturating_sub(SHOWN);
            names.truncate(SHOWN);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            if names.is_empty() {
                format!("; {} is empty", dir.display())
            } else {
                format!("; {} holds: {}{more}", dir.display(), names.join(", "))
            }
        }
    };
    Error::Usage(format!(
        "{asked}: {what}; looked for {}{hint}{holds}",
        looked.join(", ")
    ))
}

/// scGNN's first step (`PreprocessingscGNN.py`): reads D/N, preprocesses it
/// with `params`, writes `Use_expression.csv` and, when `ltmg` is given, the
/// LTMG states, at the paths of [`ScgnnDataset::preprocess_layout`]. Returns the
/// layout used.
pub fn preprocess_dataset(
    ds: &ScgnnDataset,
    filetype: Option<FileType>,
    read: &ReadOptions,
    params: &PreprocessParams,
    ltmg: Option<&LtmgParams>,
    seed: u64,
) -> Result<PreprocessLayout> {
    let t = Instant::now();
    let layout = ds.preprocess_layout(filetype)?;
    if let Some(p) = ltmg {
        p.validate()?;
        check_ltmg_name(&layout.ltmg)?;
    }
    let m = io::read_matrix(&layout.input, read)?;
    let pre = preprocess::preprocess(m, params)?;
    write_expression(&layout.expression, &pre.expr)?;
    tracing::info!(
        "wrote {} ({} genes × {} cells, ln(1+x)) in {:.2} s",
        layout.expression.display(),
        pre.expr.n_genes(),
        pre.expr.n_cells(),
        t.elapsed().as_secs_f64()
    );
    if let Some(p) = ltmg {
        let t = Instant::now();
        let scale = CountScale {
            size_factors: pre.size_factors.clone(),
            transform: pre.transform,
        };
        let l = ltmg::run(&scale.normalised(&pre.counts), p, seed)?;
        write_ltmg(&layout.ltmg, &pre.expr, &l.states)?;
        tracing::info!(
            "wrote {} (LTMG states, {:.2} s); (state, count): {:?}",
            layout.ltmg.display(),
            t.elapsed().as_secs_f64(),
            l.state_histogram()
        );
    }
    Ok(layout)
}

/// Writes `Use_expression.csv`: genes × cells, header `Gene_ID,cell…`, first
/// column the gene names, values as stored in `expr` (ln(1 + x)).
pub fn write_expression(dest: &Path, expr: &ExprMatrix) -> Result<()> {
    let gene_major = expr.x.transpose();
    write_text(dest, |w| {
        write_genes_by_cells(w, "Gene_ID", &expr.genes, &expr.cells, &gene_major)
    })
}

/// The kinds of LTMG file understood, from the name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LtmgKind {
    /// R's `WriteSparse` Matrix Market file, genes × cells, no names.
    Mtx,
    /// Genes × cells text with names (`scgnn ltmg --output X.csv`).
    Csv,
}

fn check_ltmg_name(path: &Path) -> Result<LtmgKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".mtx") {
        Ok(LtmgKind::Mtx)
    } else if name.ends_with(".csv") {
        Ok(LtmgKind::Csv)
    } else {
        Err(Error::Usage(format!(
            "--ltmgFile {}: name an .mtx file (scGNN's LTMG_sparse.mtx) or a .csv file",
            path.display()
        )))
    }
}

/// Writes LTMG states (cells × genes, from [`ltmg::run`] on `expr`'s cells and
/// genes): `.mtx` as R's `WriteSparse` does (what scGNN reads), `.csv` as
/// genes × cells with names.
pub fn write_ltmg(dest: &Path, expr: &ExprMatrix, states: &Csr<u8>) -> Result<()> {
    if check_ltmg_name(dest)? == LtmgKind::Csv {
        return io::outputs::write_ltmg(dest, expr, states);
    }
    let nnz = states.data.iter().filter(|&&s| s > 0).count();
    write_text(dest, |w| {
        // scGNN's reader skips exactly one line before the size line.
        writeln!(w, "%%MatrixMarket matrix coordinate integer general")?;
        writeln!(w, "{} {} {nnz}", states.cols, states.rows)?;
        for cell in 0..states.rows {
            let (genes, values) = states.row(cell);
            for (&g, &s) in genes.iter().zip(values).filter(|&(_, &s)| s > 0) {
                writeln!(w, "{} {} {s}", g + 1, cell + 1)?;
            }
        }
        Ok(())
    })
}

/// Reads LTMG states written for these genes and cells (same order) by
/// [`write_ltmg`], R's `WriteSparse` or `scgnn ltmg`.
pub fn read_ltmg(path: &Path, genes: &[String], cells: &[String]) -> Result<Ltmg> {
    let (genes_by_cells, names) = match check_ltmg_name(path)? {
        LtmgKind::Mtx => (io::mtx::read_mtx(path)?, None),
        LtmgKind::Csv => {
            let opts = ReadOptions {
                layout_check: false,
                ..ReadOptions::default()
            };
            let m = io::read_matrix(path, &opts)?;
            (m.x.transpose(), Some((m.genes, m.cells)))
        }
    };
    let belongs = (genes_by_cells.rows, genes_by_cells.cols) == (genes.len(), cells.len())
        && names.as_ref().is_none_or(|(g, c)| g == genes && c == cells);
    if !belongs {
        return Err(Error::input(
            path,
            None,
            format!(
                "these LTMG states ({} genes × {} cells) do not belong to the expression ({} genes × {} cells{}); \
                 delete the file to compute LTMG, or re-run `scgnn preprocess … --inferLTMGTag`",
                genes_by_cells.rows,
                genes_by_cells.cols,
                genes.len(),
                cells.len(),
                if names.is_some() { ", or other names" } else { "" }
            ),
        ));
    }
    let cells_by_genes = genes_by_cells.transpose();
    let mut trip = Vec::with_capacity(cells_by_genes.nnz());
    for cell in 0..cells_by_genes.rows {
        let (genes, values) = cells_by_genes.row(cell);
        for (&g, &v) in genes.iter().zip(values) {
            if v.fract() != 0.0 || v > u8::MAX as f32 {
                return Err(Error::input(
                    path,
                    Some(format!("gene {}, cell {}", g + 1, cell + 1)),
                    format!("LTMG state {v} is not an integer from 0 to 255"),
                ));
            }
            if v > 0.0 {
                trip.push((cell as u32, g, v as u8));
            }
        }
    }
    let states = Csr::from_triplets(cells_by_genes.rows, cells_by_genes.cols, trip);
    Ok(Ltmg::from_states(states))
}

/// Reads the second step's input: [`ScgnnDataset::run_layout`], then the matrix
/// (`read` applies to an unpreprocessed D/N only; `Use_expression.csv` is read
/// as the first step wrote it).
pub fn read_dataset(ds: &ScgnnDataset, read: &ReadOptions) -> Result<RunInput> {
    let layout = ds.run_layout()?;
    let opts = if layout.preprocessed {
        tracing::info!(
            "{}: preprocessed by the first step (filtered, ln(1+x)); not preprocessed again",
            layout.input.display()
        );
        ReadOptions {
            layout_check: read.layout_check,
            ..ReadOptions::default()
        }
    } else {
        read.clone()
    };
    let matrix = io::read_matrix(&layout.input, &opts)?;
    Ok(RunInput { layout, matrix })
}

/// The LTMG states of the second step when `needed`: read from `path` if it
/// exists, else `None` with a message (the pipeline then computes them).
pub fn load_ltmg(
    path: &Path,
    genes: &[String],
    cells: &[String],
    needed: bool,
) -> Result<Option<Ltmg>> {
    if !needed {
        return Ok(None);
    }
    if !path.exists() {
        tracing::info!(
            "LTMG: {} not found; computing LTMG here (`scgnn preprocess … --inferLTMGTag` writes it)",
            path.display()
        );
        return Ok(None);
    }
    let l = read_ltmg(path, genes, cells)?;
    tracing::info!(
        "LTMG: read {}; (state, count): {:?}",
        path.display(),
        l.state_histogram()
    );
    Ok(Some(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scgnn-compat-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn expr() -> ExprMatrix {
        ExprMatrix {
            x: Csr::from_triplets(3, 2, vec![(0, 0, 1.0), (1, 1, 2.0), (2, 0, 0.5)]),
            genes: vec!["g1".into(), "g2".into()],
            cells: vec!["c1".into(), "c2".into(), "c3".into()],
        }
    }

    #[test]
    fn ltmg_files_round_trip_and_must_match_the_expression() {
        let d = tmpdir("ltmg");
        let e = expr();
        // A censored positive (state 0) is not written.
        let states = Csr::from_triplets(3, 2, vec![(0, 0, 2u8), (1, 1, 1), (2, 0, 0)]);
        for name in ["LTMG_sparse.mtx", "ltmg.csv"] {
            let p = d.join(name);
            write_ltmg(&p, &e, &states).unwrap();
            let back = read_ltmg(&p, &e.genes, &e.cells).unwrap();
            assert_eq!(back.state_histogram(), vec![(0, 4), (1, 1), (2, 1)]);
            assert_eq!(back.states.row(0), (&[0u32][..], &[2u8][..]));
            let other = e.select_cells(&[0, 1]);
            let err = read_ltmg(&p, &other.genes, &other.cells)
                .unwrap_err()
                .to_string();
            assert!(err.contains("do not belong"), "{err}");
        }
        let text = std::fs::read_to_string(d.join("LTMG_sparse.mtx")).unwrap();
        assert_eq!(
            text,
            "%%MatrixMarket matrix coordinate integer general\n2 3 2\n1 1 2\n2 2 1\n"
        );
        assert!(write_ltmg(&d.join("x.h5ad"), &e, &states).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn layouts_follow_scgnn_paths() {
        let d = tmpdir("layout");
        std::fs::write(d.join("x.csv"), "gene,c1\ng1,1\n").unwrap();
        std::fs::create_dir_all(d.join("t.mtx")).unwrap();
        std::fs::write(d.join("t.mtx/matrix.mtx.gz"), "").unwrap();
        let mut ds = ScgnnDataset::new(&d, "x.csv");
        ds.ltmg_dir = Some(d.join("out"));
        let l = ds.preprocess_layout(None).unwrap();
        assert_eq!(l.filetype, FileType::Csv);
        assert_eq!(l.expression, d.join("out/Use_expression.csv"));
        assert_eq!(l.ltmg, d.join("out/LTMG_sparse.mtx"));
        assert!(ds.preprocess_layout(Some(FileType::TenX)).is_err());
        let t = ScgnnDataset::new(&d, "t.mtx");
        let l = t.preprocess_layout("10x".parse().ok()).unwrap();
        assert_eq!(l.expression, d.join("t.mtx/Use_expression.csv"));
        let r = t.run_layout().unwrap();
        assert!(!r.preprocessed && r.input == d.join("t.mtx"));
        std::fs::write(d.join("t.mtx/Use_expression.csv"), "Gene_ID,c1\ng1,1\n").unwrap();
        let r = t.run_layout().unwrap();
        assert!(r.preprocessed && r.input == d.join("t.mtx/Use_expression.csv"));
        assert_eq!(r.ltmg, d.join("t.mtx/LTMG_sparse.mtx"));
        let err = ScgnnDataset::new(&d, "nope").run_layout().unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("holds: t.mtx, x.csv"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
