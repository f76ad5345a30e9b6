//! Negative-binomial simulator with known clusters, for the demo, tests and scale
//! benchmarks.
//!
//! Model, per gene g and cell c of cluster k:
//! - base mean μ_g ~ LogNormal(−1.5, 1.5), so most genes are lowly expressed;
//! - each cluster has its own program: `de_fraction` of the genes are up-regulated
//!   by exp(U(0.5, 2.0)) and half as many down-regulated by the same law;
//! - library size factor s_c ~ LogNormal(0, `lib_sd`), normalised to mean 1;
//! - count ~ NB(mean s_c·μ_g·fc_kg, dispersion φ) drawn as Poisson(Gamma(1/φ, φ·mean));
//! - technical dropout with probability 1/(1 + exp(2·(ln mean − ln 0.3))) for lowly
//!   expressed entries.
//!
//! Every gene draws from its own random stream, so genes can be produced in any
//! order and in parallel and the output is identical for a seed whatever the thread
//! count. Text outputs are written gene by gene (genes × cells), holding only a few
//! gene rows at a time, so a million cells never need a dense matrix.

use crate::error::{Error, Result};
use crate::io::csv::sparse_line;
use crate::io::outputs::write_text;
use crate::matrix::{Csr, ExprMatrix};
use crate::rng::{stream, substream};
use rand::Rng as _;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// Simulation parameters.
#[derive(Clone, Debug)]
pub struct SimParams {
    /// Number of cells.
    pub cells: usize,
    /// Number of genes.
    pub genes: usize,
    /// Number of clusters (cell types).
    pub clusters: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Fraction of genes up-regulated in each cluster's program.
    pub de_fraction: f64,
    /// Negative-binomial dispersion φ (variance = mean + φ·mean²).
    pub dispersion: f64,
    /// Standard deviation of the log library size.
    pub lib_sd: f64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            cells: 1000,
            genes: 2000,
            clusters: 5,
            seed: 0,
            de_fraction: 0.04,
            dispersion: 0.4,
            lib_sd: 0.4,
        }
    }
}

impl SimParams {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.cells < 2 || self.genes < 2 {
            return Err(Error::Usage(
                "simulate needs at least 2 cells and 2 genes".into(),
            ));
        }
        if self.clusters == 0 || self.clusters > self.cells {
            return Err(Error::Usage(format!(
                "--clusters must be between 1 and the number of cells ({})",
                self.cells
            )));
        }
        if self.cells > u32::MAX as usize || self.genes > u32::MAX as usize {
            return Err(Error::Usage("at most 4 294 967 295 cells and genes".into()));
        }
        if !(0.0..=0.5).contains(&self.de_fraction) || self.dispersion <= 0.0 || self.lib_sd < 0.0 {
            return Err(Error::Usage(
                "de_fraction must be in [0, 0.5], dispersion > 0, lib_sd ≥ 0".into(),
            ));
        }
        Ok(())
    }
}

/// The per-cell and per-gene quantities shared by all genes: O(cells + clusters × genes).
pub struct SimDesign {
    params: SimParams,
    /// Cluster of every cell.
    pub cluster: Vec<u32>,
    size_factor: Vec<f32>,
    gene_mean: Vec<f32>,
    /// Fold change, clusters × genes.
    fold: Vec<f32>,
}

