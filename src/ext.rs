//! The extension trait [`InnerExt`] and its one generic implementation.

use ndarray::{Array, Array2, ArrayD, ArrayRef, ArrayViewMut, Axis, Dimension};

use crate::kernel::InnerScalar;
use crate::paths::{record, Path};
use crate::shape::{as_matrix, output_shape, zeros_checked, InnerDim};
use crate::tensordot::tensordot;
use crate::InnerError;

mod private {
    pub trait Sealed {}
    impl<A, D> Sealed for ndarray::ArrayRef<A, D> {}
}

/// The output array type of `a.inner(&b)` for `a` of dimension `D`, `b` of dimension `E`.
///
/// Handy in generic code and signatures:
///
/// ```
/// use ndarray::{Array2, Ix2, Ix1};
/// use ndarray_inner::{InnerExt, InnerOutput};
///
/// fn scores(q: &Array2<f32>, x: &Array2<f32>) -> InnerOutput<f32, Ix2, Ix2> {
///     q.inner(x)
/// }
/// let s = scores(&Array2::ones((2, 3)), &Array2::ones((4, 3)));
/// assert_eq!(s.shape(), &[2, 4]);
/// let _: InnerOutput<f32, Ix2, Ix1> = s.inner(&s.row(0));
/// ```
pub type InnerOutput<A, D, E> = Array<A, <D as InnerDim<E>>::Output>;

