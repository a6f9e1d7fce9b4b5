//! Every buffer a training step touches, sized once for a batch size, so the
//! step itself allocates nothing.

use crate::alloc::{checked_len, zeroed};
use crate::error::Result;
use crate::kernels::bf16::{KeptBf16, PackedPairs};
use crate::kernels::gemm::{MAX_WIDTH, MIN_BF16_DEPTH};
use crate::kernels::packed::AlignedBuf;
use crate::kernels::{GemmBuffers, PackedA, PackedB};
use crate::layers::Dense;
use crate::model::Model;
use crate::tiled_kernel::KernelTiles;
use ndarray::{ArrayView2, ArrayViewMut2};
use std::sync::Mutex;

pub struct Workspace {
    /// The most rows a batch may have.
    rows: usize,
    training: bool,
    /// The gathered input batch, rows × input_dim.
    pub(crate) x: Vec<f32>,
    pub(crate) labels: Vec<i32>,
    /// Float targets, rows × output units, for losses that take them.
    pub(crate) values: Vec<f32>,
    /// The batch's sample weights, when `weighted`.
    pub(crate) weights: Vec<f32>,
    pub(crate) weighted: bool,
    /// The next batch, gathered while the current step runs (training only).
    pub(crate) next_x: Vec<f32>,
    pub(crate) next_labels: Vec<i32>,
    pub(crate) next_values: Vec<f32>,
    pub(crate) next_weights: Vec<f32>,
    /// Whether a step asks for the next batch's first rows before its first
    /// GEMM (train.rs, `early_prefetch_pays`); decided once per fit.
    pub(crate) fetch_rows_early: bool,
    /// Each layer's output, rows × units.
    pub(crate) outputs: Vec<Vec<f32>>,
    /// Gradient at each layer's output (or pre-activation, see `Plan`),
    /// rows × units (training only).
    pub(crate) grads: Vec<Vec<f32>>,
    /// The gradient of every trainable weight, laid out as the model's
    /// parameter arena (training only).
    pub(crate) dparams: Vec<f32>,
    /// Per layer, what its forward pass keeps for its backward pass.
    pub(crate) scratch: Vec<Vec<Vec<f32>>>,
    pub(crate) gemm: GemmBuffers,
    /// Packing space for a second GEMM running beside the first.
    pub(crate) gemm_side: GemmBuffers,
    /// The weights' version (`Params::version`) that the first kernel's
    /// panels kept in `gemm` hold, if any.
    pub(crate) kept_at: Option<u64>,
    /// The first kernel's optimizer slots while a fit updates it in tiles.
    pub(crate) tiles: Option<KernelTiles>,
    /// The gradient at the first layer's pre-activation in a tiled step,
    /// as panels (`Plan::first_grad_in_panels`).
    pub(crate) first_grad_panels: AlignedBuf,
}

