//! Clustering stage (spec §6): every `--clustering-method` of scGNN, run on the
//! cell embedding and/or the pruned cell graph, seeded and thread-count
//! independent, followed by the cluster-count guard of §6.2 done as intended.
//!
//! Choices that differ from (or pin down) scGNN:
//! - Louvain/Leiden run on the sparse graph (leiden-rs), never a dense N × N list.
//!   Isolated vertices are singleton communities and **count** towards k_L, as in
//!   igraph's `community_multilevel` (spec §6.1). Self-loops in the graph are ignored.
//! - `Leiden` with `Resolution::Auto` uses γ = 0.5 below 2 000 cells, else 0.7
//!   (measured, BENCHMARKS.md "Time to quality"): the auto values 0.8/0.5 of §6.1
//!   are multipliers of the Louvain count, not modularity resolutions.
//! - Labels are always relabelled to 0..K−1 in order of first appearance over the
//!   cells, so the output never depends on an internal vertex order (the
//!   "Louvain label permutation" bug of §17 cannot occur).
//! - Methods needing O(N²) memory or time refuse with [`Error::Resources`] above
//!   a documented cell limit (see each method's module).

mod affinity;
mod agglomerative;
mod birch;
mod kmeans;
mod louvain;
mod meanshift;
mod optics;
mod spectral;

pub use kmeans::{kmeans, KMeansParams, KMeansResult};

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};
use std::fmt;
use std::str::FromStr;

/// The clustering methods of scGNN's `--clustering-method` (spec §6.3).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Method {
    /// Louvain community count k_L, K = ⌊k_L·r⌋ (≥ 3, else 2), then KMeans (§6.1; scGNN's default).
    #[default]
    #[value(name = "LouvainK")]
    LouvainK,
    /// Louvain communities as the clusters.
    #[value(name = "Louvain")]
    Louvain,
    /// Like `LouvainK` but Birch with K clusters.
    #[value(name = "LouvainB")]
    LouvainB,
    /// KMeans with `n_clusters`.
    #[value(name = "KMeans")]
    KMeans,
    /// Spectral clustering of the cell graph with `n_clusters` (discretize labels).
    #[value(name = "SpectralClustering")]
    SpectralClustering,
    /// Affinity propagation (no K).
    #[value(name = "AffinityPropagation")]
    AffinityPropagation,
    /// Ward agglomerative clustering cut by a distance threshold (no K).
    #[value(name = "AgglomerativeClustering")]
    AgglomerativeClustering,
    /// Ward agglomerative clustering with `n_clusters`.
    #[value(name = "AgglomerativeClusteringK")]
    AgglomerativeClusteringK,
    /// BIRCH with a final Ward step to `n_clusters`.
    #[value(name = "Birch")]
    Birch,
    /// BIRCH subclusters as clusters (no K).
    #[value(name = "BirchN")]
    BirchN,
    /// Mean shift with an estimated bandwidth (no K).
    #[value(name = "MeanShift")]
    MeanShift,
    /// OPTICS with ξ cluster extraction (no K).
    #[value(name = "OPTICS")]
    Optics,
    /// Leiden communities at the given resolution.
    #[value(name = "Leiden")]
    Leiden,
}

crate::choice::value_enum_str!(Method, "--clustering-method");

/// The LouvainK multiplier r of §6.1 (and the Leiden resolution). Serialised as
/// `"auto"` or the number.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Resolution {
    /// LouvainK: 0.8 below 2 000 cells, else 0.5; `Leiden`: γ = 0.5 below 2 000 cells, else 0.7.
    #[default]
    Auto,
    /// A fixed positive value.
    Fixed(f64),
}

impl Resolution {
    /// The LouvainK multiplier for `n` cells.
    pub fn multiplier(self, n: usize) -> f64 {
        match self {
            Resolution::Auto if n < 2000 => 0.8,
            Resolution::Auto => 0.5,
            Resolution::Fixed(r) => r,
        }
    }

