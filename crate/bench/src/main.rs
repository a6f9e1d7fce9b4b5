//! `ferro-nn-bench kernels|sweep --threads N`: prints one JSON object.
//!
//! kernels: GFLOP/s (2MNK/t, median) of every GEMM of an MNIST training step
//!          for ferro-nn, ndarray's dot (matrixmultiply) and OpenBLAS, plus
//!          the FMA peak of N threads.
//! sweep:   GFLOP/s of the whole training step of Dense(h, relu) → Dense(10,
//!          softmax) on 784 inputs, over hidden widths and batch sizes.
//! steps:   the seed model's steps, one by one, in epochs 2–4 of a fit on
//!          MNIST-sized bytes: median, 90th percentile and mean.

mod openblas;
mod peak;

use ferro_core::inputs::Inputs;
use ferro_core::kernels::bf16::{gemm_bf16, Bf16Buffers, Bf16Kernel};
use ferro_core::kernels::bytes::ByteMap;
use ferro_core::kernels::{gemm, Epilogue, GemmBuffers, Isa};
use ferro_core::layers::{BatchNormSpec, DenseSpec, DropoutSpec, LayerSpec};
use ferro_core::losses::{Loss, LossTotals, Targets};
use ferro_core::optimizers::{Clip, LearningRate, OptimizerConfig, RmsPropConfig, Rule};
use ferro_core::step_profile::Spread;
use ferro_core::{kernels::Activation, FitObserver, FitOptions, FitRun, Flow, Model, Samples, Silent};
use ndarray::{linalg::general_mat_mul, Array2, ArrayView2};
use std::time::Instant;

/// Median seconds of one call of each function, over `rounds` × `samples`
/// timings of `reps` calls, after 200 ms of warm-up each (an idle core of
/// this VM takes tens of milliseconds to reach full speed again).
///
/// With one thread the functions take turns sample by sample, so drift in
/// the machine's speed touches them alike. With more, OpenBLAS and
/// matrixmultiply leave worker threads spinning for a while after a call,
/// stealing cores from whoever runs next: then each function runs its
/// samples as a block after a pause, and rounds repeat the blocks.
fn race(fs: &mut [&mut dyn FnMut()], reps: usize, rounds: usize, samples: usize, threads: usize) -> Vec<f64> {
    let mut times = vec![Vec::with_capacity(rounds * samples); fs.len()];
    let warm_up = |f: &mut dyn FnMut()| {
        let warm = Instant::now();
        while warm.elapsed().as_millis() < 200 {
            f();
        }
    };
    let sample = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..reps {
            f();
        }
        start.elapsed().as_secs_f64() / reps as f64
    };
    if threads == 1 {
        fs.iter_mut().for_each(|f| warm_up(*f));
        for _ in 0..rounds * samples {
            for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
                t.push(sample(*f));
            }
        }
    } else {
        for _ in 0..rounds {
            for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
                std::thread::sleep(std::time::Duration::from_millis(150));
                warm_up(*f);
                (0..samples).for_each(|_| t.push(sample(*f)));
            }
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect()
}

fn filled(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| (((i * 131 + j * 71 + seed) % 199) as f32 - 99.0) / 99.0)
}

struct Shape {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    /// A is stored transposed (k×m) and read through a transposed view.
    a_t: bool,
    b_t: bool,
}

const B: usize = 128;
const SHAPES: [Shape; 5] = [
    Shape { name: "X·W1 (128×784·784×512)", m: B, n: 512, k: 784, a_t: false, b_t: false },
    Shape { name: "H·W2 (128×512·512×10)", m: B, n: 10, k: 512, a_t: false, b_t: false },
    Shape { name: "Hᵀ·dY (512×128·128×10)", m: 512, n: 10, k: B, a_t: true, b_t: false },
    Shape { name: "dY·W2ᵀ (128×10·10×512)", m: B, n: 512, k: 10, a_t: false, b_t: true },
    Shape { name: "Xᵀ·dH (784×128·128×512)", m: 784, n: 512, k: B, a_t: true, b_t: false },
];

