//! C = A·B for a narrow B (n ≤ 16 columns, such as the 10 logits) when A's
//! rows are contiguous: every element of C is a dot product of a row of A,
//! read where it lies, and a row of Bᵀ (packed once: n·k floats), vectorised
//! along K.
//!
//! The packed GEMM fits this shape badly: its NR lanes run mostly empty, and
//! computing Cᵀ instead means transposing all of A first, which for the
//! hidden activations costs as much as the arithmetic. Tiles of R rows × C
//! columns keep R·C vector accumulators, reduced across lanes at the end.
//! Each element's sum runs in the same order whatever the tiling or thread
//! count, so results are deterministic.

use super::isa::{Isa, Level};
use super::params::PARALLEL_MIN_FLOPS;
use super::vector::F32s;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Widest B this path takes.
pub const MAX_N: usize = 16;

/// Whether this path serves C = A·B better than the packed GEMM.
pub fn suits(a: &ArrayView2<f32>, n: usize, nr: usize) -> bool {
    // A's rows are read as slices: contiguous columns, even for one row.
    n <= MAX_N && n < nr && a.ncols() >= 16 && a.strides()[1] == 1
}

/// Bᵀ (n×k, row-major) into `bt`, reading B's rows where they lie: for the
/// seed model's W2 (512×10, rows of 10 contiguous floats), walking B's
/// columns through ndarray cost 2 µs a step.
fn transpose_into(b: ArrayView2<f32>, bt: &mut [f32]) {
    let (k, n) = b.dim();
    match b.as_slice() {
        Some(flat) => {
            for (p, row) in flat.chunks_exact(n).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    bt[j * k + p] = v;
                }
            }
        }
        None => {
            for (j, column) in b.columns().into_iter().enumerate() {
                bt[j * k..(j + 1) * k].iter_mut().zip(column.iter()).for_each(|(d, &v)| *d = v);
            }
        }
    }
}

/// Most columns per tile; n is cut into near-equal chunks (10 → 5 + 5).
const MAX_C: usize = 5;

/// Rows per tile: 2 rows × up to 5 columns = 10 vector accumulators, so the
/// loads (2 + 5 per step) stay below the FMAs (10); 4-row tiles made LLVM
/// spill accumulators to the stack.
const ROWS_PER_TILE: usize = 2;

/// C = A·B into `c`, the m×n elements of C row-major, with `bt` (at least
/// n·k floats) as scratch for Bᵀ.
pub fn narrow_product(isa: Isa, a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut [f32], bt: &mut [f32]) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(b.nrows() == k && c.len() == m * n, "narrow_product: shapes differ");
    if c.is_empty() {
        return;
    }
    let bt = &mut bt[..n * k];
    transpose_into(b, bt);
    let bt = &*bt;
    let chunks = n.div_ceil(MAX_C);
    // Rows i0.. of C, in `c_rows`.
    let fill = |i0: usize, c_rows: &mut [f32]| {
        let rows = c_rows.len() / n;
        for r0 in (0..rows).step_by(ROWS_PER_TILE) {
            let rr = ROWS_PER_TILE.min(rows - r0);
            let a_rows: [&[f32]; ROWS_PER_TILE] = std::array::from_fn(|r| {
                if r < rr {
                    a.row(i0 + r0 + r).to_slice().expect("A rows are contiguous")
                } else {
                    &[]
                }
            });
            let mut j0 = 0;
            for chunk in 0..chunks {
                let cc = (n - j0).div_ceil(chunks - chunk);
                let b_rows: [&[f32]; MAX_C] =
                    std::array::from_fn(|j| if j < cc { &bt[(j0 + j) * k..][..k] } else { &[] });
                let out = tile(isa, rr, cc, k, &a_rows, &b_rows);
                for (r, values) in out.iter().enumerate().take(rr) {
                    c_rows[(r0 + r) * n + j0..][..cc].copy_from_slice(&values[..cc]);
                }
                j0 += cc;
            }
        }
    };
    if 2 * m * n * k >= PARALLEL_MIN_FLOPS && crate::pool::threads_here() > 1 {
        const ROWS: usize = 16;
        c.par_chunks_mut(ROWS * n).enumerate().for_each(|(t, chunk)| fill(t * ROWS, chunk));
    } else {
        fill(0, c);
    }
}

