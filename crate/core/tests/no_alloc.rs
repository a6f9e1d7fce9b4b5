//! A training step allocates nothing once the fit has started: a counting
//! global allocator watches the threads of the pool the fit runs on, between
//! the end of the first batch and the end of the last. Other threads are
//! not counted: the test harness allocates on its own when a test runs
//! over 60 s, as this one does under qemu.

use ferro_core::kernels::bf16::Bf16Kernel;
use ferro_core::kernels::Activation;
use ferro_core::layers::{BatchNormSpec, DenseSpec, DropoutSpec, LayerSpec};
use ferro_core::losses::{Loss, LossTotals};
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{EpochLogs, FitObserver, FitOptions, Flow, Model, Samples};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the fit's pool threads as they start.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    // A const-initialised Cell needs no allocation, nor a destructor.
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call goes unchanged to System, which meets GlobalAlloc's
// contract (and the callers meet each method's); counting touches no memory
// but a thread-local flag and a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocation count at the end of every batch.
struct Snapshots(Vec<usize>);
impl FitObserver for Snapshots {
    fn on_batch_end(&mut self, _: usize, _: usize, _: &LossTotals) -> Flow {
        let count = ALLOCATIONS.load(Ordering::SeqCst);
        if self.0.len() < self.0.capacity() {
            self.0.push(count);
        }
        Flow::Continue
    }
    fn on_epoch_end(&mut self, _: usize, _: &EpochLogs) -> Flow {
        Flow::Continue
    }
}

#[test]
fn training_steps_after_the_first_allocate_nothing() {
    // The seed model's shapes, and the same with every other layer kind in
    // between. On arm64, which CI runs under qemu's emulation, 128 hidden
    // units instead of 512 (there the test took 124 s, now 32 s): the
    // products take the same routes, and the big ones, 25 MFLOP, are still
    // split over threads (over PARALLEL_MIN_FLOPS).
    let hidden = if cfg!(target_arch = "aarch64") { 128 } else { 512 };
    let seed = || vec![DenseSpec::new(hidden, Activation::Relu).into(), DenseSpec::new(10, Activation::Softmax).into()];
    let every_kind = || {
        vec![
            DenseSpec::new(hidden, Activation::Gelu).into(),
            LayerSpec::Dropout(DropoutSpec { rate: 0.2, seed: None }),
            LayerSpec::BatchNormalization(BatchNormSpec::default()),
            LayerSpec::Activation(Activation::Silu),
            DenseSpec::new(10, Activation::Softmax).into(),
        ]
    };
    // And under mixed_bfloat16 where the CPU has it.
    let bf16 = [Bf16Kernel::detect(), Bf16Kernel::detect_amx()];
    let runs = [(1, seed(), None), (2, seed(), None), (1, every_kind(), None), (2, every_kind(), None)];
    let mixed = bf16.into_iter().flatten().flat_map(|k| [(1, seed(), Some(k)), (2, every_kind(), Some(k))]);
    // One pool per thread count, alive for the whole test: a dropped pool's
    // threads exit in the background, and their thread-local destructors
    // (crossbeam-epoch's) allocate, which under qemu landed mid-run.
    let pool = |t: usize| {
        let counted = |_| COUNTED.with(|c| c.set(true));
        rayon::ThreadPoolBuilder::new().num_threads(t).start_handler(counted).build().unwrap()
    };
    let pools: Vec<rayon::ThreadPool> = (1..=2).map(pool).collect();
    for (threads, specs, mixed) in runs.into_iter().chain(mixed) {
        let pool = &pools[threads - 1];
        // A partial last batch too, and enough batches for the fit to
        // update the first kernel in tiles (32 or more).
        let mut model = Model::build(784, &specs, 3).unwrap();
        model.set_mixed_bfloat16(mixed);
        model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
        let n = 128 * 40 + 50;
        let x: Vec<f32> = (0..n * 784).map(|i| (i % 251) as f32 / 251.0).collect();
        let y: Vec<i32> = (0..n).map(|i| i % 10).collect();
        let opts = FitOptions { epochs: 1, batch_size: 128, shuffle: true, seed: 9, initial_epoch: 0 };
        let mut snapshots = Snapshots(Vec::with_capacity(64));
        pool.install(|| model.fit(Samples::new(&x, &y), None, &opts, &mut snapshots)).unwrap();
        let counts = &snapshots.0;
        assert_eq!(counts.len(), 41);
        // Setting up the fit allocated on the pool: the counter sees it.
        assert!(counts[0] > 0, "the pool's allocations are counted");
        assert_eq!(
            counts.first(),
            counts.last(),
            "{threads} threads: allocations per step after the first: {counts:?}"
        );
    }
}
