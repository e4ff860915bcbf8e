//! `ndarray_inner::search` (L2, ids, filters, range search, merging, 1-D queries)
//! against an independent brute force written here with plain loops in `f64`:
//! every score of every (query, row) pair, ranked best first (descending score
//! for the similarities, ascending squared distance for L2), NaN last, equal
//! scores by the lower index (or id). Nothing here calls the crate to compute
//! an expected answer.
//!
//! What it proves:
//! - L2 on random data, f32 and f64, through the few-query kernel (Q <= 16), the
//!   GEMM path (Q > 16, two query blocks at Q = 1100) and several database
//!   blocks, in C and F order and on a transposed, stepped database view: on
//!   small integers every distance is exact in any order, so indices and scores
//!   equal the reference exactly, ties by the lower index; on uniform floats the
//!   scores are within the documented rounding bound and the answer does not
//!   depend on the threads, the layout or the batch.
//! - L2 where `|q|^2 + |x|^2 - 2 q.x` cancels catastrophically (norms ~1e3,
//!   neighbours at ~1e-3, exact duplicates; and norms that overflow f32): the
//!   neighbours and their order are those of the exact distance, the same for a
//!   query alone or in a batch of 16 or 40, on 1 or 2 threads.
//! - Every plan (rayon pools of 1 and 2 threads; child processes with the GEMM
//!   single-threaded and threaded) gives bit-identical results, every metric.
//! - Ids (`with_ids`, `add`, `add_with_ids`, `remove_ids`), filters (padding,
//!   panics, one call per row), range search (strict radius, infinite radii,
//!   empty inputs), sharding with `TopK::merge`, the errors of bad input and
//!   non-finite rows, and 1-D queries.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{array, s, Array1, Array2, ArrayView2, Axis, ShapeBuilder};
use ndarray_inner::paths::{count, Path};
use ndarray_inner::search::{range_search, top_k, FlatIndex, Metric, RangeHits, SearchScalar, TopK, PADDING};
use ndarray_inner::InnerError;
use ndarray_inner_test_kit::{payload_message, with_threads, Rng};
use num_traits::Float;

const METRICS: [Metric; 3] = [Metric::InnerProduct, Metric::Cosine, Metric::L2];

// ---------------------------------------------------------------------------
// Seeded data

/// A matrix of whole numbers in `-r..=r`, as floats.
fn ints<A: Float>(rng: &mut Rng, shape: (usize, usize), r: i64) -> Array2<A> {
    Array2::from_shape_simple_fn(shape, || A::from(rng.small(r)).unwrap())
}

/// A matrix uniform in `[-1, 1)`.
fn floats<A: Float>(rng: &mut Rng, shape: (usize, usize)) -> Array2<A> {
    Array2::from_shape_simple_fn(shape, || A::from(rng.unit()).unwrap())
}

/// `0..n` in a random order.
fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i + 1));
    }
    p
}

/// The same values in Fortran order.
fn f_order<A: Float>(a: &Array2<A>) -> Array2<A> {
    let mut f = Array2::from_elem(a.dim().f(), A::zero());
    f.assign(a);
    assert!(!f.is_standard_layout() || a.nrows() <= 1 || a.ncols() <= 1);
    f
}

/// Some rows copied over others: exact ties between distinct rows.
fn duplicate_rows<A: Float>(rng: &mut Rng, db: &mut Array2<A>, count: usize) {
    let n = db.nrows();
    for _ in 0..count {
        let (a, b) = (rng.below(n), rng.below(n));
        let row = db.row(a).to_owned();
        db.row_mut(b).assign(&row);
    }
}

// ---------------------------------------------------------------------------
// The brute-force reference

fn rows_f64<A: Float>(m: ArrayView2<'_, A>) -> Vec<Vec<f64>> {
    m.rows()
        .into_iter()
        .map(|r| r.iter().map(|x| x.to_f64().unwrap()).collect())
        .collect()
}

/// The score of `x` for query `q` by `metric`, in f64, by plain loops.
fn ref_score(metric: Metric, q: &[f64], x: &[f64]) -> f64 {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).fold(0.0, |s, (u, v)| s + u * v);
    match metric {
        Metric::InnerProduct => dot(q, x),
        Metric::Cosine => {
            let d = dot(q, x);
            let (nq, nx) = (dot(q, q).sqrt(), dot(x, x).sqrt());
            // The crate's documented convention: 0 with a zero vector (NaN stays NaN).
            if nq == 0.0 || nx == 0.0 {
                if d.is_nan() {
                    d
                } else {
                    0.0
                }
            } else {
                d / (nq * nx)
            }
        }
        Metric::L2 => {
            let mut sum = 0.0;
            for (a, b) in q.iter().zip(x) {
                let t = a - b;
                sum += t * t;
            }
            sum
        }
        other => panic!("no reference for {other:?}"),
    }
}

/// `metric`'s key of a score: higher is better.
fn key(metric: Metric, s: f64) -> f64 {
    if metric == Metric::L2 {
        -s
    } else {
        s
    }
}

