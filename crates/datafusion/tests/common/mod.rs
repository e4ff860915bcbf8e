//! Shared by the tests: tables of vectors in every Arrow layout, a plain-loop
//! reference for the three scores, and readers of query results.
#![allow(dead_code)]

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, Float16Array, Float32Array, Float64Array, Int64Array, LargeListArray,
    ListArray, RecordBatch, StringArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type, Schema};
use datafusion::datasource::MemTable;

/// `half::f16`, through Arrow (a dependency of its own would rebuild Arrow).
type F16 = <arrow::datatypes::Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native;
use datafusion::prelude::{SessionConfig, SessionContext};

/// How a column of vectors is laid out in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Fixed32,
    List32,
    LargeList32,
    Fixed16,
    Fixed64,
    List64,
}

pub const LAYOUTS: [Layout; 6] = [
    Layout::Fixed32,
    Layout::List32,
    Layout::LargeList32,
    Layout::Fixed16,
    Layout::Fixed64,
    Layout::List64,
];

impl Layout {
    pub fn is_f64(self) -> bool {
        matches!(self, Layout::Fixed64 | Layout::List64)
    }
}

/// A row of a test table: its vector, `None` for a NULL row; a `None`
/// element is a NULL inside the vector.
pub type Row = Option<Vec<Option<f64>>>;

/// A deterministic generator (splitmix64), so that failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1), with a float32-exact value (and f16-exact when `half`).
    pub fn value(&mut self, half: bool) -> f64 {
        let steps = if half { 1 << 10 } else { 1 << 23 };
        let i = (self.next_u64() % (2 * steps)) as f64 - steps as f64;
        i / steps as f64
    }
    pub fn matrix(&mut self, rows: usize, d: usize, half: bool) -> Vec<Vec<f64>> {
        (0..rows).map(|_| (0..d).map(|_| self.value(half)).collect()).collect()
    }
}

/// `rows` as one column in `layout`; `List` layouts give NULL rows no elements.
pub fn vector_column(rows: &[Row], d: usize, layout: Layout) -> ArrayRef {
    let nulls = NullBuffer::from(rows.iter().map(|r| r.is_some()).collect::<Vec<_>>());
    let fixed = matches!(layout, Layout::Fixed32 | Layout::Fixed16 | Layout::Fixed64);
    let mut values: Vec<Option<f64>> = Vec::new();
    let mut offsets = vec![0usize];
    for r in rows {
        match r {
            Some(v) => values.extend(v.iter().copied()),
            None if fixed => values.extend(std::iter::repeat_n(Some(0.0), d)),
            None => {}
        }
        offsets.push(values.len());
    }
    let (child, element): (ArrayRef, DataType) = match layout {
        Layout::Fixed16 => (
            Arc::new(values.iter().map(|v| v.map(F16::from_f64)).collect::<Float16Array>()),
            DataType::Float16,
        ),
        Layout::Fixed64 | Layout::List64 => (
            Arc::new(values.iter().copied().collect::<Float64Array>()),
            DataType::Float64,
        ),
        _ => (
            Arc::new(values.iter().map(|v| v.map(|x| x as f32)).collect::<Float32Array>()),
            DataType::Float32,
        ),
    };
    let field = Arc::new(Field::new("item", element, true));
    let nulls = Some(nulls);
    match layout {
        Layout::Fixed32 | Layout::Fixed16 | Layout::Fixed64 => {
            Arc::new(FixedSizeListArray::new(field, d as i32, child, nulls))
        }
        Layout::List32 | Layout::List64 => {
            let offsets = OffsetBuffer::new(offsets.iter().map(|&o| o as i32).collect::<Vec<_>>().into());
            Arc::new(ListArray::new(field, offsets, child, nulls))
        }
        Layout::LargeList32 => {
            let offsets = OffsetBuffer::new(offsets.iter().map(|&o| o as i64).collect::<Vec<_>>().into());
            Arc::new(LargeListArray::new(field, offsets, child, nulls))
        }
    }
}

/// A batch with `id` (Int64, from `first_id`), `text` and `embedding`.
pub fn batch(rows: &[Row], d: usize, layout: Layout, first_id: i64) -> RecordBatch {
    let embedding = vector_column(rows, d, layout);
    let ids = Int64Array::from_iter_values((0..rows.len() as i64).map(|i| first_id + i));
    let text = StringArray::from_iter_values((0..rows.len()).map(|i| format!("doc {}", first_id + i as i64)));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("embedding", embedding.data_type().clone(), true),
    ]));
    RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(text), embedding]).unwrap()
}

