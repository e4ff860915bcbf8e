//! `tensordot` is NumPy's `np.tensordot(a, b, axes=(axes_a, axes_b))`, for every element
//! type and memory layout, with NumPy users' error messages.
//!
//! What this proves, and against what:
//! - NumPy's answers (`tests/fixtures/tensordot.json`, written by
//!   `tests/fixtures/gen_tensordot.py`, which also checks each against a plain loop): one
//!   pair, several pairs (given with and against the memory order), all pairs (a 0-d
//!   result), no pairs (the outer product, 0-d operands included), empty axes, broadcast
//!   operands, integer wrap-around, NaN/Inf, complex, bool, f16 and bf16. Each case runs
//!   with each operand in six layouts (C, F, every axis reversed, every axis stepped by 2,
//!   the axes stored in a rotated order, and a broadcast where the case has one), through
//!   `tensordot` and `try_tensordot`. Integers, bool and the half types (whose fixture
//!   values make every sum exact in f32) match bit for bit; floats and complex within
//!   `8 (K+1) eps sum|a||b|` per part, NaN and Inf where NumPy has them.
//! - A plain-loop reference written here, for a thousand random shapes, axis choices,
//!   pair orders and layouts per element type (f64, complex, wrapping i64 and u8, bool,
//!   f16).
//! - Every error, with its exact message, the order in which the checks run, and that
//!   `tensordot` panics with the same message.
//! - Every array kind as receiver and argument.

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

use half::{bf16, f16};
use ndarray::{
    arr0, array, ArcArray, Array, Array2, Array3, ArrayD, ArrayViewD, Axis, CowArray, Dimension as _, IxDyn,
    ShapeBuilder, Slice,
};
use ndarray_inner::{InnerError, InnerExt, InnerScalar};
use num_complex::{Complex32, Complex64};
use serde_json::Value;

// ---------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------

/// What the test needs of an element type: the fixture encoding, the reference's
/// arithmetic (its own, sharing nothing with the crate) and the comparison.
trait Elem: InnerScalar + Debug {
    /// The reference's running sum: the type itself, `f32` for the half types (NumPy's rule).
    type Acc: Copy;
    fn parse(v: &Value) -> Self;
    /// Fills the gaps of stepped layouts: shows up in a result if the crate reads one.
    fn poison() -> Self;
    fn acc_zero() -> Self::Acc;
    fn acc_mul_add(acc: Self::Acc, x: Self, y: Self) -> Self::Acc;
    fn finish(acc: Self::Acc) -> Self;
    /// `|x|`, for the rounding bound.
    fn magnitude(self) -> f64;
    /// Whether `got` may stand for `want`, given the rounding tolerance `tol` (ignored
    /// by the exact types).
    fn agrees(got: Self, want: Self, tol: f64) -> bool;
    /// The unit roundoff, 0 for the types compared exactly.
    const EPS: f64;
}

fn float_str(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a float string: {v}"))
}

fn agrees_real(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= tol
    }
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            type Acc = $t;
            fn parse(v: &Value) -> Self {
                let wide = v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from));
                <$t>::try_from(wide.unwrap_or_else(|| panic!("not an integer: {v}"))).expect("in range")
            }
            fn poison() -> Self { <$t>::MAX / 3 }
            fn acc_zero() -> Self { 0 }
            fn acc_mul_add(acc: Self, x: Self, y: Self) -> Self { acc.wrapping_add(x.wrapping_mul(y)) }
            fn finish(acc: Self) -> Self { acc }
            fn magnitude(self) -> f64 { 0.0 }
            fn agrees(got: Self, want: Self, _tol: f64) -> bool { got == want }
            const EPS: f64 = 0.0;
        }
    )*};
}
int_elem!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! float_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            type Acc = $t;
            fn parse(v: &Value) -> Self { float_str(v).parse().expect("a float") }
            fn poison() -> Self { <$t>::NAN }
            fn acc_zero() -> Self { 0.0 }
            fn acc_mul_add(acc: Self, x: Self, y: Self) -> Self { acc + x * y }
            fn finish(acc: Self) -> Self { acc }
            fn magnitude(self) -> f64 { f64::from(self).abs() }
            fn agrees(got: Self, want: Self, tol: f64) -> bool { agrees_real(got.into(), want.into(), tol) }
            const EPS: f64 = <$t>::EPSILON as f64;
        }
    )*};
}
float_elem!(f32, f64);

