//! Optimizers with Keras 3 semantics (keras/src/optimizers/base_optimizer.py
//! and one file per optimizer there). An `Optimizer` is a rule (rules.rs),
//! the options every Keras optimizer shares — decoupled weight decay and one
//! of clipnorm / global_clipnorm / clipvalue — an iteration counter, and
//! named per-parameter slots.
//!
//! A step runs as Keras's `apply` over the model's parameter arena
//! (params.rs): clip the gradients (per tensor, as the layout says), then
//! decay each weight (w ← w − w·wd·lr) and update it with the rule, in one
//! pass of fixed-size chunks on the pool (so results never depend on the
//! thread count), and count the iteration. It allocates nothing. A fit may
//! update its first kernel earlier in the step, tile by tile, as its
//! gradient is computed (tiles.rs); the pass then skips it.

pub mod rmsprop;
mod rules;
pub mod schedules;
mod tiles;

use crate::alloc::zeroed;
use crate::error::{js_number, Error, Result};
use crate::kernels::adam::{adam_plain, AdamStep};
use crate::kernels::bf16::Bf16Writer;
use crate::kernels::pack::PanelWriter;
use crate::kernels::rmsprop::rmsprop_plain;
use crate::kernels::Isa;
use crate::params::ParamRef;
use rayon::prelude::*;
pub use rmsprop::RmsPropConfig;
use rules::{step, Consts};
pub use schedules::LearningRate;
use std::ops::Range;
pub use tiles::TileStep;

/// Which update, with its own options (Keras's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Sgd { momentum: f64, nesterov: bool },
    RmsProp { rho: f64, momentum: f64, epsilon: f64, centered: bool },
    Adam { beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool },
    Adagrad { initial_accumulator_value: f64, epsilon: f64 },
    Nadam { beta_1: f64, beta_2: f64, epsilon: f64 },
}

impl Rule {
    /// Whether the rule keeps a momentum slot: for any momentum above 0 in
    /// float64, as Keras decides, even one that rounds to 0 in float32. The
    /// slots and the step's constants both ask here, so they always agree.
    pub(crate) fn keeps_momentum(&self) -> bool {
        matches!(*self, Rule::Sgd { momentum, .. } | Rule::RmsProp { momentum, .. } if momentum > 0.0)
    }

    /// The slots each parameter gets, by Keras's variable names.
    pub fn slot_names(&self) -> &'static [&'static str] {
        match *self {
            Rule::Sgd { .. } if self.keeps_momentum() => &["momentum"],
            Rule::Sgd { .. } => &[],
            Rule::RmsProp { centered, .. } => match (self.keeps_momentum(), centered) {
                (false, false) => &["velocity"],
                (true, false) => &["velocity", "momentum"],
                (false, true) => &["velocity", "average_gradient"],
                (true, true) => &["velocity", "momentum", "average_gradient"],
            },
            Rule::Adam { amsgrad: true, .. } => &["momentum", "velocity", "velocity_hat"],
            Rule::Adam { .. } | Rule::Nadam { .. } => &["momentum", "velocity"],
            Rule::Adagrad { .. } => &["accumulator"],
        }
    }

    /// What every slot starts at.
    fn slot_start(&self) -> f32 {
        match *self {
            Rule::Adagrad { initial_accumulator_value, .. } => initial_accumulator_value as f32,
            _ => 0.0,
        }
    }
}

/// How gradients are clipped before the update (Keras allows one of these).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    None,
    /// Each gradient tensor scaled to an L2 norm of at most this.
    Norm(f64),
    /// All gradients scaled together to a global L2 norm of at most this.
    GlobalNorm(f64),
    /// Each element clamped to [−v, v].
    Value(f64),
}

/// Everything `compile` needs to make an optimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// Keras's class name ('SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad', 'Nadam').
    pub name: String,
    pub rule: Rule,
    pub learning_rate: LearningRate,
    pub weight_decay: Option<f64>,
    pub clip: Clip,
}

