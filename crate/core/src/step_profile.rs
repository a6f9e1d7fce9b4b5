//! Where a training step's time goes: wall time per phase, summed over
//! every step of the process, for `profile_fit` to print as the step's
//! budget. Built only with the cargo feature `step-profile`; without it a
//! timer is an empty value and every call below compiles to nothing.
//!
//! The phases nest as a step runs (train.rs): the first layer's forward
//! GEMM, then [`Phase::Between`] (the layers above it and the next
//! batch's gathering, side by side on two threads), then the first layer's
//! backward pass, then the rest of the optimizer's update.

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
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::FirstForward,
        Phase::Between,
        Phase::UpperLayers,
        Phase::GatherAndPack,
        Phase::FirstBackward,
        Phase::Update,
        Phase::Step,
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
        }
    }
}

#[cfg(feature = "step-profile")]
mod on {
    use super::Phase;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::Instant;

    static NANOS: [AtomicU64; Phase::ALL.len()] = [const { AtomicU64::new(0) }; Phase::ALL.len()];
    static STEPS: AtomicU64 = AtomicU64::new(0);

    /// Adds the time from its start to its drop to its phase.
    pub struct Timer(Phase, Instant);

    impl Timer {
        /// Ends the timing here rather than at the end of the scope.
        pub fn stop(self) {}
    }

    impl Drop for Timer {
        fn drop(&mut self) {
            NANOS[self.0 as usize].fetch_add(self.1.elapsed().as_nanos() as u64, Relaxed);
            if self.0 == Phase::Step {
                STEPS.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn time(phase: Phase) -> Timer {
        Timer(phase, Instant::now())
    }

    pub fn per_step_micros() -> Option<(u64, Vec<(Phase, f64)>)> {
        let steps = STEPS.load(Relaxed);
        let mean = |p: Phase| NANOS[p as usize].load(Relaxed) as f64 / steps.max(1) as f64 / 1e3;
        Some((steps, Phase::ALL.iter().map(|&p| (p, mean(p))).collect()))
    }

    pub fn reset() {
        NANOS.iter().chain([&STEPS]).for_each(|a| a.store(0, Relaxed));
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

    pub fn per_step_micros() -> Option<(u64, Vec<(Phase, f64)>)> {
        None
    }

    pub fn reset() {}
}

/// Times `phase` until the value is dropped.
pub use on::time;

/// Steps timed since the last `reset`, and each phase's mean wall time
/// per step in µs; None when built without `step-profile`.
pub use on::per_step_micros;

/// Forgets what was timed (after a warm-up, say).
pub use on::reset;

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

    /// Every phase is timed inside its step, and the sides of `Between`
    /// inside it (sums over all steps, so other tests' fits in the same
    /// process keep the relations).
    #[test]
    fn phases_nest_inside_the_step() {
        let specs = [
            LayerSpec::Dense(DenseSpec::new(40, Activation::Relu)),
            LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
        ];
        let mut model = Model::build(30, &specs, 1).unwrap();
        model.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
        let x: Vec<f32> = (0..64 * 30).map(|i| (i % 7) as f32 * 0.1).collect();
        let y: Vec<i32> = (0..64).map(|i| i % 3).collect();
        let opts = FitOptions { epochs: 2, batch_size: 16, shuffle: true, seed: 1, initial_epoch: 0 };
        model.fit(Samples::new(&x, &y), None, &opts, &mut Silent).unwrap();
        let (steps, phases) = per_step_micros().expect("built with step-profile");
        assert!(steps >= 8, "{steps} steps");
        let us = |p: Phase| phases.iter().find(|(q, _)| *q == p).unwrap().1;
        assert!(Phase::ALL.iter().all(|&p| us(p) > 0.0), "{phases:?}");
        let nested = us(Phase::FirstForward) + us(Phase::Between) + us(Phase::FirstBackward) + us(Phase::Update);
        assert!(nested <= us(Phase::Step), "{phases:?}");
        assert!(
            us(Phase::UpperLayers) <= us(Phase::Between) && us(Phase::GatherAndPack) <= us(Phase::Between),
            "{phases:?}"
        );
    }
}
