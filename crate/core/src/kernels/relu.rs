//! Relu and its derivative over rows in SIMD: the epilogues of the seed
//! model's GEMMs (relu(x·W + b) on every tile of the first layer's output,
//! dX ⊙ relu'(y) on every tile of the second layer's input gradient). The
//! generic versions in activation.rs compile to 4-wide SSE in a portable
//! build; these give each element the same bits (tested in vector.rs).

use super::isa::{Isa, Level};
use super::vector::F32s;
use super::Activation::Relu;

/// c ← relu(c + bias) on the rows × cols block at `c` (row stride `ldc`);
/// `bias` is empty (none) or holds a value per column.
///
/// # Safety
/// `c` is valid for reads and writes of `rows` rows of `cols` floats at
/// stride `ldc`, which no other thread touches meanwhile.
pub(crate) unsafe fn bias_relu_block(isa: Isa, c: *mut f32, ldc: usize, rows: usize, cols: usize, bias: &[f32]) {
    assert!(bias.is_empty() || bias.len() >= cols, "bias_relu: fewer biases than columns");
    let block = Block { c, ldc, rows, cols };
    // SAFETY: the caller vouches for the block; a SIMD level only comes
    // from a token made after detecting its features.
    unsafe {
        match isa.level() {
            Level::Scalar => (0..rows).for_each(|i| bias_relu_tail(c.add(i * ldc), 0, cols, bias)),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Fma => simd::bias_relu_avx2(block, bias),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => simd::bias_relu_avx512(block, bias),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => simd::bias_relu_neon(block, bias),
        }
    }
}

/// g ← g ⊙ relu'(y) on the rows × cols block at `g` (row stride `ldg`),
/// from relu's outputs at `y` (row stride `ldy`).
///
/// # Safety
/// As for `bias_relu_block`, and `y` is valid for reads of the same shape
/// at stride `ldy`.
pub(crate) unsafe fn relu_grad_block(
    isa: Isa,
    g: *mut f32,
    ldg: usize,
    y: *const f32,
    ldy: usize,
    rows: usize,
    cols: usize,
) {
    let block = Block { c: g, ldc: ldg, rows, cols };
    // SAFETY: as in `bias_relu_block`.
    unsafe {
        match isa.level() {
            Level::Scalar => (0..rows).for_each(|i| relu_grad_tail(g.add(i * ldg), y.add(i * ldy), 0, cols)),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Fma => simd::relu_grad_avx2(block, y, ldy),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => simd::relu_grad_avx512(block, y, ldy),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => simd::relu_grad_neon(block, y, ldy),
        }
    }
}

/// A block of C: `rows` rows of `cols` floats at stride `ldc`.
#[derive(Clone, Copy)]
pub(crate) struct Block {
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
}

/// # Safety
/// The CPU runs `S`'s ISA; the block (and bias) are as `bias_relu_block`
/// states.
#[inline(always)]
unsafe fn bias_relu_lanes<S: F32s>(b: Block, bias: &[f32]) {
    let whole = b.cols / S::N * S::N;
    for i in 0..b.rows {
        // SAFETY: row i of the block (see # Safety); vectors stay below
        // `whole` ≤ cols, and the bias, when given, covers the columns.
        unsafe {
            let row = b.c.add(i * b.ldc);
            for j in (0..whole).step_by(S::N) {
                let mut v = S::load(row.add(j));
                if !bias.is_empty() {
                    v = S::add(v, S::load(bias.as_ptr().add(j)));
                }
                S::store(row.add(j), S::relu(v));
            }
            bias_relu_tail(row, whole, b.cols, bias);
        }
    }
}

/// # Safety
/// The CPU runs `S`'s ISA; the block and `y` are as `relu_grad_block`
/// states.
#[inline(always)]
unsafe fn relu_grad_lanes<S: F32s>(b: Block, y: *const f32, ldy: usize) {
    let whole = b.cols / S::N * S::N;
    for i in 0..b.rows {
        // SAFETY: row i of both blocks (see # Safety), below `whole` ≤ cols.
        unsafe {
            let (g, y) = (b.c.add(i * b.ldc), y.add(i * ldy));
            for j in (0..whole).step_by(S::N) {
                S::store(g.add(j), S::mul(S::load(g.add(j)), S::positive_to_one(S::load(y.add(j)))));
            }
            relu_grad_tail(g, y, whole, b.cols);
        }
    }
}

/// Columns from..cols of one row, one by one: `Activation::Relu`'s own
/// arithmetic, which the vector lanes reproduce bit for bit.
///
/// # Safety
/// `row` is valid for `cols` floats, untouched by other threads.
#[inline(always)]
unsafe fn bias_relu_tail(row: *mut f32, from: usize, cols: usize, bias: &[f32]) {
    for j in from..cols {
        // SAFETY: j < cols (see # Safety).
        let v = unsafe { &mut *row.add(j) };
        *v = Relu.apply(if bias.is_empty() { *v } else { *v + bias[j] });
    }
}

