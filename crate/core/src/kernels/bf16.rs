//! bfloat16 products with float32 sums, as Keras's `mixed_bfloat16` policy
//! computes a Dense layer: both operands rounded to bfloat16 (to nearest,
//! ties to even) when they are packed, and each pair of products added into
//! float32 accumulators by AVX512_BF16's VDPBF16PS, which does 32
//! multiply-adds per instruction where VFMADD231PS does 16.
//!
//! Packed layouts pair consecutive k: a `u32` holds element 2p in its low
//! half and 2p + 1 in its high half, which is how VDPBF16PS pairs its
//! operands (lane i: a[2i+1]·b[2i+1] + a[2i]·b[2i]). B is packed in
//! NR-column slivers (`b[(s·kp + p)·NR + j]`), A in MR-row panels
//! (`a[(t·kp + p)·MR + i]`), a zero pair padding an odd k and the edges.
//!
//! Work is split over MR-row panels of C only, and each element's sum runs
//! over k in order, so results are the same on any thread count. The
//! portable twin (`Bf16Kernel::Scalar`) follows VDPBF16PS's arithmetic:
//! bfloat16 subnormals read as zero, each product exact in float32, the
//! odd product added first. AMX-BF16 (`Bf16Kernel::Amx`, kernels/amx.rs)
//! packs A row by row and B in 16-column slivers, and computes 32×32 blocks
//! of C; its sums differ from the twin's in the last bits, but each runs
//! over k in order in one block, so its results too are the same on any
//! thread count.

use super::bf16_words;
use super::gemm::{apply_epilogue, Epilogue};
use super::isa::Isa;
use super::packed::AlignedBuf;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Rows of a tile: 8 × 2 zmm accumulators.
pub const MR: usize = 8;
/// Columns of a tile: two zmm registers of 16 float32 lanes.
pub const NR: usize = 32;

/// Which microkernel computes the tiles. `Avx512Bf16` can only come from
/// [`Bf16Kernel::detect`], after the CPU was found to run AVX512_BF16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// The portable twin: the same arithmetic in scalar code.
    Scalar,
    /// VDPBF16PS; holding one proves the CPU runs it (and AVX-512BW).
    Avx512Bf16(Detected),
    /// AMX-BF16's TDPBF16PS on 32×32 blocks (kernels/amx.rs); holding one
    /// proves the CPU runs it and Linux granted this process the tiles.
    Amx(Detected),
}

/// A token only `Bf16Kernel::detect` and `detect_amx` make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected(());

impl Bf16Kernel {
    /// VDPBF16PS where the CPU has AVX512_BF16 (and AVX-512F), else `None`;
    /// also `None` when FERRO_NN_ISA or FERRO_NN_FORCE_SCALAR caps the
    /// kernels below AVX-512, so that those runs test the float32 fallback.
    pub fn detect() -> Option<Bf16Kernel> {
        // AVX-512BW for the half-word stores of `KeptBf16`'s writer (every
        // CPU with AVX512_BF16 has it).
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512bf16")
            && super::Isa::detect().name() == "avx512"
        {
            return Some(Bf16Kernel::Avx512Bf16(Detected(())));
        }
        None
    }

    /// AMX-BF16 where the CPU, the OS and the ISA cap allow it (as for
    /// [`Bf16Kernel::detect`]), else `None`.
    pub fn detect_amx() -> Option<Bf16Kernel> {
        let avx512 = super::Isa::detect().name() == "avx512";
        // AVX-512BW for the half-word stores of `KeptBf16`'s writer.
        #[cfg(target_arch = "x86_64")]
        let avx512 = avx512 && is_x86_feature_detected!("avx512bw");
        (avx512 && super::amx::enabled()).then_some(Bf16Kernel::Amx(Detected(())))
    }

    /// The kernel mixed_bfloat16 trains with: AMX where [`detect_amx`]
    /// finds it, else VDPBF16PS where [`detect`] finds it and it outruns
    /// float32 FMAs, else `None` (float32).
    ///
    /// Intel's cores run VDPBF16PS at a fraction of their FMA rate: on a
    /// Xeon of family 6 model 207 (2 vCPUs), 24 independent zmm chains
    /// took 0.75 ns per VDPBF16PS (32 multiply-adds) against 0.19 ns per
    /// VFMADD231PS (16), so the seed model trained 2× slower in bfloat16
    /// (1.56 against 0.76 s/epoch on 1 thread). AMD's cores run it at their
    /// FMA's instruction rate, so twice the multiply-adds: on the project's
    /// earlier AMD EPYC VM, epochs 1.23× faster than float32's.
    /// Intel's fast bfloat16 is AMX. So without AMX the rule is the vendor;
    /// `FERRO_NN_BF16=vdpbf16ps` (or `amx`) picks that kernel on any CPU
    /// that runs it (to test or time it), `FERRO_NN_BF16=off` none.
    ///
    /// [`detect`]: Bf16Kernel::detect
    /// [`detect_amx`]: Bf16Kernel::detect_amx
    pub fn preferred() -> Option<Bf16Kernel> {
        match std::env::var("FERRO_NN_BF16").as_deref() {
            Ok("vdpbf16ps") => Bf16Kernel::detect(),
            Ok("amx") => Bf16Kernel::detect_amx(),
            Ok("off") => None,
            _ => Bf16Kernel::detect_amx().or(Bf16Kernel::detect().filter(|_| dot_outruns_fma())),
        }
    }
}

/// Whether this CPU's VDPBF16PS does more multiply-adds per second than its
/// VFMADD231PS: AMD's cores (see [`Bf16Kernel::preferred`]).
fn dot_outruns_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // CPUID leaf 0 names the vendor in EBX, EDX, ECX.
        // SAFETY: every x86-64 CPU has CPUID (newer compilers declare the
        // intrinsic safe, hence the allow).
        #[allow(unused_unsafe)]
        let id = unsafe { std::arch::x86_64::__cpuid(0) };
        let vendor: Vec<u8> = [id.ebx, id.edx, id.ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
        vendor == b"AuthenticAMD"
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `x` rounded to bfloat16 (nearest, ties to even), as its 16 bits. NaNs
/// stay NaN (quietened); values past the largest bfloat16 become infinite;
/// subnormals become zeros of their sign. That is VCVTNE2PS2BF16's
/// conversion, bit for bit, so the packers may use it where the CPU has
/// it; the flushed subnormals change no product, as every bfloat16 kernel
/// here reads a subnormal bfloat16 as zero anyway (and only one just
/// below the smallest normal float rounded up to a normal bfloat16).
#[inline]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let round = 0x7fff + ((bits >> 16) & 1);
    let rounded = (bits.wrapping_add(round) >> 16) as u16;
    let quiet = ((bits >> 16) | 0x40) as u16;
    let zero = ((bits >> 16) & 0x8000) as u16;
    // Selects, not branches, so that packing loops vectorise.
    if x.is_nan() {
        quiet
    } else if x.is_subnormal() {
        zero
    } else {
        rounded
    }
}

