//! Finite-difference check of the executor over every layer kind at once:
//! Dense (gelu, kept pre-activations), Dropout, BatchNormalization and an
//! Activation layer, between a Dense input layer and a softmax output. The
//! loss is the model's own training-mode loss (same step, so the same
//! Dropout mask; batch statistics), evaluated in float32 with perturbed
//! weights; each layer's forward pass is checked against float64 elsewhere.

use ferro_core::kernels::{Activation, Isa};
use ferro_core::layers::{BatchNormSpec, DenseSpec, DropoutSpec, LayerSpec};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{Model, Samples, WeightTensor};

fn stack(hidden: Activation) -> Vec<LayerSpec> {
    vec![
        LayerSpec::Dense(DenseSpec::new(13, hidden)),
        LayerSpec::Dropout(DropoutSpec { rate: 0.25, seed: Some(3) }),
        LayerSpec::BatchNormalization(BatchNormSpec::default()),
        LayerSpec::Activation(Activation::Silu),
        LayerSpec::Dense(DenseSpec::new(9, Activation::Tanh)),
        LayerSpec::Activation(Activation::Sigmoid),
        LayerSpec::Dense(DenseSpec::new(4, Activation::Softmax)),
    ]
}

fn check(hidden: Activation, isa: Isa) {
    let (n, d) = (10usize, 6usize);
    let mut model = Model::build(d, &stack(hidden), 11).unwrap();
    model.set_isa(isa);
    model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 31 % 19) as f32 - 9.0) / 5.0).collect();
    let labels: Vec<i32> = (0..n).map(|i| (i * 3 % 4) as i32).collect();
    let samples = Samples::new(&x, &labels);
    let (_, grads) = model.gradients(samples).unwrap();
    let weights = model.weights();
    let trainable: Vec<usize> = vec![0, 1, 2, 3, 6, 7, 8, 9];
    assert_eq!(grads.len(), trainable.len(), "moving statistics take no gradient");
    let h = 2e-3f32;
    let mut loss_at = |w: &[WeightTensor]| {
        model.set_weights(w.to_vec()).unwrap();
        model.gradients(samples).unwrap().0.mean_loss()
    };
    for (grad, &t) in grads.iter().zip(&trainable) {
        assert_eq!(grad.shape, weights[t].shape);
        // Every third weight keeps the test quick; all tensors are covered.
        for i in (0..grad.data.len()).step_by(3) {
            let (mut up, mut down) = (weights.clone(), weights.clone());
            up[t].data[i] += h;
            down[t].data[i] -= h;
            let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * h as f64);
            let got = grad.data[i] as f64;
            assert!(
                (got - numeric).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "{hidden:?} {isa:?} tensor {t}[{i}]: analytic {got} vs numeric {numeric}"
            );
        }
    }
}

#[test]
fn every_layer_kind_matches_finite_differences() {
    for isa in Isa::available() {
        check(Activation::Gelu, isa);
    }
    check(Activation::Elu, Isa::detect());
}

#[test]
fn a_training_step_moves_batch_statistics_and_inference_uses_them() {
    let specs = vec![
        LayerSpec::Dense(DenseSpec::new(5, Activation::Linear)),
        LayerSpec::BatchNormalization(BatchNormSpec { momentum: 0.5, ..BatchNormSpec::default() }),
        LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
    ];
    let mut model = Model::build(4, &specs, 2).unwrap();
    model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let x: Vec<f32> = (0..32).map(|i| (i as f32 * 0.37).sin() * 3.0 + 1.0).collect();
    let labels = [0, 1, 2, 0, 1, 2, 0, 1];
    let w = model.weights();
    assert_eq!(w.iter().map(|t| t.shape.clone()).collect::<Vec<_>>()[2..6], [vec![5], vec![5], vec![5], vec![5]]);
    // The batch statistics of the first layer's outputs, in float64.
    let (k, b) = (&w[0].data, &w[1].data);
    let z: Vec<Vec<f64>> = x
        .chunks(4)
        .map(|r| (0..5).map(|j| b[j] as f64 + (0..4).map(|i| r[i] as f64 * k[i * 5 + j] as f64).sum::<f64>()).collect())
        .collect();
    model.train_on_batch(Samples::new(&x, &labels)).unwrap();
    let after = model.weights();
    for j in 0..5 {
        let mean = z.iter().map(|r| r[j]).sum::<f64>() / 8.0;
        let var = z.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / 8.0;
        assert!((after[4].data[j] as f64 - 0.5 * mean).abs() < 1e-5, "moving_mean[{j}]");
        assert!((after[5].data[j] as f64 - (0.5 + 0.5 * var)).abs() < 1e-4, "moving_variance[{j}]");
    }
    // Predict uses the moving statistics: with them set to the batch's own
    // statistics and the other weights unchanged, predict reproduces the
    // training-mode outputs.
    let mut inference = model.weights();
    inference[4].data = (0..5).map(|j| (z.iter().map(|r| r[j]).sum::<f64>() / 8.0) as f32).collect();
    inference[5].data = (0..5)
        .map(|j| {
            let mean = z.iter().map(|r| r[j]).sum::<f64>() / 8.0;
            (z.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / 8.0) as f32
        })
        .collect();
    let mut probe = Model::build(4, &specs, 2).unwrap();
    probe.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let mut original = w.clone();
    original[4].data.clone_from(&inference[4].data);
    original[5].data.clone_from(&inference[5].data);
    probe.set_weights(original).unwrap();
    let predicted = probe.predict(&x[..], 8, 8).unwrap();
    let training_loss = probe.gradients(Samples::new(&x, &labels)).unwrap().0.mean_loss();
    let inference_loss = probe.evaluate(Samples::new(&x, &labels), 8).unwrap().mean_loss();
    assert!((training_loss - inference_loss).abs() < 1e-5, "{training_loss} vs {inference_loss}");
    assert_eq!(predicted.len(), 24);
}

/// One layer's weights are its slice of the model's, and setting them
/// touches no other layer's; a wrong count, shape or index is refused
/// before anything is written.
#[test]
fn layer_weights_are_the_models_slice_and_set_alone() {
    let mut model = Model::build(6, &stack(Activation::Relu), 4).unwrap();
    let all = model.weights();
    // Dense (2), Dropout (0), BatchNormalization (4: two trainable, two moving), Activation, Dense (2), Activation, Dense (2).
    let counts = [2usize, 0, 4, 0, 2, 0, 2];
    let mut at = 0;
    for (i, &n) in counts.iter().enumerate() {
        assert_eq!(model.layer_weights(i).unwrap(), all[at..at + n].to_vec(), "layer {i}");
        at += n;
    }
    assert_eq!(at, all.len());
    let mut bn = model.layer_weights(2).unwrap();
    bn.iter_mut().for_each(|w| w.data.iter_mut().for_each(|v| *v += 0.5));
    model.set_layer_weights(2, bn.clone()).unwrap();
    let mut want = all.clone();
    want.splice(2..6, bn.clone());
    assert_eq!(model.weights(), want);
    let before = model.weights();
    let short = WeightTensor { shape: vec![12], data: vec![0.0; 12] };
    assert!(model.set_layer_weights(2, bn[..3].to_vec()).is_err(), "count");
    assert!(model.set_layer_weights(2, vec![short, bn[1].clone(), bn[2].clone(), bn[3].clone()]).is_err(), "shape");
    assert!(model.set_layer_weights(7, Vec::new()).is_err() && model.layer_weights(7).is_err(), "index");
    assert_eq!(model.weights(), before, "a refused call wrote nothing");
}
