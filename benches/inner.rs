//! `a.inner(&b)` beside ndarray's raw `a.dot(&b.t())` and a naive triple loop:
//! a size sweep for every element type, the layouts (C order, F order, strided,
//! broadcast, 3-D), the tiny calls that users make in loops, and the >2-D shapes
//! where NumPy copies. Throughput is in flops (2·M·N·K, 8·M·N·K for complex), so
//! criterion's "elem/s" reads as FLOP/s.
//!
//! ```text
//! RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 cargo bench --bench inner
//! cargo bench --bench inner -- 'sweep/f64'          # one group
//! cargo bench --bench inner --features blas -- tiny # through OpenBLAS
//! ```
//!
//! Samples are few and short so that the whole run takes a few minutes; for
//! steadier figures raise them with `--sample-size` / `--measurement-time`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use ndarray::{s, Array, Array1, Array2, Array3, ArrayD, ArrayView2, Dimension, LinalgScalar, ShapeBuilder};
use ndarray_inner::{InnerDim, InnerExt, InnerScalar};
use num_complex::Complex;

use ndarray_inner_test_kit::{naive, Elem as TestElem, Rng};

/// A benchmarked element type: the test kit's generators (`unit`: floats in
/// `[-1, 1)`, integers in `-100..=100`) and names, and what ndarray's `dot` needs.
trait Elem: TestElem + InnerScalar + LinalgScalar {}
impl<T: TestElem + InnerScalar + LinalgScalar> Elem for T {}

fn matrix<T: Elem>(rows: usize, cols: usize, rng: &mut Rng) -> Array2<T> {
    Array2::from_shape_simple_fn((rows, cols), || T::unit(rng))
}

/// The naive reference: the test kit's plain loops, one multiply-add at a time.
fn naive<T: Elem>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> ArrayD<T> {
    naive::inner(&a.into_dyn(), &b.into_dyn(), false)
}

fn flops<T: Elem>(m: usize, n: usize, k: usize) -> Throughput {
    // Flops per multiply-add: 2, or 8 for complex.
    let flops = if T::IS_COMPLEX { 8 } else { 2 };
    Throughput::Elements(flops * (m * n * k) as u64)
}

/// inner, raw dot and (when small enough) naive on `(m, k) . (n, k)` in C order.
fn square_trio<T: Elem>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, size: usize, naive_max: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let a = matrix::<T>(size, size, &mut rng);
    let b = matrix::<T>(size, size, &mut rng);
    g.throughput(flops::<T>(size, size, size));
    g.bench_with_input(BenchmarkId::new("inner", size), &size, |bch, _| {
        bch.iter(|| black_box(&a).inner(black_box(&b)))
    });
    g.bench_with_input(BenchmarkId::new("ndarray_dot", size), &size, |bch, _| {
        bch.iter(|| black_box(&a).dot(&black_box(&b).t()))
    });
    if size <= naive_max {
        g.bench_with_input(BenchmarkId::new("naive", size), &size, |bch, _| {
            bch.iter(|| naive(black_box(a.view()), black_box(b.view())))
        });
    }
}

fn sweep_type<T: Elem>(c: &mut Criterion, sizes: &[usize]) {
    let mut g = c.benchmark_group(format!("sweep/{}", T::SHORT_NAME));
    // The same iteration count in every sample: a 2048² product takes 0.35 s.
    g.sampling_mode(SamplingMode::Flat);
    for &size in sizes {
        square_trio::<T>(&mut g, size, 128);
    }
    g.finish();
}

fn sweep(c: &mut Criterion) {
    let floats = [2, 8, 32, 128, 512, 1024, 2048];
    let others = [2, 8, 32, 128, 512, 1024];
    sweep_type::<f64>(c, &floats);
    sweep_type::<f32>(c, &floats);
    sweep_type::<Complex<f64>>(c, &others);
    sweep_type::<Complex<f32>>(c, &others);
    sweep_type::<i64>(c, &others);
    sweep_type::<i32>(c, &others);
    sweep_type::<i8>(c, &[8, 128, 512]);
}

/// One layout: `inner` on the operands as they are, `dot` on the same views.
fn layout_case<T: Elem, D, E>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    a: ndarray::ArrayView<'_, T, D>,
    b: ndarray::ArrayView<'_, T, E>,
) where
    D: Dimension + InnerDim<E>,
    E: Dimension,
{
    let k = *a.shape().last().unwrap();
    let (m, n) = (a.len() / k, b.len() / k);
    g.throughput(flops::<T>(m, n, k));
    g.bench_function(BenchmarkId::new("inner", name), |bch| {
        bch.iter(|| black_box(&a).inner(black_box(&b)))
    });
    // The raw expression needs 2-D operands: `to_shape` views C-order ones, and copies
    // the rest (in the timed loop, as a user of `dot` would have to).
    g.bench_function(BenchmarkId::new("ndarray_dot", name), |bch| {
        bch.iter(|| {
            let a2 = black_box(&a).to_shape((m, k)).unwrap();
            let b2 = black_box(&b).to_shape((n, k)).unwrap();
            a2.dot(&b2.t())
        })
    });
}