/// The float32 a bfloat16 stands for.
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// Packing space, owned by the caller so that repeated products allocate
/// nothing once it is large enough.
#[derive(Default)]
pub struct Bf16Buffers {
    a: AlignedBuf<u32>,
    b: AlignedBuf<u32>,
    /// An A operand packed ahead of its product (see `PackedPairs`).
    kept_a: Option<PackedPairs>,
}

impl Bf16Buffers {
    /// Keeps this A operand here (see `PackedPairs`).
    pub fn keep_a(&mut self, packed: Option<PackedPairs>) {
        self.kept_a = packed;
    }

    /// Takes the A operand kept here, to be packed elsewhere.
    pub fn take_kept_a(&mut self) -> Option<PackedPairs> {
        self.kept_a.take()
    }

    /// Marks the kept A operand, if any, stale.
    pub fn stale_a(&mut self) {
        self.kept_a.iter_mut().for_each(PackedPairs::set_stale);
    }
}

/// A packed as `kernel`'s products read it: the kept words that stand for
/// it, or else packed into `buf`.
fn a_words<'a>(
    kernel: Bf16Kernel,
    a: ArrayView2<f32>,
    buf: &'a mut AlignedBuf<u32>,
    kept: &'a Option<PackedPairs>,
) -> &'a [u32] {
    match kept.as_ref().and_then(|p| p.of(&a, kernel)) {
        Some(words) => words,
        None => {
            let dst = buf.slice(a_len(kernel, a.nrows(), a.ncols()));
            pack_a(kernel, a, dst);
            dst
        }
    }
}

/// Packs A (m×k) as `kernel`'s products read it: panels of MR rows, their
/// pairs side by side step by step, for VDPBF16PS and its twin; blocks of
/// 32 rows, each row's pairs in a run padded to whole tiles, for AMX.
fn pack_a(kernel: Bf16Kernel, a: ArrayView2<f32>, dst: &mut [u32]) {
    let (rows, panel) = a_panels(kernel);
    pack_pairs(a, rows, BWords::of(kernel, a.ncols(), 0).kp, dst, panel, kernel);
}

/// Rows per panel of A, and their layout, in `kernel`'s products.
fn a_panels(kernel: Bf16Kernel) -> (usize, Panel) {
    match kernel {
        Bf16Kernel::Amx(_) => (super::amx::BLOCK, Panel::RowMajor),
        _ => (MR, Panel::PairMajor),
    }
}

/// Words `pack_a` writes for an m×k A.
fn a_len(kernel: Bf16Kernel, m: usize, k: usize) -> usize {
    let (rows, _) = a_panels(kernel);
    m.div_ceil(rows) * rows * BWords::of(kernel, k, 0).kp
}

/// An A operand packed ahead of its product in a bfloat16 kernel's layout,
/// as `PackedA` is for float32: a training batch's xᵀ, for the weight
/// gradient's product xᵀ·dz, packed by the thread that gathers the next
/// batch while the other runs the layers above (train.rs). Under AMX on
/// the Intel Xeon VM that side had time to spare (gather 33 µs, upper
/// layers 84, 2 threads), and the 2-thread step went from 528–543 to
/// 478–506 µs (profile_fit, interleaved; 1 thread unchanged). Packing x
/// ahead as well, for x·W, as `PackedA` does, made the gather side the
/// longer one: 511–527 µs. Used only for the view it was packed from
/// (address, shape and strides), by the kernel it was packed for, and
/// only while it is fresh.
pub struct PackedPairs {
    kernel: Bf16Kernel,
    words: AlignedBuf<u32>,
    len: usize,
    source: usize,
    dim: (usize, usize),
    strides: [isize; 2],
    fresh: bool,
}

impl PackedPairs {
    /// Room for packing any m×k view for `kernel`, so that packing
    /// allocates nothing.
    pub fn with_capacity(kernel: Bf16Kernel, m: usize, k: usize) -> crate::error::Result<PackedPairs> {
        // Bounds the padded layout's size (m and k/2 padded by at most 31 and 15).
        crate::alloc::checked_len(&[m.saturating_add(32), k.saturating_add(32)], "the input batch")?;
        let words = AlignedBuf::with_len(a_len(kernel, m, k))?;
        Ok(PackedPairs { kernel, words, len: 0, source: 0, dim: (0, 0), strides: [0, 0], fresh: false })
    }

    /// Packs `a` as the kernel's products would, and marks the words fresh.
    pub fn pack(&mut self, a: ArrayView2<f32>) {
        self.len = a_len(self.kernel, a.nrows(), a.ncols());
        pack_a(self.kernel, a, self.words.slice(self.len));
        let strides = [a.strides()[0], a.strides()[1]];
        (self.source, self.dim, self.strides, self.fresh) = (a.as_ptr() as usize, a.dim(), strides, true);
    }

    /// Marks the words stale: the view they were packed from may change.
    pub fn set_stale(&mut self) {
        self.fresh = false;
    }

    /// The words, when they are fresh words of `a` for `kernel`.
    fn of(&self, a: &ArrayView2<f32>, kernel: Bf16Kernel) -> Option<&[u32]> {
        let same = self.source == a.as_ptr() as usize && self.dim == a.dim() && self.strides == a.strides();
        (same && self.fresh && kernel == self.kernel).then(|| self.words.get(self.len))
    }
}

/// Two bfloat16s in one word: `lo` (element 2p) in the low half.
pub(super) fn pair(lo: f32, hi: f32) -> u32 {
    to_bf16(lo) as u32 | (to_bf16(hi) as u32) << 16
}

