//! Half-precision storage: `FlatIndex<f16>` and `FlatIndex<bf16>` store their rows
//! in 16 bits and search with `f32` queries into `f32` scores.
//!
//! What it proves:
//! - Bit for bit, a half-precision index answers every search exactly as a
//!   `FlatIndex<f32>` built over its widened rows (`rows.mapv(|x| x.to_f32())`,
//!   widened here by the `half` crate, not by the crate under test): every metric,
//!   `search`, `search_filtered`, `range_search`, `range_search_filtered`, 1-D and
//!   2-D queries, queries in C order, F order, with stepped rows, stepped and
//!   reversed columns; for d in {1, 7, 8, 33, 128} and Q in {1, 2, 5, 16, 17, 100}
//!   (one query: widened in registers; 2..16: a widened block; more: GEMM blocks),
//!   on 1 and 2 rayon threads (the database split), and in child processes with
//!   the GEMM single-threaded (queries or database split over rayon) and threaded;
//!   with ids (`with_ids`, `add_with_ids`, `add`, `remove_ids`), shards merged by
//!   `TopK::merge`, and rows that overflow, underflow or are NaN in half precision.
//! - The answers are right, not only equal to the `f32` path's: an independent
//!   `f64` brute force written here (plain loops over the widened values) ranks
//!   every row; each returned row's score is within a rounding bound of its `f64`
//!   score, the j-th returned score within that bound of the j-th best `f64`
//!   score (so no better row was missed), in rank order; range hits are every row
//!   clearly inside the radius and none clearly outside. On small whole numbers,
//!   where every inner product and distance is exact in `f32`, the answer equals
//!   the reference exactly, ties broken by the lower row or id.
//! - And it reports (no assertion beyond sanity; `--nocapture`) the recall@10 of
//!   `f16` and `bf16` indexes against the `f64` top-10 of the original `f32`
//!   vectors, (20000, 128) normal, every metric.

use std::collections::{HashMap, HashSet};

use half::{bf16, f16};
use ndarray::{s, Array2, ArrayView2, ShapeBuilder};
use ndarray_inner::search::{FlatIndex, Metric, RangeHits, StoredScalar, TopK, PADDING};
use ndarray_inner_test_kit::{with_threads, Rng};

const METRICS: [Metric; 3] = [Metric::InnerProduct, Metric::Cosine, Metric::L2];
/// The unit roundoff of `f32`.
const U: f64 = 1.0 / (1u64 << 24) as f64;

// ---------------------------------------------------------------------------
// The half types, rounded and widened by the `half` crate

trait Half: StoredScalar<Compute = f32> {
    const LABEL: &'static str;
    fn round(x: f32) -> Self;
    fn widen(self) -> f32;
}

impl Half for f16 {
    const LABEL: &'static str = "f16";
    fn round(x: f32) -> Self {
        f16::from_f32(x)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

impl Half for bf16 {
    const LABEL: &'static str = "bf16";
    fn round(x: f32) -> Self {
        bf16::from_f32(x)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

fn to_half<S: Half>(rows: &Array2<f32>) -> Array2<S> {
    rows.mapv(S::round)
}

fn widened<S: Half>(rows: &Array2<S>) -> Array2<f32> {
    rows.mapv(|x| x.widen())
}

// ---------------------------------------------------------------------------
// Seeded data

fn floats(rng: &mut Rng, shape: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_simple_fn(shape, || rng.unit() as f32)
}

fn ints(rng: &mut Rng, shape: (usize, usize), r: i64) -> Array2<f32> {
    Array2::from_shape_simple_fn(shape, || rng.small(r) as f32)
}

/// Standard normal (Box-Muller).
fn normals(rng: &mut Rng, shape: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_simple_fn(shape, || {
        let u1 = (rng.unit() + 1.0) / 2.0 + 1e-300;
        let u2 = (rng.unit() + 1.0) / 2.0;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    })
}

fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i + 1));
    }
    p
}

fn f_order(a: &Array2<f32>) -> Array2<f32> {
    let mut f = Array2::zeros(a.dim().f());
    f.assign(a);
    f
}

// ---------------------------------------------------------------------------
// Bitwise comparisons

fn same_bits(x: f32, y: f32) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

#[track_caller]
fn assert_same_topk(a: &TopK<f32>, b: &TopK<f32>, what: &str) {
    assert_eq!(a.metric, b.metric, "{what}: metric");
    assert_eq!(a.indices, b.indices, "{what}: indices");
    assert_eq!(a.scores.dim(), b.scores.dim(), "{what}: shape");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(
            same_bits(*x, *y),
            "{what}: scores {x:e} and {y:e}\n{:?}\n{:?}",
            a.scores,
            b.scores
        );
    }
}

#[track_caller]
fn assert_same_range(a: &RangeHits<f32>, b: &RangeHits<f32>, what: &str) {
    assert_eq!(a.metric, b.metric, "{what}: metric");
    assert_eq!(a.lims, b.lims, "{what}: lims");
    assert_eq!(a.indices, b.indices, "{what}: indices");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(same_bits(*x, *y), "{what}: range scores {x:e} and {y:e}");
    }
}

// ---------------------------------------------------------------------------
// The independent reference: f64 plain loops over the widened values

/// Every (query, row) pair scored in `f64`, with a bound on how far the crate's
/// `f32` score may lie from it.
struct Reference {
    metric: Metric,
    d: usize,
    queries: Vec<f64>,
    rows: Vec<f64>,
    ids: Vec<usize>,
}

