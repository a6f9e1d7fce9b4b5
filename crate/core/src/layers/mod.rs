//! The layers a Sequential model stacks, one file per kind. `Layer` is the
//! enum the executor (train.rs) walks; each kind owns its forward, backward,
//! weights and scratch. Fusions between neighbours (an activation's
//! derivative in the next Dense's dX epilogue, softmax + crossentropy) are
//! decided once per model in `Plan`, not by the layers.

pub mod activation;
pub mod batch_norm;
pub mod dense;
pub mod dropout;
pub mod initializers;
pub mod regularizer;

pub use activation::ActivationLayer;
pub use batch_norm::{BatchNorm, BatchNormSpec};
pub use dense::{kernel_gradient, Dense, DenseSpec};
pub use dropout::{Dropout, DropoutSpec};
pub use initializers::Initializer;
pub use regularizer::Regularizer;

use crate::error::Result;
use crate::kernels::{Activation, GemmBuffers, Isa, TileSink};
use crate::model::WeightTensor;
use crate::params::{ParamRef, ParamsBuilder};
use crate::rng::Rng;
use ndarray::{ArrayView2, ArrayViewMut2};

/// What a user asks for; `Layer::new` builds it for an input width.
#[derive(Clone, Debug)]
pub enum LayerSpec {
    Dense(DenseSpec),
    Activation(Activation),
    Dropout(DropoutSpec),
    BatchNormalization(BatchNormSpec),
}

impl From<DenseSpec> for LayerSpec {
    fn from(spec: DenseSpec) -> Self {
        LayerSpec::Dense(spec)
    }
}

#[derive(Clone, Debug)]
pub enum Layer {
    Dense(Dense),
    Activation(ActivationLayer),
    Dropout(Dropout),
    BatchNormalization(BatchNorm),
}

/// How a forward pass runs: the kernels, training or inference, and the
/// training step it belongs to (Dropout's masks are a function of it).
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    pub isa: Isa,
    pub training: bool,
    pub step: u64,
}

/// Where a layer's backward writes: the gradient at its input, and the
/// activation of the layer below when the caller asked for it to be folded
/// in (only Dense can, in its dX GEMM's epilogue).
pub struct InputGrad<'a> {
    pub dx: ArrayViewMut2<'a, f32>,
    pub fold: Option<Activation>,
    /// When set, the gradient goes here instead of into `dx`, laid out as
    /// the B operand of the first layer's kernel-gradient GEMM
    /// (`gemm_into_panels`), which then reads it without packing it
    /// (`Plan::first_grad_in_panels`; only Dense, above the first layer).
    pub panels: Option<&'a mut [f32]>,
}

/// A layer's buffers for one backward pass.
pub struct Backward<'a> {
    /// The layer's input and output for the batch.
    pub x: ArrayView2<'a, f32>,
    pub y: ArrayView2<'a, f32>,
    /// The gradient at the output; turned in place into the gradient at the
    /// pre-activation unless `at_preactivation` says it already is.
    pub dy: ArrayViewMut2<'a, f32>,
    pub at_preactivation: bool,
    /// None for the first layer, whose input takes no gradient.
    pub input: Option<InputGrad<'a>>,
    /// The model's gradient arena (laid out as its parameters); the layer
    /// writes the gradients of its own trainable tensors there.
    pub dparams: &'a mut [f32],
    pub scratch: &'a mut [Vec<f32>],
    pub gemm: &'a mut GemmBuffers,
    pub gemm_side: &'a mut GemmBuffers,
    /// For the first layer, when the step updates its kernel in tiles: where
    /// the kernel gradient's tiles go instead of `dparams` (tiled_kernel.rs).
    pub kernel_tiles: Option<&'a TileSink<'a>>,
    /// With `kernel_tiles`, when the layer above wrote the gradient at this
    /// layer's pre-activation as panels (`InputGrad::panels`): those
    /// panels, read instead of `dy`.
    pub dy_panels: Option<&'a [f32]>,
}

impl Layer {
    /// Builds `spec` for inputs of `input_dim` features, drawing any initial
    /// weights (and Dropout's seed) from `rng`; trainable weights go to `params`.
    pub fn new(spec: &LayerSpec, input_dim: usize, rng: &mut Rng, params: &mut ParamsBuilder) -> Result<Layer> {
        Ok(match spec {
            LayerSpec::Dense(s) => Layer::Dense(Dense::new(s, input_dim, rng, params)?),
            LayerSpec::Activation(a) => Layer::Activation(ActivationLayer::new(*a, input_dim)?),
            LayerSpec::Dropout(s) => Layer::Dropout(Dropout::new(s, input_dim, rng)?),
            LayerSpec::BatchNormalization(s) => Layer::BatchNormalization(BatchNorm::new(s, input_dim, params)?),
        })
    }

    pub fn input_dim(&self) -> usize {
        match self {
            Layer::Dense(l) => l.input_dim(),
            Layer::Activation(l) => l.width,
            Layer::Dropout(l) => l.width,
            Layer::BatchNormalization(l) => l.width(),
        }
    }

    pub fn units(&self) -> usize {
        match self {
            Layer::Dense(l) => l.units(),
            _ => self.input_dim(),
        }
    }

    /// The function the layer applies last; its derivative is what turns a
    /// gradient at the output into one at the pre-activation.
    pub fn activation(&self) -> Activation {
        match self {
            Layer::Dense(l) => l.activation,
            Layer::Activation(l) => l.activation,
            Layer::Dropout(_) | Layer::BatchNormalization(_) => Activation::Linear,
        }
    }

