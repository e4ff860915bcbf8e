//! Exact similarity search: top-k and range search by inner product, cosine or
//! squared Euclidean distance, over arrays or an index with ids.
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
//!
//! // One query needs no reshaping; L2 ranks nearest first.
//! let nearest = top_k(&array![0.5f32, 0.5], &database, 1, Metric::L2)?;
//! assert_eq!(nearest.indices, array![[2]]);
//! # Ok::<(), ndarray_inner::InnerError>(())
//! ```
//!
//! - [`top_k`] and [`range_search`]: one-shot searches of a database (any array
//!   or view) for a batch of queries `(Q, d)` or a single query `(d,)`.
//! - [`FlatIndex`]: the same over a database it owns, with the norms computed
//!   once, the caller's ids, removal, filtered and range search.
//! - [`TopK`] (with [`TopK::merge`] to combine the results of the shards of a
//!   database into the exact result for the whole of it) and [`RangeHits`].
//! - [`cosine_similarity`]: the full pairwise cosine matrix.
//! - [`StoredScalar`]: what an index stores its rows in: `f32`, `f64`, or half
//!   precision (`half::f16`, `half::bf16`) searched with `f32` queries.
//!
//! # Storage: what each element type costs and gains
//!
//! | `FlatIndex<_>` | bytes per row (`d = 128`) | 1 query, `(100000, 128)` | 1000 queries | scores |
//! |---|---|---|---|---|
//! | `f32` | 512 | memory-bound: reads 51 MB | GEMM-bound | `f32` computation |
//! | `half::f16` | 256 | reads half the bytes, widens in registers (F16C) | as `f32` (blocks widened once per 1024 queries) | `f32` computation on the stored values |
//! | `half::bf16` | 256 | as `f16` | as `f32` | as `f16` |
//! | `f64` | 1024 | reads twice the bytes | `f64` GEMM | `f64` computation |
//!
//! A half-precision index answers exactly as an `f32` index over its widened
//! rows would (same kernels, same order, widening is exact); what it loses is
//! the rounding of the vectors when stored: each element within a relative
//! `2^-11` (`f16`, which also overflows beyond 65504) or `2^-8` (`bf16`, with
//! `f32`'s range). An inner product of unit vectors then moves by at most
//! about `2^-11` (`f16`) or `2^-8` (`bf16`) of `|q| |x|`, which reorders only
//! neighbours whose scores are closer than that: recall against the `f32`
//! vectors is a property of the data, to measure on it. The measured figures
//! are in the README.
//!
//! # Saved and memory-mapped indexes
//!
//! [`FlatIndex::save`] writes a folder; [`FlatIndex::load`] reads it back into
//! memory, [`FlatIndex::open_mmap`] maps its rows from the file (read-only; a
//! database larger than memory pages in and out), and [`FlatIndex::from_npy`]
//! builds an index from a `.npy` array written by NumPy. The folder:
//!
//! | file | holds |
//! |---|---|
//! | `flatindex.txt` | `key = value` lines: `ndarray-inner FlatIndex`, `format_version = 1`, `element` (`f32`, `f64`, `f16`, `bf16`), `metric` (`inner_product`, `cosine`, `l2`), `rows`, `dim`, `ids` (`rows`, or `ids.npy` with `next_id`) |
//! | `vectors.npy` | the rows, `(rows, dim)`, C order, little-endian `<f4`, `<f8`, `<f2`; `bf16` (which NumPy lacks) as its bits, `<u2` |
//! | `norms.npy` | the norm of every row, `(rows,)`, `<f4` (`<f8` for `f64`); cosine and L2 only |
//! | `ids.npy` | the caller's ids, `(rows,)`, `<u8`; with ids only |
//!
//! NumPy reads it as it is: `np.load("index/vectors.npy", mmap_mode="r")`
//! (for `bf16`, `.view(ml_dtypes.bfloat16)`).
//!
//! What a save guarantees:
//! - **A crash of the saving process** (killed at any instant): the path holds
//!   the complete old index or the complete new one (for a new path: the new
//!   one or nothing), never a mix. The save writes a new folder beside the path
//!   (`.<name>.tmp-<pid>-<n>`), syncs every file and the folder, and swaps it
//!   into place with Linux's `renameat2(RENAME_EXCHANGE)`. The next save to the
//!   same path removes the temporary folders that crashed saves left beside it
//!   (those whose process is gone), and nothing else.
//! - **A power loss**: the same once `save` has returned, since it syncs the
//!   folder holding the path after the swap. During a save, the old index, or
//!   the new one if the swap reached the disk.
//! - **Without `RENAME_EXCHANGE`** (not Linux, or a file system that refuses
//!   it): the old index is renamed aside and the new one renamed in; a crash
//!   between those two renames leaves nothing at the path and the old index as
//!   `.<name>.old-<pid>-<n>` beside it.
//! - **Readers and writers at once**: two processes saving to one path end
//!   with one of the two indexes, complete (no lock: each swap is atomic). An
//!   index open with `open_mmap` keeps its old files (deleted, still mapped)
//!   and answers as before until it is opened again; nothing is ever written
//!   into a saved file.
//!
//! # Ranking
//!
//! Every row of a result is sorted best first: by descending score for
//! [`Metric::InnerProduct`] and [`Metric::Cosine`], by ascending distance for
//! [`Metric::L2`]; equal scores are ordered by the lower index (or id) first.
//! NaN scores rank after every other score (including `-inf`, or a distance of
//! `inf`), so a NaN never comes before a number; two NaNs are ordered by index.
//! `-0.0` and `0.0` are equal scores.
//!
//! # Exactness of L2
//!
//! faiss computes L2 as `|q|^2 + |x|^2 - 2 q·x` for batches and directly for
//! single queries, so its neighbours change with the batch size and it loses
//! near neighbours to cancellation when the distances are tiny beside the
//! norms. Here the returned neighbours, their order and their scores are those
//! of the exact distance `sum_k (q_k - x_k)^2` computed directly, in one fixed
//! order, whatever the batch, the plan or the threads. The fast form only
//! finds the candidates: a row is measured exactly unless its fast distance,
//! less a rigorous bound on the error of both forms (`3 (d + 4) u (|q| + |x|)^2`,
//! `u = 2^-24` for `f32`, `2^-53` for `f64`), already exceeds the k-th exact
//! distance found so far (or the radius). Data with tiny distances beside huge
//! norms only makes more rows candidates: slower, never wrong.
//!
//! The crate's rounding bound for the distance it returns: every term is
//! non-negative, so the computed distance is within a relative
//! `gamma_(d+2) = (d + 2) u / (1 - (d + 2) u)` of the true squared distance of
//! the stored vectors (for `d = 128` in `f32`: `7.8e-6` relative).
//!
//! # Inner products and cosines
//!
//! The scores are inner products computed by the crate's kernels: the few-query
//! kernels (up to 16 queries) sum each in a fixed order, the GEMM of
//! [`inner`](crate::InnerExt::inner) in its own; both are within the usual bound
//! `gamma_d sum_k |q_k x_k|`, so a score's last bits may depend on the batch size
//! (and, with the `blas` feature, whose GEMM rounds by the block's shape, on the
//! threads). L2 distances never do.
//!
//! # How it runs
//!
//! The database is read a block of rows at a time and the `Q x N` score matrix
//! is never made:
//! - Up to 16 queries: a register-tiled kernel reads each block of rows
//!   (128 KiB) once for all the queries, with no packing; memory-bound for a
//!   single query. With the `rayon` feature the database is split over the
//!   threads (`RAYON_NUM_THREADS`) once it holds `2^18` elements or more.
//! - More queries: blocks of up to 1024 queries times 1024 rows (`f32`; 512 of
//!   `f64`) are each one GEMM through [`inner_into`](crate::InnerExt::inner_into)
//!   into a reused 4 MiB scratch block. By default each GEMM runs on
//!   matrixmultiply's own threads (`MATMUL_NUM_THREADS`, one per core up to 4)
//!   and the scan of each block on the rayon threads; with
//!   `MATMUL_NUM_THREADS=1` the queries (or, for fewer than 64 per thread, the
//!   database) are split over the rayon threads instead, the way to use more
//!   than 4 cores. Searches below `2^24` multiply-adds stay on the calling thread.
//!
//! Each query's row of a block goes to its result handler: a bounded heap behind
//! a vectorised test against the heap's worst score that skips, after the first
//! rows, nearly every score (for range search, a test against the radius).
//! Besides the inputs a search holds its result, a copy of one block of queries,
//! and one scratch block per thread.

