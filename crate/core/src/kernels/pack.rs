//! Packing: copies an operand into the panel layout the microkernel streams.
//!
//! `pack_panels(src, W, dst)` takes a k×len matrix and writes panels of W
//! columns, panel q holding `dst[q*W*k + p*W + j] = src[p, q*W + j]`, with
//! zeros past `len`. B (k×n) is packed with W = NR as it is; A (m×k) is
//! packed with W = MR through its transposed *view*. Transposed operands are
//! therefore only a matter of strides: no transpose is ever materialised.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Packs every panel of `src` into `dst` (which must hold `panels(len, W)·W·k`
/// floats), on the current rayon pool when `parallel`.
pub fn pack_panels(src: ArrayView2<f32>, width: usize, dst: &mut [f32], parallel: bool) {
    let (k, len) = src.dim();
    let panel_len = width * k;
    let panels = len.div_ceil(width);
    assert!(dst.len() >= panels * panel_len, "pack buffer too small");
    let dst = &mut dst[..panels * panel_len];
    if panel_len == 0 {
        return;
    }
    let pack_one = |(q, panel): (usize, &mut [f32])| pack_panel(&src, width, q * width, panel);
    if parallel {
        dst.par_chunks_mut(panel_len).enumerate().for_each(pack_one);
    } else {
        dst.chunks_mut(panel_len).enumerate().for_each(pack_one);
    }
}

/// One panel: columns `col0 .. col0 + width` of `src`.
fn pack_panel(src: &ArrayView2<f32>, width: usize, col0: usize, panel: &mut [f32]) {
    let (k, len) = src.dim();
    let cols = width.min(len - col0);
    if src.strides()[1] == 1 {
        // Rows of src are contiguous (B row-major, or A column-major).
        for (p, out) in panel.chunks_exact_mut(width).enumerate() {
            let row = src.row(p);
            let row = row.as_slice().expect("rows are contiguous");
            out[..cols].copy_from_slice(&row[col0..col0 + cols]);
            out[cols..].fill(0.0);
        }
    } else if src.strides()[0] == 1 {
        // Columns of src are contiguous (A row-major, or B transposed): scatter each.
        for j in 0..width {
            if j < cols {
                let col = src.column(col0 + j);
                let col = col.as_slice().expect("columns are contiguous");
                for (p, &v) in col.iter().enumerate() {
                    panel[p * width + j] = v;
                }
            } else {
                for p in 0..k {
                    panel[p * width + j] = 0.0;
                }
            }
        }
    } else {
        for (p, out) in panel.chunks_exact_mut(width).enumerate() {
            for (j, slot) in out.iter_mut().enumerate() {
                *slot = if j < cols { src[[p, col0 + j]] } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

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
        for (k, len) in [(1, 1), (7, 17), (17, 7), (5, 33), (129, 6)] {
            let m = Array2::from_shape_fn((k, len), |(i, j)| (i * 1000 + j) as f32);
            let t = Array2::from_shape_fn((len, k), |(j, i)| (i * 1000 + j) as f32);
            let strided = Array2::from_shape_fn((k, 2 * len), |(i, j)| (i * 1000 + j / 2) as f32);
            for width in [6, 16] {
                check(m.view(), width); // row-contiguous
                check(t.t(), width); // column-contiguous
                check(strided.slice(ndarray::s![.., ..;2]), width); // neither
            }
        }
    }
}
