//! Integers: a cache-blocked `C = A · Bᵀ` in safe Rust with wrapping arithmetic.
//!
//! The classic GEMM loop nest: a block of `KC` columns of `NC` rows of `B` is packed
//! into `NR`-wide micro-panels (`k`-major, so one `k` step reads `NR` contiguous
//! values), a block of `MC` rows of `A` into `MR`-wide micro-panels, and the
//! micro-kernel accumulates the `MR x NR` outer products of one `k` step after the
//! other in a tile of accumulators that the compiler keeps in vector registers
//! (one row of the tile is 256 bytes, four AVX-512 vectors; the micro-kernels are
//! compiled for AVX-512, AVX2 and the baseline, and the copy of the level in use runs,
//! the only `unsafe` here). No horizontal sums, no bounds checks in the inner loop
//! (fixed-size arrays). Wrapping `*` and `+`
//! give NumPy's results exactly: arithmetic modulo 2^bits does not depend on the
//! order of the sum. Measured on one Zen 4 core at 512²: i64 17 G multiply-adds/s,
//! i32 32 G (ndarray's generic `dot`: 2.8 and 5.9; NumPy: 1.7 and 1.6).
//!
//! With the `rayon` feature, products of at least `PARALLEL_MACS` multiply-adds are
//! split into one band of rows per thread of rayon's pool (`RAYON_NUM_THREADS`),
//! one fork-join per call; smaller ones never touch the pool.

use ndarray::{s, ArrayView2, ArrayViewMut2};

use super::tiny::is_tiny;
use crate::isa::{isa, Isa};
use crate::paths::{record, Path};

/// A primitive integer with the wrapping operations the kernel needs.
pub(crate) trait WrappingInt: Copy + Default + Send + Sync + 'static {
    fn wrapping_mul_(self, rhs: Self) -> Self;
    fn wrapping_add_(self, rhs: Self) -> Self;
}

macro_rules! wrapping_int {
    ($($t:ty),*) => {$(
        impl WrappingInt for $t {
            #[inline(always)]
            fn wrapping_mul_(self, rhs: Self) -> Self { self.wrapping_mul(rhs) }
            #[inline(always)]
            fn wrapping_add_(self, rhs: Self) -> Self { self.wrapping_add(rhs) }
        }
    )*};
}
wrapping_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Bytes of one row of the register tile: four 512-bit vectors (`NR` lanes of T).
const NR_BYTES: usize = 256;
/// Bytes of one packed `B` micro-panel (`KC x NR`), which the kernel re-reads for
/// every micro-panel of `A`: half of a 32 KiB L1.
const B_PANEL_BYTES: usize = 16 * 1024;
/// Bytes of one packed `A` block (`MC x KC`): a quarter of a 1 MiB L2.
const A_BLOCK_BYTES: usize = 256 * 1024;
/// Rows of `B` packed at a time.
pub const NC: usize = 1024;
/// Below this many multiply-adds the product stays on the calling thread.
#[cfg(feature = "rayon")]
pub(crate) const PARALLEL_MACS: usize = 1 << 21;
/// The fewest rows a thread's band gets.
#[cfg(feature = "rayon")]
pub(crate) const MIN_BAND_ROWS: usize = 48;

/// The block sizes for elements of `size` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Blocking {
    /// Rows of the register tile (rows of `A` per micro-panel).
    pub mr: usize,
    /// Columns of the register tile (rows of `B` per micro-panel).
    pub nr: usize,
    /// Depth of a `K` block.
    pub kc: usize,
    /// Rows of `A` per block, a multiple of `mr`.
    pub mc: usize,
}

/// The block sizes for elements of `size` bytes: 64-bit products are the slowest
/// SIMD multiply, and measure best with four rows; narrower types with six.
pub const fn blocking(size: usize) -> Blocking {
    let mr = if size >= 8 { 4 } else { 6 };
    let nr = NR_BYTES / size;
    let kc = B_PANEL_BYTES / (nr * size);
    let mc = A_BLOCK_BYTES / (kc * size) / mr * mr;
    Blocking { mr, nr, kc, mc }
}

