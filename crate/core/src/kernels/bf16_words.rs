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
    // Chunks of 16 words 16 apart: `out` itself.
    let to = Slivers { words: out.as_mut_ptr(), width: 16, stride: 16 };
    // SAFETY: chunk q's word i is out[16q + i], inside `out` (lo is as long),
    // which this call borrows exclusively.
    unsafe { pairs_into(kernel, lo, hi, to) };
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

/// Where `strips` writes: `count` columns, in panels of `width` words a
/// pair (a multiple of 16, or 8), panel q's words from `out[q·stride]`.
#[derive(Clone, Copy)]
pub(super) struct Strips {
    pub width: usize,
    pub count: usize,
    pub stride: usize,
}

impl Strips {
    /// Where column c's word for pair p goes.
    fn at(&self, p: usize, c: usize) -> usize {
        c / self.width * self.stride + p * self.width + c % self.width
    }
}

/// Pair-major words from two rows per pair of a row-major matrix `data`
/// (row stride `ld`): `out[to.at(p, j)] = pair(data[2p·ld + first + j],
/// data[(2p + 1)·ld + first + j])` for p < `pairs`, j < `to.count`; the
/// other words are left as they are. One call per panel, or per two
/// panels 8 wide, so that each row's 16 floats are read in one load: a
/// call per 16 words cost more than the words.
pub(super) fn strips(
    kernel: Bf16Kernel,
    data: &[f32],
    ld: usize,
    first: usize,
    pairs: usize,
    to: Strips,
    out: &mut [u32],
) {
    let Strips { width, count, stride } = to;
    assert!(width == 8 || (width > 0 && width.is_multiple_of(16)), "strips: panels {width} wide");
    if pairs == 0 || count == 0 {
        return;
    }
    let panels = count.div_ceil(width);
    assert!(
        stride >= pairs * width && out.len() >= (panels - 1) * stride + pairs * width,
        "strips: {} words",
        out.len()
    );
    assert!((2 * pairs - 1) * ld + first + count <= data.len(), "strips: rows past the data");
    if kernel != Bf16Kernel::Scalar {
        // SAFETY: a SIMD token proves AVX-512F; the asserts bound every
        // read and write (words `to.at(p, j)`, j < count, p < pairs).
        unsafe { simd::strips(data.as_ptr().add(first), ld, pairs, to, out.as_mut_ptr()) };
        return;
    }
    for p in 0..pairs {
        let (lo, hi) = (&data[2 * p * ld + first..][..count], &data[(2 * p + 1) * ld + first..][..count]);
        for (j, (&l, &h)) in lo.iter().zip(hi).enumerate() {
            out[to.at(p, j)] = pair(l, h);
        }
    }
}

