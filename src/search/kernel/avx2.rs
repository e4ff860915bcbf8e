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

/// A row's first `chunks * L` elements as vectors' worth of arrays.
#[inline]
fn chunked<T, const L: usize>(row: &[T], chunks: usize) -> &[[T; L]] {
    &row[..chunks * L].as_chunks::<L>().0[..chunks]
}

/// How far ahead of the rows being read `dots_row` asks for the next ones: one
/// query against `(100000, 128)`, one thread, on the 2-core AMD EPYC (Zen 1) of
/// CI: `f32` 5.4 ms without prefetching, 5.0 ms at 1 KiB ahead, 4.55 ms at 8 KiB,
/// 5.0 ms at 16 KiB; rows stored as `f16` 3.5, 3.06, 2.78 and 3.05 ms.
const PREFETCH_BYTES: usize = 8192;

/// Which cache `dots_row` prefetches the rows into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrefetchTo {
    /// The L1 data cache (`prefetcht0`).
    L1,
    /// The L2 cache (`prefetcht1`).
    L2,
}

/// Where the rows are prefetched at each instruction-set level, by measurement,
/// one query, one thread, `examples/search.rs --random N,d,1`, into L1 / into L2:
/// - `Isa::Avx2`, CI's AMD EPYC Zen 1: into L1, the only one measured (see
///   [`PREFETCH_BYTES`]).
/// - `Isa::Avx512`, an AMD EPYC Zen 4 (which runs these kernels): into L2. Two runs
///   each: `(20000, 768)` f16 rows 3.3-3.7 / 1.3-1.6 ms, f32 3.4-3.8 / 3.4-3.9 ms;
///   `(100000, 128)` f32 2.5-3.0 / 2.2-2.4 ms; but `(100000, 128)` f16 rows, which
///   stay in the 32 MiB L3 between searches, 0.74-0.80 / 1.00-1.07 ms. Into L1, the
///   48 prefetches of a pair of 768-long rows outrun the L1's miss buffers.
pub(crate) fn prefetch_to(level: crate::isa::Isa) -> PrefetchTo {
    match level {
        crate::isa::Isa::Avx512 => PrefetchTo::L2,
        _ => PrefetchTo::L1,
    }
}

/// Asks for the cache lines `PREFETCH_BYTES` past those of `rows`, into the cache
/// [`prefetch_to`] names for the level in use.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn prefetch_ahead<T>(rows: &[T]) {
    let bytes = std::mem::size_of_val(rows);
    let ahead = rows.as_ptr().cast::<i8>().wrapping_add(PREFETCH_BYTES);
    // Hints that never fault, whatever the address (past the end of the rows they
    // ask for lines that may not exist): safe intrinsics.
    match prefetch_to(crate::isa::isa()) {
        PrefetchTo::L1 => {
            for line in (0..bytes).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line));
            }
        }
        PrefetchTo::L2 => {
            for line in (0..bytes).step_by(64) {
                _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(line));
            }
        }
    }
}

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

        /// An element of a database row as it is (the rows are of the query's type).
        #[inline(always)]
        fn same(x: $elem) -> $elem {
            x
        }

        dots!(
            $elem,
            $vec,
            $lanes,
            $elem,
            xload = load,
            widen = same,
            features = "avx2,fma",
            zero = $zero,
            fmadd = $fmadd,
            add = $add,
            reduce4 = $reduce4
        );

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
            let (qc, xc) = (chunked::<_, $lanes>(q, chunks), chunked::<_, $lanes>(x, chunks));
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
    };
}

