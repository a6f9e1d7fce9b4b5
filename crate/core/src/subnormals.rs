//! ferro-nn's threads flush subnormal floats to zero, as TensorFlow's and
//! XLA's threads do (so Keras on either backend computes the same way):
//! 1e-39 × 0.5 gives 0 there, and 5e-40 in plain numpy or PyTorch.
//!
//! Why: on Intel CPUs an arithmetic operation that reads or makes a
//! subnormal takes a microcode assist of about a hundred cycles; AMD's
//! Zen pays far less. RMSprop's second moments decay by ρ each step
//! wherever a gradient stays zero (a relu unit that no longer fires, a
//! pixel that is almost always black), and pass through the subnormal
//! range for hundreds of steps on their way to zero. On a 16-core Xeon VM
//! with AMX (Sapphire Rapids class; 2026-11-30, two interleaved pairs per
//! thread count, `ferro-nn-bench steps` medians), flushing took the seed
//! model's step from 3.3–4.0 to 2.2–2.5 ms on 1 thread, 2.4–2.5 to
//! 1.2–1.6 ms on 2, 1.2–1.4 to 0.71–0.78 ms on 4 and 0.67–0.69 to
//! 0.54–0.55 ms on 16; the gradient GEMM, which updates the first kernel in
//! its tiles, went from 2.1–2.3 to 0.8–1.0 ms on 1 thread. On this
//! project's AMD Zen 4 VM the 1-thread step got 5–11 µs faster (three
//! interleaved pairs) and the 2-thread one did not change.
//!
//! Only the pool's own threads are switched for good: JavaScript's thread
//! computes Numbers, which must keep IEEE 754's gradual underflow, so work
//! run there (a one-row predict) switches it for the call only (`flushing`).

/// Sets this thread's floating-point control to treat subnormal inputs as
/// zero and to flush subnormal results to zero (x86-64: MXCSR's DAZ and FTZ
/// bits; arm64: FPCR.FZ, which does both). Elsewhere it does nothing.
pub fn flush_to_zero_here() {
    set_control(control() | FLUSH);
}

/// Runs `f` on this thread as on the pool's (subnormals flushed), then puts
/// the thread's floating-point control back as it was, even if `f` panics:
/// for work done on JavaScript's thread, whose Numbers must keep gradual
/// underflow.
pub fn flushing<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(Control);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_control(self.0);
        }
    }
    let before = control();
    let _restore = Restore(before);
    set_control(before | FLUSH);
    call(f)
}

/// `f` behind a call the compiler may not inline, so that none of its
/// arithmetic is moved across the writes of the control register around it.
#[inline(never)]
fn call<T>(f: impl FnOnce() -> T) -> T {
    f()
}

#[cfg(target_arch = "x86_64")]
type Control = u32;
#[cfg(target_arch = "x86_64")]
const FLUSH: Control = 1 << 15 | 1 << 6; // MXCSR's FTZ and DAZ

#[cfg(target_arch = "aarch64")]
type Control = u64;
#[cfg(target_arch = "aarch64")]
const FLUSH: Control = 1 << 24; // FPCR.FZ

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type Control = u32;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const FLUSH: Control = 0;

/// This thread's floating-point control register.
fn control() -> Control {
    #[allow(unused_mut)]
    let mut value: Control = 0;
    // SAFETY: stmxcsr stores the 32-bit MXCSR at the address, which is
    // `value`'s (SSE2 is baseline on x86-64); FPCR is readable at EL0.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("mrs {}, fpcr", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

/// Loads this thread's floating-point control register.
fn set_control(value: Control) {
    // SAFETY: ldmxcsr loads MXCSR from `value`'s address; FPCR is writable
    // at EL0. Neither asm block is marked as leaving memory alone, so the
    // compiler keeps loads and stores on their side of the switch. Rust's
    // model assumes IEEE 754 arithmetic everywhere, and `_mm_setcsr`'s docs
    // call leaving DAZ changed undefined behaviour: what the compiler folds
    // at build time keeps subnormals, so a value folded there and the same
    // computed here may differ. Nothing in ferro-nn depends on such a value,
    // and TensorFlow and XLA run in this mode; the tests compare computed
    // values only (black_box).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("msr fpcr, {}", in(reg) value, options(nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::flush_to_zero_here;
    use std::hint::black_box;

    const SUBNORMAL: f32 = 1e-39;

    fn products() -> (f32, f32, f32) {
        let half = black_box(0.5f32);
        // A normal input with a subnormal result, a subnormal input, and
        // the same through a vector kernel of the running ISA.
        let mut v = [black_box(SUBNORMAL); 37];
        let g = [0f32; 37];
        let mut w = [1f32; 37];
        let step = crate::kernels::rmsprop::RmsPropStep { lr: 1e-3, rho: 0.9, one_minus_rho: 0.1, epsilon: 1e-7 };
        crate::kernels::rmsprop::rmsprop_plain(crate::kernels::Isa::detect(), &step, &mut w, &g, &mut v);
        (
            black_box(f32::MIN_POSITIVE) * half,
            black_box(SUBNORMAL) + black_box(0.0),
            v.iter().copied().fold(0.0, f32::max),
        )
    }

    #[test]
    fn a_fresh_thread_keeps_gradual_underflow() {
        let (made, read, kept) = std::thread::spawn(products).join().unwrap();
        assert_eq!(made, f32::MIN_POSITIVE / 2.0);
        assert!(made > 0.0 && read == SUBNORMAL && kept > 0.0, "{made} {read} {kept}");
    }

    #[test]
    fn a_flushing_thread_makes_and_reads_subnormals_as_zero() {
        let (made, read, kept) = std::thread::spawn(|| {
            flush_to_zero_here();
            products()
        })
        .join()
        .unwrap();
        assert_eq!((made, read, kept), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_pools_threads_flush_and_the_callers_does_not() {
        let on_pool = crate::pool::install(|| Ok(black_box(f32::MIN_POSITIVE) * black_box(0.5))).unwrap();
        assert_eq!(on_pool, 0.0);
        let here = std::thread::spawn(|| black_box(f32::MIN_POSITIVE) * black_box(0.5)).join().unwrap();
        assert!(here > 0.0);
    }
}