    /// The Dense layer, when this is one.
    pub fn as_dense(&self) -> Option<&Dense> {
        match self {
            Layer::Dense(l) => Some(l),
            _ => None,
        }
    }

    /// Every weight, trainable first, in Keras's order.
    pub fn weights(&self, params: &[f32]) -> Vec<WeightTensor> {
        let trainable = self.trainable().into_iter().map(|r| r.of(params));
        let data = trainable.chain(self.non_trainable());
        self.weight_shapes().into_iter().zip(data).map(|(shape, d)| WeightTensor { shape, data: d.to_vec() }).collect()
    }

    /// The shapes of `weights()`.
    pub fn weight_shapes(&self) -> Vec<Vec<usize>> {
        match self {
            Layer::Dense(l) => l.weight_shapes(),
            Layer::BatchNormalization(l) => l.weight_shapes(),
            Layer::Activation(_) | Layer::Dropout(_) => Vec::new(),
        }
    }

    /// Where the weights the optimizer updates live in the arena, in order.
    pub fn trainable(&self) -> Vec<ParamRef> {
        match self {
            Layer::Dense(l) => std::iter::once(l.kernel).chain(l.bias).collect(),
            Layer::BatchNormalization(l) => l.trainable(),
            Layer::Activation(_) | Layer::Dropout(_) => Vec::new(),
        }
    }

    /// Weights updated by the forward pass, not by the optimizer; the layer keeps them.
    pub fn non_trainable(&self) -> Vec<&[f32]> {
        match self {
            Layer::BatchNormalization(l) => l.non_trainable(),
            _ => Vec::new(),
        }
    }

    pub fn non_trainable_mut(&mut self) -> Vec<&mut [f32]> {
        match self {
            Layer::BatchNormalization(l) => l.non_trainable_mut(),
            _ => Vec::new(),
        }
    }

    pub fn param_count(&self) -> usize {
        self.weight_shapes().iter().map(|s| s.iter().product::<usize>()).sum()
    }

    /// The lengths of the scratch buffers the layer keeps between its
    /// forward and backward passes, for batches of `rows`.
    pub fn scratch_lens(&self, rows: usize, training: bool) -> Vec<usize> {
        match self {
            Layer::Dense(l) => l.scratch_lens(rows, training),
            Layer::Dropout(l) => l.scratch_lens(rows, training),
            Layer::BatchNormalization(l) => l.scratch_lens(rows, training),
            Layer::Activation(_) => Vec::new(),
        }
    }

    /// y = layer(x) for the batch; `params` is the model's arena.
    pub fn forward(
        &self,
        pass: Pass,
        params: &[f32],
        x: ArrayView2<f32>,
        y: ArrayViewMut2<f32>,
        scratch: &mut [Vec<f32>],
        gemm: &mut GemmBuffers,
    ) {
        match self {
            Layer::Dense(l) => l.forward_pass(pass, params, x, y, scratch, gemm),
            Layer::Activation(l) => l.forward(pass.isa, x, y),
            Layer::Dropout(l) => l.forward(pass, x, y, scratch),
            Layer::BatchNormalization(l) => l.forward(pass, params, x, y, scratch),
        }
    }

    /// Gradients of the trainable weights, and at the input when asked.
    pub fn backward(&self, isa: Isa, params: &[f32], b: Backward) {
        match self {
            Layer::Dense(l) => l.backward(isa, params, b),
            Layer::Activation(l) => l.backward(isa, b),
            Layer::Dropout(l) => l.backward(b),
            Layer::BatchNormalization(l) => l.backward(params, b),
        }
    }

    /// Work a training step does after the optimizer (BatchNormalization's
    /// moving statistics), from what the forward pass left in `scratch`.
    pub fn after_step(&mut self, scratch: &[Vec<f32>]) {
        if let Layer::BatchNormalization(l) = self {
            l.update_moving_statistics(scratch);
        }
    }

    /// The weight penalty the layer adds to the loss (Dense's regularizers).
    pub fn penalty(&self, params: &[f32]) -> f64 {
        self.as_dense().map_or(0.0, |d| d.penalty(params))
    }

    pub fn has_penalty(&self) -> bool {
        self.as_dense().is_some_and(|d| !(d.kernel_regularizer.is_none() && d.bias_regularizer.is_none()))
    }

    /// Adds the penalty's gradient to the gradient arena.
    pub fn add_penalty_gradient(&self, params: &[f32], dparams: &mut [f32]) {
        if let Some(d) = self.as_dense() {
            d.add_penalty_gradient(params, dparams);
        }
    }
}

/// Turns a gradient at a layer's output into one at its pre-activation, in
/// place: `y` is the output, `z` the pre-activation when the activation
/// `needs_input` (else unused).
pub(crate) fn to_preactivation(
    isa: Isa,
    activation: Activation,
    y: ArrayView2<f32>,
    z: &[f32],
    mut dy: ArrayViewMut2<f32>,
) {
    use crate::kernels::{scale_by_derivative, scale_by_input_derivative, softmax_backward_rows};
    let n = dy.len();
    match activation {
        Activation::Linear => {}
        Activation::Softmax => softmax_backward_rows(y, dy),
        a => {
            let grad = dy.as_slice_mut().expect("workspace buffers are contiguous");
            if a.needs_input() {
                scale_by_input_derivative(a, grad, &z[..n])
            } else {
                scale_by_derivative(isa, a, grad, y.as_slice().expect("workspace buffers are contiguous"))
            }
        }
    }
}