impl OptimizerConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, expected: &str, v: f64| {
            Err(Error::Value(format!(
                "Expected {expected} for {} {what}. Received: {what}={}",
                self.name,
                js_number(v)
            )))
        };
        let unit =
            |what: &str, v: f64| if (0.0..=1.0).contains(&v) { Ok(()) } else { bad(what, "a number in [0, 1]", v) };
        let positive =
            |what: &str, v: f64| if v as f32 > 0.0 && finite_f32(v) { Ok(()) } else { bad(what, POSITIVE_F32, v) };
        let at_least_zero =
            |what: &str, v: f64| if finite_f32(v) && v >= 0.0 { Ok(()) } else { bad(what, FINITE_F32, v) };
        self.learning_rate.validate()?;
        if let Some(wd) = self.weight_decay {
            at_least_zero("weightDecay", wd)?;
        }
        match self.clip {
            Clip::None => {}
            Clip::Norm(v) => positive("clipnorm", v)?,
            Clip::GlobalNorm(v) => positive("globalClipnorm", v)?,
            Clip::Value(v) => positive("clipvalue", v)?,
        }
        match self.rule {
            Rule::Sgd { momentum, .. } => unit("momentum", momentum),
            Rule::RmsProp { rho, momentum, epsilon, .. } => {
                unit("rho", rho)?;
                unit("momentum", momentum)?;
                positive("epsilon", epsilon)
            }
            Rule::Adam { beta_1, beta_2, epsilon, .. } | Rule::Nadam { beta_1, beta_2, epsilon } => {
                unit("beta1", beta_1)?;
                unit("beta2", beta_2)?;
                positive("epsilon", epsilon)
            }
            Rule::Adagrad { initial_accumulator_value, epsilon } => {
                at_least_zero("initialAccumulatorValue", initial_accumulator_value)?;
                positive("epsilon", epsilon)
            }
        }
    }
}

/// Whether `v` stays finite in float32, where every update runs: 1e300 is a
/// finite f64 but +Infinity as f32, and would turn the weights into NaN.
pub(crate) fn finite_f32(v: f64) -> bool {
    (v as f32).is_finite()
}

pub(crate) const FINITE_F32: &str = "a number >= 0 that is finite in float32 (at most 3.4028235e38)";
pub(crate) const POSITIVE_F32: &str = "a number that is positive and finite in float32 (1.5e-45 to 3.4028235e38)";

/// The slots of the whole arena, chunk by chunk: for each chunk of CHUNK
/// elements (the last may be shorter), its elements in every slot, one slot
/// after another, so that a chunk's weights, gradients and slots go to one
/// thread together.
#[derive(Default)]
struct Slots {
    /// The arena's tensors, for per-tensor clipping and named state.
    tensors: Vec<ParamRef>,
    len: usize,
    data: Vec<f32>,
    /// One chunk's slots, for chunks updated in part (`finish_step`).
    scratch: Vec<f32>,
}

/// Elements per parallel chunk; fixed, so results never depend on threads.
const CHUNK: usize = 1 << 14;

/// Chunk c's weights, gradients and slots.
type Chunk<'a> = (usize, ((&'a mut [f32], &'a [f32]), &'a mut [f32]));

/// What one step does to each element, fixed before the step's gradients
/// exist (`Optimizer::begin_step`): decay, then the rule.
#[derive(Clone, Copy)]
pub struct StepConsts {
    isa: Isa,
    rule: Consts,
    lr: f32,
    decay: Option<f32>,
}

impl StepConsts {
    /// Decays and updates the run of weights `w` from their gradients `g`
    /// and their slots `s` (one slot after another, each `w.len()` long).
    fn update(&self, w: &mut [f32], g: &[f32], s: &mut [f32]) {
        if let Some(wd) = self.decay {
            // Keras: w − w·wd·lr, the product left to right.
            w.iter_mut().for_each(|w| *w -= *w * wd * self.lr);
        }
        match self.rule {
            // The seed model's update: a hand-written SIMD kernel (kernels/rmsprop.rs).
            Consts::RmsProp { lr, rho, one_minus_rho, epsilon, momentum: None, centered: false } => {
                let k = crate::kernels::rmsprop::RmsPropStep { lr, rho, one_minus_rho, epsilon };
                rmsprop_plain(self.isa, &k, w, g, s)
            }
            // Adam's, which kept the divider busy (kernels/adam.rs).
            Consts::Adam { alpha, one_minus_b1, one_minus_b2, epsilon, amsgrad: false } => {
                let k = AdamStep { alpha, one_minus_b1, one_minus_b2, epsilon };
                let (m, v) = s.split_at_mut(w.len());
                adam_plain(self.isa, &k, w, g, m, &mut v[..w.len()])
            }
            _ => vectorised(self.isa, &self.rule, w, g, s),
        }
    }
}

