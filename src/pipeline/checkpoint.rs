//! Checkpoints of a run (`--checkpoint-dir`, `--resume`): the whole state of the
//! method after the first phase and after every EM iteration, written atomically
//! (a complete file or none), so a run that is stopped (killed, out of time, a
//! full disk) continues from its last completed step. Every random choice of the
//! method is derived from the seed and the step, never from a stream that runs
//! through the whole run, so the state below is all a resumed run needs to give
//! byte for byte the outputs of a run that was never stopped (same seed, same
//! thread count).
//!
//! A checkpoint carries a fingerprint of what produced it (version, parameters,
//! thread count, the working matrix); one from other data or other settings is
//! refused, with what differs.

use super::dataset::Dataset;
use super::params::RunParams;
use super::report::{Convergence, Iteration, Phase};
use crate::cluster::Clustering;
use crate::error::{Error, Result};
use crate::graph::CellGraph;
use crate::io::atomic;
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::Autoencoder;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// File name of the checkpoint inside its folder.
pub const FILE: &str = "scgnn_checkpoint.bin";
/// Leading bytes of a checkpoint file, with the format's version.
const MAGIC: &[u8; 12] = b"SCGNN-CKPT-1";

/// What produced a checkpoint; a resumed run must match it exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Fingerprint {
    version: String,
    /// Every parameter, as the report writes them (JSON).
    params: String,
    threads: usize,
    n_cells: usize,
    n_genes: usize,
    /// Hash of the working matrix and of the cell and gene names.
    data: u64,
}

/// The method's state after step `t` (0: the first phase and its clustering).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// The last completed step.
    pub t: usize,
    /// The feature autoencoder, with its optimizer state.
    pub ae: Autoencoder,
    /// scGNN imputation's starting weights (see `Phase1::initial`).
    pub initial: Option<Autoencoder>,
    /// scGNN imputation's first-phase weights (see `Phase1::trained`).
    pub trained: Option<Autoencoder>,
    /// The current reconstruction the next EM iteration trains on.
    pub current: Dense,
    /// The last step's cell graph.
    pub graph: CellGraph,
    /// The last step's clustering embedding.
    pub embedding: Dense,
    /// The last step's clustering.
    pub clustering: Clustering,
    /// The summed graphs under `--em-graph consensus`.
    pub consensus: Option<Csr<f32>>,
    /// The report's iteration records so far.
    pub iterations: Vec<Iteration>,
    /// The report's phase records so far (as JSON, which their losses need:
    /// a NaN loss is written as `null`).
    #[serde(with = "as_json")]
    pub phases: Vec<Phase>,
    /// Set when step `t` converged: the next step is the imputation.
    pub convergence: Option<Convergence>,
    /// Wall seconds of the method up to this step, for the report's total.
    pub seconds: f64,
}

/// Where a run keeps its checkpoint, and what it must match.
pub struct Checkpoints {
    path: PathBuf,
    fingerprint: Fingerprint,
}

impl Checkpoints {
    /// The checkpoint in `dir` of a run of `p` on `ds` (not read or written yet).
    pub fn new(dir: &Path, ds: &Dataset, p: &RunParams) -> Result<Self> {
        let x = ds.x("the checkpoint")?;
        let record =
            |e: serde_json::Error| Error::Usage(format!("cannot record the parameters: {e}"));
        let mut params = serde_json::to_value(p).map_err(record)?;
        // The memory limit follows the machine's free memory and changes no result.
        if let Some(m) = params.as_object_mut() {
            m.remove("memory_limit");
        }
        let params = serde_json::to_string(&params).map_err(record)?;
        Ok(Checkpoints {
            path: dir.join(FILE),
            fingerprint: Fingerprint {
                version: env!("CARGO_PKG_VERSION").to_string(),
                params,
                threads: rayon::current_num_threads(),
                n_cells: ds.n_cells(),
                n_genes: ds.n_genes(),
                data: data_hash(x, &ds.cells, &ds.genes),
            },
        })
    }

