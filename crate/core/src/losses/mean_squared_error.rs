//! Mean squared error, Keras 3: (y − p)², averaged over the units.

use super::pointwise::Pointwise;

pub struct MeanSquaredError;

impl Pointwise for MeanSquaredError {
    fn value(&self, p: f32, y: f32) -> f64 {
        let d = p as f64 - y as f64;
        d * d
    }

    fn derivative(&self, p: f32, y: f32) -> f32 {
        2.0 * (p - y)
    }
}

#[cfg(test)]
mod tests {
    use super::super::pointwise::check_derivative;
    use super::*;

    #[test]
    fn value_and_derivative() {
        assert_eq!(MeanSquaredError.value(3.0, 1.0), 4.0);
        check_derivative(&MeanSquaredError, &[(0.2, 1.0), (-3.0, 2.0)]);
    }
}
