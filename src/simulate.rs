//! Negative-binomial simulator with known clusters.
