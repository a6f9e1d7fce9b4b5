//! The epoch loop. A fit is a `FitRun` driven a step at a time: `advance`
//! runs batches until the next point where the caller may need to act — the
//! end of an epoch, or, when asked, the end of each batch — and returns.
//! Nothing here waits: the Node binding parks the run between calls while
//! JavaScript runs its callbacks, and goes on (or stops) when they are done.

use crate::error::{Error, Result};
use crate::losses::LossTotals;
use crate::model::Model;
use crate::rng::Rng;
use crate::train::{gather, positive_batch, Samples};
use crate::workspace::Workspace;

#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub shuffle: bool,
    /// Seeds the per-epoch shuffles.
    pub seed: u64,
    /// The epoch to start at (Keras's initial_epoch): the epochs before it
    /// count as done; each epoch's shuffle depends on the seed and its
    /// number only, so a resumed fit shuffles as an uninterrupted one would.
    pub initial_epoch: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochLogs {
    /// Batches run this epoch.
    pub batches: usize,
    pub train: LossTotals,
    pub val: Option<LossTotals>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// End the epoch (and training) here; it is still validated, as Keras
    /// validates an epoch whose loop `stop_training` broke.
    Stop,
    /// End at once, without validating: the caller is abandoning the fit.
    Abort,
}

/// Hears from the loop after each batch; answering `Flow::Stop` ends the
/// epoch (and training) after the step that just finished.
pub trait FitObserver {
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _running: &LossTotals) -> Flow {
        Flow::Continue
    }
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &EpochLogs) -> Flow {
        Flow::Continue
    }
    /// Asked between the chunks of an epoch's validation pass: true ends it
    /// early (as `Flow::Abort` after a batch ends training).
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// An observer that only listens.
pub struct Silent;
impl FitObserver for Silent {}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FitResult {
    pub epochs: Vec<EpochLogs>,
    pub stopped: bool,
}

/// Where `advance` returned. Both variants carry metric totals (3 KB each
/// with AUC's counts); a Step is returned once per pause and never stored,
/// so boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Batch `batch` of epoch `epoch` is done; `running` are the epoch's
    /// means so far. Only returned when `advance` was asked to stop there.
    Batch { epoch: usize, batch: usize, running: LossTotals },
    /// Epoch `epoch` is over. `stopped`: training stops here, perhaps
    /// between batches, with the running logs of the batches done and,
    /// unless aborted, validation (as Keras reports a stopped epoch); the
    /// weights are those of the last completed step.
    Epoch { epoch: usize, logs: EpochLogs, stopped: bool },
}

/// The state a fit carries between steps: the workspace, the shuffle order
/// and where in the epoch it stands.
pub struct FitRun {
    ws: Workspace,
    order: Vec<usize>,
    options: FitOptions,
    rows: usize,
    epoch: usize,
    /// The next batch of the current epoch; 0 before the epoch starts.
    batch: usize,
    running: LossTotals,
    stopping: bool,
    /// Stopping without validation (`Flow::Abort`).
    aborting: bool,
}

impl Model {
    /// Checks everything and allocates what the whole fit needs.
    pub fn begin_fit(&mut self, train: Samples, val: Option<Samples>, options: &FitOptions) -> Result<FitRun> {
        self.require_compiled()?;
        train.check(self, "the training data")?;
        if let Some(v) = &val {
            v.check(self, "the validation data")?;
        }
        let n = train.len();
        let rows = positive_batch(options.batch_size)?.min(n);
        self.build_optimizer()?;
        let mut ws = Workspace::new(self, rows, true)?;
        ws.weighted = train.weights.is_some();
        ws.fetch_rows_early = crate::train::early_prefetch_pays(train, crate::cache_size::last_level());
        ws.keep_first_kernel(self)?;
        ws.prepare_tiles(self)?;
        ws.pack_batches_ahead(self)?;
        let mut order: Vec<usize> = crate::alloc::zeroed(n, "the shuffle order")?;
        order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        Ok(FitRun {
            ws,
            order,
            options: *options,
            rows,
            epoch: options.initial_epoch,
            batch: 0,
            running: LossTotals::default(),
            stopping: false,
            aborting: false,
        })
    }

    /// Trains for `options.epochs` over `train`, evaluating `val` after each epoch.
    pub fn fit(
        &mut self,
        train: Samples,
        val: Option<Samples>,
        options: &FitOptions,
        observer: &mut dyn FitObserver,
    ) -> Result<FitResult> {
        let mut run = self.begin_fit(train, val, options)?;
        let mut result = FitResult::default();
        while !run.finished() {
            if let Step::Epoch { epoch, logs, stopped } = run.advance(self, train, val, false, observer)? {
                result.epochs.push(logs);
                let answer = observer.on_epoch_end(epoch, &logs);
                if stopped || answer != Flow::Continue {
                    result.stopped = true;
                    break;
                }
            }
        }
        Ok(result)
    }
}

