//! The small vector abstraction the hand-written SIMD kernels are written
//! over: one generic body per op (rmsprop.rs, adam.rs, microkernel.rs, narrow.rs),
//! instantiated per instruction set inside a thin `#[target_feature]`
//! wrapper, as matrixmultiply does: AVX2 and AVX-512 on x86-64, NEON on
//! arm64. A new ISA is one more implementation of [`F32s`] here, not one
//! more copy of every kernel.
//!
//! The methods are `#[inline(always)]` so that, inlined into the wrapper,
//! they compile with its features; the wrapper's `# Safety` (the CPU runs
//! the ISA) is what makes calling them sound.

/// A register of `N` f32 lanes and the operations the kernels use.
///
/// # Safety
/// Every method may only run on a CPU with the implementing ISA, i.e. from
/// a function compiled with its target features that an `Isa` token reached.
/// Pointer arguments must be valid for the lanes they read or write.
pub(crate) unsafe trait F32s {
    type V: Copy;
    /// Lanes per register.
    const N: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// N floats from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n` (< N) floats from `p`, the other lanes 0; only those
    /// `n` floats are read.
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// a·b + c with one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// c − a·b with one rounding.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The smaller of `a` and `b`, for an `a` that is never NaN: a NaN in
    /// `b` comes out as NaN on every ISA (x86's MINPS returns its second
    /// operand when either is NaN; NEON's FMIN returns NaN).
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// The larger of `a` and `b`, NaN as for `min`.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// An estimate of 1/√a good to at least 12 bits (AVX2's; 14 on AVX-512;
    /// NEON's 8-bit estimate refined once by its own step instruction) for
    /// normal a; +∞ for +0 and +0 for +∞ on every ISA.
    unsafe fn rsqrt_estimate(a: Self::V) -> Self::V;
    /// An estimate of 1/a good to at least 12 bits, as `rsqrt_estimate`,
    /// for normal a below 2^126 (NEON's refinement step overflows above).
    unsafe fn recip_estimate(a: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum(a: Self::V) -> f32;
    /// Lanes below zero set to +0; the others (−0 and NaN included) kept,
    /// as `Activation::Relu.apply` does.
    unsafe fn relu(a: Self::V) -> Self::V;
    /// 1.0 in the lanes above zero, 0.0 elsewhere (NaN included).
    unsafe fn positive_to_one(a: Self::V) -> Self::V;
}

/// An elementwise kernel's work on one vector of elements (rmsprop.rs,
/// adam.rs): `K` arrays read and written, one read. A trait method rather
/// than a closure, because a closure does not take the target features of
/// the function it is written in, and the intrinsics inside it would be
/// calls.
pub(crate) trait VectorStep<const K: usize> {
    /// Updates the `S::N` floats at each of `outs` from those at `g`.
    ///
    /// # Safety
    /// The CPU runs `S`'s ISA; each pointer addresses `S::N` floats.
    unsafe fn one<S: F32s>(&self, outs: [*mut f32; K], g: *const f32);
}

/// Runs `step` on each `S::N` elements of `g` and of each of `outs`, at the
/// same offsets, and returns how many it covered (all). The last
/// `len % S::N` go through zero-padded copies, written back after, so an
/// element's bits never depend on where a run of them ends: the optimizer
/// cuts the arena differently when it updates the first kernel in tiles
/// (optimizers/tiles.rs), and gets the same weights.
///
/// # Safety
/// The CPU runs `S`'s ISA (the caller is compiled with its features).
#[inline(always)]
pub(crate) unsafe fn by_vectors<S: F32s, const K: usize>(
    step: &impl VectorStep<K>,
    mut outs: [&mut [f32]; K],
    g: &[f32],
) -> usize {
    const MAX_LANES: usize = 16;
    let len = g.len();
    assert!(S::N <= MAX_LANES && outs.iter().all(|o| o.len() == len), "by_vectors: lengths differ");
    let n = len / S::N * S::N;
    // SAFETY: the caller vouches for the ISA; every pointer addresses S::N
    // floats, below n ≤ len in each slice or inside the padded copies.
    unsafe {
        for i in (0..n).step_by(S::N) {
            step.one::<S>(std::array::from_fn(|k| outs[k].as_mut_ptr().add(i)), g.as_ptr().add(i));
        }
        if n < len {
            let mut tails = [[0f32; MAX_LANES]; K];
            let mut g_tail = [0f32; MAX_LANES];
            g_tail[..len - n].copy_from_slice(&g[n..]);
            for (tail, out) in tails.iter_mut().zip(&outs) {
                tail[..len - n].copy_from_slice(&out[n..]);
            }
            let mut at = tails.iter_mut().map(|t| t.as_mut_ptr());
            step.one::<S>(std::array::from_fn(|_| at.next().expect("K tails")), g_tail.as_ptr());
            for (tail, out) in tails.iter().zip(outs.iter_mut()) {
                out[n..].copy_from_slice(&tail[..len - n]);
            }
        }
    }
    len
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::F32s;
    use std::arch::x86_64::*;

    /// AVX2 with FMA: 8 lanes.
    pub(crate) struct Avx2;

    /// AVX-512F: 16 lanes.
    pub(crate) struct Avx512;

    // SAFETY: each method is one AVX2/FMA intrinsic (or a short sequence of
    // them) over the lanes the trait documents; callers run it only where
    // AVX2 and FMA are enabled (the trait's contract).
    unsafe impl F32s for Avx2 {
        type V = __m256;
        const N: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: the caller vouches for 8 floats at p.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_first(p: *const f32, n: usize) -> __m256 {
            // Lane i is loaded when i < n; masked-off lanes are never read.
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            // SAFETY: the caller vouches for n floats at p; only those are read.
            unsafe { _mm256_maskload_ps(p, mask) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            // SAFETY: the caller vouches for 8 writable floats at p.
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fnmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn min(a: __m256, b: __m256) -> __m256 {
            _mm256_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            _mm256_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn rsqrt_estimate(a: __m256) -> __m256 {
            _mm256_rsqrt_ps(a)
        }
        #[inline(always)]
        unsafe fn recip_estimate(a: __m256) -> __m256 {
            _mm256_rcp_ps(a)
        }
        #[inline(always)]
        unsafe fn sum(s: __m256) -> f32 {
            let half = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
            let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
            _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)))
        }
        #[inline(always)]
        unsafe fn relu(a: __m256) -> __m256 {
            _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_setzero_ps()), a)
        }
        #[inline(always)]
        unsafe fn positive_to_one(a: __m256) -> __m256 {
            _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a, _mm256_setzero_ps()), _mm256_set1_ps(1.0))
        }
    }

    // SAFETY: as for Avx2, with AVX-512F enabled.
    unsafe impl F32s for Avx512 {
        type V = __m512;
        const N: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: the caller vouches for 16 floats at p.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
            // SAFETY: the caller vouches for n < 16 floats at p; masked-off
            // lanes are never read.
            unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            // SAFETY: the caller vouches for 16 writable floats at p.
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            _mm512_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            _mm512_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fnmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn min(a: __m512, b: __m512) -> __m512 {
            _mm512_min_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            _mm512_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn rsqrt_estimate(a: __m512) -> __m512 {
            _mm512_rsqrt14_ps(a)
        }
        #[inline(always)]
        unsafe fn recip_estimate(a: __m512) -> __m512 {
            _mm512_rcp14_ps(a)
        }
        #[inline(always)]
        unsafe fn sum(a: __m512) -> f32 {
            _mm512_reduce_add_ps(a)
        }
        #[inline(always)]
        unsafe fn relu(a: __m512) -> __m512 {
            let zero = _mm512_setzero_ps();
            _mm512_mask_mov_ps(a, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, zero), zero)
        }
        #[inline(always)]
        unsafe fn positive_to_one(a: __m512) -> __m512 {
            _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, _mm512_setzero_ps()), _mm512_set1_ps(1.0))
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::F32s;
    use std::arch::aarch64::*;

    /// NEON (Advanced SIMD): 4 lanes, 32 registers.
    pub(crate) struct Neon;

    // SAFETY: each method is one NEON intrinsic (or a short sequence of them)
    // over the lanes the trait documents; callers run it only where NEON is
    // enabled (the trait's contract; every arm64 CPU has it).
    unsafe impl F32s for Neon {
        type V = float32x4_t;
        const N: usize = 4;
        #[inline(always)]
        unsafe fn zero() -> float32x4_t {
            vdupq_n_f32(0.0)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            vdupq_n_f32(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            // SAFETY: the caller vouches for 4 floats at p.
            unsafe { vld1q_f32(p) }
        }
        #[inline(always)]
        unsafe fn load_first(p: *const f32, n: usize) -> float32x4_t {
            // NEON has no masked load: copy the n floats into a zeroed
            // register-sized buffer, so nothing past them is read.
            let mut lanes = [0f32; 4];
            // SAFETY: the caller vouches for n < 4 floats at p.
            unsafe {
                std::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n);
                vld1q_f32(lanes.as_ptr())
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            // SAFETY: the caller vouches for 4 writable floats at p.
            unsafe { vst1q_f32(p, v) }
        }
        #[inline(always)]
        unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vaddq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vsubq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vmulq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn fmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            vfmaq_f32(c, a, b)
        }
        #[inline(always)]
        unsafe fn fnmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            vfmsq_f32(c, a, b)
        }
        #[inline(always)]
        unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vminq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vmaxq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn recip_estimate(a: float32x4_t) -> float32x4_t {
            // FRECPE gives 8 bits; one FRECPS step (e·(2 − a·e)) about 16.
            let e = vrecpeq_f32(a);
            vmulq_f32(e, vrecpsq_f32(a, e))
        }
        #[inline(always)]
        unsafe fn rsqrt_estimate(a: float32x4_t) -> float32x4_t {
            // FRSQRTE gives 8 bits; one FRSQRTS step (e·(3 − a·e²)/2) about 16,
            // so the kernels' own Newton step lands where x86's does. For a =
            // 0 or ∞ the estimate (∞ or 0) is exact, and the step's a·e would
            // be 0·∞ = NaN: those lanes keep it.
            let e = vrsqrteq_f32(a);
            let refined = vmulq_f32(e, vrsqrtsq_f32(vmulq_f32(a, e), e));
            let exact = vorrq_u32(vceqzq_f32(a), vceqq_f32(a, vdupq_n_f32(f32::INFINITY)));
            vbslq_f32(exact, e, refined)
        }
        #[inline(always)]
        unsafe fn sum(a: float32x4_t) -> f32 {
            vaddvq_f32(a)
        }
        #[inline(always)]
        unsafe fn relu(a: float32x4_t) -> float32x4_t {
            let zero = vdupq_n_f32(0.0);
            vbslq_f32(vcltq_f32(a, zero), zero, a)
        }
        #[inline(always)]
        unsafe fn positive_to_one(a: float32x4_t) -> float32x4_t {
            vbslq_f32(vcgtq_f32(a, vdupq_n_f32(0.0)), vdupq_n_f32(1.0), vdupq_n_f32(0.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa::Level;
    use crate::kernels::Isa;

    /// Every operation of one ISA against plain f32 arithmetic, with a
    /// partial load at every length.
    ///
    /// # Safety
    /// The CPU runs the ISA.
    #[inline(always)]
    unsafe fn check<S: F32s>() {
        let n = S::N;
        let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.75 - 3.0).collect();
        let b: Vec<f32> = (0..n).map(|i| 2.0 - i as f32 * 0.5).collect();
        let mut out = vec![0f32; n];
        // SAFETY: the caller vouches for the ISA; every pointer covers n floats.
        unsafe {
            let (va, vb) = (S::load(a.as_ptr()), S::load(b.as_ptr()));
            type Reference = fn(f32, f32) -> f32;
            let cases: [(S::V, Reference); 7] = [
                (S::add(va, vb), |x, y| x + y),
                (S::sub(va, vb), |x, y| x - y),
                (S::mul(va, vb), |x, y| x * y),
                (S::fmadd(va, vb, S::splat(1.5)), |x, y| x.mul_add(y, 1.5)),
                (S::fnmadd(va, vb, S::splat(1.5)), |x, y| (-x).mul_add(y, 1.5)),
                (S::min(va, vb), |x, y| x.min(y)),
                (S::max(va, vb), |x, y| x.max(y)),
            ];
            for (v, f) in cases {
                S::store(out.as_mut_ptr(), v);
                assert!(out.iter().enumerate().all(|(i, &o)| o == f(a[i], b[i])));
            }
            assert_eq!(S::sum(va), a.iter().sum::<f32>());
            S::store(out.as_mut_ptr(), S::rsqrt_estimate(S::splat(4.0)));
            assert!(out.iter().all(|&r| (r - 0.5).abs() < 1e-3));
            S::store(out.as_mut_ptr(), S::recip_estimate(S::splat(3.0)));
            assert!(out.iter().all(|&r| (r - 1.0 / 3.0).abs() < 1e-3 / 3.0));
            S::store(out.as_mut_ptr(), S::rsqrt_estimate(S::splat(0.0)));
            assert!(out.iter().all(|&r| r == f32::INFINITY), "rsqrt_estimate(0): {out:?}");
            S::store(out.as_mut_ptr(), S::rsqrt_estimate(S::splat(f32::INFINITY)));
            assert!(out.iter().all(|&r| r == 0.0), "rsqrt_estimate(∞): {out:?}");
            // Across the normal range, at both ends.
            for x in [f32::MIN_POSITIVE, 1e-30, 3.0, 2f32.powi(127), f32::MAX] {
                S::store(out.as_mut_ptr(), S::rsqrt_estimate(S::splat(x)));
                let want = 1.0 / (x as f64).sqrt();
                assert!(out.iter().all(|&r| ((r as f64) / want - 1.0).abs() < 1e-3), "rsqrt_estimate({x}): {out:?}");
            }
            for k in 0..n {
                S::store(out.as_mut_ptr(), S::load_first(a.as_ptr(), k));
                assert!((0..n).all(|i| out[i] == if i < k { a[i] } else { 0.0 }), "load_first({k})");
            }
            S::store(out.as_mut_ptr(), S::zero());
            assert!(out.iter().all(|&o| o == 0.0));
            // Signed zeros and NaN, bit for bit, in every lane position.
            let specials = [-1.5, -0.0, 0.0, f32::NAN, 2.5, -f32::INFINITY, f32::MIN_POSITIVE, -1e-30];
            let c: Vec<f32> = (0..n).map(|i| specials[i % specials.len()]).collect();
            let vc = S::load(c.as_ptr());
            use crate::kernels::Activation::Relu;
            type Unary = fn(f32) -> f32;
            let unary: [(S::V, Unary); 2] =
                [(S::relu(vc), |x| Relu.apply(x)), (S::positive_to_one(vc), |x| Relu.derivative_from_output(x))];
            for (v, f) in unary {
                S::store(out.as_mut_ptr(), v);
                assert!(out.iter().zip(&c).all(|(o, &x)| o.to_bits() == f(x).to_bits()), "{out:?} from {c:?}");
            }
            // min's and max's NaN in their second operand, whatever the first.
            S::store(out.as_mut_ptr(), S::min(S::splat(1.0), vc));
            let want = |x: f32| if x.is_nan() { f32::NAN } else { x.min(1.0) };
            assert!(out.iter().zip(&c).all(|(o, &x)| o.to_bits() == want(x).to_bits()), "min: {out:?} from {c:?}");
            S::store(out.as_mut_ptr(), S::max(S::splat(1.0), vc));
            let want = |x: f32| if x.is_nan() { f32::NAN } else { x.max(1.0) };
            assert!(out.iter().zip(&c).all(|(o, &x)| o.to_bits() == want(x).to_bits()), "max: {out:?} from {c:?}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn check_avx2() {
        // SAFETY: this wrapper runs only where AVX2 and FMA were detected.
        unsafe { check::<Avx2>() }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn check_avx512() {
        // SAFETY: this wrapper runs only where AVX-512F was detected.
        unsafe { check::<Avx512>() }
    }

    #[cfg(target_arch = "aarch64")]
    #[target_feature(enable = "neon")]
    unsafe fn check_neon() {
        // SAFETY: this wrapper runs only where NEON was detected.
        unsafe { check::<Neon>() }
    }

    #[test]
    fn every_operation_matches_scalar_arithmetic_on_every_isa() {
        for isa in Isa::available() {
            match isa.level() {
                Level::Scalar => {}
                // SAFETY: the token proves the CPU runs the ISA.
                #[cfg(target_arch = "x86_64")]
                Level::Avx2Fma => unsafe { check_avx2() },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => unsafe { check_avx512() },
                // SAFETY: as above.
                #[cfg(target_arch = "aarch64")]
                Level::Neon => unsafe { check_neon() },
            }
        }
    }
}
