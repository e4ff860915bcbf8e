//! Half precision (`half::f16`, `half::bf16`): NumPy's rule for float16, products
//! summed in `f32` and rounded once to the half type at the end.
//!
//! NumPy's `HALF_dot` widens each element to float32, sums the products in one
//! float32 running sum, and rounds the sum to float16 once; a float16 running sum
//! would lose most of a long sum (4096 × 0.1 gives 409.5 the float32 way, 256 the
//! float16 way). Here blocks of both operands are widened to `f32` and the `f32`
//! kernels run on them (GEMM, matrix-vector or dot products, as for `f32`), then
//! each sum is rounded once. The products of two half values are exact in `f32`
//! (11- or 8-bit significands, short of `f32`'s 24), so only the order of the `f32` sum differs from
//! NumPy's left-to-right loop; after the rounding to 16 bits the two agree, or
//! lie one unit in the last place of the half type apart when the `f32` sums
//! straddle a rounding boundary (or more where the sum cancels: the `f32` error
//! bound `γ_K Σ|aₖbₖ|` then exceeds the result's ulp).

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use ndarray::{s, ArrayView2, ArrayViewMut2};

use super::gemm::{gemm_nt, Output};
use crate::paths::{record, Path};

/// A 16-bit float that widens to and rounds from `f32`.
pub(crate) trait HalfFloat: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn from_f32(x: f32) -> Self;
    /// `dst[i] = src[i]` widened (F16C on x86-64 for `f16`, detected at run time by `half`).
    fn widen_slice(src: &[Self], dst: &mut [f32]);
    /// `dst[i] = src[i]` rounded to nearest, ties to even.
    fn round_slice(src: &[f32], dst: &mut [Self]);
}

macro_rules! half_float {
    ($($t:ty),*) => {$(
        impl HalfFloat for $t {
            #[inline]
            fn to_f32(self) -> f32 { <$t>::to_f32(self) }
            #[inline]
            fn from_f32(x: f32) -> Self { <$t>::from_f32(x) }
            fn widen_slice(src: &[Self], dst: &mut [f32]) { crate::search::widen_half(src, dst) }
            fn round_slice(src: &[f32], dst: &mut [Self]) { dst.convert_from_f32_slice(src) }
        }
    )*};
}
half_float!(f16, bf16);

/// Rows of `a` widened at a time: with [`B_BLOCK_ROWS`], GEMMs of at least
/// 512 x 2048 x K keep matrixmultiply near its full speed, while `b` is widened
/// once per 512 rows of `a` (a pass of `N·K` against the block's `512·N·K`
/// multiply-adds) and the scratch stays a few MiB.
pub const A_BLOCK_ROWS: usize = 512;
/// Rows of `b` widened at a time; see [`A_BLOCK_ROWS`].
pub const B_BLOCK_ROWS: usize = 2048;

/// `c ← a · bᵀ` for half-precision `a: (m, k)`, `b: (n, k)`, `c: (m, n)`: `f32`
/// sums of the widened blocks, each rounded once. `c` is only written.
pub(crate) fn gemm_nt_widened<H: HalfFloat>(a: ArrayView2<'_, H>, b: ArrayView2<'_, H>, mut c: ArrayViewMut2<'_, H>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m == 0 || n == 0 {
        return;
    }
    record(Path::HalfWidened);
    let mut a32 = Vec::new();
    let mut b32 = Vec::new();
    let mut c32 = Vec::new();
    for i0 in (0..m).step_by(A_BLOCK_ROWS) {
        let i1 = (i0 + A_BLOCK_ROWS).min(m);
        let a_blk = widen(a.slice(s![i0..i1, ..]), &mut a32);
        for j0 in (0..n).step_by(B_BLOCK_ROWS) {
            let j1 = (j0 + B_BLOCK_ROWS).min(n);
            let b_blk = if i0 == 0 || n > B_BLOCK_ROWS {
                widen(b.slice(s![j0..j1, ..]), &mut b32)
            } else {
                // `b` fits one block: widened once, for the first block of `a`.
                ArrayView2::from_shape((n, k), &b32[..]).expect("b32 holds b")
            };
            let mut c_blk = scratch(&mut c32, (i1 - i0, j1 - j0));
            gemm_nt(a_blk, b_blk, c_blk.view_mut(), false, Output::Unknown);
            round_into(c_blk.view(), c.slice_mut(s![i0..i1, j0..j1]));
        }
    }
}

/// `x` widened into `buf`, as a C-order view.
fn widen<'b, H: HalfFloat>(x: ArrayView2<'_, H>, buf: &'b mut Vec<f32>) -> ArrayView2<'b, f32> {
    let (rows, k) = x.dim();
    buf.clear();
    buf.resize(rows * k, 0.0);
    match x.as_slice() {
        Some(src) => H::widen_slice(src, buf),
        None => {
            for (dst, row) in buf.chunks_exact_mut(k.max(1)).zip(x.rows()) {
                match row.as_slice() {
                    Some(src) => H::widen_slice(src, dst),
                    None => dst.iter_mut().zip(row).for_each(|(d, &s)| *d = s.to_f32()),
                }
            }
        }
    }
    ArrayView2::from_shape((rows, k), &buf[..]).expect("buf holds the block")
}

/// A `shape` scratch in `buf`'s allocation (its old values are overwritten by the GEMM).
fn scratch(buf: &mut Vec<f32>, shape: (usize, usize)) -> ArrayViewMut2<'_, f32> {
    buf.resize(shape.0 * shape.1, 0.0);
    ArrayViewMut2::from_shape(shape, &mut buf[..shape.0 * shape.1]).expect("buf holds the block")
}

/// `dst ← src`, each sum rounded once to the half type.
fn round_into<H: HalfFloat>(src: ArrayView2<'_, f32>, mut dst: ArrayViewMut2<'_, H>) {
    for (s_row, mut d_row) in src.rows().into_iter().zip(dst.rows_mut()) {
        match (s_row.as_slice(), d_row.as_slice_mut()) {
            (Some(s), Some(d)) => H::round_slice(s, d),
            _ => d_row.zip_mut_with(&s_row, |d, &s| *d = H::from_f32(s)),
        }
    }
}

/// The product of two half values, rounded once: the product is exact in `f32`
/// (short significands; for `bf16` unless it leaves `f32`'s normal range), so
/// this is a correctly rounded half-precision multiply, as NumPy's.
#[inline]
pub(crate) fn mul<H: HalfFloat>(x: H, y: H) -> H {
    H::from_f32(x.to_f32() * y.to_f32())
}
