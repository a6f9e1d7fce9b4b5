//! Weight initialisers with Keras's names, formulas and defaults (variance
//! scaling: uniform limit √(3·scale/fan), truncated normal σ =
//! √(scale/fan)/0.8796; random_* with Keras's 0.05; constant 0; orthogonal
//! with gain 1).

use crate::error::{Error, Result};
use crate::kernels::{gemm, Epilogue, GemmBuffers, Isa};
use crate::rng::Rng;
use ndarray::{ArrayView2, ArrayViewMut2};

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
    /// Keras's `Constant()`: value 0.
    Constant,
    /// N(0, 0.05²).
    RandomNormal,
    /// U[−0.05, 0.05).
    RandomUniform,
    /// N(0, 0.05²), redrawn beyond two standard deviations.
    TruncatedNormal,
    /// Orthonormal columns (or rows, when wider than tall), from the QR of a
    /// normal matrix with R's diagonal made positive.
    Orthogonal,
}

impl Initializer {
    /// In the enum's order.
    pub const NAMES: [&'static str; 13] = [
        "zeros",
        "ones",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_uniform",
        "lecun_normal",
        "constant",
        "random_normal",
        "random_uniform",
        "truncated_normal",
        "orthogonal",
    ];

    pub fn parse(name: &str) -> Result<Initializer> {
        use Initializer::*;
        const ALL: [Initializer; 13] = [
            Zeros,
            Ones,
            GlorotUniform,
            GlorotNormal,
            HeUniform,
            HeNormal,
            LecunUniform,
            LecunNormal,
            Constant,
            RandomNormal,
            RandomUniform,
            TruncatedNormal,
            Orthogonal,
        ];
        match Self::NAMES.iter().position(|&n| n == name) {
            Some(i) => Ok(ALL[i]),
            None => {
                Err(Error::Value(format!("Unknown initializer: '{name}'. Expected one of: {}", Self::NAMES.join(", "))))
            }
        }
    }

    /// Whether it needs a matrix (a kernel), not a vector.
    pub fn needs_matrix(self) -> bool {
        self == Initializer::Orthogonal
    }

    /// Fills `out`, a tensor with the given fans (for a Dense kernel: fan_in =
    /// input dim, fan_out = units; for a bias both are its length). Only
    /// the orthogonal initializer can fail: it needs a float64 copy.
    pub fn fill(self, out: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) -> Result<()> {
        use Initializer::*;
        match self {
            Zeros | Constant => out.fill(0.0),
            Ones => out.fill(1.0),
            RandomNormal => out.iter_mut().for_each(|w| *w = (rng.normal() * 0.05) as f32),
            RandomUniform => out.iter_mut().for_each(|w| *w = ((2.0 * rng.next_f64() - 1.0) * 0.05) as f32),
            TruncatedNormal => out.iter_mut().for_each(|w| *w = (truncated(rng) * 0.05) as f32),
            Orthogonal => orthogonal(out, fan_in, fan_out, rng)?,
            GlorotUniform | GlorotNormal | HeUniform | HeNormal | LecunUniform | LecunNormal => {
                self.variance_scaling(out, fan_in, fan_out, rng)
            }
        }
        Ok(())
    }

    /// Keras's VarianceScaling under this initializer's name.
    fn variance_scaling(self, out: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
        use Initializer::*;
        let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let (scale, fan, uniform) = match self {
            GlorotUniform => (1.0, (fan_in + fan_out) / 2.0, true),
            GlorotNormal => (1.0, (fan_in + fan_out) / 2.0, false),
            HeUniform => (2.0, fan_in, true),
            HeNormal => (2.0, fan_in, false),
            LecunUniform => (1.0, fan_in, true),
            LecunNormal => (1.0, fan_in, false),
            _ => unreachable!("{self:?} is not a variance-scaling initializer"),
        };
        if uniform {
            let limit = (3.0 * scale / fan).sqrt();
            out.iter_mut().for_each(|w| *w = ((2.0 * rng.next_f64() - 1.0) * limit) as f32);
        } else {
            // Keras draws from a normal truncated at two standard deviations and
            // corrects σ so the truncated distribution keeps the target variance.
            let stddev = (scale / fan).sqrt() / 0.879_625_661_034_239_8;
            out.iter_mut().for_each(|w| *w = (truncated(rng) * stddev) as f32);
        }
    }
}

