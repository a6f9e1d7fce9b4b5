//! The epoch loop. A fit is a `FitRun` driven one epoch at a time, so that a
//! caller (the Node binding) can let go of the model between epochs — epoch
//! callbacks may read the weights or evaluate — and stop or go on.

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
    Stop,
}

/// Hears from the loop between batches and after each epoch; answering
/// `Flow::Stop` ends training after the step that just finished.
pub trait FitObserver {
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _running: &LossTotals) -> Flow {
        Flow::Continue
    }
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &EpochLogs) -> Flow {
        Flow::Continue
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

impl FitResult {
    /// Records how epoch `epoch` ended and tells `on_end` of it, as Keras
    /// does even for an epoch stopped between batches (its partial logs);
    /// returns `Flow::Stop` when training ends there: the epoch was stopped,
    /// or `on_end` answered Stop.
    pub fn record(&mut self, epoch: usize, end: EpochEnd, on_end: impl FnOnce(usize, &EpochLogs) -> Flow) -> Flow {
        let (logs, stopped) = match end {
            EpochEnd::Completed(logs) => (logs, false),
            EpochEnd::Stopped(logs) => (logs, true),
        };
        self.epochs.push(logs);
        let answer = on_end(epoch, &logs);
        self.stopped = stopped || answer == Flow::Stop;
        if self.stopped {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// How an epoch ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpochEnd {
    Completed(EpochLogs),
    /// The observer stopped training between batches, with the running logs
    /// of the batches done (no validation). The weights are those of the
    /// last completed step.
    Stopped(EpochLogs),
}

/// The state a fit carries from one epoch to the next: the workspace, the
/// shuffle order and its random stream.
pub struct FitRun {
    ws: Workspace,
    order: Vec<usize>,
    rng: Rng,
    options: FitOptions,
    rows: usize,
    epoch: usize,
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
        let ws = Workspace::new(self, rows, true)?;
        self.build_optimizer()?;
        let mut order: Vec<usize> = crate::alloc::zeroed(n, "the shuffle order")?;
        order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        Ok(FitRun { ws, order, rng: Rng::new(options.seed), options: *options, rows, epoch: 0 })
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
            let epoch = run.epoch();
            let end = run.run_epoch(self, train, val, observer)?;
            if result.record(epoch, end, |epoch, logs| observer.on_epoch_end(epoch, logs)) == Flow::Stop {
                break;
            }
        }
        Ok(result)
    }
}

impl FitRun {
    /// The index of the next epoch to run.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    pub fn finished(&self) -> bool {
        self.epoch >= self.options.epochs
    }

    /// Runs the next epoch over `train` (the same samples `begin_fit` saw),
    /// then evaluates `val`. The caller hears of the epoch's end from the
    /// result; `observer` hears of every batch.
    pub fn run_epoch(
        &mut self,
        model: &mut Model,
        train: Samples,
        val: Option<Samples>,
        observer: &mut dyn FitObserver,
    ) -> Result<EpochEnd> {
        if train.len() != self.order.len() {
            return Err(Error::Internal("run_epoch was given other samples than begin_fit".into()));
        }
        model.build_optimizer()?;
        let (n, rows, epoch) = (self.order.len(), self.rows, self.epoch);
        self.epoch += 1;
        if self.options.shuffle {
            self.rng.shuffle(&mut self.order);
        }
        let (ws, order) = (&mut self.ws, &self.order);
        let steps = n.div_ceil(rows);
        let batch_at = |i: usize| &order[i * rows..((i + 1) * rows).min(n)];
        gather(&mut ws.x, &mut ws.labels, train, batch_at(0), model.input_dim());
        let mut running = LossTotals::default();
        for batch in 0..steps {
            let next = (batch + 1 < steps).then(|| (train, batch_at(batch + 1)));
            running.add(model.train_step(ws, batch_at(batch).len(), next));
            if next.is_some() {
                std::mem::swap(&mut ws.x, &mut ws.next_x);
                std::mem::swap(&mut ws.labels, &mut ws.next_labels);
            }
            if observer.on_batch_end(epoch, batch, &running) == Flow::Stop {
                return Ok(EpochEnd::Stopped(EpochLogs { batches: batch + 1, train: running, val: None }));
            }
        }
        let val = val.map(|v| model.evaluate_into(ws, v, rows));
        Ok(EpochEnd::Completed(EpochLogs { batches: steps, train: running, val }))
    }
}
