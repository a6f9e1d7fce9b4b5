//! The Adam update of one parameter tensor without amsgrad (Keras's default;
//! optimizers/rules.rs holds every rule's exact formula):
//!
//!   m ← m + (g − m)(1−β₁);   v ← v + (g² − v)(1−β₂);   w ← w − m·α / (√v + ε)
//!
//! m and v come out of the same operations as the exact formula's, so the
//! slots keep its bits. The SIMD versions then compute 1/(√v + ε) without
//! the divider, as r/(1 + ε·r) with r = 1/√v: the reciprocal-square-root
//! estimate refined by one Newton step, then the reciprocal estimate of
//! 1 + ε·r refined by one Newton step (within 3e-7 of the exact quotient).
//! The exact square root and division share one slow divider unit: with
//! them the seed model's first backward pass, which holds the first
//! kernel's update, took 950–1025 µs a 1-thread step under Adam against
//! 755 under RMSprop (profile_fit, Intel Xeon VM); with this kernel it went
//! from 952–981 to 874–904 µs (1 thread) and from 655–668 to 589–624 (2).
//!
//! v below f32::MIN_POSITIVE (0: a weight whose gradient was always 0, or
//! subnormal where subnormals are not flushed) is taken as MIN_POSITIVE,
//! whose root (1.1e-19) leaves √v + ε as ε to within 1e-7 for ε from 1e-12
//! up to 1e18 (beyond, 1 + ε·r overflows); an infinite v makes r = 0,
//! leaving the weight as it was, as Keras does; NaN stays NaN. The scalar
//! twin is the exact formula; the tests hold both to it.

use super::isa::{Isa, Level};
use super::vector::{by_vectors, F32s, VectorStep};

/// The update's constants, already in f32 (rules.rs's `Consts::Adam`).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// lr·√(1−β₂ᵗ)/(1−β₁ᵗ).
    pub alpha: f32,
    pub one_minus_b1: f32,
    pub one_minus_b2: f32,
    pub epsilon: f32,
}

/// Updates `w`, `m` and `v` in place from `g` (all the same length).
#[inline]
pub fn adam_plain(isa: Isa, step: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    assert!(w.len() == g.len() && m.len() == w.len() && v.len() == w.len(), "adam: slices differ in length");
    let done = match isa.level() {
        Level::Scalar => 0,
        // SAFETY: a SIMD level only comes from a token made after detecting
        // its features; g, m and v are as long as w (asserted above).
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => unsafe { simd::avx2(step, w, g, m, v) },
        // SAFETY: as for AVX2.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { simd::avx512(step, w, g, m, v) },
        // SAFETY: as for AVX2.
        #[cfg(target_arch = "aarch64")]
        Level::Neon => unsafe { simd::neon(step, w, g, m, v) },
    };
    scalar(step, &mut w[done..], &g[done..], &mut m[done..], &mut v[done..]);
}

fn scalar(s: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m += (g - *m) * s.one_minus_b1;
        *v += (g * g - *v) * s.one_minus_b2;
        *w -= *m * s.alpha / (v.sqrt() + s.epsilon);
    }
}

