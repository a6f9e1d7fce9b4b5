//! Huber loss, Keras 3: with e = p − y, ½e² where |e| ≤ δ, else δ|e| − ½δ²;
//! averaged over the units. δ = 1, Keras's default.

use super::pointwise::Pointwise;

pub struct Huber {
    pub delta: f32,
}

impl Pointwise for Huber {
    fn value(&self, p: f32, y: f32) -> f64 {
        let (e, delta) = (p as f64 - y as f64, self.delta as f64);
        if e.abs() <= delta {
            0.5 * e * e
        } else {
            delta * e.abs() - 0.5 * delta * delta
        }
    }

    fn derivative(&self, p: f32, y: f32) -> f32 {
        (p - y).clamp(-self.delta, self.delta)
    }
}

#[cfg(test)]
mod tests {
    use super::super::pointwise::check_derivative;
    use super::*;

    #[test]
    fn value_and_derivative() {
        let h = Huber { delta: 1.0 };
        assert_eq!(h.value(0.5, 0.0), 0.125);
        assert_eq!(h.value(3.0, 0.0), 2.5);
        check_derivative(&h, &[(0.2, 1.0), (3.0, 0.5), (-2.5, 0.0)]);
    }
}
