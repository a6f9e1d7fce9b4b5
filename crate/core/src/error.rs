//! The one error type of the core. Each variant maps to a stable JS error
//! code (`code()`); the node binding only forwards it.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A value of the wrong kind (e.g. a typed array where another was needed).
    #[error("{0}")]
    Type(String),
    /// A value of the right kind but out of range: sizes, names, labels.
    #[error("{0}")]
    Value(String),
    /// Shapes that do not fit together.
    #[error("{0}")]
    Shape(String),
    /// The call is not valid in the object's current state (not compiled, busy…).
    #[error("{0}")]
    State(String),
    /// The model is training (or otherwise in use) and cannot take this call now.
    #[error("{0}")]
    Busy(String),
    /// Files and datasets.
    #[error("{0}")]
    Io(String),
    /// A bug: a caught panic or a broken internal invariant.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable code a JavaScript caller can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Type(_) => "ERR_FERRO_TYPE",
            Error::Value(_) => "ERR_FERRO_VALUE",
            Error::Shape(_) => "ERR_FERRO_SHAPE",
            Error::State(_) => "ERR_FERRO_STATE",
            Error::Busy(_) => "ERR_FERRO_BUSY",
            Error::Io(_) => "ERR_FERRO_IO",
            Error::Internal(_) => "ERR_FERRO_INTERNAL",
        }
    }
}

/// Turns the payload of a caught panic into an `Internal` error.
pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string());
    Error::Internal(format!("Internal error in ferro-nn (please report it): {what}"))
}

/// Runs `f`, turning a panic into `Error::Internal` so it never unwinds
/// into a caller that cannot take it (the napi boundary).
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(from_panic(p)))
}
