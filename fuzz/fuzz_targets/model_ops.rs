//! Sequences of model calls with arbitrary (small) arguments: every call
//! returns Ok or a coded error that is not an internal one; none panics.
#![no_main]
use arbitrary::Arbitrary;
use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, Initializer};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{FitOptions, Model, Samples, Silent, WeightTensor};
use ferro_nn_fuzz::ok_or_coded;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Compile { lr: f64, rho: f64, epsilon: f64, momentum: f64, centered: bool },
    Fit { labels: Vec<i8>, extra: i8, batch: u8, epochs: u8, shuffle: bool, val: bool },
    Evaluate { labels: Vec<i8>, extra: i8, batch: u8 },
    Predict { rows: u8, extra: i8, batch: u8 },
    TrainOnBatch { labels: Vec<i8> },
    SetWeights { shapes: Vec<Vec<u8>> },
}

#[derive(Arbitrary, Debug)]
struct Case {
    input_dim: u8,
    layers: Vec<(u8, u8, bool)>,
    ops: Vec<Op>,
}

fn data(rows: usize, d: usize, extra: i8) -> Vec<f32> {
    let n = (rows * d) as i64 + extra as i64;
    (0..n.max(0) as usize).map(|i| (i % 7) as f32 - 3.0).collect()
}

const ACTIVATIONS: [Activation; 5] =
    [Activation::Linear, Activation::Relu, Activation::Sigmoid, Activation::Tanh, Activation::Softmax];

fuzz_target!(|case: Case| {
    // Small sizes keep each run quick; the arguments stay arbitrary otherwise.
    let specs: Vec<DenseSpec> = case
        .layers
        .iter()
        .take(4)
        .map(|&(units, act, use_bias)| DenseSpec {
            units: (units % 17) as usize,
            activation: ACTIVATIONS[act as usize % 5],
            use_bias,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            ..DenseSpec::new(1, Activation::Linear)
        })
        .collect();
    let Some(mut model) = ok_or_coded(Model::new((case.input_dim % 17) as usize, &specs, 7)) else { return };
    model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let d = model.input_dim();
    for op in case.ops.into_iter().take(8) {
        match op {
            Op::Compile { lr, rho, epsilon, momentum, centered } => {
                let cfg = RmsPropConfig { learning_rate: lr, rho, epsilon, momentum, centered };
                ok_or_coded(model.compile(cfg, Loss::SparseCategoricalCrossentropy));
            }
            Op::Fit { labels, extra, batch, epochs, shuffle, val } => {
                let labels: Vec<i32> = labels.iter().take(40).map(|&l| l as i32).collect();
                let x = data(labels.len(), d, extra);
                let s = Samples::new(&x, &labels);
                let opts = FitOptions {
                    epochs: (epochs % 3) as usize,
                    batch_size: batch as usize,
                    shuffle,
                    seed: 1,
                    initial_epoch: 0,
                };
                ok_or_coded(model.fit(s, val.then_some(s), &opts, &mut Silent));
            }
            Op::Evaluate { labels, extra, batch } => {
                let labels: Vec<i32> = labels.iter().take(40).map(|&l| l as i32).collect();
                let x = data(labels.len(), d, extra);
                ok_or_coded(model.evaluate(Samples::new(&x, &labels), batch as usize));
            }
            Op::Predict { rows, extra, batch } => {
                let x = data(rows as usize, d, extra);
                ok_or_coded(model.predict(&x, rows as usize, batch as usize));
            }
            Op::TrainOnBatch { labels } => {
                let labels: Vec<i32> = labels.iter().take(40).map(|&l| l as i32).collect();
                let x = data(labels.len(), d, 0);
                ok_or_coded(model.train_on_batch(Samples::new(&x, &labels)));
            }
            Op::SetWeights { shapes } => {
                let weights = shapes
                    .into_iter()
                    .take(8)
                    .map(|s| {
                        let shape: Vec<usize> = s.into_iter().take(3).map(|v| (v % 20) as usize).collect();
                        WeightTensor { data: vec![0.25; shape.iter().product()], shape }
                    })
                    .collect();
                ok_or_coded(model.set_weights(weights));
            }
        }
    }
});
