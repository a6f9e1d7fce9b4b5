//! Finite-difference check of the whole backward pass: an independent float64
//! implementation of forward + loss is differentiated numerically and compared
//! with ferro-nn's analytic float32 gradients.

use ferro_core::kernels::{Activation, Isa};
use ferro_core::layers::{DenseSpec, Initializer};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{Model, Samples, WeightTensor};

struct Net {
    /// (kernel [in][out], bias, activation) per layer, float64.
    layers: Vec<(Vec<Vec<f64>>, Vec<f64>, Activation)>,
}

fn act(a: Activation, z: &mut [f64]) {
    match a {
        Activation::Linear => {}
        Activation::Relu => z.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Sigmoid => z.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        Activation::Tanh => z.iter_mut().for_each(|v| *v = v.tanh()),
        // Keras's definitions, written out independently in float64.
        Activation::Elu => z.iter_mut().for_each(|v| *v = if *v > 0.0 { *v } else { v.exp() - 1.0 }),
        Activation::Selu => {
            let (alpha, scale) = (1.6732632423543772, 1.0507009873554805);
            z.iter_mut().for_each(|v| *v = scale * if *v > 0.0 { *v } else { alpha * (v.exp() - 1.0) })
        }
        Activation::LeakyRelu => z.iter_mut().for_each(|v| *v = if *v < 0.0 { 0.2 * *v } else { *v }),
        Activation::Softplus => z.iter_mut().for_each(|v| *v = (1.0 + v.exp()).ln()),
        Activation::Softsign => z.iter_mut().for_each(|v| *v /= 1.0 + v.abs()),
        Activation::Relu6 => z.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
        Activation::HardSigmoid => z.iter_mut().for_each(|v| *v = ((*v + 3.0) / 6.0).clamp(0.0, 1.0)),
        Activation::Gelu => z.iter_mut().for_each(|v| *v = 0.5 * *v * (1.0 + libm::erf(*v / 2f64.sqrt()))),
        Activation::Silu => z.iter_mut().for_each(|v| *v /= 1.0 + (-*v).exp()),
        Activation::Softmax => {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
            z.iter_mut().for_each(|v| *v = (*v - m).exp() / s);
        }
    }
}

impl Net {
    /// Weight `i` of tensor `t`, tensors counted as Keras orders them.
    fn param(&mut self, t: usize, i: usize) -> &mut f64 {
        let (kernel, bias, _) = &mut self.layers[t / 2];
        if t % 2 == 1 {
            &mut bias[i]
        } else {
            let cols = kernel[0].len();
            &mut kernel[i / cols][i % cols]
        }
    }

    /// The network's outputs for each row, in float64.
    fn outputs(&self, x: &[Vec<f64>]) -> Vec<Vec<f64>> {
        x.iter()
            .map(|row| {
                let mut h = row.clone();
                for (k, b, a) in &self.layers {
                    let mut z: Vec<f64> = (0..b.len())
                        .map(|j| b[j] + h.iter().enumerate().map(|(i, v)| v * k[i][j]).sum::<f64>())
                        .collect();
                    act(*a, &mut z);
                    h = z;
                }
                h
            })
            .collect()
    }

    /// Keras's sparse categorical crossentropy, batch mean, all in float64.
    fn loss(&self, x: &[Vec<f64>], labels: &[i32]) -> f64 {
        let clip = |p: f64| p.clamp(1e-7, 1.0 - 1e-7);
        let mut total = 0.0;
        for (row, &y) in x.iter().zip(labels) {
            let mut h = row.clone();
            for (k, b, a) in &self.layers {
                let mut z: Vec<f64> =
                    (0..b.len()).map(|j| b[j] + h.iter().enumerate().map(|(i, v)| v * k[i][j]).sum::<f64>()).collect();
                act(*a, &mut z);
                h = z;
            }
            let sum: f64 = h.iter().map(|&p| clip(p)).sum();
            total += sum.ln() - clip(h[y as usize]).ln();
        }
        total / labels.len() as f64
    }
}

