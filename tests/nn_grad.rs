//! Finite-difference gradient checks of every layer and loss of the nn engine
//! and of the whole feature autoencoder.
//!
//! The engine computes in f32 (losses accumulate in f64), so checks use central
//! differences with step `H` and a mixed tolerance
//! `|fd − analytic| ≤ REL·max(|fd|, |analytic|) + ABS`, stated per test.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scgnn::matrix::{Csr, Dense};
use scgnn::models::{AeConfig, AeLoss, Autoencoder};
use scgnn::nn::layers::{relu_backward, sigmoid, sigmoid_grad};
use scgnn::nn::loss::{bce_with_logits, mse};
use scgnn::nn::{Linear, Penalty, WeightedSse};

fn rand_vec(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

fn close(fd: f64, an: f64, rel: f64, abs: f64) -> bool {
    (fd - an).abs() <= rel * fd.abs().max(an.abs()) + abs
}

/// Linear layer with a linear readout `L = Σ c⊙y`; FD of a linear function is
/// exact up to f32 rounding: H = 1e-2, REL = 1e-3, ABS = 1e-4.
#[test]
fn linear_layer_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (rows, din, dout) = (3, 4, 5);
    let layer = Linear::new(din, dout, &mut rng);
    let x = rand_vec(&mut rng, rows * din, -1.0, 1.0);
    let c = rand_vec(&mut rng, rows * dout, -1.0, 1.0);
    let loss = |l: &Linear, x: &[f32]| -> f64 {
        let mut y = vec![0.0; rows * dout];
        l.forward(x, rows, &mut y, false);
        y.iter()
            .zip(&c)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let mut dw = vec![0.0; din * dout];
    let mut db = vec![0.0; dout];
    let mut dx = vec![0.0; rows * din];
    layer.backward(&x, &c, rows, &mut dw, &mut db, Some(&mut dx), false);
    let h = 1e-2f32;
    for i in 0..dw.len() {
        let (mut p, mut m) = (layer.clone(), layer.clone());
        p.weight[i] += h;
        m.weight[i] -= h;
        let fd = (loss(&p, &x) - loss(&m, &x)) / (2.0 * h as f64);
        assert!(
            close(fd, dw[i] as f64, 1e-3, 1e-4),
            "dW[{i}]: fd {fd} vs {}",
            dw[i]
        );
    }
    for i in 0..dout {
        let (mut p, mut m) = (layer.clone(), layer.clone());
        p.bias[i] += h;
        m.bias[i] -= h;
        let fd = (loss(&p, &x) - loss(&m, &x)) / (2.0 * h as f64);
        assert!(
            close(fd, db[i] as f64, 1e-3, 1e-4),
            "db[{i}]: fd {fd} vs {}",
            db[i]
        );
    }
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let fd = (loss(&layer, &xp) - loss(&layer, &xm)) / (2.0 * h as f64);
        assert!(
            close(fd, dx[i] as f64, 1e-3, 1e-4),
            "dx[{i}]: fd {fd} vs {}",
            dx[i]
        );
    }
    // Backward accumulates: a second call doubles dW and db.
    let (dw1, db1) = (dw.clone(), db.clone());
    layer.backward(&x, &c, rows, &mut dw, &mut db, None, false);
    for (a, b) in dw.iter().zip(&dw1).chain(db.iter().zip(&db1)) {
        assert!((a - 2.0 * b).abs() < 1e-5);
    }
    // Overwriting ignores whatever the buffers held.
    dw.fill(123.0);
    db.fill(-7.0);
    layer.backward(&x, &c, rows, &mut dw, &mut db, None, true);
    assert_eq!(dw, dw1);
    assert_eq!(db, db1);
}

