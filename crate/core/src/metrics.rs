//! Metrics besides the loss and 'accuracy' (which every loss reports), by
//! Keras's names and with its defaults: mean absolute error, mean squared
//! error and its root; binary, categorical and top-5 accuracies; precision
//! and recall at 0.5; ROC AUC over 200 thresholds. Each adds its sums to slots of
//! `LossTotals::metric_sums` (a mean needs one, a ratio two); results are
//! what Keras's metrics report (unweighted, like compiled metrics).

use crate::error::{Error, Result};
use crate::losses::{argmax, Loss, LossTotals, Targets};
use ndarray::ArrayView2;

/// Keras's default number of AUC thresholds.
const AUC_THRESHOLDS: usize = 200;

/// Most metric sums one model keeps: enough for every metric once.
pub const MAX_METRICS: usize = 16 + 2 * AUC_THRESHOLDS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    BinaryAccuracy,
    CategoricalAccuracy,
    /// The target class among the 5 highest outputs.
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    /// True positives over predicted positives (p > 0.5).
    Precision,
    /// True positives over actual positives.
    Recall,
    /// Area under the ROC curve, Keras's AUC(): 200 evenly spaced
    /// thresholds, trapezoids between them.
    Auc,
}

/// Keras's k for the top-k accuracies.
const TOP_K: usize = 5;

impl Metric {
    /// Keras's names and short aliases ('accuracy' and its aliases are the loss's own).
    pub const NAMES: [&'static str; 13] = [
        "mae",
        "mean_absolute_error",
        "mse",
        "mean_squared_error",
        "rmse",
        "root_mean_squared_error",
        "binary_accuracy",
        "categorical_accuracy",
        "top_k_categorical_accuracy",
        "sparse_top_k_categorical_accuracy",
        "precision",
        "recall",
        "auc",
    ];

    /// The metric named `name` for a model trained with `loss`.
    pub fn parse(name: &str, loss: Loss) -> Result<Metric> {
        let metric = match name {
            "mae" | "mean_absolute_error" => Metric::MeanAbsoluteError,
            "mse" | "mean_squared_error" => Metric::MeanSquaredError,
            "rmse" | "root_mean_squared_error" => Metric::RootMeanSquaredError,
            "binary_accuracy" => Metric::BinaryAccuracy,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "top_k_categorical_accuracy" => Metric::TopKCategoricalAccuracy,
            "sparse_top_k_categorical_accuracy" => Metric::SparseTopKCategoricalAccuracy,
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "auc" => Metric::Auc,
            _ => {
                return Err(Error::Value(format!(
                    "Unknown metric: '{name}'. Expected 'accuracy' or one of: {}",
                    Self::NAMES.join(", ")
                )))
            }
        };
        let wants_classes = metric == Metric::SparseTopKCategoricalAccuracy;
        if loss.uses_classes() != wants_classes {
            let (wanted, got) = if wants_classes {
                ("class-index targets", "float targets")
            } else {
                ("float targets", "class indices (the sparse crossentropy)")
            };
            return Err(Error::Value(format!(
                "Expected {wanted} for the metric '{name}'. Received: a model compiled for {got}"
            )));
        }
        Ok(metric)
    }

    /// How many sums it keeps: a ratio keeps numerator and denominator.
    fn slots(self) -> usize {
        match self {
            Metric::Precision | Metric::Recall => 2,
            // Counts of positives, then of negatives, per threshold bucket.
            Metric::Auc => 2 * AUC_THRESHOLDS,
            _ => 1,
        }
    }

