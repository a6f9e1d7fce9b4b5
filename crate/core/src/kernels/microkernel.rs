//! Microkernels: C_tile (+)= A_sliver · B_sliver over `k` steps, for an
//! MR×NR tile held in registers.
//!
//! Packed layouts (see `pack.rs`): the A sliver holds `a[p*MR + i]` = A[i, p],
//! the B sliver `b[p*rs_b + j]` = B[p, j], so each step reads MR scalars of A
//! and NR contiguous floats of B. B is usually packed (rs_b = NR); a B whose
//! slivers are each used once is read where it lies (rs_b = its row length).
//!
//! One SIMD body (`tile`), generic over the vector type (vector.rs) and MR,
//! behind a thin `#[target_feature]` wrapper per instruction set; `Isa::kernel_for` picks the MR that wastes
//! least on a given M (10 rows: MR = 5 or 10 rather than padding to 12).
//! The scalar twin shares the contract; SIMD results differ from it only by
//! the FMA's single rounding, which the tests allow for.

use super::activation::Activation;
use super::isa::{Isa, Level};
use super::vector::F32s;

/// Signature shared by every microkernel.
///
/// # Safety
/// `a` holds `k·MR` floats, `b` holds `k` rows of NR floats at stride
/// `rs_b`; `c` is valid for reads and writes of MR rows of NR floats at row
/// stride `rs_c`, untouched by any other thread meanwhile; the `Store`'s
/// mask, if any, is valid for reads of MR rows of NR floats at its stride;
/// its biases, if any, for reads of NR floats; the CPU supports the
/// kernel's instruction set.
type KernelFn = unsafe fn(usize, *const f32, *const f32, usize, *mut f32, usize, Store);

/// How a kernel finishes its tile T = A·B: C ← T, or C ← C + T when
/// `accumulate`; then, with a mask, each element times 1 where the mask's
/// float at the same place is above zero and 0 elsewhere. That is the relu
/// fold of a dX GEMM (`Epilogue::ActivationGrad`, the mask the relu's
/// outputs), done before the tile is stored rather than on the stored
/// tile: for the seed model's dZ·W2ᵀ, 11.8 µs a step became 9.5.
///
/// Instead of a mask, a store may add each column's bias and then apply
/// relu: the bias-and-relu epilogue of a forward GEMM
/// (`Epilogue::BiasActivation`), with relu.rs's operations in its order,
/// before the store rather than on the stored tile. For the seed model's
/// first layer, re-reading its 128×512 outputs had taken 4 µs a step.
#[derive(Clone, Copy)]
pub struct Store {
    accumulate: bool,
    mask: *const f32,
    rs_mask: usize,
    bias: *const f32,
    relu: bool,
}

impl Store {
    /// No mask.
    pub fn plain(accumulate: bool) -> Store {
        Store { accumulate, mask: std::ptr::null(), rs_mask: 0, bias: std::ptr::null(), relu: false }
    }

    /// With the relu mask of the MR×NR floats at `mask`, rows `rs_mask`
    /// apart; `Kernel::run`'s contract covers reading them.
    pub fn relu_masked(accumulate: bool, mask: *const f32, rs_mask: usize) -> Store {
        Store { mask, rs_mask, ..Store::plain(accumulate) }
    }

    /// Plus the NR biases at `bias` (none when null), then relu when
    /// `relu`; `Kernel::run`'s contract covers reading the biases.
    pub fn bias_relu(accumulate: bool, bias: *const f32, relu: bool) -> Store {
        Store { bias, relu, ..Store::plain(accumulate) }
    }
}

/// One microkernel and its tile. Kernels come only from an [`Isa`], so
/// holding one proves the CPU runs it; its fields are private so that the
/// tile `run` checks against is the one the kernel computes:
///
/// ```compile_fail,E0616
/// let mut kernel = ferro_core::kernels::Isa::detect().kernel_for(8);
/// kernel.mr = 1;
/// ```
#[derive(Clone, Copy)]
pub struct Kernel {
    mr: usize,
    nr: usize,
    f: KernelFn,
}

/// Largest tile any kernel uses, for edge buffers.
pub const MAX_TILE: usize = 12 * 32;

