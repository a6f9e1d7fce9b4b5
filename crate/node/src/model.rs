//! `NativeModel`: the JS handle on one core `Model` (in a `ModelCell`).
//! Quick calls (weights, compile, and a predict of one or two rows through
//! `predict_here`) run on the JavaScript thread and never wait; predict,
//! evaluate and trainOnBatch copy their inputs, return at once, run on
//! ferro-nn's pool and report through a callback.

use crate::cell::{present, present_mut, ModelCell};
use crate::data::{copy_inputs, copy_targets, copy_weights, InputRows, TargetRows};
use crate::errors::{guard, to_napi};
use crate::registry::Registry;
use ferro_core::kernels::Activation;
use ferro_core::layers::{BatchNormSpec, DenseSpec, DropoutSpec, Initializer, LayerSpec, Regularizer};
use ferro_core::losses::{Loss, LossOptions, LossTotals};
use ferro_core::metrics::Logger;
use ferro_core::optimizers::{Clip, LearningRate, OptimizerConfig, Rule};
use ferro_core::{pool, Compilation, Error as CoreError, Model, Samples, WeightTensor};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;
use std::sync::Arc;

/// One layer as the TypeScript layer describes it: Keras's class name and
/// the options of that kind (absent ones take Keras's defaults).
#[napi(object)]
pub struct LayerConfig {
    /// 'Dense', 'Activation', 'Dropout' or 'BatchNormalization'.
    pub kind: String,
    pub units: Option<u32>,
    pub activation: Option<String>,
    pub use_bias: Option<bool>,
    pub kernel_initializer: Option<String>,
    pub bias_initializer: Option<String>,
    pub kernel_regularizer: Option<RegularizerSpec>,
    pub bias_regularizer: Option<RegularizerSpec>,
    /// Dropout's rate and seed.
    pub rate: Option<f64>,
    pub seed: Option<f64>,
    /// BatchNormalization's options.
    pub momentum: Option<f64>,
    pub epsilon: Option<f64>,
    pub center: Option<bool>,
    pub scale: Option<bool>,
}

/// Keras's L1L2 weight penalty: l1·Σ|w| + l2·Σw².
#[napi(object)]
pub struct RegularizerSpec {
    pub l1: f64,
    pub l2: f64,
}

/// An optimizer as the TypeScript layer describes it: Keras's class name,
/// the learning rate, the options every optimizer shares, and the options
/// of its own (absent ones take Keras's defaults there, not here).
#[napi(object)]
pub struct OptimizerSpec {
    /// 'SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad' or 'Nadam'.
    pub name: String,
    pub learning_rate: f64,
    /// When set, the learning rate follows it and `learning_rate` is unused.
    pub schedule: Option<ScheduleSpec>,
    pub weight_decay: Option<f64>,
    pub clipnorm: Option<f64>,
    pub clipvalue: Option<f64>,
    pub global_clipnorm: Option<f64>,
    pub momentum: Option<f64>,
    pub nesterov: Option<bool>,
    pub rho: Option<f64>,
    pub centered: Option<bool>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub amsgrad: Option<bool>,
    pub initial_accumulator_value: Option<f64>,
    pub epsilon: Option<f64>,
}

/// A loss by name, with the options Keras's crossentropies take.
#[napi(object)]
pub struct LossSpec {
    pub name: String,
    pub from_logits: Option<bool>,
    pub label_smoothing: Option<f64>,
}

/// A learning-rate schedule: Keras's class name and its arguments.
#[napi(object)]
pub struct ScheduleSpec {
    /// 'ExponentialDecay', 'InverseTimeDecay', 'PiecewiseConstantDecay' or 'CosineDecay'.
    pub name: String,
    pub initial_learning_rate: Option<f64>,
    pub decay_steps: Option<f64>,
    pub decay_rate: Option<f64>,
    pub staircase: Option<bool>,
    pub boundaries: Option<Vec<f64>>,
    pub values: Option<Vec<f64>>,
    pub alpha: Option<f64>,
    pub warmup_target: Option<f64>,
    pub warmup_steps: Option<f64>,
}

