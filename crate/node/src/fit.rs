//! `fit` as a `FitSession` that JavaScript drives step by step.
//!
//! `NativeModel::fit_start` copies the data, claims training and returns a
//! parked session. `resume` runs the next step on ferro-nn's pool: up to the
//! end of an epoch, or of one batch when JS has batch callbacks. Each step
//! ends by parking the session and sending an event; JS runs its callbacks
//! and calls `resume` again, or ends the fit. No thread ever waits for
//! JavaScript: a callback that never settles holds nothing but the parked
//! session, which `cancel` (an abort) or the environment's teardown drops.
//! Progress events (every ~50 ms) and step events share one queue, so JS
//! sees them in order.

use crate::cell::{present_mut, ModelCell};
use crate::data::{copy_inputs, copy_targets, copy_weights, InputRows, OwnedTargets, TargetRows};
use crate::errors::{guard, to_napi};
use crate::model::{guard_job, log_entries, LogEntry, NativeModel};
use crate::shutdown::{self, Cancel};
use ferro_core::losses::LossTotals;
use ferro_core::metrics::Logger;
use ferro_core::{pool, EpochLogs, FitObserver, FitOptions, FitRun, Flow, OwnedInputs, Samples, Step};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

#[napi(object)]
pub struct FitConfig {
    pub epochs: u32,
    pub batch_size: u32,
    pub shuffle: bool,
    /// Park after every batch (JS has batch callbacks) rather than only at
    /// epoch ends.
    pub each_batch: bool,
    /// A weight per training sample (Keras's sample_weight; class weights
    /// arrive already turned into these).
    pub sample_weight: Option<Float32Array>,
    /// The epoch to start at (Keras's initial_epoch).
    pub initial_epoch: Option<u32>,
    /// A weight per validation sample: the validationSplit share of
    /// sampleWeight, or validationData's third element, as Keras weighs
    /// val_loss (class weights never reach validation, as in Keras).
    pub val_sample_weight: Option<Float32Array>,
}

/// One report. `kind` is "progress" (running means, sent every ~50 ms while
/// training runs on), "batch" (a batch is done and the session is parked),
/// "epoch" (an epoch is over and the session is parked; `stopped` when it
/// ended early) or "cancelled" (the session stopped after `cancel`).
#[napi(object)]
pub struct FitEvent {
    pub kind: String,
    pub epoch: u32,
    /// Batches done in this epoch.
    pub batches: u32,
    /// loss, accuracy and the compiled metrics, by name, in that order.
    pub logs: Vec<LogEntry>,
    /// The same for the validation data (names without `val_`), when validated.
    pub val_logs: Option<Vec<LogEntry>>,
    pub stopped: bool,
}

impl FitEvent {
    fn new(
        kind: &str,
        (epoch, batches): (usize, usize),
        t: &LossTotals,
        val: Option<LossTotals>,
        logger: &Logger,
        stopped: bool,
    ) -> Self {
        FitEvent {
            kind: kind.into(),
            epoch: epoch as u32,
            batches: batches as u32,
            logs: log_entries(logger, t),
            val_logs: val.map(|v| log_entries(logger, &v)),
            stopped,
        }
    }
}

pub type FitEvents = ThreadsafeFunction<FitEvent, UnknownReturnValue, FitEvent, Status, true>;

/// What a session owns while it is parked or running; dropped when it ends.
struct FitJob {
    cell: Arc<ModelCell>,
    train: (OwnedInputs, OwnedTargets),
    sample_weight: Option<Vec<f32>>,
    val_weight: Option<Vec<f32>>,
    val: Option<(OwnedInputs, OwnedTargets)>,
    options: FitOptions,
    each_batch: bool,
    /// Made by the first step, which is the first to hold the model.
    run: Option<FitRun>,
    events: FitEvents,
}

enum Slot {
    /// Waiting for `resume`; nothing runs.
    Parked(Box<FitJob>),
    /// A step is scheduled or running on the pool.
    Running,
    /// Training is over and given back.
    Done,
}

struct Shared {
    /// Weak: a FitSession kept by JS after its fit ended must not keep the
    /// model's memory alive (the job holds it while the fit lasts).
    cell: Weak<ModelCell>,
    slot: Mutex<Slot>,
    /// End the epoch after the current batch (set by JS for the step it
    /// resumes, or by `stop`).
    stop: AtomicBool,
    /// Drop everything after the current batch.
    cancelled: AtomicBool,
    /// Test hook: 1 + the batch at which to panic (0: never).
    panic_at: AtomicU32,
}

impl Shared {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the session: training goes back to the model, and a parked job
    /// (its workspace and data copies) is freed.
    fn finish(&self, slot: &mut Slot) {
        let parked = std::mem::replace(slot, Slot::Done);
        if let Some(cell) = self.cell.upgrade() {
            cell.end_session();
        }
        if let Slot::Parked(job) = parked {
            release(job);
        }
    }
}

