//! Exact top-k similarity search by inner product and cosine.
//!
//! ```
//! use ndarray::array;
//! use ndarray_inner::search::{top_k, Metric, TopK};
//!
//! let database = array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]];
//! let queries = array![[1.0f32, 0.1], [0.0, 2.0]];
//! let hits: TopK<f32> = top_k(&queries, &database, 2, Metric::InnerProduct)?;
//! assert_eq!(hits.indices, array![[0, 2], [1, 2]]);
//! assert_eq!(hits.scores, array![[1.0, 0.68], [2.0, 1.6]]);
//! # Ok::<(), ndarray_inner::InnerError>(())
//! ```
//!
//! - [`top_k`]: the one-shot search of a database for a batch of queries.
//! - [`FlatIndex`]: the same search over a database it owns, with the cosine norms
//!   computed once, and rows that can be added.
//! - [`TopK`]: the result, and [`TopK::merge`] to combine the results of the shards
//!   of a database into the exact result for the whole of it.
//! - [`cosine_similarity`]: the full pairwise cosine matrix.
//!
//! # Ranking
//!
//! Every row of a result is sorted by descending score; equal scores are ordered by
//! the lower database index first. NaN scores rank below every other score
//! (including `-inf`), so a NaN never comes before a number; two NaNs are ordered
//! by index. `-0.0` and `0.0` are equal scores.
//!
//! # How it runs
//!
//! The database is searched a block at a time: each block of up to 1024 queries
//! times each block of database rows (1024 rows of `f32`, 512 of `f64`) is one
//! GEMM through the crate's own [`inner_into`](crate::InnerExt::inner_into) into a
//! reused 4 MiB scratch block, and each query's row of that block is merged into
//! the query's running top-k: a bounded heap, behind a vectorised test against the
//! heap's worst score that skips, after the first block, nearly every score. The
//! `Q x N` score matrix is never made: besides the inputs a search holds the
//! `(Q, k)` result, a copy of one block of queries, and one scratch block per thread.
//! The scores come from the same GEMM path as [`inner`](crate::InnerExt::inner):
//! the same values, except that a block too small for GEMM (a last block of a few
//! rows) takes `inner`'s direct dot-product path, whose rounding may differ in the
//! last bits.
//!
//! With the default `rayon` feature, a search of at least 2^24 multiply-adds
//! (`Q·N·d`) uses the threads; a smaller one runs on the calling thread, paying no
//! thread start-up. The GEMM of `inner` is already threaded (matrixmultiply's own
//! threads, `MATMUL_NUM_THREADS`, one per core up to 4 by default), so by default
//! the blocks run one after the other, each GEMM on all its threads, and the scan
//! of each block is split over the rayon threads (`RAYON_NUM_THREADS`): splitting
//! the blocks over rayon threads as well would run two GEMM thread pools on the
//! same cores. With `MATMUL_NUM_THREADS=1` the GEMMs are single-threaded and the
//! search instead splits the queries (or, for fewer than 64 queries per thread,
//! the database, merging the parts) over the rayon threads; on machines with more
//! than 4 cores that is the way to use them all. A single query (a matrix-vector
//! product) and rows too short for the GEMM to thread are split the same way.
//! Without the feature everything runs on the calling thread.
//!
//! Batch the queries: the GEMM packs (transposes) every database block once per
//! block of queries, which costs as much as a few queries' multiply-adds, so small
//! batches are bound by it. Measured on a 2-core AMD EPYC (Zen 4), one thread,
//! f32 database `(100000, 128)`, `k = 10`: 1 query 2.3 ms, 16 queries 20 ms,
//! 1000 queries 0.27 s (faiss `IndexFlatIP`: 0.32 s; `scripts/bench_search.py`).

use std::cmp::Ordering;
use std::ops::Range;

use multiversion::multiversion;
use ndarray::{s, Array2, ArrayRef2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use num_traits::Float;

use crate::paths::{record, Path};
use crate::{InnerError, InnerExt, InnerScalar};

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types the search accepts: `f32` and `f64`. Sealed.
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
pub trait SearchScalar: InnerScalar + Float + private::Sealed {}

impl SearchScalar for f32 {}
impl SearchScalar for f64 {}

/// How a query and a database row are scored; a higher score is a better match.
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
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `q · x`, computed by the GEMM of [`inner`](crate::InnerExt::inner).
    InnerProduct,
    /// `(q · x) / (|q| |x|)`, computed so from the inner product of the raw
    /// vectors and the norms `|v| = sqrt(v · v)`, as NumPy users write it
    /// (`inner(q, x) / outer(|q|, |x|)`); the ranking uses the same values as
    /// [`cosine_similarity`]. The similarity with a
    /// zero vector is defined as `0` (NumPy would give NaN); a row with an infinite
    /// or NaN element gives NaN scores.
    Cosine,
}

