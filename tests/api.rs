//! The public API as pinned: typed output dimensions, every array kind as receiver
//! and argument, every error path and its message, panics equal to the errors.

use ndarray::{
    arr0, array, ArcArray, Array0, Array1, Array2, Array3, Array4, Array5, Array6, ArrayD, ArrayView1, ArrayViewMut2,
    Axis, CowArray, Ix2, IxDyn,
};
use ndarray_inner::{InnerError, InnerExt};
use ndarray_inner_test_kit::panic_message;
use num_complex::Complex64;

fn ones(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::ones(IxDyn(shape))
}

#[test]
fn output_dimension_types_follow_the_table() {
    let a0 = arr0(2.0);
    let a1 = Array1::<f64>::ones(3);
    let a2 = Array2::<f64>::ones((2, 3));
    let a3 = Array3::<f64>::ones((4, 2, 3));
    let a4 = Array4::<f64>::ones((1, 2, 2, 3));

    let s: f64 = a1.inner(&a1).into_scalar();
    assert_eq!(s, 3.0);
    let _: Array0<f64> = a0.inner(&a0);
    let _: Array1<f64> = a0.inner(&a1);
    let _: Array2<f64> = a2.inner(&a0);
    let _: Array1<f64> = a2.inner(&a1);
    let _: Array1<f64> = a1.inner(&a2);
    let _: Array2<f64> = a2.inner(&a2);
    let _: Array3<f64> = a3.inner(&a2);
    let _: Array3<f64> = a2.inner(&a3);
    let _: Array4<f64> = a3.inner(&a3);
    let _: Array5<f64> = a4.inner(&a3);
    let c6: Array6<f64> = a4.inner(&a4);
    assert_eq!(c6.shape(), &[1, 2, 2, 1, 2, 2]);
    let a5 = ndarray::Array5::<f64>::ones((1, 1, 1, 1, 3));
    let c7: ArrayD<f64> = a5.inner(&a4); // 4 + 3 = 7 axes: beyond Ix6
    assert_eq!(c7.ndim(), 7);
    let d: ArrayD<f64> = a2.inner(&ones(&[5, 3]));
    assert_eq!(d.shape(), &[2, 5]);
    let d: ArrayD<f64> = ones(&[5, 3]).inner(&a1);
    assert_eq!(d.shape(), &[5]);
    let t: Array3<f64> = a3.inner_axes(&a2, Axis(1), Axis(0));
    assert_eq!(t.shape(), &[4, 3, 3]);
}

#[test]
fn every_array_kind_is_a_receiver_and_an_argument() {
    let owned = array![[1.0, 2.0], [3.0, 4.0]];
    let want = array![[5.0, 11.0], [11.0, 25.0]];
    let view = owned.view();
    let arc: ArcArray<f64, Ix2> = owned.clone().into_shared();
    let cow = CowArray::from(owned.view());
    let mut backing = owned.clone();
    let view_mut: ArrayViewMut2<f64> = backing.view_mut();

    assert_eq!(owned.inner(&view), want);
    assert_eq!(view.inner(&arc), want);
    assert_eq!(arc.inner(&cow), want);
    assert_eq!(cow.inner(&view_mut), want);
    assert_eq!(view_mut.inner(&owned), want);
    // Mixed dimension types.
    let v: ArrayView1<f64> = owned.row(0);
    assert_eq!(owned.inner(&v), array![5.0, 11.0]);
    assert_eq!(owned.inner(&owned.clone().into_dyn()), want.clone().into_dyn());
}

#[test]
fn numpy_examples() {
    // np.inner([1,2,3],[0,1,0]) == 2; np.inner(np.eye(2)*7, [[1,2],[3,4]]) == [[7,21],[14,28]]
    assert_eq!(array![1, 2, 3].inner(&array![0, 1, 0]).into_scalar(), 2);
    let eye7 = array![[7, 0], [0, 7]];
    assert_eq!(eye7.inner(&array![[1, 2], [3, 4]]), array![[7, 21], [14, 28]]);
    // np.inner(2, [1, 2]) == [2, 4]
    assert_eq!(arr0(2).inner(&array![1, 2]), array![2, 4]);
}

#[test]
fn hermitian_conjugates_the_first_operand_only() {
    let i = Complex64::new(0.0, 1.0);
    let a = array![i, Complex64::new(1.0, 0.0)];
    let b = array![Complex64::new(2.0, 0.0), i];
    // conj(i) * 2 + 1 * i = -2i + i = -i
    assert_eq!(a.inner_conj(&b).into_scalar(), Complex64::new(0.0, -1.0));
    // i * 2 + 1 * i = 3i
    assert_eq!(a.inner(&b).into_scalar(), Complex64::new(0.0, 3.0));
    assert_eq!(array![1.0, 2.0].inner_conj(&array![3.0, 4.0]).into_scalar(), 11.0);
}

#[test]
fn not_aligned_names_both_shapes_and_the_real_last_axes() {
    let cases: [(&[usize], &[usize], &str); 4] = [
        (&[3], &[4], "shapes (3,) and (4,) not aligned: 3 (dim 0) != 4 (dim 0)"),
        (
            &[2, 3],
            &[4],
            "shapes (2,3) and (4,) not aligned: 3 (dim 1) != 4 (dim 0)",
        ),
        (
            &[2, 3],
            &[5, 4, 2],
            "shapes (2,3) and (5,4,2) not aligned: 3 (dim 1) != 2 (dim 2)",
        ),
        (
            &[0],
            &[2, 1],
            "shapes (0,) and (2,1) not aligned: 0 (dim 0) != 1 (dim 1)",
        ),
    ];
    for (sa, sb, message) in cases {
        let (a, b) = (ones(sa), ones(sb));
        let err = a.try_inner(&b).unwrap_err();
        assert!(matches!(err, InnerError::NotAligned { .. }));
        assert_eq!(err.to_string(), message);
        assert_eq!(a.try_inner_conj(&b).unwrap_err().to_string(), message);
        assert_eq!(panic_message(|| drop(a.inner(&b))), message);
        assert_eq!(panic_message(|| drop(a.inner_conj(&b))), message);
        let mut out = ones(&[1]);
        assert_eq!(a.inner_into(&b, &mut out).unwrap_err().to_string(), message);
    }
}

