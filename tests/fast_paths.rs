//! Every fast path of the kernels against a naive reference written out plainly
//! here: each element type, sizes at and around every block edge of the kernels,
//! the tiny-product threshold, `m == 1`, `n == 1`, `k == 0`, strided, reversed,
//! broadcast, F-order and 3-D operands, and integer wrap-around at the type limits.
//!
//! The block sizes and thresholds are read from `ndarray_inner::thresholds`, the
//! kernels' one definition, so the probed sizes follow them when they change.
//! Speed is never asserted here.

use ndarray::{s, Array, Array2, ArrayD, ArrayView2, ArrayViewD, IxDyn, ShapeBuilder};
use ndarray_inner::thresholds::{
    integer_blocking, is_tiny, CONJ_BLOCK_ROWS, INTEGER_NC, SMALL_GEMM_MACS, TINY_LONG_MACS, TINY_MACS, TINY_OUTPUTS,
};
use ndarray_inner::{InnerExt, InnerScalar};
use ndarray_inner_test_kit::{filled, naive};
use num_complex::Complex;

/// What the tests need of an element type: the test kit's values and reference, the crate's bound.
trait Elem: ndarray_inner_test_kit::Elem + InnerScalar {}
impl<T: ndarray_inner_test_kit::Elem + InnerScalar> Elem for T {}

fn check<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, what: &str) {
    let expected = naive::inner(a, b, false);
    let got: ArrayD<T> = a.inner(b);
    assert_eq!(got, expected, "{what}: a {:?} b {:?}", a.shape(), b.shape());
    // The typed 2-D entry point takes the same kernel path.
    if a.ndim() == 2 && b.ndim() == 2 {
        let a2 = a.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let b2 = b.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let got2: Array2<T> = a2.inner(&b2);
        assert_eq!(got2.into_dyn(), expected, "{what} (Ix2)");
    }
}

/// `inner` on `(m, k) . (n, k)` in C order.
fn check_mnk<T: Elem>(m: usize, n: usize, k: usize) {
    let a = filled::<T>(&[m, k], 1);
    let b = filled::<T>(&[n, k], 1_000_003);
    check(&a.view(), &b.view(), &format!("{m}x{n}x{k}"));
}

/// Sizes at, just below and just above `edge` (and never zero).
fn around(edge: usize) -> [usize; 3] {
    [edge.saturating_sub(1).max(1), edge, edge + 1]
}

/// Every integer kernel block edge for an element of `size` bytes.
fn integer_edges<T: Elem>(size: usize) {
    let blocking = integer_blocking(size);
    let (mr, nr, kc) = (blocking.mr, blocking.nr, blocking.kc);
    // Register tile edges in m and n, with k past the tiny threshold.
    for m in around(mr).into_iter().chain(around(2 * mr)) {
        for n in around(nr) {
            check_mnk::<T>(m, n, 67);
        }
    }
    // The K block: one, one and a bit, two blocks.
    for k in around(kc).into_iter().chain(around(2 * kc)) {
        check_mnk::<T>(mr + 1, nr + 3, k);
    }
    // The rows-of-B block.
    for n in around(INTEGER_NC) {
        check_mnk::<T>(mr - 1, n, 9);
    }
}

#[test]
fn integer_block_edges_every_type() {
    integer_edges::<i8>(1);
    integer_edges::<u8>(1);
    integer_edges::<i16>(2);
    integer_edges::<u16>(2);
    integer_edges::<i32>(4);
    integer_edges::<u32>(4);
    integer_edges::<i64>(8);
    integer_edges::<u64>(8);
    integer_edges::<isize>(std::mem::size_of::<isize>());
    integer_edges::<usize>(std::mem::size_of::<usize>());
}

/// The rows-of-A block (`mc` of `integer_blocking`): sizes around it for i64 and i32.
#[test]
fn integer_row_block_edges() {
    for m in around(integer_blocking(8).mc) {
        check_mnk::<i64>(m, 33, 65);
    }
    for m in around(integer_blocking(4).mc) {
        check_mnk::<i32>(m, 65, 17);
    }
}

/// Large enough to run on several threads when the `rayon` feature is on
/// (2^21 multiply-adds and more, at least 48 rows a thread), with ragged edges
/// everywhere, and `m` around the band split of two and three threads.
#[test]
fn integer_parallel_sizes() {
    check_mnk::<i64>(131, 257, 129);
    check_mnk::<i32>(263, 131, 67);
    check_mnk::<u8>(97, 300, 130);
    for m in around(96).into_iter().chain(around(144)) {
        check_mnk::<i64>(m, 257, 129);
    }
}

