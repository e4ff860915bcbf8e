//! Proves the SQL functions `array_inner_product`, `array_cosine_similarity`
//! and `array_squared_distance` give, in every Arrow layout (FixedSizeList,
//! List, LargeList; Float32, Float16, Float64), in sliced batches and over
//! several partitions, the scores of a plain f64 loop over the same stored
//! values; NULL exactly where the vector is NULL or holds a NULL; that their
//! ORDER BY ... LIMIT agrees with `top_k`; and that bad input is an error
//! naming the function, the column and both lengths.

mod common;

use std::sync::Arc;

use common::*;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use ndarray::Array2;
use ndarray_inner::search::{top_k, Metric};

/// Rows with a NULL row and a NULL element among random ones.
fn rows_with_nulls(rng: &mut Rng, n: usize, d: usize, half: bool) -> Vec<Row> {
    let mut rows = dense(rng.matrix(n, d, half));
    rows[2] = None;
    if n > 5 {
        rows[5].as_mut().unwrap()[d / 2] = None;
    }
    rows
}

fn tolerance(layout: Layout) -> f64 {
    if layout.is_f64() {
        1e-12
    } else {
        1e-5
    }
}

#[tokio::test]
async fn every_layout_scores_as_a_plain_loop_with_nulls_where_they_belong() {
    let mut rng = Rng(1);
    for layout in LAYOUTS {
        for (n, d, partitions, batch_rows) in [(37, 8, 1, 64), (50, 13, 2, 7), (9, 1, 3, 2)] {
            let rows = rows_with_nulls(&mut rng, n, d, layout == Layout::Fixed16);
            let ctx = context_with(&rows, d, layout, partitions, batch_rows);
            let q: Vec<f64> = (0..d).map(|_| rng.value(true)).collect();
            for function in FUNCTIONS {
                let sql = format!(
                    "SELECT id, {function}(embedding, {}) AS s FROM t ORDER BY id",
                    literal(&q)
                );
                let got = collect(&ctx, &sql).await;
                let ids = ints(&got, "id");
                let scores = floats(&got, "s");
                assert_eq!(ids, (0..n as i64).collect::<Vec<_>>(), "{layout:?}");
                for (i, s) in scores.iter().enumerate() {
                    let want = reference(&rows[i], &q, function);
                    assert_close(
                        *s,
                        want,
                        tolerance(layout),
                        &format!("{function} {layout:?} n={n} d={d} row {i}"),
                    );
                }
                let ty = got[0].column_by_name("s").unwrap().data_type().clone();
                let want_ty = if layout.is_f64() { "Float64" } else { "Float32" };
                assert_eq!(ty.to_string(), want_ty, "{function} {layout:?}");
            }
        }
    }
}

