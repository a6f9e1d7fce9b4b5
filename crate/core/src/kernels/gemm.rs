//! The packed GEMM driver: C = A·B, then an epilogue on each finished tile.
//!
//! Loop levels, BLIS-style (constants in `params.rs`):
//!   pack   A into MR-row panels and B into NR-column panels, whole K at once
//!   tasks  MC×NC blocks of C, run in parallel on the current rayon pool
//!   pc     KC slices of the reduction, accumulated into C in order
//!   jr     NR-wide slivers of B (reused from L1 across the ir loop)
//!   ir     MR-tall slivers of A; one microkernel call each
//!
//! Parallelism only ever splits C into disjoint tiles; every element's
//! reduction runs in the same order whatever the thread count, so results are
//! bit-identical on 1 or N threads.

use super::activation::Activation;
use super::bf16::{self, gemm_bf16, Bf16Buffers, Bf16Kernel, KeptBf16, PackedPairs};
use super::isa::Isa;
use super::microkernel::{Kernel, Store, MAX_TILE};
use super::narrow::{self, narrow_product};
use super::pack::{pack_panels, transpose};
use super::packed::{AlignedBuf, PackedA, PackedB};
use super::params::{blocking, Blocking, PARALLEL_MIN_FLOPS};
use super::rows;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// What happens to each tile of C once its reduction is complete, while it is
/// still in L1.
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    None,
    /// c ← f(c + bias) for an elementwise activation f (bias optional).
    BiasActivation {
        bias: Option<&'a [f32]>,
        activation: Activation,
    },
    /// c ← c ⊙ f'(z), f' taken from the layer output y = f(z): backprop
    /// through an elementwise activation (the relu mask, for relu).
    ActivationGrad {
        output: ArrayView2<'a, f32>,
        activation: Activation,
    },
}

/// Packing buffers, owned by the caller's workspace so that a training step
/// allocates nothing once they are large enough.
#[derive(Default)]
pub struct GemmBuffers {
    a: AlignedBuf,
    b: AlignedBuf,
    /// Cᵀ of a narrow GEMM computed transposed, or Bᵀ of one computed by
    /// dot products (see `gemm`).
    t: AlignedBuf,
    /// Under mixed_bfloat16, the kernel that computes the wide products.
    mixed: Option<Bf16Kernel>,
    bf16: Bf16Buffers,
    /// A B operand kept packed across calls (see `PackedB`).
    kept: Option<PackedB>,
    /// The same under mixed_bfloat16 (see `KeptBf16`).
    kept_bf16: Option<KeptBf16>,
    /// A operands packed ahead of their GEMMs (see `PackedA`).
    kept_a: Vec<PackedA>,
}

/// Shallower products stay float32 under mixed_bfloat16 (dY·W2ᵀ: k = 10):
/// packing would cost more than the arithmetic saves.
pub(crate) const MIN_BF16_DEPTH: usize = 64;

/// Widest tile any kernel uses; packed sizes are bounded with it.
pub(crate) const MAX_WIDTH: usize = 32;

impl GemmBuffers {
    /// Wide products in bfloat16 with `kernel` (mixed_bfloat16), or all in
    /// float32 (`None`, the default).
    pub fn set_mixed(&mut self, kernel: Option<Bf16Kernel>) {
        self.mixed = kernel;
    }

    /// Floats of packing space that any m×k · k×n GEMM needs, for sizing a
    /// workspace up front: (A side, B side, transposed-C scratch).
    pub fn lens_for(m: usize, n: usize, k: usize) -> Option<(usize, usize, usize)> {
        let pad = |x: usize| x.checked_add(MAX_WIDTH);
        let a = pad(m.max(n))?.checked_mul(k)?;
        let b = pad(n.max(m))?.checked_mul(k)?;
        Some((a, b, m.checked_mul(n)?.max(n.checked_mul(k)?)))
    }

    /// Buffers able to hold packed operands of these sizes (in floats).
    pub fn with_capacity(lens: (usize, usize, usize)) -> crate::error::Result<Self> {
        Ok(GemmBuffers {
            a: AlignedBuf::with_len(lens.0)?,
            b: AlignedBuf::with_len(lens.1)?,
            t: AlignedBuf::with_len(lens.2)?,
            mixed: None,
            bf16: Bf16Buffers::default(),
            kept: None,
            kept_bf16: None,
            kept_a: Vec::new(),
        })
    }

    /// Keeps these A operands here (see `PackedA`).
    pub fn keep_a(&mut self, packed: Vec<PackedA>) {
        self.kept_a = packed;
    }

    /// The kept A operands, lent out to be packed elsewhere.
    pub fn take_kept_a(&mut self) -> Vec<PackedA> {
        std::mem::take(&mut self.kept_a)
    }

    /// Marks kept A operand `i` (if any) stale, and the one kept for the
    /// bfloat16 kernels: it holds only xᵀ, which either change outdates.
    pub fn stale_a(&mut self, i: usize) {
        if let Some(p) = self.kept_a.get_mut(i) {
            p.set_stale();
        }
        self.bf16.stale_a();
    }

    /// Keeps this A operand, packed for the bfloat16 kernels, here from
    /// now on (see `PackedPairs`).
    pub fn keep_pairs(&mut self, packed: Option<PackedPairs>) {
        self.bf16.keep_a(packed);
    }

    /// Takes the A operand kept for the bfloat16 kernels, to be packed elsewhere.
    pub fn take_kept_pairs(&mut self) -> Option<PackedPairs> {
        self.bf16.take_kept_a()
    }

    /// Keeps `b`'s panels here from now on (see `PackedB`).
    pub fn keep(&mut self, packed: PackedB) {
        self.kept = Some(packed);
    }

    /// The kept panels, lent out while the optimizer rewrites them.
    pub fn take_kept(&mut self) -> Option<PackedB> {
        self.kept.take()
    }

    /// The kept panels, to mark them fresh or stale.
    pub fn kept_mut(&mut self) -> Option<&mut PackedB> {
        self.kept.as_mut()
    }

