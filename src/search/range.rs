//! [`RangeHits`], the result of a range search (every row within a threshold,
//! per query), and its assembly from a search's collectors.

use super::collect::RangeCollector;
use super::metric::{rank_cmp, Metric};
use super::SearchScalar;
use crate::InnerError;

/// The result of a range search: for each query, every database row within
/// the radius, best first (as in [`TopK`](super::TopK): by score, then index).
///
/// The hits of all queries are stored one after the other, as faiss does: query
/// `q`'s are `indices[lims[q]..lims[q + 1]]`, with the scores at the same
/// positions of `scores`.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{range_search, Metric};
///
/// let database = array![[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]];
/// let queries = array![[0.0, 0.0], [10.0, 0.0]];
/// let r = range_search(&queries, &database, 2.0, Metric::L2)?; // distance < 2
/// assert_eq!(r.lims, [0, 2, 2]);
/// assert_eq!(r.hits(0).collect::<Vec<_>>(), [(0, 0.0), (1, 1.0)]);
/// assert_eq!(r.hits(1).count(), 0);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RangeHits<A> {
    /// `Q + 1` offsets into `indices` and `scores`.
    pub lims: Vec<usize>,
    /// The rows (or ids) of every hit, query after query.
    pub indices: Vec<usize>,
    /// Their scores.
    pub scores: Vec<A>,
    /// The metric the scores are of.
    pub metric: Metric,
}

impl<A: SearchScalar> RangeHits<A> {
    /// The number of queries.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{range_search, Metric};
    ///
    /// let r = range_search(&Array2::<f32>::ones((3, 2)), &Array2::ones((5, 2)), 1.0, Metric::InnerProduct)?;
    /// assert_eq!((r.num_queries(), r.len()), (3, 15));
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn num_queries(&self) -> usize {
        self.lims.len().saturating_sub(1)
    }

    /// The number of hits over all queries.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{range_search, Metric};
    ///
    /// let r = range_search(&array![[1.0]], &array![[1.0], [2.0]], 1.5, Metric::InnerProduct)?;
    /// assert_eq!(r.len(), 1);
    /// assert!(!r.is_empty());
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether no query has a hit.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{range_search, Metric};
    ///
    /// assert!(range_search(&array![[1.0]], &array![[1.0]], 5.0, Metric::InnerProduct)?.is_empty());
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Query `q`'s hits as `(index, score)` pairs, best first.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{range_search, Metric};
    ///
    /// let r = range_search(&array![[1.0, 0.0]], &array![[2.0, 0.0], [0.5, 0.0], [3.0, 1.0]], 1.0, Metric::InnerProduct)?;
    /// assert_eq!(r.hits(0).collect::<Vec<_>>(), [(2, 3.0), (0, 2.0)]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When `q` is not below [`num_queries`](RangeHits::num_queries).
    pub fn hits(&self, q: usize) -> impl Iterator<Item = (usize, A)> + '_ {
        let range = self.lims[q]..self.lims[q + 1];
        self.indices[range.clone()]
            .iter()
            .copied()
            .zip(self.scores[range].iter().copied())
    }
}

/// The `RangeHits` of a search's finished collectors (`parts[p][q]`: part `p`
/// of the database, query `q`).
pub(crate) fn assemble<A: SearchScalar>(
    metric: Metric,
    q: usize,
    parts: Vec<Vec<RangeCollector<A>>>,
    too_large: impl Fn() -> InnerError,
) -> Result<RangeHits<A>, InnerError> {
    let mut columns: Vec<std::vec::IntoIter<RangeCollector<A>>> = parts.into_iter().map(Vec::into_iter).collect();
    let mut lims = Vec::with_capacity(q + 1);
    lims.push(0);
    let (mut indices, mut scores) = (Vec::new(), Vec::new());
    let mut pool: Vec<(A, usize)> = Vec::new();
    for _ in 0..q {
        pool.clear();
        for column in &mut columns {
            pool.append(&mut column.next().expect("a collector per query").hits);
        }
        pool.sort_unstable_by(rank_cmp);
        indices.try_reserve(pool.len()).map_err(|_| too_large())?;
        scores.try_reserve(pool.len()).map_err(|_| too_large())?;
        for &(key, id) in &pool {
            indices.push(id);
            scores.push(metric.score(key));
        }
        lims.push(indices.len());
    }
    Ok(RangeHits {
        lims,
        indices,
        scores,
        metric,
    })
}