#[tokio::test]
async fn sliced_batches_are_read_from_their_offset() {
    let mut rng = Rng(2);
    let d = 6;
    for layout in [Layout::Fixed32, Layout::List32, Layout::Fixed64] {
        let rows = rows_with_nulls(&mut rng, 30, d, false);
        let whole = batch(&rows, d, layout, 0);
        let sliced = whole.slice(4, 19);
        let ctx = SessionContext::new();
        ndarray_inner_datafusion::register(&ctx);
        let table = MemTable::try_new(sliced.schema(), vec![vec![sliced]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let q: Vec<f64> = (0..d).map(|_| rng.value(false)).collect();
        for function in FUNCTIONS {
            let got = collect(
                &ctx,
                &format!("SELECT id, {function}(embedding, {}) AS s FROM t", literal(&q)),
            )
            .await;
            let ids = ints(&got, "id");
            assert_eq!(ids, (4..23).collect::<Vec<_>>());
            for (id, s) in ids.iter().zip(floats(&got, "s")) {
                let want = reference(&rows[*id as usize], &q, function);
                assert_close(s, want, tolerance(layout), &format!("{function} {layout:?} row {id}"));
            }
        }
    }
}

#[tokio::test]
async fn queries_as_make_array_integers_and_columns() {
    let mut rng = Rng(3);
    let d = 4;
    let rows = rows_with_nulls(&mut rng, 12, d, false);
    let ctx = context_with(&rows, d, Layout::Fixed32, 1, 100);
    // make_array of integers: cast to the vectors' precision once.
    let got = collect(
        &ctx,
        "SELECT id, array_inner_product(embedding, make_array(1, 2, 3, 4)) AS s FROM t ORDER BY id",
    )
    .await;
    for (i, s) in floats(&got, "s").into_iter().enumerate() {
        assert_close(
            s,
            reference(&rows[i], &[1.0, 2.0, 3.0, 4.0], "array_inner_product"),
            1e-5,
            "make_array",
        );
    }
    // A column of queries: each row against its own; NULL where either side is.
    ctx.sql("CREATE TABLE pairs AS SELECT id, embedding AS a, embedding AS b FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    for function in FUNCTIONS {
        let got = collect(
            &ctx,
            &format!("SELECT id, {function}(a, b) AS s FROM pairs ORDER BY id"),
        )
        .await;
        for (i, s) in floats(&got, "s").into_iter().enumerate() {
            let q: Option<Vec<f64>> = rows[i].as_ref().and_then(|v| v.iter().copied().collect());
            let want = q.and_then(|q| reference(&rows[i], &q, function));
            assert_close(s, want, 1e-5, &format!("{function} self-pair row {i}"));
        }
    }
    // The vector as the literal and the query as the column.
    let got = collect(
        &ctx,
        "SELECT id, array_squared_distance([1.0, 0.0, 0.0, 0.0], embedding) AS s FROM t ORDER BY id",
    )
    .await;
    for (i, s) in floats(&got, "s").into_iter().enumerate() {
        assert_close(
            s,
            reference(&rows[i], &[1.0, 0.0, 0.0, 0.0], "array_squared_distance"),
            1e-5,
            "swapped",
        );
    }
    // A NULL query, or one holding a NULL, scores nothing.
    let got = collect(
        &ctx,
        "SELECT array_cosine_similarity(embedding, [1.0, NULL, 0.0, 0.0]) AS s FROM t",
    )
    .await;
    assert!(floats(&got, "s").iter().all(Option::is_none));
    // Two literals make one value.
    let got = collect(&ctx, "SELECT array_inner_product([1.0, 2.0], [3.0, 4.0]) AS s").await;
    assert_eq!(floats(&got, "s"), [Some(11.0)]);
}

#[tokio::test]
async fn order_by_limit_agrees_with_top_k() {
    let mut rng = Rng(4);
    let (n, d) = (2000, 16);
    let m = rng.matrix(n, d, false);
    let db = Array2::from_shape_fn((n, d), |(i, j)| m[i][j] as f32);
    let rows = dense(m);
    let ctx = context_with(&rows, d, Layout::Fixed32, 2, 300);
    let q: Vec<f64> = (0..d).map(|_| rng.value(false)).collect();
    let q32 = ndarray::Array1::from_iter(q.iter().map(|&x| x as f32));
    for (function, order, metric) in [
        ("array_inner_product", "DESC", Metric::InnerProduct),
        ("array_cosine_similarity", "DESC", Metric::Cosine),
        ("array_squared_distance", "ASC", Metric::L2),
    ] {
        let sql = format!(
            "SELECT id, {function}(embedding, {}) AS s FROM t ORDER BY s {order} LIMIT 10",
            literal(&q)
        );
        let got = collect(&ctx, &sql).await;
        let want = top_k(&q32, &db, 10, metric).unwrap();
        let want_ids: Vec<i64> = want.indices.iter().map(|&i| i as i64).collect();
        assert_eq!(ints(&got, "id"), want_ids, "{function}");
        for (s, w) in floats(&got, "s").iter().zip(want.scores.iter()) {
            assert_close(*s, Some(*w as f64), 1e-5, function);
        }
    }
}

#[tokio::test]
async fn bad_input_is_an_error_naming_the_function_column_and_lengths() {
    let mut rng = Rng(5);
    let rows = dense(rng.matrix(5, 3, false));
    for layout in [Layout::Fixed32, Layout::List32] {
        let ctx = context_with(&rows, 3, layout, 1, 10);
        for function in FUNCTIONS {
            let e = sql_error(&ctx, &format!("SELECT {function}(embedding, [1.0, 2.0]) FROM t")).await;
            assert!(
                e.contains(function) && e.contains("embedding") && e.contains('3') && e.contains('2'),
                "{e}"
            );
            let e = sql_error(&ctx, &format!("SELECT {function}(embedding, 'abc') FROM t")).await;
            assert!(
                e.contains(function) && e.contains("list of numbers") && e.contains("Utf8"),
                "{e}"
            );
            let e = sql_error(&ctx, &format!("SELECT {function}(id, [1.0, 2.0, 3.0]) FROM t")).await;
            assert!(e.contains(function) && e.contains("Int64"), "{e}");
        }
    }
    // Rows of List columns that differ in length from the query.
    let ragged: Vec<Row> = vec![
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(1.0), Some(2.0), Some(3.0)]),
    ];
    let ctx = SessionContext::new();
    ndarray_inner_datafusion::register(&ctx);
    let b = batch(&ragged, 0, Layout::List32, 0);
    ctx.register_table("r", Arc::new(MemTable::try_new(b.schema(), vec![vec![b]]).unwrap()))
        .unwrap();
    let e = sql_error(&ctx, "SELECT array_inner_product(embedding, [1.0, 2.0]) FROM r").await;
    assert!(
        e.contains("array_inner_product") && e.contains("embedding") && e.contains("3 elements") && e.contains("has 2"),
        "{e}"
    );
}

#[tokio::test]
async fn an_empty_table_gives_no_rows() {
    let ctx = context_with(&[], 4, Layout::Fixed32, 1, 10);
    let got = collect(
        &ctx,
        "SELECT array_cosine_similarity(embedding, [1.0, 2.0, 3.0, 4.0]) AS s FROM t",
    )
    .await;
    assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}
