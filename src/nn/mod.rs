//! A small hand-written neural-network engine: `gemm`-backed dense products,
//! linear layers with fused bias + activation, the losses scGNN uses, L1/L2
//! penalties and a fused Adam. Nothing is allocated per optimisation step;
//! callers own reusable workspaces (see `rust-deps.md` §2 for why this beats the
//! frameworks by 1.5–3× on 2 cores).

pub mod adam;
pub mod layers;
pub mod loss;
pub mod ops;

pub use adam::Adam;
pub use layers::Linear;
pub use loss::{Penalty, WeightedSse};

use crate::error::{Error, Result};
use std::ops::Range;

/// Sets the flush-to-zero and denormals-are-zero bits of the calling thread's
/// MXCSR on x86_64 (no-op elsewhere). Long Adam runs drift into subnormal
/// second moments, which made PyTorch 10–40× slower in the benchmarks of
/// `rust-deps.md` §6; the flags are per thread, so every worker must set them.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(deprecated)]
        // SAFETY: reading and writing MXCSR only changes this thread's float modes.
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
    }
}

/// Builds the global rayon pool with `threads` workers (0 = rayon's default,
/// one per core), each flushing denormals on start; also flushes them on the
/// calling thread. Fails if the global pool was already built.
pub fn init_thread_pool(threads: usize) -> Result<()> {
    flush_denormals();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(|_| flush_denormals())
        .build_global()
        .map_err(|e| Error::Usage(format!("cannot start a pool of {threads} threads: {e}")))
}

/// A pool of `threads` workers (0: one per core) set up like the global pool of
/// [`init_thread_pool`], for callers that cannot own the global pool (the
/// Python package): the same thread count gives the same results.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(|_| flush_denormals())
        .build()
        .map_err(|e| Error::Usage(format!("cannot start a pool of {threads} threads: {e}")))
}

/// Consecutive row ranges of at most `size` rows covering `0..n` (the last may
/// be shorter), the minibatches of a contiguous row-major matrix. `size` 0 is
/// treated as one batch of everything.
pub fn batches(n: usize, size: usize) -> impl Iterator<Item = Range<usize>> {
    let size = if size == 0 { n.max(1) } else { size };
    (0..n.div_ceil(size)).map(move |b| b * size..((b + 1) * size).min(n))
}