/// NumPy's `np.inner` and its relatives as methods of every ndarray array.
///
/// Implemented once for [`ArrayRef<A, D>`](ndarray::ArrayRef), which every
/// `Array`, `ArrayView`, `ArrayViewMut`, `ArcArray` and `CowArray` dereferences to;
/// the right operand may be any of them too, of any dimension type. Sealed.
///
/// `inner` contracts the **last axis of both** operands: for `a` of shape
/// `(..., K)` and `b` of shape `(..., K)` the output has shape
/// `a.shape[:-1] ++ b.shape[:-1]` and
/// `out[i.., j..] = sum_k a[i.., k] * b[j.., k]`, with no conjugation (as NumPy).
/// A 0-d operand multiplies the other elementwise.
///
/// ```
/// use ndarray::{array, Array2};
/// use ndarray_inner::InnerExt;
///
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let b = array![[1.0, 3.0], [2.0, 4.0]];
/// let c: Array2<f64> = a.inner(&b); // = a · bᵀ
/// assert_eq!(c, array![[7.0, 10.0], [15.0, 22.0]]);
/// ```
///
/// # Performance
///
/// Both operands are viewed as matrices `(M, K)` and `(N, K)` by merging their
/// leading axes (a view, no copy, for every layout whose leading axes nest by
/// strides: C order, slices of it, reversed or stepped axes); one GEMM then writes
/// the C-order output. Only operands whose leading axes cannot be merged (for
/// example F order with three or more axes, or a broadcast leading axis) are copied
/// once. Integers use the crate's own blocked, vectorised kernel; tiny products skip
/// GEMM setup altogether.
///
/// # Name clash with ndarray-linalg
///
/// `use ndarray_linalg::*` brings `InnerProduct::inner` into scope, which ndarray-linalg
/// implements, like this trait, for `ArrayRef<A, Ix1>` (it conjugates `self` and returns
/// a scalar). For a 1-D receiver (`Array1`, `ArrayView1`, ...) `a.inner(&b)` is then
/// ambiguous (E0034), and so is `(*a).inner(&b)`; receivers of every other dimension
/// (`Ix2`, `IxDyn`, ...) are unaffected, as are the other methods. Import what you need
/// from ndarray-linalg by name, or call this trait's method on the `ArrayRef` that the
/// array dereferences to. The compiler's suggestion, `InnerExt::inner(&a, &b)`, does not
/// compile: the trait is implemented for `ArrayRef`, not for `Array1` or `ArrayView1`.
///
/// ```
/// use ndarray::{array, ArrayRef};
/// use ndarray_inner::InnerExt;
///
/// let a = array![1.0, 2.0];
/// let b = array![3.0, 4.0];
/// assert_eq!(InnerExt::inner(&*a, &b).into_scalar(), 11.0); // &*a: &ArrayRef<f64, Ix1>
/// assert_eq!(InnerExt::inner(&*a.view(), &b).into_scalar(), 11.0);
/// assert_eq!(<ArrayRef<_, _> as InnerExt<_, _>>::inner(&a, &b).into_scalar(), 11.0);
/// ```
///
/// ```compile_fail
/// use ndarray::array;
/// use ndarray_inner::InnerExt;
///
/// let a = array![1.0, 2.0];
/// let _ = InnerExt::inner(&a, &a); // E0277: `Array1<f64>` is not `ArrayRef`; write `&*a`
/// ```
pub trait InnerExt<A, D: Dimension>: private::Sealed {
    /// NumPy's `np.inner(self, rhs)`: the sum of products over the last axis of both.
    ///
    /// The output has shape `self.shape[:-1] ++ rhs.shape[:-1]` and a dimension type
    /// that follows from the operands' (see [`InnerDim`]): `Ix1 · Ix1 -> Ix0`,
    /// `Ix2 · Ix1 -> Ix1`, `Ix2 · Ix2 -> Ix2`, ...
    ///
    /// ```
    /// use ndarray::{array, Array1};
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![1, 2, 3];
    /// let b = array![0, 1, 0];
    /// assert_eq!(a.inner(&b).into_scalar(), 2);
    /// let m = array![[1, 2, 3], [4, 5, 6]];
    /// let v: Array1<i32> = m.inner(&a);
    /// assert_eq!(v, array![14, 32]);
    /// ```
    ///
    /// # Panics
    ///
    /// With the message of [`try_inner`](InnerExt::try_inner)'s error, when the last
    /// axes differ in length (`shapes (2,3) and (4,) not aligned: 3 (dim 1) != 4 (dim 0)`)
    /// or the output is too large to allocate.
    #[track_caller]
    fn inner<E>(&self, rhs: &ArrayRef<A, E>) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// [`inner`](InnerExt::inner), returning an error instead of panicking.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::{InnerError, InnerExt};
    ///
    /// let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    /// assert!(a.try_inner(&array![1.0, 0.0, 0.0]).is_ok());
    /// let err = a.try_inner(&array![1.0, 2.0]).unwrap_err();
    /// assert_eq!(err.to_string(), "shapes (2,3) and (2,) not aligned: 3 (dim 1) != 2 (dim 0)");
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::NotAligned`] when the last axes differ in length;
    /// [`InnerError::TooLarge`] when the output's size overflows `isize::MAX` bytes
    /// or the allocator refuses it.
    fn try_inner<E>(&self, rhs: &ArrayRef<A, E>) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// Writes `inner(self, rhs)` into `out`, which must already have the output shape;
    /// nothing is allocated when `out` is in standard (C) layout.
    ///
    /// ```
    /// use ndarray::{array, Array2};
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![[1.0, 2.0], [3.0, 4.0]];
    /// let mut out = Array2::<f64>::zeros((2, 2));
    /// a.inner_into(&a, &mut out)?;
    /// assert_eq!(out, array![[5.0, 11.0], [11.0, 25.0]]);
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::NotAligned`] as for [`try_inner`](InnerExt::try_inner), and
    /// [`InnerError::OutShape`] when `out` does not have the output shape.
    ///
    /// # Performance
    ///
    /// An `out` that is not in standard layout gets the result through one
    /// temporary C-order array.
    fn inner_into<E, O>(&self, rhs: &ArrayRef<A, E>, out: &mut ArrayRef<A, O>) -> Result<(), InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        O: Dimension;

    /// The Hermitian inner product: `sum_k conj(self[.., k]) * rhs[.., k]`, the
    /// first operand conjugated (as NumPy's `vdot` does). Equal to
    /// [`inner`](InnerExt::inner) for real and integer elements.
    ///
    /// ```
    /// use ndarray::array;
    /// use num_complex::Complex64 as C;
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![C::new(0.0, 1.0), C::new(2.0, 0.0)];
    /// assert_eq!(a.inner_conj(&a).into_scalar(), C::new(5.0, 0.0)); // |a|²
    /// assert_eq!(a.inner(&a).into_scalar(), C::new(3.0, 0.0));      // no conjugation
    /// ```
    ///
    /// # Panics
    ///
    /// As [`inner`](InnerExt::inner), with the message of
    /// [`try_inner_conj`](InnerExt::try_inner_conj)'s error.
    ///
    /// # Performance
    ///
    /// Matrix-matrix products (default build) run on the `gemm` crate, which
    /// conjugates `self` while packing it: no copy at all. Tiny and matrix-vector
    /// products, and BLAS builds, conjugate `self` a block of 256 rows at a time into
    /// a scratch buffer, never as a whole copy.
    #[track_caller]
    fn inner_conj<E>(&self, rhs: &ArrayRef<A, E>) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// [`inner_conj`](InnerExt::inner_conj), returning an error instead of panicking.
    ///
    /// ```
    /// use ndarray::array;
    /// use num_complex::Complex32 as C;
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![[C::new(1.0, 1.0)], [C::new(0.0, 2.0)]];
    /// assert!(a.try_inner_conj(&array![C::new(1.0, 0.0), C::new(2.0, 0.0)]).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_inner`](InnerExt::try_inner).
    fn try_inner_conj<E>(&self, rhs: &ArrayRef<A, E>) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// Contracts axis `axis_a` of `self` with axis `axis_b` of `rhs`: NumPy's
    /// `np.tensordot(a, b, (axis_a, axis_b))`. The output has the remaining axes of
    /// `self`, then those of `rhs`, in order. `inner` is the case of both last axes.
    ///
    /// ```
    /// use ndarray::{array, Array2, Axis};
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![[1.0, 2.0], [3.0, 4.0]];
    /// let b = array![[5.0, 6.0], [7.0, 8.0]];
    /// let ab: Array2<f64> = a.inner_axes(&b, Axis(1), Axis(0)); // the matrix product
    /// assert_eq!(ab, array![[19.0, 22.0], [43.0, 50.0]]);
    /// ```
    ///
    /// # Panics
    ///
    /// With the message of [`try_inner_axes`](InnerExt::try_inner_axes)'s error.
    ///
    /// # Performance
    ///
    /// The contracted axes are moved last as views, then the same path as `inner`
    /// runs; whether that needs a copy depends on the layout of the remaining axes.
    #[track_caller]
    fn inner_axes<E>(&self, rhs: &ArrayRef<A, E>, axis_a: Axis, axis_b: Axis) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// [`inner_axes`](InnerExt::inner_axes), returning an error instead of panicking.
    ///
    /// ```
    /// use ndarray::{array, Axis};
    /// use ndarray_inner::InnerExt;
    ///
    /// let a = array![[1.0, 2.0], [3.0, 4.0]];
    /// let err = a.try_inner_axes(&a, Axis(2), Axis(0)).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "axis 2 is out of bounds for array of dimension 2 (operand a of shape (2,2))"
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::AxisOutOfBounds`] when an axis is out of range (a 0-d operand
    /// has none), [`InnerError::NotAligned`] when the two axes differ in length,
    /// [`InnerError::TooLarge`] as for [`try_inner`](InnerExt::try_inner).
    fn try_inner_axes<E>(
        &self,
        rhs: &ArrayRef<A, E>,
        axis_a: Axis,
        axis_b: Axis,
    ) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>;

    /// NumPy's `np.tensordot(self, rhs, axes=(axes_a, axes_b))`: the sum of products
    /// over several pairs of axes at once, `axes_a[i]` of `self` paired with
    /// `axes_b[i]` of `rhs`.
    ///
    /// The output has the remaining axes of `self` in their order, then the remaining
    /// axes of `rhs` in theirs, as an [`ArrayD`]. Empty lists give the outer product
    /// (NumPy's `axes=0`), so a 0-d operand scales the other; contracting every axis
    /// gives a 0-d array. Each element type follows the rules of
    /// [`inner`](InnerExt::inner): wrapping integers, `f16`/`bf16` summed in `f32`
    /// and rounded once, `bool` as the OR of the ANDs, no conjugation.
    ///
    /// ```
    /// use ndarray::{Array, Axis};
    /// use ndarray_inner::InnerExt;
    ///
    /// // np.tensordot(a, b, axes=([1, 2], [0, 1]))
    /// let a = Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f64);
    /// let b = Array::from_shape_fn((3, 4, 5), |(j, k, l)| (j * k + l) as f64);
    /// let c = a.tensordot(&b, &[Axis(1), Axis(2)], &[Axis(0), Axis(1)]);
    /// assert_eq!(c.shape(), &[2, 5]);
    /// let c01: f64 = (0..3).flat_map(|j| (0..4).map(move |k| (j + k) as f64 * (j * k + 1) as f64)).sum();
    /// assert_eq!(c[[0, 1]], c01);
    ///
    /// // One pair: the matrix product of the last axis of a with the first of b.
    /// let m = a.tensordot(&b, &[Axis(2)], &[Axis(1)]);
    /// assert_eq!(m.shape(), &[2, 3, 3, 5]);
    /// // No pairs: the outer product.
    /// let outer = b.tensordot(&ndarray::array![1, 2].mapv(f64::from), &[], &[]);
    /// assert_eq!(outer.shape(), &[3, 4, 5, 2]);
    /// ```
    ///
    /// # Panics
    ///
    /// With the message of [`try_tensordot`](InnerExt::try_tensordot)'s error, for
    /// example `shape-mismatch for sum: axis 2 of a has length 4 but axis 0 of b has
    /// length 3 (tensordot of shapes (2,3,4) and (3,4,5) with axes=([2], [0]))`.
    ///
    /// # Performance
    ///
    /// Each operand's axes are permuted as a view (free axes, then the contracted
    /// ones in pair order) and each of the two groups is merged by strides into one
    /// axis, so the operands become matrices `(M, K)` and `(N, K)`; one GEMM (or the
    /// integer, half or bool kernel) then writes the C-order output. A view, no copy,
    /// for every layout in which the axes of each group nest by strides: C order and
    /// slices of it, reversed or stepped axes, a group of one axis of any stride
    /// (broadcast included). When the pairs as given do not nest but another order of
    /// them does (F order, or pairs listed against the memory order), the pairs are
    /// laid out in that order instead (the same sum, its float additions in another
    /// order). Otherwise (F order with two or more free axes, a broadcast axis in a
    /// group of several, contracted axes in different memory orders in the two
    /// operands) that operand is copied once into C order, as NumPy's `reshape`
    /// copies it.
    ///
    /// Where an operand's matrix is `1 x 1` (a 0-d operand, or one element times an
    /// outer product), the products are plain IEEE ones, as for
    /// [`inner`](InnerExt::inner): `0 * inf` is NaN, where NumPy's BLAS `scal`
    /// shortcut gives 0.
    #[track_caller]
    fn tensordot<E>(&self, rhs: &ArrayRef<A, E>, axes_a: &[Axis], axes_b: &[Axis]) -> ArrayD<A>
    where
        A: InnerScalar,
        E: Dimension;