impl Cancel for Shared {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.stop.store(true, Ordering::Release);
        let mut slot = self.slot();
        if matches!(*slot, Slot::Parked(_)) {
            self.finish(&mut slot);
        }
    }
}

/// JS's handle on a running fit.
#[napi]
pub struct FitSession {
    shared: Arc<Shared>,
}

/// Hears from the core loop after each batch: stop requests and progress.
struct Observer<'a> {
    shared: &'a Shared,
    events: &'a FitEvents,
    metrics: &'a Logger,
    last_sent: Instant,
}

impl FitObserver for Observer<'_> {
    fn on_batch_end(&mut self, epoch: usize, batch: usize, running: &LossTotals) -> Flow {
        if self.shared.panic_at.load(Ordering::Acquire) == batch as u32 + 1 {
            panic!("test hook: deliberate panic in fit after batch {batch}");
        }
        if self.shared.cancelled.load(Ordering::Acquire) {
            return Flow::Abort;
        }
        if self.shared.stop.load(Ordering::Acquire) {
            return Flow::Stop;
        }
        if self.last_sent.elapsed() >= PROGRESS_INTERVAL {
            self.last_sent = Instant::now();
            let event = FitEvent::new("progress", (epoch, batch + 1), running, None, self.metrics, false);
            self.events.call(Ok(event), ThreadsafeFunctionCallMode::NonBlocking);
        }
        Flow::Continue
    }

    fn cancelled(&mut self) -> bool {
        self.shared.cancelled.load(Ordering::Acquire)
    }
}

/// One step on the pool: train up to the next pause, park, report.
fn step(shared: Arc<Shared>, mut job: Box<FitJob>) {
    let outcome = guard_job(|| {
        let FitJob { cell, train, sample_weight, val, val_weight, options, each_batch, run, events } = &mut *job;
        let mut model = cell.write();
        let model = present_mut(&mut model)?;
        let train = Samples { x: train.0.view(), targets: train.1.view(), weights: sample_weight.as_deref() };
        let val = val.as_ref().map(|(x, y)| Samples { x: x.view(), targets: y.view(), weights: val_weight.as_deref() });
        if run.is_none() {
            *run = Some(model.begin_fit(train, val, options)?);
        }
        let run = run.as_mut().expect("made above");
        let metrics = model.logger();
        let mut observer = Observer { shared: &shared, events, metrics: &metrics, last_sent: Instant::now() };
        let step = run.advance(model, train, val, *each_batch, &mut observer)?;
        Ok((step, metrics))
    });
    job.cell.end_write();
    let mut slot = shared.slot();
    if shared.cancelled.load(Ordering::Acquire) {
        shared.finish(&mut slot);
        drop(slot);
        job.events.call(Ok(cancelled()), ThreadsafeFunctionCallMode::NonBlocking);
        return release(job);
    }
    let event = match outcome {
        Ok((Step::Batch { epoch, batch, running }, m)) => {
            FitEvent::new("batch", (epoch, batch + 1), &running, None, &m, false)
        }
        Ok((Step::Epoch { epoch, logs: EpochLogs { batches, train, val }, stopped }, m)) => {
            FitEvent::new("epoch", (epoch, batches), &train, val, &m, stopped)
        }
        Err(e) => {
            shared.finish(&mut slot);
            drop(slot);
            job.events.call(Err(to_napi(e)), ThreadsafeFunctionCallMode::NonBlocking);
            return release(job);
        }
    };
    // Queued under the slot's lock, parked before JS can answer it: the
    // call only queues the event, JS runs it later on its own thread.
    job.events.call(Ok(event), ThreadsafeFunctionCallMode::NonBlocking);
    *slot = Slot::Parked(job);
}

/// Frees what a job holds (tens of MB for MNIST: ~10 ms of unmapping), then
/// gives the pages back to the OS; on the pool, off the JS thread.
fn release(job: Box<FitJob>) {
    pool::spawn(move || {
        drop(job);
        ferro_core::alloc::release_free_memory();
    });
}

fn cancelled() -> FitEvent {
    FitEvent::new("cancelled", (0, 0), &LossTotals::default(), None, &Logger::default(), true)
}