macro_rules! complex_elem {
    ($($c:ty, $t:ty);*) => {$(
        impl Elem for $c {
            type Acc = $c;
            fn parse(v: &Value) -> Self {
                let parts = v.as_array().unwrap_or_else(|| panic!("not a complex pair: {v}"));
                <$c>::new(float_str(&parts[0]).parse().unwrap(), float_str(&parts[1]).parse().unwrap())
            }
            fn poison() -> Self { <$c>::new(<$t>::NAN, <$t>::NAN) }
            fn acc_zero() -> Self { <$c>::new(0.0, 0.0) }
            fn acc_mul_add(acc: Self, x: Self, y: Self) -> Self { acc + x * y }
            fn finish(acc: Self) -> Self { acc }
            fn magnitude(self) -> f64 { f64::from(self.norm()) }
            fn agrees(got: Self, want: Self, tol: f64) -> bool {
                agrees_real(got.re.into(), want.re.into(), tol) && agrees_real(got.im.into(), want.im.into(), tol)
            }
            const EPS: f64 = <$t>::EPSILON as f64;
        }
    )*};
}
complex_elem!(Complex32, f32; Complex64, f64);

macro_rules! half_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            type Acc = f32;
            fn parse(v: &Value) -> Self {
                <$t>::from_bits(u16::try_from(v.as_u64().expect("16 bits")).expect("16 bits"))
            }
            fn poison() -> Self { <$t>::NAN }
            fn acc_zero() -> f32 { 0.0 }
            fn acc_mul_add(acc: f32, x: Self, y: Self) -> f32 { acc + x.to_f32() * y.to_f32() }
            fn finish(acc: f32) -> Self { <$t>::from_f32(acc) }
            fn magnitude(self) -> f64 { 0.0 }
            fn agrees(got: Self, want: Self, _tol: f64) -> bool {
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
            }
            const EPS: f64 = 0.0;
        }
    )*};
}
half_elem!(f16, bf16);

impl Elem for bool {
    type Acc = bool;
    fn parse(v: &Value) -> Self {
        v.as_bool().expect("a bool")
    }
    fn poison() -> Self {
        true
    }
    fn acc_zero() -> bool {
        false
    }
    fn acc_mul_add(acc: bool, x: bool, y: bool) -> bool {
        acc || (x && y)
    }
    fn finish(acc: bool) -> bool {
        acc
    }
    fn magnitude(self) -> f64 {
        0.0
    }
    fn agrees(got: bool, want: bool, _tol: f64) -> bool {
        got == want
    }
    const EPS: f64 = 0.0;
}

// ---------------------------------------------------------------------------------
// The plain-loop reference
// ---------------------------------------------------------------------------------

