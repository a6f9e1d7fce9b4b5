//! Every elementwise activation against Keras itself: values
//! (keras.activations.<name>) and derivatives (jax.grad of the same) from
//! test/golden/keras-activations.json, made by test/golden/keras_activations.py
//! with Keras 3.15.1 on JAX. ferro-nn computes the derivative from the output,
//! as its backward pass does.

use ferro_core::kernels::Activation;

#[test]
fn values_and_derivatives_match_keras() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/golden/keras-activations.json");
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    };
    let x = floats(&golden["x"]);
    let table = golden["activations"].as_object().unwrap();
    let elementwise: Vec<&str> = Activation::NAMES.into_iter().filter(|&n| n != "softmax").collect();
    assert_eq!(table.len(), elementwise.len(), "the golden file covers every elementwise activation");
    for name in elementwise {
        let act = Activation::parse(name).unwrap();
        let (values, derivatives) = (floats(&table[name]["values"]), floats(&table[name]["derivatives"]));
        for ((&z, &want), &want_d) in x.iter().zip(&values).zip(&derivatives) {
            let y = act.apply(z);
            assert!((y - want).abs() <= 2e-6 * (1.0 + want.abs()), "{name}({z}) = {y}, Keras {want}");
            // Through the output, as the backward pass computes it, except for
            // gelu and silu, whose pre-activations the backward pass keeps.
            let d = if act.needs_input() { act.derivative(z) } else { act.derivative_from_output(y) };
            assert!((d - want_d).abs() <= 2e-5 * (1.0 + want_d.abs()), "{name}'({z}) = {d}, Keras {want_d}");
        }
    }
}
