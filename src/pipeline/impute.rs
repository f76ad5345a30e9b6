//! The imputation autoencoder (spec §9): restarts from the feature autoencoder's
//! initial weights (or its own, with `impute_ae`) and trains on the first phase's
//! reconstruction (scGNN) or on the observed matrix (`impute_on_observed`), with the
//! graph/cell-type regularizer as the exact per-cell weighted error of spec §9.2
//! (O(cells), no N × N matrices).

use super::params::{GraphUse, ImputeRegularizer, RunParams};
use super::phase1::Phase1;
use super::report::Phase;
use super::trainer::Trainer;
use crate::error::Result;
use crate::graph::{self, CellGraph};
use crate::ltmg::Ltmg;
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::AeLoss;
use crate::nn::{Penalty, WeightedSse};
use rayon::prelude::*;

/// What the imputation reads from the rest of the run.
pub struct ImputeInput<'a> {
    /// The working matrix (cells × genes).
    pub x: &'a Csr<f32>,
    /// The final cell graph.
    pub graph: &'a CellGraph,
    /// The final cluster labels.
    pub labels: &'a [usize],
    /// LTMG states, if computed.
    pub ltmg: Option<&'a Ltmg>,
}

/// Trains the imputation autoencoder and returns the imputed matrix (cells ×
/// genes, on the working scale), with `--postThreshold` zeroing applied.
pub fn impute(
    input: &ImputeInput,
    models: Phase1,
    p: &RunParams,
    trainer: &Trainer,
    phases: &mut Vec<Phase>,
) -> Result<Dense> {
    let adj = input.graph.adjacency(p.graph_use == GraphUse::Pruned);
    let weights = impute_weights(&adj, input.labels, p);
    let binary_ltmg = match (p.impute_regularizer, input.ltmg) {
        (ImputeRegularizer::CelltypeR, Some(l)) => Some(l.binarized()),
        _ => None,
    };
    let loss = AeLoss {
        sse: WeightedSse {
            gamma: p.gamma_impute,
            alpha: if binary_ltmg.is_some() {
                1.0 - p.gamma_impute
            } else {
                0.0
            },
            entry: binary_ltmg.as_ref(),
            row: weights.as_deref(),
        },
        penalty: Penalty { l1: p.l1, l2: p.l2 },
    };
    let Phase1 {
        ae,
        initial,
        trained,
    } = models;
    drop(ae);
    let mut recon = input.x.to_dense();
    if let Some(t) = trained {
        t.reconstruct_in_place(&mut recon)?;
    }
    let mut imp = initial;
    phases.push(trainer.phase(
        "impute_ae",
        &mut imp,
        &recon,
        &loss,
        p.impute_epochs(recon.rows),
    )?);
    imp.reconstruct_in_place(&mut recon)?;
    if let Some(th) = p.zero_below {
        recon.data.par_iter_mut().for_each(|v| {
            if *v < th {
                *v = 0.0
            }
        });
    }
    Ok(recon)
}

/// Per-cell weights of the imputation regularizer (spec §9.2): scGNN's
/// Σ(A_b·E) + Σ(C_b·E) equals Σ_k w_k‖x̂_k − x_k‖² with
/// w_k = graph·deg(k) + celltype·|cluster(k)|. scGNN counts both inside k's
/// minibatch because it slices dense N × N matrices per batch; with its default batch
/// (12 800 cells, one batch) that is the whole data set, which is what we use for
/// any batch size, so the regularizer does not change with the batch size.
fn impute_weights(adj: &Csr<f32>, labels: &[usize], p: &RunParams) -> Option<Vec<f32>> {
    let (use_graph, use_type) = match p.impute_regularizer {
        ImputeRegularizer::Celltype | ImputeRegularizer::CelltypeR => (true, true),
        ImputeRegularizer::Graph => (true, false),
        ImputeRegularizer::NoRegu => return None,
    };
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    let degrees = graph::degrees(adj);
    Some(
        labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let g = if use_graph {
                    p.graph_impute * degrees[i]
                } else {
                    0.0
                };
                let c = if use_type {
                    p.celltype_impute * sizes[l] as f32
                } else {
                    0.0
                };
                g + c
            })
            .collect(),
    )
}
