//! Hooks for the tests that prove a panic never reaches Node: each panics on
//! purpose inside a native call, but only when FERRO_NN_TEST_HOOKS=1 is set;
//! otherwise they refuse with ERR_FERRO_STATE.

use crate::errors::guard;
use crate::model::{guard_job, settle, Done};
use napi::bindgen_prelude::*;
use napi_derive::napi;

pub fn enabled() -> ferro_core::Result<()> {
    if std::env::var("FERRO_NN_TEST_HOOKS").is_ok_and(|v| v == "1") {
        Ok(())
    } else {
        Err(ferro_core::Error::State("Test hooks are disabled; they need FERRO_NN_TEST_HOOKS=1.".into()))
    }
}

/// Panics inside a synchronous native call.
#[napi]
pub fn test_panic_sync() -> Result<()> {
    guard(|| {
        enabled()?;
        panic!("test hook: deliberate panic in a synchronous call");
    })
}

/// Panics inside a job on ferro-nn's pool, as real work would; `done`
/// hears of it as an ERR_FERRO_INTERNAL error.
#[napi(ts_args_type = "done: (err: Error | null, value: undefined) => void")]
pub fn test_panic_async(done: Done<()>) -> Result<()> {
    guard(enabled)?;
    ferro_core::pool::spawn(move || {
        let result = guard_job(|| -> ferro_core::Result<()> { panic!("test hook: deliberate panic in a pool job") });
        settle(done, result);
    });
    Ok(())
}
