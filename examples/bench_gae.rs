//! Graph-autoencoder speed and memory on a 100 000-cell k = 10 graph: cells on a
//! ring, each linked to its 5 neighbours on either side (a ring of touching
//! blobs; symmetric by construction), 128 random binary features, gcn_vae,
//! 2 threads. Prints seconds per epoch and peak RSS (VmHWM).
//! Run: `cargo run --release --example bench_gae`

use rand::{Rng, SeedableRng};
use scgnn::matrix::{Csr, Dense};
use scgnn::models::{train_gae, GaeConfig};
use std::time::Instant;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "VmHWM unavailable".into())
}

fn main() -> scgnn::Result<()> {
    scgnn::nn::init_thread_pool(2)?;
    let (n, half_k, d) = (100_000usize, 5usize, 128usize);
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(n * 2 * half_k);
    indptr.push(0);
    for i in 0..n {
        let mut row: Vec<u32> = (1..=half_k)
            .flat_map(|o| [((i + o) % n) as u32, ((i + n - o) % n) as u32])
            .collect();
        row.sort_unstable();
        indices.extend_from_slice(&row);
        indptr.push(indices.len());
    }
    let adj = Csr {
        rows: n,
        cols: n,
        data: vec![1.0f32; indices.len()],
        indptr,
        indices,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let x = Dense::from_vec(
        n,
        d,
        (0..n * d)
            .map(|_| rng.random_range(0..2u8) as f32)
            .collect(),
    );
    println!(
        "graph: {n} cells, {} directed edges; before training {}",
        adj.nnz(),
        vm_hwm()
    );
    let epochs = 10;
    let cfg = GaeConfig {
        epochs,
        ..GaeConfig::default()
    };
    let start = Instant::now();
    let mut t = Instant::now();
    let out = train_gae(&x, &adj, &cfg, 3, &mut |e, loss| {
        println!(
            "epoch {e}: {:.3} s, loss {loss:.5}",
            t.elapsed().as_secs_f64()
        );
        t = Instant::now();
    })?;
    let total = start.elapsed().as_secs_f64();
    println!(
        "{epochs} epochs + setup + final pass: {total:.2} s ({:.3} s/epoch); embedding {}×{}; {}",
        total / epochs as f64,
        out.embedding.rows,
        out.embedding.cols,
        vm_hwm()
    );
    Ok(())
}