/// The result of a search: for each query, the best `k` database rows.
///
/// Row `i` of [`indices`](TopK::indices) holds the database rows that match query `i`
/// best, and the same row of [`scores`](TopK::scores) their scores, sorted by
/// descending score, equal scores by ascending index, NaN scores last (see the
/// [module documentation](self#ranking)).
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{top_k, Metric};
///
/// let database = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let hits = top_k(&array![[0.0, 1.0]], &database, 5, Metric::InnerProduct)?;
/// assert_eq!(hits.indices.shape(), &[1, 3]); // k is clipped to the database's 3 rows
/// for (&i, &score) in hits.indices.row(0).iter().zip(hits.scores.row(0)) {
///     println!("row {i}: {score}");
/// }
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TopK<A> {
    /// Database row indices, shape `(queries, min(k, database rows))`.
    pub indices: Array2<usize>,
    /// Their scores, same shape as `indices`.
    pub scores: Array2<A>,
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

    /// Combines the results of searching the shards of a database into the exact
    /// result of searching the whole database.
    ///
    /// Each part is a shard's result with the index, in the whole database, of the
    /// shard's row 0 (its offset): the part's index `i` stands for row `offset + i`.
    /// The shards may come in any order and need not be contiguous or the same
    /// size, but every part must answer the same queries, and must have been
    /// searched with at least this `k` (or hold all its shard's rows); then the
    /// merge equals [`top_k`] on the whole database, ties and NaNs included. The
    /// result has `min(k, total hits per query)` columns.
    ///
    /// ```
    /// use ndarray::{array, s};
    /// use ndarray_inner::search::{top_k, Metric, TopK};
    ///
    /// let database = array![[1.0], [5.0], [3.0], [5.0], [2.0]];
    /// let queries = array![[1.0], [-1.0]];
    /// let first = top_k(&queries, &database.slice(s![..2, ..]), 2, Metric::InnerProduct)?;
    /// let rest = top_k(&queries, &database.slice(s![2.., ..]), 2, Metric::InnerProduct)?;
    /// let merged = TopK::merge(&[(first, 0), (rest, 2)], 2)?;
    /// assert_eq!(merged, top_k(&queries, &database, 2, Metric::InnerProduct)?);
    /// assert_eq!(merged.indices, array![[1, 3], [0, 4]]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// With no parts, the result has no queries and no columns.
    ///
    /// # Errors
    ///
    /// [`InnerError::InvalidK`] for `k = 0`; [`InnerError::NotAligned`] when two parts
    /// have different numbers of queries (the message shows the shapes of their
    /// `indices`); [`InnerError::TooLarge`] when the result cannot be allocated.
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
            });
        };
        let q = first.num_queries();
        for (p, (part, offset)) in parts.iter().enumerate() {
            if part.indices.shape() != part.scores.shape() {
                return Err(InnerError::PartShapes {
                    part: p,
                    indices_shape: part.indices.shape().to_vec(),
                    scores_shape: part.scores.shape().to_vec(),
                });
            }
            let index = part.indices.iter().copied().max().unwrap_or(0);
            if offset.checked_add(index).is_none() {
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
                let global = |&j: &usize| offset + j;
                pool.extend(
                    part.scores
                        .row(i)
                        .iter()
                        .copied()
                        .zip(part.indices.row(i).iter().map(global)),
                );
            }
            if kk < pool.len() {
                pool.select_nth_unstable_by(kk - 1, rank_cmp);
                pool.truncate(kk);
            }
            pool.sort_unstable_by(rank_cmp);
            for ((s, j), (os, oj)) in pool.iter().zip(out_s.iter_mut().zip(out_i.iter_mut())) {
                *os = *s;
                *oj = *j;
            }
        }
        Ok(TopK { indices, scores })
    }
}