fn check(hidden: Activation, output: Activation, isa: Isa) {
    let (n, d, h, c) = (9usize, 7usize, 17usize, 5usize);
    let specs = [(h, hidden), (c, output)].map(|(units, activation)| DenseSpec {
        units,
        activation,
        use_bias: true,
        kernel_initializer: Initializer::GlorotUniform,
        bias_initializer: Initializer::GlorotUniform,
        ..DenseSpec::new(units, activation)
    });
    let mut model = Model::new(d, &specs, 99).unwrap();
    model.set_isa(isa);
    model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 29 % 17) as f32 - 8.0) / 6.0).collect();
    let labels: Vec<i32> = (0..n).map(|i| (i * 3 % c) as i32).collect();
    let (_, grads) = model.gradients(Samples::new(&x, &labels)).unwrap();

    let weights = model.weights();
    let to_net = |w: &[WeightTensor]| Net {
        layers: (0..2)
            .map(|l| {
                let (k, b) = (&w[2 * l], &w[2 * l + 1]);
                let cols = k.shape[1];
                let kernel = k.data.chunks(cols).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
                (kernel, b.data.iter().map(|&v| v as f64).collect(), [hidden, output][l])
            })
            .collect(),
    };
    let xs: Vec<Vec<f64>> = x.chunks(d).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let eps = 1e-5;
    let mut compared = 0;
    for (t, grad) in grads.iter().enumerate() {
        for (i, &got) in grad.data.iter().enumerate() {
            let (mut plus, mut minus) = (to_net(&weights), to_net(&weights));
            *plus.param(t, i) += eps;
            *minus.param(t, i) -= eps;
            let numeric = (plus.loss(&xs, &labels) - minus.loss(&xs, &labels)) / (2.0 * eps);
            let err = (got as f64 - numeric).abs() / (1e-3 + numeric.abs());
            assert!(err < 2e-3, "{hidden:?}->{output:?} {isa:?} weight {t}[{i}]: analytic {got} vs numeric {numeric}");
            compared += 1;
        }
    }
    assert_eq!(compared, d * h + h + h * c + c);
}

#[test]
fn relu_then_softmax_matches_finite_differences_for_every_isa() {
    for isa in Isa::available() {
        check(Activation::Relu, Activation::Softmax, isa);
    }
}

#[test]
fn other_activations_and_the_generic_loss_gradient_match_too() {
    check(Activation::Tanh, Activation::Softmax, Isa::detect());
    check(Activation::Sigmoid, Activation::Sigmoid, Isa::detect());
    check(Activation::Linear, Activation::Softmax, Isa::detect());
    check(Activation::Softmax, Activation::Softmax, Isa::detect());
    for hidden in [
        Activation::Elu,
        Activation::Selu,
        Activation::LeakyRelu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Relu6,
        Activation::HardSigmoid,
        Activation::Gelu,
        Activation::Silu,
    ] {
        for isa in Isa::available() {
            check(hidden, Activation::Softmax, isa);
        }
    }
}

/// Keras's float-target losses, written out independently in float64: the
/// per-sample value for outputs `p` and targets `y`.
fn float64_loss(loss: Loss, p: &[f64], y: &[f64]) -> f64 {
    let k = p.len() as f64;
    let clip = |v: f64| v.clamp(1e-7, 1.0 - 1e-7);
    match loss {
        Loss::CategoricalCrossentropy => {
            let sum: f64 = p.iter().sum();
            -p.iter().zip(y).map(|(&p, &y)| y * clip(p / sum).ln()).sum::<f64>()
        }
        Loss::BinaryCrossentropy => {
            -p.iter().zip(y).map(|(&p, &y)| y * clip(p).ln() + (1.0 - y) * (1.0 - clip(p)).ln()).sum::<f64>() / k
        }
        Loss::MeanSquaredError => p.iter().zip(y).map(|(p, y)| (p - y).powi(2)).sum::<f64>() / k,
        Loss::MeanAbsoluteError => p.iter().zip(y).map(|(p, y)| (p - y).abs()).sum::<f64>() / k,
        Loss::Huber => {
            p.iter()
                .zip(y)
                .map(|(p, y)| {
                    let e = (p - y).abs();
                    if e <= 1.0 {
                        0.5 * e * e
                    } else {
                        e - 0.5
                    }
                })
                .sum::<f64>()
                / k
        }
        Loss::SparseCategoricalCrossentropy => unreachable!(),
    }
}

