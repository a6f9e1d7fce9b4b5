//! A Sequential stack of layers with its compiled loss and optimizer, and
//! the plan of which neighbours fuse. Training and inference live in
//! `train.rs`.

use crate::error::{Error, Result};
use crate::kernels::bf16::Bf16Kernel;
use crate::kernels::{Activation, Isa};
use crate::layers::{DenseSpec, Layer, LayerSpec};
use crate::losses::{Loss, LossOptions, LossTotals};
use crate::metrics::Metric;
use crate::optimizers::{Optimizer, OptimizerConfig};
use crate::params::{Params, ParamsBuilder};
use crate::rng::Rng;
use crate::workspace::Spares;

pub struct Model {
    pub layers: Vec<Layer>,
    /// Every trainable weight, in one arena (the layers hold where theirs are).
    pub params: Params,
    pub(crate) plan: Plan,
    pub(crate) optimizer: Option<Optimizer>,
    pub(crate) loss: Option<Loss>,
    /// Compiled metrics besides accuracy, reported in this order.
    pub(crate) metrics: Vec<Metric>,
    /// The names compile gave them (Keras logs them so).
    pub(crate) metric_names: Vec<String>,
    /// fromLogits and labelSmoothing of the compiled loss.
    pub(crate) loss_options: LossOptions,
    pub(crate) isa: Isa,
    /// Under mixed_bfloat16 (and a CPU with AMX or AVX512_BF16), the kernel of the
    /// wide products; float32 weights, gradients and sums either way.
    pub(crate) mixed: Option<Bf16Kernel>,
    /// Inference workspaces kept between predict/evaluate calls.
    pub(crate) spares: Spares,
    /// First kernels of at least this many weights are kept packed across
    /// a fit's steps (`Workspace::keep_first_kernel`); tests move it.
    pub(crate) keep_packed_from: usize,
    /// Whether a fit under mixed_bfloat16 on AMX keeps the first kernel's
    /// bfloat16 words across steps (`KeptBf16`); off only in tests.
    pub(crate) keep_bf16: bool,
    /// Whether a fit packs each batch for the first layer's GEMMs while
    /// gathering it (`Workspace::pack_batches_ahead`); off only in tests.
    pub(crate) pack_ahead: bool,
    /// A fit's `advance` updates the first kernel inside its gradient GEMM
    /// (tiled_kernel.rs) when it runs at least this many batches
    /// (`usize::MAX`: never); tests move it.
    pub(crate) tiled_from: usize,
}

/// The fusions the executor applies between neighbours, decided once from
/// the layers (the peepholes of train.rs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Whether the gradient written into layer l's output gradient is
    /// already at its pre-activation: folded in by the next (Dense) layer's
    /// dX epilogue, or, for the last layer, by the loss's gradient.
    pub at_preactivation: Vec<bool>,
    /// For a Dense layer l > 0: the activation of layer l − 1 to fold into
    /// its dX epilogue.
    pub fold: Vec<Option<Activation>>,
    /// Whether a tiled step (tiled_kernel.rs) has layer 1's dX GEMM write
    /// the gradient at layer 0's pre-activation straight into the panels
    /// layer 0's kernel-gradient GEMM reads as its B (`gemm_into_panels`):
    /// both Dense, with layer 0's activation folded into that GEMM's
    /// epilogue (or none). That GEMM then packs nothing: 128×512 floats
    /// per step for the seed model.
    pub first_grad_in_panels: bool,
}

impl Plan {
    fn new(layers: &[Layer]) -> Plan {
        let n = layers.len();
        let mut plan = Plan { at_preactivation: vec![false; n], fold: vec![None; n], first_grad_in_panels: false };
        for l in 0..n {
            let a = layers[l].activation();
            let foldable = !a.needs_input();
            if l + 1 < n {
                let next_dense = layers[l + 1].as_dense().is_some();
                plan.fold[l + 1] = (next_dense && foldable && a != Activation::Linear).then_some(a);
                plan.at_preactivation[l] = a == Activation::Linear || plan.fold[l + 1].is_some();
            } else {
                plan.at_preactivation[l] = foldable;
            }
        }
        plan.first_grad_in_panels = n >= 2
            && layers[0].as_dense().is_some()
            && layers[1].as_dense().is_some()
            && plan.at_preactivation[0]
            && plan.fold[1].is_none_or(|a| a.is_elementwise());
        plan
    }
}

