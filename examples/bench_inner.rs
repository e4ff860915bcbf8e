//! Times `a.inner(&b)` and ndarray's raw `dot` on shapes read from standard input,
//! one spec a line, and prints the median time of one call of each, in seconds.
//! `scripts/compare_numpy.py` drives it beside NumPy; run it alone as
//!
//! ```text
//! echo "f64 1024,1024 1024,1024" | cargo run --release --example bench_inner
//! ```
//!
//! A spec is `DTYPE A_SHAPE B_SHAPE [LAYOUT]`: DTYPE one of f32 f64 c64 c128 i32 i64
//! f16 bf16 bool (the last three have no ndarray `dot`: its time prints as NaN;
//! `bool:P` makes each element true with probability P, default 0.5),
//! shapes comma-separated, LAYOUT `c` (C order, the default), `f` (F order), `strided`
//! (every other element of the last axis) or `bcast` (`b` one row broadcast).
//! Each output line is `SPEC<TAB>inner_median<TAB>dot_median<TAB>samples`.
//! The thread count follows `RAYON_NUM_THREADS` and `MATMUL_NUM_THREADS`, the kernels'
//! level `NDARRAY_INNER_ISA`; `bench_inner --isa` prints that level and exits.

use std::hint::black_box;
use std::io::BufRead;
use std::time::{Duration, Instant};

use ndarray::{Array, ArrayView1, ArrayView2, ArrayViewD, Dimension, Ix1, Ix2, Ix3, IxDyn, LinalgScalar, ShapeBuilder};
use ndarray_inner::{InnerDim, InnerExt, InnerScalar};
use num_complex::Complex;

// The tests' seeded generators: every run multiplies the same numbers.
use ndarray_inner_test_kit::{Elem as TestElem, Rng};

trait Gen: TestElem + InnerScalar {
    /// The test kit's `unit`: floats in `[-1, 1)`, integers in `-100..=100`.
    fn gen(rng: &mut Rng) -> Self {
        Self::unit(rng)
    }
    /// ndarray's `dot` on the same operands, where the type has one.
    fn raw_dot<'a>(_a: ArrayViewD<'a, Self>, _b: ArrayViewD<'a, Self>) -> Option<Box<dyn FnMut() + 'a>> {
        None
    }
}

/// `Gen::raw_dot` for the types ndarray multiplies.
macro_rules! has_dot {
    () => {
        fn raw_dot<'a>(a: ArrayViewD<'a, Self>, b: ArrayViewD<'a, Self>) -> Option<Box<dyn FnMut() + 'a>> {
            Some(Box::new(raw_dot(a, b)))
        }
    };
}

