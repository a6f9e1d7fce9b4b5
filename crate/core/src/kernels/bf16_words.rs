//! float32 to packed bfloat16 words, 16 at a time with AVX-512F: the same
//! bits as `bf16::pair` (to nearest, ties to even; NaN quietened), so that
//! a product's bits do not depend on which packer ran. The bfloat16 kernels'
//! operands are converted every step (the weights change), and one element
//! at a time this took longer than AMX's products.

use super::bf16::{pair, Bf16Kernel};

/// `out[i] = pair(lo[i], hi[i])` for every i of `out`; AVX-512F for any
/// `kernel` but the scalar twin (its token proves the CPU runs it).
pub(super) fn pairs(kernel: Bf16Kernel, lo: &[f32], hi: &[f32], out: &mut [u32]) {
    let (lo, hi) = (&lo[..out.len()], &hi[..out.len()]);
    let done = if kernel == Bf16Kernel::Scalar { 0 } else { out.len() / 16 * 16 };
    for ((w, l), h) in out[..done].chunks_exact_mut(16).zip(lo.chunks_exact(16)).zip(hi.chunks_exact(16)) {
        // SAFETY: a SIMD bf16 token exists only where AVX-512F was
        // detected; each chunk holds 16 elements.
        unsafe { simd::pairs16(l.as_ptr(), h.as_ptr(), w.as_mut_ptr()) };
    }
    pairs_scalar(&lo[done..], &hi[done..], &mut out[done..]);
}

/// `out[i] = pair(x[2i], x[2i + 1])`: a run of floats to a run of words.
pub(super) fn runs(kernel: Bf16Kernel, x: &[f32], out: &mut [u32]) {
    let x = &x[..2 * out.len()];
    let done = if kernel == Bf16Kernel::Scalar { 0 } else { out.len() / 16 * 16 };
    for (w, x) in out[..done].chunks_exact_mut(16).zip(x.chunks_exact(32)) {
        // SAFETY: as in `pairs`; 32 floats in, 16 words out.
        unsafe { simd::runs32(x.as_ptr(), w.as_mut_ptr()) };
    }
    for (w, two) in out[done..].iter_mut().zip(x[2 * done..].chunks_exact(2)) {
        *w = pair(two[0], two[1]);
    }
}

/// Pair-major words from two rows per pair of a row-major matrix `data`
/// (row stride `ld`): `out[p·width + j] = pair(data[2p·ld + first + j],
/// data[(2p + 1)·ld + first + j])` for p < `pairs`, j < `width` (a multiple
/// of 16). One call per panel: a call per 16 words cost more than the words.
pub(super) fn strips(
    kernel: Bf16Kernel,
    data: &[f32],
    ld: usize,
    first: usize,
    pairs: usize,
    width: usize,
    out: &mut [u32],
) {
    assert!(width.is_multiple_of(16) && out.len() >= pairs * width, "strips: {width} wide, {} words", out.len());
    if pairs == 0 {
        return;
    }
    assert!((2 * pairs - 1) * ld + first + width <= data.len(), "strips: rows past the data");
    if kernel != Bf16Kernel::Scalar {
        // SAFETY: a SIMD token proves AVX-512F; the asserts bound every read and write.
        unsafe { simd::strips(data.as_ptr().add(first), ld, pairs, width, out.as_mut_ptr()) };
        return;
    }
    for p in 0..pairs {
        let (lo, hi) = (&data[2 * p * ld + first..][..width], &data[(2 * p + 1) * ld + first..][..width]);
        pairs_scalar(lo, hi, &mut out[p * width..(p + 1) * width]);
    }
}