/// For every output index (`a`'s free axes, then `b`'s), `step` folded over every
/// index of the contracted axes, by plain loops.
fn contract<T: Copy, S: Clone>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    axes_a: &[usize],
    axes_b: &[usize],
    zero: S,
    step: impl Fn(S, T, T) -> S,
) -> ArrayD<S> {
    let free_a: Vec<usize> = (0..a.ndim()).filter(|i| !axes_a.contains(i)).collect();
    let free_b: Vec<usize> = (0..b.ndim()).filter(|i| !axes_b.contains(i)).collect();
    let mut out_shape: Vec<usize> = free_a.iter().map(|&i| a.shape()[i]).collect();
    out_shape.extend(free_b.iter().map(|&i| b.shape()[i]));
    let sums: Vec<usize> = axes_a.iter().map(|&i| a.shape()[i]).collect();
    ArrayD::from_shape_fn(IxDyn(&out_shape), |out| {
        let out = out.slice();
        let mut ia = vec![0; a.ndim()];
        let mut ib = vec![0; b.ndim()];
        for (q, &axis) in free_a.iter().enumerate() {
            ia[axis] = out[q];
        }
        for (q, &axis) in free_b.iter().enumerate() {
            ib[axis] = out[free_a.len() + q];
        }
        let mut acc = zero.clone();
        if sums.contains(&0) {
            return acc;
        }
        let mut k = vec![0; sums.len()];
        loop {
            for (p, (&axis_a, &axis_b)) in axes_a.iter().zip(axes_b).enumerate() {
                ia[axis_a] = k[p];
                ib[axis_b] = k[p];
            }
            acc = step(acc, a[IxDyn(&ia)], b[IxDyn(&ib)]);
            // The next contracted index, last pair fastest; done after the last one.
            let Some(p) = (0..k.len()).rev().find(|&p| k[p] + 1 < sums[p]) else {
                return acc;
            };
            k[p] += 1;
            k[p + 1..].iter_mut().for_each(|x| *x = 0);
        }
    })
}

fn reference<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, axes_a: &[usize], axes_b: &[usize]) -> ArrayD<T> {
    contract(a, b, axes_a, axes_b, T::acc_zero(), T::acc_mul_add).mapv(T::finish)
}

/// `sum |a||b|` and the number of terms `K` for each output element: the scale of its
/// rounding error.
fn bound<T: Elem>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    axes_a: &[usize],
    axes_b: &[usize],
) -> (ArrayD<f64>, usize) {
    let terms = axes_a.iter().map(|&i| a.shape()[i]).product();
    let sums = contract(a, b, axes_a, axes_b, 0.0, |s, x: T, y: T| {
        s + x.magnitude() * y.magnitude()
    });
    (sums, terms)
}

/// `got` against `want` element by element, within the rounding tolerance of each.
fn assert_agrees<T: Elem>(got: &ArrayD<T>, want: &ArrayD<T>, bounds: &ArrayD<f64>, terms: usize, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: output shape");
    for ((idx, &g), (&w, &s)) in got.indexed_iter().zip(want.iter().zip(bounds)) {
        let tol = 8.0 * (terms + 1) as f64 * T::EPS * s + 1e-300;
        assert!(
            T::agrees(g, w, tol),
            "{what}: at {:?} got {g:?}, want {w:?}",
            idx.slice()
        );
    }
}

// ---------------------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    C,
    F,
    /// Every axis reversed (negative strides).
    Reversed,
    /// Every axis a step of 2 over a larger array (the gaps poisoned).
    Stepped,
    /// The axes stored in the order 1, 2, ..., 0 and permuted back.
    Rotated,
}

const LAYOUTS: [Layout; 5] = [Layout::C, Layout::F, Layout::Reversed, Layout::Stepped, Layout::Rotated];

/// The logical array `c` in memory laid out as `layout`; `view()` shows it.
struct Laid<T> {
    store: ArrayD<T>,
    layout: Layout,
}

impl<T: Elem> Laid<T> {
    fn new(c: &ArrayD<T>, layout: Layout) -> Self {
        let shape = c.raw_dim();
        let ndim = c.ndim();
        let store = match layout {
            Layout::C => c.as_standard_layout().into_owned(),
            Layout::F => {
                let mut f = ArrayD::from_elem(shape.clone().f(), T::poison());
                f.assign(c);
                f
            }
            Layout::Reversed => {
                let mut flipped = c.clone();
                (0..ndim).for_each(|i| flipped.invert_axis(Axis(i)));
                let mut store = flipped.as_standard_layout().into_owned();
                (0..ndim).for_each(|i| store.invert_axis(Axis(i)));
                store
            }
            Layout::Stepped => {
                let big: Vec<usize> = c.shape().iter().map(|&n| 2 * n).collect();
                let mut store = ArrayD::from_elem(IxDyn(&big), T::poison());
                store.slice_each_axis_mut(|_| Slice::new(0, None, 2)).assign(c);
                store
            }
            Layout::Rotated => {
                let rotation: Vec<usize> = (0..ndim).map(|i| (i + 1) % ndim).collect();
                c.view()
                    .permuted_axes(IxDyn(&rotation))
                    .as_standard_layout()
                    .into_owned()
            }
        };
        Laid { store, layout }
    }

