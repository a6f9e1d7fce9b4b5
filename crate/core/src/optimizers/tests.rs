//! Each rule against Keras's own unit-test numbers and a float64
//! transcription of its formula; every ISA against the scalar twin. Whole
//! training runs against numbers Keras 3 produced are in
//! test/keras-optimizers.test.ts.

use super::*;

fn optimizer(rule: Rule, learning_rate: f64) -> Optimizer {
    let learning_rate = LearningRate::Constant(learning_rate);
    let config = OptimizerConfig { name: "test".into(), rule, learning_rate, weight_decay: None, clip: Clip::None };
    Optimizer::new(config).unwrap()
}

/// An arena of tensors of these lengths, packed in order.
fn tensors(lens: &[usize]) -> Vec<ParamRef> {
    let mut offset = 0;
    lens.iter()
        .map(|&len| {
            offset += len;
            ParamRef { offset: offset - len, len }
        })
        .collect()
}

/// One step of `opt` on one tensor.
fn step_once(opt: &mut Optimizer, isa: Isa, w: &mut [f32], g: &[f32]) {
    opt.step(isa, w, &mut g.to_vec(), None);
}

const RMSPROP: Rule = Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false };
const ADAM: Rule = Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false };

/// keras/src/optimizers/rmsprop_test.py::test_single_step.
#[test]
fn rmsprop_keras_single_step() {
    let mut opt = optimizer(RMSPROP, 0.5);
    opt.build(&tensors(&[4])).unwrap();
    let mut w = [1.0f32, 2.0, 3.0, 4.0];
    step_once(&mut opt, Isa::scalar(), &mut w, &[1.0, 6.0, 7.0, 2.0]);
    for (got, want) in w.iter().zip([-0.5811f32, 0.4189, 1.4189, 2.4189]) {
        assert!((got - want).abs() < 1e-4, "{w:?}");
    }
    assert_eq!(opt.iterations(), 1);
}

/// keras/src/optimizers/adam_test.py::test_single_step.
#[test]
fn adam_keras_single_step() {
    let mut opt = optimizer(ADAM, 0.5);
    opt.build(&tensors(&[4])).unwrap();
    let mut w = [1.0f32, 2.0, 3.0, 4.0];
    step_once(&mut opt, Isa::detect(), &mut w, &[1.0, 6.0, 7.0, 2.0]);
    for (got, want) in w.iter().zip([0.5f32, 1.5, 2.5, 3.5]) {
        assert!((got - want).abs() < 1e-4, "{w:?}");
    }
}

/// keras/src/optimizers/sgd_test.py::test_single_step and adagrad_test.py::test_single_step.
#[test]
fn sgd_and_adagrad_keras_single_steps() {
    let mut sgd = optimizer(Rule::Sgd { momentum: 0.0, nesterov: false }, 0.5);
    sgd.build(&tensors(&[4])).unwrap();
    let mut w = [1.0f32, 2.0, 3.0, 4.0];
    step_once(&mut sgd, Isa::scalar(), &mut w, &[1.0, 6.0, 7.0, 2.0]);
    assert_eq!(w, [0.5, -1.0, -0.5, 3.0]);

    let mut adagrad = optimizer(Rule::Adagrad { initial_accumulator_value: 0.1, epsilon: 1e-7 }, 0.5);
    adagrad.build(&tensors(&[4])).unwrap();
    let mut w = [1.0f32, 2.0, 3.0, 4.0];
    step_once(&mut adagrad, Isa::scalar(), &mut w, &[1.0, 6.0, 7.0, 2.0]);
    for (got, want) in w.iter().zip([0.5233f32, 1.5007, 2.5005, 3.5061]) {
        assert!((got - want).abs() < 1e-4, "{w:?}");
    }
}