fn learning_rate(o: &OptimizerSpec) -> ferro_core::Result<LearningRate> {
    let Some(s) = &o.schedule else { return Ok(LearningRate::Constant(o.learning_rate)) };
    let need = |v: Option<f64>, what: &str| {
        v.ok_or_else(|| CoreError::Value(format!("Expected {what} for {}. Received: none", s.name)))
    };
    Ok(match s.name.as_str() {
        "ExponentialDecay" | "InverseTimeDecay" => {
            let (initial, decay_steps, decay_rate, staircase) = (
                need(s.initial_learning_rate, "initialLearningRate")?,
                need(s.decay_steps, "decaySteps")?,
                need(s.decay_rate, "decayRate")?,
                s.staircase.unwrap_or(false),
            );
            if s.name == "ExponentialDecay" {
                LearningRate::ExponentialDecay { initial, decay_steps, decay_rate, staircase }
            } else {
                LearningRate::InverseTimeDecay { initial, decay_steps, decay_rate, staircase }
            }
        }
        "PiecewiseConstantDecay" => LearningRate::PiecewiseConstantDecay {
            boundaries: s.boundaries.clone().unwrap_or_default(),
            values: s.values.clone().unwrap_or_default(),
        },
        "CosineDecay" => LearningRate::CosineDecay {
            initial: need(s.initial_learning_rate, "initialLearningRate")?,
            decay_steps: need(s.decay_steps, "decaySteps")?,
            alpha: s.alpha.unwrap_or(0.0),
            warmup_target: s.warmup_target,
            warmup_steps: s.warmup_steps.unwrap_or(0.0),
        },
        other => return Err(CoreError::Value(format!("Unknown learning rate schedule: '{other}'."))),
    })
}

/// A compile's settings, checked as a whole (`Compilation::new`).
fn compilation(optimizer: &OptimizerSpec, loss: &LossSpec, metrics: &[String]) -> ferro_core::Result<Compilation> {
    let options = LossOptions {
        from_logits: loss.from_logits.unwrap_or(false),
        label_smoothing: loss.label_smoothing.unwrap_or(0.0) as f32,
    };
    Compilation::new(optimizer_config(optimizer)?, Loss::parse(&loss.name)?, options, metrics)
}

/// Checks what `NativeModel::compile` would check, for a model not built
/// yet: its compile is applied at build, and must not fail there.
#[napi]
pub fn check_compile(optimizer: OptimizerSpec, loss: LossSpec, metrics: Vec<String>) -> Result<()> {
    guard(|| compilation(&optimizer, &loss, &metrics).map(|_| ()))
}

fn optimizer_config(o: &OptimizerSpec) -> ferro_core::Result<OptimizerConfig> {
    let eps = o.epsilon.unwrap_or(1e-7);
    let (b1, b2) = (o.beta1.unwrap_or(0.9), o.beta2.unwrap_or(0.999));
    let rule = match o.name.as_str() {
        "SGD" => Rule::Sgd { momentum: o.momentum.unwrap_or(0.0), nesterov: o.nesterov.unwrap_or(false) },
        "RMSprop" => Rule::RmsProp {
            rho: o.rho.unwrap_or(0.9),
            momentum: o.momentum.unwrap_or(0.0),
            epsilon: eps,
            centered: o.centered.unwrap_or(false),
        },
        "Adam" | "AdamW" => Rule::Adam { beta_1: b1, beta_2: b2, epsilon: eps, amsgrad: o.amsgrad.unwrap_or(false) },
        "Adagrad" => {
            Rule::Adagrad { initial_accumulator_value: o.initial_accumulator_value.unwrap_or(0.1), epsilon: eps }
        }
        "Nadam" => Rule::Nadam { beta_1: b1, beta_2: b2, epsilon: eps },
        other => return Err(CoreError::Value(format!("Unknown optimizer: '{other}'."))),
    };
    let clip = match (o.clipnorm, o.global_clipnorm, o.clipvalue) {
        (None, None, None) => Clip::None,
        (Some(v), None, None) => Clip::Norm(v),
        (None, Some(v), None) => Clip::GlobalNorm(v),
        (None, None, Some(v)) => Clip::Value(v),
        _ => {
            return Err(CoreError::Value(
                "Expected at most one of clipnorm, clipvalue and globalClipnorm. Received: more than one".into(),
            ))
        }
    };
    // AdamW is Adam with Keras's default decay of 0.004.
    let weight_decay = o.weight_decay.or((o.name == "AdamW").then_some(0.004));
    Ok(OptimizerConfig { name: o.name.clone(), rule, learning_rate: learning_rate(o)?, weight_decay, clip })
}

