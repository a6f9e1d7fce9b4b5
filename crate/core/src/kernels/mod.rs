//! Numeric kernels: the packed GEMM and the activation math around it.

pub mod activation;
pub mod bf16;
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
pub use gemm::{gemm, gemm_tiles, Epilogue, GemmBuffers, TileLayout, TileSink};
pub use isa::Isa;
pub use packed::{PackedA, PackedB};
pub use rmsprop::RmsPropStep;
