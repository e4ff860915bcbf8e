//! `ndarray_inner::search` against independent references: a brute-force search
//! written plainly here (the full score matrix by loops in f64, sorted by score
//! descending, NaN last, then index ascending), and answers computed by NumPy.
//!
//! Most random cases use small integer values, for which every score is exact in
//! f32 and f64 alike, so indices and scores must match the reference exactly,
//! ties included; cosine cases compare scores within a tolerance.

use ndarray::{array, s, Array2, ArrayView2};
use ndarray_inner::search::{cosine_similarity, top_k, try_cosine_similarity, FlatIndex, Metric, SearchScalar, TopK};
use ndarray_inner::InnerError;
use ndarray_inner_test_kit::{panic_message, with_threads, Rng};
use num_traits::Float;

// ---------------------------------------------------------------------------
// Seeded random data

/// A matrix of integers in `-r..=r`, as floats.
fn ints<A: Float>(rng: &mut Rng, shape: (usize, usize), r: usize) -> Array2<A> {
    Array2::from_shape_simple_fn(shape, || A::from(rng.below(2 * r + 1) as i64 - r as i64).unwrap())
}

/// A matrix uniform in `[-1, 1)`.
fn floats<A: Float>(rng: &mut Rng, shape: (usize, usize)) -> Array2<A> {
    Array2::from_shape_simple_fn(shape, || A::from(rng.unit()).unwrap())
}

// ---------------------------------------------------------------------------
// The brute-force reference

/// The full `(Q, N)` score matrix in f64, by plain loops.
fn score_matrix<A: Float>(q: ArrayView2<'_, A>, db: ArrayView2<'_, A>, cosine: bool) -> Vec<Vec<f64>> {
    let rows = |m: ArrayView2<'_, A>| -> Vec<Vec<f64>> {
        m.rows()
            .into_iter()
            .map(|r| r.iter().map(|x| x.to_f64().unwrap()).collect())
            .collect()
    };
    let (q, db) = (rows(q), rows(db));
    let norm = |v: &Vec<f64>| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let db_norms: Vec<f64> = db.iter().map(norm).collect();
    let mut out = Vec::new();
    for qi in &q {
        let nq = norm(qi);
        let mut row = Vec::new();
        for (xj, &nx) in db.iter().zip(&db_norms) {
            let mut dot = 0.0;
            for (a, b) in qi.iter().zip(xj) {
                dot += a * b;
            }
            if cosine {
                // The crate's documented convention: 0 with a zero vector.
                dot = if nq == 0.0 || nx == 0.0 {
                    if dot.is_nan() {
                        dot
                    } else {
                        0.0
                    }
                } else {
                    dot / (nq * nx)
                };
            }
            row.push(dot);
        }
        out.push(row);
    }
    out
}

/// Every row's `(index, score)` in rank order: score descending, NaN last, then index.
fn ranked(scores: &[Vec<f64>]) -> Vec<Vec<(usize, f64)>> {
    scores
        .iter()
        .map(|row| {
            let mut pairs: Vec<(usize, f64)> = row.iter().copied().enumerate().collect();
            pairs.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
                (false, false) => b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)),
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (true, true) => a.0.cmp(&b.0),
            });
            pairs
        })
        .collect()
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The brute-force answer for one set of queries and database: the f64 score
/// matrix and every row ranked.
struct Reference {
    matrix: Vec<Vec<f64>>,
    ranked: Vec<Vec<(usize, f64)>>,
    n: usize,
}

impl Reference {
    fn new<A: Float>(q: ArrayView2<'_, A>, db: ArrayView2<'_, A>, cosine: bool) -> Self {
        let matrix = score_matrix(q, db, cosine);
        let ranked = ranked(&matrix);
        Reference {
            matrix,
            ranked,
            n: db.nrows(),
        }
    }

    /// `hits` is exactly this top-k: same shape, indices and scores.
    #[track_caller]
    fn assert_exact<A: Float + std::fmt::Debug>(&self, hits: &TopK<A>, k: usize) {
        let kk = k.min(self.n);
        assert_eq!(hits.indices.dim(), (self.ranked.len(), kk), "shape");
        assert_eq!(hits.scores.dim(), (self.ranked.len(), kk), "shape");
        for (i, want) in self.ranked.iter().enumerate() {
            for (r, &(j, s)) in want.iter().take(kk).enumerate() {
                let got = (hits.indices[[i, r]], hits.scores[[i, r]].to_f64().unwrap());
                assert!(
                    got.0 == j && same(got.1, s),
                    "query {i}, rank {r}: got {got:?}, want {:?}\nrow {:?}",
                    (j, s),
                    hits.indices.row(i)
                );
            }
        }
    }

