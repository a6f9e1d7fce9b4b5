//! `NativeModel`: one core `Model` behind a mutex, shared with the tasks
//! that train or run it on ferro-nn's pool.

use crate::errors::guard;
use crate::fit::{FitConfig, FitEvents, FitTask};
use crate::registry::Registry;
use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, Initializer};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{pool, Error as CoreError, Model, Samples, WeightTensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

#[napi(object)]
pub struct LayerConfig {
    pub units: u32,
    pub activation: String,
    pub use_bias: bool,
    pub kernel_initializer: String,
    pub bias_initializer: String,
}

#[napi(object)]
pub struct OptimizerConfig {
    pub learning_rate: f64,
    pub rho: f64,
    pub epsilon: f64,
    pub momentum: f64,
    pub centered: bool,
}

#[napi(object)]
pub struct Metrics {
    pub loss: f64,
    pub accuracy: f64,
}

/// Finalised with an adjustment of V8's external memory (see `external`).
#[napi(custom_finalize)]
pub struct NativeModel {
    inner: SharedModel,
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

/// A model shared with the tasks that use it; None once disposed.
pub type SharedModel = Arc<Mutex<Option<Model>>>;

/// The model, locked for one call.
pub struct Held<'a>(MutexGuard<'a, Option<Model>>);

impl Deref for Held<'_> {
    type Target = Model;
    fn deref(&self) -> &Model {
        self.0.as_ref().expect("checked when locked")
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Model {
        self.0.as_mut().expect("checked when locked")
    }
}

fn disposed() -> CoreError {
    CoreError::State("The model has been disposed; create a new one.".into())
}

fn held(guard: MutexGuard<'_, Option<Model>>) -> ferro_core::Result<Held<'_>> {
    if guard.is_some() {
        Ok(Held(guard))
    } else {
        Err(disposed())
    }
}

/// Recovers a mutex a caught panic poisoned: the weights are those of the
/// last completed step, so the model stays usable.
fn unpoison<'a>(
    model: &'a SharedModel,
    poisoned: PoisonError<MutexGuard<'a, Option<Model>>>,
) -> MutexGuard<'a, Option<Model>> {
    model.clear_poison();
    poisoned.into_inner()
}

/// The model's mutex, unless a fit holds it: then ERR_FERRO_BUSY with `busy`.
fn try_guard<'a>(model: &'a SharedModel, busy: &str) -> ferro_core::Result<MutexGuard<'a, Option<Model>>> {
    match model.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::WouldBlock) => Err(CoreError::Busy(busy.into())),
        Err(TryLockError::Poisoned(p)) => Ok(unpoison(model, p)),
    }
}

/// Locks the model for one call, or says it is busy (a fit holds it).
pub fn lock(model: &SharedModel) -> ferro_core::Result<Held<'_>> {
    held(try_guard(model, "The model is training: wait for fit() or trainOnBatch() to settle before this call.")?)
}

/// Locks the model, waiting for a call that holds it to finish.
pub fn lock_blocking(model: &SharedModel) -> ferro_core::Result<Held<'_>> {
    let guard = model.lock().unwrap_or_else(|p| unpoison(model, p));
    held(guard)
}

fn spec(c: &LayerConfig) -> ferro_core::Result<DenseSpec> {
    Ok(DenseSpec {
        units: c.units as usize,
        activation: Activation::parse(&c.activation)?,
        use_bias: c.use_bias,
        kernel_initializer: Initializer::parse(&c.kernel_initializer)?,
        bias_initializer: Initializer::parse(&c.bias_initializer)?,
    })
}

#[napi]
impl NativeModel {
    /// Builds the layers for `input_dim` features with freshly drawn weights.
    #[napi(constructor)]
    pub fn new(env: Env, input_dim: u32, layers: Vec<LayerConfig>) -> Result<Self> {
        let model = guard(|| {
            let specs = layers.iter().map(spec).collect::<ferro_core::Result<Vec<_>>>()?;
            Model::new(input_dim as usize, &specs, ferro_core::rng::next_seed())
        })?;
        // Weights and, once trained, as much again of RMSprop velocity.
        let external = (2 * 4 * model.param_count()).min(i64::MAX as usize) as i64;
        env.adjust_external_memory(external)?;
        let inner = Arc::new(Mutex::new(Some(model)));
        Ok(NativeModel { id: MODELS.insert(&inner), inner, external })
    }

    #[napi]
    pub fn compile(&self, optimizer: OptimizerConfig, loss: String) -> Result<()> {
        guard(|| {
            let config = RmsPropConfig {
                learning_rate: optimizer.learning_rate,
                rho: optimizer.rho,
                epsilon: optimizer.epsilon,
                momentum: optimizer.momentum,
                centered: optimizer.centered,
            };
            lock(&self.inner)?.compile(config, Loss::parse(&loss)?)
        })
    }

    #[napi]
    pub fn param_count(&self) -> Result<f64> {
        guard(|| Ok(lock(&self.inner)?.param_count() as f64))
    }

    /// Kernel and bias of each layer, in order, as flat arrays.
    #[napi]
    pub fn get_weights(&self) -> Result<Vec<Float32Array>> {
        guard(|| Ok(lock(&self.inner)?.weights().into_iter().map(|w| Float32Array::new(w.data)).collect()))
    }

