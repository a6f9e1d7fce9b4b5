//! Packing: copies an operand into the panel layout the microkernel streams.
//!
//! `pack_panels(src, W, dst)` takes a k×len matrix and writes panels of W
//! columns, panel q holding `dst[q*W*k + p*W + j] = src[p, q*W + j]`, with
//! zeros past `len`. B (k×n) is packed with W = NR as it is; A (m×k) is
//! packed with W = MR through its transposed *view*. Transposed operands are
//! therefore only a matter of strides: no transpose is ever materialised.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Packs every panel of `src` into `dst` (which must hold `ceil(len/W)·W·k`
/// floats), on the current rayon pool when `parallel`.
pub fn pack_panels(src: ArrayView2<f32>, width: usize, dst: &mut [f32], parallel: bool) {
    // Fixed widths let each row copy compile to a few vector moves.
    match width {
        4 => pack_all::<4>(src, dst, parallel),
        5 => pack_all::<5>(src, dst, parallel),
        6 => pack_all::<6>(src, dst, parallel),
        8 => pack_all::<8>(src, dst, parallel),
        10 => pack_all::<10>(src, dst, parallel),
        12 => pack_all::<12>(src, dst, parallel),
        16 => pack_all::<16>(src, dst, parallel),
        32 => pack_all::<32>(src, dst, parallel),
        _ => panic!("no packing routine for panels of width {width}"),
    }
}

/// Most panels a row-major source is dealt out to row by row (write streams).
const MAX_ROW_STREAMS: usize = 32;

/// Bands of rows a parallel row-by-row packing is split into.
const ROW_BANDS: usize = 8;

/// The packed buffer's base, shared by the tasks that each deal a band of
/// rows into it.
#[derive(Clone, Copy)]
struct SharedDst(*mut f32);
// SAFETY: a plain address; writing through it needs `unsafe`, and each task
// writes only the panel rows of its own band.
unsafe impl Send for SharedDst {}
// SAFETY: as for Send.
unsafe impl Sync for SharedDst {}

