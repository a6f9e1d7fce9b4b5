//! Operands packed ahead of their GEMMs, and the aligned buffers packing
//! writes into. A training step keeps two kinds (train.rs): the batch's
//! inputs, packed by the thread that gathers them (`PackedA`), and a large
//! first kernel, written in panel layout by the optimizer as it updates it
//! (`PackedB`). `gemm` reads either only for the very operand it was packed
//! from, while its owner vouches that it is fresh.

use super::gemm::MAX_WIDTH;
use super::isa::Isa;
use super::pack::pack_panels;
use ndarray::ArrayView2;

/// An A operand packed ahead of its GEMM: a training batch's inputs, packed
/// for both first-layer products (x·W and xᵀ·dz) by the thread that
/// gathers the batch while the other computes (train.rs), so the GEMMs
/// start at once. `gemm` uses one only for the view it was packed from
/// (address, shape and strides), and only while it is `fresh`.
pub struct PackedA {
    panels: AlignedBuf,
    mr: usize,
    source: usize,
    dim: (usize, usize),
    strides: [isize; 2],
    fresh: bool,
}

impl PackedA {
    /// Room for packing any m×k view with m·k ≤ `len` (rows padded to a
    /// whole tile), so that packing allocates nothing.
    pub fn with_capacity(len: usize, m_max: usize) -> crate::error::Result<PackedA> {
        let room = len.checked_add(MAX_WIDTH.saturating_mul(len / m_max.max(1))).ok_or_else(|| {
            crate::error::Error::Value("GEMM packing buffers overflow usize; use smaller sizes.".into())
        })?;
        let panels = AlignedBuf::with_len(room)?;
        Ok(PackedA { panels, mr: 0, source: 0, dim: (0, 0), strides: [0, 0], fresh: false })
    }

    /// Packs `a` as `gemm` on `isa` would pack the A operand of its
    /// product, and marks the panels fresh. In bands other threads may
    /// take: the thread that gathers a batch packs it beside the upper
    /// layers, and when it runs late (the VM's second vCPU is often slowed)
    /// the thread done with those layers takes over bands.
    pub fn pack(&mut self, isa: Isa, a: ArrayView2<f32>) {
        let (m, k) = a.dim();
        let mr = isa.kernel_for(m).mr();
        pack_panels(a.t(), mr, self.panels.slice(m.div_ceil(mr) * mr * k), true);
        let strides = [a.strides()[0], a.strides()[1]];
        (self.mr, self.source, self.dim, self.strides, self.fresh) = (mr, a.as_ptr() as usize, (m, k), strides, true);
    }

    /// Marks the panels stale: the view they were packed from may change.
    pub fn set_stale(&mut self) {
        self.fresh = false;
    }

    /// The panels, when they are fresh panels of `a` in tiles of `mr` rows.
    pub(super) fn of(&mut self, a: &ArrayView2<f32>, mr: usize) -> Option<&[f32]> {
        let same_view = self.source == a.as_ptr() as usize && self.dim == a.dim() && self.strides == a.strides();
        if !(self.fresh && same_view && self.mr == mr) {
            return None;
        }
        let (m, k) = self.dim;
        Some(self.panels.slice(m.div_ceil(mr) * mr * k))
    }
}

/// A k×n B operand kept in panel layout across GEMMs: the first layer's
/// kernel, which the optimizer writes in this layout as it updates it
/// (`PanelWriter`), so that the next step's forward GEMM reads it without
/// packing it (for hidden 4096, 12.8 MB read and written per step). `gemm`
/// uses it only for the matrix it was made from, and only while the caller
/// vouches that it is `fresh`.
pub struct PackedB {
    panels: AlignedBuf,
    k: usize,
    n: usize,
    nr: usize,
    /// The address of the matrix's first element and its strides: which B
    /// this is (a square W and its transpose share address and shape).
    source: usize,
    strides: [isize; 2],
    fresh: bool,
}

