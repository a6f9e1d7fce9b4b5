//! `pool::keeping_awake`: while a call of ours runs alone, the pool's
//! other threads spin for work through its run instead of sleeping; a
//! spinner stops when the run returns or panics, or after a while without
//! work; a run beside another call spins nothing (it could hold that call
//! up), and neither does one outside a call of ours.
//!
//! One test only, its parts in turn: the count of spinning threads is the
//! process's.

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

/// Whether `pool::spinning_threads()` reaches `count` within 2 s, calling
/// `meanwhile` between looks.
fn spinning_becomes(count: usize, mut meanwhile: impl FnMut()) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if pool::spinning_threads() == count {
            return true;
        }
        meanwhile();
    }
    false
}

#[test]
fn spinners_run_for_a_lone_call_and_stop_when_its_run_ends_or_work_runs_out() {
    pool::set_num_threads(2).unwrap();

    // While the run offers work, the other thread spins; once the run has
    // returned (or panicked), it stops, though the call goes on offering
    // work that it would otherwise keep finding.
    pool::install(|| {
        let spun = pool::keeping_awake(|| spinning_becomes(1, || offer_work_for(Duration::from_micros(200))));
        assert!(spun, "no thread spun while the run offered work");
        assert!(spinning_becomes(0, || offer_work_for(Duration::ZERO)), "a spinner outlived its run");
        let panicked = std::panic::catch_unwind(|| {
            pool::keeping_awake(|| {
                assert!(spinning_becomes(1, || offer_work_for(Duration::ZERO)));
                panic!("deliberate panic inside keeping_awake")
            })
        });
        assert!(panicked.is_err());
        assert!(spinning_becomes(0, || offer_work_for(Duration::ZERO)), "a spinner outlived a panicking run");
        Ok(())
    })
    .unwrap();

    // Offered no work at all, the spinner gives up (after 20 ms).
    let gave_up = pool::install(|| {
        Ok(pool::keeping_awake(|| {
            spinning_becomes(1, || std::thread::sleep(Duration::from_millis(1)))
                && spinning_becomes(0, || std::thread::sleep(Duration::from_millis(1)))
        }))
    })
    .unwrap();
    assert!(gave_up, "a spinner without work went on spinning");

    // Another call of ours waits, on the other thread, for half of its
    // join, which the run below takes; both keep offering small jobs. A
    // spinner taken by that thread while it waits would find work all
    // along and hold the call (and its send) until the run gave up: so a
    // run beside another call spins nothing.
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
    assert!(finished_inside, "the other call was held up until the run ended");

    // Outside a call of ours (a host's own rayon pool), nothing spins.
    let host = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let spun =
        host.install(|| pool::keeping_awake(|| spinning_becomes(1, || offer_work_for(Duration::from_micros(200)))));
    assert!(!spun, "a host's pool was made to spin");
}
