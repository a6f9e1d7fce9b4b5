//! Activations: forward values and derivatives expressed through the output
//! y = f(z), which is what the backward pass keeps.

use super::isa::Isa;
use crate::error::{Error, Result};
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Elu,
    Selu,
    LeakyRelu,
    Softplus,
    Softsign,
    Relu6,
    HardSigmoid,
    /// Keras's default, exact form: z·Φ(z) with Φ the normal CDF.
    Gelu,
    /// z·sigmoid(z) (Keras's 'silu', also 'swish').
    Silu,
}

/// SELU's constants (Klambauer et al.), as Keras uses them.
const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_SCALE: f32 = 1.050_701;
/// 1/√(2π), for the normal density in gelu's derivative.
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// Keras 3's default negative slope for leaky_relu.
const LEAKY_SLOPE: f32 = 0.2;

impl Activation {
    /// In the enum's order (`name` indexes this).
    pub const NAMES: [&'static str; 14] = [
        "linear",
        "relu",
        "sigmoid",
        "tanh",
        "softmax",
        "elu",
        "selu",
        "leaky_relu",
        "softplus",
        "softsign",
        "relu6",
        "hard_sigmoid",
        "gelu",
        "silu",
    ];

    /// Other names Keras accepts for the same functions.
    pub const ALIASES: [(&'static str, Activation); 1] = [("swish", Activation::Silu)];

    pub fn parse(name: &str) -> Result<Activation> {
        use Activation::*;
        const ALL: [Activation; 14] = [
            Linear,
            Relu,
            Sigmoid,
            Tanh,
            Softmax,
            Elu,
            Selu,
            LeakyRelu,
            Softplus,
            Softsign,
            Relu6,
            HardSigmoid,
            Gelu,
            Silu,
        ];
        if let Some(&(_, a)) = Self::ALIASES.iter().find(|(n, _)| *n == name) {
            return Ok(a);
        }
        match Self::NAMES.iter().position(|&n| n == name) {
            Some(i) => Ok(ALL[i]),
            None => {
                Err(Error::Value(format!("Unknown activation: '{name}'. Expected one of: {}", Self::NAMES.join(", "))))
            }
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// True for activations computed one element at a time.
    pub fn is_elementwise(self) -> bool {
        self != Activation::Softmax
    }

    /// True when f' cannot be written through y = f(z) (gelu and silu are not
    /// monotonic): the backward pass needs z itself.
    pub fn needs_input(self) -> bool {
        matches!(self, Activation::Gelu | Activation::Silu)
    }

    /// f(z) for the elementwise activations.
    #[inline(always)]
    pub fn apply(self, z: f32) -> f32 {
        // Every branch lets a NaN through (no max/min, which drop it): a NaN
        // must reach the loss, as in TensorFlow, for TerminateOnNaN to see it.
        match self {
            Activation::Linear | Activation::Softmax => z,
            Activation::Relu => {
                if z < 0.0 {
                    0.0
                } else {
                    z
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Elu => {
                if z > 0.0 {
                    z
                } else {
                    z.exp_m1()
                }
            }
            Activation::Selu => {
                if z > 0.0 {
                    SELU_SCALE * z
                } else {
                    SELU_SCALE * SELU_ALPHA * z.exp_m1()
                }
            }
            Activation::LeakyRelu => {
                if z < 0.0 {
                    LEAKY_SLOPE * z
                } else {
                    z
                }
            }
            // log(1 + eᶻ) without overflow, as jax's logaddexp(z, 0).
            Activation::Softplus => {
                if z > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                }
            }
            Activation::Softsign => z / (1.0 + z.abs()),
            Activation::Relu6 => clamp(z, 0.0, 6.0),
            // relu6(z + 3) / 6, as Keras 3 defines it.
            Activation::HardSigmoid => clamp(z + 3.0, 0.0, 6.0) / 6.0,
            Activation::Gelu => 0.5 * z * (1.0 + libm::erff(z * std::f32::consts::FRAC_1_SQRT_2)),
            Activation::Silu => z / (1.0 + (-z).exp()),
        }
    }

    /// f'(z) from z, for every elementwise activation (the backward pass uses
    /// it for those that `needs_input`).
    #[inline(always)]
    pub fn derivative(self, z: f32) -> f32 {
        match self {
            // Φ(z) + z·φ(z).
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erff(z * std::f32::consts::FRAC_1_SQRT_2));
                let pdf = (-0.5 * z * z).exp() * INV_SQRT_2PI;
                cdf + z * pdf
            }
            // s + z·s·(1 − s) with s = sigmoid(z).
            Activation::Silu => {
                let s = 1.0 / (1.0 + (-z).exp());
                s * (1.0 + z * (1.0 - s))
            }
            _ => self.derivative_from_output(self.apply(z)),
        }
    }

    /// f'(z) written in terms of y = f(z), for the elementwise activations
    /// (at a kink, the side Keras's JAX backend takes).
    #[inline(always)]
    pub fn derivative_from_output(self, y: f32) -> f32 {
        let step = |inside: bool, slope: f32| if inside { slope } else { 0.0 };
        match self {
            Activation::Linear | Activation::Softmax => 1.0,
            Activation::Relu => step(y > 0.0, 1.0),
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
            // z ≤ 0: y = eᶻ − 1, so f' = eᶻ = y + 1.
            Activation::Elu => {
                if y > 0.0 {
                    1.0
                } else {
                    y + 1.0
                }
            }
            Activation::Selu => {
                if y > 0.0 {
                    SELU_SCALE
                } else {
                    y + SELU_SCALE * SELU_ALPHA
                }
            }
            Activation::LeakyRelu => {
                if y < 0.0 {
                    LEAKY_SLOPE
                } else {
                    1.0
                }
            }
            // f' = sigmoid(z) = 1 − e^(−y).
            Activation::Softplus => -(-y).exp_m1(),
            // |z| = |y| / (1 − |y|), so f' = 1 / (1 + |z|)² = (1 − |y|)².
            Activation::Softsign => (1.0 - y.abs()) * (1.0 - y.abs()),
            Activation::Relu6 => step(y > 0.0 && y < 6.0, 1.0),
            Activation::HardSigmoid => step(y > 0.0 && y < 1.0, 1.0 / 6.0),
            // Not a function of y: the executor keeps z for these (`needs_input`).
            Activation::Gelu | Activation::Silu => f32::NAN,
        }
    }
}

/// `z` clamped to [lo, hi], NaN kept.
#[inline(always)]
fn clamp(z: f32, lo: f32, hi: f32) -> f32 {
    if z < lo {
        lo
    } else if z > hi {
        hi
    } else {
        z
    }
}

/// Calls `run` with the activation fixed at compile time, so that the loop
/// inside it is monomorphic and vectorises (a `match` per element does not).
macro_rules! per_activation {
    ($activation:expr, |$a:ident| $body:expr) => {
        match $activation {
            Activation::Linear => {
                const $a: Activation = Activation::Linear;
                $body
            }
            Activation::Relu => {
                const $a: Activation = Activation::Relu;
                $body
            }
            Activation::Sigmoid => {
                const $a: Activation = Activation::Sigmoid;
                $body
            }
            Activation::Tanh => {
                const $a: Activation = Activation::Tanh;
                $body
            }
            Activation::Softmax => {
                const $a: Activation = Activation::Softmax;
                $body
            }
            Activation::Elu => {
                const $a: Activation = Activation::Elu;
                $body
            }
            Activation::Selu => {
                const $a: Activation = Activation::Selu;
                $body
            }
            Activation::LeakyRelu => {
                const $a: Activation = Activation::LeakyRelu;
                $body
            }
            Activation::Softplus => {
                const $a: Activation = Activation::Softplus;
                $body
            }
            Activation::Softsign => {
                const $a: Activation = Activation::Softsign;
                $body
            }
            Activation::Relu6 => {
                const $a: Activation = Activation::Relu6;
                $body
            }
            Activation::HardSigmoid => {
                const $a: Activation = Activation::HardSigmoid;
                $body
            }
            Activation::Gelu => {
                const $a: Activation = Activation::Gelu;
                $body
            }
            Activation::Silu => {
                const $a: Activation = Activation::Silu;
                $body
            }
        }
    };
}

/// v ← f(v + bias) over a row (bias empty: none).
pub fn bias_activation(isa: Isa, activation: Activation, row: &mut [f32], bias: &[f32]) {
    let n = row.len();
    // SAFETY: one row of n floats, exclusively borrowed.
    unsafe { bias_activation_block(isa, activation, row.as_mut_ptr(), n, 1, n, bias) }
}

/// v ← f(v + bias) on the rows × cols block at `c` (row stride `ldc`; bias
/// empty: none): a GEMM tile's epilogue, or one row. Relu runs in SIMD, the
/// whole block in one call (per row, the call cost more than the arithmetic).
///
/// # Safety
/// `c` is valid for reads and writes of `rows` rows of `cols` floats at
/// stride `ldc`, which no other thread touches meanwhile.
pub(crate) unsafe fn bias_activation_block(
    isa: Isa,
    activation: Activation,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    bias: &[f32],
) {
    assert!(bias.is_empty() || bias.len() >= cols, "bias_activation: fewer biases than values");
    if activation == Activation::Relu {
        // SAFETY: the caller's contract.
        return unsafe { super::relu::bias_relu_block(isa, c, ldc, rows, cols, bias) };
    }
    per_activation!(activation, |A| {
        for i in 0..rows {
            // SAFETY: row i < rows of the block (see # Safety).
            let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), cols) };
            if bias.is_empty() {
                row.iter_mut().for_each(|v| *v = A.apply(*v));
            } else {
                row.iter_mut().zip(bias).for_each(|(v, &b)| *v = A.apply(*v + b));
            }
        }
    })
}

