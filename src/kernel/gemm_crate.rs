//! The `gemm` crate's matrix product behind ndarray views: the one place the crate
//! hands raw pointers to another library's kernel.
//!
//! `gemm` (the engine of `faer`) runtime-dispatches to AVX2/FMA and AVX-512 kernels
//! for `f32`, `f64`, `Complex<f32>` and `Complex<f64>`, takes any row and column
//! strides (negative ones included), conjugates an operand while packing it, and
//! splits the product over the caller's rayon pool. Which products it runs is decided
//! in [`super::gemm`] by measurement.

use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar};

/// How many threads a product may use: a value handed down from the caller's
/// rayon pool, never read from the environment here.
#[derive(Clone, Copy, Debug)]
pub struct Threads(pub usize);

impl Threads {
    /// The calling thread's rayon pool (`RAYON_NUM_THREADS` or the pool it is
    /// installed in); one thread without the `rayon` feature.
    pub(crate) fn current() -> Self {
        #[cfg(feature = "rayon")]
        return Threads(rayon::current_num_threads());
        #[cfg(not(feature = "rayon"))]
        return Threads(1);
    }

    fn parallelism(self) -> gemm::Parallelism {
        match self.0 {
            0 | 1 => gemm::Parallelism::None,
            #[cfg(feature = "rayon")]
            n => gemm::Parallelism::Rayon(n),
            #[cfg(not(feature = "rayon"))]
            _ => gemm::Parallelism::None,
        }
    }
}

/// An element type `gemm` has kernels for (it falls back to a slow generic loop
/// for any other `'static` type, which this bound keeps out).
pub(crate) trait GemmElement: LinalgScalar + Send + Sync {}
impl GemmElement for f32 {}
impl GemmElement for f64 {}
impl GemmElement for num_complex::Complex<f32> {}
impl GemmElement for num_complex::Complex<f64> {}

/// `c ← c + op(a) · bᵀ` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`, where `op`
/// conjugates when `conj_a` is true.
pub(crate) fn gemm_nt_add<T: GemmElement>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    mut c: ArrayViewMut2<'_, T>,
    conj_a: bool,
    threads: Threads,
) {
    let (m, k) = a.dim();
    let n = b.nrows();
    assert_eq!(b.ncols(), k, "gemm_nt: a is {:?} and b is {:?}", a.dim(), b.dim());
    assert_eq!(c.dim(), (m, n), "gemm_nt: c is {:?}, not ({m}, {n})", c.dim());
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    let c_ptr = c.as_mut_ptr();
    // SAFETY: `gemm` reads `lhs[i, p] = lhs + i·lhs_rs + p·lhs_cs` for i < m, p < k
    // and `rhs[p, j] = rhs + p·rhs_rs + j·rhs_cs` for p < k, j < n, and writes
    // `dst[i, j] = dst + i·dst_rs + j·dst_cs` for i < m, j < n (it flips negative
    // strides itself). `a` is `(m, k)` and `b` is `(n, k)` (asserted above), so `bᵀ`
    // is `rhs` with its strides swapped: every address read is an element of the
    // views `a` and `b`, which ndarray guarantees valid for reads for the borrow.
    // `c` is `(m, n)` (asserted) and a mutable view, so every address written is one
    // of its elements, valid for writes, distinct from each other (ndarray forbids
    // overlapping mutable views) and not aliased by `a` or `b` (the borrow checker
    // holds `c` exclusively). `read_dst = true`: `c` becomes
    // `alpha · c + beta · op(a)·bᵀ`; its elements are initialised values. `T` is one of
    // the four types `gemm` dispatches on (`GemmElement`). The call returns only when
    // every thread it started has finished.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c_ptr,
            c_cs,
            c_rs,
            true,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_rs,
            b_cs,
            T::one(),
            T::one(),
            false,
            conj_a,
            false,
            threads.parallelism(),
        );
    }
}
