//! The IDX parser on arbitrary bytes: Ok only for consistent files, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(h) = ferro_core::io::idx::parse_header(bytes, "fuzz") {
        let count: usize = h.dims.iter().product();
        assert_eq!(h.data_offset + count, bytes.len());
        assert_eq!(bytes[2], ferro_core::io::idx::UBYTE);
    }
});
