//! Trains the seed model shape on synthetic MNIST-sized data, for profilers:
//! profile_fit [threads] [epochs]; PROFILE_BN=1 adds BatchNormalization after the hidden layer,
//! PROFILE_HIDDEN=h sets the hidden width (512), PROFILE_BATCH=b the batch size (128),
//! PROFILE_ROWS=n the rows (60 000), PROFILE_ADAM=1 trains with Adam instead of RMSprop,
//! PROFILE_F32=1 feeds float32 rows instead of bytes scaled by 1/255 (the seed program's MNIST),
//! PROFILE_MIXED=1 trains under mixed_bfloat16 with the kernel the CPU prefers (FERRO_NN_BF16 picks).
//! Built with `--features step-profile`, it also prints the step's budget by phase (core's
//! step_profile.rs), over the epochs after the first (the first converts and warms up) — means,
//! then medians and 90th percentiles.
//! PROFILE_AB=1 turns on A/B steps (core's step_profile.rs: code under test runs version B where
//! `step_profile::variant_b` says so) and adds each version's step times:
//!   cargo run --release -p ferro-nn-bench --features step-profile --example profile_fit 1 4
use ferro_core::inputs::Inputs;
use ferro_core::kernels::bytes::ByteMap;
use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, LayerSpec};
use ferro_core::losses::{Loss, Targets};
use ferro_core::optimizers::{Clip, LearningRate, OptimizerConfig, RmsPropConfig, Rule};
use ferro_core::step_profile::Spread;
use ferro_core::{EpochLogs, FitObserver, FitOptions, Flow, Model, Samples};
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(1);
    let epochs: usize = std::env::args().nth(2).and_then(|v| v.parse().ok()).unwrap_or(3);
    ferro_core::pool::set_num_threads(threads).unwrap();
    ferro_core::step_profile::set_ab(std::env::var("PROFILE_AB").is_ok_and(|v| v == "1"));
    let hidden = std::env::var("PROFILE_HIDDEN").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let mut specs: Vec<LayerSpec> = vec![DenseSpec::new(hidden, Activation::Relu).into()];
    if std::env::var("PROFILE_BN").is_ok_and(|v| v == "1") {
        specs.push(LayerSpec::BatchNormalization(Default::default()));
    }
    specs.push(DenseSpec::new(10, Activation::Softmax).into());
    let mut model = Model::build(784, &specs, 1).unwrap();
    let optimizer = if std::env::var("PROFILE_ADAM").is_ok_and(|v| v == "1") {
        OptimizerConfig {
            name: "Adam".into(),
            rule: Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
            learning_rate: LearningRate::Constant(1e-3),
            weight_decay: None,
            clip: Clip::None,
        }
    } else {
        RmsPropConfig::default().into()
    };
    model.compile(optimizer, Loss::SparseCategoricalCrossentropy).unwrap();
    if std::env::var("PROFILE_MIXED").is_ok_and(|v| v == "1") {
        let kernel = ferro_core::kernels::bf16::Bf16Kernel::preferred();
        println!("mixed_bfloat16 kernel: {kernel:?}");
        model.set_mixed_bfloat16(kernel);
    }
    let n = std::env::var("PROFILE_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(60000);
    let bytes: Vec<u8> = (0..n * 784).map(|i| ((i * 7919) % 256) as u8).collect();
    let table: [f32; 256] = std::array::from_fn(|b| b as f32 / 255.0);
    let floats: Vec<f32> = bytes.iter().map(|&b| table[b as usize]).collect();
    let x = if std::env::var("PROFILE_F32").is_ok_and(|v| v == "1") {
        Inputs::F32(&floats)
    } else {
        Inputs::Bytes { data: &bytes, table: &table, map: ByteMap::of(&table) }
    };
    let y: Vec<i32> = (0..n).map(|i| i % 10).collect();
    let batch = std::env::var("PROFILE_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(128);
    let opts = FitOptions { epochs, batch_size: batch, shuffle: true, seed: 1, initial_epoch: 0 };
    let start = Instant::now();
    ferro_core::pool::install(|| {
        model.fit(
            Samples { x, targets: Targets::Classes(&y), weights: None },
            None,
            &opts,
            &mut AfterFirstEpoch { epochs },
        )
    })
    .unwrap();
    println!("{:.3} s/epoch", start.elapsed().as_secs_f64() / epochs as f64);
    if let Some((steps, phases)) = ferro_core::step_profile::per_step_micros() {
        // A/B steps' phases are timed only when asked for.
        let budget: Vec<String> =
            phases.iter().filter(|(_, us)| *us > 0.0).map(|(p, us)| format!("{} {us:.0}", p.name())).collect();
        println!("µs per step ({steps} steps): {}", budget.join(", "));
    }
    if let Some(spread) = ferro_core::step_profile::per_step_spread() {
        let line = |f: fn(&Spread) -> f64| {
            let timed = spread.iter().filter(|(_, s)| s.p50 > 0.0);
            timed.map(|(p, s)| format!("{} {:.0}", p.name(), f(s))).collect::<Vec<_>>().join(", ")
        };
        println!("  median: {}", line(|s| s.p50));
        println!("  90th percentile: {}", line(|s| s.p90));
    }
}

/// Forgets the first epoch's timings, when there are later ones.
struct AfterFirstEpoch {
    epochs: usize,
}

impl FitObserver for AfterFirstEpoch {
    fn on_epoch_end(&mut self, epoch: usize, _logs: &EpochLogs) -> Flow {
        if epoch == 0 && self.epochs > 1 {
            ferro_core::step_profile::reset();
        }
        Flow::Continue
    }
}