impl SharedDst {
    /// The address `i` floats past the base (a method, so closures capture
    /// the Sync wrapper rather than the raw pointer inside it).
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

fn pack_all<const W: usize>(src: ArrayView2<f32>, dst: &mut [f32], parallel: bool) {
    let (k, len) = src.dim();
    let panel_len = W * k;
    let panels = len.div_ceil(W);
    assert!(dst.len() >= panels * panel_len, "pack buffer too small");
    if panel_len == 0 {
        return;
    }
    let dst = &mut dst[..panels * panel_len];
    if (2..=MAX_ROW_STREAMS).contains(&panels) && src.strides()[1] == 1 {
        // Row-major source: read it row by row, front to back, and deal each
        // row's W-wide pieces out to the panels. Panel by panel would walk
        // W-wide strips down the rows instead, at a stride that prefetches
        // badly and aliases in L1 (2 KB for 512 columns). With many panels
        // (X's 98 panels of 8) the writes would scatter over too many
        // streams, so those go panel by panel. In parallel, each task deals
        // a band of rows.
        let out = SharedDst(dst.as_mut_ptr());
        let deal = |rows: std::ops::Range<usize>| {
            let (base, rs) = (src.as_ptr(), src.strides()[0]);
            for p in rows {
                // SAFETY: p < k, and row p's `len` elements are contiguous
                // (column stride 1) inside the view `src` borrows.
                let row = unsafe { std::slice::from_raw_parts(base.offset(p as isize * rs), len) };
                for (q, piece) in row.chunks(W).enumerate() {
                    // SAFETY: row p of panel q lies in `dst` (sized above);
                    // only the task dealing row p writes it.
                    let out = unsafe { std::slice::from_raw_parts_mut(out.at(q * panel_len + p * W), W) };
                    copy_padded::<W>(out, piece);
                }
            }
        };
        if parallel {
            (0..ROW_BANDS).into_par_iter().for_each(|b| deal(b * k / ROW_BANDS..(b + 1) * k / ROW_BANDS));
        } else {
            deal(0..k);
        }
        return;
    }
    let pack_one = |(q, panel): (usize, &mut [f32])| pack_panel::<W>(&src, q * W, panel);
    if parallel {
        dst.par_chunks_mut(panel_len).enumerate().for_each(pack_one);
    } else {
        dst.chunks_mut(panel_len).enumerate().for_each(pack_one);
    }
}

/// One panel row: `piece` (at most W floats), then zeros up to W. A whole
/// row is copied as a fixed-size array, which compiles to a few vector moves.
#[inline(always)]
fn copy_padded<const W: usize>(out: &mut [f32], piece: &[f32]) {
    if piece.len() == W {
        let out: &mut [f32; W] = out.try_into().expect("panel row of W floats");
        out.copy_from_slice(piece);
    } else {
        out[..piece.len()].copy_from_slice(piece);
        out[piece.len()..].fill(0.0);
    }
}

/// One panel: columns `col0 .. col0 + W` of `src`.
fn pack_panel<const W: usize>(src: &ArrayView2<f32>, col0: usize, panel: &mut [f32]) {
    let (k, len) = src.dim();
    assert!(col0 < len && panel.len() == W * k, "pack_panel: panel outside the source");
    let cols = W.min(len - col0);
    if src.strides()[1] == 1 && k > 0 {
        // Rows of src are contiguous (B row-major, or A column-major): copy
        // W floats per row. Row slices come from the base pointer: building an
        // ndarray row view per 32-float copy cost more than the copy.
        let (base, rs) = (src.as_ptr(), src.strides()[0]);
        for (p, out) in panel.chunks_exact_mut(W).enumerate() {
            // SAFETY: p < k (the panel holds k rows of W, asserted above) and
            // col0 + cols <= len, so (p, col0 .. col0 + cols) lies inside the
            // view `src` borrows, whose column stride is 1.
            let row = unsafe { std::slice::from_raw_parts(base.offset(p as isize * rs).add(col0), cols) };
            copy_padded::<W>(out, row);
        }
    } else if src.strides()[0] == 1 && k > 0 {
        // Columns of src are contiguous (A row-major, or B transposed): this is
        // a transpose. Read the W columns side by side, in 8×8 register
        // transposes where the CPU has AVX.
        let columns: [&[f32]; W] = std::array::from_fn(|j| {
            if j < cols {
                src.column(col0 + j).to_slice().expect("columns are contiguous")
            } else {
                &[]
            }
        });
        let done = if W.is_multiple_of(8) && cols == W { transpose::columns_to_rows(&columns, panel, W, k) } else { 0 };
        for (p, out) in panel.chunks_exact_mut(W).enumerate().skip(done) {
            for (j, slot) in out.iter_mut().enumerate() {
                *slot = if j < cols { columns[j][p] } else { 0.0 };
            }
        }
    } else {
        for (p, out) in panel.chunks_exact_mut(W).enumerate() {
            for (j, slot) in out.iter_mut().enumerate() {
                *slot = if j < cols { src[[p, col0 + j]] } else { 0.0 };
            }
        }
    }
}

/// The inverse of `pack_panels` for a k×n B: panels of `width` columns
/// back into `dst`'s rows (padding dropped), row by row, front to back.
pub fn unpack_panels(panels: &[f32], width: usize, mut dst: ndarray::ArrayViewMut2<f32>) {
    let (k, n) = dst.dim();
    assert!(width > 0 && panels.len() >= n.div_ceil(width) * width * k, "unpack: panels too small");
    for (p, mut row) in dst.rows_mut().into_iter().enumerate() {
        let Some(row) = row.as_slice_mut() else {
            row.iter_mut().enumerate().for_each(|(j, d)| *d = panels[(j / width) * width * k + p * width + j % width]);
            continue;
        };
        for (q, piece) in row.chunks_mut(width).enumerate() {
            piece.copy_from_slice(&panels[q * width * k + p * width..][..piece.len()]);
        }
    }
}

/// Writes a row-major k×n matrix into B panels (`pack_panels`'s layout,
/// width `nr`) a run of elements at a time, from many threads at once: the
/// optimizer writes the first kernel this way as it updates it, chunk by
/// chunk, so that the next forward GEMM need not pack it (`PackedB`).
pub struct PanelWriter<'a> {
    base: *mut f32,
    k: usize,
    n: usize,
    nr: usize,
    _panels: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the pointer comes from an exclusive borrow held for 'a, and
// `write`'s callers vouch that no two threads write the same element.
unsafe impl Send for PanelWriter<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for PanelWriter<'_> {}

impl<'a> PanelWriter<'a> {
    pub fn new(panels: &'a mut [f32], k: usize, n: usize, nr: usize) -> Self {
        // Checked: release builds wrap, and a wrapped size would pass. k·n
        // (write's bound) is no larger than the panels' size.
        let len = n.div_ceil(nr.max(1)).checked_mul(nr).and_then(|l| l.checked_mul(k));
        assert!(nr > 0 && len.is_some_and(|l| panels.len() >= l), "panel writer: panels too small");
        PanelWriter { base: panels.as_mut_ptr(), k, n, nr, _panels: Default::default() }
    }

