//! Every blocking constant of the GEMM, in one place, with the reason for it.
//!
//! The loop nest (see `gemm.rs`) follows BLIS: a task owns an MC×NC block of
//! C; for each KC slice of the reduction it walks NR-wide slivers of packed B
//! (outer) and MR-tall slivers of packed A (inner), calling the MR×NR
//! microkernel on each pair.
//!
//! Sizes are for a Zen 3/4 class core (32 KiB L1d, 512 KiB–1 MiB L2), and are
//! conservative enough for any x86-64 or arm64 core of the last decade, but
//! AVX-512's KC, which assumes the 1 MiB L2 of the cores that have it.

use super::isa::{Isa, Level};

/// Cache blocking of one instruction set's kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Reduction depth per slice: a B sliver (KC×NR) plus an A sliver (MR×KC)
    /// must stay in the 32 KiB L1d while the microkernel streams them. The
    /// depth actually used is K split into equal slices no deeper than this.
    pub kc: usize,
    /// Rows of C per task, at most (rounded down to a multiple of MR): the
    /// task's packed A block (MC×KC) stays in L2 across every B sliver.
    pub mc: usize,
    /// Columns of C per task, at most (a multiple of NR): the task's B block
    /// (KC×NC) stays in L2 across the task's A slivers.
    pub nc: usize,
}

/// AVX2, NR = 16: B sliver 256×16×4 B = 16 KiB, A sliver 6×256×4 B = 6 KiB;
/// A block 144×256×4 B = 144 KiB; B block 256×256×4 B = 256 KiB.
pub const AVX2: Blocking = Blocking { kc: 256, mc: 144, nc: 256 };

/// AVX-512, NR = 32: deep enough that the seed model's K (784) is one slice.
/// The B sliver (up to 1024×32×4 B = 128 KiB) then streams from L2 rather
/// than staying in L1, which the kernel's ratio allows (16 FMAs per 160 B
/// loaded); fewer slices mean fewer passes over C. A block up to
/// 144×1024×4 B = 576 KiB, within a 1 MiB L2 (Zen 4/5, Intel server cores).
/// Against KC = 192 (profile_gemm, 1 thread): 128×784·784×512 211 → 223
/// GFLOP/s, 128×784·784×4096 136 → 148, 512³ 226 → 236, none slower; the
/// seed model's epoch 2–4% faster on 1 thread, 1–5% on 2.
pub const AVX512: Blocking = Blocking { kc: 1024, mc: 144, nc: 256 };

/// NEON, NR = 8: B sliver 256×8×4 B = 8 KiB, A sliver 12×256×4 B = 12 KiB
/// (arm64 cores have 64–128 KiB of L1d); A block 144×256×4 B = 144 KiB.
pub const NEON: Blocking = Blocking { kc: 256, mc: 144, nc: 256 };

/// The portable kernel (NR = 8) is compute-bound long before caches matter.
pub const SCALAR: Blocking = Blocking { kc: 256, mc: 64, nc: 128 };

pub fn blocking(isa: Isa) -> Blocking {
    match isa.level() {
        Level::Scalar => SCALAR,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => AVX2,
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => AVX512,
        #[cfg(target_arch = "aarch64")]
        Level::Neon => NEON,
    }
}

/// Below this many flops (2·m·n·k) a GEMM runs on the calling thread: a rayon
/// fork-join costs a few microseconds, and small GEMMs are quickly done on one core (2 MFLOP: ~20 µs).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 21;