    /// [`tensordot`](InnerExt::tensordot), returning an error instead of panicking.
    ///
    /// ```
    /// use ndarray::{Array, Axis};
    /// use ndarray_inner::{InnerError, InnerExt};
    ///
    /// let a = Array::<i64, _>::ones((2, 3, 4));
    /// let b = Array::<i64, _>::ones((3, 4));
    /// let c = a.try_tensordot(&b, &[Axis(1), Axis(2)], &[Axis(0), Axis(1)])?;
    /// assert_eq!(c, ndarray::arr1(&[12, 12]).into_dyn());
    ///
    /// let err = a.try_tensordot(&b, &[Axis(1), Axis(2)], &[Axis(1), Axis(0)]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "shape-mismatch for sum: axis 1 of a has length 3 but axis 1 of b has length 4 \
    ///      (tensordot of shapes (2,3,4) and (3,4) with axes=([1, 2], [1, 0]))"
    /// );
    /// assert!(matches!(err, InnerError::TensordotShapeMismatch { a_axis: 1, b_axis: 1, .. }));
    /// # Ok::<(), InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Checked in this order:
    /// - [`InnerError::TensordotAxesCount`] when `axes_a` and `axes_b` differ in length;
    /// - [`InnerError::TensordotAxisOutOfBounds`] when an axis is out of range for its
    ///   operand (a 0-d operand has none; `self`'s axes are checked first);
    /// - [`InnerError::TensordotRepeatedAxis`] when an axis appears twice in one list;
    /// - [`InnerError::TensordotShapeMismatch`] when two paired axes differ in length
    ///   (the first such pair);
    /// - [`InnerError::TooLarge`] when the output's size overflows `isize::MAX` bytes
    ///   or the allocator refuses it.
    ///
    /// Every message names both shapes and both lists of axes.
    fn try_tensordot<E>(&self, rhs: &ArrayRef<A, E>, axes_a: &[Axis], axes_b: &[Axis]) -> Result<ArrayD<A>, InnerError>
    where
        A: InnerScalar,
        E: Dimension;
}