    /// Keeps `b` in bfloat16 from now on (see `KeptBf16`).
    pub fn keep_bf16(&mut self, packed: KeptBf16) {
        self.kept_bf16 = Some(packed);
    }

    /// The kept bfloat16 words, to mark them fresh or stale.
    pub fn kept_bf16_mut(&mut self) -> Option<&mut KeptBf16> {
        self.kept_bf16.as_mut()
    }

    /// The kept bfloat16 words, lent out while the optimizer rewrites them.
    pub fn take_kept_bf16(&mut self) -> Option<KeptBf16> {
        self.kept_bf16.take()
    }
}

/// C = A·B followed by `epilogue`; A is m×k, B is k×n, C is m×n with
/// contiguous rows. Any strides are accepted for A and B (transposed views
/// included). Runs on the current rayon pool.
pub fn gemm(
    isa: Isa,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    epilogue: Epilogue,
    bufs: &mut GemmBuffers,
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    assert_eq!(b.dim().0, k, "gemm: inner dimensions differ");
    assert_eq!(c.dim(), (m, n), "gemm: C has the wrong shape");
    if m == 0 || n == 0 {
        return;
    }
    let ldc = row_stride(&c);
    match route(isa, &a, &b, c.is_standard_layout(), bufs) {
        Route::Rows => {
            // One or two rows (a one-row predict): stream B once (rows.rs).
            rows::rows_product(isa, a, b, c.view_mut());
        }
        Route::Narrow => {
            // Narrow C with A's rows in place: dot products along K (narrow.rs).
            let bt = bufs.t.slice(n * k);
            match c.as_slice_mut() {
                Some(flat) => narrow_product(isa, a, b, flat, bt),
                None => {
                    let out = bufs.b.slice(m * n);
                    narrow_product(isa, a, b, out, bt);
                    c.assign(&ArrayView2::from_shape((m, n), &*out).expect("m×n"));
                }
            }
        }
        Route::Mixed(kernel) => {
            // mixed_bfloat16: bfloat16 products, float32 sums (bf16.rs); the
            // narrow products stay float32, as they cost little.
            let kept_b = bufs.kept_bf16.as_ref();
            return gemm_bf16(kernel, a, b, c.view_mut(), isa, &epilogue, &mut bufs.bf16, kept_b);
        }
        Route::Transposed => {
            // Narrow C (e.g. the 10 logits): a kernel wastes most of its NR
            // lanes. Compute Cᵀ = Bᵀ·Aᵀ instead, where the wide side fills
            // the lanes, and transpose the small result into C.
            let GemmBuffers { a: pa, b: pb, t, .. } = bufs;
            let ct = t.slice(m * n);
            let mut ct_view = ArrayViewMut2::from_shape((n, m), &mut *ct).expect("n×m");
            multiply(isa, b.t(), BOperand::View(a.t()), Out::matrix(&mut ct_view), pa, pb, None, &Epilogue::None);
            transpose_out(ct, c.view_mut());
        }
        Route::Packed => return multiply_packed(isa, a, BOperand::View(b), Out::matrix(&mut c), bufs, &epilogue),
    }
    // SAFETY: C is exclusively borrowed here and is m×n at row stride ldc.
    unsafe { apply_epilogue(isa, &epilogue, c.as_mut_ptr(), ldc, 0, 0, m, n) };
}

/// The ways `gemm` computes a product, by shape.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    Rows,
    Narrow,
    Mixed(Bf16Kernel),
    Transposed,
    Packed,
}

/// Which way `gemm` computes A·B into a C (standard layout or not).
fn route(isa: Isa, a: &ArrayView2<f32>, b: &ArrayView2<f32>, c_standard: bool, bufs: &GemmBuffers) -> Route {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    if rows::suits(a, b) && n >= isa.nr() {
        Route::Rows
    } else if narrow::suits(a, n, isa.nr()) {
        Route::Narrow
    } else if let Some(kernel) = bufs.mixed.filter(|_| n >= bf16::NR && k >= MIN_BF16_DEPTH && c_standard) {
        Route::Mixed(kernel)
    } else if n < isa.nr() && m > n {
        Route::Transposed
    } else {
        Route::Packed
    }
}

/// Whether `gemm_into_panels` takes A·B: when `gemm` would compute it with
/// the packed kernels, so that both give the same bits.
pub fn fits_panels(isa: Isa, a: &ArrayView2<f32>, b: &ArrayView2<f32>, bufs: &GemmBuffers) -> bool {
    a.nrows() > 0 && b.ncols() > 0 && route(isa, a, b, true, bufs) == Route::Packed
}

/// C = A·B followed by `epilogue`, as `gemm` computes it, but with C laid
/// out as `pack_panels` lays out a B operand of width `isa.nr()`: panel q
/// holds C[i, q·NR + j] at q·NR·m + i·NR + j, zeros past column n. A
/// product whose C feeds the next GEMM as its B (the gradient at the first
/// layer's output, train.rs) so skips that GEMM's packing. Only for the
/// shapes `fits_panels` takes.
pub fn gemm_into_panels(
    isa: Isa,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    panels: &mut [f32],
    epilogue: Epilogue,
    bufs: &mut GemmBuffers,
) {
    let (m, n, nr) = (a.nrows(), b.ncols(), isa.nr());
    assert_eq!(b.nrows(), a.ncols(), "gemm: inner dimensions differ");
    assert!(fits_panels(isa, &a, &b, bufs), "gemm_into_panels: a shape the packed kernels do not compute");
    let panels = &mut panels[..n.div_ceil(nr) * nr * m];
    multiply_packed(isa, a, BOperand::View(b), Out::Panels { c: SharedMut(panels.as_mut_ptr()), m }, bufs, &epilogue);
}

