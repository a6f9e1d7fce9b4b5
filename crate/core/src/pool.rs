//! ferro-nn's own rayon pool. All parallel work runs inside `install`, so a
//! host application's global rayon pool is never touched, and the thread
//! count can be changed between calls.

use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::LocalKey;

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
    current()?.install(|| call(f))
}

/// Runs `job` on ferro-nn's pool without waiting for it: the caller's thread
/// (Node's JavaScript thread) goes on at once. `job` must catch its panics.
/// Only if the pool's threads cannot be started does `job` run here, so
/// that it runs at all and settles what waits on it.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    match current() {
        Ok(pool) => pool.spawn(move || call(job)),
        Err(_) => job(),
    }
}

thread_local! {
    static SERIAL: Cell<bool> = const { Cell::new(false) };
    /// This thread runs a call of ours (`install`, `spawn`).
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Calls of ours running on the pool (`install`, `spawn`).
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Threads spinning for work now (`keeping_awake`), for tests.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` as a call of ours: counted in CALLS, its thread marked.
fn call<T>(f: impl FnOnce() -> T) -> T {
    let _call = Counted::new(&CALLS);
    with_flag(&IN_CALL, f)
}

/// One count in a counter, held while this lives (also through a panic).
struct Counted(&'static AtomicUsize);

impl Counted {
    fn new(counter: &'static AtomicUsize) -> Counted {
        counter.fetch_add(1, Ordering::AcqRel);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `f` with `flag` set on this thread, restoring it after (also on
/// a panic).
fn with_flag<T>(flag: &'static LocalKey<Cell<bool>>, f: impl FnOnce() -> T) -> T {
    struct Reset(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            self.0.with(|s| s.set(self.1));
        }
    }
    let _reset = Reset(flag, flag.with(|s| s.replace(true)));
    f()
}

/// Runs `f` (a run of training steps, or of predicted chunks, inside a
/// call of ours) while the pool's other threads, whenever they run out of
/// work, spin looking for more instead of going to sleep.
///
/// Rayon lets an idle thread yield 32 times before it sleeps: about 9 µs
/// on a 2-vCPU Xeon VM, where waking it again cost 13–70 µs (the second
/// half of a join was taken 13–70 µs after it was offered to a sleeping
/// thread, 0.5 µs after it was offered to a spinning one). A training step
/// hands work to the other threads after each serial part (the optimizer's
/// last pass, the upper layers), and they took it late: on that VM the seed
/// model's 2-thread step went from 903–990 µs to 847–904 (profile_fit,
/// four interleaved pairs), its first GEMM from 381–414 to 318–363, and the
/// other half of the step's middle join was taken after 1 µs instead of
/// 18–20; `npm run bench`'s 2-thread epoch went from 0.494 and 0.543 s to
/// 0.416 and 0.480 (interleaved runs).
///
/// Only while this is the one call running: a thread may take its spinner
/// while it waits inside a job of another call (rayon looks for work
/// there), and spinning on top of that job would hold the other call up.
/// A spinner stops as soon as a second call starts, when `f` returns or
/// unwinds, or after `SPIN_IDLE_LIMIT` without work. That limit also ends
/// the one hold-up left: a thread that takes its spinner while waiting
/// inside a job of `f` itself (it stole the job before it looked at its
/// spinner, a narrow race) holds `f` up until then.
///
/// The spinning costs what it saves: the other cores stay busy while `f`
/// runs its serial parts, as they would with a BLAS that spins (OpenMP's
/// default). It is skipped on one thread, and outside a call of ours (a
/// host's own rayon pool is left alone).
pub fn keeping_awake<T>(f: impl FnOnce() -> T) -> T {
    let Some(caller) = rayon::current_thread_index() else { return f() };
    if threads_here() < 2 || !IN_CALL.with(Cell::get) || CALLS.load(Ordering::Acquire) != 1 {
        return f();
    }
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let stop = Stop(Arc::default());
    let flag = stop.0.clone();
    rayon::spawn_broadcast(move |ctx| {
        if ctx.index() != caller {
            spin_for_work(&flag);
        }
    });
    f()
}

/// How long a spinner goes on without finding work before it gives up
/// for the rest of the run and lets its thread sleep. Far longer than the
/// serial parts of a step (tens of µs) and than the Xeon VM's hiccups: with
/// 1 ms, a spinner quit in about one 400 ms test run in six when the host
/// held the calling thread up, and the run lost the spinning from then on.
/// A run whose caller is held up for long (by other processes on the same
/// cores, say) so wastes at most this much per thread; OpenMP runtimes
/// spin in the same way before they block.
const SPIN_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Looks for work a spinner must also have made in vain before it gives
/// up: a spinner the host deschedules for a while has not been idle all
/// that time.
const SPIN_IDLE_LOOKS: u32 = 2000;

/// Runs the pool's pending jobs as they come until `stop`, a second call,
/// or `SPIN_IDLE_LIMIT` and `SPIN_IDLE_LOOKS` without work.
fn spin_for_work(stop: &AtomicBool) {
    let _spinning = Counted::new(&SPINNING);
    let (mut last_work, mut idle_looks) = (std::time::Instant::now(), 0u32);
    while !stop.load(Ordering::Acquire) && CALLS.load(Ordering::Acquire) == 1 {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            (last_work, idle_looks) = (std::time::Instant::now(), 0);
            continue;
        }
        idle_looks += 1;
        if idle_looks >= SPIN_IDLE_LOOKS && last_work.elapsed() > SPIN_IDLE_LIMIT {
            return;
        }
        // A little backoff between looks at the other threads' queues,
        // whose cache lines every look pulls over: 8 pauses, about 0.4 µs
        // on the Xeon VM (less on CPUs with shorter pauses), far below a
        // wake-up.
        (0..8).for_each(|_| std::hint::spin_loop());
    }
}

/// Threads spinning for work now (`keeping_awake`); for tests.
#[doc(hidden)]
pub fn spinning_threads() -> usize {
    SPINNING.load(Ordering::Acquire)
}

/// Threads the kernels may split work over here: the pool's, or one inside
/// `serial`.
pub fn threads_here() -> usize {
    if SERIAL.with(Cell::get) {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` with the kernels kept on this thread: when many small calls are
/// in flight, each is quicker done whole than split (the split only adds
/// hand-offs; the other threads have calls of their own).
pub fn serial<T>(f: impl FnOnce() -> T) -> T {
    with_flag(&SERIAL, f)
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
