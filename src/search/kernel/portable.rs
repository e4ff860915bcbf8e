//! The kernels in plain Rust, for machines without AVX2 and FMA (and the
//! reference the AVX2 kernels are tested against): register tiles that LLVM
//! vectorises as it can, compiled for several targets by `multiversion`.
//!
//! Every inner product and distance is summed in one fixed order, whatever the
//! tile: eight lane sums over the elements `8c + l`, combined as
//! `((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))`, then the remaining
//! `d mod 8` elements in order, each step a fused multiply-add.

use multiversion::multiversion;

use crate::search::SearchScalar;

/// Lanes of the fixed summation order.
const LANES: usize = 8;

/// The eight lane sums folded in the fixed order.
#[inline(always)]
fn fold<A: SearchScalar>(s: [A; LANES]) -> A {
    ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

/// The inner products of `MQ` query rows with `MR` database rows, all `d` long,
/// in the fixed order: `out[a][b] = q[a] · x[b]`.
#[inline(always)]
fn tile<A: SearchScalar, const MQ: usize, const MR: usize>(q: [&[A]; MQ], x: [&[A]; MR], d: usize) -> [[A; MR]; MQ] {
    let chunks = d / LANES;
    let qc: [&[[A; LANES]]; MQ] = std::array::from_fn(|a| &q[a][..d].as_chunks::<LANES>().0[..chunks]);
    let xc: [&[[A; LANES]]; MR] = std::array::from_fn(|b| &x[b][..d].as_chunks::<LANES>().0[..chunks]);
    let mut acc = [[[A::zero(); LANES]; MR]; MQ];
    for c in 0..chunks {
        let xv: [[A; LANES]; MR] = std::array::from_fn(|b| xc[b][c]);
        for a in 0..MQ {
            let qv = qc[a][c];
            for b in 0..MR {
                for l in 0..LANES {
                    acc[a][b][l] = qv[l].mul_add(xv[b][l], acc[a][b][l]);
                }
            }
        }
    }
    let tail = chunks * LANES;
    let mut out = [[A::zero(); MR]; MQ];
    for a in 0..MQ {
        for b in 0..MR {
            let mut s = fold(acc[a][b]);
            for t in tail..d {
                s = q[a][t].mul_add(x[b][t], s);
            }
            out[a][b] = s;
        }
    }
    out
}

/// `out[i * n + j] = q_i · x_j` for the `nq` rows of `qs` and the `n` rows of `xs`
/// (both C order, rows `d` long; `out` holds `nq * n`).
///
/// Register tiles of 4 queries by 4 rows: each row of the block is loaded once
/// per 4 queries, the queries stay in the L1 cache. The caller passes blocks
/// small enough for the cache (see `few_block_rows`).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn dots_few<A: SearchScalar>(qs: &[A], xs: &[A], d: usize, out: &mut [A]) {
    if d == 0 {
        out.fill(A::zero());
        return;
    }
    let (nq, n) = (qs.len() / d, xs.len() / d);
    debug_assert_eq!(out.len(), nq * n);
    let q = |i: usize| &qs[i * d..(i + 1) * d];
    let x = |j: usize| &xs[j * d..(j + 1) * d];
    let mut j = 0;
    while j + 4 <= n {
        let xr = [x(j), x(j + 1), x(j + 2), x(j + 3)];
        let mut i = 0;
        while i + 4 <= nq {
            let t = tile::<A, 4, 4>([q(i), q(i + 1), q(i + 2), q(i + 3)], xr, d);
            for (a, row) in t.iter().enumerate() {
                out[(i + a) * n + j..(i + a) * n + j + 4].copy_from_slice(row);
            }
            i += 4;
        }
        while i < nq {
            let [row] = tile::<A, 1, 4>([q(i)], xr, d);
            out[i * n + j..i * n + j + 4].copy_from_slice(&row);
            i += 1;
        }
        j += 4;
    }
    while j < n {
        let mut i = 0;
        while i + 4 <= nq {
            let t = tile::<A, 4, 1>([q(i), q(i + 1), q(i + 2), q(i + 3)], [x(j)], d);
            for (a, [s]) in t.iter().enumerate() {
                out[(i + a) * n + j] = *s;
            }
            i += 4;
        }
        while i < nq {
            out[i * n + j] = tile::<A, 1, 1>([q(i)], [x(j)], d)[0][0];
            i += 1;
        }
        j += 1;
    }
}