/// Fused bias + ReLU layer and `relu_backward`; inputs are kept ≥ 0.05 away
/// from the kink so H = 1e-3 never crosses it: REL = 1e-3, ABS = 1e-4.
#[test]
fn relu_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (rows, din, dout) = (4, 3, 6);
    let layer = Linear::new(din, dout, &mut rng);
    let x = rand_vec(&mut rng, rows * din, -2.0, 2.0);
    let mut pre = vec![0.0; rows * dout];
    layer.forward(&x, rows, &mut pre, false);
    let mut y = vec![0.0; rows * dout];
    layer.forward(&x, rows, &mut y, true);
    for (p, v) in pre.iter().zip(&y) {
        assert_eq!(
            *v,
            p.max(0.0),
            "fused bias+ReLU equals ReLU of the affine map"
        );
    }
    let c = rand_vec(&mut rng, rows * dout, -1.0, 1.0);
    let relu_loss = |z: &[f32]| -> f64 {
        z.iter()
            .zip(&c)
            .map(|(a, b)| a.max(0.0) as f64 * *b as f64)
            .sum()
    };
    let mut d = c.clone();
    relu_backward(&mut d, &y);
    let h = 1e-3f32;
    let mut checked = 0;
    for i in 0..pre.len() {
        if pre[i].abs() < 0.05 {
            continue;
        }
        let (mut p, mut m) = (pre.clone(), pre.clone());
        p[i] += h;
        m[i] -= h;
        let fd = (relu_loss(&p) - relu_loss(&m)) / (2.0 * h as f64);
        assert!(
            close(fd, d[i] as f64, 1e-3, 1e-4),
            "relu[{i}]: fd {fd} vs {}",
            d[i]
        );
        checked += 1;
    }
    assert!(checked > pre.len() / 2);
}

/// Sigmoid over a range of inputs (its f32 output has ~6e-8 rounding, so
/// H = 1e-2, REL = 1e-3, ABS = 5e-5); and no
/// overflow at ±100.
#[test]
fn sigmoid_gradient() {
    for i in -40..=40 {
        let x = i as f32 * 0.25;
        let h = 1e-2f32;
        let fd = (sigmoid(x + h) as f64 - sigmoid(x - h) as f64) / (2.0 * h as f64);
        let an = sigmoid_grad(sigmoid(x)) as f64;
        assert!(close(fd, an, 1e-3, 5e-5), "sigmoid'({x}): fd {fd} vs {an}");
    }
    assert_eq!(sigmoid(100.0), 1.0);
    assert!(sigmoid(-100.0) < 1e-40);
}

fn check_sse(sse: &WeightedSse, rows: usize, cols: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pred = rand_vec(&mut rng, rows * cols, 0.0, 2.0);
    let target = rand_vec(&mut rng, rows * cols, 0.0, 2.0);
    let mut grad = vec![0.0; rows * cols];
    let mut rl = vec![0.0; rows];
    let total = sse.eval(0, &pred, &target, cols, Some(&mut grad), &mut rl);
    let total_nograd = sse.eval(0, &pred, &target, cols, None, &mut rl);
    assert_eq!(total, total_nograd);
    let h = 1e-3f32;
    for i in 0..pred.len() {
        let (mut p, mut m) = (pred.clone(), pred.clone());
        p[i] += h;
        m[i] -= h;
        let lp = sse.eval(0, &p, &target, cols, None, &mut rl);
        let lm = sse.eval(0, &m, &target, cols, None, &mut rl);
        let fd = (lp - lm) / (2.0 * h as f64);
        assert!(
            close(fd, grad[i] as f64, 2e-3, 1e-4),
            "sse[{i}]: fd {fd} vs {}",
            grad[i]
        );
    }
}