impl Gen for f32 {
    has_dot!();
}
impl Gen for f64 {
    has_dot!();
}
impl Gen for Complex<f32> {
    has_dot!();
}
impl Gen for Complex<f64> {
    has_dot!();
}
impl Gen for i32 {
    has_dot!();
}
impl Gen for i64 {
    has_dot!();
}
impl Gen for half::f16 {}
impl Gen for half::bf16 {}
/// The probability of `true` of the current `bool:P` spec, as `f64` bits: NumPy's
/// loop stops at the first shared `true`, so its speed depends on the density.
static BOOL_DENSITY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Gen for bool {
    fn gen(rng: &mut Rng) -> Self {
        rng.chance(f64::from_bits(BOOL_DENSITY.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

/// An operand of `shape` in `layout`, filled from `rng`.
fn operand<T: Gen>(shape: &[usize], layout: &str, rng: &mut Rng) -> Array<T, IxDyn> {
    match layout {
        "f" => Array::from_shape_simple_fn(IxDyn(shape).f(), || T::gen(rng)),
        "strided" => {
            let mut wide = shape.to_vec();
            *wide.last_mut().expect("at least one axis") *= 2;
            // The owner of the strided view that `view` takes.
            Array::from_shape_simple_fn(IxDyn(&wide), || T::gen(rng))
        }
        _ => Array::from_shape_simple_fn(IxDyn(shape), || T::gen(rng)),
    }
}

/// The view of `owner` that has the spec's layout.
fn view<'a, T>(owner: &'a Array<T, IxDyn>, layout: &str) -> ArrayViewD<'a, T> {
    if layout == "strided" {
        let last = owner.ndim() - 1;
        let mut v = owner.view();
        v.slice_axis_inplace(ndarray::Axis(last), ndarray::Slice::new(0, None, 2));
        v
    } else {
        owner.view()
    }
}

/// Median seconds per call of each closure, sampled alternately so that a burst of
/// load on the machine hits both alike.
fn time_pair(mut f: impl FnMut(), mut g: impl FnMut(), budget: Duration) -> (f64, f64, usize) {
    let per_call = |h: &mut dyn FnMut()| {
        let start = Instant::now();
        let mut n = 0u32;
        while n < 3 || start.elapsed() < Duration::from_millis(20) {
            h();
            n += 1;
        }
        start.elapsed().as_secs_f64() / f64::from(n)
    };
    let t1 = per_call(&mut f).max(per_call(&mut g)).max(1e-9);
    // Each sample lasts about 10 ms (at least one call); as many samples as fit.
    let reps = ((0.01 / t1) as usize).max(1);
    let samples = ((budget.as_secs_f64() / (2.0 * reps as f64 * t1)) as usize).clamp(5, 41);
    let mut tf = Vec::with_capacity(samples);
    let mut tg = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        for _ in 0..reps {
            f();
        }
        tf.push(start.elapsed().as_secs_f64() / reps as f64);
        let start = Instant::now();
        for _ in 0..reps {
            g();
        }
        tg.push(start.elapsed().as_secs_f64() / reps as f64);
    }
    (median(&mut tf), median(&mut tg), samples)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The raw ndarray expression that `inner` replaces: `a.dot(&b)` for vectors,
/// `a.dot(&b.t())` for matrices, on the operands viewed as 2-D.
fn raw_dot<'a, T: LinalgScalar>(a: ArrayViewD<'a, T>, b: ArrayViewD<'a, T>) -> impl FnMut() + 'a {
    let k = *a.shape().last().expect("at least one axis");
    let a1: Option<ArrayView1<'a, T>> = (a.ndim() == 1).then(|| a.clone().into_dimensionality::<Ix1>().expect("1-D"));
    let b1: Option<ArrayView1<'a, T>> = (b.ndim() == 1).then(|| b.clone().into_dimensionality::<Ix1>().expect("1-D"));
    let as_2d = |v: &ArrayViewD<'_, T>| -> Array<T, Ix2> {
        let m = v.len() / k.max(1);
        v.to_shape((m, k)).expect("reshape").to_owned()
    };
    // Operands that merge to 2-D are views; the copies here only stand in for
    // layouts that do not (the same copy ndarray users would write).
    let a2 = (a.ndim() > 2).then(|| as_2d(&a));
    let b2 = (b.ndim() > 2).then(|| as_2d(&b));
    let a2v: Option<ArrayView2<'a, T>> = if a.ndim() == 2 {
        Some(a.clone().into_dimensionality::<Ix2>().expect("2-D"))
    } else {
        None
    };
    let b2v: Option<ArrayView2<'a, T>> = if b.ndim() == 2 {
        Some(b.clone().into_dimensionality::<Ix2>().expect("2-D"))
    } else {
        None
    };
    move || {
        let am = a2v.as_ref().map(|v| v.view()).or_else(|| a2.as_ref().map(|v| v.view()));
        let bm = b2v.as_ref().map(|v| v.view()).or_else(|| b2.as_ref().map(|v| v.view()));
        match (&a1, &b1, am, bm) {
            (Some(x), Some(y), _, _) => {
                black_box(black_box(x).dot(black_box(y)));
            }
            (None, Some(y), Some(x), _) => {
                black_box(black_box(&x).dot(black_box(y)));
            }
            (Some(x), None, _, Some(y)) => {
                black_box(black_box(&y).dot(black_box(x)));
            }
            (None, None, Some(x), Some(y)) => {
                black_box(black_box(&x).dot(&black_box(&y).t()));
            }
            _ => unreachable!("every operand has a 1-D or 2-D form"),
        }
    }
}

