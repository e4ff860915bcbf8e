//! What a [`FlatIndex`](super::FlatIndex) stores: the element types
//! ([`StoredScalar`]), each with the type its queries and scores use, and the
//! widening of stored rows to that type. The engine reads an `f32` or `f64`
//! database in place; a half-precision one is widened a block at a time into a
//! scratch of `f32` rows, and the `f32` kernels run on that, so every score is
//! the `f32` computation on the stored values.

use std::fmt::Debug;

use half::{bf16, f16};
use ndarray::{ArrayView, ArrayView1, ArrayView2, Dimension};

use super::cosine::norms;
use super::kernel::{self, norms_into};
use super::SearchScalar;

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// The element types a [`FlatIndex`](super::FlatIndex) stores its database in:
/// `f32` and `f64`, searched as they are, and the half-precision `half::f16` and
/// `half::bf16`, which take half the memory and half the memory bandwidth of
/// `f32`, and are searched with `f32` queries into `f32` scores. Sealed.
///
/// | stored | bytes per element | queries and scores | scores are |
/// |---|---|---|---|
/// | `f32` | 4 | `f32` | the `f32` computation |
/// | `f64` | 8 | `f64` | the `f64` computation |
/// | `half::f16` | 2 | `f32` | the `f32` computation on the stored (widened) values |
/// | `half::bf16` | 2 | `f32` | the `f32` computation on the stored (widened) values |
///
/// Widening a half value to `f32` is exact, so a half-precision index gives the
/// same results, bit for bit, as an `f32` index over the widened rows; what half
/// precision loses is in the rounding of the vectors when they are stored
/// (relative `2⁻¹¹` for `f16`, `2⁻⁸` for `bf16`, and `f16` holds magnitudes up to
/// 65504 only), which the caller measures as recall against the original vectors.
///
/// ```
/// use half::f16;
/// use ndarray::{array, Array2};
/// use ndarray_inner::search::{FlatIndex, Metric, StoredScalar, TopK};
///
/// let database: Array2<f16> = array![[1.0f32, 0.0], [0.6, 0.8]].mapv(f16::from_f32);
/// let index: FlatIndex<f16> = FlatIndex::new(database, Metric::InnerProduct);
/// let hits: TopK<f32> = index.search(&array![0.0f32, 1.0], 1)?;
/// assert_eq!(hits.indices, array![[1]]);
/// // The score of the stored value: 0.8 rounded to f16 is 0.7998047.
/// assert_eq!(hits.scores[[0, 0]], f16::from_f32(0.8).to_f32());
///
/// fn bytes_per_row<S: StoredScalar>(index: &FlatIndex<S>) -> usize {
///     index.dim() * std::mem::size_of::<S>()
/// }
/// assert_eq!(bytes_per_row(&index), 4);
/// # Ok::<(), ndarray_inner::InnerError>(())
/// ```
pub trait StoredScalar: Copy + Debug + Default + PartialEq + Send + Sync + 'static + private::Sealed {
    /// The element type of the queries and scores of a search of stored rows.
    type Compute: SearchScalar;

    /// The view itself when the stored type is the computing type; else given back.
    #[doc(hidden)]
    fn compute_view<D: Dimension>(
        view: ArrayView<'_, Self, D>,
    ) -> Result<ArrayView<'_, Self::Compute, D>, ArrayView<'_, Self, D>>;

    /// `dst[i] = src[i]` in the computing type (exact).
    #[doc(hidden)]
    fn widen_slice(src: &[Self], dst: &mut [Self::Compute]);

    /// A value of the computing type as stored (rounded to nearest for half types).
    #[doc(hidden)]
    fn from_compute(x: Self::Compute) -> Self;

    /// The value in the computing type (exact).
    #[doc(hidden)]
    fn to_compute(self) -> Self::Compute;

    /// `out[i * n + j] = q_i · x_j` for C-order query rows `qs` and stored rows
    /// `xs`, equal bit for bit to `kernel::dots_few` on the widened rows.
    #[doc(hidden)]
    fn dots_few(qs: &[Self::Compute], xs: &[Self], d: usize, out: &mut [Self::Compute]);

    /// The elements whose little-endian bytes are `bytes`, in place: `None` when
    /// `bytes` is misaligned or not a whole number of elements (or the machine
    /// is big-endian).
    #[doc(hidden)]
    fn cast_bytes(bytes: &[u8]) -> Option<&[Self]>;

    /// The elements' bytes, in place.
    #[doc(hidden)]
    fn as_bytes(values: &[Self]) -> &[u8];

    /// A mutable view of the elements' bytes, to read a file into.
    #[doc(hidden)]
    fn as_bytes_mut(values: &mut [Self]) -> &mut [u8];

    /// The `.npy` type descriptor of the stored elements (bf16, which NumPy
    /// lacks, as its bits: `<u2`).
    #[doc(hidden)]
    const NPY_DESCR: &'static str;

    /// The element's name in files and messages: `f32`, `f64`, `f16`, `bf16`.
    #[doc(hidden)]
    const NAME: &'static str;
}

/// [`StoredScalar::cast_bytes`] for every type.
fn cast_le<T: bytemuck::Pod>(bytes: &[u8]) -> Option<&[T]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    bytemuck::try_cast_slice(bytes).ok()
}

