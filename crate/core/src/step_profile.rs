//! Where a training step's time goes: wall time per phase, summed over
//! every step of the process, for `profile_fit` to print as the step's
//! budget. Built only with the cargo feature `step-profile`; without it a
//! timer is an empty value and every call below compiles to nothing.
//!
//! The phases nest as a step runs (train.rs): the first layer's forward
//! GEMM, then [`Phase::Between`] (the layers above it and the next
//! batch's gathering, side by side on two threads), then the first layer's
//! backward pass, then the rest of the optimizer's update.
//!
//! Comparing two versions of some code: this VM's host switches between a
//! fast and a slower state, about 1.4× apart, within seconds, so separate
//! runs of each version could not resolve a 1–2% change. With A/B steps on
//! (`set_ab`, profile_fit's PROFILE_AB=1), code under test takes version B
//! where `variant_b` says so, on every other step, and each version's step
//! times are kept apart ([`Phase::StepA`], [`Phase::StepB`]): the two
//! medians then come from the same seconds of the host. With no code under
//! test (an A/A run, 3 epochs of the seed model) they came within 2 µs of
//! each other on 1 thread and 11 µs on 2; that is the method's resolution
//! there.

/// One part of a training step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The first layer's forward pass (its GEMM on every thread).
    FirstForward,
    /// From the first layer's forward pass to its backward pass: the two
    /// phases below, run side by side.
    Between,
    /// The layers above the first, forward and back, and the loss.
    UpperLayers,
    /// Gathering and packing the next batch, and packing this one's xᵀ.
    GatherAndPack,
    /// The first layer's backward pass: its gradient GEMM and, in a tiled
    /// step, the update of its kernel.
    FirstBackward,
    /// The optimizer's update of what the backward passes left.
    Update,
    /// The whole step.
    Step,
    /// The whole step, on the steps that run version A (A/B steps only).
    StepA,
    /// The whole step, on the steps that run version B (A/B steps only).
    StepB,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::FirstForward,
        Phase::Between,
        Phase::UpperLayers,
        Phase::GatherAndPack,
        Phase::FirstBackward,
        Phase::Update,
        Phase::Step,
        Phase::StepA,
        Phase::StepB,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::FirstForward => "first forward",
            Phase::Between => "between",
            Phase::UpperLayers => "upper layers",
            Phase::GatherAndPack => "gather and pack",
            Phase::FirstBackward => "first backward",
            Phase::Update => "update",
            Phase::Step => "step",
            Phase::StepA => "step A",
            Phase::StepB => "step B",
        }
    }
}

#[cfg(feature = "step-profile")]
mod on {
    use super::{Phase, Spread};
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
    use std::time::Instant;

    const PHASES: usize = Phase::ALL.len();
    /// Each phase keeps its last this many durations, for the spread.
    const KEPT: usize = 4096;

    static NANOS: [AtomicU64; PHASES] = [const { AtomicU64::new(0) }; PHASES];
    static STEPS: AtomicU64 = AtomicU64::new(0);
    static TIMED: [AtomicU64; PHASES] = [const { AtomicU64::new(0) }; PHASES];
    static LAST: [[AtomicU32; KEPT]; PHASES] = [const { [const { AtomicU32::new(0) }; KEPT] }; PHASES];

    /// Adds the time from its start to its drop to its phase.
    pub struct Timer(Phase, Instant);

    impl Timer {
        /// Ends the timing here rather than at the end of the scope.
        pub fn stop(self) {}
    }