    /// `hits` is this top-k up to `tol`: every rank's score is the reference's
    /// score at that rank, and the row it names really has that score.
    #[track_caller]
    fn assert_close<A: Float + std::fmt::Debug>(&self, hits: &TopK<A>, k: usize, tol: f64) {
        let kk = k.min(self.n);
        assert_eq!(hits.indices.dim(), (self.ranked.len(), kk));
        for (i, want) in self.ranked.iter().enumerate() {
            let mut seen = std::collections::HashSet::new();
            for (r, &(_, s)) in want.iter().take(kk).enumerate() {
                let j = hits.indices[[i, r]];
                assert!(seen.insert(j), "query {i}: index {j} twice");
                let got = hits.scores[[i, r]].to_f64().unwrap();
                let true_score = self.matrix[i][j];
                let close = |a: f64, b: f64| same(a, b) || (a - b).abs() <= tol;
                assert!(close(got, s), "query {i}, rank {r}: score {got}, reference {s}");
                assert!(
                    close(true_score, s),
                    "query {i}, rank {r}: row {j} scores {true_score}, reference {s}"
                );
            }
            // The row's own order: scores non-increasing (NaN last), equal scores by index.
            for r in 1..kk {
                let (a, b) = (hits.scores[[i, r - 1]], hits.scores[[i, r]]);
                let ordered = match (a.is_nan(), b.is_nan()) {
                    (_, true) if a.is_nan() => hits.indices[[i, r - 1]] < hits.indices[[i, r]],
                    (_, true) => true,
                    (true, false) => false,
                    _ => a > b || (a == b && hits.indices[[i, r - 1]] < hits.indices[[i, r]]),
                };
                assert!(ordered, "query {i}: ranks {} and {r} out of order", r - 1);
            }
        }
    }
}

/// [`Reference::assert_exact`] for a one-off check.
#[track_caller]
fn assert_exact<A: Float + std::fmt::Debug>(hits: &TopK<A>, q: ArrayView2<'_, A>, db: ArrayView2<'_, A>, k: usize) {
    Reference::new(q, db, false).assert_exact(hits, k);
}

// ---------------------------------------------------------------------------
// Answers computed by NumPy (scripts at the end of each test's comment)

/// Integers with duplicate rows (1, 4, 10), a NaN row (7), a zero row (9) and a
/// zero query (3).
fn numpy_case() -> (Array2<f64>, Array2<f64>) {
    let nan = f64::NAN;
    let db = array![
        [1.0, 2.0, -2.0],
        [2.0, 0.0, 0.0],
        [1.0, -1.0, 2.0],
        [-2.0, -1.0, -1.0],
        [2.0, 0.0, 0.0],
        [-2.0, -2.0, -2.0],
        [-2.0, 2.0, -2.0],
        [1.0, nan, -1.0],
        [-1.0, 0.0, -1.0],
        [0.0, 0.0, 0.0],
        [2.0, 0.0, 0.0],
        [-1.0, 1.0, 0.0]
    ];
    let q = array![[1.0, 1.0, 1.0], [-2.0, 2.0, 0.0], [2.0, -1.0, -1.0], [0.0, 0.0, 0.0]];
    (db, q)
}

