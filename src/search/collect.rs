//! Result handlers: what a search does with each query's block of inner
//! products. [`TopKCollector`] keeps the best `k`, [`RangeCollector`] every row
//! within a threshold. Both turn the inner products into the metric's keys
//! first; for L2 they keep *candidates* by the cheap distance and let the exact
//! distance decide (see the module documentation of `search`, "Exactness of L2").

use multiversion::multiversion;
use ndarray::ArrayView2;

use super::heap::{first_chunk_above, first_chunk_not_below, not_below, BlockRows, Heap};
use super::kernel::{l2_exact, l2_slack};
use super::metric::Metric;
use super::storage::{extend_widened, StoredScalar};
use super::SearchScalar;

/// What every collector of one search shares.
pub(crate) struct Ctx<'a, A, S = A> {
    pub metric: Metric,
    /// The database (any layout), for the exact distances of L2 candidates.
    pub db: ArrayView2<'a, S>,
    /// The L2 candidate slack and its absolute floor ([`l2_slack`]).
    pub slack: (A, A),
    /// The caller's ids of the rows, if any.
    pub ids: Option<&'a [usize]>,
}

impl<'a, A: SearchScalar, S: StoredScalar<Compute = A>> Ctx<'a, A, S> {
    pub fn new(metric: Metric, db: ArrayView2<'a, S>, ids: Option<&'a [usize]>) -> Self {
        Ctx {
            metric,
            db,
            slack: l2_slack(db.ncols()),
            ids,
        }
    }

    /// The id of database row `row`.
    fn id_of(&self, row: usize) -> usize {
        self.ids.map_or(row, |ids| ids[row])
    }

    /// The exact squared distance of `query` to database row `id`.
    fn l2(&self, query: &[A], id: usize, buf: &mut Vec<A>) -> A {
        let row = self.db.row(id);
        if let Ok(Some(x)) = S::compute_view(row).map(|r| r.to_slice()) {
            return l2_exact(query, x);
        }
        buf.clear();
        extend_widened(row, buf);
        l2_exact(query, buf)
    }
}

/// One query, as a collector sees it.
pub(crate) struct Query<'a, A> {
    /// Its row, contiguous.
    pub row: &'a [A],
    /// `|q|` (cosine and L2; 0 otherwise).
    pub norm: A,
}

/// One block of database rows, as a collector sees it.
pub(crate) struct Block<'a, A> {
    pub rows: BlockRows<'a>,
    /// `|x|` of each row of the block (cosine and L2; empty otherwise).
    pub norms: &'a [A],
}

/// A per-query result handler.
pub(crate) trait Collector<A, S>: Send {
    /// Takes the query's inner products with the block's rows (`scores`, which
    /// it may overwrite).
    fn offer(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>, scores: &mut [A], block: &Block<'_, A>);
    /// Settles what is pending, once every block has been offered.
    fn finish(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>);
}

/// Inner products turned into cosines in place: `row[j] / (|q| |x_j|)`, and `0`
/// where that denominator is `0` (then `q` or `x_j` is a zero vector and the
/// other is finite, so the inner product is `0` too).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn to_cosines<A: SearchScalar>(row: &mut [A], q_norm: A, x_norms: &[A]) {
    for (s, &xn) in row.iter_mut().zip(x_norms) {
        let den = q_norm * xn;
        *s = if den == A::zero() { A::zero() } else { *s / den };
    }
}

/// Inner products turned in place into keys of a lower bound on the exact
/// squared distance: `-(|q|^2 + |x|^2 - 2 q·x - slack)`, with the slack of
/// [`l2_slack`]. A NaN or infinite part gives a key that passes every test, so
/// the exact distance decides for such rows too.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn to_l2_lower_keys<A: SearchScalar>(row: &mut [A], q_norm: A, x_norms: &[A], (c, tiny): (A, A)) {
    let qq = q_norm * q_norm;
    let two = A::one() + A::one();
    for (s, &xn) in row.iter_mut().zip(x_norms) {
        let sum = q_norm + xn;
        *s = two * *s - (qq + xn * xn) + (c * sum * sum + tiny);
    }
}

/// The best `k` rows of one query.
pub(crate) struct TopKCollector<A> {
    heap: Heap<A>,
    /// L2 rows whose lower bound does not rule them out, not yet measured
    /// exactly (at most `k`, or one chunk of scores).
    pending: Vec<usize>,
    buf: Vec<A>,
}