#[napi]
impl NativeModel {
    /// Claims training (ERR_FERRO_BUSY if a fit or trainOnBatch has it),
    /// copies the data and returns a parked session: `resume` starts it.
    #[napi(
        ts_args_type = "x: InputRows, y: TargetRows, valX: InputRows | undefined | null, valY: TargetRows | undefined | null, config: FitConfig, onEvent: (err: Error | null, event: FitEvent) => void"
    )]
    // Each argument is one JS value; an options object would only add a conversion.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_start(
        &self,
        env: Env,
        x: InputRows,
        y: TargetRows,
        val_x: Option<InputRows>,
        val_y: Option<TargetRows>,
        config: FitConfig,
        on_event: FitEvents,
    ) -> Result<FitSession> {
        // Claimed first, so that a refused fit copies nothing; given back if
        // anything after fails.
        guard(|| self.cell.begin_session())?;
        let job = guard(|| {
            let val = match (&val_x, &val_y) {
                (Some(x), Some(y)) => Some((copy_inputs(x)?, copy_targets(y)?)),
                _ => None,
            };
            let options = FitOptions {
                epochs: config.epochs as usize,
                batch_size: config.batch_size as usize,
                shuffle: config.shuffle,
                // Drawn on the JS thread, so seeded programs shuffle alike however steps are scheduled.
                seed: ferro_core::rng::next_seed(),
                initial_epoch: config.initial_epoch.unwrap_or(0) as usize,
            };
            let train = (copy_inputs(&x)?, copy_targets(&y)?);
            let sample_weight = copy_weights(config.sample_weight.as_ref(), "the sample weights")?;
            let val_weight = copy_weights(config.val_sample_weight.as_ref(), "the validation sample weights")?;
            let cell = self.cell.clone();
            let each_batch = config.each_batch;
            Ok(FitJob { cell, train, sample_weight, val, val_weight, options, each_batch, run: None, events: on_event })
        });
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                self.cell.end_session();
                return Err(e);
            }
        };
        let shared = Arc::new(Shared {
            cell: Arc::downgrade(&self.cell),
            slot: Mutex::new(Slot::Parked(Box::new(job))),
            stop: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            panic_at: AtomicU32::new(0),
        });
        let task: Arc<dyn Cancel> = shared.clone();
        if let Err(e) = shutdown::watch(&env, &task) {
            // Ends the parked session and gives training back.
            shared.cancel();
            return Err(e);
        }
        Ok(FitSession { shared })
    }
}

#[napi]
impl FitSession {
    /// Runs the next step. `stop_now` ends the epoch before another batch
    /// (at a batch pause) or the fit (at an epoch pause); `stop_after_batch`
    /// lets one more batch run first, as Keras does when `stop_training` is
    /// set before a batch (it checks only after one). Returns true when the
    /// fit is over: stopped at an epoch end, or every epoch done.
    #[napi]
    pub fn resume(&self, env: Env, stop_now: bool, stop_after_batch: bool) -> bool {
        let shared = &self.shared;
        let mut slot = shared.slot();
        let mut job = match std::mem::replace(&mut *slot, Slot::Running) {
            Slot::Parked(job) => job,
            other => {
                *slot = other;
                return matches!(*slot, Slot::Done);
            }
        };
        // Before the first step, or after an epoch: stopping here ends the fit.
        let between_epochs = job.run.as_ref().is_none_or(FitRun::between_epochs);
        if job.run.as_ref().is_some_and(FitRun::finished) || (stop_now && between_epochs) {
            *slot = Slot::Parked(job);
            shared.finish(&mut slot);
            return true;
        }
        if stop_now {
            job.run.as_mut().expect("a batch pause has a run").stop();
        }
        shared.stop.store(stop_after_batch, Ordering::Release);
        // Hold the process open while the step runs. This fails only once
        // the environment is closing, when nothing needs to be held.
        #[allow(deprecated)]
        let _ = job.events.refer(&env);
        drop(slot);
        let (cell, shared) = (job.cell.clone(), shared.clone());
        cell.schedule_write(move || step(shared, job));
        false
    }

    /// Starts the fit at `epoch` instead (BackupAndRestore resuming); only
    /// before its first step.
    #[napi]
    pub fn set_initial_epoch(&self, epoch: u32) -> Result<()> {
        guard(|| match &mut *self.shared.slot() {
            Slot::Parked(job) if job.run.is_none() => {
                job.options.initial_epoch = epoch as usize;
                Ok(())
            }
            _ => Err(ferro_core::Error::State("The fit has started: its first epoch can no longer change.".into())),
        })
    }

    /// Lets the process exit while the session waits for JS (as an
    /// unsettled promise would); `resume` holds it open again.
    #[napi]
    pub fn parked(&self, env: Env) {
        if let Slot::Parked(job) = &mut *self.shared.slot() {
            // Fails only once the environment is closing: nothing to let go of then.
            #[allow(deprecated)]
            let _ = job.events.unref(&env);
        }
    }

    /// Asks the running step to end the epoch after its current batch.
    #[napi]
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
    }

    /// Ends the fit as soon as possible: at once when parked (true), else
    /// after the running step's current batch, which then reports a
    /// "cancelled" event (false).
    #[napi]
    pub fn cancel(&self) -> bool {
        self.shared.cancel();
        matches!(*self.shared.slot(), Slot::Done)
    }

    /// Test hook (FERRO_NN_TEST_HOOKS=1): panic on ferro-nn's pool when the
    /// fit finishes batch `batch` of an epoch.
    #[napi]
    pub fn test_panic_at_batch(&self, batch: u32) -> Result<()> {
        guard(|| {
            crate::test_hooks::enabled()?;
            self.shared.panic_at.store(batch.saturating_add(1), Ordering::Release);
            Ok(())
        })
    }
}