/// Several steps of every rule against float64, and every ISA against the
/// scalar twin bit for bit, across the parallel chunk boundary.
#[test]
fn every_rule_matches_float64_and_every_isa_the_scalar_twin() {
    let rules = [
        Rule::Sgd { momentum: 0.9, nesterov: true },
        Rule::RmsProp { rho: 0.8, momentum: 0.5, epsilon: 1e-6, centered: true },
        Rule::Adam { beta_1: 0.8, beta_2: 0.95, epsilon: 1e-6, amsgrad: true },
        Rule::Adam { beta_1: 0.8, beta_2: 0.95, epsilon: 1e-6, amsgrad: false },
        Rule::Adagrad { initial_accumulator_value: 0.2, epsilon: 1e-6 },
        Rule::Nadam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
    ];
    for rule in rules {
        for n in [1, 7, 4 * CHUNK + 3] {
            let run = |isa: Isa| {
                let mut opt = optimizer(rule, 0.01);
                opt.build(&tensors(&[n])).unwrap();
                let mut w: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
                for t in 0..4 {
                    let g: Vec<f32> = (0..n).map(|i| ((i * 7 + t) % 11) as f32 * 0.05 - 0.25).collect();
                    step_once(&mut opt, isa, &mut w, &g);
                }
                w
            };
            let scalar = run(Isa::scalar());
            for isa in Isa::available() {
                if matches!(rule, Rule::Adam { amsgrad: false, .. }) {
                    // Its SIMD kernel computes the quotient its own way (kernels/adam.rs).
                    let got = run(isa);
                    let close = got.iter().zip(&scalar).all(|(g, s)| (g - s).abs() <= 1e-6 * (1.0 + s.abs()));
                    assert!(close, "{rule:?} n={n} {isa:?}");
                } else if !matches!(rule, Rule::RmsProp { .. }) {
                    assert_eq!(run(isa), scalar, "{rule:?} n={n} {isa:?}");
                }
            }
            let want = float64(rule, 0.01, n, 4);
            for i in 0..n {
                assert!(
                    (scalar[i] as f64 - want[i]).abs() < 2e-5,
                    "{rule:?} n={n} i={i}: {} vs {}",
                    scalar[i],
                    want[i]
                );
            }
        }
    }
}

/// The rules transcribed in float64 from Keras's update_step sources.
fn float64(rule: Rule, lr: f64, n: usize, steps: usize) -> Vec<f64> {
    let mut w: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.1 - 0.6).collect();
    let (mut a, mut b, mut c) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    if let Rule::Adagrad { initial_accumulator_value, .. } = rule {
        a.fill(initial_accumulator_value);
    }
    let mut u_product = 1.0;
    for t in 0..steps {
        let step = (t + 1) as f64;
        if let Rule::Nadam { beta_1, .. } = rule {
            u_product *= beta_1 * (1.0 - 0.5 * 0.96f64.powf(step));
        }
        for i in 0..n {
            let g = ((i * 7 + t) % 11) as f64 * 0.05 - 0.25;
            match rule {
                Rule::Sgd { momentum, .. } => {
                    a[i] = a[i] * momentum - g * lr;
                    w[i] += a[i] * momentum - g * lr;
                }
                Rule::RmsProp { rho, momentum, epsilon, .. } => {
                    a[i] = rho * a[i] + (1.0 - rho) * g * g;
                    c[i] = rho * c[i] + (1.0 - rho) * g;
                    b[i] = momentum * b[i] + lr * g / (a[i] - c[i] * c[i] + epsilon).sqrt();
                    w[i] -= b[i];
                }
                Rule::Adam { beta_1, beta_2, epsilon, amsgrad } => {
                    a[i] += (g - a[i]) * (1.0 - beta_1);
                    b[i] += (g * g - b[i]) * (1.0 - beta_2);
                    c[i] = c[i].max(b[i]);
                    let alpha = lr * (1.0 - beta_2.powf(step)).sqrt() / (1.0 - beta_1.powf(step));
                    let v = if amsgrad { c[i] } else { b[i] };
                    w[i] -= a[i] * alpha / (v.sqrt() + epsilon);
                }
                Rule::Adagrad { epsilon, .. } => {
                    a[i] += g * g;
                    w[i] -= lr * g / (a[i] + epsilon).sqrt();
                }
                Rule::Nadam { beta_1, beta_2, epsilon } => {
                    let u_t = beta_1 * (1.0 - 0.5 * 0.96f64.powf(step));
                    let u_next = beta_1 * (1.0 - 0.5 * 0.96f64.powf(step + 1.0));
                    a[i] += (g - a[i]) * (1.0 - beta_1);
                    b[i] += (g * g - b[i]) * (1.0 - beta_2);
                    let m_hat = u_next * a[i] / (1.0 - u_product * u_next) + (1.0 - u_t) * g / (1.0 - u_product);
                    let v_hat = b[i] / (1.0 - beta_2.powf(step));
                    w[i] -= m_hat * lr / (v_hat.sqrt() + epsilon);
                }
            }
        }
    }
    w
}