/// The exact `k` best matches in `database` for every query, by `metric`.
///
/// `queries` has shape `(Q, d)` and `database` `(N, d)`; both may be any array or
/// view of any layout (C or F order, transposed, sliced with steps). The result
/// has shape `(Q, min(k, N))`; see [`TopK`] for the order.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{top_k, Metric};
///
/// let database = array![[1.0, 0.0], [0.0, 1.0], [3.0, 3.0], [-1.0, -1.0]];
/// let queries = array![[1.0, 2.0], [-1.0, 0.0]];
/// let ip = top_k(&queries, &database, 2, Metric::InnerProduct)?;
/// assert_eq!(ip.indices, array![[2, 1], [3, 1]]);
/// assert_eq!(ip.scores, array![[9.0, 2.0], [1.0, 0.0]]);
///
/// let cos = top_k(&queries, &database, 1, Metric::Cosine)?;
/// assert_eq!(cos.indices, array![[2], [3]]);
///
/// // A view works as well: the transposed database of a (d, N) array.
/// let columns = database.t().to_owned();
/// assert_eq!(top_k(&queries, &columns.t(), 2, Metric::InnerProduct)?, ip);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
///
/// Edge cases, none of which panic: `k > N` gives all `N` rows, ranked; `N = 0`
/// gives `Q` empty rows, `Q = 0` no rows; `d = 0` scores every pair `0`. A NaN in
/// a query or a database row makes its scores NaN, which rank last.
///
/// # Errors
///
/// [`InnerError::InvalidK`] for `k = 0`; [`InnerError::NotAligned`] when the rows of
/// `queries` and `database` differ in length (`shapes (5,64) and (100,32) not
/// aligned: 64 (dim 1) != 32 (dim 1)`); [`InnerError::TooLarge`] when the `(Q, k)`
/// result cannot be allocated.
///
/// # Performance
///
/// The cost is one GEMM's worth of multiply-adds, `Q·N·d`, done a block at a time
/// (see the [module documentation](self#how-it-runs)), plus for [`Metric::Cosine`]
/// the norms of the database, `N·d`; to search the same database many times,
/// [`FlatIndex`] computes those once. Memory besides the inputs: the `(Q, k)`
/// result, a copy of one block of queries and a 4 MiB scratch block per thread.
/// Inputs of any layout are read in place; a database that is not in C order is
/// packed by the GEMM block by block, never copied whole.
pub fn top_k<A: SearchScalar>(
    queries: &ArrayRef2<A>,
    database: &ArrayRef2<A>,
    k: usize,
    metric: Metric,
) -> Result<TopK<A>, InnerError> {
    check_args(queries, database, k)?;
    let db_norms = match metric {
        Metric::InnerProduct => None,
        Metric::Cosine => Some(norms(database)),
    };
    search(queries.view(), database.view(), db_norms.as_deref(), k)
}

/// The pairwise cosine similarities of the rows of `a` and the rows of `b`:
/// `out[i, j] = (a_i · b_j) / (|a_i| |b_j|)`, shape `(rows of a, rows of b)`.
///
/// Computed as `(a_i · b_j) / (|a_i| · |b_j|)` with `|v| = sqrt(v · v)`, the same
/// values that [`Metric::Cosine`] ranks by. The similarity with a zero vector is `0`, not
/// NaN as NumPy's `inner(a, b) / outer(norms)` would give; rows with an infinite or
/// NaN element give NaN. Rounding can put a value a few ulps outside `[-1, 1]`.
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

/// An exact (brute-force) search index over a database it owns: NumPy-exact
/// scores, like faiss's `IndexFlatIP`, plus cosine.
///
/// For [`Metric::Cosine`] the norms of the rows are computed once, when
/// the rows arrive, not at every search. Indices in results are row numbers in the
/// order the rows were given.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{FlatIndex, Metric};
///
/// let mut index = FlatIndex::new(array![[1.0f32, 0.0], [0.0, 1.0]], Metric::Cosine);
/// index.add(&array![[1.0, 1.0], [0.0, 0.0]])?;
/// assert_eq!(index.len(), 4);
/// let hits = index.search(&array![[2.0, 1.9]], 2)?;
/// assert_eq!(hits.indices, array![[2, 0]]);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FlatIndex<A> {
    /// The rows, in C order, `len * dim` elements.
    data: Vec<A>,
    len: usize,
    dim: usize,
    metric: Metric,
    /// `|row|` per row, for [`Metric::Cosine`] only.
    norms: Vec<A>,
}

impl<A: SearchScalar> FlatIndex<A> {
    /// An index over the rows of `database` (shape `(N, d)`; `N` may be 0, `d`
    /// fixes the dimension of every later row and query).
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(Array2::<f64>::zeros((0, 128)), Metric::InnerProduct);
    /// assert!(index.is_empty());
    /// assert_eq!(index.dim(), 128);
    /// ```
    ///
    /// # Performance
    ///
    /// Takes over the array's buffer when it is in C order (no copy; a sliced
    /// array's elements are moved to the buffer's start in place); any other layout
    /// is copied once into C order. For [`Metric::Cosine`], `O(N·d)` for the norms.
    pub fn new(database: Array2<A>, metric: Metric) -> Self {
        let (len, dim) = database.dim();
        let data = if database.is_standard_layout() {
            let (mut vec, offset) = database.into_raw_vec_and_offset();
            // A sliced array's elements start later in its buffer: moved down in place.
            vec.drain(..offset.unwrap_or(0));
            vec.truncate(len * dim);
            vec
        } else {
            database.iter().copied().collect()
        };
        let mut index = FlatIndex {
            data,
            len,
            dim,
            metric,
            norms: Vec::new(),
        };
        if metric == Metric::Cosine {
            index.norms = norms(&index.database());
        }
        index
    }

