//! `fit` as one AsyncTask: the whole loop runs on ferro-nn's pool while
//! progress flows back to JS through a ThreadsafeFunction — one batch event
//! per ~50 ms (every batch when JS has batch callbacks) and one per epoch end.
//!
//! The model is locked one epoch at a time. At an epoch end the loop lets
//! go of it and can wait for JS (`FitConfig::sync_epochs`), so epoch
//! callbacks, even async ones, finish before the next epoch starts and may
//! read the weights or evaluate meanwhile; JS answers through
//! `FitControl::resume`, and `FitControl::stop` ends training between batches.

use crate::errors::guard;
use crate::model::{lock, lock_blocking, SharedModel};
use crate::registry::Registry;
use ferro_core::losses::LossTotals;
use ferro_core::{pool, EpochLogs, FitObserver, FitOptions, FitResult, Flow, Model, Samples};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const BATCH_EVENT_INTERVAL: Duration = Duration::from_millis(50);

#[napi(object)]
pub struct FitConfig {
    pub epochs: u32,
    pub batch_size: u32,
    pub shuffle: bool,
    /// Wait for `FitControl::resume` after each epoch event.
    pub sync_epochs: bool,
    /// Send an event after every batch rather than every ~50 ms.
    pub every_batch: bool,
}

/// One progress report. `kind` is "batch" (running means of the epoch so
/// far) or "epoch" (final means, plus validation when there is some).
#[napi(object)]
#[derive(Clone)]
pub struct FitEvent {
    pub kind: String,
    pub epoch: u32,
    /// Batches done in this epoch.
    pub batches: u32,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
}

pub type FitEvents = ThreadsafeFunction<FitEvent, UnknownReturnValue, FitEvent, Status, false>;

#[napi(object)]
pub struct EpochSummary {
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
}

#[napi(object)]
pub struct FitSummary {
    pub epochs: Vec<EpochSummary>,
    /// True when training ended early through `FitControl::stop`.
    pub stopped: bool,
}

#[derive(Default)]
pub struct ControlState {
    stop: AtomicBool,
    /// Test hook: 1 + the batch at which to panic (0: never).
    panic_at: AtomicU32,
    /// Set by `resume`: Some(stop) once JS has handled an epoch end.
    answer: Mutex<Option<bool>>,
    wake: Condvar,
}

impl ControlState {
    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Blocks until JS has handled the epoch end (it always answers, also
    /// after a stop or a failure); true means stop. Waiting even when stop
    /// was requested keeps the epoch's callbacks before the end of fit: the
    /// task's completion and the event reach JS by separate queues.
    fn wait_for_resume(&self) -> bool {
        let mut answer = self.answer.lock().unwrap_or_else(|e| e.into_inner());
        while answer.is_none() {
            answer = self.wake.wait(answer).unwrap_or_else(|e| e.into_inner());
        }
        answer.take().unwrap_or(false) || self.stop_requested()
    }
}

/// JS's handle on a running fit.
#[napi]
pub struct FitControl {
    state: Arc<ControlState>,
    id: u32,
}

/// Live controls by id, for `modelFit` (see registry.rs).
static CONTROLS: Registry<ControlState> = Registry::new();

pub fn control(id: u32) -> napi::Result<Arc<ControlState>> {
    guard(|| CONTROLS.get(id, "fit control"))
}

impl Drop for FitControl {
    fn drop(&mut self) {
        CONTROLS.remove(self.id);
    }
}

#[napi]
impl FitControl {
    #[napi(constructor)]
    pub fn new() -> Self {
        let state = Arc::default();
        FitControl { id: CONTROLS.insert(&state), state }
    }

    /// The id `modelFit` takes.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Ends training after the current batch.
    #[napi]
    pub fn stop(&self) {
        self.state.stop.store(true, Ordering::Release);
    }

    /// Lets a loop waiting at an epoch end go on (or stop, when `stop`).
    #[napi]
    pub fn resume(&self, stop: bool) {
        *self.state.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop);
        self.state.wake.notify_all();
    }

    /// Test hook (FERRO_NN_TEST_HOOKS=1): panic on ferro-nn's pool when the
    /// fit finishes batch `batch` of an epoch.
    #[napi]
    pub fn test_panic_at_batch(&self, batch: u32) -> Result<()> {
        guard(|| {
            crate::test_hooks::enabled()?;
            self.state.panic_at.store(batch.saturating_add(1), Ordering::Release);
            Ok(())
        })
    }
}

impl Default for FitControl {
    fn default() -> Self {
        Self::new()
    }
}

