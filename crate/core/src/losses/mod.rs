//! Losses with Keras 3's names, formulas and defaults; one file per loss.
//! A loss reads targets that are class ids (the sparse crossentropy) or a
//! float matrix with a column per output unit (every other loss), reports
//! its sums (loss, and the accuracy Keras's 'accuracy' resolves to for it)
//! and writes dL/dz at the last layer's pre-activation. Outputs are
//! probabilities (or values), not logits: Keras's `from_logits=False`.

pub mod binary_crossentropy;
pub mod categorical_crossentropy;
pub mod huber;
pub mod logits;
pub mod mean_absolute_error;
pub mod mean_squared_error;
mod pointwise;
pub mod sparse_categorical_crossentropy;

use crate::error::{Error, Result};
use crate::kernels::Activation;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};
pub use sparse_categorical_crossentropy::check_labels;

/// Keras's clipping epsilon for crossentropies.
pub const EPSILON: f32 = 1e-7;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    SparseCategoricalCrossentropy,
    CategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    /// With Keras's default delta of 1.
    Huber,
}

/// Options of the crossentropies, as Keras names them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossOptions {
    /// The outputs are logits, not probabilities (the three crossentropies).
    pub from_logits: bool,
    /// Targets pulled toward uniform by this much (categorical and binary crossentropy).
    pub label_smoothing: f32,
}