impl Reference {
    fn new(metric: Metric, queries: ArrayView2<'_, f32>, rows: ArrayView2<'_, f32>, ids: Vec<usize>) -> Self {
        assert_eq!(ids.len(), rows.nrows());
        Reference {
            metric,
            d: rows.ncols(),
            queries: queries.iter().map(|&x| x as f64).collect(),
            rows: rows.iter().map(|&x| x as f64).collect(),
            ids,
        }
    }

    fn n(&self) -> usize {
        self.ids.len()
    }

    /// `(score, tolerance)` of query `i` and row `r`.
    fn pair(&self, i: usize, r: usize) -> (f64, f64) {
        let d = self.d;
        let q = &self.queries[i * d..(i + 1) * d];
        let x = &self.rows[r * d..(r + 1) * d];
        let df = d as f64;
        match self.metric {
            Metric::InnerProduct => {
                let (mut s, mut a) = (0.0, 0.0);
                for k in 0..d {
                    s += q[k] * x[k];
                    a += (q[k] * x[k]).abs();
                }
                (s, 2.0 * (df + 2.0) * U * a + 1e-30)
            }
            Metric::Cosine => {
                let (mut s, mut a, mut nq, mut nx) = (0.0, 0.0, 0.0, 0.0);
                for k in 0..d {
                    s += q[k] * x[k];
                    a += (q[k] * x[k]).abs();
                    nq += q[k] * q[k];
                    nx += x[k] * x[k];
                }
                let den = nq.sqrt() * nx.sqrt();
                if den == 0.0 {
                    (0.0, 1e-30)
                } else {
                    (s / den, 2.0 * (df + 8.0) * U * (a / den + 1.0))
                }
            }
            _ => {
                let mut s = 0.0;
                for k in 0..d {
                    s += (q[k] - x[k]) * (q[k] - x[k]);
                }
                (s, 2.0 * (df + 4.0) * U * s + 1e-30)
            }
        }
    }

    fn better(&self, a: f64, b: f64) -> bool {
        match self.metric {
            Metric::L2 => a < b,
            _ => a > b,
        }
    }

    /// The admitted rows of query `i` as `(id, score, tol)`, best first, ties by id.
    fn ranked(&self, i: usize, admit: &dyn Fn(usize) -> bool) -> Vec<(usize, f64, f64)> {
        let mut all: Vec<(usize, f64, f64)> = (0..self.n())
            .filter(|&r| admit(self.ids[r]))
            .map(|r| {
                let (s, t) = self.pair(i, r);
                (self.ids[r], s, t)
            })
            .collect();
        all.sort_by(|a, b| {
            let key = |s: f64| if self.metric == Metric::L2 { s } else { -s };
            key(a.1).total_cmp(&key(b.1)).then(a.0.cmp(&b.0))
        });
        all
    }

    /// `got` is a right top-`k` answer within the rounding bounds.
    #[track_caller]
    fn check_topk(&self, got: &TopK<f32>, k: usize, admit: &dyn Fn(usize) -> bool, what: &str) {
        assert_eq!(got.metric, self.metric, "{what}");
        assert_eq!(got.k(), k.min(self.n()), "{what}: columns");
        for i in 0..got.num_queries() {
            let all = self.ranked(i, admit);
            let by_id: HashMap<usize, (f64, f64)> = all.iter().map(|&(id, s, t)| (id, (s, t))).collect();
            let tmax = all.iter().map(|a| a.2).fold(0.0, f64::max);
            let hits = got.k().min(all.len());
            let mut seen = HashSet::new();
            let mut prev: Option<f64> = None;
            for (j, (&id, &s)) in got.indices.row(i).iter().zip(got.scores.row(i)).enumerate() {
                let s = s as f64;
                if j >= hits {
                    assert!(
                        id == PADDING && s.is_nan(),
                        "{what}: query {i} col {j}: padding, got {id} {s}"
                    );
                    continue;
                }
                let &(rs, rt) = by_id
                    .get(&id)
                    .unwrap_or_else(|| panic!("{what}: query {i} col {j}: id {id} is not an admitted row"));
                assert!(seen.insert(id), "{what}: query {i}: id {id} twice");
                assert!(
                    (s - rs).abs() <= rt,
                    "{what}: query {i} id {id}: score {s} vs f64 {rs} (tol {rt})"
                );
                let best = all[j].1;
                assert!(
                    (s - best).abs() <= tmax,
                    "{what}: query {i} col {j}: score {s}, the f64 {j}-th best is {best} (id {}): a row was missed",
                    all[j].0
                );
                if let Some(p) = prev {
                    assert!(!self.better(s, p), "{what}: query {i}: {s} after {p}, out of order");
                }
                prev = Some(s);
            }
        }
    }

    /// `got` is exactly the reference's top `k`: for data where every score is exact.
    #[track_caller]
    fn check_topk_exact(&self, got: &TopK<f32>, k: usize, admit: &dyn Fn(usize) -> bool, what: &str) {
        assert_eq!(got.k(), k.min(self.n()), "{what}: columns");
        for i in 0..got.num_queries() {
            let all = self.ranked(i, admit);
            for j in 0..got.k() {
                let (id, s) = (got.indices[[i, j]], got.scores[[i, j]]);
                match all.get(j) {
                    Some(&(want_id, want_s, _)) => {
                        assert_eq!((id, s as f64), (want_id, want_s), "{what}: query {i} col {j}")
                    }
                    None => assert!(id == PADDING && s.is_nan(), "{what}: query {i} col {j}: padding"),
                }
            }
        }
    }

