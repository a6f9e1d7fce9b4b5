//! Binary crossentropy, Keras 3: p clipped to [ε, 1−ε], then
//! −(y·log p + (1−y)·log(1−p)), averaged over the units. After a sigmoid its
//! gradient at the logit is exactly p − y (per unit, before averaging).

use super::pointwise::Pointwise;
use super::{clip, EPSILON};
use crate::kernels::Activation;

pub struct BinaryCrossentropy;

impl Pointwise for BinaryCrossentropy {
    fn value(&self, p: f32, y: f32) -> f64 {
        let p = clip(p) as f64;
        let y = y as f64;
        -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
    }

    fn derivative(&self, p: f32, y: f32) -> f32 {
        if p <= EPSILON || p >= 1.0 - EPSILON {
            return 0.0;
        }
        (p - y) / (p * (1.0 - p))
    }

    fn fused(&self, activation: Activation, p: f32, y: f32) -> Option<f32> {
        (activation == Activation::Sigmoid).then_some(p - y)
    }
}

#[cfg(test)]
mod tests {
    use super::super::pointwise::check_derivative;
    use super::*;

    #[test]
    fn value_and_derivative() {
        // −(log 0.8) for y = 1, −(log 0.7) for y = 0 at p = 0.3.
        assert!((BinaryCrossentropy.value(0.8, 1.0) - 0.2231435513).abs() < 1e-7);
        assert!((BinaryCrossentropy.value(0.3, 0.0) - 0.3566749439).abs() < 1e-7);
        check_derivative(&BinaryCrossentropy, &[(0.2, 1.0), (0.7, 0.0), (0.5, 0.3)]);
    }
}