/// `gemm_tiles` with B (k×n, k = A's columns) handed over already packed
/// in panels of width `isa.nr()`, as `gemm_into_panels` writes them.
pub fn gemm_tiles_packed_b(
    isa: Isa,
    a: ArrayView2<f32>,
    b_panels: &[f32],
    n: usize,
    sink: &TileSink,
    bufs: &mut GemmBuffers,
) {
    let (m, k, nr) = (a.nrows(), a.ncols(), isa.nr());
    if m == 0 || n == 0 {
        return;
    }
    let b = BOperand::Packed { data: &b_panels[..n.div_ceil(nr) * nr * k], k, n };
    multiply_packed(isa, a, b, Out::Tiles(sink), bufs, &Epilogue::None);
}

/// `multiply` with whatever operands `bufs` keeps packed.
fn multiply_packed<'a>(
    isa: Isa,
    a: ArrayView2<f32>,
    b: BOperand<'a>,
    out: Out,
    bufs: &'a mut GemmBuffers,
    ep: &Epilogue,
) {
    let GemmBuffers { a: pa, b: pb, kept, kept_a, .. } = bufs;
    // A B kept packed (the first kernel's panels) is read as it is.
    let b = match b {
        BOperand::View(view) => match kept.as_mut().and_then(|p| p.of(&view, isa.nr())) {
            Some(data) => BOperand::Packed { data, k: view.nrows(), n: view.ncols() },
            None => b,
        },
        BOperand::Packed { .. } => b,
    };
    let mr = isa.kernel_for(a.nrows()).mr();
    let kept_a = kept_a.iter_mut().find_map(|p| p.of(&a, mr));
    multiply(isa, a, b, out, pa, pb, kept_a, ep);
}

/// Takes each finished tile of `gemm_tiles`: its offset in C's panel
/// layout and its rows × NR values (row-major, NR apart).
pub type TileSink<'a> = dyn Fn(usize, &[f32]) + Sync + 'a;

/// C = A·B (A m×k, B k×n, any strides), never stored: each finished tile
/// goes to `sink` instead, as `pack_panels` would lay C out as a B operand
/// of width NR, cut into tiles of MR rows (`TileLayout::of(isa, m, n)`):
/// the tile of rows i.. (a multiple of MR) and panel q starts at
/// q·NR·m + i·NR and holds min(MR, m − i) rows of NR values, zeros past
/// column n. Every
/// tile is handed over exactly once, by one thread, and tiles never
/// overlap, so the sink may update memory at those offsets in place: the
/// optimizer does, as the weight gradient of the first layer comes out of
/// its GEMM (train.rs). The whole reduction is one slice, so each tile is
/// final when it is handed over.
pub fn gemm_tiles(isa: Isa, a: ArrayView2<f32>, b: ArrayView2<f32>, sink: &TileSink, bufs: &mut GemmBuffers) {
    assert_eq!(b.dim().0, a.dim().1, "gemm: inner dimensions differ");
    if a.nrows() == 0 || b.ncols() == 0 {
        return;
    }
    multiply_packed(isa, a, BOperand::View(b), Out::Tiles(sink), bufs, &Epilogue::None);
}

/// Where `gemm_tiles` on `isa` hands over each tile of an m×n C: panels of
/// `nr` columns (`pack_panels`'s layout of a B operand), cut into tiles of
/// `mr` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    pub m: usize,
    pub n: usize,
    pub mr: usize,
    pub nr: usize,
}

impl TileLayout {
    pub fn of(isa: Isa, m: usize, n: usize) -> TileLayout {
        TileLayout { m, n, mr: isa.kernel_for(m).mr(), nr: isa.nr() }
    }

    /// Floats the layout spans, padding columns included.
    pub fn len(&self) -> usize {
        self.n.div_ceil(self.nr) * self.nr * self.m
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every tile, in the order its memory lies: (offset, first row,
    /// first column, rows).
    pub fn tiles(self) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        let TileLayout { m, n, mr, nr } = self;
        (0..n.div_ceil(nr))
            .flat_map(move |q| (0..m).step_by(mr.max(1)).map(move |i| (q * nr * m + i * nr, i, q * nr, mr.min(m - i))))
    }
}

/// Where the finished tiles of C go.
#[derive(Clone, Copy)]
enum Out<'a> {
    /// Into C, rows `ldc` apart.
    Matrix { c: SharedMut, ldc: usize },
    /// Into C of m rows in panel layout (see `gemm_into_panels`).
    Panels { c: SharedMut, m: usize },
    /// To a sink, in panel layout (see `gemm_tiles`).
    Tiles(&'a TileSink<'a>),
}

impl Out<'_> {
    fn matrix(c: &mut ArrayViewMut2<f32>) -> Out<'static> {
        let ldc = row_stride(c);
        Out::Matrix { c: SharedMut(c.as_mut_ptr()), ldc }
    }
}

/// The B operand of `multiply`: a matrix to pack (or read in place), or
/// its k×n panels packed already.
#[derive(Clone, Copy)]
enum BOperand<'a> {
    View(ArrayView2<'a, f32>),
    Packed { data: &'a [f32], k: usize, n: usize },
}

impl BOperand<'_> {
    fn dim(&self) -> (usize, usize) {
        match self {
            BOperand::View(b) => b.dim(),
            BOperand::Packed { k, n, .. } => (*k, *n),
        }
    }
}

/// The distance between rows of C, after checking that each row's elements
/// are contiguous and rows go forward: row i of C is then the `n` floats
/// from `c.as_mut_ptr() + i·ldc`.
fn row_stride(c: &ArrayViewMut2<f32>) -> usize {
    let (m, n) = c.dim();
    assert!(n <= 1 || c.strides()[1] == 1, "gemm: C rows must be contiguous");
    assert!(c.strides()[0] >= 0, "gemm: C rows must go forward");
    if m > 1 {
        c.strides()[0] as usize
    } else {
        n
    }
}