    /// Appends the rows of `rows` (shape `(M, d)`, any layout) to the database;
    /// they get the indices `len()..len() + M`.
    ///
    /// ```
    /// use ndarray::{array, Array2};
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let mut index = FlatIndex::new(Array2::<f32>::zeros((0, 2)), Metric::InnerProduct);
    /// index.add(&array![[1.0, 2.0]])?;
    /// index.add(&array![[3.0, 4.0], [5.0, 6.0]].t())?; // any layout
    /// assert_eq!(index.database(), array![[1.0, 2.0], [3.0, 5.0], [4.0, 6.0]]);
    /// assert!(index.add(&array![[1.0, 2.0, 3.0]]).is_err());
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::NotAligned`] when the rows' length is not the index's `d`
    /// (the message shows the shapes of the database and of `rows`), and then the
    /// index is unchanged; [`InnerError::TooLarge`] when the database cannot grow.
    pub fn add(&mut self, rows: &ArrayRef2<A>) -> Result<(), InnerError> {
        let (m, d) = rows.dim();
        if d != self.dim {
            return Err(InnerError::NotAligned {
                a_shape: vec![self.len, self.dim],
                b_shape: vec![m, d],
                a_axis: 1,
                b_axis: 1,
            });
        }
        let too_large = || InnerError::TooLarge {
            a_shape: vec![self.len, self.dim],
            b_shape: vec![m, d],
            out_shape: vec![self.len.saturating_add(m), d],
        };
        let new_len = self.len.checked_add(m).ok_or_else(too_large)?;
        new_len
            .checked_mul(d)
            .and_then(|n| n.checked_mul(std::mem::size_of::<A>()))
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or_else(too_large)?;
        self.data.try_reserve(m * d).map_err(|_| too_large())?;
        match rows.as_slice() {
            Some(slice) => self.data.extend_from_slice(slice),
            None => self.data.extend(rows.iter().copied()),
        }
        if self.metric == Metric::Cosine {
            self.norms.extend(norms(rows));
        }
        self.len = new_len;
        Ok(())
    }

    /// The exact `k` best rows for every query of `queries` (shape `(Q, d)`, any
    /// layout): the same result as [`top_k`] on [`database`](FlatIndex::database).
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], Metric::InnerProduct);
    /// let hits = index.search(&array![[1.0, 0.5], [0.0, -1.0]], 2)?;
    /// assert_eq!(hits.indices, array![[2, 0], [0, 1]]);
    /// assert_eq!(hits.scores, array![[1.5, 1.0], [0.0, -1.0]]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`top_k`]: [`InnerError::InvalidK`] for `k = 0`, [`InnerError::NotAligned`]
    /// when the queries' rows are not `d` long, [`InnerError::TooLarge`].
    ///
    /// # Performance
    ///
    /// As [`top_k`], without the norms of the database for cosine.
    pub fn search(&self, queries: &ArrayRef2<A>, k: usize) -> Result<TopK<A>, InnerError> {
        let db = self.database();
        check_args(queries, &db, k)?;
        let norms = (self.metric == Metric::Cosine).then_some(&self.norms[..]);
        search(queries.view(), db, norms, k)
    }

    /// The database, shape `(len, dim)`, in C order.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(array![[1.0, 2.0]], Metric::Cosine);
    /// assert_eq!(index.database(), array![[1.0, 2.0]]);
    /// ```
    pub fn database(&self) -> ArrayView2<'_, A> {
        ArrayView2::from_shape((self.len, self.dim), &self.data).expect("data holds len * dim elements")
    }

    /// The number of rows.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// assert_eq!(FlatIndex::new(Array2::<f32>::zeros((7, 3)), Metric::Cosine).len(), 7);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index has no rows.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// assert!(FlatIndex::new(Array2::<f32>::zeros((0, 3)), Metric::Cosine).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length `d` of every row.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// assert_eq!(FlatIndex::new(Array2::<f32>::zeros((7, 3)), Metric::Cosine).dim(), 3);
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric the index ranks by.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(Array2::<f32>::zeros((7, 3)), Metric::Cosine);
    /// assert_eq!(index.metric(), Metric::Cosine);
    /// ```
    pub fn metric(&self) -> Metric {
        self.metric
    }
}