fn kernels(threads: usize) -> String {
    ferro_core::pool::set_num_threads(threads).expect("threads");
    let blas = openblas::OpenBlas::open();
    if let Ok(b) = &blas {
        b.set_threads(threads);
    }
    let isa = Isa::detect();
    // bfloat16 products, float32 sums (mixed_bfloat16): the kernel it would take
    // (Bf16Kernel::preferred: AMX, or VDPBF16PS on AMD), else VDPBF16PS if the CPU has it.
    let bf16_kernel = Bf16Kernel::preferred().or(Bf16Kernel::detect());
    let mut rows = Vec::new();
    for s in &SHAPES {
        let a_store = if s.a_t { filled(s.k, s.m, 1) } else { filled(s.m, s.k, 1) };
        let b_store = if s.b_t { filled(s.n, s.k, 2) } else { filled(s.k, s.n, 2) };
        let a: ArrayView2<f32> = if s.a_t { a_store.t() } else { a_store.view() };
        let b: ArrayView2<f32> = if s.b_t { b_store.t() } else { b_store.view() };
        let (mut c1, mut c2, mut c3) =
            (Array2::<f32>::zeros((s.m, s.n)), Array2::zeros((s.m, s.n)), Array2::zeros((s.m, s.n)));
        let flops = 2.0 * (s.m * s.n * s.k) as f64;
        let reps = ((2e7 / flops) as usize).clamp(3, 2000);
        let mut bufs = GemmBuffers::default();
        // ferro-nn runs inside its pool, as it does during fit.
        let mut ferro = || gemm(isa, a, b, c1.view_mut(), Epilogue::None, &mut bufs);
        let (mut c4, mut bf16_bufs) = (Array2::<f32>::zeros((s.m, s.n)), Bf16Buffers::default());
        let mut bf16 = || {
            if let Some(kernel) = bf16_kernel {
                gemm_bf16(kernel, a, b, c4.view_mut(), Isa::scalar(), &Epilogue::None, &mut bf16_bufs, None)
            }
        };
        let mut nd = || general_mat_mul(1.0, &a, &b, 0.0, &mut c2);
        let (ta, lda) = if s.a_t { (openblas::TRANS, s.m) } else { (openblas::NO_TRANS, s.k) };
        let (tb, ldb) = if s.b_t { (openblas::TRANS, s.k) } else { (openblas::NO_TRANS, s.n) };
        let (ad, bd) = (a_store.as_slice().unwrap(), b_store.as_slice().unwrap());
        let cd = c3.as_slice_mut().unwrap();
        let mut ob = || {
            if let Ok(blas) = &blas {
                blas.sgemm(ta, tb, s.m, s.n, s.k, ad, lda, bd, ldb, cd)
            }
        };
        let t = ferro_core::pool::install(|| {
            Ok(race(&mut [&mut ferro, &mut nd, &mut ob, &mut bf16], reps, 5, 11, threads))
        })
        .unwrap();
        let (ferro, nd, ob, bf) = (t[0], t[1], blas.is_ok().then_some(t[2]), bf16_kernel.is_some().then_some(t[3]));
        let g = |t: f64| flops / t / 1e9;
        rows.push(format!(
            "{{\"shape\":\"{}\",\"m\":{},\"n\":{},\"k\":{},\"ferro\":{:.2},\"ndarray\":{:.2},\"openblas\":{},\"bf16\":{}}}",
            s.name,
            s.m,
            s.n,
            s.k,
            g(ferro),
            g(nd),
            ob.map_or("null".into(), |t| format!("{:.2}", g(t))),
            bf.map_or("null".into(), |t| format!("{:.2}", g(t)))
        ));
    }
    // What actually ran: the build and its thread count after pinning (an
    // OpenMP build left unpinned ran on every core in its "1 thread" column).
    let json = |v: String| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "{{\"threads\":{threads},\"isa\":\"{}\",\"fma_peak\":{:.2},\"tile_ceiling\":{:.2},\"tile\":\"{}\",\"openblas_core\":{},\"openblas_build\":{},\"openblas_threads\":{},\"shapes\":[{}]}}",
        isa.name(),
        peak::fma_peak_gflops(threads),
        peak::tile_ceiling_gflops(isa, threads),
        {
            let tile = isa.kernel_for(128);
            format!("{}×{}", tile.mr(), tile.nr())
        },
        match &blas {
            Ok(b) => json(b.core_name()),
            Err(e) => format!("null,\"openblas_error\":{}", json(e.clone())),
        },
        blas.as_ref().map_or("null".into(), |b| json(b.build())),
        blas.as_ref().ok().and_then(|b| b.threads()).map_or("null".into(), |n| n.to_string()),
        rows.join(",")
    )
}

/// The fewest steps in a sweep's epoch. A fit's epochs run hundreds (MNIST:
/// 469); with a handful, each step also carried a large share of what
/// happens once per epoch (the first batch's gather, which nothing
/// overlaps, and from issue 13 on, moving the first kernel into the tile
/// layout its tiled steps need — which a fit only does for 32 steps or more).
const MIN_EPOCH_STEPS: usize = 32;

/// Epochs a sweep fit runs: the first (warm-up) is not timed, and of the
/// other twelve each fit runs first in a pair six times (`paired`).
const SWEEP_EPOCHS: usize = 13;