    fn view(&self) -> ArrayViewD<'_, T> {
        let ndim = self.store.ndim();
        match self.layout {
            Layout::Stepped => self.store.slice_each_axis(|_| Slice::new(0, None, 2)),
            Layout::Rotated => {
                // Stored axis j holds logical axis (j + 1) % ndim: put each back.
                let back: Vec<usize> = (0..ndim).map(|i| (i + ndim - 1) % ndim).collect();
                self.store.view().permuted_axes(IxDyn(&back))
            }
            _ => self.store.view(),
        }
    }
}

fn axes(list: &[usize]) -> Vec<Axis> {
    list.iter().map(|&i| Axis(i)).collect()
}

// ---------------------------------------------------------------------------------
// NumPy's fixtures
// ---------------------------------------------------------------------------------

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_u64().expect("an index") as usize)
        .collect()
}

/// The logical operand of a case: its values, and the shape it is broadcast to if any.
fn operand<T: Elem>(case: &Value, name: &str) -> (ArrayD<T>, Option<Vec<usize>>) {
    let shape = usizes(&case[format!("{name}_shape")]);
    let values: Vec<T> = case[name].as_array().expect("values").iter().map(T::parse).collect();
    match case.get(format!("{name}_base_shape")) {
        Some(base) => (
            ArrayD::from_shape_vec(IxDyn(&usizes(base)), values).expect("base values"),
            Some(shape),
        ),
        None => (ArrayD::from_shape_vec(IxDyn(&shape), values).expect("values"), None),
    }
}

/// Every case of `dtype` in every pair of layouts; returns how many cases ran.
fn run_fixtures<T: Elem>(cases: &[Value], dtype: &str) -> usize {
    let mut ran = 0;
    for case in cases.iter().filter(|c| c["dtype"] == dtype) {
        let id = case["id"].as_str().unwrap();
        let (axes_a, axes_b) = (usizes(&case["axes_a"]), usizes(&case["axes_b"]));
        let (a, a_to) = operand::<T>(case, "a");
        let (b, b_to) = operand::<T>(case, "b");
        let out_shape = usizes(&case["out_shape"]);
        let out: Vec<T> = case["out"].as_array().unwrap().iter().map(T::parse).collect();
        let want = ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("out values");
        for la in LAYOUTS {
            for lb in LAYOUTS {
                let (laid_a, laid_b) = (Laid::new(&a, la), Laid::new(&b, lb));
                let (base_a, base_b) = (laid_a.view(), laid_b.view());
                let va = a_to
                    .as_ref()
                    .map_or(base_a.view(), |s| base_a.broadcast(IxDyn(s)).expect("broadcasts"));
                let vb = b_to
                    .as_ref()
                    .map_or(base_b.view(), |s| base_b.broadcast(IxDyn(s)).expect("broadcasts"));
                let what = format!("{id}, a {la:?}, b {lb:?}");
                let got = va.tensordot(&vb, &axes(&axes_a), &axes(&axes_b));
                let (bounds, terms) = bound(&va, &vb, &axes_a, &axes_b);
                assert_agrees(&got, &want, &bounds, terms, &what);
                let tried = va.try_tensordot(&vb, &axes(&axes_a), &axes(&axes_b)).expect(&what);
                assert_agrees(&tried, &want, &bounds, terms, &what);
                // NumPy's answer is also the plain loop's (the generator checked as much).
                assert_agrees(&reference(&va, &vb, &axes_a, &axes_b), &want, &bounds, terms, &what);
            }
        }
        ran += 1;
    }
    ran
}