    impl Drop for Timer {
        fn drop(&mut self) {
            let (p, nanos) = (self.0 as usize, self.1.elapsed().as_nanos() as u64);
            NANOS[p].fetch_add(nanos, Relaxed);
            let at = TIMED[p].fetch_add(1, Relaxed) as usize % KEPT;
            LAST[p][at].store(nanos.min(u32::MAX as u64) as u32, Relaxed);
            if self.0 == Phase::Step {
                STEPS.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn time(phase: Phase) -> Timer {
        Timer(phase, Instant::now())
    }

    static AB: AtomicBool = AtomicBool::new(false);

    pub fn set_ab(on: bool) {
        AB.store(on, Relaxed);
    }

    pub fn variant_b(step: u64) -> bool {
        AB.load(Relaxed) && step % 2 == 1
    }

    pub fn time_ab(step: u64) -> Option<Timer> {
        AB.load(Relaxed).then(|| time(if variant_b(step) { Phase::StepB } else { Phase::StepA }))
    }

    pub fn per_step_micros() -> Option<(u64, Vec<(Phase, f64)>)> {
        let steps = STEPS.load(Relaxed);
        let mean = |p: Phase| NANOS[p as usize].load(Relaxed) as f64 / steps.max(1) as f64 / 1e3;
        Some((steps, Phase::ALL.iter().map(|&p| (p, mean(p))).collect()))
    }

    pub fn per_step_spread() -> Option<Vec<(Phase, Spread)>> {
        let spread = |p: Phase| {
            let kept = (TIMED[p as usize].load(Relaxed) as usize).min(KEPT);
            let mut nanos: Vec<u32> = LAST[p as usize][..kept].iter().map(|a| a.load(Relaxed)).collect();
            Spread::of(&mut nanos)
        };
        Some(Phase::ALL.iter().map(|&p| (p, spread(p))).collect())
    }

    /// How many times `phase` was timed since the last `reset`.
    #[cfg(test)]
    pub fn timings(phase: Phase) -> u64 {
        TIMED[phase as usize].load(Relaxed)
    }

    pub fn reset() {
        NANOS.iter().chain(&TIMED).chain([&STEPS]).for_each(|a| a.store(0, Relaxed));
    }
}

#[cfg(not(feature = "step-profile"))]
mod on {
    use super::Phase;

    pub struct Timer;

    impl Timer {
        #[inline(always)]
        pub fn stop(self) {}
    }

    #[inline(always)]
    pub fn time(_: Phase) -> Timer {
        Timer
    }

    pub fn set_ab(_: bool) {}

    #[inline(always)]
    pub fn variant_b(_: u64) -> bool {
        false
    }

    #[inline(always)]
    pub fn time_ab(_: u64) -> Option<Timer> {
        None
    }

    pub fn per_step_micros() -> Option<(u64, Vec<(Phase, f64)>)> {
        None
    }

    pub fn per_step_spread() -> Option<Vec<(Phase, super::Spread)>> {
        None
    }

    pub fn reset() {}
}

/// Times `phase` until the value is dropped.
pub use on::time;

/// Steps timed since the last `reset`, and each phase's mean wall time
/// per step in µs; None when built without `step-profile`.
pub use on::per_step_micros;

/// Each phase's median, 90th and 99th percentile over its last 4096
/// timings since the last `reset`; None when built without `step-profile`.
pub use on::per_step_spread;

/// Forgets what was timed (after a warm-up, say).
pub use on::reset;

/// Turns A/B steps on or off (see the module's doc); a no-op without
/// `step-profile`.
pub use on::set_ab;

/// Whether the step numbered `step` (the optimizer's count) runs version B:
/// every other one, while A/B steps are on; never without `step-profile`.
pub use on::variant_b;

/// Times the step numbered `step` as [`Phase::StepA`] or [`Phase::StepB`]
/// until dropped, while A/B steps are on.
pub use on::time_ab;

/// How a phase's time spreads over steps, in µs. The means alone mislead
/// on a shared machine: on the 2-vCPU VM the 2-thread step's mean ran 3–4%
/// above its median, from a few steps stalled while other work held one of
/// the two cores and the joins waited for it (1 thread: under 1%).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Spread {
    /// Nearest-rank percentiles of durations in ns (sorted in place).
    pub fn of(nanos: &mut [u32]) -> Spread {
        nanos.sort_unstable();
        let rank = |q: usize| match nanos.len() {
            0 => 0.0,
            n => nanos[(q * n).div_ceil(100).clamp(1, n) - 1] as f64 / 1e3,
        };
        Spread { p50: rank(50), p90: rank(90), p99: rank(99) }
    }
}

#[cfg(all(test, feature = "step-profile"))]
mod tests {
    use super::*;
    use crate::fit::{FitOptions, Silent};
    use crate::kernels::Activation;
    use crate::layers::{DenseSpec, LayerSpec};
    use crate::losses::Loss;
    use crate::model::Model;
    use crate::optimizers::RmsPropConfig;
    use crate::train::Samples;