/// One fit of a sweep, advanced an epoch at a time so that two fits can
/// take turns (`paired`).
struct SweepFit {
    model: Model,
    run: FitRun,
    x: Vec<f32>,
    y: Vec<i32>,
    steps: usize,
    /// FLOPs of one step (`step_flops`).
    flops: f64,
    epochs: Vec<f64>,
}

impl SweepFit {
    fn new(specs: &[LayerSpec], optimizer: OptimizerConfig, batch: usize, steps: usize) -> Self {
        let mut model = Model::build(784, specs, 1).unwrap();
        model.compile(optimizer, Loss::SparseCategoricalCrossentropy).unwrap();
        let n = batch * steps;
        let x: Vec<f32> = (0..n * 784).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
        let y: Vec<i32> = (0..n).map(|i| (i % 10) as i32).collect();
        let opts = FitOptions { epochs: SWEEP_EPOCHS, batch_size: batch, shuffle: true, seed: 1, initial_epoch: 0 };
        let run = model.begin_fit(Samples::new(&x, &y), None, &opts).unwrap();
        SweepFit { model, run, x, y, steps, flops: step_flops(specs, batch), epochs: Vec::new() }
    }

    /// Runs and times the next epoch.
    fn epoch(&mut self) {
        let SweepFit { model, run, x, y, .. } = self;
        let start = Instant::now();
        ferro_core::pool::install(|| run.advance(model, Samples::new(x, y), None, false, &mut Silent)).unwrap();
        self.epochs.push(start.elapsed().as_secs_f64());
    }

