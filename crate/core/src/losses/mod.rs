pub mod sparse_categorical_crossentropy;

pub use sparse_categorical_crossentropy::{check_labels, Loss, LossTotals};
