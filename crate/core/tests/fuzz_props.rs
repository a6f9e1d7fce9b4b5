//! Property tests that throw garbage at the parsers and entry points the
//! Node binding calls: every call must return Ok or an error with one of the
//! stable codes, and never panic. `npm run fuzz` runs them with many more
//! cases (PROPTEST_CASES) and adds the cargo-fuzz targets in fuzz/.

use ferro_core::io::idx;
use ferro_core::kernels::Activation;
use ferro_core::layers::DenseSpec;
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{FitOptions, Model, Samples, Silent, WeightTensor};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

const CODES: [&str; 7] = [
    "ERR_FERRO_TYPE",
    "ERR_FERRO_VALUE",
    "ERR_FERRO_SHAPE",
    "ERR_FERRO_STATE",
    "ERR_FERRO_BUSY",
    "ERR_FERRO_IO",
    "ERR_FERRO_INTERNAL",
];

fn coded<T>(result: ferro_core::Result<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(CODES.contains(&e.code()) && e.code() != "ERR_FERRO_INTERNAL", "bad error: {e:?}");
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

fn idx_file(dims: &[u32], extra: i64, ty: u8) -> Vec<u8> {
    let mut f = vec![0, 0, ty, dims.len() as u8];
    for d in dims {
        f.extend_from_slice(&d.to_be_bytes());
    }
    let n = dims.iter().map(|&d| d as i64).product::<i64>() + extra;
    f.extend((0..n.max(0)).map(|i| i as u8));
    f
}

proptest! {
    #[test]
    fn idx_parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(h) = coded(idx::parse_header(&bytes, "fuzz")) {
            let count: usize = h.dims.iter().product();
            prop_assert_eq!(h.data_offset + count, bytes.len());
        }
    }

    #[test]
    fn idx_parser_accepts_exactly_the_consistent_files(
        dims in proptest::collection::vec(0u32..6, 1..4),
        extra in -3i64..3,
        ty in prop_oneof![Just(0x08u8), any::<u8>()],
    ) {
        let file = idx_file(&dims, extra, ty);
        let parsed = coded(idx::parse_header(&file, "fuzz"));
        let count: i64 = dims.iter().map(|&d| d as i64).product();
        let consistent = ty == 0x08 && extra == 0 || (ty == 0x08 && count + extra < 0 && count == 0);
        prop_assert_eq!(parsed.is_some(), consistent);
    }
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Linear),
        Just(Activation::Relu),
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Softmax)
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), 0.0f64..2.0]
}

/// Mostly valid RMSprop settings, sometimes garbage.
fn config() -> impl Strategy<Value = RmsPropConfig> {
    let valid = (1e-4f64..0.1, 0.0f64..1.0, 1e-8f64..1e-3, 0.0f64..1.0, any::<bool>());
    let garbage = (float(), float(), float(), float(), any::<bool>());
    prop_oneof![4 => valid, 1 => garbage].prop_map(|(learning_rate, rho, epsilon, momentum, centered)| RmsPropConfig {
        learning_rate,
        rho,
        epsilon,
        momentum,
        centered,
    })
}

/// Usually in range for a model with at least three outputs, sometimes not.
fn labels() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(prop_oneof![9 => 0i32..3, 1 => -2i32..12], 0..24)
}

/// Usually 0: x holds exactly rows × features values.
fn extra() -> impl Strategy<Value = i64> {
    prop_oneof![8 => Just(0i64), 1 => -2i64..3]
}

/// One call on a model, with arguments that may be wrong in any way. Rows
/// follow the labels unless `mismatch` says otherwise.
#[derive(Debug, Clone)]
enum Op {
    Compile(RmsPropConfig),
    Fit { labels: Vec<i32>, extra: i64, mismatch: bool, batch: usize, epochs: usize, shuffle: bool, val: bool },
    Evaluate { labels: Vec<i32>, extra: i64, batch: usize },
    Predict { rows: usize, extra: i64, batch: usize },
    TrainOnBatch { labels: Vec<i32> },
    SetWeights { shapes: Vec<Vec<usize>> },
    Gradients { labels: Vec<i32> },
}