/// C (m×n) = the transpose of `ct` (n×m, row-major): by 8×8 register blocks
/// when C is contiguous, the leftovers one by one.
fn transpose_out(ct: &[f32], mut c: ArrayViewMut2<f32>) {
    let (m, n) = c.dim();
    let mut done_cols = 0;
    if let Some(flat) = c.as_slice_mut() {
        for j0 in (0..n / 8 * 8).step_by(8) {
            let rows: [&[f32]; 8] = std::array::from_fn(|j| &ct[(j0 + j) * m..(j0 + j + 1) * m]);
            let done = transpose::columns_to_rows(&rows, &mut flat[j0..], n, m);
            for (i, row) in flat.chunks_exact_mut(n).enumerate().skip(done) {
                for (j, v) in row[j0..j0 + 8].iter_mut().enumerate() {
                    *v = rows[j][i];
                }
            }
        }
        done_cols = n / 8 * 8;
    }
    for (i, mut row) in c.rows_mut().into_iter().enumerate() {
        for j in done_cols..n {
            row[j] = ct[j * m + i];
        }
    }
}

/// The packed, tiled, parallel product into `out`, packing A unless
/// `kept_a` holds it packed already, and B unless it comes packed.
#[allow(clippy::too_many_arguments)]
fn multiply(
    isa: Isa,
    a: ArrayView2<f32>,
    b: BOperand,
    out: Out,
    pa: &mut AlignedBuf,
    pb: &mut AlignedBuf,
    kept_a: Option<&[f32]>,
    epilogue: &Epilogue,
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    assert!(b.dim().0 == k, "gemm: shapes differ");
    let kernel = isa.kernel_for(m);
    let (mr, nr) = (kernel.mr(), kernel.nr());
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    let parallel = flops >= PARALLEL_MIN_FLOPS && crate::pool::threads_here() > 1;

    let a_pack = pa.slice(m.div_ceil(mr) * mr * k);
    let pack_a = |dst: &mut [f32], parallel: bool| {
        if kept_a.is_none() {
            pack_panels(a.t(), mr, dst, parallel);
        }
    };
    // With one panel of A, each sliver of B is used once: packing B would only
    // copy it. A B with contiguous rows and whole slivers is read in place.
    let b_side = match b {
        BOperand::Packed { data, .. } => {
            assert!(data.len() >= n.div_ceil(nr) * nr * k, "gemm: packed B too short");
            pack_a(a_pack, parallel);
            BSlivers { data, rs: nr, k, nr, packed: true }
        }
        BOperand::View(b) => match b.to_slice().filter(|_| m <= mr && n.is_multiple_of(nr)) {
            Some(data) => {
                pack_a(a_pack, false);
                BSlivers { data, rs: n, k, nr, packed: false }
            }
            None => {
                let b_pack = pb.slice(n.div_ceil(nr) * nr * k);
                if parallel && kept_a.is_none() {
                    rayon::join(|| pack_a(a_pack, true), || pack_panels(b, nr, b_pack, true));
                } else {
                    pack_a(a_pack, parallel);
                    pack_panels(b, nr, b_pack, parallel);
                }
                BSlivers { data: b_pack, rs: nr, k, nr, packed: true }
            }
        },
    };
    let a_pack = kept_a.unwrap_or(a_pack);

    let block = blocking(isa);
    let plan = plan_tasks(m, n, if parallel { crate::pool::threads_here() } else { 1 }, mr, nr, block);
    // A sink takes final tiles: one slice, however deep.
    let kc = if let Out::Tiles(_) = out { k.max(1) } else { slice_depth(k, block) };
    let run = |t: usize| {
        let (rows, cols) = plan.block(t);
        let task = Task { rows, cols, m, k, kc };
        // SAFETY: an Out::Matrix is m×n at row stride ldc, an Out::Panels
        // holds ⌈n/NR⌉·NR·m floats (their callers checked), each borrowed
        // until every task is done; TaskPlan::block
        // cuts rows and columns at increasing points clamped to m and n, so
        // tasks own disjoint blocks.
        unsafe { compute_block(isa, &kernel, &task, a_pack, &b_side, out, epilogue) };
    };
    if parallel {
        (0..plan.tasks()).into_par_iter().for_each(run);
    } else {
        (0..plan.tasks()).for_each(run);
    }
}

/// K split into equal slices no deeper than KC, so no slice is a sliver.
fn slice_depth(k: usize, block: Blocking) -> usize {
    k.div_ceil(k.div_ceil(block.kc).max(1)).max(1)
}

/// How C is cut into tasks: whole MR panels of rows and NR panels of
/// columns, dealt out evenly (784 rows in 98 panels of 8: blocks of 17, 17,
/// 16, 16, 16, 16 panels, not 18 × 5 and 8), into at most MC×NC blocks and,
/// with several threads, about four tasks per thread so the last one to
/// finish leaves little idle time behind it.
///
/// One thread walks the tasks row-block by row-block, so each block of A
/// is used for all of its columns while it is in cache. Several threads,
/// which rayon deals contiguous runs of tasks, get them column-block by
/// column-block instead: each thread then owns the same columns of C in
/// every product. In a training step that keeps the first kernel's columns
/// on one core: the thread that updates them in the gradient GEMM
/// (tiled_kernel.rs) reads them in the next forward GEMM, which splits
/// only columns. (profile_fit, 2 threads, while the VM slowed cross-core
/// traffic: the backward GEMM 253–269 µs per step instead of 307–327.)
struct TaskPlan {
    m: usize,
    n: usize,
    mr: usize,
    nr: usize,
    m_tasks: usize,
    n_tasks: usize,
    column_major: bool,
}

fn plan_tasks(m: usize, n: usize, threads: usize, mr: usize, nr: usize, block: Blocking) -> TaskPlan {
    let m_tasks = m.div_ceil((block.mc / mr * mr).max(mr));
    let wanted = if threads > 1 { (4 * threads).div_ceil(m_tasks) } else { 1 };
    let n_tasks = wanted.max(n.div_ceil((block.nc / nr * nr).max(nr))).min(n.div_ceil(nr)).max(1);
    TaskPlan { m, n, mr, nr, m_tasks, n_tasks, column_major: threads > 1 }
}

impl TaskPlan {
    fn tasks(&self) -> usize {
        self.m_tasks * self.n_tasks
    }