/// A standard normal draw, redrawn until within two standard deviations.
fn truncated(rng: &mut Rng) -> f64 {
    loop {
        let z = rng.normal();
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

/// `out` (rows × cols, row-major) with orthonormal columns when rows ≥ cols,
/// else orthonormal rows: Q of the QR of a normal matrix, R's diagonal made
/// positive, as Keras's Orthogonal(gain=1). Gram–Schmidt, twice for accuracy,
/// on the tall orientation gives exactly that Q. It runs while build() holds
/// JavaScript's thread, so blocks of vectors are taken against all earlier
/// ones with two GEMMs each, on ferro-nn's threads. A 2048×2048 kernel took
/// 7.4 s vector by vector in float64, and takes 0.43 s this way on 1 thread,
/// with |QᵀQ − I| ≤ 1e-7.
fn orthogonal(out: &mut [f32], rows: usize, cols: usize, rng: &mut Rng) -> Result<()> {
    assert_eq!(out.len(), rows * cols, "orthogonal: a rows × cols matrix");
    let (tall, wide) = (rows.max(cols), rows.min(cols));
    // The `wide` vectors of length `tall` are the rows of q.
    let mut q: Vec<f32> = crate::alloc::zeroed(tall * wide, "the orthogonal initializer's vectors")?;
    q.iter_mut().for_each(|v| *v = rng.normal() as f32);
    if wide <= ORTHO_BLOCK {
        within_block(&mut q, tall);
    } else {
        let mut scratch = BlockScratch::new(tall, wide)?;
        crate::pool::install(|| {
            for start in (0..wide).step_by(ORTHO_BLOCK) {
                let end = (start + ORTHO_BLOCK).min(wide);
                let (done, rest) = q.split_at_mut(start * tall);
                let this = &mut rest[..(end - start) * tall];
                scratch.against_earlier(this, done, tall);
                within_block(this, tall);
            }
            Ok(())
        })?;
    }
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = if rows >= cols { q[c * tall + r] } else { q[r * tall + c] };
        }
    }
    Ok(())
}

