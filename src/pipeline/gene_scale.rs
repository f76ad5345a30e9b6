//! Gene weights of the autoencoders (`--gene-scale`, [`GeneScale`]).
//!
//! A squared error on ln(1 + x) is dominated by the few genes of largest variance,
//! so an autoencoder trained on it embeds those and little else; PCA after
//! scanpy's `scale` does the opposite and gives every gene unit variance. Dividing
//! each gene by the square root of its standard deviation sits between the two.
//! PCA of the scaled working matrix clusters human_kidney better than our
//! autoencoder's embedding does, which is why this exists; inside the pipeline the
//! gain did not hold on every set, so it is an option (BENCHMARKS.md, "Gene
//! scaling"). The values are not centred, so the working matrix stays sparse and
//! zeros stay zeros.

use super::params::GeneScale;
use crate::matrix::{Csr, Dense};
use rayon::prelude::*;

/// Scaled values are capped here, as scanpy's `scale(max_value=10)` caps.
pub const CAP: f32 = 10.0;

/// The factor each gene's values are multiplied by, `σ_g^(−power)` with σ_g the
/// sample standard deviation of gene g over all cells (zeros included, as
/// scanpy's `scale`); 1 for a constant
/// gene. `None` for [`GeneScale::None`].
pub fn factors(x: &Csr<f32>, how: GeneScale) -> Option<Vec<f32>> {
    let power = match how {
        GeneScale::None => return None,
        GeneScale::SqrtSd => 0.5,
        GeneScale::Sd => 1.0,
    };
    Some(
        crate::preprocess::column_variances(x)
            .iter()
            .map(|&var| {
                let sd = var.sqrt();
                if sd > 0.0 {
                    sd.powf(-power) as f32
                } else {
                    1.0
                }
            })
            .collect(),
    )
}

/// Scales `x` in place for the autoencoders; returns the factors that undo it.
pub fn scale_in_place(x: &mut Csr<f32>, how: GeneScale) -> Option<Vec<f32>> {
    let f = factors(x, how)?;
    apply(x, &f);
    Some(f)
}

/// `x_cg ← min(x_cg · f_g, CAP)` in place.
pub fn apply(x: &mut Csr<f32>, f: &[f32]) {
    x.indices
        .par_iter()
        .zip(x.data.par_iter_mut())
        .for_each(|(&j, v)| *v = (*v * f[j as usize]).min(CAP));
}

/// `m_cg ← m_cg / f_g` for a cells × genes matrix on the scaled values: back to
/// the working scale (the cap is not undone; a model's output is not capped).
pub fn undo(m: &mut Dense, f: &[f32]) {
    m.data
        .par_chunks_mut(m.cols.max(1))
        .for_each(|row| row.iter_mut().zip(f).for_each(|(v, &fg)| *v /= fg));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr() -> Csr<f32> {
        // Sample sd (ddof 1): gene 0: 0, 2, 0, 2 (2/√3); gene 1: 1, 1, 1, 1 (0);
        // gene 2: 0, 0, 0, 8 (4).
        let t = [(1, 0, 2.0), (3, 0, 2.0), (3, 2, 8.0)];
        let ones = (0..4).map(|r| (r, 1, 1.0));
        Csr::from_triplets(4, 3, t.into_iter().chain(ones).collect())
    }

    #[test]
    fn factors_are_powers_of_the_standard_deviation() {
        let x = csr();
        assert!(factors(&x, GeneScale::None).is_none());
        let sd = factors(&x, GeneScale::Sd).unwrap();
        let sqrt = factors(&x, GeneScale::SqrtSd).unwrap();
        let sd0 = 2.0 / 3f32.sqrt();
        for (got, want) in sd.iter().zip([1.0 / sd0, 1.0, 0.25]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        for (got, want) in sqrt.iter().zip([1.0 / sd0.sqrt(), 1.0, 0.5]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn apply_caps_and_undo_inverts_below_the_cap() {
        let mut x = csr();
        let f = vec![8.0, 0.5, 2.0];
        apply(&mut x, &f);
        // 2 · 8 = 16 is capped; 1 · 0.5 and 8 · 2 = 16 (capped).
        assert_eq!(x.data, vec![0.5, 10.0, 0.5, 0.5, 10.0, 0.5, 10.0]);
        let mut m = Dense::from_vec(1, 3, vec![4.0, 0.5, 3.0]);
        undo(&mut m, &f);
        assert_eq!(m.data, vec![0.5, 1.0, 1.5]);
    }
}