/// C = A·B, then `epilogue` (with `isa`'s kernels) on each finished panel
/// of rows; A m×k and B k×n in any layout, C row-major and contiguous.
/// `kept_b`: B kept in `kernel`'s layout, read instead of packing `b` when
/// it stands for `b` and is fresh (`KeptBf16::of`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_bf16(
    kernel: Bf16Kernel,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    mut c: ArrayViewMut2<f32>,
    isa: Isa,
    epilogue: &Epilogue,
    bufs: &mut Bf16Buffers,
    kept_b: Option<&KeptBf16>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(b.nrows() == k && c.dim() == (m, n), "gemm_bf16: shapes differ");
    let c = c.as_slice_mut().expect("gemm_bf16: C must be row-major and contiguous");
    if m == 0 || n == 0 {
        return;
    }
    if let Bf16Kernel::Amx(_) = kernel {
        return gemm_amx(kernel, a, b, c, isa, epilogue, bufs, kept_b);
    }
    let BWords { width, kp, .. } = BWords::of(kernel, k, n);
    let slivers = n.div_ceil(width);
    let Bf16Buffers { a: a_buf, b: b_buf, kept_a } = bufs;
    let b_packed: &[u32] = match kept_b.and_then(|kept| kept.of(&b, kernel)) {
        Some(words) => words,
        None => {
            // B's pairs run down its columns: packed as the rows of Bᵀ.
            let dst = b_buf.slice(slivers * kp * width);
            pack_pairs(b.t(), width, kp, dst, Panel::PairMajor, kernel);
            dst
        }
    };
    let a_packed = a_words(kernel, a, a_buf, kept_a);
    assert!(b_packed.len() >= slivers * kp * width, "gemm_bf16: kept B too short");
    let panel = |(t, c_rows): (usize, &mut [f32])| {
        let rows = c_rows.len() / n;
        let a_panel = &a_packed[t * kp * MR..(t + 1) * kp * MR];
        // Each tile overwrites it whole (zeroing it per tile was 3% of a
        // 1-thread step, in the weight gradient's 1568 tiles).
        let mut tile = [[0f32; NR]; MR];
        for s in 0..slivers {
            tile_of(kernel, kp, a_panel, &b_packed[s * kp * NR..(s + 1) * kp * NR], &mut tile);
            let cols = NR.min(n - s * NR);
            for (i, row) in tile.iter().enumerate().take(rows) {
                let dst = &mut c_rows[i * n + s * NR..][..cols];
                // A whole row in a copy of known length: inline moves, not
                // a call to memmove per row (3% of a 1-thread step).
                match <&mut [f32; NR]>::try_from(&mut *dst) {
                    Ok(whole) => *whole = *row,
                    Err(_) => dst.copy_from_slice(&row[..cols]),
                }
            }
        }
        // SAFETY: `c_rows` is this task's panel of C, rows t·MR.. (rows × n,
        // contiguous), which no other task touches.
        unsafe { apply_epilogue(isa, epilogue, c_rows.as_mut_ptr(), n, t * MR, 0, rows, n) };
    };
    each_panel(c, MR * n, 2 * m * n * k >= super::params::PARALLEL_MIN_FLOPS, panel);
}

/// How a panel of `width` rows of k-pairs lies in memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    /// `[p·width + o]`: the k-pairs of all rows side by side, step by step
    /// (the VDPBF16PS tiles' A and B, AMX's B slivers).
    PairMajor,
    /// `[o·kp + p]`: each row's pairs in a run (AMX's A tiles).
    RowMajor,
}

