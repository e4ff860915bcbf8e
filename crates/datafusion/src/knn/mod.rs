//! [`knn`]: many queries at once over a table, as a DataFusion plan.
//!
//! The plan, for a table scanned in `P` partitions (DataFusion's
//! `target_partitions` and the files' row groups decide `P`):
//!
//! ```text
//! KnnMergeExec                  one partition: TopK::merge of the P parts, the rows of the hits
//!   CoalescePartitionsExec      (when P > 1; in Ballista, a stage boundary)
//!     KnnPartialExec            P partitions in parallel: per batch, the crate's top_k over
//!       <the table's scan>        the batch's vectors, merged into the partition's running top-k
//! ```
//!
//! The plan is built by a table provider, [`KnnTable`], so that `knn`
//! returns an ordinary [`DataFrame`] that can be filtered, projected or
//! joined further; it needs nothing registered in the session.

mod exec;

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{plan_err, Result};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::SessionContext;
use ndarray::{Array2, ArrayView2};
use ndarray_inner::search::Metric;

pub use exec::{KnnMergeExec, KnnPartialExec};

use crate::vectors::{fixed_length, vector_precision, Context, Precision};

/// The name of the column holding the query each hit answers (`UInt64`).
pub const QUERY_INDEX: &str = "query_index";
/// The name of the column holding each hit's score (`Float32`; `Float64` for
/// `Float64` vectors).
pub const SCORE: &str = "score";

/// The exact `k` best rows of `table` for every row of `queries` by the
/// vectors of `column`, as a [`DataFrame`]: the table's columns plus
/// [`query_index`](QUERY_INDEX) (`UInt64`) and [`score`](SCORE) (`Float32`,
/// `Float64` for `Float64` vectors), ordered by `query_index`, then best
/// first (as [`TopK`](ndarray_inner::search::TopK) orders: descending score
/// for inner product and cosine, ascending distance for L2; ties by the row's
/// place in the table).
///
/// Rows whose vector is `NULL` or holds a `NULL` element are skipped; a query
/// gets `min(k, rows)` hits. The answer is the one [`top_k`] gives on the same
/// vectors, whatever the partitions: each partition keeps its own top-k
/// (batch by batch, with the crate's kernels on the batch's vectors read in
/// place) and one [`TopK::merge`] combines them.
///
/// [`top_k`]: ndarray_inner::search::top_k
/// [`TopK::merge`]: ndarray_inner::search::TopK::merge
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> datafusion::error::Result<()> {
/// use datafusion::prelude::SessionContext;
/// use ndarray::array;
/// use ndarray_inner::search::Metric;
/// use ndarray_inner_datafusion::knn;
///
/// let ctx = SessionContext::new();
/// ctx.sql("CREATE TABLE docs (id INT, embedding FLOAT[]) AS VALUES
///          (1, [1.0, 0.0]), (2, [0.0, 1.0]), (3, [0.6, 0.8])").await?.collect().await?;
/// let queries = array![[1.0f32, 0.1], [0.0, 2.0]];
/// let hits = knn(&ctx, "docs", "embedding", queries.view(), 2, Metric::InnerProduct).await?;
/// let hits = hits.select_columns(&["query_index", "id", "score"])?.collect().await?;
/// let text = datafusion::arrow::util::pretty::pretty_format_batches(&hits)?.to_string();
/// assert!(text.contains("| 0           | 1  | 1.0   |"));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// `k = 0`; an unknown table or column; a column that is not a list of
/// floats; queries whose length differs from the vectors' (when the column is
/// a `FixedSizeList`, when planning; for a `List`, when the first vector of
/// another length is read); a table that already has a column named
/// `query_index` or `score`. Each error names `knn`, the column and both
/// lengths where they apply.
///
/// # Performance
///
/// Reading the table plus `Q·N·d` multiply-adds in the crate's GEMM, one per
/// record batch; besides the batch, each partition holds at most `Q·k`
/// candidate rows.
pub async fn knn(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    queries: ArrayView2<'_, f32>,
    k: usize,
    metric: Metric,
) -> Result<DataFrame> {
    if k == 0 {
        return plan_err!("knn: k must be at least 1, got 0");
    }
    let input = ctx.table(table).await?;
    let provider = KnnTable::try_new(
        input.logical_plan().clone(),
        table,
        column,
        Arc::new(queries.to_owned()),
        k,
        metric,
    )?;
    ctx.read_table(Arc::new(provider))
}

/// The table [`knn`] reads: the hits of `queries` in the rows of `input`.
/// Public for codecs (Ballista's) that send it between processes.
#[derive(Debug, Clone)]
pub struct KnnTable {
    pub(crate) input: LogicalPlan,
    pub(crate) spec: KnnSpec,
    schema: SchemaRef,
}

/// What a knn search is: everything but its input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KnnSpec {
    /// The table's name, for messages.
    pub table: String,
    pub column: String,
    pub queries: Arc<Array2<f32>>,
    pub k: usize,
    pub metric: Metric,
    pub precision: Precision,
}