    /// `got` holds every admitted row clearly within `radius` and none clearly outside.
    #[track_caller]
    fn check_range(&self, got: &RangeHits<f32>, radius: f32, admit: &dyn Fn(usize) -> bool, what: &str) {
        let radius64 = radius as f64;
        assert_eq!(got.num_queries() + 1, got.lims.len(), "{what}");
        for i in 0..got.num_queries() {
            let all = self.ranked(i, admit);
            let by_id: HashMap<usize, (f64, f64)> = all.iter().map(|&(id, s, t)| (id, (s, t))).collect();
            let hits: Vec<(usize, f32)> = got.hits(i).collect();
            let ids: HashSet<usize> = hits.iter().map(|h| h.0).collect();
            assert_eq!(ids.len(), hits.len(), "{what}: query {i}: an id twice");
            let mut prev: Option<f64> = None;
            for &(id, s) in &hits {
                let &(rs, rt) = by_id
                    .get(&id)
                    .unwrap_or_else(|| panic!("{what}: query {i}: hit {id} is not an admitted row"));
                assert!(
                    (s as f64 - rs).abs() <= rt,
                    "{what}: query {i} id {id}: {s} vs f64 {rs}"
                );
                assert!(
                    self.better(s as f64, radius64),
                    "{what}: query {i} id {id}: {s} not within {radius}"
                );
                if let Some(p) = prev {
                    assert!(!self.better(s as f64, p), "{what}: query {i}: out of order");
                }
                prev = Some(s as f64);
            }
            for &(id, rs, rt) in &all {
                if self.better(rs, radius64) && (rs - radius64).abs() > rt {
                    assert!(
                        ids.contains(&id),
                        "{what}: query {i}: id {id} (f64 {rs}) within {radius} missed"
                    );
                }
                if self.better(radius64, rs) && (rs - radius64).abs() > rt {
                    assert!(
                        !ids.contains(&id),
                        "{what}: query {i}: id {id} (f64 {rs}) outside {radius} returned"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Query layouts

/// The same queries in several layouts (views of these arrays).
struct Layouts {
    f: Array2<f32>,
    /// The queries in the even rows.
    rows2: Array2<f32>,
    /// The queries in the even columns.
    cols2: Array2<f32>,
    /// The queries with their columns reversed (read back with a negative step).
    rev: Array2<f32>,
}

impl Layouts {
    fn new(q: &Array2<f32>) -> Self {
        let (nq, d) = q.dim();
        let mut rows2 = Array2::from_elem((2 * nq, d), f32::NAN);
        rows2.slice_mut(s![..;2, ..]).assign(q);
        let mut cols2 = Array2::from_elem((nq, 2 * d), f32::NAN);
        cols2.slice_mut(s![.., ..;2]).assign(q);
        let rev = q.slice(s![.., ..;-1]).to_owned();
        Layouts {
            f: f_order(q),
            rows2,
            cols2,
            rev,
        }
    }

    fn views(&self) -> [(&'static str, ArrayView2<'_, f32>); 4] {
        [
            ("F order", self.f.view()),
            ("stepped rows", self.rows2.slice(s![..;2, ..])),
            ("stepped columns", self.cols2.slice(s![.., ..;2])),
            ("reversed columns", self.rev.slice(s![.., ..;-1])),
        ]
    }
}

// ---------------------------------------------------------------------------
// Every search of one index

/// `(i, 1-D query i, the same as a one-row batch, 1-D from stepped columns)`.
type OneD = (usize, TopK<f32>, TopK<f32>, TopK<f32>);

/// The answers of `index` to every kind of search of `queries`.
struct Answers {
    top: TopK<f32>,
    layouts: Vec<(&'static str, TopK<f32>)>,
    one_d: Vec<OneD>,
    filtered: TopK<f32>,
    range: RangeHits<f32>,
    range_filtered: RangeHits<f32>,
}

fn admit(id: usize) -> bool {
    id % 3 != 1
}

fn answers<S: StoredScalar<Compute = f32>>(
    index: &FlatIndex<S>,
    queries: &Array2<f32>,
    layouts: &Layouts,
    k: usize,
    radius: f32,
) -> Answers {
    let top = index.search(queries, k).unwrap();
    let by_layout = layouts
        .views()
        .into_iter()
        .map(|(name, v)| (name, index.search(&v, k).unwrap()))
        .collect();
    let one_d = (0..queries.nrows().min(3))
        .map(|i| {
            (
                i,
                index.search(&queries.row(i), k).unwrap(),
                index.search(&queries.slice(s![i..i + 1, ..]), k).unwrap(),
                index.search(&layouts.cols2.slice(s![i, ..;2]), k).unwrap(),
            )
        })
        .collect();
    Answers {
        top,
        layouts: by_layout,
        one_d,
        filtered: index.search_filtered(queries, k, admit).unwrap(),
        range: index.range_search(queries, radius).unwrap(),
        range_filtered: index.range_search_filtered(queries, radius, admit).unwrap(),
    }
}

#[track_caller]
fn assert_same_answers(a: &Answers, b: &Answers, what: &str) {
    assert_same_topk(&a.top, &b.top, &format!("{what}: search"));
    for ((name, x), (_, y)) in a.layouts.iter().zip(&b.layouts) {
        assert_same_topk(x, y, &format!("{what}: search, queries in {name}"));
    }
    for ((i, x1, x2, x3), (_, y1, y2, y3)) in a.one_d.iter().zip(&b.one_d) {
        assert_same_topk(x1, y1, &format!("{what}: 1-D query {i}"));
        assert_same_topk(x2, y2, &format!("{what}: one-row batch {i}"));
        assert_same_topk(x3, y3, &format!("{what}: 1-D stepped query {i}"));
        // Documented: a 1-D query is searched as a batch of one.
        assert_same_topk(x1, x2, &format!("{what}: 1-D query {i} and its one-row batch"));
    }
    assert_same_topk(&a.filtered, &b.filtered, &format!("{what}: search_filtered"));
    assert_same_range(&a.range, &b.range, &format!("{what}: range_search"));
    assert_same_range(
        &a.range_filtered,
        &b.range_filtered,
        &format!("{what}: range_search_filtered"),
    );
}

/// A radius that takes in about half of query 0's top `k`.
fn radius_of(index: &FlatIndex<f32>, queries: &Array2<f32>, k: usize) -> f32 {
    let top = index.search(&queries.row(0), k).unwrap();
    top.scores[[0, top.k() / 2]]
}

/// One database `(n, d)`: for every metric and batch size, the half index of
/// type `S` answers as the `f32` index over its widened rows, on 1 and 2
/// threads, and the answers pass the `f64` reference.
fn check_half_case<S: Half>(rng: &mut Rng, n: usize, d: usize, batches: &[usize], k: usize) {
    let rows = to_half::<S>(&floats(rng, (n, d)));
    let wide = widened(&rows);
    for metric in METRICS {
        let half = FlatIndex::<S>::new(rows.clone(), metric);
        let full = FlatIndex::<f32>::new(wide.clone(), metric);
        assert_eq!(half.database().mapv(|x| x.widen()), wide);
        for &q in batches {
            let queries = floats(rng, (q, d));
            let layouts = Layouts::new(&queries);
            let radius = radius_of(&full, &queries, k);
            let what = format!("{} ({n},{d}) Q={q} {metric:?}", S::LABEL);
            let mut first: Option<Answers> = None;
            for threads in [1, 2] {
                let (a, b) = with_threads(threads, || {
                    (
                        answers(&half, &queries, &layouts, k, radius),
                        answers(&full, &queries, &layouts, k, radius),
                    )
                });
                let what = format!("{what}, {threads} threads");
                assert_same_answers(&a, &b, &format!("{what}: {} and f32", S::LABEL));
                match &first {
                    None => first = Some(a),
                    // Not claimed across plans for inner products (the GEMM's
                    // blocks); the ids are, where no two scores are close.
                    Some(f) => assert_eq!(f.top.indices, a.top.indices, "{what}: 1 and 2 threads"),
                }
            }
            let a = first.unwrap();
            let reference = Reference::new(metric, queries.view(), wide.view(), (0..n).collect());
            reference.check_topk(&a.top, k, &|_| true, &format!("{what}: search"));
            for (name, t) in &a.layouts {
                reference.check_topk(t, k, &|_| true, &format!("{what}: queries in {name}"));
            }
            reference.check_topk(&a.filtered, k, &admit, &format!("{what}: search_filtered"));
            reference.check_range(&a.range, radius, &|_| true, &format!("{what}: range_search"));
            reference.check_range(
                &a.range_filtered,
                radius,
                &admit,
                &format!("{what}: range_search_filtered"),
            );
            // Query 0's radius is its (k/2)-th best score: it takes in the better ones.
            if reference.better(a.top.scores[[0, 0]] as f64, radius as f64) {
                assert!(a.range.hits(0).count() > 0, "{what}: the radius takes in rows");
            }
        }
    }
}

const BATCHES: [usize; 6] = [1, 2, 5, 16, 17, 100];

#[test]
fn f16_answers_as_f32_over_the_widened_rows() {
    let mut rng = Rng(84967190);
    for (n, d) in [(5, 7), (300, 1), (500, 7), (1000, 8), (1500, 33), (2100, 128)] {
        check_half_case::<f16>(&mut rng, n, d, &BATCHES, 10);
    }
}

#[test]
fn bf16_answers_as_f32_over_the_widened_rows() {
    let mut rng = Rng(1359462166);
    for (n, d) in [(5, 7), (300, 1), (500, 7), (1000, 8), (1500, 33), (2100, 128)] {
        check_half_case::<bf16>(&mut rng, n, d, &BATCHES, 10);
    }
}

/// `N·d >= 2^18` with d = 33 and d = 8: the few-query kernels split the database
/// over 2 threads with tail columns (33 = 4·8 + 1) and a whole vector (8).
#[test]
fn half_answers_as_f32_with_the_database_split_and_tail_columns() {
    let mut rng = Rng(84964785);
    check_half_case::<f16>(&mut rng, 8200, 33, &[1, 2, 16], 10);
    check_half_case::<bf16>(&mut rng, 8200, 33, &[1, 5, 17], 10);
    check_half_case::<f16>(&mut rng, 33000, 8, &[1, 3], 10);
}

/// Whole numbers: every inner product and distance is exact in `f32` whatever
/// the order, so the answers equal the `f64` reference exactly, ties (there are
/// many) broken by the lower row.
#[test]
fn half_on_whole_numbers_equals_the_reference_exactly() {
    let mut rng = Rng(84963815);
    for (n, d, r) in [(400, 7, 3), (1500, 33, 8), (2100, 128, 8)] {
        for q in [1, 2, 5, 17, 100] {
            let data = ints(&mut rng, (n, d), r);
            let queries = ints(&mut rng, (q, d), r);
            for metric in [Metric::InnerProduct, Metric::L2] {
                let reference = Reference::new(metric, queries.view(), data.view(), (0..n).collect());
                let what = format!("({n},{d}) Q={q} {metric:?}");
                let f16_index = FlatIndex::<f16>::new(to_half(&data), metric);
                let bf16_index = FlatIndex::<bf16>::new(to_half(&data), metric);
                for threads in [1, 2] {
                    let (a, b, fa, fb) = with_threads(threads, || {
                        (
                            f16_index.search(&queries, 10).unwrap(),
                            bf16_index.search(&queries, 10).unwrap(),
                            f16_index.search_filtered(&queries, 10, admit).unwrap(),
                            bf16_index.search_filtered(&queries, 10, admit).unwrap(),
                        )
                    });
                    let what = format!("{what} {threads} threads");
                    reference.check_topk_exact(&a, 10, &|_| true, &format!("f16 {what}"));
                    reference.check_topk_exact(&b, 10, &|_| true, &format!("bf16 {what}"));
                    reference.check_topk_exact(&fa, 10, &admit, &format!("f16 filtered {what}"));
                    reference.check_topk_exact(&fb, 10, &admit, &format!("bf16 filtered {what}"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Ids, removal, filters

/// The same edits on a half index and on an `f32` index over the widened rows,
/// and a model (rows, ids) kept here: every search equal, and right.
fn check_ids<S: Half>(seed: u64) {
    let mut rng = Rng(seed);
    let (n, d) = (1200, 33);
    for metric in METRICS {
        let rows = to_half::<S>(&floats(&mut rng, (n, d)));
        let ids: Vec<usize> = permutation(&mut rng, n).into_iter().map(|p| 7 * p + 3).collect();
        let mut half = FlatIndex::<S>::with_ids(rows.clone(), ids.clone(), metric).unwrap();
        let mut full = FlatIndex::<f32>::with_ids(widened(&rows), ids.clone(), metric).unwrap();
        let mut model: Vec<(usize, Vec<f32>)> = ids
            .iter()
            .copied()
            .zip(widened(&rows).rows().into_iter().map(|r| r.to_vec()))
            .collect();

        // add_with_ids: new ids, some below the largest.
        let more = to_half::<S>(&floats(&mut rng, (100, d)));
        let more_ids: Vec<usize> = (0..100).map(|i| 7 * i + 5).collect();
        half.add_with_ids(&more, &more_ids).unwrap();
        full.add_with_ids(&widened(&more), &more_ids).unwrap();
        model.extend(
            more_ids
                .iter()
                .copied()
                .zip(widened(&more).rows().into_iter().map(|r| r.to_vec())),
        );

        // add: ids after the largest held (7 * 1199 + 3 = 8396).
        let tail = to_half::<S>(&floats(&mut rng, (50, d)));
        // Any layout: the rows in F order.
        let mut tail_f = Array2::<S>::from_elem(tail.dim().f(), S::default());
        tail_f.assign(&tail);
        half.add(&tail_f).unwrap();
        full.add(&widened(&tail)).unwrap();
        let next = model.iter().map(|m| m.0).max().unwrap() + 1;
        model.extend((next..).zip(widened(&tail).rows().into_iter().map(|r| r.to_vec())));

        // remove_ids: some present, some absent, one twice.
        let mut doomed: Vec<usize> = (0..200).map(|_| model[rng.below(model.len())].0).collect();
        doomed.extend([1, 2, 4, usize::MAX - 1]);
        doomed.push(doomed[0]);
        let want_removed = model.iter().filter(|m| doomed.contains(&m.0)).count();
        assert_eq!(half.remove_ids(&doomed).unwrap(), want_removed, "{metric:?}");
        assert_eq!(full.remove_ids(&doomed).unwrap(), want_removed, "{metric:?}");
        model.retain(|m| !doomed.contains(&m.0));
        assert_eq!(
            half.ids().collect::<Vec<_>>(),
            model.iter().map(|m| m.0).collect::<Vec<_>>()
        );
        assert_eq!(half.len(), model.len());

        let model_ids: Vec<usize> = model.iter().map(|m| m.0).collect();
        let model_rows =
            Array2::from_shape_vec((model.len(), d), model.iter().flat_map(|m| m.1.clone()).collect()).unwrap();
        assert_eq!(half.database().mapv(|x| x.widen()), model_rows);
        let admit_ids: fn(usize) -> bool = |id| id % 4 != 0;
        for q in [1, 5, 17, 40] {
            let queries = floats(&mut rng, (q, d));
            let what = format!("{} ids {metric:?} Q={q}", S::LABEL);
            let reference = Reference::new(metric, queries.view(), model_rows.view(), model_ids.clone());
            let radius = radius_of(&full, &queries, 20);
            for threads in [1, 2] {
                let (a, b) = with_threads(threads, || {
                    (
                        four_searches(&half, &queries, radius, admit_ids),
                        four_searches(&full, &queries, radius, admit_ids),
                    )
                });
                let what = format!("{what} {threads} threads");
                assert_same_topk(&a.0, &b.0, &format!("{what}: search"));
                assert_same_topk(&a.1, &b.1, &format!("{what}: search_filtered"));
                assert_same_range(&a.2, &b.2, &format!("{what}: range_search"));
                assert_same_range(&a.3, &b.3, &format!("{what}: range_search_filtered"));
                reference.check_topk(&a.0, 20, &|_| true, &format!("{what}: search"));
                reference.check_topk(&a.1, 20, &admit_ids, &format!("{what}: search_filtered"));
                reference.check_range(&a.2, radius, &|_| true, &format!("{what}: range_search"));
                reference.check_range(&a.3, radius, &admit_ids, &format!("{what}: range_search_filtered"));
            }
            // A filter that admits fewer rows than k: padding, equal.
            let few = |id: usize| id.is_multiple_of(97);
            let a = half.search_filtered(&queries, 20, few).unwrap();
            assert_same_topk(
                &a,
                &full.search_filtered(&queries, 20, few).unwrap(),
                &format!("{what}: few admitted"),
            );
            reference.check_topk(&a, 20, &few, &format!("{what}: few admitted"));
            assert!(a.indices.iter().any(|&i| i == PADDING), "{what}: padding expected");
        }
    }
}

/// `search`, `search_filtered`, `range_search`, `range_search_filtered`.
fn four_searches<S: StoredScalar<Compute = f32>>(
    index: &FlatIndex<S>,
    queries: &Array2<f32>,
    radius: f32,
    filter: fn(usize) -> bool,
) -> (TopK<f32>, TopK<f32>, RangeHits<f32>, RangeHits<f32>) {
    (
        index.search(queries, 20).unwrap(),
        index.search_filtered(queries, 20, filter).unwrap(),
        index.range_search(queries, radius).unwrap(),
        index.range_search_filtered(queries, radius, filter).unwrap(),
    )
}

#[test]
fn f16_ids_removal_and_filters_answer_as_f32() {
    check_ids::<f16>(1924886);
}

#[test]
fn bf16_ids_removal_and_filters_answer_as_f32() {
    check_ids::<bf16>(30785302);
}

/// Ties between ids on whole numbers: broken by the lower id, not the row.
#[test]
fn half_ties_break_by_the_lower_id() {
    let mut rng = Rng(28981);
    let (n, d) = (600, 8);
    let data = ints(&mut rng, (n, d), 2);
    let ids: Vec<usize> = permutation(&mut rng, n).into_iter().map(|p| 3 * p + 1).collect();
    for metric in [Metric::InnerProduct, Metric::L2] {
        let queries = ints(&mut rng, (5, d), 2);
        let reference = Reference::new(metric, queries.view(), data.view(), ids.clone());
        let a = FlatIndex::<f16>::with_ids(to_half(&data), ids.clone(), metric).unwrap();
        let b = FlatIndex::<bf16>::with_ids(to_half(&data), ids.clone(), metric).unwrap();
        reference.check_topk_exact(
            &a.search(&queries, 30).unwrap(),
            30,
            &|_| true,
            &format!("f16 {metric:?}"),
        );
        reference.check_topk_exact(
            &b.search(&queries, 30).unwrap(),
            30,
            &|_| true,
            &format!("bf16 {metric:?}"),
        );
    }
}

// ---------------------------------------------------------------------------
// Shards

fn check_merge<S: Half>(seed: u64) {
    let mut rng = Rng(seed);
    let (n, d) = (1500, 33);
    let bounds = [0, 400, 1100, 1500];
    let rows = to_half::<S>(&floats(&mut rng, (n, d)));
    let wide = widened(&rows);
    for metric in METRICS {
        for q in [1, 5, 17] {
            let queries = floats(&mut rng, (q, d));
            let what = format!("{} merge {metric:?} Q={q}", S::LABEL);
            let mut half_parts = Vec::new();
            let mut full_parts = Vec::new();
            let mut id_parts = Vec::new();
            for w in bounds.windows(2) {
                let shard = rows.slice(s![w[0]..w[1], ..]).to_owned();
                let half = FlatIndex::<S>::new(shard.clone(), metric);
                let full = FlatIndex::<f32>::new(widened(&shard), metric);
                half_parts.push((half.search(&queries, 10).unwrap(), w[0]));
                full_parts.push((full.search(&queries, 10).unwrap(), w[0]));
                // The same shard with ids: global row numbers, offset 0.
                let with_ids = FlatIndex::<S>::with_ids(shard, (w[0]..w[1]).collect(), metric).unwrap();
                id_parts.push((with_ids.search(&queries, 10).unwrap(), 0));
            }
            let merged = TopK::merge(&half_parts, 10).unwrap();
            assert_same_topk(
                &merged,
                &TopK::merge(&full_parts, 10).unwrap(),
                &format!("{what}: f16 and f32"),
            );
            assert_same_topk(
                &merged,
                &TopK::merge(&id_parts, 10).unwrap(),
                &format!("{what}: offsets and ids"),
            );
            let whole = FlatIndex::<S>::new(rows.clone(), metric).search(&queries, 10).unwrap();
            assert_eq!(merged.indices, whole.indices, "{what}: merged and whole");
            let reference = Reference::new(metric, queries.view(), wide.view(), (0..n).collect());
            reference.check_topk(&merged, 10, &|_| true, &what);
        }
    }
}

#[test]
fn f16_merged_shards_answer_as_f32() {
    check_merge::<f16>(1047981846);
}

#[test]
fn bf16_merged_shards_answer_as_f32() {
    check_merge::<bf16>(16767696662);
}

// ---------------------------------------------------------------------------
// Values half precision cannot hold

/// Rows that overflow f16 (to inf), that are subnormal or flush to zero in the
/// half type, NaN, -0.0, zero rows: still the answers of the f32 index over the
/// widened rows, and NaN scores rank last.
fn check_specials<S: Half>(seed: u64) {
    let mut rng = Rng(seed);
    let (n, d) = (300, 9);
    let mut data = floats(&mut rng, (n, d));
    let specials = [
        7.0e4,
        -7.0e4,
        1.0e-6,
        -3.0e-7,
        1.0e-40,
        f32::NAN,
        -0.0,
        3.0e38,
        f32::INFINITY,
    ];
    for (i, &v) in specials.iter().enumerate() {
        data[[10 * i + 3, i % d]] = v;
    }
    data.row_mut(200).fill(0.0);
    data.row_mut(201).fill(1.0e-6);
    let rows = to_half::<S>(&data);
    let wide = widened(&rows);
    for metric in METRICS {
        let half = FlatIndex::<S>::new(rows.clone(), metric);
        let full = FlatIndex::<f32>::new(wide.clone(), metric);
        for q in [1, 5, 17] {
            let queries = floats(&mut rng, (q, d));
            let what = format!("{} specials {metric:?} Q={q}", S::LABEL);
            let a = half.search(&queries, n).unwrap();
            assert_same_topk(&a, &full.search(&queries, n).unwrap(), &what);
            assert_same_range(
                &half.range_search(&queries, 0.5).unwrap(),
                &full.range_search(&queries, 0.5).unwrap(),
                &what,
            );
            for i in 0..q {
                let row: Vec<f32> = a.scores.row(i).to_vec();
                let first_nan = row.iter().position(|s| s.is_nan()).unwrap_or(n);
                assert!(
                    row[first_nan..].iter().all(|s| s.is_nan()),
                    "{what}: NaN scores rank last"
                );
                // The NaN row scores NaN whatever the metric.
                let nan_row = 10 * 5 + 3;
                let at = a.indices.row(i).iter().position(|&id| id == nan_row).unwrap();
                assert!(row[at].is_nan(), "{what}: the NaN row scores {}", row[at]);
            }
        }
    }
}

#[test]
fn f16_rows_past_its_range_answer_as_f32() {
    check_specials::<f16>(96390934);
}

#[test]
fn bf16_rows_past_its_range_answer_as_f32() {
    check_specials::<bf16>(1542242070);
}

// ---------------------------------------------------------------------------
// Every split, in child processes with the GEMM single-threaded and threaded

const CHILD_VAR: &str = "NDI_SEARCH_STORAGE_SPLITS_CHILD";

/// The GEMM batches (17, 100, 200 queries) and few-query batches on a database
/// large enough to split, on 1 and 2 threads: half equals f32 bit for bit.
fn split_cases() {
    let mut rng = Rng(5968245);
    let (n, d) = (2100, 128);
    for metric in METRICS {
        let rows = floats(&mut rng, (n, d));
        let f16_rows = to_half::<f16>(&rows);
        let bf16_rows = to_half::<bf16>(&rows);
        let indexes = (
            FlatIndex::<f16>::new(f16_rows.clone(), metric),
            FlatIndex::<f32>::new(widened(&f16_rows), metric),
            FlatIndex::<bf16>::new(bf16_rows.clone(), metric),
            FlatIndex::<f32>::new(widened(&bf16_rows), metric),
        );
        for q in [1, 5, 17, 100, 200] {
            let queries = floats(&mut rng, (q, d));
            for threads in [1, 2] {
                let r = with_threads(threads, || {
                    [
                        indexes.0.search(&queries, 10).unwrap(),
                        indexes.1.search(&queries, 10).unwrap(),
                        indexes.2.search(&queries, 10).unwrap(),
                        indexes.3.search(&queries, 10).unwrap(),
                        indexes.0.search_filtered(&queries, 10, admit).unwrap(),
                        indexes.1.search_filtered(&queries, 10, admit).unwrap(),
                    ]
                });
                let what = format!("({n},{d}) Q={q} {metric:?} {threads} threads");
                assert_same_topk(&r[0], &r[1], &format!("f16 {what}"));
                assert_same_topk(&r[2], &r[3], &format!("bf16 {what}"));
                assert_same_topk(&r[4], &r[5], &format!("f16 filtered {what}"));
                if q <= 17 && threads == 2 {
                    let reference = Reference::new(metric, queries.view(), widened(&f16_rows).view(), (0..n).collect());
                    reference.check_topk(&r[0], 10, &|_| true, &what);
                }
            }
        }
    }
}

#[test]
fn every_split_answers_as_f32() {
    use ndarray_inner::paths::{count, counting, Path};
    let splits = [
        Path::SearchSequential,
        Path::SearchThreadedGemm,
        Path::SearchSplitQueries,
        Path::SearchSplitDatabase,
    ];
    if std::env::var_os(CHILD_VAR).is_some() {
        // Alone in this process: the counters are this test's.
        let before: Vec<u64> = splits.iter().map(|&p| count(p)).collect();
        split_cases();
        let taken: Vec<String> = splits
            .iter()
            .zip(&before)
            .filter(|(&p, &b)| count(p) > b)
            .map(|(p, _)| format!("{p:?}"))
            .collect();
        println!("splits [{}]", taken.join(","));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for threads in ["1", "2"] {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "every_split_answers_as_f32",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("MATMUL_NUM_THREADS", threads)
            // The GEMM's own threads under `--features blas`.
            .env("OPENBLAS_NUM_THREADS", threads)
            .env(CHILD_VAR, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "MATMUL_NUM_THREADS={threads}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Without the rayon feature every search is sequential: no split to prove.
        if counting() && cfg!(feature = "rayon") {
            let taken = stdout
                .lines()
                .find_map(|l| l.split("splits [").nth(1))
                .unwrap_or_else(|| panic!("no splits in:\n{stdout}"));
            // The GEMM is threaded inside only on BLAS's threads.
            let want: &[&str] = if threads == "1" || !cfg!(feature = "blas") {
                &["SearchSequential", "SearchSplitQueries", "SearchSplitDatabase"]
            } else {
                &["SearchSequential", "SearchThreadedGemm", "SearchSplitDatabase"]
            };
            for w in want {
                assert!(
                    taken.contains(w),
                    "MATMUL_NUM_THREADS={threads}: {w} not taken: {taken}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Recall of half precision against the original vectors (a report)

/// The `f64` top 10 of every query over `rows`, every metric at once.
fn f64_top10(queries: &Array2<f32>, rows: &Array2<f32>) -> [Vec<Vec<usize>>; 3] {
    let (n, d) = rows.dim();
    let x: Vec<f64> = rows.iter().map(|&v| v as f64).collect();
    let norms: Vec<f64> = (0..n)
        .map(|r| x[r * d..(r + 1) * d].iter().map(|v| v * v).sum::<f64>())
        .collect();
    let mut out: [Vec<Vec<usize>>; 3] = Default::default();
    for q in queries.rows() {
        let qv: Vec<f64> = q.iter().map(|&v| v as f64).collect();
        let qn: f64 = qv.iter().map(|v| v * v).sum();
        let mut ip = vec![0.0; n];
        for r in 0..n {
            let row = &x[r * d..(r + 1) * d];
            ip[r] = qv.iter().zip(row).map(|(a, b)| a * b).sum();
        }
        let keys: [Vec<f64>; 3] = [
            ip.iter().map(|s| -s).collect(),
            (0..n).map(|r| -ip[r] / (qn.sqrt() * norms[r].sqrt())).collect(),
            (0..n).map(|r| qn + norms[r] - 2.0 * ip[r]).collect(),
        ];
        for (m, key) in keys.iter().enumerate() {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| key[a].total_cmp(&key[b]).then(a.cmp(&b)));
            out[m].push(order[..10].to_vec());
        }
    }
    out
}

fn recall(got: &TopK<f32>, want: &[Vec<usize>]) -> f64 {
    let mut found = 0;
    for (i, w) in want.iter().enumerate() {
        let row: HashSet<usize> = got.indices.row(i).iter().copied().collect();
        found += w.iter().filter(|id| row.contains(id)).count();
    }
    found as f64 / (10 * want.len()) as f64
}

#[test]
fn half_recall_at_10_against_the_original_vectors() {
    let mut rng = Rng(3064849);
    let (n, d, q) = (20000, 128, 100);
    let rows = normals(&mut rng, (n, d));
    let queries = normals(&mut rng, (q, d));
    let want = f64_top10(&queries, &rows);
    println!("recall@10 against the f64 top-10 of the f32 vectors, ({n},{d}) normal, {q} queries:");
    for (m, metric) in METRICS.into_iter().enumerate() {
        let f32_recall = recall(
            &FlatIndex::<f32>::new(rows.clone(), metric)
                .search(&queries, 10)
                .unwrap(),
            &want[m],
        );
        let f16_recall = recall(
            &FlatIndex::<f16>::new(to_half(&rows), metric)
                .search(&queries, 10)
                .unwrap(),
            &want[m],
        );
        let bf16_recall = recall(
            &FlatIndex::<bf16>::new(to_half(&rows), metric)
                .search(&queries, 10)
                .unwrap(),
            &want[m],
        );
        println!("  {metric:?}: f32 {f32_recall:.4}  f16 {f16_recall:.4}  bf16 {bf16_recall:.4}");
        assert!(f32_recall > 0.99, "{metric:?}: f32 recall {f32_recall}");
        assert!(
            f16_recall > 0.5 && f16_recall <= 1.0,
            "{metric:?}: f16 recall {f16_recall}"
        );
        assert!(
            bf16_recall > 0.3 && bf16_recall <= 1.0,
            "{metric:?}: bf16 recall {bf16_recall}"
        );
    }
}

// ---------------------------------------------------------------------------
// The checks themselves can fail

/// The reference's checks reject a right answer with one wrong id, a missed
/// better row, a wrong score, a missed range hit: they are not vacuous.
#[test]
fn the_reference_checks_reject_wrong_answers() {
    let mut rng = Rng(77);
    let (n, d) = (500, 33);
    let rows = widened(&to_half::<f16>(&floats(&mut rng, (n, d))));
    let queries = floats(&mut rng, (3, d));
    for metric in METRICS {
        let index = FlatIndex::<f16>::new(to_half(&rows), metric);
        let reference = Reference::new(metric, queries.view(), rows.view(), (0..n).collect());
        let good = index.search(&queries, 10).unwrap();
        reference.check_topk(&good, 10, &|_| true, "good");
        let rejects = |bad: TopK<f32>, what: &str| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                reference.check_topk(&bad, 10, &|_| true, what)
            }));
            assert!(r.is_err(), "{metric:?}: {what} accepted");
        };
        // The best row replaced by the 11th, with its own score: a row missed.
        let eleventh = index.search(&queries, 11).unwrap();
        let mut missed = good.clone();
        missed.indices[[1, 0]] = eleventh.indices[[1, 10]];
        missed.scores[[1, 0]] = eleventh.scores[[1, 10]];
        rejects(missed, "a missed row");
        let mut wrong_score = good.clone();
        wrong_score.scores[[2, 3]] += 1e-3;
        rejects(wrong_score, "a wrong score");
        let mut swapped = good.clone();
        swapped.indices.swap([0, 0], [0, 1]);
        rejects(swapped, "two ids swapped");
        let radius = good.scores[[0, 5]];
        let range = index.range_search(&queries, radius).unwrap();
        reference.check_range(&range, radius, &|_| true, "good range");
        let mut short = range.clone();
        let dropped = short.lims[1] - 1;
        short.indices.remove(dropped);
        short.scores.remove(dropped);
        for l in &mut short.lims[1..] {
            *l -= 1;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reference.check_range(&short, radius, &|_| true, "short")
        }));
        assert!(r.is_err(), "{metric:?}: a range result without a hit accepted");
    }
}