    /// Fits Dense(units, relu) → Dense(classes, softmax) to `rows` made-up
    /// rows of `inputs` features.
    fn fit_small(inputs: usize, units: usize, classes: usize, rows: usize, opts: &FitOptions) {
        let specs = [
            LayerSpec::Dense(DenseSpec::new(units, Activation::Relu)),
            LayerSpec::Dense(DenseSpec::new(classes, Activation::Softmax)),
        ];
        let mut model = Model::build(inputs, &specs, 1).unwrap();
        model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
        let x: Vec<f32> = (0..rows * inputs).map(|i| (i % 7) as f32 * 0.1).collect();
        let y: Vec<i32> = (0..rows).map(|i| (i % classes) as i32).collect();
        model.fit(Samples::new(&x, &y), None, opts, &mut Silent).unwrap();
    }

    /// Every phase is timed inside its step, and the sides of `Between`
    /// inside it (sums over all steps, so other tests' fits in the same
    /// process keep the relations).
    #[test]
    fn phases_nest_inside_the_step() {
        let opts = FitOptions { epochs: 2, batch_size: 16, shuffle: true, seed: 1, initial_epoch: 0 };
        fit_small(30, 40, 3, 64, &opts);
        let (steps, phases) = per_step_micros().expect("built with step-profile");
        assert!(steps >= 8, "{steps} steps");
        let us = |p: Phase| phases.iter().find(|(q, _)| *q == p).unwrap().1;
        let ab = [Phase::StepA, Phase::StepB];
        assert!(Phase::ALL.iter().filter(|p| !ab.contains(p)).all(|&p| us(p) > 0.0), "{phases:?}");
        let nested = us(Phase::FirstForward) + us(Phase::Between) + us(Phase::FirstBackward) + us(Phase::Update);
        assert!(nested <= us(Phase::Step), "{phases:?}");
        assert!(
            us(Phase::UpperLayers) <= us(Phase::Between) && us(Phase::GatherAndPack) <= us(Phase::Between),
            "{phases:?}"
        );
        let spread = per_step_spread().expect("built with step-profile");
        let mut timed = spread.iter().filter(|(p, _)| !ab.contains(p));
        assert!(timed.all(|(_, s)| 0.0 < s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99), "{spread:?}");
    }

    /// With A/B steps on, version B runs on every other step, and the two
    /// versions' steps are timed apart, every step once.
    #[test]
    fn ab_steps_alternate_and_are_timed_apart() {
        let opts = FitOptions { epochs: 1, batch_size: 4, shuffle: false, seed: 1, initial_epoch: 0 };
        let count = on::timings;
        let before = (count(Phase::StepA), count(Phase::StepB));
        set_ab(true);
        assert!(!variant_b(4) && variant_b(5));
        fit_small(4, 8, 2, 40, &opts);
        set_ab(false);
        assert!(!variant_b(5));
        // Ten steps, numbered 0-9 (other tests' fits may add more).
        let (a, b) = (count(Phase::StepA) - before.0, count(Phase::StepB) - before.1);
        assert!(a >= 5 && b >= 5, "{a} A steps, {b} B steps");
    }
}

#[cfg(test)]
mod spread_tests {
    use super::Spread;

    #[test]
    fn percentiles_are_nearest_ranks() {
        // 1..=100 µs, shuffled: the k-th percentile is k µs.
        let mut nanos: Vec<u32> = (1..=100).map(|i| (i * 37 % 101) * 1000).collect();
        assert_eq!(Spread::of(&mut nanos), Spread { p50: 50.0, p90: 90.0, p99: 99.0 });
        assert_eq!(Spread::of(&mut [7000, 3000]), Spread { p50: 3.0, p90: 7.0, p99: 7.0 });
        assert_eq!(Spread::of(&mut []), Spread::default());
    }
}
