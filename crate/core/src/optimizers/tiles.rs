//! A step that updates one matrix of the arena tile by tile, as the GEMM
//! computing its gradient hands the tiles over (`kernels::gemm_tiles`):
//! the gradient is never stored, and the weights and slots are read and
//! written once, in order, while the GEMM's operands stay in cache. During
//! a run of such steps the matrix's weights and slots live in the GEMM's
//! tile layout (`TileLayout`); the slots move there and back with
//! `slots_to_tiles` and `slots_from_tiles`.
//!
//! In tile layout a tile at offset `o` of L elements has its slots at
//! count·o, one slot after another (count·L floats), as the rules want them.
//! Each element gets the arithmetic of `finish_step`, so the bits are the
//! same as a plain step's: the hand-written kernels of RMSprop and Adam run
//! a run's last few (fewer than a vector) elements through the same lanes,
//! zero-padded, so where a run ends changes no element's bits.

use super::{slot_index, Clip, Optimizer, StepConsts, CHUNK};
use crate::kernels::microkernel::MAX_TILE;
use crate::kernels::TileLayout;
use crate::params::ParamRef;

/// One step's update of a tile (see the module's notes).
#[derive(Clone, Copy)]
pub struct TileStep {
    consts: StepConsts,
    clip_value: Option<f32>,
}

impl TileStep {
    /// Updates the weights `w` of one tile from their gradients `g`, with
    /// their slots `s` (each slot `w.len()` long, one after another).
    pub fn apply(&self, w: &mut [f32], g: &[f32], s: &mut [f32]) {
        match self.clip_value {
            Some(v) => {
                let mut clipped = [0f32; MAX_TILE];
                let clipped = &mut clipped[..g.len()];
                clipped.iter_mut().zip(g).for_each(|(c, &g)| *c = g.clamp(-v, v));
                self.consts.update(w, clipped, s);
            }
            None => self.consts.update(w, g, s),
        }
    }
}

impl Optimizer {
    /// Whether each element's update depends on its own gradient alone, so
    /// that a matrix can be updated a tile at a time: not under clipping by
    /// norms, which needs every gradient first.
    pub fn updates_in_tiles(&self) -> bool {
        !matches!(self.config.clip, Clip::Norm(_) | Clip::GlobalNorm(_))
    }

    /// Slots per weight.
    pub fn slot_count(&self) -> usize {
        self.config.rule.slot_names().len()
    }

    /// The tile update of the step `consts` began.
    pub fn tile_step(&self, consts: StepConsts) -> TileStep {
        assert!(self.updates_in_tiles(), "clipping by norm needs the whole gradient");
        let clip_value = match self.config.clip {
            Clip::Value(v) => Some(v as f32),
            _ => None,
        };
        TileStep { consts, clip_value }
    }

    /// The slots of the matrix `at` (layout.m × layout.n in the arena), in
    /// tile layout, into `out` (slot_count · layout.len() floats); padding
    /// columns get the slots' starting value.
    pub fn slots_to_tiles(&self, at: ParamRef, layout: &TileLayout, out: &mut [f32]) {
        out.fill(self.config.rule.slot_start());
        let data = &self.slots.data;
        tile_runs(self.slot_count(), self.slots.len, at, layout, |slot, tile, len| {
            out[tile..tile + len].copy_from_slice(&data[slot..slot + len]);
        });
    }

    /// The inverse of `slots_to_tiles`.
    pub fn slots_from_tiles(&mut self, at: ParamRef, layout: &TileLayout, tiles: &[f32]) {
        let (count, len_all) = (self.slot_count(), self.slots.len);
        let data = &mut self.slots.data;
        tile_runs(count, len_all, at, layout, |slot, tile, len| {
            data[slot..slot + len].copy_from_slice(&tiles[tile..tile + len]);
        });
    }
}

/// Calls `each(slot index, tile index, len)` for every run of elements
/// contiguous in both layouts — a tile row's valid columns, cut where the
/// slot buffer's chunks end — for `count` slots over an arena of `len`.
fn tile_runs(
    count: usize,
    len_all: usize,
    at: ParamRef,
    layout: &TileLayout,
    mut each: impl FnMut(usize, usize, usize),
) {
    let (n, nr) = (layout.n, layout.nr);
    assert!(at.len == layout.m * n && at.offset + at.len <= len_all, "tile layout of another shape");
    for (offset, i0, j0, rows) in layout.tiles() {
        let cols = nr.min(n - j0);
        for k in 0..count {
            for r in 0..rows {
                let (e, t) = (at.offset + (i0 + r) * n + j0, count * offset + (k * rows + r) * nr);
                let mut done = 0;
                while done < cols {
                    let run = (CHUNK - (e + done) % CHUNK).min(cols - done);
                    each(slot_index(count, len_all, k, e + done), t + done, run);
                    done += run;
                }
            }
        }
    }
}
