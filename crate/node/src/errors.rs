//! Core errors become JS errors whose message starts with "[CODE] "; the
//! TypeScript layer turns that into an Error subclass with `code` set.

use ferro_core::error::catch_panic;
use napi::{Error, Status};

pub fn to_napi(e: ferro_core::Error) -> Error {
    Error::new(Status::GenericFailure, format!("[{}] {e}", e.code()))
}

/// Runs `f` with panics caught and core errors mapped.
pub fn guard<T>(f: impl FnOnce() -> ferro_core::Result<T>) -> napi::Result<T> {
    catch_panic(f).map_err(to_napi)
}