impl<A: SearchScalar> TopKCollector<A> {
    pub fn new(k: usize) -> Self {
        TopKCollector {
            heap: Heap::new(k),
            pending: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// The kept `(key, id)` pairs, best first.
    pub fn into_sorted(self) -> Vec<(A, usize)> {
        debug_assert!(self.pending.is_empty(), "finish() first");
        self.heap.into_sorted()
    }

    fn resolve<S: StoredScalar<Compute = A>>(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>) {
        crate::paths::record(crate::paths::Path::SearchL2Exact);
        for &row in &self.pending {
            let d = ctx.l2(query.row, row, &mut self.buf);
            self.heap.offer(-d, ctx.id_of(row));
        }
        self.pending.clear();
    }
}

impl<A: SearchScalar, S: StoredScalar<Compute = A>> Collector<A, S> for TopKCollector<A> {
    fn offer(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>, scores: &mut [A], block: &Block<'_, A>) {
        match ctx.metric {
            Metric::InnerProduct => self.heap.scan(scores, block.rows),
            Metric::Cosine => {
                to_cosines(scores, query.norm, block.norms);
                self.heap.scan(scores, block.rows);
            }
            Metric::L2 => {
                to_l2_lower_keys(scores, query.norm, block.norms, ctx.slack);
                let mut j = 0;
                while j < scores.len() {
                    // A row can be among the exact best k only if its lower bound
                    // does not exceed the k-th exact distance found so far.
                    let Some(root) = self.heap.root() else {
                        // Until k rows are measured, every row is a candidate.
                        self.pending.push(block.rows.row(j));
                        j += 1;
                        if self.heap.len() + self.pending.len() >= self.heap.cap() {
                            self.resolve(ctx, query);
                        }
                        continue;
                    };
                    j += first_chunk_not_below(&scores[j..], root);
                    let end = (j + super::heap::SCAN_CHUNK).min(scores.len());
                    for (o, &s) in scores[j..end].iter().enumerate() {
                        if not_below(s, root) {
                            self.pending.push(block.rows.row(j + o));
                        }
                    }
                    j = end;
                    // Measured at once, so the threshold tightens as the heap's
                    // does for the similarities (resolving in batches of k + 64
                    // measured 4x the candidates).
                    if !self.pending.is_empty() {
                        self.resolve(ctx, query);
                    }
                }
            }
        }
    }

    fn finish(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>) {
        if !self.pending.is_empty() {
            self.resolve(ctx, query);
        }
    }
}

/// Every row of one query within the radius: key above `threshold` (the
/// radius as a key: `score > radius` for the similarities, `distance < radius`
/// for L2).
pub(crate) struct RangeCollector<A> {
    threshold: A,
    /// The hits, `(key, id)`, in no order.
    pub hits: Vec<(A, usize)>,
    pending: Vec<usize>,
    buf: Vec<A>,
}

/// L2 range candidates pending before their exact distances are computed.
const RANGE_PENDING: usize = 256;

impl<A: SearchScalar> RangeCollector<A> {
    /// `radius` as given by the user, not NaN.
    pub fn new(metric: Metric, radius: A) -> Self {
        RangeCollector {
            threshold: metric.key(radius),
            hits: Vec::new(),
            pending: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn resolve<S: StoredScalar<Compute = A>>(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>) {
        crate::paths::record(crate::paths::Path::SearchL2Exact);
        for &row in &self.pending {
            let key = -ctx.l2(query.row, row, &mut self.buf);
            if key > self.threshold {
                self.hits.push((key, ctx.id_of(row)));
            }
        }
        self.pending.clear();
    }
}

impl<A: SearchScalar, S: StoredScalar<Compute = A>> Collector<A, S> for RangeCollector<A> {
    fn offer(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>, scores: &mut [A], block: &Block<'_, A>) {
        match ctx.metric {
            Metric::InnerProduct | Metric::Cosine => {
                if ctx.metric == Metric::Cosine {
                    to_cosines(scores, query.norm, block.norms);
                }
                let mut j = 0;
                while j < scores.len() {
                    j += first_chunk_above(&scores[j..], self.threshold);
                    let end = (j + super::heap::SCAN_CHUNK).min(scores.len());
                    for (o, &s) in scores[j..end].iter().enumerate() {
                        if s > self.threshold {
                            self.hits.push((s, block.rows.id(j + o)));
                        }
                    }
                    j = end;
                }
            }
            Metric::L2 => {
                to_l2_lower_keys(scores, query.norm, block.norms, ctx.slack);
                // The exact distance can be below the radius only where the lower
                // bound is (NaN bounds are measured too).
                let mut j = 0;
                while j < scores.len() {
                    j += first_chunk_not_below(&scores[j..], self.threshold);
                    let end = (j + super::heap::SCAN_CHUNK).min(scores.len());
                    for (o, &s) in scores[j..end].iter().enumerate() {
                        if not_below(s, self.threshold) {
                            self.pending.push(block.rows.row(j + o));
                        }
                    }
                    j = end;
                    if self.pending.len() >= RANGE_PENDING {
                        self.resolve(ctx, query);
                    }
                }
            }
        }
    }

    fn finish(&mut self, ctx: &Ctx<'_, A, S>, query: &Query<'_, A>) {
        if !self.pending.is_empty() {
            self.resolve(ctx, query);
        }
    }
}
