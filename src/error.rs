//! The one error type of the crate, with the shapes of the operands in it.

use std::fmt;

/// Why an inner product (or a search) could not be computed.
///
/// Every variant carries the shapes involved, and its `Display` reads the way
/// NumPy's own messages do, so a NumPy user recognises it:
///
/// ```
/// use ndarray::array;
/// use ndarray_inner::{InnerError, InnerExt};
///
/// let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let b = array![1.0, 2.0, 3.0, 4.0];
/// let err = a.try_inner(&b).unwrap_err();
/// assert_eq!(err.to_string(), "shapes (2,3) and (4,) not aligned: 3 (dim 1) != 4 (dim 0)");
/// assert!(matches!(err, InnerError::NotAligned { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InnerError {
    /// The contracted axes have different lengths.
    NotAligned {
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The contracted axis of the left operand.
        a_axis: usize,
        /// The contracted axis of the right operand.
        b_axis: usize,
    },
    /// The array given to [`inner_into`](crate::InnerExt::inner_into) does not have the output shape.
    OutShape {
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The shape the output must have.
        expected: Vec<usize>,
        /// The shape of the array that was passed.
        found: Vec<usize>,
    },
    /// An axis passed to [`inner_axes`](crate::InnerExt::inner_axes) is out of range
    /// (a 0-d operand has no axis at all).
    AxisOutOfBounds {
        /// `"a"` or `"b"`: which operand the axis belongs to.
        operand: &'static str,
        /// The axis that was asked for.
        axis: usize,
        /// Shape of that operand.
        shape: Vec<usize>,
    },
    /// The output's element count or byte size does not fit in `isize::MAX`,
    /// or the allocator refused the output.
    TooLarge {
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The shape of the output that could not be made.
        out_shape: Vec<usize>,
    },
    /// [`tensordot`](crate::InnerExt::tensordot) was given lists of axes of different
    /// lengths (NumPy: `shape-mismatch for sum`).
    TensordotAxesCount {
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The axes of the left operand that were given.
        axes_a: Vec<usize>,
        /// The axes of the right operand that were given.
        axes_b: Vec<usize>,
    },
    /// An axis given to [`tensordot`](crate::InnerExt::tensordot) is out of range for
    /// its operand (a 0-d operand has none).
    TensordotAxisOutOfBounds {
        /// `'a'` or `'b'`: which operand the axis belongs to (a `char`, where
        /// [`AxisOutOfBounds`](InnerError::AxisOutOfBounds) has a `&str`, to keep the
        /// error small).
        operand: char,
        /// The axis that was asked for.
        axis: usize,
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The axes of the left operand that were given.
        axes_a: Vec<usize>,
        /// The axes of the right operand that were given.
        axes_b: Vec<usize>,
    },
    /// An axis appears twice in one operand's axes given to
    /// [`tensordot`](crate::InnerExt::tensordot).
    TensordotRepeatedAxis {
        /// `'a'` or `'b'`: which operand the axis belongs to.
        operand: char,
        /// The repeated axis.
        axis: usize,
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The axes of the left operand that were given.
        axes_a: Vec<usize>,
        /// The axes of the right operand that were given.
        axes_b: Vec<usize>,
    },
    /// Two axes paired by [`tensordot`](crate::InnerExt::tensordot) have different
    /// lengths (NumPy: `shape-mismatch for sum`).
    TensordotShapeMismatch {
        /// The axis of the left operand.
        a_axis: usize,
        /// The axis of the right operand paired with it.
        b_axis: usize,
        /// Shape of the left operand.
        a_shape: Vec<usize>,
        /// Shape of the right operand.
        b_shape: Vec<usize>,
        /// The axes of the left operand that were given.
        axes_a: Vec<usize>,
        /// The axes of the right operand that were given.
        axes_b: Vec<usize>,
    },
    /// A search asked for `k = 0` neighbours.
    InvalidK {
        /// The `k` that was asked for.
        k: usize,
    },
    /// A part given to [`TopK::merge`](crate::search::TopK::merge) has `indices` and
    /// `scores` of different shapes (its public fields were edited).
    PartShapes {
        /// The part's position in the slice given to `merge`.
        part: usize,
        /// Shape of its `indices`.
        indices_shape: Vec<usize>,
        /// Shape of its `scores`.
        scores_shape: Vec<usize>,
    },
    /// A part given to [`TopK::merge`](crate::search::TopK::merge) has an offset that,
    /// added to one of its indices, overflows `usize`.
    PartOffset {
        /// The part's position in the slice given to `merge`.
        part: usize,
        /// Its offset.
        offset: usize,
        /// Its largest index.
        index: usize,
    },
    /// The parts given to [`TopK::merge`](crate::search::TopK::merge) were searched
    /// with different metrics.
    MetricMismatch {
        /// The position of the first part whose metric differs from part 0's.
        part: usize,
        /// Part 0's metric.
        expected: crate::search::Metric,
        /// That part's metric.
        found: crate::search::Metric,
    },
    /// A [`FlatIndex`](crate::search::FlatIndex) was given a number of ids other
    /// than its number of rows.
    IdsLength {
        /// The rows given.
        rows: usize,
        /// The ids given.
        ids: usize,
    },
    /// A [`FlatIndex`](crate::search::FlatIndex) was given an id twice, or an id
    /// it already holds.
    DuplicateId {
        /// The id.
        id: usize,
        /// Whether the index already held it (else it was repeated in the call).
        existing: bool,
    },
    /// The id `usize::MAX` marks padding in search results and cannot be a row's
    /// id (also: ids numbered by [`FlatIndex::add`](crate::search::FlatIndex::add)
    /// would reach it).
    ReservedId {
        /// The id.
        id: usize,
    },
    /// A range search was given a NaN radius.
    InvalidRadius,
    /// A file or folder of a saved index could not be read or written.
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What the operating system said, as [`std::io::ErrorKind`].
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A file is not what a saved index (or, for
    /// [`from_npy`](crate::search::FlatIndex::from_npy), a `.npy` array of the
    /// index's element type) must be: truncated, a wrong magic string or format
    /// version, another element type, shape or metric.
    BadFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A memory-mapped [`FlatIndex`](crate::search::FlatIndex) was asked to
    /// change its rows: its vectors stay in the file, read-only.
    ReadOnly {
        /// The mapped file.
        path: std::path::PathBuf,
    },
}

