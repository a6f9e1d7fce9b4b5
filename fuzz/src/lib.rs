//! What the fuzz targets share.

/// The value of a call that succeeded, or None for one that failed with a
/// coded error, as bad input should; an internal error fails the run.
pub fn ok_or_coded<T>(r: ferro_core::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert_ne!(e.code(), "ERR_FERRO_INTERNAL", "{e}");
            None
        }
    }
}
