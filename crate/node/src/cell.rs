//! `ModelCell`: one core `Model` and the gate that schedules the work on it.
//!
//! Training is exclusive, inference is shared. Inference calls take a read
//! ticket when they are made (on the JavaScript thread) and run at once on
//! ferro-nn's pool (a small predict, on the JavaScript thread, ending its
//! read before it returns); a training step is a write job, run only when
//! no read is in flight. Nothing here blocks a thread: a write job that has
//! to wait for reads is parked in the gate, and the last read to finish
//! starts it. (A pool thread blocked on a lock could be the one the read
//! needs to finish.)

use ferro_core::{pool, Error, Model, Result};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Gate {
    /// A fit or trainOnBatch owns training; another is refused.
    session: bool,
    /// A write job is scheduled or running; reads are refused.
    writing: bool,
    /// Read jobs scheduled or running.
    readers: usize,
    /// A write job held back until `readers` drops to zero.
    waiting: Option<Job>,
    disposed: bool,
}

pub struct ModelCell {
    model: RwLock<Option<Model>>,
    gate: Mutex<Gate>,
}

const TRAINING: &str = "The model is training: wait for fit() or trainOnBatch() to settle before this call.";

fn disposed() -> Error {
    Error::State("The model has been disposed; create a new one.".into())
}

/// Proof that a read was admitted; it moves with the read job, and
/// dropping it ends the read.
pub struct ReadTicket(Arc<ModelCell>);

impl ReadTicket {
    /// The model. The gate admits no write while a ticket lives, so this
    /// never waits.
    pub fn model(&self) -> RwLockReadGuard<'_, Option<Model>> {
        self.0.model.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ReadTicket {
    fn drop(&mut self) {
        let mut gate = self.0.gate();
        gate.readers -= 1;
        if gate.readers > 0 {
            return;
        }
        self.0.free_if_disposed(&mut gate);
        let waiting = gate.waiting.take();
        // Started without the gate held: the job takes it again when it ends.
        drop(gate);
        if let Some(job) = waiting {
            start(job);
        }
    }
}

fn start(job: Job) {
    pool::spawn(job);
}

impl ModelCell {
    pub fn new(model: Model) -> Self {
        ModelCell { model: RwLock::new(Some(model)), gate: Mutex::default() }
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits an inference call, unless a training step runs.
    pub fn begin_read(self: &Arc<Self>) -> Result<ReadTicket> {
        let mut gate = self.gate();
        if gate.disposed {
            return Err(disposed());
        }
        if gate.writing {
            return Err(Error::Busy(TRAINING.into()));
        }
        gate.readers += 1;
        Ok(ReadTicket(self.clone()))
    }

    /// Claims training for a fit or trainOnBatch, unless one has it.
    pub fn begin_session(&self) -> Result<()> {
        let mut gate = self.gate();
        if gate.disposed {
            return Err(disposed());
        }
        if gate.session {
            return Err(Error::Busy(
                "The model is training: wait for fit() or trainOnBatch() to settle before training it again.".into(),
            ));
        }
        gate.session = true;
        Ok(())
    }

    /// Gives training back; a disposed model is freed once nothing uses it.
    pub fn end_session(&self) {
        let mut gate = self.gate();
        gate.session = false;
        self.free_if_disposed(&mut gate);
    }

    /// Runs `job` on the pool once no read is in flight. From then until
    /// the job calls `end_write`, reads are refused.
    pub fn schedule_write(&self, job: impl FnOnce() + Send + 'static) {
        let mut gate = self.gate();
        gate.writing = true;
        if gate.readers == 0 {
            drop(gate);
            start(Box::new(job));
        } else {
            gate.waiting = Some(Box::new(job));
        }
    }

    /// Ends the write `schedule_write` began; call it after releasing `write()`.
    pub fn end_write(&self) {
        self.gate().writing = false;
    }

    /// The model, for a write job (run by `schedule_write`).
    pub fn write(&self) -> RwLockWriteGuard<'_, Option<Model>> {
        // The gate starts a write job only when no read is in flight.
        self.model.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The model for a quick call on the JavaScript thread, which must never
    /// wait: refused while a training step runs.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, Option<Model>>> {
        if self.gate().writing {
            return Err(Error::Busy(TRAINING.into()));
        }
        match self.model.try_read() {
            Ok(m) => Ok(m),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Error::Busy(TRAINING.into())),
        }
    }

    /// Like `try_read`, for a change: also refused while inference calls run.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, Option<Model>>> {
        let gate = self.gate();
        if gate.writing {
            return Err(Error::Busy(TRAINING.into()));
        }
        if gate.readers > 0 {
            return Err(Error::Busy(
                "predict() or evaluate() calls are running on this model: await them before changing it.".into(),
            ));
        }
        match self.model.try_write() {
            Ok(m) => Ok(m),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Error::Busy(TRAINING.into())),
        }
    }

    /// Refuses every later call; the memory goes as soon as nothing uses it.
    pub fn dispose(&self) -> Result<()> {
        let mut gate = self.gate();
        if gate.session {
            return Err(Error::Busy(
                "The model is training: dispose() it once fit() or trainOnBatch() settles.".into(),
            ));
        }
        gate.disposed = true;
        self.free_if_disposed(&mut gate);
        Ok(())
    }

    fn free_if_disposed(&self, gate: &mut Gate) {
        if gate.disposed && gate.readers == 0 && !gate.session && !gate.writing {
            if let Ok(mut m) = self.model.try_write() {
                m.take();
            }
        }
    }
}

/// The model in a guard, or the error a disposed model gives.
pub fn present<'a, G: std::ops::Deref<Target = Option<Model>> + 'a>(guard: &'a G) -> Result<&'a Model> {
    guard.as_ref().ok_or_else(disposed)
}

pub fn present_mut<G: std::ops::DerefMut<Target = Option<Model>>>(guard: &mut G) -> Result<&mut Model> {
    guard.as_mut().ok_or_else(disposed)
}
