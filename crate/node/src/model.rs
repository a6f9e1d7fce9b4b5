//! `NativeModel`: one core `Model` behind a mutex, shared with the tasks
//! that train or run it on ferro-nn's pool.

use crate::errors::guard;
use crate::fit::{FitConfig, FitControl, FitEvents, FitTask};
use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, Initializer};
use ferro_core::losses::Loss;
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{pool, Error as CoreError, Model, Samples, WeightTensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

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

#[napi]
pub struct NativeModel {
    inner: Arc<Mutex<Model>>,
}

/// Locks the model for one call, or says it is busy (a fit holds it).
pub fn lock(model: &Mutex<Model>) -> ferro_core::Result<MutexGuard<'_, Model>> {
    match model.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::WouldBlock) => Err(CoreError::Busy(
            "The model is training: wait for fit() or trainOnBatch() to settle before this call.".into(),
        )),
        // A panic was caught mid-call; the weights are those of the last
        // completed step, so the model stays usable.
        Err(TryLockError::Poisoned(p)) => {
            model.clear_poison();
            Ok(p.into_inner())
        }
    }
}

/// Locks the model, waiting for a call that holds it to finish.
pub fn lock_blocking(model: &Mutex<Model>) -> MutexGuard<'_, Model> {
    model.lock().unwrap_or_else(|p| {
        model.clear_poison();
        p.into_inner()
    })
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
    pub fn new(input_dim: u32, layers: Vec<LayerConfig>) -> Result<Self> {
        guard(|| {
            let specs = layers.iter().map(spec).collect::<ferro_core::Result<Vec<_>>>()?;
            let model = Model::new(input_dim as usize, &specs, ferro_core::rng::next_seed())?;
            Ok(NativeModel { inner: Arc::new(Mutex::new(model)) })
        })
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

    /// Trains on `x` (rows × features) and `y` (labels); see `FitTask`.
    #[napi(ts_return_type = "Promise<FitSummary>")]
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        &self,
        x: Float32Array,
        y: Int32Array,
        val_x: Option<Float32Array>,
        val_y: Option<Int32Array>,
        config: FitConfig,
        control: &FitControl,
        #[napi(ts_arg_type = "((event: FitEvent) => void) | undefined | null")] on_event: Option<FitEvents>,
    ) -> AsyncTask<FitTask> {
        let val = val_x.zip(val_y);
        AsyncTask::new(FitTask::new(self.inner.clone(), x, y, val, config, control.state(), on_event))
    }

    #[napi(ts_return_type = "Promise<Metrics>")]
    pub fn evaluate(&self, x: Float32Array, y: Int32Array, batch_size: u32) -> AsyncTask<EvaluateTask> {
        AsyncTask::new(EvaluateTask { model: self.inner.clone(), x, y, batch_size })
    }

    #[napi(ts_return_type = "Promise<Float32Array>")]
    pub fn predict(&self, x: Float32Array, rows: u32, batch_size: u32) -> AsyncTask<PredictTask> {
        AsyncTask::new(PredictTask { model: self.inner.clone(), x, rows, batch_size })
    }

    #[napi(ts_return_type = "Promise<Metrics>")]
    pub fn train_on_batch(&self, x: Float32Array, y: Int32Array) -> AsyncTask<TrainOnBatchTask> {
        AsyncTask::new(TrainOnBatchTask { model: self.inner.clone(), x, y })
    }
}

fn metrics(t: ferro_core::losses::LossTotals) -> Metrics {
    Metrics { loss: t.mean_loss(), accuracy: t.accuracy() }
}

pub struct EvaluateTask {
    model: Arc<Mutex<Model>>,
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
    model: Arc<Mutex<Model>>,
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
    model: Arc<Mutex<Model>>,
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