/// One optimizer slot of one parameter tensor (Keras's slot name).
#[napi(object)]
pub struct SlotState {
    /// The parameter tensor's index among the trainable weights.
    pub tensor: u32,
    pub name: String,
    pub data: Float32Array,
}

/// What a saved optimizer carries besides its config.
#[napi(object)]
pub struct OptimizerState {
    pub iterations: f64,
    /// Nadam's running product of its momentum schedule (1 for the others).
    pub u_product: f64,
    pub slots: Vec<SlotState>,
}

/// One logged value under its Keras name.
#[napi(object)]
pub struct LogEntry {
    pub name: String,
    pub value: f64,
}

/// Logs as an ordered name → value map: loss, accuracy, then each compiled
/// metric under the name compile was given.
pub fn log_entries(logger: &Logger, t: &LossTotals) -> Vec<LogEntry> {
    logger.logs(t).into_iter().map(|(name, value)| LogEntry { name, value }).collect()
}

#[napi(object)]
pub struct Metrics {
    pub logs: Vec<LogEntry>,
}

/// A node-style callback `(error, value)`, called once from ferro-nn's
/// pool. It holds the event loop open until it has been called.
pub type Done<T> = ThreadsafeFunction<T, UnknownReturnValue, T, Status, true>;

/// Reports `result` to JavaScript; a closed environment drops it.
pub fn settle<T: ToNapiValue + 'static>(done: Done<T>, result: ferro_core::Result<T>) {
    done.call(result.map_err(to_napi), ThreadsafeFunctionCallMode::NonBlocking);
}

/// Finalised with an adjustment of V8's external memory (see `external`).
#[napi(custom_finalize)]
pub struct NativeModel {
    pub(crate) cell: Arc<ModelCell>,
    id: u32,
    /// Native bytes reported to V8 for this model: the small JS object holds
    /// megabytes of weights and optimizer state, and V8 only collects it early
    /// enough if it knows. Zero once disposed.
    external: i64,
}

impl ObjectFinalize for NativeModel {
    fn finalize(self, env: Env) -> Result<()> {
        if self.external > 0 {
            env.adjust_external_memory(-self.external)?;
        }
        Ok(())
    }
}

fn spec(c: &LayerConfig) -> ferro_core::Result<LayerSpec> {
    let activation = |default: &str| Activation::parse(c.activation.as_deref().unwrap_or(default));
    Ok(match c.kind.as_str() {
        "Dense" => {
            let units =
                c.units.ok_or_else(|| CoreError::Value("Expected units for a Dense layer. Received: none".into()))?;
            let defaults = DenseSpec::new(units as usize, activation("linear")?);
            let initializer = |name: &Option<String>, default| name.as_deref().map_or(Ok(default), Initializer::parse);
            LayerSpec::Dense(DenseSpec {
                use_bias: c.use_bias.unwrap_or(true),
                kernel_initializer: initializer(&c.kernel_initializer, defaults.kernel_initializer)?,
                bias_initializer: initializer(&c.bias_initializer, defaults.bias_initializer)?,
                kernel_regularizer: regularizer(c.kernel_regularizer.as_ref())?,
                bias_regularizer: regularizer(c.bias_regularizer.as_ref())?,
                ..defaults
            })
        }
        "Activation" => LayerSpec::Activation(activation("linear")?),
        "Dropout" => LayerSpec::Dropout(DropoutSpec {
            rate: c.rate.ok_or_else(|| CoreError::Value("Expected a rate for Dropout. Received: none".into()))?,
            seed: c.seed.map(|s| s as u64),
        }),
        "BatchNormalization" => {
            let d = BatchNormSpec::default();
            LayerSpec::BatchNormalization(BatchNormSpec {
                momentum: c.momentum.unwrap_or(d.momentum),
                epsilon: c.epsilon.unwrap_or(d.epsilon),
                center: c.center.unwrap_or(d.center),
                scale: c.scale.unwrap_or(d.scale),
            })
        }
        other => return Err(CoreError::Value(format!("Unknown layer kind: '{other}'."))),
    })
}

fn regularizer(r: Option<&RegularizerSpec>) -> ferro_core::Result<Regularizer> {
    r.map_or(Ok(Regularizer::default()), |r| Regularizer::new(r.l1, r.l2))
}

