//! Proves `knn` returns exactly what `top_k` returns on the same vectors
//! (same rows, same order, same scores) for every metric, whatever the
//! partitions, batches, number of queries (the few-query kernel and the
//! GEMM) and k; that it skips NULL vectors, reads every layout, keeps the
//! table's columns and orders by query then best first; and that bad input
//! is an error naming knn, the column and both lengths.

mod common;

use common::*;
use datafusion::prelude::SessionContext;
use ndarray::{Array2, ArrayView2};
use ndarray_inner::search::{top_k, Metric};
use ndarray_inner_datafusion::knn;

const METRICS: [Metric; 3] = [Metric::InnerProduct, Metric::Cosine, Metric::L2];

/// knn's answer as (query_index, id, score) triples, in its order.
async fn answer(ctx: &SessionContext, queries: ArrayView2<'_, f32>, k: usize, metric: Metric) -> Vec<(i64, i64, f64)> {
    let df = knn(ctx, "t", "embedding", queries, k, metric).await.unwrap();
    let batches = df.collect().await.unwrap();
    let q = ints(&batches, "query_index");
    let ids = ints(&batches, "id");
    let s = floats(&batches, "score");
    q.into_iter()
        .zip(ids)
        .zip(s)
        .map(|((q, i), s)| (q, i, s.unwrap()))
        .collect()
}

/// `top_k` over the valid rows, as the same triples, with ids mapped back.
fn expected(rows: &[Row], queries: &Array2<f32>, k: usize, metric: Metric) -> Vec<(i64, i64, f64)> {
    let valid: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].as_ref().is_some_and(|v| v.iter().all(Option::is_some)))
        .collect();
    let d = queries.ncols();
    let db = Array2::from_shape_fn((valid.len(), d), |(i, j)| {
        rows[valid[i]].as_ref().unwrap()[j].unwrap() as f32
    });
    let hits = top_k(queries, &db, k, metric).unwrap();
    let mut out = Vec::new();
    for q in 0..hits.num_queries() {
        for (i, s) in hits.hits(q) {
            out.push((q as i64, valid[i] as i64, s as f64));
        }
    }
    out
}

fn queries(rng: &mut Rng, q: usize, d: usize) -> Array2<f32> {
    Array2::from_shape_fn((q, d), |_| rng.value(false) as f32)
}

