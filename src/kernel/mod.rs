//! Which kernel computes `C = A · Bᵀ` for each element type.
//!
//! Floats and complex numbers go to a GEMM through ndarray ([`gemm`]); integers go
//! to the crate's own wrapping kernel ([`integer`]), because ndarray's generic
//! integer product is a plain triple loop that also panics on overflow in debug builds.

pub(crate) mod gemm;
pub(crate) mod integer;

use std::fmt::Debug;

use ndarray::{ArrayView2, ArrayViewMut2};
use num_complex::Complex;
use num_traits::Zero;

/// The element types `inner` accepts: `f32`, `f64`, `Complex<f32>`, `Complex<f64>`,
/// and every primitive integer (`i8`..`i64`, `isize`, `u8`..`u64`, `usize`).
///
/// Sealed: the crate implements it for exactly these types, each with its kernel.
/// Integer products and sums wrap on overflow, as NumPy's do, in every build profile.
pub trait InnerScalar: Copy + Debug + PartialEq + Zero + Send + Sync + 'static + sealed::Kernel {}

pub(crate) mod sealed {
    use super::*;

    /// The per-type operations; public in a private module, so users cannot name,
    /// call or implement it.
    pub trait Kernel: Sized {
        /// `self * rhs`, wrapping for integers.
        fn mul(self, rhs: Self) -> Self;
        /// The complex conjugate; the identity for real types.
        fn conj(self) -> Self;
        /// `c ← op(a) · bᵀ` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`, where `op`
        /// conjugates when `conj` is true. `c` is overwritten, never read.
        fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool);
    }
}

macro_rules! real_float {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for $t {
            #[inline]
            fn mul(self, rhs: Self) -> Self { self * rhs }
            #[inline]
            fn conj(self) -> Self { self }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, _conj: bool) {
                gemm::gemm_nt(a, b, c);
            }
        }
        impl InnerScalar for $t {}
    )*};
}

macro_rules! complex_float {
    ($($t:ty => $four_real:expr),*) => {$(
        impl sealed::Kernel for Complex<$t> {
            #[inline]
            fn mul(self, rhs: Self) -> Self { self * rhs }
            #[inline]
            fn conj(self) -> Self { Complex::conj(&self) }
            fn inner_2d(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>, c: ArrayViewMut2<'_, Self>, conj: bool) {
                if $four_real && !cfg!(feature = "cblas") && gemm::is_four_real_sized(a.nrows(), b.nrows(), a.ncols()) {
                    gemm::complex_nt(a, b, c, conj);
                } else if conj {
                    gemm::gemm_conj_nt(a, b, c);
                } else {
                    gemm::gemm_nt(a, b, c);
                }
            }
        }
        impl InnerScalar for Complex<$t> {}
    )*};
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl sealed::Kernel for $t {
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
// Complex<f64> through four real GEMMs: 5-8% faster than matrixmultiply's zgemm
// on one thread (1024²: 171 ms against 180 ms), equal on two, and the Hermitian
// product needs no conjugated copy. Complex<f32> measured 1.5x slower that way
// (strided f32 packing), so it keeps the complex GEMM. BLAS builds keep zgemm.
complex_float!(f32 => false, f64 => true);
integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);