#[test]
fn tiny_threshold_every_type() {
    fn each<T: Elem>() {
        let (long, outputs) = (TINY_LONG_MACS, TINY_OUTPUTS);
        let per_output = long / outputs;
        // One output: a dot product of TINY_LONG_MACS - 1 .. TINY_LONG_MACS + 1.
        for k in around(long) {
            check_mnk::<T>(1, 1, k);
        }
        assert!(is_tiny(1, 1, long) && !is_tiny(1, 1, long + 1));
        // About TINY_LONG_MACS multiply-adds into wider outputs, on either side of it.
        for (m, n, k) in [
            (outputs, outputs, per_output / outputs),
            (outputs + 1, outputs, per_output / outputs),
            (outputs - 1, outputs, per_output / outputs + 1),
            (3, 7, (long - 1) / 21),
        ] {
            check_mnk::<T>(m, n, k);
        }
    }
    each::<f32>();
    each::<f64>();
    each::<Complex<f32>>();
    each::<Complex<f64>>();
    each::<i8>();
    each::<i16>();
    each::<i32>();
    each::<i64>();
    each::<u8>();
    each::<u64>();
    each::<usize>();
}

#[test]
fn tiny_edges_every_type() {
    fn each<T: Elem>() {
        let (macs, long, outputs) = (TINY_MACS, TINY_LONG_MACS, TINY_OUTPUTS);
        // TINY_MACS multiply-adds and one more, any output size.
        for (m, n, k) in [
            (8, 8, macs / 64),
            (8, 8, macs / 64 + 1),
            (8, 9, macs / 64),
            (2, 16, macs / 32),
            (3, 3, macs / 9 + 1),
            (16, macs / 16, 1),
            (16, macs / 16 + 1, 1),
        ] {
            check_mnk::<T>(m, n, k);
        }
        assert!(is_tiny(8, 8, macs / 64) && !is_tiny(8, 8, macs / 64 + 1) && !is_tiny(16, macs / 16 + 1, 1));
        // Long dot products into outputs of TINY_OUTPUTS elements and one more.
        let per_output = long / outputs;
        for (m, n, k) in [
            (4, outputs / 4, per_output),
            (4, outputs / 4, per_output + 1),
            (1, outputs, per_output),
            (outputs, 1, per_output + 1),
            (2, outputs / 2, per_output - 1),
            (outputs + 1, 1, per_output - outputs),
            (1, outputs + 1, macs / (outputs + 1) + 1),
        ] {
            check_mnk::<T>(m, n, k);
        }
        assert!(is_tiny(1, outputs, per_output) && !is_tiny(outputs, 1, per_output + 1));
        assert!(!is_tiny(outputs + 1, 1, per_output - outputs) && !is_tiny(1, outputs + 1, macs / (outputs + 1) + 1));
    }
    each::<f32>();
    each::<f64>();
    each::<Complex<f32>>();
    each::<Complex<f64>>();
    each::<i8>();
    each::<i32>();
    each::<i64>();
    each::<u16>();
}

/// Complex<f64> on the `gemm` crate, which conjugates while packing, at and around
/// the size where real GEMMs move to it from matrixmultiply, `inner` and
/// `inner_conj`, in every layout (negative and stepped strides included).
#[test]
fn complex_gemm_crate() {
    type C = Complex<f64>;
    // A cube of SMALL_GEMM_MACS multiply-adds, one row less, and a ragged one past it.
    let e = (SMALL_GEMM_MACS as f64).cbrt().round() as usize;
    for (m, n, k) in [(e, e, e), (e - 1, e, e), (e + 6, e + 1, e - 3)] {
        let macs = m * n * k;
        assert!(
            macs.abs_diff(SMALL_GEMM_MACS) < SMALL_GEMM_MACS / 4,
            "{m}x{n}x{k} is not near the edge"
        );
        let a = filled::<C>(&[m, k], 71);
        let b = filled::<C>(&[n, k], 73);
        let wide = filled::<C>(&[m, 2 * k], 79);
        let row = filled::<C>(&[k], 83);
        let af = Array::from_shape_vec(IxDyn(&[m, k]).f(), a.t().iter().copied().collect()).unwrap();
        let a_views = [
            a.view(),
            af.view(),
            wide.slice(s![.., ..;2]).into_dyn(),
            a.slice(s![..;-1, ..]).into_dyn(),
        ];
        let bcast = row.broadcast(IxDyn(&[n, k])).unwrap();
        for av in &a_views {
            for bv in [b.view(), bcast.view(), b.slice(s![.., ..;-1]).into_dyn()] {
                check(av, &bv, "complex GEMM");
                let got: ArrayD<C> = av.inner_conj(&bv);
                assert_eq!(got, naive::inner(av, &bv, true), "complex GEMM, conj");
            }
        }
    }
}