/// A session with `target_partitions` and the crate's functions, and the rows
/// registered as table `name`, split into `partitions` partitions of batches
/// of at most `batch_rows` rows (ids are the rows' places in `rows`).
pub fn context_with(rows: &[Row], d: usize, layout: Layout, partitions: usize, batch_rows: usize) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions.max(1)));
    ndarray_inner_datafusion::register(&ctx);
    register_rows(&ctx, "t", rows, d, layout, partitions, batch_rows);
    ctx
}

pub fn register_rows(
    ctx: &SessionContext,
    name: &str,
    rows: &[Row],
    d: usize,
    layout: Layout,
    partitions: usize,
    batch_rows: usize,
) {
    let schema = batch(&[], d, layout, 0).schema();
    let per_part = rows.len().div_ceil(partitions.max(1)).max(1);
    let mut parts = Vec::new();
    for (p, chunk) in rows.chunks(per_part).enumerate() {
        let mut batches = Vec::new();
        for (b, piece) in chunk.chunks(batch_rows.max(1)).enumerate() {
            batches.push(batch(piece, d, layout, (p * per_part + b * batch_rows) as i64));
        }
        parts.push(batches);
    }
    while parts.len() < partitions {
        parts.push(Vec::new());
    }
    let table = MemTable::try_new(schema, parts).unwrap();
    ctx.register_table(name, Arc::new(table)).unwrap();
}

/// Rows of random vectors, none NULL.
pub fn dense(m: Vec<Vec<f64>>) -> Vec<Row> {
    m.into_iter().map(|v| Some(v.into_iter().map(Some).collect())).collect()
}

pub async fn collect(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The message of the error `sql` fails with, at planning or when run.
pub async fn sql_error(ctx: &SessionContext, sql: &str) -> String {
    match ctx.sql(sql).await {
        Err(e) => e.to_string(),
        Ok(df) => match df.collect().await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{sql} succeeded"),
        },
    }
}

/// A column of floats (Float32 or Float64) as `f64`, NULL as `None`.
pub fn floats(batches: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        for i in 0..c.len() {
            out.push(c.is_valid(i).then(|| match c.data_type() {
                DataType::Float32 => c.as_primitive::<Float32Type>().value(i) as f64,
                DataType::Float64 => c.as_primitive::<Float64Type>().value(i),
                other => panic!("{name} is {other}"),
            }));
        }
    }
    out
}

pub fn ints(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        match c.data_type() {
            DataType::Int64 => out.extend(c.as_primitive::<Int64Type>().values().iter().copied()),
            DataType::UInt64 => out.extend(
                c.as_primitive::<arrow::datatypes::UInt64Type>()
                    .values()
                    .iter()
                    .map(|&v| v as i64),
            ),
            other => panic!("{name} is {other}"),
        }
    }
    out
}

/// The reference: the three scores of one row in `f64`, by plain loops;
/// `None` when the row cannot be scored.
pub fn reference(row: &Row, q: &[f64], function: &str) -> Option<f64> {
    let v: Vec<f64> = row.as_ref()?.iter().copied().collect::<Option<Vec<f64>>>()?;
    let dot: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
    let nv = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let nq = q.iter().map(|a| a * a).sum::<f64>().sqrt();
    Some(match function {
        "array_inner_product" => dot,
        "array_cosine_similarity" if nv * nq == 0.0 => 0.0,
        "array_cosine_similarity" => dot / (nv * nq),
        "array_squared_distance" => v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
        other => panic!("no function {other}"),
    })
}

pub const FUNCTIONS: [&str; 3] = [
    "array_inner_product",
    "array_cosine_similarity",
    "array_squared_distance",
];

/// A SQL array literal.
pub fn literal(q: &[f64]) -> String {
    let parts: Vec<String> = q.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", parts.join(", "))
}

/// `|a - b| <= tol (1 + |b|)`, with a message naming what differs.
pub fn assert_close(a: Option<f64>, b: Option<f64>, tol: f64, what: &str) {
    match (a, b) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} != {b}"),
        _ => panic!("{what}: {a:?} != {b:?}"),
    }
}