/// The vectors of `block` (each `tall` long) made orthonormal one by one,
/// each against those before it, twice.
fn within_block(block: &mut [f32], tall: usize) {
    for k in 0..block.len() / tall {
        let (before, v) = block.split_at_mut(k * tall);
        let v = &mut v[..tall];
        for _ in 0..2 {
            for u in before.chunks_exact(tall) {
                let d = dot(u, v) as f32;
                v.iter_mut().zip(u).for_each(|(v, u)| *v -= d * u);
            }
        }
        let norm = dot(v, v).sqrt() as f32;
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// What a block's two GEMMs need, sized for the largest block against all
/// earlier vectors: this·doneᵀ is ORTHO_BLOCK × wide × tall, dots·done is
/// ORTHO_BLOCK × tall × wide.
struct BlockScratch {
    bufs: GemmBuffers,
    dots: Vec<f32>,
    along: Vec<f32>,
    isa: Isa,
}

impl BlockScratch {
    /// The GEMM buffers' lengths for both products, at their largest.
    fn lens(tall: usize, wide: usize) -> Result<(usize, usize, usize)> {
        let too_large = || Error::Value(format!("The orthogonal initializer's {tall}×{wide} matrix is too large"));
        let dots = GemmBuffers::lens_for(ORTHO_BLOCK, wide, tall).ok_or_else(too_large)?;
        let along = GemmBuffers::lens_for(ORTHO_BLOCK, tall, wide).ok_or_else(too_large)?;
        Ok((dots.0.max(along.0), dots.1.max(along.1), dots.2.max(along.2)))
    }

    fn new(tall: usize, wide: usize) -> Result<BlockScratch> {
        Ok(BlockScratch {
            bufs: GemmBuffers::with_capacity(Self::lens(tall, wide)?)?,
            dots: crate::alloc::zeroed(ORTHO_BLOCK * wide, "the orthogonal initializer's dot products")?,
            along: crate::alloc::zeroed(ORTHO_BLOCK * tall, "the orthogonal initializer's projections")?,
            isa: Isa::detect(),
        })
    }

    /// Removes from the vectors of `this` their components along the
    /// (orthonormal) vectors of `done`, twice: this -= (this·doneᵀ)·done.
    fn against_earlier(&mut self, this: &mut [f32], done: &[f32], tall: usize) {
        let (n, earlier) = (this.len() / tall, done.len() / tall);
        if earlier == 0 {
            return;
        }
        let done = ArrayView2::from_shape((earlier, tall), done).expect("earlier × tall");
        let mut this = ArrayViewMut2::from_shape((n, tall), this).expect("block × tall");
        for _ in 0..2 {
            let mut d =
                ArrayViewMut2::from_shape((n, earlier), &mut self.dots[..n * earlier]).expect("block × earlier");
            gemm(self.isa, this.view(), done.t(), d.view_mut(), Epilogue::None, &mut self.bufs);
            let mut p = ArrayViewMut2::from_shape((n, tall), &mut self.along[..n * tall]).expect("block × tall");
            gemm(self.isa, d.view(), done, p.view_mut(), Epilogue::None, &mut self.bufs);
            this -= &p;
        }
    }
}

/// Vectors orthogonalised together.
const ORTHO_BLOCK: usize = 64;

/// Σ a·b in sixteen independent float32 sums (so that the compiler can use
/// vector lanes), added in float64 at the end.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut sums = [0f32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f64 = a16.remainder().iter().zip(b16.remainder()).map(|(&x, &y)| x as f64 * y as f64).sum();
    for (x, y) in a16.zip(b16) {
        for l in 0..16 {
            sums[l] += x[l] * y[l];
        }
    }
    sums.iter().map(|&s| s as f64).sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(init: Initializer, fan_in: usize, fan_out: usize) -> (f64, f64, f64) {
        let mut w = vec![0f32; fan_in * fan_out];
        init.fill(&mut w, fan_in, fan_out, &mut Rng::new(11)).unwrap();
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
        assert!(Initializer::parse("identity").is_err());
    }

    #[test]
    fn random_initializers_have_kerass_defaults() {
        let (mean, var, max) = moments(Initializer::RandomNormal, 300, 300);
        assert!(mean.abs() < 1e-3 && (var.sqrt() / 0.05 - 1.0).abs() < 0.02 && max > 0.15, "{mean} {var} {max}");
        let (mean, var, max) = moments(Initializer::RandomUniform, 300, 300);
        assert!(mean.abs() < 1e-3 && (var / (0.1f64.powi(2) / 12.0) - 1.0).abs() < 0.02 && max <= 0.05, "{var} {max}");
        let (_, var, max) = moments(Initializer::TruncatedNormal, 300, 300);
        // A normal truncated at 2σ keeps 0.774 of its variance.
        assert!((var / (0.05f64.powi(2) * 0.774) - 1.0).abs() < 0.03 && max <= 0.1, "{var} {max}");
        assert_eq!(moments(Initializer::Constant, 3, 4), (0.0, 0.0, 0.0));
    }

    #[test]
    fn orthogonal_needs_memory_for_its_matrix_only() {
        // 100000 × 8: a 3 MB kernel. Scratch sized by tall² would be 37 GiB.
        let (rows, cols) = (100_000, 8);
        let mut w = vec![0f32; rows * cols];
        Initializer::Orthogonal.fill(&mut w, rows, cols, &mut Rng::new(5)).unwrap();
        let norm: f64 = (0..rows).map(|r| (w[r * cols] as f64).powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        let (tall, wide) = (20_000, 70);
        let (a, b, t) = BlockScratch::lens(tall, wide).unwrap();
        assert!(a + b + t < 4 * tall * wide, "GEMM scratch grows with tall × wide: {a} + {b} + {t}");
    }

    #[test]
    fn orthogonal_gives_orthonormal_columns_or_rows() {
        // One block and several (ORTHO_BLOCK is 64), tall and wide, and the
        // dot products' sixteen lanes with a tail.
        for (rows, cols) in [(7, 3), (3, 7), (64, 64), (1, 5), (129, 70), (70, 129), (200, 131), (33, 33)] {
            let mut w = vec![0f32; rows * cols];
            Initializer::Orthogonal.fill(&mut w, rows, cols, &mut Rng::new(3)).unwrap();
            let (outer, inner) = if rows >= cols { (cols, rows) } else { (rows, cols) };
            let at = |v: usize, k: usize| if rows >= cols { w[k * cols + v] } else { w[v * cols + k] } as f64;
            for a in 0..outer {
                for b in 0..outer {
                    let dot: f64 = (0..inner).map(|k| at(a, k) * at(b, k)).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-5, "{rows}x{cols}: <{a},{b}> = {dot}");
                }
            }
        }
    }
}