/// `c ← a · bᵀ` with wrapping arithmetic, for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`.
/// `c` is only written.
pub(crate) fn gemm_nt<T: WrappingInt>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(T::default());
        return;
    }
    if is_tiny(m, n, k) {
        record(Path::IntegerSmall);
        return small(a, b, c);
    }
    record(Path::IntegerBlocked);
    // One register-tile row is `NR_BYTES` whatever the width of T.
    match std::mem::size_of::<T>() {
        1 => blocked::<T, 6, 256>(a, b, c),
        2 => blocked::<T, 6, 128>(a, b, c),
        4 => blocked::<T, 6, 64>(a, b, c),
        _ => blocked::<T, 4, 32>(a, b, c),
    }
}

/// Dot product by dot product, for products too small to pack.
fn small<T: WrappingInt>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    let dot = |x: ndarray::ArrayView1<'_, T>, y: ndarray::ArrayView1<'_, T>| match (x.as_slice(), y.as_slice()) {
        (Some(x), Some(y)) => x
            .iter()
            .zip(y)
            .fold(T::default(), |acc, (&p, &q)| acc.wrapping_add_(p.wrapping_mul_(q))),
        _ => x
            .iter()
            .zip(y.iter())
            .fold(T::default(), |acc, (&p, &q)| acc.wrapping_add_(p.wrapping_mul_(q))),
    };
    for (a_row, mut c_row) in a.rows().into_iter().zip(c.rows_mut()) {
        for (b_row, c_ij) in b.rows().into_iter().zip(c_row.iter_mut()) {
            *c_ij = dot(a_row, b_row);
        }
    }
}

fn blocked<T: WrappingInt, const MR: usize, const NR: usize>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    mut c: ArrayViewMut2<'_, T>,
) {
    match c.as_slice_mut() {
        Some(c) => blocked_c_order::<T, MR, NR>(a, b, c),
        None => {
            // Only reached through a caller with a strided output: compute in C
            // order, then copy.
            let mut tmp = ndarray::Array2::from_elem(c.raw_dim(), T::default());
            let slice = tmp.as_slice_mut().expect("a new array is in C order");
            blocked_c_order::<T, MR, NR>(a, b, slice);
            c.assign(&tmp);
        }
    }
}

/// The blocked product into `c`, the `(m, n)` output in C order: on one thread,
/// or split into one band of rows per thread (a single fork-join per call; each
/// band packs its own blocks of `B`, which costs `1 / MIN_BAND_ROWS` of its work
/// at most).
fn blocked_c_order<T: WrappingInt, const MR: usize, const NR: usize>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut [T],
) {
    let (m, k) = a.dim();
    let n = b.nrows();
    let threads = threads_for(m, n, k);
    #[cfg(feature = "rayon")]
    if threads > 1 {
        use rayon::prelude::*;
        record(Path::IntegerBands);
        let band = m.div_ceil(threads).div_ceil(MR) * MR;
        c.par_chunks_mut(band * n).enumerate().for_each(|(i, c_band)| {
            let rows = i * band..(i * band + c_band.len() / n);
            blocked_serial::<T, MR, NR>(a.slice(s![rows, ..]), b, c_band);
        });
        return;
    }
    let _ = threads;
    blocked_serial::<T, MR, NR>(a, b, c);
}