    /// Adds this metric's sums for a batch to `sums` (`slots()` of them).
    fn add(self, output: ArrayView2<f32>, targets: Targets, sums: &mut [f64]) {
        let data = match targets {
            // Only the sparse top-k takes class ids (checked at compile).
            Targets::Classes(labels) => {
                let hits =
                    output.rows().into_iter().zip(labels).filter(|(row, &y)| in_top_k(row.iter().copied(), y as usize));
                sums[0] += hits.count() as f64;
                return;
            }
            Targets::Values { data, .. } => data,
        };
        let k = output.ncols().max(1);
        for (row, y) in output.rows().into_iter().zip(data.chunks(k)) {
            let per_unit = |f: &dyn Fn(f32, f32) -> f64| row.iter().zip(y).map(|(&p, &y)| f(p, y)).sum::<f64>();
            let positive = |p: f32| p > 0.5;
            match self {
                Metric::MeanAbsoluteError => sums[0] += per_unit(&|p, y| (p as f64 - y as f64).abs()) / k as f64,
                Metric::MeanSquaredError | Metric::RootMeanSquaredError => {
                    sums[0] += per_unit(&|p, y| (p as f64 - y as f64).powi(2)) / k as f64
                }
                Metric::BinaryAccuracy => {
                    sums[0] += per_unit(&|p, y| (y == positive(p) as u8 as f32) as u8 as f64) / k as f64
                }
                Metric::CategoricalAccuracy => {
                    sums[0] += (argmax(row.iter().copied()) == argmax(y.iter().copied())) as u8 as f64
                }
                Metric::TopKCategoricalAccuracy => {
                    sums[0] += in_top_k(row.iter().copied(), argmax(y.iter().copied())) as u8 as f64
                }
                Metric::SparseTopKCategoricalAccuracy => {}
                Metric::Auc => {
                    for (&p, &y) in row.iter().zip(y) {
                        let negative = (y == 0.0) as usize;
                        sums[negative * AUC_THRESHOLDS + auc_bucket(p)] += 1.0;
                    }
                }
                Metric::Precision | Metric::Recall => {
                    sums[0] += per_unit(&|p, y| (positive(p) && y > 0.5) as u8 as f64);
                    sums[1] += if self == Metric::Precision {
                        per_unit(&|p, _| positive(p) as u8 as f64)
                    } else {
                        per_unit(&|_, y| (y > 0.5) as u8 as f64)
                    };
                }
            }
        }
    }

    /// The metric's value from its sums over `count` samples.
    fn result(self, sums: &[f64], count: usize) -> f64 {
        let mean = sums[0] / count.max(1) as f64;
        match self {
            Metric::RootMeanSquaredError => mean.sqrt(),
            Metric::Auc => auc(&sums[..AUC_THRESHOLDS], &sums[AUC_THRESHOLDS..]),
            // Keras: 0 when nothing was predicted (or is) positive.
            Metric::Precision | Metric::Recall => {
                if sums[1] > 0.0 {
                    sums[0] / sums[1]
                } else {
                    0.0
                }
            }
            _ => mean,
        }
    }
}

/// The last threshold an output exceeds, as Keras buckets it: thresholds
/// are −ε, 1/199, 2/199, …, 198/199, 1 + ε; an output p exceeds the first
/// ⌈199·p⌉ of them (all outputs exceed −ε), outputs clipped to [0, 1].
fn auc_bucket(p: f32) -> usize {
    let steps = (AUC_THRESHOLDS - 1) as f32;
    let p = if p > 1.0 {
        1.0
    } else if p >= 0.0 {
        p
    } else {
        0.0
    };
    ((p * steps).ceil() as usize).saturating_sub(1)
}

/// ROC AUC from per-bucket counts: at threshold i the true (false)
/// positives are the positives (negatives) in buckets ≥ i; the curve of
/// (false positive rate, recall) is summed in trapezoids, 0 where a rate's
/// denominator is 0 (Keras's divide_no_nan).
fn auc(positives: &[f64], negatives: &[f64]) -> f64 {
    let (p, n) = (positives.iter().sum::<f64>(), negatives.iter().sum::<f64>());
    let rate = |count: f64, total: f64| if total > 0.0 { count / total } else { 0.0 };
    let (mut tp, mut fp) = (p, n);
    let mut points = Vec::with_capacity(positives.len());
    for (&pos, &neg) in positives.iter().zip(negatives) {
        points.push((rate(fp, n), rate(tp, p)));
        tp -= pos;
        fp -= neg;
    }
    points.windows(2).map(|w| (w[0].0 - w[1].0) * (w[0].1 + w[1].1) / 2.0).sum()
}

/// Whether class `target` is among the `TOP_K` highest outputs (ties count
/// for it, as Keras's in_top_k counts only strictly higher outputs).
fn in_top_k(outputs: impl Iterator<Item = f32> + Clone, target: usize) -> bool {
    let Some(score) = outputs.clone().nth(target) else { return false };
    outputs.filter(|&v| v > score).count() < TOP_K
}

/// Names a batch's or an epoch's totals as Keras logs them: `loss`,
/// `accuracy`, then each compiled metric under the name compile was given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logger {
    pub metrics: Vec<Metric>,
    pub names: Vec<String>,
}

impl Logger {
    pub fn logs(&self, totals: &LossTotals) -> Vec<(String, f64)> {
        let mut out = vec![("loss".to_string(), totals.mean_loss()), ("accuracy".to_string(), totals.accuracy())];
        out.extend(self.names.iter().cloned().zip(values(&self.metrics, totals)));
        out
    }
}

/// Each metric's value from `totals`.
pub fn values(metrics: &[Metric], totals: &LossTotals) -> Vec<f64> {
    let mut at = 0;
    metrics
        .iter()
        .map(|m| {
            let value = m.result(&totals.metric_sums[at..at + m.slots()], totals.count);
            at += m.slots();
            value
        })
        .collect()
}