pub struct FitTask {
    model: SharedModel,
    x: Float32Array,
    y: Int32Array,
    val: Option<(Float32Array, Int32Array)>,
    config: FitConfig,
    control: Arc<ControlState>,
    events: Option<FitEvents>,
    /// Drawn when fit is called, on the JS thread, so seeded programs shuffle
    /// the same way however their tasks are scheduled.
    shuffle_seed: u64,
}

impl FitTask {
    pub fn new(
        model: SharedModel,
        x: Float32Array,
        y: Int32Array,
        val: Option<(Float32Array, Int32Array)>,
        config: FitConfig,
        control: Arc<ControlState>,
        events: Option<FitEvents>,
    ) -> Self {
        FitTask { model, x, y, val, config, control, events, shuffle_seed: ferro_core::rng::next_seed() }
    }
}

/// Forwards the core loop's batch reports to JS.
struct BatchEvents<'a> {
    control: &'a ControlState,
    events: Option<&'a FitEvents>,
    every_batch: bool,
    last_sent: Instant,
}

fn event(kind: &str, epoch: usize, batches: usize, t: &LossTotals, val: Option<LossTotals>) -> FitEvent {
    FitEvent {
        kind: kind.to_string(),
        epoch: epoch as u32,
        batches: batches as u32,
        loss: t.mean_loss(),
        accuracy: t.accuracy(),
        val_loss: val.map(|v| v.mean_loss()),
        val_accuracy: val.map(|v| v.accuracy()),
    }
}

impl FitObserver for BatchEvents<'_> {
    fn on_batch_end(&mut self, epoch: usize, batch: usize, running: &LossTotals) -> Flow {
        if self.control.panic_at.load(Ordering::Acquire) == batch as u32 + 1 {
            panic!("test hook: deliberate panic in fit after batch {batch}");
        }
        if self.control.stop_requested() {
            return Flow::Stop;
        }
        if let Some(events) = self.events {
            if self.every_batch || self.last_sent.elapsed() >= BATCH_EVENT_INTERVAL {
                self.last_sent = Instant::now();
                events.call(event("batch", epoch, batch + 1, running, None), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
        Flow::Continue
    }
}

impl FitTask {
    /// Tells JS the epoch is over and, when asked to, waits until it says to
    /// go on; the model is not locked meanwhile.
    fn end_epoch(&self, epoch: usize, logs: &EpochLogs) -> Flow {
        let stop = match &self.events {
            None => self.control.stop_requested(),
            Some(events) => {
                let event = event("epoch", epoch, logs.batches, &logs.train, logs.val);
                let status = events.call(event, ThreadsafeFunctionCallMode::Blocking);
                // Only wait when the event reached JS: otherwise nobody would answer.
                if self.config.sync_epochs && status == Status::Ok {
                    self.control.wait_for_resume()
                } else {
                    self.control.stop_requested()
                }
            }
        };
        if stop {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

#[napi]
impl Task for FitTask {
    type Output = ferro_core::FitResult;
    type JsValue = FitSummary;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            let train = Samples { x: &self.x, labels: &self.y };
            let val = self.val.as_ref().map(|(x, y)| Samples { x, labels: y });
            let options = FitOptions {
                epochs: self.config.epochs as usize,
                batch_size: self.config.batch_size as usize,
                shuffle: self.config.shuffle,
                seed: self.shuffle_seed,
            };
            // Busy now: refuse at once. Between epochs: wait for whoever
            // (an epoch callback's evaluate) holds the model.
            let mut run = lock(&self.model)?.begin_fit(train, val, &options)?;
            let mut result = FitResult::default();
            let mut batches = BatchEvents {
                control: &self.control,
                events: self.events.as_ref(),
                every_batch: self.config.every_batch,
                last_sent: Instant::now(),
            };
            while !run.finished() {
                let epoch = run.epoch();
                let end = {
                    let mut guard = lock_blocking(&self.model)?;
                    let model: &mut Model = &mut guard;
                    pool::install(|| run.run_epoch(model, train, val, &mut batches))?
                };
                if result.record(epoch, end, |epoch, logs| self.end_epoch(epoch, logs)) == Flow::Stop {
                    break;
                }
            }
            Ok(result)
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<FitSummary> {
        let epochs = output
            .epochs
            .iter()
            .map(|e| EpochSummary {
                loss: e.train.mean_loss(),
                accuracy: e.train.accuracy(),
                val_loss: e.val.map(|v| v.mean_loss()),
                val_accuracy: e.val.map(|v| v.accuracy()),
            })
            .collect();
        Ok(FitSummary { epochs, stopped: output.stopped })
    }
}