/// The inner-product kernels for query rows of `$elem` and database rows of
/// `$x`, loaded into vectors of `$elem` by `$xload` (and one at a time by
/// `$widen`): the same instructions in the same order whatever `$x` is, so a
/// database stored in half precision gives the scores of its widened rows
/// bit for bit.
macro_rules! dots {
    (
        $elem:ty, $vec:ty, $lanes:literal, $x:ty,
        xload = $xload:ident, widen = $widen:ident, features = $features:literal,
        zero = $zero:ident, fmadd = $fmadd:ident, add = $add:ident, reduce4 = $reduce4:ident
    ) => {
        /// `out[b] = q · x_b` (plus the tails) for one query row and the rows of `xs`:
        /// two rows at a time (eight independent sums in flight, the rows one
        /// contiguous stream), each row in the one order of `dot_row`.
        #[target_feature(enable = $features)]
        pub(crate) fn dots_row(q: &[$elem], xs: &[$x], d: usize, out: &mut [$elem]) {
            let chunks = d / $lanes;
            let qc = chunked::<_, $lanes>(q, chunks);
            let mut pairs = out.chunks_exact_mut(2);
            let mut rows = xs.chunks_exact(2 * d);
            for (o, xx) in (&mut pairs).zip(&mut rows) {
                prefetch_ahead(xx);
                let (x, y) = xx.split_at(d);
                let (xc, yc) = (chunked::<_, $lanes>(x, chunks), chunked::<_, $lanes>(y, chunks));
                let z = $zero();
                let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
                let (mut b0, mut b1, mut b2, mut b3) = (z, z, z, z);
                let mut c = 0;
                while c + 4 <= chunks {
                    let (u0, u1, u2, u3) = (load(&qc[c]), load(&qc[c + 1]), load(&qc[c + 2]), load(&qc[c + 3]));
                    a0 = $fmadd(u0, $xload(&xc[c]), a0);
                    b0 = $fmadd(u0, $xload(&yc[c]), b0);
                    a1 = $fmadd(u1, $xload(&xc[c + 1]), a1);
                    b1 = $fmadd(u1, $xload(&yc[c + 1]), b1);
                    a2 = $fmadd(u2, $xload(&xc[c + 2]), a2);
                    b2 = $fmadd(u2, $xload(&yc[c + 2]), b2);
                    a3 = $fmadd(u3, $xload(&xc[c + 3]), a3);
                    b3 = $fmadd(u3, $xload(&yc[c + 3]), b3);
                    c += 4;
                }
                while c < chunks {
                    let u = load(&qc[c]);
                    a0 = $fmadd(u, $xload(&xc[c]), a0);
                    b0 = $fmadd(u, $xload(&yc[c]), b0);
                    c += 1;
                }
                let [sa, sb, _, _] = $reduce4(
                    $add($add(a0, a1), $add(a2, a3)),
                    $add($add(b0, b1), $add(b2, b3)),
                    z,
                    z,
                );
                o[0] = (chunks * $lanes..d).fold(sa, |s, t| q[t].mul_add($widen(x[t]), s));
                o[1] = (chunks * $lanes..d).fold(sb, |s, t| q[t].mul_add($widen(y[t]), s));
            }
            for (o, x) in pairs
                .into_remainder()
                .iter_mut()
                .zip(rows.remainder().chunks_exact(d))
            {
                *o = dot_row(qc, q, x, d);
            }
        }

        /// `q · x` in the order of every row of `dots_row`: four lane accumulators
        /// (chunks `c mod 4`), added pairwise, the lanes combined by `reduce4`, then
        /// the tail in order.
        #[target_feature(enable = $features)]
        #[inline]
        fn dot_row(qc: &[[$elem; $lanes]], q: &[$elem], x: &[$x], d: usize) -> $elem {
            let chunks = qc.len();
            let xc = chunked::<_, $lanes>(x, chunks);
            let (mut a0, mut a1, mut a2, mut a3) = ($zero(), $zero(), $zero(), $zero());
            let mut c = 0;
            while c + 4 <= chunks {
                a0 = $fmadd(load(&qc[c]), $xload(&xc[c]), a0);
                a1 = $fmadd(load(&qc[c + 1]), $xload(&xc[c + 1]), a1);
                a2 = $fmadd(load(&qc[c + 2]), $xload(&xc[c + 2]), a2);
                a3 = $fmadd(load(&qc[c + 3]), $xload(&xc[c + 3]), a3);
                c += 4;
            }
            while c < chunks {
                a0 = $fmadd(load(&qc[c]), $xload(&xc[c]), a0);
                c += 1;
            }
            let s = $reduce4($add($add(a0, a1), $add(a2, a3)), $zero(), $zero(), $zero())[0];
            (chunks * $lanes..d).fold(s, |s, t| q[t].mul_add($widen(x[t]), s))
        }

        /// `out[i * n + j] = q_i · x_j` for the rows of `qs` and `xs`: tiles of 2
        /// queries by 4 rows (8 accumulators, each row loaded once per 2 queries),
        /// one query at a time through `dots_row`.
        #[target_feature(enable = $features)]
        pub(crate) fn dots_few(qs: &[$elem], xs: &[$x], d: usize, out: &mut [$elem]) {
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
                let x: [&[[$x; $lanes]]; 4] = std::array::from_fn(|b| chunked::<_, $lanes>(&xs[row(j + b)], chunks));
                let mut i = 0;
                while i + 2 <= nq {
                    let (q0, q1) = (
                        chunked::<_, $lanes>(&qs[row(i)], chunks),
                        chunked::<_, $lanes>(&qs[row(i + 1)], chunks),
                    );
                    let z = $zero();
                    let (mut a00, mut a01, mut a02, mut a03) = (z, z, z, z);
                    let (mut a10, mut a11, mut a12, mut a13) = (z, z, z, z);
                    for c in 0..chunks {
                        let (v0, v1, v2, v3) = (
                            $xload(&x[0][c]),
                            $xload(&x[1][c]),
                            $xload(&x[2][c]),
                            $xload(&x[3][c]),
                        );
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
                            *o = (tail..d).fold(s, |s, t| qr[t].mul_add($widen(xr[t]), s));
                        }
                    }
                    i += 2;
                }
                if i < nq {
                    let q0 = chunked::<_, $lanes>(&qs[row(i)], chunks);
                    let z = $zero();
                    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
                    for c in 0..chunks {
                        let u = load(&q0[c]);
                        a0 = $fmadd(u, $xload(&x[0][c]), a0);
                        a1 = $fmadd(u, $xload(&x[1][c]), a1);
                        a2 = $fmadd(u, $xload(&x[2][c]), a2);
                        a3 = $fmadd(u, $xload(&x[3][c]), a3);
                    }
                    let qr = &qs[row(i)];
                    let o = &mut out[i * n + j..i * n + j + 4];
                    for (b, (o, s)) in o.iter_mut().zip($reduce4(a0, a1, a2, a3)).enumerate() {
                        let xr = &xs[row(j + b)];
                        *o = (tail..d).fold(s, |s, t| qr[t].mul_add($widen(xr[t]), s));
                    }
                }
                j += 4;
            }
            // The last rows, fewer than a tile: the same order as the tiles.
            for j in j..n {
                let xr = &xs[row(j)];
                let xc = chunked::<_, $lanes>(xr, chunks);
                for i in 0..nq {
                    let qr = &qs[row(i)];
                    let qc = chunked::<_, $lanes>(qr, chunks);
                    let mut a = $zero();
                    for c in 0..chunks {
                        a = $fmadd(load(&qc[c]), $xload(&xc[c]), a);
                    }
                    let s = $reduce4(a, $zero(), $zero(), $zero())[0];
                    out[i * n + j] = (tail..d).fold(s, |s, t| qr[t].mul_add($widen(xr[t]), s));
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

/// `f32` queries against database rows stored as `half::f16`, widened in
/// registers (F16C's `vcvtph2ps`, 8 at a time).
pub(crate) mod f16s {
    use super::*;
    use half::f16;

    /// Eight `f32` query elements as a vector.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load(x: &[f32; 8]) -> __m256 {
        // SAFETY: reads exactly the elements of `x`; unaligned load.
        unsafe { _mm256_loadu_ps(x.as_ptr()) }
    }

    /// Eight `f16` database elements widened (exactly) to `f32`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load_f16(x: &[f16; 8]) -> __m256 {
        // SAFETY: reads exactly the 16 bytes of `x` (`f16` is a `u16` in memory);
        // the unaligned load has no alignment requirement.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(x.as_ptr().cast()) })
    }

    #[inline(always)]
    fn widen(x: f16) -> f32 {
        x.to_f32()
    }

    dots!(
        f32,
        __m256,
        8,
        f16,
        xload = load_f16,
        widen = widen,
        features = "avx2,fma,f16c",
        zero = _mm256_setzero_ps,
        fmadd = _mm256_fmadd_ps,
        add = _mm256_add_ps,
        reduce4 = reduce4_f32
    );

    /// `dst[i] = src[i]` widened, eight at a time.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) fn widen_slice(src: &[f16], dst: &mut [f32]) {
        let (s8, s_tail) = src.as_chunks::<8>();
        let (d8, d_tail) = dst.as_chunks_mut::<8>();
        for (s, d) in s8.iter().zip(d8) {
            // SAFETY: writes exactly the 8 elements of `d`; unaligned store.
            unsafe { _mm256_storeu_ps(d.as_mut_ptr(), load_f16(s)) };
        }
        for (s, d) in s_tail.iter().zip(d_tail) {
            *d = s.to_f32();
        }
    }
}