fn metrics(t: LossTotals, logger: &Logger) -> Metrics {
    Metrics { logs: log_entries(logger, &t) }
}

#[napi]
impl NativeModel {
    /// Builds the layers for `input_dim` features with freshly drawn weights.
    #[napi(constructor)]
    pub fn new(env: Env, input_dim: u32, layers: Vec<LayerConfig>) -> Result<Self> {
        let model = guard(|| {
            let specs = layers.iter().map(spec).collect::<ferro_core::Result<Vec<_>>>()?;
            Model::build(input_dim as usize, &specs, ferro_core::rng::next_seed())
        })?;
        // Weights and, once trained, as much again of RMSprop velocity.
        let external = (2 * 4 * model.param_count()).min(i64::MAX as usize) as i64;
        env.adjust_external_memory(external)?;
        let cell = Arc::new(ModelCell::new(model));
        Ok(NativeModel { id: MODELS.insert(&cell), cell, external })
    }

    /// Keras's mixed_bfloat16 on (`true`) or float32: returns whether the
    /// bfloat16 kernels run, which needs a CPU with AMX-BF16 or whose
    /// AVX512_BF16 outruns its float32 FMAs (`Bf16Kernel::preferred`).
    #[napi]
    pub fn set_mixed_bfloat16(&self, on: bool) -> Result<bool> {
        guard(|| {
            let kernel = if on { ferro_core::kernels::bf16::Bf16Kernel::preferred() } else { None };
            present_mut(&mut self.cell.try_write()?)?.set_mixed_bfloat16(kernel);
            Ok(kernel.is_some())
        })
    }

    /// Sets optimizer, loss (with its options) and the metrics besides
    /// accuracy (Keras's names); a refused compile changes nothing.
    #[napi]
    pub fn compile(&self, optimizer: OptimizerSpec, loss: LossSpec, metrics: Vec<String>) -> Result<()> {
        guard(|| {
            let compilation = compilation(&optimizer, &loss, &metrics)?;
            let mut model = self.cell.try_write()?;
            present_mut(&mut model)?.apply_compilation(compilation);
            Ok(())
        })
    }

    /// The learning rate the next step will use.
    #[napi]
    pub fn learning_rate(&self) -> Result<f64> {
        guard(|| {
            let model = self.cell.try_read()?;
            let opt = present(&model)?.optimizer();
            opt.map(|o| o.learning_rate() as f64)
                .ok_or_else(|| CoreError::State("You must call compile() first.".into()))
        })
    }

    /// Sets a constant learning rate from the next step on.
    #[napi]
    pub fn set_learning_rate(&self, lr: f64) -> Result<()> {
        guard(|| present_mut(&mut self.cell.try_write()?)?.optimizer_mut()?.set_learning_rate(lr))
    }

    /// The optimizer's step count and slots, for saving. A shared claim:
    /// saving works beside running predicts.
    #[napi]
    pub fn optimizer_state(&self) -> Result<OptimizerState> {
        guard(|| {
            let model = self.cell.try_read()?;
            let model = present(&model)?;
            let slots = model.optimizer_slots()?;
            let opt = model.optimizer().expect("compiled");
            Ok(OptimizerState {
                iterations: opt.iterations() as f64,
                u_product: opt.u_product() as f64,
                slots: slots
                    .into_iter()
                    .map(|(i, name, data)| SlotState {
                        tensor: i as u32,
                        name: name.into(),
                        data: Float32Array::new(data),
                    })
                    .collect(),
            })
        })
    }

    /// Restores a saved optimizer's step count and slots.
    #[napi]
    pub fn set_optimizer_state(&self, state: OptimizerState) -> Result<()> {
        guard(|| {
            if !(state.iterations.is_finite() && state.iterations >= 0.0 && state.iterations.fract() == 0.0) {
                return Err(CoreError::Value(format!(
                    "Expected a non-negative whole iteration count. Received: {}",
                    state.iterations
                )));
            }
            let slots: Vec<(usize, String, Vec<f32>)> =
                state.slots.iter().map(|s| (s.tensor as usize, s.name.clone(), s.data.to_vec())).collect();
            let mut model = self.cell.try_write()?;
            present_mut(&mut model)?.restore_optimizer(state.iterations as u64, state.u_product as f32, &slots)
        })
    }