#[test]
fn vector_and_degenerate_shapes_every_type() {
    fn each<T: Elem>() {
        for (m, n, k) in [
            (1, 1, 1),
            (1, 300, 70),  // m == 1: matrix-vector
            (300, 1, 70),  // n == 1: matrix-vector
            (1, 1, 10000), // one long dot product
            (5, 3, 0),     // k == 0: all zeros
            (0, 3, 4),     // empty output
            (3, 0, 4),
            (97, 89, 83), // odd sizes everywhere
            (128, 128, 128),
        ] {
            check_mnk::<T>(m, n, k);
        }
        // 1-D operands and mixed dimensions.
        let v = filled::<T>(&[70], 3);
        let w = filled::<T>(&[70], 5);
        let m = filled::<T>(&[9, 70], 7);
        check(&v.view(), &w.view(), "1-D . 1-D");
        check(&m.view(), &v.view(), "2-D . 1-D");
        check(&v.view(), &m.view(), "1-D . 2-D");
    }
    each::<f32>();
    each::<f64>();
    each::<Complex<f32>>();
    each::<Complex<f64>>();
    each::<i8>();
    each::<i16>();
    each::<i32>();
    each::<i64>();
    each::<isize>();
    each::<u8>();
    each::<u16>();
    each::<u32>();
    each::<u64>();
    each::<usize>();
}

/// The layouts the 2-D merge sees: F order, transposed, stepped, reversed,
/// broadcast, and operands with more than two axes.
fn layouts<T: Elem>(m: usize, n: usize, k: usize) {
    let a = filled::<T>(&[m, k], 11);
    let b = filled::<T>(&[n, k], 13);
    let what = |s: &str| format!("{s} {m}x{n}x{k}");

    // F order.
    let af = Array::from_shape_vec(IxDyn(&[m, k]).f(), a.t().iter().copied().collect()).unwrap();
    assert_eq!(af, a);
    check(&af.view(), &b.view(), &what("F-order a"));
    check(
        &a.view(),
        &af.view().slice_move(s![..n.min(m), ..]).into_dyn(),
        &what("F-order b"),
    );

    // Transposed view of a (k, m) array.
    let at = filled::<T>(&[k, m], 17);
    check(&at.t(), &b.view(), &what("transposed a"));

    // Stepped last axis, stepped rows.
    let wide = filled::<T>(&[2 * m, 2 * k], 19);
    let stepped = wide.slice(s![..;2, ..;2]).into_dyn();
    check(&stepped, &b.view(), &what("stepped a"));
    check(&b.view(), &stepped, &what("stepped b"));
    let rows_only = wide.slice(s![..;2, ..k]).into_dyn();
    check(&rows_only, &b.view(), &what("row-stepped a"));

    // Negative strides on each axis and both.
    check(
        &a.slice(s![..;-1, ..]).into_dyn(),
        &b.view(),
        &what("reversed rows of a"),
    );
    check(&a.view(), &b.slice(s![.., ..;-1]).into_dyn(), &what("reversed k of b"));
    check(
        &a.slice(s![..;-1, ..;-1]).into_dyn(),
        &b.slice(s![..;-1, ..;-1]).into_dyn(),
        &what("reversed both"),
    );

    // Broadcast: one row of b repeated, and a broadcast leading axis of a 3-D a.
    let row = filled::<T>(&[k], 23);
    let b_bcast = row.broadcast(IxDyn(&[n, k])).unwrap();
    check(&a.view(), &b_bcast, &what("broadcast b"));
    let a3 = a.broadcast(IxDyn(&[2, m, k])).unwrap();
    check(&a3, &b.view(), &what("broadcast 3-D a"));

    // 3-D operands, C order (merge to 2-D as views) and with a permuted leading pair.
    let a3 = filled::<T>(&[2, m, k], 29);
    let b3 = filled::<T>(&[3, n, k], 31);
    check(&a3.view(), &b.view(), &what("3-D a"));
    check(&a3.view(), &b3.view(), &what("3-D a, 3-D b"));
    let a3p = a3.view().permuted_axes(IxDyn(&[1, 0, 2]));
    check(&a3p, &b3.view(), &what("permuted 3-D a"));
    // A strided last axis on a 3-D operand.
    let wide3 = filled::<T>(&[2, m, 2 * k], 37);
    check(
        &wide3.slice(s![.., .., ..;2]).into_dyn(),
        &b.view(),
        &what("stepped 3-D a"),
    );
}

