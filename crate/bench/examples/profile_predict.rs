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
    let mut times: Vec<f64> = (0..3000)
        .map(|_| {
            let start = Instant::now();
            ferro_core::pool::install(|| model.predict(&x, rows, 32)).unwrap();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{rows} row(s), {threads} thread(s): p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs", times[1500], times[2700], times[2970]);
}
