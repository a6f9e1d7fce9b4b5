//! Sparse categorical crossentropy, with sparse categorical accuracy.
//!
//! Value, as Keras computes it from probabilities: clip p to [ε, 1−ε]
//! (ε = 1e-7), then −log(p_y / Σ_j p_j); averaged over the batch.
//! Gradient at the last layer's pre-activation:
//! - softmax output: the fused (p − onehot)/B, which is the exact gradient of
//!   crossentropy through softmax (Keras's TF backend takes the same route by
//!   reading the softmax's logits);
//! - any other output: the gradient of the clipped formula above w.r.t. p,
//!   then through the activation's derivative.

use super::{argmax, clip, LossTotals, EPSILON};
use crate::error::{Error, Result};
use crate::kernels::Activation;
use ndarray::{ArrayView2, ArrayViewMut2};

/// Every label must be an integer class index below `classes`.
pub fn check_labels(labels: &[i32], classes: usize) -> Result<()> {
    match labels.iter().position(|&y| y < 0 || y as usize >= classes) {
        None => Ok(()),
        Some(i) => Err(Error::Value(format!(
            "Expected labels in [0, {classes}) for {classes} output units. Received: labels[{i}]={}",
            labels[i]
        ))),
    }
}

/// Loss and accuracy of one batch of outputs (rows of probabilities). With
/// sample weights, each sample's loss counts `weight` times and the sum is
/// still divided by the batch size, as Keras's default reduction does;
/// accuracy stays unweighted, as Keras's compiled metrics are.
pub fn totals(output: ArrayView2<f32>, labels: &[i32], weights: Option<&[f32]>) -> LossTotals {
    let mut t = LossTotals { count: labels.len(), ..Default::default() };
    let weight = |i: usize| weights.map(|w| w[i]);
    // Rows as plain slices where they are: with 10 classes, ndarray's
    // per-row iterators cost more than the arithmetic.
    match output.as_slice() {
        Some(flat) => {
            let rows = flat.chunks_exact(output.ncols().max(1));
            for (i, (row, &y)) in rows.zip(labels).enumerate() {
                add_row(&mut t, row.iter().copied(), y as usize, weight(i));
            }
        }
        None => {
            for (i, (row, &y)) in output.rows().into_iter().zip(labels).enumerate() {
                add_row(&mut t, row.iter().copied(), y as usize, weight(i));
            }
        }
    }
    t
}

/// One row's loss (times its sample weight), and whether it is right.
fn add_row(t: &mut LossTotals, row: impl Iterator<Item = f32> + Clone, y: usize, weight: Option<f32>) {
    let sum: f64 = row.clone().map(|p| clip(p) as f64).sum();
    let p_y = row.clone().nth(y).expect("labels were checked against the outputs");
    // One logarithm a row, of the quotient: with two, the seed model's
    // loss took 2.7 µs a step instead of 2.0.
    let loss = (sum / clip(p_y) as f64).ln();
    t.loss_sum += weight.map_or(loss, |w| loss * w as f64);
    if argmax(row) == y {
        t.correct += 1.0;
    }
}

