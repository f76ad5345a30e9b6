//! (stage module; filled in by its issue)

/// Temporary until the engine lands: builds the global pool.
pub fn init_thread_pool(threads: usize) -> crate::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| crate::Error::Usage(format!("cannot start {threads} threads: {e}")))
}