fn op() -> impl Strategy<Value = Op> {
    let batch = prop_oneof![9 => 1usize..12, 1 => Just(0usize)];
    prop_oneof![
        1 => config().prop_map(Op::Compile),
        4 => (labels(), extra(), prop::bool::weighted(0.1), batch.clone(), 0usize..3, any::<bool>(), any::<bool>()).prop_map(
            |(labels, extra, mismatch, batch, epochs, shuffle, val)| Op::Fit { labels, extra, mismatch, batch, epochs, shuffle, val }
        ),
        2 => (labels(), extra(), batch.clone()).prop_map(|(labels, extra, batch)| Op::Evaluate { labels, extra, batch }),
        2 => (0usize..20, extra(), batch).prop_map(|(rows, extra, batch)| Op::Predict { rows, extra, batch }),
        2 => labels().prop_map(|labels| Op::TrainOnBatch { labels }),
        1 => proptest::collection::vec(proptest::collection::vec(0usize..9, 0..3), 0..5).prop_map(|shapes| Op::SetWeights { shapes }),
        1 => labels().prop_map(|labels| Op::Gradients { labels }),
    ]
}

fn data(rows: usize, features: usize, extra: i64) -> Vec<f32> {
    let n = (rows as i64 * features as i64 + extra).max(0) as usize;
    (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn model_calls_return_ok_or_a_coded_error(
        input_dim in prop_oneof![9 => 1usize..8, 1 => Just(0usize)],
        layers in proptest::collection::vec((prop_oneof![9 => 3usize..9, 1 => 0usize..3], activation(), any::<bool>()), 0..4),
        ops in proptest::collection::vec(op(), 1..8),
    ) {
        let specs: Vec<DenseSpec> = layers
            .iter()
            .map(|&(units, activation, use_bias)| DenseSpec { use_bias, ..DenseSpec::new(units, activation) })
            .collect();
        let Some(mut model) = coded(Model::new(input_dim, &specs, 1)) else { return Ok(()); };
        model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
        let d = model.input_dim();
        for op in ops {
            match op {
                Op::Compile(cfg) => { coded(model.compile(cfg, Loss::SparseCategoricalCrossentropy)); }
                Op::Fit { labels, extra, mismatch, batch, epochs, shuffle, val } => {
                    let rows = labels.len() + mismatch as usize;
                    let x = data(rows, d, extra);
                    let train = Samples::new(&x, &labels);
                    let opts = FitOptions { epochs, batch_size: batch, shuffle, seed: 3, initial_epoch: 0 };
                    if let Some(result) = coded(model.fit(train, val.then_some(train), &opts, &mut Silent)) {
                        prop_assert_eq!(result.epochs.len(), epochs);
                        FITS.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Op::Evaluate { labels, extra, batch } => {
                    let x = data(labels.len(), d, extra);
                    coded(model.evaluate(Samples::new(&x, &labels), batch));
                }
                Op::Predict { rows, extra, batch } => {
                    let x = data(rows, d, extra);
                    if let Some(out) = coded(model.predict(&x, rows, batch)) {
                        prop_assert_eq!(out.len(), rows * model.output_dim());
                    }
                }
                Op::TrainOnBatch { labels } => {
                    let x = data(labels.len(), d, 0);
                    coded(model.train_on_batch(Samples::new(&x, &labels)));
                }
                Op::SetWeights { shapes } => {
                    let weights = shapes
                        .into_iter()
                        .map(|shape| WeightTensor { data: vec![0.5; shape.iter().product()], shape })
                        .collect();
                    coded(model.set_weights(weights));
                }
                Op::Gradients { labels } => {
                    let x = data(labels.len(), d, 0);
                    coded(model.gradients(Samples::new(&x, &labels)));
                }
            }
        }
    }
}

/// Successful fits across the property test's cases: the inputs must reach
/// real training, not only the argument checks.
static FITS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn the_model_property_reaches_real_training() {
    // Runs the property itself (proptest's cases) and counts what trained.
    model_calls_return_ok_or_a_coded_error();
    let fits = FITS.load(Ordering::Relaxed);
    eprintln!("{fits} successful fits");
    assert!(fits > 10, "only {fits} fits succeeded");
}