fn check_float_targets(hidden: Activation, output: Activation, loss: Loss) {
    let (n, d, h, c) = (9usize, 7usize, 11usize, 4usize);
    let specs = [(h, hidden), (c, output)].map(|(units, activation)| DenseSpec::new(units, activation));
    let mut model = Model::new(d, &specs, 5).unwrap();
    model.compile(RmsPropConfig::default(), loss).unwrap();
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 29 % 17) as f32 - 8.0) / 6.0).collect();
    let y: Vec<f32> = match loss {
        // One-hot rows for the categorical crossentropy; 0/1 for the binary one.
        Loss::CategoricalCrossentropy => (0..n * c).map(|i| if i % c == (i / c) % c { 1.0 } else { 0.0 }).collect(),
        Loss::BinaryCrossentropy => (0..n * c).map(|i| (i * 7 % 3 == 0) as u8 as f32).collect(),
        _ => (0..n * c).map(|i| ((i * 13 % 11) as f32 - 5.0) / 2.5).collect(),
    };
    let (_, grads) = model.gradients(Samples::with_values(&x, &y, c)).unwrap();
    let weights = model.weights();
    let to_net = |w: &[WeightTensor]| Net {
        layers: (0..2)
            .map(|l| {
                let (k, b) = (&w[2 * l], &w[2 * l + 1]);
                let kernel = k.data.chunks(k.shape[1]).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
                (kernel, b.data.iter().map(|&v| v as f64).collect(), [hidden, output][l])
            })
            .collect(),
    };
    let xs: Vec<Vec<f64>> = x.chunks(d).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let ys: Vec<Vec<f64>> = y.chunks(c).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let mean_loss =
        |net: &Net| net.outputs(&xs).iter().zip(&ys).map(|(p, y)| float64_loss(loss, p, y)).sum::<f64>() / n as f64;
    let eps = 1e-5;
    for (t, grad) in grads.iter().enumerate() {
        for (i, &got) in grad.data.iter().enumerate() {
            let (mut plus, mut minus) = (to_net(&weights), to_net(&weights));
            *plus.param(t, i) += eps;
            *minus.param(t, i) -= eps;
            let numeric = (mean_loss(&plus) - mean_loss(&minus)) / (2.0 * eps);
            let err = (got as f64 - numeric).abs() / (1e-3 + numeric.abs());
            assert!(err < 3e-3, "{loss:?} {hidden:?}->{output:?} weight {t}[{i}]: analytic {got} vs numeric {numeric}");
        }
    }
}

#[test]
fn float_target_losses_match_finite_differences() {
    check_float_targets(Activation::Relu, Activation::Softmax, Loss::CategoricalCrossentropy);
    check_float_targets(Activation::Tanh, Activation::Sigmoid, Loss::CategoricalCrossentropy);
    check_float_targets(Activation::Relu, Activation::Sigmoid, Loss::BinaryCrossentropy);
    check_float_targets(Activation::Tanh, Activation::Tanh, Loss::BinaryCrossentropy);
    // An output activation whose derivative needs the pre-activation: the
    // loss hands back the gradient at the output and the layer converts it.
    check_float_targets(Activation::Gelu, Activation::Silu, Loss::MeanSquaredError);
    for loss in [Loss::MeanSquaredError, Loss::MeanAbsoluteError, Loss::Huber] {
        check_float_targets(Activation::Tanh, Activation::Linear, loss);
        check_float_targets(Activation::Relu, Activation::Sigmoid, loss);
    }
}