/// NumPy: `S = np.inner(q, db)`; per row `np.lexsort((np.arange(N), -S[i]))[:k]`
/// (NaN sorts last, ties by index).
#[test]
fn numpy_inner_product_answers_with_ties_nan_and_k_above_n() {
    let nan = f64::NAN;
    let (db, q) = numpy_case();
    let hits = top_k(&q, &db, 5, Metric::InnerProduct).unwrap();
    assert_eq!(
        hits.indices,
        array![[1, 2, 4, 10, 0], [6, 11, 0, 3, 8], [1, 4, 10, 0, 2], [0, 1, 2, 3, 4]]
    );
    assert_eq!(
        hits.scores,
        array![
            [2.0, 2.0, 2.0, 2.0, 1.0],
            [8.0, 4.0, 2.0, 2.0, 2.0],
            [4.0, 4.0, 4.0, 2.0, 1.0],
            [0.0, 0.0, 0.0, 0.0, 0.0]
        ]
    );
    // k = 20 > N = 12: all rows, ranked; the NaN row last.
    let all = top_k(&q, &db, 20, Metric::InnerProduct).unwrap();
    assert_eq!(
        all.indices,
        array![
            [1, 2, 4, 10, 0, 9, 11, 6, 8, 3, 5, 7],
            [6, 11, 0, 3, 8, 5, 9, 1, 2, 4, 10, 7],
            [1, 4, 10, 0, 2, 5, 9, 8, 3, 11, 6, 7],
            [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 7]
        ]
    );
    let want = array![
        [2.0, 2.0, 2.0, 2.0, 1.0, 0.0, 0.0, -2.0, -2.0, -4.0, -6.0, nan],
        [8.0, 4.0, 2.0, 2.0, 2.0, 0.0, 0.0, -4.0, -4.0, -4.0, -4.0, nan],
        [4.0, 4.0, 4.0, 2.0, 1.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, nan],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan]
    ];
    assert!(all.scores.iter().zip(&want).all(|(&a, &b)| same(a, b)));
    // f32 gives the same answer.
    let hits32 = top_k(&q.mapv(|x| x as f32), &db.mapv(|x| x as f32), 5, Metric::InnerProduct).unwrap();
    assert_eq!(hits32.indices, hits.indices);
}

/// NumPy: `C = S / np.outer(norm(q), norm(db))`, set to 0 where a norm is 0
/// (the crate's convention), NaN where the row has a NaN; ranked as above.
#[test]
fn numpy_cosine_answers() {
    let (db, q) = numpy_case();
    let hits = top_k(&q, &db, 5, Metric::Cosine).unwrap();
    assert_eq!(
        hits.indices,
        array![[1, 4, 10, 2, 0], [11, 6, 8, 3, 0], [1, 4, 10, 0, 2], [0, 1, 2, 3, 4]]
    );
    let want = array![
        [
            0.5773502691896258,
            0.5773502691896258,
            0.5773502691896258,
            0.47140452079103173,
            0.19245008972987526
        ],
        [
            0.9999999999999998,
            0.8164965809277259,
            0.4999999999999999,
            0.2886751345948129,
            0.2357022603955158
        ],
        [
            0.8164965809277261,
            0.8164965809277261,
            0.8164965809277261,
            0.2721655269759087,
            0.16666666666666669
        ],
        [0.0, 0.0, 0.0, 0.0, 0.0]
    ];
    for (&a, &b) in hits.scores.iter().zip(&want) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    let c = cosine_similarity(&q, &db);
    assert_eq!(c.dim(), (4, 12));
    assert!(c.column(7).iter().all(|x| x.is_nan()));
    assert_eq!(c.row(3).iter().filter(|x| **x == 0.0).count(), 11);
    assert!(c.column(9).iter().all(|&x| x == 0.0));
}

/// The NumPy answers again, from shards merged.
#[test]
fn numpy_answers_from_merged_shards() {
    let (db, q) = numpy_case();
    let shards = [0..5, 5..9, 9..12];
    let parts: Vec<(TopK<f64>, usize)> = shards
        .iter()
        .rev()
        .map(|r| {
            (
                top_k(&q, &db.slice(s![r.clone(), ..]), 5, Metric::InnerProduct).unwrap(),
                r.start,
            )
        })
        .collect();
    let merged = TopK::merge(&parts, 5).unwrap();
    assert_eq!(
        merged.indices,
        array![[1, 2, 4, 10, 0], [6, 11, 0, 3, 8], [1, 4, 10, 0, 2], [0, 1, 2, 3, 4]]
    );
    // k above every shard's size: all 12, the NaN row last.
    let parts: Vec<(TopK<f64>, usize)> = shards
        .iter()
        .map(|r| {
            (
                top_k(&q, &db.slice(s![r.clone(), ..]), 20, Metric::InnerProduct).unwrap(),
                r.start,
            )
        })
        .collect();
    let merged = TopK::merge(&parts, 20).unwrap();
    assert_eq!(
        merged.indices.row(3).to_vec(),
        vec![0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 7]
    );
}

