"""scGNN in Rust, for AnnData.

>>> import scanpy as sc, scgnn_rs
>>> adata = sc.read_h5ad("pbmc.h5ad")
>>> scgnn_rs.run(adata, layer="counts", quick=True, seed=1)
>>> sc.tl.umap(adata); sc.pl.umap(adata, color="scgnn_cluster")

``run`` is the same job as ``scgnn run`` (preprocessing, feature autoencoder,
cell graph, clustering, EM iterations, imputation) through the same library
entry point: every ``scgnn run`` option is a keyword argument under its long
name in snake_case (``regu_epochs=50``, ``clustering_method="Leiden"``,
``k=15``), validated by the same code, and the same seed and thread count give
the same results as the command line.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _scgnn_rs

__all__ = ["run", "read", "evaluate", "benchmark_dropout", "benchmark_mcv"]
__version__ = _scgnn_rs.__version__

#: Options of ``run`` that are not ``scgnn run`` options.
_OWN = {"layer", "use_raw", "quick", "paper", "seed", "threads", "copy", "progress", "neighbors_key"}
#: ``scgnn run`` options that name files; they make no sense for an AnnData.
_FILE_OPTIONS = {"input", "demo", "dataset_dir", "output_dir", "labels", "no_plot", "format"}


def _matrix(adata, layer: Optional[str], use_raw: bool):
    """The matrix to analyse and its gene names."""
    if use_raw and layer is not None:
        raise ValueError("give layer= or use_raw=True, not both")
    if use_raw:
        if adata.raw is None:
            raise ValueError("use_raw=True but adata.raw is empty; give layer= or store the counts in .raw")
        return adata.raw.X, list(adata.raw.var_names)
    if layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"no layer '{layer}'; the layers are: {', '.join(adata.layers.keys()) or 'none'}")
        return adata.layers[layer], list(adata.var_names)
    return adata.X, list(adata.var_names)


def _csr_parts(x):
    """CSR parts (int64 indptr and indices, float32 data, sorted indices) of
    any matrix, copying only where the layout or dtype differs."""
    if sp.issparse(x):
        m = x.tocsr() if x.format != "csr" else x
        if m.dtype != np.float32:
            m = m.astype(np.float32)
        if not m.has_sorted_indices:
            m = m.copy()
            m.sort_indices()
    else:
        m = sp.csr_matrix(np.asarray(x, dtype=np.float32))
    return (
        np.ascontiguousarray(m.indptr, dtype=np.int64),
        np.ascontiguousarray(m.indices, dtype=np.int64),
        np.ascontiguousarray(m.data, dtype=np.float32),
        m.shape,
    )


def _flags(params: dict) -> list:
    """``scgnn run`` command-line tokens of keyword arguments."""
    args = ["--input", "<AnnData>"]
    for key, value in params.items():
        if key in _FILE_OPTIONS:
            raise ValueError(f"{key}= names a file option of the command line; run() takes the data from the AnnData")
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        else:
            args += [flag, str(value)]
    return args


class _Bars:
    """tqdm bars for the run's steps, when tqdm is installed."""

    def __init__(self, enabled: bool):
        self.bars = {}
        self.tqdm = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.tqdm = tqdm
            except ImportError:
                pass

    def __call__(self, kind: str, step: str, count, loss) -> None:
        if self.tqdm is None:
            return
        if kind == "start":
            self.bars[step] = self.tqdm(total=count, desc=step, leave=False)
        elif kind == "advance" and step in self.bars:
            bar = self.bars[step]
            bar.update(count - bar.n)
            if loss is not None:
                bar.set_postfix(loss=f"{loss:.4e}", refresh=False)
        elif kind == "finish" and step in self.bars:
            self.bars.pop(step).close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run(
    adata,
    *,
    layer: Optional[str] = None,
    use_raw: bool = False,
    quick: bool = False,
    paper: bool = False,
    seed: int = 1,
    threads: Optional[int] = None,
    copy: bool = False,
    progress: bool = True,
    neighbors_key: str = "neighbors",
    **params: Any,
):
    """Runs scGNN on ``adata`` (raw counts, cells × genes) and stores the results.

    Parameters
    ----------
    adata
        An AnnData. Its counts are read from ``layer``, ``.raw`` (``use_raw``) or ``X``.
    quick, paper
        ``scgnn run --quickmode`` (no cluster autoencoders) and ``--paper``.
    seed, threads
        The run's seed, and worker threads (default: all cores). The same seed and
        thread count give the same results as the command line.
    copy
        Work on a copy and return it; otherwise ``adata`` is changed and ``None`` returned.
    progress
        Show tqdm bars (when tqdm is installed).
    neighbors_key
        Where the cell graph goes, as ``sc.pp.neighbors(key_added=...)`` would put it.
    **params
        Any ``scgnn run`` option by its long name in snake_case, e.g. ``regu_epochs=50``.

    Results
    -------
    Preprocessing keeps a subset of the cells (and of the genes): ``adata`` is
    restricted to the kept cells, as ``sc.pp.filter_cells`` does.

    - ``obs["scgnn_cluster"]``: the clusters (categorical).
    - ``obsm["X_scgnn"]``: the clustering embedding.
    - ``obsp["connectivities"]``, ``obsp["distances"]``, ``uns["neighbors"]`` (for
      ``neighbors_key="neighbors"``, else ``obsp[key + "_connectivities"]`` …): the
      pruned cell graph, so ``sc.tl.umap`` and ``sc.tl.leiden`` use it directly.
    - ``obsm["scgnn_imputed"]``: a DataFrame of the imputed values, cells × the kept
      genes (the columns), on the ln(1 + x) scale of depth-normalised counts;
      ``var["scgnn_kept"]`` marks those genes.
    - ``uns["scgnn"]``: seed, clusters, convergence; ``uns["scgnn_report"]``: the
      whole run report as JSON text.

    Raises ``ValueError`` for bad parameters or data, ``MemoryError`` when the run
    would not fit, ``KeyboardInterrupt`` when interrupted (Ctrl-C stops it within a second
    or one epoch).
    """
    if copy:
        adata = adata.copy()
    x, genes = _matrix(adata, layer, use_raw)
    indptr, indices, data, shape = _csr_parts(x)
    bars = _Bars(progress)
    try:
        res = _scgnn_rs.run(
            indptr, indices, data, shape, [str(c) for c in adata.obs_names], [str(g) for g in genes],
            _options(params, quick, paper), seed, threads, bars, "AnnData",
        )
    finally:
        bars.close()
    _store(adata, res, genes, seed, neighbors_key)
    return adata if copy else None


