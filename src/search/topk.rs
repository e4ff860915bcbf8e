//! [`TopK`], the result of a top-k search, and [`TopK::merge`] for the results
//! of the shards of a database; also the assembly of a search's collectors
//! into a `TopK`.

use ndarray::{Array2, ArrayView1};

use super::collect::TopKCollector;
use super::metric::{rank_cmp, Metric};
use super::SearchScalar;
use crate::InnerError;

/// The index of a padding entry: a filtered search with fewer admissible rows
/// than `k` pads each row of its result at the end with this index and a NaN score.
pub const PADDING: usize = usize::MAX;

/// The result of a search: for each query, the best `k` database rows.
///
/// Row `i` of [`indices`](TopK::indices) holds the rows (or, for an index with
/// ids, the ids) that match query `i` best, and the same row of
/// [`scores`](TopK::scores) their scores, best first: by descending score for
/// [`Metric::InnerProduct`] and [`Metric::Cosine`], by ascending distance for
/// [`Metric::L2`]; equal scores by ascending index, NaN scores last (see the
/// [module documentation](super#ranking)).
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{top_k, Metric};
///
/// let database = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let hits = top_k(&array![[0.0, 1.0]], &database, 5, Metric::InnerProduct)?;
/// assert_eq!(hits.indices.shape(), &[1, 3]); // k is clipped to the database's 3 rows
/// for (i, score) in hits.hits(0) {
///     println!("row {i}: {score}");
/// }
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TopK<A> {
    /// Database row indices (or ids), shape `(queries, min(k, database rows))`;
    /// [`PADDING`] where a filtered search found fewer admissible rows.
    pub indices: Array2<usize>,
    /// Their scores, same shape as `indices` (NaN for padding).
    pub scores: Array2<A>,
    /// The metric the scores are of, which fixes their order.
    pub metric: Metric,
}

impl<A: SearchScalar> TopK<A> {
    /// The number of queries (rows of the result).
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{top_k, Metric};
    ///
    /// let hits = top_k(&Array2::<f32>::ones((4, 8)), &Array2::ones((100, 8)), 10, Metric::Cosine)?;
    /// assert_eq!((hits.num_queries(), hits.k()), (4, 10));
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn num_queries(&self) -> usize {
        self.indices.nrows()
    }

    /// The number of hits per query: `min(k, database rows)`.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{top_k, Metric};
    ///
    /// let hits = top_k(&Array2::<f64>::ones((4, 8)), &Array2::ones((3, 8)), 10, Metric::InnerProduct)?;
    /// assert_eq!(hits.k(), 3);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn k(&self) -> usize {
        self.indices.ncols()
    }

    /// Query `q`'s hits as `(index, score)` pairs, best first, without the
    /// padding of a filtered search.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(array![[1.0, 0.0], [0.0, 1.0], [3.0, 0.0]], Metric::L2);
    /// let hits = index.search_filtered(&array![2.0, 0.0], 3, |id| id != 0)?;
    /// assert_eq!(hits.hits(0).collect::<Vec<_>>(), [(2, 1.0), (1, 5.0)]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When `q` is not below [`num_queries`](TopK::num_queries).
    pub fn hits(&self, q: usize) -> impl Iterator<Item = (usize, A)> + '_ {
        let (indices, scores): (ArrayView1<'_, usize>, ArrayView1<'_, A>) = (self.indices.row(q), self.scores.row(q));
        indices
            .into_iter()
            .copied()
            .zip(scores.into_iter().copied())
            .filter(|&(i, _)| i != PADDING)
    }

    /// Combines the results of searching the shards of a database into the exact
    /// result of searching the whole database.
    ///
    /// Each part is a shard's result with the index, in the whole database, of the
    /// shard's row 0 (its offset): the part's index `i` stands for row `offset + i`.
    /// For results that hold ids ([`FlatIndex::with_ids`](super::FlatIndex::with_ids)),
    /// give offset 0. The shards may come in any order and need not be contiguous
    /// or the same size, but every part must answer the same queries with the same
    /// metric, and must have been searched with at least this `k` (or hold all its
    /// shard's rows); then the merge equals [`top_k`](super::top_k) on the whole
    /// database, ties and NaNs included, for every metric. Padding stays padding
    /// (it ranks after every hit). The result has `min(k, total hits per query)`
    /// columns.
    ///
    /// ```
    /// use ndarray::{array, s};
    /// use ndarray_inner::search::{top_k, Metric, TopK};
    ///
    /// let database = array![[1.0], [5.0], [3.0], [5.0], [2.0]];
    /// let queries = array![[1.0], [-1.0]];
    /// for metric in [Metric::InnerProduct, Metric::L2] {
    ///     let first = top_k(&queries, &database.slice(s![..2, ..]), 2, metric)?;
    ///     let rest = top_k(&queries, &database.slice(s![2.., ..]), 2, metric)?;
    ///     let merged = TopK::merge(&[(first, 0), (rest, 2)], 2)?;
    ///     assert_eq!(merged, top_k(&queries, &database, 2, metric)?);
    /// }
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// With no parts, the result has no queries and no columns (and the metric
    /// [`Metric::InnerProduct`]).
    ///
    /// # Errors
    ///
    /// [`InnerError::InvalidK`] for `k = 0`; [`InnerError::NotAligned`] when two parts
    /// have different numbers of queries (the message shows the shapes of their
    /// `indices`); [`InnerError::MetricMismatch`] when two parts were searched with
    /// different metrics; [`InnerError::TooLarge`] when the result cannot be allocated.
    /// Parts with edited fields: [`InnerError::PartShapes`] when a part's `indices`
    /// and `scores` differ in shape, [`InnerError::PartOffset`] when an offset plus
    /// an index overflows `usize`.
    pub fn merge(parts: &[(TopK<A>, usize)], k: usize) -> Result<TopK<A>, InnerError> {
        if k == 0 {
            return Err(InnerError::InvalidK { k });
        }
        let Some((first, _)) = parts.first() else {
            return Ok(TopK {
                indices: Array2::zeros((0, 0)),
                scores: Array2::zeros((0, 0)),
                metric: Metric::InnerProduct,
            });
        };
        let metric = first.metric;
        let q = first.num_queries();
        for (p, (part, offset)) in parts.iter().enumerate() {
            if part.indices.shape() != part.scores.shape() {
                return Err(InnerError::PartShapes {
                    part: p,
                    indices_shape: part.indices.shape().to_vec(),
                    scores_shape: part.scores.shape().to_vec(),
                });
            }
            if part.metric != metric {
                return Err(InnerError::MetricMismatch {
                    part: p,
                    expected: metric,
                    found: part.metric,
                });
            }
            let index = part
                .indices
                .iter()
                .copied()
                .filter(|&i| i != PADDING)
                .max()
                .unwrap_or(0);
            if offset.checked_add(index).is_none_or(|i| i == PADDING) {
                return Err(InnerError::PartOffset {
                    part: p,
                    offset: *offset,
                    index,
                });
            }
            if part.num_queries() != q {
                return Err(InnerError::NotAligned {
                    a_shape: first.indices.shape().to_vec(),
                    b_shape: part.indices.shape().to_vec(),
                    a_axis: 0,
                    b_axis: 0,
                });
            }
        }
        let total: usize = parts.iter().map(|(part, _)| part.k()).sum();
        let kk = k.min(total);
        let (mut scores, mut indices) = alloc_result::<A>(q, kk, first.indices.shape(), &[total])?;
        let mut pool: Vec<(A, usize)> = Vec::with_capacity(total);
        for (i, (mut out_s, mut out_i)) in scores.rows_mut().into_iter().zip(indices.rows_mut()).enumerate() {
            pool.clear();
            for (part, offset) in parts {
                // No overflow: checked against the part's largest index above.
                let global = |&j: &usize| if j == PADDING { PADDING } else { offset + j };
                pool.extend(
                    part.scores
                        .row(i)
                        .iter()
                        .map(|&s| metric.key(s))
                        .zip(part.indices.row(i).iter().map(global)),
                );
            }
            top_in_place(&mut pool, kk);
            for ((s, j), (os, oj)) in pool.iter().zip(out_s.iter_mut().zip(out_i.iter_mut())) {
                *os = metric.score(*s);
                *oj = *j;
            }
        }
        Ok(TopK {
            indices,
            scores,
            metric,
        })
    }
}

