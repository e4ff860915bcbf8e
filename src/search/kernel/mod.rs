//! The search's distance kernels on contiguous C-order rows: blocks of inner
//! products for a few queries, exact squared distances, norms. They know nothing
//! of heaps or results.
//!
//! Each call runs the kernels of the instruction-set level in use
//! ([`crate::isa()`], detected once per process; [`kernels_for`] says which
//! kernels each level runs): the AVX2, FMA and F16C intrinsics of [`avx2`], or
//! the plain Rust of [`portable`]. Every function sums in a
//! fixed order of its own, so a value never depends on the batch or the thread
//! it was computed in; each inner product is within the usual bound
//! `gamma_d * sum_k |q_k x_k|` of the exact one (`gamma_n = n u / (1 - n u)`,
//! `u = 2^-24` for `f32`, `2^-53` for `f64`), each squared distance within a
//! relative `gamma_(d+2)` (its terms are all non-negative).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod portable;

use super::SearchScalar;
use crate::isa::{isa, Isa};

/// The kernels of one element type. Public in a private module: users can
/// neither name nor implement it (it seals [`SearchScalar`]).
pub trait SearchKernels: Sized {
    /// `out[i * n + j] = q_i · x_j` for the `d`-long rows of `qs` and `xs`.
    fn dots_few(qs: &[Self], xs: &[Self], d: usize, out: &mut [Self]);
    /// `out[b] = |x_b|^2` for the `d`-long rows of `xs`.
    fn sq_norms(xs: &[Self], d: usize, out: &mut [Self]);
    /// `sum_k (q_k - x_k)^2`.
    fn l2(q: &[Self], x: &[Self]) -> Self;
}

/// Which kernels run at each instruction-set level: the [`avx2`] ones from
/// `Isa::Avx2` up, AVX-512 machines included, where AVX-512 variants measured
/// slower. On the 2-core AMD EPYC Zen 4 (AVX-512), one thread, f32,
/// `examples/search.rs --random N,d,Q --metric ip`, medians of one process each,
/// AVX2 kernels / AVX-512 kernels: 512-bit vectors (the same tiles, twice the
/// lanes) one query against `(100000, 128)` 2.5-2.9 / 2.9-5.1 ms, 16 queries
/// 9.1-9.5 / 10.5-15.4 ms; 256-bit vectors in 4-query tiles (AVX-512's 32
/// registers) 16 queries 9.0-9.3 / 10.4-10.6 ms against `(100000, 128)` and
/// 11.7 / 10.6-10.9 ms against `(20000, 768)`. Not measured on an Intel
/// AVX-512 machine (two 512-bit FMA units on Ice Lake servers, one pair of
/// 256-bit halves on Zen 4): the next measurement there may change this row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernels {
    /// [`portable`]: plain Rust, vectorised by the compiler.
    Portable,
    /// [`avx2`]: AVX2, FMA and F16C intrinsics.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
}

/// The kernels for `level` (a pure function, tested for every level).
fn kernels_for(level: Isa) -> Kernels {
    match level {
        Isa::Portable => Kernels::Portable,
        Isa::Avx2 | Isa::Avx512 => Kernels::Avx2,
    }
}

/// Calls `avx2::$simd::$f($args)` where the level in use runs the AVX2 kernels,
/// and evaluates `$portable` (the whole call) elsewhere.
macro_rules! dispatch {
    ($simd:ident :: $f:ident ($($arg:expr),*), $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        if kernels_for(isa()) == Kernels::Avx2 {
            // SAFETY: `isa()` is `Avx2` or above only where run-time detection found
            // AVX2, FMA and F16C (src/isa.rs), every feature the AVX2 kernels enable.
            #[allow(unsafe_code)]
            return unsafe { avx2::$simd::$f($($arg),*) };
        }
        $portable
    }};
}

