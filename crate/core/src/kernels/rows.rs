//! C = A·B for very few rows of A (a one-row predict): each row of C is a
//! sum of B's rows scaled by that row of A, streamed straight from B's
//! row-major storage. The packed GEMM would pad the row to a whole MR-row
//! panel and do MR times the work; here a block of C's columns stays in
//! registers while every row of B goes past once, so the cost is reading B.
//!
//! One body, vectorised by the compiler for each instruction set; `mul_add`
//! keeps every path's rounding identical (one fused multiply-add per term,
//! in the same order), so the SIMD paths equal the scalar twin exactly.
//!
//! The same body sums a matrix's columns (a bias's gradient): A is then a
//! row of ones, and 1·v + s rounds as v + s does.

use super::isa::{Isa, Level};
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Most rows of A this path takes: beyond it, the packed GEMM's register
/// tiles reuse each element of B across rows and win.
pub const MAX_ROWS: usize = 2;

/// Whether `rows` suits A and B: few rows of A, B with contiguous rows.
pub fn suits(a: &ArrayView2<f32>, b: &ArrayView2<f32>) -> bool {
    a.nrows() <= MAX_ROWS && (b.ncols() <= 1 || b.strides()[1] == 1) && b.strides()[0] >= 0
}

/// C = A·B; A is m×k (any strides), B is k×n with contiguous rows, C is m×n.
pub fn rows_product(isa: Isa, a: ArrayView2<f32>, b: ArrayView2<f32>, mut c: ArrayViewMut2<f32>) {
    let (k, n) = b.dim();
    assert_eq!(a.ncols(), k, "rows_product: inner dimensions differ");
    assert_eq!(c.dim(), (a.nrows(), n), "rows_product: C has the wrong shape");
    assert!(n <= 1 || k == 0 || b.strides()[1] == 1, "rows_product: B rows must be contiguous");
    // The slice below spans B from its first element forward: refuse rows
    // that go backward (a reversed view) rather than trust the caller.
    assert!(k <= 1 || b.strides()[0] >= 0, "rows_product: B rows must go forward");
    let ldb = if k > 1 { b.strides()[0] as usize } else { n };
    // B as one slice: row p starts at p·ldb and holds n floats.
    let len = if k == 0 { 0 } else { (k - 1) * ldb + n };
    // SAFETY: B's rows go forward and its columns are contiguous (both
    // asserted above), so its k rows lie in the `len` floats from its first
    // element, all inside the array B views.
    let b_flat = unsafe { std::slice::from_raw_parts(b.as_ptr(), len) };
    let width = block_width(isa);
    // Big enough to split: each thread streams its own columns of B (the
    // seed model's first layer: 1.6 MB, 18 µs on one core).
    let parallel = k * n >= PARALLEL_MIN_ELEMENTS && crate::pool::threads_here() > 1;
    for (a_row, mut c_row) in a.rows().into_iter().zip(c.rows_mut()) {
        let out = c_row.as_slice_mut().expect("C rows are contiguous");
        let block = |(i, out): (usize, &mut [f32])| columns(isa, |p| a_row[p], k, b_flat, ldb, i * width, out);
        if parallel {
            out.par_chunks_mut(width).enumerate().for_each(block);
        } else {
            out.chunks_mut(width).enumerate().for_each(block);
        }
    }
}

/// Below this many elements of B one core reads it faster than two can be
/// started on it.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 17;

/// The columns of C one pass over B computes: 16 accumulator registers.
fn block_width(isa: Isa) -> usize {
    match isa.level() {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => 256,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => 128,
        #[cfg(target_arch = "aarch64")]
        Level::Neon => 64,
        Level::Scalar => 8,
    }
}

/// out[j] = Σ_i m[i, j], summed row by row in order, as a scalar loop
/// would (the same bits); `m` has contiguous rows.
pub fn column_sums(isa: Isa, m: ArrayView2<f32>, out: &mut [f32]) {
    let (k, n) = m.dim();
    assert_eq!(out.len(), n, "column_sums: one sum per column");
    let flat = m.as_slice().expect("column_sums: a contiguous matrix");
    let width = block_width(isa);
    for (i, out) in out.chunks_mut(width).enumerate() {
        columns(isa, |_| 1.0, k, flat, n, i * width, out);
    }
}

/// `column_sums` of a k-row matrix held in panels of `width` columns
/// (`pack_panels`'s layout, as `gemm_into_panels` writes it): the same
/// sums, in the same order, so the same bits.
pub fn panel_column_sums(isa: Isa, panels: &[f32], k: usize, width: usize, out: &mut [f32]) {
    assert!(width > 0 && panels.len() >= out.len().div_ceil(width) * width * k, "panel_column_sums: panels too short");
    for (q, out) in out.chunks_mut(width).enumerate() {
        columns(isa, |_| 1.0, k, &panels[q * width * k..], width, 0, out);
    }
}

/// `out` = Σ_{p<k} a(p)·B[p, j0..j0 + out.len()].
fn columns(isa: Isa, a: impl Fn(usize) -> f32, k: usize, b: &[f32], ldb: usize, j0: usize, out: &mut [f32]) {
    match isa.level() {
        // SAFETY: the token proves AVX-512F, AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { row_avx512(a, k, b, ldb, j0, out) },
        // SAFETY: the token proves AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => unsafe { row_avx2(a, k, b, ldb, j0, out) },
        // SAFETY: the token proves NEON on this CPU.
        #[cfg(target_arch = "aarch64")]
        Level::Neon => unsafe { row_neon(a, k, b, ldb, j0, out) },
        Level::Scalar => row::<8>(a, k, b, ldb, j0, out),
    }
}

