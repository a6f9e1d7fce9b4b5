//! Times one-row predicts of the seed model inside the core (no Node), to
//! split a predict's latency between compute and the crossing:
//! profile_predict [threads] [rows]
use ferro_core::kernels::Activation;
use ferro_core::layers::DenseSpec;
use ferro_core::Model;
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(1);
    let rows: usize = std::env::args().nth(2).and_then(|v| v.parse().ok()).unwrap_or(1);
    ferro_core::pool::set_num_threads(threads).unwrap();
    let model =
        Model::new(784, &[DenseSpec::new(512, Activation::Relu), DenseSpec::new(10, Activation::Softmax)], 1).unwrap();
    let x: Vec<f32> = (0..rows * 784).map(|i| (i % 255) as f32 / 255.0).collect();
    // Through the pool (a call handed to a pool thread), and on this thread
    // as Node's predictHere runs a call too small to split.
    let timed = |predict: &dyn Fn()| {
        let mut times: Vec<f64> = (0..3000)
            .map(|_| {
                let start = Instant::now();
                predict();
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times
    };
    let times = timed(&|| drop(ferro_core::pool::install(|| model.predict(&x, rows, 32)).unwrap()));
    let here = timed(&|| drop(ferro_core::pool::on_caller(|| model.predict(&x, rows, 32)).unwrap()));
    // The first layer's product alone, and a plain read of its weights.
    let w = ndarray::Array2::from_shape_fn((784, 512), |(i, j)| ((i + j) % 7) as f32);
    let a = ndarray::Array2::from_shape_fn((rows, 784), |(i, j)| ((i + j) % 5) as f32);
    let mut c = ndarray::Array2::zeros((rows, 512));
    let mut bufs = ferro_core::kernels::GemmBuffers::default();
    let isa = ferro_core::kernels::Isa::detect();
    let mut g: Vec<f64> = (0..3000)
        .map(|_| {
            let start = Instant::now();
            ferro_core::kernels::gemm(
                isa,
                a.view(),
                w.view(),
                c.view_mut(),
                ferro_core::kernels::Epilogue::None,
                &mut bufs,
            );
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    g.sort_by(f64::total_cmp);
    let mut r: Vec<f64> = (0..3000)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(w.iter().fold(0f32, |s, &v| s + v));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    r.sort_by(f64::total_cmp);
    println!("gemm {rows}×784×512 alone: p50 {:.1} µs; summing W1 (1.6 MB): p50 {:.1} µs", g[1500], r[1500]);
    for (how, times) in [("through the pool", &times), ("on the caller", &here)] {
        println!(
            "{rows} row(s), {threads} thread(s), {how}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
            times[1500], times[2700], times[2970]
        );
    }
}
