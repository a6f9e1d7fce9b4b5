//! The crossentropies from logits (Keras's `from_logits=True`): the outputs
//! are the logits z themselves, and the loss is computed stably from them —
//! log-sum-exp for the (sparse) categorical crossentropy, Keras's
//! max(z, 0) − z·y + log(1 + e^(−|z|)) for the binary one. The gradient at
//! z is softmax(z)·Σy − y, or sigmoid(z) − y, through the output layer's
//! activation when it has one. Accuracy reads the outputs as Keras does
//! (argmax, or z > 0.5 for one unit).

use super::{argmax, correct, Loss, LossTotals};
use crate::kernels::Activation;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

/// log Σ e^z, shifted by the maximum.
fn logsumexp(z: ArrayView1<f32>) -> f64 {
    let m = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    m + z.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The target of class `j` of a row: one-hot for class ids, else the float
/// target, smoothed toward the uniform (`ls`, Keras's label_smoothing).
fn target(classes: Option<i32>, values: &[f32], j: usize, k: usize, ls: f32, binary: bool) -> f32 {
    let y = match classes {
        Some(c) => (j == c as usize) as u8 as f32,
        None => values[j],
    };
    y * (1.0 - ls) + ls / if binary { 2.0 } else { k as f32 }
}

/// Loss and accuracy sums of a batch of logits.
pub fn totals(
    loss: Loss,
    z: ArrayView2<f32>,
    classes: Option<&[i32]>,
    values: &[f32],
    ls: f32,
    weights: Option<&[f32]>,
) -> LossTotals {
    let k = z.ncols().max(1);
    let binary = loss == Loss::BinaryCrossentropy;
    let mut t = LossTotals { count: z.nrows(), ..Default::default() };
    for (i, row) in z.rows().into_iter().enumerate() {
        let c = classes.map(|c| c[i]);
        let y = if c.is_some() { &[][..] } else { &values[i * k..(i + 1) * k] };
        let sample = if binary {
            (0..k)
                .map(|j| {
                    let (z, y) = (row[j] as f64, target(c, y, j, k, ls, true) as f64);
                    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
                })
                .sum::<f64>()
                / k as f64
        } else {
            let lse = logsumexp(row);
            (0..k).map(|j| target(c, y, j, k, ls, false) as f64 * (lse - row[j] as f64)).sum()
        };
        t.loss_sum += weights.map_or(sample, |w| sample * w[i] as f64);
        t.correct += match c {
            Some(c) => (argmax(row.iter().copied()) == c as usize) as u8 as f64,
            None => correct(row, y),
        };
    }
    t
}

/// dL/dz of the batch-mean loss, through the output layer's activation.
#[allow(clippy::too_many_arguments)]
pub fn output_gradient(
    loss: Loss,
    z: ArrayView2<f32>,
    classes: Option<&[i32]>,
    values: &[f32],
    ls: f32,
    weights: Option<&[f32]>,
    activation: Activation,
    mut dz: ArrayViewMut2<f32>,
) {
    let k = z.ncols().max(1);
    let binary = loss == Loss::BinaryCrossentropy;
    let batch_inv = 1.0 / z.nrows().max(1) as f32;
    for (i, (row, mut g_row)) in z.rows().into_iter().zip(dz.rows_mut()).enumerate() {
        let c = classes.map(|c| c[i]);
        let y = if c.is_some() { &[][..] } else { &values[i * k..(i + 1) * k] };
        let s = weights.map_or(batch_inv, |w| batch_inv * w[i]);
        if binary {
            for (j, g) in g_row.iter_mut().enumerate() {
                let d = sigmoid(row[j]) - target(c, y, j, k, ls, true);
                *g = d * s / k as f32 * activation.derivative_from_output(row[j]);
            }
        } else {
            let lse = logsumexp(row) as f32;
            let sum_y: f32 = (0..k).map(|j| target(c, y, j, k, ls, false)).sum();
            for (j, g) in g_row.iter_mut().enumerate() {
                let d = (row[j] - lse).exp() * sum_y - target(c, y, j, k, ls, false);
                *g = d * s * activation.derivative_from_output(row[j]);
            }
        }
    }
}