/// g ← g ⊙ f'(z), with f' written through the outputs y = f(z) of the row.
pub fn scale_by_derivative(isa: Isa, activation: Activation, grad: &mut [f32], y: &[f32]) {
    assert!(y.len() >= grad.len(), "scale_by_derivative: fewer outputs than gradients");
    let n = grad.len();
    // SAFETY: one row of n floats in each, `grad` exclusively borrowed.
    unsafe { scale_by_derivative_block(isa, activation, grad.as_mut_ptr(), n, y.as_ptr(), n, 1, n) }
}

/// g ← g ⊙ f'(z) on the rows × cols block at `g` (row stride `ldg`), with
/// f' written through the outputs at `y` (row stride `ldy`). Relu runs in
/// SIMD, the whole block in one call.
///
/// # Safety
/// As for `bias_activation_block`, and `y` is valid for reads of the same
/// shape at stride `ldy`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn scale_by_derivative_block(
    isa: Isa,
    activation: Activation,
    g: *mut f32,
    ldg: usize,
    y: *const f32,
    ldy: usize,
    rows: usize,
    cols: usize,
) {
    if activation == Activation::Relu {
        // SAFETY: the caller's contract.
        return unsafe { super::relu::relu_grad_block(isa, g, ldg, y, ldy, rows, cols) };
    }
    per_activation!(activation, |A| {
        for i in 0..rows {
            // SAFETY: row i < rows of both blocks (see # Safety).
            let (g, y) = unsafe {
                (std::slice::from_raw_parts_mut(g.add(i * ldg), cols), std::slice::from_raw_parts(y.add(i * ldy), cols))
            };
            g.iter_mut().zip(y).for_each(|(g, &y)| *g *= A.derivative_from_output(y));
        }
    })
}