def _store(adata, res: dict, genes: list, seed: int, neighbors_key: str) -> None:
    """Writes a run's results into ``adata`` (see ``run``)."""
    kept = res["kept_cells"]
    if len(kept) < adata.n_obs:
        adata._inplace_subset_obs(adata.obs_names[kept])
    n = adata.n_obs
    clusters = res["clusters"]
    k = int(clusters.max()) + 1 if len(clusters) else 0
    adata.obs["scgnn_cluster"] = pd.Categorical([str(c) for c in clusters], categories=[str(c) for c in range(k)])
    adata.obsm["X_scgnn"] = res["embedding"]
    conn = sp.csr_matrix((res["graph_data"], res["graph_indices"], res["graph_indptr"]), shape=(n, n))
    kk = res["k"]
    rows = np.repeat(np.arange(n), kk)
    kept_edges = res["knn_kept"] != 0
    dist = sp.csr_matrix(
        (res["knn_distances"][kept_edges], (rows[kept_edges], res["knn_neighbors"][kept_edges])), shape=(n, n)
    )
    ckey = "connectivities" if neighbors_key == "neighbors" else f"{neighbors_key}_connectivities"
    dkey = "distances" if neighbors_key == "neighbors" else f"{neighbors_key}_distances"
    adata.obsp[ckey] = conn
    adata.obsp[dkey] = dist
    adata.uns[neighbors_key] = {
        "connectivities_key": ckey,
        "distances_key": dkey,
        "params": {"n_neighbors": int(kk), "method": "scgnn", "use_rep": "X_scgnn", "random_state": int(seed)},
    }
    kept_genes = [genes[i] for i in res["kept_genes"]]
    adata.obsm["scgnn_imputed"] = pd.DataFrame(res["imputed"], index=adata.obs_names, columns=kept_genes)
    if len(genes) == adata.n_vars:
        adata.var["scgnn_kept"] = np.isin(np.arange(adata.n_vars), res["kept_genes"])
    report = json.loads(res["report"])
    conv = report.get("convergence", {})
    adata.uns["scgnn"] = {
        "seed": int(seed),
        "n_clusters": k,
        "converged": bool(conv.get("converged", False)),
        "convergence": str(conv.get("message", "")),
        "imputed_scale": "ln(1 + x) of depth-normalised counts",
    }
    adata.uns["scgnn_report"] = res["report"]