impl InnerError {
    /// An [`InnerError::Io`] for `path`.
    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        InnerError::Io {
            path: path.to_path_buf(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    /// An [`InnerError::BadFile`] for `path`.
    pub(crate) fn bad_file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        InnerError::BadFile {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Formats a shape as NumPy prints it: `()`, `(4,)`, `(2,3)`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(","))
        }
    }
}

/// The length of axis `axis`, or `?` for a hand-made error whose axis is out of range.
fn dim_or_none(shape: &[usize], axis: usize) -> String {
    shape.get(axis).map_or_else(|| "?".to_string(), |d| d.to_string())
}

/// `1 axis`, `2 axes`.
fn count_axes(n: usize) -> String {
    if n == 1 {
        "1 axis".to_string()
    } else {
        format!("{n} axes")
    }
}

/// The call as a NumPy user would have written it:
/// `tensordot of shapes (2,3,4) and (3,5) with axes=([1, 2], [0, 1])`.
fn tensordot_call(a_shape: &[usize], b_shape: &[usize], axes_a: &[usize], axes_b: &[usize]) -> String {
    format!(
        "tensordot of shapes {} and {} with axes=({axes_a:?}, {axes_b:?})",
        fmt_shape(a_shape),
        fmt_shape(b_shape)
    )
}

