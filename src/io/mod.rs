//! Readers and writers for every supported format.

pub mod atomic;
