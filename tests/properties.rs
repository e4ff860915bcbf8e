//! Property tests: random shapes, ndims and layouts for every element type,
//! compared with the test kit's naive reference (`crates/test-kit`; half types: NumPy's
//! float16 loop, f32 sums rounded once).
//!
//! Float values are small whole numbers, so every product and partial sum is
//! exact and any summation order gives the same answer: the comparison is `==`
//! (for `f16`/`bf16` too: their f32 sums are exact, which the reference asserts, and
//! round once to NumPy's answer; sums past 2048, or 256 for bf16, round there).
//! Integer values use all their bits, so products and sums wrap. `bool` is OR of ANDs.

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder};
use ndarray_inner::{InnerExt, InnerScalar};
use ndarray_inner_test_kit::half::Rule;
use ndarray_inner_test_kit::layout::{make, Layout, ALL};
use ndarray_inner_test_kit::naive::{self, Reference};
use ndarray_inner_test_kit::{random_array, Elem, Rng};
use num_complex::Complex;
use proptest::prelude::*;

/// The reference's answer; the half types' sums must all be exact in f32 here.
fn exact<A: Elem>(reference: Reference<A>) -> ArrayD<A> {
    if let Some(rules) = &reference.rules {
        assert!(rules.iter().all(|r| *r == Rule::Exact), "whole numbers: exact f32 sums");
    }
    reference.want
}

/// `inner` (or `inner_conj`) by the reference.
fn reference<A: Elem>(a: &ArrayViewD<A>, b: &ArrayViewD<A>, conj: bool) -> ArrayD<A> {
    exact(Reference::inner(a, b, conj))
}

/// Shapes `(a, b)` whose last axes agree (0-d operands allowed), each axis `0..max_len`.
fn aligned_shapes(max_ndim: usize, max_len: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        prop::collection::vec(0..max_len, 0..=max_ndim),
        prop::collection::vec(0..max_len, 0..=max_ndim),
        0..max_len,
    )
        .prop_map(|(mut a, mut b, k)| {
            if let Some(last) = a.last_mut() {
                *last = k;
            }
            if let Some(last) = b.last_mut() {
                *last = k;
            }
            (a, b)
        })
}

fn layout() -> impl Strategy<Value = Layout> {
    (0..ALL.len()).prop_map(|i| ALL[i])
}

/// Checks inner, inner_conj and inner_into (C- and F-order outputs) on one case.
fn check_inner<A: Elem + InnerScalar>(sa: &[usize], sb: &[usize], la: Layout, lb: Layout, seed: u64) {
    let mut rng = Rng(seed);
    let a = make(&random_array::<A>(sa, &mut rng), la);
    let b = make(&random_array::<A>(sb, &mut rng), lb);
    let (a, b) = (a.view(), b.view());

    let want = reference(&a, &b, false);
    let got = a.inner(&b);
    assert_eq!(got, want, "inner of {sa:?} {la:?} and {sb:?} {lb:?}");
    assert!(got.is_standard_layout(), "output is C order");

    let want_conj = reference(&a, &b, true);
    assert_eq!(
        a.inner_conj(&b),
        want_conj,
        "inner_conj of {sa:?} {la:?} and {sb:?} {lb:?}"
    );

    let mut out_c = ArrayD::from_elem(want.raw_dim(), A::random(&mut rng));
    a.inner_into(&b, &mut out_c).unwrap();
    assert_eq!(out_c, want, "inner_into (C order) of {sa:?} {la:?} and {sb:?} {lb:?}");
    let mut out_f = ArrayD::from_elem(want.raw_dim().f(), A::random(&mut rng));
    a.inner_into(&b, &mut out_f).unwrap();
    assert_eq!(out_f, want, "inner_into (F order) of {sa:?} {la:?} and {sb:?} {lb:?}");
}

