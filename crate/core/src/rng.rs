//! Random numbers: xoshiro256++ seeded through SplitMix64. Small, fast and
//! reproducible on every platform, which is all initialisation and shuffling
//! need. A process-wide seed source lets `setRandomSeed` make whole programs
//! reproducible, as `keras.utils.set_random_seed` does.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        Rng { s: [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)] }
    }

    /// The stream of one numbered part of a seeded whole, such as one
    /// epoch's shuffle: any part is reached at once, and each part's stream
    /// differs from the others' and from `Rng::new(seed)`'s.
    pub fn part(seed: u64, part: u64) -> Self {
        let mut sm = seed;
        Rng::new(splitmix64(&mut sm) ^ part.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) without modulo bias (Lemire's method); n > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// Standard normal deviate (Box–Muller; the second value is dropped for simplicity).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Where models draw their seeds from. Seeded from the clock until
/// `set_global_seed` is called.
static SEED_SOURCE: Mutex<Option<Rng>> = Mutex::new(None);

pub fn set_global_seed(seed: u64) {
    *SEED_SOURCE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Rng::new(seed));
}

/// A fresh seed for one model's initialisation or one fit's shuffling.
pub fn next_seed() -> u64 {
    let mut guard = SEED_SOURCE.lock().unwrap_or_else(|e| e.into_inner());
    let rng = guard.get_or_insert_with(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ (std::process::id() as u64).rotate_left(32))
    });
    rng.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn uniform_and_normal_moments_are_right() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let (mut s1, mut s2, mut z1, mut z2) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            s1 += u;
            s2 += u * u;
            let z = r.normal();
            z1 += z;
            z2 += z * z;
        }
        let n = n as f64;
        assert!((s1 / n - 0.5).abs() < 0.005);
        assert!((s2 / n - s1 * s1 / (n * n) - 1.0 / 12.0).abs() < 0.002);
        assert!((z1 / n).abs() < 0.01);
        assert!((z2 / n - 1.0).abs() < 0.02);
    }

    #[test]
    fn shuffle_is_a_permutation_and_below_is_in_range() {
        let mut r = Rng::new(3);
        let mut v: Vec<usize> = (0..1000).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..1000).collect::<Vec<_>>());
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        for n in [1u64, 2, 3, 7, 1000] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
    }
}