impl Kernel {
    /// Rows of the tile (MR).
    pub fn mr(&self) -> usize {
        self.mr
    }

    /// Columns of the tile (NR).
    pub fn nr(&self) -> usize {
        self.nr
    }

    /// C_tile (+)= A·B, finished as `store` says.
    ///
    /// # Safety
    /// `c` is valid for reads and writes of MR rows of NR floats at row
    /// stride `rs_c`, and no other thread touches them meanwhile; a mask in
    /// `store` is valid for reads of MR rows of NR floats at its stride,
    /// and biases for reads of NR floats.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(&self, k: usize, a: &[f32], b: &[f32], rs_b: usize, c: *mut f32, rs_c: usize, store: Store) {
        assert!(rs_b >= self.nr, "microkernel B stride below NR");
        // Checked arithmetic: release builds wrap, and a wrapped length
        // would pass the check below.
        let b_len = if k == 0 { Some(0) } else { (k - 1).checked_mul(rs_b).and_then(|l| l.checked_add(self.nr)) };
        let a_len = k.checked_mul(self.mr);
        let fits = |len: Option<usize>, have: usize| len.is_some_and(|l| have >= l);
        assert!(fits(a_len, a.len()) && fits(b_len, b.len()), "microkernel slivers too short");
        // SAFETY: the slivers were checked above; `f` computes the MR×NR tile
        // of this Kernel, which only an Isa (detected) hands out; the caller
        // vouches for `c`.
        unsafe { (self.f)(k, a.as_ptr(), b.as_ptr(), rs_b, c, rs_c, store) }
    }

    /// `run` into a tile held in `c` (row stride `rs_c` ≥ NR).
    #[allow(clippy::too_many_arguments)]
    pub fn run_into(&self, k: usize, a: &[f32], b: &[f32], rs_b: usize, c: &mut [f32], rs_c: usize, accumulate: bool) {
        let c_len = (self.mr - 1).checked_mul(rs_c).and_then(|l| l.checked_add(self.nr));
        assert!(rs_c >= self.nr && c_len.is_some_and(|l| c.len() >= l), "microkernel C tile too short");
        // SAFETY: checked just above; `c` is exclusively borrowed.
        unsafe { self.run(k, a, b, rs_b, c.as_mut_ptr(), rs_c, Store::plain(accumulate)) }
    }
}

/// This ISA's kernels with their relative speed per useful row.
fn kernels(isa: Isa) -> &'static [(Kernel, f32)] {
    match isa.level() {
        Level::Scalar => &SCALAR_KERNELS,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => &AVX2_KERNELS,
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => &AVX512_KERNELS,
        #[cfg(target_arch = "aarch64")]
        Level::Neon => &NEON_KERNELS,
    }
}

/// The kernel that computes `m` rows fastest: least padded work per speed,
/// the first (preferred) kernel on ties.
fn fastest_for(kernels: &[(Kernel, f32)], m: usize) -> Kernel {
    let cost = |&(k, speed): &(Kernel, f32)| m.max(1).div_ceil(k.mr) as f32 * k.mr as f32 / speed;
    let mut best = kernels[0];
    for cand in kernels {
        if cost(cand) < cost(&best) {
            best = *cand;
        }
    }
    best.0
}

impl Isa {
    /// Columns every kernel of this ISA computes at once.
    pub fn nr(self) -> usize {
        kernels(self)[0].0.nr
    }

    /// The kernel that computes `m` rows fastest: least padded work per speed,
    /// the first (preferred) kernel on ties.
    pub fn kernel_for(self, m: usize) -> Kernel {
        fastest_for(kernels(self), m)
    }

    /// Every kernel of this ISA (for tests).
    pub fn all_kernels(self) -> Vec<Kernel> {
        kernels(self).iter().map(|&(k, _)| k).collect()
    }
}

/// A table entry, its tile checked against MAX_TILE at compile time. The
/// builders below take MR and NR from the body they instantiate, so the tile
/// `Kernel::run` checks operands against is the one the body computes.
const fn kernel(mr: usize, nr: usize, f: KernelFn) -> Kernel {
    assert!(mr >= 1 && nr >= 1 && mr * nr <= MAX_TILE, "tile larger than MAX_TILE");
    Kernel { mr, nr, f }
}