/// out[r][j] = a[r] · b[j] for r < rr and j < cc, each slice k floats.
fn tile(
    isa: Isa,
    rr: usize,
    cc: usize,
    k: usize,
    a: &[&[f32]; ROWS_PER_TILE],
    b: &[&[f32]; MAX_C],
) -> [[f32; MAX_C]; ROWS_PER_TILE] {
    let mut out = [[0f32; MAX_C]; ROWS_PER_TILE];
    macro_rules! run {
        ($r:literal; $($c:literal),*) => {
            match cc {
                $($c => {
                    let t = tile_of::<$r, $c>(isa, k, std::array::from_fn(|r| a[r]), std::array::from_fn(|j| b[j]));
                    for r in 0..$r {
                        out[r][..$c].copy_from_slice(&t[r]);
                    }
                })*
                _ => unreachable!("tiles are at most {MAX_C} columns wide"),
            }
        };
    }
    match rr {
        2 => run!(2; 1, 2, 3, 4, 5),
        1 => run!(1; 1, 2, 3, 4, 5),
        _ => unreachable!("tiles are at most {ROWS_PER_TILE} rows tall"),
    }
    out
}

fn tile_of<const TR: usize, const TC: usize>(isa: Isa, k: usize, a: [&[f32]; TR], b: [&[f32]; TC]) -> [[f32; TC]; TR] {
    assert!(a.iter().chain(&b).all(|s| s.len() >= k), "narrow tile: rows shorter than k");
    match isa.level() {
        Level::Scalar => {
            std::array::from_fn(|r| std::array::from_fn(|j| a[r].iter().zip(b[j]).map(|(x, y)| x * y).sum()))
        }
        // SAFETY: a SIMD level only comes from a token made after detecting
        // its features; every slice holds k floats (asserted above).
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => unsafe { simd::tile_avx2(k, a.map(<[f32]>::as_ptr), b.map(<[f32]>::as_ptr)) },
        // SAFETY: as for AVX2.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { simd::tile_avx512(k, a.map(<[f32]>::as_ptr), b.map(<[f32]>::as_ptr)) },
        // SAFETY: as for AVX2.
        #[cfg(target_arch = "aarch64")]
        Level::Neon => unsafe { simd::tile_neon(k, a.map(<[f32]>::as_ptr), b.map(<[f32]>::as_ptr)) },
    }
}

/// out[r][j] = a[r] · b[j] over k floats, written once for every ISA:
/// whole registers, then a partial load for the tail.
///
/// # Safety
/// The CPU runs `S`'s ISA (the caller is compiled with its features); every
/// pointer addresses `k` floats.
#[inline(always)]
unsafe fn dots<S: F32s, const R: usize, const C: usize>(
    k: usize,
    a: [*const f32; R],
    b: [*const f32; C],
) -> [[f32; C]; R] {
    // SAFETY: the caller vouches for the ISA and for k floats at every
    // pointer; partial loads read only the floats below k.
    unsafe {
        let mut acc = [[S::zero(); C]; R];
        let whole = k / S::N * S::N;
        for p in (0..whole).step_by(S::N) {
            accumulate::<S, R, C>(&mut acc, a, b, p, S::N);
        }
        if whole < k {
            accumulate::<S, R, C>(&mut acc, a, b, whole, k - whole);
        }
        std::array::from_fn(|r| std::array::from_fn(|j| S::sum(acc[r][j])))
    }
}