/// Row-major words for 16 rows: `out[o·kp + p] = pair(data[2p·ld + first
/// + o], data[(2p + 1)·ld + first + o])` for o < 16, p < `pairs`, where
/// `data` holds the rows' k-values down its columns (Xᵀ of a row-major X).
pub(super) fn rows16(
    kernel: Bf16Kernel,
    data: &[f32],
    ld: usize,
    first: usize,
    pairs: usize,
    kp: usize,
    out: &mut [u32],
) {
    assert!(pairs <= kp && out.len() >= 15 * kp + pairs, "rows16: {} words for kp {kp}", out.len());
    assert!(15 * kp <= i32::MAX as usize, "rows16: kp {kp} past the scatter's 32-bit offsets");
    if pairs == 0 {
        return;
    }
    assert!((2 * pairs - 1) * ld + first + 16 <= data.len(), "rows16: columns past the data");
    if kernel != Bf16Kernel::Scalar {
        // SAFETY: as in `strips`.
        unsafe { simd::rows16(data.as_ptr().add(first), ld, pairs, kp, out.as_mut_ptr()) };
        return;
    }
    for p in 0..pairs {
        for o in 0..16 {
            out[o * kp + p] = pair(data[2 * p * ld + first + o], data[(2 * p + 1) * ld + first + o]);
        }
    }
}

/// Half of some words from `values`, 16 words at a time, each 16 `stride`
/// words after the last (a row of a matrix across 16-column slivers): the
/// low halves (element 2p of each pair) or, if `odd`, the high ones. The
/// other halves are not written, so two threads may fill a word's two
/// halves. AVX-512BW for `Bf16Kernel::Amx` only (its detection checks BW).
///
/// # Safety
/// Word i of chunk q (i < 16, `values` in chunks of 16) is `words + q·stride
/// + i`, valid for writes, and its `odd` half no other thread accesses meanwhile.
pub(super) unsafe fn halves(kernel: Bf16Kernel, values: &[f32], words: *mut u32, stride: usize, odd: bool) {
    let whole = if matches!(kernel, Bf16Kernel::Amx(_)) { values.len() / 16 } else { 0 };
    for q in 0..whole {
        // SAFETY: an Amx token proves AVX-512F and BW; the caller vouches for the words.
        unsafe { simd::halves16(values[16 * q..].as_ptr(), words.wrapping_add(q * stride), odd) };
    }
    for (i, &v) in values.iter().enumerate().skip(16 * whole) {
        let half = words.wrapping_add(i / 16 * stride + i % 16).cast::<u16>().wrapping_add(usize::from(odd));
        // SAFETY: half `odd` of a word of the caller's (see # Safety).
        unsafe { half.write(super::bf16::to_bf16(v)) };
    }
}

