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

/// GFLOP/s of `threads` threads each running the microkernel that computes
/// the seed model's products (`Isa::kernel_for(128)`) on slivers that stay
/// in L1: what its tile of accumulators can do with no cache or memory in
/// the way, the ceiling of every product built on it. Against the FMA peak
/// this tells how far a GEMM's shortfall lies in the tile itself: on the
/// Zen 4 VM the tile ran at about 95% of the peak, on an Intel Xeon VM
/// with two 512-bit FMA pipes at 80–86%, however it was shaped (MR = 6–14,
/// NR = 32; deeper or wider tiles spill L1).
pub fn tile_ceiling_gflops(isa: ferro_core::kernels::Isa, threads: usize) -> f64 {
    use std::time::Instant;
    // 256 steps: a 32-wide B sliver takes 32 KiB, A's 8–12 KiB.
    const DEPTH: usize = 256;
    let kernel = isa.kernel_for(128);
    let (mr, nr) = (kernel.mr(), kernel.nr());
    let calls = (1usize << 31) / (2 * DEPTH * mr * nr);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let run = |_: rayon::BroadcastContext| {
            // Small values: the sums stay normal and finite however many calls.
            let (a, b) = (vec![1e-6f32; DEPTH * mr], vec![1e-6f32; DEPTH * nr]);
            let mut c = vec![0f32; mr * nr];
            for _ in 0..calls {
                kernel.run_into(DEPTH, &a, &b, nr, &mut c, nr, true);
            }
            c[0]
        };
        let sink: f32 = pool.broadcast(run).iter().sum();
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        best = best.max((threads * calls * 2 * DEPTH * mr * nr) as f64 / secs / 1e9);
    }
    best
}