/// One matrix of the arena, the elements `at`, that a step also writes in
/// a packed layout for the next forward product (see `Optimizer::step`).
pub struct PanelSink<'a> {
    pub at: ParamRef,
    pub writer: Panels<'a>,
}

/// The layout a `PanelSink` writes: float32 panels (`PackedB`), or under
/// mixed_bfloat16 bfloat16 words (`KeptBf16`).
pub enum Panels<'a> {
    F32(PanelWriter<'a>),
    Bf16(Bf16Writer<'a>),
}

impl PanelSink<'_> {
    /// The part of the matrix among arena elements `start..start + w.len()`.
    ///
    /// # Safety
    /// No other thread writes these elements meanwhile.
    unsafe fn write(&self, start: usize, w: &[f32]) {
        let range = self.at.range();
        let (from, to) = (start.max(range.start), (start + w.len()).min(range.end));
        if from < to {
            // SAFETY: the caller's contract, for this part of its elements.
            unsafe {
                match &self.writer {
                    Panels::F32(writer) => writer.write(from - range.start, &w[from - start..to - start]),
                    Panels::Bf16(writer) => writer.write(from - range.start, &w[from - start..to - start]),
                }
            };
        }
    }
}

/// The most steps a restored optimizer may have counted: 2^53, the largest
/// count a JavaScript number holds exactly, and far beyond any training; a
/// file claiming more is refused rather than left to overflow the count.
pub const MAX_ITERATIONS: u64 = 1 << 53;

