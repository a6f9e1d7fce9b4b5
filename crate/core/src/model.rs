//! A Sequential stack of Dense layers with its compiled loss and optimizer.
//! Training and inference live in `train.rs`.

use crate::error::{Error, Result};
use crate::kernels::Isa;
use crate::layers::{Dense, DenseSpec};
use crate::losses::{Loss, LossOptions, LossTotals};
use crate::metrics::Metric;
use crate::optimizers::{Optimizer, OptimizerConfig};
use crate::rng::Rng;
use crate::workspace::Spares;

pub struct Model {
    pub layers: Vec<Dense>,
    pub(crate) optimizer: Option<Optimizer>,
    pub(crate) loss: Option<Loss>,
    /// Compiled metrics besides accuracy, reported in this order.
    pub(crate) metrics: Vec<Metric>,
    /// fromLogits and labelSmoothing of the compiled loss.
    pub(crate) loss_options: LossOptions,
    pub(crate) isa: Isa,
    /// Inference workspaces kept between predict/evaluate calls.
    pub(crate) spares: Spares,
}

/// One weight tensor as it crosses the API: shape and row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Model {
    /// Builds every layer for inputs of `input_dim` features, drawing the
    /// initial weights from `seed`.
    pub fn new(input_dim: usize, specs: &[DenseSpec], seed: u64) -> Result<Model> {
        if specs.is_empty() {
            return Err(Error::State("A Sequential model needs at least one layer before it can be built.".into()));
        }
        if input_dim == 0 {
            return Err(Error::Value(format!("Expected a positive input dimension. Received: inputDim={input_dim}")));
        }
        let mut rng = Rng::new(seed);
        let mut layers = Vec::with_capacity(specs.len());
        let mut dim = input_dim;
        for spec in specs {
            let layer = Dense::new(spec, dim, &mut rng)?;
            dim = layer.units();
            layers.push(layer);
        }
        Ok(Model {
            layers,
            optimizer: None,
            loss: None,
            metrics: Vec::new(),
            loss_options: LossOptions::default(),
            isa: Isa::detect(),
            spares: Spares::default(),
        })
    }

    pub fn input_dim(&self) -> usize {
        self.layers[0].input_dim()
    }

    pub fn output_dim(&self) -> usize {
        self.layers.last().expect("a model has layers").units()
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Chooses the microkernel (tests race the SIMD and scalar paths).
    pub fn set_isa(&mut self, isa: Isa) {
        self.isa = isa;
    }

    /// Sets the optimizer (fresh state) and the loss.
    pub fn compile(&mut self, optimizer: impl Into<OptimizerConfig>, loss: Loss) -> Result<()> {
        self.optimizer = Some(Optimizer::new(optimizer.into())?);
        self.loss = Some(loss);
        self.metrics.clear();
        self.loss_options = LossOptions::default();
        Ok(())
    }

    /// Sets the compiled loss's fromLogits and labelSmoothing (Keras's
    /// from_logits, label_smoothing); refused for losses without them.
    pub fn set_loss_options(&mut self, options: LossOptions) -> Result<()> {
        let loss =
            self.loss.ok_or_else(|| Error::State("You must call compile() before setting loss options.".into()))?;
        if !(0.0..=1.0).contains(&options.label_smoothing) {
            return Err(Error::Value(format!(
                "Expected labelSmoothing in [0, 1]. Received: {}",
                options.label_smoothing
            )));
        }
        if !loss.takes(options) {
            return Err(Error::Value(format!("Expected options the loss {loss:?} has. Received: {options:?}")));
        }
        self.loss_options = options;
        Ok(())
    }

    /// Sets the metrics reported besides loss and accuracy (Keras's names).
    pub fn set_metrics(&mut self, names: &[String]) -> Result<()> {
        let loss = self.loss.ok_or_else(|| Error::State("You must call compile() before setting metrics.".into()))?;
        let metrics = names.iter().map(|n| Metric::parse(n, loss)).collect::<Result<Vec<_>>>()?;
        if !crate::metrics::fit(&metrics) {
            return Err(Error::Value(format!("Expected each metric at most once. Received: {}", names.join(", "))));
        }
        self.metrics = metrics;
        Ok(())
    }

    /// The compiled metrics besides accuracy, in compile order.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Each compiled metric's value from batch or epoch totals.
    pub fn metric_values(&self, totals: &LossTotals) -> Vec<f64> {
        crate::metrics::values(&self.metrics, totals)
    }

    /// The compiled optimizer: its iteration count and named state.
    pub fn optimizer(&self) -> Option<&Optimizer> {
        self.optimizer.as_ref()
    }

    /// The compiled optimizer, to change its learning rate.
    pub fn optimizer_mut(&mut self) -> Result<&mut Optimizer> {
        self.optimizer
            .as_mut()
            .ok_or_else(|| Error::State("You must call compile() first: there is no optimizer.".into()))
    }

    pub fn is_compiled(&self) -> bool {
        self.optimizer.is_some()
    }

    pub fn param_count(&self) -> usize {
        self.layers.iter().map(Dense::param_count).sum()
    }

    /// Kernel then bias of each layer, in layer order, like Keras.
    pub fn weights(&self) -> Vec<WeightTensor> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.push(WeightTensor { shape: l.kernel.shape().to_vec(), data: l.kernel.iter().copied().collect() });
            if l.use_bias {
                out.push(WeightTensor { shape: vec![l.bias.len()], data: l.bias.to_vec() });
            }
        }
        out
    }

    /// Replaces every weight; checks count and shapes before touching any.
    pub fn set_weights(&mut self, weights: Vec<WeightTensor>) -> Result<()> {
        let expected: Vec<Vec<usize>> = self.weights_shapes();
        if weights.len() != expected.len() {
            return Err(Error::Value(format!(
                "Expected {} weight tensors (kernel and bias of each layer). Received: {}",
                expected.len(),
                weights.len()
            )));
        }
        for (i, (w, shape)) in weights.iter().zip(&expected).enumerate() {
            if &w.shape != shape || w.data.len() != shape.iter().product::<usize>() {
                return Err(Error::Shape(format!(
                    "Expected weight {i} of shape {shape:?}. Received: shape {:?} with {} values",
                    w.shape,
                    w.data.len()
                )));
            }
        }
        let mut it = weights.into_iter();
        for l in &mut self.layers {
            let k = it.next().expect("count was checked");
            l.kernel.as_slice_mut().expect("kernel is contiguous").copy_from_slice(&k.data);
            if l.use_bias {
                l.bias
                    .as_slice_mut()
                    .expect("bias is contiguous")
                    .copy_from_slice(&it.next().expect("count was checked").data);
            }
        }
        Ok(())
    }

    fn weights_shapes(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.push(l.kernel.shape().to_vec());
            if l.use_bias {
                out.push(vec![l.bias.len()]);
            }
        }
        out
    }
}
