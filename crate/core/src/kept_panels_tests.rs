//! Training with operands packed ahead of their GEMMs against training
//! without: the first kernel kept packed across steps (written by the
//! optimizer, read by the next forward GEMM), the first kernel updated in
//! the tiles of its gradient GEMM, and each batch packed for the first
//! layer's GEMMs while it is gathered. The same bits — weights and
//! optimizer slots — on any thread count, for any optimizer, whatever a
//! caller writes to the weights between steps, and validation after a stop
//! mid-epoch.

use crate::fit::{FitObserver, FitOptions, Flow, Silent, Step};
use crate::kernels::bf16::Bf16Kernel;
use crate::kernels::Activation;
use crate::layers::{DenseSpec, LayerSpec};
use crate::losses::Loss;
use crate::losses::LossTotals;
use crate::model::{Model, WeightTensor};
use crate::optimizers::{Clip, LearningRate, OptimizerConfig, Rule};
use crate::train::Samples;

/// 37 units: panels with padding columns; 21 inputs: rows across chunks.
fn model(rule: Rule, kept: bool) -> Model {
    let specs = [
        LayerSpec::Dense(DenseSpec::new(37, Activation::Relu)),
        LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
    ];
    let mut m = Model::build(21, &specs, 8).unwrap();
    let config = OptimizerConfig {
        name: "test".into(),
        rule,
        learning_rate: LearningRate::Constant(0.01),
        weight_decay: None,
        clip: Clip::None,
    };
    m.compile(config, Loss::SparseCategoricalCrossentropy).unwrap();
    m.keep_packed_from = if kept { 0 } else { usize::MAX };
    m.tiled_from = usize::MAX;
    m
}

/// A model whose fits update the first kernel in tiles, with these options.
fn tiled(rule: Rule, weight_decay: Option<f64>, clip: Clip) -> Model {
    let mut m = model(rule, false);
    let config =
        OptimizerConfig { name: "test".into(), rule, learning_rate: LearningRate::Constant(0.01), weight_decay, clip };
    m.compile(config, Loss::SparseCategoricalCrossentropy).unwrap();
    m.tiled_from = 1;
    m
}

/// Weights and optimizer slots, as bits.
fn state_bits(m: &mut Model) -> (Vec<u32>, Vec<u32>) {
    let slots = m.optimizer_slots().unwrap().iter().flat_map(|s| s.2.iter().map(|v| v.to_bits())).collect();
    (bits(&m.weights()), slots)
}

fn data() -> (Vec<f32>, Vec<i32>) {
    let x = (0..100 * 21).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
    let y = (0..100).map(|i| i * 7 % 3).collect();
    (x, y)
}

const ALL_RULES: [Rule; 6] = [
    Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false },
    Rule::RmsProp { rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true },
    Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: true },
    Rule::Sgd { momentum: 0.0, nesterov: false },
    Rule::Adagrad { initial_accumulator_value: 0.1, epsilon: 1e-7 },
    Rule::Nadam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
];

const RULES: [Rule; 3] = [
    Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false },
    Rule::RmsProp { rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true },
    Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
];

fn bits(w: &[WeightTensor]) -> Vec<u32> {
    w.iter().flat_map(|t| t.data.iter().map(|v| v.to_bits())).collect()
}

#[test]
fn kept_panels_give_the_plain_steps_bits_on_any_thread_count() {
    let (x, y) = data();
    // 24 rows a batch: the last batch of each epoch has 4.
    let opts = FitOptions { epochs: 3, batch_size: 24, shuffle: true, seed: 3, initial_epoch: 0 };
    for rule in RULES {
        let plain = {
            let mut m = model(rule, false);
            m.fit(Samples::new(&x, &y), None, &opts, &mut Silent).unwrap();
            bits(&m.weights())
        };
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut m = model(rule, true);
            pool.install(|| m.fit(Samples::new(&x, &y), None, &opts, &mut Silent)).unwrap();
            assert!(bits(&m.weights()) == plain, "{rule:?} on {threads} threads");
        }
    }
}

#[test]
fn weights_set_between_steps_are_what_the_next_step_reads() {
    let (x, y) = data();
    let samples = Samples::new(&x, &y);
    let opts = FitOptions { epochs: 2, batch_size: 24, shuffle: false, seed: 0, initial_epoch: 0 };
    let run = |kept: bool| {
        let mut m = model(RULES[0], kept);
        let replacement = model(RULES[2], false).weights();
        fit_setting_weights_after_two_batches(&mut m, samples, &opts, replacement)
    };
    assert!(run(true) == run(false));
}

/// A fit whose caller sets `replacement` as the weights after its second
/// batch; the weights it ends with, as bits.
fn fit_setting_weights_after_two_batches(
    m: &mut Model,
    samples: Samples,
    opts: &FitOptions,
    replacement: Vec<WeightTensor>,
) -> Vec<u32> {
    let mut fit = m.begin_fit(samples, None, opts).unwrap();
    let mut batches = 0;
    while !fit.finished() {
        if let Step::Batch { .. } = fit.advance(m, samples, None, true, &mut Silent).unwrap() {
            batches += 1;
            if batches == 2 {
                m.set_weights(replacement.clone()).unwrap();
            }
        }
    }
    bits(&m.weights())
}

