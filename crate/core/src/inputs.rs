//! The input rows a model reads: float32 values, or bytes mapped through a
//! 256-entry table. The second form is a uint8 tensor scaled lazily (MNIST's
//! `images.asType('float32').div(255)`): the dataset stays a quarter of the
//! size, and each row is converted only when a batch is gathered. The table
//! holds exactly the float32 each byte would have become, so both forms give
//! bit-identical results.

use crate::error::{Error, Result};
use crate::kernels::bytes::{bytes_to_f32, ByteMap};
use crate::kernels::Isa;

/// Borrowed input rows, row-major.
#[derive(Clone, Copy)]
pub enum Inputs<'a> {
    F32(&'a [f32]),
    /// Each value is `table[byte]`, computed as `map` says.
    Bytes {
        data: &'a [u8],
        table: &'a [f32; 256],
        map: ByteMap,
    },
}

impl<'a> From<&'a [f32]> for Inputs<'a> {
    fn from(x: &'a [f32]) -> Self {
        Inputs::F32(x)
    }
}

impl<'a> From<&'a Vec<f32>> for Inputs<'a> {
    fn from(x: &'a Vec<f32>) -> Self {
        Inputs::F32(x)
    }
}

impl Inputs<'_> {
    /// How many values: rows × features.
    pub fn len(&self) -> usize {
        match self {
            Inputs::F32(x) => x.len(),
            Inputs::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes a value takes here.
    pub(crate) fn bytes_per_value(&self) -> usize {
        match self {
            Inputs::F32(_) => 4,
            Inputs::Bytes { .. } => 1,
        }
    }

    /// Asks the CPU to fetch values `start..start + len` into cache ahead of
    /// a copy: a batch's rows lie scattered over the dataset, and fetched
    /// one after another each waits on memory.
    pub(crate) fn prefetch(&self, start: usize, len: usize) {
        let ptr = match self {
            Inputs::F32(x) => x[start..start + len].as_ptr() as *const u8,
            Inputs::Bytes { data, .. } => data[start..start + len].as_ptr(),
        };
        crate::kernels::prefetch(ptr, len * self.bytes_per_value());
    }

    /// Copies values `start..start + dst.len()` into `dst` as float32.
    pub(crate) fn copy_into(&self, isa: Isa, start: usize, dst: &mut [f32]) {
        let end = start + dst.len();
        match self {
            Inputs::F32(x) => dst.copy_from_slice(&x[start..end]),
            Inputs::Bytes { data, table, map } => bytes_to_f32(isa, &data[start..end], *map, table, dst),
        }
    }
}

/// Input rows the model side owns: copied once from the caller, so nothing
/// the caller does afterwards (detach, shrink, rewrite its buffer) reaches
/// a running task.
pub enum OwnedInputs {
    F32(Vec<f32>),
    Bytes { data: Vec<u8>, table: Box<[f32; 256]>, map: ByteMap },
}

impl OwnedInputs {
    /// A copy of float32 rows, refusing sizes the machine cannot hold.
    pub fn copy_f32(x: &[f32]) -> Result<Self> {
        Ok(OwnedInputs::F32(crate::alloc::copied(x, "the input data")?))
    }

    /// A copy of byte rows with their value table (256 entries).
    pub fn copy_bytes(x: &[u8], table: &[f32]) -> Result<Self> {
        let table: [f32; 256] = table.try_into().map_err(|_| {
            Error::Shape(format!("Expected a table of 256 float32 values for uint8 inputs. Received: {}", table.len()))
        })?;
        let data = crate::alloc::copied(x, "the input data")?;
        Ok(OwnedInputs::Bytes { data, map: ByteMap::of(&table), table: Box::new(table) })
    }

    pub fn view(&self) -> Inputs<'_> {
        match self {
            OwnedInputs::F32(x) => Inputs::F32(x),
            OwnedInputs::Bytes { data, table, map } => Inputs::Bytes { data, table, map: *map },
        }
    }

    /// Bytes held, for memory accounting.
    pub fn byte_len(&self) -> usize {
        match self {
            OwnedInputs::F32(x) => 4 * x.len(),
            OwnedInputs::Bytes { data, .. } => data.len() + 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_map_through_the_table_as_float32_would() {
        let table: Vec<f32> = (0..256).map(|v| (v as f64 / 255.0) as f32).collect();
        let bytes: Vec<u8> = (0..=255).rev().collect();
        let owned = OwnedInputs::copy_bytes(&bytes, &table).unwrap();
        let mut out = vec![0.0; 6];
        owned.view().copy_into(Isa::detect(), 250, &mut out);
        // Bytes 5, 4, …, 0: what Math.fround(b / 255) gives the eager tensor.
        let want: Vec<f32> = (0..6).map(|i| ((5 - i) as f64 / 255.0) as f32).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn a_short_table_is_refused() {
        let err = OwnedInputs::copy_bytes(&[1, 2], &[0.0; 10]).err().unwrap();
        assert_eq!(err.code(), "ERR_FERRO_SHAPE");
    }

    #[test]
    fn float_rows_copy_as_they_are() {
        let x = [1.5f32, -2.0, 3.25];
        let owned = OwnedInputs::copy_f32(&x).unwrap();
        let mut out = [0.0; 2];
        owned.view().copy_into(Isa::detect(), 1, &mut out);
        assert_eq!(out, [-2.0, 3.25]);
        assert_eq!(owned.view().len(), 3);
    }
}
