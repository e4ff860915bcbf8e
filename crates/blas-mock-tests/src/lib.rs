//! Mock CBLAS: every `cblas_*` symbol that ndarray's `blas` feature calls, each
//! counting its calls (per thread) and computing its result with a naive loop, so a
//! test can check both that BLAS was called and that the answer is right.
//!
//! Linked instead of a BLAS library when `ndarray-inner` is built with its `cblas`
//! feature (ndarray's `blas`, without `blas-src`).

use std::cell::Cell;
use std::ffi::{c_double, c_float, c_int};
use std::ops::{Add, Mul};

use cblas_sys::{c_double_complex, c_float_complex, CBLAS_LAYOUT, CBLAS_TRANSPOSE};
use num_complex::Complex;
use num_traits::Zero;

/// Calls of each kind of routine on this thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// `cblas_?gemm`.
    pub gemm: usize,
    /// `cblas_?gemv`.
    pub gemv: usize,
    /// `cblas_?dot`.
    pub dot: usize,
}

thread_local! {
    static CALLS: Cell<Calls> = const { Cell::new(Calls { gemm: 0, gemv: 0, dot: 0 }) };
}

/// The calls made on this thread so far.
pub fn calls() -> Calls {
    CALLS.with(Cell::get)
}

/// The calls that `f` makes on this thread.
pub fn calls_during<R>(f: impl FnOnce() -> R) -> (R, Calls) {
    let before = calls();
    let r = f();
    let after = calls();
    (
        r,
        Calls {
            gemm: after.gemm - before.gemm,
            gemv: after.gemv - before.gemv,
            dot: after.dot - before.dot,
        },
    )
}

fn count(f: impl FnOnce(&mut Calls)) {
    CALLS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

trait Scalar: Copy + Add<Output = Self> + Mul<Output = Self> + Zero + PartialEq {
    fn conj(self) -> Self;
}
impl Scalar for f32 {
    fn conj(self) -> Self {
        self
    }
}
impl Scalar for f64 {
    fn conj(self) -> Self {
        self
    }
}
impl Scalar for Complex<f32> {
    fn conj(self) -> Self {
        Complex::conj(&self)
    }
}
impl Scalar for Complex<f64> {
    fn conj(self) -> Self {
        Complex::conj(&self)
    }
}

/// Element `(i, j)` of the matrix `op(X)` stored at `x` with leading dimension `ld`.
///
/// # Safety
/// `x` must point to a matrix of that layout and size, as the BLAS contract says.
unsafe fn at<T: Scalar>(x: *const T, ld: c_int, layout: CBLAS_LAYOUT, trans: CBLAS_TRANSPOSE, i: usize, j: usize) -> T {
    let (i, j) = match trans {
        CBLAS_TRANSPOSE::CblasNoTrans => (i, j),
        _ => (j, i),
    };
    let ld = ld as usize;
    let offset = match layout {
        CBLAS_LAYOUT::CblasRowMajor => i * ld + j,
        CBLAS_LAYOUT::CblasColMajor => i + j * ld,
    };
    // SAFETY: in bounds by the caller's BLAS contract.
    let v = unsafe { *x.add(offset) };
    match trans {
        CBLAS_TRANSPOSE::CblasConjTrans => v.conj(),
        _ => v,
    }
}

/// `C ← alpha op(A) op(B) + beta C`, naively.
///
/// # Safety
/// The BLAS `gemm` contract on every pointer and size.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm<T: Scalar>(
    layout: CBLAS_LAYOUT,
    ta: CBLAS_TRANSPOSE,
    tb: CBLAS_TRANSPOSE,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: T,
    a: *const T,
    lda: c_int,
    b: *const T,
    ldb: c_int,
    beta: T,
    c: *mut T,
    ldc: c_int,
) {
    count(|c| c.gemm += 1);
    let ldc = ldc as usize;
    for i in 0..m as usize {
        for j in 0..n as usize {
            let mut s = T::zero();
            for p in 0..k as usize {
                // SAFETY: the gemm contract.
                s = s + unsafe { at(a, lda, layout, ta, i, p) * at(b, ldb, layout, tb, p, j) };
            }
            let off = match layout {
                CBLAS_LAYOUT::CblasRowMajor => i * ldc + j,
                CBLAS_LAYOUT::CblasColMajor => i + j * ldc,
            };
            // SAFETY: the gemm contract; beta == 0 must not read C.
            unsafe {
                let old = *c.add(off);
                let scaled = if beta == T::zero() { T::zero() } else { beta * old };
                *c.add(off) = alpha * s + scaled;
            }
        }
    }
}

/// The `i`-th element of a BLAS vector with increment `inc` (the pointer is to the
/// lowest address, so a negative increment counts from the far end).
///
/// # Safety
/// The BLAS vector contract.
unsafe fn vec_at<T: Copy>(x: *const T, n: usize, inc: c_int, i: usize) -> *const T {
    let step = inc.unsigned_abs() as usize;
    let idx = if inc >= 0 { i } else { n - 1 - i };
    // SAFETY: the BLAS vector contract.
    unsafe { x.add(idx * step) }
}

