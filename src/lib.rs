//! scGNN in Rust: a fast, sparse, reproducible re-implementation of scGNN
//! (Wang et al., Nat Commun 12, 1882, 2021).
//!
//! The crate is laid out by the stages of the method; data flows one way:
//! matrix → (LTMG) → feature autoencoder → cell graph → graph autoencoder →
//! clustering → cluster autoencoders → imputation → outputs.

pub mod choice;
pub mod cluster;
pub mod compat;
pub mod error;
pub mod evaluate;
pub mod graph;
pub mod impute;
pub mod io;
pub mod ltmg;
pub mod matrix;
pub mod models;
pub mod nn;
pub mod options;
pub mod pipeline;
pub mod plot;
pub mod preprocess;
pub mod rng;
pub mod simulate;

pub use error::{Error, Result};
pub use matrix::{Csr, ExprMatrix};