    /// The modularity resolution γ for `Leiden` on `n` cells (auto: 0.5 below
    /// 2 000 cells, else 0.7; at a fixed γ small data sets split into more
    /// clusters than their cell types, large ones into fewer).
    pub fn gamma(self, n: usize) -> f64 {
        match self {
            Resolution::Auto if n < 2000 => 0.5,
            Resolution::Auto => 0.7,
            Resolution::Fixed(r) => r,
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolution::Auto => f.write_str("auto"),
            Resolution::Fixed(r) => write!(f, "{r}"),
        }
    }
}

impl serde::Serialize for Resolution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Resolution::Auto => s.serialize_str("auto"),
            Resolution::Fixed(r) => s.serialize_f64(*r),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Resolution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(f64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Number(r) => Ok(Resolution::Fixed(r)),
            Repr::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl FromStr for Resolution {
    type Err = Error;

    /// "auto" (any case) or a positive finite number.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Resolution::Auto);
        }
        match t.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Resolution::Fixed(r)),
            _ => Err(Error::Usage(format!(
                "resolution must be 'auto' or a positive number, got '{s}'"
            ))),
        }
    }
}

/// Parameters of the clustering stage; defaults are scGNN's (spec §6, §11). The
/// graph's k and the seed are the run's, passed to [`cluster`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterParams {
    /// `--clustering-method` (default `LouvainK`).
    pub method: Method,
    /// `--n-clusters` for the methods that take K (default 20).
    pub n_clusters: usize,
    /// `--resolution` (default auto).
    pub resolution: Resolution,
    /// `--maxClusterNumber` (default 30).
    pub max_clusters: usize,
    /// `--minMemberinCluster` (default 5).
    pub min_members: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            method: Method::LouvainK,
            n_clusters: 20,
            resolution: Resolution::Auto,
            max_clusters: 30,
            min_members: 5,
        }
    }
}

impl ClusterParams {
    /// Checks the parameters are usable with a cell graph of `knn_k` neighbours.
    pub fn validate(&self, knn_k: usize) -> Result<()> {
        if self.n_clusters < 1 {
            return Err(Error::Usage("--n-clusters must be at least 1".into()));
        }
        if self.max_clusters < 2 {
            return Err(Error::Usage("--maxClusterNumber must be at least 2".into()));
        }
        if let Resolution::Fixed(r) = self.resolution {
            if !(r.is_finite() && r > 0.0) {
                return Err(Error::Usage(format!(
                    "resolution must be a positive number, got {r}"
                )));
            }
        }
        if self.method == Method::Optics && knn_k < 4 {
            return Err(Error::Usage(format!(
                "--clustering-method OPTICS uses min_samples = k/2 and needs --k 4 or more, got --k {knn_k}"
            )));
        }
        Ok(())
    }
}

/// The result of the clustering stage.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clustering {
    /// One label per cell, contiguous 0..K−1 in order of first appearance.
    pub labels: Vec<usize>,
    /// K.
    pub n_clusters: usize,
    /// The Louvain community count k_L, for the Louvain-based methods.
    pub louvain_communities: Option<usize>,
    /// What the guard (or noise handling) changed, if anything.
    pub note: Option<String>,
}

/// Clusters the cells. `emb` is the clustering embedding (cells × d); `graph` is
/// the pruned symmetric cell graph (cells × cells, may have isolated nodes).
/// `knn_k` is the graph's k (OPTICS uses min_samples = k/2); `seed` drives every
/// random choice of the stage. `previous` (the labels of the last EM step)
/// warm-starts `Louvain` and `Leiden`; the other methods start afresh.
pub fn cluster(
    emb: &Dense,
    graph: &Csr<f32>,
    p: &ClusterParams,
    knn_k: usize,
    seed: u64,
    previous: Option<&[usize]>,
) -> Result<Clustering> {
    let (raw, louvain_communities) = raw_labels(emb, graph, p, knn_k, seed, previous)?;
    let mut out = guard(emb, &raw, p.max_clusters, p.min_members)?;
    out.louvain_communities = louvain_communities;
    Ok(out)
}

