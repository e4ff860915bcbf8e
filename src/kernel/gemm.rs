//! Floats and complex numbers: one GEMM through ndarray (`matrixmultiply`, or BLAS
//! with the `blas` feature), with direct paths where GEMM's setup would dominate.

use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, LinalgScalar};
use num_complex::Complex;

use super::sealed::Kernel;
use super::tiny::is_tiny;
use crate::paths::{record, Path};

/// Rows of `a` conjugated at a time by [`gemm_conj_nt`]: enough that `b` is packed
/// rarely, few enough that the scratch stays small.
pub const CONJ_BLOCK_ROWS: usize = 256;

/// `c ← a · bᵀ` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`; `c` is only written.
pub(crate) fn gemm_nt<A: LinalgScalar>(a: ArrayView2<'_, A>, b: ArrayView2<'_, A>, mut c: ArrayViewMut2<'_, A>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m == 0 || n == 0 {
        return;
    }
    if is_tiny(m, n, k) {
        record(Path::FloatTiny);
        tiny_nt(a, b, c);
    } else if m == 1 {
        record(Path::FloatMatVec);
        general_mat_vec_mul(A::one(), &b, &a.row(0), A::zero(), &mut c.row_mut(0));
    } else if n == 1 {
        record(Path::FloatMatVec);
        general_mat_vec_mul(A::one(), &a, &b.row(0), A::zero(), &mut c.column_mut(0));
    } else if !cfg!(feature = "cblas") && n >= m {
        record(Path::FloatGemm);
        // The same product as `cᵀ = b · aᵀ`, written through the transposed view of
        // `c`: matrixmultiply's f64 kernel measures up to 15% faster this way round
        // when `n >= m` (2048² f64: 350 ms against 408 ms; (1000,768).(20000,768):
        // 0.67 s against 0.78 s; 1024² and smaller, and f32, unchanged); `m > n`
        // shapes measure slower, so they keep the direct form. BLAS builds keep it.
        general_mat_mul(A::one(), &b, &a.t(), A::zero(), &mut c.view_mut().reversed_axes());
    } else {
        record(Path::FloatGemm);
        general_mat_mul(A::one(), &a, &b.t(), A::zero(), &mut c);
    }
}

/// Whether `gemm_nt` takes its matrix-matrix path for `(m, k) . (n, k)`: neither
/// tiny nor a matrix-vector product.
pub(crate) fn is_gemm_sized(m: usize, n: usize, k: usize) -> bool {
    m > 1 && n > 1 && !is_tiny(m, n, k)
}

/// Whether [`complex_nt`] beats one complex GEMM: four GEMMs' setup needs a
/// product of some size to pay off.
pub(crate) fn is_four_real_sized(m: usize, n: usize, k: usize) -> bool {
    is_gemm_sized(m, n, k) && m.saturating_mul(n).saturating_mul(k) >= FOUR_REAL_MACS
}

/// See [`is_four_real_sized`]: the measured crossover (64³ complex128 takes
/// 49 µs either way; 16³ 1.8 µs against 1.5 µs, 256³ 2.6 ms against 2.8 ms).
pub const FOUR_REAL_MACS: usize = 1 << 18;

/// `c ← op(a) · bᵀ` for complex elements as four real GEMMs on the real and
/// imaginary parts, viewed in place (stride 2, no copies):
/// `Re c = Re a · Re bᵀ ∓ Im a · Im bᵀ`, `Im c = Re a · Im bᵀ ± Im a · Re bᵀ`, the
/// lower signs for `op = conj`. Same flops as a complex GEMM, on matrixmultiply's
/// real kernels (AVX-512, better threaded than its complex ones); the Hermitian
/// product needs no conjugated copy of `a`.
pub(crate) fn complex_nt<T: LinalgScalar>(
    a: ArrayView2<'_, Complex<T>>,
    b: ArrayView2<'_, Complex<T>>,
    c: ArrayViewMut2<'_, Complex<T>>,
    conj: bool,
) {
    record(Path::ComplexFourReal);
    let Complex { re: ar, im: ai } = a.split_complex();
    let Complex { re: br, im: bi } = b.split_complex();
    let Complex { re: mut cr, im: mut ci } = c.split_complex();
    let (one, minus_one) = (T::one(), T::zero() - T::one());
    let (s_rr, s_ri) = if conj { (one, minus_one) } else { (minus_one, one) };
    real_nt(one, ar, br, T::zero(), cr.view_mut());
    real_nt(s_rr, ai, bi, one, cr);
    real_nt(one, ar, bi, T::zero(), ci.view_mut());
    real_nt(s_ri, ai, br, one, ci);
}

/// `c ← alpha · a · bᵀ + beta · c` through matrixmultiply, the faster way round.
fn real_nt<T: LinalgScalar>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    if c.ncols() >= c.nrows() {
        general_mat_mul(alpha, &b, &a.t(), beta, &mut c.view_mut().reversed_axes());
    } else {
        general_mat_mul(alpha, &a, &b.t(), beta, &mut c);
    }
}

/// Dot product by dot product: C-order operands as slices, others by row views.
fn tiny_nt<A: LinalgScalar>(a: ArrayView2<'_, A>, b: ArrayView2<'_, A>, mut c: ArrayViewMut2<'_, A>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if let (Some(a_s), Some(b_s), true) = (a.as_slice(), b.as_slice(), k > 0) {
        for (i, a_row) in a_s.chunks_exact(k).enumerate() {
            for (j, b_row) in b_s.chunks_exact(k).enumerate() {
                c[[i, j]] = dot_slices(a_row, b_row);
            }
        }
        return;
    }
    for i in 0..m {
        let a_row = a.row(i);
        for j in 0..n {
            c[[i, j]] = dot(a_row, b.row(j));
        }
    }
}

/// A dot product in plain Rust: ndarray's `dot` would call BLAS for 32 elements
/// and more with the `blas` feature, a library call per element of a tiny output.
#[inline]
fn dot<A: LinalgScalar>(x: ArrayView1<'_, A>, y: ArrayView1<'_, A>) -> A {
    match (x.as_slice(), y.as_slice()) {
        (Some(x), Some(y)) => dot_slices(x, y),
        _ => x.iter().zip(y.iter()).fold(A::zero(), |s, (&p, &q)| s + p * q),
    }
}

/// [`dot`] on slices of equal length.
#[inline]
fn dot_slices<A: LinalgScalar>(x: &[A], y: &[A]) -> A {
    if x.len() < 16 {
        return x.iter().zip(y).fold(A::zero(), |s, (&p, &q)| s + p * q);
    }
    // Eight independent sums, so the compiler can keep them in SIMD lanes.
    let mut acc = [A::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail = xc.remainder().iter().zip(yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] = acc[l] + xs[l] * ys[l];
        }
    }
    let head = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    tail.fold(head, |s, (&p, &q)| s + p * q)
}

/// `c ← conj(a) · bᵀ`, conjugating `a` a block of rows at a time into a small
/// scratch rather than copying the whole operand.
pub(crate) fn gemm_conj_nt<A: LinalgScalar + Kernel>(
    a: ArrayView2<'_, A>,
    b: ArrayView2<'_, A>,
    mut c: ArrayViewMut2<'_, A>,
) {
    let m = a.nrows();
    let mut start = 0;
    while start < m {
        let end = (start + CONJ_BLOCK_ROWS).min(m);
        record(Path::ConjBlock);
        let block = a.slice(s![start..end, ..]).mapv(Kernel::conj);
        gemm_nt(block.view(), b, c.slice_mut(s![start..end, ..]));
        start = end;
    }
}
