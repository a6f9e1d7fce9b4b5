//! ferro-nn's own rayon pool. All parallel work runs inside `install`, so a
//! host application's global rayon pool is never touched, and the thread
//! count can be changed between calls.

use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, RwLock};

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// Upper bound on threads, to refuse absurd requests before spawning them.
pub const MAX_THREADS: usize = 1024;

fn default_threads() -> usize {
    std::env::var("FERRO_NN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| (1..=MAX_THREADS).contains(&n))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build(threads: usize) -> Result<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferro-nn-{i}"))
        // As TensorFlow's and XLA's threads do; subnormals.rs says why.
        .start_handler(|_| crate::subnormals::flush_to_zero_here())
        // Jobs catch their own panics; this only keeps an escaped one from
        // aborting the host process (rayon's default).
        .panic_handler(|_| {})
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Internal(format!("Could not start {threads} worker threads: {e}")))
}

fn current() -> Result<Arc<ThreadPool>> {
    if let Some(pool) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(pool.clone());
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(build(default_threads())?);
    }
    Ok(slot.as_ref().expect("pool was just set").clone())
}

/// Replaces the pool; work already running keeps its old pool to the end.
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::Value(format!("Expected a thread count between 1 and {MAX_THREADS}. Received: {threads}")));
    }
    let pool = build(threads)?;
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(pool);
    Ok(())
}

pub fn num_threads() -> usize {
    current().map_or(1, |p| p.current_num_threads())
}

/// Runs `f` on ferro-nn's pool.
pub fn install<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    current()?.install(f)
}

/// Runs `job` on ferro-nn's pool without waiting for it: the caller's thread
/// (Node's JavaScript thread) goes on at once. `job` must catch its panics.
/// Only if the pool's threads cannot be started does `job` run here, so
/// that it runs at all and settles what waits on it.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    match current() {
        Ok(pool) => pool.spawn(job),
        Err(_) => job(),
    }
}

thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Threads the kernels may split work over here: the pool's, or one inside
/// `serial`.
pub fn threads_here() -> usize {
    if SERIAL.with(|s| s.get()) {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` with the kernels kept on this thread: when many small calls are
/// in flight, each is quicker done whole than split (the split only adds
/// hand-offs; the other threads have calls of their own).
pub fn serial<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(SERIAL.with(|s| s.replace(true)));
    f()
}

/// Runs `f` on the calling thread as one of the pool's threads would, but
/// unsplit: kernels kept on this thread (so no rayon pool is touched),
/// subnormals flushed, and the caller's floating-point control restored
/// after. For calls so small that handing them to a sleeping pool thread
/// and back costs more than splitting them saves: a one-row predict of the
/// seed model took 33–41 µs (p50) this way on a 2-vCPU Xeon VM whose idle
/// vCPUs wake slowly, and 51–59 µs through its 2-thread pool.
pub fn on_caller<T>(f: impl FnOnce() -> T) -> T {
    crate::subnormals::flushing(|| serial(f))
}
