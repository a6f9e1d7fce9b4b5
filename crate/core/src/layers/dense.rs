//! Dense: y = f(x·W + b), W of shape [input_dim, units] as in Keras.
//! Forward and backward side by side; both run on caller-owned buffers.

use super::initializers::Initializer;
use super::regularizer::Regularizer;
use super::{to_preactivation, Backward, InputGrad, Pass};
use crate::error::{Error, Result};
use crate::kernels::params::PARALLEL_MIN_FLOPS;
use crate::kernels::rows::{column_sums, panel_column_sums};
use crate::kernels::{
    fits_panels, gemm, gemm_into_panels, gemm_tiles, gemm_tiles_packed_b, softmax_backward_rows, softmax_rows,
    Activation, Epilogue, GemmBuffers, Isa,
};
use crate::params::{ParamRef, ParamsBuilder};
use crate::rng::Rng;
use ndarray::{ArrayView2, ArrayViewMut2};

/// What a user asks for; `Dense::new` turns it into weights.
#[derive(Clone, Debug)]
pub struct DenseSpec {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
    pub kernel_regularizer: Regularizer,
    pub bias_regularizer: Regularizer,
}

impl DenseSpec {
    /// Keras's defaults for the rest: a bias, glorot_uniform kernel, zero bias.
    pub fn new(units: usize, activation: Activation) -> DenseSpec {
        DenseSpec {
            units,
            activation,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: Regularizer::default(),
            bias_regularizer: Regularizer::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Dense {
    pub activation: Activation,
    pub input_dim: usize,
    pub units: usize,
    /// [input_dim, units] in the model's parameter arena.
    pub kernel: ParamRef,
    /// [units]; None without a bias.
    pub bias: Option<ParamRef>,
    pub kernel_regularizer: Regularizer,
    pub bias_regularizer: Regularizer,
}

impl Dense {
    /// Draws the initial kernel and bias into `params`.
    pub fn new(spec: &DenseSpec, input_dim: usize, rng: &mut Rng, params: &mut ParamsBuilder) -> Result<Dense> {
        if spec.units == 0 || input_dim == 0 {
            return Err(Error::Value(format!(
                "Expected positive sizes for a Dense layer. Received: input_dim={input_dim}, units={}",
                spec.units
            )));
        }
        if spec.bias_initializer.needs_matrix() {
            return Err(Error::Value(
                "Expected a bias initializer for vectors. Received: 'orthogonal', which needs a matrix".into(),
            ));
        }
        let units = spec.units;
        let kernel = params
            .add(&[input_dim, units], "a Dense kernel", |k| spec.kernel_initializer.fill(k, input_dim, units, rng))?;
        let bias = if spec.use_bias {
            Some(params.add(&[units], "a Dense bias", |b| spec.bias_initializer.fill(b, units, units, rng))?)
        } else {
            None
        };
        Ok(Dense {
            activation: spec.activation,
            input_dim,
            units,
            kernel,
            bias,
            kernel_regularizer: spec.kernel_regularizer,
            bias_regularizer: spec.bias_regularizer,
        })
    }

    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    pub fn units(&self) -> usize {
        self.units
    }

    /// [kernel] or [kernel, bias], Keras's order; all trainable.
    pub fn weight_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.input_dim, self.units]];
        if self.bias.is_some() {
            shapes.push(vec![self.units]);
        }
        shapes
    }

