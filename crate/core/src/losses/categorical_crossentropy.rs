//! Categorical crossentropy, Keras 3: p normalised to sum 1, clipped to
//! [ε, 1−ε], then −Σ y·log p; accuracy is categorical (argmax of p equals
//! argmax of y). After a softmax the gradient at the logits is exactly
//! p·Σy − y.

use super::{argmax, clip, LossTotals, EPSILON};
use crate::kernels::Activation;
use ndarray::{ArrayView2, ArrayViewMut2};

pub fn totals(output: ArrayView2<f32>, y: &[f32], weights: Option<&[f32]>) -> LossTotals {
    let k = output.ncols().max(1);
    let mut t = LossTotals { count: output.nrows(), ..Default::default() };
    for (i, (row, targets)) in output.rows().into_iter().zip(y.chunks(k)).enumerate() {
        let sum: f32 = row.iter().sum();
        let loss: f64 = row.iter().zip(targets).map(|(&p, &y)| -(y as f64) * (clip(p / sum) as f64).ln()).sum();
        t.loss_sum += weights.map_or(loss, |w| loss * w[i] as f64);
        if argmax(row.iter().copied()) == argmax(targets.iter().copied()) {
            t.correct += 1.0;
        }
    }
    t
}

pub fn output_gradient(
    output: ArrayView2<f32>,
    y: &[f32],
    weights: Option<&[f32]>,
    activation: Activation,
    mut dz: ArrayViewMut2<f32>,
) {
    let k = output.ncols().max(1);
    let batch_inv = 1.0 / output.nrows().max(1) as f32;
    for (i, ((row, targets), mut g_row)) in output.rows().into_iter().zip(y.chunks(k)).zip(dz.rows_mut()).enumerate() {
        let s = weights.map_or(batch_inv, |w| batch_inv * w[i]);
        let (sum_p, sum_y): (f32, f32) = (row.iter().sum(), targets.iter().sum());
        if activation == Activation::Softmax {
            for ((g, &p), &y) in g_row.iter_mut().zip(row.iter()).zip(targets) {
                *g = (p * sum_y - y) * s;
            }
            continue;
        }
        // d/dp_j of −Σ y_i log(p_i / Σp): Σy/Σp − y_j/p_j (zero where clipped).
        for ((g, &p), &y) in g_row.iter_mut().zip(row.iter()).zip(targets) {
            let q = p / sum_p;
            let d = if q > EPSILON && q < 1.0 - EPSILON { sum_y / sum_p - y / p } else { 0.0 };
            *g = d * s * activation.derivative_from_output(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// keras.losses.CategoricalCrossentropy()([[0,1,0],[0,0,1]], [[.05,.95,0],[.1,.8,.1]]) = 1.1769392490386963
    #[test]
    fn matches_keras_golden_value() {
        let p = array![[0.05f32, 0.95, 0.0], [0.1, 0.8, 0.1]];
        let t = totals(p.view(), &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0], None);
        assert!((t.mean_loss() - 1.1769392).abs() < 1e-6, "{}", t.mean_loss());
        assert_eq!(t.correct, 1.0);
    }
}