/// One weight tensor as it crosses the API: shape and row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Model {
    /// A stack of Dense layers (see `build`).
    pub fn new(input_dim: usize, specs: &[DenseSpec], seed: u64) -> Result<Model> {
        let specs: Vec<LayerSpec> = specs.iter().cloned().map(LayerSpec::from).collect();
        Model::build(input_dim, &specs, seed)
    }

    /// Builds every layer for inputs of `input_dim` features, drawing the
    /// initial weights (and Dropout seeds) from `seed`.
    pub fn build(input_dim: usize, specs: &[LayerSpec], seed: u64) -> Result<Model> {
        if specs.is_empty() {
            return Err(Error::State("A Sequential model needs at least one layer before it can be built.".into()));
        }
        if input_dim == 0 {
            return Err(Error::Value(format!("Expected a positive input dimension. Received: inputDim={input_dim}")));
        }
        let mut rng = Rng::new(seed);
        let mut params = ParamsBuilder::default();
        let mut layers = Vec::with_capacity(specs.len());
        let mut dim = input_dim;
        for (l, spec) in specs.iter().enumerate() {
            params.set_layer(l);
            let layer = Layer::new(spec, dim, &mut rng, &mut params)?;
            dim = layer.units();
            layers.push(layer);
        }
        Ok(Model {
            params: params.finish()?,
            plan: Plan::new(&layers),
            layers,
            optimizer: None,
            loss: None,
            metrics: Vec::new(),
            metric_names: Vec::new(),
            loss_options: LossOptions::default(),
            isa: Isa::detect(),
            mixed: None,
            spares: Spares::default(),
            keep_packed_from: crate::workspace::KEEP_PACKED_MIN,
            keep_bf16: true,
            pack_ahead: true,
            tiled_from: crate::tiled_kernel::MIN_TILED_STEPS,
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

    /// Keras's mixed_bfloat16 (`Some`: the wide products through that
    /// kernel) or float32 (`None`). Affects workspaces made afterwards, so
    /// the kept inference ones are dropped.
    pub fn set_mixed_bfloat16(&mut self, kernel: Option<Bf16Kernel>) {
        self.mixed = kernel;
        self.spares = Spares::default();
    }

    pub fn mixed_bfloat16(&self) -> Option<Bf16Kernel> {
        self.mixed
    }

    /// Sets the optimizer (fresh state) and the loss, without options or
    /// metrics.
    pub fn compile(&mut self, optimizer: impl Into<OptimizerConfig>, loss: Loss) -> Result<()> {
        self.apply_compilation(Compilation::new(optimizer, loss, LossOptions::default(), &[])?);
        Ok(())
    }

    /// Applies a compile checked whole beforehand, so that a refused one
    /// leaves the model as it was (as in Keras).
    pub fn apply_compilation(&mut self, c: Compilation) {
        self.optimizer = Some(c.optimizer);
        self.loss = Some(c.loss);
        self.loss_options = c.options;
        self.metrics = c.metrics;
        self.metric_names = c.metric_names;
    }

    /// The compiled metrics besides accuracy, in compile order.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// What names batch and epoch totals in logs.
    pub fn logger(&self) -> crate::metrics::Logger {
        crate::metrics::Logger { metrics: self.metrics.clone(), names: self.metric_names.clone() }
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

    /// The optimizer's slots for this model's parameters, by tensor and
    /// Keras's slot name (their starting values if no step has built them).
    /// It reads only, so that a save works beside running predicts.
    pub fn optimizer_slots(&self) -> Result<Vec<(usize, &'static str, Vec<f32>)>> {
        self.require_compiled()?;
        Ok(self.optimizer.as_ref().expect("compiled").state(&self.param_refs()))
    }

    /// Restores a saved optimizer: its step count, Nadam's product and the
    /// slots given (others keep their starting values).
    pub fn restore_optimizer(
        &mut self,
        iterations: u64,
        u_product: f32,
        slots: &[(usize, String, Vec<f32>)],
    ) -> Result<()> {
        if iterations > crate::optimizers::MAX_ITERATIONS {
            return Err(Error::Value(format!(
                "Expected an optimizer iteration count of at most 2^53. Received: iterations={iterations}"
            )));
        }
        self.require_compiled()?;
        self.build_optimizer()?;
        let opt = self.optimizer.as_mut().expect("compiled");
        for (index, name, values) in slots {
            opt.set_slot(*index, name, values)?;
        }
        opt.restore_counters(iterations, u_product);
        Ok(())
    }

    pub fn is_compiled(&self) -> bool {
        self.optimizer.is_some()
    }

    pub fn param_count(&self) -> usize {
        self.layers.iter().map(Layer::param_count).sum()
    }

    /// Every layer's weights, in layer order, each layer's as Keras orders
    /// them (Dense: kernel, bias; BatchNormalization: gamma, beta,
    /// moving_mean, moving_variance).
    pub fn weights(&self) -> Vec<WeightTensor> {
        self.layers.iter().flat_map(|l| l.weights(&self.params.values)).collect()
    }

    /// Replaces every weight; checks count and shapes before touching any.
    pub fn set_weights(&mut self, weights: Vec<WeightTensor>) -> Result<()> {
        check_weights(&self.weights_shapes(), &weights, "every layer's, in order")?;
        let mut it = weights.into_iter();
        for l in &mut self.layers {
            write_layer(l, &mut self.params.values, &mut it);
        }
        self.params.bump_version();
        Ok(())
    }

    /// Layer `index`'s weights, as `weights()` lists them; copies that
    /// layer's only.
    pub fn layer_weights(&self, index: usize) -> Result<Vec<WeightTensor>> {
        Ok(self.layer(index)?.weights(&self.params.values))
    }

    /// Replaces layer `index`'s weights; checks count and shapes before
    /// touching any.
    pub fn set_layer_weights(&mut self, index: usize, weights: Vec<WeightTensor>) -> Result<()> {
        check_weights(&self.layer(index)?.weight_shapes(), &weights, "the layer's, in order")?;
        write_layer(&mut self.layers[index], &mut self.params.values, &mut weights.into_iter());
        self.params.bump_version();
        Ok(())
    }

    fn layer(&self, index: usize) -> Result<&Layer> {
        self.layers.get(index).ok_or_else(|| {
            Error::Value(format!("Expected a layer index below {}. Received: {index}", self.layers.len()))
        })
    }

    fn weights_shapes(&self) -> Vec<Vec<usize>> {
        self.layers.iter().flat_map(Layer::weight_shapes).collect()
    }
}

/// Checks `weights` against `expected` shapes, count first.
fn check_weights(expected: &[Vec<usize>], weights: &[WeightTensor], whose: &str) -> Result<()> {
    if weights.len() != expected.len() {
        return Err(Error::Value(format!(
            "Expected {} weight tensors ({whose}). Received: {}",
            expected.len(),
            weights.len()
        )));
    }
    for (i, (w, shape)) in weights.iter().zip(expected).enumerate() {
        if &w.shape != shape || w.data.len() != shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "Expected weight {i} of shape {shape:?}. Received: shape {:?} with {} values",
                w.shape,
                w.data.len()
            )));
        }
    }
    Ok(())
}