// ---------------------------------------------------------------------------
// Ranking

/// `(s, i)` ranks before `(t, j)`: higher score first, NaN last, then lower index.
#[inline]
fn ranks_before<A: Float>(s: A, i: usize, t: A, j: usize) -> bool {
    match (s.is_nan(), t.is_nan()) {
        (false, false) => s > t || (s == t && i < j),
        (false, true) => true,
        (true, false) => false,
        (true, true) => i < j,
    }
}

/// The ranking as an ordering (`Less` = ranks first); a total order on pairs with
/// distinct indices.
fn rank_cmp<A: Float>(a: &(A, usize), b: &(A, usize)) -> Ordering {
    if ranks_before(a.0, a.1, b.0, b.1) {
        Ordering::Less
    } else if ranks_before(b.0, b.1, a.0, a.1) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

// ---------------------------------------------------------------------------
// Checks and allocation

fn check_args<A>(queries: &ArrayRef2<A>, database: &ArrayRef2<A>, k: usize) -> Result<(), InnerError> {
    if k == 0 {
        return Err(InnerError::InvalidK { k });
    }
    if queries.ncols() != database.ncols() {
        return Err(InnerError::NotAligned {
            a_shape: queries.shape().to_vec(),
            b_shape: database.shape().to_vec(),
            a_axis: 1,
            b_axis: 1,
        });
    }
    Ok(())
}

/// The `(q, kk)` score and index arrays of a result, or [`InnerError::TooLarge`].
fn alloc_result<A: SearchScalar>(
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
    scores.resize(len, A::zero());
    let mut indices = Vec::new();
    indices.try_reserve_exact(len).map_err(|_| too_large())?;
    indices.resize(len, 0usize);
    Ok((
        Array2::from_shape_vec((q, kk), scores).expect("q * kk elements"),
        Array2::from_shape_vec((q, kk), indices).expect("q * kk elements"),
    ))
}

/// `|row| = sqrt(row · row)` for every row.
fn norms<A: SearchScalar>(rows: &ArrayRef2<A>) -> Vec<A> {
    rows.rows().into_iter().map(|row| row.dot(&row).sqrt()).collect()
}

/// A row of inner products `q · x_j` turned into cosines: `row[j] / (|q| |x_j|)`,
/// and `0` where that denominator is `0` (then `q` or `x_j` is a zero vector and
/// the other is finite, so the inner product is `0` too).
#[inline]
fn to_cosines<A: SearchScalar>(row: &mut [A], q_norm: A, x_norms: &[A]) {
    for (s, &xn) in row.iter_mut().zip(x_norms) {
        let den = q_norm * xn;
        *s = if den == A::zero() { A::zero() } else { *s / den };
    }
}

// ---------------------------------------------------------------------------
// The blocked search

/// Rows of queries per GEMM block (more queries form several blocks).
const QUERY_BLOCK: usize = 1024;
/// Bytes of database rows' scores per query in a GEMM block: 1024 scores of f32,
/// 512 of f64. With [`QUERY_BLOCK`] the scratch block is 4 MiB.
const DB_BLOCK_BYTES: usize = 4096;
/// Scores tested against a query's threshold at a time (one vectorised compare).
const SCAN_CHUNK: usize = 32;
/// Below this many multiply-adds (`Q·N·d`) a search stays on the calling thread.
#[cfg(feature = "rayon")]
const PARALLEL_MIN_MACS: usize = 1 << 24;
/// Fewest queries per task when the queries are split over threads.
#[cfg(feature = "rayon")]
const MIN_QUERIES_PER_TASK: usize = 64;
/// Fewest rows of queries a scan task takes in a threaded-GEMM search.
#[cfg(feature = "rayon")]
const MIN_SCAN_ROWS: usize = 64;

/// Block sizes for a search.
#[derive(Clone, Copy)]
struct Blocks {
    query: usize,
    db: usize,
}

impl Blocks {
    fn of<A>() -> Blocks {
        Blocks {
            query: QUERY_BLOCK,
            db: DB_BLOCK_BYTES / std::mem::size_of::<A>().max(1),
        }
    }
}

/// How a search uses the threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Everything on the calling thread.
    Sequential,
    /// One block after the other, each GEMM threaded inside (matrixmultiply's or
    /// BLAS's own threads), the scan of each block split over the rayon threads.
    #[cfg(feature = "rayon")]
    ThreadedGemm,
    /// The queries split into this many rayon tasks, each with single-threaded GEMMs.
    #[cfg(feature = "rayon")]
    SplitQueries(usize),
    /// The database split into this many rayon tasks, results merged.
    #[cfg(feature = "rayon")]
    SplitDatabase(usize),
}