/// The blocked product on the calling thread.
fn blocked_serial<T: WrappingInt, const MR: usize, const NR: usize>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    c: &mut [T],
) {
    let (m, k) = a.dim();
    let n = b.nrows();
    let Blocking { mr, nr, kc, mc } = blocking(std::mem::size_of::<T>());
    debug_assert_eq!((mr, nr), (MR, NR), "the dispatch in gemm_nt matches blocking()");
    let mut b_pack = Vec::new();
    let mut a_pack = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let js = j0..(j0 + NC).min(n);
        for k0 in (0..k).step_by(kc) {
            let ks = k0..(k0 + kc).min(k);
            pack::<T, NR>(b.slice(s![js.clone(), ks.clone()]), &mut b_pack);
            for (i, c_rows) in c.chunks_mut(mc * n).enumerate() {
                let i0 = i * mc;
                pack::<T, MR>(a.slice(s![i0..(i0 + mc).min(m), ks.clone()]), &mut a_pack);
                let tiles = Tiles {
                    c: c_rows,
                    ldc: n,
                    j0,
                    first: k0 == 0,
                };
                macro_kernel::<T, MR, NR>(&a_pack, &b_pack, ks.len(), js.len(), tiles);
            }
        }
    }
}

/// Where a block's tiles go: rows of `c` (C order, `ldc` apart), from column `j0`.
struct Tiles<'a, T> {
    c: &'a mut [T],
    ldc: usize,
    j0: usize,
    /// The first `K` block overwrites, the others add.
    first: bool,
}

/// How many threads a product of this size gets: one unless it has at least
/// `PARALLEL_MACS` multiply-adds, and never so many that a band has fewer than
/// `MIN_BAND_ROWS` rows. Rayon's pool size follows `RAYON_NUM_THREADS`.
pub(crate) fn threads_for(m: usize, n: usize, k: usize) -> usize {
    #[cfg(feature = "rayon")]
    {
        if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MACS {
            return rayon::current_num_threads().min(m / MIN_BAND_ROWS).max(1);
        }
    }
    let _ = (m, n, k);
    1
}

/// Packs the rows of `src` into `W`-wide micro-panels, `k`-major:
/// `dst[p * W * kc + kk * W + r] = src[p * W + r, kk]`, zero beyond the last row
/// (zero rows add nothing to a sum).
fn pack<T: WrappingInt, const W: usize>(src: ArrayView2<'_, T>, dst: &mut Vec<T>) {
    let (rows, kc) = src.dim();
    let panels = rows.div_ceil(W);
    dst.clear();
    dst.resize(panels * W * kc, T::default());
    for (p, panel) in dst.chunks_exact_mut(W * kc).enumerate() {
        let group = src.slice(s![p * W..(p * W + W).min(rows), ..]);
        for (r, row) in group.rows().into_iter().enumerate() {
            match row.as_slice() {
                Some(row) => {
                    for (dst_k, &x) in panel.chunks_exact_mut(W).zip(row) {
                        dst_k[r] = x;
                    }
                }
                None => {
                    for (dst_k, &x) in panel.chunks_exact_mut(W).zip(row.iter()) {
                        dst_k[r] = x;
                    }
                }
            }
        }
    }
}

/// `c (+)= a_pack · b_packᵀ` for one block of `n` columns: every `MR x NR` tile, the
/// micro-panel of `B` held in L1 across the micro-panels of `A`.
fn macro_kernel<T: WrappingInt, const MR: usize, const NR: usize>(
    a_pack: &[T],
    b_pack: &[T],
    kc: usize,
    n: usize,
    out: Tiles<'_, T>,
) {
    let m = out.c.len() / out.ldc;
    for (tj, b_panel) in b_pack.chunks_exact(NR * kc).enumerate() {
        let j = out.j0 + tj * NR;
        let nj = NR.min(n - tj * NR);
        for (ti, a_panel) in a_pack.chunks_exact(MR * kc).enumerate() {
            let i0 = ti * MR;
            let mut tile = [[T::default(); NR]; MR];
            micro_kernel::<T, MR, NR>(a_panel, b_panel, &mut tile);
            for (r, sums) in tile.iter().enumerate().take(m - i0) {
                let dst = &mut out.c[(i0 + r) * out.ldc + j..][..nj];
                if out.first {
                    dst.copy_from_slice(&sums[..nj]);
                } else {
                    dst.iter_mut().zip(sums).for_each(|(d, &s)| *d = d.wrapping_add_(s));
                }
            }
        }
    }
}