    /// Elements `start..start + values.len()` of the matrix (row-major
    /// indices) take `values`.
    ///
    /// # Safety
    /// No other thread writes any of these elements meanwhile.
    pub unsafe fn write(&self, start: usize, values: &[f32]) {
        let (n, end) = (self.n, start.checked_add(values.len()).expect("panel writer: elements outside the matrix"));
        assert!(end <= self.k * self.n, "panel writer: elements outside the matrix");
        // Whole rows panel by panel, so that each panel is written in one
        // run; a partial row at either end piece by piece.
        let boundary = start.div_ceil(n) * n;
        // SAFETY (all): the elements are the caller's (see # Safety).
        unsafe {
            if boundary >= end {
                return self.write_row_part(start, values);
            }
            self.write_row_part(start, &values[..boundary - start]);
            let (first, last) = (boundary / n, end / n);
            for q in 0..n.div_ceil(self.nr) {
                let (j, len) = (q * self.nr, self.nr.min(n - q * self.nr));
                for p in first..last {
                    let from = &values[p * n + j - start..][..len];
                    stream_run(from.as_ptr(), self.base.add(q * self.nr * self.k + p * self.nr), len);
                }
            }
            self.write_row_part(last * n, &values[last * n - start..]);
            // SAFETY: SSE is part of x86-64's baseline. The fence orders the
            // streaming stores above before whatever this thread does next
            // (the pool's hand-off that publishes the panels).
            #[cfg(target_arch = "x86_64")]
            std::arch::x86_64::_mm_sfence();
        }
    }