/// The update of every element, written once for every ISA; returns how
/// many it updated (all), the last few as `by_vectors` says.
///
/// # Safety
/// The CPU runs `S`'s ISA (the caller is compiled with its features).
#[inline(always)]
unsafe fn lanes<S: F32s>(s: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> usize {
    // SAFETY: the caller vouches for the ISA.
    unsafe { by_vectors::<S, 3>(s, [w, m, v], g) }
}

impl VectorStep<3> for AdamStep {
    #[inline(always)]
    unsafe fn one<S: F32s>(&self, [w, m, v]: [*mut f32; 3], g: *const f32) {
        // SAFETY: the trait's contract is one_vector's.
        unsafe { one_vector::<S>(self, w, g, m, v) }
    }
}

/// The update of `S::N` elements from `w`, `g`, `m` and `v`.
///
/// # Safety
/// The CPU runs `S`'s ISA; each pointer addresses `S::N` floats.
#[inline(always)]
unsafe fn one_vector<S: F32s>(s: &AdamStep, w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32) {
    // SAFETY: the caller's contract.
    unsafe {
        let gi = S::load(g);
        // As the exact formula, operation for operation: the same bits.
        let (m0, v0) = (S::load(m), S::load(v));
        let mi = S::add(m0, S::mul(S::sub(gi, m0), S::splat(s.one_minus_b1)));
        let vi = S::add(v0, S::mul(S::sub(S::mul(gi, gi), v0), S::splat(s.one_minus_b2)));
        S::store(m, mi);
        S::store(v, vi);
        // 1/(√v + ε) as r/(1 + ε·r), r = 1/√v, from v no smaller than
        // MIN_POSITIVE (see the module's notes); ∞ gives r = 0, and the
        // Newton step takes f32::MAX in its stead, which keeps r at 0
        // rather than making ∞·0 = NaN.
        let one = S::splat(1.0);
        let v_low = S::max(S::splat(f32::MIN_POSITIVE), vi);
        let r = S::rsqrt_estimate(v_low);
        let v_finite = S::min(S::splat(f32::MAX), v_low);
        // One Newton step: r + r·(½ − ½·v·r²).
        let half = S::splat(0.5);
        let r = S::fmadd(r, S::fnmadd(S::mul(v_finite, r), S::mul(r, half), half), r);
        let d = S::fmadd(S::splat(s.epsilon), r, one);
        // One Newton step for 1/d: q + q·(1 − d·q).
        let q = S::recip_estimate(d);
        let q = S::fmadd(q, S::fnmadd(d, q, one), q);
        let q = S::mul(r, q);
        S::store(w, S::fnmadd(S::mul(mi, S::splat(s.alpha)), q, S::load(w)));
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{lanes, AdamStep};
    use crate::kernels::vector::{Avx2, Avx512};

    /// # Safety
    /// The CPU runs AVX-512F; `g`, `m` and `v` hold at least `w.len()` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(s: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> usize {
        // SAFETY: this function's contract is `lanes`'s, for AVX-512.
        unsafe { lanes::<Avx512>(s, w, g, m, v) }
    }

    /// # Safety
    /// The CPU runs AVX2 and FMA; `g`, `m` and `v` hold at least `w.len()` floats.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(s: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> usize {
        // SAFETY: this function's contract is `lanes`'s, for AVX2.
        unsafe { lanes::<Avx2>(s, w, g, m, v) }
    }
}

#[cfg(target_arch = "aarch64")]
mod simd {
    use super::{lanes, AdamStep};
    use crate::kernels::vector::Neon;

