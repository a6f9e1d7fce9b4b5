//! The whole toolkit under arbitrary settings: every layer kind, every
//! optimizer rule with its float64 options, learning-rate schedules, weight
//! decay, clipping, every loss and its options, metrics, mixed precision,
//! ISAs and optimizer state, then sequences of calls on small data (with
//! NaN and infinities among the values). Every call returns Ok or a coded
//! error that is not an internal one; none panics. model_ops.rs keeps the
//! seed model's calls; this one covers the settings around them.
#![no_main]
use arbitrary::Arbitrary;
use ferro_core::kernels::bf16::Bf16Kernel;
use ferro_core::kernels::{Activation, Isa};
use ferro_core::layers::{BatchNormSpec, DenseSpec, DropoutSpec, LayerSpec, Regularizer};
use ferro_core::losses::{Loss, LossOptions};
use ferro_core::optimizers::{Clip, LearningRate, OptimizerConfig, Rule};
use ferro_core::{Compilation, FitOptions, Model, Samples, Silent};
use ferro_nn_fuzz::ok_or_coded;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Layer {
    Dense { units: u8, activation: u8, use_bias: bool, l1: f64, l2: f64 },
    Activation(u8),
    Dropout { rate: f64, seed: Option<u64> },
    BatchNorm { momentum: f64, epsilon: f64, center: bool, scale: bool },
}

#[derive(Arbitrary, Debug)]
enum Schedule {
    Constant(f64),
    Exponential { initial: f64, steps: f64, rate: f64, staircase: bool },
    InverseTime { initial: f64, steps: f64, rate: f64, staircase: bool },
    Piecewise { boundaries: Vec<f64>, values: Vec<f64> },
    Cosine { initial: f64, steps: f64, alpha: f64, warmup_target: Option<f64>, warmup_steps: f64 },
}

#[derive(Arbitrary, Debug)]
struct Optimizer {
    rule: u8,
    a: f64,
    b: f64,
    epsilon: f64,
    flag: bool,
    schedule: Schedule,
    weight_decay: Option<f64>,
    clip: (u8, f64),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Compile { optimizer: Optimizer, loss: u8 },
    LossOptions { from_logits: bool, label_smoothing: f32 },
    Metrics(Vec<u8>),
    Mixed(bool),
    Scalar(bool),
    Fit { rows: u8, extra: i8, batch: u8, epochs: u8, shuffle: bool, val: bool, poison: u8, weights: Option<f32> },
    Evaluate { rows: u8, extra: i8, batch: u8, poison: u8 },
    Predict { rows: u8, extra: i8, batch: u8, poison: u8 },
    TrainOnBatch { rows: u8, poison: u8 },
    Gradients { rows: u8 },
    Slots { iterations: u64, u_product: f32, index: u8, name: u8, len: u8 },
}

#[derive(Arbitrary, Debug)]
struct Case {
    input_dim: u8,
    layers: Vec<Layer>,
    ops: Vec<Op>,
}

/// `n` values, with a NaN, an infinity or a huge value every `poison`-th
/// one when `poison` says so.
fn values(n: i64, poison: u8) -> Vec<f32> {
    let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38];
    (0..n.max(0) as usize)
        .map(|i| match poison {
            1..=16 if i % poison as usize == 0 => bad[i % 4],
            _ => (i % 7) as f32 * 0.5 - 1.5,
        })
        .collect()
}

fn activation(i: u8) -> Activation {
    Activation::parse(Activation::NAMES[i as usize % Activation::NAMES.len()]).unwrap()
}

const LOSSES: [Loss; 6] = [
    Loss::SparseCategoricalCrossentropy,
    Loss::CategoricalCrossentropy,
    Loss::BinaryCrossentropy,
    Loss::MeanSquaredError,
    Loss::MeanAbsoluteError,
    Loss::Huber,
];

/// A compile's optimizer, loss, loss options and metrics.
type Settings = (OptimizerConfig, Loss, LossOptions, Vec<String>);

