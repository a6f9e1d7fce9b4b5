//! The packers' AVX-512 bodies. Each is written once over [`Words`], the
//! float32 → bfloat16 conversion, and compiled twice behind thin
//! `#[target_feature]` wrappers (`both_ways!`): with VCVTNE2PS2BF16 where
//! the CPU reports AVX512_BF16 (one instruction for 32 floats), and with
//! the integer arithmetic of `bf16::to_bf16` elsewhere (about 20 for 32:
//! AVX-512BW guests that hide AVX512_BF16, and the stand-in tokens of the
//! tests). Both give `to_bf16`'s bits (the twin test checks each).

use super::{Slivers, Strips};
use std::arch::x86_64::*;

/// A float32 → bfloat16 conversion of whole vectors.
///
/// # Safety
/// The methods may only run on a CPU with the implementation's features,
/// inlined into a function compiled with them (`both_ways!`); they are
/// `#[inline(always)]` for that (vector.rs says why).
unsafe trait Words {
    /// Word i pairs `lo` lane i (low half) with `hi` lane i.
    unsafe fn pairs(lo: __m512, hi: __m512) -> __m512i;
    /// Word i pairs floats 2i and 2i + 1 of a run of 32: `first` holds
    /// floats 0..16, `second` 16..32.
    unsafe fn runs(first: __m512, second: __m512) -> __m512i;
}

/// `to_bf16`'s integer arithmetic (AVX-512F and BW).
struct Arith;

/// VCVTNE2PS2BF16 (AVX512_BF16, and BW for the interleave).
struct Cvtne;

unsafe impl Words for Arith {
    #[inline(always)]
    unsafe fn pairs(lo: __m512, hi: __m512) -> __m512i {
        // SAFETY: AVX-512F, which the trait's contract vouches for.
        unsafe { _mm512_or_si512(bf16x16(lo), _mm512_slli_epi32(bf16x16(hi), 16)) }
    }

    #[inline(always)]
    unsafe fn runs(first: __m512, second: __m512) -> __m512i {
        // SAFETY: as above. VPMOVDW keeps each lane's low half, so the
        // halves land in order.
        unsafe {
            let (first, second) = (_mm512_cvtepi32_epi16(bf16x16(first)), _mm512_cvtepi32_epi16(bf16x16(second)));
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(first), second)
        }
    }
}

unsafe impl Words for Cvtne {
    #[inline(always)]
    unsafe fn pairs(lo: __m512, hi: __m512) -> __m512i {
        // SAFETY: AVX512_BF16 and BW, which the trait's contract vouches
        // for. The conversion gives lo's 16 halves then hi's; VPERMW
        // interleaves them (half 2i from lo's i, 2i + 1 from hi's).
        unsafe {
            let halves: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
            let order = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2,
                17, 1, 16, 0,
            );
            _mm512_permutexvar_epi16(order, halves)
        }
    }

    #[inline(always)]
    unsafe fn runs(first: __m512, second: __m512) -> __m512i {
        // SAFETY: as above; `first`'s halves land in the low 16, in order.
        unsafe { std::mem::transmute(_mm512_cvtne2ps_pbh(second, first)) }
    }
}

/// 16 floats to bfloat16 in the low halves of 16 lanes: `to_bf16`'s
/// integer arithmetic, lane by lane.
#[target_feature(enable = "avx512f")]
fn bf16x16(x: __m512) -> __m512i {
    let bits = _mm512_castps_si512(x);
    let high = _mm512_srli_epi32(bits, 16);
    let lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
    let rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    let quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    let zero = _mm512_and_si512(high, _mm512_set1_epi32(0x8000));
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    // Zeros and subnormals: no exponent bits (a zero rounds to itself).
    let tiny = !_mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x7f80_0000));
    _mm512_mask_blend_epi32(nan, _mm512_mask_blend_epi32(tiny, rounded, zero), quiet)
}

/// `pub unsafe fn $name(ne: bool, args…)`: `$body::<Cvtne>` compiled with
/// AVX512_BF16 when `ne`, else `$body::<Arith>`; its `# Safety` is the
/// body's, plus: the CPU runs AVX-512F and BW, and AVX512_BF16 if `ne`.
macro_rules! both_ways {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub unsafe fn $name(ne: bool, $($arg: $ty),*) {
            #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
            unsafe fn cvtne($($arg: $ty),*) {
                // SAFETY: `$name`'s caller vouches for the ISA and the body's contract.
                unsafe { $body::<Cvtne>($($arg),*) }
            }
            #[target_feature(enable = "avx512f,avx512bw")]
            unsafe fn arith($($arg: $ty),*) {
                // SAFETY: as above.
                unsafe { $body::<Arith>($($arg),*) }
            }
            // SAFETY: as above; `ne` only where the CPU has AVX512_BF16.
            unsafe {
                if ne {
                    cvtne($($arg),*)
                } else {
                    arith($($arg),*)
                }
            }
        }
    };
}