/// Plain SSE against a direct formula, and FD of every weighted variant
/// (γ only, γ + α·R, per-row w, all together): H = 1e-3, REL = 2e-3, ABS = 1e-4.
#[test]
fn weighted_sse_gradients() {
    let (rows, cols) = (5, 7);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pred = rand_vec(&mut rng, rows * cols, 0.0, 2.0);
    let target = rand_vec(&mut rng, rows * cols, 0.0, 2.0);
    let direct: f64 = pred
        .iter()
        .zip(&target)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let mut rl = vec![0.0; rows];
    let got = WeightedSse::plain().eval(0, &pred, &target, cols, None, &mut rl);
    assert!((got - direct).abs() < 1e-9 * direct);
    assert!((mse(&pred, &target, None) - direct / (rows * cols) as f64).abs() < 1e-9);

    let ltmg = Csr::from_triplets(
        rows,
        cols,
        vec![
            (0u32, 1u32, 1u8),
            (0, 4, 2),
            (2, 0, 1),
            (3, 6, 3),
            (4, 2, 1),
        ],
    );
    let w = [0.0f32, 1.5, 0.3, 2.0, 0.7];
    check_sse(&WeightedSse::plain(), rows, cols, 10);
    let mut s = WeightedSse::default();
    check_sse(&s, rows, cols, 11);
    s.entry = Some(&ltmg);
    check_sse(&s, rows, cols, 12);
    let row_only = WeightedSse {
        gamma: 0.0,
        alpha: 0.0,
        entry: None,
        row: Some(&w),
    };
    check_sse(&row_only, rows, cols, 13);
    s.row = Some(&w);
    check_sse(&s, rows, cols, 14);
    // The per-row weight equals scGNN's Σ_ij (M E)_ij with column sums of M as w (spec §9.2).
    let m = [
        [1.0f64, 0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 1.0, 1.0],
        [1.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 1.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 1.0],
    ];
    let colsum: Vec<f32> = (0..rows)
        .map(|k| (0..rows).map(|i| m[i][k]).sum::<f64>() as f32)
        .collect();
    let mut matrix_form = 0.0f64;
    for i in 0..rows {
        for k in 0..rows {
            for j in 0..cols {
                matrix_form +=
                    m[i][k] * ((pred[k * cols + j] - target[k * cols + j]) as f64).powi(2);
            }
        }
    }
    let weighted = WeightedSse {
        gamma: 0.0,
        alpha: 0.0,
        entry: None,
        row: Some(&colsum),
    }
    .eval(0, &pred, &target, cols, None, &mut rl);
    assert!((weighted - matrix_form).abs() < 1e-5 * matrix_form);
    // MSE gradient.
    let mut g = vec![0.0; pred.len()];
    mse(&pred, &target, Some(&mut g));
    let h = 1e-3f32;
    for i in 0..pred.len() {
        let (mut p, mut mm) = (pred.clone(), pred.clone());
        p[i] += h;
        mm[i] -= h;
        let fd = (mse(&p, &target, None) - mse(&mm, &target, None)) / (2.0 * h as f64);
        assert!(close(fd, g[i] as f64, 2e-3, 1e-5));
    }
}

/// BCE with logits (with pos_weight) against PyTorch's formula and FD:
/// H = 1e-3, REL = 1e-3, ABS = 1e-6. Stable at |x| = 100.
#[test]
fn bce_with_logits_gradient() {
    for &pw in &[1.0f32, 3.5] {
        for &y in &[0.0f32, 1.0] {
            for i in -30..=30 {
                let x = i as f32 * 0.3;
                let (l, g) = bce_with_logits(x, y, pw);
                let s = 1.0 / (1.0 + (-(x as f64)).exp());
                let reference =
                    -(pw as f64) * y as f64 * s.ln() - (1.0 - y as f64) * (1.0 - s).ln();
                assert!(
                    close(l, reference, 1e-9, 1e-12),
                    "bce({x},{y},{pw}) {l} vs {reference}"
                );
                let h = 1e-3f32;
                let fd = (bce_with_logits(x + h, y, pw).0 - bce_with_logits(x - h, y, pw).0)
                    / (2.0 * h as f64);
                assert!(
                    close(fd, g as f64, 1e-3, 1e-6),
                    "bce' at {x}: fd {fd} vs {g}"
                );
            }
        }
    }
    let (l, _) = bce_with_logits(100.0, 0.0, 1.0);
    assert!((l - 100.0).abs() < 1e-9);
    assert!(bce_with_logits(-100.0, 1.0, 2.0).0.is_finite());
}

