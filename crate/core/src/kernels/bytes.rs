//! Bytes to float32 for uint8 inputs scaled lazily (inputs.rs): each byte
//! becomes `table[byte]`. A table lookup runs at about one value a cycle,
//! which cost 3% of an MNIST epoch; but the tables users make are nearly
//! always a plain scaling (`asType('float32')`, `.div(255)`, `.mul(s)`), so
//! `ByteMap::of` checks the table against those, exactly, for all 256 bytes,
//! and then the conversion is that arithmetic, vectorised (six times faster
//! with AVX-512). Bit-for-bit, both give the table's values.
//!
//! A division is a multiplication by the divisor's reciprocal refined by
//! one fused residual step, where that gives every entry's bits (it does
//! for `.div(255)`) and FMA is an instruction (not in x86-64's scalar
//! kernel, which divides): Intel's divider takes ~10 cycles per zmm, so a batch
//! of MNIST bytes took 21 µs to convert with VDIVPS and 10 this way (Xeon
//! model 207, one thread), as long as multiplying by 0.5 takes.

use super::isa::{Isa, Level};

/// How a table of 256 float32 values maps bytes, as far as it can tell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ByteMap {
    /// Some other table: look each byte up.
    Table,
    /// `table[b] == b as f32 * s` exactly, for every byte.
    Mul(f32),
    /// `table[b] == b as f32 / d` exactly, for every byte.
    Div(f32),
    /// `table[b] == b as f32 / d` exactly, for every byte, and so is
    /// `refined_quotient(b, d, r)` with `r` the reciprocal of `d`.
    Reciprocal { d: f32, r: f32 },
}

/// `b / d` as `q = b·r` corrected by the exact residual `b − q·d` (one FMA
/// computes it), times `r` and added in a second FMA: the quotient itself
/// for most `b` and `d`, never more than an ulp off. `ByteMap::of` uses it
/// only where it gave the quotient for all 256 bytes.
#[inline(always)]
fn refined_quotient(b: f32, d: f32, r: f32) -> f32 {
    let q = b * r;
    (-q).mul_add(d, b).mul_add(r, q)
}

impl ByteMap {
    /// The arithmetic `table` holds, checked bit for bit on all 256 bytes.
    pub fn of(table: &[f32; 256]) -> ByteMap {
        // Checked here, on the calling thread, with gradual underflow; the
        // conversion runs on ferro-nn's threads, which flush subnormals to
        // zero (subnormals.rs): arithmetic there would not give a subnormal
        // entry's bits, so such a table is looked up.
        if table.iter().any(|v| v.is_subnormal()) {
            return ByteMap::Table;
        }
        let holds = |f: &dyn Fn(f32) -> f32| (0..256).all(|b| f(b as f32).to_bits() == table[b].to_bits());
        let s = table[1];
        if holds(&|b| b * s) {
            return ByteMap::Mul(s);
        }
        // For `.div(d)` byte 1 holds 1/d rounded, so d is near its inverse:
        // try that, the float32s either side of it, and the nearest integer
        // (d is nearly always one, like 255).
        let near = 1.0 / s as f64;
        let guess = near as f32;
        if !(s > 0.0 && guess.is_finite() && guess > 0.0) {
            return ByteMap::Table;
        }
        let candidates =
            [near.round() as f32, guess, f32::from_bits(guess.to_bits() + 1), f32::from_bits(guess.to_bits() - 1)];
        // A subnormal divisor is read as zero there (DAZ): `.div(9.05e-39)`
        // would give Infinity for bytes 1 to 3, whose entries are finite.
        let divisor = candidates.into_iter().find(|&d| d.is_normal() && holds(&|b| b / d));
        let Some(d) = divisor else { return ByteMap::Table };
        // Every value the refinement computes stays normal when r and every
        // nonzero entry are above 2^-100 in magnitude (q·d is near the byte,
        // so the exact residual is 0 or a multiple of about 2^-46): the
        // flushing threads then compute what this one checked.
        let r = 1.0 / d;
        let far_from_subnormal = |v: f32| v == 0.0 || v.abs() >= f32::MIN_POSITIVE * 2f32.powi(26);
        if far_from_subnormal(r)
            && table.iter().all(|&v| far_from_subnormal(v))
            && holds(&|b| refined_quotient(b, d, r))
        {
            ByteMap::Reciprocal { d, r }
        } else {
            ByteMap::Div(d)
        }
    }