const fn scalar<const MR: usize, const NR: usize>() -> Kernel {
    kernel(MR, NR, kernel_scalar::<MR, NR>)
}

#[cfg(target_arch = "x86_64")]
const fn avx2<const MR: usize>() -> Kernel {
    kernel(MR, avx2::NR, avx2::kernel::<MR>)
}

#[cfg(target_arch = "x86_64")]
const fn avx512<const MR: usize>() -> Kernel {
    kernel(MR, avx512::NR, avx512::kernel::<MR>)
}

#[cfg(target_arch = "aarch64")]
const fn neon<const MR: usize>() -> Kernel {
    kernel(MR, neon::NR, neon::kernel::<MR>)
}

// Each ISA's kernels, preferred first, with their relative speed per useful
// row (measured on a Zen 4 core with crate/bench/examples/profile_gemm):
// `kernel_for` trades a slower kernel against padding rows it would waste.
static SCALAR_KERNELS: [(Kernel, f32); 1] = [(scalar::<4, 8>(), 1.0)];
#[cfg(target_arch = "x86_64")]
static AVX2_KERNELS: [(Kernel, f32); 3] = [(avx2::<6>(), 1.0), (avx2::<5>(), 0.96), (avx2::<4>(), 0.92)];
#[cfg(target_arch = "x86_64")]
static AVX512_KERNELS: [(Kernel, f32); 4] =
    [(avx512::<8>(), 1.0), (avx512::<12>(), 1.0), (avx512::<10>(), 1.0), (avx512::<6>(), 0.95)];
// NEON's speeds are estimates from the register budget (no arm64 hardware
// to measure on here): MR = 8 and 12 keep 16 and 24 of 32 registers
// accumulating, enough to cover FMA latency on 2–4 pipes.
#[cfg(target_arch = "aarch64")]
static NEON_KERNELS: [(Kernel, f32); 4] =
    [(neon::<8>(), 1.0), (neon::<12>(), 1.0), (neon::<6>(), 0.95), (neon::<4>(), 0.9)];

/// The portable twin: plain multiply-add on a register-sized tile.
///
/// # Safety
/// As for every [`KernelFn`], less the instruction set: `a` holds `k·MR`
/// floats, `b` holds `k` rows of NR floats at stride `rs_b`, and `c` is valid
/// for MR rows of NR floats at stride `rs_c`, used by no other thread.
unsafe fn kernel_scalar<const MR: usize, const NR: usize>(
    k: usize,
    a: *const f32,
    b: *const f32,
    rs_b: usize,
    c: *mut f32,
    rs_c: usize,
    store: Store,
) {
    // SAFETY: the caller guarantees the sliver lengths (see # Safety).
    let a = unsafe { std::slice::from_raw_parts(a, k * MR) };
    let mut acc = [[0f32; NR]; MR];
    for (p, ap) in a.chunks_exact(MR).enumerate() {
        // SAFETY: row p < k of B's sliver, NR floats (see # Safety).
        let bp = unsafe { std::slice::from_raw_parts(b.add(p * rs_b), NR) };
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees MR rows of NR floats at stride rs_c,
        // and each row's slice is dropped before the next is made.
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * rs_c), NR) };
        for (j, (dst, &v)) in row.iter_mut().zip(acc_row).enumerate() {
            let mut v = if store.accumulate { *dst + v } else { v };
            if !store.bias.is_null() {
                // SAFETY: the caller guarantees NR biases.
                v += unsafe { *store.bias.add(j) };
            }
            if store.relu {
                v = Activation::Relu.apply(v);
            }
            *dst = if store.mask.is_null() {
                v
            } else {
                // SAFETY: the caller guarantees MR rows of NR mask floats.
                v * Activation::Relu.derivative_from_output(unsafe { *store.mask.add(i * store.rs_mask + j) })
            };
        }
    }
}

