//! `pool::keeping_awake`: while a run of steps goes on, the pool's other
//! threads spin for work rather than sleep; they stop when it ends, also
//! when it panics; and a thread busy with another call of ours is never
//! held by its spinner.
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
fn spinners_run_during_the_call_stop_after_it_and_never_hold_up_another_call() {
    pool::set_num_threads(2).unwrap();

    // A call of ours waits, on the other thread, for half of its join,
    // which the caller below takes: the spinner offered to that thread
    // meanwhile must return at once, or the call could not finish (and
    // send) before `keeping_awake`'s own work gives up.
    let finished_inside = pool::install(|| {
        let (tx, rx) = mpsc::channel();
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        pool::spawn(move || {
            flag.store(true, SeqCst);
            rayon::join(|| spin(Duration::from_millis(20)), || spin(Duration::from_millis(100)));
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
            }
            false
        }))
    })
    .unwrap();
    assert!(finished_inside, "the other call was held up until keeping_awake's work ended");

    #[cfg(unix)]
    {
        // Here the caller sleeps, so the CPU time is the other thread's spinning.
        let spun = cpu_during(|| {
            pool::install(|| {
                pool::keeping_awake(|| std::thread::sleep(Duration::from_millis(400)));
                Ok(())
            })
            .unwrap()
        });
        assert!(spun >= 200, "the other thread spun {spun} ms of 400");
        let after = cpu_during(|| std::thread::sleep(Duration::from_millis(400)));
        assert!(after <= 100, "{after} ms of CPU in 400 ms after keeping_awake returned");

        let panicked = std::panic::catch_unwind(|| {
            pool::install(|| -> ferro_core::Result<()> {
                pool::keeping_awake(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    panic!("deliberate panic inside keeping_awake")
                })
            })
        });
        assert!(panicked.is_err());
        let after = cpu_during(|| std::thread::sleep(Duration::from_millis(400)));
        assert!(after <= 100, "{after} ms of CPU in 400 ms after a panic inside keeping_awake");
    }
}
