//! Writes a finished [`Dataset`] into its output folder: scGNN's four files
//! (spec §10), the `.h5ad`, the JSON report, and optionally the figures and the
//! HTML report. Figures or a report left by an earlier run under the same name
//! that this run does not redraw are removed, so the folder never mixes runs.

use super::dataset::Dataset;
use super::progress::{self, Progress};
use crate::error::{Error, Result};
use crate::io::{h5ad, outputs};
use crate::plot::{self, PlotParams};
use std::path::Path;
use std::time::Instant;

/// The report as JSON text (f32 parameters printed in their shortest form).
pub fn report_json(ds: &Dataset) -> Result<String> {
    serde_json::to_string_pretty(&ds.report).map_err(|e| Error::Numeric(e.to_string()))
}

/// Writes every output of `ds` into `dir`. The imputed matrix is handed to the
/// h5ad writer, which releases it while encoding (the output stage's memory
/// peak), so `ds.imputed` is `None` afterwards.
pub fn write_run(
    dir: &Path,
    ds: &mut Dataset,
    plots: Option<&PlotParams>,
    progress: &dyn Progress,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::io::atomic::remove_stale_partials(dir, &ds.name)?;
    progress::step(progress, "writing", || write_data(dir, ds))?;
    match plots {
        Some(pp) => {
            let t = Instant::now();
            let figs = progress::step(progress, "figures", || plot::plot_run(dir, ds, pp))?;
            let html = plot::write_html_report(dir, ds, &figs)?;
            plot::remove_stale_figures(dir, &ds.name, Some(&figs))?;
            tracing::info!(
                "figures and {} written in {:.1} s",
                html.display(),
                t.elapsed().as_secs_f64()
            );
        }
        None => plot::remove_stale_figures(dir, &ds.name, None)?,
    }
    Ok(())
}

fn write_data(dir: &Path, ds: &mut Dataset) -> Result<()> {
    let f = |suffix: &str| dir.join(format!("{}{suffix}", ds.name));
    let missing =
        |what: &str| Error::Usage(format!("cannot write {what}: the run has not produced it"));
    let imputed = ds
        .imputed
        .take()
        .ok_or_else(|| missing("the imputed matrix"))?;
    let embedding = ds
        .embedding
        .as_ref()
        .ok_or_else(|| missing("the embedding"))?;
    let graph = ds.graph.as_ref().ok_or_else(|| missing("the cell graph"))?;
    let clusters = ds
        .clusters
        .as_deref()
        .ok_or_else(|| missing("the clusters"))?;
    let (genes, cells) = (&ds.genes, &ds.cells);
    outputs::write_recon(&f("_recon.csv"), genes, cells, &imputed)?;
    outputs::write_embedding(&f("_embedding.csv"), cells, embedding)?;
    outputs::write_graph(&f("_graph.csv"), graph.edge_list().into_iter())?;
    outputs::write_results(&f("_results.txt"), cells, clusters)?;
    let json = report_json(ds)?;
    let pruned = graph.pruned_graph();
    let mut h5 = h5ad::H5adOutput::new(h5ad::XData::DenseOwned(imputed), cells, genes);
    h5.counts_layer = ds.counts.as_ref();
    h5.obs_cluster = Some(clusters);
    h5.obsm.push(("X_scgnn", embedding));
    h5.obsp.push(("scgnn_graph", &pruned));
    h5.uns_json = Some(json.clone());
    // The input's annotations, except where a name is one of ours.
    h5.obs_columns = ds
        .obs_columns
        .iter()
        .filter(|(k, _)| k != "cluster")
        .map(|(k, c)| (k.as_str(), c))
        .collect();
    h5.var_columns = ds
        .var_columns
        .iter()
        .map(|(k, c)| (k.as_str(), c))
        .collect();
    h5ad::write_h5ad(&f(".h5ad"), h5)?;
    outputs::write_text(&f("_report.json"), |w| w.write_all(json.as_bytes()))?;
    Ok(())
}