/// `x · y` in the fixed order (rows of equal length).
#[cfg(test)]
pub(crate) fn dot<A: SearchScalar>(x: &[A], y: &[A]) -> A {
    debug_assert_eq!(x.len(), y.len());
    tile::<A, 1, 1>([x], [y], x.len())[0][0]
}

/// `out[b] = |x_b|^2` for the `d`-long rows of `xs`.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn sq_norms<A: SearchScalar>(xs: &[A], d: usize, out: &mut [A]) {
    for (o, r) in out.iter_mut().zip(xs.chunks_exact(d)) {
        *o = tile::<A, 1, 1>([r], [r], d)[0][0];
    }
}

/// The exact squared distance `sum_k (q_k - x_k)^2` in the fixed order: every
/// term is non-negative, so the computed value is within a relative
/// `gamma_(d+2)` of the true one, however the norms compare with it.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn l2_exact<A: SearchScalar>(q: &[A], x: &[A]) -> A {
    let d = q.len().min(x.len());
    let chunks = d / LANES;
    let qc = &q[..d].as_chunks::<LANES>().0[..chunks];
    let xc = &x[..d].as_chunks::<LANES>().0[..chunks];
    let mut acc = [A::zero(); LANES];
    for (qv, xv) in qc.iter().zip(xc) {
        for l in 0..LANES {
            let t = qv[l] - xv[l];
            acc[l] = t.mul_add(t, acc[l]);
        }
    }
    let mut s = fold(acc);
    for k in chunks * LANES..d {
        let t = q[k] - x[k];
        s = t.mul_add(t, s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loop the kernels must reproduce bit for bit (same order).
    fn reference(q: &[f32], x: &[f32]) -> f32 {
        let d = q.len();
        let mut acc = [0f32; LANES];
        for c in 0..d / LANES {
            for l in 0..LANES {
                acc[l] = q[c * LANES + l].mul_add(x[c * LANES + l], acc[l]);
            }
        }
        let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for k in d / LANES * LANES..d {
            s = q[k].mul_add(x[k], s);
        }
        s
    }

    #[test]
    fn every_tile_shape_sums_in_the_fixed_order() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        for d in [0, 1, 7, 8, 9, 16, 31, 128, 133] {
            for (nq, n) in [(1, 1), (1, 5), (3, 4), (4, 4), (5, 9), (9, 7)] {
                let qs: Vec<f32> = (0..nq * d).map(|_| next()).collect();
                let xs: Vec<f32> = (0..n * d).map(|_| next()).collect();
                let mut out = vec![f32::NAN; nq * n];
                dots_few(&qs, &xs, d, &mut out);
                for i in 0..nq {
                    for j in 0..n {
                        let (q, x) = (&qs[i * d..(i + 1) * d], &xs[j * d..(j + 1) * d]);
                        let want = reference(q, x);
                        assert_eq!(out[i * n + j].to_bits(), want.to_bits(), "d {d} ({nq},{n}) [{i},{j}]");
                        assert_eq!(dot(q, x).to_bits(), want.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn exact_distance_is_the_plain_sum_of_squares() {
        let q: Vec<f64> = (0..21).map(|i| i as f64 * 0.5).collect();
        let x: Vec<f64> = (0..21).map(|i| (i * i) as f64 * 0.25).collect();
        let want: f64 = q.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        assert_eq!(l2_exact(&q, &x), want); // small integers and halves: exact in any order
        let mut norms = [0.0; 2];
        sq_norms(&[3.0f64, 4.0, 0.0, 0.0], 2, &mut norms);
        assert_eq!(norms, [25.0, 0.0]);
    }
}