/// L1 and L2 penalties: value and derivative by FD away from 0:
/// H = 1e-3, REL = 1e-4, ABS = 1e-6.
#[test]
fn penalty_gradients() {
    let p = Penalty { l1: 0.7, l2: 0.3 };
    for &t in &[-1.3f32, -0.2, 0.05, 0.9, 2.0] {
        let h = 1e-3f32;
        let fd = (p.value(t + h) - p.value(t - h)) / (2.0 * h as f64);
        assert!(close(fd, p.grad(t) as f64, 1e-4, 1e-6), "penalty'({t})");
    }
    assert_eq!(p.grad(0.0), 0.0);
    let total = p.total(&[&[1.0, -2.0], &[0.5]]);
    assert!((total - (0.7 * 3.5 + 0.3 * 5.25)).abs() < 1e-6);
}

/// The whole autoencoder (four layers, ReLU everywhere, γ/α·R/w loss, L1 and
/// L2): FD of the loss against `loss_and_gradient` for every parameter, in a
/// tiny model. H = 1e-3 in f32 gives FD noise of about 1e-7·|L|/H; REL = 2e-2,
/// ABS = 2e-3. Parameters within 2H of 0 (L1 kink) are skipped, and at most 2 %
/// of entries may disagree (a ReLU pre-activation within H of its kink).
#[test]
fn autoencoder_gradient() {
    let (cells, genes) = (6, 5);
    let cfg = AeConfig {
        hidden: 7,
        latent: 3,
        chunk_rows: 4, // two chunks: exercises gradient accumulation
        ..AeConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = Dense::from_vec(cells, genes, rand_vec(&mut rng, cells * genes, 0.0, 2.0));
    let t = Dense::from_vec(cells, genes, rand_vec(&mut rng, cells * genes, 0.0, 2.0));
    let ltmg = Csr::from_triplets(cells, genes, vec![(0u32, 1u32, 1u8), (3, 4, 2), (5, 0, 1)]);
    let w = [0.5f32, 0.0, 1.0, 2.0, 0.1, 0.3];
    let loss = AeLoss {
        sse: WeightedSse {
            gamma: 0.1,
            alpha: 0.9,
            entry: Some(&ltmg),
            row: Some(&w),
        },
        penalty: Penalty { l1: 0.05, l2: 0.02 },
    };
    let ae = Autoencoder::new(genes, &cfg, 7).unwrap();
    let (l0, grads) = ae.loss_and_gradient(&x, &t, &loss).unwrap();
    let l_direct = ae.loss(&x, &t, &loss).unwrap();
    assert!((l0 - l_direct).abs() < 1e-6 * l0.abs());
    let h = 1e-3f32;
    let (mut bad, mut total) = (0, 0);
    for layer in 0..4 {
        let nw = ae.layers()[layer].weight.len();
        let nb = ae.layers()[layer].bias.len();
        for k in 0..nw + nb {
            let get = |a: &mut Autoencoder| -> *mut f32 {
                let l = &mut a.layers_mut()[layer];
                if k < nw {
                    &mut l.weight[k]
                } else {
                    &mut l.bias[k - nw]
                }
            };
            let mut p = ae.clone();
            let mut m = ae.clone();
            // SAFETY: pointers into the clones' own parameter vectors, used immediately.
            let theta = unsafe { *get(&mut p) };
            if theta.abs() < 2.0 * h {
                continue;
            }
            unsafe {
                *get(&mut p) += h;
                *get(&mut m) -= h;
            }
            let fd = (p.loss(&x, &t, &loss).unwrap() - m.loss(&x, &t, &loss).unwrap())
                / (2.0 * h as f64);
            let an = if k < nw {
                grads[layer].0[k]
            } else {
                grads[layer].1[k - nw]
            } as f64;
            total += 1;
            if !close(fd, an, 2e-2, 2e-3) {
                bad += 1;
                eprintln!("layer {layer} param {k}: fd {fd} vs analytic {an}");
            }
        }
    }
    assert!(total > 100);
    assert!(
        bad * 50 <= total,
        "{bad} of {total} gradient entries disagree"
    );
}