/// Stops after this many batches, as a callback setting stop_training would.
struct StopAfter(usize);

impl FitObserver for StopAfter {
    fn on_batch_end(&mut self, _epoch: usize, batch: usize, _running: &LossTotals) -> Flow {
        if batch + 1 == self.0 {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

#[test]
fn batches_packed_ahead_give_the_same_bits_and_validation() {
    let (x, y) = data();
    let samples = Samples::new(&x, &y);
    // Validation rows as many as a batch: the same shape as the batch
    // packed ahead when the fit stops mid-epoch.
    let val = Samples::new(&x[..24 * 21], &y[..24]);
    let opts = FitOptions { epochs: 2, batch_size: 24, shuffle: true, seed: 5, initial_epoch: 0 };
    let run = |ahead: bool, threads: usize| fit_then_stop(model(RULES[0], false), ahead, threads, samples, val, &opts);
    let plain = run(false, 1);
    for threads in [1, 3] {
        assert!(run(true, threads) == plain, "{threads} threads");
    }
}

/// `m`'s weights, as bits, after a whole fit and one stopped after two
/// batches (packing batches ahead or not, on `threads` threads), with the
/// validation losses of both.
fn fit_then_stop(
    mut m: Model,
    ahead: bool,
    threads: usize,
    samples: Samples,
    val: Samples,
    opts: &FitOptions,
) -> (Vec<u32>, Vec<u64>) {
    m.pack_ahead = ahead;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let full = pool.install(|| m.fit(samples, Some(val), opts, &mut Silent)).unwrap();
    let stopped = pool.install(|| m.fit(samples, Some(val), opts, &mut StopAfter(2))).unwrap();
    let logs = full.epochs.iter().chain(&stopped.epochs).map(|e| e.val.unwrap().loss_sum.to_bits()).collect();
    (bits(&m.weights()), logs)
}

#[test]
fn tiled_updates_give_the_plain_steps_weights_and_slots_on_any_thread_count() {
    let (x, y) = data();
    let samples = Samples::new(&x, &y);
    let val = Samples::new(&x[..30 * 21], &y[..30]);
    let opts = FitOptions { epochs: 3, batch_size: 24, shuffle: true, seed: 3, initial_epoch: 0 };
    for rule in ALL_RULES {
        for (decay, clip) in [(None, Clip::None), (Some(0.05), Clip::Value(0.02))] {
            let fit = |m: &mut Model, threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let r = pool.install(|| m.fit(samples, Some(val), &opts, &mut Silent)).unwrap();
                let logs: Vec<u64> = r.epochs.iter().map(|e| e.val.unwrap().loss_sum.to_bits()).collect();
                (state_bits(m), logs)
            };
            let mut plain = tiled(rule, decay, clip);
            plain.tiled_from = usize::MAX;
            let want = fit(&mut plain, 1);
            for threads in [1, 3] {
                let mut m = tiled(rule, decay, clip);
                assert!(m.tiles_possible() && m.plan.first_grad_in_panels);
                assert!(fit(&mut m, threads) == want, "{rule:?} {decay:?} {clip:?} on {threads} threads");
            }
        }
    }
}

#[test]
fn pausing_after_some_batches_and_not_others_changes_nothing() {
    let (x, y) = data();
    let samples = Samples::new(&x, &y);
    let opts = FitOptions { epochs: 2, batch_size: 24, shuffle: true, seed: 1, initial_epoch: 0 };
    let run = |tiles: bool| {
        let mut m = tiled(ALL_RULES[2], None, Clip::None);
        m.tiled_from = if tiles { 1 } else { usize::MAX };
        let mut fit = m.begin_fit(samples, None, &opts).unwrap();
        let mut calls = 0;
        while !fit.finished() {
            // A batch at a time, then the rest of the epoch in one call.
            calls += 1;
            fit.advance(&mut m, samples, None, calls % 3 == 1, &mut Silent).unwrap();
        }
        state_bits(&mut m)
    };
    assert!(run(true) == run(false));
}

/// Panics after this many batches, as a buggy callback might.
struct PanicAfter(usize);

impl FitObserver for PanicAfter {
    fn on_batch_end(&mut self, _epoch: usize, batch: usize, _running: &LossTotals) -> Flow {
        assert!(batch + 1 < self.0, "deliberate panic after batch {batch}");
        Flow::Continue
    }
}

#[test]
fn a_panic_mid_epoch_leaves_the_weights_and_slots_of_the_last_step() {
    let (x, y) = data();
    let samples = Samples::new(&x, &y);
    let opts = FitOptions { epochs: 1, batch_size: 24, shuffle: true, seed: 2, initial_epoch: 0 };
    let mut stopped = tiled(ALL_RULES[0], None, Clip::None);
    stopped.tiled_from = usize::MAX;
    stopped.fit(samples, None, &opts, &mut StopAfter(3)).unwrap();
    let mut panicked = tiled(ALL_RULES[0], None, Clip::None);
    let fit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        panicked.fit(samples, None, &opts, &mut PanicAfter(3)).unwrap();
    }));
    assert!(fit.is_err(), "the observer panicked");
    assert!(state_bits(&mut panicked) == state_bits(&mut stopped));
}