    /// Optimizer steps taken since compile (Keras's `optimizer.iterations`).
    #[napi]
    pub fn optimizer_iterations(&self) -> Result<f64> {
        guard(|| Ok(present(&self.cell.try_read()?)?.optimizer().map_or(0, |o| o.iterations()) as f64))
    }

    #[napi]
    pub fn param_count(&self) -> Result<f64> {
        guard(|| Ok(present(&self.cell.try_read()?)?.param_count() as f64))
    }

    /// Every layer's weights, in order (Keras's), as flat arrays.
    #[napi]
    pub fn get_weights(&self) -> Result<Vec<Float32Array>> {
        guard(|| {
            let weights = present(&self.cell.try_read()?)?.weights();
            Ok(weights.into_iter().map(|w| Float32Array::new(w.data)).collect())
        })
    }

    /// Replaces every weight; `shapes[i]` is the shape of `data[i]`.
    #[napi]
    pub fn set_weights(&self, data: Vec<Float32Array>, shapes: Vec<Vec<u32>>) -> Result<()> {
        guard(|| present_mut(&mut self.cell.try_write()?)?.set_weights(to_weights(&data, &shapes)))
    }

    /// Layer `index`'s weights (as getWeights lists them), copying that
    /// layer's only.
    #[napi]
    pub fn get_layer_weights(&self, index: u32) -> Result<Vec<Float32Array>> {
        guard(|| {
            let weights = present(&self.cell.try_read()?)?.layer_weights(index as usize)?;
            Ok(weights.into_iter().map(|w| Float32Array::new(w.data)).collect())
        })
    }

    /// Replaces layer `index`'s weights; `shapes[i]` is the shape of `data[i]`.
    #[napi]
    pub fn set_layer_weights(&self, index: u32, data: Vec<Float32Array>, shapes: Vec<Vec<u32>>) -> Result<()> {
        guard(|| {
            let weights = to_weights(&data, &shapes);
            present_mut(&mut self.cell.try_write()?)?.set_layer_weights(index as usize, weights)
        })
    }

