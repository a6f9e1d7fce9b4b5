//! The update rules, Keras 3's `update_step` of each optimizer
//! (keras/src/optimizers/*.py), as one body per rule over a run of elements:
//! a plain loop the compiler vectorises for each instruction set. Per-step
//! constants are computed once, in float32 as Keras computes them.
//!
//!   SGD       m ← μm − lr·g;  w ← w + m  (nesterov: w ← w + μm − lr·g); μ = 0: w ← w − lr·g
//!   RMSprop   v ← ρv + (1−ρ)g²;  (centered: ḡ ← ρḡ + (1−ρ)g, d = v − ḡ² + ε, else d = v + ε)
//!             Δ = lr·g/√d;  momentum: m ← μm + Δ, w ← w − m;  else w ← w − Δ
//!   Adam      m ← m + (g − m)(1−β₁);  v ← v + (g² − v)(1−β₂);  (amsgrad: v̂ ← max(v̂, v))
//!             w ← w − m·α / (√v + ε),  α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)
//!   Adagrad   a ← a + g²;  w ← w − lr·g / √(a + ε)
//!   Nadam     m, v as Adam;  m̂ = u₍ₜ₊₁₎m/(1−Πu·u₍ₜ₊₁₎) + (1−uₜ)g/(1−Πu);  v̂ = v/(1−β₂ᵗ)
//!             w ← w − m̂·lr / (√v̂ + ε),  uₜ = β₁(1 − ½·0.96ᵗ)

use super::Rule;

/// What one step of a rule needs besides the arrays.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Consts {
    Sgd {
        lr: f32,
        momentum: f32,
        nesterov: bool,
    },
    /// `momentum` is None when the rule keeps no momentum slot
    /// (`Rule::keeps_momentum`), whatever its float32 value.
    RmsProp {
        lr: f32,
        rho: f32,
        one_minus_rho: f32,
        epsilon: f32,
        momentum: Option<f32>,
        centered: bool,
    },
    Adam {
        alpha: f32,
        one_minus_b1: f32,
        one_minus_b2: f32,
        epsilon: f32,
        amsgrad: bool,
    },
    Adagrad {
        lr: f32,
        epsilon: f32,
    },
    Nadam {
        lr: f32,
        one_minus_b1: f32,
        one_minus_b2: f32,
        epsilon: f32,
        m_scale: f32,
        g_scale: f32,
        v_scale: f32,
    },
}

impl Consts {
    /// The constants of step `t` (1 for the first) at learning rate `lr`
    /// (float32, as Keras holds it);
    /// `u_product` is Nadam's running product of its momentum schedule,
    /// already including step t.
    pub(crate) fn of(rule: &Rule, lr: f32, t: u64, u_product: f32) -> Consts {
        let t32 = t as f32;
        match *rule {
            Rule::Sgd { momentum, nesterov } => Consts::Sgd { lr, momentum: momentum as f32, nesterov },
            // Keras writes `1 - self.rho` with the Python float: rounded once, from float64.
            Rule::RmsProp { rho, momentum, epsilon, centered } => Consts::RmsProp {
                lr,
                rho: rho as f32,
                one_minus_rho: (1.0 - rho) as f32,
                epsilon: epsilon as f32,
                momentum: rule.keeps_momentum().then_some(momentum as f32),
                centered,
            },
            Rule::Adam { beta_1, beta_2, epsilon, amsgrad } => {
                let (b1, b2) = (beta_1 as f32, beta_2 as f32);
                let alpha = lr * (1.0 - b2.powf(t32)).sqrt() / (1.0 - b1.powf(t32));
                // `1 - self.beta_1` in Python floats, as for RMSprop; the powers in float32.
                let (one_minus_b1, one_minus_b2) = ((1.0 - beta_1) as f32, (1.0 - beta_2) as f32);
                Consts::Adam { alpha, one_minus_b1, one_minus_b2, epsilon: epsilon as f32, amsgrad }
            }
            Rule::Adagrad { epsilon, .. } => Consts::Adagrad { lr, epsilon: epsilon as f32 },
            Rule::Nadam { beta_1, beta_2, epsilon } => {
                // Nadam casts β₁ and β₂ to float32 first, so 1 − β is a float32 subtraction.
                let (b1, b2) = (beta_1 as f32, beta_2 as f32);
                let u_t = b1 * (1.0 - 0.5 * 0.96f32.powf(t32));
                let u_next = b1 * (1.0 - 0.5 * 0.96f32.powf(t32 + 1.0));
                Consts::Nadam {
                    lr,
                    one_minus_b1: 1.0 - b1,
                    one_minus_b2: 1.0 - b2,
                    epsilon: epsilon as f32,
                    m_scale: u_next / (1.0 - u_product * u_next),
                    g_scale: (1.0 - u_t) / (1.0 - u_product),
                    v_scale: 1.0 / (1.0 - b2.powf(t32)),
                }
            }
        }
    }
}

