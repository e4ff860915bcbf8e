//! Integers: a cache-blocked `C = A · Bᵀ` in safe Rust with wrapping arithmetic.
//!
//! Blocks of rows of `A` and `B` are packed into contiguous panels (so any layout
//! reads the same), then a register tile of `MR x NR` dot products runs over the
//! shared `K` block with one accumulator vector per pair: plain array loops that
//! the compiler turns into SIMD (`multiversion` builds AVX2 and AVX-512 copies and
//! picks one at run time). Wrapping `*` and `+` give NumPy's results exactly, since
//! arithmetic modulo 2^bits does not depend on the order of the sum.

use std::ops::Range;

use multiversion::multiversion;
use ndarray::{s, ArrayView2, ArrayViewMut2};

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

/// Below this many multiply-adds the packed kernel's setup costs more than it saves.
const TINY_MACS: usize = 4096;
/// Length of the `K` block: a packed `A` tile and `B` tile stay in L1.
const KC: usize = 256;
/// Rows of `A` packed at a time (the panel reused across all of `B`'s block).
const MC: usize = 64;
/// Rows of `B` packed at a time.
const NC: usize = 256;
/// The register tile: `MR` rows of `A` against `NR` rows of `B`.
const MR: usize = 4;
const NR: usize = 4;

/// `c ← a · bᵀ` with wrapping arithmetic, for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`.
pub(crate) fn gemm_nt<T: WrappingInt>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m.saturating_mul(n).saturating_mul(k) <= TINY_MACS {
        for (a_row, mut c_row) in a.rows().into_iter().zip(c.rows_mut()) {
            for (b_row, c_ij) in b.rows().into_iter().zip(c_row.iter_mut()) {
                *c_ij = a_row
                    .iter()
                    .zip(b_row.iter())
                    .fold(T::default(), |acc, (&x, &y)| acc.wrapping_add_(x.wrapping_mul_(y)));
            }
        }
        return;
    }
    // One accumulator vector is 32 bytes of lanes, whatever the width of T.
    match std::mem::size_of::<T>() {
        1 => blocked::<T, 32>(a, b, c.view_mut()),
        2 => blocked::<T, 16>(a, b, c.view_mut()),
        4 => blocked::<T, 8>(a, b, c.view_mut()),
        _ => blocked::<T, 4>(a, b, c.view_mut()),
    }
}

fn blocked<T: WrappingInt, const L: usize>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    c.fill(T::default());
    let mut a_pack = Vec::with_capacity(MC * KC);
    let mut b_pack = Vec::with_capacity(NC * KC);
    for k0 in (0..k).step_by(KC) {
        let ks = k0..(k0 + KC).min(k);
        for j0 in (0..n).step_by(NC) {
            let js = j0..(j0 + NC).min(n);
            pack(&b, js.clone(), ks.clone(), NR, &mut b_pack);
            for i0 in (0..m).step_by(MC) {
                let is = i0..(i0 + MC).min(m);
                pack(&a, is.clone(), ks.clone(), MR, &mut a_pack);
                panel::<T, L>(&a_pack, &b_pack, ks.len(), c.slice_mut(s![is, js.clone()]));
            }
        }
    }
}

/// Copies rows `rows`, columns `cols` of `src` into `dst` row after row, padding
/// with zero rows up to a multiple of `multiple` (zero rows add nothing to a sum).
fn pack<T: WrappingInt>(
    src: &ArrayView2<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
    multiple: usize,
    dst: &mut Vec<T>,
) {
    dst.clear();
    let width = cols.len();
    let padded_rows = rows.len().div_ceil(multiple) * multiple;
    for row in src.slice(s![rows, cols]).rows() {
        match row.as_slice() {
            Some(slice) => dst.extend_from_slice(slice),
            None => dst.extend(row.iter().copied()),
        }
    }
    dst.resize(padded_rows * width, T::default());
}

/// Adds `a_pack · b_packᵀ` (rows of length `kc`) into `c`, one register tile at a time.
fn panel<T: WrappingInt, const L: usize>(a_pack: &[T], b_pack: &[T], kc: usize, mut c: ArrayViewMut2<'_, T>) {
    let (m, n) = c.dim();
    for (ti, a_tile) in a_pack.chunks_exact(MR * kc).enumerate() {
        for (tj, b_tile) in b_pack.chunks_exact(NR * kc).enumerate() {
            let sums = tile::<T, L>(a_tile, b_tile, kc);
            for (r, sums_r) in sums.iter().enumerate() {
                let i = ti * MR + r;
                if i >= m {
                    break;
                }
                for (q, &sum) in sums_r.iter().enumerate() {
                    let j = tj * NR + q;
                    if j >= n {
                        break;
                    }
                    c[[i, j]] = c[[i, j]].wrapping_add_(sum);
                }
            }
        }
    }
}

/// The `MR x NR` dot products of `MR` packed rows of `A` with `NR` packed rows of
/// `B`, each row `kc` long. `L` lanes per accumulator let the compiler use whole
/// vector registers; the lanes are summed at the end.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn tile<T: WrappingInt, const L: usize>(a: &[T], b: &[T], kc: usize) -> [[T; NR]; MR] {
    let zero = T::default();
    let mut acc = [[[zero; L]; NR]; MR];
    let full = kc / L * L;
    let mut k0 = 0;
    while k0 < full {
        let a_vecs: [[T; L]; MR] = std::array::from_fn(|r| a[r * kc + k0..][..L].try_into().expect("L lanes"));
        let b_vecs: [[T; L]; NR] = std::array::from_fn(|q| b[q * kc + k0..][..L].try_into().expect("L lanes"));
        for r in 0..MR {
            for q in 0..NR {
                for l in 0..L {
                    acc[r][q][l] = acc[r][q][l].wrapping_add_(a_vecs[r][l].wrapping_mul_(b_vecs[q][l]));
                }
            }
        }
        k0 += L;
    }
    let mut sums = [[zero; NR]; MR];
    for r in 0..MR {
        for q in 0..NR {
            let mut s = acc[r][q].iter().fold(zero, |s, &x| s.wrapping_add_(x));
            for kk in full..kc {
                s = s.wrapping_add_(a[r * kc + kk].wrapping_mul_(b[q * kc + kk]));
            }
            sums[r][q] = s;
        }
    }
    sums
}
