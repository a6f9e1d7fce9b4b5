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

/// `v` as JavaScript prints a number, so that a message quotes the caller's
/// value as they wrote it: 1e+300, not 301 digits; 1e-50, not 0.000….
pub fn js_number(v: f64) -> String {
    let magnitude = v.abs();
    if v.is_finite() && v != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let s = format!("{v:e}");
        if s.contains("e-") {
            s
        } else {
            s.replacen('e', "e+", 1)
        }
    } else if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "Infinity" } else { "-Infinity" }).into()
    } else {
        format!("{}", v + 0.0) // -0 + 0 is 0: JavaScript prints -0 as "0"
    }
}

#[cfg(test)]
mod tests {
    use super::js_number;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        let cases = [
            (1e300, "1e+300"),
            (-2.5e21, "-2.5e+21"),
            (1e-50, "1e-50"),
            (1.5e-7, "1.5e-7"),
            (0.5, "0.5"),
            (-0.0, "0"),
            (123456.0, "123456"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, js) in cases {
            assert_eq!(js_number(v), js, "{v}");
        }
    }
}