pub struct Optimizer {
    pub config: OptimizerConfig,
    slots: Slots,
    iterations: u64,
    /// Nadam's running product of its momentum schedule (Keras's `u_product`).
    u_product: f32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig) -> Result<Optimizer> {
        config.validate()?;
        Ok(Optimizer { config, slots: Slots::default(), iterations: 0, u_product: 1.0 })
    }

    /// Steps taken (Keras's `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The rate the next step will use (Keras's `optimizer.learning_rate`).
    pub fn learning_rate(&self) -> f32 {
        self.config.learning_rate.at(self.iterations)
    }

    /// Sets a constant rate from the next step on (what ReduceLROnPlateau and
    /// LearningRateScheduler do). Refused when the rate follows a schedule,
    /// as Keras refuses it.
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if !matches!(self.config.learning_rate, LearningRate::Constant(_)) {
            return Err(Error::State(
                "The optimizer's learning rate follows a schedule; it cannot be set to a number.".into(),
            ));
        }
        let rate = LearningRate::Constant(lr);
        rate.validate()?;
        self.config.learning_rate = rate;
        Ok(())
    }

    /// Creates the slots for an arena holding `tensors` (in order, packed
    /// from offset 0), once.
    pub fn build(&mut self, tensors: &[ParamRef]) -> Result<()> {
        if self.slots.tensors == tensors {
            return Ok(());
        }
        let len = tensors.last().map_or(0, |t| t.offset + t.len);
        let (count, start) = (self.slot_count(), self.config.rule.slot_start());
        let mut data = zeroed(len.saturating_mul(count), "optimizer slots")?;
        data.fill(start);
        let scratch = zeroed(count * CHUNK.min(len), "optimizer slots")?;
        self.slots = Slots { tensors: tensors.to_vec(), len, data, scratch };
        Ok(())
    }

    /// One step over the arena `w` with gradients `g` (which clipping
    /// overwrites): clip, decay, update, count. With `panels`, one matrix of
    /// the arena is also written in B-panel layout as its chunks are
    /// updated, while they are still in cache.
    pub fn step(&mut self, isa: Isa, w: &mut [f32], g: &mut [f32], panels: Option<&PanelSink>) {
        let consts = self.begin_step(isa);
        self.finish_step(consts, w, g, panels, 0..0);
    }

    /// Starts the next step: its constants, worked out before its gradients
    /// are, so that part of the arena can be updated as its gradients come
    /// out of a GEMM (`TileStep`). Every `begin_step` must be followed by
    /// one `finish_step`.
    pub fn begin_step(&mut self, isa: Isa) -> StepConsts {
        let t = self.iterations.saturating_add(1);
        if let Rule::Nadam { beta_1, .. } = self.config.rule {
            self.u_product *= beta_1 as f32 * (1.0 - 0.5 * 0.96f32.powf(t as f32));
        }
        // Keras evaluates a schedule at the iterations before the step.
        let lr = self.config.learning_rate.at(self.iterations);
        let decay = self.config.weight_decay.map(|wd| wd as f32);
        StepConsts { isa, rule: Consts::of(&self.config.rule, lr, t, self.u_product), lr, decay }
    }

    /// Ends the step `consts` began: clips the gradients, then decays and
    /// updates every element of the arena but those in `done` (already
    /// updated, by a `TileStep`), and counts the step.
    pub fn finish_step(
        &mut self,
        consts: StepConsts,
        w: &mut [f32],
        g: &mut [f32],
        panels: Option<&PanelSink>,
        done: Range<usize>,
    ) {
        assert!(w.len() == g.len() && self.slots.len == w.len(), "optimizer slot size mismatch");
        self.clip(g);
        let per_chunk = self.slot_count() * CHUNK;
        let len = w.len();
        let chunk = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(len);
        let touches = |c: usize| chunk(c).start < done.end && done.start < chunk(c).end;
        // Chunks that `done` covers in part are finished after the others.
        let partial = |c: usize| touches(c) && !(done.start <= chunk(c).start && chunk(c).end <= done.end);
        let run = |(c, ((w, g), s)): Chunk| {
            let start = c * CHUNK;
            if touches(c) {
                return;
            }
            consts.update(w, g, s);
            if let Some(sink) = panels {
                // SAFETY: chunk c's elements belong to this task alone.
                unsafe { sink.write(start, w) };
            }
        };
        let slots = &mut self.slots.data;
        if per_chunk == 0 {
            let none = |(c, (w, g))| run((c, ((w, g), &mut [][..])));
            w.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).enumerate().for_each(none);
        } else if w.len() >= 4 * CHUNK {
            let chunks = w.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(slots.par_chunks_mut(per_chunk));
            chunks.enumerate().for_each(run);
        } else {
            w.chunks_mut(CHUNK).zip(g.chunks(CHUNK)).zip(slots.chunks_mut(per_chunk)).enumerate().for_each(run);
        }
        for c in (0..len.div_ceil(CHUNK)).filter(|&c| partial(c)) {
            self.finish_partial_chunk(&consts, c, w, g, &done, panels);
        }
        self.iterations = self.iterations.saturating_add(1);
    }

    /// Updates the elements of chunk `c` outside `done`, one run on each
    /// side of it. A run's slots are copied out to the scratch space, where
    /// they lie one slot after another as the rule wants them, and back.
    fn finish_partial_chunk(
        &mut self,
        consts: &StepConsts,
        c: usize,
        w: &mut [f32],
        g: &[f32],
        done: &Range<usize>,
        panels: Option<&PanelSink>,
    ) {
        let (count, all) = (self.slot_count(), self.slots.len);
        let chunk = c * CHUNK..((c + 1) * CHUNK).min(w.len());
        for run in [chunk.start..done.start.max(chunk.start), done.end.min(chunk.end)..chunk.end] {
            let len = run.len();
            if len == 0 {
                continue;
            }
            // Within a chunk, each slot's elements are contiguous.
            let slot = |k: usize| slot_index(count, all, k, run.start);
            let scratch = &mut self.slots.scratch[..count * len];
            for k in 0..count {
                scratch[k * len..(k + 1) * len].copy_from_slice(&self.slots.data[slot(k)..][..len]);
            }
            consts.update(&mut w[run.clone()], &g[run.clone()], scratch);
            for k in 0..count {
                self.slots.data[slot(k)..][..len].copy_from_slice(&scratch[k * len..(k + 1) * len]);
            }
            if let Some(sink) = panels {
                // SAFETY: the chunks run in parallel are done by now.
                unsafe { sink.write(run.start, &w[run]) };
            }
        }
    }

    /// Keras's clipping: by each tensor's norm, by the norm of all, or by value.
    fn clip(&self, g: &mut [f32]) {
        match self.config.clip {
            Clip::None => {}
            Clip::Norm(clip) => {
                let clip = clip as f32;
                for t in &self.slots.tensors {
                    let g = t.of_mut(g);
                    let norm = squares(g).sqrt() as f32;
                    // Keras: g·clip / max(norm, clip).
                    let denominator = norm.max(clip);
                    g.iter_mut().for_each(|g| *g = *g * clip / denominator);
                }
            }
            Clip::GlobalNorm(clip) => {
                let norm = self.slots.tensors.iter().map(|t| squares(t.of(g))).sum::<f64>().sqrt() as f32;
                // Keras: clip·min(1/norm, 1/clip), NaN when the norm is not finite.
                let clip = clip as f32;
                let scale = if norm.is_finite() { clip * (1.0 / norm).min(1.0 / clip) } else { f32::NAN };
                g.iter_mut().for_each(|g| *g *= scale);
            }
            Clip::Value(v) => {
                let v = v as f32;
                g.iter_mut().for_each(|g| *g = g.clamp(-v, v));
            }
        }
    }

    /// Where element `e` of slot `k` lives in the chunked slot buffer: in
    /// chunk e / CHUNK, after k slots of that chunk's length.
    fn slot_at(&self, k: usize, e: usize) -> usize {
        slot_index(self.slot_count(), self.slots.len, k, e)
    }

    /// Every slot, by name, as `(parameter index, slot name, values)`: the
    /// state a saved model carries.
    pub fn state(&self, tensors: &[ParamRef]) -> Vec<(usize, &'static str, Vec<f32>)> {
        let names = self.config.rule.slot_names();
        if self.slots.tensors != tensors {
            // Not built for these tensors (no step yet): what `build` would set.
            let start = self.config.rule.slot_start();
            return (tensors.iter().enumerate())
                .flat_map(|(index, t)| names.iter().map(move |&name| (index, name, vec![start; t.len])))
                .collect();
        }
        let mut out = Vec::new();
        for (index, t) in self.slots.tensors.iter().enumerate() {
            for (k, &name) in names.iter().enumerate() {
                out.push((index, name, t.range().map(|e| self.slots.data[self.slot_at(k, e)]).collect()));
            }
        }
        out
    }

    /// Overwrites slot `name` of parameter tensor `index` (after `build`),
    /// as loading a saved model does.
    pub fn set_slot(&mut self, index: usize, name: &str, values: &[f32]) -> Result<()> {
        let names = self.config.rule.slot_names();
        let k = names.iter().position(|&n| n == name).ok_or_else(|| {
            Error::Value(format!("Expected one of the slots {names:?} of {}. Received: '{name}'", self.config.name))
        })?;
        let t = *self.slots.tensors.get(index).ok_or_else(|| {
            Error::Value(format!("Expected a parameter index below {}. Received: {index}", self.slots.tensors.len()))
        })?;
        if values.len() != t.len {
            return Err(Error::Shape(format!(
                "Expected {} values for slot '{name}' of parameter {index}. Received: {}",
                t.len,
                values.len()
            )));
        }
        for (e, &v) in t.range().zip(values) {
            let at = self.slot_at(k, e);
            self.slots.data[at] = v;
        }
        Ok(())
    }

    /// Nadam's running product of its momentum schedule (1 for the others).
    pub fn u_product(&self) -> f32 {
        self.u_product
    }

    /// Restores the step count (and Nadam's product) of a saved optimizer.
    pub fn restore_counters(&mut self, iterations: u64, u_product: f32) {
        self.iterations = iterations;
        self.u_product = u_product;
    }
}

