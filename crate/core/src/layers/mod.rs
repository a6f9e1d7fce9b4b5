pub mod dense;
pub mod initializers;

pub use dense::{column_sums, kernel_gradient, Dense, DenseSpec};
pub use initializers::Initializer;
