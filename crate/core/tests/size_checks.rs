//! Sizes that wrap around usize are refused, not trusted: release builds
//! do not check overflow, and a wrapped length once passed the checks the
//! unsafe kernels rely on (found by an audit: SIGSEGV in release). In test
//! builds the old arithmetic panicked on overflow instead, so each test
//! names the check's own message. Also two operand cases that `gemm` took
//! the wrong way.

use ferro_core::kernels::pack::{pack_panels, PanelWriter};
use ferro_core::kernels::{gemm, Epilogue, GemmBuffers, Isa, PackedB};
use ndarray::{s, Array2};

/// The multiplicative inverse of an odd `o` modulo 2^64 (Newton's iteration).
fn inverse_mod_2_64(o: usize) -> usize {
    let mut x: usize = 1;
    for _ in 0..7 {
        x = x.wrapping_mul(2usize.wrapping_sub(o.wrapping_mul(x)));
    }
    x
}

fn message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_depth_whose_sliver_lengths_wrap_is_refused() {
    for isa in Isa::available() {
        let kernel = isa.kernel_for(8);
        let mut c = vec![0f32; kernel.mr() * kernel.nr()];
        // k·MR and k·NR wrap to 0: empty slivers would pass.
        let run = std::panic::catch_unwind(|| {
            kernel.run_into(1 << 63, &[], &[], kernel.nr(), &mut c.clone(), kernel.nr(), false)
        });
        assert_eq!(message(run.unwrap_err()), "microkernel slivers too short", "{isa:?}");
        c.fill(0.0);
    }
}

#[test]
fn a_c_stride_whose_tile_length_wraps_is_refused() {
    for isa in Isa::available() {
        let kernel = isa.kernel_for(8);
        let (mr, nr) = (kernel.mr(), kernel.nr());
        if (mr - 1) % 2 == 0 {
            continue;
        }
        // (MR−1)·rs_c wraps to 1: a tile of NR + 1 floats would pass, and row 1 go anywhere.
        let rs_c = inverse_mod_2_64(mr - 1);
        let (a, b) = (vec![1f32; mr], vec![1f32; nr]);
        let run = std::panic::catch_unwind(|| kernel.run_into(1, &a, &b, nr, &mut vec![0f32; nr + 1], rs_c, false));
        assert_eq!(message(run.unwrap_err()), "microkernel C tile too short", "{isa:?} mr={mr}");
    }
}

#[test]
fn panels_whose_size_wraps_are_refused() {
    let (k, n) = (1usize << 59, (1usize << 59) + 1);
    let run = std::panic::catch_unwind(|| {
        let _ = PanelWriter::new(&mut [], k, n, 32);
    });
    assert_eq!(message(run.unwrap_err()), "panel writer: panels too small");
}

#[test]
fn one_strided_row_times_a_narrow_b() {
    // A 1×32 view whose columns are 2 apart, and B of 5 columns (the narrow path).
    let big = Array2::from_shape_fn((4, 64), |(i, j)| (i * 64 + j) as f32 * 0.5);
    let a = big.slice(s![0..1, ..;2]);
    let b = Array2::from_shape_fn((32, 5), |(i, j)| ((i + 2 * j) % 7) as f32 - 3.0);
    let want = a.dot(&b);
    for isa in Isa::available() {
        let mut c = Array2::<f32>::zeros((1, 5));
        gemm(isa, a, b.view(), c.view_mut(), Epilogue::None, &mut GemmBuffers::default());
        assert_eq!(c, want, "{isa:?}");
    }
}

#[test]
fn kept_panels_of_a_square_w_do_not_stand_for_its_transpose() {
    let n = 40;
    let w = Array2::from_shape_fn((n, n), |(i, j)| (i * n + j) as f32 * 0.01);
    let x = Array2::from_shape_fn((64, n), |(i, j)| ((i + j) % 7) as f32);
    for isa in Isa::available() {
        let mut bufs = GemmBuffers::default();
        let mut kept = PackedB::for_matrix(isa, w.view()).unwrap();
        let (panels, nr) = kept.panels_mut();
        pack_panels(w.view(), nr, panels, false);
        kept.set_fresh(true);
        bufs.keep(kept);
        // Same address and shape as W, other strides: W's panels must not be used.
        let mut c = Array2::zeros((64, n));
        gemm(isa, x.view(), w.t(), c.view_mut(), Epilogue::None, &mut bufs);
        let diff = (&c - &x.dot(&w.t())).mapv(f32::abs).fold(0f32, |m, &v| m.max(v));
        assert!(diff < 1e-2, "{isa:?}: max |C − x·Wᵀ| = {diff}");
    }
}