fn layouts_type<T: Elem>(c: &mut Criterion) {
    let size = 512;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut g = c.benchmark_group(format!("layout/{}", T::SHORT_NAME));
    g.sampling_mode(SamplingMode::Flat);
    let a = matrix::<T>(size, size, &mut rng);
    let b = matrix::<T>(size, size, &mut rng);
    layout_case(&mut g, "contiguous", a.view(), b.view());
    let af = Array2::from_shape_vec((size, size).f(), a.t().iter().copied().collect()).unwrap();
    let bf = Array2::from_shape_vec((size, size).f(), b.t().iter().copied().collect()).unwrap();
    layout_case(&mut g, "f_order", af.view(), bf.view());
    let wide_a = matrix::<T>(size, 2 * size, &mut rng);
    let wide_b = matrix::<T>(size, 2 * size, &mut rng);
    layout_case(
        &mut g,
        "strided_k",
        wide_a.slice(s![.., ..;2]),
        wide_b.slice(s![.., ..;2]),
    );
    layout_case(&mut g, "reversed_rows", a.slice(s![..;-1, ..]), b.view());
    let row: Array1<T> = Array1::from_shape_simple_fn(size, || T::unit(&mut rng));
    layout_case(&mut g, "broadcast_b", a.view(), row.broadcast((size, size)).unwrap());
    let a3: Array3<T> = Array::from_shape_simple_fn((8, size / 8, size), || T::unit(&mut rng));
    layout_case(&mut g, "3d_a", a3.view(), b.view());
    g.finish();
}

fn layouts(c: &mut Criterion) {
    layouts_type::<f64>(c);
    layouts_type::<f32>(c);
    layouts_type::<Complex<f64>>(c);
    layouts_type::<i64>(c);
    layouts_type::<i32>(c);
}

/// The shapes NumPy copies (>2-D operands) and the issue's targets.
fn shapes(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut g = c.benchmark_group("shapes/f64");
    g.sampling_mode(SamplingMode::Flat);
    let a: Array3<f64> = Array::from_shape_simple_fn((32, 128, 256), || rng.unit());
    let b: Array2<f64> = Array::from_shape_simple_fn((512, 256), || rng.unit());
    layout_case(&mut g, "(32,128,256).(512,256)", a.view(), b.view());
    let a: Array3<f64> = Array::from_shape_simple_fn((16, 64, 256), || rng.unit());
    let b: Array3<f64> = Array::from_shape_simple_fn((8, 32, 256), || rng.unit());
    layout_case(&mut g, "(16,64,256).(8,32,256)", a.view(), b.view());
    let a: Array2<f64> = Array::from_shape_simple_fn((100, 768), || rng.unit());
    let b: Array2<f64> = Array::from_shape_simple_fn((2000, 768), || rng.unit());
    layout_case(&mut g, "(100,768).(2000,768)", a.view(), b.view());
    g.finish();
}

/// Calls made in loops: per-call cost, all overhead.
fn tiny(c: &mut Criterion) {
    let mut g = c.benchmark_group("tiny/f64");
    let v3 = Array1::from(vec![1.0, 2.0, 3.0]);
    let w3 = Array1::from(vec![4.0, 5.0, 6.0]);
    let m44 = Array2::from_shape_fn((4, 4), |(i, j)| (i * 4 + j) as f64);
    let v4 = Array1::from(vec![1.0, -1.0, 0.5, 2.0]);
    let m23 = Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as f64);
    g.throughput(flops::<f64>(1, 1, 3));
    g.bench_function("inner/(3,).(3,)", |bch| {
        bch.iter(|| black_box(&v3).inner(black_box(&w3)))
    });
    g.bench_function("ndarray_dot/(3,).(3,)", |bch| {
        bch.iter(|| black_box(&v3).dot(black_box(&w3)))
    });
    g.bench_function("naive/(3,).(3,)", |bch| {
        bch.iter(|| {
            black_box(&v3)
                .iter()
                .zip(black_box(&w3))
                .fold(0.0, |s, (x, y)| s + x * y)
        })
    });
    g.throughput(flops::<f64>(4, 1, 4));
    g.bench_function("inner/(4,4).(4,)", |bch| {
        bch.iter(|| black_box(&m44).inner(black_box(&v4)))
    });
    g.bench_function("ndarray_dot/(4,4).(4,)", |bch| {
        bch.iter(|| black_box(&m44).dot(black_box(&v4)))
    });
    g.throughput(flops::<f64>(2, 1, 3));
    g.bench_function("inner/(2,3).(3,)", |bch| {
        bch.iter(|| black_box(&m23).inner(black_box(&w3)))
    });
    g.bench_function("ndarray_dot/(2,3).(3,)", |bch| {
        bch.iter(|| black_box(&m23).dot(black_box(&w3)))
    });
    let a = Array2::from_shape_fn((8, 8), |(i, j)| (i * 8 + j) as f64);
    g.throughput(flops::<f64>(8, 8, 8));
    g.bench_function("inner/(8,8).(8,8)", |bch| {
        bch.iter(|| black_box(&a).inner(black_box(&a)))
    });
    g.bench_function("ndarray_dot/(8,8).(8,8)", |bch| {
        bch.iter(|| black_box(&a).dot(&black_box(&a).t()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = tiny, shapes, layouts, sweep
}
criterion_main!(benches);