#[test]
fn numpy_fixtures_in_every_layout() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tensordot.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).expect("JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(doc["count"].as_u64(), Some(cases.len() as u64));
    let ran = run_fixtures::<f64>(cases, "float64")
        + run_fixtures::<f32>(cases, "float32")
        + run_fixtures::<Complex64>(cases, "complex128")
        + run_fixtures::<Complex32>(cases, "complex64")
        + run_fixtures::<i8>(cases, "int8")
        + run_fixtures::<i16>(cases, "int16")
        + run_fixtures::<i32>(cases, "int32")
        + run_fixtures::<i64>(cases, "int64")
        + run_fixtures::<u8>(cases, "uint8")
        + run_fixtures::<u16>(cases, "uint16")
        + run_fixtures::<u32>(cases, "uint32")
        + run_fixtures::<u64>(cases, "uint64")
        + run_fixtures::<f16>(cases, "float16")
        + run_fixtures::<bf16>(cases, "bfloat16")
        + run_fixtures::<bool>(cases, "bool");
    assert_eq!(ran, cases.len(), "every fixture case has a dtype the test runs");
    // The kinds of case the fixtures must hold, so that a regenerated file cannot drop one.
    for kind in [
        "one-pair/",
        "pairs/",
        "all/",
        "outer/scalar-",
        "empty/",
        "broadcast/",
        "wrap/",
        "special/",
        "half/",
        "bool/",
    ] {
        assert!(
            cases.iter().any(|c| c["id"].as_str().unwrap().starts_with(kind)),
            "no {kind} case"
        );
    }
}

// ---------------------------------------------------------------------------------
// Random shapes against the plain loop
// ---------------------------------------------------------------------------------