/// Keeps the best `kk` of `pool`, sorted best first.
fn top_in_place<A: SearchScalar>(pool: &mut Vec<(A, usize)>, kk: usize) {
    if kk < pool.len() {
        if kk > 0 {
            pool.select_nth_unstable_by(kk - 1, rank_cmp);
        }
        pool.truncate(kk);
    }
    pool.sort_unstable_by(rank_cmp);
}

/// The `TopK` of a search's finished collectors: `parts[p][q]` is query `q`'s
/// collector for part `p` of the database; rows with fewer than `kk` hits are padded.
pub(crate) fn assemble<A: SearchScalar>(
    metric: Metric,
    parts: Vec<Vec<TopKCollector<A>>>,
    (mut scores, mut indices): (Array2<A>, Array2<usize>),
) -> TopK<A> {
    let kk = indices.ncols();
    let mut columns: Vec<std::vec::IntoIter<TopKCollector<A>>> = parts.into_iter().map(Vec::into_iter).collect();
    let mut pool: Vec<(A, usize)> = Vec::new();
    for (mut out_s, mut out_i) in scores.rows_mut().into_iter().zip(indices.rows_mut()) {
        pool.clear();
        for column in &mut columns {
            pool.extend(column.next().expect("a collector per query").into_sorted());
        }
        if columns.len() > 1 {
            top_in_place(&mut pool, kk);
        }
        for (r, (os, oi)) in out_s.iter_mut().zip(out_i.iter_mut()).enumerate() {
            (*os, *oi) = match pool.get(r) {
                Some(&(key, id)) => (metric.score(key), id),
                None => (A::nan(), PADDING),
            };
        }
    }
    TopK {
        indices,
        scores,
        metric,
    }
}

/// The `(q, kk)` score and index arrays of a result, or [`InnerError::TooLarge`]
/// naming the shapes `a_shape` and `b_shape` of the search.
pub(crate) fn alloc_result<A: SearchScalar>(
    q: usize,
    kk: usize,
    a_shape: &[usize],
    b_shape: &[usize],
) -> Result<(Array2<A>, Array2<usize>), InnerError> {
    let too_large = || InnerError::TooLarge {
        a_shape: a_shape.to_vec(),
        b_shape: b_shape.to_vec(),
        out_shape: vec![q, kk],
    };
    let len = q.checked_mul(kk).ok_or_else(too_large)?;
    let bytes = len.checked_mul(std::mem::size_of::<usize>().max(std::mem::size_of::<A>()));
    if bytes.is_none_or(|b| b > isize::MAX as usize) {
        return Err(too_large());
    }
    let mut scores = Vec::new();
    scores.try_reserve_exact(len).map_err(|_| too_large())?;
    scores.resize(len, A::nan());
    let mut indices = Vec::new();
    indices.try_reserve_exact(len).map_err(|_| too_large())?;
    indices.resize(len, PADDING);
    Ok((
        Array2::from_shape_vec((q, kk), scores).expect("q * kk elements"),
        Array2::from_shape_vec((q, kk), indices).expect("q * kk elements"),
    ))
}