/// The SIMD body, written once: an MR×(2·N) tile in 2·MR registers of N
/// lanes. Per step: two loads of B, MR broadcasts of A, 2·MR FMAs.
///
/// # Safety
/// The CPU runs `S`'s ISA (the caller is compiled with its features); the
/// operands are as [`KernelFn`] states, with NR = 2·`S::N`.
#[inline(always)]
unsafe fn tile<S: F32s, const MR: usize>(
    k: usize,
    a: *const f32,
    b: *const f32,
    rs_b: usize,
    c: *mut f32,
    rs_c: usize,
    store: Store,
) {
    // SAFETY: the caller vouches for the ISA and for k steps of A (MR floats
    // each) and B (2·N floats at stride rs_b), and for MR rows of 2·N floats
    // of C at stride rs_c.
    unsafe {
        let mut acc = [[S::zero(); 2]; MR];
        let (mut a, mut b) = (a, b);
        for _ in 0..k {
            let b0 = S::load(b);
            let b1 = S::load(b.add(S::N));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = S::splat(*a.add(i));
                row[0] = S::fmadd(ai, b0, row[0]);
                row[1] = S::fmadd(ai, b1, row[1]);
            }
            a = a.add(MR);
            b = b.add(rs_b);
        }
        for (i, row) in acc.iter().enumerate() {
            let dst = c.add(i * rs_c);
            let (mut lo, mut hi) = (row[0], row[1]);
            if store.accumulate {
                lo = S::add(lo, S::load(dst));
                hi = S::add(hi, S::load(dst.add(S::N)));
            }
            if !store.bias.is_null() {
                lo = S::add(lo, S::load(store.bias));
                hi = S::add(hi, S::load(store.bias.add(S::N)));
            }
            if store.relu {
                // As relu.rs's epilogue: the same bits.
                (lo, hi) = (S::relu(lo), S::relu(hi));
            }
            if !store.mask.is_null() {
                // As relu.rs's epilogue: the same bits.
                let y = store.mask.add(i * store.rs_mask);
                lo = S::mul(lo, S::positive_to_one(S::load(y)));
                hi = S::mul(hi, S::positive_to_one(S::load(y.add(S::N))));
            }
            S::store(dst, lo);
            S::store(dst.add(S::N), hi);
        }
    }
}

/// MR×16 tiles in 2·MR ymm accumulators (12 for MR = 6, plus two registers
/// for a row of B and one for a broadcast of A: 15 of 16), enough to keep
/// both FMA pipes of a Zen or Skylake core busy.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::kernels::vector::{Avx2, F32s};

    /// Columns of the tile: two ymm registers.
    pub const NR: usize = 2 * Avx2::N;

    /// # Safety
    /// The CPU runs AVX2 and FMA (only an `Isa` that detected them hands this
    /// kernel out); the operands are as [`super::KernelFn`] states, NR = 16.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel<const MR: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        rs_b: usize,
        c: *mut f32,
        rs_c: usize,
        store: super::Store,
    ) {
        // SAFETY: this function's contract is `tile`'s, for AVX2.
        unsafe { super::tile::<Avx2, MR>(k, a, b, rs_b, c, rs_c, store) }
    }
}

/// MR×32 tiles in 2·MR zmm accumulators (16 for MR = 8, 24 for MR = 12, of
/// 32 registers). Same FMA throughput as AVX2 on Zen 4, but half the
/// instructions and far fewer loads per FMA, so the FMA pipes stay fuller.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use crate::kernels::vector::{Avx512, F32s};

    /// Columns of the tile: two zmm registers.
    pub const NR: usize = 2 * Avx512::N;

    /// # Safety
    /// The CPU runs AVX-512F (only an `Isa` that detected it hands this
    /// kernel out); the operands are as [`super::KernelFn`] states, NR = 32.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kernel<const MR: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        rs_b: usize,
        c: *mut f32,
        rs_c: usize,
        store: super::Store,
    ) {
        // SAFETY: this function's contract is `tile`'s, for AVX-512.
        unsafe { super::tile::<Avx512, MR>(k, a, b, rs_b, c, rs_c, store) }
    }
}

/// MR×8 tiles in 2·MR q-register accumulators (16 for MR = 8, 24 for MR =
/// 12, of 32), one broadcast load of A per row and two loads of B per step.
#[cfg(target_arch = "aarch64")]
mod neon {
    use crate::kernels::vector::{F32s, Neon};

