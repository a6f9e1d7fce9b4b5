//! ferro-nn's core: kernels, layers, losses, optimizers and the whole fit
//! loop, in pure Rust. It knows nothing of Node; `crate/node` binds it.

pub mod alloc;
pub mod cache_size;
pub mod error;
pub mod fit;
pub mod inputs;
pub mod io;
pub mod kernels;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod optimizers;
pub mod params;
pub mod pool;
pub mod registry;
pub mod rng;
pub mod step_profile;
mod subnormals;
mod tiled_kernel;
pub mod train;
pub mod workspace;

#[cfg(test)]
mod kept_panels_tests;

pub use error::{Error, Result};
pub use fit::{EpochLogs, FitObserver, FitOptions, FitResult, FitRun, Flow, Silent, Step};
pub use inputs::{Inputs, OwnedInputs};
pub use model::{Compilation, Model, WeightTensor};
pub use train::Samples;