both_ways! {
    /// # Safety
    /// Rows 2p and 2p + 1 (p < pairs) of `lo` (row stride `ld`) hold
    /// `to.count` floats, and words `to.at(p, j)` (j < `to.count`) from
    /// `out` are the caller's to write.
    strips => strips_with(lo: *const f32, ld: usize, pairs: usize, to: Strips, out: *mut u32)
}

#[inline(always)]
unsafe fn strips_with<W: Words>(lo: *const f32, ld: usize, pairs: usize, to: Strips, out: *mut u32) {
    // SAFETY: the caller vouches for the ISA and the lengths; the masked
    // loads and stores touch only lanes of columns below `count`. In
    // panels 8 wide the second panel's store starts 8 words early, at its
    // masked-off lanes (a wrapping pointer, never dereferenced there).
    unsafe {
        let Strips { width, count, stride } = to;
        // Out of the loop: a division per pair of rows took longer than
        // their words.
        let panels = count.div_ceil(width);
        for p in 0..pairs {
            let (l, h) = (lo.add(2 * p * ld), lo.add((2 * p + 1) * ld));
            if width == 8 {
                for c in (0..count).step_by(16) {
                    let (w, mask) = strip::<W>(l.add(c), h.add(c), count - c);
                    let at = out.wrapping_add(c / 8 * stride + p * 8);
                    _mm512_mask_storeu_epi32(at.cast(), mask & 0xff, w);
                    _mm512_mask_storeu_epi32(at.wrapping_add(stride - 8).cast(), mask & 0xff00, w);
                }
                continue;
            }
            for q in 0..panels {
                let (first, end) = (q * width, count.min((q + 1) * width));
                let (l, h, at) = (l.add(first), h.add(first), out.add(q * stride + p * width));
                let whole = (end - first) / 16 * 16;
                for c in (0..whole).step_by(16) {
                    let words = W::pairs(_mm512_loadu_ps(l.add(c)), _mm512_loadu_ps(h.add(c)));
                    _mm512_storeu_si512(at.add(c).cast(), words);
                }
                if whole < end - first {
                    let (w, mask) = strip::<W>(l.add(whole), h.add(whole), end - first - whole);
                    _mm512_mask_storeu_epi32(at.add(whole).cast(), mask, w);
                }
            }
        }
    }
}

/// The words of up to 16 columns (`left`, or 16 if more) of a pair of
/// rows, and the mask of those columns' lanes.
///
/// # Safety
/// As `Words`'s; `l` and `h` hold min(left, 16) floats.
#[inline(always)]
unsafe fn strip<W: Words>(l: *const f32, h: *const f32, left: usize) -> (__m512i, __mmask16) {
    let mask: __mmask16 = if left >= 16 { !0 } else { (1 << left) - 1 };
    // SAFETY: the caller vouches for the ISA; the masked loads read only
    // the floats it vouches for.
    unsafe { (W::pairs(_mm512_maskz_loadu_ps(mask, l), _mm512_maskz_loadu_ps(mask, h)), mask) }
}

both_ways! {
    /// # Safety
    /// `lo` and `hi` hold 16·chunks floats, and `to` names chunks of 16
    /// words to write.
    pairs_into => pairs_into_with(lo: *const f32, hi: *const f32, chunks: usize, to: Slivers)
}

#[inline(always)]
unsafe fn pairs_into_with<W: Words>(lo: *const f32, hi: *const f32, chunks: usize, to: Slivers) {
    // SAFETY: the caller vouches for the ISA and the lengths.
    unsafe {
        for q in 0..chunks {
            let words = W::pairs(_mm512_loadu_ps(lo.add(16 * q)), _mm512_loadu_ps(hi.add(16 * q)));
            _mm512_storeu_si512(to.chunk(q).cast(), words);
        }
    }
}

/// The 16 words of a run of 32 floats from `x`.
///
/// # Safety
/// As `Words`'s; `x` holds 32 floats.
#[inline(always)]
unsafe fn run<W: Words>(x: *const f32) -> __m512i {
    // SAFETY: the caller vouches for the ISA and the floats.
    unsafe { W::runs(_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16))) }
}

both_ways! {
    /// # Safety
    /// `x` holds 32 floats, `out` 16 words.
    runs32 => runs32_with(x: *const f32, out: *mut u32)
}

#[inline(always)]
unsafe fn runs32_with<W: Words>(x: *const f32, out: *mut u32) {
    // SAFETY: the caller vouches for the ISA and the lengths.
    unsafe { _mm512_storeu_si512(out.cast(), run::<W>(x)) }
}

both_ways! {
    /// 8 rows' first `pairs` (≤ 16) pairs, pair-major: `out[8p + o]` =
    /// row o's word p, p < `pairs`; the words past them are not written.
    ///
    /// # Safety
    /// Rows o < 8 at `rows + o·k` hold 2·pairs floats, and `out` holds
    /// 8·pairs words.
    across8 => across8_with(rows: *const f32, k: usize, pairs: usize, out: *mut u32)
}

