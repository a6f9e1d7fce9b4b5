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
            // SAFETY: loading a well-known system library whose initialisers are benign.
            if let Ok(lib) = unsafe { Library::new(name) } {
                return Ok(OpenBlas { lib });
            }
        }
        Err(format!("OpenBLAS not found (tried {names:?}); install libopenblas-dev"))
    }

    pub fn set_threads(&self, n: usize) {
        // SAFETY: documented OpenBLAS entry point taking an int.
        unsafe {
            if let Ok(f) = self.lib.get::<unsafe extern "C" fn(c_int)>(b"openblas_set_num_threads") {
                f(n as c_int);
            }
        }
    }

    /// The kernel family OpenBLAS picked for this CPU (e.g. "Zen", "Haswell").
    pub fn core_name(&self) -> String {
        // SAFETY: returns a static NUL-terminated string.
        unsafe {
            match self.lib.get::<unsafe extern "C" fn() -> *const c_char>(b"openblas_get_corename") {
                Ok(f) => CStr::from_ptr(f()).to_string_lossy().into_owned(),
                Err(_) => "unknown".into(),
            }
        }
    }

    /// C = op(A)·op(B), row-major; `lda`/`ldb` are the stored row lengths.
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
        // SAFETY: the caller passes buffers sized for the given dimensions.
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
