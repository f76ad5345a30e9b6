//! The two learned models of scGNN: the feature autoencoder (also used for the
//! cluster and imputation autoencoders) and the graph autoencoder.

pub mod autoencoder;
pub mod gae;

pub use autoencoder::{AeConfig, AeLoss, Autoencoder};
pub use gae::{binarize_by_column_mean, train_gae, GaeConfig, GaeModel, GaeOutput};
