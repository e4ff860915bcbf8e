//! Which kernel computes `C = A · Bᵀ` for each element type.
//!
//! Floats and complex numbers go to a GEMM through ndarray ([`gemm`]); integers go
//! to the crate's own wrapping kernel ([`integer`]), because ndarray's generic
//! integer product is a plain triple loop that also panics on overflow in debug builds.
//! Half-precision floats are widened to `f32` blocks for the `f32` kernels and
//! rounded once ([`half`]); booleans are packed into bit words ([`boolean`]).

pub(crate) mod boolean;
pub(crate) mod gemm;
pub(crate) mod gemm_crate;
pub(crate) mod half;
pub(crate) mod integer;
pub(crate) mod tiny;

use std::fmt::Debug;

use ndarray::{ArrayView2, ArrayViewMut2};
use num_complex::Complex;

pub(crate) use gemm_crate::Threads;

/// The element types `inner` accepts: `f32`, `f64`, `Complex<f32>`, `Complex<f64>`,
/// every primitive integer (`i8`..`i64`, `isize`, `u8`..`u64`, `usize`), the
/// half-precision floats `half::f16` and `half::bf16`, and `bool`.
///
/// Sealed: the crate implements it for exactly these types, each with its kernel,
/// and each with NumPy's semantics:
/// - Integer products and sums wrap on overflow, as NumPy's do, in every build profile.
/// - `f16` and `bf16` sum their products in `f32` and round once to the half type
///   at the end, as NumPy's float16 `inner` does (a half-precision running sum would
///   lose most of a long sum). The result equals NumPy's, or lies one unit in the
///   last place apart where the `f32` sums, added in different orders, round to
///   neighbouring half values; the `f32` sum's error bound is `γ_K Σ|aₖbₖ|`
///   (`γ_K = K·2⁻²⁴ / (1 − K·2⁻²⁴)`), so cancelling sums can differ by more.
///   NumPy has no bfloat16: `bf16` follows the same rule (as `ml_dtypes` does).
/// - `bool` gives the OR over `k` of the ANDs, a `bool`, as NumPy's.
///
/// ```
/// use half::f16;
/// use ndarray::{array, Array1};
/// use ndarray_inner::InnerExt;
///
/// let tenth = Array1::from_elem(4096, f16::from_f32(0.1));
/// assert_eq!(tenth.inner(&tenth.mapv(|_| f16::ONE)).into_scalar(), f16::from_f32(409.5));
/// let any_shared = array![[true, false], [false, false]].inner(&array![[true, true]]);
/// assert_eq!(any_shared, array![[true], [false]]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an element type of `inner`",
    label = "`inner` is not implemented for arrays of `{Self}`",
    note = "the element types are f32, f64, Complex<f32>, Complex<f64>, half::f16, half::bf16, bool and the primitive integers (i8..i64, isize, u8..u64, usize)",
    note = "convert the array first, for example `a.mapv(|x| x as f64)` or `a.mapv(f64::from)`"
)]
pub trait InnerScalar: Copy + Debug + PartialEq + Send + Sync + 'static + sealed::Kernel {}

pub(crate) mod sealed {
    use super::*;

    /// The per-type operations; public in a private module, so users cannot name,
    /// call or implement it.
    ///
    /// `Zeroable`: every element type's [`empty_sum`](Kernel::empty_sum) is all zero
    /// bits, so outputs start as zeroed allocations (`src/output.rs`).
    pub trait Kernel: Sized + bytemuck::Zeroable {
        /// What an empty sum gives: zero, `false` for `bool`.
        fn empty_sum() -> Self;
        /// `self * rhs`, wrapping for integers.
        fn mul(self, rhs: Self) -> Self;
        /// The complex conjugate; the identity for real types.
        fn conj(self) -> Self;
        /// `c ← op(a) · bᵀ` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`, where `op`
        /// conjugates when `conj` is true. `c` is overwritten, never read.
        fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool);
        /// [`inner_2d`](Kernel::inner_2d) into a `c` known to hold zeros (a fresh
        /// output): the `gemm` crate then adds its sums to those `+0`s instead of
        /// zeroing `c` first, which keeps NumPy's `+0` for sums of `-0` products
        /// without a pass over the output.
        fn inner_2d_zeroed(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool) {
            Self::inner_2d(a, b, c, conj)
        }
        /// [`inner_2d`](Kernel::inner_2d) without conjugation, on at most `threads`
        /// threads where the type's kernel takes a thread count (the `gemm` crate's):
        /// for callers that split the work over their threads themselves.
        fn inner_2d_on(
            a: ArrayView2<'_, Self>,
            b: ArrayView2<'_, Self>,
            c: ArrayViewMut2<'_, Self>,
            _threads: Threads,
        ) {
            Self::inner_2d(a, b, c, false)
        }
    }
}

macro_rules! real_float {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for $t {
            #[inline]
            fn empty_sum() -> Self { 0.0 }
            #[inline]
            fn mul(self, rhs: Self) -> Self { self * rhs }
            #[inline]
            fn conj(self) -> Self { self }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
                gemm::gemm_nt(a, b, c, false, gemm::Output::Unknown);
            }
            fn inner_2d_zeroed(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
                gemm::gemm_nt(a, b, c, false, gemm::Output::Zeroed);
            }
            fn inner_2d_on(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, threads: Threads) {
                gemm::gemm_nt_on(a, b, c, false, gemm::Output::Unknown, threads);
            }
        }
        impl InnerScalar for $t {}
    )*};
}

macro_rules! complex_float {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for Complex<$t> {
            #[inline]
            fn empty_sum() -> Self { Complex::new(0.0, 0.0) }
            #[inline]
            fn mul(self, rhs: Self) -> Self { self * rhs }
            #[inline]
            fn conj(self) -> Self { Complex::conj(&self) }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool) {
                gemm::gemm_nt(a, b, c, conj, gemm::Output::Unknown);
            }
            fn inner_2d_zeroed(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool) {
                gemm::gemm_nt(a, b, c, conj, gemm::Output::Zeroed);
            }
        }
        impl InnerScalar for Complex<$t> {}
    )*};
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for $t {
            #[inline]
            fn empty_sum() -> Self { 0 }
            #[inline]
            fn mul(self, rhs: Self) -> Self { self.wrapping_mul(rhs) }
            #[inline]
            fn conj(self) -> Self { self }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
                integer::gemm_nt(a, b, c);
            }
        }
        impl InnerScalar for $t {}
    )*};
}

real_float!(f32, f64);
complex_float!(f32, f64);
integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! half_float {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for $t {
            #[inline]
            fn empty_sum() -> Self { <$t>::ZERO }
            #[inline]
            fn mul(self, rhs: Self) -> Self { half::mul(self, rhs) }
            #[inline]
            fn conj(self) -> Self { self }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
                half::gemm_nt_widened(a, b, c);
            }
        }
        impl InnerScalar for $t {}
    )*};
}

half_float!(::half::f16, ::half::bf16);

impl sealed::Kernel for bool {
    #[inline]
    fn empty_sum() -> Self {
        false
    }
    #[inline]
    fn mul(self, rhs: Self) -> Self {
        self && rhs
    }
    #[inline]
    fn conj(self) -> Self {
        self
    }
    fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
        boolean::gemm_nt(a, b, c);
    }
}
impl InnerScalar for bool {}