/// acc[r][j] += a[r][p..p + n] ⊙ b[j][p..p + n], lane by lane (n ≤ N; a
/// partial load when n < N).
///
/// # Safety
/// As for `dots`; p + n ≤ k.
#[inline(always)]
unsafe fn accumulate<S: F32s, const R: usize, const C: usize>(
    acc: &mut [[S::V; C]; R],
    a: [*const f32; R],
    b: [*const f32; C],
    p: usize,
    n: usize,
) {
    // SAFETY: the caller vouches for the ISA and for p + n ≤ k floats.
    unsafe {
        let load = |x: *const f32| if n == S::N { S::load(x.add(p)) } else { S::load_first(x.add(p), n) };
        let av: [S::V; R] = std::array::from_fn(|r| load(a[r]));
        for j in 0..C {
            let bv = load(b[j]);
            for r in 0..R {
                acc[r][j] = S::fmadd(av[r], bv, acc[r][j]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::dots;
    use crate::kernels::vector::{Avx2, Avx512};

    /// # Safety
    /// AVX-512F is available; every pointer addresses `k` floats.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tile_avx512<const R: usize, const C: usize>(
        k: usize,
        a: [*const f32; R],
        b: [*const f32; C],
    ) -> [[f32; C]; R] {
        // SAFETY: this function's contract is `dots`'s, for AVX-512.
        unsafe { dots::<Avx512, R, C>(k, a, b) }
    }

    /// # Safety
    /// AVX2 and FMA are available; every pointer addresses `k` floats.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile_avx2<const R: usize, const C: usize>(
        k: usize,
        a: [*const f32; R],
        b: [*const f32; C],
    ) -> [[f32; C]; R] {
        // SAFETY: this function's contract is `dots`'s, for AVX2.
        unsafe { dots::<Avx2, R, C>(k, a, b) }
    }
}

#[cfg(target_arch = "aarch64")]
mod simd {
    use super::dots;
    use crate::kernels::vector::Neon;

    /// # Safety
    /// NEON is available; every pointer addresses `k` floats.
    #[target_feature(enable = "neon")]
    pub unsafe fn tile_neon<const R: usize, const C: usize>(
        k: usize,
        a: [*const f32; R],
        b: [*const f32; C],
    ) -> [[f32; C]; R] {
        // SAFETY: this function's contract is `dots`'s, for NEON.
        unsafe { dots::<Neon, R, C>(k, a, b) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn matches_float64_for_every_isa_at_awkward_sizes() {
        for isa in Isa::available() {
            for (m, n, k) in
                [(1, 1, 16), (3, 10, 17), (128, 10, 512), (7, 16, 1000), (33, 5, 31), (6, 13, 64), (5, 7, 20)]
            {
                let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 37 + p * 11) % 23) as f32 / 7.0 - 1.5);
                let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 53 + j * 7) % 19) as f32 / 5.0 - 1.8);
                let mut c = Array2::from_elem((m, n), f32::NAN);
                let mut bt = vec![0f32; n * k];
                narrow_product(isa, a.view(), b.view(), c.as_slice_mut().unwrap(), &mut bt);
                for i in 0..m {
                    for j in 0..n {
                        let want: f64 = (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
                        let got = c[[i, j]] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + k as f64),
                            "{isa:?} {m}x{n}x{k} ({i},{j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// Above PARALLEL_MIN_FLOPS the rows are split over the pool in chunks
    /// of 16; a tail chunk of 3 rows (a 2-row and a 1-row tile), with n = 13
    /// cut 5 + 4 + 4, must give the one-thread bits.
    #[test]
    fn split_rows_give_the_same_bits_on_any_thread_count() {
        let (m, n, k) = (147, 13, 800);
        assert!(2 * m * n * k >= PARALLEL_MIN_FLOPS, "the shape must take the parallel path");
        let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 41 + p * 13) % 29) as f32 / 9.0 - 1.5);
        let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 31 + j * 17) % 23) as f32 / 6.0 - 1.9);
        for isa in Isa::available() {
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    assert_eq!(crate::pool::threads_here(), threads);
                    let mut c = vec![f32::NAN; m * n];
                    narrow_product(isa, a.view(), b.view(), &mut c, &mut vec![0f32; n * k]);
                    c
                })
            };
            let one = run(1);
            for (idx, &got) in one.iter().enumerate() {
                let (i, j) = (idx / n, idx % n);
                let want: f64 = (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
                assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + k as f64), "{isa:?} ({i},{j}): {got} vs {want}");
            }
            for threads in [2, 3, 5] {
                let many = run(threads);
                assert!(one.iter().zip(&many).all(|(x, y)| x.to_bits() == y.to_bits()), "{isa:?} on {threads} threads");
            }
        }
    }
}
