//! BatchNormalization over the feature axis, Keras's defaults and rules:
//! training normalises with the batch's mean and (biased) variance and moves
//! the moving statistics toward them by 1 − momentum; inference uses the
//! moving statistics. Weights in Keras's order: gamma, beta (trainable),
//! moving_mean, moving_variance (not trainable).

use super::{Backward, InputGrad, Pass};
use crate::error::{Error, Result};
use crate::params::{ParamRef, ParamsBuilder};
use ndarray::{s, ArrayView2, ArrayViewMut2};

#[derive(Clone, Debug)]
pub struct BatchNormSpec {
    pub momentum: f64,
    pub epsilon: f64,
    /// Whether beta is added (Keras's `center`).
    pub center: bool,
    /// Whether gamma multiplies (Keras's `scale`).
    pub scale: bool,
}

impl Default for BatchNormSpec {
    fn default() -> Self {
        BatchNormSpec { momentum: 0.99, epsilon: 1e-3, center: true, scale: true }
    }
}

#[derive(Clone, Debug)]
pub struct BatchNorm {
    pub momentum: f32,
    pub epsilon: f32,
    /// In the parameter arena; None without `scale` / `center`.
    pub gamma: Option<ParamRef>,
    pub beta: Option<ParamRef>,
    /// Not trainable: the layer keeps them.
    pub moving_mean: Vec<f32>,
    pub moving_variance: Vec<f32>,
}

/// Scratch slots a training forward pass fills for the backward pass and
/// the moving-statistics update.
const XHAT: usize = 0;
const MEAN: usize = 1;
const VARIANCE: usize = 2;
const INV_STD: usize = 3;

/// y = n·γ + β over one row, γ = 1 and β = 0 where the layer has none (the
/// same arithmetic in each case, so the same bits).
fn affine_row(y: &mut [f32], n: &[f32], gamma: Option<&[f32]>, beta: Option<&[f32]>) {
    match (gamma, beta) {
        (Some(g), Some(b)) => y.iter_mut().zip(n).zip(g).zip(b).for_each(|(((y, &n), &g), &b)| *y = n * g + b),
        (Some(g), None) => y.iter_mut().zip(n).zip(g).for_each(|((y, &n), &g)| *y = n * g + 0.0),
        (None, Some(b)) => y.iter_mut().zip(n).zip(b).for_each(|((y, &n), &b)| *y = n * 1.0 + b),
        (None, None) => y.iter_mut().zip(n).for_each(|(y, &n)| *y = n * 1.0 + 0.0),
    }
}

/// A row of a workspace buffer (or a block of one) as a slice, so the
/// loops over it vectorise.
fn contiguous<'a>(row: &'a ndarray::ArrayView1<'_, f32>) -> &'a [f32] {
    row.as_slice().expect("workspace rows are contiguous")
}

/// Columns summed side by side: one cache line of float32 per row, and
/// independent sums instead of one latency-bound chain per column.
const BLOCK: usize = 16;

impl BatchNorm {
    pub fn new(spec: &BatchNormSpec, width: usize, params: &mut ParamsBuilder) -> Result<BatchNorm> {
        if !(0.0..=1.0).contains(&spec.momentum) {
            return Err(Error::Value(format!("Expected momentum in [0, 1]. Received: momentum={}", spec.momentum)));
        }
        if !(spec.epsilon.is_finite() && spec.epsilon > 0.0) {
            return Err(Error::Value(format!("Expected a positive epsilon. Received: epsilon={}", spec.epsilon)));
        }
        if width == 0 {
            return Err(Error::Value("Expected a positive input width for BatchNormalization. Received: 0".into()));
        }
        let ones = |g: &mut [f32]| {
            g.fill(1.0);
            Ok(())
        };
        let gamma = if spec.scale { Some(params.add(&[width], "gamma", ones)?) } else { None };
        let beta = if spec.center { Some(params.add(&[width], "beta", |_| Ok(()))?) } else { None };
        // Checked like the parameters: without gamma and beta (center and
        // scale off), these are the first allocations a huge width reaches.
        let moving_mean = crate::alloc::zeroed(width, "BatchNormalization's moving mean")?;
        let mut moving_variance = crate::alloc::zeroed(width, "BatchNormalization's moving variance")?;
        moving_variance.fill(1.0);
        Ok(BatchNorm {
            momentum: spec.momentum as f32,
            epsilon: spec.epsilon as f32,
            gamma,
            beta,
            moving_mean,
            moving_variance,
        })
    }