/// Whether the GEMM behind `inner` runs on several threads of its own:
/// matrixmultiply's (`MATMUL_NUM_THREADS`, else one per core, at most 4) or, with
/// the `blas` feature, OpenBLAS's (`OPENBLAS_NUM_THREADS` or `OMP_NUM_THREADS`,
/// else one per core). Splitting the search over rayon threads as well would run
/// two thread pools on the same cores.
#[cfg(feature = "rayon")]
fn gemm_is_threaded() -> bool {
    static THREADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *THREADED.get_or_init(|| {
        let vars: &[&str] = if cfg!(feature = "blas") {
            &["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]
        } else {
            &["MATMUL_NUM_THREADS"]
        };
        for var in vars {
            match std::env::var(var) {
                // matrixmultiply reads an unparsable value as 1 thread.
                Ok(v) if !v.trim().is_empty() => return v.trim().parse::<usize>().is_ok_and(|n| n > 1),
                _ => {}
            }
        }
        std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    })
}

/// matrixmultiply gives an `(m, k) x (k, n)` product a second thread from
/// `(m + n)·k >= 2^15` multiply-adds' worth of operands on.
#[cfg(feature = "rayon")]
const GEMM_THREADED_MIN_OPERANDS: usize = 1 << 15;

/// The plan for `q` queries against `n` rows of length `d`, with `blocks`.
fn plan(q: usize, n: usize, d: usize, blocks: Blocks) -> Plan {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        let macs = q.saturating_mul(n).saturating_mul(d.max(1));
        if threads > 1 && macs >= PARALLEL_MIN_MACS {
            // A single query is a matrix-vector product, never threaded inside, and
            // blocks of short rows are too small for the GEMM to thread.
            let operands = d.saturating_mul(q.min(blocks.query) + n.min(blocks.db));
            if gemm_is_threaded() && q > 1 && operands >= GEMM_THREADED_MIN_OPERANDS {
                return Plan::ThreadedGemm;
            }
            if q >= threads * MIN_QUERIES_PER_TASK {
                return Plan::SplitQueries(threads.min(q.div_ceil(MIN_QUERIES_PER_TASK)));
            }
            let parts = threads.min(n.div_ceil(blocks.db));
            if parts > 1 {
                return Plan::SplitDatabase(parts);
            }
        }
    }
    let _ = (q, n, d, blocks);
    Plan::Sequential
}

/// The search after the checks: `db_norms` is `Some` for cosine.
fn search<A: SearchScalar>(
    queries: ArrayView2<'_, A>,
    db: ArrayView2<'_, A>,
    db_norms: Option<&[A]>,
    k: usize,
) -> Result<TopK<A>, InnerError> {
    let (q, d) = queries.dim();
    let n = db.nrows();
    let kk = k.min(n);
    let (mut scores, mut indices) = alloc_result::<A>(q, kk, queries.shape(), db.shape())?;
    if q == 0 || kk == 0 {
        return Ok(TopK { indices, scores });
    }
    let q_norms = db_norms.map(|_| norms(&queries));
    let job = Job {
        queries,
        q_norms: q_norms.as_deref(),
        db,
        db_norms,
        blocks: Blocks::of::<A>(),
    };
    let out_s = scores.as_slice_mut().expect("C order");
    let out_i = indices.as_slice_mut().expect("C order");
    let plan = plan(q, n, d, job.blocks);
    record(match plan {
        Plan::Sequential => Path::SearchSequential,
        #[cfg(feature = "rayon")]
        Plan::ThreadedGemm => Path::SearchThreadedGemm,
        #[cfg(feature = "rayon")]
        Plan::SplitQueries(_) => Path::SearchSplitQueries,
        #[cfg(feature = "rayon")]
        Plan::SplitDatabase(_) => Path::SearchSplitDatabase,
    });
    match plan {
        Plan::Sequential => job.run(0..q, 0..n, out_s, out_i, kk, false),
        #[cfg(feature = "rayon")]
        Plan::ThreadedGemm => job.run(0..q, 0..n, out_s, out_i, kk, true),
        #[cfg(feature = "rayon")]
        Plan::SplitQueries(tasks) => job.split_queries(tasks, out_s, out_i, kk),
        #[cfg(feature = "rayon")]
        Plan::SplitDatabase(parts) => return job.split_database(parts, k),
    }
    Ok(TopK { indices, scores })
}