impl Workspace {
    /// Buffers for batches of up to `rows` rows; with `training`, also the
    /// gradients and the packing space of the backward pass.
    pub fn new(model: &Model, rows: usize, training: bool) -> Result<Workspace> {
        let per_layer = |what: &str| -> Result<Vec<Vec<f32>>> {
            model.layers.iter().map(|l| zeroed(checked_len(&[rows, l.units()], what)?, what)).collect()
        };
        let outputs = per_layer("layer outputs")?;
        let grads = if training { per_layer("gradients")? } else { Vec::new() };
        let dparams = zeroed(if training { model.params.len() } else { 0 }, "weight gradients")?;
        let scratch = model
            .layers
            .iter()
            .map(|l| {
                let lens = l.scratch_lens(rows, training);
                lens.into_iter().map(|n| zeroed(n, "layer scratch")).collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        // The largest packing space of any GEMM the step runs.
        let mut lens = (0usize, 0usize, 0usize);
        let overflow = || crate::error::Error::Value("GEMM packing buffers overflow usize; use smaller sizes.".into());
        for l in model.layers.iter().filter_map(|l| l.as_dense()) {
            let (i, u) = (l.input_dim(), l.units());
            let mut shapes = vec![(rows, u, i)]; // forward: x·W, (m, n, k)
            if training {
                shapes.push((i, u, rows)); // dW = xᵀ·dz
                shapes.push((rows, i, u)); // dx = dz·Wᵀ
            }
            for (m, n, k) in shapes {
                let (a, b, t) = GemmBuffers::lens_for(m, n, k).ok_or_else(overflow)?;
                lens = (lens.0.max(a), lens.1.max(b), lens.2.max(t));
            }
        }
        let first_grad_len = match model.layers[0].as_dense() {
            // Panels of every ISA's width hold it.
            Some(d) if training && model.plan.first_grad_in_panels => {
                checked_len(&[rows, d.units().div_ceil(MAX_WIDTH), MAX_WIDTH], "gradients")?
            }
            _ => 0,
        };
        let batch_len = checked_len(&[rows, model.input_dim()], "the input batch")?;
        let targets_len = checked_len(&[rows, model.output_dim()], "the target batch")?;
        let next_rows = if training { rows } else { 0 };
        let mixed = |mut bufs: GemmBuffers| {
            bufs.set_mixed(model.mixed);
            bufs
        };
        Ok(Workspace {
            rows,
            training,
            x: zeroed(batch_len, "the input batch")?,
            labels: zeroed(rows, "the label batch")?,
            values: zeroed(if training { targets_len } else { 0 }, "the target batch")?,
            weights: zeroed(if training { rows } else { 0 }, "the sample weight batch")?,
            weighted: false,
            fetch_rows_early: false,
            next_x: zeroed(next_rows * model.input_dim(), "the next input batch")?,
            next_labels: zeroed(next_rows, "the next label batch")?,
            next_values: zeroed(if training { targets_len } else { 0 }, "the next target batch")?,
            next_weights: zeroed(next_rows, "the next sample weight batch")?,
            outputs,
            grads,
            dparams,
            scratch,
            gemm: mixed(GemmBuffers::with_capacity(lens)?),
            gemm_side: mixed(GemmBuffers::with_capacity(if training { lens } else { (0, 0, 0) })?),
            kept_at: None,
            tiles: None,
            first_grad_panels: AlignedBuf::with_len(first_grad_len)?,
        })
    }

    /// Room for packing each training batch's inputs ahead of the first
    /// layer's two GEMMs (see `PackedA`); under mixed_bfloat16, ahead of
    /// its weight gradient's product (`PackedPairs`).
    pub(crate) fn pack_batches_ahead(&mut self, model: &Model) -> Result<()> {
        let Some(dense) = model.layers[0].as_dense().filter(|_| model.pack_ahead) else {
            return Ok(());
        };
        let (rows, d) = (self.rows, model.input_dim());
        let len = checked_len(&[rows, d], "the input batch")?;
        match model.mixed {
            // x·W packs x (rows × d); xᵀ·dz packs xᵀ (d × rows).
            None => self.gemm.keep_a(vec![PackedA::with_capacity(len, rows)?, PackedA::with_capacity(len, d)?]),
            // xᵀ alone (see `PackedPairs`), where xᵀ·dz takes the bfloat16
            // kernels (gemm.rs, `route`: the batch at least MIN_BF16_DEPTH
            // deep, the layer at least NR wide), and only for a first layer
            // whose forward product takes them too (`bf16_product`).
            Some(kernel) if bf16_product(dense) && rows >= MIN_BF16_DEPTH => {
                self.gemm.keep_pairs(Some(PackedPairs::with_capacity(kernel, d, rows)?));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Keeps the first kernel packed across a fit's steps, when it is large
    /// or will be updated in tiles: the optimizer writes the panels as it
    /// updates the kernel (train.rs, tiled_kernel.rs), and the next forward
    /// GEMM reads them instead of packing the kernel again. Under
    /// mixed_bfloat16, its bfloat16 words instead (`KeptBf16`), when
    /// the forward product takes the bfloat16 kernels at all. The two never
    /// both exist, so one `kept_at` serves either.
    pub(crate) fn keep_first_kernel(&mut self, model: &Model) -> Result<()> {
        match model.layers[0].as_dense() {
            Some(dense)
                if model.mixed.is_none() && (model.plain_steps_write_panels(dense) || model.tiles_possible()) =>
            {
                self.gemm.keep(PackedB::for_matrix(model.isa, dense.kernel(&model.params.values))?);
                Ok(())
            }
            // The optimizer writes the kernel's bfloat16 words: on AMX their
            // conversion each step cost more than the products saved.
            Some(dense) if model.keep_bf16 && bf16_product(dense) => {
                if let Some(kernel) = model.mixed {
                    self.gemm.keep_bf16(KeptBf16::for_matrix(kernel, dense.kernel(&model.params.values))?);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Whether `dense`'s forward product is wide and deep enough for the
/// bfloat16 kernels (gemm.rs, `route`): its kept words would not be read.
fn bf16_product(dense: &Dense) -> bool {
    dense.units() >= crate::kernels::bf16::NR && dense.input_dim() >= crate::kernels::gemm::MIN_BF16_DEPTH
}

/// The smallest first kernel (in weights) kept packed across steps. Packing
/// reads the kernel and writes the panels; the optimizer writing them
/// instead saves the read but not the writes. That pays once the kernel
/// comes from memory rather than cache: measured with profile_fit on 1
/// thread, 784×4096 (3.2 M weights) 8% faster per epoch, 784×2048 2%,
/// 784×1024 and the seed model's 784×512 no faster (within 2%, either way);
/// writing the panels with streaming stores then gained 5% more at both
/// 784×2048 and 784×4096.
pub(crate) const KEEP_PACKED_MIN: usize = 1 << 20;

impl Model {
    /// Whether a plain step keeps `dense` (the first layer) in panel layout,
    /// writing the panels as it updates it: for kernels of at least
    /// `keep_packed_from` weights.
    pub(crate) fn plain_steps_write_panels(&self, dense: &Dense) -> bool {
        dense.input_dim() * dense.units() >= self.keep_packed_from
    }
}

/// Inference workspaces kept between calls, so that a one-row predict does
/// not spend most of its time allocating (and faulting in) megabytes of
/// packing space. Concurrent calls each take their own.
#[derive(Default)]
pub(crate) struct Spares(Mutex<Vec<Workspace>>);

/// Enough for every thread of a small machine to run a call with one to spare.
const MAX_SPARES: usize = 8;

/// Only workspaces for batches this small are kept: they are what latency
/// needs (predict's default batch is 32), and a kept workspace for
/// `batchSize: 10000` would hold ~100 MB for the model's lifetime.
const MAX_SPARE_ROWS: usize = 256;

impl Spares {
    /// A workspace for inference batches of exactly `rows` rows.
    pub(crate) fn take(&self, model: &Model, rows: usize) -> Result<Workspace> {
        let found = {
            let mut spares = self.0.lock().unwrap_or_else(|e| e.into_inner());
            spares.iter().position(|w| w.rows == rows).map(|i| spares.swap_remove(i))
        };
        match found {
            Some(ws) => Ok(ws),
            None => Workspace::new(model, rows, false),
        }
    }

    /// Keeps `ws` for a later call, unless enough are kept already.
    pub(crate) fn give(&self, ws: Workspace) {
        debug_assert!(!ws.training, "only inference workspaces are kept");
        if ws.rows > MAX_SPARE_ROWS {
            return;
        }
        let mut spares = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < MAX_SPARES {
            spares.push(ws);
        }
    }
}

pub(crate) fn view(buf: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), &buf[..rows * cols]).expect("workspace buffer sized for the batch")
}

pub(crate) fn view_mut(buf: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), &mut buf[..rows * cols]).expect("workspace buffer sized for the batch")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Activation;
    use crate::layers::DenseSpec;

    #[test]
    fn only_small_inference_workspaces_are_kept() {
        let model = Model::new(784, &[DenseSpec::new(512, Activation::Relu)], 1).unwrap();
        let spares = Spares::default();
        spares.give(Workspace::new(&model, MAX_SPARE_ROWS + 1, false).unwrap());
        spares.give(Workspace::new(&model, 32, false).unwrap());
        assert_eq!(spares.0.lock().unwrap().len(), 1);
        assert_eq!(spares.take(&model, 32).unwrap().rows, 32);
        assert!(spares.0.lock().unwrap().is_empty());
    }
}