/// The method's own labels before noise handling and the guard (−1 = noise,
/// OPTICS and AffinityPropagation without exemplars), and the Louvain
/// community count k_L for the Louvain-based methods. `previous` as in [`cluster`].
pub fn raw_labels(
    emb: &Dense,
    graph: &Csr<f32>,
    p: &ClusterParams,
    knn_k: usize,
    seed: u64,
    previous: Option<&[usize]>,
) -> Result<(Vec<i64>, Option<usize>)> {
    p.validate(knn_k)?;
    let n = emb.rows;
    if graph.rows != n || graph.cols != n {
        return Err(Error::Usage(format!(
            "cell graph is {}×{} but the embedding has {n} cells",
            graph.rows, graph.cols
        )));
    }
    if n == 0 {
        return Err(Error::Usage("cannot cluster zero cells".into()));
    }
    if emb.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numeric(
            "the clustering embedding contains NaN or infinite values".into(),
        ));
    }
    let mut louvain_communities = None;
    let raw: Vec<i64> = match p.method {
        Method::LouvainK | Method::LouvainB => {
            let kl = louvain::communities(graph, 1.0, false, seed, None)?.1;
            louvain_communities = Some(kl);
            let k = louvain_k(kl, p.resolution.multiplier(n)).min(n);
            if p.method == Method::LouvainK {
                to_i64(kmeans_labels(emb, k, seed)?)
            } else {
                to_i64(birch::birch(emb, Some(k))?)
            }
        }
        Method::Louvain | Method::Leiden => {
            let gamma = if p.method == Method::Louvain {
                1.0
            } else {
                p.resolution.gamma(n)
            };
            let (labels, k) =
                louvain::communities(graph, gamma, p.method == Method::Leiden, seed, previous)?;
            louvain_communities = Some(k);
            to_i64(labels)
        }
        Method::KMeans => to_i64(kmeans_labels(emb, p.n_clusters.min(n), seed)?),
        Method::Birch => to_i64(birch::birch(emb, Some(p.n_clusters))?),
        Method::BirchN => to_i64(birch::birch(emb, None)?),
        Method::AgglomerativeClusteringK => to_i64(agglomerative::ward_cells(
            emb,
            agglomerative::Cut::K(p.n_clusters),
            p.method,
        )?),
        Method::AgglomerativeClustering => to_i64(agglomerative::ward_cells(
            emb,
            agglomerative::Cut::Gap(p.max_clusters),
            p.method,
        )?),
        Method::SpectralClustering => to_i64(spectral::spectral(graph, p.n_clusters, seed)?),
        Method::AffinityPropagation => affinity::affinity_propagation(emb, seed)?,
        Method::MeanShift => to_i64(meanshift::mean_shift(emb, seed)?),
        Method::Optics => optics::optics(emb, knn_k / 2)?,
    };
    Ok((raw, louvain_communities))
}

/// K from the Louvain count (spec §6.1): ⌊k_L·r⌋ if that is ≥ 3, else 2.
pub fn louvain_k(k_l: usize, r: f64) -> usize {
    let k = (k_l as f64 * r).floor() as usize;
    if k >= 3 {
        k
    } else {
        2
    }
}

fn kmeans_labels(emb: &Dense, k: usize, seed: u64) -> Result<Vec<usize>> {
    let kp = KMeansParams {
        k,
        seed,
        ..KMeansParams::default()
    };
    Ok(kmeans(emb, &kp)?.labels)
}

fn to_i64(v: Vec<usize>) -> Vec<i64> {
    v.into_iter().map(|x| x as i64).collect()
}