    pub fn width(&self) -> usize {
        self.moving_mean.len()
    }

    /// gamma and beta (when present), then the moving statistics; each [width].
    pub fn weight_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![self.width()]; self.trainable().len() + 2]
    }

    pub fn trainable(&self) -> Vec<ParamRef> {
        self.gamma.into_iter().chain(self.beta).collect()
    }

    pub fn non_trainable(&self) -> Vec<&[f32]> {
        vec![&self.moving_mean, &self.moving_variance]
    }

    pub fn non_trainable_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.moving_mean, &mut self.moving_variance]
    }

    pub fn scratch_lens(&self, rows: usize, training: bool) -> Vec<usize> {
        let w = self.width();
        if training {
            vec![rows * w, w, w, w]
        } else {
            Vec::new()
        }
    }

    /// gamma and beta, 1 and 0 where the layer has none.
    fn affine<'p>(&self, params: &'p [f32]) -> (impl Fn(usize) -> f32 + 'p, impl Fn(usize) -> f32 + 'p) {
        let (gamma, beta) = (self.gamma.map(|g| g.of(params)), self.beta.map(|b| b.of(params)));
        (move |j: usize| gamma.map_or(1.0, |g| g[j]), move |j: usize| beta.map_or(0.0, |b| b[j]))
    }

    pub fn forward(
        &self,
        pass: Pass,
        params: &[f32],
        x: ArrayView2<f32>,
        mut y: ArrayViewMut2<f32>,
        scratch: &mut [Vec<f32>],
    ) {
        let (rows, w) = x.dim();
        let (gamma, beta) = self.affine(params);
        if !pass.training {
            for j in 0..w {
                let inv = 1.0 / (self.moving_variance[j] + self.epsilon).sqrt();
                let (mean, g, b) = (self.moving_mean[j], gamma(j), beta(j));
                y.column_mut(j).zip_mut_with(&x.column(j), |y, &x| *y = (x - mean) * inv * g + b);
            }
            return;
        }
        let [xhat, mean, variance, inv_std] = scratch else { unreachable!("four scratch buffers") };
        // Each column summed in float64, rows in order: the same bits at any
        // thread count, and nothing allocated per step. A block of columns
        // at a time (see BLOCK), on the stack.
        for j0 in (0..w).step_by(BLOCK) {
            let cols = x.slice(s![.., j0..(j0 + BLOCK).min(w)]);
            let mut sums = [0f64; BLOCK];
            for row in cols.rows() {
                sums.iter_mut().zip(contiguous(&row)).for_each(|(s, &v)| *s += v as f64);
            }
            let mean = &mut mean[j0..j0 + cols.ncols()];
            mean.iter_mut().zip(sums).for_each(|(m, s)| *m = (s / rows as f64) as f32);
            let mut squares = [0f64; BLOCK];
            for row in cols.rows() {
                let row = contiguous(&row);
                squares.iter_mut().zip(row).zip(&*mean).for_each(|((q, &v), &m)| *q += ((v - m) as f64).powi(2));
            }
            for (k, q) in squares.into_iter().take(cols.ncols()).enumerate() {
                variance[j0 + k] = (q / rows as f64) as f32;
                inv_std[j0 + k] = 1.0 / (variance[j0 + k] + self.epsilon).sqrt();
            }
        }
        // Row by row over plain slices, so the loops vectorise.
        let (g, b) = (self.gamma.map(|p| p.of(params)), self.beta.map(|p| p.of(params)));
        for ((x, xh), mut y) in x.rows().into_iter().zip(xhat[..rows * w].chunks_exact_mut(w)).zip(y.rows_mut()) {
            for (((h, &x), &m), &s) in xh.iter_mut().zip(contiguous(&x)).zip(&*mean).zip(&*inv_std) {
                *h = (x - m) * s;
            }
            affine_row(y.as_slice_mut().expect("workspace rows are contiguous"), xh, g, b);
        }
    }

    /// dgamma = Σ dy·x̂, dbeta = Σ dy, and
    /// dx = γ·σ⁻¹/n · (n·dy − dbeta − x̂·dgamma).
    pub fn backward(&self, params: &[f32], b: Backward) {
        let Backward { dy, input, dparams, scratch, .. } = b;
        let (gamma, _) = self.affine(params);
        let (rows, w) = dy.dim();
        let xhat = ArrayView2::from_shape((rows, w), &scratch[XHAT][..rows * w]).expect("sized");
        let mut dx = input.map(|InputGrad { dx, .. }| dx);
        let n = rows as f32;
        // Each column's sums run over the rows in order (the bits of a
        // column-at-a-time loop), a block of columns at a time, so nothing is
        // allocated per step.
        for j0 in (0..w).step_by(BLOCK) {
            let j1 = (j0 + BLOCK).min(w);
            let (g, xh) = (dy.slice(s![.., j0..j1]), xhat.slice(s![.., j0..j1]));
            let (mut dgamma, mut dbeta) = ([0f32; BLOCK], [0f32; BLOCK]);
            for (g, xh) in g.rows().into_iter().zip(xh.rows()) {
                let (g, xh) = (contiguous(&g), contiguous(&xh));
                for k in 0..g.len() {
                    dgamma[k] += g[k] * xh[k];
                    dbeta[k] += g[k];
                }
            }
            if let Some(p) = self.gamma {
                p.of_mut(dparams)[j0..j1].copy_from_slice(&dgamma[..j1 - j0]);
            }
            if let Some(p) = self.beta {
                p.of_mut(dparams)[j0..j1].copy_from_slice(&dbeta[..j1 - j0]);
            }
            if let Some(dx) = dx.as_mut() {
                let k: [f32; BLOCK] =
                    std::array::from_fn(
                        |k| if j0 + k < j1 { gamma(j0 + k) * scratch[INV_STD][j0 + k] / n } else { 0.0 },
                    );
                let mut dx = dx.slice_mut(s![.., j0..j1]);
                for ((mut d, g), xh) in dx.rows_mut().into_iter().zip(g.rows()).zip(xh.rows()) {
                    let (d, g, xh) =
                        (d.as_slice_mut().expect("workspace rows are contiguous"), contiguous(&g), contiguous(&xh));
                    for c in 0..d.len() {
                        d[c] = k[c] * (n * g[c] - dbeta[c] - xh[c] * dgamma[c]);
                    }
                }
            }
        }
    }

    /// moving ← moving·momentum + batch·(1 − momentum), as Keras 3.
    pub fn update_moving_statistics(&mut self, scratch: &[Vec<f32>]) {
        let m = self.momentum;
        for (moving, batch) in
            [(&mut self.moving_mean, &scratch[MEAN]), (&mut self.moving_variance, &scratch[VARIANCE])]
        {
            moving.iter_mut().zip(batch.iter()).for_each(|(v, &b)| *v = *v * m + b * (1.0 - m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{GemmBuffers, Isa};
    use ndarray::Array2;

    fn pass(training: bool) -> Pass {
        Pass { isa: Isa::detect(), training, step: 0 }
    }

    /// The layer and its arena: gamma, then beta.
    fn layer() -> (BatchNorm, Vec<f32>) {
        let mut builder = ParamsBuilder::default();
        let bn = BatchNorm::new(&BatchNormSpec::default(), 4, &mut builder).unwrap();
        let mut params = builder.finish().unwrap().values;
        params.copy_from_slice(&[1.5, -0.5, 2.0, 0.7, 0.1, 0.2, -0.3, 0.0]);
        (bn, params)
    }

    fn input() -> Array2<f32> {
        Array2::from_shape_fn((6, 4), |(i, j)| ((i * 4 + j) as f32 * 0.77).sin() * (j + 1) as f32)
    }

    fn forward(bn: &BatchNorm, params: &[f32], x: &Array2<f32>, scratch: &mut [Vec<f32>]) -> Array2<f32> {
        let mut y = Array2::zeros(x.raw_dim());
        bn.forward(pass(true), params, x.view(), y.view_mut(), scratch);
        y
    }

    #[test]
    fn training_normalises_with_batch_statistics_in_float64() {
        let ((bn, params), x) = (layer(), input());
        let mut scratch: Vec<Vec<f32>> = bn.scratch_lens(6, true).into_iter().map(|n| vec![0.0; n]).collect();
        let y = forward(&bn, &params, &x, &mut scratch);
        for j in 0..4 {
            let col: Vec<f64> = x.column(j).iter().map(|&v| v as f64).collect();
            let mean = col.iter().sum::<f64>() / 6.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0;
            for i in 0..6 {
                let want = (col[i] - mean) / (var + 1e-3).sqrt() * params[j] as f64 + params[4 + j] as f64;
                assert!((y[[i, j]] as f64 - want).abs() < 1e-5);
            }
        }
        let mut moved = bn.clone();
        moved.update_moving_statistics(&scratch);
        assert!((moved.moving_mean[1] - 0.01 * scratch[MEAN][1]).abs() < 1e-7);
        assert!((moved.moving_variance[1] - (0.99 + 0.01 * scratch[VARIANCE][1])).abs() < 1e-6);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let ((bn, params), x) = (layer(), input());
        let g = Array2::from_shape_fn((6, 4), |(i, j)| ((i + 2 * j) as f32 * 0.41).cos());
        let lens = bn.scratch_lens(6, true);
        let mut scratch: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0; n]).collect();
        let y = forward(&bn, &params, &x, &mut scratch);
        let mut dy = g.clone();
        let mut dx = Array2::zeros((6, 4));
        let mut dparams = vec![0.0; 8];
        bn.backward(
            &params,
            Backward {
                x: x.view(),
                y: y.view(),
                dy: dy.view_mut(),
                at_preactivation: true,
                input: Some(InputGrad { dx: dx.view_mut(), fold: None, panels: None }),
                dparams: &mut dparams,
                scratch: &mut scratch,
                gemm: &mut GemmBuffers::default(),
                gemm_side: &mut GemmBuffers::default(),
                kernel_tiles: None,
                dy_panels: None,
            },
        );
        let objective = |params: &[f32], x: &Array2<f32>| {
            let mut s: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0; n]).collect();
            (&forward(&bn, params, x, &mut s) * &g).iter().map(|&v| v as f64).sum::<f64>()
        };
        let h = 1e-2f32;
        for i in 0..6 {
            for j in 0..4 {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[[i, j]] += h;
                down[[i, j]] -= h;
                let fd = (objective(&params, &up) - objective(&params, &down)) / (2.0 * h as f64);
                assert!((fd - dx[[i, j]] as f64).abs() < 3e-3, "dx[{i},{j}] {} vs {fd}", dx[[i, j]]);
            }
        }
        // gamma's gradients, then beta's.
        for (k, &got) in dparams.iter().enumerate() {
            let (mut up, mut down) = (params.clone(), params.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (objective(&up, &x) - objective(&down, &x)) / (2.0 * h as f64);
            assert!((fd - got as f64).abs() < 2e-3, "dparams[{k}]");
        }
    }

    #[test]
    fn inference_uses_the_moving_statistics() {
        let (mut bn, params) = layer();
        bn.moving_mean = vec![0.5, -1.0, 0.0, 2.0];
        bn.moving_variance = vec![4.0, 0.25, 1.0, 9.0];
        let x = input();
        let mut y = Array2::zeros(x.raw_dim());
        bn.forward(pass(false), &params, x.view(), y.view_mut(), &mut []);
        for j in 0..4 {
            let inv = 1.0 / (bn.moving_variance[j] as f64 + 1e-3).sqrt();
            for i in 0..6 {
                let want =
                    (x[[i, j]] as f64 - bn.moving_mean[j] as f64) * inv * params[j] as f64 + params[4 + j] as f64;
                assert!((y[[i, j]] as f64 - want).abs() < 1e-5);
            }
        }
    }
}
