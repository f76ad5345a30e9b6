//! The imputation stage (spec §9). By default the neighbourhood imputation of
//! [`crate::impute`] on the counts and the final cell graph; with
//! `--impute-method scgnn` scGNN's imputation autoencoder, which restarts from the
//! feature autoencoder's initial weights (or its own, with `impute_ae`) and trains
//! on the first phase's reconstruction (scGNN) or on the observed matrix
//! (`impute_on_observed`), with the graph/cell-type regularizer as the exact
//! per-cell weighted error of spec §9.2 (O(cells), no N × N matrices).

use super::dataset::CountScale;
use super::params::{GraphUse, ImputeMethod, ImputeRegularizer, RunParams};
use super::phase1::Phase1;
use super::report::Phase;
use super::seeds;
use super::trainer::Trainer;
use crate::error::{Error, Result};
use crate::graph::{self, CellGraph};
use crate::impute::{self as neighbourhood, ImputeReport};
use crate::ltmg::Ltmg;
use crate::matrix::{Csr, Dense};
use crate::models::autoencoder::AeLoss;
use crate::nn::{Penalty, WeightedSse};
use rayon::prelude::*;
use std::time::Instant;

/// What the imputation reads from the rest of the run.
pub struct ImputeInput<'a> {
    /// The working matrix (cells × genes); only scGNN's imputation reads it, so
    /// the neighbourhood imputation runs without it in memory.
    pub x: Option<&'a Csr<f32>>,
    /// The raw values of the same cells and genes.
    pub counts: &'a Csr<f32>,
    /// How the working matrix relates to them.
    pub scale: &'a CountScale,
    /// The final cell graph.
    pub graph: &'a CellGraph,
    /// The final cluster labels.
    pub labels: &'a [usize],
    /// LTMG states, if computed.
    pub ltmg: Option<&'a Ltmg>,
    /// The gene factors `x` was multiplied by (`--gene-scale`), undone on the
    /// autoencoder's output.
    pub gene_factors: Option<&'a [f32]>,
}

/// The imputed matrix (cells × genes, on the working scale, with `--postThreshold`
/// zeroing applied) and, for the neighbourhood method, what it chose.
pub fn impute(
    input: &ImputeInput,
    models: Phase1,
    p: &RunParams,
    trainer: &Trainer,
    phases: &mut Vec<Phase>,
) -> Result<(Dense, Option<ImputeReport>)> {
    let (mut imputed, report) = match p.impute_method {
        ImputeMethod::Neighbourhood => {
            drop(models);
            let (m, r) = by_neighbourhood(input, p, phases)?;
            (m, Some(r))
        }
        ImputeMethod::Scgnn => (autoencoder(input, models, p, trainer, phases)?, None),
    };
    if let Some(th) = p.zero_below {
        imputed.data.par_iter_mut().for_each(|v| {
            if *v < th {
                *v = 0.0
            }
        });
    }
    Ok((imputed, report))
}

fn by_neighbourhood(
    input: &ImputeInput,
    p: &RunParams,
    phases: &mut Vec<Phase>,
) -> Result<(Dense, ImputeReport)> {
    let t = Instant::now();
    let adj = input.graph.adjacency(p.graph_use == GraphUse::Pruned);
    let out = neighbourhood::neighbourhood(
        input.counts,
        &input.scale.size_factors,
        &adj,
        &p.neighbourhood,
        seeds::impute(p),
    )?;
    let mut m = out.values;
    input.scale.from_log_counts(&mut m);
    let secs = t.elapsed().as_secs_f64();
    let r = &out.report;
    if r.counts_input {
        tracing::info!(
            "impute: {} random-walk steps (held-out error {}) in {secs:.2} s",
            r.steps,
            r.held_out_mse
                .iter()
                .map(|(c, e)| format!("{c} {e:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        tracing::info!("impute: the input is not integer counts, so one diffusion step of ln(1 + x) was used ({secs:.2} s)");
    }
    phases.push(Phase::new("impute", secs, 0, vec![]));
    Ok((m, out.report))
}

fn autoencoder(
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
    let mut imp = initial.ok_or_else(|| {
        Error::Usage("the imputation autoencoder was not prepared by the first phase".into())
    })?;
    let x = input.x.ok_or_else(|| {
        Error::Usage("the imputation autoencoder needs the working matrix".into())
    })?;
    let mut recon = x.to_dense();
    if let Some(t) = trained {
        t.reconstruct_in_place(&mut recon)?;
    }
    phases.push(trainer.phase(
        "impute_ae",
        &mut imp,
        &recon,
        &loss,
        p.impute_epochs(recon.rows),
    )?);
    imp.reconstruct_in_place(&mut recon)?;
    if let Some(f) = input.gene_factors {
        super::gene_scale::undo(&mut recon, f);
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
