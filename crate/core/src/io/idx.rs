//! IDX files (the MNIST format): a 4-byte magic number (0, 0, element type,
//! rank), `rank` big-endian u32 dimensions, then the elements row-major.
//! Only the header is parsed here; the caller views the bytes after it.

use crate::error::{Error, Result};

/// IDX element type 0x08: unsigned byte, the only one MNIST uses.
pub const UBYTE: u8 = 0x08;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxHeader {
    pub dims: Vec<usize>,
    /// Where the elements start.
    pub data_offset: usize,
}

/// Validates a whole IDX file of unsigned bytes held in `bytes`: magic
/// number, element type, rank, and that exactly the announced number of
/// elements follows the header. `name` appears in error messages.
pub fn parse_header(bytes: &[u8], name: &str) -> Result<IdxHeader> {
    let io = |msg: String| Error::Io(format!("{name}: {msg}"));
    if bytes.len() < 4 {
        return Err(io(format!("truncated IDX file: expected a 4-byte magic number. Received: {} bytes", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(io(format!(
            "not an IDX file: expected a magic number starting 0x0000. Received: 0x{:02x}{:02x}{:02x}{:02x}",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != UBYTE {
        return Err(io(format!(
            "unsupported IDX element type: expected 0x08 (unsigned byte). Received: 0x{:02x}",
            bytes[2]
        )));
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err(io("expected an IDX rank of at least 1. Received: 0".into()));
    }
    let data_offset = 4 + 4 * rank;
    if bytes.len() < data_offset {
        return Err(io(format!(
            "truncated IDX header: expected {data_offset} bytes for rank {rank}. Received: {} bytes",
            bytes.len()
        )));
    }
    let dims: Vec<usize> =
        bytes[4..data_offset].chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| io(format!("IDX dimensions {dims:?} overflow")))?;
    let available = bytes.len() - data_offset;
    if available != count {
        let what = if available < count { "truncated IDX data" } else { "trailing bytes after IDX data" };
        return Err(io(format!("{what}: expected {count} bytes for dimensions {dims:?}. Received: {available} bytes")));
    }
    Ok(IdxHeader { dims, data_offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dims: &[u32], extra: isize) -> Vec<u8> {
        let mut f = vec![0, 0, UBYTE, dims.len() as u8];
        for d in dims {
            f.extend_from_slice(&d.to_be_bytes());
        }
        let n = (dims.iter().product::<u32>() as isize + extra) as usize;
        f.extend((0..n).map(|i| i as u8));
        f
    }

    #[test]
    fn parses_valid_headers() {
        let h = parse_header(&file(&[3, 2, 4], 0), "x").unwrap();
        assert_eq!(h, IdxHeader { dims: vec![3, 2, 4], data_offset: 16 });
        assert_eq!(parse_header(&file(&[5], 0), "y").unwrap().dims, vec![5]);
        assert_eq!(parse_header(&file(&[0, 28], 0), "z").unwrap().dims, vec![0, 28]);
    }

    #[test]
    fn names_every_kind_of_damage() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0, 0], "expected a 4-byte magic number"),
            (vec![8, 3, 0, 0, 1, 2, 3, 4], "not an IDX file"),
            (vec![0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "unsupported IDX element type"),
            (vec![0, 0, UBYTE, 0], "rank of at least 1"),
            (vec![0, 0, UBYTE, 3, 0, 0, 0, 1], "truncated IDX header"),
            (file(&[4, 4], -1), "truncated IDX data"),
            (file(&[4, 4], 2), "trailing bytes"),
            (vec![0, 0, UBYTE, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255], "overflow"),
        ];
        for (bytes, needle) in cases {
            let err = parse_header(&bytes, "f.idx").unwrap_err();
            assert_eq!(err.code(), "ERR_FERRO_IO");
            assert!(err.to_string().contains(needle) && err.to_string().starts_with("f.idx: "), "{err}");
        }
    }
}