// ---------------------------------------------------------------------------
// Bad input

#[test]
fn dimension_mismatch_is_numpys_not_aligned_error() {
    let q = Array2::<f32>::zeros((5, 64));
    let db = Array2::<f32>::zeros((100, 32));
    let want = "shapes (5,64) and (100,32) not aligned: 64 (dim 1) != 32 (dim 1)";
    for metric in [Metric::InnerProduct, Metric::Cosine] {
        let err = top_k(&q, &db, 3, metric).unwrap_err();
        assert!(matches!(err, InnerError::NotAligned { .. }));
        assert_eq!(err.to_string(), want);
    }
    let index = FlatIndex::new(db.clone(), Metric::Cosine);
    assert_eq!(index.search(&q, 3).unwrap_err().to_string(), want);
    assert_eq!(try_cosine_similarity(&q, &db).unwrap_err().to_string(), want);
    assert_eq!(panic_message(|| drop(cosine_similarity(&q, &db))), want);
    // Empty operands are checked too.
    let err = top_k(
        &Array2::<f64>::zeros((0, 3)),
        &Array2::zeros((0, 4)),
        1,
        Metric::InnerProduct,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shapes (0,3) and (0,4) not aligned: 3 (dim 1) != 4 (dim 1)"
    );
}

#[test]
fn k_zero_is_an_error() {
    let q = Array2::<f64>::ones((2, 3));
    for db in [Array2::<f64>::ones((4, 3)), Array2::zeros((0, 3))] {
        for metric in [Metric::InnerProduct, Metric::Cosine] {
            assert_eq!(top_k(&q, &db, 0, metric).unwrap_err(), InnerError::InvalidK { k: 0 });
        }
        assert_eq!(
            FlatIndex::new(db, Metric::InnerProduct).search(&q, 0).unwrap_err(),
            InnerError::InvalidK { k: 0 }
        );
    }
    assert_eq!(TopK::<f32>::merge(&[], 0).unwrap_err(), InnerError::InvalidK { k: 0 });
    assert_eq!(
        InnerError::InvalidK { k: 0 }.to_string(),
        "k must be at least 1, got k = 0"
    );
}

#[test]
fn empty_database_queries_and_rows() {
    for metric in [Metric::InnerProduct, Metric::Cosine] {
        // N = 0: every query gets no hits.
        let hits = top_k(&Array2::<f32>::ones((3, 4)), &Array2::zeros((0, 4)), 5, metric).unwrap();
        assert_eq!((hits.indices.dim(), hits.scores.dim()), ((3, 0), (3, 0)));
        // Q = 0: no rows, min(k, N) columns.
        let hits = top_k(&Array2::<f32>::ones((0, 4)), &Array2::ones((7, 4)), 5, metric).unwrap();
        assert_eq!((hits.indices.dim(), hits.scores.dim()), ((0, 5), (0, 5)));
        let hits = top_k(&Array2::<f32>::ones((0, 4)), &Array2::ones((2, 4)), 5, metric).unwrap();
        assert_eq!(hits.indices.dim(), (0, 2));
        // d = 0: every score is 0 (the empty sum), so the lowest indices win.
        let hits = top_k(&Array2::<f64>::zeros((2, 0)), &Array2::zeros((6, 0)), 4, metric).unwrap();
        assert_eq!(hits.indices, array![[0, 1, 2, 3], [0, 1, 2, 3]]);
        assert_eq!(hits.scores, Array2::zeros((2, 4)));
    }
    let index = FlatIndex::new(Array2::<f64>::zeros((0, 3)), Metric::Cosine);
    assert_eq!(index.search(&Array2::ones((2, 3)), 4).unwrap().indices.dim(), (2, 0));
    let merged = TopK::<f64>::merge(&[], 3).unwrap();
    assert_eq!(merged.indices.dim(), (0, 0));
}

