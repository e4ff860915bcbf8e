//! Arrow list columns as rows of vectors: a whole column (or a record batch's
//! slice of one) becomes one `(rows, d)` matrix, read in place when its layout
//! allows, with the rows that cannot be scored (NULL, or holding a NULL
//! element) marked invalid.
//!
//! Layouts read without a copy: `FixedSizeList<Float32 | Float64>` (sliced or
//! not), and `List`/`LargeList` whose rows all have the same length (what
//! Parquet written without Arrow's schema reads back as). Copied: `Float16`
//! elements (widened to `f32`), and lists whose NULL rows are shorter than the
//! others.

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use ndarray::{Array2, ArrayView2, CowArray, Ix2};

/// What an error is about: the function (or `knn`) and the column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub function: &'a str,
    pub column: &'a str,
}

/// The precision a column of vectors is scored in: `f64` for `Float64`
/// elements, `f32` for `Float32` and `Float16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    F32,
    F64,
}

impl Precision {
    /// The Arrow type of the scores.
    pub fn score_type(self) -> DataType {
        match self {
            Precision::F32 => DataType::Float32,
            Precision::F64 => DataType::Float64,
        }
    }
}

/// The element type of a list type, or `None` when `data_type` is not a list.
pub(crate) fn list_element(data_type: &DataType) -> Option<&DataType> {
    match data_type {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => Some(f.data_type()),
        _ => None,
    }
}

/// The precision of a column of vectors of type `data_type`, or a planning
/// error naming the function, the column and the type.
pub(crate) fn vector_precision(data_type: &DataType, cx: Context<'_>) -> Result<Precision> {
    match list_element(data_type) {
        Some(DataType::Float32 | DataType::Float16) => Ok(Precision::F32),
        Some(DataType::Float64) => Ok(Precision::F64),
        Some(other) => plan_err!(
            "{}: column {} holds lists of {other}; vectors must be lists of Float16, Float32 or Float64",
            cx.function,
            cx.column
        ),
        None => plan_err!(
            "{}: column {} is {data_type}, not a column of vectors (FixedSizeList or List of Float32, Float64 or Float16)",
            cx.function,
            cx.column
        ),
    }
}

/// The length of every vector of a `FixedSizeList` type, known when planning.
pub(crate) fn fixed_length(data_type: &DataType) -> Option<usize> {
    match data_type {
        DataType::FixedSizeList(_, n) => usize::try_from(*n).ok(),
        _ => None,
    }
}

/// Whether a query of type `data_type` can be read as a vector: a list of
/// numbers of any numeric type (SQL's `[0.1, 0.2]` is a `List<Float64>`,
/// `[1, 2]` a `List<Int64>`).
pub(crate) fn is_numeric_list(data_type: &DataType) -> bool {
    list_element(data_type).is_some_and(|e| e.is_numeric() || e == &DataType::Null)
}

/// The scalar types a column of vectors is computed in.
pub(crate) trait Element: Copy + Default + Send + Sync + 'static {
    /// The element's values `[start, end)` of a list's child array, borrowed
    /// when the child already holds this type.
    fn child_values<'a>(child: &'a ArrayRef, start: usize, end: usize, cx: Context<'_>) -> Result<Cow<'a, [Self]>>;
    /// A query's elements, converted from any numeric type.
    fn from_f64(v: f64) -> Self;
}

