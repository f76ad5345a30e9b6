//! Benchmark of the exact KNN and the cell graph: random Gaussian blobs, k = 10, 2 threads.
//!
//! `cargo run --release --example bench_knn [n] [d]` (defaults 100000 × 128).
//! Prints wall-clock seconds per stage and the peak resident memory (VmHWM).

use std::time::Instant;

use rand::Rng as _;
use rand_distr::{Distribution, Normal};
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
    let mut args = std::env::args().skip(1);
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
