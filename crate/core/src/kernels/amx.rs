//! AMX-BF16 blocks for the bfloat16 products (Intel Xeon from Sapphire
//! Rapids on): one TDPBF16PS multiplies a 16×32 bfloat16 tile by a 32×16
//! one into 16×16 float32 sums, 8192 multiply-adds per instruction where
//! VDPBF16PS does 32. Intel runs VDPBF16PS at a quarter of its FMA's
//! instruction rate, half its multiply-adds per second (see
//! `Bf16Kernel::preferred`), so on Intel mixed_bfloat16 pays only here.
//!
//! Only this file holds AMX code: the permission request and one 32×32
//! block of C, written in inline assembly (Rust's AMX intrinsics are not
//! stable). Layouts, in packed words of two bfloat16s (element 2p low):
//! A row-major, `a[i·kp + p]`; B in 16-column slivers, `b[(s·kp + p)·16 + j]`
//! (the tile's "VNNI" rows); `kp` a multiple of [`KP_STEP`], zero pairs past k.

/// Rows and columns of a block of C: 2 × 2 tiles of 16 × 16.
pub const BLOCK: usize = 32;
/// Columns of a B sliver, and rows of a tile.
pub const TILE: usize = 16;
/// k-pairs a tile holds (64 bytes a row): packed k is padded to a multiple.
pub const KP_STEP: usize = 16;

/// k-pairs of a packed operand over `k`: whole tiles, at least one (the
/// packers and `KeptBf16` must agree, and `block` needs kp ≥ KP_STEP).
pub fn padded_pairs(k: usize) -> usize {
    k.div_ceil(2).next_multiple_of(KP_STEP).max(KP_STEP)
}

/// Whether this process may run AMX-BF16: the CPU reports AMX-TILE and
/// AMX-BF16, the OS enables their state in XCR0, and Linux granted the
/// process the tile data (ARCH_REQ_XCOMP_PERM, asked once; it fails, and
/// AMX stays off, where a thread's signal stack is too small for the state).
pub fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(request)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY (the three reads): every x86-64 CPU has CPUID, and leaf 7 is
    // read only where leaf 0 reports it (newer compilers declare these safe).
    #[allow(unused_unsafe)]
    let (max_leaf, osxsave) = unsafe { (__cpuid(0).eax, __cpuid(1).ecx >> 27 & 1 == 1) };
    if max_leaf < 7 {
        return false;
    }
    #[allow(unused_unsafe)]
    let leaf7 = unsafe { __cpuid_count(7, 0) };
    // CPUID.7:EDX bits 22 and 24; CPUID.1:ECX.OSXSAVE: XGETBV is there to ask.
    let (amx_bf16, amx_tile) = (leaf7.edx >> 22 & 1 == 1, leaf7.edx >> 24 & 1 == 1);
    if !(amx_bf16 && amx_tile && osxsave) {
        return false;
    }
    // SAFETY: OSXSAVE is set, so XGETBV runs; XCR0 bits 17 and 18 are the
    // tile configuration and data.
    let xcr0 = unsafe { xgetbv0() };
    if xcr0 >> 17 & 3 != 3 {
        return false;
    }
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    const SYS_ARCH_PRCTL: i64 = 158;
    let ret: i64;
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM, 18) only changes which
    // XSAVE state the kernel lets this process use; it reads no memory.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request() -> bool {
    false
}

/// XCR0, read with XGETBV.
///
/// # Safety
/// CPUID reports OSXSAVE.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    std::arch::x86_64::_xgetbv(0)
}

/// The tile configuration (palette 1): eight tiles of 16 rows of 64 bytes.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

#[cfg(target_arch = "x86_64")]
const CONFIG: Config = Config {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// One 32×32 block of C over `kp` k-pairs, as four 16×16 tiles in `out`
/// (tile t = 2·(row half) + column half, each row-major). Each sum runs over
/// k in order, so a block's bits do not depend on which thread computes it.
///
/// # Safety
/// [`enabled`] returned true; `kp` is a positive multiple of [`KP_STEP`];
/// `a` holds 32 rows of `kp` words (row-major) and `b` two slivers of
/// `kp · 16` words, one after the other.
#[cfg(target_arch = "x86_64")]
pub unsafe fn block(kp: usize, a: *const u32, b: *const u32, out: &mut [f32; 4 * TILE * TILE]) {
    // kp = 0 would run the loop below 2^64 times.
    assert!(kp >= KP_STEP && kp.is_multiple_of(KP_STEP), "amx block: kp {kp}");
    let a_stride = kp * 4;
    // SAFETY: the caller vouches for AMX and the lengths; every tile load
    // reads 16 rows of 64 bytes inside `a` (stride kp·4 bytes, 16 words
    // further each step) or `b` (stride 64, 1 KiB further each step), and
    // the stores write the 4 KiB of `out`. TILERELEASE leaves the tile
    // state clean for whatever runs on this thread next.
    unsafe {
        std::arch::asm!(
            "ldtilecfg [{cfg}]",
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "2:",
            "tileloadd tmm4, [{a} + {sa}*1]",
            "tileloadd tmm5, [{a2} + {sa}*1]",
            "tileloadd tmm6, [{b} + {sb}*1]",
            "tileloadd tmm7, [{b2} + {sb}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a}, 64",
            "add {a2}, 64",
            "add {b}, 1024",
            "add {b2}, 1024",
            "dec {steps}",
            "jnz 2b",
            "tilestored [{out} + {sb}*1], tmm0",
            "add {out}, 1024",
            "tilestored [{out} + {sb}*1], tmm1",
            "add {out}, 1024",
            "tilestored [{out} + {sb}*1], tmm2",
            "add {out}, 1024",
            "tilestored [{out} + {sb}*1], tmm3",
            "tilerelease",
            cfg = in(reg) &CONFIG,
            a = inout(reg) a => _,
            a2 = inout(reg) a.add(TILE * kp) => _,
            b = inout(reg) b => _,
            b2 = inout(reg) b.add(kp * TILE) => _,
            sa = in(reg) a_stride,
            sb = in(reg) 64usize,
            steps = inout(reg) kp / KP_STEP => _,
            out = inout(reg) out.as_mut_ptr() => _,
            options(nostack)
        );
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn block(_: usize, _: *const u32, _: *const u32, _: &mut [f32; 4 * TILE * TILE]) {
    unreachable!("AMX is detected only on x86-64")
}
