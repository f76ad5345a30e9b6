"""The Python package: AnnData in, results stored under documented keys, the
command line's results for the same seed and threads, errors as Python
exceptions, KeyboardInterrupt within a second, and the readers."""

import _thread
import os
import subprocess
import threading
import time
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import scgnn_rs

ROOT = Path(__file__).resolve().parents[2]
QUICK = dict(quick=True, regu_epochs=20, em_epochs=10, em_iteration=2, progress=False, threads=2)


def counts(n_cells=150, n_genes=300, k=3, seed=0):
    """Negative-binomial-like counts with k clusters, cells × genes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_cells) % k
    base = rng.gamma(2.0, 1.0, size=n_genes)
    means = np.stack([base * rng.choice([0.2, 1.0, 5.0], size=n_genes, p=[0.2, 0.6, 0.2]) for _ in range(k)])
    lam = rng.gamma(5.0, means[labels] / 5.0)
    x = rng.poisson(lam).astype(np.float32)
    obs = pd.DataFrame({"truth": [f"type{l}" for l in labels]}, index=[f"cell{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    return anndata.AnnData(X=sp.csr_matrix(x), obs=obs, var=var)


def test_run_stores_results_under_documented_keys():
    a = counts()
    assert scgnn_rs.run(a, seed=3, **QUICK) is None
    n = a.n_obs
    assert a.obs["scgnn_cluster"].dtype == "category"
    assert a.obsm["X_scgnn"].shape[0] == n
    conn = a.obsp["connectivities"]
    assert conn.shape == (n, n) and (conn != conn.T).nnz == 0
    assert a.uns["neighbors"]["connectivities_key"] == "connectivities"
    imp = a.obsm["scgnn_imputed"]
    assert isinstance(imp, pd.DataFrame) and list(imp.index) == list(a.obs_names)
    assert set(imp.columns) == set(a.var_names[a.var["scgnn_kept"].values])
    assert np.isfinite(imp.values).all() and (imp.values >= 0).all()
    assert a.uns["scgnn"]["seed"] == 3 and a.uns["scgnn"]["n_clusters"] >= 2
    ari = scgnn_rs.evaluate(a.obs["scgnn_cluster"], a.obs["truth"], a.obsm["X_scgnn"])["ari"]
    assert ari > 0.5, ari
    a.write_h5ad(Path(os.environ.get("TMPDIR", "/tmp")) / f"scgnn-rs-{os.getpid()}.h5ad")


def test_same_seed_same_results_and_copy_leaves_the_input():
    a = counts()
    b = scgnn_rs.run(a, seed=5, copy=True, **QUICK)
    c = scgnn_rs.run(a, seed=5, copy=True, **QUICK)
    assert "scgnn_cluster" not in a.obs
    assert (b.obs["scgnn_cluster"] == c.obs["scgnn_cluster"]).all()
    assert np.array_equal(b.obsm["X_scgnn"], c.obsm["X_scgnn"])


def test_dense_csc_and_layers_give_the_same_results():
    a = counts()
    dense = a.copy()
    dense.X = a.X.toarray().astype(np.float64)
    layered = a.copy()
    layered.layers["counts"] = a.X.tocsc()
    layered.X = sp.csr_matrix(np.log1p(a.X.toarray()))
    r = [scgnn_rs.run(x, seed=2, copy=True, **QUICK, **kw).obsm["X_scgnn"]
         for x, kw in [(a, {}), (dense, {}), (layered, {"layer": "counts"})]]
    assert np.array_equal(r[0], r[1]) and np.array_equal(r[0], r[2])


def test_same_results_as_the_command_line(tmp_path):
    binary = Path(os.environ.get("SCGNN_BIN", ROOT / "target" / "release" / "scgnn"))
    if not binary.exists():
        pytest.skip(f"no scgnn binary at {binary} (build it with cargo build --release)")
    a = counts()
    path = tmp_path / "x.csv"
    pd.DataFrame(a.X.toarray().T, index=a.var_names, columns=a.obs_names).to_csv(path)
    out = tmp_path / "out"
    subprocess.run(
        [str(binary), "-q", "--threads", "2", "--seed", "4", "run", "-i", str(path), "--output-dir", str(out),
         "--no-plot", "--quickmode", "--regu-epochs", "20", "--em-epochs", "10", "--em-iteration", "2"],
        check=True,
    )
    scgnn_rs.run(a, seed=4, **QUICK)
    cli = pd.read_csv(out / "x_results.txt", index_col=0).iloc[:, 0]
    assert (cli.loc[a.obs_names].astype(str).values == a.obs["scgnn_cluster"].astype(str).values).all()
    emb = pd.read_csv(out / "x_embedding.csv", index_col=0).loc[a.obs_names].values.astype(np.float32)
    assert np.array_equal(emb, a.obsm["X_scgnn"])


def test_errors_are_python_exceptions():
    a = counts()
    with pytest.raises(ValueError, match="--k"):
        scgnn_rs.run(a, k="many", **QUICK)
    with pytest.raises(ValueError, match="OPTICS"):
        scgnn_rs.run(a, clustering_method="OPTICS", k=3, **QUICK)
    with pytest.raises(ValueError, match="no layer 'counts'"):
        scgnn_rs.run(a, layer="counts", **QUICK)
    with pytest.raises(ValueError, match="adata.raw"):
        scgnn_rs.run(a, use_raw=True, **QUICK)
    with pytest.raises(ValueError, match="file option"):
        scgnn_rs.run(a, output_dir="x", **QUICK)
    with pytest.raises(MemoryError, match="GiB"):
        scgnn_rs.run(a, max_memory=0.001, **QUICK)
    bad = a.copy()
    bad.X = sp.csr_matrix(-a.X.toarray())
    with pytest.raises(ValueError, match="AnnData"):
        scgnn_rs.run(bad, **QUICK)


def test_keyboard_interrupt_stops_the_run_within_a_second():
    a = counts(600, 2000)
    fired = []

    def interrupt():
        fired.append(time.monotonic())
        _thread.interrupt_main()

    threading.Timer(1.0, interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        scgnn_rs.run(a, regu_epochs=100000, progress=False, threads=2)
    latency = time.monotonic() - fired[0]
    assert latency < 1.0, f"stopped {latency:.2f} s after the interrupt"


def test_read_and_evaluate(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("gene,c1,c2,c3\ng1,1,0,2\ng2,0,3,0\n")
    a = scgnn_rs.read(path)
    assert a.shape == (3, 2) and list(a.obs_names) == ["c1", "c2", "c3"] and list(a.var_names) == ["g1", "g2"]
    assert np.array_equal(a.X.toarray(), np.array([[1, 0], [0, 3], [2, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match="line 2"):
        bad = tmp_path / "bad.csv"
        bad.write_text("gene,c1\ng1,abc\n")
        scgnn_rs.read(bad)
    # sklearn.metrics.adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) = 0.5714285714285715
    r = scgnn_rs.evaluate(["a", "a", "b", "b"], [0, 0, 1, 2])
    assert abs(r["ari"] - 0.5714285714285715) < 1e-12


def test_scanpy_uses_the_graph_directly():
    sc = pytest.importorskip("scanpy")
    a = counts()
    scgnn_rs.run(a, **QUICK)
    sc.tl.umap(a)
    assert a.obsm["X_umap"].shape == (a.n_obs, 2)
    sc.tl.leiden(a, flavor="igraph", n_iterations=2, directed=False)


def test_read_picks_layers_raw_and_genomes():
    fx = ROOT / "tests" / "fixtures"
    with pytest.raises(ValueError, match="--layer counts"):
        scgnn_rs.read(fx / "scaled_raw.h5ad")
    a = scgnn_rs.read(fx / "scaled_raw.h5ad", layer="counts")
    r = scgnn_rs.read(fx / "scaled_raw.h5ad", use_raw=True)
    assert a.shape == (6, 5) and r.shape == (6, 6) and r.var_names[-1] == "Extra"
    assert np.array_equal(a.X.toarray(), r.X.toarray()[:, :5])
    with pytest.raises(ValueError, match="GRCh38, mm10"):
        scgnn_rs.read(fx / "tenx_v3_two_genomes.h5")
    assert list(scgnn_rs.read(fx / "tenx_v3_two_genomes.h5", genome="GRCh38").var_names) == ["HUMAN1", "HUMAN2", "HUMAN3"]


def test_benchmarks_score_ours_beside_the_baselines():
    a = counts()
    short = {k: v for k, v in QUICK.items() if k != "progress"}
    d = scgnn_rs.benchmark_dropout(a, repeats=2, seed=1, **short)
    assert list(d.index) == ["scgnn-rs", "zero", "gene-mean"]
    # Leaving hidden counts at zero is the worst possible answer.
    assert d.loc["zero", "median_l1"] > d.loc["gene-mean", "median_l1"]
    assert len(d.attrs["repeats"]) == 2
    m = scgnn_rs.benchmark_mcv(a, seed=1, **short)
    assert list(m.index) == ["scgnn-rs", "none", "gene-mean"]
    # The Poisson column leaves out ln(B!), so only the squared error must be positive.
    assert (m["mse_log1p"] > 0).all()
    # The default imputation predicts the held-out half better than the thinned counts.
    assert m.loc["scgnn-rs", "mse_log1p"] < m.loc["none", "mse_log1p"]
