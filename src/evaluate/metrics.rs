//! Clustering agreement metrics.

use std::collections::HashMap;

/// Contingency table between two labelings (dense, classes × clusters), plus the
/// marginals.
fn contingency(a: &[usize], b: &[usize]) -> (Vec<Vec<u64>>, Vec<u64>, Vec<u64>) {
    assert_eq!(a.len(), b.len(), "labelings must have equal length");
    let relabel = |x: &[usize]| {
        let mut m: HashMap<usize, usize> = HashMap::new();
        let v: Vec<usize> = x
            .iter()
            .map(|l| {
                let n = m.len();
                *m.entry(*l).or_insert(n)
            })
            .collect();
        (v, m.len())
    };
    let (ra, na) = relabel(a);
    let (rb, nb) = relabel(b);
    let mut t = vec![vec![0u64; nb]; na];
    let mut sa = vec![0u64; na];
    let mut sb = vec![0u64; nb];
    for (&i, &j) in ra.iter().zip(&rb) {
        t[i][j] += 1;
        sa[i] += 1;
        sb[j] += 1;
    }
    (t, sa, sb)
}

fn comb2(n: u64) -> f64 {
    let n = n as f64;
    n * (n - 1.0) / 2.0
}

/// Adjusted Rand index (Hubert & Arabie), as scikit-learn's `adjusted_rand_score`.
pub fn ari(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as u64;
    let (t, sa, sb) = contingency(a, b);
    let index: f64 = t.iter().flatten().map(|&x| comb2(x)).sum();
    let ia: f64 = sa.iter().map(|&x| comb2(x)).sum();
    let ib: f64 = sb.iter().map(|&x| comb2(x)).sum();
    let expected = ia * ib / comb2(n).max(1.0);
    let max = 0.5 * (ia + ib);
    if (max - expected).abs() < 1e-12 {
        // Both labelings trivial in the same way (scikit-learn returns 1.0).
        return 1.0;
    }
    (index - expected) / (max - expected)
}

fn entropy(s: &[u64], n: f64) -> f64 {
    s.iter()
        .filter(|&&x| x > 0)
        .map(|&x| {
            let p = x as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information with arithmetic-mean normalisation
/// (scikit-learn's `normalized_mutual_info_score` default).
pub fn nmi(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let (t, sa, sb) = contingency(a, b);
    let ha = entropy(&sa, n);
    let hb = entropy(&sb, n);
    if ha == 0.0 && hb == 0.0 {
        return 1.0;
    }
    let mut mi = 0.0;
    for (i, row) in t.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            if x > 0 {
                let x = x as f64;
                mi += x / n * (x * n / (sa[i] as f64 * sb[j] as f64)).ln();
            }
        }
    }
    let denom = 0.5 * (ha + hb);
    if denom <= 0.0 {
        0.0
    } else {
        (mi / denom).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ARI by hand from the contingency table [[2,0,0],[0,1,1],[0,0,2]]:
    //   index = 1+0+1 = 2, sum_a = 3, sum_b = 1+0+3 = 4, expected = 3*4/15 = 0.8, max = 3.5
    //   ari = (2-0.8)/(3.5-0.8) = 0.4444…
    #[test]
    fn ari_known_value() {
        let a = [0, 0, 1, 1, 2, 2];
        let b = [0, 0, 1, 2, 2, 2];
        assert!((ari(&a, &b) - 0.4444444444444444).abs() < 1e-12);
        assert!((ari(&a, &a) - 1.0).abs() < 1e-12);
        // Label permutation invariance.
        assert!((ari(&a, &[5, 5, 3, 3, 1, 1]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nmi_bounds() {
        let a = [0, 0, 1, 1, 2, 2];
        assert!((nmi(&a, &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        let v = nmi(&a, &[0, 0, 1, 2, 2, 2]);
        assert!(v > 0.0 && v < 1.0);
    }
}
