//! The size of the CPU's last-level cache, where the OS tells it: whether a
//! dataset stays in cache between epochs decides whether fetching its rows
//! early pays (train.rs).

use std::sync::OnceLock;

/// The last-level cache's bytes (Linux: the deepest level sysfs lists for
/// CPU 0), or None where that is not known.
pub fn last_level() -> Option<usize> {
    static SIZE: OnceLock<Option<usize>> = OnceLock::new();
    *SIZE.get_or_init(read_last_level)
}

fn read_last_level() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    let read = |path: std::path::PathBuf, name: &str| std::fs::read_to_string(path.join(name)).ok();
    dir.filter_map(|entry| {
        let path = entry.ok()?.path();
        let level: u32 = read(path.clone(), "level")?.trim().parse().ok()?;
        Some((level, parse_size(&read(path, "size")?)?))
    })
    .max()
    .map(|(_, bytes)| bytes)
}

/// A sysfs cache size: "48K", "2048K", "260M" or plain bytes.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'K') => (&text[..i], 1 << 10),
        (i, 'M') => (&text[..i], 1 << 20),
        (i, 'G') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("266240K"), Some(266240 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        for bad in ["", "K", "12Q", "-1K", "99999999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_deepest_level_is_the_one_read() {
        // On Linux CI sysfs lists the caches; elsewhere there is nothing to check.
        if let Some(llc) = last_level() {
            assert!(llc >= 256 << 10, "{llc} bytes: not a last-level cache");
        }
    }
}
