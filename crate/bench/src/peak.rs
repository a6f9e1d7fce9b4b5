//! The machine's FMA peak: independent FMA chains, enough of them to cover
//! the FMA latency on both pipes, on every thread of the pool at once.

/// # Safety
/// The CPU runs AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_ps(*r, a, b);
        }
    }
    let mut out = [0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for r in acc {
        sum = _mm256_add_ps(sum, r);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

/// The same with 512-bit vectors: on cores with a full-width AVX-512 datapath
/// (Zen 5, Intel server cores) it is twice the AVX2 figure; on Zen 4, which
/// splits each 512-bit FMA in two, the same.
///
/// # Safety
/// The CPU runs AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for r in acc {
        sum = _mm512_add_ps(sum, r);
    }
    _mm512_reduce_add_ps(sum)
}

/// GFLOP/s of `threads` threads each running FMA chains of the widest
/// vectors the CPU has (0 when it lacks AVX2+FMA, and on arm64, whose bench
/// is not run here: no arm64 hardware).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub fn fma_peak_gflops(threads: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        use std::time::Instant;
        let wide = is_x86_feature_detected!("avx512f");
        let lanes = if wide { 16.0 } else { 8.0 };
        let iters = 50_000_000u64;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut best = 0f64;
        for _ in 0..3 {
            let start = Instant::now();
            // SAFETY: AVX2 and FMA, and AVX-512F when `wide`, were detected just above.
            let run = |_: rayon::BroadcastContext| unsafe {
                if wide {
                    fma_chains_512(iters)
                } else {
                    fma_chains(iters)
                }
            };
            let sink: f32 = pool.broadcast(run).iter().sum();
            let secs = start.elapsed().as_secs_f64();
            std::hint::black_box(sink);
            best = best.max((threads as f64) * iters as f64 * 12.0 * lanes * 2.0 / secs / 1e9);
        }
        return best;
    }
    0.0
}