/// Pair-major words from the rows of a row-major matrix `rows` (`k`
/// floats a row), each row's pairs down a column of the panel:
/// `out[p·width + o] = pair(rows[o·k + 2p], rows[o·k + 2p + 1])` for every
/// row o (< `width`) and whole pair p (< k / 2). An odd k's last pair is
/// the caller's. The A operand of a product whose rows are a batch.
pub(super) fn rows_across(kernel: Bf16Kernel, rows: &[f32], k: usize, width: usize, out: &mut [u32]) {
    let count = rows.len().checked_div(k).unwrap_or(0);
    let whole = k / 2;
    assert!(count <= width && out.len() >= whole * width, "rows_across: {count} rows of {width}");
    assert!(15 * width <= i32::MAX as usize, "rows_across: {width} wide, past the scatter's 32-bit offsets");
    let simd = if kernel == Bf16Kernel::Scalar { 0 } else { whole / 16 * 16 };
    // A full panel 8 wide (the VDPBF16PS tiles' A): 16 pairs of its 8 rows
    // at a time, transposed in registers. Scattering each row's 16 words
    // down the panel took 0.3 ns a float even from L1 (a 128-row batch of
    // 784: 30 µs a step, 1 thread).
    let transposed = if width == 8 && count == 8 { simd } else { 0 };
    for p in (0..transposed).step_by(16) {
        // SAFETY: a SIMD token proves AVX-512F; floats 2p..2p + 32 of rows
        // 0..8 (row stride k) and words p·8..(p + 16)·8 lie inside `rows`
        // and `out` (p + 16 ≤ whole).
        unsafe { simd::across8(rows[2 * p..].as_ptr(), k, out[8 * p..].as_mut_ptr()) };
    }
    for (o, row) in rows.chunks_exact(k.max(1)).enumerate() {
        for p in (transposed..simd).step_by(16) {
            // SAFETY: a SIMD token proves AVX-512F; floats 2p..2p + 32 of
            // the row and words (p + i)·width + o (i < 16, p + 16 ≤ whole)
            // lie inside `row` and `out`.
            unsafe { simd::runs32_across(row[2 * p..].as_ptr(), width, out[p * width + o..].as_mut_ptr()) };
        }
        for p in simd..whole {
            out[p * width + o] = pair(row[2 * p], row[2 * p + 1]);
        }
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

/// Where a run of a matrix row's bfloat16s goes in packed B words: chunk q
/// of 16 columns at `words` + (q / (width / 16))·`stride` + (q % (width /
/// 16))·16, i.e. across slivers of `width` columns (a multiple of 16)
/// lying `stride` words apart.
#[derive(Clone, Copy)]
pub(super) struct Slivers {
    pub words: *mut u32,
    pub width: usize,
    pub stride: usize,
}

impl Slivers {
    fn chunk(&self, q: usize) -> *mut u32 {
        let per = self.width / 16;
        self.words.wrapping_add(q / per * self.stride + q % per * 16)
    }
}

/// `pair(lo[i], hi[i])` for every i of `lo` (as long as `hi`), 16 at a
/// time into the chunks `to` names: whole words, in one call for a row's
/// worth (a call per 16 words cost the optimizer's pass 8% of a 2-thread
/// step).
///
/// # Safety
/// Word i of chunk q (i < 16, `lo` in chunks of 16) is valid for writes,
/// and no other thread accesses it meanwhile.
pub(super) unsafe fn pairs_into(kernel: Bf16Kernel, lo: &[f32], hi: &[f32], to: Slivers) {
    assert!(to.width >= 16 && to.width.is_multiple_of(16) && hi.len() == lo.len(), "pairs_into: slivers {}", to.width);
    let whole = if kernel == Bf16Kernel::Scalar { 0 } else { lo.len() / 16 };
    if whole > 0 {
        // SAFETY: a SIMD token proves AVX-512F (the twin's never gets
        // here: calling an AVX-512 function at all needs the CPU to have
        // it); 16·whole floats of each; the caller vouches for the words.
        unsafe { simd::pairs_into(lo.as_ptr(), hi.as_ptr(), whole, to) };
    }
    for i in 16 * whole..lo.len() {
        // SAFETY: word i % 16 of chunk i / 16, the caller's (see # Safety).
        unsafe { to.chunk(i / 16).wrapping_add(i % 16).write(pair(lo[i], hi[i])) };
    }
}

/// Half of some words from `values`, 16 at a time into the chunks `to`
/// names: the low halves (element 2p of each pair) or, if `odd`, the high
/// ones. The other halves are not written, so two threads may fill a
/// word's two halves. AVX-512BW for any kernel but the scalar twin (their
/// detection checks BW).
///
/// # Safety
/// Word i of chunk q (i < 16, `values` in chunks of 16) is valid for
/// writes, and its `odd` half no other thread accesses meanwhile.
pub(super) unsafe fn halves(kernel: Bf16Kernel, values: &[f32], to: Slivers, odd: bool) {
    assert!(to.width >= 16 && to.width.is_multiple_of(16), "halves: slivers {} wide", to.width);
    let whole = if kernel == Bf16Kernel::Scalar { 0 } else { values.len() / 16 };
    for q in 0..whole {
        // SAFETY: a SIMD token proves AVX-512F and BW; the caller vouches for the words.
        unsafe { simd::halves16(values[16 * q..].as_ptr(), to.chunk(q), odd) };
    }
    for (i, &v) in values.iter().enumerate().skip(16 * whole) {
        let half = to.chunk(i / 16).wrapping_add(i % 16).cast::<u16>().wrapping_add(usize::from(odd));
        // SAFETY: half `odd` of a word of the caller's (see # Safety).
        unsafe { half.write(super::bf16::to_bf16(v)) };
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

    /// The words of up to 16 columns (`left`, or 16 if more) of a pair of
    /// rows, and the mask of those columns' lanes. (A function, not a
    /// closure in `strips`: a closure does not inherit its target
    /// features, and its intrinsics became calls.)
    ///
    /// # Safety
    /// The CPU runs AVX-512F; `l` and `h` hold min(left, 16) floats.
    #[target_feature(enable = "avx512f")]
    unsafe fn strip16(l: *const f32, h: *const f32, left: usize) -> (__m512i, __mmask16) {
        let mask: __mmask16 = if left >= 16 { !0 } else { (1 << left) - 1 };
        // SAFETY: the caller vouches for the ISA; the masked loads read
        // only the floats it vouches for.
        let (l, h) = unsafe { (_mm512_maskz_loadu_ps(mask, l), _mm512_maskz_loadu_ps(mask, h)) };
        (_mm512_or_si512(bf16x16(l), _mm512_slli_epi32(bf16x16(h), 16)), mask)
    }

    /// # Safety
    /// The CPU runs AVX-512F; rows 2p and 2p + 1 (p < pairs) of `lo` (row
    /// stride `ld`) hold `to.count` floats, and words `to.at(p, j)` (j <
    /// `to.count`) from `out` are the caller's to write.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn strips(lo: *const f32, ld: usize, pairs: usize, to: super::Strips, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA and the lengths; the
        // masked loads and stores touch only lanes of columns below
        // `count`. In panels 8 wide the second panel's store starts 8
        // words early, at its masked-off lanes (a wrapping pointer, never
        // dereferenced there).
        unsafe {
            let super::Strips { width, count, stride } = to;
            // Out of the loop: a division per pair of rows took longer than
            // their words.
            let panels = count.div_ceil(width);
            for p in 0..pairs {
                let (l, h) = (lo.add(2 * p * ld), lo.add((2 * p + 1) * ld));
                if width == 8 {
                    for c in (0..count).step_by(16) {
                        let (w, mask) = strip16(l.add(c), h.add(c), count - c);
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
                        pairs16(l.add(c), h.add(c), at.add(c));
                    }
                    if whole < end - first {
                        let (w, mask) = strip16(l.add(whole), h.add(whole), end - first - whole);
                        _mm512_mask_storeu_epi32(at.add(whole).cast(), mask, w);
                    }
                }
            }
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F; `lo` and `hi` hold
    /// 16·chunks floats, and `to` names chunks of 16 words to write.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pairs_into(lo: *const f32, hi: *const f32, chunks: usize, to: super::Slivers) {
        // SAFETY: the caller vouches for the ISA and the lengths.
        unsafe {
            for q in 0..chunks {
                pairs16(lo.add(16 * q), hi.add(16 * q), to.chunk(q));
            }
        }
    }

    /// 32 floats to 16 words, element 2i low in word i (as `runs32`).
    #[target_feature(enable = "avx512f")]
    fn words16(x: *const f32) -> __m512i {
        // SAFETY: the callers vouch for 32 floats. VPMOVDW keeps each
        // lane's low half, so the halves land in order.
        unsafe {
            let first = _mm512_cvtepi32_epi16(bf16x16(_mm512_loadu_ps(x)));
            let second = _mm512_cvtepi32_epi16(bf16x16(_mm512_loadu_ps(x.add(16))));
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(first), second)
        }
    }

    /// 8 rows' 16 pairs, pair-major: `out[8p + o]` = row o's word p.
    ///
    /// # Safety
    /// The CPU runs AVX-512F; rows o < 8 at `rows + o·k` hold 32 floats,
    /// and `out` holds 128 words.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn across8(rows: *const f32, k: usize, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA, the floats and the words.
        unsafe {
            let r: [__m512i; 8] = std::array::from_fn(|o| words16(rows.add(o * k)));
            // In each 128-bit lane (words 4L..4L + 3 of a row): rows side
            // by side, two words of each pair (a), then four (u: u[g][c] is
            // word 4L + c of rows 4g..4g + 3).
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
            // Lanes 0–1 (pq) and 2–3 (qr) of both row groups, then each
            // output vector: pairs 2j and 2j + 1, all 8 rows of each.
            let pq: [__m512i; 4] = std::array::from_fn(|c| _mm512_shuffle_i32x4::<0x44>(u[0][c], u[1][c]));
            let qr: [__m512i; 4] = std::array::from_fn(|c| _mm512_shuffle_i32x4::<0xee>(u[0][c], u[1][c]));
            let out = out.cast::<__m512i>();
            _mm512_storeu_si512(out, _mm512_shuffle_i32x4::<0x88>(pq[0], pq[1]));
            _mm512_storeu_si512(out.add(1), _mm512_shuffle_i32x4::<0x88>(pq[2], pq[3]));
            _mm512_storeu_si512(out.add(2), _mm512_shuffle_i32x4::<0xdd>(pq[0], pq[1]));
            _mm512_storeu_si512(out.add(3), _mm512_shuffle_i32x4::<0xdd>(pq[2], pq[3]));
            _mm512_storeu_si512(out.add(4), _mm512_shuffle_i32x4::<0x88>(qr[0], qr[1]));
            _mm512_storeu_si512(out.add(5), _mm512_shuffle_i32x4::<0x88>(qr[2], qr[3]));
            _mm512_storeu_si512(out.add(6), _mm512_shuffle_i32x4::<0xdd>(qr[0], qr[1]));
            _mm512_storeu_si512(out.add(7), _mm512_shuffle_i32x4::<0xdd>(qr[2], qr[3]));
        }
    }

    /// # Safety
    /// The CPU runs AVX-512F; `x` holds 32 floats, and `out + i·width`
    /// (i < 16) are words to write.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn runs32_across(x: *const f32, width: usize, out: *mut u32) {
        // SAFETY: the caller vouches for the ISA and the words; lane i
        // goes to out + i·width.
        unsafe {
            let words = words16(x);
            let at = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(width as i32),
            );
            _mm512_i32scatter_epi32::<4>(out.cast(), at, words);
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
        // SAFETY: as in `pairs16`.
        unsafe { _mm512_storeu_si512(out.cast(), words16(x)) }
    }
}