/// One search's inputs.
#[derive(Clone, Copy)]
struct Job<'a, A> {
    queries: ArrayView2<'a, A>,
    q_norms: Option<&'a [A]>,
    db: ArrayView2<'a, A>,
    db_norms: Option<&'a [A]>,
    blocks: Blocks,
}

impl<A: SearchScalar> Job<'_, A> {
    /// Searches database rows `rows` for queries `qs`, writing the ranked hits
    /// (indices relative to `rows.start`) into `out_s`, `out_i`, C-order
    /// `(qs.len(), kk)` with `kk = min(k, rows.len())`. With `par_scan` the scan
    /// of each block is split over the rayon threads.
    fn run(
        &self,
        qs: Range<usize>,
        rows: Range<usize>,
        out_s: &mut [A],
        out_i: &mut [usize],
        kk: usize,
        par_scan: bool,
    ) {
        debug_assert!(kk >= 1 && kk <= rows.len());
        debug_assert_eq!(out_s.len(), qs.len() * kk);
        let _ = par_scan;
        let d = self.queries.ncols();
        let (qb, nb) = (self.blocks.query.min(qs.len()), self.blocks.db.min(rows.len()));
        let mut scratch = vec![A::zero(); qb * nb];
        let mut q_t: Vec<A> = Vec::with_capacity(qb * d);
        let mut heaps: Vec<Heap<'_, A>> = out_s
            .chunks_exact_mut(kk)
            .zip(out_i.chunks_exact_mut(kk))
            .map(|(scores, idx)| Heap { scores, idx, len: 0 })
            .collect();
        for (b, heaps) in heaps.chunks_mut(qb).enumerate() {
            let q0 = qs.start + b * qb;
            let q1 = q0 + heaps.len();
            // The query block in F order, copied once per block: the GEMM then
            // packs it with contiguous copies instead of a strided gather for
            // every database block.
            q_t.clear();
            for column in self.queries.slice(s![q0..q1, ..]).columns() {
                q_t.extend(column.iter().copied());
            }
            let q_blk = ArrayView2::from_shape((q1 - q0, d).f(), &q_t[..]).expect("q_t holds the block");
            let mut j0 = rows.start;
            while j0 < rows.end {
                let j1 = (j0 + nb).min(rows.end);
                let width = j1 - j0;
                record(Path::SearchBlock);
                let block = &mut scratch[..(q1 - q0) * width];
                let mut out =
                    ArrayViewMut2::from_shape((q1 - q0, width), &mut *block).expect("scratch holds the block");
                q_blk
                    .inner_into(&self.db.slice(s![j0..j1, ..]), &mut out)
                    .expect("shapes checked");
                let scan = |(r, (row, heap)): (usize, (&mut [A], &mut Heap<'_, A>))| {
                    if let (Some(q_norms), Some(db_norms)) = (self.q_norms, self.db_norms) {
                        to_cosines(row, q_norms[q0 + r], &db_norms[j0..j1]);
                    }
                    heap.scan(row, j0 - rows.start);
                };
                #[cfg(feature = "rayon")]
                if par_scan {
                    use rayon::prelude::*;
                    block
                        .par_chunks_exact_mut(width)
                        .zip(heaps.par_iter_mut())
                        .enumerate()
                        .with_min_len(MIN_SCAN_ROWS)
                        .for_each(scan);
                } else {
                    block
                        .chunks_exact_mut(width)
                        .zip(heaps.iter_mut())
                        .enumerate()
                        .for_each(scan);
                }
                #[cfg(not(feature = "rayon"))]
                block
                    .chunks_exact_mut(width)
                    .zip(heaps.iter_mut())
                    .enumerate()
                    .for_each(scan);
                j0 = j1;
            }
        }
        for heap in heaps.iter_mut() {
            heap.finish();
        }
    }

    /// [`run`](Job::run) for all queries and database rows, the queries split
    /// into `tasks` rayon tasks.
    #[cfg(feature = "rayon")]
    fn split_queries(&self, tasks: usize, out_s: &mut [A], out_i: &mut [usize], kk: usize) {
        use rayon::prelude::*;
        let q = self.queries.nrows();
        let n = self.db.nrows();
        let per = q.div_ceil(tasks);
        out_s
            .par_chunks_mut(per * kk)
            .zip(out_i.par_chunks_mut(per * kk))
            .enumerate()
            .for_each(|(c, (s, i))| {
                let q0 = c * per;
                self.run(q0..q0 + s.len() / kk, 0..n, s, i, kk, false);
            });
    }

    /// [`run`](Job::run) for all queries, the database split into `parts` rayon
    /// tasks, their results merged.
    #[cfg(feature = "rayon")]
    fn split_database(&self, parts: usize, k: usize) -> Result<TopK<A>, InnerError> {
        use rayon::prelude::*;
        let q = self.queries.nrows();
        let n = self.db.nrows();
        let per = n.div_ceil(parts);
        let results: Result<Vec<(TopK<A>, usize)>, InnerError> = (0..n.div_ceil(per))
            .into_par_iter()
            .map(|p| {
                let rows = p * per..((p + 1) * per).min(n);
                let kk = k.min(rows.len());
                let (mut scores, mut indices) = alloc_result::<A>(q, kk, self.queries.shape(), self.db.shape())?;
                self.run(
                    0..q,
                    rows.clone(),
                    scores.as_slice_mut().expect("C order"),
                    indices.as_slice_mut().expect("C order"),
                    kk,
                    false,
                );
                Ok((TopK { indices, scores }, rows.start))
            })
            .collect();
        TopK::merge(&results?, k)
    }
}