mod collect;
mod cosine;
mod engine;
mod heap;
mod index;
mod io;
mod kernel;
mod metric;
pub(crate) mod plan;
mod range;
mod save;
mod storage;
mod topk;

use ndarray::{ArrayRef, ArrayRef2, ArrayView, ArrayView2, Axis, Dimension, Ix1, Ix2};

pub use cosine::{cosine_similarity, try_cosine_similarity};
pub use index::FlatIndex;
pub use metric::{Metric, SearchScalar};
pub use range::RangeHits;
pub use storage::StoredScalar;
pub use topk::{TopK, PADDING};

use crate::InnerError;

/// `dst[i] = src[i]` widened to `f32`, with the search's vector kernels.
pub(crate) fn widen_half<S: StoredScalar<Compute = f32>>(src: &[S], dst: &mut [f32]) {
    S::widen_slice(src, dst)
}
use collect::{RangeCollector, TopKCollector};
use engine::Search;

mod private {
    pub trait Sealed {}
    impl Sealed for ndarray::Ix1 {}
    impl Sealed for ndarray::Ix2 {}
}

/// The shapes of queries a search takes: a batch `(Q, d)` ([`Ix2`](type@Ix2)) or a single
/// query `(d,)` ([`Ix1`](type@Ix1)), which is searched as a batch of one. Sealed.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{top_k, Metric};
///
/// let database = array![[1.0, 0.0], [0.0, 1.0]];
/// let one = top_k(&array![0.0, 3.0], &database, 1, Metric::InnerProduct)?;
/// let batch = top_k(&array![[0.0, 3.0]], &database, 1, Metric::InnerProduct)?;
/// assert_eq!(one, batch);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
pub trait QueryRows: Dimension + private::Sealed {
    /// The queries as a `(Q, d)` view.
    #[doc(hidden)]
    fn as_rows<A>(queries: ArrayView<'_, A, Self>) -> ArrayView2<'_, A>;
}

impl QueryRows for Ix1 {
    fn as_rows<A>(queries: ArrayView<'_, A, Ix1>) -> ArrayView2<'_, A> {
        queries.insert_axis(Axis(0))
    }
}

impl QueryRows for Ix2 {
    fn as_rows<A>(queries: ArrayView<'_, A, Ix2>) -> ArrayView2<'_, A> {
        queries
    }
}

/// The exact `k` best matches in `database` for every query, by `metric`.
///
/// `queries` has shape `(Q, d)`, or `(d,)` for a single query, and `database`
/// `(N, d)`; both may be any array or view of any layout (C or F order,
/// transposed, sliced with steps). The result has shape `(Q, min(k, N))` (one
/// row for a single query); see [`TopK`] for the order.
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
/// let l2 = top_k(&queries, &database, 2, Metric::L2)?;
/// assert_eq!(l2.indices, array![[1, 0], [3, 1]]);
/// assert_eq!(l2.scores, array![[2.0, 4.0], [1.0, 2.0]]);
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
/// `Q·N·d` multiply-adds, a block at a time (see the
/// [module documentation](self#how-it-runs)); for [`Metric::Cosine`] and
/// [`Metric::L2`] also the norms of the database, `N·d`, computed block by
/// block while the rows are in cache: to search the same database many times,
/// [`FlatIndex`] computes those once. Inputs of any layout are read in place,
/// never copied whole.
pub fn top_k<A: SearchScalar, D: QueryRows>(
    queries: &ArrayRef<A, D>,
    database: &ArrayRef2<A>,
    k: usize,
    metric: Metric,
) -> Result<TopK<A>, InnerError> {
    let queries = check_query_rows(queries, database.shape(), Some(k))?;
    let search = Search::of_arrays(metric, queries, database.view());
    top_k_of(search, k)
}

/// Every row of `database` within `radius` of each query, best first:
/// distance `< radius` for [`Metric::L2`], score `> radius` for
/// [`Metric::InnerProduct`] and [`Metric::Cosine`] (faiss's convention).
///
/// `queries` is `(Q, d)` or a single query `(d,)`, `database` `(N, d)`, any
/// layout. For L2 the hits are decided by the exact distance (see
/// [Exactness of L2](self#exactness-of-l2)).
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{range_search, Metric};
///
/// let database = array![[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]];
/// let r = range_search(&array![[0.0, 0.0], [2.0, 1.0]], &database, 2.5, Metric::L2)?;
/// assert_eq!(r.lims, [0, 2, 4]);
/// assert_eq!(r.hits(0).collect::<Vec<_>>(), [(0, 0.0), (1, 2.0)]);
/// assert_eq!(r.hits(1).collect::<Vec<_>>(), [(1, 1.0), (2, 1.0)]);
///
/// let ip = range_search(&array![1.0, 0.0], &database, 0.5, Metric::InnerProduct)?;
/// assert_eq!(ip.hits(0).collect::<Vec<_>>(), [(2, 2.0), (1, 1.0)]);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
///
/// # Errors
///
/// [`InnerError::InvalidRadius`] for a NaN radius; [`InnerError::NotAligned`]
/// when the rows of `queries` and `database` differ in length;
/// [`InnerError::TooLarge`] when the hits cannot be allocated. An infinite
/// radius is not an error: `+inf` with L2 returns every row at a finite
/// distance, `-inf` with a similarity every row with a score above `-inf`
/// (NaN scores are never within any radius).
///
/// # Performance
///
/// As [`top_k`], plus the hits themselves: a radius that takes in most of the
/// database makes a result of `Q·N` entries.
pub fn range_search<A: SearchScalar, D: QueryRows>(
    queries: &ArrayRef<A, D>,
    database: &ArrayRef2<A>,
    radius: A,
    metric: Metric,
) -> Result<RangeHits<A>, InnerError> {
    let queries = check_query_rows(queries, database.shape(), None)?;
    let search = Search::of_arrays(metric, queries, database.view());
    range_of(search, radius)
}

/// The queries as a `(Q, d)` view, checked against a database of shape
/// `db_shape` and, for a top-k search, `k`.
fn check_query_rows<'q, A, D: QueryRows>(
    queries: &'q ArrayRef<A, D>,
    db_shape: &[usize],
    k: Option<usize>,
) -> Result<ArrayView2<'q, A>, InnerError> {
    if k == Some(0) {
        return Err(InnerError::InvalidK { k: 0 });
    }
    let rows = D::as_rows(queries.view());
    if rows.ncols() != db_shape[1] {
        return Err(InnerError::NotAligned {
            a_shape: queries.shape().to_vec(),
            b_shape: db_shape.to_vec(),
            a_axis: queries.ndim() - 1,
            b_axis: 1,
        });
    }
    Ok(rows)
}

/// The threads a search may use: the current rayon pool's, or 1.
fn threads() -> usize {
    #[cfg(feature = "rayon")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    1
}

/// Whether the GEMM blocks of a search should run on several threads of the
/// GEMM's own (`Split::ThreadedGemm`): only with the `blas` feature, where
/// OpenBLAS threads each block (`OPENBLAS_NUM_THREADS` or `OMP_NUM_THREADS`, else
/// one per core). Without it the blocks run on the `gemm` crate, whose threads
/// on a search's blocks measured slower than splitting the search over the rayon
/// threads with one GEMM thread each: on a 2-core AMD EPYC Zen 4, 2 threads,
/// f32, `(100000, 128)`: 17 queries 21.8 ms threaded inside / 6.2 ms split by
/// database / 9.7 ms split by queries, 64 queries 30.3 / 12.1 / 15.7 ms, 256
/// queries 59.6 / 36.9 / 39.5 ms, 1000 queries 183 / 149 / 142 ms; `(20000, 768)`:
/// 17 queries 23.6 / 10.2 / 17.0 ms, 1000 queries 204 / 173 / 188 ms (one thread:
/// 64 queries 23.3 ms, 1000 queries 267 ms). Read once, here, and passed to the plan.
fn gemm_is_threaded() -> bool {
    static THREADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *THREADED.get_or_init(|| {
        if !cfg!(feature = "blas") {
            return false;
        }
        for var in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] {
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => return v.trim().parse::<usize>().is_ok_and(|n| n > 1),
                _ => {}
            }
        }
        std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    })
}

