pub mod idx;