    /// Replaces every weight; `shapes[i]` is the shape of `data[i]`.
    #[napi]
    pub fn set_weights(&self, data: Vec<Float32Array>, shapes: Vec<Vec<u32>>) -> Result<()> {
        guard(|| {
            let weights = data
                .iter()
                .zip(&shapes)
                .map(|(d, s)| WeightTensor { shape: s.iter().map(|&v| v as usize).collect(), data: d.to_vec() })
                .collect();
            lock(&self.inner)?.set_weights(weights)
        })
    }

    /// Frees the model's memory now; later calls fail with ERR_FERRO_STATE.
    /// (Without this, the memory is freed when the JS object is collected.)
    #[napi]
    pub fn dispose(&mut self, env: Env) -> Result<()> {
        guard(|| {
            try_guard(&self.inner, "The model is training: dispose() it once fit() or trainOnBatch() settles.")?.take();
            Ok(())
        })?;
        if self.external > 0 {
            env.adjust_external_memory(-self.external)?;
            self.external = 0;
        }
        Ok(())
    }

    /// The id the async entry points (`modelFit`, …) take.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for NativeModel {
    fn drop(&mut self) {
        MODELS.remove(self.id);
    }
}

/// Live models by id, for the async entry points (see registry.rs).
pub static MODELS: Registry<Mutex<Option<Model>>> = Registry::new();

/// How many models are alive (not yet collected): for leak checks.
#[napi]
pub fn live_models() -> u32 {
    MODELS.len() as u32
}

fn model(id: u32) -> Result<SharedModel> {
    guard(|| MODELS.get(id, "model"))
}

/// Trains model `model` on `x` (rows × features) and `y` (labels); see `FitTask`.
#[napi(ts_return_type = "Promise<FitSummary>")]
#[allow(clippy::too_many_arguments)]
pub fn model_fit(
    model_id: u32,
    x: Float32Array,
    y: Int32Array,
    val_x: Option<Float32Array>,
    val_y: Option<Int32Array>,
    config: FitConfig,
    control_id: u32,
    #[napi(ts_arg_type = "((event: FitEvent) => void) | undefined | null")] on_event: Option<FitEvents>,
) -> Result<AsyncTask<FitTask>> {
    let val = val_x.zip(val_y);
    let control = crate::fit::control(control_id)?;
    Ok(AsyncTask::new(FitTask::new(model(model_id)?, x, y, val, config, control, on_event)))
}

#[napi(ts_return_type = "Promise<Metrics>")]
pub fn model_evaluate(
    model_id: u32,
    x: Float32Array,
    y: Int32Array,
    batch_size: u32,
) -> Result<AsyncTask<EvaluateTask>> {
    Ok(AsyncTask::new(EvaluateTask { model: model(model_id)?, x, y, batch_size }))
}

#[napi(ts_return_type = "Promise<Float32Array>")]
pub fn model_predict(model_id: u32, x: Float32Array, rows: u32, batch_size: u32) -> Result<AsyncTask<PredictTask>> {
    Ok(AsyncTask::new(PredictTask { model: model(model_id)?, x, rows, batch_size }))
}

#[napi(ts_return_type = "Promise<Metrics>")]
pub fn model_train_on_batch(model_id: u32, x: Float32Array, y: Int32Array) -> Result<AsyncTask<TrainOnBatchTask>> {
    Ok(AsyncTask::new(TrainOnBatchTask { model: model(model_id)?, x, y }))
}

fn metrics(t: ferro_core::losses::LossTotals) -> Metrics {
    Metrics { loss: t.mean_loss(), accuracy: t.accuracy() }
}

pub struct EvaluateTask {
    model: SharedModel,
    x: Float32Array,
    y: Int32Array,
    batch_size: u32,
}

#[napi]
impl Task for EvaluateTask {
    type Output = Metrics;
    type JsValue = Metrics;

    fn compute(&mut self) -> Result<Metrics> {
        guard(|| {
            let guard = lock(&self.model)?;
            let model: &Model = &guard;
            let samples = Samples { x: &self.x, labels: &self.y };
            pool::install(|| model.evaluate(samples, self.batch_size as usize)).map(metrics)
        })
    }

    fn resolve(&mut self, _env: Env, output: Metrics) -> Result<Metrics> {
        Ok(output)
    }
}

pub struct PredictTask {
    model: SharedModel,
    x: Float32Array,
    rows: u32,
    batch_size: u32,
}

#[napi]
impl Task for PredictTask {
    type Output = Vec<f32>;
    type JsValue = Float32Array;

    fn compute(&mut self) -> Result<Vec<f32>> {
        guard(|| {
            let guard = lock(&self.model)?;
            let model: &Model = &guard;
            pool::install(|| model.predict(&self.x, self.rows as usize, self.batch_size as usize))
        })
    }

    fn resolve(&mut self, _env: Env, output: Vec<f32>) -> Result<Float32Array> {
        Ok(Float32Array::new(output))
    }
}

pub struct TrainOnBatchTask {
    model: SharedModel,
    x: Float32Array,
    y: Int32Array,
}

#[napi]
impl Task for TrainOnBatchTask {
    type Output = Metrics;
    type JsValue = Metrics;

    fn compute(&mut self) -> Result<Metrics> {
        guard(|| {
            let mut guard = lock(&self.model)?;
            let model: &mut Model = &mut guard;
            let samples = Samples { x: &self.x, labels: &self.y };
            pool::install(|| model.train_on_batch(samples)).map(metrics)
        })
    }

    fn resolve(&mut self, _env: Env, output: Metrics) -> Result<Metrics> {
        Ok(output)
    }
}