    /// `write` for elements within one row.
    ///
    /// # Safety
    /// As for `write`.
    unsafe fn write_row_part(&self, start: usize, values: &[f32]) {
        let (nr, n) = (self.nr, self.n);
        let (p, mut j) = (start / n, start % n);
        debug_assert!(values.is_empty() || j + values.len() <= n, "one row at a time");
        let mut rest = values;
        while !rest.is_empty() {
            // Up to the end of the panel j falls in.
            let len = rest.len().min(nr - j % nr);
            let to = (j / nr) * nr * self.k + p * nr + j % nr;
            // SAFETY: (p, j..j + len) lies in the matrix (checked by
            // `write`) and in one panel row, inside the panels `new`
            // checked; no other thread writes it (see # Safety).
            unsafe { copy_run(rest.as_ptr(), self.base.add(to), len) };
            rest = &rest[len..];
            j += len;
        }
    }
}

/// Copies `len` floats; whole panel rows as fixed-size moves (a call to
/// memmove per 32 floats cost more than the copy).
///
/// # Safety
/// As for `std::ptr::copy_nonoverlapping` with `len` floats.
#[inline(always)]
unsafe fn copy_run(from: *const f32, to: *mut f32, len: usize) {
    // SAFETY: the caller's contract, for arrays of exactly `len` floats.
    unsafe {
        match len {
            32 => *(to as *mut [f32; 32]) = *(from as *const [f32; 32]),
            16 => *(to as *mut [f32; 16]) = *(from as *const [f32; 16]),
            8 => *(to as *mut [f32; 8]) = *(from as *const [f32; 8]),
            _ => std::ptr::copy_nonoverlapping(from, to, len),
        }
    }
}

/// `copy_run` with streaming (non-temporal) stores where `to` is 16-byte
/// aligned on x86-64: the panels are only read by the next step's forward,
/// after the optimizer has streamed every weight, gradient and velocity
/// through the caches, so a write that first reads each line into cache
/// (what a plain store does) is wasted. Callers fence before publishing.
///
/// # Safety
/// As for `copy_run`.
#[inline(always)]
unsafe fn stream_run(from: *const f32, to: *mut f32, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if (to as usize).is_multiple_of(16) {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_stream_ps};
        let whole = len / 4 * 4;
        // SAFETY: SSE is part of x86-64's baseline; the caller vouches for
        // `len` floats at both pointers, and `to` is 16-byte aligned, so each
        // 4-float step stays aligned.
        unsafe {
            for i in (0..whole).step_by(4) {
                _mm_stream_ps(to.add(i), _mm_loadu_ps(from.add(i)));
            }
            return copy_run(from.add(whole), to.add(whole), len - whole);
        }
    }
    // SAFETY: the caller's contract.
    unsafe { copy_run(from, to, len) }
}

