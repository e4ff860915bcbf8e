//! Floats and complex numbers: one GEMM per product, by the engine that measures
//! fastest for the element type and shape (the `gemm` crate, `matrixmultiply`
//! through ndarray, or BLAS with the `blas` feature), with direct paths where GEMM's
//! setup would dominate.

use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, LinalgScalar};
use num_complex::Complex;

use super::gemm_crate::{self, GemmElement, Threads};
use super::sealed::Kernel;
use super::tiny::is_tiny;
use crate::isa::{isa, Isa};
use crate::paths::{record, Path};

/// Rows of `a` conjugated at a time by `gemm_conj_nt`: enough that `b` is packed
/// rarely, few enough that the scratch stays small.
pub const CONJ_BLOCK_ROWS: usize = 256;

/// Which GEMM computes a matrix-matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// The `gemm` crate ([`gemm_crate`]).
    GemmCrate,
    /// ndarray's `general_mat_mul`: matrixmultiply, or BLAS with the `blas` feature.
    Ndarray,
}

/// The engine per element type, shape class and instruction-set level, by
/// measurement; see each impl. Both engines pick their own kernels from the CPU
/// (the `gemm` crate's AVX-512 ones since its `x86-v4` feature is on, matrixmultiply's
/// since its `avx512` feature is), whatever the level says; the level decides which
/// engine runs, from the figures measured at that level.
pub(crate) trait EngineChoice: GemmElement {
    /// The engine for a GEMM-sized `(m, k) . (n, k)` without BLAS.
    fn engine(m: usize, n: usize, k: usize, isa: Isa) -> Engine;
}

/// Real products below this many multiply-adds run on matrixmultiply, whose setup
/// is lighter; from here on the `gemm` crate is faster. One thread, into a reused
/// output, matrixmultiply time / `gemm` time, at each level measured:
/// - `Isa::Avx2`, the CI machine (AMD EPYC Zen 1): 16³ f32 0.62, f64 0.91; 24³ 1.07
///   and 1.16; 64³ 1.10 and 1.42; 256³ 1.06 and 1.52; 1024² 1.05 and 1.49;
///   (1000,768).(20000,768) 1.05 and 1.46; (16,128).(100000,128) f32 0.95,
///   (64,128).(100000,128) 1.0; on two threads 256³ f32 1.86 (matrixmultiply keeps
///   that size on one thread).
/// - `Isa::Avx512`, an AMD EPYC Zen 4 (both engines on their AVX-512 kernels):
///   16³ f32 0.82, f64 0.91; 24³ 1.37 and 0.98; 32³ 1.65 and 1.06; 64³ 1.26-1.33
///   and 1.03; 256³ 0.99 and 0.96-1.00; 512³ 0.93 and 0.97; 1024² 0.97 and 1.16
///   (`inner` against ndarray's `dot`); (1000,768).(20000,768) 1.22 and 1.06;
///   (16,128).(100000,128) f32 1.82. The same crossover.
/// - `Isa::Portable`: not measured; the same rule.
pub const SMALL_GEMM_MACS: usize = 1 << 14;

macro_rules! real_engine {
    ($($t:ty),*) => {$(
        impl EngineChoice for $t {
            fn engine(m: usize, n: usize, k: usize, _isa: Isa) -> Engine {
                if m.saturating_mul(n).saturating_mul(k) < SMALL_GEMM_MACS {
                    Engine::Ndarray
                } else {
                    Engine::GemmCrate
                }
            }
        }
    )*};
}
real_engine!(f32, f64);

/// Complex products always run on the `gemm` crate, which conjugates while packing
/// (no conjugated copy for `inner_conj`). matrixmultiply time / `gemm` time, one
/// thread:
/// - `Isa::Avx2` (Zen 1): 32³ `Complex<f32>` 1.70, `Complex<f64>` 1.54; 128³ 1.40
///   and 1.56; 1024² 1.28 and 1.3 (matrixmultiply's complex kernel; four real GEMMs
///   on it were slower still: 4 × 185 ms for 1024² f64 parts against 500 ms).
/// - `Isa::Avx512` (Zen 4): 8³ 0.99 and 1.68; 16³ 1.14 and 1.06; 32³ 2.10 and
///   1.66; 128³ 1.86 and 1.39; 256³ 1.30 and 1.54; `Complex<f64>` 1024² 1.31
///   (`inner` against ndarray's `dot`).
/// - `Isa::Portable`: not measured; the same rule.
macro_rules! complex_engine {
    ($($t:ty),*) => {$(
        impl EngineChoice for Complex<$t> {
            fn engine(_m: usize, _n: usize, _k: usize, _isa: Isa) -> Engine {
                Engine::GemmCrate
            }
        }
    )*};
}
complex_engine!(f32, f64);