/// Only the scalar twin exists off x86-64: no SIMD token is ever made there.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub unsafe fn runs32(_: *const f32, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn strips(_: *const f32, _: usize, _: usize, _: super::Strips, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn runs32_across(_: *const f32, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn across8(_: *const f32, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn pairs_into(_: *const f32, _: *const f32, _: usize, _: super::Slivers) {
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

    /// Every SIMD packer against the scalar twin's, bit for bit (under each
    /// token `packing_under_test` gives, stand-ins included), at
    /// lengths around the 16-word step, over values that round every way:
    /// ties to even, NaNs, infinities, subnormals, signed zeros.
    #[test]
    fn simd_words_match_the_scalar_twin() {
        let specials =
            [0.0, -0.0, f32::NAN, -f32::NAN, f32::INFINITY, f32::MIN_POSITIVE / 3.0, f32::MAX, 1.0 + 1.0 / 256.0];
        let x: Vec<f32> = (0..600u32)
            .map(|i| {
                if i % 7 == 0 {
                    specials[(i / 7) as usize % specials.len()]
                } else {
                    f32::from_bits(i.wrapping_mul(2_654_435_761))
                }
            })
            .collect();
        for kernel in super::super::bf16::packing_under_test() {
            for len in [0, 1, 15, 16, 17, 33, 64, 99] {
                let (mut want, mut got) = (vec![0u32; len], vec![1u32; len]);
                pairs(Bf16Kernel::Scalar, &x, &x[100..], &mut want);
                pairs(kernel, &x, &x[100..], &mut got);
                assert_eq!(got, want, "pairs {kernel:?} {len}");
                runs(Bf16Kernel::Scalar, &x, &mut want);
                runs(kernel, &x, &mut got);
                assert_eq!(got, want, "runs {kernel:?} {len}");
            }
            // A matrix of row stride 20: strips from column 3 over 4 pairs
            // into one panel or two, whole, with a masked tail, and
            // narrower than a vector (the words past `count` and between
            // the panels left as they were); and 16 rows of words from
            // column 2.
            for (width, count) in [(16, 16), (8, 8), (32, 21), (16, 5), (8, 16), (8, 13), (8, 5), (16, 17)] {
                let to = Strips { width, count, stride: 5 * width };
                let (mut want, mut got) = (vec![7u32; 10 * width], vec![7u32; 10 * width]);
                strips(Bf16Kernel::Scalar, &x, 20, 3, 4, to, &mut want);
                strips(kernel, &x, 20, 3, 4, to, &mut got);
                assert_eq!(got, want, "strips {kernel:?} {count} of {width}");
            }
            let (mut want, mut got) = (vec![7u32; 15 * 5 + 4], vec![7u32; 15 * 5 + 4]);
            rows16(Bf16Kernel::Scalar, &x, 20, 2, 4, 5, &mut want);
            rows16(kernel, &x, 20, 2, 4, 5, &mut got);
            assert_eq!(got, want, "rows16 {kernel:?}");
            // Rows of k floats down the panel's columns: odd k, pairs past
            // the last whole 16, fewer rows than the panel is wide.
            for (k, rows, width) in [(37, 5, 8), (64, 8, 8), (71, 8, 8), (40, 3, 16), (40, 13, 16), (1, 4, 8)] {
                let (mut want, mut got) = (vec![7u32; k / 2 * width], vec![7u32; k / 2 * width]);
                rows_across(Bf16Kernel::Scalar, &x[..rows * k], k, width, &mut want);
                rows_across(kernel, &x[..rows * k], k, width, &mut got);
                assert_eq!(got, want, "rows_across {kernel:?} k {k}, {rows} rows of {width}");
            }
        }
    }
}
