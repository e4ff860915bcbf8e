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
pub const WORD: usize = 64;

/// Rows of `b` whose packed words are scanned against one row of `a` before
/// the next row of `a`: 256 rows of 4096 elements pack into 128 KiB, which
/// stays in L2 while every row of `a` passes over them.
pub const B_BLOCK_ROWS: usize = 256;

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
    // The first word of every row of `b`, contiguous: one vectorised pass of ANDs
    // settles most outputs of dense rows, and only the pairs whose first words
    // share no bit go on to the other words.
    let b_first: Vec<u64> = b_bits.chunks_exact(words).map(|w| w[0]).collect();
    let mut row_out = vec![false; n.min(B_BLOCK_ROWS)];
    for j0 in (0..n).step_by(B_BLOCK_ROWS) {
        let j1 = (j0 + B_BLOCK_ROWS).min(n);
        let out = &mut row_out[..j1 - j0];
        for (i, a_row) in a_bits.chunks_exact(words).enumerate() {
            let a0 = a_row[0];
            for (o, &b0) in out.iter_mut().zip(&b_first[j0..j1]) {
                *o = a0 & b0 != 0;
            }
            if words > 1 {
                for (j, o) in (j0..j1).zip(out.iter_mut()) {
                    if !*o {
                        let b_row = &b_bits[j * words + 1..(j + 1) * words];
                        *o = a_row[1..].iter().zip(b_row).any(|(&x, &y)| x & y != 0);
                    }
                }
            }
            let mut c_row = c.slice_mut(ndarray::s![i, j0..j1]);
            match c_row.as_slice_mut() {
                Some(dst) => dst.copy_from_slice(out),
                None => c_row.iter_mut().zip(out.iter()).for_each(|(d, &o)| *d = o),
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
            // A `bool` is a byte holding 0 or 1.
            let bytes: &[u8] = bytemuck::cast_slice(elems);
            for (w, chunk) in dst.iter_mut().zip(bytes.chunks(WORD)) {
                let (eights, rest) = chunk.as_chunks::<8>();
                let mut word = 0;
                for (g, eight) in eights.iter().enumerate() {
                    word |= gather_bits(u64::from_le_bytes(*eight)) << (8 * g);
                }
                for (t, &e) in rest.iter().enumerate() {
                    word |= u64::from(e) << (8 * eights.len() + t);
                }
                *w = word;
            }
        }
        None => {
            for (t, &e) in row.iter().enumerate() {
                dst[t / WORD] |= u64::from(e) << (t % WORD);
            }
        }
    }
}

/// The low bits of the eight bytes of `x` (each 0 or 1), byte `t` to bit `t`:
/// the multiplication moves byte `t` to bit `56 + t` and every other product
/// to a distinct bit outside the top byte, so nothing carries into it.
#[inline]
fn gather_bits(x: u64) -> u64 {
    x.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

#[cfg(test)]
mod tests {
    #[test]
    fn gather_bits_moves_byte_t_to_bit_t() {
        for pattern in 0..256u64 {
            let bytes: [u8; 8] = std::array::from_fn(|t| ((pattern >> t) & 1) as u8);
            assert_eq!(super::gather_bits(u64::from_le_bytes(bytes)), pattern);
        }
    }
}
