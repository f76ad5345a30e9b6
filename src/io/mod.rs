//! Readers and writers for every supported format.

pub mod atomic;
pub mod h5ad;
pub mod h5util;
pub mod tenx_h5;
