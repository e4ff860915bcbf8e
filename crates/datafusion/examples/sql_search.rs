//! Similarity search in SQL over a Parquet file of embeddings, then `knn`
//! for many queries at once.
//!
//! ```text
//! cargo run -p ndarray-inner-datafusion --release --example sql_search            # writes docs.parquet
//! cargo run -p ndarray-inner-datafusion --release --example sql_search -- my.parquet
//! ```
//!
//! A file given by path needs an `embedding` column of vectors (a
//! `FixedSizeList` or `List` of floats) and an `id`; a `text` column is shown
//! when there is one.

use std::sync::Arc;

use datafusion::arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::print_batches;
use datafusion::error::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use ndarray::Array2;
use ndarray_inner::search::Metric;
use ndarray_inner_datafusion::{knn, register};

const ROWS: usize = 20_000;
const DIM: usize = 64;

/// A small deterministic generator, so that the example needs no dependency.
fn values(seed: u64, count: usize) -> Vec<f32> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Writes `ROWS` documents with random embeddings to `path`.
fn write_docs(path: &str) -> Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let embedding = FixedSizeListArray::new(
        item.clone(),
        DIM as i32,
        Arc::new(Float32Array::from(values(1, ROWS * DIM))),
        None,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("embedding", DataType::FixedSizeList(item, DIM as i32), false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..ROWS as i64)),
            Arc::new(StringArray::from_iter_values(
                (0..ROWS).map(|i| format!("document {i}")),
            )),
            Arc::new(embedding),
        ],
    )?;
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path)?, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let path = match std::env::args().nth(1) {
        Some(path) => path,
        None => {
            write_docs("docs.parquet")?;
            println!("wrote docs.parquet: {ROWS} documents, {DIM}-dimensional embeddings");
            "docs.parquet".to_string()
        }
    };
    let ctx = SessionContext::new();
    register(&ctx);
    ctx.register_parquet("docs", &path, ParquetReadOptions::default())
        .await?;

    // The length of the vectors, from the first one.
    let first = ctx.sql("SELECT embedding FROM docs LIMIT 1").await?.collect().await?;
    let column = first[0].column(0);
    let dim = match column.data_type() {
        DataType::FixedSizeList(_, n) => *n as usize,
        _ => datafusion::arrow::array::AsArray::as_list::<i32>(column).value(0).len(),
    };
    let q = values(2, dim);
    let literal: Vec<String> = q.iter().map(|x| x.to_string()).collect();
    let has_text = ctx
        .table("docs")
        .await?
        .schema()
        .field_with_unqualified_name("text")
        .is_ok();
    let text = if has_text { ", text" } else { "" };

    let sql = format!(
        "SELECT id{text}, array_cosine_similarity(embedding, [{}]) AS score \
         FROM docs ORDER BY score DESC NULLS LAST LIMIT 5",
        literal.join(", ")
    );
    println!("\nSQL: the 5 documents most similar to one query");
    print_batches(&ctx.sql(&sql).await?.collect().await?)?;

    let queries = Array2::from_shape_vec((3, dim), values(3, 3 * dim)).expect("3 x dim values");
    println!("\nknn: the 3 best documents for each of 3 queries");
    let hits = knn(&ctx, "docs", "embedding", queries.view(), 3, Metric::Cosine).await?;
    let mut columns = vec!["query_index", "id"];
    if has_text {
        columns.push("text");
    }
    columns.push("score");
    print_batches(&hits.select_columns(&columns)?.collect().await?)?;
    Ok(())
}
