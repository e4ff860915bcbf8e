//! Proves the SQL functions and `knn`, reading Parquet files written by
//! pyarrow (a `FixedSizeList<float32, 8>` column, and the same vectors as a
//! `List<float32>` without Arrow's schema, as other engines write them), give
//! NumPy's scores and NumPy's top-k (fixtures/gen_vectors.py wrote both files
//! and fixtures/expected.txt), with NULL for the NULL row and the row holding
//! a NULL element.

mod common;

use std::collections::HashMap;

use common::*;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use ndarray::Array2;
use ndarray_inner::search::Metric;
use ndarray_inner_datafusion::knn;

struct Expected {
    k: usize,
    queries: Vec<Vec<f64>>,
    /// (function, query) -> score of every row.
    scores: HashMap<(String, usize), Vec<Option<f64>>>,
    /// (metric, query) -> the best rows.
    top: HashMap<(String, usize), Vec<i64>>,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/expected.txt")).unwrap();
    let mut e = Expected {
        k: 0,
        queries: Vec::new(),
        scores: HashMap::new(),
        top: HashMap::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "k" => e.k = w[1].parse().unwrap(),
            "query" => e.queries.push(w[2..].iter().map(|v| v.parse().unwrap()).collect()),
            "score" => {
                let rows = e.scores.entry((w[1].to_string(), w[2].parse().unwrap())).or_default();
                let row: usize = w[3].parse().unwrap();
                assert_eq!(row, rows.len());
                rows.push(if w[4] == "null" {
                    None
                } else {
                    Some(w[4].parse().unwrap())
                });
            }
            "top" => {
                e.top.insert(
                    (w[1].to_string(), w[2].parse().unwrap()),
                    w[3..].iter().map(|v| v.parse().unwrap()).collect(),
                );
            }
            other => panic!("unknown line {other}"),
        }
    }
    e
}

async fn context(file: &str) -> SessionContext {
    let ctx = SessionContext::new();
    ndarray_inner_datafusion::register(&ctx);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_string() + file;
    ctx.register_parquet("docs", &path, ParquetReadOptions::default())
        .await
        .unwrap();
    ctx
}

#[tokio::test]
async fn sql_scores_are_numpys_for_both_parquet_layouts() {
    let e = expected();
    for (file, layout) in [("fixed.parquet", "FixedSizeList"), ("list.parquet", "List")] {
        let ctx = context(file).await;
        let schema = ctx.table("docs").await.unwrap().schema().clone();
        let ty = schema
            .field_with_unqualified_name("embedding")
            .unwrap()
            .data_type()
            .to_string();
        assert!(ty.starts_with(layout), "{file} reads as {ty}");
        for function in FUNCTIONS {
            for (qi, q) in e.queries.iter().enumerate() {
                let sql = format!(
                    "SELECT id, {function}(embedding, {}) AS s FROM docs ORDER BY id",
                    literal(q)
                );
                let got = collect(&ctx, &sql).await;
                assert_eq!(ints(&got, "id"), (100..140).collect::<Vec<i64>>());
                let want = &e.scores[&(function.to_string(), qi)];
                for (i, (g, w)) in floats(&got, "s").into_iter().zip(want).enumerate() {
                    assert_close(g, *w, 1e-5, &format!("{file} {function} query {qi} row {i}"));
                }
            }
        }
    }
}

#[tokio::test]
async fn knn_and_order_by_limit_give_numpys_top_k() {
    let e = expected();
    let queries = Array2::from_shape_fn((e.queries.len(), e.queries[0].len()), |(i, j)| e.queries[i][j] as f32);
    for file in ["fixed.parquet", "list.parquet"] {
        let ctx = context(file).await;
        for (name, metric, function, order) in [
            ("inner_product", Metric::InnerProduct, "array_inner_product", "DESC"),
            ("cosine", Metric::Cosine, "array_cosine_similarity", "DESC"),
            ("l2", Metric::L2, "array_squared_distance", "ASC"),
        ] {
            let batches = knn(&ctx, "docs", "embedding", queries.view(), e.k, metric)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let ids = ints(&batches, "id");
            for qi in 0..e.queries.len() {
                let want: Vec<i64> = e.top[&(name.to_string(), qi)].iter().map(|r| r + 100).collect();
                assert_eq!(ids[qi * e.k..(qi + 1) * e.k], want[..], "{file} knn {name} query {qi}");
                let sql = format!(
                    "SELECT id FROM docs ORDER BY {function}(embedding, {}) {order} NULLS LAST LIMIT {}",
                    literal(&e.queries[qi]),
                    e.k
                );
                assert_eq!(
                    ints(&collect(&ctx, &sql).await, "id"),
                    want,
                    "{file} SQL {name} query {qi}"
                );
            }
        }
    }
}
