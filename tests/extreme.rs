//! Extreme shapes and values: huge K, huge M with tiny K, many axes, empty outputs
//! beside huge dimensions, outputs too large for memory, subnormals, large magnitudes.

use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis, IxDyn, ShapeBuilder};
use ndarray_inner::{InnerError, InnerExt};
use ndarray_inner_test_kit::naive;

#[test]
fn one_row_against_a_huge_k() {
    let k = 3_000_001;
    let a = Array1::from_shape_fn(k, |i| (i % 7) as f64 - 3.0);
    let b = Array1::from_shape_fn(k, |i| (i % 5) as f64 - 2.0);
    let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert_eq!(a.inner(&b).into_scalar(), want, "whole numbers: exact in any order");
    let ai = a.mapv(|x| x as i64 * 1_000_003);
    let bi = b.mapv(|x| x as i64 * 998_244_353);
    let want: i64 = ai
        .iter()
        .zip(&bi)
        .fold(0i64, |s, (x, y)| s.wrapping_add(x.wrapping_mul(*y)));
    assert_eq!(ai.inner(&bi).into_scalar(), want);
    let a2 = a.view().insert_axis(Axis(0));
    let b2 = b.view().insert_axis(Axis(0));
    assert_eq!(a2.inner(&b2)[[0, 0]], a.inner(&b).into_scalar());
}

#[test]
fn huge_m_against_a_tiny_k() {
    // A broadcast operand: 2^20 rows that all read the same 3 values.
    let row = ndarray::array![1.0f32, -2.0, 0.5];
    let a: ArrayView2<f32> = row.broadcast((1 << 20, 3)).unwrap();
    let b = ndarray::array![[2.0f32, 1.0, 4.0], [0.0, 0.0, 1.0]];
    let c = a.inner(&b);
    assert_eq!(c.shape(), &[1 << 20, 2]);
    assert!(c.rows().into_iter().all(|r| r[0] == 2.0 && r[1] == 0.5));
}

#[test]
fn many_axes_through_ixdyn() {
    // 16 axes on each side: a 30-axis output (ndarray's fixed types stop at 6).
    let mut sa = vec![1; 16];
    sa[3] = 2;
    sa[15] = 3;
    let mut sb = vec![1; 16];
    sb[0] = 2;
    sb[15] = 3;
    let a = ArrayD::from_shape_fn(IxDyn(&sa), |i| i[3] as i32 * 10 + i[15] as i32);
    let b = ArrayD::from_shape_fn(IxDyn(&sb), |i| i[0] as i32 + 1 + i[15] as i32);
    let c = a.inner(&b);
    assert_eq!(c.ndim(), 30);
    assert_eq!(c, naive::inner(&a.view(), &b.view(), false));

    // NumPy 2's limit, 64 axes, on both sides: a 126-axis output (ndarray's IxDyn has no
    // limit of its own), including a reversed F-order operand that must be copied.
    let mut sa = vec![1; 64];
    sa[10] = 3;
    sa[63] = 2;
    let mut sb = vec![1; 64];
    sb[50] = 2;
    sb[63] = 2;
    let a = ArrayD::from_shape_fn(IxDyn(&sa), |i| i[10] as i64 * 3 - i[63] as i64);
    let b = ArrayD::from_shape_fn(IxDyn(&sb).f(), |i| i[50] as i64 + 2 * i[63] as i64 + 1);
    let b = b.slice_each_axis(|ax| ndarray::Slice::new(0, None, if ax.axis.index() == 50 { -1 } else { 1 }));
    let c = a.inner(&b);
    assert_eq!(c.ndim(), 126);
    assert_eq!(c.len(), 6);
    assert_eq!(c, naive::inner(&a.view(), &b.view(), false));
}

#[test]
fn empty_outputs_beside_huge_dimensions() {
    // b has 2^40 rows, all broadcast from one zero-length row; a has no rows.
    let k = 0;
    let b_row = Array1::<f64>::zeros(k);
    let b = b_row.broadcast((1usize << 40, k)).unwrap();
    let a = Array2::<f64>::zeros((0, k));
    let c = a.inner(&b);
    assert_eq!(c.shape(), &[0, 1 << 40]);
    let row = Array1::<f64>::ones(5);
    let huge = row.broadcast((1usize << 40, 5)).unwrap();
    let none = Array2::<f64>::ones((0, 5));
    assert_eq!(none.inner(&huge).shape(), &[0, 1 << 40]);
    assert_eq!(huge.inner(&none).shape(), &[1 << 40, 0]);
}

#[test]
fn outputs_beyond_memory_are_errors_before_allocating() {
    // 2^22 x 2^20 f64 = 32 TiB: fits in isize, but no allocator gives it.
    let one = Array1::<f64>::ones(1);
    let a = one.broadcast((1usize << 22, 1)).unwrap();
    let b = one.broadcast((1usize << 20, 1)).unwrap();
    match a.try_inner(&b) {
        Err(InnerError::TooLarge { out_shape, .. }) => assert_eq!(out_shape, vec![1 << 22, 1 << 20]),
        other => panic!("expected TooLarge, got {:?}", other.map(|c| c.shape().to_vec())),
    }
    // Element count overflowing usize with a non-empty K.
    let c = one.broadcast((1usize << 33, 1)).unwrap();
    assert!(matches!(c.try_inner(&c), Err(InnerError::TooLarge { .. })));
}

#[test]
fn subnormals_are_kept() {
    let tiny = f64::MIN_POSITIVE / 1024.0; // subnormal
    let a = Array2::from_elem((40, 64), tiny);
    let b = Array2::from_elem((30, 64), 1.0);
    assert!(a.inner(&b).iter().all(|&x| x == 64.0 * tiny));
    let t32 = f32::MIN_POSITIVE / 8.0;
    let a = Array2::from_elem((40, 64), t32);
    let b = Array2::from_elem((30, 64), 0.5f32);
    assert!(a.inner(&b).iter().all(|&x| x == 32.0 * t32));
}

#[test]
fn large_magnitudes_within_the_f32_summation_bound() {
    // |error| <= K * eps * sum |a_k b_k|, the bound any order of summation meets (NumPy's too).
    let k = 4096;
    let a = Array2::from_shape_fn((8, k), |(i, j)| ((i * 31 + j * 17) % 1000) as f32 * 1e15 - 4e17);
    let b = Array2::from_shape_fn((8, k), |(i, j)| ((i * 7 + j * 13) % 997) as f32 * 1e-3 - 0.5);
    let c = a.inner(&b);
    for i in 0..8 {
        for j in 0..8 {
            let exact: f64 = (0..k).map(|t| a[[i, t]] as f64 * b[[j, t]] as f64).sum();
            let scale: f64 = (0..k).map(|t| (a[[i, t]] as f64 * b[[j, t]] as f64).abs()).sum();
            let bound = k as f64 * f32::EPSILON as f64 * scale;
            assert!(
                (c[[i, j]] as f64 - exact).abs() <= bound,
                "({i},{j}): {} vs {exact}",
                c[[i, j]]
            );
        }
    }
    // Overflow to infinity is IEEE's, not an error.
    let big = Array1::from_elem(4, f32::MAX);
    assert_eq!(big.inner(&big).into_scalar(), f32::INFINITY);
}