/// Transposes by 8×8 blocks: `out[p*stride + j] = columns[j][p]`.
pub(crate) mod transpose {
    /// Writes rows p < `len` rounded down to 8 of `out` (row stride
    /// `stride` ≥ columns.len(), which must be a multiple of 8) and returns
    /// how many it wrote: 0 without AVX; the caller does the rest.
    pub fn columns_to_rows(columns: &[&[f32]], out: &mut [f32], stride: usize, len: usize) -> usize {
        let done = len / 8 * 8;
        let w = columns.len();
        assert!(w.is_multiple_of(8) && stride >= w && columns.iter().all(|c| c.len() >= done));
        assert!(done == 0 || out.len() >= (done - 1) * stride + w);
        // Detected here rather than read from an `Isa`: a transpose is an
        // exact copy, so it may use AVX whichever kernels run.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX was just detected; the columns and `out` were
            // checked above against what the function reads and writes.
            unsafe { avx::columns_to_rows(columns, out.as_mut_ptr(), stride, done) };
            return done;
        }
        0
    }

    #[cfg(target_arch = "x86_64")]
    mod avx {
        use std::arch::x86_64::*;

        /// # Safety
        /// The CPU runs AVX; `columns.len()` and `len` are multiples of 8; each
        /// column holds `len` floats; `out` is valid for writes of
        /// `(len - 1) * stride + columns.len()` floats.
        #[target_feature(enable = "avx")]
        pub unsafe fn columns_to_rows(columns: &[&[f32]], out: *mut f32, stride: usize, len: usize) {
            // One 8-column block at a time: eight input streams stay in L1
            // even when the columns lie a power-of-two stride apart (rows of
            // a 512-wide matrix), which sixteen or more do not.
            for jb in (0..columns.len()).step_by(8) {
                for p in (0..len).step_by(8) {
                    let r: [__m256; 8] = std::array::from_fn(|j| _mm256_loadu_ps(columns[jb + j].as_ptr().add(p)));
                    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                    let rows = [
                        _mm256_permute2f128_ps::<0x20>(u0, u4),
                        _mm256_permute2f128_ps::<0x20>(u1, u5),
                        _mm256_permute2f128_ps::<0x20>(u2, u6),
                        _mm256_permute2f128_ps::<0x20>(u3, u7),
                        _mm256_permute2f128_ps::<0x31>(u0, u4),
                        _mm256_permute2f128_ps::<0x31>(u1, u5),
                        _mm256_permute2f128_ps::<0x31>(u2, u6),
                        _mm256_permute2f128_ps::<0x31>(u3, u7),
                    ];
                    for (i, row) in rows.iter().enumerate() {
                        _mm256_storeu_ps(out.add((p + i) * stride + jb), *row);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn unpacking_gives_back_the_packed_matrix() {
        for &(k, n, nr) in &[(7, 37, 32), (5, 64, 32), (3, 10, 16), (4, 5, 8), (1, 1, 8)] {
            let m = Array2::from_shape_fn((k, n), |(p, j)| (p * 100 + j) as f32);
            let mut panels = vec![f32::NAN; n.div_ceil(nr) * nr * k];
            pack_panels(m.view(), nr, &mut panels, false);
            let mut back = Array2::from_elem((k, n), f32::NAN);
            unpack_panels(&panels, nr, back.view_mut());
            assert_eq!(back, m, "{k}x{n} in panels of {nr}");
        }
    }

    /// Any split of a matrix into runs, written from any start, gives what
    /// `pack_panels` gives, padding zeros included.
    #[test]
    fn panel_writer_runs_match_pack_panels() {
        for &(k, n, nr) in &[(7, 37, 32), (5, 64, 32), (3, 10, 16), (9, 8, 8), (4, 5, 8), (1, 33, 32)] {
            let m = Array2::from_shape_fn((k, n), |(p, j)| (p * 100 + j) as f32);
            let mut want = vec![0f32; n.div_ceil(nr) * nr * k];
            pack_panels(m.view(), nr, &mut want, false);
            let flat = m.as_slice().unwrap();
            for run in [1, 3, nr - 1, n, n + 1, 2 * n + 5, k * n] {
                let mut got = vec![0f32; want.len()];
                let writer = PanelWriter::new(&mut got, k, n, nr);
                // Runs of `run` elements, from an offset so none starts a row.
                let starts: Vec<usize> = std::iter::once(0).chain((run / 2 + 1..k * n).step_by(run)).collect();
                for (i, &start) in starts.iter().enumerate() {
                    let end = starts.get(i + 1).copied().unwrap_or(k * n);
                    // SAFETY: one thread, each element once.
                    unsafe { writer.write(start, &flat[start..end]) };
                }
                assert_eq!(got, want, "k={k} n={n} nr={nr} run={run}");
            }
        }
    }

    fn check(src: ArrayView2<f32>, width: usize) {
        let (k, len) = src.dim();
        let panels = len.div_ceil(width);
        let mut dst = vec![f32::NAN; panels * width * k + 3];
        pack_panels(src, width, &mut dst, false);
        for q in 0..panels {
            for p in 0..k {
                for j in 0..width {
                    let want = if q * width + j < len { src[[p, q * width + j]] } else { 0.0 };
                    assert_eq!(dst[q * width * k + p * width + j], want);
                }
            }
        }
        assert!(dst[panels * width * k..].iter().all(|v| v.is_nan()), "wrote past the panels");
        let mut par = vec![f32::NAN; panels * width * k + 3];
        pack_panels(src, width, &mut par, true);
        assert_eq!(&par[..panels * width * k], &dst[..panels * width * k]);
    }

    #[test]
    fn packs_every_layout_with_zero_padding() {
        for (k, len) in [(1, 1), (7, 17), (17, 7), (5, 33), (129, 6), (3, 64), (40, 64), (257, 32)] {
            let m = Array2::from_shape_fn((k, len), |(i, j)| (i * 1000 + j) as f32);
            let t = Array2::from_shape_fn((len, k), |(j, i)| (i * 1000 + j) as f32);
            let strided = Array2::from_shape_fn((k, 2 * len), |(i, j)| (i * 1000 + j / 2) as f32);
            for width in [4, 5, 6, 8, 10, 12, 16, 32] {
                check(m.view(), width); // row-contiguous
                check(t.t(), width); // column-contiguous
                check(strided.slice(ndarray::s![.., ..;2]), width); // neither
            }
        }
    }
}
