//! The full pairwise cosine matrix, with the same values [`Metric::Cosine`]
//! ranks by.
//!
//! [`Metric::Cosine`]: super::Metric::Cosine

use ndarray::{Array2, ArrayRef2};

use super::collect::to_cosines;
use super::kernel::norms_into;
use super::SearchScalar;
use crate::{InnerError, InnerExt};

/// The pairwise cosine similarities of the rows of `a` and the rows of `b`:
/// `out[i, j] = (a_i · b_j) / (|a_i| |b_j|)`, shape `(rows of a, rows of b)`.
///
/// Computed as `(a_i · b_j) / (|a_i| · |b_j|)` with `|v| = sqrt(v · v)`, the
/// inner products by [`inner`](crate::InnerExt::inner). The similarity with a
/// zero vector is `0`, not NaN as NumPy's `inner(a, b) / outer(norms)` would
/// give; rows with an infinite or NaN element give NaN. Rounding can put a value
/// a few ulps outside `[-1, 1]`.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::cosine_similarity;
///
/// let a = array![[3.0, 4.0], [0.0, 0.0]];
/// let b = array![[1.0, 0.0], [0.0, 2.0], [-3.0, -4.0]];
/// let c = cosine_similarity(&a, &b);
/// assert_eq!(c, array![[0.6, 0.8, -1.0], [0.0, 0.0, 0.0]]);
/// ```
///
/// # Panics
///
/// With the message of [`try_cosine_similarity`]'s error: when the rows differ in
/// length, or the output is too large to allocate.
///
/// # Performance
///
/// One GEMM ([`inner`](crate::InnerExt::inner)) plus one scaling pass over the output.
#[track_caller]
pub fn cosine_similarity<A: SearchScalar>(a: &ArrayRef2<A>, b: &ArrayRef2<A>) -> Array2<A> {
    match try_cosine_similarity(a, b) {
        Ok(out) => out,
        Err(err) => panic!("{err}"),
    }
}

/// [`cosine_similarity`], returning an error instead of panicking.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::try_cosine_similarity;
///
/// let err = try_cosine_similarity(&array![[1.0, 2.0]], &array![[1.0, 2.0, 3.0]]).unwrap_err();
/// assert_eq!(err.to_string(), "shapes (1,2) and (1,3) not aligned: 2 (dim 1) != 3 (dim 1)");
/// ```
///
/// # Errors
///
/// [`InnerError::NotAligned`] when the rows of `a` and `b` differ in length;
/// [`InnerError::TooLarge`] when the output cannot be allocated.
pub fn try_cosine_similarity<A: SearchScalar>(a: &ArrayRef2<A>, b: &ArrayRef2<A>) -> Result<Array2<A>, InnerError> {
    let mut out: Array2<A> = a.try_inner(b)?;
    let a_norms = norms(a);
    let b_norms = norms(b);
    for (mut row, &na) in out.rows_mut().into_iter().zip(&a_norms) {
        to_cosines(row.as_slice_mut().expect("a new array is in C order"), na, &b_norms);
    }
    Ok(out)
}

/// `|row|` of every row, in the search kernels' fixed order.
pub(crate) fn norms<A: SearchScalar>(rows: &ArrayRef2<A>) -> Vec<A> {
    let mut out = Vec::with_capacity(rows.nrows());
    match rows.as_slice() {
        Some(all) => norms_into(all, rows.nrows(), &mut out),
        None => {
            let mut buf = Vec::with_capacity(rows.ncols());
            for row in rows.rows() {
                buf.clear();
                buf.extend(row.iter().copied());
                norms_into(&buf, 1, &mut out);
            }
        }
    }
    out
}