#[test]
fn huge_results_are_an_error_not_an_abort() {
    // 2^60 queries (a broadcast view of one row) times k = 10: more bytes of
    // results than fit in a usize, so no allocation is even tried.
    let one = Array2::<f32>::ones((1, 2));
    let queries = one.broadcast((1usize << 60, 2)).unwrap();
    let database = Array2::<f32>::ones((10, 2));
    let err = top_k(&queries, &database, 10, Metric::InnerProduct).unwrap_err();
    assert!(matches!(err, InnerError::TooLarge { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "shapes (1152921504606846976,2) and (10,2) give an output of shape (1152921504606846976,10) that is too large \
         to allocate"
    );
    // k far above N is clipped, not allocated.
    let hits = top_k(&one, &database, usize::MAX, Metric::InnerProduct).unwrap();
    assert_eq!(hits.indices.dim(), (1, 10));
}

#[test]
fn merge_rejects_parts_for_different_queries() {
    let db = Array2::<f64>::ones((4, 2));
    let a = top_k(&Array2::ones((3, 2)), &db, 2, Metric::InnerProduct).unwrap();
    let b = top_k(&Array2::ones((5, 2)), &db, 2, Metric::InnerProduct).unwrap();
    let err = TopK::merge(&[(a, 0), (b, 4)], 2).unwrap_err();
    assert!(matches!(err, InnerError::NotAligned { .. }));
    assert_eq!(
        err.to_string(),
        "shapes (3,2) and (5,2) not aligned: 3 (dim 0) != 5 (dim 0)"
    );
}

#[test]
fn merge_rejects_edited_parts_without_panicking() {
    let db = Array2::<f64>::ones((4, 2));
    let good = top_k(&Array2::ones((3, 2)), &db, 2, Metric::InnerProduct).unwrap();
    let mut short = good.clone();
    short.scores = Array2::zeros((3, 1));
    let err = TopK::merge(&[(good.clone(), 0), (short, 4)], 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "TopK::merge: part 1 has indices of shape (3,2) but scores of shape (3,1)"
    );
    // Each query's hits are rows 0 and 1 (all scores tie): offset usize::MAX overflows.
    let err = TopK::merge(&[(good.clone(), 0), (good.clone(), usize::MAX)], 2).unwrap_err();
    assert_eq!(
        err,
        InnerError::PartOffset {
            part: 1,
            offset: usize::MAX,
            index: 1
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "TopK::merge: part 1 has offset {}, and offset + index 1 overflows usize",
            usize::MAX
        )
    );
    // usize::MAX itself marks padding: an offset that reaches it is refused too.
    assert!(matches!(
        TopK::merge(&[(good.clone(), usize::MAX - 1)], 2),
        Err(InnerError::PartOffset { part: 0, .. })
    ));
    // The largest offset that still fits is fine.
    let merged = TopK::merge(&[(good, usize::MAX - 2)], 2).unwrap();
    assert_eq!(merged.indices.row(0).to_vec(), vec![usize::MAX - 2, usize::MAX - 1]);
}

#[test]
fn flat_index_add_rejects_wrong_rows_and_stays_unchanged() {
    let mut index = FlatIndex::new(Array2::<f32>::ones((3, 4)), Metric::Cosine);
    let err = index.add(&Array2::ones((2, 5))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shapes (3,4) and (2,5) not aligned: 4 (dim 1) != 5 (dim 1)"
    );
    assert_eq!(index.len(), 3);
    index.add(&Array2::zeros((0, 4))).unwrap();
    assert_eq!(index.len(), 3);
}

// ---------------------------------------------------------------------------
// Random cases against the brute-force reference

/// (Q, N, d, k): single rows and columns, k above N, across the block sizes
/// (1024 queries; 1024 database rows of f32, 512 of f64), and last the sizes that
/// take the parallel paths (at least 2^24 multiply-adds): many queries (split by
/// queries), few queries (split by database parts), k above N, one query.
const SHAPES: &[(usize, usize, usize, usize)] = &[
    (1, 1, 1, 1),
    (1, 7, 3, 10),
    (3, 50, 8, 5),
    (17, 300, 16, 1),
    (5, 1100, 5, 7),
    (1100, 30, 3, 4),
    (70, 600, 33, 50),
    (260, 1030, 64, 10),
    (20, 6600, 128, 4),
    (40, 3300, 128, 3400),
    (1, 131_100, 128, 5),
];

/// The shapes small enough to search many times over (sharding, adding rows).
const SMALL_SHAPES: &[(usize, usize, usize, usize)] = &[
    (1, 1, 1, 1),
    (1, 7, 3, 10),
    (3, 50, 8, 5),
    (17, 300, 16, 1),
    (5, 1100, 5, 7),
    (70, 600, 33, 50),
];

fn check_random_exact<A: SearchScalar + std::fmt::Debug>(seed: u64) {
    let mut rng = Rng(seed);
    for &(q, n, d, k) in SHAPES {
        // Values in -2..=2: many exact ties between distinct rows.
        let queries = ints::<A>(&mut rng, (q, d), 2);
        let mut database = ints::<A>(&mut rng, (n, d), 2);
        // Some duplicated rows.
        for _ in 0..n / 10 {
            let (a, b) = (rng.below(n), rng.below(n));
            let row = database.row(a).to_owned();
            database.row_mut(b).assign(&row);
        }
        let reference = Reference::new(queries.view(), database.view(), false);
        for threads in [1, 3] {
            let hits = with_threads(threads, || top_k(&queries, &database, k, Metric::InnerProduct).unwrap());
            reference.assert_exact(&hits, k);
        }
    }
}

#[test]
fn random_inner_product_exact_f32() {
    check_random_exact::<f32>(1);
}

#[test]
fn random_inner_product_exact_f64() {
    check_random_exact::<f64>(2);
}

fn check_random_cosine<A: SearchScalar + std::fmt::Debug>(seed: u64, tol: f64) {
    let mut rng = Rng(seed);
    for &(q, n, d, k) in SHAPES {
        let mut queries = floats::<A>(&mut rng, (q, d));
        let mut database = floats::<A>(&mut rng, (n, d));
        // Zero vectors on both sides.
        database.row_mut(rng.below(n)).fill(A::zero());
        queries.row_mut(rng.below(q)).fill(A::zero());
        let reference = Reference::new(queries.view(), database.view(), true);
        for threads in [1, 2] {
            let hits = with_threads(threads, || top_k(&queries, &database, k, Metric::Cosine).unwrap());
            reference.assert_close(&hits, k, tol);
        }
    }
}

#[test]
fn random_cosine_f32() {
    check_random_cosine::<f32>(3, 1e-5);
}

#[test]
fn random_cosine_f64() {
    check_random_cosine::<f64>(4, 1e-12);
}

#[test]
fn random_inner_product_of_floats_within_rounding() {
    let mut rng = Rng(10);
    for &(q, n, d, k) in SHAPES {
        let queries = floats::<f32>(&mut rng, (q, d));
        let database = floats::<f32>(&mut rng, (n, d));
        let hits = top_k(&queries, &database, k, Metric::InnerProduct).unwrap();
        Reference::new(queries.view(), database.view(), false).assert_close(&hits, k, 1e-5 * d as f64);
    }
}

#[test]
fn nan_never_ranks_above_a_number() {
    let mut rng = Rng(5);
    for &(q, n, d, k) in SHAPES {
        let mut queries = ints::<f32>(&mut rng, (q, d), 2);
        let mut database = ints::<f32>(&mut rng, (n, d), 2);
        for _ in 0..(n / 5).max(1) {
            let (r, c) = (rng.below(n), rng.below(d));
            database[[r, c]] = f32::NAN;
        }
        // Infinities: +-inf or NaN scores, exactly as the plain loops give them.
        if n > 3 {
            database[[rng.below(n), rng.below(d)]] = f32::INFINITY;
            database[[rng.below(n), rng.below(d)]] = f32::NEG_INFINITY;
        }
        queries[[rng.below(q), rng.below(d)]] = f32::NAN;
        let reference = Reference::new(queries.view(), database.view(), false);
        for threads in [1, 3] {
            let hits = with_threads(threads, || top_k(&queries, &database, k, Metric::InnerProduct).unwrap());
            reference.assert_exact(&hits, k);
        }
    }
    // A database whose first rows are NaN: numbers arriving later still displace them.
    let mut database = Array2::<f64>::ones((5000, 4));
    database.slice_mut(s![..3000, ..]).fill(f64::NAN);
    let hits = top_k(&Array2::ones((2, 4)), &database, 3, Metric::InnerProduct).unwrap();
    assert_eq!(hits.indices, array![[3000, 3001, 3002], [3000, 3001, 3002]]);
}

#[test]
fn views_of_every_layout() {
    let mut rng = Rng(6);
    for &(q, n, d, k) in &[(5usize, 40usize, 7usize, 6usize), (40, 1100, 12, 9)] {
        let queries = ints::<f64>(&mut rng, (2 * q, d), 3);
        let database = ints::<f64>(&mut rng, (2 * n, d), 3);
        let q_t = queries.t().to_owned(); // (d, 2q) C order: its transpose is F order
        let db_t = database.t().to_owned();
        let q_views = [
            queries.slice(s![..q, ..]),
            q_t.t().slice_move(s![..q, ..]),
            queries.slice(s![..;2, ..]),
            queries.slice(s![..;-2, ..;-1]),
        ];
        let db_views = [
            database.slice(s![..n, ..]),
            db_t.t().slice_move(s![n.., ..]),
            database.slice(s![1..;2, ..]),
            database.slice(s![..;-1, ..]),
            database.slice(s![..n, ..;-1]),
        ];
        for qv in &q_views {
            for dv in &db_views {
                let hits = top_k(qv, dv, k, Metric::InnerProduct).unwrap();
                assert_exact(&hits, qv.view(), dv.view(), k);
                let hits = top_k(qv, dv, k, Metric::Cosine).unwrap();
                Reference::new(qv.view(), dv.view(), true).assert_close(&hits, k, 1e-12);
            }
        }
    }
}

#[test]
fn sharded_and_merged_equals_unsharded() {
    let mut rng = Rng(7);
    for &(q, n, d, k) in SMALL_SHAPES {
        let queries = ints::<f32>(&mut rng, (q, d), 2);
        let mut database = ints::<f32>(&mut rng, (n, d), 2);
        if n > 2 {
            database[[rng.below(n), 0]] = f32::NAN;
        }
        for metric in [Metric::InnerProduct, Metric::Cosine] {
            let whole = top_k(&queries, &database, k, metric).unwrap();
            if metric == Metric::InnerProduct {
                assert_exact(&whole, queries.view(), database.view(), k);
            }
            for _ in 0..4 {
                // Random cut points (empty shards allowed), parts in a random order.
                let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(n + 1)).collect();
                cuts.extend([0, n]);
                cuts.sort_unstable();
                let mut parts: Vec<(TopK<f32>, usize)> = cuts
                    .windows(2)
                    .map(|w| {
                        let shard = database.slice(s![w[0]..w[1], ..]);
                        (top_k(&queries, &shard, k, metric).unwrap(), w[0])
                    })
                    .collect();
                for i in (1..parts.len()).rev() {
                    parts.swap(i, rng.below(i + 1));
                }
                let merged = TopK::merge(&parts, k).unwrap();
                assert_eq!(merged.indices, whole.indices, "cuts {cuts:?}");
                assert!(merged
                    .scores
                    .iter()
                    .zip(&whole.scores)
                    .all(|(&a, &b)| a == b || (a.is_nan() && b.is_nan())));
                // Merging to a smaller k takes the best of the parts.
                let smaller = TopK::merge(&parts, k.div_ceil(2)).unwrap();
                assert_eq!(smaller.indices, whole.indices.slice(s![.., ..k.div_ceil(2).min(n)]));
            }
        }
    }
}

#[test]
fn flat_index_add_then_search_equals_one_shot() {
    let mut rng = Rng(8);
    for &(q, n, d, k) in SMALL_SHAPES {
        let queries = ints::<f64>(&mut rng, (q, d), 2);
        let mut database = floats::<f64>(&mut rng, (n, d));
        database.row_mut(rng.below(n)).fill(0.0);
        for metric in [Metric::InnerProduct, Metric::Cosine] {
            let first = rng.below(n + 1);
            let mut index = FlatIndex::new(database.slice(s![..first, ..]).to_owned(), metric);
            let mut at = first;
            while at < n {
                let end = (at + 1 + rng.below(n - at)).min(n);
                let rows = database.slice(s![at..end, ..]);
                if rng.below(2) == 0 {
                    index.add(&rows).unwrap();
                } else {
                    let f_order = rows.t().to_owned();
                    index.add(&f_order.t()).unwrap();
                }
                at = end;
            }
            assert_eq!(index.len(), n);
            assert_eq!(index.database(), database);
            let hits = index.search(&queries, k).unwrap();
            Reference::new(queries.view(), database.view(), metric == Metric::Cosine).assert_close(&hits, k, 1e-12);
            assert_eq!(hits, top_k(&queries, &database, k, metric).unwrap());
        }
    }
    // An index made from a non-C-order array.
    let database = ints::<f32>(&mut rng, (50, 6), 3);
    let f_order = database.t().to_owned().reversed_axes();
    let index = FlatIndex::new(f_order, Metric::InnerProduct);
    let queries = ints::<f32>(&mut rng, (4, 6), 3);
    assert_exact(&index.search(&queries, 9).unwrap(), queries.view(), database.view(), 9);
    // And from a sliced array whose data does not start at the buffer's start.
    let mut big = ints::<f32>(&mut rng, (60, 6), 3);
    big.slice_collapse(s![10.., ..]);
    let index = FlatIndex::new(big.clone(), Metric::InnerProduct);
    assert_eq!(index.database(), big);
}

#[test]
fn cosine_similarity_matches_plain_loops_and_zero_vectors_give_zero() {
    let mut rng = Rng(9);
    for &(m, n, d) in &[
        (1usize, 1usize, 1usize),
        (4, 9, 3),
        (70, 40, 130),
        (0, 5, 3),
        (5, 0, 3),
        (3, 4, 0),
    ] {
        let mut a = floats::<f64>(&mut rng, (m, d));
        let b = floats::<f64>(&mut rng, (n, d));
        if m > 1 {
            a.row_mut(1).fill(0.0);
        }
        let c = cosine_similarity(&a, &b);
        let want = score_matrix(a.view(), b.view(), true);
        assert_eq!(c.dim(), (m, n));
        for (i, row) in want.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                assert!((c[[i, j]] - w).abs() <= 1e-14, "({i}, {j}): {} vs {w}", c[[i, j]]);
            }
        }
        if m > 1 {
            assert!(c.row(1).iter().all(|&x| x == 0.0));
        }
        // f32, views of other layouts.
        let a32 = a.mapv(|x| x as f32);
        let b32 = b.t().to_owned().mapv(|x| x as f32);
        let c32 = cosine_similarity(&a32, &b32.t());
        assert!(c32.iter().zip(&c).all(|(&x, &y)| (x as f64 - y).abs() <= 1e-5));
    }
    // Cosine is scale-invariant, as the top_k ranking shows.
    let db = array![[1.0, 0.0], [3.0, 3.0], [0.0, -2.0]];
    let scaled: Array2<f64> = &db * &array![[10.0], [0.1], [4.0]];
    let q = array![[1.0, 0.9]];
    assert_eq!(
        top_k(&q, &db, 3, Metric::Cosine).unwrap().indices,
        top_k(&q, &scaled, 3, Metric::Cosine).unwrap().indices
    );
}

