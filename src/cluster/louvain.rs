//! Louvain and Leiden community detection on the sparse cell graph (spec §6.1,
//! §6.3) with leiden-rs, modularity quality.

use crate::error::{Error, Result};
use crate::matrix::Csr;
use leiden_rs::{GraphDataBuilder, Leiden, LeidenConfig, Partition, QualityType};

/// Communities of the (symmetrised) graph and their number. `refine = false`
/// gives Louvain (leiden-rs without the refinement phase), `true` gives Leiden.
/// Edge (i, j) is taken from either stored direction; self-loops are ignored;
/// isolated vertices end up as singleton communities and are counted.
/// `init` warm-starts from a previous labeling (one label per vertex): nodes
/// move only where that improves the quality, so a labeling that still fits the
/// graph is kept, which is what lets the EM loop settle.
pub(crate) fn communities(
    graph: &Csr<f32>,
    gamma: f64,
    refine: bool,
    seed: u64,
    init: Option<&[usize]>,
) -> Result<(Vec<usize>, usize)> {
    let n = graph.rows;
    let mut edges: Vec<(u32, u32, f32)> = Vec::with_capacity(graph.nnz());
    for i in 0..n {
        let (ci, cv) = graph.row(i);
        for (&j, &w) in ci.iter().zip(cv) {
            if j as usize != i && w != 0.0 {
                if !(w.is_finite() && w > 0.0) {
                    return Err(Error::Numeric(format!(
                        "cell graph edge ({i}, {j}) has weight {w}; weights must be positive"
                    )));
                }
                let (a, b) = if (i as u32) < j {
                    (i as u32, j)
                } else {
                    (j, i as u32)
                };
                edges.push((a, b, w));
            }
        }
    }
    edges.sort_unstable_by_key(|e| (e.0, e.1));
    edges.dedup_by_key(|e| (e.0, e.1));
    let mut b = GraphDataBuilder::new(n);
    for &(a, c, w) in &edges {
        b.add_edge(a as usize, c as usize, w as f64)
            .map_err(|e| Error::Numeric(format!("building the Louvain graph: {e}")))?;
    }
    let g = b
        .build()
        .map_err(|e| Error::Numeric(format!("building the Louvain graph: {e}")))?;
    let cfg = LeidenConfig {
        seed: Some(seed),
        quality: QualityType::Modularity,
        resolution: gamma,
        skip_refinement: !refine,
        ..LeidenConfig::default()
    };
    let leiden = Leiden::new(cfg);
    let out = match init {
        Some(l) if l.len() == n => {
            leiden.run_with_initial_partition(&g, Partition::from_membership(l.to_vec()))
        }
        _ => leiden.run(&g),
    }
    .map_err(|e| Error::Numeric(format!("Louvain/Leiden failed: {e}")))?;
    let mut labels = out.partition.as_slice().to_vec();
    let k = super::relabel(&mut labels);
    Ok((labels, k))
}