impl FitRun {
    /// The epoch the next step belongs to.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Every epoch has run (or training was stopped).
    pub fn finished(&self) -> bool {
        self.epoch >= self.options.epochs
    }

    /// No batch of the current epoch has run yet.
    pub fn between_epochs(&self) -> bool {
        self.batch == 0 && !self.stopping
    }

    /// Batches per epoch.
    pub fn steps(&self) -> usize {
        self.order.len().div_ceil(self.rows)
    }

    /// Ends the current epoch at the next step, before any further batch.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Runs batches of `train` (the samples `begin_fit` saw) until the end
    /// of the epoch — then evaluates `val` — or, with `each_batch`, until
    /// the end of the next batch. `observer` hears of every batch and may
    /// stop the epoch there.
    pub fn advance(
        &mut self,
        model: &mut Model,
        train: Samples,
        val: Option<Samples>,
        each_batch: bool,
        observer: &mut dyn FitObserver,
    ) -> Result<Step> {
        if train.len() != self.order.len() {
            return Err(Error::Internal("advance was given other samples than begin_fit".into()));
        }
        if self.finished() {
            return Err(Error::Internal("advance was called after the last epoch".into()));
        }
        model.build_optimizer()?;
        let (n, rows, d) = (self.order.len(), self.rows, model.input_dim());
        let epoch = self.epoch;
        if self.batch == 0 && !self.stopping {
            if self.options.shuffle {
                // Each epoch's order comes from the seed and its number
                // alone, so a fit resumed at initial_epoch shuffles as an
                // uninterrupted one at no cost (replaying the shuffles
                // before it took minutes at initial_epoch 1e6, unabortable).
                self.order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                Rng::part(self.options.seed, epoch as u64).shuffle(&mut self.order);
            }
            let first = &self.order[..rows.min(n)];
            let ws = &mut self.ws;
            gather(model.isa(), &mut ws.x, &mut ws.labels, &mut ws.values, &mut ws.weights, train, first, d);
        }
        // Batches run with the first kernel updated in tiles unless the
        // caller pauses after each (it may read the weights there), or too
        // few are left to repay moving the kernel and its slots there and
        // back.
        let tiled = !each_batch && self.steps() - self.batch >= model.tiled_from && model.enter_tiles(&mut self.ws);
        // The pool's threads are kept from sleeping through a run of
        // batches (pool.rs), not through a single one: that would allocate
        // per step, and they would sleep through the pause after it anyway.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if each_batch {
                self.run_batches(model, train, each_batch, observer)
            } else {
                crate::pool::keeping_awake(|| self.run_batches(model, train, each_batch, observer))
            }
        }));
        if tiled {
            // Also after a panic: the model keeps the weights of its last step.
            model.leave_tiles(&mut self.ws);
        }
        if let Some(paused) = ran.unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
            return Ok(paused);
        }
        let stopped = self.stopping;
        // An abort that comes during validation ends it between chunks: the
        // logs then lack it, and the caller, ending the fit, does not use them.
        let val = if self.aborting {
            None
        } else {
            val.and_then(|v| model.evaluate_into(&mut self.ws, v, rows, &mut || observer.cancelled()))
        };
        let logs = EpochLogs { batches: self.batch, train: self.running, val };
        self.epoch = if stopped { self.options.epochs } else { epoch + 1 };
        self.batch = 0;
        self.running = LossTotals::default();
        Ok(Step::Epoch { epoch, logs, stopped })
    }

    /// Runs batches until the epoch ends (None) or, with `each_batch`, to
    /// the end of the next one (its `Step::Batch`).
    fn run_batches(
        &mut self,
        model: &mut Model,
        train: Samples,
        each_batch: bool,
        observer: &mut dyn FitObserver,
    ) -> Option<Step> {
        let (n, rows, steps, epoch) = (self.order.len(), self.rows, self.steps(), self.epoch);
        while !(self.stopping || self.batch == steps) {
            let (ws, order, batch) = (&mut self.ws, &self.order, self.batch);
            let batch_at = |i: usize| &order[i * rows..((i + 1) * rows).min(n)];
            let next = (batch + 1 < steps).then(|| (train, batch_at(batch + 1)));
            self.running.add(model.train_step(ws, batch_at(batch).len(), next));
            if next.is_some() {
                std::mem::swap(&mut ws.x, &mut ws.next_x);
                std::mem::swap(&mut ws.labels, &mut ws.next_labels);
                std::mem::swap(&mut ws.values, &mut ws.next_values);
                std::mem::swap(&mut ws.weights, &mut ws.next_weights);
            }
            self.batch += 1;
            match observer.on_batch_end(epoch, batch, &self.running) {
                Flow::Continue => {}
                Flow::Stop => self.stopping = true,
                Flow::Abort => (self.stopping, self.aborting) = (true, true),
            }
            if each_batch {
                return Some(Step::Batch { epoch, batch, running: self.running });
            }
        }
        None
    }
}
