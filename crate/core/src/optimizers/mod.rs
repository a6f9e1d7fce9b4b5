pub mod rmsprop;

pub use rmsprop::{RmsProp, RmsPropConfig};