impl Element for f32 {
    fn child_values<'a>(child: &'a ArrayRef, start: usize, end: usize, cx: Context<'_>) -> Result<Cow<'a, [f32]>> {
        match child.data_type() {
            DataType::Float32 => Ok(Cow::Borrowed(&child.as_primitive::<Float32Type>().values()[start..end])),
            DataType::Float16 => Ok(Cow::Owned(
                child.as_primitive::<Float16Type>().values()[start..end]
                    .iter()
                    .map(|h| h.to_f32())
                    .collect(),
            )),
            other => exec_err!(
                "{}: column {} holds lists of {other}, read as f32",
                cx.function,
                cx.column
            ),
        }
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
}

impl Element for f64 {
    fn child_values<'a>(child: &'a ArrayRef, start: usize, end: usize, cx: Context<'_>) -> Result<Cow<'a, [f64]>> {
        match child.data_type() {
            DataType::Float64 => Ok(Cow::Borrowed(&child.as_primitive::<Float64Type>().values()[start..end])),
            other => exec_err!(
                "{}: column {} holds lists of {other}, read as f64",
                cx.function,
                cx.column
            ),
        }
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
}

/// The rows of a list array: row `i` is `values[bounds[i]..bounds[i + 1]]`
/// (for a fixed-size list, `values[i*d..(i+1)*d]`), and it can be scored when
/// `valid[i]` (every row when `valid` is `None`).
pub(crate) struct ListRows<'a, A: Clone> {
    values: Cow<'a, [A]>,
    layout: Layout,
    valid: Option<Vec<bool>>,
    len: usize,
}

enum Layout {
    Fixed(usize),
    /// Offsets relative to the first row's.
    Offsets(Vec<usize>),
}

impl<'a, A: Element> ListRows<'a, A> {
    /// The rows of `array`, a list of the elements `A` is read from.
    pub fn new(array: &'a ArrayRef, cx: Context<'_>) -> Result<Self> {
        match array.data_type() {
            DataType::FixedSizeList(_, _) => Self::fixed(array.as_fixed_size_list(), cx),
            DataType::List(_) => Self::offsets(array.as_list::<i32>(), cx),
            DataType::LargeList(_) => Self::offsets(array.as_list::<i64>(), cx),
            other => exec_err!(
                "{}: column {} is {other}, not a column of vectors",
                cx.function,
                cx.column
            ),
        }
    }

    fn fixed(array: &'a FixedSizeListArray, cx: Context<'_>) -> Result<Self> {
        let d = usize::try_from(array.value_length()).unwrap_or(0);
        let len = array.len();
        // `values()` is already sliced to the array's rows.
        let child = array.values();
        let values = A::child_values(child, 0, len * d, cx)?;
        let valid = validity(array.nulls(), child.nulls(), len, |i| (i * d, (i + 1) * d));
        Ok(Self {
            values,
            layout: Layout::Fixed(d),
            valid,
            len,
        })
    }

    fn offsets<O: OffsetSizeTrait>(array: &'a GenericListArray<O>, cx: Context<'_>) -> Result<Self> {
        let len = array.len();
        let raw = array.value_offsets();
        let first = raw[0].as_usize();
        let bounds: Vec<usize> = raw.iter().map(|o| o.as_usize() - first).collect();
        let child = array.values();
        let values = A::child_values(child, first, raw[len].as_usize(), cx)?;
        let valid = validity(array.nulls(), child.nulls(), len, |i| {
            (first + bounds[i], first + bounds[i + 1])
        });
        Ok(Self {
            values,
            layout: Layout::Offsets(bounds),
            valid,
            len,
        })
    }

    /// The number of rows, valid or not.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether row `i` can be scored.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[i])
    }

    /// The validity of every row, `None` when all are valid.
    pub fn validity(&self) -> Option<&[bool]> {
        self.valid.as_deref()
    }

    /// Row `i`'s elements (whatever they are for an invalid row).
    pub fn row(&self, i: usize) -> &[A] {
        match &self.layout {
            Layout::Fixed(d) => &self.values[i * d..(i + 1) * d],
            Layout::Offsets(b) => &self.values[b[i]..b[i + 1]],
        }
    }

    /// The length of the first valid row with a length other than `d`, if any.
    fn mismatch(&self, d: usize) -> Option<usize> {
        match &self.layout {
            Layout::Fixed(n) => (*n != d && self.len > 0 && (0..self.len).any(|i| self.is_valid(i))).then_some(*n),
            Layout::Offsets(_) => (0..self.len)
                .filter(|&i| self.is_valid(i))
                .map(|i| self.row(i).len())
                .find(|&n| n != d),
        }
    }

