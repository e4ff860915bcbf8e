//! The kernels with AVX2 and FMA intrinsics (x86-64), for `f32` (8 lanes) and
//! `f64` (4 lanes): written by hand because LLVM vectorised the portable tiles
//! across rows instead of along them (measured on the 2-core AMD EPYC of CI,
//! one thread, `(100000, 128)` f32: 16 queries 34.5 ms portable, 19.6 ms here;
//! one query 5.6 ms, 4.2 ms here, where reading the database alone takes 3.6 ms).
//!
//! Every function here is `#[target_feature(enable = "avx2,fma")]`: the callers
//! in `kernel/mod.rs` check both features at run time before calling. Inside, the
//! arithmetic intrinsics are safe; the only `unsafe` is the unaligned load and
//! store of a fixed-size array, each with its `SAFETY` comment.
//!
//! Summation orders (each fixed; the inner products of different kernels may
//! differ in the last bits, the rounding bound is the same):
//! - `dots_tiles`: one lane accumulator per pair, lanes combined by
//!   `reduce4`, then the `d mod lanes` tail in order.
//! - `dots_row`, `sq_norms`, `l2`: four lane accumulators per row (chunks
//!   `c mod 4`), added pairwise, lanes combined by `reduce4`, then the tail.

#![allow(unsafe_code)]

use std::arch::x86_64::*;

