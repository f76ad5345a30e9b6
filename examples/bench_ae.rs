//! Feature-autoencoder speed: random dense 5000 × 2000 input, 2000→512→128→512→2000,
//! scGNN's default loss, 2 threads; seconds per epoch and GFLOP/s at batch 128
//! and at full batch (12 800). The figure is the median of epochs 2–10: on a
//! shared 2-core host single epochs vary by ±10 %, and the first epoch pays the
//! page faults of the workspace.
//! Run: `cargo run --release --example bench_ae`

use rand::{Rng, SeedableRng};
use scgnn::matrix::Dense;
use scgnn::models::{AeConfig, AeLoss, Autoencoder};
use std::time::Instant;

fn main() -> scgnn::Result<()> {
    scgnn::nn::init_thread_pool(2)?;
    let (n, g) = (5000, 2000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let x = Dense::from_vec(
        n,
        g,
        (0..n * g).map(|_| rng.random_range(0.0..1.0)).collect(),
    );
    for batch in [128usize, 12800] {
        let cfg = AeConfig {
            batch_size: batch,
            ..AeConfig::default()
        };
        let mut ae = Autoencoder::new(g, &cfg, 7)?;
        // Multiply-adds ×2: forward and dW over every layer, dX except the first layer.
        let pw: usize = ae.layers().iter().map(|l| l.in_dim * l.out_dim).sum();
        let flops = (6 * n * pw - 2 * n * g * cfg.hidden) as f64;
        let mut times = Vec::new();
        let mut t = Instant::now();
        ae.train(&x, &x, &AeLoss::default(), 10, &mut |e, loss| {
            let s = t.elapsed().as_secs_f64();
            println!(
                "batch {batch:5} epoch {e}: {s:.3} s, {:.1} GFLOP/s, loss {loss:.4e}",
                flops / s / 1e9
            );
            times.push(s);
            t = Instant::now();
        })?;
        let mut steady = times[1..].to_vec();
        steady.sort_by(f64::total_cmp);
        let median = steady[steady.len() / 2];
        println!(
            "batch {batch:5}: median of epochs 2-10 {median:.3} s/epoch (range {:.3}-{:.3}), {:.1} GFLOP/s ({:.1} GFLOP/epoch)",
            steady[0],
            steady[steady.len() - 1],
            flops / median / 1e9,
            flops / 1e9
        );
    }
    Ok(())
}
