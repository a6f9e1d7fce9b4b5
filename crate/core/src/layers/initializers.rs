//! Weight initialisers with Keras's names and formulas (variance scaling:
//! uniform limit √(3·scale/fan), truncated normal σ = √(scale/fan)/0.8796).

use crate::error::{Error, Result};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initializer {
    Zeros,
    Ones,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
}

impl Initializer {
    pub const NAMES: [&'static str; 8] = [
        "zeros",
        "ones",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_uniform",
        "lecun_normal",
    ];

    pub fn parse(name: &str) -> Result<Initializer> {
        use Initializer::*;
        Ok(match name {
            "zeros" => Zeros,
            "ones" => Ones,
            "glorot_uniform" => GlorotUniform,
            "glorot_normal" => GlorotNormal,
            "he_uniform" => HeUniform,
            "he_normal" => HeNormal,
            "lecun_uniform" => LecunUniform,
            "lecun_normal" => LecunNormal,
            _ => {
                return Err(Error::Value(format!(
                    "Unknown initializer: '{name}'. Expected one of: {}",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }

    /// Fills `out`, a tensor with the given fans (for a Dense kernel: fan_in =
    /// input dim, fan_out = units; for a bias both are its length).
    pub fn fill(self, out: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
        use Initializer::*;
        let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let (scale, fan, uniform) = match self {
            Zeros => return out.fill(0.0),
            Ones => return out.fill(1.0),
            GlorotUniform => (1.0, (fan_in + fan_out) / 2.0, true),
            GlorotNormal => (1.0, (fan_in + fan_out) / 2.0, false),
            HeUniform => (2.0, fan_in, true),
            HeNormal => (2.0, fan_in, false),
            LecunUniform => (1.0, fan_in, true),
            LecunNormal => (1.0, fan_in, false),
        };
        if uniform {
            let limit = (3.0 * scale / fan).sqrt();
            out.iter_mut().for_each(|w| *w = ((2.0 * rng.next_f64() - 1.0) * limit) as f32);
        } else {
            // Keras draws from a normal truncated at two standard deviations and
            // corrects σ so the truncated distribution keeps the target variance.
            let stddev = (scale / fan).sqrt() / 0.879_625_661_034_239_8;
            for w in out.iter_mut() {
                let z = loop {
                    let z = rng.normal();
                    if z.abs() <= 2.0 {
                        break z;
                    }
                };
                *w = (z * stddev) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(init: Initializer, fan_in: usize, fan_out: usize) -> (f64, f64, f64) {
        let mut w = vec![0f32; fan_in * fan_out];
        init.fill(&mut w, fan_in, fan_out, &mut Rng::new(11));
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = w.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
        (mean, var, max)
    }

    #[test]
    fn variance_scaling_hits_keras_variances_and_bounds() {
        let (fi, fo) = (784, 512);
        for (init, var) in [
            (Initializer::GlorotUniform, 2.0 / (fi + fo) as f64),
            (Initializer::GlorotNormal, 2.0 / (fi + fo) as f64),
            (Initializer::HeUniform, 2.0 / fi as f64),
            (Initializer::HeNormal, 2.0 / fi as f64),
            (Initializer::LecunUniform, 1.0 / fi as f64),
            (Initializer::LecunNormal, 1.0 / fi as f64),
        ] {
            let (mean, got, max) = moments(init, fi, fo);
            assert!(mean.abs() < 1e-3, "{init:?} mean {mean}");
            assert!((got / var - 1.0).abs() < 0.02, "{init:?} variance {got} vs {var}");
            let bound =
                if matches!(init, Initializer::GlorotUniform | Initializer::HeUniform | Initializer::LecunUniform) {
                    (3.0 * var).sqrt()
                } else {
                    2.0 * var.sqrt() / 0.879_625_661_034_239_8
                };
            assert!(max <= bound * (1.0 + 1e-6), "{init:?} exceeds its bound");
        }
        assert_eq!(moments(Initializer::Zeros, 3, 4), (0.0, 0.0, 0.0));
        assert_eq!(moments(Initializer::Ones, 3, 4).0, 1.0);
        assert!(Initializer::parse("orthogonal").is_err());
    }
}
