//! RMSprop's options as Keras 3 names them (keras/src/optimizers/rmsprop.py);
//! its update is in rules.rs, and its common case has a hand-written SIMD
//! kernel (kernels/rmsprop.rs).

use super::{Clip, LearningRate, OptimizerConfig, Rule};

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

impl From<RmsPropConfig> for OptimizerConfig {
    fn from(c: RmsPropConfig) -> Self {
        OptimizerConfig {
            name: "RMSprop".into(),
            rule: Rule::RmsProp { rho: c.rho, momentum: c.momentum, epsilon: c.epsilon, centered: c.centered },
            learning_rate: LearningRate::Constant(c.learning_rate),
            weight_decay: None,
            clip: Clip::None,
        }
    }
}