/// Noise handling, the cluster-count guard and relabelling (spec §6.2, intended):
/// 1. noise (negative labels, OPTICS) joins the cluster with the nearest centroid;
///    if every cell is noise they form one cluster;
/// 2. only if K > `max_clusters` (as scGNN; K ≤ 1 cannot be improved by merging and
///    is only reported): clusters with fewer than `min_members` cells are merged
///    into the cluster with the nearest centroid, then, while K > `max_clusters`,
///    the smallest cluster (ties: the one appearing first) is merged into its
///    nearest;
/// 3. labels are renumbered 0..K−1 in order of first appearance.
pub fn guard(
    emb: &Dense,
    raw: &[i64],
    max_clusters: usize,
    min_members: usize,
) -> Result<Clustering> {
    let (labels, note) = finish(emb, raw, max_clusters, min_members)?;
    let n_clusters = labels.iter().copied().max().map_or(0, |m| m + 1);
    Ok(Clustering {
        labels,
        n_clusters,
        louvain_communities: None,
        note,
    })
}

fn finish(
    emb: &Dense,
    raw: &[i64],
    max_clusters: usize,
    min_members: usize,
) -> Result<(Vec<usize>, Option<String>)> {
    if raw.len() != emb.rows {
        return Err(Error::Usage(format!(
            "{} labels for {} cells",
            raw.len(),
            emb.rows
        )));
    }
    let mut notes = Vec::new();
    // Contiguous ids for the non-noise labels, by first appearance.
    let mut map = std::collections::HashMap::new();
    let mut lab: Vec<Option<usize>> = raw
        .iter()
        .map(|&l| {
            (l >= 0).then(|| {
                let m = map.len();
                *map.entry(l).or_insert(m)
            })
        })
        .collect();
    let mut k = map.len();
    let n_noise = lab.iter().filter(|l| l.is_none()).count();
    if n_noise > 0 {
        if k == 0 {
            lab.iter_mut().for_each(|l| *l = Some(0));
            k = 1;
            notes.push(format!(
                "all {n_noise} cells were noise; they form one cluster"
            ));
        } else {
            let (cent, _) = centroids(emb, &lab, k);
            for (i, l) in lab.iter_mut().enumerate() {
                if l.is_none() {
                    *l = Some(nearest(emb.row(i), &cent, emb.cols, |_| true));
                }
            }
            notes.push(format!(
                "{n_noise} noise cells joined the cluster with the nearest centroid"
            ));
        }
    }
    let mut lab: Vec<usize> = lab.into_iter().map(|l| l.unwrap_or(0)).collect();
    if k > max_clusters {
        let before = k;
        lab = merge_clusters(emb, &lab, k, max_clusters, min_members);
        k = relabel(&mut lab);
        notes.push(format!(
            "{before} clusters exceeded maxClusterNumber {max_clusters}: clusters under \
             {min_members} cells and then the smallest were merged into their nearest, \
             leaving {k}"
        ));
    } else if k <= 1 {
        notes.push("only one cluster was found".into());
    }
    relabel(&mut lab);
    Ok((lab, (!notes.is_empty()).then(|| notes.join("; "))))
}

/// Renumbers to 0..K−1 by first appearance; returns K.
fn relabel(lab: &mut [usize]) -> usize {
    let mut map = std::collections::HashMap::new();
    for l in lab.iter_mut() {
        let m = map.len();
        *l = *map.entry(*l).or_insert(m);
    }
    map.len()
}

