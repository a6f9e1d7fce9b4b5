//! Checked allocation. A failed allocation in Rust aborts the process, it is
//! not a panic, so every buffer whose size comes from a caller is sized with
//! checked arithmetic and reserved with `try_reserve` first.

use crate::error::{Error, Result};

/// Product of `dims`, or a Value error naming `what` when it overflows.
pub fn checked_len(dims: &[usize], what: &str) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Value(format!("The size of {what} overflows: dimensions {dims:?}. Use smaller sizes.")))
}

/// A zero-filled `Vec<T>` of `len`, or a Value error when it cannot be allocated.
pub fn zeroed<T: Copy + Default>(len: usize, what: &str) -> Result<Vec<T>> {
    let bytes = len.checked_mul(std::mem::size_of::<T>());
    let mut v = Vec::new();
    match bytes {
        Some(b) if b <= isize::MAX as usize && v.try_reserve_exact(len).is_ok() => {
            v.resize(len, T::default());
            Ok(v)
        }
        _ => Err(Error::Value(format!(
            "Cannot allocate {len} elements ({} bytes) for {what}. Use smaller sizes.",
            bytes.map_or_else(|| "more than usize::MAX".to_string(), |b| b.to_string())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_len_multiplies_and_catches_overflow() {
        assert_eq!(checked_len(&[3, 4, 5], "x").unwrap(), 60);
        assert_eq!(checked_len(&[], "x").unwrap(), 1);
        let err = checked_len(&[usize::MAX, 2], "the kernel").unwrap_err();
        assert_eq!(err.code(), "ERR_FERRO_VALUE");
        assert!(err.to_string().contains("the kernel"), "{err}");
    }

    #[test]
    fn zeroed_refuses_impossible_sizes_without_aborting() {
        let err = zeroed::<f32>(usize::MAX / 2, "a huge buffer").unwrap_err();
        assert_eq!(err.code(), "ERR_FERRO_VALUE");
        assert_eq!(zeroed::<f32>(5, "small").unwrap(), vec![0.0; 5]);
    }
}