    /// Frees the model's memory as soon as no call uses it; later calls fail
    /// with ERR_FERRO_STATE. (Without this, it goes when the JS object is
    /// collected.)
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        guard(|| self.cell.dispose())?;
        // The weights (and any inference workspaces) may be gone now.
        pool::spawn(ferro_core::alloc::release_free_memory);
        if self.external > 0 {
            env.adjust_external_memory(-self.external)?;
            self.external = 0;
        }
        Ok(())
    }

    /// The last layer's outputs for `rows` rows of `x`, through `done`.
    #[napi(
        ts_args_type = "x: InputRows, rows: number, batchSize: number, done: (err: Error | null, out: Float32Array) => void"
    )]
    pub fn predict(&self, x: InputRows, rows: u32, batch_size: u32, done: Done<Float32Array>) -> Result<()> {
        guard(|| {
            let x = copy_inputs(&x)?;
            let ticket = self.cell.begin_read()?;
            let crowded = InFlight::begin();
            pool::spawn(move || {
                let predict = || present(&ticket.model())?.predict(x.view(), rows as usize, batch_size as usize);
                let result = guard_job(|| if crowded.0 { pool::serial(predict) } else { predict() });
                drop(crowded);
                drop(ticket);
                settle(done, result.map(Float32Array::new));
            });
            Ok(())
        })
    }

    /// The last layer's outputs for `rows` rows of `x`, computed at once on
    /// this (JavaScript) thread when the call is small enough
    /// (`Model::predict_is_small`); otherwise null, and `predict` is the
    /// way. Handing a one-row predict to a sleeping pool thread and its
    /// result back to this one can cost more than the arithmetic (see
    /// `pool::on_caller`). `FERRO_NN_PREDICT_ON_CALLER=0` turns this off,
    /// for servers that would rather keep this thread free.
    #[napi(ts_args_type = "x: InputRows, rows: number, batchSize: number")]
    pub fn predict_here(&self, x: InputRows, rows: u32, batch_size: u32) -> Result<Option<Float32Array>> {
        guard(|| {
            let ticket = self.cell.begin_read()?;
            let model = ticket.model();
            let model = present(&model)?;
            if !predicts_on_caller() || !model.predict_is_small(rows as usize) {
                return Ok(None);
            }
            let x = copy_inputs(&x)?;
            let out = pool::on_caller(|| model.predict(x.view(), rows as usize, batch_size as usize))?;
            Ok(Some(Float32Array::new(out)))
        })
    }

    /// Mean loss and accuracy over `x` and `y` (the loss weighted by
    /// `sampleWeight` when given, as Keras's evaluate), through `done`.
    #[napi(
        ts_args_type = "x: InputRows, y: TargetRows, batchSize: number, sampleWeight: Float32Array | undefined | null, done: (err: Error | null, m: Metrics) => void"
    )]
    pub fn evaluate(
        &self,
        x: InputRows,
        y: TargetRows,
        batch_size: u32,
        sample_weight: Option<Float32Array>,
        done: Done<Metrics>,
    ) -> Result<()> {
        guard(|| {
            let (x, y) = (copy_inputs(&x)?, copy_targets(&y)?);
            let weights = copy_weights(sample_weight.as_ref(), "the sample weights")?;
            let ticket = self.cell.begin_read()?;
            pool::spawn(move || {
                let result = guard_job(|| {
                    let model = ticket.model();
                    let model = present(&model)?;
                    let samples = Samples { x: x.view(), targets: y.view(), weights: weights.as_deref() };
                    Ok(metrics(model.evaluate(samples, batch_size as usize)?, &model.logger()))
                });
                drop(ticket);
                settle(done, result);
            });
            Ok(())
        })
    }

    /// One optimizer step on exactly this batch, through `done`.
    #[napi(ts_args_type = "x: InputRows, y: TargetRows, done: (err: Error | null, m: Metrics) => void")]
    pub fn train_on_batch(&self, x: InputRows, y: TargetRows, done: Done<Metrics>) -> Result<()> {
        guard(|| {
            self.cell.begin_session()?;
            let copied = copy_inputs(&x).and_then(|x| Ok((x, copy_targets(&y)?)));
            let (x, y) = copied.inspect_err(|_| self.cell.end_session())?;
            let cell = self.cell.clone();
            self.cell.schedule_write(move || {
                let result = guard_job(|| {
                    let mut model = cell.write();
                    let model = present_mut(&mut model)?;
                    let totals = model.train_on_batch(Samples { x: x.view(), targets: y.view(), weights: None })?;
                    Ok(metrics(totals, &model.logger()))
                });
                cell.end_write();
                cell.end_session();
                settle(done, result);
            });
            Ok(())
        })
    }

    /// The id `liveModels` counts by.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Whether small predicts may run on the caller (`predict_here`): unless
/// FERRO_NN_PREDICT_ON_CALLER is 0 (read at each call, as FERRO_NN_BF16 is;
/// a lookup is well under a microsecond).
fn predicts_on_caller() -> bool {
    std::env::var("FERRO_NN_PREDICT_ON_CALLER").map_or(true, |v| v.trim() != "0")
}

/// Counts predict calls in flight in the process. When others are in flight
/// too, a call runs its kernels on one thread: the pool's threads are busy
/// with the other calls, and splitting each call would only add hand-offs
/// (64 one-row predicts in flight: 25 000 rows/s split, 50 000 whole).
pub struct InFlight(bool);

static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl InFlight {
    fn begin() -> InFlight {
        InFlight(IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs a job's body with panics caught: a job runs on the pool, where an
/// escaped panic would take the thread (and its caller's promise) with it.
pub fn guard_job<T>(f: impl FnOnce() -> ferro_core::Result<T>) -> ferro_core::Result<T> {
    ferro_core::error::catch_panic(f)
}

impl Drop for NativeModel {
    fn drop(&mut self) {
        MODELS.remove(self.id);
    }
}

/// Live models by id: for leak checks (see registry.rs).
pub static MODELS: Registry<ModelCell> = Registry::new();

/// How many models are alive (not yet collected): for leak checks.
#[napi]
pub fn live_models() -> u32 {
    MODELS.len() as u32
}

/// Weight tensors from JavaScript's arrays and shapes (copied: the native
/// side owns its data).
fn to_weights(data: &[Float32Array], shapes: &[Vec<u32>]) -> Vec<WeightTensor> {
    data.iter()
        .zip(shapes)
        .map(|(d, s)| WeightTensor { shape: s.iter().map(|&v| v as usize).collect(), data: d.to_vec() })
        .collect()
}
