//! Every blocking constant of the GEMM, in one place, with the reason for it.
//!
//! The loop nest (see `gemm.rs`) follows BLIS: a task owns an MC×NC block of
//! C; for each KC slice of the reduction it walks NR-wide slivers of packed B
//! (outer) and MR-tall slivers of packed A (inner), calling the MR×NR
//! microkernel on each pair.
//!
//! Sizes are for a Zen 3/4 class core (32 KiB L1d, 512 KiB–1 MiB L2), and are
//! conservative enough for any x86-64 or arm64 core of the last decade.

/// Rows of C per microkernel call. 6 rows × 2 ymm registers of 8 = 12
/// accumulators, plus 2 registers for a row of B and 1 for a broadcast of A:
/// 15 of the 16 ymm registers, the largest tile AVX2 can hold.
pub const MR: usize = 6;

/// Columns of C per microkernel call: two 8-lane ymm vectors.
pub const NR: usize = 16;

/// Depth of one reduction slice. A packed B sliver is KC×NR×4 B = 16 KiB and
/// an A sliver KC×MR×4 B = 6 KiB: together they stay in a 32 KiB L1d while
/// the microkernel streams them.
pub const KC: usize = 256;

/// Rows of C per task: the task's packed A block (MC×KC×4 B = 144 KiB) stays
/// in L2 while every B sliver of the task passes over it. A multiple of MR.
pub const MC: usize = 144;

/// Columns of C per task at most: the task's B block (KC×NC×4 B = 256 KiB)
/// stays in L2 (or the shared L3) across the task's A slivers. A multiple of NR.
pub const NC: usize = 256;

/// Below this many flops (2·m·n·k) a GEMM runs on the calling thread: a rayon
/// fork-join costs a few microseconds, about what 0.5 MFLOP takes on one core.
pub const PARALLEL_MIN_FLOPS: usize = 1 << 20;

const _: () = assert!(MC % MR == 0 && NC % NR == 0);
