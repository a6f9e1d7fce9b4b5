//! One training step, evaluation and prediction; the epoch loop around the
//! step lives in `fit.rs`.

use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::kernels::bf16::PackedPairs;
use crate::kernels::pack::PanelWriter;
use crate::kernels::{Activation, GemmBuffers, Isa, PackedA, TileSink};
use crate::layers::{Backward, InputGrad, Layer, Pass};
use crate::losses::{Loss, LossTotals, Targets};
use crate::model::{Model, WeightTensor};
use crate::optimizers::{PanelSink, Panels, TileStep};
use crate::params::ParamRef;
use crate::step_profile::{time, time_ab, Phase};
use crate::tiled_kernel::TileTarget;
use crate::workspace::{view, view_mut, Workspace};
use rayon::prelude::*;
use std::ops::ControlFlow;

/// Inputs (row-major, rows × features), their targets (class ids, or a
/// float per output unit) and, optionally, a weight per sample (Keras's
/// `sample_weight`).
#[derive(Clone, Copy)]
pub struct Samples<'a> {
    pub x: Inputs<'a>,
    pub targets: Targets<'a>,
    pub weights: Option<&'a [f32]>,
}

impl<'a> Samples<'a> {
    /// Float32 rows and their labels.
    pub fn new(x: &'a [f32], labels: &'a [i32]) -> Self {
        Samples { x: Inputs::F32(x), targets: Targets::Classes(labels), weights: None }
    }