macro_rules! search_kernels {
    ($($t:ident => $simd:ident),*) => {$(
        impl SearchKernels for $t {
            fn dots_few(qs: &[$t], xs: &[$t], d: usize, out: &mut [$t]) {
                dispatch!($simd::dots_few(qs, xs, d, out), portable::dots_few(qs, xs, d, out))
            }
            fn sq_norms(xs: &[$t], d: usize, out: &mut [$t]) {
                dispatch!($simd::sq_norms(xs, d, out), portable::sq_norms(xs, d, out))
            }
            fn l2(q: &[$t], x: &[$t]) -> $t {
                dispatch!($simd::l2(q, x), portable::l2_exact(q, x))
            }
        }
    )*};
}

search_kernels!(f32 => f32s, f64 => f64s);

/// [`dots_few`] for `f32` queries and database rows stored as `half::f16`,
/// widened in registers; at `Isa::Portable` the block is widened into a scratch
/// and [`dots_few`] runs on it. Either way the result is that of [`dots_few`] on
/// the widened rows, bit for bit.
pub(crate) fn dots_few_f16(qs: &[f32], xs: &[half::f16], d: usize, out: &mut [f32]) {
    if d == 0 {
        return dots_few(qs, &widened(xs), d, out);
    }
    dispatch!(f16s::dots_few(qs, xs, d, out), dots_few(qs, &widened(xs), d, out))
}

/// [`dots_few_f16`] for rows stored as `half::bf16`.
pub(crate) fn dots_few_bf16(qs: &[f32], xs: &[half::bf16], d: usize, out: &mut [f32]) {
    if d == 0 {
        return dots_few(qs, &widened(xs), d, out);
    }
    dispatch!(bf16s::dots_few(qs, xs, d, out), dots_few(qs, &widened(xs), d, out))
}

/// `xs` widened to `f32`, for the fallbacks.
fn widened<H: half::slice::HalfFloatSliceExt + ?Sized>(xs: &H) -> Vec<f32> {
    xs.to_f32_vec()
}

/// `dst[i] = src[i]` widened to `f32`, eight at a time with F16C.
pub(crate) fn widen_f16(src: &[half::f16], dst: &mut [f32]) {
    dispatch!(
        f16s::widen_slice(src, dst),
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
    )
}

/// `dst[i] = src[i]` widened to `f32`: a bf16 is the top half of an f32's bits
/// (a loop the compiler vectorises).
pub(crate) fn widen_bf16(src: &[half::bf16], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32::from_bits(u32::from(s.to_bits()) << 16);
    }
}

/// `out[i * n + j] = q_i · x_j` for the `nq` rows of `qs` and the `n` rows of `xs`
/// (both C order, rows `d` long; `out` holds `nq * n`). The callers pass blocks
/// of rows small enough for the cache (`plan::db_block_rows`).
pub(crate) fn dots_few<A: SearchScalar>(qs: &[A], xs: &[A], d: usize, out: &mut [A]) {
    if d == 0 {
        out.fill(A::zero());
        return;
    }
    debug_assert_eq!(out.len(), (qs.len() / d) * (xs.len() / d));
    <A as SearchKernels>::dots_few(qs, xs, d, out);
}

/// `sqrt(v · v)` of each of the `count` rows of `rows` (C order, all the same
/// length), appended to `out`.
pub(crate) fn norms_into<A: SearchScalar>(rows: &[A], count: usize, out: &mut Vec<A>) {
    let start = out.len();
    out.resize(start + count, A::zero());
    let d = rows.len().checked_div(count).unwrap_or(0);
    if d == 0 {
        return;
    }
    let new = &mut out[start..];
    A::sq_norms(rows, d, new);
    for v in new {
        *v = v.sqrt();
    }
}

/// The exact squared distance `sum_k (q_k - x_k)^2`: every term is
/// non-negative, so the computed value is within a relative `gamma_(d+2)` of
/// the true one, however the norms compare with it.
pub(crate) fn l2_exact<A: SearchScalar>(q: &[A], x: &[A]) -> A {
    A::l2(q, x)
}