/// g ← g ⊙ f'(z), with f' computed from the pre-activations z.
pub fn scale_by_input_derivative(activation: Activation, grad: &mut [f32], z: &[f32]) {
    per_activation!(activation, |A| grad.iter_mut().zip(z).for_each(|(g, &z)| *g *= A.derivative(z)))
}

/// Row-wise softmax in place, shifted by the row maximum for stability.
/// Three passes over contiguous rows: shift every row, exponentiate the
/// whole block in one vectorised loop (`exp_all`; libm's expf, one element
/// at a time, cost 3 µs of the seed model's step), then normalise each row.
pub fn softmax_rows(isa: Isa, mut z: ArrayViewMut2<f32>) {
    let cols = z.ncols();
    if cols == 0 {
        return;
    }
    let Some(flat) = z.as_slice_mut() else {
        // Not a workspace's rows (those are contiguous): a contiguous copy.
        let mut copy = z.to_owned();
        softmax_rows(isa, copy.view_mut());
        return z.assign(&copy);
    };
    for row in flat.chunks_exact_mut(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter_mut().for_each(|v| *v -= max);
    }
    exp_all(isa, flat);
    for row in flat.chunks_exact_mut(cols) {
        let sum: f32 = row.iter().sum();
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// v ← eᵛ for every v ≤ 0 (see `exp_nonpositive`), compiled for the widest
/// vectors `isa` has. Plain IEEE arithmetic, which the compiler neither
/// reorders nor fuses, so every ISA gives the same bits.
fn exp_all(isa: Isa, v: &mut [f32]) {
    match isa.level() {
        // SAFETY: the token proves AVX-512F on this CPU.
        #[cfg(target_arch = "x86_64")]
        super::isa::Level::Avx512 => unsafe { exp_wide::avx512(v) },
        // SAFETY: the token proves AVX2 on this CPU.
        #[cfg(target_arch = "x86_64")]
        super::isa::Level::Avx2Fma => unsafe { exp_wide::avx2(v) },
        // NEON is arm64's baseline: the portable loop already uses it.
        _ => exp_each(v),
    }
}

#[inline(always)]
fn exp_each(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = exp_nonpositive(*x));
}

/// `exp_each` compiled with wider vectors.
#[cfg(target_arch = "x86_64")]
mod exp_wide {
    /// # Safety
    /// The CPU runs AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(v: &mut [f32]) {
        super::exp_each(v)
    }

    /// # Safety
    /// The CPU runs AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn avx2(v: &mut [f32]) {
        super::exp_each(v)
    }
}

