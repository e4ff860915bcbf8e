//! With ndarray's `blas` feature (`ndarray-inner/cblas`, here linked to this
//! crate's mock CBLAS), `inner` must reach `cblas_?gemm` for every float layout that
//! BLAS can take without a copy, and `cblas_?gemv` for matrix-vector products of
//! real floats; other layouts fall back to matrixmultiply (no BLAS call), and tiny
//! products skip GEMM. Every result is checked against a naive product too.

use blas_mock_tests::{calls_during, Calls};
use ndarray::{s, Array, ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use ndarray_inner::{InnerExt, InnerScalar};
use ndarray_inner_test_kit::{filled, naive};
use num_complex::Complex;

/// The float types BLAS multiplies: the test kit's values and reference, and
/// whether BLAS has a matrix-vector routine that ndarray calls for the type.
trait Elem: ndarray_inner_test_kit::Elem + InnerScalar {
    const GEMV: bool;
}
impl Elem for f32 {
    const GEMV: bool = true;
}
impl Elem for f64 {
    const GEMV: bool = true;
}
impl Elem for Complex<f32> {
    const GEMV: bool = false;
}
impl Elem for Complex<f64> {
    const GEMV: bool = false;
}

/// Runs `inner` (or `inner_conj`), checks the result, returns the BLAS calls made.
fn calls<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, conj: bool) -> Calls {
    let (got, calls) = calls_during(|| -> ArrayD<T> {
        if conj {
            a.inner_conj(b)
        } else {
            a.inner(b)
        }
    });
    assert_eq!(
        got,
        naive::inner(a, b, conj),
        "a {:?} {:?}, b {:?} {:?}",
        a.shape(),
        a.strides(),
        b.shape(),
        b.strides()
    );
    calls
}

const GEMM: Calls = Calls {
    gemm: 1,
    gemv: 0,
    dot: 0,
};
const GEMV: Calls = Calls {
    gemm: 0,
    gemv: 1,
    dot: 0,
};
const NONE: Calls = Calls {
    gemm: 0,
    gemv: 0,
    dot: 0,
};

fn each_layout<T: Elem>() {
    let (m, n, k) = (20, 30, 40);
    let a = filled::<T>(&[m, k], 1);
    let b = filled::<T>(&[n, k], 2);
    let (a, b) = (a.view(), b.view());

    // Layouts BLAS takes as they are: one GEMM call.
    assert_eq!(calls(&a, &b, false), GEMM, "C order");
    let af = Array::from_shape_vec(IxDyn(&[m, k]).f(), a.t().iter().copied().collect()).unwrap();
    assert_eq!(calls(&af.view(), &b, false), GEMM, "F-order a");
    let bf = Array::from_shape_vec(IxDyn(&[n, k]).f(), b.t().iter().copied().collect()).unwrap();
    assert_eq!(calls(&a, &bf.view(), false), GEMM, "F-order b");
    let at = filled::<T>(&[k, m], 3);
    assert_eq!(calls(&at.t(), &b, false), GEMM, "transposed view");
    let tall = filled::<T>(&[2 * m, k], 4);
    assert_eq!(
        calls(&tall.slice(s![..;2, ..]).into_dyn(), &b, false),
        GEMM,
        "every other row"
    );
    let wide = filled::<T>(&[m, 3 * k], 5);
    assert_eq!(
        calls(&wide.slice(s![.., k..2 * k]).into_dyn(), &b, false),
        GEMM,
        "column window"
    );
    // More than two axes: merged to 2-D as a view, still one GEMM (NumPy copies here).
    let a3 = filled::<T>(&[4, 5, k], 6);
    let b3 = filled::<T>(&[3, 10, k], 7);
    assert_eq!(calls(&a3.view(), &b, false), GEMM, "3-D a");
    assert_eq!(calls(&a3.view(), &b3.view(), false), GEMM, "3-D a and b");
    // Hermitian: one GEMM per block of 256 rows of a.
    assert_eq!(calls(&a, &b, true), GEMM, "inner_conj");

    // Layouts BLAS cannot take without a copy: matrixmultiply, no BLAS call.
    assert_eq!(
        calls(&wide.slice(s![.., ..;3]).into_dyn(), &b, false),
        NONE,
        "stepped last axis"
    );
    assert_eq!(
        calls(&a.slice(s![..;-1, ..]).into_dyn(), &b, false),
        NONE,
        "reversed rows"
    );
    let row = filled::<T>(&[k], 8);
    assert_eq!(
        calls(&a, &row.broadcast(IxDyn(&[n, k])).unwrap(), false),
        NONE,
        "broadcast b"
    );

    // Matrix-vector products past the tiny threshold: GEMV for real floats.
    let long_k = 400;
    let am = filled::<T>(&[m, long_k], 9);
    let bm = filled::<T>(&[n, long_k], 10);
    let v = filled::<T>(&[long_k], 11);
    let expect_gemv = if T::GEMV { GEMV } else { NONE };
    assert_eq!(calls(&am.view(), &v.view(), false), expect_gemv, "matrix . vector");
    assert_eq!(calls(&v.view(), &bm.view(), false), expect_gemv, "vector . matrix");
    let one_row = filled::<T>(&[1, long_k], 12);
    assert_eq!(calls(&one_row.view(), &bm.view(), false), expect_gemv, "m == 1");
    assert_eq!(calls(&am.view(), &one_row.view(), false), expect_gemv, "n == 1");

    // Tiny products (at most 512 multiply-adds, or 4096 into at most 16 outputs):
    // the direct path, no BLAS at all, not even BLAS dot products for rows of 32
    // and more.
    let ta = filled::<T>(&[3, 5], 13);
    let tb = filled::<T>(&[2, 5], 14);
    assert_eq!(calls(&ta.view(), &tb.view(), false), NONE, "tiny");
    let tv = filled::<T>(&[3], 15);
    assert_eq!(calls(&tv.view(), &tv.view(), false), NONE, "3-vector");
    let four_rows = filled::<T>(&[4, k], 16);
    assert_eq!(
        calls(&four_rows.view(), &filled::<T>(&[k], 17).view(), false),
        NONE,
        "tiny matrix . vector"
    );
    let lv = filled::<T>(&[4096], 18);
    assert_eq!(calls(&lv.view(), &lv.view(), false), NONE, "4096-vector");
}

#[test]
fn f32_reaches_blas() {
    each_layout::<f32>();
}

#[test]
fn f64_reaches_blas() {
    each_layout::<f64>();
}

#[test]
fn complex64_reaches_blas() {
    each_layout::<Complex<f32>>();
}

#[test]
fn complex128_reaches_blas() {
    each_layout::<Complex<f64>>();
}

#[test]
fn large_output_one_call() {
    // Past every kernel block size: still exactly one BLAS call.
    let a = filled::<f64>(&[300, 70], 1);
    let b = filled::<f64>(&[257, 70], 2);
    assert_eq!(calls(&a.view(), &b.view(), false), GEMM);
}
