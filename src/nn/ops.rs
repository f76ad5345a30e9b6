//! Dense products on row-major `f32` slices through `gemm`, parallel on the
//! global rayon pool.

use crate::matrix::Dense;
use gemm::Parallelism;

/// Below this many multiply-adds a product runs on one thread: rayon's fork
/// overhead would exceed the work.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// `C (m×n) = op(A)·op(B)`, or `C += op(A)·op(B)` when `accumulate`.
/// `op(A)` is `m×k`: `A` is stored row-major as `m×k`, or as `k×m` when `trans_a`.
/// `op(B)` is `k×n`: `B` is stored as `k×n`, or as `n×k` when `trans_b`.
/// Panics if a slice length disagrees with the shape (a programming error).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    assert_eq!(a.len(), m * k, "gemm: A has the wrong length");
    assert_eq!(b.len(), k * n, "gemm: B has the wrong length");
    assert_eq!(c.len(), m * n, "gemm: C has the wrong length");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    // Strides in elements: (column stride, row stride) of op(X).
    let (a_cs, a_rs) = if trans_a {
        (m as isize, 1)
    } else {
        (1, k as isize)
    };
    let (b_cs, b_rs) = if trans_b {
        (k as isize, 1)
    } else {
        (1, n as isize)
    };
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the lengths were checked above, so every (row, col) reached
    // through these strides lies inside its slice; `c` is borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// `op(A)·op(B)` as a new matrix (see [`gemm`] for the transposes).
/// Panics if the inner dimensions disagree.
pub fn matmul(a: &Dense, trans_a: bool, b: &Dense, trans_b: bool) -> Dense {
    let (m, k) = if trans_a {
        (a.cols, a.rows)
    } else {
        (a.rows, a.cols)
    };
    let (k2, n) = if trans_b {
        (b.cols, b.rows)
    } else {
        (b.rows, b.cols)
    };
    assert_eq!(k, k2, "matmul: inner dimensions differ");
    let mut c = Dense::zeros(m, n);
    gemm(
        m,
        n,
        k,
        &a.data,
        trans_a,
        &b.data,
        trans_b,
        &mut c.data,
        false,
    );
    c
}