/// # Safety
/// The BLAS `gemv` contract.
#[allow(clippy::too_many_arguments)]
unsafe fn gemv<T: Scalar>(
    layout: CBLAS_LAYOUT,
    trans: CBLAS_TRANSPOSE,
    m: c_int,
    n: c_int,
    alpha: T,
    a: *const T,
    lda: c_int,
    x: *const T,
    incx: c_int,
    beta: T,
    y: *mut T,
    incy: c_int,
) {
    count(|c| c.gemv += 1);
    let (rows, cols) = match trans {
        CBLAS_TRANSPOSE::CblasNoTrans => (m as usize, n as usize),
        _ => (n as usize, m as usize),
    };
    for i in 0..rows {
        let mut s = T::zero();
        for j in 0..cols {
            // SAFETY: the gemv contract.
            s = s + unsafe { at(a, lda, layout, trans, i, j) * *vec_at(x, cols, incx, j) };
        }
        // SAFETY: the gemv contract.
        unsafe {
            let yi = vec_at(y, rows, incy, i) as *mut T;
            let scaled = if beta == T::zero() { T::zero() } else { beta * *yi };
            *yi = alpha * s + scaled;
        }
    }
}

/// # Safety
/// The BLAS `dot` contract.
unsafe fn dot<T: Scalar>(n: c_int, x: *const T, incx: c_int, y: *const T, incy: c_int) -> T {
    count(|c| c.dot += 1);
    let n = n as usize;
    let mut s = T::zero();
    for i in 0..n {
        // SAFETY: the dot contract.
        s = s + unsafe { *vec_at(x, n, incx, i) * *vec_at(y, n, incy, i) };
    }
    s
}

macro_rules! real_symbols {
    ($t:ty, $gemm:ident, $gemv:ident, $dot:ident) => {
        /// Mock of the CBLAS routine of this name.
        ///
        /// # Safety
        /// The CBLAS contract of the routine.
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $gemm(
            layout: CBLAS_LAYOUT,
            ta: CBLAS_TRANSPOSE,
            tb: CBLAS_TRANSPOSE,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: $t,
            a: *const $t,
            lda: c_int,
            b: *const $t,
            ldb: c_int,
            beta: $t,
            c: *mut $t,
            ldc: c_int,
        ) {
            // SAFETY: forwarded contract.
            unsafe { gemm(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        }

        /// Mock of the CBLAS routine of this name.
        ///
        /// # Safety
        /// The CBLAS contract of the routine.
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $gemv(
            layout: CBLAS_LAYOUT,
            trans: CBLAS_TRANSPOSE,
            m: c_int,
            n: c_int,
            alpha: $t,
            a: *const $t,
            lda: c_int,
            x: *const $t,
            incx: c_int,
            beta: $t,
            y: *mut $t,
            incy: c_int,
        ) {
            // SAFETY: forwarded contract.
            unsafe { gemv(layout, trans, m, n, alpha, a, lda, x, incx, beta, y, incy) }
        }

        /// Mock of the CBLAS routine of this name.
        ///
        /// # Safety
        /// The CBLAS contract of the routine.
        #[no_mangle]
        pub unsafe extern "C" fn $dot(n: c_int, x: *const $t, incx: c_int, y: *const $t, incy: c_int) -> $t {
            // SAFETY: forwarded contract.
            unsafe { dot(n, x, incx, y, incy) }
        }
    };
}

real_symbols!(c_float, cblas_sgemm, cblas_sgemv, cblas_sdot);
real_symbols!(c_double, cblas_dgemm, cblas_dgemv, cblas_ddot);

macro_rules! complex_gemm {
    ($t:ty, $c:ty, $gemm:ident) => {
        /// Mock of the CBLAS routine of this name.
        ///
        /// # Safety
        /// The CBLAS contract of the routine.
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $gemm(
            layout: CBLAS_LAYOUT,
            ta: CBLAS_TRANSPOSE,
            tb: CBLAS_TRANSPOSE,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: *const $c,
            a: *const $c,
            lda: c_int,
            b: *const $c,
            ldb: c_int,
            beta: *const $c,
            c: *mut $c,
            ldc: c_int,
        ) {
            // SAFETY: `[re, im]` and `Complex { re, im }` have one layout; the
            // rest is the forwarded contract.
            unsafe {
                let alpha = *alpha.cast::<Complex<$t>>();
                let beta = *beta.cast::<Complex<$t>>();
                gemm(
                    layout,
                    ta,
                    tb,
                    m,
                    n,
                    k,
                    alpha,
                    a.cast::<Complex<$t>>(),
                    lda,
                    b.cast::<Complex<$t>>(),
                    ldb,
                    beta,
                    c.cast::<Complex<$t>>(),
                    ldc,
                )
            }
        }
    };
}

complex_gemm!(f32, c_float_complex, cblas_cgemm);
complex_gemm!(f64, c_double_complex, cblas_zgemm);