#[tokio::test]
async fn knn_equals_top_k_over_partitions_batches_queries_and_k() {
    let mut rng = Rng(10);
    let d = 24;
    let rows = dense(rng.matrix(1500, d, false));
    for (partitions, batch_rows) in [(1, 8192), (2, 100), (3, 333), (4, 1)] {
        if batch_rows == 1 && partitions == 4 {
            // One row per batch: every batch merges into the running top-k.
            let small = &rows[..60];
            let ctx = context_with(small, d, Layout::Fixed32, partitions, batch_rows);
            let qs = queries(&mut rng, 3, d);
            for metric in METRICS {
                assert_eq!(
                    answer(&ctx, qs.view(), 7, metric).await,
                    expected(small, &qs, 7, metric),
                    "{metric:?}"
                );
            }
            continue;
        }
        let ctx = context_with(&rows, d, Layout::Fixed32, partitions, batch_rows);
        for (n_queries, k) in [(1, 1), (5, 10), (40, 3), (100, 20)] {
            let qs = queries(&mut rng, n_queries, d);
            for metric in METRICS {
                let got = answer(&ctx, qs.view(), k, metric).await;
                assert_eq!(
                    got,
                    expected(&rows, &qs, k, metric),
                    "P={partitions} Q={n_queries} k={k} {metric:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn k_beyond_the_rows_and_null_vectors() {
    let mut rng = Rng(11);
    let d = 5;
    let mut rows = dense(rng.matrix(23, d, false));
    rows[0] = None;
    rows[9].as_mut().unwrap()[1] = None;
    rows[22] = None;
    for layout in [Layout::Fixed32, Layout::List32, Layout::LargeList32, Layout::Fixed16] {
        let rows: Vec<Row> = if layout == Layout::Fixed16 {
            // Values f16 holds exactly, so that top_k over f32 sees the same vectors.
            let mut r = dense(rng.matrix(23, d, true));
            r[4] = None;
            r
        } else {
            rows.clone()
        };
        let ctx = context_with(&rows, d, layout, 2, 4);
        let qs = queries(&mut rng, 4, d);
        for metric in METRICS {
            let got = answer(&ctx, qs.view(), 50, metric).await;
            assert_eq!(got, expected(&rows, &qs, 50, metric), "{layout:?} {metric:?}");
        }
    }
}

#[tokio::test]
async fn f64_vectors_are_searched_in_f64() {
    let mut rng = Rng(12);
    let d = 7;
    let m = rng.matrix(300, d, false);
    let rows = dense(m.clone());
    let ctx = context_with(&rows, d, Layout::Fixed64, 2, 50);
    let qs = queries(&mut rng, 3, d);
    let db = Array2::from_shape_fn((300, d), |(i, j)| m[i][j]);
    for metric in METRICS {
        let df = knn(&ctx, "t", "embedding", qs.view(), 4, metric).await.unwrap();
        let batches = df.collect().await.unwrap();
        assert_eq!(
            batches[0]
                .schema()
                .field_with_name("score")
                .unwrap()
                .data_type()
                .to_string(),
            "Float64"
        );
        let want = top_k(&qs.mapv(f64::from), &db, 4, metric).unwrap();
        let want_ids: Vec<i64> = want.indices.iter().map(|&i| i as i64).collect();
        assert_eq!(ints(&batches, "id"), want_ids, "{metric:?}");
        let want_scores: Vec<Option<f64>> = want.scores.iter().map(|&s| Some(s)).collect();
        assert_eq!(floats(&batches, "score"), want_scores, "{metric:?}");
    }
}

#[tokio::test]
async fn the_result_keeps_the_table_columns_and_can_be_queried_further() {
    let mut rng = Rng(13);
    let d = 3;
    let rows = dense(rng.matrix(40, d, false));
    let ctx = context_with(&rows, d, Layout::Fixed32, 2, 10);
    let qs = queries(&mut rng, 2, d);
    let df = knn(&ctx, "t", "embedding", qs.view(), 3, Metric::Cosine).await.unwrap();
    let names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "text", "embedding", "query_index", "score"]);
    let batches = df
        .clone()
        .select_columns(&["text", "query_index"])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let want = expected(&rows, &qs, 3, Metric::Cosine);
    let texts: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("text").unwrap();
            let c = arrow::array::AsArray::as_string::<i32>(c);
            use arrow::array::Array;
            (0..c.len()).map(|i| c.value(i).to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        texts,
        want.iter().map(|(_, id, _)| format!("doc {id}")).collect::<Vec<_>>()
    );
    // Filtering the hits afterwards.
    let first = df
        .filter(datafusion::prelude::col("query_index").eq(datafusion::prelude::lit(1u64)))
        .unwrap();
    assert_eq!(first.count().await.unwrap(), 3);
}

#[tokio::test]
async fn an_empty_table_and_zero_queries_give_no_rows() {
    let ctx = context_with(&[], 4, Layout::Fixed32, 2, 10);
    let qs = Array2::<f32>::ones((3, 4));
    assert_eq!(
        knn(&ctx, "t", "embedding", qs.view(), 5, Metric::L2)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        0
    );
    let mut rng = Rng(14);
    let ctx = context_with(&dense(rng.matrix(10, 4, false)), 4, Layout::Fixed32, 2, 10);
    let none = Array2::<f32>::zeros((0, 4));
    assert_eq!(
        knn(&ctx, "t", "embedding", none.view(), 5, Metric::L2)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn bad_input_is_an_error_naming_knn_the_column_and_the_lengths() {
    let mut rng = Rng(15);
    let rows = dense(rng.matrix(10, 4, false));
    let fixed = context_with(&rows, 4, Layout::Fixed32, 1, 10);
    let qs = Array2::<f32>::ones((2, 3));
    let ok = Array2::<f32>::ones((2, 4));
    let err = |r: datafusion::error::Result<datafusion::dataframe::DataFrame>| match r {
        Ok(_) => panic!("no error"),
        Err(e) => e.to_string(),
    };
    let e = err(knn(&fixed, "t", "embedding", qs.view(), 2, Metric::L2).await);
    assert!(
        e.contains("knn") && e.contains("embedding") && e.contains("4 elements") && e.contains("have 3"),
        "{e}"
    );
    let e = err(knn(&fixed, "t", "embedding", ok.view(), 0, Metric::L2).await);
    assert!(e.contains("knn") && e.contains("k must be at least 1"), "{e}");
    let e = err(knn(&fixed, "nope", "embedding", ok.view(), 2, Metric::L2).await);
    assert!(e.contains("nope"), "{e}");
    let e = err(knn(&fixed, "t", "vec", ok.view(), 2, Metric::L2).await);
    assert!(
        e.contains("knn") && e.contains("no column vec") && e.contains("embedding"),
        "{e}"
    );
    let e = err(knn(&fixed, "t", "text", ok.view(), 2, Metric::L2).await);
    assert!(e.contains("knn") && e.contains("text") && e.contains("Utf8"), "{e}");
    // A List column: the length is known when a vector is read.
    let listed = context_with(&rows, 4, Layout::List32, 2, 3);
    let df = knn(&listed, "t", "embedding", qs.view(), 2, Metric::Cosine)
        .await
        .unwrap();
    let e = df.collect().await.unwrap_err().to_string();
    assert!(
        e.contains("knn") && e.contains("embedding") && e.contains("4 elements") && e.contains("has 3"),
        "{e}"
    );
    // A table with a column named score.
    fixed
        .sql("CREATE TABLE s AS SELECT id AS score, embedding FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let e = err(knn(&fixed, "s", "embedding", ok.view(), 2, Metric::L2).await);
    assert!(e.contains("knn") && e.contains("score"), "{e}");
}
