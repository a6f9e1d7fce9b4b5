//! Every blocking constant of the GEMM, in one place, with the reason for it.
//!
//! The loop nest (see `gemm.rs`) follows BLIS: a task owns an MC×NC block of
//! C; for each KC slice of the reduction it walks NR-wide slivers of packed B
//! (outer) and MR-tall slivers of packed A (inner), calling the MR×NR
//! microkernel on each pair.
//!
//! Sizes are for a Zen 3/4 class core (32 KiB L1d, 512 KiB–1 MiB L2), and are
//! conservative enough for any x86-64 or arm64 core of the last decade.

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

/// AVX-512, NR = 32: B sliver 192×32×4 B = 24 KiB, A sliver 8×192×4 B = 6 KiB;
/// A block 144×192×4 B = 108 KiB; B block 192×256×4 B = 192 KiB.
pub const AVX512: Blocking = Blocking { kc: 192, mc: 144, nc: 256 };

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
