//! Times `ltmg::run` on a simulated 13 000 cells × 2 000 genes count matrix
//! (gamma–Poisson, i.e. negative binomial, ~10–20 % non-zero) on 2 threads and
//! prints the wall time and the peak resident memory (VmHWM).
//!
//! `cargo run --release --example bench_ltmg`

use rand::Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use scgnn::ltmg::{self, LtmgParams};
use scgnn::Csr;

const CELLS: usize = 13_000;
const GENES: usize = 2_000;
/// NB dispersion (shape of the gamma).
const SHAPE: f64 = 1.5;

fn simulate(seed: u64) -> Csr<f32> {
    let mut rng = scgnn::rng::stream(seed, "bench-ltmg");
    let gene_mean: Vec<f64> = {
        let d = LogNormal::<f64>::new(-2.0, 1.2).expect("valid lognormal");
        (0..GENES)
            .map(|_| d.sample(&mut rng).min(200.0_f64))
            .collect()
    };
    let size = LogNormal::<f64>::new(0.0, 0.4).expect("valid lognormal");
    let mut indptr = vec![0usize];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for _ in 0..CELLS {
        let s: f64 = size.sample(&mut rng);
        for (g, &mu) in gene_mean.iter().enumerate() {
            let scale = mu * s / SHAPE;
            let lambda = Gamma::new(SHAPE, scale)
                .expect("valid gamma")
                .sample(&mut rng);
            if lambda <= 0.0 {
                continue;
            }
            // A cheap skip: Poisson zero probability e^{-λ}.
            if rng.random::<f64>() < (-lambda).exp() {
                continue;
            }
            let mut k = 0.0;
            while k == 0.0 {
                k = Poisson::new(lambda)
                    .expect("valid poisson")
                    .sample(&mut rng);
            }
            indices.push(g as u32);
            data.push(k as f32);
        }
        indptr.push(indices.len());
    }
    Csr {
        rows: CELLS,
        cols: GENES,
        indptr,
        indices,
        data,
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> scgnn::Result<()> {
    let t = std::time::Instant::now();
    let m = simulate(1);
    println!(
        "simulated {} x {} counts, nnz {} ({:.1} % non-zero) in {:.2} s",
        m.rows,
        m.cols,
        m.nnz(),
        100.0 * m.nnz() as f64 / (m.rows * m.cols) as f64,
        t.elapsed().as_secs_f64()
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .map_err(|e| scgnn::Error::Resources(format!("thread pool: {e}")))?;
    let p = LtmgParams::default();
    let t = std::time::Instant::now();
    let l = pool.install(|| ltmg::run(&m, &p, 123))?;
    let secs = t.elapsed().as_secs_f64();
    let mut ks = vec![0usize; p.kmax + 1];
    for g in &l.models {
        ks[g.k] += 1;
    }
    println!("ltmg::run on 2 threads: {secs:.2} s");
    println!(
        "Zcut_G {:.4}; genes per K (0..={}) {:?}",
        l.zcut_global, p.kmax, ks
    );
    println!("state histogram {:?}", l.state_histogram());
    match vm_hwm_kib() {
        Some(k) => println!("peak RSS (VmHWM) {:.1} MiB", k as f64 / 1024.0),
        None => println!("peak RSS unavailable (/proc/self/status)"),
    }
    Ok(())
}