    /// GFLOP/s of each timed epoch (all but the first).
    fn gflops(&self) -> Vec<f64> {
        self.epochs[1..].iter().map(|t| self.flops * self.steps as f64 / t / 1e9).collect()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// `a`'s median GFLOP/s, and the median over epochs of its GFLOP/s over
/// `b`'s in the same pair: the two fits take turns epoch by epoch (ABBA),
/// so that this VM's swings in speed, 1.4× within seconds, touch both
/// alike. Measured apart, the seed-model row and its identical twin came
/// out at 89 and 127 GFLOP/s in one sweep.
fn paired(a: &mut SweepFit, b: &mut SweepFit) -> (f64, f64) {
    for e in 0..SWEEP_EPOCHS {
        if e % 2 == 0 {
            a.epoch();
            b.epoch();
        } else {
            b.epoch();
            a.epoch();
        }
    }
    let (ga, gb) = (a.gflops(), b.gflops());
    let ratios = ga.iter().zip(&gb).map(|(x, y)| x / y).collect();
    (median(ga), median(ratios))
}

/// Dense(h, relu) × `depth` → Dense(10, softmax), with `extra` after each hidden Dense.
fn stack(hidden: usize, depth: usize, extra: Option<LayerSpec>) -> Vec<LayerSpec> {
    let mut specs = Vec::new();
    for _ in 0..depth {
        specs.push(DenseSpec::new(hidden, Activation::Relu).into());
        specs.extend(extra.clone());
    }
    specs.push(DenseSpec::new(10, Activation::Softmax).into());
    specs
}

/// FLOPs per training step of the Dense layers (2 per multiply-add): the
/// forward product and the weight gradient of each, and the input gradient
/// of all but the first (Dropout and BatchNormalization are not counted).
fn step_flops(specs: &[LayerSpec], batch: usize) -> f64 {
    let mut dims = vec![784usize];
    dims.extend(specs.iter().filter_map(|s| match s {
        LayerSpec::Dense(d) => Some(d.units),
        _ => None,
    }));
    let products: Vec<f64> = dims.windows(2).map(|w| 2.0 * (batch * w[0] * w[1]) as f64).collect();
    2.0 * products.iter().sum::<f64>() + products[1..].iter().sum::<f64>()
}

fn sweep(threads: usize) -> String {
    ferro_core::pool::set_num_threads(threads).expect("threads");
    let adam = OptimizerConfig {
        name: "Adam".into(),
        rule: Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
        learning_rate: LearningRate::Constant(1e-3),
        weight_decay: None,
        clip: Clip::None,
    };
    let rmsprop = || OptimizerConfig::from(RmsPropConfig::default());
    let mut rows = Vec::new();
    let steps_for = |flops: f64| ((4e9 / flops) as usize).clamp(MIN_EPOCH_STEPS, 400);
    let seed_specs = stack(512, 1, None);
    let seed_flops = step_flops(&seed_specs, 128);
    // Each row against the seed model fitted beside it: the growth target
    // is a ratio, and only a paired one is steady on this VM. The seed's
    // epochs last about as long as the row's, so each pair spans one
    // stretch of the host's time.
    let mut run = |kind: &str, h: usize, b: usize, specs: Vec<LayerSpec>, optimizer: OptimizerConfig| {
        let flops = step_flops(&specs, b);
        let steps = steps_for(flops);
        let mut row = SweepFit::new(&specs, optimizer, b, steps);
        let seed_steps = ((flops * steps as f64 / seed_flops).ceil() as usize).max(MIN_EPOCH_STEPS);
        let mut seed = SweepFit::new(&seed_specs, rmsprop(), 128, seed_steps);
        let (gflops, vs_seed) = paired(&mut row, &mut seed);
        rows.push(format!(
            "{{\"sweep\":\"{kind}\",\"hidden\":{h},\"batch\":{b},\"step_ms\":{:.4},\"gflops\":{gflops:.2},\"vs_seed\":{vs_seed:.3}}}",
            flops / gflops / 1e6
        ));
    };
    for h in [128, 256, 512, 1024, 2048, 4096] {
        run("hidden", h, 128, stack(h, 1, None), rmsprop());
    }
    for b in [32, 64, 128, 256, 512, 1024] {
        run("batch", 512, b, stack(512, 1, None), rmsprop());
    }
    // The toolkit beyond the seed model, at its width and batch.
    run("3 hidden layers", 512, 128, stack(512, 3, None), rmsprop());
    let dropout = LayerSpec::Dropout(DropoutSpec { rate: 0.5, seed: Some(1) });
    run("Dropout(0.5)", 512, 128, stack(512, 1, Some(dropout)), rmsprop());
    let batch_norm = LayerSpec::BatchNormalization(BatchNormSpec::default());
    run("BatchNormalization", 512, 128, stack(512, 1, Some(batch_norm)), rmsprop());
    run("Adam", 512, 128, stack(512, 1, None), adam);
    format!("{{\"threads\":{threads},\"rows\":[{}]}}", rows.join(","))
}

/// Records when each batch ends.
struct BatchClock(Vec<Instant>);
impl FitObserver for BatchClock {
    fn on_batch_end(&mut self, _: usize, _: usize, _: &LossTotals) -> Flow {
        self.0.push(Instant::now());
        Flow::Continue
    }
}

/// The seed model's steps one by one: a fit of 4 epochs on 60 000
/// synthetic rows of bytes scaled by 1/255, as examples/mnist.ts passes
/// MNIST (a lazy asType('float32').div(255)). An epoch's time is the sum of
/// its steps; their median leaves out the steps that other work on the
/// machine stalled, which with several threads stall a join: the two tell
/// the code's scaling from the machine's noise.
fn steps(threads: usize) -> String {
    const EPOCHS: usize = 4;
    const ROWS: usize = 60000;
    ferro_core::pool::set_num_threads(threads).expect("threads");
    let mut model = Model::build(784, &stack(512, 1, None), 1).unwrap();
    model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let bytes: Vec<u8> = (0..ROWS * 784).map(|i| ((i * 7919) % 256) as u8).collect();
    let table: [f32; 256] = std::array::from_fn(|b| b as f32 / 255.0);
    let x = Inputs::Bytes { data: &bytes, table: &table, map: ByteMap::of(&table) };
    let y: Vec<i32> = (0..ROWS).map(|i| (i % 10) as i32).collect();
    let opts = FitOptions { epochs: EPOCHS, batch_size: B, shuffle: true, seed: 1, initial_epoch: 0 };
    let per_epoch = ROWS.div_ceil(B);
    let mut clock = BatchClock(Vec::with_capacity(EPOCHS * per_epoch));
    let samples = Samples { x, targets: Targets::Classes(&y), weights: None };
    ferro_core::pool::install(|| model.fit(samples, None, &opts, &mut clock)).unwrap();
    // Each step of epochs 2..: from the end of the batch before it.
    let mut nanos: Vec<u32> =
        clock.0[per_epoch - 1..].windows(2).map(|w| (w[1] - w[0]).as_nanos().min(u32::MAX as u128) as u32).collect();
    let mean = nanos.iter().map(|&t| t as f64).sum::<f64>() / nanos.len() as f64 / 1e3;
    let steps = nanos.len();
    let spread = Spread::of(&mut nanos);
    format!(
        "{{\"threads\":{threads},\"steps\":{steps},\"median_us\":{:.1},\"p90_us\":{:.1},\"mean_us\":{mean:.1}}}",
        spread.p50, spread.p90
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    match args.get(1).map(String::as_str) {
        Some("kernels") => println!("{}", kernels(threads)),
        Some("sweep") => println!("{}", sweep(threads)),
        Some("steps") => println!("{}", steps(threads)),
        _ => {
            eprintln!("usage: ferro-nn-bench kernels|sweep|steps --threads N");
            std::process::exit(2);
        }
    }
}