/// splitmix64: seeded, the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// `k` distinct values of `0..n` in random order.
    fn pick(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

/// A random case: shapes, paired axes (distinct, in random order), the layout of each
/// operand and, now and then, axes broadcast from length 1.
struct Shapes {
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
    axes_a: Vec<usize>,
    axes_b: Vec<usize>,
}

fn random_shapes(rng: &mut Rng) -> Shapes {
    let len = |rng: &mut Rng| if rng.below(12) == 0 { 0 } else { 1 + rng.below(4) };
    let ndim_a = rng.below(5);
    let a_shape: Vec<usize> = (0..ndim_a).map(|_| len(rng)).collect();
    let pairs = rng.below(ndim_a + 1).min(3);
    let axes_a = rng.pick(ndim_a, pairs);
    let ndim_b = pairs + rng.below(3);
    let axes_b = rng.pick(ndim_b, pairs);
    let mut b_shape: Vec<usize> = (0..ndim_b).map(|_| len(rng)).collect();
    for (&i, &j) in axes_a.iter().zip(&axes_b) {
        b_shape[j] = a_shape[i];
    }
    Shapes {
        a_shape,
        b_shape,
        axes_a,
        axes_b,
    }
}

/// Random values of `shape`; with `broadcast`, some axes are broadcast from length 1.
fn random_operand<T: Elem>(
    rng: &mut Rng,
    shape: &[usize],
    value: &impl Fn(&mut Rng) -> T,
) -> (ArrayD<T>, Option<Vec<usize>>) {
    let broadcast = rng.below(5) == 0;
    let base: Vec<usize> = shape
        .iter()
        .map(|&n| if broadcast && rng.below(2) == 0 { 1 } else { n })
        .collect();
    let values: Vec<T> = (0..base.iter().product::<usize>()).map(|_| value(rng)).collect();
    let array = ArrayD::from_shape_vec(IxDyn(&base), values).unwrap();
    (array, broadcast.then(|| shape.to_vec()))
}

fn random_against_reference<T: Elem>(seed: u64, value: impl Fn(&mut Rng) -> T) {
    let mut rng = Rng(seed);
    let mut nonempty = 0;
    for case in 0..1000 {
        let s = random_shapes(&mut rng);
        let (a, a_to) = random_operand(&mut rng, &s.a_shape, &value);
        let (b, b_to) = random_operand(&mut rng, &s.b_shape, &value);
        let (la, lb) = (LAYOUTS[rng.below(5)], LAYOUTS[rng.below(5)]);
        let (laid_a, laid_b) = (Laid::new(&a, la), Laid::new(&b, lb));
        let (base_a, base_b) = (laid_a.view(), laid_b.view());
        let va = a_to
            .as_ref()
            .map_or(base_a.view(), |s| base_a.broadcast(IxDyn(s)).unwrap());
        let vb = b_to
            .as_ref()
            .map_or(base_b.view(), |s| base_b.broadcast(IxDyn(s)).unwrap());
        let what = format!(
            "case {case}: {:?} ({la:?}) . {:?} ({lb:?}), axes=({:?}, {:?})",
            s.a_shape, s.b_shape, s.axes_a, s.axes_b
        );
        let got = va.tensordot(&vb, &axes(&s.axes_a), &axes(&s.axes_b));
        let want = reference(&va, &vb, &s.axes_a, &s.axes_b);
        let (bounds, terms) = bound(&va, &vb, &s.axes_a, &s.axes_b);
        assert_agrees(&got, &want, &bounds, terms, &what);
        nonempty += usize::from(!got.is_empty());
    }
    assert!(nonempty > 700, "{nonempty} of 1000 random cases had outputs");
}

#[test]
fn random_shapes_axes_and_layouts_against_the_plain_loop() {
    random_against_reference::<f64>(1, |r| (r.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0);
    random_against_reference::<Complex32>(2, |r| {
        Complex32::new(r.below(2001) as f32 / 1000.0 - 1.0, r.below(2001) as f32 / 1000.0 - 1.0)
    });
    // Full-width integers: every product and sum wraps.
    random_against_reference::<i64>(3, |r| r.next() as i64);
    random_against_reference::<u8>(4, |r| r.next() as u8);
    random_against_reference::<bool>(5, |r| r.below(3) == 0);
    // Multiples of 1/8: every f32 sum exact, so the one rounding is NumPy's, bit for bit.
    random_against_reference::<f16>(6, |r| f16::from_f32((r.below(65) as f32 - 32.0) / 8.0));
}

// ---------------------------------------------------------------------------------
// Shapes, array kinds, the common case
// ---------------------------------------------------------------------------------

#[test]
fn output_shapes_and_every_array_kind() {
    let a = Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64);
    let b = Array::from_shape_fn((4, 3, 5), |(k, j, l)| (k + 2 * j + 3 * l) as f64 - 6.0);
    let want = reference(&a.view().into_dyn(), &b.view().into_dyn(), &[1, 2], &[1, 0]);
    assert_eq!(want.shape(), &[2, 5]);
    let pairs = (&[Axis(1), Axis(2)][..], &[Axis(1), Axis(0)][..]);
    assert_eq!(a.tensordot(&b, pairs.0, pairs.1), want);
    assert_eq!(a.view().tensordot(&b.view(), pairs.0, pairs.1), want);
    let arc: ArcArray<f64, _> = a.to_shared();
    assert_eq!(arc.tensordot(&CowArray::from(b.view()), pairs.0, pairs.1), want);
    let mut b_mut = b.clone();
    assert_eq!(
        CowArray::from(a.clone()).tensordot(&b_mut.view_mut(), pairs.0, pairs.1),
        want
    );
    let mut a_mut = a.clone();
    assert_eq!(
        a_mut.view_mut().tensordot(&b.clone().into_dyn(), pairs.0, pairs.1),
        want
    );

    // Output shape: a's free axes in order, then b's.
    let x = Array::<f64, _>::ones((2, 3, 4, 5));
    let y = Array::<f64, _>::ones((5, 6, 2));
    assert_eq!(
        x.tensordot(&y, &[Axis(3), Axis(0)], &[Axis(0), Axis(2)]).shape(),
        &[3, 4, 6]
    );
    assert_eq!(x.tensordot(&y, &[Axis(3)], &[Axis(0)]).shape(), &[2, 3, 4, 6, 2]);
    assert_eq!(x.tensordot(&y, &[], &[]).shape(), &[2, 3, 4, 5, 5, 6, 2]);
    // All pairs: a 0-d array; a 0-d operand: the other one scaled.
    let m = array![[1, 2], [3, 4]];
    assert_eq!(
        m.tensordot(&m, &[Axis(0), Axis(1)], &[Axis(0), Axis(1)]),
        arr0(30).into_dyn()
    );
    assert_eq!(arr0(3).tensordot(&m, &[], &[]), (&m * 3).into_dyn());
    assert_eq!(m.tensordot(&arr0(-1), &[], &[]), (-&m).into_dyn());
    // The common case, one pair, is the matrix product.
    let p = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let q = array![[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]];
    assert_eq!(p.tensordot(&q, &[Axis(1)], &[Axis(0)]), p.dot(&q).into_dyn());
    assert_eq!(q.tensordot(&p, &[Axis(0)], &[Axis(1)]), q.t().dot(&p.t()).into_dyn());
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("should panic");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().expect("a string payload").to_string(),
    }
}

