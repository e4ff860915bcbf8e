//! [`FlatIndex`]: a database the index owns, its norms computed once, the
//! caller's ids, removal, and the searches over it. A thin layer over the
//! engine: everything it searches goes through the same code as `top_k`.

use std::collections::HashMap;
use std::sync::OnceLock;

use ndarray::{Array2, ArrayRef, ArrayRef2, ArrayView2};

use super::engine::Search;
use super::metric::Metric;
use super::storage::{stored_norms, StoredScalar, Vectors};
use super::topk::PADDING;
use super::{check_query_rows, range_of, top_k_of, QueryRows, RangeHits, TopK};
use crate::InnerError;

/// An exact (brute-force) search index over a database it owns, like faiss's
/// `IndexFlatIP` / `IndexFlatL2` with an id map: every metric, the caller's ids,
/// removal, filtered and range search; saved to a folder and loaded or
/// memory-mapped from it.
///
/// `S` is the element type the rows are stored in ([`StoredScalar`]): `f32` or
/// `f64`, searched with queries and scores of the same type, or `half::f16` /
/// `half::bf16`, half the memory, searched with `f32` queries into `f32` scores
/// (those of `f32` arithmetic on the stored values).
///
/// For [`Metric::Cosine`] and [`Metric::L2`] the norms of the rows are computed
/// once, when the rows arrive, not at every search. Each row carries an id
/// (`usize`): [`new`](FlatIndex::new) and [`add`](FlatIndex::add) number the rows
/// `0, 1, 2, ...` in the order they arrive, [`with_ids`](FlatIndex::with_ids) and
/// [`add_with_ids`](FlatIndex::add_with_ids) take the caller's. Results hold
/// ids, and ids never change: removing rows does not renumber the others.
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::search::{FlatIndex, Metric};
///
/// let mut index = FlatIndex::with_ids(array![[1.0f32, 0.0], [0.0, 1.0]], vec![10, 20], Metric::L2)?;
/// index.add_with_ids(&array![[1.0, 1.0], [5.0, 5.0]], &[30, 40])?;
/// assert_eq!(index.len(), 4);
/// let hits = index.search(&array![0.9, 0.8], 2)?; // one query, 1-D
/// assert_eq!(hits.indices, array![[30, 10]]);
///
/// assert_eq!(index.remove_ids(&[30, 99])?, 1); // 99 is not there
/// let hits = index.search_filtered(&array![[0.9, 0.8]], 2, |id| id != 10)?;
/// assert_eq!(hits.indices, array![[20, 40]]);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FlatIndex<S: StoredScalar> {
    /// The rows, in C order, `len * dim` elements: in memory, or mapped from a file.
    data: Vectors<S>,
    len: usize,
    dim: usize,
    metric: Metric,
    /// `|row|` per row, for [`Metric::Cosine`] and [`Metric::L2`].
    norms: Vec<S::Compute>,
    ids: Ids,
}

/// The rows' ids.
#[derive(Debug, Clone)]
pub(crate) enum Ids {
    /// Row `i` has id `i` (no map kept).
    Rows,
    /// The caller's ids, with the row of each.
    Map {
        ids: Vec<usize>,
        /// Built when first needed (a loaded or mapped index may never need it).
        rows: OnceLock<HashMap<usize, usize>>,
        /// One past the largest id the index has held: where [`FlatIndex::add`] numbers from.
        next: usize,
    },
}