/// `Optimizer::slot_at` for `count` slots over an arena of `len`.
fn slot_index(count: usize, len: usize, k: usize, e: usize) -> usize {
    let (c, p) = (e / CHUNK, e % CHUNK);
    let n = CHUNK.min(len - c * CHUNK);
    c * count * CHUNK + k * n + p
}

fn squares(g: &[f32]) -> f64 {
    g.iter().map(|&v| v as f64 * v as f64).sum()
}

/// `rules::step` compiled for the widest vectors the CPU has.
fn vectorised(isa: Isa, k: &Consts, w: &mut [f32], g: &[f32], s: &mut [f32]) {
    use crate::kernels::isa::Level;
    match isa.level() {
        // SAFETY: the token proves AVX-512F, AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { step_avx512(k, w, g, s) },
        // SAFETY: the token proves AVX2 and FMA on this CPU.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => unsafe { step_avx2(k, w, g, s) },
        // NEON is arm64's baseline: the plain loop is already vectorised with it.
        #[cfg(target_arch = "aarch64")]
        Level::Neon => step(k, w, g, s),
        Level::Scalar => step(k, w, g, s),
    }
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn step_avx512(k: &Consts, w: &mut [f32], g: &[f32], s: &mut [f32]) {
    step(k, w, g, s)
}

/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn step_avx2(k: &Consts, w: &mut [f32], g: &[f32], s: &mut [f32]) {
    step(k, w, g, s)
}

#[cfg(test)]
mod tests;