impl SimDesign {
    /// Draws the design from the seed.
    pub fn new(p: &SimParams) -> Result<SimDesign> {
        p.validate()?;
        let mut rng = stream(p.seed, "simulate-design");
        // Uneven cluster proportions, as in real tissues.
        let w: Vec<f64> = (0..p.clusters)
            .map(|_| LogNormal::new(0.0, 0.5).unwrap().sample(&mut rng))
            .collect();
        let total: f64 = w.iter().sum();
        let mut cum = Vec::with_capacity(p.clusters);
        let mut acc = 0.0;
        for x in &w {
            acc += x / total;
            cum.push(acc);
        }
        // Every cluster gets at least one cell; the rest by the proportions.
        let mut cluster: Vec<u32> = (0..p.cells)
            .map(|i| {
                if i < p.clusters {
                    i as u32
                } else {
                    let u: f64 = rng.random();
                    cum.iter().position(|&c| u < c).unwrap_or(p.clusters - 1) as u32
                }
            })
            .collect();
        // Shuffle so that cluster order carries no information.
        for i in (1..cluster.len()).rev() {
            let j = rng.random_range(0..=i);
            cluster.swap(i, j);
        }
        let lib = LogNormal::new(0.0, p.lib_sd).unwrap();
        let mut size_factor: Vec<f32> = (0..p.cells).map(|_| lib.sample(&mut rng) as f32).collect();
        let mean_sf = size_factor.iter().map(|&x| x as f64).sum::<f64>() / p.cells as f64;
        size_factor.iter_mut().for_each(|x| *x /= mean_sf as f32);
        let base = LogNormal::new(-1.5, 1.5).unwrap();
        let gene_mean: Vec<f32> = (0..p.genes)
            .map(|_| (base.sample(&mut rng) as f32).min(1e4))
            .collect();
        let mut fold = vec![1f32; p.clusters * p.genes];
        let n_up = ((p.de_fraction * p.genes as f64).round() as usize).max(1);
        let n_down = n_up / 2;
        for k in 0..p.clusters {
            let picks = rand::seq::index::sample(&mut rng, p.genes, (n_up + n_down).min(p.genes));
            for (t, g) in picks.iter().enumerate() {
                let lfc: f64 = rng.random_range(0.5..2.0);
                fold[k * p.genes + g] = if t < n_up { lfc.exp() } else { (-lfc).exp() } as f32;
            }
        }
        Ok(SimDesign {
            params: p.clone(),
            cluster,
            size_factor,
            gene_mean,
            fold,
        })
    }

    /// Cell ids `cell_<i>`.
    pub fn cell_ids(&self) -> Vec<String> {
        (0..self.params.cells)
            .map(|i| format!("cell_{i}"))
            .collect()
    }

    /// Gene names `gene_<j>`.
    pub fn gene_names(&self) -> Vec<String> {
        (0..self.params.genes)
            .map(|j| format!("gene_{j}"))
            .collect()
    }

    /// Cluster names of every cell (`type_<k>`).
    pub fn labels(&self) -> Vec<String> {
        self.cluster.iter().map(|k| format!("type_{k}")).collect()
    }

    /// The non-zero counts of gene `g` over all cells, as (cell, count) pairs in cell order.
    pub fn gene_counts(&self, g: usize, out: &mut Vec<(u32, u32)>) {
        out.clear();
        let p = &self.params;
        let mut rng = substream(p.seed, "simulate-gene", g as u64);
        let shape = 1.0 / p.dispersion;
        for c in 0..p.cells {
            let k = self.cluster[c] as usize;
            let mean =
                (self.size_factor[c] * self.gene_mean[g] * self.fold[k * p.genes + g]) as f64;
            let p_drop = 1.0 / (1.0 + ((mean.ln() - 0.3f64.ln()) * 2.0).exp());
            if rng.random::<f64>() < p_drop {
                continue;
            }
            let lambda = Gamma::new(shape, mean / shape).unwrap().sample(&mut rng);
            if lambda <= 0.0 || !lambda.is_finite() {
                continue;
            }
            let n = Poisson::new(lambda)
                .map(|d| d.sample(&mut rng))
                .unwrap_or(0.0);
            if n > 0.0 {
                out.push((c as u32, n.min(u32::MAX as f64) as u32));
            }
        }
    }