    /// The kernel, [input_dim, units].
    pub fn kernel<'p>(&self, params: &'p [f32]) -> ArrayView2<'p, f32> {
        self.kernel.matrix(params, self.input_dim, self.units)
    }

    /// Training keeps the pre-activations when the activation's derivative
    /// needs them (gelu, silu).
    pub fn scratch_lens(&self, rows: usize, training: bool) -> Vec<usize> {
        if training && self.activation.needs_input() {
            vec![rows * self.units()]
        } else {
            Vec::new()
        }
    }

    /// `forward`, keeping the pre-activations in `scratch` when training
    /// needs them.
    pub fn forward_pass(
        &self,
        pass: Pass,
        params: &[f32],
        x: ArrayView2<f32>,
        mut y: ArrayViewMut2<f32>,
        scratch: &mut [Vec<f32>],
        bufs: &mut GemmBuffers,
    ) {
        if !(pass.training && self.activation.needs_input()) {
            return self.forward(pass.isa, params, x, y, bufs);
        }
        let bias = self.bias.map(|b| b.of(params));
        let ep = Epilogue::BiasActivation { bias, activation: Activation::Linear };
        gemm(pass.isa, x, self.kernel(params), y.view_mut(), ep, bufs);
        let y = y.as_slice_mut().expect("workspace buffers are contiguous");
        scratch[0][..y.len()].copy_from_slice(y);
        crate::kernels::activation::bias_activation(pass.isa, self.activation, y, &[]);
    }

    /// dW, db and (when asked) dX, from the gradient at the output. dW and
    /// dX are independent GEMMs and run side by side.
    pub fn backward(&self, isa: Isa, params: &[f32], b: Backward) {
        let Backward {
            x,
            y,
            mut dy,
            at_preactivation,
            input,
            dparams,
            scratch,
            gemm,
            gemm_side,
            kernel_tiles,
            dy_panels,
        } = b;
        assert!(
            dy_panels.is_none() || (at_preactivation && kernel_tiles.is_some()),
            "dense: panels of a folded gradient"
        );
        if !at_preactivation {
            to_preactivation(isa, self.activation, y, scratch.first().map_or(&[], |z| &z[..]), dy.view_mut());
        }
        let dz = dy.view();
        let (i, u) = (self.input_dim, self.units);
        // A layer whose products are too small to split (the seed model's
        // 512→10) computes its three gradients one after another: joined,
        // an idle core took a part and pulled the activations and dz (256 KB)
        // across to its own cache. On a 16-core Xeon the seed model's upper
        // layers took 187–201 µs a step joined, 178–179 one after another
        // (8 threads: 187–188 and 144–145; step 630–713 µs and 528–535); on
        // the 2-core VM, which has no idle core then, nothing changed.
        let small = 2usize.saturating_mul(i).saturating_mul(u).saturating_mul(dz.nrows()) < PARALLEL_MIN_FLOPS;
        let (dk, db) = self.split_gradients(dparams);
        let mut kernel_grads = |gemm: &mut GemmBuffers| match (kernel_tiles, dy_panels) {
            (Some(sink), Some(panels)) => gemm_tiles_packed_b(isa, x.t(), panels, u, sink, gemm),
            (Some(sink), None) => gemm_tiles(isa, x.t(), dz, sink, gemm),
            _ => kernel_gradient(isa, x, dz, ArrayViewMut2::from_shape((i, u), dk).expect("sized"), gemm),
        };
        let bias_grads = move |db: &mut [f32]| match dy_panels {
            Some(panels) => panel_column_sums(isa, panels, dz.nrows(), isa.nr(), db),
            None => column_sums(isa, dz, db),
        };
        let weight_grads = move |gemm: &mut GemmBuffers| match db {
            // Beside the GEMM, not after it: run after it, the sums left
            // every other thread idle until they were done.
            Some(db) if small => {
                kernel_grads(gemm);
                bias_grads(db);
            }
            Some(db) => {
                let ((), ()) = rayon::join(move || kernel_grads(gemm), || bias_grads(db));
            }
            None => kernel_grads(gemm),
        };
        match input {
            None => weight_grads(gemm),
            Some(input) if small => {
                weight_grads(gemm);
                self.input_gradient(isa, params, x, dz, input, gemm_side);
            }
            Some(input) => {
                rayon::join(|| weight_grads(gemm), || self.input_gradient(isa, params, x, dz, input, gemm_side));
            }
        }
    }

    /// The kernel's and the bias's slices of the gradient arena.
    fn split_gradients<'g>(&self, dparams: &'g mut [f32]) -> (&'g mut [f32], Option<&'g mut [f32]>) {
        let kernel = self.kernel.range();
        match self.bias {
            // The bias follows the kernel in the arena.
            Some(b) => {
                let (k, rest) = dparams[kernel.start..b.offset + b.len].split_at_mut(kernel.len());
                (k, Some(rest))
            }
            None => (&mut dparams[kernel], None),
        }
    }

    /// The penalty of the kernel and bias regularizers.
    pub fn penalty(&self, params: &[f32]) -> f64 {
        self.kernel_regularizer.penalty(self.kernel.of(params))
            + self.bias.map_or(0.0, |b| self.bias_regularizer.penalty(b.of(params)))
    }

    pub fn add_penalty_gradient(&self, params: &[f32], dparams: &mut [f32]) {
        self.kernel_regularizer.add_gradient(self.kernel.of(params), self.kernel.of_mut(dparams));
        if let Some(b) = self.bias {
            self.bias_regularizer.add_gradient(b.of(params), b.of_mut(dparams));
        }
    }

    /// y = f(x·W + b); bias and any elementwise activation are fused into
    /// the GEMM's epilogue, softmax runs on the finished rows.
    pub fn forward(
        &self,
        isa: Isa,
        params: &[f32],
        x: ArrayView2<f32>,
        mut y: ArrayViewMut2<f32>,
        bufs: &mut GemmBuffers,
    ) {
        let fused = if self.activation.is_elementwise() { self.activation } else { Activation::Linear };
        let bias = self.bias.map(|b| b.of(params));
        let ep = Epilogue::BiasActivation { bias, activation: fused };
        gemm(isa, x, self.kernel(params), y.view_mut(), ep, bufs);
        if self.activation == Activation::Softmax {
            softmax_rows(isa, y);
        }
    }

    /// Whether `input_gradient` can write dZ·Wᵀ as panels (`InputGrad::panels`)
    /// for this dZ with these buffers.
    pub fn input_gradient_fits_panels(
        &self,
        isa: Isa,
        params: &[f32],
        dz: ArrayView2<f32>,
        bufs: &GemmBuffers,
    ) -> bool {
        fits_panels(isa, &dz, &self.kernel(params).t(), bufs)
    }

    /// The gradient at the input, dZ·Wᵀ, from dZ (the gradient at this
    /// layer's pre-activation). With `fold`, the activation f that produced
    /// x (the layer below's) is folded in: (dZ·Wᵀ) ⊙ f'(x), with f' in the
    /// GEMM's epilogue, giving the gradient at the layer below's
    /// pre-activation. The first layer never needs this.
    pub fn input_gradient(
        &self,
        isa: Isa,
        params: &[f32],
        x: ArrayView2<f32>,
        dz: ArrayView2<f32>,
        input: InputGrad,
        bufs: &mut GemmBuffers,
    ) {
        let InputGrad { mut dx, fold, panels } = input;
        let w = self.kernel(params);
        if let Some(panels) = panels {
            let ep = match fold.filter(|&a| a != Activation::Linear) {
                Some(prev) => {
                    assert!(prev.is_elementwise(), "dense: panels fold elementwise activations only");
                    Epilogue::ActivationGrad { output: x, activation: prev }
                }
                None => Epilogue::None,
            };
            return gemm_into_panels(isa, dz, w.t(), panels, ep, bufs);
        }
        let Some(prev) = fold.filter(|&a| a != Activation::Linear) else {
            return gemm(isa, dz, w.t(), dx, Epilogue::None, bufs);
        };
        debug_assert!(!prev.needs_input(), "only activations with derivatives through y are folded");
        if prev.is_elementwise() {
            let ep = Epilogue::ActivationGrad { output: x, activation: prev };
            gemm(isa, dz, w.t(), dx.view_mut(), ep, bufs);
        } else {
            gemm(isa, dz, w.t(), dx.view_mut(), Epilogue::None, bufs);
            softmax_backward_rows(x, dx);
        }
    }
}

