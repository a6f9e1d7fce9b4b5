//! Numeric kernels: the packed GEMM and the activation math around it.

pub mod activation;
pub mod adam;
pub(crate) mod amx;
pub mod bf16;
mod bf16_words;
pub mod bytes;
pub mod gemm;
pub(crate) mod isa;
pub mod microkernel;
pub mod narrow;
pub mod pack;
pub mod packed;
pub mod params;
mod relu;
pub mod rmsprop;
pub mod rows;
pub(crate) mod vector;

pub use activation::{scale_by_derivative, scale_by_input_derivative, softmax_backward_rows, softmax_rows, Activation};
pub use gemm::{
    fits_panels, gemm, gemm_into_panels, gemm_tiles, gemm_tiles_packed_b, Epilogue, GemmBuffers, TileLayout, TileSink,
};
pub use isa::Isa;
pub use packed::{PackedA, PackedB};
pub use rmsprop::RmsPropStep;

/// Asks the CPU to bring the `bytes` from `ptr` into L1, a cache line at a
/// time; a hint, which never faults, even past the end of an allocation.
#[inline]
pub(crate) fn prefetch(ptr: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    prefetch_lines::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr, bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, bytes);
}

/// `prefetch` for lines about to be written: they arrive owned, so the
/// stores need not ask for them again (PREFETCHW, a no-op where absent).
#[inline]
pub(crate) fn prefetch_to_write(ptr: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    prefetch_lines::<{ std::arch::x86_64::_MM_HINT_ET0 }>(ptr, bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, bytes);
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_lines<const HINT: i32>(ptr: *const u8, bytes: usize) {
    for line in (0..bytes).step_by(64) {
        // SAFETY: SSE is part of x86-64's baseline, and a prefetch never
        // faults; wrapping_add computes the address without dereferencing it.
        unsafe { std::arch::x86_64::_mm_prefetch::<HINT>(ptr.wrapping_add(line) as *const i8) };
    }
}
