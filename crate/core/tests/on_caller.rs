//! `pool::on_caller` runs small work on the calling thread (Node's
//! JavaScript thread, for one-row predicts) as one of the pool's threads
//! would: the same bits, subnormals flushed, no work handed to any rayon
//! pool, and the caller's floating-point control left as it was.
//!
//! One test only: it ends by checking that nothing in this process started
//! rayon's global pool, which a second test running beside it could.

use ferro_core::kernels::bf16::Bf16Kernel;
use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, LayerSpec};
use ferro_core::{pool, Model, WeightTensor};
use std::hint::black_box;

fn seed_model(mixed: Option<Bf16Kernel>) -> Model {
    let mut model =
        Model::new(784, &[DenseSpec::new(512, Activation::Relu), DenseSpec::new(10, Activation::Softmax)], 7).unwrap();
    model.set_mixed_bfloat16(mixed);
    model
}

fn gradual_underflow_here() -> bool {
    black_box(f32::MIN_POSITIVE) * black_box(0.5) > 0.0
}

#[test]
fn small_predicts_on_the_caller_match_the_pool_flush_and_start_no_rayon_pool() {
    let x: Vec<f32> = (0..2 * 784).map(|i| (i % 255) as f32 / 255.0).collect();
    for mixed in [None, Bf16Kernel::detect(), Bf16Kernel::detect_amx()] {
        let model = seed_model(mixed);
        // Two rows of the seed model are 1.6 MFLOP; three are too many rows.
        assert!(model.predict_is_small(2) && !model.predict_is_small(3));
        // A model without weights is small for as few rows only.
        let weightless = Model::build(784, &[LayerSpec::Activation(Activation::Gelu)], 1).unwrap();
        assert!(weightless.predict_is_small(2) && !weightless.predict_is_small(3));
        // A wide model is not, for one row: 4.2 MFLOP.
        let wide = Model::new(2048, &[DenseSpec::new(1024, Activation::Relu)], 1).unwrap();
        assert!(!wide.predict_is_small(1));
        for rows in [1, 2] {
            let x = &x[..rows * 784];
            let here = pool::on_caller(|| model.predict(x, rows, 32)).unwrap();
            let there = pool::install(|| model.predict(x, rows, 32)).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&here), bits(&there), "{rows} rows, bfloat16 {}", mixed.is_some());
        }
        assert!(gradual_underflow_here(), "on_caller left this thread flushing subnormals");
    }

    // Beyond what predict_is_small admits, on_caller still keeps every
    // kernel on this thread: 8 rows take the packed and, under
    // mixed_bfloat16, the bfloat16 products, whose packing of the 784×512
    // kernel would otherwise be split.
    let x8: Vec<f32> = (0..8 * 784).map(|i| (i % 251) as f32 / 251.0).collect();
    for mixed in [None, Bf16Kernel::detect(), Bf16Kernel::detect_amx()] {
        let model = seed_model(mixed);
        let here = pool::on_caller(|| model.predict(&x8[..], 8, 32)).unwrap();
        let there = pool::install(|| model.predict(&x8[..], 8, 32)).unwrap();
        assert!(
            here.iter().zip(&there).all(|(a, b)| a.to_bits() == b.to_bits()),
            "8 rows, bfloat16 {}",
            mixed.is_some()
        );
    }

    // A subnormal input: read as zero on the pool's threads and here, kept
    // on a thread that does not flush.
    let mut tiny = Model::new(1, &[DenseSpec::new(1, Activation::Linear)], 1).unwrap();
    let weights =
        vec![WeightTensor { shape: vec![1, 1], data: vec![1.0] }, WeightTensor { shape: vec![1], data: vec![0.0] }];
    tiny.set_weights(weights).unwrap();
    let subnormal = [black_box(1e-39f32)];
    assert_eq!(pool::on_caller(|| tiny.predict(&subnormal[..], 1, 1)).unwrap(), [0.0]);
    assert_eq!(pool::install(|| tiny.predict(&subnormal[..], 1, 1)).unwrap(), [0.0]);
    let kept = std::thread::scope(|s| s.spawn(|| pool::serial(|| tiny.predict(&subnormal[..], 1, 1))).join().unwrap());
    assert_eq!(kept.unwrap(), [1e-39]);

    // A panic inside still restores the caller's control.
    let caught = std::panic::catch_unwind(|| pool::on_caller(|| panic!("inside on_caller")));
    assert!(caught.is_err() && gradual_underflow_here());

    // rayon's global pool starts on first use; it can be built only if
    // nothing above used it.
    assert!(rayon::ThreadPoolBuilder::new().num_threads(1).build_global().is_ok(), "rayon's global pool was used");
}
