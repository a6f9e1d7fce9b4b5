//! Copies what JavaScript hands over into memory the native side owns, on
//! the JavaScript thread, before the call returns: afterwards the caller may
//! detach, shrink or rewrite its buffers without reaching a running task.

use ferro_core::losses::Targets;
use ferro_core::{Error, OwnedInputs, Result};
use napi::bindgen_prelude::{Float32Array, Int32Array, Uint8Array};
use napi_derive::napi;

/// Input rows as the TypeScript layer passes them: float32 `values`, or
/// `bytes` with the `table` of the float32 value of each byte (a uint8
/// tensor scaled lazily).
#[napi(object)]
pub struct InputRows {
    pub values: Option<Float32Array>,
    pub bytes: Option<Uint8Array>,
    pub table: Option<Float32Array>,
}

pub fn copy_inputs(x: &InputRows) -> Result<OwnedInputs> {
    match (&x.values, &x.bytes, &x.table) {
        (Some(values), None, None) => OwnedInputs::copy_f32(values),
        (None, Some(bytes), Some(table)) => OwnedInputs::copy_bytes(bytes, table),
        _ => Err(Error::Type("Expected input rows as float32 values, or bytes with a value table.".into())),
    }
}

/// Per-sample weights, copied; `what` names them in an allocation error.
pub fn copy_weights(w: Option<&Float32Array>, what: &str) -> Result<Option<Vec<f32>>> {
    w.map(|w| ferro_core::alloc::copied(w, what)).transpose()
}

pub fn copy_labels(y: &Int32Array) -> Result<Vec<i32>> {
    ferro_core::alloc::copied(y, "the labels")
}

/// Targets as the TypeScript layer passes them: class ids, or float
/// `values` with `width` per sample (one per output unit).
#[napi(object)]
pub struct TargetRows {
    pub classes: Option<Int32Array>,
    pub values: Option<Float32Array>,
    pub width: Option<u32>,
}

/// Targets the native side owns.
pub enum OwnedTargets {
    Classes(Vec<i32>),
    Values { data: Vec<f32>, width: usize },
}

impl OwnedTargets {
    pub fn view(&self) -> Targets<'_> {
        match self {
            OwnedTargets::Classes(c) => Targets::Classes(c),
            OwnedTargets::Values { data, width } => Targets::Values { data, width: *width },
        }
    }
}

pub fn copy_targets(y: &TargetRows) -> Result<OwnedTargets> {
    match (&y.classes, &y.values, y.width) {
        (Some(classes), None, _) => Ok(OwnedTargets::Classes(copy_labels(classes)?)),
        (None, Some(values), Some(width)) if width > 0 => {
            Ok(OwnedTargets::Values { data: ferro_core::alloc::copied(values, "the targets")?, width: width as usize })
        }
        _ => Err(Error::Type("Expected targets as class indices, or float values with their width.".into())),
    }
}