/// Compiles `model` with `c` when that is accepted, keeping `c` in `kept`;
/// the loss then compiled.
fn compile(model: &mut Model, kept: &mut Option<Settings>, c: Settings) -> Option<Loss> {
    let made = ok_or_coded(Compilation::new(c.0.clone(), c.1, c.2, &c.3))?;
    model.apply_compilation(made);
    let loss = c.1;
    *kept = Some(c);
    Some(loss)
}

fn config(o: Optimizer) -> OptimizerConfig {
    let (name, rule) = match o.rule % 6 {
        0 => ("SGD", Rule::Sgd { momentum: o.a, nesterov: o.flag }),
        1 => ("RMSprop", Rule::RmsProp { rho: o.a, momentum: o.b, epsilon: o.epsilon, centered: o.flag }),
        2 => ("Adam", Rule::Adam { beta_1: o.a, beta_2: o.b, epsilon: o.epsilon, amsgrad: o.flag }),
        3 => ("AdamW", Rule::Adam { beta_1: o.a, beta_2: o.b, epsilon: o.epsilon, amsgrad: o.flag }),
        4 => ("Adagrad", Rule::Adagrad { initial_accumulator_value: o.a, epsilon: o.epsilon }),
        _ => ("Nadam", Rule::Nadam { beta_1: o.a, beta_2: o.b, epsilon: o.epsilon }),
    };
    let learning_rate = match o.schedule {
        Schedule::Constant(lr) => LearningRate::Constant(lr),
        Schedule::Exponential { initial, steps, rate, staircase } => {
            LearningRate::ExponentialDecay { initial, decay_steps: steps, decay_rate: rate, staircase }
        }
        Schedule::InverseTime { initial, steps, rate, staircase } => {
            LearningRate::InverseTimeDecay { initial, decay_steps: steps, decay_rate: rate, staircase }
        }
        Schedule::Piecewise { boundaries, values } => LearningRate::PiecewiseConstantDecay {
            boundaries: boundaries.into_iter().take(4).collect(),
            values: values.into_iter().take(5).collect(),
        },
        Schedule::Cosine { initial, steps, alpha, warmup_target, warmup_steps } => {
            LearningRate::CosineDecay { initial, decay_steps: steps, alpha, warmup_target, warmup_steps }
        }
    };
    let clip = match o.clip.0 % 4 {
        0 => Clip::None,
        1 => Clip::Norm(o.clip.1),
        2 => Clip::GlobalNorm(o.clip.1),
        _ => Clip::Value(o.clip.1),
    };
    OptimizerConfig { name: name.into(), rule, learning_rate, weight_decay: o.weight_decay, clip }
}

/// Targets for `rows` samples as the loss wants them: class indices
/// (arbitrary, some out of range) or rows of the output's width.
struct Batch {
    x: Vec<f32>,
    labels: Vec<i32>,
    values: Vec<f32>,
    width: usize,
    classes: bool,
    weights: Option<Vec<f32>>,
}

impl Batch {
    fn new(model: &Model, loss: Loss, rows: usize, extra: i8, poison: u8) -> Batch {
        let x = values((rows * model.input_dim()) as i64 + extra as i64, poison);
        let width = model.output_dim();
        let labels = (0..rows).map(|i| (i % (width + 2)) as i32 - 1).collect();
        let values = (0..rows * width).map(|i| (i % 3) as f32 * 0.5).collect();
        let classes = loss == Loss::SparseCategoricalCrossentropy;
        Batch { x, labels, values, width, classes, weights: None }
    }

    fn samples(&self) -> Samples<'_> {
        let mut s = if self.classes {
            Samples::new(&self.x, &self.labels)
        } else {
            Samples::with_values(&self.x, &self.values, self.width)
        };
        s.weights = self.weights.as_deref();
        s
    }
}