impl fmt::Display for InnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InnerError::NotAligned {
                a_shape,
                b_shape,
                a_axis,
                b_axis,
            } => write!(
                f,
                "shapes {} and {} not aligned: {} (dim {}) != {} (dim {})",
                fmt_shape(a_shape),
                fmt_shape(b_shape),
                dim_or_none(a_shape, *a_axis),
                a_axis,
                dim_or_none(b_shape, *b_axis),
                b_axis
            ),
            InnerError::OutShape {
                a_shape,
                b_shape,
                expected,
                found,
            } => write!(
                f,
                "output array has shape {} but the inner product of shapes {} and {} has shape {}",
                fmt_shape(found),
                fmt_shape(a_shape),
                fmt_shape(b_shape),
                fmt_shape(expected)
            ),
            InnerError::AxisOutOfBounds { operand, axis, shape } => write!(
                f,
                "axis {} is out of bounds for array of dimension {} (operand {} of shape {})",
                axis,
                shape.len(),
                operand,
                fmt_shape(shape)
            ),
            InnerError::TooLarge {
                a_shape,
                b_shape,
                out_shape,
            } => write!(
                f,
                "shapes {} and {} give an output of shape {} that is too large to allocate",
                fmt_shape(a_shape),
                fmt_shape(b_shape),
                fmt_shape(out_shape)
            ),
            InnerError::TensordotAxesCount {
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            } => write!(
                f,
                "shape-mismatch for sum: {} of a but {} of b ({})",
                count_axes(axes_a.len()),
                count_axes(axes_b.len()),
                tensordot_call(a_shape, b_shape, axes_a, axes_b)
            ),
            InnerError::TensordotAxisOutOfBounds {
                operand,
                axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            } => {
                let ndim = if *operand == 'a' { a_shape.len() } else { b_shape.len() };
                write!(
                    f,
                    "axis {axis} is out of bounds for array of dimension {ndim} (operand {operand}; {})",
                    tensordot_call(a_shape, b_shape, axes_a, axes_b)
                )
            }
            InnerError::TensordotRepeatedAxis {
                operand,
                axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            } => write!(
                f,
                "duplicate axes are not allowed in tensordot: axis {axis} of {operand} is given twice ({})",
                tensordot_call(a_shape, b_shape, axes_a, axes_b)
            ),
            InnerError::TensordotShapeMismatch {
                a_axis,
                b_axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            } => write!(
                f,
                "shape-mismatch for sum: axis {a_axis} of a has length {} but axis {b_axis} of b has length {} ({})",
                dim_or_none(a_shape, *a_axis),
                dim_or_none(b_shape, *b_axis),
                tensordot_call(a_shape, b_shape, axes_a, axes_b)
            ),
            InnerError::InvalidK { k } => write!(f, "k must be at least 1, got k = {k}"),
            InnerError::PartShapes {
                part,
                indices_shape,
                scores_shape,
            } => write!(
                f,
                "TopK::merge: part {part} has indices of shape {} but scores of shape {}",
                fmt_shape(indices_shape),
                fmt_shape(scores_shape)
            ),
            InnerError::PartOffset { part, offset, index } => write!(
                f,
                "TopK::merge: part {part} has offset {offset}, and offset + index {index} overflows usize"
            ),
            InnerError::MetricMismatch { part, expected, found } => write!(
                f,
                "TopK::merge: part {part} was searched by {found:?} but part 0 by {expected:?}"
            ),
            InnerError::IdsLength { rows, ids } => write!(f, "FlatIndex: {rows} rows but {ids} ids"),
            InnerError::DuplicateId { id, existing: true } => {
                write!(f, "FlatIndex: id {id} is already in the index")
            }
            InnerError::DuplicateId { id, existing: false } => write!(f, "FlatIndex: id {id} is given twice"),
            InnerError::ReservedId { id } => write!(
                f,
                "FlatIndex: id {id} (usize::MAX) is reserved for the padding of search results"
            ),
            InnerError::InvalidRadius => write!(f, "range search: the radius is NaN"),
            InnerError::Io { path, message, .. } => write!(f, "{}: {message}", path.display()),
            InnerError::BadFile { path, reason } => write!(f, "{}: {reason}", path.display()),
            InnerError::ReadOnly { path } => write!(
                f,
                "FlatIndex: the rows are memory-mapped from {} and read-only (use FlatIndex::load for an index \
                 that can change)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for InnerError {}
