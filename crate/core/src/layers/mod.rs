pub mod dense;
pub mod initializers;

pub use dense::{column_sums, Dense, DenseGrads, DenseSpec};
pub use initializers::Initializer;
