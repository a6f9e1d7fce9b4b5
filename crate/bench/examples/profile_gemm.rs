//! Runs one GEMM shape in a loop, for profilers: profile_gemm M N K [at] [threads].
use ferro_core::kernels::{gemm, Epilogue, GemmBuffers, Isa};
use ndarray::Array2;
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).take(3).map(|v| v.parse().unwrap()).collect();
    let (m, n, k) = (a[0], a[1], a[2]);
    let at = std::env::args().any(|v| v == "at");
    let threads: usize = std::env::args().nth(5).and_then(|v| v.parse().ok()).unwrap_or(1);
    ferro_core::pool::set_num_threads(threads).unwrap();
    let a_store = if at { Array2::<f32>::ones((k, m)) } else { Array2::<f32>::ones((m, k)) };
    let av = if at { a_store.t() } else { a_store.view() };
    let b = Array2::<f32>::ones((k, n));
    let mut c = Array2::<f32>::zeros((m, n));
    let mut bufs = GemmBuffers::default();
    let iters: usize = std::env::var("ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    if std::env::var("SLEEP").is_ok() {
        ferro_core::pool::install(|| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            Ok(())
        })
        .unwrap();
    }
    let start = Instant::now();
    ferro_core::pool::install(|| {
        for _ in 0..iters {
            gemm(Isa::detect(), av, b.view(), c.view_mut(), Epilogue::None, &mut bufs);
        }
        Ok(())
    })
    .unwrap();
    let t = start.elapsed().as_secs_f64() / iters as f64;
    println!("{:.1} GFLOP/s", 2.0 * (m * n * k) as f64 / t / 1e9);
}