    /// Float32 rows and float targets, `width` per sample.
    pub fn with_values(x: &'a [f32], values: &'a [f32], width: usize) -> Self {
        Samples { x: Inputs::F32(x), targets: Targets::Values { data: values, width }, weights: None }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Checks the samples against the model: size, shape and label range.
    pub(crate) fn check(&self, model: &Model, what: &str) -> Result<()> {
        if self.is_empty() {
            return Err(Error::Value(format!("Expected at least one sample in {what}. Received: 0 samples")));
        }
        check_rows(&self.x, self.len(), model.input_dim(), what)?;
        if let Targets::Values { data, width } = self.targets {
            if width == 0 || data.len() % width != 0 {
                return Err(Error::Shape(format!(
                    "Expected {width} target values per sample in {what}. Received: {} values",
                    data.len()
                )));
            }
        }
        model.loss().check(self.targets, model.output_dim())?;
        match self.weights {
            Some(w) if w.len() != self.len() => Err(Error::Shape(format!(
                "Expected one sample weight per sample in {what} ({}). Received: {}",
                self.len(),
                w.len()
            ))),
            Some(w) => match w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                Some(i) => Err(Error::Value(format!(
                    "Expected finite, non-negative sample weights. Received: sampleWeight[{i}]={}",
                    w[i]
                ))),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

fn check_rows(x: &Inputs, rows: usize, features: usize, what: &str) -> Result<()> {
    if rows.checked_mul(features) != Some(x.len()) {
        return Err(Error::Shape(format!(
            "Expected {what} to hold {rows} rows of {features} features ({} values). Received: {} values",
            rows.saturating_mul(features),
            x.len()
        )));
    }
    Ok(())
}

impl Model {
    /// The compiled loss (the sparse crossentropy before compile, for
    /// inference-only checks).
    pub(crate) fn loss(&self) -> Loss {
        self.loss.unwrap_or(Loss::SparseCategoricalCrossentropy)
    }

    /// The first `b` gathered targets of a workspace, as the loss reads them.
    fn batch_targets<'w>(&self, labels: &'w [i32], values: &'w [f32], b: usize) -> Targets<'w> {
        if self.loss().uses_classes() {
            Targets::Classes(&labels[..b])
        } else {
            let k = self.output_dim();
            Targets::Values { data: &values[..b * k], width: k }
        }
    }

    /// The training step Dropout draws its masks for: the optimizer's
    /// iteration count, which a saved model carries, so a resumed fit draws
    /// the masks an uninterrupted one would.
    fn step(&self) -> u64 {
        self.optimizer.as_ref().map_or(0, |o| o.iterations())
    }

    pub(crate) fn require_compiled(&self) -> Result<()> {
        if self.is_compiled() {
            Ok(())
        } else {
            Err(Error::State("You must call compile() before using the model for training.".into()))
        }
    }

    /// A training workspace holding exactly `batch`, after the checks every
    /// single-batch call makes.
    fn batch_workspace(&self, batch: Samples) -> Result<Workspace> {
        self.require_compiled()?;
        batch.check(self, "the batch")?;
        let mut ws = Workspace::new(self, batch.len(), true)?;
        let all: Vec<usize> = (0..batch.len()).collect();
        ws.weighted = batch.weights.is_some();
        gather(self.isa, &mut ws.x, &mut ws.labels, &mut ws.values, &mut ws.weights, batch, &all, self.input_dim());
        Ok(ws)
    }

    /// One optimizer step on exactly these samples; loss and accuracy are
    /// measured before the update, as Keras reports them.
    pub fn train_on_batch(&mut self, batch: Samples) -> Result<LossTotals> {
        let mut ws = self.batch_workspace(batch)?;
        self.build_optimizer()?;
        Ok(self.train_step(&mut ws, batch.len(), None))
    }

    /// Loss totals and the gradient of the batch-mean loss for every
    /// trainable weight (in `weights()` order), without updating.
    pub fn gradients(&self, batch: Samples) -> Result<(LossTotals, Vec<WeightTensor>)> {
        let mut ws = self.batch_workspace(batch)?;
        let mut totals = self.compute_gradients(&mut ws, batch.len(), None, None);
        self.regularize(&mut ws, &mut totals, batch.len());
        let mut grads = Vec::new();
        for layer in &self.layers {
            for (shape, at) in layer.weight_shapes().into_iter().zip(layer.trainable()) {
                grads.push(WeightTensor { shape, data: at.of(&ws.dparams).to_vec() });
            }
        }
        Ok((totals, grads))
    }

    /// Mean loss and accuracy over `samples`, in batches of `batch_size`.
    pub fn evaluate(&self, samples: Samples, batch_size: usize) -> Result<LossTotals> {
        samples.check(self, "the evaluation data")?;
        let rows = positive_batch(batch_size)?.min(samples.len());
        let mut ws = self.spares.take(self, rows)?;
        let totals = self.evaluate_into(&mut ws, samples, rows, &mut || false);
        self.spares.give(ws);
        Ok(totals.expect("an evaluation nobody cancels runs to the end"))
    }

    /// The last layer's outputs for `x` (rows × features), rows × units.
    pub fn predict<'x>(&self, x: impl Into<Inputs<'x>>, rows: usize, batch_size: usize) -> Result<Vec<f32>> {
        let x = x.into();
        if rows == 0 {
            return Err(Error::Value("Expected at least one sample to predict. Received: 0 samples".into()));
        }
        check_rows(&x, rows, self.input_dim(), "the input")?;
        let units = self.output_dim();
        let mut out = crate::alloc::zeroed(crate::alloc::checked_len(&[rows, units], "predictions")?, "predictions")?;
        let chunk = positive_batch(batch_size)?.min(rows);
        let mut ws = self.spares.take(self, chunk)?;
        let whole = self.forward_chunks(&mut ws, x, rows, chunk, |start, b, outputs| {
            out[start * units..(start + b) * units].copy_from_slice(&outputs[..b * units]);
            ControlFlow::Continue(())
        });
        debug_assert!(whole.is_continue(), "nothing ends a predict early");
        self.spares.give(ws);
        Ok(out)
    }

    /// Whether predicting `rows` rows is little enough work to do whole on
    /// the calling thread (`pool::on_caller`): at most `rows::MAX_ROWS`
    /// rows, so the elementwise work is bounded by the layer widths, and
    /// products under `PARALLEL_MIN_FLOPS` in all (every weight is used
    /// about twice per row). The pool would split the read of a wide first
    /// kernel over its threads (rows.rs); on a VM whose idle vCPUs wake
    /// slowly, waking them cost more than that saved.
    pub fn predict_is_small(&self, rows: usize) -> bool {
        rows <= crate::kernels::rows::MAX_ROWS
            && rows.saturating_mul(2 * self.param_count()) < crate::kernels::params::PARALLEL_MIN_FLOPS
    }

    pub(crate) fn build_optimizer(&mut self) -> Result<()> {
        let tensors = self.param_refs();
        self.optimizer.as_mut().expect("compiled").build(&tensors)
    }

    /// Where each parameter tensor lies in the arena, in layout order: what
    /// the optimizer's slots are built for.
    pub(crate) fn param_refs(&self) -> Vec<ParamRef> {
        self.params.layout.iter().map(|p| p.at).collect()
    }

    /// The weight penalties of every layer (Keras adds them to the loss it reports).
    fn penalty(&self) -> f64 {
        self.layers.iter().map(|l| l.penalty(&self.params.values)).sum()
    }

    /// Adds the weight penalties to a batch's loss (once per sample, so that
    /// the mean carries it once) and their gradients to the weight gradients.
    fn regularize(&self, ws: &mut Workspace, totals: &mut LossTotals, b: usize) {
        if !self.layers.iter().any(Layer::has_penalty) {
            return;
        }
        totals.loss_sum += self.penalty() * b as f64;
        for layer in &self.layers {
            layer.add_penalty_gradient(&self.params.values, &mut ws.dparams);
        }
    }

    /// Loss and metric totals over `samples`, `rows` at a time; None when
    /// `cancelled` (asked between chunks) ends the pass early.
    pub(crate) fn evaluate_into(
        &self,
        ws: &mut Workspace,
        samples: Samples,
        rows: usize,
        cancelled: &mut dyn FnMut() -> bool,
    ) -> Option<LossTotals> {
        let mut totals = LossTotals::default();
        let ended = self.forward_chunks(ws, samples.x, samples.len(), rows, |start, b, outputs| {
            let out = view(outputs, b, self.output_dim());
            let targets = samples.targets.rows(start, start + b);
            let weights = samples.weights.map(|w| &w[start..start + b]);
            let mut t = self.loss().totals(out, targets, weights, self.loss_options);
            crate::metrics::accumulate(&self.metrics, out, targets, &mut t);
            totals.add(t);
            if cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        totals.loss_sum += self.penalty() * totals.count as f64;
        ended.is_continue().then_some(totals)
    }

    /// The forward pass over `x` (`rows` × features), `chunk` rows at a time;
    /// `each(start, b, outputs)` sees the last layer's outputs for rows
    /// start..start + b, and may end the pass there (Break, returned).
    fn forward_chunks(
        &self,
        ws: &mut Workspace,
        x: Inputs,
        rows: usize,
        chunk: usize,
        mut each: impl FnMut(usize, usize, &[f32]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let d = self.input_dim();
        // A fit's workspace may hold the next batch packed ahead; these rows
        // overwrite it.
        ws.gemm.stale_a(0);
        let mut chunks = || {
            for start in (0..rows).step_by(chunk) {
                let b = chunk.min(rows - start);
                x.copy_into(self.isa, start * d, &mut ws.x[..b * d]);
                self.forward(ws, b);
                each(start, b, ws.outputs.last().expect("a model has layers"))?;
            }
            ControlFlow::Continue(())
        };
        // Between chunks, the pool's threads would go to sleep (pool.rs).
        if rows > chunk {
            crate::pool::keeping_awake(chunks)
        } else {
            chunks()
        }
    }

    /// Inference forward pass of the first `b` rows of `ws.x`.
    pub(crate) fn forward(&self, ws: &mut Workspace, b: usize) {
        let pass = Pass { isa: self.isa, training: false, step: self.step() };
        let Workspace { x, outputs, scratch, gemm, .. } = ws;
        self.forward_layers(pass, x, outputs, scratch, gemm, b, 0..self.layers.len());
    }

    /// Runs the layers in `range` forward; layer 0 reads `x`, the others
    /// the output of the layer before.
    #[allow(clippy::too_many_arguments)]
    fn forward_layers(
        &self,
        pass: Pass,
        x: &[f32],
        outputs: &mut [Vec<f32>],
        scratch: &mut [Vec<Vec<f32>>],
        gemm: &mut GemmBuffers,
        b: usize,
        range: std::ops::Range<usize>,
    ) {
        for l in range {
            let layer = &self.layers[l];
            let (before, rest) = outputs.split_at_mut(l);
            let input = if l == 0 { x } else { &before[l - 1][..] };
            let (x, y) = (view(input, b, layer.input_dim()), view_mut(&mut rest[0], b, layer.units()));
            layer.forward(pass, &self.params.values, x, y, &mut scratch[l], gemm);
        }
    }

    /// Forward, loss and backward on the first `b` rows of the workspace,
    /// leaving the weight gradients in `ws.dweights` — but for the first
    /// kernel, with `tile_step`: that updates it in tiles instead
    /// (tiled_kernel.rs). Meanwhile, on another thread when there is one,
    /// gathers the rows of `prefetch` into `ws.next_*`.
    ///
    /// The first layer's passes (the big GEMMs, on every thread) run alone;
    /// everything between them is small and sequential, so it runs beside
    /// the gather. Fusions between neighbours follow `self.plan`.
    pub(crate) fn compute_gradients(
        &self,
        ws: &mut Workspace,
        b: usize,
        prefetch: Option<(Samples, &[usize])>,
        tile_step: Option<TileStep>,
    ) -> LossTotals {
        let isa = self.isa;
        let pass = Pass { isa, training: true, step: self.step() };
        let Workspace {
            x,
            labels,
            values,
            weights,
            next_x,
            next_labels,
            next_values,
            next_weights,
            weighted,
            fetch_rows_early,
            outputs,
            grads,
            dparams,
            scratch,
            gemm,
            gemm_side,
            tiles,
            first_grad_panels,
            ..
        } = ws;
        let weights = weighted.then_some(&weights[..b]);
        let targets = self.batch_targets(&labels[..], &values[..], b);
        let n = self.layers.len();
        let d = self.input_dim();
        if let Some((samples, idx)) = prefetch.filter(|_| *fetch_rows_early) {
            early_prefetch(samples, idx, d);
        }
        {
            let _first_forward = time(Phase::FirstForward);
            self.forward_layers(pass, x, outputs, scratch, gemm, b, 0..1);
        }
        // Inputs packed ahead (`PackedA`): [x for x·W, xᵀ for xᵀ·dz]. The
        // first was this batch's, packed in the step before; both are
        // packed afresh beside the layers above, for the next batch and
        // this one's backward pass.
        let mut ahead = gemm.take_kept_a();
        ahead.iter_mut().for_each(PackedA::set_stale);
        // Under mixed_bfloat16, xᵀ for the bfloat16 kernels (`PackedPairs`).
        let mut ahead_pairs = gemm.take_kept_pairs();
        ahead_pairs.iter_mut().for_each(PackedPairs::set_stale);
        let x: &[f32] = x;
        // In a tiled step, the gradient at the first layer's pre-activation
        // may skip its packing (Plan::first_grad_in_panels): layer 1 writes
        // it as the panels layer 0's kernel-gradient GEMM reads.
        let in_panels = tile_step.is_some()
            && self.plan.first_grad_in_panels
            && self.layers[1].as_dense().is_some_and(|d| {
                d.input_gradient_fits_panels(isa, &self.params.values, view(&grads[1], b, d.units()), gemm_side)
            });
        let mut first_grad =
            in_panels.then(|| first_grad_panels.slice(self.layers[0].units().div_ceil(isa.nr()) * isa.nr() * b));
        let between = time(Phase::Between);
        let (totals, ()) = rayon::join(
            || {
                let _upper = time(Phase::UpperLayers);
                self.forward_layers(pass, x, outputs, scratch, gemm, b, 1..n);
                let out = view(&outputs[n - 1], b, self.output_dim());
                let mut totals = self.loss().totals(out, targets, weights, self.loss_options);
                crate::metrics::accumulate(&self.metrics, out, targets, &mut totals);
                let last = &self.layers[n - 1];
                let folded = if self.plan.at_preactivation[n - 1] { last.activation() } else { Activation::Linear };
                let dz = view_mut(&mut grads[n - 1], b, self.output_dim());
                self.loss().output_gradient(out, targets, weights, self.loss_options, folded, dz);
                for l in (1..n).rev() {
                    let panels = if l == 1 { first_grad.as_deref_mut() } else { None };
                    self.backward(isa, l, b, x, outputs, grads, dparams, scratch, gemm, gemm_side, None, panels);
                }
                totals
            },
            || {
                let _gather = time(Phase::GatherAndPack);
                if let Some((samples, idx)) = prefetch {
                    gather(isa, next_x, next_labels, next_values, next_weights, samples, idx, d);
                    if let Some(next) = ahead.first_mut() {
                        next.pack(isa, view(next_x, idx.len(), d));
                    }
                }
                if let Some(this) = ahead.get_mut(1) {
                    this.pack(isa, view(x, b, d).t());
                }
                if let Some(this) = ahead_pairs.as_mut() {
                    this.pack(view(x, b, d).t());
                }
            },
        );
        between.stop();
        let _first_backward = time(Phase::FirstBackward);
        gemm.keep_a(ahead);
        gemm.keep_pairs(ahead_pairs);
        // The kernel's panels, lent to the tiles' updates: the gradient
        // GEMM does not read them.
        let mut kept = tile_step.map(|_| gemm.take_kept().expect("a tiled step keeps the kernel's panels"));
        {
            let target = kept.as_mut().zip(tile_step).map(|(kept, step)| {
                let tiles = tiles.as_mut().expect("a tiled step keeps the kernel's slots in tiles");
                TileTarget::new(kept.panels_mut().0, tiles, step)
            });
            // SAFETY: gemm_tiles hands each tile to one thread, once.
            let sink = target.as_ref().map(|t| move |at: usize, g: &[f32]| unsafe { t.take(at, g) });
            let sink = sink.as_ref().map(|s| s as &TileSink);
            self.backward(isa, 0, b, x, outputs, grads, dparams, scratch, gemm, gemm_side, sink, first_grad);
        }
        if let Some(kept) = kept {
            gemm.keep(kept);
        }
        gemm.stale_a(1);
        totals
    }

    /// Layer l's backward pass: its weight gradients and, above the first
    /// layer, the gradient at its input (in `grads[l - 1]`). `first_grad`,
    /// for layers 1 and 0 only: the panels the gradient at layer 0's
    /// pre-activation goes through instead (Plan::first_grad_in_panels);
    /// layer 1 writes them, layer 0 reads them.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        isa: Isa,
        l: usize,
        b: usize,
        x: &[f32],
        outputs: &[Vec<f32>],
        grads: &mut [Vec<f32>],
        dparams: &mut [f32],
        scratch: &mut [Vec<Vec<f32>>],
        gemm: &mut GemmBuffers,
        gemm_side: &mut GemmBuffers,
        kernel_tiles: Option<&TileSink>,
        first_grad: Option<&mut [f32]>,
    ) {
        let layer = &self.layers[l];
        let (i, u) = (layer.input_dim(), layer.units());
        let input = if l == 0 { x } else { &outputs[l - 1][..] };
        let (below, rest) = grads.split_at_mut(l);
        let (dy_panels, panels) = if l == 0 { (first_grad.map(|p| &*p), None) } else { (None, first_grad) };
        let input_grad =
            (l > 0).then(|| InputGrad { dx: view_mut(&mut below[l - 1], b, i), fold: self.plan.fold[l], panels });
        layer.backward(
            isa,
            &self.params.values,
            Backward {
                x: view(input, b, i),
                y: view(&outputs[l], b, u),
                dy: view_mut(&mut rest[0], b, u),
                at_preactivation: self.plan.at_preactivation[l],
                input: input_grad,
                dparams,
                scratch: &mut scratch[l],
                gemm,
                gemm_side,
                kernel_tiles,
                dy_panels,
            },
        );
    }

    pub(crate) fn train_step(
        &mut self,
        ws: &mut Workspace,
        b: usize,
        prefetch: Option<(Samples, &[usize])>,
    ) -> LossTotals {
        let _step = time(Phase::Step);
        let _ab = time_ab(self.step());
        if ws.tiles.as_ref().is_some_and(|t| t.active()) {
            return self.tiled_step(ws, b, prefetch);
        }
        let version = self.params.version();
        if let Some(kept) = ws.gemm.kept_mut() {
            // Fresh only if the last step wrote the weights, and nothing since.
            kept.set_fresh(ws.kept_at == Some(version));
        }
        if let Some(kept) = ws.gemm.kept_bf16_mut() {
            kept.set_fresh(ws.kept_at == Some(version));
        }
        let mut totals = self.compute_gradients(ws, b, prefetch, None);
        let _update = time(Phase::Update);
        self.regularize(ws, &mut totals, b);
        let mut kept = ws.gemm.take_kept();
        if let Some(kept) = &mut kept {
            kept.set_fresh(false);
        }
        let mut kept_bf16 = ws.gemm.take_kept_bf16();
        if let Some(kept) = &mut kept_bf16 {
            kept.set_fresh(false);
        }
        // The panels may be kept for tiled steps alone; a plain step writes
        // them only for a kernel large enough to repay it. The bfloat16
        // words, kept only to be written, are written whatever the size.
        let dense = self.layers[0].as_dense();
        let sink = match (&mut kept, &mut kept_bf16, dense) {
            (Some(kept), _, Some(dense)) if self.plain_steps_write_panels(dense) => {
                let (panels, nr) = kept.panels_mut();
                let writer = Panels::F32(PanelWriter::new(panels, dense.input_dim(), dense.units(), nr));
                Some(PanelSink { at: dense.kernel, writer })
            }
            (_, Some(words), Some(dense)) => Some(PanelSink { at: dense.kernel, writer: Panels::Bf16(words.writer()) }),
            _ => None,
        };
        let opt = self.optimizer.as_mut().expect("compiled");
        opt.step(self.isa, &mut self.params.values, &mut ws.dparams, sink.as_ref());
        self.params.bump_version();
        ws.kept_at = sink.is_some().then_some(self.params.version());
        if let Some(kept) = kept {
            ws.gemm.keep(kept);
        }
        if let Some(kept) = kept_bf16 {
            ws.gemm.keep_bf16(kept);
        }
        self.after_step(ws);
        totals
    }

    /// `train_step` while the first kernel is updated in tiles (between
    /// `enter_tiles` and `leave_tiles`): its panels are always fresh.
    fn tiled_step(&mut self, ws: &mut Workspace, b: usize, prefetch: Option<(Samples, &[usize])>) -> LossTotals {
        let opt = self.optimizer.as_mut().expect("compiled");
        let consts = opt.begin_step(self.isa);
        let step = opt.tile_step(consts);
        ws.gemm.kept_mut().expect("entered with panels").set_fresh(true);
        let mut totals = self.compute_gradients(ws, b, prefetch, Some(step));
        let _update = time(Phase::Update);
        self.regularize(ws, &mut totals, b);
        let done = self.layers[0].as_dense().expect("entered with a Dense first layer").kernel.range();
        let opt = self.optimizer.as_mut().expect("compiled");
        opt.finish_step(consts, &mut self.params.values, &mut ws.dparams, None, done);
        self.params.bump_version();
        self.after_step(ws);
        totals
    }

    /// What layers do once the weights have moved (BatchNormalization's
    /// moving statistics).
    fn after_step(&mut self, ws: &Workspace) {
        for (layer, scratch) in self.layers.iter_mut().zip(ws.scratch.iter()) {
            layer.after_step(scratch);
        }
    }
}

pub(crate) fn positive_batch(batch_size: usize) -> Result<usize> {
    if batch_size == 0 {
        return Err(Error::Value("Expected a positive integer for batchSize. Received: batchSize=0".into()));
    }
    Ok(batch_size)
}

/// How much of the next batch a step asks the memory for before its first
/// GEMM (`early_prefetch`), in bytes.
const EARLY_PREFETCH_BYTES: usize = 128 << 10;

/// Asks the memory for the first rows of the next batch, up to
/// `EARLY_PREFETCH_BYTES`, while the first layer's GEMM computes, so that
/// the gather beside the upper layers finds them in cache. The rows lie
/// scattered over the dataset, and `gather`'s own prefetching, just before
/// each group of 16 rows, left it waiting on memory: a batch of MNIST
/// bytes (100 KB) took 11.5 µs to gather, 8 with its rows fetched early
/// (profile_fit, 1 thread; 1 and 2 threads, the step's middle part 3–4 µs
/// shorter). Each line fetched holds a miss buffer until it arrives, and
/// the thread waits for free ones: fetching a whole batch of float32 rows
/// (400 KB) this way made the first GEMM 15–28 µs slower on 2 threads.
/// (Measured on the AMD EPYC VM, whose 32 MB L3 per 8 cores does not hold
/// MNIST's 47 MB; see `early_prefetch_pays`.)
fn early_prefetch(samples: Samples, idx: &[usize], d: usize) {
    let rows = EARLY_PREFETCH_BYTES / (samples.x.bytes_per_value() * d).max(1);
    idx.iter().take(rows).for_each(|&i| samples.x.prefetch(i * d, d));
}

/// Whether `early_prefetch` pays for these samples, given a last-level
/// cache of `cache` bytes (`cache_size::last_level`): only when their rows
/// come from memory, the dataset being larger than the cache, or where the
/// cache's size is not known (as before this rule).
///
/// Where the dataset stays in cache, the rows come from L3 at its latency
/// either way, and the early requests only move the wait from the gather
/// to the first GEMM, whose thread they hold while the miss buffers drain
/// (14–18 µs a step); on 2 threads they also land in the wrong core's
/// cache, the gather running on the other one. On the Xeon VM (260 MB L3,
/// MNIST's 47 MB), steps with and without them, interleaved step by step in
/// profile_fit, three runs: 7–21 µs slower with them on 2 threads, 13–27
/// on 1. MNIST as float32 rows (188 MB, mostly in that L3 too), two runs:
/// 13 and 15 µs slower with them on 2 threads; on 1 thread, one run 11 µs
/// slower and the other 29 µs faster.
pub(crate) fn early_prefetch_pays(samples: Samples, cache: Option<usize>) -> bool {
    let bytes = samples.x.len().saturating_mul(samples.x.bytes_per_value());
    cache.is_none_or(|cache| bytes > cache)
}

/// Copies the rows `idx` of `samples` into batch buffers, in parallel: a
/// batch of MNIST rows is 400 KB, worth two cores. Sample weights, when the
/// samples have them, go to `weights`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather(
    isa: Isa,
    x: &mut [f32],
    labels: &mut [i32],
    values: &mut [f32],
    weights: &mut [f32],
    samples: Samples,
    idx: &[usize],
    d: usize,
) {
    const ROWS_PER_TASK: usize = 16;
    let x = &mut x[..idx.len() * d];
    x.par_chunks_mut(ROWS_PER_TASK * d.max(1)).zip(idx.par_chunks(ROWS_PER_TASK)).for_each(|(dst, rows)| {
        rows.iter().for_each(|&i| samples.x.prefetch(i * d, d));
        for (dst, &i) in dst.chunks_exact_mut(d.max(1)).zip(rows) {
            samples.x.copy_into(isa, i * d, dst);
        }
    });
    match samples.targets {
        Targets::Classes(all) => labels.iter_mut().zip(idx).for_each(|(label, &i)| *label = all[i]),
        Targets::Values { data, width } => {
            for (dst, &i) in values.chunks_exact_mut(width.max(1)).zip(idx) {
                dst.copy_from_slice(&data[i * width..(i + 1) * width]);
            }
        }
    }
    if let Some(w) = samples.weights {
        for (weight, &i) in weights.iter_mut().zip(idx) {
            *weight = w[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::early_prefetch_pays;
    use crate::inputs::Inputs;
    use crate::kernels::bytes::ByteMap;
    use crate::losses::Targets;
    use crate::train::Samples;

    #[test]
    fn early_prefetch_only_for_datasets_the_cache_does_not_hold() {
        let table: [f32; 256] = std::array::from_fn(|b| b as f32 / 255.0);
        let (bytes, floats) = (vec![0u8; 60_000 * 784], vec![0f32; 60_000 * 784]);
        let y = vec![0i32; 60_000];
        let mnist = |x| Samples { x, targets: Targets::Classes(&y), weights: None };
        let as_bytes = mnist(Inputs::Bytes { data: &bytes, table: &table, map: ByteMap::of(&table) });
        let as_floats = mnist(Inputs::F32(&floats));
        let mib = |m: usize| Some(m << 20);
        assert!(early_prefetch_pays(as_bytes, mib(32)), "Zen 4's L3: from memory");
        assert!(!early_prefetch_pays(as_bytes, mib(260)), "the Xeon's L3 holds it");
        assert!(!early_prefetch_pays(as_floats, mib(260)), "188 MB of float32 rows, too");
        assert!(early_prefetch_pays(as_floats, mib(128)), "float32 rows count 4 bytes a value");
        assert!(early_prefetch_pays(as_bytes, Some(60_000 * 784 - 1)));
        assert!(!early_prefetch_pays(as_bytes, Some(60_000 * 784)));
        assert!(early_prefetch_pays(as_bytes, None), "unknown cache: as before the rule");
    }
}