/// Whether `(m, k) . (n, k)` of `A` runs on the `gemm` crate: a matrix-matrix
/// product (neither tiny nor a matrix-vector product), without BLAS, of a type and
/// shape class where it measures faster.
pub(crate) fn runs_on_gemm_crate<A: EngineChoice>(m: usize, n: usize, k: usize) -> bool {
    !cfg!(feature = "cblas") && is_gemm_sized(m, n, k) && A::engine(m, n, k, isa()) == Engine::GemmCrate
}

/// What the output holds when a product starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Zeros: a fresh output.
    Zeroed,
    /// Anything: the caller's array or a reused scratch.
    Unknown,
}

/// `c ← op(a) · bᵀ` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`, where `op`
/// conjugates when `conj` is true; `c`'s old values never show in the result.
pub(crate) fn gemm_nt<A: EngineChoice + Kernel>(
    a: ArrayView2<'_, A>,
    b: ArrayView2<'_, A>,
    c: ArrayViewMut2<'_, A>,
    conj: bool,
    output: Output,
) {
    gemm_nt_on(a, b, c, conj, output, Threads::current())
}

/// [`gemm_nt`] with the `gemm` crate on `threads` threads (the caller's rayon pool
/// by default; one where the caller splits the work over its threads itself).
pub(crate) fn gemm_nt_on<A: EngineChoice + Kernel>(
    a: ArrayView2<'_, A>,
    b: ArrayView2<'_, A>,
    mut c: ArrayViewMut2<'_, A>,
    conj: bool,
    output: Output,
    threads: Threads,
) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m == 0 || n == 0 {
        return;
    }
    if runs_on_gemm_crate::<A>(m, n, k) {
        // The `gemm` crate conjugates `a` while packing it: no copy. It starts a
        // sum from its first product, so a sum of `-0` products would come out `-0`
        // where NumPy's (and matrixmultiply's) start from `+0`: it adds its sums to
        // a zeroed `c` instead, zeroed here unless it is a fresh output.
        record(Path::GemmCrate);
        if output == Output::Unknown {
            c.fill(A::zero());
        }
        gemm_crate::gemm_nt_add(a, b, c.view_mut(), conj, threads);
    } else if conj {
        gemm_conj_nt(a, b, c, threads);
    } else if is_tiny(m, n, k) {
        record(Path::FloatTiny);
        tiny_nt(a, b, c);
    } else {
        ndarray_nt(a, b, c);
    }
}

/// `c ← a · bᵀ` through ndarray: matrixmultiply, or BLAS with the `blas` feature.
fn ndarray_nt<A: LinalgScalar>(a: ArrayView2<'_, A>, b: ArrayView2<'_, A>, mut c: ArrayViewMut2<'_, A>) {
    let m = a.nrows();
    let n = b.nrows();
    if m == 1 {
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
fn gemm_conj_nt<A: EngineChoice + Kernel>(
    a: ArrayView2<'_, A>,
    b: ArrayView2<'_, A>,
    mut c: ArrayViewMut2<'_, A>,
    threads: Threads,
) {
    let m = a.nrows();
    let mut start = 0;
    while start < m {
        let end = (start + CONJ_BLOCK_ROWS).min(m);
        record(Path::ConjBlock);
        let block = a.slice(s![start..end, ..]).mapv(Kernel::conj);
        gemm_nt_on(
            block.view(),
            b,
            c.slice_mut(s![start..end, ..]),
            false,
            Output::Unknown,
            threads,
        );
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine decisions at every level, whatever this machine is.
    #[test]
    fn engines_per_level() {
        for level in Isa::ALL {
            assert_eq!(f32::engine(16, 16, 16, level), Engine::Ndarray, "{level}");
            assert_eq!(f64::engine(24, 24, 24, level), Engine::Ndarray, "{level}");
            assert_eq!(f64::engine(32, 32, 16, level), Engine::GemmCrate, "{level}");
            assert_eq!(f32::engine(1024, 1024, 1024, level), Engine::GemmCrate, "{level}");
            assert_eq!(f32::engine(16, 100_000, 128, level), Engine::GemmCrate, "{level}");
            assert_eq!(f64::engine(usize::MAX, 2, 2, level), Engine::GemmCrate, "{level}");
            assert_eq!(Complex::<f64>::engine(8, 8, 8, level), Engine::GemmCrate, "{level}");
            assert_eq!(Complex::<f32>::engine(2, 2, 2, level), Engine::GemmCrate, "{level}");
        }
    }
}