/// Writes dL/dz for the batch-mean loss into `dz` given the output y = f(z)
/// (each row scaled by its sample weight, when there are weights).
pub fn output_gradient(
    output: ArrayView2<f32>,
    labels: &[i32],
    weights: Option<&[f32]>,
    activation: Activation,
    mut dz: ArrayViewMut2<f32>,
) {
    let batch_inv = 1.0 / labels.len().max(1) as f32;
    // Rows as plain slices: with 10 classes, ndarray's per-row iterators
    // cost more than the arithmetic (~3 µs of a seed-model step).
    let k = output.ncols().max(1);
    let y = output.as_slice().expect("outputs in contiguous rows");
    let g = dz.as_slice_mut().expect("gradients in contiguous rows");
    for (i, ((y_row, g_row), &label)) in y.chunks_exact(k).zip(g.chunks_exact_mut(k)).zip(labels).enumerate() {
        let label = label as usize;
        let inv_b = weights.map_or(batch_inv, |w| batch_inv * w[i]);
        if activation == Activation::Softmax {
            g_row.iter_mut().zip(y_row).for_each(|(g, &p)| *g = p * inv_b);
            g_row[label] = (y_row[label] - 1.0) * inv_b;
            continue;
        }
        let sum: f32 = y_row.iter().map(|&p| clip(p)).sum();
        for (j, (g, &p)) in g_row.iter_mut().zip(y_row.iter()).enumerate() {
            let inside = p > EPSILON && p < 1.0 - EPSILON;
            let mut d = if inside { 1.0 / sum } else { 0.0 };
            if j == label && inside {
                d -= 1.0 / p;
            }
            *g = d * inv_b * activation.derivative_from_output(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    /// Golden value from Keras 3.15.1 (JAX backend), produced by:
    ///   import keras, numpy as np
    ///   y = np.array([1, 2]); p = np.array([[.05, .95, 0], [.1, .8, .1]], "float32")
    ///   keras.losses.SparseCategoricalCrossentropy()(y, p)   # 1.1769392490386963
    #[test]
    fn matches_keras_golden_value() {
        let p = array![[0.05f32, 0.95, 0.0], [0.1, 0.8, 0.1]];
        let t = totals(p.view(), &[1, 2], None);
        assert!((t.mean_loss() - 1.1769392).abs() < 1e-6, "{}", t.mean_loss());
        assert_eq!(t.correct, 1.0);
    }

    /// Rows that are not contiguous (a transposed view) and sample weights
    /// give what a float64 loop over the clipped formula gives.
    #[test]
    fn strided_rows_and_weights_match_a_float64_loop() {
        let stored = array![[0.05f32, 0.1, 0.3], [0.95, 0.8, 0.3], [0.0, 0.1, 0.4]];
        let p = stored.t();
        assert!(p.as_slice().is_none(), "the rows are strided");
        let (labels, w) = ([1, 2, 0], [0.5f32, 2.0, 1.0]);
        let t = totals(p, &labels, Some(&w));
        let want: f64 = (0..3)
            .map(|i| {
                let clip = |v: f32| (v as f64).clamp(1e-7, 1.0 - 1e-7);
                let sum: f64 = p.row(i).iter().map(|&v| clip(v)).sum();
                -(clip(p[[i, labels[i] as usize]]) / sum).ln() * w[i] as f64
            })
            .sum();
        assert!((t.loss_sum - want).abs() < 1e-12 * want, "{} vs {want}", t.loss_sum);
        assert_eq!(t.correct, 1.0);
    }

    #[test]
    fn softmax_gradient_is_p_minus_onehot_over_batch() {
        let p = array![[0.2f32, 0.7, 0.1], [0.5, 0.25, 0.25]];
        let mut g = Array2::zeros((2, 3));
        output_gradient(p.view(), &[1, 0], None, Activation::Softmax, g.view_mut());
        assert_eq!(g, array![[0.1, -0.15, 0.05], [-0.25, 0.125, 0.125]]);
    }

    #[test]
    fn generic_gradient_matches_finite_differences_through_sigmoid() {
        let z = array![[0.3f64, -1.2, 2.0, 0.1], [-0.4, 0.9, -2.2, 1.5]];
        let labels = [2, 0];
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let loss = |z: &Array2<f64>| {
            let y = z.mapv(|v| sig(v) as f32);
            totals(y.view(), &labels, None).mean_loss()
        };
        let y = z.mapv(|v| sig(v) as f32);
        let mut g = Array2::zeros((2, 4));
        output_gradient(y.view(), &labels, None, Activation::Sigmoid, g.view_mut());
        for i in 0..2 {
            for j in 0..4 {
                let h = 1e-4;
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[[i, j]] += h;
                zm[[i, j]] -= h;
                let fd = (loss(&zp) - loss(&zm)) / (2.0 * h);
                assert!((fd - g[[i, j]] as f64).abs() < 2e-3, "({i},{j}): {} vs {fd}", g[[i, j]]);
            }
        }
    }

    #[test]
    fn labels_out_of_range_are_named() {
        assert!(check_labels(&[0, 9, 3], 10).is_ok());
        let err = check_labels(&[0, 10, 3], 10).unwrap_err();
        assert!(err.to_string().contains("labels[1]=10"), "{err}");
        assert!(check_labels(&[-1], 10).is_err());
        assert!(super::super::Loss::parse("poisson").is_err());
        assert!(super::super::Loss::parse("sparseCategoricalCrossentropy").is_ok());
    }
}