#[test]
fn accessors() {
    let hits = top_k(
        &Array2::<f32>::ones((4, 2)),
        &Array2::ones((7, 2)),
        3,
        Metric::InnerProduct,
    )
    .unwrap();
    assert_eq!((hits.num_queries(), hits.k()), (4, 3));
    let index = FlatIndex::new(Array2::<f32>::ones((7, 2)), Metric::InnerProduct);
    assert_eq!(
        (index.len(), index.dim(), index.metric(), index.is_empty()),
        (7, 2, Metric::InnerProduct, false)
    );
}

/// The random cases again in child processes of this test binary, with the GEMM
/// single-threaded (`MATMUL_NUM_THREADS=1`, and `OPENBLAS_NUM_THREADS=1` for a
/// `blas` build: the search splits the queries or the
/// database over the rayon threads) and threaded (`=2`: blocks one after the
/// other, each GEMM threaded, the scans split), so both parallel paths run
/// whatever the environment of this process.
#[test]
#[cfg(feature = "rayon")]
fn parallel_plans_with_and_without_gemm_threads() {
    let exe = std::env::current_exe().unwrap();
    for threads in ["1", "2"] {
        for test in [
            "random_inner_product_exact_f32",
            "random_cosine_f32",
            "nan_never_ranks_above_a_number",
        ] {
            let out = std::process::Command::new(&exe)
                .args(["--exact", test, "--test-threads", "1"])
                .env("MATMUL_NUM_THREADS", threads)
                .env("OPENBLAS_NUM_THREADS", threads) // the GEMM's threads with `--features blas`
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{test} with MATMUL_NUM_THREADS={threads}:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