impl PackedB {
    /// Panels for `b` as `isa`'s kernels read it (zeros in the padding
    /// columns); the contents are only `fresh` once written in full.
    pub fn for_matrix(isa: Isa, b: ArrayView2<f32>) -> crate::error::Result<PackedB> {
        let (k, n, nr) = (b.nrows(), b.ncols(), isa.nr());
        let len = crate::alloc::checked_len(&[n.div_ceil(nr), nr, k], "packed weights")?;
        let (source, strides) = (b.as_ptr() as usize, [b.strides()[0], b.strides()[1]]);
        Ok(PackedB { panels: AlignedBuf::with_len(len)?, k, n, nr, source, strides, fresh: false })
    }

    /// The panels to write, and their width.
    pub fn panels_mut(&mut self) -> (&mut [f32], usize) {
        let len = self.n.div_ceil(self.nr) * self.nr * self.k;
        (self.panels.slice(len), self.nr)
    }

    /// Whether the panels hold the matrix as it is now; the caller tracks this.
    pub fn set_fresh(&mut self, fresh: bool) {
        self.fresh = fresh;
    }

    /// The panels, when they stand for `b` and are fresh.
    pub(super) fn of(&mut self, b: &ArrayView2<f32>, nr: usize) -> Option<&[f32]> {
        let same = self.source == b.as_ptr() as usize
            && b.dim() == (self.k, self.n)
            && b.strides() == self.strides
            && nr == self.nr;
        if !(same && self.fresh) {
            return None;
        }
        let len = self.n.div_ceil(self.nr) * self.nr * self.k;
        Some(self.panels.slice(len))
    }
}

/// A buffer whose usable part starts on a 64-byte boundary, so that packed
/// rows never straddle cache lines needlessly: float panels, and the
/// bfloat16 kernels' words, whose AMX tile rows are 64 bytes each (a
/// misaligned A made the seed model's forward product 40% slower on the
/// Intel Xeon VM: 230–240 µs against 160–165 on 1 thread).
#[derive(Default)]
pub(crate) struct AlignedBuf<T = f32> {
    raw: Vec<T>,
}

impl<T: Copy + Default> AlignedBuf<T> {
    /// Elements that may precede the aligned part.
    const ALIGN: usize = 64 / std::mem::size_of::<T>();

    pub(crate) fn with_len(len: usize) -> crate::error::Result<Self> {
        let total = len.saturating_add(Self::ALIGN);
        Ok(AlignedBuf { raw: crate::alloc::zeroed(total, "GEMM packing buffers")? })
    }

    fn offset(&self) -> usize {
        self.raw.as_ptr().align_offset(64).min(Self::ALIGN)
    }

    /// The aligned region of `len` elements; grows (allocates) only when a caller
    /// did not size the workspace for this GEMM.
    pub(crate) fn slice(&mut self, len: usize) -> &mut [T] {
        if self.raw.len() < len + Self::ALIGN {
            self.raw = vec![T::default(); len + Self::ALIGN];
        }
        let offset = self.offset();
        &mut self.raw[offset..offset + len]
    }

    /// The aligned region of `len` elements, which `slice` made room for.
    pub(crate) fn get(&self, len: usize) -> &[T] {
        let offset = self.offset();
        &self.raw[offset..offset + len]
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedBuf;

    /// Floats and bfloat16 words alike start on a cache line, made to
    /// measure or grown by `slice`, and `get` sees what `slice` wrote.
    #[test]
    fn buffers_start_on_a_cache_line() {
        fn check<T: Copy + Default + PartialEq + std::fmt::Debug>(one: T) {
            for len in [1, 17, 1000, 51_201] {
                let mut made = AlignedBuf::<T>::with_len(len).unwrap();
                let mut grown = AlignedBuf::<T>::default();
                for buf in [&mut made, &mut grown] {
                    let s = buf.slice(len);
                    assert_eq!((s.as_ptr() as usize % 64, s.len()), (0, len));
                    s[len - 1] = one;
                    assert_eq!(buf.get(len)[len - 1], one);
                }
            }
        }
        check(1f32);
        check(1u32);
    }
}
