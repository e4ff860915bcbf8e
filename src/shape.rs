//! Shape logic: the output shape and its typed dimension, the overflow checks,
//! and the merging of leading axes that turns an operand into a 2-D view.

use ndarray::{Array, ArrayRef, Axis, CowArray, Dimension, Ix0, Ix1, Ix2, Ix3, Ix4, Ix5, Ix6, IxDyn};

use crate::kernel::InnerScalar;
use crate::paths::{record, Path};
use crate::InnerError;

/// The dimension type of `inner`'s output for operands of dimension `Self` and `E`.
///
/// The output has `(ndim(a) - 1) + (ndim(b) - 1)` axes, so `Ix2 · Ix1 -> Ix1`,
/// `Ix2 · Ix2 -> Ix2`, `Ix3 · Ix2 -> Ix3`; a 0-d operand multiplies, so
/// `Ix0 · IxN -> IxN`. Results with more than six axes, and any `IxDyn`
/// operand, give `IxDyn`.
///
/// ```
/// use ndarray::{Array0, Array1, Array2, Array3, ArrayD, IxDyn};
/// use ndarray_inner::InnerExt;
///
/// let a3 = Array3::<f64>::ones((2, 3, 4));
/// let a2 = Array2::<f64>::ones((5, 4));
/// let a1 = Array1::<f64>::ones(4);
/// let c: Array3<f64> = a3.inner(&a2);
/// assert_eq!(c.shape(), &[2, 3, 5]);
/// let v: Array1<f64> = a2.inner(&a1);
/// assert_eq!(v.shape(), &[5]);
/// let s: f64 = a1.inner(&a1).into_scalar();
/// assert_eq!(s, 4.0);
/// let d: ArrayD<f64> = a2.inner(&ArrayD::<f64>::ones(IxDyn(&[4])));
/// assert_eq!(d.shape(), &[5]);
/// ```
pub trait InnerDim<E: Dimension>: Dimension {
    /// Dimension type of the output.
    type Output: Dimension;
}

macro_rules! inner_dims {
    ($($a:ty, $b:ty => $out:ty;)*) => {
        $(impl InnerDim<$b> for $a { type Output = $out; })*
    };
}

inner_dims! {
    Ix0, Ix0 => Ix0;
    Ix0, Ix1 => Ix1;
    Ix0, Ix2 => Ix2;
    Ix0, Ix3 => Ix3;
    Ix0, Ix4 => Ix4;
    Ix0, Ix5 => Ix5;
    Ix0, Ix6 => Ix6;
    Ix1, Ix0 => Ix1;
    Ix1, Ix1 => Ix0;
    Ix1, Ix2 => Ix1;
    Ix1, Ix3 => Ix2;
    Ix1, Ix4 => Ix3;
    Ix1, Ix5 => Ix4;
    Ix1, Ix6 => Ix5;
    Ix2, Ix0 => Ix2;
    Ix2, Ix1 => Ix1;
    Ix2, Ix2 => Ix2;
    Ix2, Ix3 => Ix3;
    Ix2, Ix4 => Ix4;
    Ix2, Ix5 => Ix5;
    Ix2, Ix6 => Ix6;
    Ix3, Ix0 => Ix3;
    Ix3, Ix1 => Ix2;
    Ix3, Ix2 => Ix3;
    Ix3, Ix3 => Ix4;
    Ix3, Ix4 => Ix5;
    Ix3, Ix5 => Ix6;
    Ix3, Ix6 => IxDyn;
    Ix4, Ix0 => Ix4;
    Ix4, Ix1 => Ix3;
    Ix4, Ix2 => Ix4;
    Ix4, Ix3 => Ix5;
    Ix4, Ix4 => Ix6;
    Ix4, Ix5 => IxDyn;
    Ix4, Ix6 => IxDyn;
    Ix5, Ix0 => Ix5;
    Ix5, Ix1 => Ix4;
    Ix5, Ix2 => Ix5;
    Ix5, Ix3 => Ix6;
    Ix5, Ix4 => IxDyn;
    Ix5, Ix5 => IxDyn;
    Ix5, Ix6 => IxDyn;
    Ix6, Ix0 => Ix6;
    Ix6, Ix1 => Ix5;
    Ix6, Ix2 => Ix6;
    Ix6, Ix3 => IxDyn;
    Ix6, Ix4 => IxDyn;
    Ix6, Ix5 => IxDyn;
    Ix6, Ix6 => IxDyn;
    Ix0, IxDyn => IxDyn;
    IxDyn, Ix0 => IxDyn;
    Ix1, IxDyn => IxDyn;
    IxDyn, Ix1 => IxDyn;
    Ix2, IxDyn => IxDyn;
    IxDyn, Ix2 => IxDyn;
    Ix3, IxDyn => IxDyn;
    IxDyn, Ix3 => IxDyn;
    Ix4, IxDyn => IxDyn;
    IxDyn, Ix4 => IxDyn;
    Ix5, IxDyn => IxDyn;
    IxDyn, Ix5 => IxDyn;
    Ix6, IxDyn => IxDyn;
    IxDyn, Ix6 => IxDyn;
    IxDyn, IxDyn => IxDyn;
}

