//! The size of the CPU's last-level cache, where the OS tells it: whether a
//! dataset stays in cache between epochs decides whether fetching its rows
//! early pays (train.rs, `early_prefetch_pays`).

use std::path::Path;
use std::sync::OnceLock;

/// The bytes of one instance of the last-level cache (one socket's or one
/// core complex's L3, as CPU 0 sees it), or None where that is not known:
/// off Linux, or where sysfs gives no size for the deepest level it lists.
pub fn last_level() -> Option<usize> {
    static SIZE: OnceLock<Option<usize>> = OnceLock::new();
    *SIZE.get_or_init(|| {
        if cfg!(target_os = "linux") {
            deepest_level(Path::new("/sys/devices/system/cpu/cpu0/cache"))
        } else {
            None
        }
    })
}

/// The size of the deepest cache level listed under `dir` (sysfs's
/// `index*/level` and `index*/size`); None when that level has no size,
/// rather than a shallower level's (arm64 firmware may leave sizes out).
fn deepest_level(dir: &Path) -> Option<usize> {
    let read = |path: &Path, name: &str| std::fs::read_to_string(path.join(name)).ok();
    let caches: Vec<(u32, Option<usize>)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let level = read(&path, "level")?.trim().parse().ok()?;
            Some((level, read(&path, "size").and_then(|s| parse_size(&s))))
        })
        .collect();
    let last = caches.iter().map(|&(level, _)| level).max()?;
    caches.iter().filter(|&&(level, _)| level == last).map(|&(_, size)| size).max().flatten()
}

/// A sysfs cache size: "48K", "2048K" (what Linux writes), also "32M",
/// "1G" or plain bytes.
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
        // The last: digits that parse, times 2^30, overflow.
        for bad in ["", "K", "12Q", "-1K", "99999999999999999999G", "18014398509481984G"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    /// A cache directory as sysfs lays it out, `(level, size)` per index.
    fn fake_sysfs(name: &str, caches: &[(u32, Option<&str>)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ferro-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (i, (level, size)) in caches.iter().enumerate() {
            let index = dir.join(format!("index{i}"));
            std::fs::create_dir_all(&index).unwrap();
            std::fs::write(index.join("level"), format!("{level}\n")).unwrap();
            if let Some(size) = size {
                std::fs::write(index.join("size"), format!("{size}\n")).unwrap();
            }
        }
        std::fs::write(dir.join("uevent"), "").unwrap();
        dir
    }

    #[test]
    fn the_deepest_level_is_read_and_no_other() {
        let xeon = fake_sysfs("xeon", &[(1, Some("48K")), (1, Some("32K")), (2, Some("2048K")), (3, Some("266240K"))]);
        assert_eq!(deepest_level(&xeon), Some(266240 << 10));
        // Listed in any order.
        let shuffled = fake_sysfs("shuffled", &[(3, Some("32768K")), (2, Some("1024K")), (1, Some("32K"))]);
        assert_eq!(deepest_level(&shuffled), Some(32 << 20));
        // The deepest level without a size: unknown, not L2's.
        let no_size = fake_sysfs("unsized", &[(1, Some("64K")), (2, Some("1024K")), (3, None)]);
        assert_eq!(deepest_level(&no_size), None);
        assert_eq!(deepest_level(&xeon.join("missing")), None);
        for dir in [xeon, shuffled, no_size] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
