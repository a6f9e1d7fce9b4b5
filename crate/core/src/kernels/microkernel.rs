//! The MR×NR microkernel: C_tile (+)= A_sliver · B_sliver over `k` steps.
//!
//! Packed layouts (see `pack.rs`): the A sliver holds `a[p*MR + i]` = A[i, p],
//! the B sliver `b[p*NR + j]` = B[p, j], so each step reads MR scalars of A
//! and NR contiguous floats of B.
//!
//! Two implementations share the contract: an AVX2+FMA one, chosen at run time,
//! and a portable scalar twin (auto-vectorised to SSE2 at best). They differ
//! only by the FMA's single rounding, which the tests allow for.

use super::params::{MR, NR};

/// Which instruction set the microkernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Isa {
    /// The fastest kernel this CPU runs, unless `FERRO_NN_FORCE_SCALAR=1`.
    pub fn detect() -> Isa {
        if std::env::var("FERRO_NN_FORCE_SCALAR").is_ok_and(|v| v == "1") {
            return Isa::Scalar;
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2Fma;
        }
        Isa::Scalar
    }

    /// Every kernel this CPU can run (for the tests that race them).
    pub fn available() -> Vec<Isa> {
        let mut all = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            all.push(Isa::Avx2Fma);
        }
        all
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => "avx2+fma",
        }
    }

    /// Runs the microkernel of this ISA.
    ///
    /// # Safety
    /// `c` must be valid for reads and writes of MR rows of NR floats at row
    /// stride `rs_c`, and no other thread may touch those floats meanwhile.
    #[inline]
    pub unsafe fn kernel(self, k: usize, a: &[f32], b: &[f32], c: *mut f32, rs_c: usize, accumulate: bool) {
        assert!(a.len() >= k * MR && b.len() >= k * NR, "microkernel slivers too short");
        match self {
            Isa::Scalar => kernel_scalar(k, a, b, c, rs_c, accumulate),
            // SAFETY: an Isa::Avx2Fma is only made after is_x86_feature_detected!
            // confirmed both features; the slivers were bounds-checked above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => kernel_avx2_fma(k, a.as_ptr(), b.as_ptr(), c, rs_c, accumulate),
        }
    }
}

/// The portable twin: plain multiply-add on a register-sized tile.
unsafe fn kernel_scalar(k: usize, a: &[f32], b: &[f32], c: *mut f32, rs_c: usize, accumulate: bool) {
    let mut acc = [[0f32; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(k) {
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees MR rows of NR floats at stride rs_c.
        let row = std::slice::from_raw_parts_mut(c.add(i * rs_c), NR);
        for (dst, &v) in row.iter_mut().zip(acc_row) {
            *dst = if accumulate { *dst + v } else { v };
        }
    }
}

/// 6×16 tile in 12 ymm accumulators; per step two loads of B, six broadcasts
/// of A and twelve FMAs, which keeps both FMA pipes of a Zen/Skylake core busy.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2_fma(k: usize, a: *const f32, b: *const f32, c: *mut f32, rs_c: usize, accumulate: bool) {
    use std::arch::x86_64::*;
    const _: () = assert!(MR == 6 && NR == 16, "kernel_avx2_fma is written for a 6×16 tile");

    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm256_broadcast_ss(&*a.add(i));
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
        a = a.add(MR);
        b = b.add(NR);
    }
    for (i, row) in acc.iter().enumerate() {
        let dst = c.add(i * rs_c);
        let (mut lo, mut hi) = (row[0], row[1]);
        if accumulate {
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(dst));
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(dst.add(8)));
        }
        _mm256_storeu_ps(dst, lo);
        _mm256_storeu_ps(dst.add(8), hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tile against a float64 loop, for every ISA, at awkward depths.
    #[test]
    fn every_isa_matches_float64_on_one_tile() {
        for isa in Isa::available() {
            for k in [0usize, 1, 2, 7, 17, 129, 257] {
                let a: Vec<f32> = (0..k * MR).map(|x| ((x * 37 % 101) as f32 - 50.0) / 25.0).collect();
                let b: Vec<f32> = (0..k * NR).map(|x| ((x * 53 % 97) as f32 - 48.0) / 24.0).collect();
                for accumulate in [false, true] {
                    let rs_c = NR + 3;
                    let mut c: Vec<f32> = (0..MR * rs_c).map(|x| x as f32 * 0.5).collect();
                    let before = c.clone();
                    unsafe { isa.kernel(k, &a, &b, c.as_mut_ptr(), rs_c, accumulate) };
                    for i in 0..MR {
                        for j in 0..rs_c {
                            let got = c[i * rs_c + j];
                            if j >= NR {
                                assert_eq!(got, before[i * rs_c + j], "{isa:?} wrote outside the tile");
                                continue;
                            }
                            let mut want: f64 = (0..k).map(|p| a[p * MR + i] as f64 * b[p * NR + j] as f64).sum();
                            if accumulate {
                                want += before[i * rs_c + j] as f64;
                            }
                            let tol = 1e-5 * (1.0 + k as f64) * (1.0 + want.abs());
                            assert!((got as f64 - want).abs() <= tol, "{isa:?} k={k} ({i},{j}): {got} vs {want}");
                        }
                    }
                }
            }
        }
    }
}