def read(
    path,
    *,
    format: Optional[str] = None,
    cells_as_rows: bool = False,
    layer: Optional[str] = None,
    use_raw: bool = False,
    genome: Optional[str] = None,
):
    """Reads any matrix ``scgnn`` reads (CSV/TSV, optionally gzipped, genes × cells;
    10X mtx folder; 10X .h5; .h5ad) into an AnnData (cells × genes, CSR float32).
    ``layer`` / ``use_raw`` pick the counts of an .h5ad file, ``genome`` the genome of
    a multi-genome 10X .h5 file, as ``--layer``, ``--use-raw`` and ``--genome`` do."""
    import anndata

    if layer is not None and use_raw:
        raise ValueError("give layer= or use_raw=True, not both")
    r = _scgnn_rs.read(str(path), format, cells_as_rows, layer, use_raw, genome)
    x = sp.csr_matrix((r["data"], r["indices"], r["indptr"]), shape=tuple(r["shape"]))
    return anndata.AnnData(X=x, obs=pd.DataFrame(index=r["cells"]), var=pd.DataFrame(index=r["genes"]))


def evaluate(labels_pred, labels_true, embedding=None, *, seed: int = 1) -> dict:
    """ARI, NMI, AMI, homogeneity, completeness, V-measure, … of a clustering
    against reference labels (any hashable values), and silhouette,
    Calinski–Harabasz and Davies–Bouldin on ``embedding`` when given."""
    pred = pd.factorize(pd.Series(list(labels_pred)))[0].astype(np.int64)
    truth = pd.factorize(pd.Series(list(labels_true)))[0].astype(np.int64)
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predicted labels but {len(truth)} reference labels")
    emb = None if embedding is None else np.ascontiguousarray(embedding, dtype=np.float32)
    return json.loads(_scgnn_rs.evaluate(pred, truth, emb, seed))


def _options(params: dict, quick: bool, paper: bool) -> list:
    """``scgnn run`` tokens of keyword arguments plus the ``quick``/``paper`` switches."""
    params = dict(params)
    if quick:
        params["quickmode"] = True
    if paper:
        params["paper"] = True
    return _flags(params)


def _counts_call(adata, layer, use_raw, quick, paper, params):
    """The CSR parts, names and option tokens of a benchmark call."""
    x, genes = _matrix(adata, layer, use_raw)
    indptr, indices, data, shape = _csr_parts(x)
    names = ([str(c) for c in adata.obs_names], [str(g) for g in genes])
    return (indptr, indices, data, shape, *names, _options(params, quick, paper))


def benchmark_dropout(
    adata, *, layer=None, use_raw=False, quick=False, paper=False, rate=0.1, repeats=3, seed=1, threads=None, **params
):
    """``scgnn benchmark dropout``: hides ``rate`` of the non-zero counts (one mask
    per repeat), imputes them with a full run, and scores the hidden entries
    against ln(1 + count), beside leaving them at zero and the per-gene mean.
    Returns a DataFrame (rows: scgnn-rs, zero, gene-mean; columns: median L1,
    mean L1, cosine — means over the repeats — and their standard deviations)."""
    call = _counts_call(adata, layer, use_raw, quick, paper, params)
    reps = json.loads(_scgnn_rs.dropout(*call, seed, rate, repeats, threads))
    rows = {}
    for name, key in [("scgnn-rs", "ours"), ("zero", "zero"), ("gene-mean", "gene_mean")]:
        scores = [r[key] for r in reps if r.get(key)]
        frame = pd.DataFrame(scores)[["median_l1", "mean_l1", "cosine"]].astype(float)
        rows[name] = pd.concat([frame.mean().rename(lambda c: c), frame.std(ddof=0).rename(lambda c: c + "_std")])
    out = pd.DataFrame(rows).T
    out.attrs["repeats"] = reps
    return out


def benchmark_mcv(adata, *, layer=None, use_raw=False, quick=False, paper=False, p=0.5, seed=1, threads=None, **params):
    """``scgnn benchmark mcv`` (molecular cross-validation): splits the counts
    binomially into A and B, imputes from A with a full run and scores the
    prediction of B over all entries, beside the baselines ``none`` (A itself)
    and ``gene-mean``. Returns a DataFrame (rows: methods; columns: MSE on
    ln(1 + x), Poisson loss)."""
    r = json.loads(_scgnn_rs.mcv(*_counts_call(adata, layer, use_raw, quick, paper, params), seed, p, threads))
    rows = {name: r[key] for name, key in [("scgnn-rs", "ours"), ("none", "none"), ("gene-mean", "gene_mean")] if r.get(key)}
    out = pd.DataFrame(rows).T[["mse_log1p", "poisson"]]
    out.attrs["result"] = r
    return out
