//! Hooks for the tests that prove a panic never reaches Node: each panics on
//! purpose inside a native call, but only when FERRO_NN_TEST_HOOKS=1 is set;
//! otherwise they refuse with ERR_FERRO_STATE.

use crate::errors::guard;
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

pub struct PanicTask;

#[napi]
impl Task for PanicTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        guard(|| {
            enabled()?;
            // On a worker of ferro-nn's pool, as real work would.
            ferro_core::pool::install(|| -> ferro_core::Result<()> {
                panic!("test hook: deliberate panic in an AsyncTask");
            })
        })
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// Panics inside an AsyncTask's compute, on ferro-nn's pool.
#[napi(ts_return_type = "Promise<void>")]
pub fn test_panic_async() -> AsyncTask<PanicTask> {
    AsyncTask::new(PanicTask)
}