/// Packs `x` (outer × k, any layout) in panels of `width` rows of k-pairs,
/// panel t at `dst[t·kp·width..]`, laid out as `panel` says; word (o, p)
/// pairs x[o, 2p] and x[o, 2p + 1], zero past k (up to `kp`, which may pad
/// it) and past the last row. Reads rows or columns as slices when they are
/// contiguous (both operands of every product in a training step are), and
/// packs large operands a panel per task.
fn pack_pairs(x: ArrayView2<f32>, width: usize, kp: usize, dst: &mut [u32], panel: Panel, kernel: Bf16Kernel) {
    let (outer, k) = x.dim();
    let real = k.div_ceil(2);
    assert!(kp >= real, "pack_pairs: kp {kp} below k {k}'s pairs");
    // Every word is written below (padding zeroed there).
    assert_eq!(dst.len(), outer.div_ceil(width) * kp * width, "pack_pairs: words for whole panels");
    if dst.is_empty() {
        return;
    }
    let row_major = panel == Panel::RowMajor;
    let at = |o: usize, p: usize| if row_major { o * kp + p } else { p * width + o };
    let rows = x.as_slice();
    let ld = x.strides()[1];
    let column_major = rows.is_none() && x.strides()[0] == 1 && ld >= outer as isize;
    // Zero pairs past k, and whole rows past `outer`, of panel t.
    let pads = |t: usize, out: &mut [u32]| {
        let count = width.min(outer - t * width);
        for o in 0..width {
            for p in if o < count { real } else { 0 }..kp {
                out[at(o, p)] = 0;
            }
        }
    };
    // SAFETY: with unit row stride and column stride ld ≥ outer, column c
    // is the `outer` floats from c·ld, inside the array `x` views.
    let column = |c: usize| unsafe { std::slice::from_raw_parts(x.as_ptr().add(c * ld as usize), outer) };
    // The whole-block packers read columns as one slice, which must not
    // span floats between them that `x` does not view (and another thread
    // may write): only for columns that abut, as every training step's do.
    // SAFETY: with unit row stride and column stride ld = outer, columns
    // 0..k are the k·outer floats from x's first, all of which `x` views.
    let abutting = column_major && ld as usize == outer && k > 0;
    let columns: &[f32] = if abutting { unsafe { std::slice::from_raw_parts(x.as_ptr(), k * outer) } } else { &[] };
    let pack = |(t, out): (usize, &mut [u32])| {
        let (first, count) = (t * width, width.min(outer - t * width));
        pads(t, out);
        if let Some(rows) = rows {
            // Row-major: each row's pairs lie side by side.
            let block = &rows[first * k..(first + count) * k];
            if !row_major {
                bf16_words::rows_across(kernel, block, k, width, out);
            }
            for (o, row) in block.chunks_exact(k.max(1)).enumerate() {
                if row_major {
                    // A run of words from a run of floats.
                    let words = &mut out[o * kp..o * kp + real];
                    bf16_words::runs(kernel, row, &mut words[..k / 2]);
                    if k % 2 == 1 {
                        words[real - 1] = pair(row[k - 1], 0.0);
                    }
                } else if k % 2 == 1 {
                    out[(real - 1) * width + o] = pair(row[k - 1], 0.0);
                }
            }
        } else if column_major {
            // Columns 2p and 2p + 1 side by side: contiguous reads. Whole
            // pairs of a panel in one call (of whole 16-row blocks for
            // rows); the rest one by one.
            let (ld, whole) = (ld as usize, k / 2);
            let blocks = if abutting && count == width && width.is_multiple_of(16) { width / 16 } else { 0 };
            // (Pair-major and abutting: `strips`, in `pack_group` below.)
            let whole_done = if row_major { blocks > 0 } else { abutting };
            if row_major {
                for b in 0..blocks {
                    bf16_words::rows16(kernel, columns, ld, first + 16 * b, whole, kp, &mut out[16 * b * kp..]);
                }
            }
            // With whole pairs done, only an odd k's last pair is left.
            for p in if whole_done { whole } else { 0 }..real {
                let lo = &column(2 * p)[first..first + count];
                let hi = if 2 * p + 1 < k { &column(2 * p + 1)[first..first + count] } else { &ZEROS[..count] };
                let mut words = [0u32; 64];
                bf16_words::pairs(kernel, lo, hi, &mut words[..count]);
                for (o, &w) in words[..count].iter().enumerate() {
                    out[at(o, p)] = w;
                }
            }
        } else {
            for o in 0..count {
                for p in 0..real {
                    let hi = if 2 * p + 1 < k { x[[first + o, 2 * p + 1]] } else { 0.0 };
                    out[at(o, p)] = pair(x[[first + o, 2 * p]], hi);
                }
            }
        }
    };
    // Abutting columns into pair-major panels: whole pairs by `strips`,
    // two panels at a time where they are 8 wide, so that it reads each
    // row's 16 floats (a whole cache line, at most two) in one load: a
    // panel at a time, the loads of Xᵀ's half lines took a 128 × 784 batch
    // 22 µs from L1, 0.5 ns a float from where the step found them.
    let strips = abutting && !row_major;
    let group = if strips && width == 8 { 2 } else { 1 };
    let pack_group = |(g, out): (usize, &mut [u32])| {
        let first = g * group * width;
        if strips {
            let to = bf16_words::Strips { width, count: (group * width).min(outer - first), stride: kp * width };
            bf16_words::strips(kernel, columns, ld as usize, first, k / 2, to, out);
        }
        out.chunks_mut(kp * width).enumerate().for_each(|(i, panel)| pack((g * group + i, panel)));
    };
    each_panel(dst, group * kp * width, outer * k >= PARALLEL_MIN_ELEMENTS, pack_group);
}

/// C = A·B on AMX tiles (kernels/amx.rs), then `epilogue`; `kernel` is
/// `Bf16Kernel::Amx`, the proof that the CPU runs it. 32×32 blocks,
/// split over 32-row panels of C, so results are the same on any thread
/// count. k is padded with zero pairs to a whole tile.
#[allow(clippy::too_many_arguments)]
fn gemm_amx(
    kernel: Bf16Kernel,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    c: &mut [f32],
    isa: Isa,
    epilogue: &Epilogue,
    bufs: &mut Bf16Buffers,
    kept_b: Option<&KeptBf16>,
) {
    use super::amx::{BLOCK, TILE};
    let (m, k) = a.dim();
    let n = b.ncols();
    let BWords { width, kp, len } = BWords::of(kernel, k, n);
    // Whole 32-row panels of A and 32-column pairs of B slivers: the rows
    // and columns past the edges are zeros, their sums dropped below.
    let Bf16Buffers { a: a_buf, b: b_buf, kept_a } = bufs;
    let b_packed: &[u32] = match kept_b.and_then(|kept| kept.of(&b, kernel)) {
        Some(words) => words,
        None => {
            // Slivers of 16 columns, up to a whole 32-column block.
            let dst = b_buf.slice(len);
            let (slivers, past) = dst.split_at_mut(n.div_ceil(width) * kp * width);
            pack_pairs(b.t(), width, kp, slivers, Panel::PairMajor, kernel);
            past.fill(0);
            dst
        }
    };
    let a_packed = a_words(kernel, a, a_buf, kept_a);
    assert!(b_packed.len() >= len, "gemm_amx: kept B too short");
    let panel = |(t, c_rows): (usize, &mut [f32])| {
        let rows = c_rows.len() / n;
        let mut out = [0f32; 4 * TILE * TILE];
        for s in 0..n.div_ceil(BLOCK) {
            let (a_block, b_block) =
                (&a_packed[t * BLOCK * kp..][..BLOCK * kp], &b_packed[s * BLOCK * kp..][..BLOCK * kp]);
            // SAFETY: an Amx kernel exists only where amx::enabled() held;
            // kp is a positive multiple of KP_STEP, and the blocks hold 32
            // rows of kp words and two 16-column slivers (sliced above).
            unsafe { super::amx::block(kp, a_block.as_ptr(), b_block.as_ptr(), &mut out) };
            let cols = BLOCK.min(n - s * BLOCK);
            for i in 0..rows {
                let row = &mut c_rows[i * n + s * BLOCK..][..cols];
                for (h, dst) in row.chunks_mut(TILE).enumerate() {
                    let tile = (i / TILE) * 2 + h;
                    dst.copy_from_slice(&out[(tile * TILE + i % TILE) * TILE..][..dst.len()]);
                }
            }
        }
        // SAFETY: `c_rows` is this task's panel of C, rows t·BLOCK.. (rows ×
        // n, contiguous), which no other task touches.
        unsafe { apply_epilogue(isa, epilogue, c_rows.as_mut_ptr(), n, t * BLOCK, 0, rows, n) };
    };
    each_panel(c, BLOCK * n, 2 * m * n * k >= super::params::PARALLEL_MIN_FLOPS, panel);
}

