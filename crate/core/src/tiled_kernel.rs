//! The first layer's kernel updated inside the GEMM that computes its
//! gradient (xᵀ·dz), tile by tile, as the tiles come out of it
//! (`kernels::gemm_tiles`, `optimizers::TileStep`). A plain step writes the
//! gradient, reads it back with the weights and slots in a separate pass,
//! and packs the updated kernel for the next forward GEMM; here the
//! gradient never reaches memory, and the kernel is only ever kept in the
//! forward GEMM's panel layout (`PackedB`), so nothing is packed either.
//! On the seed model's 784×512 kernel, gradient GEMM + update + packing
//! took 490 µs apart and 457 µs fused (1 thread); whole epochs
//! (profile_fit, interleaved runs) went from 0.473–0.484 to 0.462–0.482 s
//! on 1 thread, 0.387–0.408 to 0.355–0.371 s on 2 (a noisy hour), and
//! 2.11–2.16 to 1.86–1.92 s at hidden 2048 on 1 thread.
//!
//! On the AMD Zen 4 VM the update cost 32–40 µs a step on 1 thread and
//! 25–30 on 2 (profile_fit on the seed model with the tiles' update
//! skipped; 17 µs at hidden 256, 70–110 at 1024: linear in the weights).
//! It did not hide behind the GEMM: RMSprop's kernel spends 11
//! floating-point operations on each vector of weights (kernels/rmsprop.rs),
//! on the pipes the GEMM's multiply-adds need. It cost there what it cost
//! alone on data in L1 (1.16 ns per 16 weights: 29 µs for 784×512), and
//! memory was not it: pointing every tile at the same 4096 weights and
//! slots saved at most 4 µs. Folding the Newton step into the update (one
//! multiply fewer per vector, 10% faster alone) saved 1.5–2.5 µs a step
//! over ten interleaved pairs, not worth new roundings. Computing each tile
//! in 2–8 resumed pieces of its reduction and updating the previous tile's
//! rows between them made the backward pass 16–140 µs slower on 1 thread,
//! as every piece stores and reloads the accumulators; prefetching 1–2
//! tiles ahead changed nothing.
//!
//! On the Intel Xeon VM (2 MB of L2 per core; A/B steps skipping the update
//! on every other step, 2026-12-01) it costs 95–120 µs at hidden 512,
//! batch 32 or 128, against 33 at hidden 128 and 40–73 at 256. There
//! memory is part of it: the kernel's panels and slots (3.2 MB at hidden
//! 512) no longer stay in L2 between steps, and the update streams them
//! from L3. Alone (1 thread, subnormals flushed), the kernel took 65–83 µs
//! over 784×512 weights in L1 and 127–130 µs streaming them in tiles. At
//! batch 32 the update is a fifth of the step; prefetching 4 tiles ahead
//! made it 20–50 µs slower.
//!
//! During `FitRun::advance`, between `enter_tiles` and `leave_tiles`, the
//! kernel's panels and its slots in tile layout hold the truth and the
//! arena's copies are stale; nothing outside the fit loop can see the model
//! meanwhile, and `leave_tiles` runs before validation, before `advance`
//! returns, and when a step panics.

use crate::error::Result;
use crate::kernels::pack::{pack_panels, unpack_panels};
use crate::kernels::TileLayout;
use crate::model::Model;
use crate::optimizers::TileStep;
use crate::workspace::Workspace;

/// The fewest batches an `advance` runs with the first kernel in tiles.
/// Moving a 784×4096 kernel and its RMSprop slots into tile layout and
/// back took 8–15 ms, about what 10 tiled steps save (784×512: 0.37 ms,
/// 10–15 steps' saving).
pub(crate) const MIN_TILED_STEPS: usize = 32;

/// The first kernel's slots in tile layout, and whether a run of tiled
/// steps is under way.
pub(crate) struct KernelTiles {
    layout: TileLayout,
    /// Slots per weight, as the optimizer had when the fit began.
    count: usize,
    slots: Vec<f32>,
    active: bool,
}

impl KernelTiles {
    pub(crate) fn active(&self) -> bool {
        self.active
    }
}

impl Workspace {
    /// Room for a fit to update the first kernel in tiles, when the model
    /// allows it (`Model::tiles_possible`).
    pub(crate) fn prepare_tiles(&mut self, model: &Model) -> Result<()> {
        let (Some(dense), Some(opt)) = (model.layers[0].as_dense(), model.optimizer.as_ref()) else {
            return Ok(());
        };
        if !model.tiles_possible() {
            return Ok(());
        }
        let layout = TileLayout::of(model.isa, dense.input_dim(), dense.units());
        let count = opt.slot_count();
        let len = crate::alloc::checked_len(&[count, layout.len()], "the first kernel's optimizer slots")?;
        let slots = crate::alloc::zeroed(len, "the first kernel's optimizer slots")?;
        self.tiles = Some(KernelTiles { layout, count, slots, active: false });
        Ok(())
    }
}

impl Model {
    /// Whether a fit's steps may update the first kernel in tiles: a Dense
    /// first layer without a penalty (its gradient would need the weights),
    /// float32 products, and an optimizer whose update is elementwise.
    pub(crate) fn tiles_possible(&self) -> bool {
        self.tiled_from != usize::MAX
            && self.mixed.is_none()
            && self.layers[0].as_dense().is_some()
            && !self.layers[0].has_penalty()
            && self.optimizer.as_ref().is_some_and(|o| o.updates_in_tiles())
    }

