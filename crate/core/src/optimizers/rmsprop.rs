//! RMSprop with Keras 3 semantics (keras/src/optimizers/rmsprop.py):
//!   v ← ρ·v + (1−ρ)·g²
//!   (centered)  ḡ ← ρ·ḡ + (1−ρ)·g,  denominator = v − ḡ² + ε, else v + ε
//!   Δ ← lr·g / √denominator
//!   (momentum)  m ← μ·m + Δ,  w ← w − m;  else w ← w − Δ
//! Everything in f32, as Keras does with float32 variables.

use crate::alloc::zeroed;
use crate::error::{Error, Result};
use crate::kernels::rmsprop::{rmsprop_plain, RmsPropStep};
use crate::kernels::Isa;
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    pub learning_rate: f64,
    pub rho: f64,
    pub epsilon: f64,
    pub momentum: f64,
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig { learning_rate: 1e-3, rho: 0.9, epsilon: 1e-7, momentum: 0.0, centered: false }
    }
}

impl RmsPropConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, expected: &str, v: f64| {
            Err(Error::Value(format!("Expected {expected} for RMSprop {what}. Received: {what}={v}")))
        };
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return bad("learningRate", "a finite number >= 0", self.learning_rate);
        }
        if !(0.0..=1.0).contains(&self.rho) {
            return bad("rho", "a number in [0, 1]", self.rho);
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return bad("momentum", "a number in [0, 1]", self.momentum);
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad("epsilon", "a positive number", self.epsilon);
        }
        Ok(())
    }
}

/// Optimizer state of one parameter tensor.
struct Slots {
    velocity: Vec<f32>,
    momentum: Vec<f32>,
    average_grad: Vec<f32>,
}

pub struct RmsProp {
    pub config: RmsPropConfig,
    slots: Vec<Slots>,
}

/// Elements per parallel chunk; fixed, so results never depend on threads.
const CHUNK: usize = 1 << 14;

impl RmsProp {
    pub fn new(config: RmsPropConfig) -> Result<RmsProp> {
        config.validate()?;
        Ok(RmsProp { config, slots: Vec::new() })
    }