/// `out` = Σ_{p<k} a(p)·B[p, j0..j0 + out.len()], W columns at a time held
/// in registers.
#[inline(always)]
fn row<const W: usize>(a: impl Fn(usize) -> f32, k: usize, b: &[f32], ldb: usize, j0: usize, out: &mut [f32]) {
    let n = out.len();
    for c0 in (0..n).step_by(W) {
        let w = W.min(n - c0);
        let base = j0 + c0;
        let mut acc = [0f32; W];
        if w == W {
            for p in 0..k {
                let ap = a(p);
                let b_row: &[f32; W] = b[p * ldb + base..p * ldb + base + W].try_into().expect("W floats");
                for j in 0..W {
                    acc[j] = ap.mul_add(b_row[j], acc[j]);
                }
            }
        } else {
            for p in 0..k {
                let ap = a(p);
                let b_row = &b[p * ldb + base..p * ldb + base + w];
                for j in 0..w {
                    acc[j] = ap.mul_add(b_row[j], acc[j]);
                }
            }
        }
        out[c0..c0 + w].copy_from_slice(&acc[..w]);
    }
}

/// 256 columns: 16 zmm accumulators, leaving registers for loads.
///
/// # Safety
/// The CPU supports AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn row_avx512(a: impl Fn(usize) -> f32, k: usize, b: &[f32], ldb: usize, j0: usize, out: &mut [f32]) {
    row::<256>(a, k, b, ldb, j0, out)
}

/// 128 columns: 16 ymm accumulators.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(a: impl Fn(usize) -> f32, k: usize, b: &[f32], ldb: usize, j0: usize, out: &mut [f32]) {
    row::<128>(a, k, b, ldb, j0, out)
}

/// 64 columns: 16 q-register accumulators of 32.
///
/// # Safety
/// The CPU supports NEON.
#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn row_neon(a: impl Fn(usize) -> f32, k: usize, b: &[f32], ldb: usize, j0: usize, out: &mut [f32]) {
    row::<64>(a, k, b, ldb, j0, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    #[test]
    #[should_panic(expected = "B rows must go forward")]
    fn a_reversed_b_is_refused_not_read_out_of_bounds() {
        let a = Array2::<f32>::ones((1, 4));
        let b = Array2::<f32>::ones((4, 8));
        let mut c = Array2::zeros((1, 8));
        rows_product(Isa::detect(), a.view(), b.slice(s![..;-1, ..]), c.view_mut());
    }

    #[test]
    fn every_isa_matches_float64_and_the_scalar_twin_at_awkward_sizes() {
        for (m, k, n) in [(1, 1, 1), (1, 7, 17), (2, 17, 129), (1, 784, 512), (2, 257, 300), (1, 0, 5), (1, 3, 257)] {
            let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 31 + p * 7) % 23) as f32 / 11.0 - 1.0);
            // B as a view into wider rows (ldb > n), as a sliced weight would be.
            let wide = Array2::from_shape_fn((k, n + 3), |(p, j)| ((p * 13 + j * 5) % 29) as f32 / 14.0 - 1.0);
            let b = wide.slice(s![.., ..n]);
            let mut scalar = Array2::zeros((m, n));
            rows_product(Isa::scalar(), a.view(), b, scalar.view_mut());
            for isa in Isa::available() {
                let mut c = Array2::from_elem((m, n), f32::NAN);
                rows_product(isa, a.view(), b, c.view_mut());
                assert_eq!(c, scalar, "{isa:?} differs from the scalar twin at {m}×{k}×{n}");
                // A read in place whatever its strides: here column-major.
                let a_columns = a.t().as_standard_layout().into_owned();
                let mut c = Array2::from_elem((m, n), f32::NAN);
                rows_product(isa, a_columns.t(), b, c.view_mut());
                assert_eq!(c, scalar, "{isa:?} with a column-major A at {m}×{k}×{n}");
            }
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
                    let got = scalar[[i, j]] as f64;
                    assert!((got - want).abs() <= 1e-5 * (1.0 + k as f64), "{m}×{k}×{n} ({i},{j}): {got} vs {want}");
                }
            }
        }
    }

    /// Every ISA sums each column row by row, as the plain loop does: the
    /// same bits, at widths around every block width and its tail.
    #[test]
    fn column_sums_equal_the_plain_loop_bit_for_bit() {
        for (k, n) in [(0, 3), (1, 1), (3, 7), (128, 10), (17, 255), (128, 512), (5, 300), (2, 1000)] {
            // Magnitudes over several decades, so the order of the sums shows.
            let m = Array2::from_shape_fn((k, n), |(i, j)| {
                ((i * 7 + j * 3) % 19) as f32 * 10f32.powi((i % 5) as i32 - 2) - 0.7
            });
            let mut want = vec![0f32; n];
            for row in m.rows() {
                want.iter_mut().zip(row).for_each(|(w, v)| *w += v);
            }
            for isa in Isa::available() {
                let mut got = vec![f32::NAN; n];
                column_sums(isa, m.view(), &mut got);
                let same = |got: &[f32]| got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same(&got), "{isa:?} at {k}×{n}");
                let nr = isa.nr();
                let mut panels = vec![f32::NAN; n.div_ceil(nr) * nr * k];
                crate::kernels::pack::pack_panels(m.view(), nr, &mut panels, false);
                let mut got = vec![f32::NAN; n];
                panel_column_sums(isa, &panels, k, nr, &mut got);
                assert!(same(&got), "{isa:?} at {k}×{n} from panels");
            }
        }
    }
}