/// The rank order of `(label, score)` pairs: better key first, NaN last, then the lower label.
fn rank(metric: Metric, a: &(usize, f64), b: &(usize, f64)) -> Ordering {
    let (ka, kb) = (key(metric, a.1), key(metric, b.1));
    match (ka.is_nan(), kb.is_nan()) {
        (false, false) => kb.partial_cmp(&ka).unwrap().then(a.0.cmp(&b.0)),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => a.0.cmp(&b.0),
    }
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Every score of every query against every database row, each row carrying a
/// label (its index, or its id).
struct Brute {
    metric: Metric,
    /// `scores[q][row]`.
    scores: Vec<Vec<f64>>,
    labels: Vec<usize>,
    row_of: HashMap<usize, usize>,
}

impl Brute {
    fn new<A: Float>(metric: Metric, queries: ArrayView2<'_, A>, db: ArrayView2<'_, A>) -> Self {
        Brute::with_labels(metric, queries, db, (0..db.nrows()).collect())
    }

    fn with_labels<A: Float>(
        metric: Metric,
        queries: ArrayView2<'_, A>,
        db: ArrayView2<'_, A>,
        labels: Vec<usize>,
    ) -> Self {
        assert_eq!(labels.len(), db.nrows());
        let (q, x) = (rows_f64(queries), rows_f64(db));
        let scores = q
            .iter()
            .map(|qi| x.iter().map(|xj| ref_score(metric, qi, xj)).collect())
            .collect();
        let row_of = labels.iter().enumerate().map(|(r, &l)| (l, r)).collect();
        Brute {
            metric,
            scores,
            labels,
            row_of,
        }
    }

    fn queries(&self) -> usize {
        self.scores.len()
    }

    /// Query `q`'s `(label, score)` of every admitted row, in no order.
    fn admitted(&self, q: usize, admit: &dyn Fn(usize) -> bool) -> Vec<(usize, f64)> {
        self.labels
            .iter()
            .zip(&self.scores[q])
            .filter(|(&l, _)| admit(l))
            .map(|(&l, &s)| (l, s))
            .collect()
    }

    /// The best `k` admitted rows of query `q`, ranked.
    fn top(&self, q: usize, k: usize, admit: &dyn Fn(usize) -> bool) -> Vec<(usize, f64)> {
        let mut all = self.admitted(q, admit);
        let cmp = |a: &(usize, f64), b: &(usize, f64)| rank(self.metric, a, b);
        if k < all.len() {
            all.select_nth_unstable_by(k - 1, cmp);
            all.truncate(k);
        }
        all.sort_by(cmp);
        all
    }

    fn top_all(&self, k: usize) -> Vec<Vec<(usize, f64)>> {
        (0..self.queries()).map(|q| self.top(q, k, &|_| true)).collect()
    }

    /// The admitted rows of query `q` strictly within `radius`, ranked.
    fn range(&self, q: usize, radius: f64, admit: &dyn Fn(usize) -> bool) -> Vec<(usize, f64)> {
        let t = key(self.metric, radius);
        let mut hits: Vec<(usize, f64)> = self
            .admitted(q, admit)
            .into_iter()
            .filter(|&(_, s)| key(self.metric, s) > t)
            .collect();
        hits.sort_by(|a, b| rank(self.metric, a, b));
        hits
    }

    fn range_all(&self, radius: f64) -> Vec<Vec<(usize, f64)>> {
        (0..self.queries()).map(|q| self.range(q, radius, &|_| true)).collect()
    }

    fn score_of(&self, q: usize, label: usize) -> f64 {
        let row = *self
            .row_of
            .get(&label)
            .unwrap_or_else(|| panic!("label {label} is not a row"));
        self.scores[q][row]
    }
}

/// `hits` is exactly `want` (one ranked list per query), with `cols` columns,
/// padded where a list is shorter.
#[track_caller]
fn assert_topk_exact<A: SearchScalar + std::fmt::Debug>(
    hits: &TopK<A>,
    want: &[Vec<(usize, f64)>],
    cols: usize,
    what: &str,
) {
    assert_eq!(hits.indices.dim(), (want.len(), cols), "{what}: shape of indices");
    assert_eq!(hits.scores.dim(), (want.len(), cols), "{what}: shape of scores");
    for (q, w) in want.iter().enumerate() {
        for r in 0..cols {
            let got = (hits.indices[[q, r]], hits.scores[[q, r]].to_f64().unwrap());
            match w.get(r) {
                Some(&(l, s)) => assert!(
                    got.0 == l && same(got.1, s),
                    "{what}: query {q}, rank {r}: got {got:?}, want {:?}\n got row {:?}\nwant {:?}",
                    (l, s),
                    hits.indices.row(q).to_vec(),
                    w.iter().map(|p| p.0).collect::<Vec<_>>()
                ),
                None => assert!(
                    got.0 == PADDING && got.1.is_nan(),
                    "{what}: query {q}, rank {r}: got {got:?}, want padding"
                ),
            }
        }
    }
}

/// `hits` is `want` up to `tol(score)`: every rank's score is the reference's
/// score at that rank, the row it names really has that score, no row twice,
/// the row's own order is the ranking (ties by label), padding after.
#[track_caller]
fn assert_topk_close<A: SearchScalar + std::fmt::Debug>(
    hits: &TopK<A>,
    brute: &Brute,
    want: &[Vec<(usize, f64)>],
    cols: usize,
    tol: &dyn Fn(f64) -> f64,
    what: &str,
) {
    assert_eq!(hits.indices.dim(), (want.len(), cols), "{what}: shape of indices");
    assert_eq!(hits.scores.dim(), (want.len(), cols), "{what}: shape of scores");
    for (q, w) in want.iter().enumerate() {
        let mut seen = HashSet::new();
        for r in 0..cols {
            let (l, s) = (hits.indices[[q, r]], hits.scores[[q, r]].to_f64().unwrap());
            let Some(&(_, ws)) = w.get(r) else {
                assert!(
                    l == PADDING && s.is_nan(),
                    "{what}: query {q}, rank {r}: ({l}, {s}), want padding"
                );
                continue;
            };
            assert!(
                same(s, ws) || (s - ws).abs() <= tol(ws),
                "{what}: query {q}, rank {r}: score {s}, the reference's at that rank {ws}"
            );
            let true_score = brute.score_of(q, l);
            assert!(
                same(s, true_score) || (s - true_score).abs() <= tol(true_score),
                "{what}: query {q}, rank {r}: row {l} scored {s}, reference {true_score}"
            );
            assert!(seen.insert(l), "{what}: query {q}: row {l} twice");
            if r > 0 {
                let prev = (hits.indices[[q, r - 1]], hits.scores[[q, r - 1]].to_f64().unwrap());
                assert_eq!(
                    rank(brute.metric, &prev, &(l, s)),
                    Ordering::Less,
                    "{what}: query {q}: ranks {} and {r} out of order",
                    r - 1
                );
            }
        }
    }
}

/// `hits` is exactly `want`, one ranked list per query.
#[track_caller]
fn assert_range_exact<A: SearchScalar + std::fmt::Debug>(hits: &RangeHits<A>, want: &[Vec<(usize, f64)>], what: &str) {
    assert_eq!(hits.lims.len(), want.len() + 1, "{what}: lims is Q + 1 long");
    assert_eq!(hits.lims[0], 0, "{what}: lims[0]");
    assert_eq!(hits.num_queries(), want.len());
    assert_eq!(hits.indices.len(), hits.scores.len());
    assert_eq!(*hits.lims.last().unwrap(), hits.indices.len(), "{what}: last lim");
    for (q, w) in want.iter().enumerate() {
        let got: Vec<(usize, f64)> = hits.hits(q).map(|(i, s)| (i, s.to_f64().unwrap())).collect();
        assert_eq!(
            got.len(),
            w.len(),
            "{what}: query {q}: {} hits, want {}",
            got.len(),
            w.len()
        );
        for (r, (g, e)) in got.iter().zip(w).enumerate() {
            assert!(
                g.0 == e.0 && same(g.1, e.1),
                "{what}: query {q}, hit {r}: got {g:?}, want {e:?}"
            );
        }
    }
}

/// `hits` is the range search of `brute` at `radius` up to `tol`: every row
/// whose reference score is within the radius by more than `tol` is a hit,
/// every hit's reference score is within the radius or less than `tol` outside
/// it, scores close, ranked.
#[track_caller]
fn assert_range_close<A: SearchScalar + std::fmt::Debug>(
    hits: &RangeHits<A>,
    brute: &Brute,
    radius: f64,
    admit: &dyn Fn(usize) -> bool,
    tol: f64,
    what: &str,
) {
    let m = brute.metric;
    assert_eq!(hits.lims.len(), brute.queries() + 1, "{what}: lims is Q + 1 long");
    assert_eq!(hits.lims[0], 0);
    for q in 0..brute.queries() {
        let got: Vec<(usize, f64)> = hits.hits(q).map(|(i, s)| (i, s.to_f64().unwrap())).collect();
        let labels: HashSet<usize> = got.iter().map(|g| g.0).collect();
        assert_eq!(labels.len(), got.len(), "{what}: query {q}: a row twice");
        for (r, &(l, s)) in got.iter().enumerate() {
            assert!(admit(l), "{what}: query {q}: row {l} is not admitted");
            let t = brute.score_of(q, l);
            assert!(
                same(s, t) || (s - t).abs() <= tol,
                "{what}: query {q}: row {l} scored {s}, reference {t}"
            );
            assert!(
                key(m, t) > key(m, radius) - tol,
                "{what}: query {q}: row {l} ({t}) is outside {radius}"
            );
            assert!(
                key(m, s) > key(m, radius),
                "{what}: query {q}: row {l} scored {s}, not within {radius}"
            );
            if r > 0 {
                assert_eq!(
                    rank(m, &got[r - 1], &(l, s)),
                    Ordering::Less,
                    "{what}: query {q}: hit {r} out of order"
                );
            }
        }
        for (l, t) in brute.admitted(q, admit) {
            if key(m, t) > key(m, radius) + tol {
                assert!(
                    labels.contains(&l),
                    "{what}: query {q}: row {l} ({t}) is within {radius} but missing"
                );
            }
        }
    }
}

/// The rounding bound of the crate's L2 distance, `gamma_(d+2)` (twice, for the
/// reference's own rounding in f64), as a tolerance on a distance.
fn l2_tol<A: Float>(d: usize) -> impl Fn(f64) -> f64 {
    let u = A::epsilon().to_f64().unwrap() / 2.0;
    let n = (d + 2) as f64;
    let gamma = n * u / (1.0 - n * u);
    move |w: f64| 2.0 * gamma * w.abs() + 1e-300
}

/// Bitwise equality of two results (NaN scores equal to each other).
#[track_caller]
fn assert_same_topk<A: SearchScalar + std::fmt::Debug>(a: &TopK<A>, b: &TopK<A>, what: &str) {
    assert_eq!(a.metric, b.metric, "{what}: metric");
    assert_eq!(a.indices, b.indices, "{what}: indices");
    assert_eq!(a.scores.dim(), b.scores.dim(), "{what}: shape");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(
            x.to_f64().unwrap().to_bits() == y.to_f64().unwrap().to_bits() || (x.is_nan() && y.is_nan()),
            "{what}: scores {x:?} and {y:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 1. L2 on random data

/// (Q, N, d, k): k above N; few-query kernel (Q <= 16) over 10 blocks of f32
/// (512 rows of 64; 20 of f64), split over the database on 2 threads (N d >= 2^18);
/// GEMM from Q = 17 on, over 3 blocks of f32 (1024 rows; 6 of 512 f64), in
/// parallel from Q N d >= 2^24 on; Q = 1100: two query blocks (1024 + 76).
const L2_SHAPES: &[(usize, usize, usize, usize)] = &[
    (1, 7, 3, 10),
    (1, 5000, 64, 10),
    (3, 5000, 64, 10),
    (16, 5000, 64, 25),
    (17, 3000, 64, 10),
    (100, 3000, 64, 10),
    (1100, 1500, 24, 5),
];

fn check_l2_random<A: SearchScalar + std::fmt::Debug>(seed: u64, integers: bool) {
    let mut rng = Rng(seed);
    for &(q, n, d, k) in L2_SHAPES {
        let mut queries: Array2<A> = if integers {
            ints(&mut rng, (q, d), 3)
        } else {
            floats(&mut rng, (q, d))
        };
        let mut database: Array2<A> = if integers {
            ints(&mut rng, (n, d), 3)
        } else {
            floats(&mut rng, (n, d))
        };
        if integers {
            duplicate_rows(&mut rng, &mut database, n / 10);
            // A query equal to a row: distance 0, tied with that row's copies.
            let row = database.row(rng.below(n)).to_owned();
            queries.row_mut(0).assign(&row);
        }
        check_l2_case(&queries, &database, k, integers);
    }
}

fn check_l2_case<A: SearchScalar + std::fmt::Debug>(
    queries: &Array2<A>,
    database: &Array2<A>,
    k: usize,
    integers: bool,
) {
    let ((q, d), n) = (queries.dim(), database.nrows());
    let what = format!(
        "Q={q} N={n} d={d} k={k} {}",
        if integers { "integers" } else { "floats" }
    );
    let brute = Brute::new(Metric::L2, queries.view(), database.view());
    let want = brute.top_all(k);
    let cols = k.min(n);
    let tol = l2_tol::<A>(d);
    // The database transposed and stepped: a (d, 2N + 1) array whose odd columns are the rows.
    let mut stored = Array2::<A>::from_elem((d, 2 * n + 1), A::nan());
    stored.slice_mut(s![.., 1..;2]).assign(&database.t());
    let db_view = stored.t();
    let db_view = db_view.slice(s![1..;2, ..]);
    assert_eq!(db_view, database.view());
    let q_f = f_order(queries);

    let first = with_threads(1, || top_k(queries, database, k, Metric::L2).unwrap());
    assert_eq!(first.metric, Metric::L2);
    if integers {
        assert_topk_exact(&first, &want, cols, &what);
    } else {
        assert_topk_close(&first, &brute, &want, cols, &tol, &what);
    }
    for threads in [1, 2] {
        let hits = with_threads(threads, || top_k(queries, database, k, Metric::L2).unwrap());
        assert_same_topk(&hits, &first, &format!("{what}, {threads} threads"));
        let other = with_threads(threads, || top_k(&q_f, &db_view, k, Metric::L2).unwrap());
        assert_same_topk(
            &other,
            &first,
            &format!("{what}, F-order queries, strided view, {threads} threads"),
        );
    }
    // A query's answer does not depend on its batch: the first 3 alone (few-query
    // kernel) and the last one as a 1-D query.
    let three = q.min(3);
    let part = top_k(&queries.slice(s![..three, ..]), database, k, Metric::L2).unwrap();
    assert_same_topk(
        &part,
        &TopK {
            indices: first.indices.slice(s![..three, ..]).to_owned(),
            scores: first.scores.slice(s![..three, ..]).to_owned(),
            metric: Metric::L2,
        },
        &format!("{what}: the first {three} queries alone"),
    );
    let last = top_k(&queries.row(q - 1), database, k, Metric::L2).unwrap();
    assert_eq!(
        last.indices.row(0),
        first.indices.row(q - 1),
        "{what}: the last query alone"
    );
    assert_eq!(
        last.scores.row(0),
        first.scores.row(q - 1),
        "{what}: the last query alone"
    );
}

#[test]
fn l2_random_integers_exact_f32() {
    check_l2_random::<f32>(101, true);
}

#[test]
fn l2_random_integers_exact_f64() {
    check_l2_random::<f64>(102, true);
}

#[test]
fn l2_random_floats_within_rounding_f32() {
    check_l2_random::<f32>(103, false);
}

#[test]
fn l2_random_floats_within_rounding_f64() {
    check_l2_random::<f64>(104, false);
}

// ---------------------------------------------------------------------------
// 2. L2 where the fast form cancels

/// `q` queries with coordinates `scale * unit`, and a shuffled database holding,
/// for each query `i`, `dups(i)` exact copies of it, one row at each squared
/// distance of `near` (in a random direction, then rounded to f32), and `far`
/// rows of coordinates `scale * unit`.
fn clustered(
    rng: &mut Rng,
    q: usize,
    d: usize,
    scale: f64,
    dups: &dyn Fn(usize) -> usize,
    near: &[f64],
    far: usize,
) -> (Array2<f32>, Array2<f32>) {
    let queries: Vec<Vec<f64>> = (0..q).map(|_| (0..d).map(|_| scale * rng.unit()).collect()).collect();
    let queries: Vec<Vec<f32>> = queries.iter().map(|r| r.iter().map(|&x| x as f32).collect()).collect();
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for (i, qi) in queries.iter().enumerate() {
        for _ in 0..dups(i) {
            rows.push(qi.clone());
        }
        for &dist in near {
            let dir: Vec<f64> = (0..d).map(|_| rng.unit()).collect();
            let len = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
            rows.push(
                qi.iter()
                    .zip(&dir)
                    .map(|(&c, &u)| (c as f64 + u / len * dist.sqrt()) as f32)
                    .collect(),
            );
        }
    }
    for _ in 0..far {
        rows.push((0..d).map(|_| (scale * rng.unit()) as f32).collect());
    }
    let order = permutation(rng, rows.len());
    let db = Array2::from_shape_fn((rows.len(), d), |(r, c)| rows[order[r]][c]);
    let qs = Array2::from_shape_fn((q, d), |(r, c)| queries[r][c]);
    (qs, db)
}

/// The fast form `|q|^2 + |x|^2 - 2 q.x` in f32, summed in order.
fn fast_l2(q: &[f32], x: &[f32]) -> f32 {
    let (mut qq, mut xx, mut qx) = (0f32, 0f32, 0f32);
    for (&a, &b) in q.iter().zip(x) {
        qq += a * a;
        xx += b * b;
        qx += a * b;
    }
    qq + xx - 2.0 * qx
}

/// Consecutive reference distances are equal (duplicates) or apart by more than
/// `rel`: the exact order is unambiguous, whatever f32 rounding does.
#[track_caller]
fn assert_unambiguous(want: &[Vec<(usize, f64)>], rel: f64) {
    for (q, w) in want.iter().enumerate() {
        for p in w.windows(2) {
            assert!(
                p[0].1 == p[1].1 || p[1].1 - p[0].1 > rel * p[1].1,
                "precondition: query {q}: distances {} and {} are too close",
                p[0].1,
                p[1].1
            );
        }
    }
}

#[test]
fn l2_adversarial_cancellation_gives_the_exact_neighbours() {
    let mut rng = Rng(201);
    let (q, d) = (40, 64);
    // Norms ~1.2e3 (|q|^2 ~ 1.3e6, an f32 ulp of 0.125 there); neighbours at
    // squared distances 1e-4..1.2e-3, then 70 at 0.05..39 (all within the fast
    // form's error, about 50, so all are candidates), and exact duplicates.
    let mut near: Vec<f64> = (0..12).map(|m| 1e-4 * (m + 1) as f64).collect();
    near.extend((0..70).map(|j| 0.05 * 1.1f64.powi(j)));
    let (queries, database) = clustered(&mut rng, q, d, 2000.0, &|i| [2, 1, 0, 0][i % 4], &near, 4000);
    let n = database.nrows();
    assert!(q * n * d >= 1 << 24, "the batch is large enough to run in parallel");
    let brute = Brute::new(Metric::L2, queries.view(), database.view());
    let tol = l2_tol::<f32>(d);

    // The data defeats the fast form: in f32 it misorders the nearest rows of
    // most queries.
    let want14 = brute.top_all(14);
    let misordered = (0..q)
        .filter(|&i| {
            let qi = queries.row(i).to_vec();
            let fast: Vec<f32> = want14[i]
                .iter()
                .map(|&(j, _)| fast_l2(&qi, &database.row(j).to_vec()))
                .collect();
            fast.windows(2).any(|w| w[0] > w[1])
        })
        .count();
    assert!(misordered >= q / 2, "only {misordered} of {q} queries are adversarial");
    eprintln!("the fast form misorders the nearest rows of {misordered} of {q} queries");

    for k in [10, 25] {
        let want = brute.top_all(k);
        assert_unambiguous(&want, 1e-4);
        let mut batches = Vec::new();
        for threads in [1, 2] {
            let what = format!("k={k}, {threads} threads");
            let batch = with_threads(threads, || top_k(&queries, &database, k, Metric::L2).unwrap());
            // The exact neighbours, in the exact order; scores within the bound.
            for (i, w) in want.iter().enumerate() {
                let got: Vec<usize> = batch.indices.row(i).to_vec();
                let expect: Vec<usize> = w.iter().map(|p| p.0).collect();
                assert_eq!(got, expect, "{what}: query {i}");
                for (r, &(_, ws)) in w.iter().enumerate() {
                    let s = batch.scores[[i, r]] as f64;
                    assert!((s - ws).abs() <= tol(ws), "{what}: query {i}, rank {r}: {s} vs {ws}");
                    if ws == 0.0 {
                        assert_eq!(s, 0.0, "{what}: an exact duplicate is at distance 0");
                    }
                }
            }
            // The same answer for each query alone (1-D, few-query kernel) and in a
            // batch of 16 (few-query kernel, all tiles).
            for i in 0..q {
                let one = with_threads(threads, || top_k(&queries.row(i), &database, k, Metric::L2).unwrap());
                assert_eq!(one.indices.row(0), batch.indices.row(i), "{what}: query {i} alone");
                assert_eq!(one.scores.row(0), batch.scores.row(i), "{what}: query {i} alone");
            }
            let sixteen = with_threads(threads, || {
                top_k(&queries.slice(s![8..24, ..]), &database, k, Metric::L2).unwrap()
            });
            assert_eq!(
                sixteen.indices,
                batch.indices.slice(s![8..24, ..]),
                "{what}: batch of 16"
            );
            assert_eq!(sixteen.scores, batch.scores.slice(s![8..24, ..]), "{what}: batch of 16");
            batches.push(batch);
        }
        assert_same_topk(&batches[0], &batches[1], &format!("k={k}: 1 and 2 threads"));
    }

    // Range search decides by the exact distance too: below 1e-3 are the
    // duplicates and the nearest rows, nothing else.
    let radius = 7.5e-4;
    let want = brute.range_all(radius);
    for threads in [1, 2] {
        let r = with_threads(threads, || {
            range_search(&queries, &database, radius as f32, Metric::L2).unwrap()
        });
        for (i, w) in want.iter().enumerate() {
            let got: Vec<usize> = r.hits(i).map(|h| h.0).collect();
            assert_eq!(got, w.iter().map(|p| p.0).collect::<Vec<_>>(), "range, query {i}");
        }
    }
}

#[test]
fn l2_exact_when_the_norms_overflow_f32() {
    // Coordinates up to 6e18: every |v|^2 overflows f32 (so do the inner
    // products), yet the distances of the nearest rows (1e30..1.7e31) are finite.
    let mut rng = Rng(202);
    let d = 64;
    let near: Vec<f64> = (0..8).map(|m| 1e30 * 1.5f64.powi(m)).collect();
    let (queries, database) = clustered(&mut rng, 20, d, 6e18, &|_| 1, &near, 500);
    for row in queries.rows() {
        assert!(
            row.iter().map(|&x| x * x).sum::<f32>().is_infinite(),
            "precondition: |q|^2 overflows"
        );
    }
    let brute = Brute::new(Metric::L2, queries.view(), database.view());
    // The 9 nearest (a copy and 8 near rows) are the only finite distances in f32.
    let k = 9;
    let want = brute.top_all(k);
    assert_unambiguous(&want, 1e-2);
    let tol = l2_tol::<f32>(d);
    for nq in [3, 20] {
        let qs = queries.slice(s![..nq, ..]);
        for threads in [1, 2] {
            let hits = with_threads(threads, || top_k(&qs, &database, k, Metric::L2).unwrap());
            let what = format!("{nq} queries, {threads} threads");
            assert_topk_close(&hits, &brute, &want[..nq], k, &tol, &what);
            for (i, want) in want.iter().enumerate().take(nq) {
                assert_eq!(
                    hits.indices.row(i).to_vec(),
                    want.iter().map(|p| p.0).collect::<Vec<_>>(),
                    "{what}"
                );
                assert_eq!(hits.scores[[i, 0]], 0.0, "{what}: the copy");
            }
            let r = with_threads(threads, || range_search(&qs, &database, 1e32f32, Metric::L2).unwrap());
            for (i, want) in want.iter().enumerate().take(nq) {
                let got: Vec<usize> = r.hits(i).map(|h| h.0).collect();
                assert_eq!(got, want.iter().map(|p| p.0).collect::<Vec<_>>(), "{what}: range");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Every plan gives the same answer

const FINGERPRINT_VAR: &str = "SEARCH_EXACT_PRINT_FINGERPRINT";

fn fnv(h: &mut u64, x: u64) {
    for b in x.to_le_bytes() {
        *h ^= b as u64;
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn fingerprint_topk(h: &mut u64, t: &TopK<f32>) {
    for (&i, &s) in t.indices.iter().zip(&t.scores) {
        fnv(h, i as u64);
        fnv(h, s.to_bits() as u64);
    }
}

fn fingerprint_range(h: &mut u64, r: &RangeHits<f32>) {
    for &l in &r.lims {
        fnv(h, l as u64);
    }
    for (&i, &s) in r.indices.iter().zip(&r.scores) {
        fnv(h, i as u64);
        fnv(h, s.to_bits() as u64);
    }
}

/// Whether plans must agree bit for bit: L2 always (its scores are the one exact
/// function); the similarities unless BLAS computes the GEMM blocks, whose
/// rounding OpenBLAS lets depend on the block's shape (the docs say the last bits
/// of inner products may differ between plans there).
fn bitwise_across_plans(metric: Metric) -> bool {
    metric == Metric::L2 || !cfg!(feature = "cblas")
}

/// The same hits with scores equal, or within a relative 1e-5 where
/// [`bitwise_across_plans`] is false.
#[track_caller]
fn assert_plans_agree(metric: Metric, a: &TopK<f32>, b: &TopK<f32>, what: &str) {
    if bitwise_across_plans(metric) {
        return assert_same_topk(a, b, what);
    }
    assert_eq!(a.indices, b.indices, "{what}: indices");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(
            (x - y).abs() <= 1e-5 * x.abs().max(1.0) || (x.is_nan() && y.is_nan()),
            "{what}: {x} {y}"
        );
    }
}

/// Runs every metric's top-k, range and index searches for batches that take
/// the few-query kernel (split over the database on 2 threads), GEMM split over
/// the database or threaded inside, and GEMM split over the queries or threaded
/// inside, in pools of 1 and 2 threads; asserts the pools agree bit for bit and
/// returns a fingerprint of the results.
fn plan_fingerprint() -> u64 {
    let mut rng = Rng(301);
    let (n, d) = (4096, 64);
    let database = floats::<f32>(&mut rng, (n, d));
    let mut h = 0xcbf2_9ce4_8422_2325;
    for q in [5, 100, 200] {
        let queries = floats::<f32>(&mut rng, (q, d));
        for metric in METRICS {
            let radius = match metric {
                Metric::InnerProduct => 7.0,
                Metric::Cosine => 0.3,
                _ => 28.0,
            };
            let index = FlatIndex::new(database.clone(), metric);
            let run = |threads| {
                with_threads(threads, || {
                    (
                        top_k(&queries, &database, 10, metric).unwrap(),
                        range_search(&queries, &database, radius, metric).unwrap(),
                        index.search(&queries, 10).unwrap(),
                        index.search_filtered(&queries, 10, |id| id % 3 != 0).unwrap(),
                    )
                })
            };
            let (a, b) = (run(1), run(2));
            let what = format!("Q={q} {metric:?}");
            assert_plans_agree(metric, &a.0, &b.0, &format!("{what}: top_k, 1 and 2 threads"));
            if bitwise_across_plans(metric) {
                assert_eq!(a.1, b.1, "{what}: range_search, 1 and 2 threads");
            } else {
                assert_eq!(
                    (&a.1.lims, &a.1.indices),
                    (&b.1.lims, &b.1.indices),
                    "{what}: range_search"
                );
            }
            assert!(a.1.len() > q, "{what}: the radius takes in some rows");
            assert_plans_agree(
                metric,
                &a.2,
                &b.2,
                &format!("{what}: FlatIndex::search, 1 and 2 threads"),
            );
            assert_plans_agree(metric, &a.3, &b.3, &format!("{what}: search_filtered, 1 and 2 threads"));
            // The index keeps the norms the one-shot search computes: same answer.
            assert_same_topk(&a.2, &a.0, &format!("{what}: FlatIndex::search and top_k"));
            if metric == Metric::L2 || q == 5 {
                let brute = Brute::new(metric, queries.view(), database.view());
                let tol: Box<dyn Fn(f64) -> f64> = match metric {
                    Metric::L2 => Box::new(l2_tol::<f32>(d)),
                    _ => Box::new(|_| 1e-5),
                };
                assert_topk_close(&a.0, &brute, &brute.top_all(10), 10, &*tol, &what);
                let admit = |id: usize| !id.is_multiple_of(3);
                let want: Vec<_> = (0..q).map(|i| brute.top(i, 10, &admit)).collect();
                assert_topk_close(&a.3, &brute, &want, 10, &*tol, &format!("{what}: filtered"));
            }
            if bitwise_across_plans(metric) {
                fingerprint_topk(&mut h, &a.0);
                fingerprint_range(&mut h, &a.1);
                fingerprint_topk(&mut h, &a.3);
            }
        }
    }
    h
}

/// The counts of the crate's search splits (debug builds; 0 in release).
fn split_counts() -> Vec<(Path, u64)> {
    [
        Path::SearchSequential,
        Path::SearchThreadedGemm,
        Path::SearchSplitQueries,
        Path::SearchSplitDatabase,
    ]
    .into_iter()
    .map(|p| (p, count(p)))
    .collect()
}

/// Which split a search takes depends on the rayon threads and, with `blas`, on
/// whether the GEMM has threads of its own (`OPENBLAS_NUM_THREADS`, read once per
/// process; `MATMUL_NUM_THREADS` is set too, for the small products): the
/// pools cover the first, child processes of this binary with the GEMM
/// single-threaded (splits over queries or database) and threaded cover the second.
#[test]
// Without threads the child-process part below compiles away, leaving the early return last.
#[cfg_attr(not(feature = "rayon"), allow(clippy::needless_return))]
fn every_plan_gives_the_same_answer() {
    let before = split_counts();
    let fp = plan_fingerprint();
    if std::env::var_os(FINGERPRINT_VAR).is_some() {
        // A child runs this test alone: the counters are this test's.
        let taken: Vec<String> = split_counts()
            .iter()
            .zip(&before)
            .filter(|((_, after), (_, b))| after > b)
            .map(|((p, _), _)| format!("{p:?}"))
            .collect();
        println!("fingerprint {fp:016x}");
        println!("splits [{}]", taken.join(","));
        return;
    }
    #[cfg(feature = "rayon")]
    {
        let exe = std::env::current_exe().unwrap();
        for threads in ["1", "2"] {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "every_plan_gives_the_same_answer",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env("MATMUL_NUM_THREADS", threads)
                .env("OPENBLAS_NUM_THREADS", threads)
                .env(FINGERPRINT_VAR, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "MATMUL_NUM_THREADS={threads}:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let child = stdout
                .lines()
                .find_map(|l| l.split("fingerprint ").nth(1))
                .and_then(|rest| rest.get(..16))
                .unwrap_or_else(|| panic!("no fingerprint in:\n{stdout}"));
            assert_eq!(
                child,
                format!("{fp:016x}"),
                "MATMUL_NUM_THREADS={threads} gives other results than this process"
            );
            // The children took the plans meant (the counters exist in debug builds).
            if cfg!(debug_assertions) {
                let splits = stdout
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
                        splits.contains(w),
                        "MATMUL_NUM_THREADS={threads}: {w} not taken: {splits}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 4. Ids

/// Checks `index` (whose rows are `rows` with ids `labels`) against the brute
/// force: search, 1-D search, range search.
#[track_caller]
fn check_index(
    index: &FlatIndex<f64>,
    rows: &Array2<f64>,
    labels: &[usize],
    queries: &Array2<f64>,
    k: usize,
    what: &str,
) {
    let metric = index.metric();
    assert_eq!(index.len(), labels.len(), "{what}: len");
    assert_eq!(index.ids().collect::<Vec<_>>(), labels, "{what}: ids");
    assert_eq!(index.database(), rows.view(), "{what}: rows");
    let brute = Brute::with_labels(metric, queries.view(), rows.view(), labels.to_vec());
    let want = brute.top_all(k);
    let cols = k.min(labels.len());
    let hits = index.search(queries, k).unwrap();
    match metric {
        Metric::Cosine => assert_topk_close(&hits, &brute, &want, cols, &|_| 1e-12, what),
        _ => assert_topk_exact(&hits, &want, cols, what),
    }
    let radius = match metric {
        Metric::InnerProduct => 5e5,
        Metric::Cosine => 0.5,
        _ => 3e6,
    };
    let r = index.range_search(queries, radius).unwrap();
    match metric {
        Metric::Cosine => assert_range_close(&r, &brute, radius, &|_| true, 1e-12, what),
        _ => assert_range_exact(&r, &brute.range_all(radius), what),
    }
}

/// No two rows tie among any query's best `k + 1` (so the order of ties, tested
/// on its own below, plays no part).
#[track_caller]
fn assert_no_ties(rows: &Array2<f64>, queries: &Array2<f64>, metric: Metric, k: usize) {
    let brute = Brute::new(metric, queries.view(), rows.view());
    for (q, w) in brute.top_all(k + 1).iter().enumerate() {
        for p in w.windows(2) {
            assert!(
                p[0].1 != p[1].1,
                "precondition: query {q}: rows {} and {} tie",
                p[0].0,
                p[1].0
            );
        }
    }
}

#[test]
fn ids_follow_rows_through_add_add_with_ids_and_remove_ids() {
    let mut rng = Rng(401);
    let (n, d, q, k) = (300, 6, 7, 12);
    for metric in METRICS {
        // Integers up to 1000: inner products and distances exact in f64.
        let database = ints::<f64>(&mut rng, (n, d), 1000);
        let queries = ints::<f64>(&mut rng, (q, d), 1000);
        // Ids spread out, some huge, in a random order.
        let mut ids: Vec<usize> = (0..n).map(|i| i * 1000 + rng.below(1000)).collect();
        ids[0] = usize::MAX - 5;
        ids[1] = usize::MAX - 7;
        ids[2] = usize::MAX / 2;
        let p = permutation(&mut rng, n);
        let ids: Vec<usize> = p.iter().map(|&i| ids[i]).collect();
        let what = format!("{metric:?}");

        let mut index = FlatIndex::with_ids(database.clone(), ids.clone(), metric).unwrap();
        assert!(ids.iter().all(|&id| index.contains_id(id)));
        assert!(!index.contains_id(5_000_000) && !index.contains_id(usize::MAX));
        let mut rows = database.clone();
        let mut labels = ids.clone();
        assert_no_ties(&rows, &queries, metric, k);
        check_index(&index, &rows, &labels, &queries, k, &format!("{what}: with_ids"));

        // `add` numbers from one past the largest id: usize::MAX - 4 ..= usize::MAX - 1.
        let extra = ints::<f64>(&mut rng, (4, d), 1000);
        index.add(&extra).unwrap();
        labels.extend((1..=4).rev().map(|i| usize::MAX - i));
        rows.append(Axis(0), extra.view()).unwrap();
        check_index(&index, &rows, &labels, &queries, k, &format!("{what}: add"));
        // One more would reach usize::MAX, the padding: refused, nothing changes.
        let err = index.add(&ints::<f64>(&mut rng, (1, d), 9)).unwrap_err();
        assert_eq!(err, InnerError::ReservedId { id: usize::MAX });
        index.add(&Array2::zeros((0, d))).unwrap();
        check_index(&index, &rows, &labels, &queries, k, &format!("{what}: add refused"));

        // `add_with_ids`, rows in F order.
        let more = ints::<f64>(&mut rng, (5, d), 1000);
        let more_ids = [400_001, 400_000, 999_999_999, 300_500, 12_345_678];
        index.add_with_ids(&f_order(&more), &more_ids).unwrap();
        labels.extend(more_ids);
        rows.append(Axis(0), more.view()).unwrap();
        assert!(more_ids.iter().all(|&id| index.contains_id(id)));
        assert_no_ties(&rows, &queries, metric, k);
        check_index(&index, &rows, &labels, &queries, k, &format!("{what}: add_with_ids"));

        // `remove_ids`: present ids (some twice, the largest among them), absent ones.
        let mut doomed: Vec<usize> = (0..60).map(|_| labels[rng.below(labels.len())]).collect();
        doomed.extend([usize::MAX - 1, usize::MAX - 5, 5_000_000, usize::MAX, 1_000_000_000]);
        doomed.push(doomed[0]);
        let distinct: HashSet<usize> = doomed.iter().copied().filter(|id| labels.contains(id)).collect();
        let removed = index.remove_ids(&doomed).expect("an index in memory");
        assert_eq!(removed, distinct.len(), "{what}: removed count");
        let keep: Vec<usize> = (0..labels.len()).filter(|&r| !distinct.contains(&labels[r])).collect();
        let rows = rows.select(Axis(0), &keep);
        let mut labels: Vec<usize> = keep.iter().map(|&r| labels[r]).collect();
        assert!(distinct.iter().all(|&id| !index.contains_id(id)));
        assert!(labels.iter().all(|&id| index.contains_id(id)));
        check_index(&index, &rows, &labels, &queries, k, &format!("{what}: remove_ids"));
        assert_eq!(
            index.remove_ids(&doomed),
            Ok(0),
            "{what}: removing again removes nothing"
        );

        // usize::MAX - 1 is gone, but `add` numbers past the largest id ever held.
        assert_eq!(
            index.add(&Array2::ones((1, d))).unwrap_err(),
            InnerError::ReservedId { id: usize::MAX }
        );
        // Filtered search over the remaining ids.
        let admit = |id: usize| id % 2 == 1;
        let brute = Brute::with_labels(metric, queries.view(), rows.view(), labels.clone());
        let want: Vec<_> = (0..q).map(|i| brute.top(i, k, &admit)).collect();
        let hits = index.search_filtered(&queries, k, admit).unwrap();
        match metric {
            Metric::Cosine => assert_topk_close(&hits, &brute, &want, k, &|_| 1e-12, &what),
            _ => assert_topk_exact(&hits, &want, k, &what),
        }

        // Remove everything: an empty index, which still takes rows with ids.
        let all = labels.clone();
        assert_eq!(index.remove_ids(&all), Ok(all.len()));
        assert!(index.is_empty());
        assert_eq!(index.search(&queries, k).unwrap().indices.dim(), (q, 0));
        index.add_with_ids(&rows.slice(s![..3, ..]), &[5, 6, 7]).unwrap();
        labels = vec![5, 6, 7];
        check_index(
            &index,
            &rows.slice(s![..3, ..]).to_owned(),
            &labels,
            &queries,
            k,
            &format!("{what}: refilled"),
        );
    }

    // An index made by `new`: rows are ids until a removal; `add` then numbers
    // from the old length on, never reusing an id.
    for metric in METRICS {
        let database = ints::<f64>(&mut rng, (10, 3), 1000);
        let queries = ints::<f64>(&mut rng, (4, 3), 1000);
        let mut index = FlatIndex::new(database.clone(), metric);
        assert_eq!(index.remove_ids(&[9, 3, 3, 77]), Ok(2));
        assert_eq!(index.ids().collect::<Vec<_>>(), [0, 1, 2, 4, 5, 6, 7, 8]);
        let extra = ints::<f64>(&mut rng, (2, 3), 1000);
        index.add(&extra).unwrap();
        let mut rows = database.select(Axis(0), &[0, 1, 2, 4, 5, 6, 7, 8]);
        rows.append(Axis(0), extra.view()).unwrap();
        let labels = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11];
        assert!(!index.contains_id(9) && !index.contains_id(3) && index.contains_id(11));
        check_index(
            &index,
            &rows,
            &labels,
            &queries,
            4,
            &format!("{metric:?}: new, remove, add"),
        );
    }
}

/// The module documentation: "equal scores are ordered by the lower index (or
/// id) first", and `TopK::merge` of id shards (offset 0) equals the search of
/// the whole index "ties and NaNs included".
#[test]
fn ids_ties_are_broken_by_the_lower_id() {
    // The smallest case: three rows tie; the lower ids are 10 then 20.
    let db = array![[1.0f64], [1.0], [1.0], [0.0]];
    let ids = vec![30, 20, 10, 5];
    let index = FlatIndex::with_ids(db.clone(), ids.clone(), Metric::InnerProduct).unwrap();
    let a = FlatIndex::with_ids(
        db.slice(s![..2, ..]).to_owned(),
        ids[..2].to_vec(),
        Metric::InnerProduct,
    )
    .unwrap();
    let b = FlatIndex::with_ids(
        db.slice(s![2.., ..]).to_owned(),
        ids[2..].to_vec(),
        Metric::InnerProduct,
    )
    .unwrap();
    let q = array![1.0];
    let merged = TopK::merge(&[(a.search(&q, 2).unwrap(), 0), (b.search(&q, 2).unwrap(), 0)], 2).unwrap();
    assert_eq!(merged.indices, array![[10, 20]], "merged id shards");
    assert_eq!(
        index.search(&q, 2).unwrap().indices,
        array![[10, 20]],
        "the whole index"
    );
    assert_eq!(
        index.range_search(&q, 0.5).unwrap().indices,
        [10, 20, 30],
        "range search"
    );

    let mut rng = Rng(402);
    let (n, d, q, k) = (200, 4, 6, 15);
    for metric in [Metric::InnerProduct, Metric::L2] {
        // Values in -1..=1: many exact ties.
        let database = ints::<f64>(&mut rng, (n, d), 1);
        let queries = ints::<f64>(&mut rng, (q, d), 1);
        let ids: Vec<usize> = permutation(&mut rng, n).into_iter().map(|i| 3 * i + 1).collect();
        let index = FlatIndex::with_ids(database.clone(), ids.clone(), metric).unwrap();
        let brute = Brute::with_labels(metric, queries.view(), database.view(), ids.clone());
        let what = format!("{metric:?}");
        let whole = index.search(&queries, k).unwrap();
        // Merging the results of two id shards.
        let cut = n / 2;
        let a = FlatIndex::with_ids(database.slice(s![..cut, ..]).to_owned(), ids[..cut].to_vec(), metric).unwrap();
        let b = FlatIndex::with_ids(database.slice(s![cut.., ..]).to_owned(), ids[cut..].to_vec(), metric).unwrap();
        let merged = TopK::merge(
            &[(a.search(&queries, k).unwrap(), 0), (b.search(&queries, k).unwrap(), 0)],
            k,
        )
        .unwrap();
        assert_topk_exact(&whole, &brute.top_all(k), k, &format!("{what}: search"));
        assert_topk_exact(&merged, &brute.top_all(k), k, &format!("{what}: merged id shards"));
        let filtered = index.search_filtered(&queries, k, |id| id % 2 == 0).unwrap();
        let want: Vec<_> = (0..q).map(|i| brute.top(i, k, &|id| id % 2 == 0)).collect();
        assert_topk_exact(&filtered, &want, k, &format!("{what}: search_filtered"));
        let radius = if metric == Metric::L2 { 3.0 } else { 0.0 };
        let r = index.range_search(&queries, radius).unwrap();
        assert_range_exact(&r, &brute.range_all(radius), &format!("{what}: range_search"));
    }
}

// ---------------------------------------------------------------------------
// 5. Filters

#[test]
fn search_filtered_equals_brute_force_over_admitted_ids() {
    let mut rng = Rng(501);
    let (n, d, k) = (2500, 16, 10);
    let database = ints::<f32>(&mut rng, (n, d), 3);
    let mut database = database;
    duplicate_rows(&mut rng, &mut database, 100);
    let filters: [(&str, &dyn Fn(usize) -> bool); 3] = [
        ("id % 3 == 0", &|id| id % 3 == 0),
        ("hashed", &|id| id.wrapping_mul(2_654_435_761) % 7 < 2),
        ("one block", &|id| (700..1300).contains(&id) || id == 2499),
    ];
    for metric in METRICS {
        // Rows are ids (`new`), and ids 10 row + 7 (increasing: the order of ties
        // is the same by row or by id).
        let plain = FlatIndex::new(database.clone(), metric);
        let labels: Vec<usize> = (0..n).map(|r| 10 * r + 7).collect();
        let with_ids = FlatIndex::with_ids(database.clone(), labels.clone(), metric).unwrap();
        for q in [1, 5, 20] {
            let queries = ints::<f32>(&mut rng, (q, d), 3);
            let by_row = Brute::new(metric, queries.view(), database.view());
            let by_id = Brute::with_labels(metric, queries.view(), database.view(), labels.clone());
            for (name, filter) in &filters {
                let what = format!("{metric:?} Q={q} {name}");
                let id_filter = |id: usize| filter((id - 7) / 10);
                for (index, brute, admit) in [
                    (&plain, &by_row, &**filter as &dyn Fn(usize) -> bool),
                    (&with_ids, &by_id, &id_filter as &dyn Fn(usize) -> bool),
                ] {
                    let want: Vec<_> = (0..q).map(|i| brute.top(i, k, admit)).collect();
                    let hits = index.search_filtered(&queries, k, admit).unwrap();
                    match metric {
                        Metric::Cosine => assert_topk_close(&hits, brute, &want, k, &|_| 1e-6, &what),
                        _ => assert_topk_exact(&hits, &want, k, &what),
                    }
                    assert!(hits.indices.iter().all(|&i| admit(i)), "{what}: only admitted ids");
                }
            }
            // Fewer admissible rows than k: padding at the end of each row; the
            // result has min(k, len) columns.
            let few = |id: usize| [3, 1777, 42, 2000].contains(&id);
            for (kk, cols) in [(10, 10), (n + 5, n)] {
                let hits = plain.search_filtered(&queries, kk, few).unwrap();
                let want: Vec<_> = (0..q).map(|i| by_row.top(i, kk, &few)).collect();
                match metric {
                    Metric::Cosine => assert_topk_close(&hits, &by_row, &want, cols, &|_| 1e-6, "few"),
                    _ => assert_topk_exact(&hits, &want, cols, "few"),
                }
                for row in hits.indices.rows() {
                    assert!(row.iter().skip(4).all(|&i| i == PADDING));
                }
                assert!(hits
                    .scores
                    .columns()
                    .into_iter()
                    .skip(4)
                    .all(|c| c.iter().all(|s| s.is_nan())));
                assert_eq!((0..q).map(|i| hits.hits(i).count()).sum::<usize>(), 4 * q);
            }
            // Nothing admitted: all padding.
            for index in [&plain, &with_ids] {
                let hits = index.search_filtered(&queries, k, |_| false).unwrap();
                assert_eq!(hits.indices.dim(), (q, k));
                assert!(hits.indices.iter().all(|&i| i == PADDING));
                assert!(hits.scores.iter().all(|s| s.is_nan()));
                assert_eq!(hits.metric, metric);
            }
        }
    }
}

#[test]
fn a_panicking_filter_reaches_the_caller_and_changes_nothing() {
    let mut rng = Rng(502);
    let database = ints::<f32>(&mut rng, (300, 8), 3);
    let queries = ints::<f32>(&mut rng, (20, 8), 3);
    for metric in METRICS {
        let index = FlatIndex::with_ids(database.clone(), (100..400).collect(), metric).unwrap();
        let before = (
            index.search(&queries, 7).unwrap(),
            index.search_filtered(&queries, 7, |id| id % 2 == 0).unwrap(),
            index.range_search(&queries, 1.0).unwrap(),
        );
        let payload = catch_unwind(AssertUnwindSafe(|| {
            index.search_filtered(&queries, 7, |id| {
                if id == 217 {
                    panic!("filter refuses id {id}");
                }
                true
            })
        }))
        .expect_err("the panic reaches the caller");
        assert_eq!(payload_message(payload), "filter refuses id 217");
        let payload = catch_unwind(AssertUnwindSafe(|| {
            index.range_search_filtered(&queries.row(0), 1.0, |id| {
                if id == 399 {
                    panic!("range filter refuses id {id}");
                }
                true
            })
        }))
        .expect_err("the panic reaches the caller");
        assert_eq!(payload_message(payload), "range filter refuses id 399");
        // The index answers exactly as before.
        assert_same_topk(&index.search(&queries, 7).unwrap(), &before.0, "after the panic");
        assert_same_topk(
            &index.search_filtered(&queries, 7, |id| id % 2 == 0).unwrap(),
            &before.1,
            "after the panic, filtered",
        );
        assert_eq!(index.range_search(&queries, 1.0).unwrap(), before.2);
        assert_eq!(index.len(), 300);
        let brute = Brute::with_labels(metric, queries.view(), database.view(), (100..400).collect());
        let want: Vec<_> = (0..20).map(|i| brute.top(i, 7, &|id| id % 2 == 0)).collect();
        match metric {
            Metric::Cosine => assert_topk_close(&before.1, &brute, &want, 7, &|_| 1e-6, "filtered"),
            _ => assert_topk_exact(&before.1, &want, 7, "filtered"),
        }
    }
}

#[test]
fn the_filter_is_called_once_per_row() {
    let mut rng = Rng(503);
    // 5000 rows of 64: the few-query kernel splits the database on 2 threads.
    let (n, d) = (5000, 64);
    let database = ints::<f32>(&mut rng, (n, d), 3);
    let queries = ints::<f32>(&mut rng, (20, d), 3);
    for metric in METRICS {
        let mut index = FlatIndex::with_ids(database.clone(), (0..n).map(|i| 2 * i + 1).collect(), metric).unwrap();
        for round in 0..2 {
            let ids: Vec<usize> = index.ids().collect();
            for threads in [1, 2] {
                let calls = with_threads(threads, || {
                    let mut all = Vec::new();
                    for q in [1, 3, 20] {
                        let count = Cell::new(0usize);
                        let seen = RefCell::new(Vec::new());
                        let filter = |id: usize| {
                            count.set(count.get() + 1);
                            seen.borrow_mut().push(id);
                            id % 4 == 1
                        };
                        let qs = queries.slice(s![..q, ..]);
                        index.search_filtered(&qs, 5, filter).unwrap();
                        all.push((count.get(), seen.take()));
                        let count = Cell::new(0usize);
                        let seen = RefCell::new(Vec::new());
                        index
                            .range_search_filtered(&qs, 0.0, |id| {
                                count.set(count.get() + 1);
                                seen.borrow_mut().push(id);
                                id % 4 == 1
                            })
                            .unwrap();
                        all.push((count.get(), seen.take()));
                    }
                    all
                });
                for (count, mut seen) in calls {
                    assert_eq!(count, ids.len(), "{metric:?} round {round}: one call per row");
                    seen.sort_unstable();
                    let mut want = ids.clone();
                    want.sort_unstable();
                    assert_eq!(seen, want, "{metric:?} round {round}: every id once");
                }
            }
            // Again after removing a third of the rows.
            let doomed: Vec<usize> = ids.iter().copied().step_by(3).collect();
            index.remove_ids(&doomed).expect("an index in memory");
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Range search

fn check_range<A: SearchScalar + std::fmt::Debug>(seed: u64) {
    let mut rng = Rng(seed);
    let (n, d) = (1500, 8);
    let mut database = ints::<A>(&mut rng, (n, d), 2);
    database.row_mut(17).fill(A::zero()); // a zero row: cosine 0
    duplicate_rows(&mut rng, &mut database, 50);
    let labels: Vec<usize> = (0..n).map(|r| 5 * r + 2).collect();
    for q in [3, 20] {
        let mut queries = ints::<A>(&mut rng, (q, d), 2);
        queries.row_mut(0).assign(&database.row(5)); // an L2 distance of 0
        for metric in METRICS {
            let brute = Brute::new(metric, queries.view(), database.view());
            let by_id = Brute::with_labels(metric, queries.view(), database.view(), labels.clone());
            let plain = FlatIndex::new(database.clone(), metric);
            let with_ids = FlatIndex::with_ids(database.clone(), labels.clone(), metric).unwrap();
            // Integer radii that some rows hit exactly (excluded: strict), and for
            // cosine 0 (orthogonal and zero rows score exactly 0) and 0.5.
            let radii: &[f64] = match metric {
                Metric::InnerProduct => &[3.0, 0.0, -6.0],
                Metric::Cosine => &[0.0, 0.5],
                _ => &[10.0, 5.0, 0.0],
            };
            for &radius in radii {
                let what = format!("{metric:?} Q={q} radius {radius}");
                let exact = metric != Metric::Cosine;
                let at_radius = brute.scores.iter().flatten().filter(|&&s| s == radius).count();
                assert!(
                    at_radius > 0 || radius == 0.5,
                    "{what}: precondition: some rows are at the radius"
                );
                let r = A::from(radius).unwrap();
                let arrays = range_search(&queries, &database, r, metric).unwrap();
                let index = plain.range_search(&queries, r).unwrap();
                let ids = with_ids.range_search(&queries, r).unwrap();
                let admit = |id: usize| id % 3 != 1;
                let id_admit = |id: usize| admit((id - 2) / 5);
                let filtered = plain.range_search_filtered(&queries, r, admit).unwrap();
                let ids_filtered = with_ids.range_search_filtered(&queries, r, id_admit).unwrap();
                assert_eq!(arrays.metric, metric);
                if exact {
                    assert_range_exact(&arrays, &brute.range_all(radius), &what);
                    assert_range_exact(&index, &brute.range_all(radius), &what);
                    assert_range_exact(&ids, &by_id.range_all(radius), &what);
                    let want: Vec<_> = (0..q).map(|i| brute.range(i, radius, &admit)).collect();
                    assert_range_exact(&filtered, &want, &what);
                    let want: Vec<_> = (0..q).map(|i| by_id.range(i, radius, &id_admit)).collect();
                    assert_range_exact(&ids_filtered, &want, &what);
                } else {
                    // Scores within 1e-5 (f32 cosines); at radius 0 the membership is
                    // exact too (the sign of an exact inner product), checked below.
                    let tol = 1e-5;
                    assert_range_close(&arrays, &brute, radius, &|_| true, tol, &what);
                    assert_range_close(&index, &brute, radius, &|_| true, tol, &what);
                    assert_range_close(&ids, &by_id, radius, &|_| true, tol, &what);
                    assert_range_close(&filtered, &brute, radius, &admit, tol, &what);
                    assert_range_close(&ids_filtered, &by_id, radius, &id_admit, tol, &what);
                    if radius == 0.0 {
                        for (i, w) in brute.range_all(0.0).iter().enumerate() {
                            let got: Vec<usize> = arrays.hits(i).map(|h| h.0).collect();
                            let mut want: Vec<usize> = w.iter().map(|p| p.0).collect();
                            want.sort_unstable();
                            let mut sorted = got.clone();
                            sorted.sort_unstable();
                            assert_eq!(sorted, want, "{what}: query {i}: exactly the rows above 0");
                        }
                    }
                }
                // A row at exactly the radius is never a hit.
                for i in 0..q {
                    assert!(
                        arrays.hits(i).all(|(_, s)| s.to_f64().unwrap() != radius),
                        "{what}: strict"
                    );
                }
            }
        }
    }
}

#[test]
fn range_search_equals_brute_force_f32() {
    check_range::<f32>(601);
}

#[test]
fn range_search_equals_brute_force_f64() {
    check_range::<f64>(602);
}

#[test]
fn range_search_radii_and_empty_inputs() {
    let mut rng = Rng(603);
    let (n, d, q) = (400, 5, 4);
    let mut database = ints::<f64>(&mut rng, (n, d), 3);
    database[[10, 2]] = f64::NAN;
    database[[20, 1]] = f64::INFINITY;
    let queries = ints::<f64>(&mut rng, (q, d), 3);
    let finite = ints::<f64>(&mut rng, (n, d), 3);
    for metric in METRICS {
        let index = FlatIndex::new(database.clone(), metric);
        // A NaN radius is an error, everywhere.
        assert_eq!(
            range_search(&queries, &database, f64::NAN, metric).unwrap_err(),
            InnerError::InvalidRadius
        );
        assert_eq!(
            index.range_search(&queries, f64::NAN).unwrap_err(),
            InnerError::InvalidRadius
        );
        let calls = Cell::new(0);
        let err = index
            .range_search_filtered(&queries.row(0), f64::NAN, |_| {
                calls.set(calls.get() + 1);
                true
            })
            .unwrap_err();
        assert_eq!(err, InnerError::InvalidRadius);
        assert_eq!(err.to_string(), "range search: the radius is NaN");

        let brute = Brute::new(metric, queries.view(), database.view());
        let widest = if metric == Metric::L2 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        let r = range_search(&queries, &database, widest, metric).unwrap();
        assert_range_close(
            &r,
            &brute,
            widest,
            &|_| true,
            1e-12,
            &format!("{metric:?} infinite radius"),
        );
        for i in 0..q {
            let got: HashSet<usize> = r.hits(i).map(|h| h.0).collect();
            assert!(!got.contains(&10), "{metric:?}: a NaN score is never within any radius");
            if metric == Metric::L2 {
                // +inf: every row at a finite distance; row 20 is at distance inf.
                let want: HashSet<usize> = (0..n).filter(|&j| brute.scores[i][j].is_finite()).collect();
                assert_eq!(got, want, "L2, +inf radius");
                assert_eq!(got.len(), n - 2);
            } else {
                // -inf: every row with a score above -inf (row 20 scores +-inf or NaN).
                let want: HashSet<usize> = (0..n)
                    .filter(|&j| !brute.scores[i][j].is_nan() && brute.scores[i][j] != f64::NEG_INFINITY)
                    .collect();
                assert_eq!(got, want, "{metric:?}, -inf radius");
            }
        }
        assert_eq!(index.range_search(&queries, widest).unwrap(), r);
        // Finite data: -inf (similarities) or +inf (L2) takes in every row.
        let r = range_search(&queries, &finite, widest, metric).unwrap();
        assert_eq!(
            r.lims,
            (0..=q).map(|i| i * n).collect::<Vec<_>>(),
            "{metric:?}: every row"
        );

        // Q = 0: lims [0], no hits.
        let none = Array2::<f64>::zeros((0, d));
        for r in [
            range_search(&none, &database, 1.0, metric).unwrap(),
            index.range_search(&none, 1.0).unwrap(),
            index.range_search_filtered(&none, 1.0, |_| true).unwrap(),
        ] {
            assert_eq!((r.lims.clone(), r.len(), r.num_queries()), (vec![0], 0, 0));
            assert!(r.is_empty() && r.scores.is_empty());
        }
        // An empty database: Q + 1 zero lims.
        let empty = Array2::<f64>::zeros((0, d));
        let empty_index = FlatIndex::new(empty.clone(), metric);
        for r in [
            range_search(&queries, &empty, 1.0, metric).unwrap(),
            range_search(&queries, &empty, widest, metric).unwrap(),
            empty_index.range_search(&queries, 1.0).unwrap(),
            empty_index.range_search_filtered(&queries, widest, |_| true).unwrap(),
        ] {
            assert_eq!(r.lims, vec![0; q + 1]);
            assert!(r.indices.is_empty() && r.scores.is_empty());
        }
        // No admitted row: Q + 1 zero lims.
        let r = index.range_search_filtered(&queries, widest, |_| false).unwrap();
        assert_eq!(r.lims, vec![0; q + 1]);
    }
}

// ---------------------------------------------------------------------------
// 7. Sharded and merged equals unsharded

#[test]
fn sharded_and_merged_equals_unsharded_for_every_metric() {
    let mut rng = Rng(701);
    let (n, d, k) = (700, 8, 15);
    let mut database = ints::<f32>(&mut rng, (n, d), 2);
    duplicate_rows(&mut rng, &mut database, 40);
    database[[rng.below(n), 3]] = f32::NAN;
    database.row_mut(rng.below(n)).fill(0.0);
    for q in [4, 20] {
        let queries = ints::<f32>(&mut rng, (q, d), 2);
        for metric in METRICS {
            let what = format!("{metric:?} Q={q}");
            let whole = top_k(&queries, &database, k, metric).unwrap();
            let brute = Brute::new(metric, queries.view(), database.view());
            match metric {
                Metric::Cosine => assert_topk_close(&whole, &brute, &brute.top_all(k), k, &|_| 1e-6, &what),
                _ => assert_topk_exact(&whole, &brute.top_all(k), k, &what),
            }
            for trial in 0..5 {
                // Random cut points (empty shards allowed), parts in a random order.
                let mut cuts: Vec<usize> = (0..1 + rng.below(6)).map(|_| rng.below(n + 1)).collect();
                cuts.extend([0, n]);
                cuts.sort_unstable();
                let mut parts: Vec<(TopK<f32>, usize)> = cuts
                    .windows(2)
                    .map(|w| {
                        (
                            top_k(&queries, &database.slice(s![w[0]..w[1], ..]), k, metric).unwrap(),
                            w[0],
                        )
                    })
                    .collect();
                let order = permutation(&mut rng, parts.len());
                parts = order.iter().map(|&i| parts[i].clone()).collect();
                let merged = TopK::merge(&parts, k).unwrap();
                assert_same_topk(&merged, &whole, &format!("{what}: trial {trial}, cuts {cuts:?}"));
            }

            // Shards of an index with ids (offset 0): ids increasing with the rows,
            // so that ties are in the same order by row and by id.
            let ids: Vec<usize> = (0..n).map(|r| 1_000 + 7 * r).collect();
            let index = FlatIndex::with_ids(database.clone(), ids.clone(), metric).unwrap();
            let whole_ids = index.search(&queries, k).unwrap();
            let by_id = Brute::with_labels(metric, queries.view(), database.view(), ids.clone());
            match metric {
                Metric::Cosine => assert_topk_close(&whole_ids, &by_id, &by_id.top_all(k), k, &|_| 1e-6, &what),
                _ => assert_topk_exact(&whole_ids, &by_id.top_all(k), k, &what),
            }
            let cuts = [0, 100, 101, 450, n];
            let parts: Vec<(TopK<f32>, usize)> = cuts
                .windows(2)
                .rev()
                .map(|w| {
                    let shard = FlatIndex::with_ids(
                        database.slice(s![w[0]..w[1], ..]).to_owned(),
                        ids[w[0]..w[1]].to_vec(),
                        metric,
                    )
                    .unwrap();
                    (shard.search(&queries, k).unwrap(), 0)
                })
                .collect();
            assert_same_topk(
                &TopK::merge(&parts, k).unwrap(),
                &whole_ids,
                &format!("{what}: id shards"),
            );
        }
    }
    // Float data, ids in a random order (no ties: the order of ties plays no part).
    let database = floats::<f64>(&mut rng, (500, 6));
    let queries = floats::<f64>(&mut rng, (5, 6));
    let ids: Vec<usize> = permutation(&mut rng, 500)
        .into_iter()
        .map(|i| usize::MAX - 1 - 3 * i)
        .collect();
    for metric in METRICS {
        let whole = FlatIndex::with_ids(database.clone(), ids.clone(), metric)
            .unwrap()
            .search(&queries, 9)
            .unwrap();
        let brute = Brute::with_labels(metric, queries.view(), database.view(), ids.clone());
        assert_topk_close(&whole, &brute, &brute.top_all(9), 9, &|_| 1e-12, "float ids");
        let parts: Vec<(TopK<f64>, usize)> = [0..123, 123..124, 124..500]
            .into_iter()
            .map(|r| {
                let shard =
                    FlatIndex::with_ids(database.slice(s![r.clone(), ..]).to_owned(), ids[r].to_vec(), metric).unwrap();
                (shard.search(&queries, 9).unwrap(), 0)
            })
            .collect();
        assert_same_topk(
            &TopK::merge(&parts, 9).unwrap(),
            &whole,
            &format!("{metric:?}: float id shards"),
        );
    }
}

#[test]
fn merging_parts_of_different_metrics_is_an_error() {
    let mut rng = Rng(702);
    let database = ints::<f64>(&mut rng, (30, 4), 2);
    let queries = ints::<f64>(&mut rng, (3, 4), 2);
    let part = |metric, range: std::ops::Range<usize>| {
        (
            top_k(&queries, &database.slice(s![range.clone(), ..]), 5, metric).unwrap(),
            range.start,
        )
    };
    let err = TopK::merge(&[part(Metric::InnerProduct, 0..10), part(Metric::L2, 10..30)], 5).unwrap_err();
    assert_eq!(
        err,
        InnerError::MetricMismatch {
            part: 1,
            expected: Metric::InnerProduct,
            found: Metric::L2
        }
    );
    assert_eq!(
        err.to_string(),
        "TopK::merge: part 1 was searched by L2 but part 0 by InnerProduct"
    );
    let err = TopK::merge(
        &[
            part(Metric::L2, 0..10),
            part(Metric::L2, 10..20),
            part(Metric::Cosine, 20..30),
        ],
        5,
    )
    .unwrap_err();
    assert_eq!(
        err,
        InnerError::MetricMismatch {
            part: 2,
            expected: Metric::L2,
            found: Metric::Cosine
        }
    );
    // The same parts with one metric merge, and keep it.
    let merged = TopK::merge(&[part(Metric::L2, 0..10), part(Metric::L2, 10..30)], 5).unwrap();
    assert_eq!(merged.metric, Metric::L2);
    assert_same_topk(&merged, &top_k(&queries, &database, 5, Metric::L2).unwrap(), "L2 merge");
    // Padding from a filtered part stays padding, after every hit.
    let index = FlatIndex::new(database.clone(), Metric::L2);
    let sparse = index.search_filtered(&queries, 5, |id| id == 4 || id == 9).unwrap();
    // Every part searched with at least the k of the merge.
    let dense = top_k(&queries, &database.slice(s![10.., ..]), 8, Metric::L2).unwrap();
    let merged = TopK::merge(&[(sparse.clone(), 0), (dense, 10)], 8).unwrap();
    let brute = Brute::new(Metric::L2, queries.view(), database.view());
    let admit = |r: usize| r == 4 || r == 9 || r >= 10;
    let want: Vec<_> = (0..3).map(|i| brute.top(i, 8, &admit)).collect();
    assert_topk_exact(&merged, &want, 8, "merge with padding");
    let alone = TopK::merge(&[(sparse, 0)], 5).unwrap();
    assert!(alone
        .indices
        .columns()
        .into_iter()
        .skip(2)
        .all(|c| c.iter().all(|&i| i == PADDING)));
    assert!(alone
        .scores
        .columns()
        .into_iter()
        .skip(2)
        .all(|c| c.iter().all(|s| s.is_nan())));
}

// ---------------------------------------------------------------------------
// 8. Bad input

#[test]
fn dimension_mismatch_names_both_shapes() {
    let database = Array2::<f32>::ones((100, 4));
    let q2 = Array2::<f32>::ones((5, 3));
    let q1 = Array1::<f32>::ones(5);
    let want1 = "shapes (5,) and (100,4) not aligned: 5 (dim 0) != 4 (dim 1)";
    let want2 = "shapes (5,3) and (100,4) not aligned: 3 (dim 1) != 4 (dim 1)";
    let err1 = InnerError::NotAligned {
        a_shape: vec![5],
        b_shape: vec![100, 4],
        a_axis: 0,
        b_axis: 1,
    };
    for metric in METRICS {
        let e = top_k(&q1, &database, 3, metric).unwrap_err();
        assert_eq!(e, err1);
        assert_eq!(e.to_string(), want1);
        assert_eq!(top_k(&q2, &database, 3, metric).unwrap_err().to_string(), want2);
        assert_eq!(range_search(&q1, &database, 1.0, metric).unwrap_err(), err1);
        assert_eq!(
            range_search(&q2, &database, 1.0, metric).unwrap_err().to_string(),
            want2
        );
        let index = FlatIndex::new(database.clone(), metric);
        let calls = Cell::new(0);
        let count = |_: usize| {
            calls.set(calls.get() + 1);
            true
        };
        assert_eq!(index.search(&q1, 3).unwrap_err(), err1);
        assert_eq!(index.search(&q2, 3).unwrap_err().to_string(), want2);
        assert_eq!(index.search_filtered(&q1, 3, count).unwrap_err().to_string(), want1);
        assert_eq!(index.search_filtered(&q2, 3, count).unwrap_err().to_string(), want2);
        assert_eq!(index.range_search(&q1, 1.0).unwrap_err().to_string(), want1);
        assert_eq!(index.range_search(&q2, 1.0).unwrap_err().to_string(), want2);
        assert_eq!(
            index.range_search_filtered(&q1, 1.0, count).unwrap_err().to_string(),
            want1
        );
        assert_eq!(
            index.range_search_filtered(&q2, 1.0, count).unwrap_err().to_string(),
            want2
        );
        assert_eq!(calls.get(), 0, "the filter is not called when the queries are refused");
        // An empty index still has its d.
        let empty = FlatIndex::new(Array2::<f32>::zeros((0, 4)), metric);
        assert_eq!(
            empty.search(&q1, 3).unwrap_err().to_string(),
            "shapes (5,) and (0,4) not aligned: 5 (dim 0) != 4 (dim 1)"
        );
    }
}

#[test]
fn k_zero_is_an_error_and_an_empty_index_answers_empty() {
    let q2 = Array2::<f64>::ones((3, 4));
    let q1 = Array1::<f64>::ones(4);
    let k0 = InnerError::InvalidK { k: 0 };
    for metric in METRICS {
        let index = FlatIndex::new(Array2::<f64>::ones((6, 4)), metric);
        assert_eq!(top_k(&q1, &index.database(), 0, metric).unwrap_err(), k0);
        assert_eq!(top_k(&q2, &index.database(), 0, metric).unwrap_err(), k0);
        assert_eq!(index.search(&q1, 0).unwrap_err(), k0);
        assert_eq!(index.search(&q2, 0).unwrap_err(), k0);
        assert_eq!(index.search_filtered(&q2, 0, |_| true).unwrap_err(), k0);
        assert_eq!(
            index.search(&q2, 0).unwrap_err().to_string(),
            "k must be at least 1, got k = 0"
        );

        // Empty: made empty, made empty with ids, emptied by removal.
        let mut emptied = FlatIndex::with_ids(Array2::<f64>::ones((2, 4)), vec![8, 9], metric).unwrap();
        assert_eq!(emptied.remove_ids(&[9, 8]), Ok(2));
        for empty in [
            FlatIndex::new(Array2::<f64>::zeros((0, 4)), metric),
            FlatIndex::with_ids(Array2::<f64>::zeros((0, 4)), vec![], metric).unwrap(),
            emptied,
        ] {
            assert!(empty.is_empty() && empty.ids().next().is_none());
            for hits in [
                empty.search(&q2, 5).unwrap(),
                empty.search_filtered(&q2, 5, |_| true).unwrap(),
            ] {
                assert_eq!((hits.indices.dim(), hits.scores.dim()), ((3, 0), (3, 0)));
                assert_eq!(hits.metric, metric);
            }
            assert_eq!(empty.search(&q1, 5).unwrap().indices.dim(), (1, 0));
            assert_eq!(empty.search(&q2, 0).unwrap_err(), k0);
            let r = empty.range_search(&q2, 1.0).unwrap();
            assert_eq!((r.lims, r.indices.len(), r.scores.len()), (vec![0; 4], 0, 0));
            let r = empty.range_search(&q1, 1.0).unwrap();
            assert_eq!(r.lims, vec![0, 0]);
        }
        let hits = top_k(&q2, &Array2::<f64>::zeros((0, 4)), 5, metric).unwrap();
        assert_eq!(hits.indices.dim(), (3, 0));
    }
}

#[test]
fn id_errors_leave_the_index_unchanged() {
    let mut rng = Rng(801);
    let database = ints::<f32>(&mut rng, (20, 3), 3);
    let queries = ints::<f32>(&mut rng, (4, 3), 3);
    let ids: Vec<usize> = (0..20).map(|i| 100 + 3 * i).collect();
    for metric in METRICS {
        // `with_ids`: length, repetition, the reserved id.
        let err = FlatIndex::with_ids(database.clone(), ids[..19].to_vec(), metric).unwrap_err();
        assert_eq!(err, InnerError::IdsLength { rows: 20, ids: 19 });
        assert_eq!(err.to_string(), "FlatIndex: 20 rows but 19 ids");
        let mut repeated = ids.clone();
        repeated[15] = ids[4];
        let err = FlatIndex::with_ids(database.clone(), repeated, metric).unwrap_err();
        assert_eq!(
            err,
            InnerError::DuplicateId {
                id: 112,
                existing: false
            }
        );
        assert_eq!(err.to_string(), "FlatIndex: id 112 is given twice");
        let mut reserved = ids.clone();
        reserved[7] = usize::MAX;
        let err = FlatIndex::with_ids(database.clone(), reserved, metric).unwrap_err();
        assert_eq!(err, InnerError::ReservedId { id: usize::MAX });
        assert_eq!(
            err.to_string(),
            "FlatIndex: id 18446744073709551615 (usize::MAX) is reserved for the padding of search results"
        );

        let mut index = FlatIndex::with_ids(database.clone(), ids.clone(), metric).unwrap();
        let before = (
            index.search(&queries, 6).unwrap(),
            index.range_search(&queries, 2.0).unwrap(),
            index.ids().collect::<Vec<_>>(),
        );
        let unchanged = |index: &FlatIndex<f32>, what: &str| {
            assert_eq!(index.len(), 20, "{what}: len");
            assert_eq!(index.ids().collect::<Vec<_>>(), before.2, "{what}: ids");
            assert_eq!(index.database(), database.view(), "{what}: rows");
            assert_same_topk(&index.search(&queries, 6).unwrap(), &before.0, what);
            assert_eq!(index.range_search(&queries, 2.0).unwrap(), before.1, "{what}: range");
        };
        let rows = ints::<f32>(&mut rng, (3, 3), 3);
        // Repeated within the call.
        let err = index.add_with_ids(&rows, &[1, 2, 1]).unwrap_err();
        assert_eq!(err, InnerError::DuplicateId { id: 1, existing: false });
        assert!(!index.contains_id(1) && !index.contains_id(2));
        unchanged(&index, "id repeated in add_with_ids");
        // Already in the index.
        let err = index.add_with_ids(&rows, &[1, 106, 2]).unwrap_err();
        assert_eq!(
            err,
            InnerError::DuplicateId {
                id: 106,
                existing: true
            }
        );
        assert_eq!(err.to_string(), "FlatIndex: id 106 is already in the index");
        assert!(!index.contains_id(1));
        unchanged(&index, "id already in the index");
        // The reserved id.
        let err = index.add_with_ids(&rows, &[1, usize::MAX, 2]).unwrap_err();
        assert_eq!(err, InnerError::ReservedId { id: usize::MAX });
        unchanged(&index, "reserved id in add_with_ids");
        // Lengths and shapes.
        let err = index.add_with_ids(&rows, &[1, 2]).unwrap_err();
        assert_eq!(err, InnerError::IdsLength { rows: 3, ids: 2 });
        assert_eq!(err.to_string(), "FlatIndex: 3 rows but 2 ids");
        let err = index.add_with_ids(&Array2::ones((2, 4)), &[1, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shapes (20,3) and (2,4) not aligned: 3 (dim 1) != 4 (dim 1)"
        );
        unchanged(&index, "bad shapes in add_with_ids");
        // After all that, a good call works (ids above the others: ties are in
        // the same order by row and by id, see `ids_ties_are_broken_by_the_lower_id`).
        index.add_with_ids(&rows, &[1001, 1002, 1003]).unwrap();
        assert_eq!(index.len(), 23);
        assert!(index.contains_id(1001) && index.contains_id(1003) && !index.contains_id(1));
        let mut all = database.clone();
        all.append(Axis(0), rows.view()).unwrap();
        let mut labels = ids.clone();
        labels.extend([1001, 1002, 1003]);
        let brute = Brute::with_labels(metric, queries.view(), all.view(), labels.clone());
        let hits = index.search(&queries, 6).unwrap();
        match metric {
            Metric::Cosine => assert_topk_close(&hits, &brute, &brute.top_all(6), 6, &|_| 1e-6, "after"),
            _ => assert_topk_exact(&hits, &brute.top_all(6), 6, "after"),
        }
        // The ids that failed are free.
        index.add_with_ids(&rows.slice(s![..2, ..]), &[1, 2]).unwrap();
        assert!(index.contains_id(1) && index.contains_id(2) && index.len() == 25);

        // An index made by `new` refuses its row numbers as new ids.
        let mut plain = FlatIndex::new(database.clone(), metric);
        let err = plain.add_with_ids(&rows, &[20, 19, 21]).unwrap_err();
        assert_eq!(err, InnerError::DuplicateId { id: 19, existing: true });
        assert_eq!(plain.ids().collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        plain.add_with_ids(&rows, &[20, 22, 21]).unwrap();
        assert_eq!(plain.ids().skip(20).collect::<Vec<_>>(), [20, 22, 21]);
        plain.add(&rows.slice(s![..1, ..])).unwrap();
        assert_eq!(plain.ids().last(), Some(23), "add numbers past the largest id");

        // Ids up to usize::MAX - 1 are fine; `add` past them is refused.
        let mut top =
            FlatIndex::with_ids(database.slice(s![..2, ..]).to_owned(), vec![usize::MAX - 1, 0], metric).unwrap();
        assert_eq!(top.add(&rows).unwrap_err(), InnerError::ReservedId { id: usize::MAX });
        assert_eq!(top.len(), 2);
        assert_eq!(top.search(&queries.row(0), 2).unwrap().k(), 2);
    }
}

#[test]
fn non_finite_rows_rank_last_in_l2() {
    let inf = f32::INFINITY;
    let nan = f32::NAN;
    let database = array![
        [1.0, 1.0, 1.0],
        [1.0, nan, 1.0],
        [inf, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.0, -inf, 0.0],
        [2.0, 2.0, 2.0],
        [nan, nan, nan],
        [0.0, 0.0, 1.0]
    ];
    // Query 1 has the +inf of row 2: distance NaN there (inf - inf).
    let base = array![[0.0f32, 0.0, 0.0], [inf, 0.0, 0.0], [1.0, 1.0, 1.0]];
    let want_row0 = vec![3, 7, 0, 5, 2, 4, 1, 6];
    for reps in [1, 7] {
        // 3 queries (few-query kernel) or 21 (GEMM).
        let queries = ndarray::concatenate(Axis(0), &vec![base.view(); reps]).unwrap();
        let brute = Brute::new(Metric::L2, queries.view(), database.view());
        let want = brute.top_all(8);
        assert_eq!(want[0].iter().map(|p| p.0).collect::<Vec<_>>(), want_row0);
        for hits in [
            top_k(&queries, &database, 8, Metric::L2).unwrap(),
            FlatIndex::new(database.clone(), Metric::L2)
                .search(&queries, 8)
                .unwrap(),
        ] {
            assert_topk_exact(&hits, &want, 8, &format!("{} queries", queries.nrows()));
            assert_eq!(hits.scores[[0, 4]], inf, "the inf row is at distance inf");
            assert!(hits.scores[[0, 6]].is_nan() && hits.scores[[0, 7]].is_nan(), "NaN last");
            // Query 1: every finite row is at distance inf, row 2 at NaN.
            assert!(hits.scores.row(1).iter().take(5).all(|&s| s == inf));
            assert!(hits.indices.row(1).iter().skip(5).any(|&i| i == 2));
        }
    }
    // Many rows, NaN and infinities scattered: exact against the brute force, both kernels.
    let mut rng = Rng(802);
    let (n, d) = (3000, 16);
    let mut database = ints::<f32>(&mut rng, (n, d), 3);
    for _ in 0..100 {
        database[[rng.below(n), rng.below(d)]] = nan;
    }
    for _ in 0..50 {
        database[[rng.below(n), rng.below(d)]] = if rng.below(2) == 0 { inf } else { -inf };
    }
    for q in [2, 20] {
        let mut queries = ints::<f32>(&mut rng, (q, d), 3);
        queries[[q - 1, 0]] = nan; // every distance NaN: ranked by index
        let brute = Brute::new(Metric::L2, queries.view(), database.view());
        let hits = top_k(&queries, &database, n, Metric::L2).unwrap();
        assert_topk_exact(
            &hits,
            &brute.top_all(n),
            n,
            &format!("{q} queries, scattered non-finite"),
        );
        assert_eq!(hits.indices.row(q - 1).to_vec(), (0..n).collect::<Vec<_>>());
        let hits = top_k(&queries, &database, 30, Metric::L2).unwrap();
        assert_topk_exact(&hits, &brute.top_all(30), 30, &format!("{q} queries, k = 30"));
    }
}

// ---------------------------------------------------------------------------
// 9. 1-D queries

#[test]
fn a_1d_query_equals_the_same_query_as_one_row() {
    let mut rng = Rng(901);
    let (n, d) = (2000, 16);
    let database = ints::<f32>(&mut rng, (n, d), 3);
    let queries = ints::<f32>(&mut rng, (3, d), 3);
    // A strided 1-D view: every other element of a longer array.
    let mut stored = Array1::<f32>::from_elem(2 * d, f32::NAN);
    stored.slice_mut(s![..;2]).assign(&queries.row(2));
    for metric in METRICS {
        let index = FlatIndex::with_ids(database.clone(), (0..n).map(|i| 4 * i).collect(), metric).unwrap();
        let brute = Brute::new(metric, queries.view(), database.view());
        let radius = match metric {
            Metric::InnerProduct => 12.0,
            Metric::Cosine => 0.6,
            _ => 60.0,
        };
        for i in 0..3 {
            let one = queries.row(i).to_owned();
            let strided = stored.slice(s![..;2]);
            let batch = one.clone().insert_axis(Axis(0));
            let what = format!("{metric:?} query {i}");
            let t1 = top_k(&one, &database, 9, metric).unwrap();
            assert_same_topk(&t1, &top_k(&batch, &database, 9, metric).unwrap(), &what);
            let want = vec![brute.top(i, 9, &|_| true)];
            match metric {
                Metric::Cosine => assert_topk_close(&t1, &brute_one(&brute, i), &want, 9, &|_| 1e-6, &what),
                _ => assert_topk_exact(&t1, &want, 9, &what),
            }
            if i == 2 {
                assert_same_topk(&top_k(&strided, &database, 9, metric).unwrap(), &t1, "strided 1-D");
            }
            assert_same_topk(
                &index.search(&one, 9).unwrap(),
                &index.search(&batch, 9).unwrap(),
                &what,
            );
            let f = |id: usize| id.is_multiple_of(3);
            assert_same_topk(
                &index.search_filtered(&one, 9, f).unwrap(),
                &index.search_filtered(&batch, 9, f).unwrap(),
                &what,
            );
            let r1 = range_search(&one, &database, radius, metric).unwrap();
            assert_eq!(
                r1,
                range_search(&batch, &database, radius, metric).unwrap(),
                "{what}: range"
            );
            assert_eq!(r1.num_queries(), 1);
            assert!(!r1.is_empty(), "{what}: some hits");
            if metric != Metric::Cosine {
                assert_range_exact(&r1, &[brute.range(i, radius as f64, &|_| true)], &what);
            }
            assert_eq!(
                index.range_search(&one, radius).unwrap(),
                index.range_search(&batch, radius).unwrap(),
                "{what}: index range"
            );
            assert_eq!(
                index.range_search_filtered(&one, radius, f).unwrap(),
                index.range_search_filtered(&batch, radius, f).unwrap(),
                "{what}: filtered range"
            );
        }
    }
}

/// The reference restricted to query `i` (as query 0).
fn brute_one(brute: &Brute, i: usize) -> Brute {
    Brute {
        metric: brute.metric,
        scores: vec![brute.scores[i].clone()],
        labels: brute.labels.clone(),
        row_of: brute.row_of.clone(),
    }
}