    /// Creates zeroed slots for parameters of these sizes, once.
    pub fn build(&mut self, param_lens: &[usize]) -> Result<()> {
        if self.slots.len() == param_lens.len()
            && self.slots.iter().zip(param_lens).all(|(s, &n)| s.velocity.len() == n)
        {
            return Ok(());
        }
        let c = self.config;
        self.slots = param_lens
            .iter()
            .map(|&n| {
                Ok(Slots {
                    velocity: zeroed(n, "RMSprop velocity")?,
                    momentum: zeroed(if c.momentum > 0.0 { n } else { 0 }, "RMSprop momentum")?,
                    average_grad: zeroed(if c.centered { n } else { 0 }, "RMSprop average gradient")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// One update of parameter `index`; `build` must have sized its slots.
    /// `isa` picks the vector kernel for the common plain case.
    pub fn update_step(&mut self, isa: Isa, index: usize, weights: &mut [f32], grads: &[f32]) {
        let c = self.config;
        let slots = &mut self.slots[index];
        assert!(weights.len() == grads.len() && slots.velocity.len() == weights.len(), "RMSprop slot size mismatch");
        let k = Coefficients::of(&c);
        let n = weights.len();
        if c.momentum == 0.0 && !c.centered {
            let step = k.plain_step();
            if n >= 4 * CHUNK {
                weights
                    .par_chunks_mut(CHUNK)
                    .zip(grads.par_chunks(CHUNK))
                    .zip(slots.velocity.par_chunks_mut(CHUNK))
                    .for_each(|((w, g), v)| rmsprop_plain(isa, &step, w, g, v));
            } else {
                rmsprop_plain(isa, &step, weights, grads, &mut slots.velocity);
            }
        } else {
            // The general form, sequential: momentum and centered are rare.
            for i in 0..n {
                k.general(
                    i,
                    weights,
                    grads,
                    &mut slots.velocity,
                    &mut slots.momentum,
                    &mut slots.average_grad,
                    c.centered,
                );
            }
        }
    }
}

struct Coefficients {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    epsilon: f32,
    momentum: f32,
}

impl Coefficients {
    fn of(c: &RmsPropConfig) -> Self {
        Coefficients {
            lr: c.learning_rate as f32,
            rho: c.rho as f32,
            one_minus_rho: (1.0 - c.rho) as f32,
            epsilon: c.epsilon as f32,
            momentum: c.momentum as f32,
        }
    }

    fn plain_step(&self) -> RmsPropStep {
        RmsPropStep { lr: self.lr, rho: self.rho, one_minus_rho: self.one_minus_rho, epsilon: self.epsilon }
    }

    #[allow(clippy::too_many_arguments)]
    fn general(
        &self,
        i: usize,
        w: &mut [f32],
        g: &[f32],
        v: &mut [f32],
        m: &mut [f32],
        avg: &mut [f32],
        centered: bool,
    ) {
        let g = g[i];
        v[i] = self.rho * v[i] + self.one_minus_rho * (g * g);
        let denominator = if centered {
            avg[i] = self.rho * avg[i] + self.one_minus_rho * g;
            v[i] - avg[i] * avg[i] + self.epsilon
        } else {
            v[i] + self.epsilon
        };
        let increment = self.lr * g / denominator.sqrt();
        if self.momentum > 0.0 {
            m[i] = self.momentum * m[i] + increment;
            w[i] -= m[i];
        } else {
            w[i] -= increment;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keras/src/optimizers/rmsprop_test.py::test_single_step.
    #[test]
    fn keras_single_step() {
        let mut opt = RmsProp::new(RmsPropConfig { learning_rate: 0.5, ..Default::default() }).unwrap();
        let mut w = [1.0f32, 2.0, 3.0, 4.0];
        opt.build(&[4]).unwrap();
        opt.update_step(Isa::scalar(), 0, &mut w, &[1.0, 6.0, 7.0, 2.0]);
        for (got, want) in w.iter().zip([-0.5811f32, 0.4189, 1.4189, 2.4189]) {
            assert!((got - want).abs() < 1e-4, "{w:?}");
        }
    }

    /// keras/src/optimizers/rmsprop_test.py::test_correctness_with_golden (centered).
    #[test]
    fn keras_centered_golden() {
        let mut opt = RmsProp::new(RmsPropConfig { centered: true, ..Default::default() }).unwrap();
        opt.build(&[10]).unwrap();
        let mut x = [1.0f32; 10];
        let grads: Vec<f32> = (1..=10).map(|i| i as f32 * 0.1).collect();
        opt.update_step(Isa::scalar(), 0, &mut x, &[0.01; 10]);
        for golden in [0.9967f32, 0.9933, 0.9908, 0.9885, 0.9864] {
            assert!(x.iter().all(|v| (v - golden).abs() < 5e-4 + 5e-4 * golden), "{x:?} vs {golden}");
            opt.update_step(Isa::scalar(), 0, &mut x, &grads);
        }
    }

    /// Momentum and the parallel path against a float64 transcription of the formula.
    #[test]
    fn momentum_and_parallel_chunks_match_float64() {
        for (momentum, n) in [(0.0, 5 * CHUNK + 3), (0.9, 1000)] {
            let cfg = RmsPropConfig { learning_rate: 0.01, rho: 0.8, epsilon: 1e-6, momentum, centered: false };
            let mut opt = RmsProp::new(cfg).unwrap();
            opt.build(&[n]).unwrap();
            let mut w: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.1).collect();
            let (mut w64, mut v64, mut m64): (Vec<f64>, Vec<f64>, Vec<f64>) =
                (w.iter().map(|&x| x as f64).collect(), vec![0.0; n], vec![0.0; n]);
            for step in 0..3 {
                let g: Vec<f32> = (0..n).map(|i| ((i * 7 + step) % 11) as f32 * 0.05 - 0.25).collect();
                opt.update_step(Isa::detect(), 0, &mut w, &g);
                for i in 0..n {
                    let g = g[i] as f64;
                    v64[i] = 0.8 * v64[i] + 0.2 * g * g;
                    let inc = 0.01 * g / (v64[i] + 1e-6).sqrt();
                    m64[i] = momentum * m64[i] + inc;
                    w64[i] -= if momentum > 0.0 { m64[i] } else { inc };
                }
            }
            for i in 0..n {
                assert!((w[i] as f64 - w64[i]).abs() < 1e-5, "momentum={momentum} i={i}: {} vs {}", w[i], w64[i]);
            }
        }
    }

    #[test]
    fn refuses_out_of_range_hyperparameters() {
        for cfg in [
            RmsPropConfig { rho: 1.1, ..Default::default() },
            RmsPropConfig { rho: -0.1, ..Default::default() },
            RmsPropConfig { momentum: 2.0, ..Default::default() },
            RmsPropConfig { epsilon: 0.0, ..Default::default() },
            RmsPropConfig { learning_rate: f64::NAN, ..Default::default() },
        ] {
            assert_eq!(RmsProp::new(cfg).err().unwrap().code(), "ERR_FERRO_VALUE");
        }
        assert!(RmsProp::new(RmsPropConfig { rho: 1.0, momentum: 0.0, ..Default::default() }).is_ok());
    }
}
