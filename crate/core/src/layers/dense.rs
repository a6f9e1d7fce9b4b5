//! Dense: y = f(x·W + b), W of shape [input_dim, units] as in Keras.
//! Forward and backward side by side; both run on caller-owned buffers.

use super::initializers::Initializer;
use super::regularizer::Regularizer;
use crate::alloc::{checked_len, zeroed};
use crate::error::{Error, Result};
use crate::kernels::{gemm, softmax_backward_rows, softmax_rows, Activation, Epilogue, GemmBuffers, Isa};
use crate::rng::Rng;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2};

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
    pub use_bias: bool,
    pub kernel: Array2<f32>,
    /// Empty when `use_bias` is false.
    pub bias: Array1<f32>,
    pub kernel_regularizer: Regularizer,
    pub bias_regularizer: Regularizer,
}

impl Dense {
    pub fn new(spec: &DenseSpec, input_dim: usize, rng: &mut Rng) -> Result<Dense> {
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
        let len = checked_len(&[input_dim, spec.units], "a Dense kernel")?;
        let mut kernel = zeroed::<f32>(len, "a Dense kernel")?;
        spec.kernel_initializer.fill(&mut kernel, input_dim, spec.units, rng);
        let mut bias = zeroed::<f32>(if spec.use_bias { spec.units } else { 0 }, "a Dense bias")?;
        spec.bias_initializer.fill(&mut bias, spec.units, spec.units, rng);
        Ok(Dense {
            activation: spec.activation,
            use_bias: spec.use_bias,
            kernel: Array2::from_shape_vec((input_dim, spec.units), kernel).expect("length was checked"),
            bias: Array1::from_vec(bias),
            kernel_regularizer: spec.kernel_regularizer,
            bias_regularizer: spec.bias_regularizer,
        })
    }

    pub fn input_dim(&self) -> usize {
        self.kernel.nrows()
    }

    pub fn units(&self) -> usize {
        self.kernel.ncols()
    }

    pub fn param_count(&self) -> usize {
        self.kernel.len() + self.bias.len()
    }

    /// y = f(x·W + b); bias and any elementwise activation are fused into
    /// the GEMM's epilogue, softmax runs on the finished rows.
    pub fn forward(&self, isa: Isa, x: ArrayView2<f32>, mut y: ArrayViewMut2<f32>, bufs: &mut GemmBuffers) {
        let fused = if self.activation.is_elementwise() { self.activation } else { Activation::Linear };
        let bias = self.use_bias.then(|| self.bias.as_slice().expect("bias is contiguous"));
        gemm(isa, x, self.kernel.view(), y.view_mut(), Epilogue::BiasActivation { bias, activation: fused }, bufs);
        if self.activation == Activation::Softmax {
            softmax_rows(y);
        }
    }

    /// The gradient at the previous layer's pre-activation, from dZ (the
    /// gradient at this layer's): (dZ·Wᵀ) ⊙ f'_prev(x), where x is the
    /// previous layer's output, with f'_prev fused into the GEMM's epilogue.
    /// The first layer never needs this: its input takes no gradient.
    pub fn input_gradient(
        &self,
        isa: Isa,
        x: ArrayView2<f32>,
        dz: ArrayView2<f32>,
        mut dx: ArrayViewMut2<f32>,
        prev: Activation,
        bufs: &mut GemmBuffers,
    ) {
        if prev.is_elementwise() {
            let ep = Epilogue::ActivationGrad { output: x, activation: prev };
            gemm(isa, dz, self.kernel.t(), dx.view_mut(), ep, bufs);
        } else {
            gemm(isa, dz, self.kernel.t(), dx.view_mut(), Epilogue::None, bufs);
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

/// out[j] = Σ_i m[i, j], summed row by row in a fixed order.
pub fn column_sums(m: ArrayView2<f32>, mut out: ArrayViewMut1<f32>) {
    out.fill(0.0);
    for row in m.rows() {
        out.zip_mut_with(&row, |o, &v| *o += v);
    }
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
        let layer = Dense::new(&spec, 7, &mut Rng::new(5)).unwrap();
        let x = Array2::from_shape_fn((3, 7), |(i, j)| (i as f32 - j as f32) * 0.3);
        let mut y = Array2::zeros((3, 17));
        layer.forward(Isa::detect(), x.view(), y.view_mut(), &mut GemmBuffers::default());
        for i in 0..3 {
            for u in 0..17 {
                let z: f64 =
                    (0..7).map(|j| x[[i, j]] as f64 * layer.kernel[[j, u]] as f64).sum::<f64>() + layer.bias[u] as f64;
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
        assert_eq!(Dense::new(&spec, 3, &mut Rng::new(0)).err().map(|e| e.code()), Some("ERR_FERRO_VALUE"));
        spec.units = usize::MAX / 4;
        assert_eq!(Dense::new(&spec, 8, &mut Rng::new(0)).err().map(|e| e.code()), Some("ERR_FERRO_VALUE"));
        spec.units = 1 << 40;
        assert_eq!(Dense::new(&spec, 1 << 20, &mut Rng::new(0)).err().map(|e| e.code()), Some("ERR_FERRO_VALUE"));
    }
}