impl<A, D: Dimension> InnerExt<A, D> for ArrayRef<A, D> {
    #[track_caller]
    fn inner<E>(&self, rhs: &ArrayRef<A, E>) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        match self.try_inner(rhs) {
            Ok(out) => out,
            Err(err) => panic!("{err}"),
        }
    }

    fn try_inner<E>(&self, rhs: &ArrayRef<A, E>) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        product(self, rhs, false)
    }

    fn inner_into<E, O>(&self, rhs: &ArrayRef<A, E>, out: &mut ArrayRef<A, O>) -> Result<(), InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        O: Dimension,
    {
        let shape = output_shape(self.shape(), rhs.shape())?;
        if out.shape() != shape.slice() {
            return Err(InnerError::OutShape {
                a_shape: self.shape().to_vec(),
                b_shape: rhs.shape().to_vec(),
                expected: shape.slice().to_vec(),
                found: out.shape().to_vec(),
            });
        }
        write_product(self, rhs, out.view_mut(), false, false);
        Ok(())
    }

    #[track_caller]
    fn inner_conj<E>(&self, rhs: &ArrayRef<A, E>) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        match self.try_inner_conj(rhs) {
            Ok(out) => out,
            Err(err) => panic!("{err}"),
        }
    }

    fn try_inner_conj<E>(&self, rhs: &ArrayRef<A, E>) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        product(self, rhs, true)
    }

    #[track_caller]
    fn inner_axes<E>(&self, rhs: &ArrayRef<A, E>, axis_a: Axis, axis_b: Axis) -> InnerOutput<A, D, E>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        match self.try_inner_axes(rhs, axis_a, axis_b) {
            Ok(out) => out,
            Err(err) => panic!("{err}"),
        }
    }

    fn try_inner_axes<E>(
        &self,
        rhs: &ArrayRef<A, E>,
        axis_a: Axis,
        axis_b: Axis,
    ) -> Result<InnerOutput<A, D, E>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
        D: InnerDim<E>,
    {
        let out_of_bounds = |operand, axis, shape: &[usize]| InnerError::AxisOutOfBounds {
            operand,
            axis,
            shape: shape.to_vec(),
        };
        if axis_a.index() >= self.ndim() {
            return Err(out_of_bounds("a", axis_a.index(), self.shape()));
        }
        if axis_b.index() >= rhs.ndim() {
            return Err(out_of_bounds("b", axis_b.index(), rhs.shape()));
        }
        if self.len_of(axis_a) != rhs.len_of(axis_b) {
            return Err(InnerError::NotAligned {
                a_shape: self.shape().to_vec(),
                b_shape: rhs.shape().to_vec(),
                a_axis: axis_a.index(),
                b_axis: axis_b.index(),
            });
        }
        let a = self.view().permuted_axes(axis_last(self.raw_dim(), axis_a));
        let b = rhs.view().permuted_axes(axis_last(rhs.raw_dim(), axis_b));
        product(&a, &b, false)
    }

    #[track_caller]
    fn tensordot<E>(&self, rhs: &ArrayRef<A, E>, axes_a: &[Axis], axes_b: &[Axis]) -> ArrayD<A>
    where
        A: InnerScalar,
        E: Dimension,
    {
        match self.try_tensordot(rhs, axes_a, axes_b) {
            Ok(out) => out,
            Err(err) => panic!("{err}"),
        }
    }

    fn try_tensordot<E>(&self, rhs: &ArrayRef<A, E>, axes_a: &[Axis], axes_b: &[Axis]) -> Result<ArrayD<A>, InnerError>
    where
        A: InnerScalar,
        E: Dimension,
    {
        tensordot(self, rhs, axes_a, axes_b)
    }
}