/// How a kernel's products lay out a packed k×n B operand: slivers of
/// `width` columns, each `kp` k-pairs deep, `len` words in all (zeros past
/// k and n). The one rule the packers and `KeptBf16` share.
#[derive(Clone, Copy)]
struct BWords {
    width: usize,
    kp: usize,
    len: usize,
}

impl BWords {
    fn of(kernel: Bf16Kernel, k: usize, n: usize) -> BWords {
        let (width, kp, cols) = match kernel {
            // Slivers of one tile's columns, k in whole tiles, n in whole blocks.
            Bf16Kernel::Amx(_) => {
                (super::amx::TILE, super::amx::padded_pairs(k), n.next_multiple_of(super::amx::BLOCK))
            }
            _ => (NR, k.div_ceil(2), n.next_multiple_of(NR)),
        };
        BWords { width, kp, len: cols * kp }
    }
}

/// A B operand (the first Dense kernel, k×n) kept in a bfloat16 kernel's
/// packed layout across a fit's steps: the optimizer writes each weight's
/// bfloat16 into it as it updates the weight (`Bf16Writer`), so that the
/// forward product does not convert the whole kernel again each step
/// (0.34–0.38 ms for the seed model's on one core of the Intel CI guest;
/// on the AMD Zen 4 VM the conversion was 4% of a 1-thread step). Used
/// only for the matrix it was made from, by the kernel it was made for,
/// and only while the caller vouches that it is `fresh`.
pub struct KeptBf16 {
    /// The kernel whose layout the words take, and which writes them.
    kernel: Bf16Kernel,
    words: AlignedBuf<u32>,
    k: usize,
    n: usize,
    layout: BWords,
    /// The matrix's first element and strides: which B this is.
    source: usize,
    strides: [isize; 2],
    fresh: bool,
}

impl KeptBf16 {
    /// Room for `b` in `kernel`'s layout, zero in the padding (which no
    /// write touches); its contents are only `fresh` once written in full.
    pub fn for_matrix(kernel: Bf16Kernel, b: ArrayView2<f32>) -> crate::error::Result<KeptBf16> {
        let (k, n) = b.dim();
        // Bounds the padded layout's size (n and k/2 padded by at most 31 and 15).
        crate::alloc::checked_len(&[n.saturating_add(32), k.saturating_add(32)], "packed bfloat16 weights")?;
        let layout = BWords::of(kernel, k, n);
        let words = AlignedBuf::with_len(layout.len)?;
        let (source, strides) = (b.as_ptr() as usize, [b.strides()[0], b.strides()[1]]);
        Ok(KeptBf16 { kernel, words, k, n, layout, source, strides, fresh: false })
    }

    /// Whether the words hold the matrix as it is now; the caller tracks this.
    pub fn set_fresh(&mut self, fresh: bool) {
        self.fresh = fresh;
    }

    /// The words, when they stand for `b` (k×n) in `kernel`'s layout and
    /// are fresh.
    pub(super) fn of(&self, b: &ArrayView2<f32>, kernel: Bf16Kernel) -> Option<&[u32]> {
        let same = self.source == b.as_ptr() as usize && b.dim() == (self.k, self.n) && b.strides() == self.strides;
        (same && self.fresh && kernel == self.kernel).then(|| self.words.get(self.layout.len))
    }

    /// A writer of the matrix's elements into the words.
    pub fn writer(&mut self) -> Bf16Writer<'_> {
        let (kernel, k, n, width, kp) = (self.kernel, self.k, self.n, self.layout.width, self.layout.kp);
        let base = self.words.slice(self.layout.len).as_mut_ptr();
        Bf16Writer { kernel, base, k, n, width, kp, _words: std::marker::PhantomData }
    }
}

/// Writes elements of a k×n matrix (row-major indices) into `KeptBf16`'s
/// words: element (r, c) is half r % 2 of word ((c / width)·kp + r / 2)·
/// width + c % width, so every element has a half-word of its own and
/// threads writing disjoint elements never touch the same bytes.
pub struct Bf16Writer<'a> {
    kernel: Bf16Kernel,
    base: *mut u32,
    k: usize,
    n: usize,
    /// Columns of a sliver (a multiple of 16).
    width: usize,
    kp: usize,
    _words: std::marker::PhantomData<&'a mut [u32]>,
}

// SAFETY: the pointer comes from an exclusive borrow held for 'a, and
// `write`'s callers vouch that no two threads write the same element.
unsafe impl Send for Bf16Writer<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for Bf16Writer<'_> {}

impl Bf16Writer<'_> {
    /// Elements `start..start + values.len()` of the matrix take `values`,
    /// rounded to bfloat16.
    ///
    /// # Safety
    /// No other thread writes any of these elements meanwhile.
    pub unsafe fn write(&self, start: usize, values: &[f32]) {
        let end = start.checked_add(values.len()).expect("bf16 writer: elements outside the matrix");
        assert!(end <= self.k * self.n, "bf16 writer: elements outside the matrix");
        let width = self.width;
        let mut at = start;
        while at < end {
            let (r, c) = (at / self.n, at % self.n);
            if c == 0 && r % 2 == 0 && r + 1 < self.k && end - at >= 2 * self.n {
                // Rows r and r + 1 whole: both halves of their words in
                // plain stores (the optimizer's chunks hold whole rows but
                // at their ends). With half-word stores the seed model's
                // update took 250–340 µs on 1 thread, against 165–220
                // (profile_fit, AMD Zen 4 VM).
                let (lo, hi) = values[at - start..][..2 * self.n].split_at(self.n);
                // SAFETY: column 16q + i's word of pair r / 2 is chunk q's
                // word i, in the layout (r + 1 < k); both its halves are
                // elements of the caller's, so no other thread touches it.
                unsafe {
                    let to =
                        bf16_words::Slivers { words: self.base.add(r / 2 * width), width, stride: self.kp * width };
                    bf16_words::pairs_into(self.kernel, lo, hi, to);
                }
                at += 2 * self.n;
                continue;
            }
            // The rest of this element's row, from its sliver's first column
            // on in one call, a partial sliver before it on its own.
            let to_row_end = (self.n - c).min(end - at);
            let run = if c % width == 0 { to_row_end } else { (width - c % width).min(to_row_end) };
            let word = ((c / width) * self.kp + r / 2) * width + c % width;
            // SAFETY: column c + 16q + i of the run (i < 16) has word
            // word + (q / (width/16))·kp·width + (q % (width/16))·16 + i, the
            // run starting a sliver or ending within its first; inside the
            // padded layout (c + run ≤ n, r < k); the elements are the caller's.
            unsafe {
                let values = &values[at - start..at - start + run];
                let slivers = bf16_words::Slivers { words: self.base.add(word), width, stride: self.kp * width };
                bf16_words::halves(self.kernel, values, slivers, r % 2 == 1)
            };
            at += run;
        }
    }
}

