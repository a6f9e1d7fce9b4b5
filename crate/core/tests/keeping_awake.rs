//! `pool::keeping_awake`: while a run of steps goes on, the pool's other
//! threads spin for work rather than sleep; a spinner that finds no work
//! for a while stops, so they burn nothing for long once the run ends or
//! stalls; and a thread busy with another call of ours is never held by
//! its spinner.
//!
//! One test only, its parts in turn: they read the process's CPU time,
//! which a second test running beside them would add to.

use ferro_core::pool;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Computes for `d` (at least once), offering the pool a small job every
/// 20 µs: the other half of a join.
fn offer_work_for(d: Duration) {
    let start = Instant::now();
    loop {
        rayon::join(|| spin(Duration::from_micros(20)), || ());
        if start.elapsed() >= d {
            return;
        }
    }
}

/// CPU time this process has used, in ms: its threads' CPU time, which
/// qemu-user passes through from the host (its /proc/self/stat is faked).
#[cfg(unix)]
fn cpu_ms() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `t` is.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) }, 0);
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// CPU time used while `f` runs, in ms.
#[cfg(unix)]
fn cpu_during(f: impl FnOnce()) -> u64 {
    let before = cpu_ms();
    f();
    cpu_ms() - before
}

#[test]
fn spinners_run_through_the_call_give_up_when_idle_and_never_hold_up_another_call() {
    pool::set_num_threads(2).unwrap();

    // A call of ours waits, on the other thread, for half of its join,
    // which the caller below takes; both halves and the caller keep
    // offering small jobs. The spinner offered to that thread meanwhile
    // must return at once: run inside the waiting call, it would find work
    // all along and hold the call (and its send) until `keeping_awake`'s
    // own work gives up.
    let finished_inside = pool::install(|| {
        let (tx, rx) = mpsc::channel();
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        pool::spawn(move || {
            flag.store(true, SeqCst);
            rayon::join(|| spin(Duration::from_millis(20)), || offer_work_for(Duration::from_millis(100)));
            let _ = tx.send(());
        });
        while !started.load(SeqCst) {
            std::hint::spin_loop();
        }
        Ok(pool::keeping_awake(|| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if rx.try_recv().is_ok() {
                    return true;
                }
                rayon::yield_now();
                offer_work_for(Duration::ZERO);
            }
            false
        }))
    })
    .unwrap();
    assert!(finished_inside, "the other call was held up until keeping_awake's work ended");

    #[cfg(unix)]
    {
        // The caller computes, offering the other thread a little work
        // every 0.2 ms (the other half of a join, taken while the caller
        // runs the first for 20 µs): the other thread spins throughout, so
        // the process uses about twice the wall time. Without the spinner
        // it would sleep between offers.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let both = cpu_during(|| {
            pool::install(|| {
                pool::keeping_awake(|| {
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_millis(400) {
                        spin(Duration::from_micros(200));
                        offer_work_for(Duration::ZERO);
                    }
                });
                Ok(())
            })
            .unwrap()
        });
        if cores >= 2 {
            assert!(both >= 650, "{both} ms of CPU in 400 ms: the other thread did not spin throughout");
        }
        // Offered no work at all, it gives up within a few ms.
        let idle = cpu_during(|| {
            pool::install(|| {
                pool::keeping_awake(|| std::thread::sleep(Duration::from_millis(400)));
                Ok(())
            })
            .unwrap()
        });
        assert!(idle <= 100, "{idle} ms of CPU in 400 ms of keeping_awake with no work to offer");
    }
}