    /// The whole simulated matrix in memory (cells × genes, sparse) — for the demo and tests.
    pub fn matrix(&self) -> ExprMatrix {
        let p = &self.params;
        let per_gene: Vec<Vec<(u32, u32)>> = (0..p.genes)
            .into_par_iter()
            .map(|g| {
                let mut v = Vec::new();
                self.gene_counts(g, &mut v);
                v
            })
            .collect();
        let mut indptr = Vec::with_capacity(p.genes + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for v in per_gene {
            for (c, n) in v {
                indices.push(c);
                data.push(n as f32);
            }
            indptr.push(indices.len());
        }
        let gene_major = Csr {
            rows: p.genes,
            cols: p.cells,
            indptr,
            indices,
            data,
        };
        ExprMatrix {
            x: gene_major.transpose(),
            genes: self.gene_names(),
            cells: self.cell_ids(),
        }
    }

    /// Streams the genes × cells counts as CSV (canonical layout, gzip if the name ends in `.gz`).
    pub fn write_csv(&self, dest: &Path) -> Result<usize> {
        let p = &self.params;
        let cells = self.cell_ids();
        let mut nnz = 0usize;
        write_text(dest, |w| {
            write!(w, "gene")?;
            for c in &cells {
                write!(w, ",{c}")?;
            }
            writeln!(w)?;
            let mut line = Vec::with_capacity(p.cells * 2 + 16);
            self.for_gene_chunks(|g0, chunk| {
                for (i, v) in chunk.iter().enumerate() {
                    nnz += v.len();
                    let name = format!("gene_{}", g0 + i);
                    sparse_line(
                        &mut line,
                        &name,
                        p.cells,
                        v.iter().map(|&(c, n)| (c, n as f32)),
                    );
                    w.write_all(&line)?;
                }
                Ok(())
            })
        })?;
        Ok(nnz)
    }

    /// Streams a 10X mtx folder. Entries are written gene by gene (valid Matrix Market;
    /// readers must not assume 10X's cell order). The entry count is only known at
    /// the end, so entries go to a temporary file first.
    pub fn write_10x_mtx(&self, dir: &Path) -> Result<usize> {
        let p = &self.params;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_text(&dir.join("features.tsv.gz"), |w| {
            (0..p.genes).try_for_each(|g| writeln!(w, "gene_{g}\tgene_{g}\tGene Expression"))
        })?;
        let cells = self.cell_ids();
        write_text(&dir.join("barcodes.tsv.gz"), |w| {
            cells.iter().try_for_each(|c| writeln!(w, "{c}"))
        })?;
        let body = dir.join(".matrix-body.tmp");
        let mut nnz = 0usize;
        {
            let f = std::fs::File::create(&body).map_err(|e| Error::io(&body, e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            self.for_gene_chunks(|g0, chunk| {
                for (i, v) in chunk.iter().enumerate() {
                    nnz += v.len();
                    for &(c, n) in v {
                        writeln!(w, "{} {} {}", g0 + i + 1, c + 1, n)?;
                    }
                }
                Ok(())
            })
            .map_err(|e| Error::io(&body, e))?;
            w.flush().map_err(|e| Error::io(&body, e))?;
        }
        let res = write_text(&dir.join("matrix.mtx.gz"), |w| {
            writeln!(w, "%%MatrixMarket matrix coordinate integer general")?;
            writeln!(w, "{} {} {}", p.genes, p.cells, nnz)?;
            let mut f = std::fs::File::open(&body)?;
            std::io::copy(&mut f, w)?;
            Ok(())
        });
        let _ = std::fs::remove_file(&body);
        res.map(|_| nnz)
    }

    /// Generates genes in parallel chunks and hands them, in gene order, to `sink`.
    fn for_gene_chunks(
        &self,
        mut sink: impl FnMut(usize, &[Vec<(u32, u32)>]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let p = &self.params;
        // About 4 M entries per chunk bounds memory whatever the cell count.
        let chunk = (4_000_000 / p.cells)
            .clamp(1, 256)
            .max(rayon::current_num_threads());
        let mut g0 = 0;
        while g0 < p.genes {
            let g1 = (g0 + chunk).min(p.genes);
            let rows: Vec<Vec<(u32, u32)>> = (g0..g1)
                .into_par_iter()
                .map(|g| {
                    let mut v = Vec::new();
                    self.gene_counts(g, &mut v);
                    v
                })
                .collect();
            sink(g0, &rows)?;
            g0 = g1;
        }
        Ok(())
    }
}

/// Simulates in memory: the counts and the true cluster of every cell.
pub fn simulate(p: &SimParams) -> Result<(ExprMatrix, Vec<usize>)> {
    let d = SimDesign::new(p)?;
    let m = d.matrix();
    Ok((m, d.cluster.iter().map(|&k| k as usize).collect()))
}

/// Fraction of non-zero entries, for reports.
pub fn density(m: &Csr<f32>) -> f64 {
    m.nnz() as f64 / (m.rows as f64 * m.cols as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let p = SimParams {
            cells: 300,
            genes: 200,
            clusters: 3,
            seed: 7,
            ..Default::default()
        };
        let (a, la) = simulate(&p).unwrap();
        let (b, lb) = simulate(&p).unwrap();
        assert_eq!(a, b);
        assert_eq!(la, lb);
        let d = density(&a.x);
        assert!(d > 0.05 && d < 0.6, "density {d}");
        assert_eq!((0..3).filter(|k| la.contains(k)).count(), 3);
        let (c, _) = simulate(&SimParams { seed: 8, ..p }).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn same_output_on_one_and_two_threads() {
        let p = SimParams {
            cells: 200,
            genes: 100,
            clusters: 4,
            seed: 1,
            ..Default::default()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| simulate(&p).unwrap());
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| simulate(&p).unwrap());
        assert_eq!(one, two);
    }
}