/// `try_tensordot`'s error, checked to be `tensordot`'s panic message too.
fn error_of<D: ndarray::Dimension, E: ndarray::Dimension>(
    a: &ndarray::ArrayRef<f64, D>,
    b: &ndarray::ArrayRef<f64, E>,
    axes_a: &[usize],
    axes_b: &[usize],
) -> InnerError {
    let err = a.try_tensordot(b, &axes(axes_a), &axes(axes_b)).unwrap_err();
    let message = panic_message(|| {
        a.tensordot(b, &axes(axes_a), &axes(axes_b));
    });
    assert_eq!(message, err.to_string());
    err
}

#[test]
fn every_error_names_the_shapes_and_axes() {
    let a = Array3::<f64>::ones((2, 3, 4));
    let b = Array3::<f64>::ones((3, 4, 5));
    let cases: [(&[usize], &[usize], &str); 9] = [
        // NumPy: ValueError: shape-mismatch for sum.
        (
            &[1, 2],
            &[0],
            "shape-mismatch for sum: 2 axes of a but 1 axis of b \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([1, 2], [0]))",
        ),
        (
            &[],
            &[0],
            "shape-mismatch for sum: 0 axes of a but 1 axis of b \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([], [0]))",
        ),
        // NumPy: IndexError: tuple index out of range.
        (
            &[3],
            &[0],
            "axis 3 is out of bounds for array of dimension 3 \
             (operand a; tensordot of shapes (2,3,4) and (3,4,5) with axes=([3], [0]))",
        ),
        (
            &[1, 2],
            &[0, 5],
            "axis 5 is out of bounds for array of dimension 3 \
             (operand b; tensordot of shapes (2,3,4) and (3,4,5) with axes=([1, 2], [0, 5]))",
        ),
        // NumPy: ValueError: duplicate axes are not allowed in tensordot.
        (
            &[1, 1],
            &[0, 1],
            "duplicate axes are not allowed in tensordot: axis 1 of a is given twice \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([1, 1], [0, 1]))",
        ),
        (
            &[1, 2],
            &[0, 0],
            "duplicate axes are not allowed in tensordot: axis 0 of b is given twice \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([1, 2], [0, 0]))",
        ),
        // NumPy: ValueError: shape-mismatch for sum.
        (
            &[2],
            &[0],
            "shape-mismatch for sum: axis 2 of a has length 4 but axis 0 of b has length 3 \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([2], [0]))",
        ),
        (
            &[1, 2],
            &[0, 2],
            "shape-mismatch for sum: axis 2 of a has length 4 but axis 2 of b has length 5 \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([1, 2], [0, 2]))",
        ),
        // The order of the checks: the count before the range, the range (a first) before
        // repeats, repeats before lengths.
        (
            &[7, 7],
            &[9],
            "shape-mismatch for sum: 2 axes of a but 1 axis of b \
             (tensordot of shapes (2,3,4) and (3,4,5) with axes=([7, 7], [9]))",
        ),
    ];
    for (axes_a, axes_b, message) in cases {
        assert_eq!(error_of(&a, &b, axes_a, axes_b).to_string(), message);
    }
    let order = [
        (
            &[0, 0, 7][..],
            &[9, 1, 1][..],
            "axis 7 is out of bounds for array of dimension 3 (operand a;",
        ),
        (
            &[0, 0, 1][..],
            &[9, 1, 1][..],
            "axis 9 is out of bounds for array of dimension 3 (operand b;",
        ),
        (
            &[0, 0, 1][..],
            &[1, 1, 2][..],
            "duplicate axes are not allowed in tensordot: axis 0 of a",
        ),
        (
            &[0, 1, 2][..],
            &[1, 1, 2][..],
            "duplicate axes are not allowed in tensordot: axis 1 of b",
        ),
    ];
    for (axes_a, axes_b, start) in order {
        let message = error_of(&a, &b, axes_a, axes_b).to_string();
        assert!(message.starts_with(start), "{message}");
    }

    // The variants and their fields.
    assert_eq!(
        error_of(&a, &b, &[1, 2], &[0, 2]),
        InnerError::TensordotShapeMismatch {
            a_axis: 2,
            b_axis: 2,
            a_shape: vec![2, 3, 4],
            b_shape: vec![3, 4, 5],
            axes_a: vec![1, 2],
            axes_b: vec![0, 2],
        }
    );
    assert!(matches!(
        error_of(&a, &b, &[1], &[]),
        InnerError::TensordotAxesCount { ref axes_a, ref axes_b, .. } if axes_a == &[1] && axes_b.is_empty()
    ));
    assert!(matches!(
        error_of(&a, &b, &[4], &[0]),
        InnerError::TensordotAxisOutOfBounds {
            operand: 'a',
            axis: 4,
            ..
        }
    ));
    assert!(matches!(
        error_of(&a, &b, &[0, 2], &[2, 2]),
        InnerError::TensordotRepeatedAxis {
            operand: 'b',
            axis: 2,
            ..
        }
    ));

    // A 0-d operand has no axis; a 1-D one, written as NumPy prints it.
    assert_eq!(
        error_of(&arr0(1.0), &b, &[0], &[0]).to_string(),
        "axis 0 is out of bounds for array of dimension 0 \
         (operand a; tensordot of shapes () and (3,4,5) with axes=([0], [0]))"
    );
    assert_eq!(
        error_of(&array![1.0, 2.0], &Array2::<f64>::ones((3, 2)), &[0], &[0]).to_string(),
        "shape-mismatch for sum: axis 0 of a has length 2 but axis 0 of b has length 3 \
         (tensordot of shapes (2,) and (3,2) with axes=([0], [0]))"
    );

    // An output too large to allocate (broadcast views of 2^40 elements hold one each).
    let one = array![1.0];
    let huge = one.broadcast(1usize << 40).unwrap();
    assert_eq!(
        error_of(&huge, &huge, &[], &[]).to_string(),
        "shapes (1099511627776,) and (1099511627776,) give an output of shape \
         (1099511627776,1099511627776) that is too large to allocate"
    );
}

#[test]
fn errors_are_checked_before_anything_is_allocated_or_computed() {
    // A mismatch with a huge output: the axes are checked first, so the error is the
    // mismatch, not the size.
    let one = array![[1.0]];
    let huge = one.broadcast((1usize << 40, 3)).unwrap();
    let err = huge.try_tensordot(&huge, &[Axis(1)], &[Axis(0)]).unwrap_err();
    assert!(
        matches!(
            err,
            InnerError::TensordotShapeMismatch {
                a_axis: 1,
                b_axis: 0,
                ..
            }
        ),
        "{err}"
    );
}