fuzz_target!(|case: Case| {
    // Small sizes keep each run quick; the settings stay arbitrary otherwise.
    let specs: Vec<LayerSpec> = case
        .layers
        .into_iter()
        .take(4)
        .map(|layer| match layer {
            Layer::Dense { units, activation: a, use_bias, l1, l2 } => {
                let r = Regularizer::new(l1, l2).unwrap_or_default();
                let spec = DenseSpec {
                    use_bias,
                    kernel_regularizer: r,
                    bias_regularizer: r,
                    ..DenseSpec::new((units % 9) as usize, activation(a))
                };
                LayerSpec::Dense(spec)
            }
            Layer::Activation(a) => LayerSpec::Activation(activation(a)),
            Layer::Dropout { rate, seed } => LayerSpec::Dropout(DropoutSpec { rate, seed }),
            Layer::BatchNorm { momentum, epsilon, center, scale } => {
                LayerSpec::BatchNormalization(BatchNormSpec { momentum, epsilon, center, scale })
            }
        })
        .collect();
    let Some(mut model) = ok_or_coded(Model::build((case.input_dim % 9) as usize, &specs, 7)) else { return };
    let mut loss = Loss::SparseCategoricalCrossentropy;
    // The last compile that took: options and metrics go through a compile
    // of their own (as in the API, where they are compile's arguments).
    let mut compiled: Option<Settings> = None;
    for op in case.ops.into_iter().take(8) {
        match op {
            Op::Compile { optimizer, loss: l } => {
                let c = (config(optimizer), LOSSES[l as usize % 6], LossOptions::default(), Vec::new());
                loss = compile(&mut model, &mut compiled, c).unwrap_or(loss);
            }
            Op::LossOptions { from_logits, label_smoothing } => {
                if let Some((o, l, _, m)) = compiled.clone() {
                    compile(&mut model, &mut compiled, (o, l, LossOptions { from_logits, label_smoothing }, m));
                }
            }
            Op::Metrics(names) => {
                let all = ["accuracy", "mae", "mse", "auc", "precision", "recall", "nope"];
                let names: Vec<String> = names.iter().take(3).map(|&i| all[i as usize % all.len()].into()).collect();
                if let Some((o, l, opts, _)) = compiled.clone() {
                    compile(&mut model, &mut compiled, (o, l, opts, names));
                }
            }
            Op::Mixed(on) => model.set_mixed_bfloat16(on.then(Bf16Kernel::detect).flatten()),
            Op::Scalar(on) => model.set_isa(if on { Isa::scalar() } else { Isa::detect() }),
            Op::Fit { rows, extra, batch, epochs, shuffle, val, poison, weights } => {
                let mut b = Batch::new(&model, loss, (rows % 24) as usize, extra, poison);
                b.weights = weights.map(|w| vec![w; b.labels.len()]);
                let s = b.samples();
                let opts = FitOptions {
                    epochs: (epochs % 3) as usize,
                    batch_size: batch as usize,
                    shuffle,
                    seed: 1,
                    initial_epoch: (epochs / 64) as usize,
                };
                ok_or_coded(model.fit(s, val.then_some(s), &opts, &mut Silent));
            }
            Op::Evaluate { rows, extra, batch, poison } => {
                let b = Batch::new(&model, loss, (rows % 24) as usize, extra, poison);
                ok_or_coded(model.evaluate(b.samples(), batch as usize));
            }
            Op::Predict { rows, extra, batch, poison } => {
                let rows = (rows % 24) as usize;
                let x = values((rows * model.input_dim()) as i64 + extra as i64, poison);
                ok_or_coded(model.predict(&x, rows, batch as usize));
            }
            Op::TrainOnBatch { rows, poison } => {
                let b = Batch::new(&model, loss, (rows % 24) as usize, 0, poison);
                ok_or_coded(model.train_on_batch(b.samples()));
            }
            Op::Gradients { rows } => {
                let b = Batch::new(&model, loss, (rows % 24) as usize, 0, 0);
                ok_or_coded(model.gradients(b.samples()));
            }
            Op::Slots { iterations, u_product, index, name, len } => {
                let names = ["velocity", "momentum", "average_gradient", "velocity_hat", "accumulator", "nope"];
                let slot = (index as usize % 6, names[name as usize % 6].to_string(), vec![0.5; len as usize % 80]);
                ok_or_coded(model.restore_optimizer(iterations, u_product, &[slot]));
                ok_or_coded(model.optimizer_slots());
            }
        }
    }
});
