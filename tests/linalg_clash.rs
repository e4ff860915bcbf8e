//! Beside ndarray-linalg: the README's advice on the name clash compiles and runs with
//! `use ndarray_linalg::*` in scope, and `inner_conj` agrees with ndarray-linalg's own
//! conjugating 1-D `InnerProduct::inner`, an implementation independent of this crate's.

use ndarray::{array, Array1, Array2};
use ndarray_inner::InnerExt;
#[allow(unused_imports)] // the point of the test is the glob, and the clash it brings
use ndarray_linalg::*;
use num_complex::{Complex, Complex32, Complex64};

/// With a 1-D receiver `a.inner(&b)` is ambiguous (E0034); the explicit forms are not. The trait
/// is implemented for `ArrayRef`, so an owned array or a view is passed as `&*a`.
#[test]
fn explicit_forms_on_one_dimensional_receivers() {
    let a = array![1.0, 2.0, 3.0];
    let b = array![4.0, 5.0, 6.0];
    assert_eq!(InnerExt::inner(&*a, &b).into_scalar(), 32.0);
    assert_eq!(InnerExt::try_inner(&*a, &b).unwrap().into_scalar(), 32.0);
    let (a_view, b_view) = (a.view(), b.view());
    assert_eq!(InnerExt::inner(&*a_view, &b_view).into_scalar(), 32.0);
    // ndarray-linalg's own method, by its trait.
    assert_eq!(InnerProduct::inner(&*a, &b), 32.0);

    let p = array![Complex64::new(1.0, 2.0), Complex64::new(3.0, -1.0)];
    let q = array![Complex64::new(2.0, -1.0), Complex64::new(0.0, 1.0)];
    // np.vdot([1+2j, 3-1j], [2-1j, 1j]) == -1-2j; np.inner gives 5+6j (no conjugation).
    assert_eq!(InnerExt::inner_conj(&*p, &q).into_scalar(), Complex64::new(-1.0, -2.0));
    assert_eq!(InnerExt::inner(&*p, &q).into_scalar(), Complex64::new(5.0, 6.0));
}

/// ndarray-linalg's `InnerProduct` exists only for 1-D receivers, so a method call on a 2-D (or
/// higher) receiver is not ambiguous, whatever the argument.
#[test]
fn method_calls_on_higher_dimensional_receivers_need_nothing() {
    let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let b = array![[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]];
    let c: Array2<f64> = a.inner(&b);
    assert_eq!(c, array![[50.0, 68.0], [122.0, 167.0]]); // np.inner(a, b)
    let v: Array1<f64> = a.inner(&array![1.0, 0.0, -1.0]);
    assert_eq!(v, array![-2.0, -2.0]);
    let w: Array1<f64> = a.view().inner_conj(&array![0.0, 1.0, 0.0]);
    assert_eq!(w, array![2.0, 5.0]);
}

/// Deterministic values in [-1, 1) (a 64-bit LCG), so the cases need no random crate.
fn values(seed: u64, count: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// Whether two sums of the same `terms` products agree to their rounding: each is within
/// `n·ε·Σ|aₖ||bₖ|` of the exact sum, whatever the order of summation.
fn close<T: Into<f64> + Copy>(
    got: Complex<T>,
    reference: Complex<T>,
    magnitude: f64,
    terms: usize,
    epsilon: f64,
) -> bool {
    let bound = 2.0 * (terms as f64 + 2.0) * epsilon * magnitude;
    (got.re.into() - reference.re.into()).abs() <= bound && (got.im.into() - reference.im.into()).abs() <= bound
}

#[test]
fn inner_conj_agrees_with_ndarray_linalg_on_complex64_vectors() {
    for (seed, len) in [0, 1, 2, 3, 7, 16, 17, 100, 1000, 4099].into_iter().enumerate() {
        let re = values(seed as u64, 4 * len);
        let a: Array1<Complex64> = (0..len).map(|k| Complex64::new(re[4 * k], re[4 * k + 1])).collect();
        let b: Array1<Complex64> = (0..len).map(|k| Complex64::new(re[4 * k + 2], re[4 * k + 3])).collect();
        let got = a.view().inner_conj(&b).into_scalar();
        let reference = InnerProduct::inner(&*a, &b);
        let magnitude: f64 = a.iter().zip(&b).map(|(x, y)| x.norm() * y.norm()).sum();
        assert!(
            close(got, reference, magnitude, len, f64::EPSILON),
            "length {len}: inner_conj {got}, ndarray-linalg {reference}"
        );
        // Strided views: every other element, reversed.
        let (a_strided, b_strided) = (a.slice(ndarray::s![..;-2]), b.slice(ndarray::s![..;-2]));
        let got = InnerExt::inner_conj(&*a_strided, &b_strided).into_scalar();
        let reference = InnerProduct::inner(&*a_strided, &b_strided);
        assert!(
            close(got, reference, magnitude, len, f64::EPSILON),
            "length {len}, strided"
        );
    }
}

#[test]
fn inner_conj_agrees_with_ndarray_linalg_on_complex32_vectors() {
    for (seed, len) in [0, 1, 5, 31, 64, 257, 3000].into_iter().enumerate() {
        let re: Vec<f32> = values(100 + seed as u64, 4 * len)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        let a: Array1<Complex32> = (0..len).map(|k| Complex32::new(re[4 * k], re[4 * k + 1])).collect();
        let b: Array1<Complex32> = (0..len).map(|k| Complex32::new(re[4 * k + 2], re[4 * k + 3])).collect();
        let got = a.inner_conj(&b.view()).into_scalar();
        let reference = InnerProduct::inner(&*a, &b);
        let magnitude: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x.norm() * y.norm())).sum();
        assert!(
            close(got, reference, magnitude, len, f64::from(f32::EPSILON)),
            "length {len}: inner_conj {got}, ndarray-linalg {reference}"
        );
    }
}
