//! The search's distance kernels on contiguous C-order rows: blocks of inner
//! products for a few queries, exact squared distances, norms. They know nothing
//! of heaps or results.
//!
//! Each element type picks its implementation once per call: the AVX2 and FMA
//! intrinsics of [`avx2`] on x86-64 machines that have both (checked at run
//! time), the plain Rust of [`portable`] elsewhere. Every function sums in a
//! fixed order of its own, so a value never depends on the batch or the thread
//! it was computed in; each inner product is within the usual bound
//! `gamma_d * sum_k |q_k x_k|` of the exact one (`gamma_n = n u / (1 - n u)`,
//! `u = 2^-24` for `f32`, `2^-53` for `f64`), each squared distance within a
//! relative `gamma_(d+2)` (its terms are all non-negative).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod portable;

use super::SearchScalar;

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

/// Whether this machine runs the [`avx2`] kernels.
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

macro_rules! search_kernels {
    ($($t:ident => $simd:ident),*) => {$(
        impl SearchKernels for $t {
            fn dots_few(qs: &[$t], xs: &[$t], d: usize, out: &mut [$t]) {
                #[cfg(target_arch = "x86_64")]
                if has_avx2_fma() {
                    // SAFETY: the function needs AVX2 and FMA, both detected just above.
                    #[allow(unsafe_code)]
                    return unsafe { avx2::$simd::dots_few(qs, xs, d, out) };
                }
                portable::dots_few(qs, xs, d, out)
            }
            fn sq_norms(xs: &[$t], d: usize, out: &mut [$t]) {
                #[cfg(target_arch = "x86_64")]
                if has_avx2_fma() {
                    // SAFETY: the function needs AVX2 and FMA, both detected just above.
                    #[allow(unsafe_code)]
                    return unsafe { avx2::$simd::sq_norms(xs, d, out) };
                }
                portable::sq_norms(xs, d, out)
            }
            fn l2(q: &[$t], x: &[$t]) -> $t {
                #[cfg(target_arch = "x86_64")]
                if has_avx2_fma() {
                    // SAFETY: the function needs AVX2 and FMA, both detected just above.
                    #[allow(unsafe_code)]
                    return unsafe { avx2::$simd::l2(q, x) };
                }
                portable::l2_exact(q, x)
            }
        }
    )*};
}

search_kernels!(f32 => f32s, f64 => f64s);

/// Whether this machine runs the [`avx2`] kernels for `f16` rows (F16C too).
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma_f16c() -> bool {
    has_avx2_fma() && std::arch::is_x86_feature_detected!("f16c")
}

/// [`dots_few`] for `f32` queries and database rows stored as `half::f16`,
/// widened in registers; without the instructions, the block is widened into a
/// scratch and [`dots_few`] runs on it. Either way the result is that of
/// [`dots_few`] on the widened rows, bit for bit.
pub(crate) fn dots_few_f16(qs: &[f32], xs: &[half::f16], d: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if d > 0 && has_avx2_fma_f16c() {
        // SAFETY: the function needs AVX2, FMA and F16C, all detected just above.
        #[allow(unsafe_code)]
        return unsafe { avx2::f16s::dots_few(qs, xs, d, out) };
    }
    dots_few(qs, &widened(xs), d, out)
}

/// [`dots_few_f16`] for rows stored as `half::bf16`.
pub(crate) fn dots_few_bf16(qs: &[f32], xs: &[half::bf16], d: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if d > 0 && has_avx2_fma() {
        // SAFETY: the function needs AVX2 and FMA, both detected just above.
        #[allow(unsafe_code)]
        return unsafe { avx2::bf16s::dots_few(qs, xs, d, out) };
    }
    dots_few(qs, &widened(xs), d, out)
}

/// `xs` widened to `f32`, for the fallbacks.
fn widened<H: half::slice::HalfFloatSliceExt + ?Sized>(xs: &H) -> Vec<f32> {
    xs.to_f32_vec()
}

/// `dst[i] = src[i]` widened to `f32`, eight at a time with F16C.
pub(crate) fn widen_f16(src: &[half::f16], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma_f16c() {
        // SAFETY: the function needs AVX2, FMA and F16C, all detected just above.
        #[allow(unsafe_code)]
        return unsafe { avx2::f16s::widen_slice(src, dst) };
    }
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.to_f32();
    }
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

    /// The AVX2 kernels against the portable ones (same results within rounding,
    /// both called directly), when this machine has AVX2.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_and_portable_agree() {
        if !has_avx2_fma() {
            return;
        }
        for d in [1, 8, 13, 128, 200] {
            let (nq, n) = (5, 7);
            let qs: Vec<f64> = values(nq * d, 5, true);
            let xs: Vec<f64> = values(n * d, 6, true);
            let (mut a, mut b) = (vec![0.0; nq * n], vec![0.0; nq * n]);
            portable::dots_few(&qs, &xs, d, &mut a);
            // SAFETY: AVX2 and FMA were detected above.
            #[allow(unsafe_code)]
            unsafe {
                avx2::f64s::dots_few(&qs, &xs, d, &mut b)
            };
            assert_eq!(a, b, "d {d}");
        }
    }
}
