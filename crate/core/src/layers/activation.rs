//! Activation: y = f(x), Keras's `Activation` layer. Its backward reads the
//! input itself for gelu and silu, so it needs no scratch.

use super::{to_preactivation, Backward, InputGrad};
use crate::error::{Error, Result};
use crate::kernels::activation::bias_activation;
use crate::kernels::{softmax_rows, Activation, Isa};
use ndarray::{ArrayView2, ArrayViewMut2};

#[derive(Clone, Debug)]
pub struct ActivationLayer {
    pub activation: Activation,
    pub width: usize,
}

impl ActivationLayer {
    pub fn new(activation: Activation, width: usize) -> Result<ActivationLayer> {
        if width == 0 {
            return Err(Error::Value("Expected a positive input width for an Activation layer. Received: 0".into()));
        }
        Ok(ActivationLayer { activation, width })
    }

    pub fn forward(&self, isa: Isa, x: ArrayView2<f32>, mut y: ArrayViewMut2<f32>) {
        y.assign(&x);
        if self.activation == Activation::Softmax {
            softmax_rows(isa, y);
        } else {
            bias_activation(isa, self.activation, y.as_slice_mut().expect("workspace buffers are contiguous"), &[]);
        }
    }

    /// The gradient at the input is the gradient at the pre-activation.
    pub fn backward(&self, isa: Isa, b: Backward) {
        let Backward { x, y, mut dy, at_preactivation, input, .. } = b;
        if !at_preactivation {
            to_preactivation(isa, self.activation, y, x.as_slice().expect("contiguous"), dy.view_mut());
        }
        if let Some(InputGrad { mut dx, fold, .. }) = input {
            debug_assert!(fold.is_none(), "only Dense folds the layer below's activation");
            dx.assign(&dy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::GemmBuffers;
    use ndarray::Array2;

    /// Backward from the output gradient against central differences of
    /// Σ g·f(x), for the activations that need their input and one that does not.
    #[test]
    fn backward_matches_finite_differences() {
        for activation in [Activation::Gelu, Activation::Silu, Activation::Tanh, Activation::Softmax] {
            let layer = ActivationLayer::new(activation, 5).unwrap();
            let x = Array2::from_shape_fn((3, 5), |(i, j)| (i as f32 * 0.7 - j as f32 * 0.45).sin() * 2.0);
            let g = Array2::from_shape_fn((3, 5), |(i, j)| ((i * 5 + j) as f32 * 0.37).cos());
            let mut y = Array2::zeros((3, 5));
            layer.forward(Isa::detect(), x.view(), y.view_mut());
            let mut dy = g.clone();
            let mut dx = Array2::zeros((3, 5));
            let (mut gemm, mut side) = (GemmBuffers::default(), GemmBuffers::default());
            layer.backward(
                Isa::detect(),
                Backward {
                    x: x.view(),
                    y: y.view(),
                    dy: dy.view_mut(),
                    at_preactivation: false,
                    input: Some(InputGrad { dx: dx.view_mut(), fold: None, panels: None }),
                    dparams: &mut [],
                    scratch: &mut [],
                    gemm: &mut gemm,
                    gemm_side: &mut side,
                    kernel_tiles: None,
                    dy_panels: None,
                },
            );
            let objective = |x: &Array2<f32>| {
                let mut y = Array2::zeros((3, 5));
                layer.forward(Isa::detect(), x.view(), y.view_mut());
                (&y * &g).iter().map(|&v| v as f64).sum::<f64>()
            };
            for i in 0..3 {
                for j in 0..5 {
                    let (mut up, mut down) = (x.clone(), x.clone());
                    up[[i, j]] += 1e-2;
                    down[[i, j]] -= 1e-2;
                    let fd = (objective(&up) - objective(&down)) / 2e-2;
                    assert!((fd - dx[[i, j]] as f64).abs() < 2e-3, "{activation:?} [{i},{j}]: {} vs {fd}", dx[[i, j]]);
                }
            }
        }
    }
}
