//! Metrics besides the loss and accuracy (which every loss reports), by
//! Keras's names: mean absolute error, mean squared error and its root.
//! Each adds its per-sample sums to `LossTotals::metric_sums`; results are
//! the means Keras's metrics report (unweighted, like compiled metrics).

use crate::error::{Error, Result};
use crate::losses::{Loss, LossTotals, Targets};
use ndarray::ArrayView2;

/// Most metrics one model reports besides accuracy.
pub const MAX_METRICS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
}

impl Metric {
    /// Keras's names and short aliases ('accuracy' and its aliases are the loss's own).
    pub const NAMES: [&'static str; 6] =
        ["mae", "mean_absolute_error", "mse", "mean_squared_error", "rmse", "root_mean_squared_error"];

    /// The metric named `name` for a model trained with `loss`.
    pub fn parse(name: &str, loss: Loss) -> Result<Metric> {
        let metric = match name {
            "mae" | "mean_absolute_error" => Metric::MeanAbsoluteError,
            "mse" | "mean_squared_error" => Metric::MeanSquaredError,
            "rmse" | "root_mean_squared_error" => Metric::RootMeanSquaredError,
            _ => {
                return Err(Error::Value(format!(
                    "Unknown metric: '{name}'. Expected 'accuracy' or one of: {}",
                    Self::NAMES.join(", ")
                )))
            }
        };
        if loss.uses_classes() {
            return Err(Error::Value(format!(
                "Expected float targets for the metric '{name}'. Received: a model compiled with the sparse crossentropy, whose targets are class indices"
            )));
        }
        Ok(metric)
    }

    /// The per-sample sum this metric adds for a batch (float targets only).
    fn batch_sum(self, output: ArrayView2<f32>, targets: Targets) -> f64 {
        let Targets::Values { data, width } = targets else { return f64::NAN };
        let k = width.max(1);
        output
            .rows()
            .into_iter()
            .zip(data.chunks(k))
            .map(|(row, y)| {
                let per_unit =
                    |f: fn(f64) -> f64| row.iter().zip(y).map(|(&p, &y)| f(p as f64 - y as f64)).sum::<f64>();
                match self {
                    Metric::MeanAbsoluteError => per_unit(f64::abs) / k as f64,
                    Metric::MeanSquaredError | Metric::RootMeanSquaredError => per_unit(|e| e * e) / k as f64,
                }
            })
            .sum()
    }

    /// The metric's value from its sum over `count` samples.
    pub fn result(self, sum: f64, count: usize) -> f64 {
        let mean = sum / count.max(1) as f64;
        match self {
            Metric::RootMeanSquaredError => mean.sqrt(),
            _ => mean,
        }
    }
}

/// Each metric's value from `totals`.
pub fn values(metrics: &[Metric], totals: &LossTotals) -> Vec<f64> {
    metrics.iter().zip(totals.metric_sums).map(|(m, s)| m.result(s, totals.count)).collect()
}

/// Adds each metric's batch sum to `totals`.
pub fn accumulate(metrics: &[Metric], output: ArrayView2<f32>, targets: Targets, totals: &mut LossTotals) {
    for (sum, metric) in totals.metric_sums.iter_mut().zip(metrics) {
        *sum += metric.batch_sum(output, targets);
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
        let got: Vec<f64> = metrics.iter().zip(t.metric_sums).map(|(m, s)| m.result(s, t.count)).collect();
        for (g, want) in got.iter().zip([0.875, 1.3125, 1.145_643_923_738_960_2]) {
            assert!((g - want).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn names_and_refusals() {
        assert_eq!(Metric::parse("mae", Loss::MeanSquaredError).unwrap(), Metric::MeanAbsoluteError);
        assert_eq!(Metric::parse("auc", Loss::MeanSquaredError).unwrap_err().code(), "ERR_FERRO_VALUE");
        assert!(Metric::parse("mse", Loss::SparseCategoricalCrossentropy).is_err());
    }
}
