//! Evaluation: clustering metrics and imputation benchmarks. Nothing here ever
//! feeds back into training or stopping rules (except label-free comparisons
//! between consecutive iterations, which use `metrics::ari` on our own labels).

pub mod dropout;
pub mod labels;
pub mod mcv;
pub mod metrics;