impl<S: StoredScalar> FlatIndex<S> {
    /// An index over the rows of `database` (shape `(N, d)`; `N` may be 0, `d`
    /// fixes the dimension of every later row and query), with ids `0..N`.
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
    /// is copied once into C order. For [`Metric::Cosine`] and [`Metric::L2`],
    /// `O(N·d)` for the norms.
    pub fn new(database: Array2<S>, metric: Metric) -> Self {
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
            data: Vectors::Owned(data),
            len,
            dim,
            metric,
            norms: Vec::new(),
            ids: Ids::Rows,
        };
        if metric.uses_norms() {
            index.norms = stored_norms(index.database());
        }
        index
    }

    /// An index over the rows of `database` whose row `i` has id `ids[i]`.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::with_ids(array![[1.0, 0.0], [0.0, 1.0]], vec![7, 3], Metric::Cosine)?;
    /// assert_eq!(index.search(&array![0.0, 2.0], 1)?.indices, array![[3]]);
    /// let err = FlatIndex::with_ids(array![[1.0, 0.0]], vec![7, 3], Metric::Cosine).unwrap_err();
    /// assert_eq!(err.to_string(), "FlatIndex: 1 rows but 2 ids");
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::IdsLength`] when `ids` is not one id per row,
    /// [`InnerError::DuplicateId`] when an id is repeated, [`InnerError::ReservedId`]
    /// for the id `usize::MAX` (the padding of filtered results).
    ///
    /// # Performance
    ///
    /// As [`new`](FlatIndex::new), plus a hash map from ids to rows.
    pub fn with_ids(database: Array2<S>, ids: Vec<usize>, metric: Metric) -> Result<Self, InnerError> {
        if ids.len() != database.nrows() {
            return Err(InnerError::IdsLength {
                rows: database.nrows(),
                ids: ids.len(),
            });
        }
        let mut rows = HashMap::with_capacity(ids.len());
        let mut next = 0;
        for (row, &id) in ids.iter().enumerate() {
            check_id(id)?;
            if rows.insert(id, row).is_some() {
                return Err(InnerError::DuplicateId { id, existing: false });
            }
            next = next.max(id + 1);
        }
        let mut index = FlatIndex::new(database, metric);
        index.ids = Ids::Map {
            ids,
            rows: OnceLock::from(rows),
            next,
        };
        Ok(index)
    }

    /// Appends the rows of `rows` (shape `(M, d)`, any layout) to the database,
    /// with the ids that follow the largest id the index has held (`len()..` for
    /// an index made by [`new`](FlatIndex::new) that has removed nothing).
    ///
    /// ```
    /// use ndarray::{array, Array2};
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let mut index = FlatIndex::new(Array2::<f32>::zeros((0, 2)), Metric::InnerProduct);
    /// index.add(&array![[1.0, 2.0]])?;
    /// index.add(&array![[3.0, 4.0], [5.0, 6.0]].t())?; // any layout
    /// assert_eq!(index.database(), array![[1.0, 2.0], [3.0, 5.0], [4.0, 6.0]]);
    /// assert_eq!(index.ids().collect::<Vec<_>>(), [0, 1, 2]);
    /// assert!(index.add(&array![[1.0, 2.0, 3.0]]).is_err());
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::NotAligned`] when the rows' length is not the index's `d`
    /// (the message shows the shapes of the database and of `rows`);
    /// [`InnerError::TooLarge`] when the database cannot grow;
    /// [`InnerError::ReservedId`] when the ids would reach `usize::MAX`;
    /// [`InnerError::ReadOnly`] for an index opened with
    /// [`open_mmap`](FlatIndex::open_mmap). The index is unchanged after an error.
    pub fn add(&mut self, rows: &ArrayRef2<S>) -> Result<(), InnerError> {
        let m = rows.nrows();
        let next = match &self.ids {
            Ids::Rows => self.len,
            Ids::Map { next, .. } => *next,
        };
        // The ids next..last; overflow would reach usize::MAX, the padding.
        let last = next.checked_add(m).ok_or(InnerError::ReservedId { id: PADDING })?;
        self.prepare_rows(rows)?;
        if let Ids::Map { ids, rows: map, next } = &mut self.ids {
            ids.extend(*next..last);
            if let Some(map) = map.get_mut() {
                map.extend((*next..last).zip(self.len..));
            }
            *next = last;
        }
        self.append(rows);
        Ok(())
    }

    /// Appends the rows of `rows` with the ids `ids`, one per row.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let mut index = FlatIndex::new(array![[0.0, 1.0]], Metric::L2); // id 0
    /// index.add_with_ids(&array![[1.0, 1.0], [2.0, 2.0]], &[100, 7])?;
    /// assert_eq!(index.search(&array![2.0, 2.1], 3)?.indices, array![[7, 100, 0]]);
    /// let err = index.add_with_ids(&array![[3.0, 3.0]], &[100]).unwrap_err();
    /// assert_eq!(err.to_string(), "FlatIndex: id 100 is already in the index");
    /// assert_eq!(index.len(), 3); // unchanged
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::IdsLength`] when `ids` is not one id per row,
    /// [`InnerError::DuplicateId`] when an id is repeated in `ids` or already in
    /// the index, [`InnerError::ReservedId`] for `usize::MAX`, and the errors of
    /// [`add`](FlatIndex::add). The index is unchanged after an error.
    ///
    /// # Performance
    ///
    /// The first call on an index made by [`new`](FlatIndex::new) builds the map
    /// from ids to rows, `O(N)`.
    pub fn add_with_ids(&mut self, rows: &ArrayRef2<S>, ids: &[usize]) -> Result<(), InnerError> {
        if ids.len() != rows.nrows() {
            return Err(InnerError::IdsLength {
                rows: rows.nrows(),
                ids: ids.len(),
            });
        }
        self.prepare_rows(rows)?;
        let mut fresh = std::collections::HashSet::with_capacity(ids.len());
        for &id in ids {
            check_id(id)?;
            if self.contains_id(id) {
                return Err(InnerError::DuplicateId { id, existing: true });
            }
            if !fresh.insert(id) {
                return Err(InnerError::DuplicateId { id, existing: false });
            }
        }
        self.map_ids();
        if let Ids::Map {
            ids: all,
            rows: map,
            next,
        } = &mut self.ids
        {
            all.extend_from_slice(ids);
            if let Some(map) = map.get_mut() {
                map.extend(ids.iter().copied().zip(self.len..));
            }
            *next = ids.iter().fold(*next, |n, &id| n.max(id + 1));
        }
        self.append(rows);
        Ok(())
    }

    /// Removes the rows with the ids `ids` and returns how many were removed; ids
    /// that are not in the index (or given twice) are ignored. The other rows keep
    /// their ids.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let mut index = FlatIndex::new(array![[1.0], [2.0], [3.0], [4.0]], Metric::InnerProduct);
    /// assert_eq!(index.remove_ids(&[3, 1, 1, 17])?, 2);
    /// assert_eq!(index.ids().collect::<Vec<_>>(), [0, 2]);
    /// assert_eq!(index.search(&array![1.0], 5)?.indices, array![[2, 0]]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::ReadOnly`] for an index opened with
    /// [`open_mmap`](FlatIndex::open_mmap) (even when no id is there); the index
    /// is unchanged.
    ///
    /// # Performance
    ///
    /// `O(N·d)`: the rows that stay are moved down in place, as faiss's flat
    /// indexes do.
    pub fn remove_ids(&mut self, ids: &[usize]) -> Result<usize, InnerError> {
        self.data.owned_mut()?;
        let mut doomed = vec![false; self.len];
        let mut removed = 0;
        for &id in ids {
            if let Some(row) = self.row_of(id) {
                if !doomed[row] {
                    doomed[row] = true;
                    removed += 1;
                }
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        self.map_ids();
        let dim = self.dim;
        let data = self.data.owned_mut()?;
        let mut kept = 0;
        for row in 0..self.len {
            if doomed[row] {
                continue;
            }
            if kept != row {
                data.copy_within(row * dim..(row + 1) * dim, kept * dim);
                if !self.norms.is_empty() {
                    self.norms[kept] = self.norms[row];
                }
                if let Ids::Map { ids, .. } = &mut self.ids {
                    ids[kept] = ids[row];
                }
            }
            kept += 1;
        }
        self.len = kept;
        data.truncate(kept * dim);
        self.norms.truncate(if self.norms.is_empty() { 0 } else { kept });
        if let Ids::Map { ids, rows, .. } = &mut self.ids {
            ids.truncate(kept);
            // Rebuilt when next needed.
            *rows = OnceLock::new();
        }
        Ok(removed)
    }

    /// The exact `k` best rows for every query: `queries` is `(Q, d)` (any layout)
    /// or one query `(d,)`, which gives a result of one row. The result holds ids.
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
    /// As [`top_k`](super::top_k): [`InnerError::InvalidK`] for `k = 0`,
    /// [`InnerError::NotAligned`] when the queries' rows are not `d` long,
    /// [`InnerError::TooLarge`].
    ///
    /// # Performance
    ///
    /// As [`top_k`](super::top_k), without the norms of the database.
    pub fn search<D: QueryRows>(
        &self,
        queries: &ArrayRef<S::Compute, D>,
        k: usize,
    ) -> Result<TopK<S::Compute>, InnerError> {
        let queries = self.queries(queries, Some(k))?;
        top_k_of(self.engine(queries, None), k)
    }

    /// [`search`](FlatIndex::search) among the rows whose id passes `filter`: only
    /// they may be returned. Each result row has `min(k, len())` columns; where
    /// fewer rows pass, it is padded at its end with the index
    /// [`PADDING`](super::PADDING) (`usize::MAX`) and a NaN score.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric, PADDING};
    ///
    /// let index = FlatIndex::new(array![[1.0f32], [2.0], [3.0], [4.0]], Metric::InnerProduct);
    /// let hits = index.search_filtered(&array![1.0], 3, |id| id % 2 == 0)?;
    /// assert_eq!(hits.indices, array![[2, 0, PADDING]]);
    /// assert!(hits.scores[[0, 2]].is_nan());
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// `filter` is called once per row, on the calling thread, before the search
    /// starts; if it panics, the panic reaches the caller and nothing else happens.
    ///
    /// # Errors
    ///
    /// As [`search`](FlatIndex::search). No row passing is not an error: every
    /// result row is padding.
    ///
    /// # Performance
    ///
    /// Only the rows that pass are read (gathered block by block), so a filter
    /// that keeps a tenth of the rows makes a search about that much cheaper.
    pub fn search_filtered<D: QueryRows>(
        &self,
        queries: &ArrayRef<S::Compute, D>,
        k: usize,
        filter: impl FnMut(usize) -> bool,
    ) -> Result<TopK<S::Compute>, InnerError> {
        let queries = self.queries(queries, Some(k))?;
        let rows = self.admitted(filter);
        top_k_of(self.engine(queries, Some(&rows)), k)
    }

    /// Every row within `radius` of each query, best first: distance `< radius`
    /// for [`Metric::L2`], score `> radius` for the similarities (faiss's
    /// convention). The result holds ids.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::with_ids(array![[0.0], [1.0], [5.0]], vec![10, 11, 12], Metric::L2)?;
    /// let r = index.range_search(&array![[0.5], [4.0]], 1.0)?;
    /// assert_eq!(r.hits(0).collect::<Vec<_>>(), [(10, 0.25), (11, 0.25)]);
    /// assert_eq!(r.hits(1).count(), 0); // id 12 is at distance 1, not below it
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::InvalidRadius`] for a NaN radius; [`InnerError::NotAligned`]
    /// when the queries' rows are not `d` long; [`InnerError::TooLarge`] when the
    /// hits cannot be allocated. An infinite radius is not an error: `+inf` with
    /// L2 returns every row at a finite distance, `-inf` with a similarity every
    /// row with a score above `-inf` (not NaN).
    pub fn range_search<D: QueryRows>(
        &self,
        queries: &ArrayRef<S::Compute, D>,
        radius: S::Compute,
    ) -> Result<RangeHits<S::Compute>, InnerError> {
        let queries = self.queries(queries, None)?;
        range_of(self.engine(queries, None), radius)
    }

    /// [`range_search`](FlatIndex::range_search) among the rows whose id passes
    /// `filter` (called as in [`search_filtered`](FlatIndex::search_filtered)).
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(array![[0.0], [1.0], [2.0]], Metric::L2);
    /// let r = index.range_search_filtered(&array![0.0], 10.0, |id| id > 0)?;
    /// assert_eq!(r.hits(0).collect::<Vec<_>>(), [(1, 1.0), (2, 4.0)]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`range_search`](FlatIndex::range_search).
    pub fn range_search_filtered<D: QueryRows>(
        &self,
        queries: &ArrayRef<S::Compute, D>,
        radius: S::Compute,
        filter: impl FnMut(usize) -> bool,
    ) -> Result<RangeHits<S::Compute>, InnerError> {
        let queries = self.queries(queries, None)?;
        let rows = self.admitted(filter);
        range_of(self.engine(queries, Some(&rows)), radius)
    }

    /// The database, shape `(len, dim)`, in C order, row `i` the row of the `i`-th id
    /// of [`ids`](FlatIndex::ids).
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::new(array![[1.0, 2.0]], Metric::Cosine);
    /// assert_eq!(index.database(), array![[1.0, 2.0]]);
    /// ```
    pub fn database(&self) -> ArrayView2<'_, S> {
        ArrayView2::from_shape((self.len, self.dim), self.data.as_slice()).expect("data holds len * dim elements")
    }

    /// The ids of the rows, in the order of the rows of [`database`](FlatIndex::database).
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::with_ids(array![[1.0], [2.0]], vec![5, 3], Metric::L2)?;
    /// assert_eq!(index.ids().collect::<Vec<_>>(), [5, 3]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn ids(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        (0..self.len).map(|row| self.id_of(row))
    }

    /// Whether a row has the id `id`.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let index = FlatIndex::with_ids(array![[1.0], [2.0]], vec![5, 3], Metric::L2)?;
    /// assert!(index.contains_id(3) && !index.contains_id(0));
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    pub fn contains_id(&self, id: usize) -> bool {
        self.row_of(id).is_some()
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

    // -----------------------------------------------------------------------

    /// An index of checked parts (a loaded or mapped one).
    pub(crate) fn from_parts(
        data: Vectors<S>,
        len: usize,
        dim: usize,
        metric: Metric,
        norms: Vec<S::Compute>,
        ids: Ids,
    ) -> Self {
        FlatIndex {
            data,
            len,
            dim,
            metric,
            norms,
            ids,
        }
    }

    /// The rows, C order.
    pub(crate) fn database_slice(&self) -> &[S] {
        &self.data.as_slice()[..self.len * self.dim]
    }

    /// The kept norms (empty unless the metric uses them).
    pub(crate) fn norms_slice(&self) -> &[S::Compute] {
        &self.norms
    }

    pub(crate) fn ids_ref(&self) -> &Ids {
        &self.ids
    }

    fn id_of(&self, row: usize) -> usize {
        match &self.ids {
            Ids::Rows => row,
            Ids::Map { ids, .. } => ids[row],
        }
    }

    fn row_of(&self, id: usize) -> Option<usize> {
        match &self.ids {
            Ids::Rows => (id < self.len).then_some(id),
            Ids::Map { ids, rows, .. } => rows
                .get_or_init(|| ids.iter().copied().zip(0..).collect())
                .get(&id)
                .copied(),
        }
    }

    /// The ids as a slice (`None`: ids are rows).
    fn id_map(&self) -> Option<&[usize]> {
        match &self.ids {
            Ids::Rows => None,
            Ids::Map { ids, .. } => Some(ids),
        }
    }

    /// Turns `Ids::Rows` into an explicit map.
    fn map_ids(&mut self) {
        if let Ids::Rows = self.ids {
            self.ids = Ids::Map {
                ids: (0..self.len).collect(),
                rows: OnceLock::new(),
                next: self.len,
            };
        }
    }

    /// The rows whose id passes `filter`, ascending.
    fn admitted(&self, mut filter: impl FnMut(usize) -> bool) -> Vec<usize> {
        (0..self.len).filter(|&row| filter(self.id_of(row))).collect()
    }

    /// The queries as rows, checked against the index's `d` (and `k`).
    fn queries<'q, D: QueryRows>(
        &self,
        queries: &'q ArrayRef<S::Compute, D>,
        k: Option<usize>,
    ) -> Result<ArrayView2<'q, S::Compute>, InnerError> {
        check_query_rows(queries, &[self.len, self.dim], k)
    }

    fn engine<'s>(
        &'s self,
        queries: ArrayView2<'s, S::Compute>,
        rows: Option<&'s [usize]>,
    ) -> Search<'s, S::Compute, S> {
        Search {
            metric: self.metric,
            queries,
            db: self.database(),
            db_norms: self.metric.uses_norms().then_some(&self.norms[..]),
            rows,
            ids: self.id_map(),
        }
    }

    /// Checks that `rows` can be appended and reserves their room.
    fn prepare_rows(&mut self, rows: &ArrayRef2<S>) -> Result<(), InnerError> {
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
            .and_then(|n| n.checked_mul(std::mem::size_of::<S>()))
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or_else(too_large)?;
        self.data.owned_mut()?.try_reserve(m * d).map_err(|_| too_large())?;
        if self.metric.uses_norms() {
            self.norms.try_reserve(m).map_err(|_| too_large())?;
        }
        Ok(())
    }

    /// Appends checked rows (after their ids).
    fn append(&mut self, rows: &ArrayRef2<S>) {
        let m = rows.nrows();
        match rows.as_slice() {
            Some(slice) => self
                .data
                .owned_mut()
                .expect("checked by prepare_rows")
                .extend_from_slice(slice),
            None => self
                .data
                .owned_mut()
                .expect("checked by prepare_rows")
                .extend(rows.iter().copied()),
        }
        if self.metric.uses_norms() {
            self.norms.extend(stored_norms(rows.view()));
        }
        self.len += m;
    }
}

/// `usize::MAX` marks padding in results: no row may have it.
fn check_id(id: usize) -> Result<(), InnerError> {
    if id == PADDING {
        Err(InnerError::ReservedId { id })
    } else {
        Ok(())
    }
}