    /// Moves the first kernel into its panels and its slots into tile
    /// layout, for the steps to come; false (and nothing moved) when the
    /// workspace or the model no longer allow it.
    pub(crate) fn enter_tiles(&self, ws: &mut Workspace) -> bool {
        let (Some(tiles), Some(dense), Some(opt)) =
            (ws.tiles.as_mut(), self.layers[0].as_dense(), self.optimizer.as_ref())
        else {
            return false;
        };
        // A compile between two calls may have brought other slots.
        if !self.tiles_possible() || opt.slot_count() != tiles.count {
            return false;
        }
        let Some(kept) = ws.gemm.kept_mut() else { return false };
        let (panels, nr) = kept.panels_mut();
        debug_assert_eq!(nr, tiles.layout.nr, "the GEMM's panels and tiles agree");
        pack_panels(dense.kernel(&self.params.values), nr, panels, true);
        kept.set_fresh(true);
        opt.slots_to_tiles(dense.kernel, &tiles.layout, &mut tiles.slots);
        tiles.active = true;
        true
    }

    /// Puts the kernel and its slots back in the arena after a run of tiled
    /// steps (nothing when none is under way).
    pub(crate) fn leave_tiles(&mut self, ws: &mut Workspace) {
        let Some(tiles) = ws.tiles.as_mut().filter(|t| t.active) else { return };
        tiles.active = false;
        let dense = self.layers[0].as_dense().expect("entered with a Dense first layer");
        let (at, k, n) = (dense.kernel, dense.input_dim(), dense.units());
        let kept = ws.gemm.kept_mut().expect("entered with panels");
        let (panels, nr) = kept.panels_mut();
        unpack_panels(panels, nr, at.matrix_mut(&mut self.params.values, k, n));
        // The panels match the arena now; the next plain step may read them.
        kept.set_fresh(false);
        ws.kept_at = Some(self.params.version());
        self.optimizer.as_mut().expect("compiled").slots_from_tiles(at, &tiles.layout, &tiles.slots);
    }
}

/// How far ahead `TileTarget::take` prefetches, in tiles.
const TILES_AHEAD: usize = 4;

/// The size of kernel and slots from which `TileTarget::take` prefetches.
/// Smaller ones stay in the last-level cache between steps, where the
/// hardware's own prefetchers keep up with the update's walk and the
/// extra instructions only cost: profile_fit, 1 thread, on the seed model
/// (3.2 MB) without them 436–438 µs for the backward GEMM instead of
/// 446–454; hidden 1024 and 2048 (6.4, 12.8 MB) even; hidden 4096 (25.7 MB,
/// from memory) 4.61–4.68 ms instead of 4.19–4.25.
const PREFETCH_FROM_BYTES: usize = 16 << 20;

/// Where a tiled step writes: the kernel's panels and its slots, shared by
/// the tasks of the gradient GEMM, each of which updates its own tiles.
pub(crate) struct TileTarget<'a> {
    panels: *mut f32,
    slots: *mut f32,
    len: usize,
    count: usize,
    prefetch: bool,
    step: TileStep,
    _borrows: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the pointers come from exclusive borrows held for 'a; `take`'s
// callers vouch that no two threads touch the same tile.
unsafe impl Send for TileTarget<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for TileTarget<'_> {}

impl<'a> TileTarget<'a> {
    pub(crate) fn new(panels: &'a mut [f32], tiles: &'a mut KernelTiles, step: TileStep) -> Self {
        let len = tiles.layout.len();
        assert!(panels.len() >= len && tiles.slots.len() == tiles.count * len, "tile target sizes");
        TileTarget {
            panels: panels.as_mut_ptr(),
            slots: tiles.slots.as_mut_ptr(),
            len,
            count: tiles.count,
            prefetch: 4 * (tiles.count + 1) * len >= PREFETCH_FROM_BYTES,
            step,
            _borrows: std::marker::PhantomData,
        }
    }

    /// Updates the tile at offset `at` from its gradients `g`.
    ///
    /// # Safety
    /// No other thread touches that tile meanwhile (`gemm_tiles` hands each
    /// tile to one thread, once).
    pub(crate) unsafe fn take(&self, at: usize, g: &[f32]) {
        assert!(at + g.len() <= self.len, "tile outside the layout");
        // The tiles a few ahead, most likely this task's next ones: at
        // hidden 4096 the weights and slots come from memory, and the
        // update stalled on them.
        let ahead = at + TILES_AHEAD * g.len();
        if self.prefetch && ahead + g.len() <= self.len {
            crate::kernels::prefetch_to_write(self.panels.wrapping_add(ahead) as *const u8, 4 * g.len());
            crate::kernels::prefetch_to_write(
                self.slots.wrapping_add(self.count * ahead) as *const u8,
                4 * self.count * g.len(),
            );
        }
        // SAFETY: inside the buffers `new` borrowed (asserted above and
        // there); the tile's elements and slots are the caller's alone.
        unsafe {
            let w = std::slice::from_raw_parts_mut(self.panels.add(at), g.len());
            let s = std::slice::from_raw_parts_mut(self.slots.add(self.count * at), self.count * g.len());
            self.step.apply(w, g, s);
        }
    }
}
