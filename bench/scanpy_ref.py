#!/usr/bin/env python3
"""scanpy reference clustering for bench/quality.sh (a reference only, never a
dependency of scgnn).

Usage: scanpy_ref.py COUNTS.csv[.gz] LABELS.csv NAME
Prints one JSON object on stdout: ARI/NMI/cluster count at Leiden resolution 0.8
and 0.5, the best of the two, the resolution scGNN's rule picks (0.8 below 2000
cells, else 0.5), wall seconds with and without reading the CSV, and versions.
Imports and a warm-up run on a small synthetic matrix (numba JIT) are not timed.

Recipe: normalize_total, log1p, highly_variable_genes(n_top_genes=2000, subset),
scale(max_value=10), pca(n_comps=50, random_state=0),
neighbors(n_neighbors=15, random_state=0),
leiden(resolution, flavor="igraph", n_iterations=2, directed=False, random_state=0).
"""
import json
import sys
import time
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
import scanpy as sc
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

RESOLUTIONS = (0.8, 0.5)


def recipe(adata):
    """The timed steps; returns {resolution: cluster labels} and the PC count."""
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.highly_variable_genes(adata, n_top_genes=2000, subset=True)
    sc.pp.scale(adata, max_value=10)
    n_comps = min(50, adata.n_obs - 1, adata.n_vars - 1)
    sc.tl.pca(adata, n_comps=n_comps, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=15, random_state=0)
    clusters = {}
    for res in RESOLUTIONS:
        key = f"leiden_{res}"
        sc.tl.leiden(adata, resolution=res, key_added=key, flavor="igraph",
                     n_iterations=2, directed=False, random_state=0)
        clusters[res] = adata.obs[key].astype(str).to_numpy()
    return clusters, n_comps


def warm_up():
    """Run the recipe once on a small synthetic matrix so that numba's one-off JIT
    compilation (about 8 s, mostly in neighbors) is not charged to the first set."""
    rng = np.random.default_rng(0)
    x = rng.negative_binomial(2, 0.3, size=(200, 2500)).astype(np.float32)
    recipe(sc.AnnData(X=x))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: scanpy_ref.py COUNTS.csv[.gz] LABELS.csv NAME")
    counts_path, labels_path, name = sys.argv[1:]
    sc.settings.verbosity = 0
    warnings.filterwarnings("ignore", category=FutureWarning)

    tw = time.perf_counter()
    warm_up()
    t0 = time.perf_counter()
    # genes x cells, first column the gene names; read as float32, then transpose
    header = pd.read_csv(counts_path, nrows=0).columns
    dtypes = {c: np.float32 for c in header[1:]}
    df = pd.read_csv(counts_path, index_col=0, dtype=dtypes)
    adata = sc.AnnData(X=np.ascontiguousarray(df.to_numpy(dtype=np.float32).T))
    adata.obs_names = df.columns.astype(str)
    adata.var_names = df.index.astype(str)
    adata.var_names_make_unique()
    del df
    t1 = time.perf_counter()

    clusters, n_comps = recipe(adata)
    t2 = time.perf_counter()

    labels = pd.read_csv(labels_path, index_col=0).iloc[:, 0].astype(str)
    labelled = adata.obs_names.isin(labels.index)
    if not labelled.all():
        print(f"{name}: {int((~labelled).sum())} cells without a label are left out of ARI/NMI",
              file=sys.stderr)
    truth = labels.reindex(adata.obs_names[labelled]).to_numpy()

    out = {"set": name, "n_cells": int(adata.n_obs), "n_hvg": int(adata.n_vars),
           "n_comps": int(n_comps), "results": {}}
    for res in RESOLUTIONS:
        pred = clusters[res][labelled]
        out["results"][str(res)] = {
            "ari": float(adjusted_rand_score(truth, pred)),
            "nmi": float(normalized_mutual_info_score(truth, pred)),
            "n_clusters": int(len(set(clusters[res]))),
        }
    best = max(RESOLUTIONS, key=lambda r: out["results"][str(r)]["ari"])
    rule = 0.8 if adata.n_obs < 2000 else 0.5
    out.update({
        "best_resolution": best, "best_ari": out["results"][str(best)]["ari"],
        "rule_resolution": rule, "rule_ari": out["results"][str(rule)]["ari"],
        "seconds_total": t2 - t0, "seconds_read": t1 - t0, "seconds_recipe": t2 - t1,
        "seconds_warmup": t0 - tw,
        "versions": {p: version(p) for p in ("scanpy", "anndata", "leidenalg", "igraph",
                                             "scikit-learn", "numpy")},
        "leiden": 'flavor="igraph", n_iterations=2, directed=False, random_state=0',
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