/// dW = xᵀ·dZ for a layer with input x.
pub fn kernel_gradient(
    isa: Isa,
    x: ArrayView2<f32>,
    dz: ArrayView2<f32>,
    dw: ArrayViewMut2<f32>,
    bufs: &mut GemmBuffers,
) {
    gemm(isa, x.t(), dz, dw, Epilogue::None, bufs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn forward_matches_a_float64_loop() {
        let spec = DenseSpec {
            units: 17,
            activation: Activation::Tanh,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::GlorotUniform,
            ..DenseSpec::new(17, Activation::Tanh)
        };
        let mut params = ParamsBuilder::default();
        let layer = Dense::new(&spec, 7, &mut Rng::new(5), &mut params).unwrap();
        let params = params.finish().unwrap().values;
        let x = Array2::from_shape_fn((3, 7), |(i, j)| (i as f32 - j as f32) * 0.3);
        let mut y = Array2::zeros((3, 17));
        layer.forward(Isa::detect(), &params, x.view(), y.view_mut(), &mut GemmBuffers::default());
        let (kernel, bias) = (layer.kernel(&params), layer.bias.unwrap().of(&params));
        for i in 0..3 {
            for u in 0..17 {
                let z: f64 = (0..7).map(|j| x[[i, j]] as f64 * kernel[[j, u]] as f64).sum::<f64>() + bias[u] as f64;
                assert!((y[[i, u]] as f64 - z.tanh()).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn refuses_zero_sizes_and_absurd_ones_without_aborting() {
        let mut spec = DenseSpec {
            units: 0,
            activation: Activation::Relu,
            use_bias: true,
            kernel_initializer: Initializer::Zeros,
            bias_initializer: Initializer::Zeros,
            ..DenseSpec::new(1, Activation::Relu)
        };
        let code = |spec: &DenseSpec, input: usize| {
            Dense::new(spec, input, &mut Rng::new(0), &mut ParamsBuilder::default()).err().map(|e| e.code())
        };
        assert_eq!(code(&spec, 3), Some("ERR_FERRO_VALUE"));
        spec.units = usize::MAX / 4;
        assert_eq!(code(&spec, 8), Some("ERR_FERRO_VALUE"));
        spec.units = 1 << 40;
        assert_eq!(code(&spec, 1 << 20), Some("ERR_FERRO_VALUE"));
    }
}
