//! What a search ranks by: [`Metric`], the element types ([`SearchScalar`]), and
//! the one internal order every metric is ranked in: a *key* where higher is
//! better (the score itself for similarities, the negated distance for
//! [`Metric::L2`]; negation is exact), NaN last, then the lower index.

use std::cmp::Ordering;

use num_traits::Float;

use crate::InnerScalar;

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types of queries and scores: `f32` and `f64`. Sealed.
///
/// Each is also a [`StoredScalar`](super::StoredScalar) that computes in itself.
///
/// ```
/// use ndarray::Array2;
/// use ndarray_inner::search::{top_k, Metric, SearchScalar, TopK};
///
/// fn best<A: SearchScalar>(queries: &Array2<A>, database: &Array2<A>) -> TopK<A> {
///     top_k(queries, database, 1, Metric::Cosine).expect("same row length, k >= 1")
/// }
/// assert_eq!(best(&Array2::<f32>::ones((2, 3)), &Array2::ones((4, 3))).indices.dim(), (2, 1));
/// assert_eq!(best(&Array2::<f64>::ones((2, 3)), &Array2::ones((4, 3))).k(), 1);
/// ```
pub trait SearchScalar:
    InnerScalar + Float + super::StoredScalar<Compute = Self> + private::Sealed + super::kernel::SearchKernels
{
}

impl SearchScalar for f32 {}
impl SearchScalar for f64 {}

/// How a query and a database row are scored.
///
/// For [`InnerProduct`](Metric::InnerProduct) and [`Cosine`](Metric::Cosine) a
/// higher score is a better match; for [`L2`](Metric::L2) a lower one (a
/// distance).
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{top_k, Metric};
///
/// let database = array![[2.0, 0.0], [0.0, 1.0]];
/// let query = array![[1.0, 1.0]];
/// // The inner product prefers the longer row, cosine only looks at the angle.
/// assert_eq!(top_k(&query, &database, 1, Metric::InnerProduct)?.indices[[0, 0]], 0);
/// let cos = top_k(&query, &database, 2, Metric::Cosine)?;
/// assert!((cos.scores[[0, 0]] - 0.5f64.sqrt()).abs() < 1e-15);
/// assert_eq!(cos.indices, array![[0, 1]]); // equal scores: the lower index first
/// // L2 ranks by squared distance, nearest first.
/// let l2 = top_k(&query, &database, 2, Metric::L2)?;
/// assert_eq!(l2.indices, array![[1, 0]]);
/// assert_eq!(l2.scores, array![[1.0, 2.0]]);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `q · x`; higher is better.
    InnerProduct,
    /// `(q · x) / (|q| |x|)`, computed so from the inner product of the raw
    /// vectors and the norms `|v| = sqrt(v · v)`, as NumPy users write it
    /// (`inner(q, x) / outer(|q|, |x|)`); the ranking uses the same values as
    /// [`cosine_similarity`](crate::search::cosine_similarity). The similarity
    /// with a zero vector is defined as `0` (NumPy would give NaN); a row with an
    /// infinite or NaN element gives NaN scores. Higher is better.
    Cosine,
    /// The squared Euclidean distance `sum_k (q_k - x_k)^2`; lower is better.
    ///
    /// The returned neighbours, their order and their scores are those of that
    /// sum computed directly, whatever the batch size or plan (see the
    /// [module documentation](crate::search#exactness-of-l2)); the faster
    /// `|q|^2 + |x|^2 - 2 q·x` only picks the candidates. A NaN element gives a
    /// NaN distance (ranked last); an infinite one gives `inf` (or NaN where
    /// the query has the same infinity).
    L2,
}

impl Metric {
    /// Whether a higher score is a better match: `true` for the similarities,
    /// `false` for [`Metric::L2`].
    ///
    /// ```
    /// use ndarray_inner::search::Metric;
    ///
    /// assert!(Metric::Cosine.higher_is_better());
    /// assert!(!Metric::L2.higher_is_better());
    /// ```
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::L2)
    }

    /// The key of `score` (higher is better): the score, or its negation for L2.
    #[inline]
    pub(crate) fn key<A: Float>(self, score: A) -> A {
        if self.higher_is_better() {
            score
        } else {
            -score
        }
    }

    /// The score of a key: [`key`](Metric::key) is its own inverse.
    #[inline]
    pub(crate) fn score<A: Float>(self, key: A) -> A {
        self.key(key)
    }

    /// Whether the metric needs the norms of the rows (cosine and L2).
    pub(crate) fn uses_norms(self) -> bool {
        !matches!(self, Metric::InnerProduct)
    }
}

/// `(s, i)` ranks before `(t, j)` as keys: higher first, NaN last, then lower index.
#[inline]
pub(crate) fn ranks_before<A: Float>(s: A, i: usize, t: A, j: usize) -> bool {
    match (s.is_nan(), t.is_nan()) {
        (false, false) => s > t || (s == t && i < j),
        (false, true) => true,
        (true, false) => false,
        (true, true) => i < j,
    }
}

/// The ranking of `(key, index)` pairs as an ordering (`Less` = ranks first); a
/// total order on pairs with distinct indices.
pub(crate) fn rank_cmp<A: Float>(a: &(A, usize), b: &(A, usize)) -> Ordering {
    if ranks_before(a.0, a.1, b.0, b.1) {
        Ordering::Less
    } else if ranks_before(b.0, b.1, a.0, a.1) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}
