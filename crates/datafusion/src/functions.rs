//! The SQL functions `array_inner_product`, `array_cosine_similarity` and
//! `array_squared_distance`: one struct, [`VectorFunction`], for the three.
//!
//! DataFusion calls a scalar function once per record batch. With a constant
//! query (an array literal, the usual case) the batch's vectors are one
//! `(rows, d)` matrix read in place (`vectors.rs`) and the scores are one
//! matrix-vector product of the crate's kernels; the query is read once, never
//! copied onto every row. With a column of queries each row is scored against
//! its own query.

use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Float32Type, Float64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use ndarray_inner::search::{cosine_similarity, SearchScalar};
use ndarray_inner::InnerExt;

use crate::vectors::{
    fixed_length, is_numeric_list, query_column, query_type_error, scalar_query, vector_precision, Context, Element,
    ListRows, Precision,
};

/// What a [`VectorFunction`] computes for a vector `v` and a query `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Score {
    /// `v · q`: SQL `array_inner_product`.
    InnerProduct,
    /// `v · q / (|v| |q|)`, `0` when either is the zero vector:
    /// SQL `array_cosine_similarity`.
    CosineSimilarity,
    /// `sum_k (v_k - q_k)^2`: SQL `array_squared_distance`.
    SquaredDistance,
}

impl Score {
    /// The SQL name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Score::InnerProduct => "array_inner_product",
            Score::CosineSimilarity => "array_cosine_similarity",
            Score::SquaredDistance => "array_squared_distance",
        }
    }
}

/// One of the crate's SQL scalar functions, `name(v, q)`: `v` a column of
/// vectors (`FixedSizeList` or `List` of `Float32`, `Float64` or `Float16`),
/// `q` a query vector (an array literal, `make_array(...)`, or a column of
/// lists of numbers). [`register`](crate::register) registers all three.
///
/// The result is `Float32` (`Float64` for `Float64` vectors), `NULL` where `v`
/// or `q` is `NULL` or holds a `NULL` element.
///
/// ```
/// use datafusion::logical_expr::ScalarUDF;
/// use ndarray_inner_datafusion::functions::{Score, VectorFunction};
///
/// let udf = ScalarUDF::from(VectorFunction::new(Score::CosineSimilarity));
/// assert_eq!(udf.name(), "array_cosine_similarity");
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VectorFunction {
    score: Score,
    signature: Signature,
}