    /// Every row as one `(len, d)` matrix: a view of the column's values when
    /// every row holds `d` of them, else a copy with zeros in the invalid rows.
    ///
    /// # Errors
    ///
    /// When a valid row has a length other than `d`, naming both lengths.
    pub fn matrix(&self, d: usize, cx: Context<'_>, other: &str) -> Result<CowArray<'_, A, Ix2>> {
        if let Some(n) = self.mismatch(d) {
            return exec_err!(
                "{}: the vectors of column {} have {n} elements but {other} has {d}",
                cx.function,
                cx.column
            );
        }
        let uniform = match &self.layout {
            Layout::Fixed(n) => *n == d,
            Layout::Offsets(b) => b.windows(2).all(|w| w[1] - w[0] == d),
        };
        if uniform {
            let view = ArrayView2::from_shape((self.len, d), &self.values[..self.len * d])
                .expect("the rows are contiguous and of length d");
            return Ok(CowArray::from(view));
        }
        let mut out = Array2::from_elem((self.len, d), A::default());
        for (i, mut dst) in out.rows_mut().into_iter().enumerate() {
            if self.is_valid(i) {
                dst.as_slice_mut()
                    .expect("a new array is in C order")
                    .copy_from_slice(self.row(i));
            }
        }
        Ok(CowArray::from(out))
    }
}

/// Row validity from the list's NULL rows and its elements' NULLs: `None`
/// when every row is valid.
fn validity(
    rows: Option<&NullBuffer>,
    elements: Option<&NullBuffer>,
    len: usize,
    range: impl Fn(usize) -> (usize, usize),
) -> Option<Vec<bool>> {
    let rows = rows.filter(|n| n.null_count() > 0);
    let elements = elements.filter(|n| n.null_count() > 0);
    if rows.is_none() && elements.is_none() {
        return None;
    }
    let valid = (0..len)
        .map(|i| {
            rows.is_none_or(|n| n.is_valid(i))
                && elements.is_none_or(|n| {
                    let (start, end) = range(i);
                    (start..end).all(|j| n.is_valid(j))
                })
        })
        .collect();
    Some(valid)
}

/// A query vector given as a scalar (a SQL array literal or `make_array`):
/// `None` for a NULL query or one holding a NULL element.
///
/// # Errors
///
/// When `query` is not a list of numbers.
pub(crate) fn scalar_query<A: Element>(query: &ScalarValue, cx: Context<'_>) -> Result<Option<Vec<A>>> {
    let list: ArrayRef = match query {
        ScalarValue::List(a) => a.clone(),
        ScalarValue::LargeList(a) => a.clone(),
        ScalarValue::FixedSizeList(a) => a.clone(),
        ScalarValue::Null => return Ok(None),
        other => return query_type_error(cx, &other.data_type()),
    };
    if !is_numeric_list(list.data_type()) {
        return query_type_error(cx, list.data_type());
    }
    if list.is_empty() || list.is_null(0) {
        return Ok(None);
    }
    let values = match list.data_type() {
        DataType::List(_) => list.as_list::<i32>().value(0),
        DataType::LargeList(_) => list.as_list::<i64>().value(0),
        _ => list.as_fixed_size_list().value(0),
    };
    if values.null_count() > 0 {
        return Ok(None);
    }
    let floats = arrow::compute::cast(&values, &DataType::Float64)?;
    Ok(Some(
        floats
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|&v| A::from_f64(v))
            .collect(),
    ))
}

/// The error for a query that is not a list of numbers.
pub(crate) fn query_type_error<T>(cx: Context<'_>, found: &DataType) -> Result<T> {
    plan_err!(
        "{}: the query must be a list of numbers (an array literal such as [0.1, 0.2], or make_array(...)), got {found}",
        cx.function
    )
}

/// A column of queries (one per row) read in the precision `A`: lists of any
/// numeric type are cast to `A`'s float type first.
pub(crate) fn query_column(array: &ArrayRef, precision: Precision) -> Result<ArrayRef> {
    let element = match precision {
        Precision::F32 => DataType::Float32,
        Precision::F64 => DataType::Float64,
    };
    let target = match array.data_type() {
        DataType::List(f) => DataType::List(f.as_ref().clone().with_data_type(element).into()),
        DataType::LargeList(f) => DataType::LargeList(f.as_ref().clone().with_data_type(element).into()),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(f.as_ref().clone().with_data_type(element).into(), *n),
        _ => return Ok(array.clone()),
    };
    if &target == array.data_type() {
        return Ok(array.clone());
    }
    Ok(arrow::compute::cast(array, &target)?)
}
