//! Dropout: during training each input is zeroed with probability `rate` and
//! the rest divided by 1 − rate (inverted dropout, as Keras); inference
//! passes inputs through. Which inputs drop is a hash of (seed, training
//! step, position), so a seeded fit draws the same masks at any thread count.

use super::{Backward, InputGrad, Pass};
use crate::error::{Error, Result};
use crate::rng::Rng;
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

#[derive(Clone, Debug)]
pub struct DropoutSpec {
    pub rate: f64,
    /// Keras's `seed`; by default one is drawn from the model's seed.
    pub seed: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Dropout {
    pub rate: f32,
    pub seed: u64,
    pub width: usize,
}

impl Dropout {
    pub fn new(spec: &DropoutSpec, width: usize, rng: &mut Rng) -> Result<Dropout> {
        if !(spec.rate >= 0.0 && spec.rate < 1.0) {
            return Err(Error::Value(format!("Expected a Dropout rate in [0, 1). Received: rate={}", spec.rate)));
        }
        if width == 0 {
            return Err(Error::Value("Expected a positive input width for a Dropout layer. Received: 0".into()));
        }
        let drawn = rng.next_u64();
        Ok(Dropout { rate: spec.rate as f32, seed: spec.seed.unwrap_or(drawn), width })
    }

    fn active(&self, pass: Pass) -> bool {
        pass.training && self.rate > 0.0
    }

    /// The kept/dropped mask (1 or 0 per input) of the last training batch.
    pub fn scratch_lens(&self, rows: usize, training: bool) -> Vec<usize> {
        if training {
            vec![rows * self.width]
        } else {
            Vec::new()
        }
    }

    pub fn forward(&self, pass: Pass, x: ArrayView2<f32>, mut y: ArrayViewMut2<f32>, scratch: &mut [Vec<f32>]) {
        if !self.active(pass) {
            return y.assign(&x);
        }
        let mask = &mut scratch[0][..x.len()];
        self.fill_mask(pass.step, mask);
        let keep = 1.0 - self.rate;
        let mask = ArrayView2::from_shape(x.raw_dim(), &scratch[0][..x.len()]).expect("sized");
        Zip::from(&mut y).and(&x).and(&mask).for_each(|y, &x, &m| *y = if m != 0.0 { x / keep } else { 0.0 });
    }

    /// 1 where the input at that position is kept in training step `step`.
    fn fill_mask(&self, step: u64, mask: &mut [f32]) {
        let key = mix(self.seed ^ mix(step.wrapping_add(0x5851_F42D_4C95_7F2D)));
        let rate = self.rate;
        for (i, m) in mask.iter_mut().enumerate() {
            // The top 24 bits as a float in [0, 1): exact, and as fine as
            // an f32 rate can be.
            let u = (mix(key ^ i as u64) >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
            *m = if u >= rate { 1.0 } else { 0.0 };
        }
    }

    pub fn backward(&self, b: Backward) {
        let Backward { dy, input, scratch, .. } = b;
        let Some(InputGrad { mut dx, .. }) = input else { return };
        if self.rate == 0.0 || scratch.is_empty() {
            return dx.assign(&dy);
        }
        let keep = 1.0 - self.rate;
        let mask = ArrayView2::from_shape(dy.raw_dim(), &scratch[0][..dy.len()]).expect("sized");
        Zip::from(&mut dx).and(&dy).and(&mask).for_each(|dx, &g, &m| *dx = if m != 0.0 { g / keep } else { 0.0 });
    }
}

/// SplitMix64's finaliser: a good 64-bit hash of a counter.
fn mix(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Isa;
    use ndarray::Array2;

    fn layer(rate: f64) -> Dropout {
        Dropout::new(&DropoutSpec { rate, seed: Some(7) }, 64, &mut Rng::new(1)).unwrap()
    }

    fn run(layer: &Dropout, step: u64, training: bool) -> Array2<f32> {
        let x = Array2::from_shape_fn((50, 64), |(i, j)| 1.0 + (i * 64 + j) as f32 * 0.01);
        let mut y = Array2::zeros((50, 64));
        let mut scratch = vec![vec![0.0; 50 * 64]];
        layer.forward(Pass { isa: Isa::detect(), training, step }, x.view(), y.view_mut(), &mut scratch);
        y
    }

    #[test]
    fn drops_at_the_rate_and_scales_the_rest() {
        let d = layer(0.3);
        let y = run(&d, 0, true);
        let x = Array2::from_shape_fn((50, 64), |(i, j)| 1.0 + (i * 64 + j) as f32 * 0.01);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        // 3200 Bernoulli(0.3) draws: σ ≈ 0.008.
        assert!((dropped - 0.3).abs() < 0.03, "{dropped}");
        for (&y, &x) in y.iter().zip(&x) {
            assert!(y == 0.0 || y == x / 0.7);
        }
        assert_eq!(run(&d, 0, false), x, "inference passes inputs through");
        assert_eq!(run(&d, 0, true), y, "the same step draws the same mask");
        assert_ne!(run(&d, 1, true), y, "the next step draws another");
    }

    #[test]
    fn refuses_rates_outside_zero_to_one() {
        for rate in [-0.1, 1.0, f64::NAN] {
            let err = Dropout::new(&DropoutSpec { rate, seed: None }, 4, &mut Rng::new(0)).unwrap_err();
            assert_eq!(err.code(), "ERR_FERRO_VALUE");
        }
    }
}