#[test]
fn layouts_every_type() {
    // A tiny product, a matrix-vector-sized one, and one past every first block edge.
    for (m, n, k) in [(3, 2, 5), (1, 40, 130), (13, 70, 67)] {
        layouts::<f32>(m, n, k);
        layouts::<f64>(m, n, k);
        layouts::<Complex<f32>>(m, n, k);
        layouts::<Complex<f64>>(m, n, k);
        layouts::<i8>(m, n, k);
        layouts::<i16>(m, n, k);
        layouts::<i32>(m, n, k);
        layouts::<i64>(m, n, k);
        layouts::<u32>(m, n, k);
        layouts::<usize>(m, n, k);
    }
}

#[test]
fn integer_wraps_at_type_limits() {
    fn each<T: Elem>(values: &[T]) {
        for &(m, n, k) in &[(2, 3, 5), (7, 40, 70), (9, 70, 131)] {
            let a = Array2::from_shape_fn((m, k), |(i, j)| values[(i * 3 + j) % values.len()]).into_dyn();
            let b = Array2::from_shape_fn((n, k), |(i, j)| values[(i + j * 5) % values.len()]).into_dyn();
            check(&a.view(), &b.view(), "limits");
        }
    }
    each::<i8>(&[i8::MIN, i8::MAX, -1, 1, 0, i8::MIN + 1]);
    each::<u8>(&[u8::MAX, 0, 1, 128, 255, 3]);
    each::<i16>(&[i16::MIN, i16::MAX, -1, 1]);
    each::<u16>(&[u16::MAX, 1, 0x8000]);
    each::<i32>(&[i32::MIN, i32::MAX, -1, 1, 0x10000]);
    each::<u32>(&[u32::MAX, 1, 0x8000_0000]);
    each::<i64>(&[i64::MIN, i64::MAX, -1, 1, 1 << 32]);
    each::<u64>(&[u64::MAX, 1, 1 << 63]);
    each::<isize>(&[isize::MIN, isize::MAX, -1]);
    each::<usize>(&[usize::MAX, 1, 2]);
}

#[test]
fn conj_every_block_edge() {
    fn each<T: Elem>() {
        for m in around(CONJ_BLOCK_ROWS).into_iter().chain([1, 2 * CONJ_BLOCK_ROWS + 1]) {
            let a = filled::<T>(&[m, 9], 41);
            let b = filled::<T>(&[5, 9], 43);
            let got: ArrayD<T> = a.inner_conj(&b);
            assert_eq!(got, naive::inner(&a.view(), &b.view(), true), "conj m={m}");
        }
        // Past the tiny threshold, with a strided a.
        let a = filled::<T>(&[40, 260], 47);
        let b = filled::<T>(&[33, 130], 53);
        let a_s = a.slice(s![.., ..;2]).into_dyn();
        let got: ArrayD<T> = a_s.inner_conj(&b);
        assert_eq!(got, naive::inner(&a_s, &b.view(), true), "conj strided");
    }
    each::<Complex<f32>>();
    each::<Complex<f64>>();
    // Real types: inner_conj is inner.
    each::<f64>();
    each::<i32>();
}

#[test]
fn inner_into_non_standard_output() {
    let a = filled::<i64>(&[13, 70], 59);
    let b = filled::<i64>(&[37, 70], 61);
    let expected = naive::inner(&a.view(), &b.view(), false);
    let mut out = Array2::<i64>::zeros((37, 13));
    let mut out_t = out.view_mut().reversed_axes();
    a.inner_into(&b, &mut out_t).unwrap();
    assert_eq!(out.t().into_dyn(), expected);
    let af = filled::<f64>(&[13, 70], 59);
    let bf = filled::<f64>(&[37, 70], 61);
    let mut outf = Array2::<f64>::zeros((13, 74));
    let mut stepped = outf.slice_mut(s![.., ..;2]);
    af.inner_into(&bf, &mut stepped).unwrap();
    assert_eq!(stepped.into_dyn(), naive::inner(&af.view(), &bf.view(), false));
}

#[test]
fn column_views_of_one_array() {
    // Rows of a and b from the same buffer, along both axes.
    let base = filled::<f64>(&[50, 90], 67);
    let base2: ArrayView2<'_, f64> = base.view().into_dimensionality().unwrap();
    let a = base2.slice(s![..20, ..]).into_dyn();
    let b = base2.slice(s![20.., ..]).into_dyn();
    check(&a, &b, "two slices of one array");
    let cols = base2.t().slice_move(s![..45, ..]).into_dyn();
    check(&cols, &base2.t().slice_move(s![45.., ..]).into_dyn(), "columns");
}