/// `f32` queries against database rows stored as `half::bf16`, widened in
/// registers (a bf16 is the top half of an f32: zero-extend and shift by 16).
pub(crate) mod bf16s {
    use super::*;
    use half::bf16;

    /// Eight `f32` query elements as a vector.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(x: &[f32; 8]) -> __m256 {
        // SAFETY: reads exactly the elements of `x`; unaligned load.
        unsafe { _mm256_loadu_ps(x.as_ptr()) }
    }

    /// Eight `bf16` database elements widened (exactly) to `f32`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load_bf16(x: &[bf16; 8]) -> __m256 {
        // SAFETY: reads exactly the 16 bytes of `x` (`bf16` is a `u16` in memory);
        // the unaligned load has no alignment requirement.
        let bits = unsafe { _mm_loadu_si128(x.as_ptr().cast()) };
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(bits)))
    }

    #[inline(always)]
    fn widen(x: bf16) -> f32 {
        x.to_f32()
    }

    dots!(
        f32,
        __m256,
        8,
        bf16,
        xload = load_bf16,
        widen = widen,
        features = "avx2,fma",
        zero = _mm256_setzero_ps,
        fmadd = _mm256_fmadd_ps,
        add = _mm256_add_ps,
        reduce4 = reduce4_f32
    );
}