/// The slack `c` of the L2 candidate test: the cheap distance
/// `|q|^2 + |x|^2 - 2 q·x` (each part with the fixed order's bound, three more
/// roundings to combine them) and the exact one each lie within
/// `gamma_(d+3) (|q| + |x|)^2` of the true distance, so they differ by at most
/// `c (|q| + |x|)^2 + tiny` with `c = 3 (d + 4) u`, which also covers the
/// rounding of the norms and of the test itself; `tiny` covers underflow.
pub(crate) fn l2_slack<A: SearchScalar>(d: usize) -> (A, A) {
    let u = A::epsilon() / (A::one() + A::one());
    let terms = A::from(d.saturating_add(4)).unwrap_or_else(A::infinity);
    let three = A::from(3.0).expect("3 is representable");
    let c = three * terms * u;
    // An unbounded slack (absurd d) makes every row a candidate: slow, still exact.
    let c = if c.is_finite() && c < A::one() {
        c
    } else {
        A::infinity()
    };
    let tiny = A::min_positive_value() * (terms + terms) * three;
    (c, tiny)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64, int: bool) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                if int {
                    (u * 9.0).floor() - 4.0
                } else {
                    u - 0.5
                }
            })
            .collect()
    }

    /// Small integers: every order gives the exact value, so the dispatched
    /// kernels (AVX2 here when the machine has it) must equal plain f64 loops.
    fn check_exact<A: SearchScalar>() {
        for d in [1, 3, 4, 7, 8, 9, 16, 31, 33, 128, 133] {
            for (nq, n) in [(1, 1), (1, 9), (2, 4), (3, 5), (5, 11), (8, 8)] {
                let q64 = values(nq * d, 1 + d as u64, true);
                let x64 = values(n * d, 7 + n as u64, true);
                let qs: Vec<A> = q64.iter().map(|&v| A::from(v).unwrap()).collect();
                let xs: Vec<A> = x64.iter().map(|&v| A::from(v).unwrap()).collect();
                let mut out = vec![A::nan(); nq * n];
                dots_few(&qs, &xs, d, &mut out);
                let mut norms = Vec::new();
                norms_into(&xs, n, &mut norms);
                for j in 0..n {
                    let x = &x64[j * d..(j + 1) * d];
                    let nx: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                    assert_eq!(norms[j].to_f64().unwrap(), A::from(nx).unwrap().to_f64().unwrap());
                    for i in 0..nq {
                        let q = &q64[i * d..(i + 1) * d];
                        let dot: f64 = q.iter().zip(x).map(|(a, b)| a * b).sum();
                        let l2: f64 = q.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
                        assert_eq!(out[i * n + j].to_f64().unwrap(), dot, "d {d} ({nq},{n}) [{i},{j}]");
                        let got = l2_exact(&qs[i * d..(i + 1) * d], &xs[j * d..(j + 1) * d]);
                        assert_eq!(got.to_f64().unwrap(), l2);
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_are_exact_on_small_integers() {
        check_exact::<f32>();
        check_exact::<f64>();
    }

    /// Random floats: the dispatched kernels within the rounding bound of f64 sums.
    #[test]
    fn kernels_are_within_the_rounding_bound() {
        for d in [5, 64, 130, 777] {
            let (nq, n) = (3, 6);
            let q64 = values(nq * d, 3, false);
            let x64 = values(n * d, 4, false);
            let qs: Vec<f32> = q64.iter().map(|&v| v as f32).collect();
            let xs: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let mut out = vec![0f32; nq * n];
            dots_few(&qs, &xs, d, &mut out);
            let gamma = (d + 2) as f64 * f32::EPSILON as f64 / 2.0;
            for i in 0..nq {
                for j in 0..n {
                    let (q, x) = (&qs[i * d..(i + 1) * d], &xs[j * d..(j + 1) * d]);
                    let exact: f64 = q.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
                    let bound: f64 = q.iter().zip(x).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum::<f64>() * gamma;
                    assert!((out[i * n + j] as f64 - exact).abs() <= bound, "d {d} [{i},{j}]");
                    let l2: f64 = q.iter().zip(x).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
                    assert!((l2_exact(q, x) as f64 - l2).abs() <= l2 * gamma);
                }
            }
        }
    }

    /// The AVX2 kernels, called directly (whatever `NDARRAY_INNER_ISA` says), against
    /// the portable ones when this machine has AVX2: small integers, so every order
    /// of summation gives the exact value and the results must be equal.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_avx2_kernels_agree_with_the_portable_ones() {
        use half::{bf16, f16};
        if Isa::detected() < Isa::Avx2 {
            return;
        }
        {
            for d in [1, 8, 13, 16, 31, 33, 128, 200] {
                for (nq, n) in [(1, 1), (1, 7), (2, 9), (5, 7), (3, 12)] {
                    let q64 = values(nq * d, 5 + d as u64, true);
                    let x64 = values(n * d, 6 + n as u64, true);
                    let (q32, x32): (Vec<f32>, Vec<f32>) = (
                        q64.iter().map(|&v| v as f32).collect(),
                        x64.iter().map(|&v| v as f32).collect(),
                    );
                    let (xh, xb): (Vec<f16>, Vec<bf16>) = (
                        x32.iter().map(|&v| f16::from_f32(v)).collect(),
                        x32.iter().map(|&v| bf16::from_f32(v)).collect(),
                    );
                    let mut want64 = vec![0.0; nq * n];
                    portable::dots_few(&q64, &x64, d, &mut want64);
                    let mut want32 = vec![0.0; nq * n];
                    portable::dots_few(&q32, &x32, d, &mut want32);
                    let mut norms64 = vec![0.0; n];
                    portable::sq_norms(&x64, d, &mut norms64);
                    let (mut g64, mut g32, mut gh, mut gb) = (
                        vec![0.0; nq * n],
                        vec![0.0; nq * n],
                        vec![0.0; nq * n],
                        vec![0.0; nq * n],
                    );
                    let mut n64 = vec![0.0; n];
                    let mut widened = vec![0.0f32; n * d];
                    // SAFETY: AVX2, FMA and F16C were detected above.
                    let l2_64 = |q: &[f64], x: &[f64]| -> f64 {
                        #[allow(unsafe_code)]
                        unsafe {
                            avx2::f64s::l2(q, x)
                        }
                    };
                    // SAFETY: AVX2, FMA and F16C were detected above.
                    #[allow(unsafe_code)]
                    unsafe {
                        avx2::f64s::dots_few(&q64, &x64, d, &mut g64);
                        avx2::f32s::dots_few(&q32, &x32, d, &mut g32);
                        avx2::f16s::dots_few(&q32, &xh, d, &mut gh);
                        avx2::bf16s::dots_few(&q32, &xb, d, &mut gb);
                        avx2::f64s::sq_norms(&x64, d, &mut n64);
                        avx2::f16s::widen_slice(&xh, &mut widened);
                    }
                    let at = format!("d {d} ({nq}, {n})");
                    assert_eq!(g64, want64, "f64 {at}");
                    assert_eq!(g32, want32, "f32 {at}");
                    assert_eq!(gh, want32, "f16 rows {at}");
                    assert_eq!(gb, want32, "bf16 rows {at}");
                    assert_eq!(n64, norms64, "norms {at}");
                    assert_eq!(widened, x32, "widening {at}");
                    for i in 0..nq {
                        for j in 0..n {
                            let (q, x) = (&q64[i * d..(i + 1) * d], &x64[j * d..(j + 1) * d]);
                            assert_eq!(l2_64(q, x), portable::l2_exact(q, x), "l2 {at} [{i}, {j}]");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn each_level_runs_its_kernels() {
        assert_eq!(kernels_for(Isa::Portable), Kernels::Portable);
        assert_eq!(kernels_for(Isa::Avx2), Kernels::Avx2);
        assert_eq!(kernels_for(Isa::Avx512), Kernels::Avx2);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn each_level_prefetches_into_its_cache() {
        use avx2::{prefetch_to, PrefetchTo};
        assert_eq!(prefetch_to(Isa::Avx2), PrefetchTo::L1);
        assert_eq!(prefetch_to(Isa::Avx512), PrefetchTo::L2);
    }
}