/// eˣ for x ≤ 0 (a softmax's shifted logits), within 2 ulp of the exact
/// value down to x = −87.33 and 0 below it; NaN stays NaN. Plain IEEE
/// operations without branches (Cephes's expf polynomial, after
/// x = n·ln 2 + r) and no float-to-integer conversion, so a loop over a
/// slice vectorises.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOWEST: f32 = -87.33;
    // Adding 1.5·2²³ rounds to an integer n, which then sits in the low
    // bits of the sum's mantissa.
    const ROUND: f32 = 12_582_912.0;
    let clamped = if x < LOWEST { LOWEST } else { x };
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    // ln 2 in two parts, the first exact in few bits, so r carries no
    // rounding error from n·ln 2.
    let r = (clamped - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = p * r + c;
    }
    let e = (p * r * r + r) + 1.0;
    // 2ⁿ for n in [−126, 0], built in the exponent field from n's bits.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    if x < LOWEST {
        0.0
    } else {
        e * two_n
    }
}

/// Backward through a row-wise softmax: g ← y ⊙ (g − Σ g⊙y), in place on `grad`.
pub fn softmax_backward_rows(y: ArrayView2<f32>, mut grad: ArrayViewMut2<f32>) {
    for (y_row, mut g_row) in y.rows().into_iter().zip(grad.rows_mut()) {
        let dot: f32 = y_row.iter().zip(g_row.iter()).map(|(a, b)| a * b).sum();
        Zip::from(&mut g_row).and(&y_row).for_each(|g, &y| *g = y * (*g - dot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for name in Activation::NAMES {
            assert_eq!(Activation::parse(name).unwrap().name(), name);
        }
        let err = Activation::parse("relu7").unwrap_err();
        assert_eq!(err.code(), "ERR_FERRO_VALUE");
        assert!(err.to_string().contains("'relu7'"));
    }

    #[test]
    fn gelu_and_silu_match_float64_definitions() {
        // erf by its Maclaurin series, which converges fast for |x| ≤ 3.
        let erf = |x: f64| {
            let (mut term, mut sum) = (x, x);
            for n in 1..80 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        for z in [-4.0f64, -1.3, -0.2, 0.0, 0.7, 2.1, 4.0] {
            let gelu = 0.5 * z * (1.0 + erf(z / 2f64.sqrt()));
            let silu = z / (1.0 + (-z).exp());
            assert!((Activation::Gelu.apply(z as f32) as f64 - gelu).abs() < 1e-6, "gelu({z})");
            assert!((Activation::Silu.apply(z as f32) as f64 - silu).abs() < 1e-6, "silu({z})");
        }
        assert_eq!(Activation::parse("swish").unwrap(), Activation::Silu);
    }

    #[test]
    fn nan_passes_through_every_activation() {
        for name in Activation::NAMES {
            let act = Activation::parse(name).unwrap();
            assert!(act.apply(f32::NAN).is_nan(), "{act:?}");
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for act in Activation::NAMES.map(|n| Activation::parse(n).unwrap()).into_iter().filter(|a| a.is_elementwise()) {
            for z in [-2.5f64, -0.3, 0.4, 1.7, 6.5, -3.5] {
                let f = |z: f64| act.apply(z as f32) as f64;
                let h = 1e-3;
                let fd = (f(z + h) - f(z - h)) / (2.0 * h);
                let got = act.derivative(z as f32) as f64;
                assert!((fd - got).abs() < 1e-3, "{act:?} at {z}: {got} vs {fd}");
                if !act.needs_input() {
                    let through_output = act.derivative_from_output(act.apply(z as f32)) as f64;
                    assert!((fd - through_output).abs() < 1e-3, "{act:?} at {z}: {through_output} vs {fd}");
                }
            }
        }
    }

    /// The softmax's exponential against float64 across its whole domain,
    /// within 2 ulp; 0 below −87.33 (and for −∞); NaN stays NaN.
    #[test]
    fn exp_nonpositive_is_within_two_ulp_of_float64() {
        let mut worst = 0f64;
        for i in 0..=2_000_000 {
            let x = -87.33f32 * i as f32 / 2_000_000.0;
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            let ulp = f32::EPSILON as f64 * 2f64.powi(want.log2().floor() as i32);
            worst = worst.max((got - want).abs() / ulp);
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!([exp_nonpositive(-87.4), exp_nonpositive(-1e30), exp_nonpositive(f32::NEG_INFINITY)], [0.0; 3]);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn softmax_rows_of_any_layout_sum_to_one_and_keep_nan_and_minus_infinity() {
        let z = Array2::from_shape_fn((7, 10), |(i, j)| ((i * 10 + j) as f32 * 0.77).sin() * 30.0);
        let mut y = z.clone();
        softmax_rows(Isa::scalar(), y.view_mut());
        for (zr, yr) in z.rows().into_iter().zip(y.rows()) {
            let max = zr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let sum: f64 = zr.iter().map(|&v| (v as f64 - max).exp()).sum();
            for (&zv, &yv) in zr.iter().zip(yr) {
                let want = (zv as f64 - max).exp() / sum;
                // Rounding z − max in float32 moves eᶻ⁻ᵐᵃˣ by up to |z − max|·2⁻²⁴.
                let tol = 4e-7 + (max - zv as f64) * 6e-8;
                assert!((yv as f64 - want).abs() <= tol * want, "{yv} vs {want}");
            }
        }
        let mut t = z.t().to_owned();
        let mut yt = t.view_mut().reversed_axes(); // rows not contiguous
        softmax_rows(Isa::scalar(), yt.view_mut());
        assert!(yt.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
        // Wide vectors, and their scalar tails: the same bits.
        for isa in Isa::available() {
            let long = Array2::from_shape_fn((13, 37), |(i, j)| ((i * 37 + j) as f32 * 0.31).cos() * 90.0);
            let (mut a, mut b) = (long.clone(), long.clone());
            softmax_rows(Isa::scalar(), a.view_mut());
            softmax_rows(isa, b.view_mut());
            assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()), "{isa:?}");
        }
        let mut odd = array![[0.0f32, f32::NEG_INFINITY, 1.0], [f32::NAN, 0.0, 1.0]];
        softmax_rows(Isa::detect(), odd.view_mut());
        assert_eq!(odd[[0, 1]], 0.0);
        assert!((odd[[0, 0]] + odd[[0, 2]] - 1.0).abs() < 1e-7);
        assert!(odd.row(1).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn softmax_is_stable_and_its_backward_is_the_jacobian_product() {
        let mut z = array![[1000.0f32, 1001.0, 1002.0], [-1.0, 0.0, 1.0]];
        softmax_rows(Isa::detect(), z.view_mut());
        let want = [0.09003057f32, 0.24472847, 0.66524096];
        for r in 0..2 {
            for c in 0..3 {
                assert!((z[[r, c]] - want[c]).abs() < 1e-6);
            }
        }
        // g·J for J = diag(y) − y yᵀ, against the explicit product in f64.
        let y = z.row(1).to_owned();
        let g = array![[0.3f32, -1.2, 0.5]];
        let mut got = g.clone();
        softmax_backward_rows(y.view().insert_axis(ndarray::Axis(0)), got.view_mut());
        for j in 0..3 {
            let want: f64 = (0..3)
                .map(|i| {
                    let jac = if i == j { y[i] as f64 * (1.0 - y[i] as f64) } else { -(y[i] as f64) * y[j] as f64 };
                    g[[0, i]] as f64 * jac
                })
                .sum();
            assert!((got[[0, j]] as f64 - want).abs() < 1e-6);
        }
    }
}
