//! Every trainable weight of a model in one buffer, tensor after tensor in
//! Keras's order (layer by layer; kernel before bias, gamma before beta),
//! with a layout table. The gradients of a step fill a buffer of the same
//! layout, so the optimizer updates the model in one pass over both.

use crate::alloc::{checked_len, zeroed};
use crate::error::{Error, Result};
use ndarray::{ArrayView2, ArrayViewMut2};
use std::ops::Range;

/// Where one tensor lives in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamRef {
    pub offset: usize,
    pub len: usize,
}

impl ParamRef {
    pub fn range(self) -> Range<usize> {
        self.offset..self.offset + self.len
    }

    pub fn of(self, arena: &[f32]) -> &[f32] {
        &arena[self.range()]
    }

    pub fn of_mut(self, arena: &mut [f32]) -> &mut [f32] {
        &mut arena[self.range()]
    }

    /// The tensor as a rows × cols matrix.
    pub fn matrix(self, arena: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((rows, cols), self.of(arena)).expect("a tensor's shape matches its length")
    }

    pub fn matrix_mut(self, arena: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
        ArrayViewMut2::from_shape((rows, cols), self.of_mut(arena)).expect("a tensor's shape matches its length")
    }
}

/// One row of the layout table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub at: ParamRef,
    pub shape: Vec<usize>,
    /// The layer it belongs to.
    pub layer: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Every weight. Writes after the model is built must `bump_version`
    /// (set_weights and the optimizer do), so that copies kept elsewhere
    /// (the first kernel's packed panels) know they are stale.
    pub values: Vec<f32>,
    pub layout: Vec<ParamInfo>,
    version: u64,
}

impl Params {
    /// Counts writes to `values`.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn bump_version(&mut self) {
        self.version += 1;
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Collects tensors while layers are built; `finish` lays them out in one
/// buffer. A size that cannot be allocated is an error, never an abort.
#[derive(Default)]
pub struct ParamsBuilder {
    tensors: Vec<(Vec<usize>, Vec<f32>, usize)>,
    len: usize,
    layer: usize,
}

impl ParamsBuilder {
    /// Tensors added from now on belong to layer `layer`.
    pub fn set_layer(&mut self, layer: usize) {
        self.layer = layer;
    }

    /// A zeroed tensor of `shape`, to fill through `fill`, placed after the
    /// ones before it.
    pub fn add(
        &mut self,
        shape: &[usize],
        what: &str,
        fill: impl FnOnce(&mut [f32]) -> Result<()>,
    ) -> Result<ParamRef> {
        let len = checked_len(shape, what)?;
        let mut data = zeroed::<f32>(len, what)?;
        fill(&mut data)?;
        let at = ParamRef { offset: self.len, len };
        self.len = self
            .len
            .checked_add(len)
            .ok_or_else(|| Error::Value(format!("Expected a model that fits in memory. Received: {what} overflows")))?;
        self.tensors.push((shape.to_vec(), data, self.layer));
        Ok(at)
    }

    pub fn finish(self) -> Result<Params> {
        let mut values = zeroed::<f32>(self.len, "the model's weights")?;
        let mut layout = Vec::with_capacity(self.tensors.len());
        let mut offset = 0;
        for (shape, data, layer) in self.tensors {
            values[offset..offset + data.len()].copy_from_slice(&data);
            layout.push(ParamInfo { at: ParamRef { offset, len: data.len() }, shape, layer });
            offset += data.len();
        }
        Ok(Params { values, layout, version: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_are_laid_out_in_order_with_their_shapes() {
        let mut b = ParamsBuilder::default();
        let k = b
            .add(&[2, 3], "k", |d| {
                d.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
                Ok(())
            })
            .unwrap();
        b.set_layer(1);
        let g = b
            .add(&[3], "g", |d| {
                d.fill(7.0);
                Ok(())
            })
            .unwrap();
        let p = b.finish().unwrap();
        assert_eq!((k, g), (ParamRef { offset: 0, len: 6 }, ParamRef { offset: 6, len: 3 }));
        assert_eq!(p.values, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 7.0, 7.0]);
        assert_eq!(k.matrix(&p.values, 2, 3)[[1, 2]], 5.0);
        assert_eq!(p.layout[1], ParamInfo { at: g, shape: vec![3], layer: 1 });
        assert!(ParamsBuilder::default().add(&[usize::MAX, 2], "huge", |_| Ok(())).is_err());
    }
}
