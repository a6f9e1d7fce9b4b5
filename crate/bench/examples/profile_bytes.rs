//! Times the uint8 → float32 conversion of one MNIST batch (128 × 784
//! bytes) for `.div(255)`'s table and a plain scaling: profile_bytes.
use ferro_core::kernels::bytes::{bytes_to_f32, ByteMap};
use ferro_core::kernels::Isa;
use std::time::Instant;
fn main() {
    let src: Vec<u8> = (0..128 * 784).map(|i| (i * 37 % 256) as u8).collect();
    let mut dst = vec![0f32; src.len()];
    let div: [f32; 256] = std::array::from_fn(|b| (b as f64 / 255.0) as f32);
    let mul: [f32; 256] = std::array::from_fn(|b| b as f32 * 0.5);
    for (name, t) in [("div", &div), ("mul", &mul), ("div", &div), ("mul", &mul)] {
        let map = ByteMap::of(t);
        let mut best = f64::MAX;
        for _ in 0..2000 {
            let s = Instant::now();
            bytes_to_f32(Isa::detect(), &src, map, t, &mut dst);
            best = best.min(s.elapsed().as_secs_f64());
        }
        println!("{name} {map:?}: best {:.1} µs per batch", best * 1e6);
    }
}