fn pairs_scalar(lo: &[f32], hi: &[f32], out: &mut [u32]) {
    for ((w, &l), &h) in out.iter_mut().zip(lo).zip(hi) {
        *w = pair(l, h);
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// 16 floats to bfloat16 in the low halves of 16 lanes: `to_bf16`'s
    /// integer arithmetic, lane by lane.
    #[target_feature(enable = "avx512f")]
    fn bf16x16(x: __m512) -> __m512i {
        let bits = _mm512_castps_si512(x);
        let lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
        let rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
        let quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        _mm512_mask_blend_epi32(nan, rounded, quiet)
    }

    /// # Safety
    /// The CPU runs AVX-512F; `lo` and `hi` hold 16 floats, `out` 16 words.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pairs16(lo: *const f32, hi: *const f32, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA and the lengths.
        unsafe {
            let (l, h) = (bf16x16(_mm512_loadu_ps(lo)), bf16x16(_mm512_loadu_ps(hi)));
            _mm512_storeu_si512(out.cast(), _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F; rows 2p and 2p + 1 (p < pairs) of `lo` (row
    /// stride `ld`) hold `width` floats, `out` holds pairs·width words.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn strips(lo: *const f32, ld: usize, pairs: usize, width: usize, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA and the lengths.
        unsafe {
            for p in 0..pairs {
                let (l, h, o) = (lo.add(2 * p * ld), lo.add((2 * p + 1) * ld), out.add(p * width));
                for c in (0..width).step_by(16) {
                    pairs16(l.add(c), h.add(c), o.add(c));
                }
            }
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F; rows 2p and 2p + 1 (p < pairs) of `lo` (row
    /// stride `ld`) hold 16 floats; `out` holds 15·kp + pairs words.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn rows16(lo: *const f32, ld: usize, pairs: usize, kp: usize, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA and the lengths; lane o
        // scatters to out[o·kp + p], o < 16.
        unsafe {
            let at = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(kp as i32),
            );
            for p in 0..pairs {
                let (l, h) =
                    (bf16x16(_mm512_loadu_ps(lo.add(2 * p * ld))), bf16x16(_mm512_loadu_ps(lo.add((2 * p + 1) * ld))));
                _mm512_i32scatter_epi32::<4>(out.add(p).cast(), at, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
            }
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F and BW; `x` holds 16 floats and `out` 16 words,
    /// whose `odd` halves are the caller's to write.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn halves16(x: *const f32, out: *mut u32, odd: bool) {
        // SAFETY: the caller vouches for the ISA and the words; the masked
        // store writes only the chosen half of each word.
        unsafe {
            let lanes = bf16x16(_mm512_loadu_ps(x));
            if odd {
                _mm512_mask_storeu_epi16(out.cast(), 0xaaaa_aaaa, _mm512_slli_epi32(lanes, 16));
            } else {
                _mm512_mask_storeu_epi16(out.cast(), 0x5555_5555, lanes);
            }
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F; `x` holds 32 floats, `out` 16 words.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn runs32(x: *const f32, out: *mut u32) {
        // SAFETY: as in `pairs16`; VPMOVDW keeps each lane's low half, so
        // the 32 halves land in order: element 2i low in word i.
        unsafe {
            let first = _mm512_cvtepi32_epi16(bf16x16(_mm512_loadu_ps(x)));
            let second = _mm512_cvtepi32_epi16(bf16x16(_mm512_loadu_ps(x.add(16))));
            _mm256_storeu_si256(out.cast(), first);
            _mm256_storeu_si256(out.add(8).cast(), second);
        }
    }
}

/// Only the scalar twin exists off x86-64: no SIMD token is ever made there.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub unsafe fn pairs16(_: *const f32, _: *const f32, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn runs32(_: *const f32, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn strips(_: *const f32, _: usize, _: usize, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn rows16(_: *const f32, _: usize, _: usize, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn halves16(_: *const f32, _: *mut u32, _: bool) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every SIMD kernel's packer against the scalar twin's, bit for bit, at
    /// lengths around the 16-word step, over values that round every way:
    /// ties to even, NaNs, infinities, subnormals, signed zeros.
    #[test]
    fn simd_words_match_the_scalar_twin() {
        let specials =
            [0.0, -0.0, f32::NAN, -f32::NAN, f32::INFINITY, f32::MIN_POSITIVE / 3.0, f32::MAX, 1.0 + 1.0 / 256.0];
        let x: Vec<f32> = (0..200u32)
            .map(|i| {
                if i % 7 == 0 {
                    specials[(i / 7) as usize % specials.len()]
                } else {
                    f32::from_bits(i.wrapping_mul(2_654_435_761))
                }
            })
            .collect();
        let kernels = [Bf16Kernel::detect(), Bf16Kernel::detect_amx()];
        for kernel in kernels.into_iter().flatten() {
            for len in [0, 1, 15, 16, 17, 33, 64, 99] {
                let (mut want, mut got) = (vec![0u32; len], vec![1u32; len]);
                pairs(Bf16Kernel::Scalar, &x, &x[100..], &mut want);
                pairs(kernel, &x, &x[100..], &mut got);
                assert_eq!(got, want, "pairs {kernel:?} {len}");
                runs(Bf16Kernel::Scalar, &x, &mut want);
                runs(kernel, &x, &mut got);
                assert_eq!(got, want, "runs {kernel:?} {len}");
            }
            // A 10×20 matrix (row stride 20): strips of 16 from column 3,
            // and 16 rows of words from column 2, over 4 pairs.
            let (mut want, mut got) = (vec![0u32; 64], vec![1u32; 64]);
            strips(Bf16Kernel::Scalar, &x, 20, 3, 4, 16, &mut want);
            strips(kernel, &x, 20, 3, 4, 16, &mut got);
            assert_eq!(got, want, "strips {kernel:?}");
            let (mut want, mut got) = (vec![7u32; 15 * 5 + 4], vec![7u32; 15 * 5 + 4]);
            rows16(Bf16Kernel::Scalar, &x, 20, 2, 4, 5, &mut want);
            rows16(kernel, &x, 20, 2, 4, 5, &mut got);
            assert_eq!(got, want, "rows16 {kernel:?}");
        }
    }
}