impl VectorFunction {
    /// The function computing `score`.
    pub fn new(score: Score) -> Self {
        Self {
            score,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    /// The three functions, ready to register.
    pub fn all() -> [ScalarUDF; 3] {
        [Score::InnerProduct, Score::CosineSimilarity, Score::SquaredDistance]
            .map(|s| ScalarUDF::from(VectorFunction::new(s)))
    }

    fn cx<'a>(&'a self, column: &'a str) -> Context<'a> {
        Context {
            function: self.score.name(),
            column,
        }
    }
}

impl ScalarUDFImpl for VectorFunction {
    fn name(&self) -> &str {
        self.score.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let cx = self.cx("v");
        let precision = vector_precision(&arg_types[0], cx)?;
        if !is_numeric_list(&arg_types[1]) {
            return query_type_error(cx, &arg_types[1]);
        }
        if let (Some(n), Some(m)) = (fixed_length(&arg_types[0]), fixed_length(&arg_types[1])) {
            if n != m {
                return datafusion::common::plan_err!(
                    "{}: the vectors have {n} elements but the query has {m}",
                    self.score.name()
                );
            }
        }
        Ok(precision.score_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let column = args.arg_fields[0].name().clone();
        let cx = self.cx(&column);
        let precision = vector_precision(args.arg_fields[0].data_type(), cx)?;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let vectors = match &args.args[0] {
            ColumnarValue::Array(a) => a.clone(),
            ColumnarValue::Scalar(s) => s.to_array_of_size(if all_scalar { 1 } else { args.number_rows })?,
        };
        let out: ArrayRef = match precision {
            Precision::F32 => Arc::new(self.score_batch::<Float32Type>(&vectors, &args.args[1], cx)?),
            Precision::F64 => Arc::new(self.score_batch::<Float64Type>(&vectors, &args.args[1], cx)?),
        };
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}

impl VectorFunction {
    /// The scores of one batch, in the precision `T`.
    fn score_batch<T>(&self, vectors: &ArrayRef, query: &ColumnarValue, cx: Context<'_>) -> Result<PrimitiveArray<T>>
    where
        T: ArrowPrimitiveType,
        T::Native: Element + SearchScalar,
    {
        let rows = ListRows::<T::Native>::new(vectors, cx)?;
        match query {
            ColumnarValue::Scalar(q) => {
                let Some(q) = scalar_query::<T::Native>(q, cx)? else {
                    return Ok(PrimitiveArray::new_null(rows.len()));
                };
                let matrix = rows.matrix(q.len(), cx, "the query")?;
                let scores = self.against_one(matrix.view(), ArrayView1::from(&q[..]));
                Ok(with_validity(scores.to_vec(), rows.validity()))
            }
            ColumnarValue::Array(qs) => {
                let qs = query_column(qs, precision_of::<T>())?;
                if !is_numeric_list(qs.data_type()) {
                    return query_type_error(cx, qs.data_type());
                }
                let queries = ListRows::<T::Native>::new(
                    &qs,
                    Context {
                        column: "of the queries",
                        ..cx
                    },
                )?;
                if queries.len() != rows.len() {
                    return exec_err!(
                        "{}: {} vectors but {} queries in one batch",
                        cx.function,
                        rows.len(),
                        queries.len()
                    );
                }
                let mut values = Vec::with_capacity(rows.len());
                let mut valid = Vec::with_capacity(rows.len());
                for i in 0..rows.len() {
                    let ok = rows.is_valid(i) && queries.is_valid(i);
                    let (v, q) = (rows.row(i), queries.row(i));
                    if ok && v.len() != q.len() {
                        return exec_err!(
                            "{}: row {i}: the vector of column {} has {} elements but the query has {}",
                            cx.function,
                            cx.column,
                            v.len(),
                            q.len()
                        );
                    }
                    values.push(if ok { self.pair(v, q) } else { T::Native::default() });
                    valid.push(ok);
                }
                Ok(with_validity(values, Some(&valid)))
            }
        }
    }

    /// The score of every row of `rows` against `q`, with the crate's kernels.
    fn against_one<A: SearchScalar>(&self, rows: ArrayView2<'_, A>, q: ArrayView1<'_, A>) -> Array1<A> {
        match self.score {
            Score::InnerProduct => rows.inner(&q),
            Score::CosineSimilarity => cosine_similarity(&q.insert_axis(Axis(0)), &rows).index_axis_move(Axis(0), 0),
            Score::SquaredDistance => {
                let q = q.as_slice().expect("a query is contiguous");
                rows.rows()
                    .into_iter()
                    .map(|r| match r.as_slice() {
                        Some(r) => squared_distance(r, q),
                        None => squared_distance(&r.to_vec(), q),
                    })
                    .collect()
            }
        }
    }

    /// The score of one vector against its own query.
    fn pair<A: SearchScalar>(&self, v: &[A], q: &[A]) -> A {
        match self.score {
            Score::InnerProduct => dot(v, q),
            Score::CosineSimilarity => {
                let den = dot(v, v).sqrt() * dot(q, q).sqrt();
                if den == A::zero() {
                    A::zero()
                } else {
                    dot(v, q) / den
                }
            }
            Score::SquaredDistance => squared_distance(v, q),
        }
    }
}

fn precision_of<T: ArrowPrimitiveType>() -> Precision {
    if T::DATA_TYPE == DataType::Float64 {
        Precision::F64
    } else {
        Precision::F32
    }
}

fn dot<A: SearchScalar>(a: &[A], b: &[A]) -> A {
    ArrayView1::from(a).inner(&ArrayView1::from(b)).into_scalar()
}

/// `sum_k (a_k - b_k)^2` in eight interleaved sums, so that it vectorises.
pub(crate) fn squared_distance<A: SearchScalar>(a: &[A], b: &[A]) -> A {
    let mut acc = [A::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let t = x[k] - y[k];
            acc[k] = acc[k] + t * t;
        }
    }
    let mut tail = A::zero();
    for (&x, &y) in ra.iter().zip(rb) {
        tail = tail + (x - y) * (x - y);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The scores as an Arrow array, NULL where `valid` is false.
fn with_validity<T: ArrowPrimitiveType>(values: Vec<T::Native>, valid: Option<&[bool]>) -> PrimitiveArray<T> {
    let nulls = valid.map(|v| NullBuffer::from(v.to_vec()));
    PrimitiveArray::new(values.into(), nulls)
}