    /// # Safety
    /// The CPU runs NEON; `g`, `m` and `v` hold at least `w.len()` floats.
    #[target_feature(enable = "neon")]
    pub unsafe fn neon(s: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> usize {
        // SAFETY: this function's contract is `lanes`'s, for NEON.
        unsafe { lanes::<Neon>(s, w, g, m, v) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: AdamStep = AdamStep { alpha: 3e-4, one_minus_b1: 0.1, one_minus_b2: 0.001, epsilon: 1e-7 };

    /// Every ISA against the exact formula in f64, at awkward lengths, over
    /// gradients and second moments spanning many magnitudes, zeros
    /// included (√v + ε from 1e-7 to about 4); m and v bit for bit against
    /// the scalar twin.
    #[test]
    fn every_isa_matches_the_exact_update() {
        for isa in Isa::available() {
            for n in [1usize, 7, 15, 16, 17, 129, 257, 1000] {
                let g: Vec<f32> = (0..n)
                    .map(|i| if i % 11 == 3 { 0.0 } else { (i as f32 * 0.37).sin() * 10f32.powi((i % 9) as i32 - 6) })
                    .collect();
                let m0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 10f32.powi((i % 7) as i32 - 5)).collect();
                let v0: Vec<f32> = (0..n)
                    .map(|i| if i % 11 == 3 { 0.0 } else { (i % 5) as f32 * 10f32.powi((i % 13) as i32 - 12) })
                    .collect();
                let w0: Vec<f32> = (0..n).map(|i| i as f32 * 0.001 - 0.3).collect();
                let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                adam_plain(isa, &STEP, &mut w, &g, &mut m, &mut v);
                let (mut ws, mut ms, mut vs) = (w0.clone(), m0.clone(), v0.clone());
                scalar(&STEP, &mut ws, &g, &mut ms, &mut vs);
                let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same(&m, &ms) && same(&v, &vs), "{isa:?} n={n}: slots differ from the scalar twin");
                for i in 0..n {
                    let inc = m[i] as f64 * STEP.alpha as f64 / ((v[i] as f64).sqrt() + STEP.epsilon as f64);
                    let want = w0[i] as f64 - inc;
                    let tol = 5e-7 * inc.abs() + 1.2e-7 * (w0[i] as f64).abs() + 1e-12;
                    assert!((w[i] as f64 - want).abs() <= tol, "{isa:?} n={n} w[{i}]: {} vs {want}", w[i]);
                }
            }
        }
    }

    /// Zero, subnormal, huge, infinite and NaN moments, as the exact
    /// formula gives them (v = 0 and subnormal v divide by ε alone), also
    /// where subnormals are flushed as on the pool's threads.
    #[test]
    fn zero_subnormal_infinite_and_nan_moments() {
        // g² underflows to 0 or a subnormal v, nears f32::MAX, or
        // overflows it; g infinite or NaN; an ordinary neighbour.
        let g = [0.0f32, 1e-20, 3e-21, 1.8e19, 1e30, 2e19, f32::INFINITY, f32::NAN, 0.5];
        let check = |isa: Isa, flushed: bool| {
            for n in [g.len(), 16, 17] {
                let g: Vec<f32> = (0..n).map(|i| g[i % g.len()]).collect();
                let (mut w, mut m, mut v) = (vec![0.25f32; n], vec![0.01f32; n], vec![0.0f32; n]);
                let (mut ws, mut ms, mut vs) = (w.clone(), m.clone(), v.clone());
                adam_plain(isa, &STEP, &mut w, &g, &mut m, &mut v);
                scalar(&STEP, &mut ws, &g, &mut ms, &mut vs);
                for i in 0..n {
                    let want = ws[i];
                    let ok = if want.is_finite() {
                        (w[i] - want).abs() <= 1e-6 * want.abs()
                    } else {
                        w[i].to_bits() == want.to_bits() || (w[i].is_nan() && want.is_nan())
                    };
                    assert!(ok, "{isa:?} flushed={flushed} g={}: w={} want {want}", g[i], w[i]);
                }
            }
        };
        for isa in Isa::available() {
            check(isa, false);
            crate::subnormals::flushing(|| check(isa, true));
        }
    }

    /// With v = 0 the quotient is 1/ε over the range the module's notes
    /// give, at both ends.
    #[test]
    fn zero_moment_divides_by_epsilon_alone() {
        for isa in Isa::available() {
            for epsilon in [1e-12f32, 1e-7, 1.0, 1e18] {
                let step = AdamStep { epsilon, ..STEP };
                let (mut w, mut m, mut v) = (vec![0.25f32; 17], vec![0.01f32; 17], vec![0.0f32; 17]);
                adam_plain(isa, &step, &mut w, &[0.0; 17], &mut m, &mut v);
                let want = 0.25 - 0.009f64 * 3e-4 / epsilon as f64;
                let ok = w.iter().all(|&w| (w as f64 - want).abs() <= 1e-6 * want.abs().max(0.25));
                assert!(ok, "{isa:?} ε={epsilon}: {w:?} want {want}");
            }
        }
    }

    /// Where a run ends changes no element's bits (see `lanes`).
    #[test]
    fn runs_cut_anywhere_give_the_same_bits() {
        let g: Vec<f32> = (0..100).map(|i| (i as f32 * 0.61).cos() * 0.3).collect();
        for isa in Isa::available() {
            let fresh = || (vec![0.5f32; 100], vec![0.02f32; 100], vec![0.01f32; 100]);
            let (mut w, mut m, mut v) = fresh();
            adam_plain(isa, &STEP, &mut w, &g, &mut m, &mut v);
            for cut in [1, 7, 37, 99] {
                let (mut w2, mut m2, mut v2) = fresh();
                let (wa, wb) = w2.split_at_mut(cut);
                let (ma, mb) = m2.split_at_mut(cut);
                let (va, vb) = v2.split_at_mut(cut);
                adam_plain(isa, &STEP, wa, &g[..cut], ma, va);
                adam_plain(isa, &STEP, wb, &g[cut..], mb, vb);
                let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same(&w, &w2) && same(&m, &m2) && same(&v, &v2), "{isa:?} cut at {cut}");
            }
        }
    }
}
