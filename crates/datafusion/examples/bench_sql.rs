//! The figures of the README's DataFusion table: the crate's SQL functions
//! against DataFusion's built-in `inner_product` and `cosine_distance` on the
//! same SQL over the same Parquet file, and `knn` against the SQL form for
//! 100 queries. Medians of `--runs` runs, each timed end to end (planning,
//! reading the file, scoring, the top 10). The single-query SQL runs a second
//! time over the same rows held in memory (a `MemTable` of the decoded
//! batches, one partition per thread): the difference between the two is what
//! reading and decoding the Parquet file costs.
//!
//! ```text
//! cargo run -p ndarray-inner-datafusion --release --example bench_sql -- --threads 1
//! cargo run -p ndarray-inner-datafusion --release --example bench_sql -- --threads 2
//! ```
//!
//! `--threads N` runs N partitions (`target_partitions`) on N tokio workers
//! and N rayon threads (the crate's kernels). The file, `(100000, 128)`
//! `f32` vectors with ids in row groups of 16384 rows (Parquet's default
//! compression), is written once to the system's temporary folder.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use ndarray::Array2;
use ndarray_inner::search::Metric;
use ndarray_inner_datafusion::{knn, register};

const ROWS: usize = 100_000;
const DIM: usize = 128;

fn values(seed: u64, count: usize) -> Vec<f32> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn write_file(path: &std::path::Path) -> Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("embedding", DataType::FixedSizeList(item.clone(), DIM as i32), false),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(16384))
        .build();
    let tmp = path.with_extension("partial");
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&tmp)?, schema.clone(), Some(props))?;
    let chunk = 10_000;
    for start in (0..ROWS).step_by(chunk) {
        let embedding = FixedSizeListArray::new(
            item.clone(),
            DIM as i32,
            Arc::new(Float32Array::from(values(start as u64 + 1, chunk * DIM))),
            None,
        );
        let ids = Int64Array::from_iter_values(start as i64..(start + chunk) as i64);
        writer.write(&RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(ids), Arc::new(embedding)],
        )?)?;
    }
    writer.close()?;
    std::fs::rename(tmp, path)?;
    Ok(())
}

/// The median time in milliseconds of `runs` runs of `f`.
async fn median<F, Fut>(runs: usize, mut f: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    f().await?; // warm: the file in the page cache, the code paths
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}

async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<()> {
    let batches = ctx.sql(sql).await?.collect().await?;
    assert!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>() > 0,
        "{sql} returned nothing"
    );
    Ok(())
}

fn main() -> Result<()> {
    let mut threads = 1;
    let mut runs = 7;
    let args: Vec<String> = std::env::args().collect();
    for w in args.windows(2) {
        match w[0].as_str() {
            "--threads" => threads = w[1].parse().expect("--threads N"),
            "--runs" => runs = w[1].parse().expect("--runs N"),
            _ => {}
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the rayon pool starts once");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(bench(threads, runs))
}

async fn bench(threads: usize, runs: usize) -> Result<()> {
    let path = std::env::temp_dir().join(format!("ndarray-inner-bench-{ROWS}x{DIM}.parquet"));
    if !path.exists() {
        write_file(&path)?;
    }
    let config = SessionConfig::new().with_target_partitions(threads);
    let ctx = SessionContext::new_with_config(config);
    register(&ctx);
    ctx.register_parquet(
        "docs",
        path.to_str().expect("a UTF-8 path"),
        ParquetReadOptions::default(),
    )
    .await?;

    // The same rows decoded once and held in memory, batch i in partition i % threads.
    let batches = ctx.table("docs").await?.collect().await?;
    let mut parts = vec![Vec::new(); threads];
    for (i, batch) in batches.iter().enumerate() {
        parts[i % threads].push(batch.clone());
    }
    ctx.register_table(
        "docs_in_memory",
        Arc::new(MemTable::try_new(batches[0].schema(), parts)?),
    )?;

    let q = values(7, DIM);
    let lit = format!("[{}]", q.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
    let top10 = |expr: &str, table: &str, order: &str| {
        format!("SELECT id, {expr} AS s FROM {table} ORDER BY s {order} LIMIT 10")
    };
    println!("machine threads: {threads} (target_partitions, tokio workers, rayon threads); median of {runs} runs, ms");
    println!("| query | table | DataFusion built-in | ndarray-inner | ratio |");
    println!("|---|---|---|---|---|");
    for table in ["docs", "docs_in_memory"] {
        for (name, builtin, ours) in [
            (
                "inner product, top 10",
                top10(&format!("inner_product(embedding, {lit})"), table, "DESC"),
                top10(&format!("array_inner_product(embedding, {lit})"), table, "DESC"),
            ),
            (
                "cosine, top 10",
                top10(&format!("cosine_distance(embedding, {lit})"), table, "ASC"),
                top10(&format!("array_cosine_similarity(embedding, {lit})"), table, "DESC"),
            ),
        ] {
            let a = median(runs, || run_sql(&ctx, &builtin)).await?;
            let b = median(runs, || run_sql(&ctx, &ours)).await?;
            println!("| {name} | {table} | {a:.1} | {b:.1} | {:.1}x |", a / b);
        }
    }

    // 100 queries: the SQL form (one query each, the crate's function) against one knn.
    let queries = Array2::from_shape_vec((100, DIM), values(11, 100 * DIM)).expect("100 x DIM");
    let literals: Vec<String> = queries
        .rows()
        .into_iter()
        .map(|r| format!("[{}]", r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")))
        .collect();
    let sql_form = median(runs.min(3), || async {
        for l in &literals {
            run_sql(
                &ctx,
                &top10(&format!("array_cosine_similarity(embedding, {l})"), "docs", "DESC"),
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    let knn_form = median(runs, || async {
        let batches = knn(&ctx, "docs", "embedding", queries.view(), 10, Metric::Cosine)
            .await?
            .collect()
            .await?;
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1000);
        Ok(())
    })
    .await?;
    println!(
        "| 100 queries, top 10 cosine: 100 SQL queries against one `knn` | docs | {sql_form:.1} | {knn_form:.1} | {:.1}x |",
        sql_form / knn_form
    );
    Ok(())
}