#[test]
fn clipping_and_weight_decay_follow_keras() {
    let sgd = Rule::Sgd { momentum: 0.0, nesterov: false };
    let run = |clip: Clip, weight_decay: Option<f64>, grads: [&[f32]; 2]| {
        let learning_rate = LearningRate::Constant(1.0);
        let config = OptimizerConfig { name: "SGD".into(), rule: sgd, learning_rate, weight_decay, clip };
        let mut opt = Optimizer::new(config).unwrap();
        opt.build(&tensors(&[2, 2])).unwrap();
        let mut w = [1.0f32; 4];
        opt.step(Isa::scalar(), &mut w, &mut grads.concat(), None);
        [w[..2].to_vec(), w[2..].to_vec()]
    };
    // Per tensor: [3, 4] has norm 5, scaled to 1; [0.3, 0.4] is left alone.
    let got = run(Clip::Norm(1.0), None, [&[3.0, 4.0], &[0.3, 0.4]]);
    assert_eq!(got, [vec![1.0 - 0.6, 1.0 - 0.8], vec![0.7, 0.6]]);
    // Global: the norm of all four is √(25 + 0.25); each scaled by 1/that.
    let got = run(Clip::GlobalNorm(1.0), None, [&[3.0, 4.0], &[0.3, 0.4]]);
    let s = 1.0 / (25.25f32).sqrt();
    assert!((got[1][0] - (1.0 - 0.3 * s)).abs() < 1e-6 && (got[0][1] - (1.0 - 4.0 * s)).abs() < 1e-6, "{got:?}");
    // By value.
    let got = run(Clip::Value(0.5), None, [&[3.0, -4.0], &[0.3, -0.4]]);
    assert_eq!(got, [vec![0.5, 1.5], vec![0.7, 1.4]]);
    // Decoupled weight decay: w − w·wd·lr, then the update.
    let got = run(Clip::None, Some(0.1), [&[0.0, 1.0], &[0.0, 0.0]]);
    let want = [0.9f32, 0.9 - 1.0, 0.9, 0.9];
    assert!(got.concat().iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{got:?}");
}

#[test]
fn state_before_any_step_is_what_build_starts_with() {
    let rule = Rule::Adagrad { initial_accumulator_value: 0.1, epsilon: 1e-7 };
    let both = tensors(&[CHUNK + 5, 3]);
    let unbuilt = optimizer(rule, 0.5).state(&both);
    let mut built = optimizer(rule, 0.5);
    built.build(&both).unwrap();
    assert_eq!(unbuilt, built.state(&both));
    assert_eq!(unbuilt[0].2[CHUNK], 0.1);
    assert_eq!(unbuilt.iter().map(|s| s.2.len()).collect::<Vec<_>>(), [CHUNK + 5, 3]);
}

/// With and without amsgrad: the first takes rules.rs's loop, the second
/// the SIMD kernel (kernels/adam.rs), which must find m and v where the
/// names say, as a swap would leave the weights as they are.
#[test]
fn state_is_named_and_survives_the_chunk_layout() {
    for amsgrad in [true, false] {
        let mut opt = optimizer(Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad }, 0.1);
        let n = CHUNK + 5;
        opt.build(&tensors(&[n, 3])).unwrap();
        let mut w = vec![0.5f32; n + 3];
        let g: Vec<f32> = (0..n + 3).map(|i| i as f32 / n as f32).collect();
        opt.step(Isa::detect(), &mut w, &mut g.clone(), None);
        let state = opt.state(&tensors(&[n, 3]));
        let names: Vec<_> = state.iter().map(|(i, name, v)| (*i, *name, v.len())).collect();
        let slots: &[&str] =
            if amsgrad { &["momentum", "velocity", "velocity_hat"] } else { &["momentum", "velocity"] };
        let want: Vec<_> =
            [(0, n), (1, 3)].iter().flat_map(|&(t, len)| slots.iter().map(move |&s| (t, s, len))).collect();
        assert_eq!(names, want, "amsgrad {amsgrad}");
        // After one step m = 0.1·g, v = 0.001·g² elementwise, in parameter order;
        // the second tensor starts in the first's last chunk.
        for i in [0, CHUNK - 1, CHUNK, n - 1] {
            assert!((state[0].2[i] - 0.1 * g[i]).abs() < 1e-7, "momentum {i}, amsgrad {amsgrad}");
            // 1 − β₂ is 0.00099998713 in float32, as in Keras.
            let v = state[1].2[i];
            assert!((v - 0.001 * g[i] * g[i]).abs() <= 2e-5 * g[i] * g[i], "velocity {i}, amsgrad {amsgrad}");
        }
        for i in 0..3 {
            let m = state[slots.len()].2[i];
            assert!((m - 0.1 * g[n + i]).abs() < 1e-7, "second tensor's momentum {i}, amsgrad {amsgrad}");
        }
    }
}