fn run_dims<T: Gen, D, E>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, budget: Duration) -> (f64, f64, usize)
where
    D: Dimension + InnerDim<E>,
    E: Dimension,
{
    let dot = T::raw_dot(a.view(), b.view());
    let a = a.view().into_dimensionality::<D>().expect("ndim");
    let b = b.view().into_dimensionality::<E>().expect("ndim");
    let inner = || {
        black_box(black_box(&a).inner(black_box(&b)));
    };
    match dot {
        Some(dot) => time_pair(inner, dot, budget),
        None => {
            let (ti, _, n) = time_pair(inner, || {}, budget);
            (ti, f64::NAN, n)
        }
    }
}

fn run<T: Gen>(a_shape: &[usize], b_shape: &[usize], layout: &str, budget: Duration) -> (f64, f64, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let a_owner = operand::<T>(a_shape, layout, &mut rng);
    let a = view(&a_owner, layout);
    let b_owner;
    let b = if layout == "bcast" {
        let row = operand::<T>(&b_shape[b_shape.len() - 1..], "c", &mut rng);
        b_owner = row;
        b_owner.broadcast(IxDyn(b_shape)).expect("broadcast")
    } else {
        b_owner = operand::<T>(b_shape, layout, &mut rng);
        view(&b_owner, layout)
    };
    match (a.ndim(), b.ndim()) {
        (1, 1) => run_dims::<T, Ix1, Ix1>(&a, &b, budget),
        (2, 1) => run_dims::<T, Ix2, Ix1>(&a, &b, budget),
        (1, 2) => run_dims::<T, Ix1, Ix2>(&a, &b, budget),
        (2, 2) => run_dims::<T, Ix2, Ix2>(&a, &b, budget),
        (3, 2) => run_dims::<T, Ix3, Ix2>(&a, &b, budget),
        (3, 3) => run_dims::<T, Ix3, Ix3>(&a, &b, budget),
        _ => run_dims::<T, IxDyn, IxDyn>(&a, &b, budget),
    }
}

fn parse_shape(s: &str) -> Vec<usize> {
    s.split(',').map(|d| d.trim().parse().expect("a dimension")).collect()
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--isa") {
        // For scripts/compare_numpy.py: the kernels' level, then nothing else.
        println!("{} (detected {})", ndarray_inner::isa(), ndarray_inner::Isa::detected());
        return;
    }
    let budget = Duration::from_secs_f64(
        std::env::var("BENCH_BUDGET_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0),
    );
    eprintln!(
        "bench_inner: kernels {} (detected {}); features blas={} rayon={}; RAYON_NUM_THREADS={:?} MATMUL_NUM_THREADS={:?}",
        ndarray_inner::isa(),
        ndarray_inner::Isa::detected(),
        cfg!(feature = "blas"),
        cfg!(feature = "rayon"),
        std::env::var("RAYON_NUM_THREADS").ok(),
        std::env::var("MATMUL_NUM_THREADS").ok()
    );
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let spec = line.trim();
        if spec.is_empty() || spec.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = spec.split_whitespace().collect();
        let (dtype, a_shape, b_shape) = (parts[0], parse_shape(parts[1]), parse_shape(parts[2]));
        let layout = parts.get(3).copied().unwrap_or("c");
        let (dtype, density) = dtype.split_once(':').unwrap_or((dtype, "0.5"));
        let density: f64 = density.parse().expect("bool:P takes a probability");
        BOOL_DENSITY.store(density.to_bits(), std::sync::atomic::Ordering::Relaxed);
        let (ti, td, n) = match dtype {
            "f32" => run::<f32>(&a_shape, &b_shape, layout, budget),
            "f64" => run::<f64>(&a_shape, &b_shape, layout, budget),
            "c64" | "complex64" => run::<Complex<f32>>(&a_shape, &b_shape, layout, budget),
            "c128" | "complex128" => run::<Complex<f64>>(&a_shape, &b_shape, layout, budget),
            "i32" => run::<i32>(&a_shape, &b_shape, layout, budget),
            "i64" => run::<i64>(&a_shape, &b_shape, layout, budget),
            "f16" | "float16" => run::<half::f16>(&a_shape, &b_shape, layout, budget),
            "bf16" | "bfloat16" => run::<half::bf16>(&a_shape, &b_shape, layout, budget),
            "bool" => run::<bool>(&a_shape, &b_shape, layout, budget),
            other => panic!("unknown dtype {other}"),
        };
        println!("{spec}\t{ti:.6e}\t{td:.6e}\t{n}");
    }
}