/// Checks inner_axes on one case; the axes are picked by the seed.
fn check_axes<A: Elem + InnerScalar>(sa: &[usize], sb: &[usize], la: Layout, lb: Layout, seed: u64) {
    if sa.is_empty() || sb.is_empty() {
        return;
    }
    let mut rng = Rng(seed);
    let (i, j) = (rng.next_u64() as usize % sa.len(), rng.next_u64() as usize % sb.len());
    let mut sb = sb.to_vec();
    sb[j] = sa[i];
    let a = make(&random_array::<A>(sa, &mut rng), la);
    let b = make(&random_array::<A>(&sb, &mut rng), lb);
    let (a, b) = (a.view(), b.view());
    let want = exact(Reference::axes(&a, &b, i, j));
    assert_eq!(
        a.inner_axes(&b, Axis(i), Axis(j)),
        want,
        "inner_axes {sa:?} ax {i}, {sb:?} ax {j}"
    );
}

macro_rules! properties {
    ($($name:ident: $t:ty,)*) => {$(
        mod $name {
            use super::*;
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(96))]
                #[test]
                fn small_any_ndim((sa, sb) in aligned_shapes(4, 5), la in layout(), lb in layout(), seed in any::<u64>()) {
                    check_inner::<$t>(&sa, &sb, la, lb, seed);
                    check_axes::<$t>(&sa, &sb, la, lb, seed);
                }
            }
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(10))]
                // Large enough for the GEMM and blocked integer paths (m*n*k past their tiny cutoffs).
                #[test]
                fn gemm_sized((sa, sb) in aligned_shapes(2, 64), la in layout(), lb in layout(), seed in any::<u64>()) {
                    check_inner::<$t>(&sa, &sb, la, lb, seed);
                }
            }
        }
    )*};
}

properties! {
    f32_: f32,
    f64_: f64,
    c32_: Complex<f32>,
    c64_: Complex<f64>,
    i8_: i8,
    i16_: i16,
    i32_: i32,
    i64_: i64,
    isize_: isize,
    u8_: u8,
    u16_: u16,
    u32_: u32,
    u64_: u64,
    usize_: usize,
    f16_: f16,
    bf16_: bf16,
    bool_: bool,
}

/// Real-valued floats (not whole numbers): agreement within the error bound of a
/// sum of `k` products, `k * eps * sum |a_i b_i|`, which any summation order meets.
#[test]
fn real_valued_floats_within_the_summation_bound() {
    let mut rng = Rng(42);
    for case in 0..200 {
        let (m, n, k) = (1 + case % 7, 1 + case % 5 * 9, (case * 37) % 300);
        let a = ArrayD::from_shape_simple_fn(IxDyn(&[m, k]), || rng.unit() * 1e3);
        let b = ArrayD::from_shape_simple_fn(IxDyn(&[n, k]), || rng.unit());
        let want = naive::inner(&a.view(), &b.view(), false);
        let bound = naive::inner(&a.mapv(f64::abs).view(), &b.mapv(f64::abs).view(), false);
        let got = a.inner(&b);
        for ((g, w), s) in got.iter().zip(&want).zip(&bound) {
            approx::assert_abs_diff_eq!(g, w, epsilon = 2.0 * k as f64 * f64::EPSILON * s + f64::MIN_POSITIVE);
        }
        let (a32, b32) = (a.mapv(|x| x as f32), b.mapv(|x| x as f32));
        let want32 = naive::inner(&a32.mapv(f64::from).view(), &b32.mapv(f64::from).view(), false);
        let bound32 = naive::inner(
            &a32.mapv(|x| x.abs() as f64).view(),
            &b32.mapv(|x| x.abs() as f64).view(),
            false,
        );
        for ((g, w), s) in a32.inner(&b32).iter().zip(&want32).zip(&bound32) {
            let eps = 2.0 * k as f64 * f32::EPSILON as f64 * s + f32::MIN_POSITIVE as f64;
            approx::assert_abs_diff_eq!(f64::from(*g), w, epsilon = eps);
        }
    }
}
