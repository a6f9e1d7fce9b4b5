//! Dropout against Keras's own outputs (test/golden/keras-layers.json, made
//! by test/golden/keras_layers.py): Keras's mask is its own random draw, so
//! what must agree is the arithmetic — every value either dropped to 0 or
//! kept as x / (1 − rate), bit for bit where both keep it — the drop rate,
//! and inference passing the input through.

use ferro_core::kernels::Isa;
use ferro_core::layers::{Dropout, DropoutSpec, Pass};
use ferro_core::rng::Rng;
use ndarray::Array2;

#[test]
fn kept_values_and_inference_match_keras() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/golden/keras-layers.json");
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let d = &golden["dropout"];
    let matrix = |v: &serde_json::Value| -> Array2<f32> {
        let rows: Vec<Vec<f32>> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
            .collect();
        Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
    };
    let (x, keras_training, keras_inference) = (matrix(&d["x"]), matrix(&d["training"]), matrix(&d["inference"]));
    let rate = d["rate"].as_f64().unwrap();
    let layer = Dropout::new(&DropoutSpec { rate, seed: Some(1) }, x.ncols(), &mut Rng::new(0)).unwrap();
    let mut scratch = vec![vec![0.0; x.len()]];
    let run = |training: bool, scratch: &mut [Vec<f32>]| {
        let mut y = Array2::zeros(x.raw_dim());
        layer.forward(Pass { isa: Isa::detect(), training, step: 0 }, x.view(), y.view_mut(), scratch);
        y
    };
    assert_eq!(run(false, &mut scratch), keras_inference);
    let ours = run(true, &mut scratch);
    let mut both_kept = 0;
    for ((&a, &k), &v) in ours.iter().zip(&keras_training).zip(&x) {
        assert!(k == 0.0 || k == v / (1.0 - rate as f32), "Keras kept {v} as {k}");
        assert!(a == 0.0 || a == v / (1.0 - rate as f32), "ferro-nn kept {v} as {a}");
        if a != 0.0 && k != 0.0 {
            assert_eq!(a.to_bits(), k.to_bits());
            both_kept += 1;
        }
    }
    assert!(both_kept > 10, "the masks overlap enough to compare: {both_kept}");
    let dropped = ours.iter().filter(|&&v| v == 0.0).count() as f64 / ours.len() as f64;
    assert!((dropped - rate).abs() < 0.15, "dropped {dropped} at rate {rate}");
}