/// What a batch's targets are.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// A class index per sample.
    Classes(&'a [i32]),
    /// A row of `width` floats per sample, row-major.
    Values { data: &'a [f32], width: usize },
}

impl Targets<'_> {
    pub fn len(&self) -> usize {
        match *self {
            Targets::Classes(c) => c.len(),
            Targets::Values { data, width } => data.len() / width.max(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples `start..end`.
    pub fn rows(&self, start: usize, end: usize) -> Self {
        match *self {
            Targets::Classes(c) => Targets::Classes(&c[start..end]),
            Targets::Values { data, width } => Targets::Values { data: &data[start * width..end * width], width },
        }
    }
}

impl Loss {
    /// Keras's names, its short aliases and TensorFlow.js's camelCase ones.
    pub const NAMES: [&'static str; 14] = [
        "sparse_categorical_crossentropy",
        "sparseCategoricalCrossentropy",
        "categorical_crossentropy",
        "categoricalCrossentropy",
        "binary_crossentropy",
        "binaryCrossentropy",
        "mean_squared_error",
        "mse",
        "meanSquaredError",
        "mean_absolute_error",
        "mae",
        "meanAbsoluteError",
        "huber",
        "huber_loss",
    ];

    pub fn parse(name: &str) -> Result<Loss> {
        use Loss::*;
        Ok(match name {
            "sparse_categorical_crossentropy" | "sparseCategoricalCrossentropy" => SparseCategoricalCrossentropy,
            "categorical_crossentropy" | "categoricalCrossentropy" => CategoricalCrossentropy,
            "binary_crossentropy" | "binaryCrossentropy" => BinaryCrossentropy,
            "mean_squared_error" | "mse" | "meanSquaredError" => MeanSquaredError,
            "mean_absolute_error" | "mae" | "meanAbsoluteError" => MeanAbsoluteError,
            "huber" | "huber_loss" => Huber,
            _ => {
                return Err(Error::Value(format!(
                    "Unknown loss: '{name}'. Expected one of: {}",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }

    /// Whether targets are class ids (else a float per output unit).
    pub fn uses_classes(self) -> bool {
        self == Loss::SparseCategoricalCrossentropy
    }

    /// Checks targets against `units` outputs: the kind, the width, the values.
    pub fn check(self, targets: Targets, units: usize) -> Result<()> {
        match (targets, self.uses_classes()) {
            (Targets::Classes(labels), true) => check_labels(labels, units),
            (Targets::Values { data, width }, false) => {
                if width != units {
                    return Err(Error::Shape(format!(
                        "Expected targets with {units} values per sample, one per output unit. Received: {width}"
                    )));
                }
                match data.iter().position(|v| !v.is_finite()) {
                    Some(i) => Err(Error::Value(format!("Expected finite targets. Received: y[{i}]={}", data[i]))),
                    None => Ok(()),
                }
            }
            (Targets::Classes(_), false) => {
                Err(Error::Type(format!("Expected float targets for {self:?}. Received: class indices")))
            }
            (Targets::Values { .. }, true) => {
                Err(Error::Type("Expected class indices for the sparse crossentropy. Received: float targets".into()))
            }
        }
    }

    /// Whether `options` apply to this loss (else compile refuses them).
    pub fn takes(self, options: LossOptions) -> bool {
        let crossentropy = matches!(
            self,
            Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy | Loss::BinaryCrossentropy
        );
        let smoothing = matches!(self, Loss::CategoricalCrossentropy | Loss::BinaryCrossentropy);
        (!options.from_logits || crossentropy) && (options.label_smoothing == 0.0 || smoothing)
    }

    /// Loss (each sample's times its weight) and accuracy sums over a batch.
    pub fn totals(
        self,
        output: ArrayView2<f32>,
        targets: Targets,
        weights: Option<&[f32]>,
        options: LossOptions,
    ) -> LossTotals {
        if options.from_logits || options.label_smoothing != 0.0 {
            let (classes, values) = split(targets);
            if options.from_logits {
                return logits::totals(self, output, classes, values, options.label_smoothing, weights);
            }
            // Smoothed probabilities: the crossentropy of the smoothed targets.
            return smoothed(output, values, options.label_smoothing, self, |y| {
                self.totals(output, y, weights, LossOptions::default())
            });
        }
        match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, Targets::Classes(labels)) => {
                sparse_categorical_crossentropy::totals(output, labels, weights)
            }
            (Loss::CategoricalCrossentropy, Targets::Values { data, .. }) => {
                categorical_crossentropy::totals(output, data, weights)
            }
            (_, Targets::Values { data, .. }) => pointwise::totals(self.pointwise(), output, data, weights),
            _ => unreachable!("targets were checked against the loss"),
        }
    }

    /// dL/dz for the batch-mean loss, given the output y = f(z).
    pub fn output_gradient(
        self,
        output: ArrayView2<f32>,
        targets: Targets,
        weights: Option<&[f32]>,
        options: LossOptions,
        activation: Activation,
        dz: ArrayViewMut2<f32>,
    ) {
        if options.from_logits {
            let (classes, values) = split(targets);
            let ls = options.label_smoothing;
            return logits::output_gradient(self, output, classes, values, ls, weights, activation, dz);
        }
        if options.label_smoothing != 0.0 {
            let (_, values) = split(targets);
            let ls = options.label_smoothing;
            return smoothed(output, values, ls, self, |y| {
                self.output_gradient(output, y, weights, LossOptions::default(), activation, dz)
            });
        }
        match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, Targets::Classes(labels)) => {
                sparse_categorical_crossentropy::output_gradient(output, labels, weights, activation, dz)
            }
            (Loss::CategoricalCrossentropy, Targets::Values { data, .. }) => {
                categorical_crossentropy::output_gradient(output, data, weights, activation, dz)
            }
            (_, Targets::Values { data, .. }) => {
                pointwise::output_gradient(self.pointwise(), output, data, weights, activation, dz)
            }
            _ => unreachable!("targets were checked against the loss"),
        }
    }

    fn pointwise(self) -> &'static dyn pointwise::Pointwise {
        match self {
            Loss::BinaryCrossentropy => &binary_crossentropy::BinaryCrossentropy,
            Loss::MeanSquaredError => &mean_squared_error::MeanSquaredError,
            Loss::MeanAbsoluteError => &mean_absolute_error::MeanAbsoluteError,
            Loss::Huber => &huber::Huber { delta: 1.0 },
            _ => unreachable!("a row-wise loss"),
        }
    }
}

/// Sums over a batch; means are taken by whoever knows how many rows were seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossTotals {
    pub loss_sum: f64,
    /// Samples judged right (a binary accuracy counts each sample's share of right units).
    pub correct: f64,
    pub count: usize,
    /// Per-sample sums of the compiled metrics (metrics.rs), in compile order.
    pub metric_sums: [f64; crate::metrics::MAX_METRICS],
}

impl Default for LossTotals {
    fn default() -> Self {
        LossTotals { loss_sum: 0.0, correct: 0.0, count: 0, metric_sums: [0.0; crate::metrics::MAX_METRICS] }
    }
}

impl LossTotals {
    pub fn add(&mut self, other: LossTotals) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
        for (a, b) in self.metric_sums.iter_mut().zip(other.metric_sums) {
            *a += b;
        }
    }
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }
    pub fn accuracy(&self) -> f64 {
        self.correct / self.count.max(1) as f64
    }
}

pub(crate) fn clip(p: f32) -> f32 {
    p.clamp(EPSILON, 1.0 - EPSILON)
}

/// 1 when a row of outputs judges its float targets right, as Keras 3
/// resolves 'accuracy' by the output's width: binary accuracy (p > 0.5
/// equals the target) for one unit, else categorical (argmax equals argmax).
pub(crate) fn correct(row: ArrayView1<f32>, targets: &[f32]) -> f64 {
    let right = if row.len() == 1 {
        targets[0] == if row[0] > 0.5 { 1.0 } else { 0.0 }
    } else {
        argmax(row.iter().copied()) == argmax(targets.iter().copied())
    };
    right as u8 as f64
}

/// Index of the first maximum (NaN never wins).
pub fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

fn split<'a>(targets: Targets<'a>) -> (Option<&'a [i32]>, &'a [f32]) {
    match targets {
        Targets::Classes(c) => (Some(c), &[]),
        Targets::Values { data, .. } => (None, data),
    }
}

/// Runs `f` on the targets smoothed as Keras smooths them: y·(1 − ls) +
/// ls/K for the categorical crossentropy, + ls/2 for the binary one. (A
/// small allocation per batch, only when label smoothing is on.)
fn smoothed<R>(output: ArrayView2<f32>, y: &[f32], ls: f32, loss: Loss, f: impl FnOnce(Targets) -> R) -> R {
    let k = output.ncols().max(1);
    let uniform = if loss == Loss::BinaryCrossentropy { 0.5 } else { 1.0 / k as f32 };
    let smooth: Vec<f32> = y.iter().map(|&v| v * (1.0 - ls) + ls * uniform).collect();
    f(Targets::Values { data: &smooth, width: k })
}
