//! `bool`: NumPy's `inner` of booleans is the OR over `k` of the ANDs.
//!
//! Each row of both operands is packed into 64-bit words, bit `t` of word `w`
//! holding element `64w + t`; an output is then `true` as soon as one pair of
//! words shares a bit, so a pair costs `K/64` word ANDs at most and usually one
//! (dense rows meet in their first word). NumPy's `BOOL_dot` also stops at the
//! first `true`, but one element at a time.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

use crate::paths::{record, Path};

/// Bits per packed word.
const WORD: usize = 64;

/// Rows of `b` whose packed words are scanned against one row of `a` before
/// the next row of `a`: 256 rows of 4096 elements pack into 128 KiB, which
/// stays in L2 while every row of `a` passes over them.
const B_BLOCK_ROWS: usize = 256;

/// `c[i, j] ← OR_k (a[i, k] AND b[j, k])` for `a: (m, k)`, `b: (n, k)`, `c: (m, n)`.
/// `c` is only written.
pub(crate) fn gemm_nt(a: ArrayView2<'_, bool>, b: ArrayView2<'_, bool>, mut c: ArrayViewMut2<'_, bool>) {
    let (m, k) = a.dim();
    let n = b.nrows();
    if m == 0 || n == 0 {
        return;
    }
    record(Path::BoolWords);
    let words = k.div_ceil(WORD);
    let a_bits = pack(a, words);
    let b_bits = pack(b, words);
    if words == 0 {
        c.fill(false);
        return;
    }
    for j0 in (0..n).step_by(B_BLOCK_ROWS) {
        let j1 = (j0 + B_BLOCK_ROWS).min(n);
        let b_blk = &b_bits[j0 * words..j1 * words];
        for (i, a_row) in a_bits.chunks_exact(words).enumerate() {
            for (j, b_row) in (j0..j1).zip(b_blk.chunks_exact(words)) {
                c[[i, j]] = a_row.iter().zip(b_row).any(|(&x, &y)| x & y != 0);
            }
        }
    }
}

/// The rows of `x` packed into `words` words each, C order.
fn pack(x: ArrayView2<'_, bool>, words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; x.nrows() * words];
    if words == 0 {
        return bits;
    }
    for (dst, row) in bits.chunks_exact_mut(words).zip(x.rows()) {
        pack_row(row, dst);
    }
    bits
}

/// One row into its words.
fn pack_row(row: ArrayView1<'_, bool>, dst: &mut [u64]) {
    match row.as_slice() {
        Some(elems) => {
            for (w, chunk) in dst.iter_mut().zip(elems.chunks(WORD)) {
                *w = chunk
                    .iter()
                    .enumerate()
                    .fold(0, |acc, (t, &e)| acc | (u64::from(e) << t));
            }
        }
        None => {
            for (t, &e) in row.iter().enumerate() {
                dst[t / WORD] |= u64::from(e) << (t % WORD);
            }
        }
    }
}