impl KnnSpec {
    pub fn cx(&self) -> Context<'_> {
        Context {
            function: "knn",
            column: &self.column,
        }
    }

    /// `input`'s fields and the two of the hits.
    pub fn output_schema(&self, input: &Schema) -> Result<SchemaRef> {
        for name in [QUERY_INDEX, SCORE] {
            if input.field_with_name(name).is_ok() {
                return plan_err!(
                    "knn: table {} already has a column named {name}, which knn adds to its result",
                    self.table
                );
            }
        }
        let mut fields: Vec<Arc<Field>> = input.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(QUERY_INDEX, DataType::UInt64, false)));
        fields.push(Arc::new(Field::new(SCORE, self.precision.score_type(), false)));
        Ok(Arc::new(Schema::new_with_metadata(fields, input.metadata().clone())))
    }
}

impl KnnTable {
    /// The search of `column` in `input` (a plan reading `table`).
    ///
    /// # Errors
    ///
    /// As [`knn`]'s, at planning.
    pub(crate) fn try_new(
        input: LogicalPlan,
        table: &str,
        column: &str,
        queries: Arc<Array2<f32>>,
        k: usize,
        metric: Metric,
    ) -> Result<Self> {
        if k == 0 {
            return plan_err!("knn: k must be at least 1, got 0");
        }
        let input_schema = input.schema().as_arrow().clone();
        let Ok(field) = input_schema.field_with_name(column) else {
            let names: Vec<&str> = input_schema.fields().iter().map(|f| f.name().as_str()).collect();
            return plan_err!(
                "knn: table {table} has no column {column} (its columns: {})",
                names.join(", ")
            );
        };
        let cx = Context {
            function: "knn",
            column,
        };
        let precision = vector_precision(field.data_type(), cx)?;
        if let Some(d) = fixed_length(field.data_type()) {
            if d != queries.ncols() {
                return plan_err!(
                    "knn: the vectors of column {column} have {d} elements but the queries have {}",
                    queries.ncols()
                );
            }
        }
        let spec = KnnSpec {
            table: table.to_string(),
            column: column.to_string(),
            queries,
            k,
            metric,
            precision,
        };
        let schema = spec.output_schema(&input_schema)?;
        Ok(Self { input, spec, schema })
    }

    /// The plan the search reads.
    pub fn input(&self) -> &LogicalPlan {
        &self.input
    }
}

impl fmt::Display for KnnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column={}, queries={}x{}, k={}, metric={:?}",
            self.column,
            self.queries.nrows(),
            self.queries.ncols(),
            self.k,
            self.metric
        )
    }
}

#[async_trait]
impl TableProvider for KnnTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = state.create_physical_plan(&self.input).await?;
        let column = input.schema().index_of(&self.spec.column)?;
        let partial: Arc<dyn ExecutionPlan> = Arc::new(KnnPartialExec::try_new(input, column, self.spec.clone())?);
        let single: Arc<dyn ExecutionPlan> = if partial.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(partial))
        } else {
            partial
        };
        Ok(Arc::new(KnnMergeExec::try_new(
            single,
            self.spec.clone(),
            projection.cloned(),
        )?))
    }
}