    /// Rows and columns of task `t`.
    fn block(&self, t: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let split = |i: usize, parts: usize, len: usize, width: usize| {
            let panels = len.div_ceil(width);
            let at = |i: usize| (i * panels / parts * width).min(len);
            at(i)..at(i + 1)
        };
        let (i, j) =
            if self.column_major { (t % self.m_tasks, t / self.m_tasks) } else { (t / self.n_tasks, t % self.n_tasks) };
        (split(i, self.m_tasks, self.m, self.mr), split(j, self.n_tasks, self.n, self.nr))
    }
}

/// Where each sliver of B lies: packed panels, or B's own rows.
struct BSlivers<'a> {
    data: &'a [f32],
    /// Distance between consecutive k rows of a sliver.
    rs: usize,
    k: usize,
    nr: usize,
    packed: bool,
}

impl BSlivers<'_> {
    /// The sliver of columns jr.. from reduction row pc on.
    fn at(&self, jr: usize, pc: usize) -> &[f32] {
        if self.packed {
            &self.data[(jr / self.nr) * self.nr * self.k + pc * self.nr..]
        } else {
            &self.data[pc * self.rs + jr..]
        }
    }
}

struct Task {
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    m: usize,
    k: usize,
    kc: usize,
}

/// C's base pointer, handed to the parallel tasks.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: a plain address; dereferencing it needs `unsafe`, and
// `compute_block` does so only for the block its task owns.
unsafe impl Send for SharedMut {}
// SAFETY: as for Send: sharing the address gives no access by itself.
unsafe impl Sync for SharedMut {}

/// # Safety
/// For an `Out::Matrix`, `c` points to C with row stride `ldc`; for an
/// `Out::Panels`, to C's ⌈n/NR⌉·NR·m floats in panel layout. `task`'s rows
/// × columns lie inside C, and no other thread touches them meanwhile.
unsafe fn compute_block(
    isa: Isa,
    kernel: &Kernel,
    task: &Task,
    a_pack: &[f32],
    b: &BSlivers,
    out: Out,
    epilogue: &Epilogue,
) {
    let (k, mr, nr) = (task.k, kernel.mr(), kernel.nr());
    let mut edge = [0f32; MAX_TILE];
    // C's tile at (ir, jr), its row stride, and how many rows the kernel
    // may write there: a panel's tile may not spill into the next panel.
    let (c, ldc, panel_rows) = match out {
        Out::Matrix { c, ldc } => (c, ldc, None),
        Out::Panels { c, m } => (c, nr, Some(m)),
        Out::Tiles(sink) => {
            // Panel by panel, tile rows in order: the sink walks its
            // memory forward.
            for jr in task.cols.clone().step_by(nr) {
                for ir in task.rows.clone().step_by(mr) {
                    let a_sliver = &a_pack[(ir / mr) * mr * k..];
                    kernel.run_into(k, a_sliver, b.at(jr, 0), b.rs, &mut edge, nr, false);
                    let rows = mr.min(task.rows.end - ir);
                    sink((jr / nr) * nr * task.m + ir * nr, &edge[..rows * nr]);
                }
            }
            return;
        }
    };
    let tile_at = |ir: usize, jr: usize| match panel_rows {
        // SAFETY: (ir, jr) lies in the task's block, inside C.
        None => unsafe { c.0.add(ir * ldc + jr) },
        // SAFETY: as above, in panel layout: panel jr / nr, row ir.
        Some(m) => unsafe { c.0.add((jr / nr) * nr * m + ir * nr) },
    };
    // A relu's gradient fold, and a bias with or without relu, are fused
    // into the kernels' stores (`Store`) on the tiles that lie whole inside
    // C; the others take the epilogue.
    let relu_mask = match *epilogue {
        Epilogue::ActivationGrad { output, activation: Activation::Relu } => {
            Some((output.as_ptr(), output_rows(&output, task.rows.end, task.cols.end)))
        }
        _ => None,
    };
    let bias_relu = match *epilogue {
        Epilogue::BiasActivation { bias, activation: activation @ (Activation::Relu | Activation::Linear) } => {
            Some((bias, activation == Activation::Relu))
        }
        _ => None,
    };
    for pc in (0..k.max(1)).step_by(task.kc) {
        let kc = task.kc.min(k - pc);
        let first = pc == 0;
        let last = pc + kc >= k;
        for jr in task.cols.clone().step_by(nr) {
            let b_sliver = b.at(jr, pc);
            let cols = nr.min(task.cols.end - jr);
            // A panel holds NR columns whatever n is: its tiles are whole
            // across, and the columns past n are zeroed at the end.
            let stored = if panel_rows.is_some() { nr } else { cols };
            for ir in task.rows.clone().step_by(mr) {
                let a_sliver = &a_pack[(ir / mr) * mr * k + pc * mr..];
                let rows = mr.min(task.rows.end - ir);
                let tile = tile_at(ir, jr);
                let whole = last && rows == mr && cols == nr;
                let masked = relu_mask.filter(|_| whole);
                let biased = bias_relu.filter(|_| whole);
                if rows == mr && stored == nr {
                    let store = match (masked, biased) {
                        // The outputs' MR×NR block at (ir, jr): inside them (output_rows checked).
                        (Some((y, ldy)), _) => Store::relu_masked(!first, y.wrapping_add(ir * ldy + jr), ldy),
                        (None, Some((bias, relu))) => {
                            let at = bias.map_or(std::ptr::null(), |b| b[jr..jr + nr].as_ptr());
                            Store::bias_relu(!first, at, relu)
                        }
                        (None, None) => Store::plain(!first),
                    };
                    // SAFETY: the whole MR×NR tile lies in the task's block,
                    // a mask's block in the outputs, and NR biases in their slice.
                    unsafe { kernel.run(kc, a_sliver, b_sliver, b.rs, tile, ldc, store) };
                } else {
                    // Edge tile: compute the full MR×NR on the zero-padded panels
                    // into a local buffer, then add the valid part.
                    kernel.run_into(kc, a_sliver, b_sliver, b.rs, &mut edge, nr, false);
                    for i in 0..rows {
                        // SAFETY: rows × stored from (ir, jr) lie in the task's block.
                        let dst = unsafe { std::slice::from_raw_parts_mut(tile.add(i * ldc), stored) };
                        for (d, &v) in dst.iter_mut().zip(&edge[i * nr..]) {
                            *d = if first { v } else { *d + v };
                        }
                    }
                }
                if last && masked.is_none() && biased.is_none() {
                    // SAFETY: as for the edge rows just above.
                    unsafe { apply_epilogue(isa, epilogue, tile, ldc, ir, jr, rows, cols) };
                }
                if last && stored > cols {
                    for i in 0..rows {
                        // SAFETY: as above; zeros past column n, as packing writes.
                        unsafe { std::slice::from_raw_parts_mut(tile.add(i * ldc + cols), stored - cols).fill(0.0) };
                    }
                }
            }
        }
    }
}