macro_rules! kernels {
    (
        $elem:ty, $vec:ty, $lanes:literal,
        load = $load:ident, store = $store:ident, zero = $zero:ident,
        fmadd = $fmadd:ident, add = $add:ident, sub = $sub:ident,
        reduce4 = $reduce4:ident
    ) => {
        /// The `$lanes` elements of `x` as a vector.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        fn load(x: &[$elem; $lanes]) -> $vec {
            // SAFETY: reads exactly the elements of `x`, which the reference keeps
            // alive; the unaligned load has no alignment requirement.
            unsafe { $load(x.as_ptr()) }
        }

        /// The lanes of `v`.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        pub(super) fn lanes(v: $vec) -> [$elem; $lanes] {
            let mut out = [0.0; $lanes];
            // SAFETY: writes exactly the elements of `out`; unaligned store.
            unsafe { $store(out.as_mut_ptr(), v) };
            out
        }

        /// A row's first `chunks * $lanes` elements as vectors' worth of arrays.
        #[inline]
        fn chunked(row: &[$elem], chunks: usize) -> &[[$elem; $lanes]] {
            &row[..chunks * $lanes].as_chunks::<$lanes>().0[..chunks]
        }

        /// `out[b] = q · x_b` (plus the tails) for one query row and the rows of `xs`.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn dots_row(q: &[$elem], xs: &[$elem], d: usize, out: &mut [$elem]) {
            let chunks = d / $lanes;
            let qc = chunked(q, chunks);
            for (o, x) in out.iter_mut().zip(xs.chunks_exact(d)) {
                let xc = chunked(x, chunks);
                let (mut a0, mut a1, mut a2, mut a3) = ($zero(), $zero(), $zero(), $zero());
                let mut c = 0;
                while c + 4 <= chunks {
                    a0 = $fmadd(load(&qc[c]), load(&xc[c]), a0);
                    a1 = $fmadd(load(&qc[c + 1]), load(&xc[c + 1]), a1);
                    a2 = $fmadd(load(&qc[c + 2]), load(&xc[c + 2]), a2);
                    a3 = $fmadd(load(&qc[c + 3]), load(&xc[c + 3]), a3);
                    c += 4;
                }
                while c < chunks {
                    a0 = $fmadd(load(&qc[c]), load(&xc[c]), a0);
                    c += 1;
                }
                let mut s = $reduce4($add($add(a0, a1), $add(a2, a3)), $zero(), $zero(), $zero())[0];
                for t in chunks * $lanes..d {
                    s = q[t].mul_add(x[t], s);
                }
                *o = s;
            }
        }

        /// `out[b] = |x_b|^2`, in `dots_row`'s order.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn sq_norms(xs: &[$elem], d: usize, out: &mut [$elem]) {
            for (o, x) in out.iter_mut().zip(xs.chunks_exact(d)) {
                dots_row(x, x, d, std::slice::from_mut(o));
            }
        }

        /// `sum_k (q_k - x_k)^2` in `dots_row`'s order.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn l2(q: &[$elem], x: &[$elem]) -> $elem {
            let d = q.len().min(x.len());
            let chunks = d / $lanes;
            let (qc, xc) = (chunked(q, chunks), chunked(x, chunks));
            let (mut a0, mut a1, mut a2, mut a3) = ($zero(), $zero(), $zero(), $zero());
            let mut c = 0;
            while c + 4 <= chunks {
                let t0 = $sub(load(&qc[c]), load(&xc[c]));
                let t1 = $sub(load(&qc[c + 1]), load(&xc[c + 1]));
                let t2 = $sub(load(&qc[c + 2]), load(&xc[c + 2]));
                let t3 = $sub(load(&qc[c + 3]), load(&xc[c + 3]));
                a0 = $fmadd(t0, t0, a0);
                a1 = $fmadd(t1, t1, a1);
                a2 = $fmadd(t2, t2, a2);
                a3 = $fmadd(t3, t3, a3);
                c += 4;
            }
            while c < chunks {
                let t = $sub(load(&qc[c]), load(&xc[c]));
                a0 = $fmadd(t, t, a0);
                c += 1;
            }
            let mut s = $reduce4($add($add(a0, a1), $add(a2, a3)), $zero(), $zero(), $zero())[0];
            for k in chunks * $lanes..d {
                let t = q[k] - x[k];
                s = t.mul_add(t, s);
            }
            s
        }

        /// `out[i * n + j] = q_i · x_j` for the rows of `qs` and `xs`: tiles of 2
        /// queries by 4 rows (8 accumulators, each row loaded once per 2 queries),
        /// one query at a time through `dots_row`.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn dots_few(qs: &[$elem], xs: &[$elem], d: usize, out: &mut [$elem]) {
            let (nq, n) = (qs.len() / d, xs.len() / d);
            if nq == 1 {
                // One stream of rows: the memory-bound case, where 4 interleaved
                // row streams measured 30% slower.
                return dots_row(qs, xs, d, out);
            }
            let chunks = d / $lanes;
            let tail = chunks * $lanes;
            let row = |i: usize| i * d..(i + 1) * d;
            let mut j = 0;
            while j + 4 <= n {
                let x: [&[[$elem; $lanes]]; 4] = std::array::from_fn(|b| chunked(&xs[row(j + b)], chunks));
                let mut i = 0;
                while i + 2 <= nq {
                    let (q0, q1) = (chunked(&qs[row(i)], chunks), chunked(&qs[row(i + 1)], chunks));
                    let z = $zero();
                    let (mut a00, mut a01, mut a02, mut a03) = (z, z, z, z);
                    let (mut a10, mut a11, mut a12, mut a13) = (z, z, z, z);
                    for c in 0..chunks {
                        let (v0, v1, v2, v3) = (load(&x[0][c]), load(&x[1][c]), load(&x[2][c]), load(&x[3][c]));
                        let u = load(&q0[c]);
                        a00 = $fmadd(u, v0, a00);
                        a01 = $fmadd(u, v1, a01);
                        a02 = $fmadd(u, v2, a02);
                        a03 = $fmadd(u, v3, a03);
                        let u = load(&q1[c]);
                        a10 = $fmadd(u, v0, a10);
                        a11 = $fmadd(u, v1, a11);
                        a12 = $fmadd(u, v2, a12);
                        a13 = $fmadd(u, v3, a13);
                    }
                    let sums = [$reduce4(a00, a01, a02, a03), $reduce4(a10, a11, a12, a13)];
                    for (r, s) in sums.into_iter().enumerate() {
                        let qr = &qs[row(i + r)];
                        let o = &mut out[(i + r) * n + j..(i + r) * n + j + 4];
                        for (b, (o, s)) in o.iter_mut().zip(s).enumerate() {
                            let xr = &xs[row(j + b)];
                            *o = (tail..d).fold(s, |s, t| qr[t].mul_add(xr[t], s));
                        }
                    }
                    i += 2;
                }
                if i < nq {
                    let q0 = chunked(&qs[row(i)], chunks);
                    let z = $zero();
                    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
                    for c in 0..chunks {
                        let u = load(&q0[c]);
                        a0 = $fmadd(u, load(&x[0][c]), a0);
                        a1 = $fmadd(u, load(&x[1][c]), a1);
                        a2 = $fmadd(u, load(&x[2][c]), a2);
                        a3 = $fmadd(u, load(&x[3][c]), a3);
                    }
                    let qr = &qs[row(i)];
                    let o = &mut out[i * n + j..i * n + j + 4];
                    for (b, (o, s)) in o.iter_mut().zip($reduce4(a0, a1, a2, a3)).enumerate() {
                        let xr = &xs[row(j + b)];
                        *o = (tail..d).fold(s, |s, t| qr[t].mul_add(xr[t], s));
                    }
                }
                j += 4;
            }
            // The last rows, fewer than a tile: the same order as the tiles.
            for j in j..n {
                let xr = &xs[row(j)];
                let xc = chunked(xr, chunks);
                for i in 0..nq {
                    let qr = &qs[row(i)];
                    let qc = chunked(qr, chunks);
                    let mut a = $zero();
                    for c in 0..chunks {
                        a = $fmadd(load(&qc[c]), load(&xc[c]), a);
                    }
                    let s = $reduce4(a, $zero(), $zero(), $zero())[0];
                    out[i * n + j] = (tail..d).fold(s, |s, t| qr[t].mul_add(xr[t], s));
                }
            }
        }
    };
}