    /// The map the scalar kernel runs: x86-64 code built without FMA turns
    /// each `mul_add` into a call to `fmaf` (software on CPUs without FMA,
    /// the platform's libm on Windows and macOS), two per value where one
    /// division does; `of` checked that the division gives the same bits.
    fn for_scalar(self) -> ByteMap {
        match self {
            ByteMap::Reciprocal { d, .. } if !cfg!(any(target_arch = "aarch64", target_feature = "fma")) => {
                ByteMap::Div(d)
            }
            map => map,
        }
    }
}

/// `dst[i] = table[src[i]]`, computed as `map` says (`map` must be
/// `ByteMap::of(table)`).
pub fn bytes_to_f32(isa: Isa, src: &[u8], map: ByteMap, table: &[f32; 256], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "bytes_to_f32: lengths differ");
    match (map, isa.level()) {
        (ByteMap::Table, _) => {
            for (d, &b) in dst.iter_mut().zip(src) {
                *d = table[b as usize];
            }
        }
        // SAFETY: the token proves AVX-512F on this CPU.
        #[cfg(target_arch = "x86_64")]
        (_, Level::Avx512) => unsafe { scaled_avx512(src, map, dst) },
        // SAFETY: the token proves AVX2 on this CPU.
        #[cfg(target_arch = "x86_64")]
        (_, Level::Avx2Fma) => unsafe { scaled_avx2(src, map, dst) },
        // NEON is arm64's baseline: the plain loop is already vectorised with it.
        #[cfg(target_arch = "aarch64")]
        (_, Level::Neon) => scaled(src, map, dst),
        (_, Level::Scalar) => scaled(src, map.for_scalar(), dst),
    }
}