    /// Columns of the tile: two q registers.
    pub const NR: usize = 2 * Neon::N;

    /// # Safety
    /// The CPU runs NEON (only an `Isa` that detected it hands this kernel
    /// out); the operands are as [`super::KernelFn`] states, NR = 8.
    #[target_feature(enable = "neon")]
    pub unsafe fn kernel<const MR: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        rs_b: usize,
        c: *mut f32,
        rs_c: usize,
        store: super::Store,
    ) {
        // SAFETY: this function's contract is `tile`'s, for NEON.
        unsafe { super::tile::<Neon, MR>(k, a, b, rs_b, c, rs_c, store) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tile of every kernel against a float64 loop, at awkward depths.
    #[test]
    fn every_kernel_matches_float64_on_one_tile() {
        for isa in Isa::available() {
            for kern in isa.all_kernels() {
                let (mr, nr) = (kern.mr, kern.nr);
                // B packed (rs_b = NR) and read in place from wider rows.
                for (k, rs_b) in [(0usize, nr), (1, nr), (2, nr + 5), (7, nr), (17, 3 * nr), (129, nr), (257, nr + 1)] {
                    let a: Vec<f32> = (0..k * mr).map(|x| ((x * 37 % 101) as f32 - 50.0) / 25.0).collect();
                    let b: Vec<f32> = (0..k * rs_b).map(|x| ((x * 53 % 97) as f32 - 48.0) / 24.0).collect();
                    for accumulate in [false, true] {
                        let rs_c = nr + 3;
                        let mut c: Vec<f32> = (0..mr * rs_c).map(|x| x as f32 * 0.5).collect();
                        let before = c.clone();
                        kern.run_into(k, &a, &b, rs_b, &mut c, rs_c, accumulate);
                        for i in 0..mr {
                            for j in 0..rs_c {
                                let got = c[i * rs_c + j];
                                if j >= nr {
                                    assert_eq!(got, before[i * rs_c + j], "{isa:?} {mr}x{nr} wrote outside the tile");
                                    continue;
                                }
                                let mut want: f64 = (0..k).map(|p| a[p * mr + i] as f64 * b[p * rs_b + j] as f64).sum();
                                if accumulate {
                                    want += before[i * rs_c + j] as f64;
                                }
                                let tol = 1e-5 * (1.0 + k as f64) * (1.0 + want.abs());
                                assert!(
                                    (got as f64 - want).abs() <= tol,
                                    "{isa:?} {mr}x{nr} k={k} ({i},{j}): {got} vs {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// The relu mask fused into the store gives the bits of storing the
    /// tile and then running relu.rs's epilogue on it, with and without
    /// accumulation, on every kernel: masks of zeros, ±0, NaN and negatives.
    #[test]
    fn masked_stores_equal_the_relu_epilogue_bit_for_bit() {
        for isa in Isa::available() {
            for kern in isa.all_kernels() {
                let (mr, nr, k) = (kern.mr, kern.nr, 19);
                let a: Vec<f32> = (0..k * mr).map(|x| ((x * 37 % 101) as f32 - 50.0) / 25.0).collect();
                let b: Vec<f32> = (0..k * nr).map(|x| ((x * 53 % 97) as f32 - 48.0) / 24.0).collect();
                let rs_y = nr + 7;
                let special = [0.0, -0.0, f32::NAN, -1.0, 1e-30, f32::INFINITY];
                let y: Vec<f32> = (0..mr * rs_y)
                    .map(|x| if x % 5 == 0 { special[x / 5 % 6] } else { (x % 7) as f32 - 3.0 })
                    .collect();
                for accumulate in [false, true] {
                    let rs_c = nr + 3;
                    let start: Vec<f32> = (0..mr * rs_c).map(|x| x as f32 * 0.5 - 9.0).collect();
                    let mut want = start.clone();
                    kern.run_into(k, &a, &b, nr, &mut want, rs_c, accumulate);
                    // SAFETY: MR rows of NR floats in both, at their strides.
                    unsafe {
                        crate::kernels::activation::scale_by_derivative_block(
                            isa,
                            Activation::Relu,
                            want.as_mut_ptr(),
                            rs_c,
                            y.as_ptr(),
                            rs_y,
                            mr,
                            nr,
                        )
                    };
                    let mut got = start.clone();
                    // SAFETY: MR rows of NR floats of C and of the mask, at their strides.
                    unsafe {
                        kern.run(
                            k,
                            &a,
                            &b,
                            nr,
                            got.as_mut_ptr(),
                            rs_c,
                            Store::relu_masked(accumulate, y.as_ptr(), rs_y),
                        )
                    };
                    let same = got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
                    assert!(same, "{isa:?} {mr}x{nr} accumulate={accumulate}");
                }
            }
        }
    }

    /// A bias and relu fused into the store give the bits of storing the
    /// tile and then running the bias-and-activation epilogue on it, with
    /// and without accumulation, relu or not, biases or none, on every
    /// kernel: biases and sums with ±0, NaN, ±∞ and negatives.
    #[test]
    fn bias_relu_stores_equal_the_epilogue_bit_for_bit() {
        use crate::kernels::activation::bias_activation_block;
        let special = [0.0, -0.0, f32::NAN, -1.0, 1e-30, f32::INFINITY, f32::NEG_INFINITY];
        for isa in Isa::available() {
            for kern in isa.all_kernels() {
                let (mr, nr, k) = (kern.mr, kern.nr, 13);
                let mut a: Vec<f32> = (0..k * mr).map(|x| ((x * 37 % 101) as f32 - 50.0) / 25.0).collect();
                a[3] = f32::INFINITY;
                let b: Vec<f32> = (0..k * nr).map(|x| ((x * 53 % 97) as f32 - 48.0) / 24.0).collect();
                let bias: Vec<f32> =
                    (0..nr).map(|j| if j % 3 == 0 { special[j / 3 % 7] } else { j as f32 * 0.3 - 2.0 }).collect();
                for (accumulate, relu, biased) in (0..8).map(|c| (c & 1 == 1, c & 2 == 2, c & 4 == 4)) {
                    let rs_c = nr + 3;
                    let start: Vec<f32> = (0..mr * rs_c).map(|x| x as f32 * 0.5 - 9.0).collect();
                    let mut want = start.clone();
                    kern.run_into(k, &a, &b, nr, &mut want, rs_c, accumulate);
                    let activation = if relu { Activation::Relu } else { Activation::Linear };
                    let biases = if biased { &bias[..] } else { &[][..] };
                    // SAFETY: MR rows of NR floats at stride rs_c.
                    unsafe { bias_activation_block(isa, activation, want.as_mut_ptr(), rs_c, mr, nr, biases) };
                    let mut got = start.clone();
                    let at = if biased { bias.as_ptr() } else { std::ptr::null() };
                    // SAFETY: MR rows of NR floats of C, and NR biases.
                    unsafe { kern.run(k, &a, &b, nr, got.as_mut_ptr(), rs_c, Store::bias_relu(accumulate, at, relu)) };
                    let same = got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
                    assert!(same, "{isa:?} {mr}x{nr} accumulate={accumulate} relu={relu} bias={biased}");
                }
            }
        }
    }

    #[test]
    fn kernel_choice_avoids_padding() {
        for isa in Isa::available() {
            let nr = isa.nr();
            assert!(isa.all_kernels().iter().all(|k| k.nr == nr && k.mr * k.nr <= MAX_TILE));
            for m in [1, 5, 10, 128, 784] {
                let k = isa.kernel_for(m);
                let waste = m.div_ceil(k.mr) * k.mr - m;
                assert!(waste < k.mr, "{isa:?} m={m}");
            }
        }
        // The tables themselves, whether or not this CPU runs them.
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(fastest_for(&AVX2_KERNELS, 10).mr, 5);
            assert_eq!(fastest_for(&AVX2_KERNELS, 128).mr, 6);
            assert_eq!(fastest_for(&AVX512_KERNELS, 10).mr, 10);
            assert_eq!(fastest_for(&AVX512_KERNELS, 784).mr, 8);
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(fastest_for(&NEON_KERNELS, 12).mr, 12);
            assert_eq!(fastest_for(&NEON_KERNELS, 784).mr, 8);
        }
    }
}