/// The sums of the lanes of four `f32` vectors, `[a, b, c, d]`, each as
/// `((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7))`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce4_f32(a: __m256, b: __m256, c: __m256, d: __m256) -> [f32; 4] {
    let ab = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(a, b),
        _mm256_permute2f128_ps::<0x31>(a, b),
    );
    let cd = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(c, d),
        _mm256_permute2f128_ps::<0x31>(c, d),
    );
    let h = _mm256_hadd_ps(ab, cd);
    let l = f32s::lanes(_mm256_hadd_ps(h, h));
    [l[0], l[4], l[1], l[5]]
}

/// The sums of the lanes of four `f64` vectors, `[a, b, c, d]`, each as
/// `(l0 + l1) + (l2 + l3)`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce4_f64(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> [f64; 4] {
    let ab = _mm256_hadd_pd(a, b);
    let cd = _mm256_hadd_pd(c, d);
    let s = _mm256_add_pd(
        _mm256_permute2f128_pd::<0x20>(ab, cd),
        _mm256_permute2f128_pd::<0x31>(ab, cd),
    );
    f64s::lanes(s)
}

pub(crate) mod f32s {
    use super::*;
    kernels!(
        f32,
        __m256,
        8,
        load = _mm256_loadu_ps,
        store = _mm256_storeu_ps,
        zero = _mm256_setzero_ps,
        fmadd = _mm256_fmadd_ps,
        add = _mm256_add_ps,
        sub = _mm256_sub_ps,
        reduce4 = reduce4_f32
    );
}

pub(crate) mod f64s {
    use super::*;
    kernels!(
        f64,
        __m256d,
        4,
        load = _mm256_loadu_pd,
        store = _mm256_storeu_pd,
        zero = _mm256_setzero_pd,
        fmadd = _mm256_fmadd_pd,
        add = _mm256_add_pd,
        sub = _mm256_sub_pd,
        reduce4 = reduce4_f64
    );
}