/// One body for every ISA: a plain loop the compiler vectorises. IEEE
/// multiplication and division round the same in every lane width.
#[inline(always)]
fn scaled(src: &[u8], map: ByteMap, dst: &mut [f32]) {
    match map {
        ByteMap::Mul(s) => dst.iter_mut().zip(src).for_each(|(d, &b)| *d = b as f32 * s),
        ByteMap::Div(v) => dst.iter_mut().zip(src).for_each(|(d, &b)| *d = b as f32 / v),
        ByteMap::Reciprocal { d: v, r } => {
            dst.iter_mut().zip(src).for_each(|(d, &b)| *d = refined_quotient(b as f32, v, r))
        }
        ByteMap::Table => unreachable!("tables are looked up"),
    }
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scaled_avx512(src: &[u8], map: ByteMap, dst: &mut [f32]) {
    scaled(src, map, dst)
}

/// # Safety
/// The CPU supports AVX2 and FMA (without FMA, `mul_add` would call libm).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scaled_avx2(src: &[u8], map: ByteMap, dst: &mut [f32]) {
    scaled(src, map, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What JavaScript puts in the table for `.div(d)` / `.mul(s)`: the
    /// float64 result rounded to float32.
    fn js_table(f: impl Fn(f64) -> f64) -> [f32; 256] {
        std::array::from_fn(|b| f(b as f64) as f32)
    }

    #[test]
    fn recognises_the_scalings_users_make_and_nothing_else() {
        assert_eq!(ByteMap::of(&js_table(|b| b)), ByteMap::Mul(1.0));
        assert_eq!(ByteMap::of(&js_table(|b| b / 255.0)), ByteMap::Reciprocal { d: 255.0, r: 1.0 / 255.0 });
        assert_eq!(ByteMap::of(&js_table(|b| b * 0.5)), ByteMap::Mul(0.5));
        assert_eq!(ByteMap::of(&js_table(|b| b / 255.0 - 0.5)), ByteMap::Table);
        assert_eq!(ByteMap::of(&js_table(|b| (b * 0.1).sin())), ByteMap::Table);
        assert_eq!(ByteMap::of(&js_table(|_| 0.0)), ByteMap::Mul(0.0));
        assert_eq!(ByteMap::of(&js_table(|b| if b == 7.0 { f64::NAN } else { b })), ByteMap::Table);
        // An infinite scale (every byte but 0 is Infinity): 1/s is 0, no
        // divisor to guess (its neighbours once underflowed): looked up.
        assert_eq!(ByteMap::of(&js_table(|b| b * 1e38 * 1e38)), ByteMap::Table);
    }

    #[test]
    fn a_table_with_subnormal_values_is_looked_up_and_kept_bit_for_bit_on_the_pool() {
        // What `.mul(1e-40)` and `.div(1e38)` put in the table: every byte
        // but 0, or the small ones, subnormal. `.div(9.05e-39)` has no
        // subnormal entry (bytes 1 to 3 near 1e38, the rest Infinity), but
        // its divisor is one, which the pool's threads read as zero. Checked
        // on the calling thread (as copy_bytes does), converted on the pool.
        let tables = [
            js_table(|b| b * (1e-40f32 as f64)),
            js_table(|b| b / (1e38f32 as f64)),
            js_table(|b| b / 9.05e-39),
            js_table(|b| b / 9.35e-39),
        ];
        let src: Vec<u8> = (0..=255).collect();
        for table in &tables {
            let map = ByteMap::of(table);
            assert_eq!(map, ByteMap::Table);
            for isa in Isa::available() {
                let got = crate::pool::install(|| {
                    let mut dst = vec![f32::NAN; 256];
                    bytes_to_f32(isa, &src, map, table, &mut dst);
                    Ok(dst)
                })
                .unwrap();
                let differ = got.iter().zip(table).filter(|(g, t)| g.to_bits() != t.to_bits()).count();
                assert_eq!(differ, 0, "{isa:?} {map:?}");
            }
        }
    }

    #[test]
    fn every_isa_gives_the_table_bit_for_bit_at_awkward_lengths() {
        let tables =
            [js_table(|b| b / 255.0), js_table(|b| b * -0.25), js_table(|b| b / 3.0), js_table(|b| (b - 9.0).sqrt())];
        for table in &tables {
            let map = ByteMap::of(table);
            for len in [0, 1, 7, 17, 129, 257, 1000] {
                let src: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
                let want: Vec<u32> = src.iter().map(|&b| table[b as usize].to_bits()).collect();
                for isa in Isa::available() {
                    let mut dst = vec![f32::NAN; len];
                    bytes_to_f32(isa, &src, map, table, &mut dst);
                    let got: Vec<u32> = dst.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, want, "{isa:?} {map:?} len {len}");
                }
            }
        }
    }

    /// The scalar kernel divides where `mul_add` would be a call (x86-64
    /// built without FMA) and refines the reciprocal elsewhere. The map is
    /// one `of` never makes (r is not 1/d), so that the two differ.
    #[test]
    fn the_scalar_kernel_divides_where_mul_add_is_a_call() {
        let src: Vec<u8> = (0..=255).collect();
        let (d, r) = (255.0, 1.0 / 128.0);
        let mut dst = vec![f32::NAN; 256];
        bytes_to_f32(Isa::scalar(), &src, ByteMap::Reciprocal { d, r }, &[0.0; 256], &mut dst);
        let fused = cfg!(any(target_arch = "aarch64", target_feature = "fma"));
        let want: Vec<u32> = src
            .iter()
            .map(|&b| if fused { refined_quotient(b as f32, d, r) } else { b as f32 / d }.to_bits())
            .collect();
        assert_eq!(dst.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
        assert_ne!(refined_quotient(255.0, d, r), 1.0, "the two arithmetics should differ");
    }

    /// Divisions by the reciprocal give the table's bits for all 256 bytes on
    /// every ISA, on the pool (which flushes subnormals) and off it, for
    /// divisors from tiny to huge; the rest stay true divisions.
    #[test]
    fn reciprocal_divisions_give_the_quotient_on_and_off_the_pool() {
        let src: Vec<u8> = (0..=255).collect();
        let mut kinds = [0, 0];
        for d in [255.0, 3.0, 7.0, 10.0, 100.0, 127.5, 0.1, 1e-3, 1e-30, 1e20, 1e30, 1e36, 3e38, 65535.0] {
            let table = js_table(|b| b / (d as f32 as f64));
            let map = ByteMap::of(&table);
            match map {
                ByteMap::Reciprocal { .. } => kinds[0] += 1,
                ByteMap::Div(_) | ByteMap::Table => kinds[1] += 1,
                ByteMap::Mul(_) => {}
            }
            for isa in Isa::available() {
                let convert = || {
                    let mut dst = vec![f32::NAN; 256];
                    bytes_to_f32(isa, &src, map, &table, &mut dst);
                    dst
                };
                let pooled = crate::pool::install(|| Ok(convert())).unwrap();
                for got in [convert(), pooled] {
                    let differ = got.iter().zip(&table).filter(|(g, t)| g.to_bits() != t.to_bits()).count();
                    assert_eq!(differ, 0, "d {d} {isa:?} {map:?}");
                }
            }
        }
        assert!(kinds[0] >= 8 && kinds[1] >= 1, "reciprocal, other: {kinds:?}");
    }
}
