//! The losses Keras computes element by element and then averages over each
//! sample's units (binary crossentropy, mse, mae, huber): one driver for
//! their sums and gradients; each loss gives its value and derivative.
//! Their 'accuracy' is what Keras 3 resolves 'accuracy' to, which depends on
//! the output's width only: binary accuracy (p > 0.5 equals the target) for
//! a single unit, else categorical accuracy (argmax of p equals argmax of y).

use crate::kernels::Activation;
use ndarray::{ArrayView2, ArrayViewMut2};

use super::{correct, LossTotals};

pub(crate) trait Pointwise: Sync {
    /// The loss of output `p` against target `y`.
    fn value(&self, p: f32, y: f32) -> f64;
    /// Its derivative in `p`.
    fn derivative(&self, p: f32, y: f32) -> f32;
    /// dL/dz directly, when this loss after `activation` has a simpler,
    /// exact form (binary crossentropy after a sigmoid: p − y).
    fn fused(&self, _activation: Activation, _p: f32, _y: f32) -> Option<f32> {
        None
    }
}

pub(crate) fn totals(loss: &dyn Pointwise, output: ArrayView2<f32>, y: &[f32], weights: Option<&[f32]>) -> LossTotals {
    let k = output.ncols().max(1);
    let mut t = LossTotals { count: output.nrows(), ..Default::default() };
    for (i, (row, targets)) in output.rows().into_iter().zip(y.chunks(k)).enumerate() {
        let mean = row.iter().zip(targets).map(|(&p, &y)| loss.value(p, y)).sum::<f64>() / k as f64;
        t.loss_sum += weights.map_or(mean, |w| mean * w[i] as f64);
        t.correct += correct(row, targets);
    }
    t
}

pub(crate) fn output_gradient(
    loss: &dyn Pointwise,
    output: ArrayView2<f32>,
    y: &[f32],
    weights: Option<&[f32]>,
    activation: Activation,
    mut dz: ArrayViewMut2<f32>,
) {
    let k = output.ncols().max(1);
    let scale = 1.0 / (output.nrows().max(1) * k) as f32;
    for (i, ((row, targets), mut g_row)) in output.rows().into_iter().zip(y.chunks(k)).zip(dz.rows_mut()).enumerate() {
        let s = weights.map_or(scale, |w| scale * w[i]);
        for ((g, &p), &y) in g_row.iter_mut().zip(row.iter()).zip(targets) {
            let d = loss
                .fused(activation, p, y)
                .unwrap_or_else(|| loss.derivative(p, y) * activation.derivative_from_output(p));
            *g = d * s;
        }
    }
}

/// Every pointwise loss's derivative against central differences of its value.
#[cfg(test)]
pub(crate) fn check_derivative(loss: &dyn Pointwise, points: &[(f32, f32)]) {
    for &(p, y) in points {
        let h = 1e-3f32;
        let fd = (loss.value(p + h, y) - loss.value(p - h, y)) / (2.0 * h as f64);
        let got = loss.derivative(p, y) as f64;
        assert!((fd - got).abs() < 2e-3 * (1.0 + fd.abs()), "at p={p}, y={y}: {got} vs {fd}");
    }
}