/// `f` on each `len`-long panel of `data` with its index: split over the
/// pool's threads when `large` and there is more than one, else in order.
fn each_panel<T: Send>(data: &mut [T], len: usize, large: bool, f: impl Fn((usize, &mut [T])) + Send + Sync) {
    if large && crate::pool::threads_here() > 1 {
        data.par_chunks_mut(len).enumerate().for_each(f);
    } else {
        data.chunks_mut(len).enumerate().for_each(f);
    }
}

/// The high half of an odd k's last pair, for panels up to this wide.
static ZEROS: [f32; 64] = [0.0; 64];

/// Below this many elements an operand is packed on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// One MR×NR tile over `kp` k-pairs, overwriting `tile`.
fn tile_of(kernel: Bf16Kernel, kp: usize, a: &[u32], b: &[u32], tile: &mut [[f32; NR]; MR]) {
    assert!(a.len() >= kp * MR && b.len() >= kp * NR, "bf16 tile: slivers too short");
    match kernel {
        Bf16Kernel::Scalar => tile_scalar(kp, a, b, tile),
        // SAFETY: a Detected token exists only where AVX512_BF16 and
        // AVX-512F were detected; the slivers were checked above.
        #[cfg(target_arch = "x86_64")]
        Bf16Kernel::Avx512Bf16(_) => unsafe { simd::tile(kp, a.as_ptr(), b.as_ptr(), tile) },
        #[cfg(not(target_arch = "x86_64"))]
        Bf16Kernel::Avx512Bf16(_) => unreachable!("detected only on x86-64"),
        Bf16Kernel::Amx(_) => unreachable!("AMX computes whole blocks, in gemm_amx"),
    }
}

/// VDPBF16PS's arithmetic, one lane at a time.
fn tile_scalar(kp: usize, a: &[u32], b: &[u32], tile: &mut [[f32; NR]; MR]) {
    // bfloat16 subnormals are read as zero (the instruction's DAZ).
    let value = |h: u32| {
        let x = from_bf16(h as u16);
        if x.is_subnormal() {
            0.0
        } else {
            x
        }
    };
    *tile = [[0.0; NR]; MR];
    for p in 0..kp {
        for (i, row) in tile.iter_mut().enumerate() {
            let w = a[p * MR + i];
            let (a_lo, a_hi) = (value(w & 0xffff), value(w >> 16));
            for (j, acc) in row.iter_mut().enumerate() {
                let v = b[p * NR + j];
                // bfloat16 products are exact in float32; two roundings per pair.
                *acc += a_hi * value(v >> 16);
                *acc += a_lo * value(v & 0xffff);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU runs AVX512_BF16 and AVX-512F; `a` holds `kp·MR` and `b`
    /// `kp·NR` packed words.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn tile(kp: usize, a: *const u32, b: *const u32, tile: &mut [[f32; NR]; MR]) {
        // SAFETY: the caller vouches for the ISA and the lengths; a packed
        // word is two bfloat16s, so reinterpreting 16 words as __m512bh
        // (32 bfloat16s) is exact.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; MR];
            for p in 0..kp {
                let row = b.add(p * NR);
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(row.cast()));
                let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(row.add(16).cast()));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let ai: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(p * MR + i) as i32));
                    acc[0] = _mm512_dpbf16_ps(acc[0], ai, b0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], ai, b1);
                }
            }
            for (row, acc) in tile.iter_mut().zip(acc) {
                _mm512_storeu_ps(row.as_mut_ptr(), acc[0]);
                _mm512_storeu_ps(row.as_mut_ptr().add(16), acc[1]);
            }
        }
    }
}

/// The tokens under which the packers and the kept words' writer run
/// their SIMD stores in tests: those `detect` and `detect_amx` find, and
/// where they find none but the CPU has AVX-512F and BW, stand-ins in
/// each layout (the packers and the writer run no VDPBF16PS or AMX
/// instruction, only AVX-512F/BW), so that guests hiding AVX512_BF16 test
/// them too.
#[cfg(test)]
pub(crate) fn packing_under_test() -> Vec<Bf16Kernel> {
    #[cfg(target_arch = "x86_64")]
    let bw = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
    #[cfg(not(target_arch = "x86_64"))]
    let bw = false;
    let stand_in = |k: Bf16Kernel| bw.then_some(k);
    let vdpbf16ps = Bf16Kernel::detect().or(stand_in(Bf16Kernel::Avx512Bf16(Detected(()))));
    let amx = Bf16Kernel::detect_amx().or(stand_in(Bf16Kernel::Amx(Detected(()))));
    [vdpbf16ps, amx].into_iter().flatten().collect()
}

