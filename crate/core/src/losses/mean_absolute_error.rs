//! Mean absolute error, Keras 3: |y − p|, averaged over the units (its
//! derivative at p = y taken as 0, as JAX's sign gives).

use super::pointwise::Pointwise;

pub struct MeanAbsoluteError;

impl Pointwise for MeanAbsoluteError {
    fn value(&self, p: f32, y: f32) -> f64 {
        (p as f64 - y as f64).abs()
    }

    fn derivative(&self, p: f32, y: f32) -> f32 {
        let d = p - y;
        if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pointwise::check_derivative;
    use super::*;

    #[test]
    fn value_and_derivative() {
        assert_eq!(MeanAbsoluteError.value(-1.0, 2.0), 3.0);
        assert_eq!(MeanAbsoluteError.derivative(2.0, 2.0), 0.0);
        check_derivative(&MeanAbsoluteError, &[(0.2, 1.0), (3.0, 2.0)]);
    }
}