/// The row stride of the layer outputs an `Epilogue::ActivationGrad` reads,
/// after checking that they reach row `rows_end` and column `cols_end` and
/// that each row's elements are contiguous.
fn output_rows(output: &ArrayView2<f32>, rows_end: usize, cols_end: usize) -> usize {
    assert!(rows_end <= output.nrows() && cols_end <= output.ncols(), "epilogue: outputs too small");
    let (rs, cs) = (output.strides()[0], output.strides()[1]);
    assert!((cs == 1 || output.ncols() <= 1) && rs >= 0, "layer outputs have contiguous rows");
    rs as usize
}

/// # Safety
/// `tile` addresses `rows`×`cols` floats at row stride `ldc`, which no other
/// thread touches meanwhile; it is C's block from row i0 and column j0.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn apply_epilogue(
    isa: Isa,
    epilogue: &Epilogue,
    tile: *mut f32,
    ldc: usize,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
) {
    use super::activation::{bias_activation_block, scale_by_derivative_block};
    match *epilogue {
        Epilogue::None => {}
        Epilogue::BiasActivation { bias, activation } => {
            let bias = bias.map_or(&[][..], |b| &b[j0..j0 + cols]);
            // SAFETY: the tile is the caller's (see # Safety).
            unsafe { bias_activation_block(isa, activation, tile, ldc, rows, cols, bias) }
        }
        Epilogue::ActivationGrad { output, activation } => {
            let ldy = output_rows(&output, i0 + rows, j0 + cols);
            // SAFETY: the tile is the caller's; the outputs' block (i0, j0),
            // rows × cols, lies in `output` (output_rows checked) with
            // contiguous rows at stride ldy.
            unsafe {
                let y = output.as_ptr().add(i0 * ldy + j0);
                scale_by_derivative_block(isa, activation, tile, ldc, y, ldy, rows, cols)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn matrix(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| (((i * 131 + j * 71 + seed * 17) % 199) as f32 - 99.0) / 50.0)
    }

    /// Naive float64 reference.
    fn reference(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum()
        })
    }

    fn assert_close(got: &Array2<f32>, want: &Array2<f64>, k: usize, what: &str) {
        for ((i, j), &w) in want.indexed_iter() {
            let g = got[[i, j]] as f64;
            let tol = 2e-6 * (k as f64 + 1.0) * (1.0 + w.abs());
            assert!((g - w).abs() <= tol, "{what} at ({i},{j}): {g} vs {w}");
        }
    }

    // 64: a multiple of every NR, where a single panel of A reads B in place.
    const SIZES: [usize; 7] = [1, 7, 17, 64, 129, 257, 300];

    #[test]
    fn matches_float64_and_ndarray_dot_at_awkward_sizes_for_every_isa_and_layout() {
        let mut bufs = GemmBuffers::default();
        for isa in Isa::available() {
            for &m in &SIZES {
                for &n in &[1, 7, 17, 64, 129] {
                    for &k in &[1, 17, 257, 300] {
                        let a = matrix(m, k, 1);
                        let b = matrix(k, n, 2);
                        let at = a.t().to_owned(); // k×m, so at.t() is a transposed view of A
                        let bt = b.t().to_owned();
                        let want = reference(a.view(), b.view());
                        let oracle = a.dot(&b);
                        for (name, av, bv) in [
                            ("A·B", a.view(), b.view()),
                            ("Aᵀ-view·B", at.t(), b.view()),
                            ("A·Bᵀ-view", a.view(), bt.t()),
                        ] {
                            let mut c = Array2::from_elem((m, n), f32::NAN);
                            gemm(isa, av, bv, c.view_mut(), Epilogue::None, &mut bufs);
                            assert_close(&c, &want, k, &format!("{isa:?} {name} m={m} n={n} k={k}"));
                            let diff = (&c - &oracle).mapv(f32::abs).fold(0.0f32, |x, &y| x.max(y));
                            assert!(diff <= 1e-4 * k as f32, "{isa:?} {name} differs from ndarray dot by {diff}");
                        }
                    }
                }
            }
        }
    }

    /// A reduction in several KC slices on every ISA, edge tiles included.
    #[test]
    fn deep_reductions_accumulate_their_slices() {
        let mut bufs = GemmBuffers::default();
        let (m, n, k) = (13, 37, 2100);
        let (a, b) = (matrix(m, k, 13), matrix(k, n, 14));
        let want = reference(a.view(), b.view());
        for isa in Isa::available() {
            assert!(k > 2 * blocking(isa).kc, "{isa:?}: three slices or more");
            let mut c = Array2::from_elem((m, n), f32::NAN);
            gemm(isa, a.view(), b.view(), c.view_mut(), Epilogue::None, &mut bufs);
            assert_close(&c, &want, k, &format!("{isa:?} k={k}"));
        }
    }

    #[test]
    fn simd_and_scalar_agree_within_fma_rounding() {
        let isas = Isa::available();
        let mut bufs = GemmBuffers::default();
        for &(m, n, k) in &[(128, 512, 784), (784, 512, 128), (129, 10, 257), (7, 17, 1)] {
            let (a, b) = (matrix(m, k, 3), matrix(k, n, 4));
            let results: Vec<Array2<f32>> = isas
                .iter()
                .map(|&isa| {
                    let mut c = Array2::zeros((m, n));
                    gemm(isa, a.view(), b.view(), c.view_mut(), Epilogue::None, &mut bufs);
                    c
                })
                .collect();
            for r in &results[1..] {
                let scale = results[0].iter().fold(1.0f32, |x, v| x.max(v.abs()));
                let diff = (r - &results[0]).mapv(f32::abs).fold(0.0f32, |x, &y| x.max(y));
                assert!(diff <= 1e-5 * scale, "({m},{n},{k}): simd vs scalar differ by {diff}");
            }
        }
    }

    #[test]
    fn zero_depth_gives_zeros_and_c_stride_is_respected() {
        let mut bufs = GemmBuffers::default();
        let a = Array2::<f32>::zeros((5, 0));
        let b = Array2::<f32>::zeros((0, 3));
        let mut c = Array2::from_elem((5, 3), 7.0f32);
        gemm(Isa::detect(), a.view(), b.view(), c.view_mut(), Epilogue::None, &mut bufs);
        assert!(c.iter().all(|&v| v == 0.0));

        let (a, b) = (matrix(9, 20, 5), matrix(20, 18, 6));
        let mut wide = Array2::from_elem((9, 30), -1.0f32);
        gemm(Isa::detect(), a.view(), b.view(), wide.slice_mut(ndarray::s![.., 4..22]), Epilogue::None, &mut bufs);
        assert_close(&wide.slice(ndarray::s![.., 4..22]).to_owned(), &reference(a.view(), b.view()), 20, "strided C");
        assert!(wide.slice(ndarray::s![.., ..4]).iter().all(|&v| v == -1.0));
        assert!(wide.slice(ndarray::s![.., 22..]).iter().all(|&v| v == -1.0));
    }

    #[test]
    fn epilogues_apply_bias_activation_and_activation_grad() {
        let mut bufs = GemmBuffers::default();
        // (13, 37): tiles with edges; (40, 10): the transposed narrow-C path.
        for (m, n, k) in [(13, 37, 300), (40, 10, 129)] {
            let (a, b) = (matrix(m, k, 7), matrix(k, n, 8));
            let bias = Array1::from_shape_fn(n, |j| j as f32 * 0.1 - 1.5);
            let want = reference(a.view(), b.view());
            for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh, Activation::Linear] {
                let mut c = Array2::zeros((m, n));
                let ep = Epilogue::BiasActivation { bias: Some(bias.as_slice().unwrap()), activation: act };
                gemm(Isa::detect(), a.view(), b.view(), c.view_mut(), ep, &mut bufs);
                let expect =
                    Array2::from_shape_fn((m, n), |(i, j)| act.apply((want[[i, j]] + bias[j] as f64) as f32) as f64);
                assert_close(&c, &expect, k, &format!("bias+{act:?} {m}x{n}"));

                let out = c.clone();
                let mut g = Array2::zeros((m, n));
                let ep = Epilogue::ActivationGrad { output: out.view(), activation: act };
                gemm(Isa::detect(), a.view(), b.view(), g.view_mut(), ep, &mut bufs);
                let expect = Array2::from_shape_fn((m, n), |(i, j)| {
                    want[[i, j]] * act.derivative_from_output(out[[i, j]]) as f64
                });
                assert_close(&g, &expect, k, &format!("grad {act:?} {m}x{n}"));
            }
        }
    }

    #[test]
    fn bit_identical_on_one_and_many_threads() {
        let (a, b) = (matrix(300, 257, 9), matrix(257, 129, 10));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut c = Array2::zeros((300, 129));
                gemm(Isa::detect(), a.view(), b.view(), c.view_mut(), Epilogue::None, &mut GemmBuffers::default());
                c
            })
        };
        let one = run(1);
        for threads in [2, 3, 8] {
            assert!(one.iter().zip(run(threads).iter()).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    #[test]
    fn tiles_hand_over_c_in_panel_layout_once_each_on_any_thread_count() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::Mutex;
        // (784, 512, 128): the seed model's dW; the rest have edge tiles, a
        // reduction deeper than every KC (1100), and one panel of A (B in place).
        for isa in Isa::available() {
            for &(m, n, k) in &[(784, 512, 128), (21, 37, 24), (9, 5, 1100), (3, 64, 7)] {
                let (a, b) = (matrix(m, k, 11), matrix(k, n, 12));
                let layout = TileLayout::of(isa, m, n);
                let (nr, mr) = (layout.nr, layout.mr);
                let mut c = Array2::zeros((m, n));
                gemm(isa, a.view(), b.view(), c.view_mut(), Epilogue::None, &mut GemmBuffers::default());
                let mut want = vec![0f32; layout.len()];
                crate::kernels::pack::pack_panels(c.view(), nr, &mut want, false);
                for threads in [1, 3] {
                    let got: Vec<AtomicU32> = want.iter().map(|_| AtomicU32::new(f32::NAN.to_bits())).collect();
                    let starts = Mutex::new(Vec::new());
                    let sink = |at: usize, tile: &[f32]| {
                        let row = at % (nr * m) / nr;
                        assert!(
                            at.is_multiple_of(nr) && row.is_multiple_of(mr) && tile.len() == mr.min(m - row) * nr,
                            "{at}"
                        );
                        for (i, &v) in tile.iter().enumerate() {
                            assert!(got[at + i].swap(v.to_bits(), Ordering::Relaxed) == f32::NAN.to_bits());
                        }
                        starts.lock().unwrap().push(at);
                    };
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| gemm_tiles(isa, a.view(), b.view(), &sink, &mut GemmBuffers::default()));
                    let deep = k > blocking(isa).kc;
                    for (i, (g, &w)) in got.iter().zip(&want).enumerate() {
                        let g = f32::from_bits(g.load(Ordering::Relaxed));
                        let ok = if deep { (g - w).abs() <= 1e-5 * k as f32 * (1.0 + w.abs()) } else { g == w };
                        assert!(ok, "{isa:?} ({m},{n},{k}) {threads}T at {i}: {g} vs {w}");
                    }
                    let mut starts = starts.into_inner().unwrap();
                    starts.sort();
                    assert!(starts.iter().copied().eq(layout.tiles().map(|t| t.0)), "tiles are the layout's");
                }
            }
        }
    }

    /// A gradient GEMM's C written as panels, and the tiles of the GEMM
    /// that reads them as its B: the same bits as `gemm`, packing, and
    /// `gemm_tiles` from the matrix, on 1 and 3 threads.
    #[test]
    fn panels_and_tiles_from_panels_match_gemm_then_packing_bit_for_bit() {
        use std::sync::Mutex;
        // (128, 512, 10): the seed model's dH; then edge tiles and padded
        // columns, and a reduction deeper than every KC.
        for isa in Isa::available() {
            for &(m, n, k) in &[(128, 512, 10), (13, 37, 24), (9, 45, 1100), (130, 33, 7)] {
                let mut a = matrix(m, k, 21);
                a[[m - 1, 0]] = f32::INFINITY; // past column n, a panel still holds zeros
                let b = matrix(k, n, 22);
                let y = matrix(m, n, 23); // the relu's outputs: zeros and negatives among them
                let nr = isa.nr();
                let len = n.div_ceil(nr) * nr * m;
                for ep in [Epilogue::None, Epilogue::ActivationGrad { output: y.view(), activation: Activation::Relu }]
                {
                    let mut c = Array2::zeros((m, n));
                    gemm(isa, a.view(), b.view(), c.view_mut(), ep, &mut GemmBuffers::default());
                    let mut want = vec![0f32; len];
                    crate::kernels::pack::pack_panels(c.view(), nr, &mut want, false);
                    let x = matrix(k + 3, m, 24); // the next GEMM's A, (k + 3)×m
                    let tiles_of = |b_panels: Option<&[f32]>| {
                        let got = Mutex::new(vec![f32::NAN; TileLayout::of(isa, k + 3, n).len()]);
                        let sink =
                            |at: usize, tile: &[f32]| got.lock().unwrap()[at..at + tile.len()].copy_from_slice(tile);
                        let bufs = &mut GemmBuffers::default();
                        match b_panels {
                            Some(p) => gemm_tiles_packed_b(isa, x.view(), p, n, &sink, bufs),
                            None => gemm_tiles(isa, x.view(), c.view(), &sink, bufs),
                        }
                        got.into_inner().unwrap()
                    };
                    let from_matrix = tiles_of(None);
                    for threads in [1, 3] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let mut got = vec![f32::NAN; len + 5];
                        let mut bufs = GemmBuffers::default();
                        assert!(fits_panels(isa, &a.view(), &b.view(), &bufs));
                        pool.install(|| gemm_into_panels(isa, a.view(), b.view(), &mut got, ep, &mut bufs));
                        let same = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same(&got[..len], &want), "{isa:?} ({m},{n},{k}) {threads}T");
                        assert!(got[len..].iter().all(|v| v.is_nan()), "{isa:?}: wrote past the panels");
                        let from_panels = pool.install(|| tiles_of(Some(&got)));
                        assert!(same(&from_panels, &from_matrix), "{isa:?} ({m},{n},{k}) tiles {threads}T");
                    }
                }
            }
            // The shapes gemm computes otherwise: two rows, a narrow C.
            let bufs = GemmBuffers::default();
            let (a2, b5) = (matrix(2, 40, 1), matrix(40, 5, 2));
            assert!(!fits_panels(isa, &a2.view(), &matrix(40, 64, 3).view(), &bufs));
            assert!(!fits_panels(isa, &matrix(40, 40, 4).view(), &b5.view(), &bufs));
        }
    }

    #[test]
    fn task_plan_covers_c_and_respects_block_limits() {
        for isa in Isa::available() {
            let block = blocking(isa);
            for &(m, n, t) in &[(128, 512, 2), (784, 512, 2), (1, 1, 16), (128, 10, 16), (5000, 3, 4), (300, 4096, 3)] {
                let kern = isa.kernel_for(m);
                let (mr, nr) = (kern.mr(), kern.nr());
                let plan = plan_tasks(m, n, t, mr, nr, block);
                // Every element of C in exactly one task; blocks start on panel
                // boundaries, stay within MC×NC, and differ by one panel at most.
                let mut covered = vec![0u8; m * n];
                let (mut rows_seen, mut cols_seen) = (Vec::new(), Vec::new());
                for task in 0..plan.tasks() {
                    let (rows, cols) = plan.block(task);
                    assert!(rows.start % mr == 0 && cols.start % nr == 0);
                    assert!(rows.len() <= block.mc.max(mr) + mr && cols.len() <= block.nc.max(nr) + nr);
                    for i in rows.clone() {
                        for j in cols.clone() {
                            covered[i * n + j] += 1;
                        }
                    }
                    rows_seen.push(rows.len());
                    cols_seen.push(cols.len());
                }
                assert!(covered.iter().all(|&c| c == 1), "{isa:?} {m}x{n}");
                let spread =
                    |v: &[usize], w: usize| v.iter().max().unwrap() - v.iter().filter(|&&x| x > 0).min().unwrap() <= w;
                assert!(spread(&rows_seen, mr) || m % mr != 0, "uneven rows {rows_seen:?}");
                assert!(spread(&cols_seen, nr) || n % nr != 0, "uneven cols {cols_seen:?}");
            }
        }
    }

    #[test]
    fn reduction_slices_are_even_and_bounded() {
        for isa in Isa::available() {
            let block = blocking(isa);
            for k in [1, 10, 128, 256, 257, 784, 4096] {
                let kc = slice_depth(k, block);
                assert!(kc <= block.kc && kc * k.div_ceil(kc) >= k);
                assert!(k.div_ceil(kc) == k.div_ceil(block.kc), "k={k}: {kc}");
            }
        }
    }
}