/// # Safety
/// As for `bias_relu_tail`, and `y` is valid for `cols` floats.
#[inline(always)]
unsafe fn relu_grad_tail(g: *mut f32, y: *const f32, from: usize, cols: usize) {
    for j in from..cols {
        // SAFETY: j < cols (see # Safety).
        unsafe { *g.add(j) *= Relu.derivative_from_output(*y.add(j)) };
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{bias_relu_lanes, relu_grad_lanes, Block};
    use crate::kernels::vector::{Avx2, Avx512};

    /// # Safety
    /// The CPU runs AVX2; the block is as `bias_relu_block` states.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn bias_relu_avx2(block: Block, bias: &[f32]) {
        // SAFETY: this function's contract is `bias_relu_lanes`'s, for AVX2.
        unsafe { bias_relu_lanes::<Avx2>(block, bias) }
    }

    /// # Safety
    /// The CPU runs AVX-512F; the block is as `bias_relu_block` states.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn bias_relu_avx512(block: Block, bias: &[f32]) {
        // SAFETY: this function's contract is `bias_relu_lanes`'s, for AVX-512.
        unsafe { bias_relu_lanes::<Avx512>(block, bias) }
    }

    /// # Safety
    /// The CPU runs AVX2; the blocks are as `relu_grad_block` states.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn relu_grad_avx2(block: Block, y: *const f32, ldy: usize) {
        // SAFETY: this function's contract is `relu_grad_lanes`'s, for AVX2.
        unsafe { relu_grad_lanes::<Avx2>(block, y, ldy) }
    }

    /// # Safety
    /// The CPU runs AVX-512F; the blocks are as `relu_grad_block` states.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn relu_grad_avx512(block: Block, y: *const f32, ldy: usize) {
        // SAFETY: this function's contract is `relu_grad_lanes`'s, for AVX-512.
        unsafe { relu_grad_lanes::<Avx512>(block, y, ldy) }
    }
}

#[cfg(target_arch = "aarch64")]
mod simd {
    use super::{bias_relu_lanes, relu_grad_lanes, Block};
    use crate::kernels::vector::Neon;

    /// # Safety
    /// The CPU runs NEON; the block is as `bias_relu_block` states.
    #[target_feature(enable = "neon")]
    pub unsafe fn bias_relu_neon(block: Block, bias: &[f32]) {
        // SAFETY: this function's contract is `bias_relu_lanes`'s, for NEON.
        unsafe { bias_relu_lanes::<Neon>(block, bias) }
    }

    /// # Safety
    /// The CPU runs NEON; the blocks are as `relu_grad_block` states.
    #[target_feature(enable = "neon")]
    pub unsafe fn relu_grad_neon(block: Block, y: *const f32, ldy: usize) {
        // SAFETY: this function's contract is `relu_grad_lanes`'s, for NEON.
        unsafe { relu_grad_lanes::<Neon>(block, y, ldy) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::activation::{bias_activation, scale_by_derivative};
    use crate::kernels::Activation;

    /// A 3-row block inside wider rows: the block changes, nothing else.
    #[test]
    fn blocks_respect_their_stride() {
        for isa in Isa::available() {
            let (ld, cols) = (40, 19);
            let mut c: Vec<f32> = (0..3 * ld).map(|i| (i as f32 - 50.0) * 0.5).collect();
            let y: Vec<f32> = (0..3 * ld).map(|i| (i % 3) as f32 - 1.0).collect();
            let (c0, bias) = (c.clone(), vec![0.25f32; cols]);
            // SAFETY: 3 rows of 19 floats at stride 40 lie inside both vectors.
            unsafe { bias_relu_block(isa, c.as_mut_ptr().add(2), ld, 3, cols, &bias) };
            let mut g = c0.clone();
            // SAFETY: as above.
            unsafe { relu_grad_block(isa, g.as_mut_ptr().add(2), ld, y.as_ptr().add(2), ld, 3, cols) };
            for (k, (&was, (&got, &grad))) in c0.iter().zip(c.iter().zip(&g)).enumerate() {
                let inside = (2..2 + cols).contains(&(k % ld));
                let (want, want_g) =
                    if inside { (Relu.apply(was + 0.25), was * Relu.derivative_from_output(y[k])) } else { (was, was) };
                assert!(got.to_bits() == want.to_bits() && grad.to_bits() == want_g.to_bits(), "{isa:?} at {k}");
            }
        }
    }

    /// Every ISA gives the scalar twin's bits at awkward lengths, with
    /// signed zeros and NaN among the values.
    #[test]
    fn every_isa_matches_the_scalar_twin_bit_for_bit() {
        let specials = [-1.5f32, -0.0, 0.0, f32::NAN, 2.5, -1e-30, 7.0];
        for len in [1usize, 7, 15, 16, 17, 33, 100] {
            let x: Vec<f32> = (0..len).map(|i| specials[i % 7] * (1.0 + i as f32 * 0.1)).collect();
            let bias: Vec<f32> = (0..len).map(|i| 0.3 - (i % 5) as f32 * 0.2).collect();
            let y: Vec<f32> = (0..len).map(|i| specials[(i + 3) % 7]).collect();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let run = |isa: Isa| {
                let (mut a, mut b, mut g) = (x.clone(), x.clone(), x.clone());
                bias_activation(isa, Activation::Relu, &mut a, &bias);
                bias_activation(isa, Activation::Relu, &mut b, &[]);
                scale_by_derivative(isa, Activation::Relu, &mut g, &y);
                (bits(&a), bits(&b), bits(&g))
            };
            let want = run(Isa::scalar());
            for isa in Isa::available() {
                assert!(run(isa) == want, "{isa:?} len={len}");
            }
        }
    }
}
