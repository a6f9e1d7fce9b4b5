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

/// Below this size a buffer is allocated without asking the OS what is free.
const CHECKED_BYTES: usize = 64 << 20;

/// Memory the OS can still hand out without swapping (Linux: MemAvailable),
/// or None where that is not known.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// A zero-filled `Vec<T>` of `len`, or a Value error when it cannot be
/// allocated. Large buffers are also checked against the memory the OS
/// reports as available: on Linux an allocation larger than the free memory
/// can still succeed, and filling it would get the process killed.
pub fn zeroed<T: Copy + Default>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v = reserved(len, what)?;
    v.resize(len, T::default());
    Ok(v)
}

/// A copy of `src`, refused like `zeroed` when it cannot be held (and not
/// zero-filled first: the copy of a 188 MB dataset writes it once).
pub fn copied<T: Copy>(src: &[T], what: &str) -> Result<Vec<T>> {
    let mut v = reserved(src.len(), what)?;
    v.extend_from_slice(src);
    Ok(v)
}

/// An empty `Vec<T>` with room for exactly `len`, after the checks.
fn reserved<T>(len: usize, what: &str) -> Result<Vec<T>> {
    let bytes = len.checked_mul(std::mem::size_of::<T>());
    let refuse = |detail: String| {
        Error::Value(format!("Cannot allocate {len} elements ({detail}) for {what}. Use smaller sizes."))
    };
    let Some(bytes) = bytes.filter(|&b| b <= isize::MAX as usize) else {
        return Err(refuse("more than the address space".into()));
    };
    if bytes >= CHECKED_BYTES {
        if let Some(free) = available_memory() {
            if bytes as u64 > free {
                return Err(refuse(format!("{} of memory; {} are available", gib(bytes as u64), gib(free))));
            }
        }
    }
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        return Err(refuse(format!("{} of memory", gib(bytes as u64))));
    }
    Ok(v)
}

/// Hands memory freed by a finished fit back to the OS. glibc keeps freed
/// blocks of a few MiB in its per-thread arenas (its mmap threshold grows to
/// the largest block freed), so a process that trains model after model
/// otherwise sits at a high-water mark well above what it uses; a trim after
/// each fit keeps RSS near the live set. Elsewhere a no-op.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own arenas under their
        // locks; it takes no pointer and is safe to call from any thread.
        unsafe { malloc_trim(0) };
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

    #[test]
    fn zeroed_refuses_more_than_the_available_memory() {
        // Only where the OS says how much is free (Linux).
        if let Some(free) = available_memory() {
            let len = (free / 4 + (1 << 20)) as usize; // just over what is free, in f32s
            let err = zeroed::<f32>(len, "the kernel").unwrap_err();
            assert!(err.to_string().contains("are available"), "{err}");
        }
    }
}