#[inline(always)]
unsafe fn across8_with<W: Words>(rows: *const f32, k: usize, pairs: usize, out: *mut u32) {
    // SAFETY: the caller vouches for the ISA, the floats and the words;
    // the masked loads read only floats below 2·pairs, and the stores
    // below write only words of pairs below `pairs`.
    unsafe {
        let floats = 2 * pairs.min(16);
        let first: __mmask16 = if floats >= 16 { !0 } else { (1 << floats) - 1 };
        let second: __mmask16 = if floats >= 32 { !0 } else { (1u32 << floats.saturating_sub(16)) as u16 - 1 };
        let r: [__m512i; 8] = std::array::from_fn(|o| {
            let row = rows.add(o * k);
            W::runs(_mm512_maskz_loadu_ps(first, row), _mm512_maskz_loadu_ps(second, row.add(16)))
        });
        // In each 128-bit lane (words 4L..4L + 3 of a row): rows side by
        // side, two words of each pair (a), then four (u: u[g][c] is word
        // 4L + c of rows 4g..4g + 3).
        let a: [__m512i; 8] = std::array::from_fn(|i| {
            let (x, y) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_epi32(x, y)
            } else {
                _mm512_unpackhi_epi32(x, y)
            }
        });
        let u: [[__m512i; 4]; 2] = std::array::from_fn(|g| {
            let (lo, hi) = (4 * g, 4 * g + 1);
            [
                _mm512_unpacklo_epi64(a[lo], a[lo + 2]),
                _mm512_unpackhi_epi64(a[lo], a[lo + 2]),
                _mm512_unpacklo_epi64(a[hi], a[hi + 2]),
                _mm512_unpackhi_epi64(a[hi], a[hi + 2]),
            ]
        });
        // Lanes 0–1 (pq) and 2–3 (qr) of both row groups, then each output
        // vector: pairs 2j and 2j + 1, all 8 rows of each.
        let pq: [__m512i; 4] = std::array::from_fn(|c| _mm512_shuffle_i32x4::<0x44>(u[0][c], u[1][c]));
        let qr: [__m512i; 4] = std::array::from_fn(|c| _mm512_shuffle_i32x4::<0xee>(u[0][c], u[1][c]));
        let v = [
            _mm512_shuffle_i32x4::<0x88>(pq[0], pq[1]),
            _mm512_shuffle_i32x4::<0x88>(pq[2], pq[3]),
            _mm512_shuffle_i32x4::<0xdd>(pq[0], pq[1]),
            _mm512_shuffle_i32x4::<0xdd>(pq[2], pq[3]),
            _mm512_shuffle_i32x4::<0x88>(qr[0], qr[1]),
            _mm512_shuffle_i32x4::<0x88>(qr[2], qr[3]),
            _mm512_shuffle_i32x4::<0xdd>(qr[0], qr[1]),
            _mm512_shuffle_i32x4::<0xdd>(qr[2], qr[3]),
        ];
        // Vector j holds pairs 2j and 2j + 1: whole, or the first half.
        for (j, &v) in v.iter().enumerate().take(pairs.min(16).div_ceil(2)) {
            let mask: __mmask16 = if 2 * j + 1 < pairs { !0 } else { 0xff };
            _mm512_mask_storeu_epi32(out.add(16 * j).cast(), mask, v);
        }
    }
}

/// Lane i times `stride`: the offsets of a scatter down a column.
#[inline(always)]
unsafe fn down(stride: usize) -> __m512i {
    // SAFETY: AVX-512F, which the callers' contracts vouch for.
    unsafe {
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        _mm512_mullo_epi32(lanes, _mm512_set1_epi32(stride as i32))
    }
}

both_ways! {
    /// # Safety
    /// `x` holds 32 floats, and `out + i·width` (i < 16) are words to write.
    runs32_across => runs32_across_with(x: *const f32, width: usize, out: *mut u32)
}

#[inline(always)]
unsafe fn runs32_across_with<W: Words>(x: *const f32, width: usize, out: *mut u32) {
    // SAFETY: the caller vouches for the ISA and the words; lane i goes
    // to out + i·width.
    unsafe { _mm512_i32scatter_epi32::<4>(out.cast(), down(width), run::<W>(x)) }
}

both_ways! {
    /// # Safety
    /// Rows 2p and 2p + 1 (p < pairs) of `lo` (row stride `ld`) hold 16
    /// floats; `out` holds 15·kp + pairs words.
    rows16 => rows16_with(lo: *const f32, ld: usize, pairs: usize, kp: usize, out: *mut u32)
}

#[inline(always)]
unsafe fn rows16_with<W: Words>(lo: *const f32, ld: usize, pairs: usize, kp: usize, out: *mut u32) {
    // SAFETY: the caller vouches for the ISA and the lengths; lane o
    // scatters to out[o·kp + p], o < 16.
    unsafe {
        let at = down(kp);
        for p in 0..pairs {
            let words = W::pairs(_mm512_loadu_ps(lo.add(2 * p * ld)), _mm512_loadu_ps(lo.add((2 * p + 1) * ld)));
            _mm512_i32scatter_epi32::<4>(out.add(p).cast(), at, words);
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
