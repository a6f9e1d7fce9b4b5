//! Starting a fit at a later epoch (Keras's initial_epoch) continues an
//! earlier fit exactly: the skipped epochs' shuffles are drawn and
//! discarded, and Dropout's masks follow the optimizer's step count.

use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, DropoutSpec, LayerSpec};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{FitOptions, Model, Samples, Silent};

fn model() -> Model {
    let specs = vec![
        LayerSpec::Dense(DenseSpec::new(16, Activation::Relu)),
        LayerSpec::Dropout(DropoutSpec { rate: 0.3, seed: None }),
        LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
    ];
    let mut m = Model::build(5, &specs, 4).unwrap();
    m.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    m
}

#[test]
fn an_initial_epoch_continues_an_earlier_fit_exactly() {
    let x: Vec<f32> = (0..40 * 5).map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0).collect();
    let y: Vec<i32> = (0..40).map(|i| i * 7 % 3).collect();
    let samples = Samples::new(&x, &y);
    let opts = |epochs, initial_epoch| FitOptions { epochs, batch_size: 8, shuffle: true, seed: 17, initial_epoch };
    let mut straight = model();
    straight.fit(samples, None, &opts(5, 0), &mut Silent).unwrap();
    let mut resumed = model();
    resumed.fit(samples, None, &opts(2, 0), &mut Silent).unwrap();
    let tail = resumed.fit(samples, None, &opts(5, 2), &mut Silent).unwrap();
    assert_eq!(tail.epochs.len(), 3);
    assert_eq!(resumed.weights(), straight.weights());
    // Without discarding the skipped shuffles the result differs.
    let mut naive = model();
    naive.fit(samples, None, &opts(2, 0), &mut Silent).unwrap();
    naive.fit(samples, None, &opts(3, 0), &mut Silent).unwrap();
    assert_ne!(naive.weights(), straight.weights());
}

/// A restored step count past 2^53 (a hostile or damaged file; found by
/// the toolkit_ops fuzz target, as u64::MAX) is refused with a coded error
/// instead of overflowing the count at the next step; up to 2^53 resumes.
#[test]
fn a_restored_step_count_beyond_two_to_the_53_is_refused() {
    let x: Vec<f32> = (0..8 * 5).map(|i| (i % 7) as f32 / 7.0).collect();
    let y: Vec<i32> = (0..8).map(|i| i % 3).collect();
    for iterations in [u64::MAX, (1 << 53) + 1] {
        let mut m = model();
        let err = m.restore_optimizer(iterations, 1.0, &[]).unwrap_err();
        assert_eq!(err.code(), "ERR_FERRO_VALUE", "{err}");
        assert!(err.to_string().contains(&iterations.to_string()), "{err}");
    }
    let mut m = model();
    m.restore_optimizer(1 << 53, 1.0, &[]).unwrap();
    m.train_on_batch(Samples::new(&x, &y)).unwrap();
    assert!(m.weights().iter().all(|w| w.data.iter().all(|v| v.is_finite())));
    assert_eq!(m.optimizer().unwrap().iterations(), (1 << 53) + 1);
}