/// Writes one layer's weights, trainable then not, from `it` (checked).
fn write_layer(l: &mut Layer, params: &mut [f32], it: &mut impl Iterator<Item = WeightTensor>) {
    for r in l.trainable() {
        r.of_mut(params).copy_from_slice(&it.next().expect("count was checked").data);
    }
    for dst in l.non_trainable_mut() {
        dst.copy_from_slice(&it.next().expect("count was checked").data);
    }
}

/// What a compile sets — the optimizer (fresh state), the loss with its
/// options, and the metrics reported besides loss and accuracy — checked
/// as a whole before any of it reaches a model.
pub struct Compilation {
    optimizer: Optimizer,
    loss: Loss,
    options: LossOptions,
    metrics: Vec<Metric>,
    metric_names: Vec<String>,
}

impl Compilation {
    /// Refuses options the loss does not have (fromLogits, labelSmoothing:
    /// Keras's from_logits, label_smoothing) and metrics by name (Keras's
    /// names) that do not fit the loss or come twice.
    pub fn new(
        optimizer: impl Into<OptimizerConfig>,
        loss: Loss,
        options: LossOptions,
        metric_names: &[String],
    ) -> Result<Compilation> {
        let optimizer = Optimizer::new(optimizer.into())?;
        if !(0.0..=1.0).contains(&options.label_smoothing) {
            return Err(Error::Value(format!(
                "Expected labelSmoothing in [0, 1]. Received: {}",
                options.label_smoothing
            )));
        }
        if !loss.takes(options) {
            return Err(Error::Value(format!("Expected options the loss {loss:?} has. Received: {options:?}")));
        }
        let metrics = metric_names.iter().map(|n| Metric::parse(n, loss)).collect::<Result<Vec<_>>>()?;
        if !crate::metrics::fit(&metrics) {
            return Err(Error::Value(format!(
                "Expected each metric at most once. Received: {}",
                metric_names.join(", ")
            )));
        }
        Ok(Compilation { optimizer, loss, options, metrics, metric_names: metric_names.to_vec() })
    }
}
