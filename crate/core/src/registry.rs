//! Every name the public API accepts, in one place. The Node binding
//! exports this list (`registry()`), and test/registry.test.ts holds the
//! TypeScript unions and runtime lists to it, so the two languages cannot
//! disagree about a name.

use crate::kernels::Activation;
use crate::layers::Initializer;
use crate::losses::Loss;
use crate::metrics::Metric;

/// compile's optimizer names, each with the Keras class it makes.
pub const OPTIMIZERS: [(&str, &str); 6] = [
    ("sgd", "SGD"),
    ("rmsprop", "RMSprop"),
    ("adam", "Adam"),
    ("adamw", "AdamW"),
    ("adagrad", "Adagrad"),
    ("nadam", "Nadam"),
];

/// The names of 'accuracy', which every loss reports in its own kind.
pub const ACCURACY: [&str; 3] = ["accuracy", "acc", "sparse_categorical_accuracy"];

/// The learning-rate schedules, by Keras class name.
pub const SCHEDULES: [&str; 4] = ["ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"];

/// The layer kinds, by Keras class name (crate/node builds them by it).
pub const LAYERS: [&str; 4] = ["Dense", "Activation", "Dropout", "BatchNormalization"];

/// (kind, names) for every kind of name.
pub fn names() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("activation", Activation::NAMES.iter().chain(Activation::ALIASES.iter().map(|(n, _)| n)).copied().collect()),
        ("layer", LAYERS.to_vec()),
        ("initializer", Initializer::NAMES.to_vec()),
        ("loss", Loss::NAMES.to_vec()),
        ("optimizer", OPTIMIZERS.iter().map(|(name, _)| *name).collect()),
        ("optimizerClass", OPTIMIZERS.iter().map(|(_, class)| *class).collect()),
        ("schedule", SCHEDULES.to_vec()),
        ("metric", ACCURACY.iter().chain(&Metric::NAMES).copied().collect()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses() {
        for name in Activation::NAMES {
            assert_eq!(Activation::parse(name).unwrap().name(), name);
        }
        for name in Initializer::NAMES.iter().chain(&Loss::NAMES) {
            assert!(Initializer::parse(name).is_ok() || Loss::parse(name).is_ok(), "{name}");
        }
    }
}
