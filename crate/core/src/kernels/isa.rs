//! The instruction-set token: holding an [`Isa`] proves this CPU runs it.
//!
//! Every SIMD routine of `kernels` is a `#[target_feature]` function, and
//! running one on a CPU without its feature is undefined behaviour. They are
//! only reached by matching on an `Isa`, and an `Isa` naming a SIMD set is
//! only made here, by [`Isa::available`], after run-time detection found the
//! set. The field is private to this module, so no other code, in this crate
//! or out of it, can forge a token.

/// Which instruction set the kernels use. A value can only come from
/// detection ([`Isa::detect`], [`Isa::available`]) or be the portable
/// [`Isa::scalar`], so safe code can pass any `Isa` it holds anywhere.
///
/// ```
/// use ferro_core::kernels::Isa;
///
/// let best = Isa::detect();
/// assert!(Isa::available().contains(&best));
/// assert_eq!(Isa::available()[0], Isa::scalar());
/// ```
///
/// There is no way to name a SIMD set without detecting it:
///
/// ```compile_fail,E0599
/// let isa = ferro_core::kernels::Isa::Avx512;
/// ```
///
/// ```compile_fail,E0451
/// let isa = ferro_core::kernels::Isa { level: todo!() };
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Isa {
    level: Level,
}

/// The instruction sets, slowest first; on the CPUs we build for, each
/// implies every lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Scalar = 0,
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2Fma = 1,
    /// AVX-512F, with AVX2 and FMA (detected too: its bodies use them).
    #[cfg(target_arch = "x86_64")]
    Avx512 = 2,
    /// Advanced SIMD (NEON), with its fused multiply-add: every arm64 CPU.
    #[cfg(target_arch = "aarch64")]
    Neon = 1,
}

impl Isa {
    /// The portable kernels, which every CPU runs.
    pub const fn scalar() -> Isa {
        Isa { level: Level::Scalar }
    }

    /// Every instruction set this CPU can run, slowest first (scalar first).
    /// Tests race each SIMD path against its scalar twin over this list.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut all = vec![Isa::scalar()];
        #[cfg(target_arch = "x86_64")]
        {
            // The only places a SIMD token is made: right after detecting it.
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                all.push(Isa { level: Level::Avx2Fma });
            }
            // The AVX-512 bodies are compiled with AVX2 and FMA enabled too
            // (and use them): a CPU, or a VM, that masks those gets none.
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                all.push(Isa { level: Level::Avx512 });
            }
        }
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("neon") {
            all.push(Isa { level: Level::Neon });
        }
        all
    }

    /// The fastest kernels this CPU runs, capped by `FERRO_NN_ISA` (scalar,
    /// avx2, avx512 or neon: to exercise a slower path) or `FERRO_NN_FORCE_SCALAR=1`.
    pub fn detect() -> Isa {
        let cap = if std::env::var("FERRO_NN_FORCE_SCALAR").is_ok_and(|v| v == "1") {
            Some("scalar".to_string())
        } else {
            std::env::var("FERRO_NN_ISA").ok()
        };
        Self::best_within(cap.as_deref())
    }

    /// The fastest available set no faster than the one `cap` names.
    fn best_within(cap: Option<&str>) -> Isa {
        let allowed = |isa: &Isa| cap.is_none_or(|c| isa.level as u8 <= Self::rank_of(c));
        Self::available().into_iter().rfind(allowed).unwrap_or(Isa::scalar())
    }

    /// The rank `FERRO_NN_ISA` names; unknown names cap nothing.
    fn rank_of(name: &str) -> u8 {
        match name {
            "scalar" => 0,
            "avx2" | "neon" => 1,
            _ => u8::MAX,
        }
    }

    pub fn name(self) -> &'static str {
        match self.level {
            Level::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Fma => "avx2+fma",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => "avx512",
            #[cfg(target_arch = "aarch64")]
            Level::Neon => "neon",
        }
    }

    /// The set, for the kernels to dispatch on: a SIMD level read from a
    /// token is one this CPU runs.
    pub(crate) fn level(self) -> Level {
        self.level
    }
}

impl std::fmt::Debug for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Isa({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_only_from_detection() {
        let all = Isa::available();
        assert_eq!(all[0], Isa::scalar());
        for isa in &all {
            #[cfg(target_arch = "x86_64")]
            match isa.level() {
                Level::Scalar => {}
                Level::Avx2Fma => assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")),
                Level::Avx512 => assert!(
                    is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx2")
                        && is_x86_feature_detected!("fma")
                ),
            }
            #[cfg(target_arch = "aarch64")]
            if isa.level() == Level::Neon {
                assert!(std::arch::is_aarch64_feature_detected!("neon"));
            }
        }
        assert!(all.contains(&Isa::detect()));
    }

    #[test]
    fn caps_pick_the_fastest_set_they_allow() {
        let all = Isa::available();
        let best = *all.last().unwrap();
        assert_eq!(Isa::best_within(None), best);
        assert_eq!(Isa::best_within(Some("avx512")), best);
        assert_eq!(Isa::best_within(Some("bogus")), best);
        assert_eq!(Isa::best_within(Some("scalar")), Isa::scalar());
        let avx2 = Isa::best_within(Some("avx2"));
        let fastest_to_avx2 = all.iter().map(|isa| isa.level() as u8).filter(|&rank| rank <= 1).max();
        assert_eq!(Some(avx2.level() as u8), fastest_to_avx2);
    }
}