#[test]
fn refuses_out_of_range_options() {
    let bad = [
        Rule::RmsProp { rho: 1.1, momentum: 0.0, epsilon: 1e-7, centered: false },
        Rule::RmsProp { rho: 0.9, momentum: 2.0, epsilon: 1e-7, centered: false },
        Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 0.0, centered: false },
        Rule::Adam { beta_1: -0.1, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
        Rule::Sgd { momentum: 1.5, nesterov: false },
        Rule::Adagrad { initial_accumulator_value: -1.0, epsilon: 1e-7 },
    ];
    for rule in bad {
        let config = OptimizerConfig {
            name: "x".into(),
            rule,
            learning_rate: LearningRate::Constant(0.1),
            weight_decay: None,
            clip: Clip::None,
        };
        assert_eq!(Optimizer::new(config).err().unwrap().code(), "ERR_FERRO_VALUE", "{rule:?}");
    }
    let config = |learning_rate, weight_decay, clip| OptimizerConfig {
        name: "x".into(),
        rule: RMSPROP,
        learning_rate: LearningRate::Constant(learning_rate),
        weight_decay,
        clip,
    };
    assert!(Optimizer::new(config(f64::NAN, None, Clip::None)).is_err());
    assert!(Optimizer::new(config(0.1, Some(-1.0), Clip::None)).is_err());
    assert!(Optimizer::new(config(0.1, None, Clip::Norm(0.0))).is_err());
    assert!(Optimizer::new(config(0.1, None, Clip::None)).is_ok());
    // Finite as f64, not as the f32 the update runs in: +Infinity there, or 0.
    assert!(Optimizer::new(config(1e300, None, Clip::None)).is_err());
    assert!(Optimizer::new(config(0.1, Some(1e39), Clip::None)).is_err());
    assert!(Optimizer::new(config(0.1, None, Clip::Value(1e39))).is_err());
    assert!(Optimizer::new(config(0.1, None, Clip::Norm(1e-50))).is_err());
    assert!(Optimizer::new(config(3.4e38, None, Clip::Norm(1e-40))).is_ok());
    let tiny_epsilon = OptimizerConfig {
        rule: Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-50, centered: false },
        ..config(0.1, None, Clip::None)
    };
    assert_eq!(Optimizer::new(tiny_epsilon).err().unwrap().code(), "ERR_FERRO_VALUE");
    let mut opt = Optimizer::new(config(0.1, None, Clip::None)).unwrap();
    assert!(opt.set_learning_rate(1e300).is_err());
    assert_eq!(opt.learning_rate(), 0.1);
    let schedule =
        LearningRate::ExponentialDecay { initial: 1e39, decay_steps: 1.0, decay_rate: 0.5, staircase: false };
    assert!(schedule.validate().is_err());
}

#[test]
fn a_schedule_sets_each_steps_rate_from_the_iterations_before_it() {
    // SGD with lr 1, 0.5, 0.25, … (halved every step): w falls by g·lr.
    let learning_rate =
        LearningRate::ExponentialDecay { initial: 1.0, decay_steps: 1.0, decay_rate: 0.5, staircase: false };
    let rule = Rule::Sgd { momentum: 0.0, nesterov: false };
    let config = OptimizerConfig { name: "SGD".into(), rule, learning_rate, weight_decay: None, clip: Clip::None };
    let mut opt = Optimizer::new(config).unwrap();
    opt.build(&tensors(&[1])).unwrap();
    let mut w = [0.0f32];
    for _ in 0..3 {
        step_once(&mut opt, Isa::scalar(), &mut w, &[1.0]);
    }
    assert_eq!(w, [-1.75]);
}

