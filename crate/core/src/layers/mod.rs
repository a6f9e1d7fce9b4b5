pub mod dense;
pub mod initializers;
pub mod regularizer;

pub use dense::{column_sums, kernel_gradient, Dense, DenseSpec};
pub use initializers::Initializer;
pub use regularizer::Regularizer;
