//! OpenBLAS's sgemm, opened at run time from Debian's libopenblas0.

use libloading::{Library, Symbol};
use std::ffi::{c_char, c_float, c_int, CStr};

const ROW_MAJOR: c_int = 101;
pub const NO_TRANS: c_int = 111;
pub const TRANS: c_int = 112;

type Sgemm = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_float,
    *const c_float,
    c_int,
    *const c_float,
    c_int,
    c_float,
    *mut c_float,
    c_int,
);

pub struct OpenBlas {
    lib: Library,
}

impl OpenBlas {
    pub fn open() -> Result<OpenBlas, String> {
        let names = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"];
        for name in names {
            // SAFETY: loading OpenBLAS runs its initialisers, which only
            // probe the CPU and set up its thread pool.
            if let Ok(lib) = unsafe { Library::new(name) } {
                return Ok(OpenBlas { lib });
            }
        }
        Err(format!("OpenBLAS not found (tried {names:?}); install libopenblas-dev"))
    }

    pub fn set_threads(&self, n: usize) {
        // SAFETY: the symbol is `void openblas_set_num_threads(int)`.
        unsafe {
            if let Ok(f) = self.lib.get::<unsafe extern "C" fn(c_int)>(b"openblas_set_num_threads") {
                f(n as c_int);
            }
        }
    }

    /// The kernel family OpenBLAS picked for this CPU (e.g. "Zen", "Haswell").
    pub fn core_name(&self) -> String {
        // SAFETY: the symbol is `char *openblas_get_corename(void)`, which
        // returns a static NUL-terminated string.
        unsafe {
            match self.lib.get::<unsafe extern "C" fn() -> *const c_char>(b"openblas_get_corename") {
                Ok(f) => CStr::from_ptr(f()).to_string_lossy().into_owned(),
                Err(_) => "unknown".into(),
            }
        }
    }

    /// The build string (`openblas_get_config`: version, DYNAMIC_ARCH,
    /// kernel, MAX_THREADS…) and its threading: "sequential", "pthreads" or
    /// "OpenMP" (`openblas_get_parallel`).
    pub fn build(&self) -> String {
        // SAFETY: `char *openblas_get_config(void)` returns a static
        // NUL-terminated string; `int openblas_get_parallel(void)` takes nothing.
        unsafe {
            let config = match self.lib.get::<unsafe extern "C" fn() -> *const c_char>(b"openblas_get_config") {
                Ok(f) => CStr::from_ptr(f()).to_string_lossy().trim().to_string(),
                Err(_) => "OpenBLAS (no openblas_get_config)".into(),
            };
            let parallel = match self.lib.get::<unsafe extern "C" fn() -> c_int>(b"openblas_get_parallel") {
                Ok(f) => match f() {
                    0 => "sequential",
                    1 => "pthreads",
                    2 => "OpenMP",
                    _ => "unknown threading",
                },
                Err(_) => "unknown threading",
            };
            format!("{config} ({parallel})")
        }
    }

    /// The threads OpenBLAS will use (`openblas_get_num_threads`), to check
    /// that pinning took.
    pub fn threads(&self) -> Option<usize> {
        // SAFETY: the symbol is `int openblas_get_num_threads(void)`.
        unsafe {
            self.lib.get::<unsafe extern "C" fn() -> c_int>(b"openblas_get_num_threads").ok().map(|f| f() as usize)
        }
    }

    /// C = op(A)·op(B), row-major; `lda`/`ldb` are the stored row lengths.
    /// Panics unless the slices hold what cblas_sgemm reads and writes.
    #[allow(clippy::too_many_arguments)]
    pub fn sgemm(
        &self,
        ta: c_int,
        tb: c_int,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
    ) {
        assert!(matches!(ta, NO_TRANS | TRANS) && matches!(tb, NO_TRANS | TRANS), "sgemm: bad transpose flag");
        assert!([m, n, k, lda, ldb].iter().all(|&d| c_int::try_from(d).is_ok()), "sgemm: dimension above INT_MAX");
        // Stored shapes: op(A) is m×k and op(B) k×n, so A is k×m when transposed.
        let (a_rows, a_cols) = if ta == TRANS { (k, m) } else { (m, k) };
        let (b_rows, b_cols) = if tb == TRANS { (n, k) } else { (k, n) };
        let holds = |len: usize, rows: usize, ld: usize, cols: usize| {
            ld >= cols.max(1) && (rows == 0 || cols == 0 || len >= (rows - 1) * ld + cols)
        };
        assert!(holds(a.len(), a_rows, lda, a_cols) && holds(b.len(), b_rows, ldb, b_cols), "sgemm: A or B too short");
        assert!(c.len() >= m * n, "sgemm: C too short");
        // SAFETY: the symbol has the C signature `Sgemm` states (cblas.h); A,
        // B and C hold every element it reads or writes (asserted above).
        unsafe {
            let f: Symbol<Sgemm> = self.lib.get(b"cblas_sgemm").expect("cblas_sgemm");
            f(
                ROW_MAJOR,
                ta,
                tb,
                m as c_int,
                n as c_int,
                k as c_int,
                1.0,
                a.as_ptr(),
                lda as c_int,
                b.as_ptr(),
                ldb as c_int,
                0.0,
                c.as_mut_ptr(),
                n as c_int,
            );
        }
    }
}