/// The offset of the first chunk of [`SCAN_CHUNK`] scores in `row` that holds a
/// score above `threshold`, or `row.len()`: one vectorised compare per chunk
/// (compiled for AVX-512, AVX2 and NEON, picked at run time).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn first_chunk_above<A: SearchScalar>(row: &[A], threshold: A) -> usize {
    let mut chunks = row.chunks_exact(SCAN_CHUNK);
    for (c, chunk) in chunks.by_ref().enumerate() {
        let chunk: &[A; SCAN_CHUNK] = chunk.try_into().expect("chunks_exact");
        if chunk.iter().fold(false, |hit, &s| hit | (s > threshold)) {
            return c * SCAN_CHUNK;
        }
    }
    let rest = chunks.remainder();
    if rest.iter().any(|&s| s > threshold) {
        row.len() - rest.len()
    } else {
        row.len()
    }
}

/// One query's running top-k, kept in its rows of the result: a binary heap
/// with the entry that ranks last at the root.
struct Heap<'a, A> {
    scores: &'a mut [A],
    idx: &'a mut [usize],
    len: usize,
}

impl<A: SearchScalar> Heap<'_, A> {
    /// Offers the scores `row` of database rows `first..first + row.len()`, all
    /// after every index already in the heap.
    fn scan(&mut self, row: &[A], first: usize) {
        let k = self.scores.len();
        let mut j = 0;
        while self.len < k && j < row.len() {
            self.push(row[j], first + j);
            j += 1;
        }
        while j < row.len() {
            let mut threshold = self.scores[0];
            if threshold.is_nan() {
                // Any number beats a NaN (the new index is higher, so a NaN does not).
                if !row[j].is_nan() {
                    self.replace_root(row[j], first + j);
                }
                j += 1;
                continue;
            }
            // Equal scores never enter: the index already kept is lower.
            j += first_chunk_above(&row[j..], threshold);
            let end = (j + SCAN_CHUNK).min(row.len());
            for (o, &s) in row[j..end].iter().enumerate() {
                if s > threshold {
                    self.replace_root(s, first + j + o);
                    threshold = self.scores[0];
                }
            }
            j = end;
        }
    }

    #[inline]
    fn worse(&self, a: usize, b: usize) -> bool {
        ranks_before(self.scores[b], self.idx[b], self.scores[a], self.idx[a])
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.scores.swap(a, b);
        self.idx.swap(a, b);
    }

    fn push(&mut self, s: A, i: usize) {
        let mut pos = self.len;
        self.scores[pos] = s;
        self.idx[pos] = i;
        self.len += 1;
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.worse(pos, parent) {
                self.swap(pos, parent);
                pos = parent;
            } else {
                break;
            }
        }
    }

    fn replace_root(&mut self, s: A, i: usize) {
        self.scores[0] = s;
        self.idx[0] = i;
        let mut pos = 0;
        loop {
            let left = 2 * pos + 1;
            if left >= self.len {
                break;
            }
            let right = left + 1;
            let child = if right < self.len && self.worse(right, left) {
                right
            } else {
                left
            };
            if self.worse(child, pos) {
                self.swap(child, pos);
                pos = child;
            } else {
                break;
            }
        }
    }

    /// Sorts the kept entries into rank order.
    fn finish(&mut self) {
        let mut pairs: Vec<(A, usize)> = self.scores.iter().copied().zip(self.idx.iter().copied()).collect();
        pairs.sort_unstable_by(rank_cmp);
        for ((s, i), (os, oi)) in pairs.into_iter().zip(self.scores.iter_mut().zip(self.idx.iter_mut())) {
            *os = s;
            *oi = i;
        }
    }
}