/// One step over a run of elements: `w` the weights, `g` their gradients,
/// `s` the rule's slots for the same elements, one after another (each
/// `w.len()` long, in the order `Rule::slot_names` gives).
#[inline(always)]
pub(crate) fn step(k: &Consts, w: &mut [f32], g: &[f32], s: &mut [f32]) {
    let n = w.len();
    match *k {
        Consts::Sgd { lr, momentum, nesterov } => {
            if s.is_empty() {
                w.iter_mut().zip(g).for_each(|(w, &g)| *w -= g * lr);
                return;
            }
            for ((w, &g), m) in w.iter_mut().zip(g).zip(&mut s[..n]) {
                *m = *m * momentum - g * lr;
                *w += if nesterov { *m * momentum - g * lr } else { *m };
            }
        }
        Consts::RmsProp { lr, rho, one_minus_rho, epsilon, momentum, centered } => {
            let (v, rest) = s.split_at_mut(n);
            let (m, rest) = rest.split_at_mut(if momentum.is_some() { n } else { 0 });
            let avg = &mut rest[..if centered { n } else { 0 }];
            for i in 0..n {
                let g = g[i];
                v[i] = rho * v[i] + one_minus_rho * (g * g);
                let denominator = if centered {
                    avg[i] = rho * avg[i] + one_minus_rho * g;
                    v[i] - avg[i] * avg[i] + epsilon
                } else {
                    v[i] + epsilon
                };
                let increment = lr * g / denominator.sqrt();
                if let Some(momentum) = momentum {
                    m[i] = momentum * m[i] + increment;
                    w[i] -= m[i];
                } else {
                    w[i] -= increment;
                }
            }
        }
        Consts::Adam { alpha, one_minus_b1, one_minus_b2, epsilon, amsgrad } => {
            let (m, rest) = s.split_at_mut(n);
            let (v, rest) = rest.split_at_mut(n);
            let v_hat = &mut rest[..if amsgrad { n } else { 0 }];
            for i in 0..n {
                let g = g[i];
                m[i] += (g - m[i]) * one_minus_b1;
                v[i] += (g * g - v[i]) * one_minus_b2;
                let v_used = if amsgrad {
                    v_hat[i] = v_hat[i].max(v[i]);
                    v_hat[i]
                } else {
                    v[i]
                };
                w[i] -= m[i] * alpha / (v_used.sqrt() + epsilon);
            }
        }
        Consts::Adagrad { lr, epsilon } => {
            for ((w, &g), a) in w.iter_mut().zip(g).zip(&mut s[..n]) {
                *a += g * g;
                *w -= lr * g / (*a + epsilon).sqrt();
            }
        }
        Consts::Nadam { lr, one_minus_b1, one_minus_b2, epsilon, m_scale, g_scale, v_scale } => {
            let (m, v) = s.split_at_mut(n);
            for i in 0..n {
                let g = g[i];
                m[i] += (g - m[i]) * one_minus_b1;
                v[i] += (g * g - v[i]) * one_minus_b2;
                let m_hat = m_scale * m[i] + g_scale * g;
                let v_hat = v[i] * v_scale;
                w[i] -= m_hat * lr / (v_hat.sqrt() + epsilon);
            }
        }
    }
}