/// The plan of `search` on this thread's pool.
fn plan_of<A: SearchScalar, S: StoredScalar<Compute = A>>(search: &Search<'_, A, S>) -> plan::Plan {
    plan::plan(
        search.queries.nrows(),
        search.n_rows(),
        search.queries.ncols(),
        std::mem::size_of::<A>(),
        threads(),
        gemm_is_threaded(),
        crate::isa(),
    )
}

/// The top-k search after the checks.
fn top_k_of<A: SearchScalar, S: StoredScalar<Compute = A>>(
    search: Search<'_, A, S>,
    k: usize,
) -> Result<TopK<A>, InnerError> {
    let q = search.queries.nrows();
    let kk = k.min(search.db.nrows());
    let result = topk::alloc_result::<A>(q, kk, search.queries.shape(), search.db.shape())?;
    if q == 0 || kk == 0 || search.n_rows() == 0 {
        // Nothing to search: empty rows, or (no row admitted) all padding.
        return Ok(topk::assemble(search.metric, Vec::new(), result));
    }
    let parts = search.run(plan_of(&search), || TopKCollector::new(kk));
    Ok(topk::assemble(search.metric, parts, result))
}

/// The range search after the checks.
fn range_of<A: SearchScalar, S: StoredScalar<Compute = A>>(
    search: Search<'_, A, S>,
    radius: A,
) -> Result<RangeHits<A>, InnerError> {
    if radius.is_nan() {
        return Err(InnerError::InvalidRadius);
    }
    let q = search.queries.nrows();
    let too_large = || InnerError::TooLarge {
        a_shape: search.queries.shape().to_vec(),
        b_shape: search.db.shape().to_vec(),
        out_shape: vec![q, search.db.nrows()],
    };
    let parts = if q == 0 || search.n_rows() == 0 {
        Vec::new()
    } else {
        search.run(plan_of(&search), || RangeCollector::new(search.metric, radius))
    };
    range::assemble(search.metric, q, parts, too_large)
}