    /// The checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `state` atomically, replacing the previous checkpoint only once
    /// the new one is complete.
    pub fn save(&self, state: &State) -> Result<()> {
        atomic::write_atomic(&self.path, |tmp| {
            let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let encode = |w: &mut BufWriter<std::fs::File>| -> bincode::Result<()> {
                w.write_all(MAGIC)?;
                bincode::serialize_into(&mut *w, &self.fingerprint)?;
                bincode::serialize_into(&mut *w, state)
            };
            encode(&mut w).map_err(|e| bincode_error(tmp, *e))?;
            let f = w.into_inner().map_err(|e| Error::io(tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(tmp, e))
        })
    }

    /// The saved state, `None` when there is no checkpoint; refuses one written
    /// by a run of other data, parameters, thread count or version.
    pub fn load(&self) -> Result<Option<State>> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut magic = [0u8; 12];
        r.read_exact(&mut magic)
            .map_err(|e| self.refuse(format!("not a complete checkpoint ({e})")))?;
        if &magic != MAGIC {
            return Err(self.refuse("not a checkpoint of this version of scgnn".into()));
        }
        let theirs: Fingerprint = bincode::deserialize_from(&mut r)
            .map_err(|e| self.refuse(format!("unreadable checkpoint ({e})")))?;
        if let Some(why) = self.fingerprint.difference(&theirs) {
            return Err(self.refuse(format!("it was written by another run: {why}")));
        }
        let state: State = bincode::deserialize_from(&mut r)
            .map_err(|e| self.refuse(format!("unreadable checkpoint ({e})")))?;
        Ok(Some(state))
    }

    /// Removes the checkpoint (once the run's outputs are complete).
    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    fn refuse(&self, why: String) -> Error {
        Error::input(
            &self.path,
            None,
            format!(
                "cannot resume from this checkpoint: {why}; run without --resume to start \
                 afresh, or give the --checkpoint-dir of the run to continue"
            ),
        )
    }
}

impl Fingerprint {
    /// What differs between two fingerprints, in words; `None` when they match.
    fn difference(&self, other: &Fingerprint) -> Option<String> {
        if self.version != other.version {
            return Some(format!(
                "scgnn {} wrote it, this is scgnn {}",
                other.version, self.version
            ));
        }
        if (self.n_cells, self.n_genes, self.data) != (other.n_cells, other.n_genes, other.data) {
            return Some(format!(
                "other data ({} cells × {} genes there, {} × {} here, or other values)",
                other.n_cells, other.n_genes, self.n_cells, self.n_genes
            ));
        }
        if self.params != other.params {
            let value = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
            let keys = differing_keys(&value(&self.params), &value(&other.params), "");
            return Some(format!("other parameters ({})", keys.join(", ")));
        }
        if self.threads != other.threads {
            return Some(format!(
                "{} threads there, {} here (give --threads {} for identical results)",
                other.threads, self.threads, other.threads
            ));
        }
        None
    }
}

/// The dotted paths of the fields where two JSON values differ.
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Vec<String> {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    let null = serde_json::Value::Null;
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    differing_keys(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), &path)
                })
                .collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![at.to_string()],
    }
}

/// FNV-1a over the matrix's shape, structure and value bits and the names.
fn data_hash(x: &Csr<f32>, cells: &[String], genes: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(x.rows as u64);
    eat(x.cols as u64);
    x.indptr.iter().for_each(|&p| eat(p as u64));
    x.indices.iter().for_each(|&i| eat(i as u64));
    x.data.iter().for_each(|v| eat(v.to_bits() as u64));
    for s in cells.iter().chain(genes) {
        eat(s.len() as u64);
        s.bytes().for_each(|b| eat(b as u64));
    }
    h
}

fn bincode_error(path: &Path, e: bincode::ErrorKind) -> Error {
    match e {
        bincode::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::Usage(format!(
            "{}: cannot encode the checkpoint ({other})",
            path.display()
        )),
    }
}

/// A field stored as JSON text inside the binary checkpoint.
mod as_json {
    use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}
