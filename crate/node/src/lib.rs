//! The napi binding of ferro-nn: converts JS values, maps errors, runs the
//! work off the JS thread. Nothing numeric happens here.
//!
//! Execution model: a call copies what it reads from JavaScript into native
//! memory before it returns, then runs on ferro-nn's own thread pool (never
//! on libuv's) and reports through a threadsafe callback. No thread ever
//! waits for JavaScript; environment cleanup hooks stop work whose
//! environment goes away. Every entry point and job runs its body through a
//! panic guard: a panic becomes an ERR_FERRO_INTERNAL error, never an abort.

#![deny(clippy::all)]
// napi-rs registers the exported functions only outside `cargo test`, so the
// unit-test build would call them all dead.
#![cfg_attr(test, allow(dead_code))]

mod cell;
mod data;
mod errors;
mod fit;
mod model;
mod registry;
mod shutdown;
mod test_hooks;

use errors::guard;
use ferro_core::{io::idx, pool, rng};
use napi::bindgen_prelude::*;
use napi_derive::napi;

pub use fit::FitSession;
pub use model::NativeModel;

#[napi]
pub fn set_num_threads(threads: u32) -> Result<()> {
    guard(|| pool::set_num_threads(threads as usize))
}

#[napi]
pub fn get_num_threads() -> u32 {
    pool::num_threads() as u32
}

/// Seeds the source every model draws its initialisation and shuffling from.
/// `seed` is an integer in [0, 2^53), checked by the TypeScript layer.
#[napi]
pub fn set_random_seed(seed: f64) -> Result<()> {
    guard(|| {
        if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed < 9_007_199_254_740_992.0) {
            return Err(ferro_core::Error::Value(format!(
                "Expected a non-negative safe integer for seed. Received: {seed}"
            )));
        }
        rng::set_global_seed(seed as u64);
        Ok(())
    })
}

#[napi(object)]
pub struct IdxHeader {
    pub dims: Vec<f64>,
    pub data_offset: u32,
}

/// Validates a whole IDX file held in `bytes` and returns its header.
#[napi]
pub fn parse_idx_header(bytes: &[u8], name: String) -> Result<IdxHeader> {
    guard(|| {
        let h = idx::parse_header(bytes, &name)?;
        Ok(IdxHeader { dims: h.dims.iter().map(|&d| d as f64).collect(), data_offset: h.data_offset as u32 })
    })
}

/// Which microkernel this CPU runs, for benchmarks and bug reports.
#[napi]
pub fn kernel_isa() -> String {
    ferro_core::kernels::Isa::detect().name().to_string()
}

/// One kind of name the API accepts, and every name of that kind.
#[napi(object)]
pub struct NameList {
    pub kind: String,
    pub names: Vec<String>,
}

/// Every name the API accepts, from the core's registry: the TypeScript
/// lists are tested against it.
#[napi]
pub fn registry() -> Vec<NameList> {
    ferro_core::registry::names()
        .into_iter()
        .map(|(kind, names)| NameList { kind: kind.into(), names: names.into_iter().map(String::from).collect() })
        .collect()
}