/// `MR x NR` sums of one `K` block, added into `out`.
#[inline(always)]
fn micro_kernel<T: WrappingInt, const MR: usize, const NR: usize>(
    a_panel: &[T],
    b_panel: &[T],
    out: &mut [[T; NR]; MR],
) {
    let out = out.as_mut_slice();
    if let Ok(out) = out.try_into() {
        kernel_4(a_panel, b_panel, out);
    } else if let Ok(out) = out.try_into() {
        kernel_6(a_panel, b_panel, out);
    } else {
        unreachable!("register tiles have 4 or 6 rows");
    }
}

/// One row of the register tile: `acc += a * b`, lane by lane.
#[inline(always)]
fn row_update<T: WrappingInt, const NR: usize>(acc: &mut [T; NR], a: T, b: &[T; NR]) {
    for j in 0..NR {
        acc[j] = acc[j].wrapping_add_(a.wrapping_mul_(b[j]));
    }
}

// The micro-kernels: for each `k`, the outer product of `MR` values of `A` with `NR`
// values of `B`. The rows are written out one by one (not a loop over rows): LLVM
// then vectorises each row across its `NR` lanes and keeps the whole tile in
// registers; with a row loop it vectorised across rows with gathers, ten times slower.
// Each is compiled three times, for AVX-512, for AVX2 and for the baseline target,
// and the copy of the level in use (`crate::isa()`) runs.
macro_rules! micro_kernels {
    ($($name:ident: $mr:literal [$($a:ident $r:ident),*];)*) => {$(
        fn $name<T: WrappingInt, const NR: usize>(a_panel: &[T], b_panel: &[T], out: &mut [[T; NR]; $mr]) {
            /// The tile's loop, inlined into each copy below.
            #[inline(always)]
            fn tile<T: WrappingInt, const NR: usize>(a_panel: &[T], b_panel: &[T], out: &mut [[T; NR]; $mr]) {
                let mut acc = [[T::default(); NR]; $mr];
                for (a_k, b_k) in a_panel.chunks_exact($mr).zip(b_panel.chunks_exact(NR)) {
                    let a_k: &[T; $mr] = a_k.try_into().expect("MR values");
                    let b_k: &[T; NR] = b_k.try_into().expect("NR values");
                    let [$($a),*] = *a_k;
                    let [$($r),*] = &mut acc;
                    $(row_update($r, $a, b_k);)*
                }
                for r in 0..$mr {
                    for j in 0..NR {
                        out[r][j] = out[r][j].wrapping_add_(acc[r][j]);
                    }
                }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
            fn avx512<T: WrappingInt, const NR: usize>(a_panel: &[T], b_panel: &[T], out: &mut [[T; NR]; $mr]) {
                tile(a_panel, b_panel, out)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2<T: WrappingInt, const NR: usize>(a_panel: &[T], b_panel: &[T], out: &mut [[T; NR]; $mr]) {
                tile(a_panel, b_panel, out)
            }
            #[cfg(target_arch = "x86_64")]
            match isa() {
                // SAFETY: `isa()` is `Avx512` only where run-time detection found
                // AVX-512 F, BW, VL and DQ besides AVX2 and FMA (src/isa.rs).
                #[allow(unsafe_code)]
                Isa::Avx512 => return unsafe { avx512(a_panel, b_panel, out) },
                // SAFETY: `isa()` is `Avx2` only where run-time detection found AVX2 and FMA.
                #[allow(unsafe_code)]
                Isa::Avx2 => return unsafe { avx2(a_panel, b_panel, out) },
                Isa::Portable => {}
            }
            tile(a_panel, b_panel, out)
        }
    )*};
}

micro_kernels! {
    kernel_4: 4 [a0 r0, a1 r1, a2 r2, a3 r3];
    kernel_6: 6 [a0 r0, a1 r1, a2 r2, a3 r3, a4 r4, a5 r5];
}