/// The permutation of `dim`'s axes that moves `axis` last and keeps the others in order.
fn axis_last<D: Dimension>(dim: D, axis: Axis) -> D {
    let mut perm = dim;
    let others = (0..perm.ndim()).filter(|&i| i != axis.index());
    for (slot, i) in perm.slice_mut().iter_mut().zip(others.chain([axis.index()])) {
        *slot = i;
    }
    perm
}

/// A new C-order output holding `inner(a, b)` (conjugating `a` if `conj`).
fn product<A, D, E, O>(a: &ArrayRef<A, D>, b: &ArrayRef<A, E>, conj: bool) -> Result<Array<A, O>, InnerError>
where
    A: InnerScalar,
    D: Dimension,
    E: Dimension,
    O: Dimension,
{
    let shape = output_shape(a.shape(), b.shape())?;
    let mut out = zeros_checked::<A, O>(shape.slice(), a.shape(), b.shape())?;
    write_product(a, b, out.view_mut(), conj, true);
    Ok(out)
}

/// Writes `inner(a, b)` into `out`, whose shape the caller has checked.
fn write_product<A, D, E, O>(
    a: &ArrayRef<A, D>,
    b: &ArrayRef<A, E>,
    mut out: ArrayViewMut<'_, A, O>,
    conj: bool,
    zeroed: bool,
) where
    A: InnerScalar,
    D: Dimension,
    E: Dimension,
    O: Dimension,
{
    let op = |x: A| if conj { x.conj() } else { x };
    // A 0-d operand scales the other elementwise: plain IEEE products, so unlike
    // NumPy's BLAS `scal` shortcut, 0 * inf is NaN here.
    if let Some(&s) = a.first().filter(|_| a.ndim() == 0) {
        record(Path::Scalar);
        let s = op(s);
        out.zip_mut_with(b, |o, &x| *o = s.mul(x));
        return;
    }
    if let Some(&s) = b.first().filter(|_| b.ndim() == 0) {
        record(Path::Scalar);
        out.zip_mut_with(a, |o, &x| *o = op(x).mul(s));
        return;
    }
    let a2 = as_matrix(a);
    let b2 = as_matrix(b);
    let mn = (a2.nrows(), b2.nrows());
    if out.is_standard_layout() {
        let c = out.into_shape_with_order(mn).expect("standard layout reshapes");
        if zeroed {
            A::inner_2d_zeroed(a2.view(), b2.view(), c, conj);
        } else {
            A::inner_2d(a2.view(), b2.view(), c, conj);
        }
    } else {
        record(Path::OutTemporary);
        let mut tmp = Array2::from_elem(mn, A::empty_sum());
        A::inner_2d(a2.view(), b2.view(), tmp.view_mut(), conj);
        let tmp = tmp.into_shape_with_order(out.raw_dim()).expect("same element count");
        out.assign(&tmp);
    }
}
