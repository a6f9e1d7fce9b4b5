//! Learning rates that change with the step, as Keras 3's
//! keras/src/optimizers/schedules/learning_rate_schedule.py computes them:
//! in float32, at the optimizer's iteration count before the step (0 for
//! the first).

use super::{finite_f32, FINITE_F32, POSITIVE_F32};
use crate::error::{js_number, Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    Constant(f64),
    /// lr₀ · rateᵖ, p = step / decay_steps (floored with `staircase`).
    ExponentialDecay {
        initial: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    },
    /// lr₀ / (1 + rate · p), p as above.
    InverseTimeDecay {
        initial: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    },
    /// values[0] up to boundaries[0] (inclusive), values[i] up to boundaries[i], then the last.
    PiecewiseConstantDecay {
        boundaries: Vec<f64>,
        values: Vec<f64>,
    },
    /// An optional linear warmup from lr₀ to `warmup_target` over
    /// `warmup_steps`, then a cosine from there to `alpha` times it over
    /// `decay_steps`.
    CosineDecay {
        initial: f64,
        decay_steps: f64,
        alpha: f64,
        warmup_target: Option<f64>,
        warmup_steps: f64,
    },
}

impl LearningRate {
    /// The rate at `step` (the optimizer's iterations so far).
    pub fn at(&self, step: u64) -> f32 {
        let s = step as f32;
        match *self {
            LearningRate::Constant(lr) => lr as f32,
            LearningRate::ExponentialDecay { initial, decay_steps, decay_rate, staircase } => {
                let p = power(s / decay_steps as f32, staircase);
                initial as f32 * (decay_rate as f32).powf(p)
            }
            LearningRate::InverseTimeDecay { initial, decay_steps, decay_rate, staircase } => {
                let p = power(s / decay_steps as f32, staircase);
                initial as f32 / (1.0 + decay_rate as f32 * p)
            }
            LearningRate::PiecewiseConstantDecay { ref boundaries, ref values } => {
                let i = boundaries.iter().position(|&b| s <= b as f32).unwrap_or(boundaries.len());
                values[i] as f32
            }
            LearningRate::CosineDecay { initial, decay_steps, alpha, warmup_target, warmup_steps } => {
                let (lr0, decay, alpha) = (initial as f32, decay_steps as f32, alpha as f32);
                let cosine = |step: f32, from: f32| {
                    let decayed = 0.5 * (1.0 + (std::f32::consts::PI * (step / decay)).cos());
                    from * ((1.0 - alpha) * decayed + alpha)
                };
                match warmup_target {
                    None => cosine(s.min(decay), lr0),
                    Some(target) => {
                        let (target, warmup) = (target as f32, warmup_steps as f32);
                        let s = s.min(decay + warmup);
                        if s < warmup {
                            (target - lr0) * (s / warmup) + lr0
                        } else {
                            cosine(s - warmup, target)
                        }
                    }
                }
            }
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, expected: &str, v: f64| {
            Err(Error::Value(format!(
                "Expected {expected} for the learning rate {what}. Received: {what}={}",
                js_number(v)
            )))
        };
        let rate = |what: &str, v: f64| if finite_f32(v) && v >= 0.0 { Ok(()) } else { bad(what, FINITE_F32, v) };
        let steps =
            |what: &str, v: f64| if v as f32 > 0.0 && finite_f32(v) { Ok(()) } else { bad(what, POSITIVE_F32, v) };
        match *self {
            LearningRate::Constant(lr) => rate("learningRate", lr),
            LearningRate::ExponentialDecay { initial, decay_steps, decay_rate, .. }
            | LearningRate::InverseTimeDecay { initial, decay_steps, decay_rate, .. } => {
                rate("initialLearningRate", initial)?;
                steps("decaySteps", decay_steps)?;
                rate("decayRate", decay_rate)
            }
            LearningRate::PiecewiseConstantDecay { ref boundaries, ref values } => {
                if values.len() != boundaries.len() + 1 {
                    return Err(Error::Value(format!(
                        "Expected one more value than boundaries for PiecewiseConstantDecay. Received: {} boundaries, {} values",
                        boundaries.len(),
                        values.len()
                    )));
                }
                if boundaries.iter().any(|b| !b.is_finite()) || boundaries.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(Error::Value(format!(
                        "Expected finite, increasing boundaries for PiecewiseConstantDecay. Received: {boundaries:?}"
                    )));
                }
                values.iter().try_for_each(|&v| rate("values", v))
            }
            LearningRate::CosineDecay { initial, decay_steps, alpha, warmup_target, warmup_steps } => {
                rate("initialLearningRate", initial)?;
                steps("decaySteps", decay_steps)?;
                if !(0.0..=1.0).contains(&alpha) {
                    return bad("alpha", "a number in [0, 1]", alpha);
                }
                if let Some(t) = warmup_target {
                    rate("warmupTarget", t)?;
                    steps("warmupSteps", warmup_steps)?;
                }
                Ok(())
            }
        }
    }
}

fn power(p: f32, staircase: bool) -> f32 {
    if staircase {
        p.floor()
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed values at the edges of each schedule's pieces.
    #[test]
    fn keras_unit_test_values() {
        let exp = LearningRate::ExponentialDecay { initial: 1.0, decay_steps: 10.0, decay_rate: 0.5, staircase: true };
        assert_eq!([exp.at(0), exp.at(9), exp.at(10), exp.at(25)], [1.0, 1.0, 0.5, 0.25]);
        let inv = LearningRate::InverseTimeDecay { initial: 0.1, decay_steps: 1.0, decay_rate: 0.5, staircase: false };
        assert!((inv.at(2) - 0.1 / 2.0).abs() < 1e-8);
        let pw = LearningRate::PiecewiseConstantDecay {
            boundaries: vec![100.0, 110.0, 120.0],
            values: vec![1.0, 0.1, 0.01, 0.001],
        };
        assert_eq!(
            [pw.at(0), pw.at(100), pw.at(101), pw.at(110), pw.at(120), pw.at(999)],
            [1.0, 1.0, 0.1, 0.1, 0.01, 0.001]
        );
        let cos = LearningRate::CosineDecay {
            initial: 1.0,
            decay_steps: 100.0,
            alpha: 0.1,
            warmup_target: None,
            warmup_steps: 0.0,
        };
        assert!((cos.at(50) - 0.55).abs() < 1e-6 && (cos.at(500) - 0.1).abs() < 1e-6);
        let warm = LearningRate::CosineDecay {
            initial: 0.0,
            decay_steps: 10.0,
            alpha: 0.0,
            warmup_target: Some(1.0),
            warmup_steps: 4.0,
        };
        assert_eq!([warm.at(0), warm.at(2), warm.at(4)], [0.0, 0.5, 1.0]);
        assert!(warm.at(14).abs() < 1e-7 && (warm.at(9) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn refuses_inconsistent_schedules() {
        let pw = LearningRate::PiecewiseConstantDecay { boundaries: vec![10.0, 5.0], values: vec![1.0, 0.5, 0.1] };
        assert_eq!(pw.validate().unwrap_err().code(), "ERR_FERRO_VALUE");
        let pw = LearningRate::PiecewiseConstantDecay { boundaries: vec![10.0], values: vec![1.0] };
        assert!(pw.validate().is_err());
        let exp = LearningRate::ExponentialDecay { initial: 1.0, decay_steps: 0.0, decay_rate: 0.5, staircase: false };
        assert!(exp.validate().is_err());
    }
}