/// Whether these metrics' sums fit in `LossTotals::metric_sums`.
pub fn fit(metrics: &[Metric]) -> bool {
    metrics.iter().map(|m| m.slots()).sum::<usize>() <= MAX_METRICS
}

/// Adds each metric's batch sums to `totals`.
pub fn accumulate(metrics: &[Metric], output: ArrayView2<f32>, targets: Targets, totals: &mut LossTotals) {
    let mut at = 0;
    for metric in metrics {
        metric.add(output, targets, &mut totals.metric_sums[at..at + metric.slots()]);
        at += metric.slots();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// keras.metrics.MeanAbsoluteError / MeanSquaredError / RootMeanSquaredError
    /// on y = [[0, 1], [2, 3]], p = [[0.5, 1], [1, 5]]: 0.875, 1.3125, 1.1456439.
    #[test]
    fn match_kerass_values() {
        let p = array![[0.5f32, 1.0], [1.0, 5.0]];
        let y = [0.0f32, 1.0, 2.0, 3.0];
        let targets = Targets::Values { data: &y, width: 2 };
        let metrics = [Metric::MeanAbsoluteError, Metric::MeanSquaredError, Metric::RootMeanSquaredError];
        let mut t = LossTotals { count: 2, ..Default::default() };
        accumulate(&metrics, p.view(), targets, &mut t);
        let got = values(&metrics, &t);
        for (g, want) in got.iter().zip([0.875, 1.3125, 1.145_643_923_738_960_2]) {
            assert!((g - want).abs() < 1e-9, "{got:?}");
        }
    }

    /// Every classification metric against keras.metrics' own objects
    /// (test/golden/keras_metric_values.py beside its JSON).
    #[test]
    fn classification_metrics_match_keras() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/golden/keras-metric-values.json");
        let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rows = |v: &serde_json::Value| -> Vec<Vec<f64>> {
            let row = |r: &serde_json::Value| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            v.as_array().unwrap().iter().map(row).collect()
        };
        let p = rows(&golden["p"]);
        let (n, k) = (p.len(), p[0].len());
        let p = ndarray::Array2::from_shape_fn((n, k), |(i, j)| p[i][j] as f32);
        for (name, want) in golden["values"].as_object().unwrap() {
            let y = &golden["targets"][name];
            let sparse = name.starts_with("sparse");
            let loss = if sparse { Loss::SparseCategoricalCrossentropy } else { Loss::MeanSquaredError };
            let metric = Metric::parse(name, loss).unwrap();
            let classes: Vec<i32> = if sparse {
                y.as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i32).collect()
            } else {
                vec![]
            };
            let floats: Vec<f32> = if sparse { vec![] } else { rows(y).concat().iter().map(|&v| v as f32).collect() };
            let targets = if sparse { Targets::Classes(&classes) } else { Targets::Values { data: &floats, width: k } };
            let mut t = LossTotals { count: n, ..Default::default() };
            accumulate(&[metric], p.view(), targets, &mut t);
            let got = values(&[metric], &t)[0];
            assert!((got - want.as_f64().unwrap()).abs() < 1e-6, "{name}: {got} vs Keras {want}");
        }
    }

    /// Outputs on the thresholds themselves, at 0 and 1 and outside [0, 1].
    #[test]
    fn auc_buckets_outputs_on_thresholds_as_keras_does() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/golden/keras-metric-values.json");
        let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let case = &golden["auc_edges"];
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
        };
        let (p, y) = (floats(&case["p"]), floats(&case["y"]));
        let p = ndarray::Array2::from_shape_vec((p.len(), 1), p).unwrap();
        let mut t = LossTotals { count: y.len(), ..Default::default() };
        accumulate(&[Metric::Auc], p.view(), Targets::Values { data: &y, width: 1 }, &mut t);
        let got = values(&[Metric::Auc], &t)[0];
        let want = case["value"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{got} vs Keras {want}");
    }

    #[test]
    fn names_and_refusals() {
        assert_eq!(Metric::parse("mae", Loss::MeanSquaredError).unwrap(), Metric::MeanAbsoluteError);
        assert_eq!(Metric::parse("auroc", Loss::MeanSquaredError).unwrap_err().code(), "ERR_FERRO_VALUE");
        assert_eq!(Metric::parse("auc", Loss::SparseCategoricalCrossentropy).unwrap_err().code(), "ERR_FERRO_VALUE");
        assert!(Metric::parse("mse", Loss::SparseCategoricalCrossentropy).is_err());
    }
}