/// Under mixed_bfloat16 the optimizer writes the first kernel's bfloat16
/// words, with every kernel this CPU runs (70 inputs: 35 pairs, on AMX
/// padded to 48; 300 units: a partial sliver and, on AMX, a padding one,
/// and the optimizer's 16384-weight chunks end
/// mid-row and mid-sliver) and the next forward product reads them: the
/// same bits as converting the kernel anew each step, on any thread count,
/// also when a caller sets the weights between steps.
#[test]
fn kept_bfloat16_words_give_the_converting_steps_bits() {
    let kernels = [Some(Bf16Kernel::Scalar), crate::kernels::bf16::simd_under_test(), Bf16Kernel::detect_amx()];
    for kernel in kernels.into_iter().flatten() {
        kept_words_give_the_converting_steps_bits(kernel);
    }
}

/// 70 inputs and 300 units: deep and wide enough for the bfloat16 kernels
/// (gemm.rs, `route`); optimizer chunks end mid-row and mid-sliver.
fn mixed_model(kernel: Bf16Kernel) -> Model {
    let specs = [
        LayerSpec::Dense(DenseSpec::new(300, Activation::Relu)),
        LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
    ];
    let mut m = Model::build(70, &specs, 8).unwrap();
    let config = OptimizerConfig {
        name: "test".into(),
        rule: RULES[0],
        learning_rate: LearningRate::Constant(0.01),
        weight_decay: None,
        clip: Clip::None,
    };
    m.compile(config, Loss::SparseCategoricalCrossentropy).unwrap();
    m.set_mixed_bfloat16(Some(kernel));
    m
}

/// `rows` samples of 70 inputs.
fn mixed_data(rows: usize) -> (Vec<f32>, Vec<i32>) {
    let x = (0..rows * 70).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
    let y = (0..rows as i32).map(|i| i * 7 % 3).collect();
    (x, y)
}

fn kept_words_give_the_converting_steps_bits(kernel: Bf16Kernel) {
    let (x, y) = mixed_data(100);
    let samples = Samples::new(&x, &y);
    let opts = FitOptions { epochs: 3, batch_size: 24, shuffle: true, seed: 3, initial_epoch: 0 };
    let build = |keep: bool| {
        let mut m = mixed_model(kernel);
        m.keep_bf16 = keep;
        m
    };
    let fit = |keep: bool, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut m = build(keep);
        pool.install(|| m.fit(samples, None, &opts, &mut Silent)).unwrap();
        bits(&m.weights())
    };
    let converting = fit(false, 1);
    assert!(fit(true, 1) == converting, "{kernel:?}: 1 thread");
    assert!(fit(true, 3) == converting, "{kernel:?}: 3 threads");
    let set_between = |keep: bool| {
        let mut m = build(keep);
        let replacement = build(false).weights().into_iter().map(|mut w| {
            w.data.iter_mut().for_each(|v| *v *= 0.5);
            w
        });
        fit_setting_weights_after_two_batches(&mut m, samples, &opts, replacement.collect())
    };
    assert!(set_between(true) == set_between(false), "{kernel:?}: weights set between steps");
}

/// Under mixed_bfloat16, each batch's xᵀ packed ahead in the bfloat16
/// kernel's layout (`PackedPairs`) gives the bits of packing it in the
/// weight gradient's product, on any thread count, with validation after
/// a stop mid-epoch (whose rows overwrite the batch). Batches of 64: that
/// product is deep enough for the bfloat16 kernels, but for the last batch
/// of each epoch (8 rows).
#[test]
fn bfloat16_batches_packed_ahead_give_the_same_bits_and_validation() {
    let kernels = [Some(Bf16Kernel::Scalar), crate::kernels::bf16::simd_under_test(), Bf16Kernel::detect_amx()];
    let (x, y) = mixed_data(200);
    let samples = Samples::new(&x, &y);
    let val = Samples::new(&x[..64 * 70], &y[..64]);
    let opts = FitOptions { epochs: 2, batch_size: 64, shuffle: true, seed: 5, initial_epoch: 0 };
    for kernel in kernels.into_iter().flatten() {
        let run = |ahead: bool, threads: usize| fit_then_stop(mixed_model(kernel), ahead, threads, samples, val, &opts);
        let plain = run(false, 1);
        for threads in [1, 3] {
            assert!(run(true, threads) == plain, "{kernel:?}: {threads} threads");
        }
    }
}
