//! Weight penalties, as Keras's L1L2 (and its l1 / l2 shorthands): the
//! penalty l1·Σ|w| + l2·Σw² is added to the reported loss of every batch,
//! and its gradient l1·sign(w) + 2·l2·w to the weights' gradient.

use crate::error::{Error, Result};

/// Factors of the L1 and L2 penalties; both 0: none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularizer {
    pub l1: f32,
    pub l2: f32,
}

impl Regularizer {
    /// Keras's L1L2(l1, l2); both factors finite and non-negative.
    pub fn new(l1: f64, l2: f64) -> Result<Regularizer> {
        for (name, v) in [("l1", l1), ("l2", l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Value(format!(
                    "Expected a finite, non-negative regularization factor {name}. Received: {name}={v}"
                )));
            }
        }
        Ok(Regularizer { l1: l1 as f32, l2: l2 as f32 })
    }

    pub fn is_none(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// The penalty of `w`, in float64.
    pub fn penalty(&self, w: &[f32]) -> f64 {
        if self.is_none() {
            return 0.0;
        }
        let (l1, l2) = (self.l1 as f64, self.l2 as f64);
        w.iter().map(|&v| l1 * (v as f64).abs() + l2 * (v as f64) * (v as f64)).sum()
    }

    /// Adds the penalty's gradient at `w` to `grad`.
    pub fn add_gradient(&self, w: &[f32], grad: &mut [f32]) {
        if self.is_none() {
            return;
        }
        let (l1, l2) = (self.l1, self.l2);
        for (g, &v) in grad.iter_mut().zip(w) {
            // sign(0) = 0, as JAX takes it (f32::signum gives ±1 there).
            let sign = if v == 0.0 { 0.0 } else { v.signum() };
            *g += l1 * sign + 2.0 * l2 * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_and_its_gradient() {
        let r = Regularizer { l1: 0.5, l2: 0.25 };
        let w = [1.0f32, -2.0, 0.0];
        assert_eq!(r.penalty(&w), 0.5 * 3.0 + 0.25 * 5.0);
        let mut g = [0.0f32; 3];
        r.add_gradient(&w, &mut g);
        assert_eq!(g, [0.5 + 0.5, -0.5 - 1.0, 0.0]);
    }

    #[test]
    fn refuses_negative_and_non_finite_factors() {
        assert!(Regularizer::new(0.01, 0.0).is_ok());
        for (l1, l2) in [(-0.1, 0.0), (0.0, f64::NAN), (f64::INFINITY, 0.0)] {
            assert_eq!(Regularizer::new(l1, l2).err().map(|e| e.code()), Some("ERR_FERRO_VALUE"));
        }
    }
}
