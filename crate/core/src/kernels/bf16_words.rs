//! float32 to packed bfloat16 words, 16 or 32 at a time with AVX-512
//! (simd.rs: VCVTNE2PS2BF16 where the CPU has it, integer arithmetic
//! elsewhere): the same bits as `bf16::pair` (to nearest, ties to even;
//! NaN quietened; subnormals flushed), so that a product's bits do not
//! depend on which packer ran. The bfloat16 kernels' operands are
//! converted every step (the weights change), and one element at a time
//! this took longer than AMX's products.

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
    let ne = cvtne();
    for (w, x) in out[..done].chunks_exact_mut(16).zip(x.chunks_exact(32)) {
        // SAFETY: as in `pairs`; 32 floats in, 16 words out.
        unsafe { simd::runs32(ne, x.as_ptr(), w.as_mut_ptr()) };
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
        unsafe { simd::strips(cvtne(), data.as_ptr().add(first), ld, pairs, to, out.as_mut_ptr()) };
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
    let ne = cvtne();
    // A full panel 8 wide (the VDPBF16PS tiles' A): up to 16 pairs of its
    // 8 rows at a time, transposed in registers, the last fewer than 16
    // too. Scattering each row's 16 words down the panel took 0.3 ns a
    // float even from L1 (a 128-row batch of 784: 30 µs a step, 1
    // thread); the last 8 pairs of each of its rows, one word at a time,
    // a quarter of the rest.
    if kernel != Bf16Kernel::Scalar && width == 8 && count == 8 {
        for p in (0..whole).step_by(16) {
            // SAFETY: a SIMD token proves AVX-512F and BW; floats 2p..2p +
            // 2·pairs of rows 0..8 (row stride k) and words p·8..(p +
            // pairs)·8 lie inside `rows` and `out` (p + pairs ≤ whole).
            unsafe { simd::across8(ne, rows[2 * p..].as_ptr(), k, (whole - p).min(16), out[8 * p..].as_mut_ptr()) };
        }
        return;
    }
    let simd = if kernel == Bf16Kernel::Scalar { 0 } else { whole / 16 * 16 };
    for (o, row) in rows.chunks_exact(k.max(1)).enumerate() {
        for p in (0..simd).step_by(16) {
            // SAFETY: a SIMD token proves AVX-512F; floats 2p..2p + 32 of
            // the row and words (p + i)·width + o (i < 16, p + 16 ≤ whole)
            // lie inside `row` and `out`.
            unsafe { simd::runs32_across(ne, row[2 * p..].as_ptr(), width, out[p * width + o..].as_mut_ptr()) };
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
        unsafe { simd::rows16(cvtne(), data.as_ptr().add(first), ld, pairs, kp, out.as_mut_ptr()) };
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
        unsafe { simd::pairs_into(cvtne(), lo.as_ptr(), hi.as_ptr(), whole, to) };
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
mod simd;

/// Whether the packers convert with VCVTNE2PS2BF16: where the CPU reports
/// AVX512_BF16 (std caches the answer). Tests may ask for the integer
/// arithmetic instead (`arithmetic_only`), to check both against the twin.
fn cvtne() -> bool {
    #[cfg(test)]
    if ARITHMETIC_ONLY.with(std::cell::Cell::get) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512bf16");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(test)]
thread_local! {
    static ARITHMETIC_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's packers on the integer arithmetic.
#[cfg(test)]
pub(super) fn arithmetic_only<T>(f: impl FnOnce() -> T) -> T {
    ARITHMETIC_ONLY.with(|a| a.set(true));
    let out = f();
    ARITHMETIC_ONLY.with(|a| a.set(false));
    out
}

/// Only the scalar twin exists off x86-64: no SIMD token is ever made there.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub unsafe fn runs32(_: bool, _: *const f32, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn strips(_: bool, _: *const f32, _: usize, _: usize, _: super::Strips, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn runs32_across(_: bool, _: *const f32, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn across8(_: bool, _: *const f32, _: usize, _: usize, _: *mut u32) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn pairs_into(_: bool, _: *const f32, _: *const f32, _: usize, _: super::Slivers) {
        unreachable!("no bfloat16 SIMD kernel off x86-64")
    }
    pub unsafe fn rows16(_: bool, _: *const f32, _: usize, _: usize, _: usize, _: *mut u32) {
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
    /// token `packing_under_test` gives, stand-ins included, and with each
    /// conversion the CPU runs: VCVTNE2PS2BF16 and the integer
    /// arithmetic), at lengths around the 16-word step, over values that
    /// round every way: ties to even, NaNs (signalling too), infinities,
    /// subnormals (the largest too), signed zeros.
    #[test]
    fn simd_words_match_the_scalar_twin() {
        let specials = [
            0.0,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::INFINITY,
            -f32::MIN_POSITIVE / 3.0,
            f32::from_bits(0x007f_ffff),
            f32::MAX,
            1.0 + 1.0 / 256.0,
        ];
        let x: Vec<f32> = (0..600u32)
            .map(|i| {
                if i % 7 == 0 {
                    specials[(i / 7) as usize % specials.len()]
                } else {
                    f32::from_bits(i.wrapping_mul(2_654_435_761))
                }
            })
            .collect();
        let check = |kernel: Bf16Kernel| {
            for len in [0, 1, 15, 16, 17, 33, 64, 99] {
                let (mut want, mut got) = (vec![0u32; len], vec![1u32; len]);
                pairs(Bf16Kernel::Scalar, &x, &x[100..], &mut want);
                pairs(kernel, &x, &x[100..], &mut got);
                assert_eq!(got, want, "pairs {kernel:?} {len}, VCVTNE {}", cvtne());
                runs(Bf16Kernel::Scalar, &x, &mut want);
                runs(kernel, &x, &mut got);
                assert_eq!(got, want, "runs {kernel:?} {len}, VCVTNE {}", cvtne());
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
                assert_eq!(got, want, "strips {kernel:?} {count} of {width}, VCVTNE {}", cvtne());
            }
            let (mut want, mut got) = (vec![7u32; 15 * 5 + 4], vec![7u32; 15 * 5 + 4]);
            rows16(Bf16Kernel::Scalar, &x, 20, 2, 4, 5, &mut want);
            rows16(kernel, &x, 20, 2, 4, 5, &mut got);
            assert_eq!(got, want, "rows16 {kernel:?}, VCVTNE {}", cvtne());
            // Rows of k floats down the panel's columns: odd k, pairs past
            // the last whole 16, fewer rows than the panel is wide.
            for (k, rows, width) in
                [(37, 5, 8), (64, 8, 8), (71, 8, 8), (26, 8, 8), (3, 8, 8), (40, 3, 16), (40, 13, 16), (1, 4, 8)]
            {
                // Sixteen words past the panel, which must stay as they are.
                let (mut want, mut got) = (vec![7u32; k / 2 * width + 16], vec![7u32; k / 2 * width + 16]);
                rows_across(Bf16Kernel::Scalar, &x[..rows * k], k, width, &mut want);
                rows_across(kernel, &x[..rows * k], k, width, &mut got);
                assert_eq!(got, want, "rows_across {kernel:?} k {k}, {rows} rows of {width}, VCVTNE {}", cvtne());
            }
        };
        for kernel in super::super::bf16::packing_under_test() {
            check(kernel);
            arithmetic_only(|| check(kernel));
        }
    }
}