/// Merges clusters as described in [`guard`]; cluster ids stay in 0..k.
fn merge_clusters(
    emb: &Dense,
    lab: &[usize],
    k: usize,
    max_clusters: usize,
    min_members: usize,
) -> Vec<usize> {
    let d = emb.cols;
    let opt: Vec<Option<usize>> = lab.iter().map(|&l| Some(l)).collect();
    let (mut cent, mut size) = centroids(emb, &opt, k);
    let mut target: Vec<usize> = (0..k).collect();
    let mut alive: Vec<bool> = vec![true; k];
    let mut n_alive = k;
    let merge = |a: usize,
                 b: usize,
                 cent: &mut Vec<f64>,
                 size: &mut Vec<usize>,
                 alive: &mut Vec<bool>,
                 target: &mut Vec<usize>| {
        // a joins b; the merged centroid is the size-weighted mean.
        let (na, nb) = (size[a] as f64, size[b] as f64);
        for j in 0..d {
            cent[b * d + j] = (cent[a * d + j] * na + cent[b * d + j] * nb) / (na + nb);
        }
        size[b] += size[a];
        size[a] = 0;
        alive[a] = false;
        target[a] = b;
    };
    // Small clusters go to the nearest large-enough cluster in one pass, so the
    // cost is O(K_small · K_large · d) rather than quadratic in K.
    let big: Vec<bool> = size.iter().map(|&s| s >= min_members).collect();
    if big.iter().any(|&b| b) && big.iter().any(|&b| !b) {
        let small: Vec<usize> = (0..k).filter(|&c| !big[c]).collect();
        for c in small {
            let row: Vec<f64> = cent[c * d..(c + 1) * d].to_vec();
            let b = nearest_f64(&row, &cent, d, |o| big[o]);
            merge(c, b, &mut cent, &mut size, &mut alive, &mut target);
            n_alive -= 1;
        }
    }
    while n_alive > max_clusters {
        let a = (0..k)
            .filter(|&c| alive[c])
            .min_by_key(|&c| (size[c], c))
            .unwrap_or(0);
        let row: Vec<f64> = cent[a * d..(a + 1) * d].to_vec();
        let b = nearest_f64(&row, &cent, d, |o| alive[o] && o != a);
        merge(a, b, &mut cent, &mut size, &mut alive, &mut target);
        n_alive -= 1;
    }
    let resolve = |mut c: usize| {
        while target[c] != c {
            c = target[c];
        }
        c
    };
    lab.iter().map(|&l| resolve(l)).collect()
}

/// Cluster centroids (row-major k × d, f64) and sizes; `None` labels are skipped.
pub(crate) fn centroids(emb: &Dense, lab: &[Option<usize>], k: usize) -> (Vec<f64>, Vec<usize>) {
    let d = emb.cols;
    let mut c = vec![0f64; k * d];
    let mut s = vec![0usize; k];
    for (i, l) in lab.iter().enumerate() {
        if let Some(l) = *l {
            s[l] += 1;
            for (a, &x) in c[l * d..(l + 1) * d].iter_mut().zip(emb.row(i)) {
                *a += x as f64;
            }
        }
    }
    for l in 0..k {
        if s[l] > 0 {
            c[l * d..(l + 1) * d]
                .iter_mut()
                .for_each(|a| *a /= s[l] as f64);
        }
    }
    (c, s)
}

/// Index of the nearest centroid (squared Euclidean) among those `ok` accepts;
/// ties go to the lowest index.
fn nearest(x: &[f32], cent: &[f64], d: usize, ok: impl Fn(usize) -> bool) -> usize {
    let xf: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    nearest_f64(&xf, cent, d, ok)
}

fn nearest_f64(x: &[f64], cent: &[f64], d: usize, ok: impl Fn(usize) -> bool) -> usize {
    let mut best = (f64::INFINITY, 0);
    for c in 0..cent.len() / d {
        if !ok(c) {
            continue;
        }
        let dist: f64 = cent[c * d..(c + 1) * d]
            .iter()
            .zip(x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        if dist < best.0 {
            best = (dist, c);
        }
    }
    best.1
}

/// Squared Euclidean distance between two f32 rows, accumulated in f64.
pub(crate) fn sqdist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let t = x as f64 - y as f64;
            t * t
        })
        .sum()
}

/// Refuses an O(N²) method above its documented cell limit.
pub(crate) fn check_quadratic(method: Method, n: usize, limit: usize, what: &str) -> Result<()> {
    if n > limit {
        return Err(Error::Resources(format!(
            "{method} is an O(N²) method ({what}) and is limited to {limit} cells; \
             this run has {n} cells. Use Leiden (the default), LouvainK or KMeans instead"
        )));
    }
    Ok(())
}

/// Human-readable byte count for limit messages.
pub(crate) fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
}