/// The shape of `inner(a, b)`, or NumPy's "not aligned" error.
pub(crate) fn output_shape(a: &[usize], b: &[usize]) -> Result<IxDyn, InnerError> {
    let out: IxDyn = match (a.split_last(), b.split_last()) {
        (None, _) => IxDyn(b),
        (_, None) => IxDyn(a),
        (Some((ka, a_lead)), Some((kb, b_lead))) => {
            if ka != kb {
                return Err(InnerError::NotAligned {
                    a_shape: a.to_vec(),
                    b_shape: b.to_vec(),
                    a_axis: a.len() - 1,
                    b_axis: b.len() - 1,
                });
            }
            let mut out = IxDyn::zeros(a_lead.len() + b_lead.len());
            out.slice_mut()[..a_lead.len()].copy_from_slice(a_lead);
            out.slice_mut()[a_lead.len()..].copy_from_slice(b_lead);
            out
        }
    };
    Ok(out)
}

/// The number of elements of `shape`, if the array fits in `isize::MAX` bytes
/// of `A` (the limit every Rust allocation and ndarray array obeys).
pub(crate) fn checked_len<A>(shape: &[usize]) -> Option<usize> {
    let len = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    let bytes = len.checked_mul(std::mem::size_of::<A>().max(1))?;
    (bytes <= isize::MAX as usize).then_some(len)
}

/// Builds the typed dimension `D` from a shape whose length is `D`'s ndim.
pub(crate) fn dim_of<D: Dimension>(shape: &[usize]) -> D {
    let mut dim = D::zeros(shape.len());
    dim.slice_mut().copy_from_slice(shape);
    dim
}

/// A C-order array of `shape` filled with the type's zero, or [`InnerError::TooLarge`]
/// when its size overflows or the allocator refuses it (never an abort).
pub(crate) fn zeros_checked<A, D>(shape: &[usize], a: &[usize], b: &[usize]) -> Result<Array<A, D>, InnerError>
where
    A: InnerScalar,
    D: Dimension,
{
    let too_large = || InnerError::TooLarge {
        a_shape: a.to_vec(),
        b_shape: b.to_vec(),
        out_shape: shape.to_vec(),
    };
    let len = checked_len::<A>(shape).ok_or_else(too_large)?;
    // Every element type's empty sum is all zero bits (`Kernel: Zeroable`).
    let data = crate::output::zeroed::<A>(len).ok_or_else(too_large)?;
    Ok(Array::from_shape_vec(dim_of::<D>(shape), data).expect("length matches the shape"))
}

/// Views an operand of ndim >= 1 as the matrix `(product of leading axes, last axis)`.
///
/// ndarray's `to_shape` merges axes by their strides (an axis merges with the next
/// when `stride[i] == stride[i + 1] * len[i + 1]`, axes of length 1 drop out), so C
/// order and every other layout whose leading axes nest this way give a view; the
/// last axis keeps whatever stride it has (negative, zero, stepped). Only a layout
/// that cannot be viewed so (leading axes in F order, a broadcast leading axis) is
/// copied, once, into C order.
pub(crate) fn as_matrix<A: Clone, D: Dimension>(v: &ArrayRef<A, D>) -> CowArray<'_, A, Ix2> {
    // 1-D and 2-D operands are views as they stand: skip the general reshape, which
    // is a quarter of a tiny call's time.
    match v.ndim() {
        1 => {
            let row = v.view().into_dimensionality::<Ix1>().expect("ndim is 1");
            return CowArray::from(row.insert_axis(Axis(0)));
        }
        2 => return CowArray::from(v.view().into_dimensionality::<Ix2>().expect("ndim is 2")),
        _ => {}
    }
    let (&k, lead) = v.shape().split_last().expect("operand has at least one axis");
    let m: usize = lead.iter().product();
    let matrix = v.to_shape((m, k)).expect("(m, k) has the operand's element count");
    if matrix.is_owned() {
        record(Path::OperandCopy);
    }
    matrix
}
