//! Benchmark of the exact KNN and the cell graph: random Gaussian blobs, k = 10, 2 threads.
//!
//! `cargo run --release --example bench_knn [n] [d]` (defaults 100000 × 128), or
//! `… bench_knn run_embedding.csv` for a run's embedding. Times the approximate
//! search and its recall@10 on 1 000 cells; `EXACT=1` also times the exact search
//! on an embedding file, `APPROX_ONLY=1` skips the exact stages on blobs.
//! Prints wall-clock seconds per stage and the peak resident memory (VmHWM).

use std::time::Instant;

use rand::Rng as _;
use rand_distr::{Distribution, Normal};
use scgnn::graph::knn::recall;
use scgnn::graph::nndescent::{knn_approx, ApproxParams};
use scgnn::graph::prune::prune_weights;
use scgnn::graph::{build, knn, Distance, GraphParams, PruneType};
use scgnn::matrix::Dense;
use scgnn::rng::stream;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn main() -> scgnn::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a.ends_with(".csv")) {
        let path = args.next().unwrap_or_default();
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build_global()
            .expect("global pool set once");
        let x = read_embedding(&path);
        println!("embedding {path}: {} x {}", x.rows, x.cols);
        return compare(&x, 10);
    }
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let d: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(128);
    let (k, threads, centres) = (10, 2, 20);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("global pool set once");

    let mut rng = stream(0, "bench-blobs");
    let c: Vec<f32> = (0..centres * d)
        .map(|_| rng.random::<f32>() * 20.0)
        .collect();
    let noise = Normal::new(0.0f32, 1.0).unwrap();
    let data = (0..n * d)
        .map(|e| c[(e / d) % centres * d + e % d] + noise.sample(&mut rng))
        .collect();
    let x = Dense::from_vec(n, d, data);
    println!(
        "data: {n} x {d}, {centres} blobs, k = {k}, {threads} threads; VmHWM after data {}",
        vm_hwm()
    );

    compare(&x, k)?;
    if std::env::var_os("APPROX_ONLY").is_some() {
        return Ok(());
    }
    let t = Instant::now();
    let nn = knn(&x, k, Distance::Euclidean)?;
    println!("knn euclidean: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let w = prune_weights(&nn, &x, PruneType::KnnGraphMl, 0)?;
    println!(
        "KNNgraphML pruning (isolation forests): {:.2} s, {} of {} edges kept",
        t.elapsed().as_secs_f64(),
        w.iter().filter(|&&v| v != 0.0).count(),
        w.len()
    );
    drop(nn);

    let t = Instant::now();
    let g = build(&x, &GraphParams::default(), 0)?;
    let t_build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = g.pruned_graph();
    let u = g.union_adjacency();
    println!(
        "build (knn + stats pruning): {t_build:.2} s; pruned + union graphs: {:.2} s \
         ({} kept of {} directed edges, {} / {} symmetric entries)",
        t.elapsed().as_secs_f64(),
        g.n_kept(),
        n * k,
        p.nnz(),
        u.nnz()
    );
    println!("peak RSS (VmHWM): {}", vm_hwm());
    Ok(())
}

/// The approximate search's time and recall@k on 1 000 sampled cells.
fn compare(x: &Dense, k: usize) -> scgnn::Result<()> {
    let t = Instant::now();
    // Settings other than the defaults, for tuning: NT trees, LS leaf size, PO pool.
    let env = |key: &str, default: usize| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let d = ApproxParams::default();
    let params = ApproxParams {
        trees: env("NT", d.trees),
        leaf_size: env("LS", d.leaf_size),
        pool: env("PO", d.pool),
        max_rounds: env("MR", d.max_rounds),
        ..d
    };
    let approx = knn_approx(x, k, Distance::Euclidean, &params, 0)?;
    let t_approx = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let r = recall(&approx.indices, x, Distance::Euclidean, 1000, 0)?;
    println!(
        "knn approximate (NN-descent): {t_approx:.2} s, recall@{k} {r:.4} on 1000 cells (measured in {:.2} s)",
        t.elapsed().as_secs_f64()
    );
    if std::env::var_os("EXACT").is_some() {
        let t = Instant::now();
        knn(x, k, Distance::Euclidean)?;
        println!("knn exact: {:.2} s", t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// A run's `<name>_embedding.csv` (header, then cell id and values per row).
fn read_embedding(path: &str) -> Dense {
    let text = std::fs::read_to_string(path).expect("readable embedding CSV");
    let mut rows = 0;
    let mut data = Vec::new();
    for line in text.lines().skip(1) {
        data.extend(
            line.split(',')
                .skip(1)
                .map(|v| v.parse::<f32>().expect("a number")),
        );
        rows += 1;
    }
    let cols = data.len() / rows.max(1);
    Dense::from_vec(rows, cols, data)
}