#[test]
fn out_of_the_wrong_shape_is_an_error_that_names_all_shapes() {
    let a = ones(&[3, 2]);
    let b = ones(&[4, 2]);
    let mut out = Array2::<f64>::zeros((4, 3));
    let err = a.inner_into(&b, &mut out).unwrap_err();
    assert_eq!(
        err,
        InnerError::OutShape {
            a_shape: vec![3, 2],
            b_shape: vec![4, 2],
            expected: vec![3, 4],
            found: vec![4, 3]
        }
    );
    assert_eq!(
        err.to_string(),
        "output array has shape (4,3) but the inner product of shapes (3,2) and (4,2) has shape (3,4)"
    );
    assert!(out.iter().all(|&x| x == 0.0), "out untouched on error");
    let mut scalar_out = arr0(0.0);
    assert!(matches!(
        a.inner_into(&b, &mut scalar_out),
        Err(InnerError::OutShape { .. })
    ));
}

#[test]
fn inner_axes_errors() {
    let a = ones(&[2, 3]);
    let b = ones(&[4, 5]);
    let err = a.try_inner_axes(&b, Axis(2), Axis(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "axis 2 is out of bounds for array of dimension 2 (operand a of shape (2,3))"
    );
    let err = a.try_inner_axes(&b, Axis(0), Axis(7)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "axis 7 is out of bounds for array of dimension 2 (operand b of shape (4,5))"
    );
    let err = a.try_inner_axes(&b, Axis(1), Axis(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shapes (2,3) and (4,5) not aligned: 3 (dim 1) != 5 (dim 1)"
    );
    let message = err.to_string();
    assert_eq!(panic_message(|| drop(a.inner_axes(&b, Axis(1), Axis(1)))), message);
    let scalar = arr0(1.0).into_dyn();
    let err = scalar.try_inner_axes(&a, Axis(0), Axis(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "axis 0 is out of bounds for array of dimension 0 (operand a of shape ())"
    );
}

#[test]
fn outputs_too_large_are_errors_not_aborts() {
    // 2^40 x 2^40 elements overflows usize; K = 0 so the operands themselves are empty.
    let huge = 1usize << 40;
    let a = ndarray::Array2::<f64>::zeros((huge, 0));
    let err = a.try_inner(&a).unwrap_err();
    assert!(matches!(err, InnerError::TooLarge { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "shapes ({huge},0) and ({huge},0) give an output of shape ({huge},{huge}) that is too large to allocate"
        )
    );
    assert_eq!(panic_message(|| drop(a.inner(&a))), err.to_string());
    // Fits in usize but not in isize::MAX bytes.
    let b = ndarray::Array2::<f64>::zeros((1 << 31, 0));
    assert!(matches!(b.try_inner(&b), Err(InnerError::TooLarge { .. })));
}

#[test]
fn empty_and_zero_length_cases() {
    // K = 0 gives zeros of the output shape; a zero leading axis gives an empty output.
    let z: Array2<i32> = Array2::<i32>::zeros((3, 0)).inner(&Array2::<i32>::zeros((4, 0)));
    assert_eq!(z, Array2::<i32>::zeros((3, 4)));
    let e: Array2<f64> = Array2::<f64>::zeros((0, 5)).inner(&Array2::<f64>::ones((4, 5)));
    assert_eq!(e.shape(), &[0, 4]);
    let s: f64 = Array1::<f64>::zeros(0).inner(&Array1::<f64>::zeros(0)).into_scalar();
    assert_eq!(s, 0.0);
}

#[test]
fn integers_wrap_like_numpy() {
    // np.inner(np.array([100, 100], np.int8), np.array([2, 1], np.int8)) == 44 (300 mod 256)
    assert_eq!(array![100i8, 100].inner(&array![2i8, 1]).into_scalar(), 44);
    assert_eq!(array![u64::MAX, 2].inner(&array![2u64, 3]).into_scalar(), 4);
    assert_eq!(arr0(i32::MAX).inner(&array![2i32]), array![-2]);
}

#[test]
fn nan_and_inf_propagate_as_in_a_plain_sum() {
    let inf = f64::INFINITY;
    let c = array![[1.0, inf], [0.0, 1.0]].inner(&array![[1.0, 0.0], [1.0, 1.0], [1.0, f64::NAN]]);
    assert!(c[[0, 0]].is_nan(), "inf * 0 is NaN");
    assert_eq!(c[[0, 1]], inf);
    assert!(c[[0, 2]].is_nan());
    assert_eq!(c[[1, 0]], 0.0);
    assert!(c[[1, 2]].is_nan());
    // A 0-d operand: plain IEEE products (NumPy's BLAS scal shortcut would give 0 here).
    assert!(arr0(0.0).inner(&array![inf])[0].is_nan());
}

#[test]
fn hand_made_errors_display_without_panicking() {
    // The fields are public: a NotAligned built with an axis past its shape must still print.
    let err = InnerError::NotAligned {
        a_shape: vec![2],
        b_shape: vec![],
        a_axis: 3,
        b_axis: 0,
    };
    assert_eq!(
        err.to_string(),
        "shapes (2,) and () not aligned: ? (dim 3) != ? (dim 0)"
    );
}