/// VDPBF16PS where [`Bf16Kernel::detect`] finds it, or where the test run
/// vouches that the CPU executes it though its CPUID hides the flag (as
/// the CI guest's does): FERRO_NN_TEST_VDPBF16PS=1, which
/// scripts/test-isa.sh sets only after `vdpbf16ps_runs_here` passed in a
/// child process. Shipping code gets the kernel from `detect` alone.
#[cfg(test)]
pub(crate) fn simd_under_test() -> Option<Bf16Kernel> {
    let vouched = cfg!(target_arch = "x86_64") && std::env::var("FERRO_NN_TEST_VDPBF16PS").as_deref() == Ok("1");
    Bf16Kernel::detect().or(vouched.then_some(Bf16Kernel::Avx512Bf16(Detected(()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The probe scripts/test-isa.sh runs in a child process: VDPBF16PS
    /// forced on whatever CPUID says. Where the CPU lacks the instruction it
    /// dies of SIGILL, so it is ignored in the default run.
    #[test]
    #[cfg(target_arch = "x86_64")]
    #[ignore = "forces VDPBF16PS: run by scripts/test-isa.sh in a child process"]
    fn vdpbf16ps_runs_here() {
        let (a, b) = operands(8, 32, 6);
        assert_eq!(product(Bf16Kernel::Avx512Bf16(Detected(())), &a, &b), product(Bf16Kernel::Scalar, &a, &b));
    }

    /// C = A·B with `kernel`, fresh buffers, no epilogue; C starts as NaN,
    /// so an element the kernel missed shows.
    fn product(kernel: Bf16Kernel, a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
        let mut c = Array2::from_elem((a.nrows(), b.ncols()), f32::NAN);
        let bufs = &mut Bf16Buffers::default();
        gemm_bf16(kernel, a.view(), b.view(), c.view_mut(), Isa::scalar(), &Epilogue::None, bufs, None);
        c
    }

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // Halfway between 0x3f80 and 0x3f81: to the even one.
        assert_eq!(to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(to_bf16(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(to_bf16(-2.5), 0xc020);
        assert_eq!(to_bf16(f32::INFINITY), 0x7f80);
        assert_eq!(to_bf16(f32::MAX), 0x7f80, "past the largest bfloat16: infinite");
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        // Subnormals flushed to zeros of their sign, as VCVTNE2PS2BF16 does,
        // the largest too (it would round up to the smallest normal).
        assert_eq!(to_bf16(f32::from_bits(0x007f_ffff)), 0);
        assert_eq!(to_bf16(-f32::MIN_POSITIVE / 3.0), 0x8000);
        assert_eq!(to_bf16(f32::MIN_POSITIVE), 0x0080);
        for x in [0.0f32, -0.0, 1e-30, 2.71, -65504.0, 1e38] {
            let back = from_bf16(to_bf16(x));
            assert!((back - x).abs() <= x.abs() * 2f32.powi(-8), "{x} -> {back}");
        }
    }

    fn operands(m: usize, n: usize, k: usize) -> (Array2<f32>, Array2<f32>) {
        let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 37 + p * 11) % 23) as f32 / 7.0 - 1.5);
        let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 53 + j * 7) % 19) as f32 / 5.0 - 1.8);
        (a, b)
    }

    /// Against float64 sums of the bfloat16-rounded operands (only the
    /// float32 sums differ), and of the operands themselves (bfloat16's
    /// 8-bit precision), at awkward sizes, for every kernel this CPU runs.
    #[test]
    fn every_kernel_matches_float64_within_bfloat16_tolerance() {
        let kernels: Vec<Bf16Kernel> =
            [Some(Bf16Kernel::Scalar), simd_under_test(), Bf16Kernel::detect_amx()].into_iter().flatten().collect();
        let r = |x: f32| from_bf16(to_bf16(x)) as f64;
        for (m, n, k) in [(1, 1, 1), (3, 10, 17), (8, 32, 2), (9, 33, 7), (13, 70, 129), (128, 512, 784), (17, 5, 256)]
        {
            let (a, b) = operands(m, n, k);
            let mut bufs = Bf16Buffers::default();
            for &kernel in &kernels {
                let mut c = Array2::from_elem((m, n), f32::NAN);
                gemm_bf16(kernel, a.view(), b.view(), c.view_mut(), Isa::scalar(), &Epilogue::None, &mut bufs, None);
                for i in 0..m {
                    for j in 0..n {
                        let rounded: f64 = (0..k).map(|p| r(a[[i, p]]) * r(b[[p, j]])).sum();
                        let exact: f64 = (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum();
                        let scale: f64 =
                            (0..k).map(|p| (a[[i, p]] as f64 * b[[p, j]] as f64).abs()).sum::<f64>() + 1e-30;
                        let got = c[[i, j]] as f64;
                        assert!(
                            (got - rounded).abs() <= 2.0 * k as f64 * 6e-8 * scale,
                            "{kernel:?} {m}x{n}x{k} ({i},{j}): {got} vs {rounded}"
                        );
                        assert!(
                            (got - exact).abs() <= 2.0 * 2f64.powi(-8) * scale,
                            "{kernel:?} {m}x{n}x{k} ({i},{j}): {got} vs {exact}"
                        );
                    }
                }
            }
        }
    }

    /// Transposed and strided operands pack to the same words: the same C.
    #[test]
    fn every_layout_of_the_operands_gives_the_same_product() {
        for kernel in
            [Some(simd_under_test().unwrap_or(Bf16Kernel::Scalar)), Bf16Kernel::detect_amx()].into_iter().flatten()
        {
            same_product_from_every_layout(kernel);
        }
    }

    fn same_product_from_every_layout(kernel: Bf16Kernel) {
        let (a, b) = operands(19, 37, 45);
        let product = |a: ArrayView2<f32>, b: ArrayView2<f32>| {
            let mut c = Array2::zeros((19, 37));
            gemm_bf16(kernel, a, b, c.view_mut(), Isa::scalar(), &Epilogue::None, &mut Bf16Buffers::default(), None);
            c
        };
        let want = product(a.view(), b.view());
        // (`as_standard_layout`, not `to_owned`, which keeps a transposed
        // view's column-major order: its transpose was row-major again.)
        let (a_t, b_t) = (a.t().as_standard_layout().into_owned(), b.t().as_standard_layout().into_owned());
        assert!(a_t.t().as_slice().is_none() && a_t.t().strides() == [1, 19], "a column-major A");
        assert_eq!(product(a_t.t(), b_t.t()), want, "column-major operands");
        let (a_wide, b_wide) = (
            Array2::from_shape_fn((19, 90), |(i, p)| a[[i, p / 2]]),
            Array2::from_shape_fn((45, 74), |(p, j)| b[[p, j / 2]]),
        );
        let (a_strided, b_strided) = (a_wide.slice(ndarray::s![.., ..;2]), b_wide.slice(ndarray::s![.., ..;2]));
        assert_eq!(product(a_strided, b_strided), want, "strided operands");
        // Column-major with gaps between the columns (ld 40 > 19 rows).
        let (a_tall, b_tall) = (
            Array2::from_shape_fn((45, 40), |(p, i)| if i < 19 { a[[i, p]] } else { f32::NAN }),
            Array2::from_shape_fn((37, 50), |(j, p)| if p < 45 { b[[p, j]] } else { f32::NAN }),
        );
        let (a_gaps, b_gaps) = (a_tall.t(), b_tall.t());
        assert_eq!(product(a_gaps.slice(ndarray::s![..19, ..]), b_gaps.slice(ndarray::s![..45, ..])), want, "gaps");
    }

    #[test]
    fn simd_matches_its_scalar_twin_bit_for_bit_on_any_thread_count() {
        let Some(simd) = simd_under_test() else { return };
        let (a, b) = operands(130, 75, 301);
        let mut bufs = Bf16Buffers::default();
        let run = |kernel, bufs: &mut Bf16Buffers| {
            let mut c = Array2::zeros((130, 75));
            gemm_bf16(kernel, a.view(), b.view(), c.view_mut(), Isa::scalar(), &Epilogue::None, bufs, None);
            c
        };
        let (fast, twin) = (run(simd, &mut bufs), run(Bf16Kernel::Scalar, &mut bufs));
        // The twin follows VDPBF16PS's order and rounding: the same bits.
        assert_eq!(fast, twin, "VDPBF16PS differs from its scalar twin");
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(one.install(|| run(simd, &mut Bf16Buffers::default())), fast, "1 thread differs");
    }

    /// Words written weight by weight, in pieces that start and end
    /// mid-row and mid-sliver, are the words packing the whole matrix
    /// gives (odd k, a partial sliver, padding), in each kernel's layout:
    /// the twin's scalar stores and the SIMD ones (`packing_under_test`:
    /// wherever the CPU has AVX-512BW, as writing the words runs no
    /// VDPBF16PS or AMX instruction).
    #[test]
    fn kept_words_written_in_pieces_are_the_packed_words() {
        let (k, n) = (9, 37);
        let (_, b) = operands(1, n, k);
        for kernel in std::iter::once(Bf16Kernel::Scalar).chain(packing_under_test()) {
            let mut kept = KeptBf16::for_matrix(kernel, b.view()).unwrap();
            let values = b.as_slice().unwrap();
            let writer = kept.writer();
            for piece in [0..5, 5..40, 40..41, 41..100, 100..k * n] {
                // SAFETY: one thread, each element once.
                unsafe { writer.write(piece.start, &values[piece]) };
            }
            kept.set_fresh(true);
            let BWords { width, kp, len } = BWords::of(kernel, k, n);
            let mut want = vec![0; len];
            pack_pairs(
                b.t(),
                width,
                kp,
                &mut want[..n.div_ceil(width) * kp * width],
                Panel::PairMajor,
                Bf16Kernel::Scalar,
            );
            assert_eq!(kept.of(&b.view(), kernel).unwrap(), &want[..], "{kernel:?}");
            assert!(kept.of(&b.t(), kernel).is_none(), "another view of the same floats");
            let other = if kernel == Bf16Kernel::Scalar { Bf16Kernel::Amx(Detected(())) } else { Bf16Kernel::Scalar };
            assert!(kept.of(&b.view(), other).is_none(), "another kernel's layout");
        }
    }

    /// AMX's sums against the twin's (VDPBF16PS's arithmetic) at awkward
    /// sizes: edges of every tile and block, k past one tile, odd k; and the
    /// same bits on 1 and 3 threads as on the pool's.
    #[test]
    fn amx_matches_the_scalar_twin_on_any_thread_count() {
        let Some(amx) = Bf16Kernel::detect_amx() else { return };
        for (m, n, k) in [(1, 1, 1), (16, 16, 32), (33, 47, 35), (31, 65, 97), (130, 75, 301), (128, 512, 784)] {
            let mut seed = 0x9e37_79b9_u32;
            let mut next = || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
            };
            let a = Array2::from_shape_simple_fn((m, k), &mut next);
            let b = Array2::from_shape_simple_fn((k, n), &mut next);
            let run = |kernel| product(kernel, &a, &b);
            // TDPBF16PS rounds its sums otherwise than VDPBF16PS (most of
            // 128×512×784's differ in their last bits), so not bit for bit.
            let (fast, twin) = (run(amx), run(Bf16Kernel::Scalar));
            for ((i, j), &got) in fast.indexed_iter() {
                let scale: f32 = (0..k).map(|p| (a[[i, p]] * b[[p, j]]).abs()).sum::<f32>() + 1e-30;
                assert!(
                    (got - twin[[i, j]]).abs() <= k as f32 * 6e-8 * scale,
                    "{m}x{n}x{k} ({i},{j}): {got} vs {}",
                    twin[[i, j]]
                );
            }
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                assert_eq!(pool.install(|| run(amx)), fast, "{m}x{n}x{k}: {threads} threads differ");
            }
            // Column-major A (Xᵀ in a weight gradient) packs through its
            // own path, whole 16-row blocks at a time: the same words.
            let mut c = Array2::from_elem((m, n), f32::NAN);
            let bufs = &mut Bf16Buffers::default();
            gemm_bf16(
                amx,
                a.t().as_standard_layout().t(),
                b.view(),
                c.view_mut(),
                Isa::scalar(),
                &Epilogue::None,
                bufs,
                None,
            );
            assert_eq!(c, fast, "{m}x{n}x{k}: column-major A");
        }
    }

    /// The rule against the kernel's own report of the CPU: on Linux,
    /// /proc/cpuinfo's vendor_id and flags (the same CPUID leaves, read by
    /// the kernel). AMX first, then VDPBF16PS on AMD only; with
    /// FERRO_NN_BF16 set, the choice is the caller's.
    #[test]
    fn mixed_bfloat16_takes_amx_then_vdpbf16ps_on_amd_only() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else { return };
        let amd = info.lines().any(|l| l.starts_with("vendor_id") && l.ends_with("AuthenticAMD"));
        assert_eq!(dot_outruns_fma(), amd && cfg!(target_arch = "x86_64"));
        let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
        let amx = ["amx_tile", "amx_bf16"].iter().all(|f| flags.split_whitespace().any(|g| g == *f));
        if super::super::Isa::detect().name() == "avx512" && cfg!(target_os = "linux") {
            assert_eq!(Bf16Kernel::detect_amx().is_some(), amx, "AMX in /proc/cpuinfo: {amx}");
        }
        if std::env::var_os("FERRO_NN_BF16").is_none() {
            let want = Bf16Kernel::detect_amx().or(Bf16Kernel::detect().filter(|_| amd));
            assert_eq!(Bf16Kernel::preferred(), want);
        }
    }
}