#[test]
fn slots_set_by_name_read_back_and_resume_the_same_steps() {
    let rule = Rule::Nadam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 };
    let n = CHUNK + 9;
    let grads = |t: usize| -> Vec<f32> { (0..n + 2).map(|i| ((i * 3 + t) % 7) as f32 * 0.1 - 0.3).collect() };
    let mut straight = optimizer(rule, 0.01);
    straight.build(&tensors(&[n, 2])).unwrap();
    let mut w = vec![0.25f32; n + 2];
    for t in 0..3 {
        straight.step(Isa::detect(), &mut w, &mut grads(t), None);
    }
    // A second optimizer restored from the first's state after step 2 ends where it ends.
    let mut first = optimizer(rule, 0.01);
    first.build(&tensors(&[n, 2])).unwrap();
    let mut w2 = vec![0.25f32; n + 2];
    for t in 0..2 {
        first.step(Isa::detect(), &mut w2, &mut grads(t), None);
    }
    let mut resumed = optimizer(rule, 0.01);
    resumed.build(&tensors(&[n, 2])).unwrap();
    let both = tensors(&[n, 2]);
    for (index, name, values) in first.state(&both) {
        resumed.set_slot(index, name, &values).unwrap();
    }
    resumed.restore_counters(first.iterations(), first.u_product());
    resumed.step(Isa::detect(), &mut w2, &mut grads(2), None);
    assert_eq!(w2, w);
    assert_eq!(resumed.state(&both), straight.state(&both));
    assert_eq!(resumed.set_slot(0, "accumulator", &[]).unwrap_err().code(), "ERR_FERRO_VALUE");
    assert_eq!(resumed.set_slot(1, "momentum", &[1.0]).unwrap_err().code(), "ERR_FERRO_SHAPE");
}

/// A momentum above 0 that rounds to 0 in float32 (found by the model_ops
/// fuzz target): the momentum slot is kept, as Keras keeps it for any
/// `momentum > 0`, and the step reads the slots it has instead of
/// panicking on their count. With μ = 0 in float32, m = Δ, so the weights
/// move as without momentum (within float32 rounding: without momentum,
/// RMSprop takes its SIMD kernel's reciprocal square root).
#[test]
fn momentum_rounding_to_zero_in_float32_keeps_its_slot() {
    let tiny = 1e-300;
    let g = [0.5f32, -2.0, 3.0, 0.25, 1.0, -1.0, 2.0, 4.0, 0.125, -0.5, 8.0, 1.5, -3.0, 0.75, 2.5, -4.0, 6.0];
    let cases = [
        (Rule::RmsProp { rho: 0.9, momentum: tiny, epsilon: 1e-7, centered: false }, RMSPROP),
        (
            Rule::RmsProp { rho: 0.9, momentum: tiny, epsilon: 1e-7, centered: true },
            Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: true },
        ),
        (Rule::Sgd { momentum: tiny, nesterov: false }, Rule::Sgd { momentum: 0.0, nesterov: false }),
    ];
    for (rule, plain) in cases {
        assert!(rule.slot_names().contains(&"momentum"), "{rule:?}");
        for isa in Isa::available() {
            let (mut with, mut without) = (optimizer(rule, 0.01), optimizer(plain, 0.01));
            with.build(&tensors(&[g.len()])).unwrap();
            without.build(&tensors(&[g.len()])).unwrap();
            let (mut w, mut w_plain) = ([1.0f32; 17], [1.0f32; 17]);
            for _ in 0..3 {
                step_once(&mut with, isa, &mut w, &g);
                step_once(&mut without, isa, &mut w_plain, &g);
            }
            let close = w.iter().zip(&w_plain).all(|(a, b)| (a - b).abs() <= 1e-6);
            assert!(close, "{rule:?} on {isa:?}: {w:?} vs {w_plain:?}");
        }
    }
}