macro_rules! full_precision {
    ($($t:ident => $descr:literal),*) => {$(
        impl StoredScalar for $t {
            type Compute = $t;
            const NPY_DESCR: &'static str = $descr;
            const NAME: &'static str = stringify!($t);
            fn cast_bytes(bytes: &[u8]) -> Option<&[$t]> { cast_le(bytes) }
            fn as_bytes(values: &[$t]) -> &[u8] { bytemuck::cast_slice(values) }
            fn as_bytes_mut(values: &mut [$t]) -> &mut [u8] { bytemuck::cast_slice_mut(values) }
            fn compute_view<D: Dimension>(
                view: ArrayView<'_, $t, D>,
            ) -> Result<ArrayView<'_, $t, D>, ArrayView<'_, $t, D>> {
                Ok(view)
            }
            fn widen_slice(src: &[$t], dst: &mut [$t]) {
                dst.copy_from_slice(src);
            }
            fn from_compute(x: $t) -> $t { x }
            fn to_compute(self) -> $t { self }
            fn dots_few(qs: &[$t], xs: &[$t], d: usize, out: &mut [$t]) {
                kernel::dots_few(qs, xs, d, out);
            }
        }
    )*};
}
full_precision!(f32 => "<f4", f64 => "<f8");

macro_rules! half_precision {
    ($($t:ident => $descr:literal, $widen:ident, $dots:ident),*) => {$(
        impl StoredScalar for $t {
            type Compute = f32;
            const NPY_DESCR: &'static str = $descr;
            const NAME: &'static str = stringify!($t);
            fn cast_bytes(bytes: &[u8]) -> Option<&[$t]> { cast_le(bytes) }
            fn as_bytes(values: &[$t]) -> &[u8] { bytemuck::cast_slice(values) }
            fn as_bytes_mut(values: &mut [$t]) -> &mut [u8] { bytemuck::cast_slice_mut(values) }
            fn compute_view<D: Dimension>(
                view: ArrayView<'_, $t, D>,
            ) -> Result<ArrayView<'_, f32, D>, ArrayView<'_, $t, D>> {
                Err(view)
            }
            fn widen_slice(src: &[$t], dst: &mut [f32]) {
                kernel::$widen(src, dst);
            }
            fn from_compute(x: f32) -> $t { <$t>::from_f32(x) }
            fn to_compute(self) -> f32 { self.to_f32() }
            fn dots_few(qs: &[f32], xs: &[$t], d: usize, out: &mut [f32]) {
                if d == 0 {
                    out.fill(0.0);
                } else {
                    kernel::$dots(qs, xs, d, out);
                }
            }
        }
    )*};
}
half_precision!(f16 => "<f2", widen_f16, dots_few_f16, bf16 => "<u2", widen_bf16, dots_few_bf16);

/// Appends `row` to `out` in the computing type.
pub(crate) fn extend_widened<S: StoredScalar>(row: ArrayView1<'_, S>, out: &mut Vec<S::Compute>) {
    match row.as_slice() {
        Some(src) => {
            let start = out.len();
            out.resize(start + src.len(), <S::Compute as num_traits::Zero>::zero());
            S::widen_slice(src, &mut out[start..]);
        }
        None => out.extend(row.iter().map(|&x| x.to_compute())),
    }
}

/// `|row|` of every stored row, in the computing type: the norms of the widened
/// rows, equal bit for bit to those of an index over the widened rows.
pub(crate) fn stored_norms<S: StoredScalar>(rows: ArrayView2<'_, S>) -> Vec<S::Compute> {
    match S::compute_view(rows) {
        Ok(rows) => norms(&rows),
        Err(rows) => {
            let mut out = Vec::with_capacity(rows.nrows());
            let mut buf = Vec::with_capacity(rows.ncols());
            for row in rows.rows() {
                buf.clear();
                extend_widened(row, &mut buf);
                norms_into(&buf, 1, &mut out);
            }
            out
        }
    }
}

/// The rows of an index: in memory, or mapped from a `.npy` file.
#[derive(Debug, Clone)]
pub(crate) enum Vectors<S> {
    /// C order, `len * dim` elements.
    Owned(Vec<S>),
    /// The data of a `.npy` file, read-only.
    Mapped(Mapped),
}

/// A mapped `.npy` file's data: `bytes` bytes from `offset`, checked (length,
/// alignment) when the file was opened.
#[derive(Debug, Clone)]
pub(crate) struct Mapped {
    pub map: std::sync::Arc<memmap2::Mmap>,
    pub offset: usize,
    pub bytes: usize,
    pub path: std::path::PathBuf,
}

impl<S: StoredScalar> Vectors<S> {
    /// Every element, C order.
    pub fn as_slice(&self) -> &[S] {
        match self {
            Vectors::Owned(v) => v,
            Vectors::Mapped(m) => S::cast_bytes(&m.map[m.offset..m.offset + m.bytes]).expect("checked when mapped"),
        }
    }

    /// The rows to change, or [`InnerError::ReadOnly`] for a mapped file.
    pub fn owned_mut(&mut self) -> Result<&mut Vec<S>, crate::InnerError> {
        match self {
            Vectors::Owned(v) => Ok(v),
            Vectors::Mapped(m) => Err(crate::InnerError::ReadOnly { path: m.path.clone() }),
        }
    }
}
