//! NumPy conformance: every case in `tests/fixtures/*.json` against the crate.
//!
//! The fixtures are written by `tests/fixtures/gen_fixtures.py` (run by hand, with
//! NumPy): operands as logical shapes and C-order values, NumPy's answer (`np.inner`,
//! `np.tensordot`, `np.inner(np.conj(a), b)`, `np.multiply` for 0-d operands) or the
//! error message the crate must give. See the script's docstring for the format.
//!
//! Every case runs through `IxDyn` in several memory layouts of the same logical
//! operands (C, F, negative strides, a negative last axis, steps of 2, a rotated
//! axis order with steps and reversals, and broadcast operands where values repeat
//! along an axis), and for operands of at most two axes also through the typed
//! `Array0`/`Array1`/`Array2` paths; all against the same NumPy answer. Integers must
//! match exactly (wrapping), floats within `8 (K+1) eps sum_k |a_k||b_k|` (complex
//! parts `16 (K+1) eps ...`) with NaN and +-Inf where NumPy has them, and a 0-d
//! operand's real products bit for bit (plain IEEE products, signed zeros included).
//!
//! `f16`, `bf16` and `bool` (the `*.half_bool.json` files; NumPy's float16, ml_dtypes'
//! bfloat16, NumPy's bool) run through the same layouts, ops and paths. bool must match
//! exactly. A half-precision result is NumPy's float32 sum rounded once, where the crate's
//! float32 sum runs in another order; per output element one rule of
//! `crates/test-kit/src/half.rs` applies, decided from the operands: bit for bit where every
//! partial sum is exact in f32 (whole numbers, multiples of 1/8, 4096 x 0.1 = 409.5, the
//! overflow at 65504, NaN/Inf) and for 0-d operands (one rounded product); else at most
//! one half ulp apart; for sums that cancel, within `2 gamma_K sum_k |a_k b_k|` plus one
//! ulp. `half_rules_are_the_stated_ones` pins which rule covers which fixture cases; the
//! tests print how many outputs were one ulp off NumPy.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;

use half::{bf16, f16};
use half_ref::{Agreement, Half, Rule, Tally, Terms};
use ndarray::{s, ArrayD, ArrayViewD, Axis, Ix0, Ix1, Ix2, IxDyn, ShapeBuilder, Slice};
use ndarray_inner::{InnerError, InnerExt, InnerScalar};
use ndarray_inner_test_kit::{half as half_ref, Elem as TestElem};
use num_complex::Complex;
use serde_json::Value;

/// Cases that disagree with NumPy because of a known crate bug: the case still runs,
/// its mismatches are printed but do not fail the test; a listed case that passes
/// fails the test, so the entry is removed with the fix.
// KNOWN BUG skip list: (case id, what is wrong). Empty: no disagreement found.
const KNOWN_BUGS: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------

/// What the test needs of an element type beyond the test kit's element trait (which
/// gives `poison`, `same_bits` and `magnitude`) and the crate's `InnerScalar`.
trait Elem: TestElem + InnerScalar {
    /// From the fixture's encoding (JSON integer, float string, or [re, im] pair).
    fn parse(v: &Value) -> Self;
    /// `got` against NumPy's `want`; `terms`: the output element's `k` and
    /// `bound = sum |a||b|` (and, for half types, its rule); `exact` for a 0-d operand's
    /// plain products. Half types also say which rule applied and how it was met.
    fn against_numpy(got: Self, want: Self, terms: &Terms, exact: bool) -> Result<Option<(Rule, Agreement)>, String>;
    /// Counts a half type's outcome (the other types have none).
    fn record(tally: &mut Tally, rule: Rule, agreement: Agreement) {
        let _ = (tally, rule, agreement);
    }
}

fn parse_float_str<F: std::str::FromStr>(v: &Value) -> F {
    match v {
        // repr() strings, "nan", "inf", "-inf": Rust's parser is correctly rounded.
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("bad float {s:?}")),
        Value::Number(n) => n.to_string().parse().unwrap_or_else(|_| panic!("bad float {n}")),
        _ => panic!("not a float: {v}"),
    }
}

/// The float comparison, in f64 (exact for f32 values).
fn check_real(got: f64, want: f64, k: usize, bound: f64, eps: f64, denorm: f64, factor: f64) -> Result<(), String> {
    if want.is_nan() {
        return if got.is_nan() {
            Ok(())
        } else {
            Err(format!("got {got:e}, NumPy has NaN"))
        };
    }
    if want.is_infinite() {
        return if got == want {
            Ok(())
        } else {
            Err(format!("got {got:e}, NumPy has {want}"))
        };
    }
    if !got.is_finite() {
        return Err(format!("got {got}, NumPy has {want:e}"));
    }
    let terms = (k + 1) as f64;
    let tol = factor * terms * eps * bound + 4.0 * terms * denorm;
    if (got - want).abs() > tol {
        return Err(format!(
            "got {got:e}, NumPy has {want:e}, |diff| {:e} > tol {tol:e}",
            (got - want).abs()
        ));
    }
    Ok(())
}

macro_rules! real_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn parse(v: &Value) -> Self {
                parse_float_str::<$t>(v)
            }
            fn against_numpy(got: Self, want: Self, terms: &Terms, exact: bool) -> Result<Option<(Rule, Agreement)>, String> {
                if exact {
                    return if got.same_bits(want) || (got.is_nan() && want.is_nan()) {
                        Ok(None)
                    } else {
                        Err(format!("got {got:e}, NumPy's plain product is {want:e} (bit for bit)"))
                    };
                }
                let denorm = f64::from(<$t>::from_bits(1));
                let (k, bound) = (terms.k, terms.abs_sum);
                check_real(f64::from(got), f64::from(want), k, bound, f64::from(<$t>::EPSILON), denorm, 8.0)
                    .map(|()| None)
            }
        }
        impl Elem for Complex<$t> {
            fn parse(v: &Value) -> Self {
                let pair = v.as_array().expect("complex as [re, im]");
                assert_eq!(pair.len(), 2, "complex as [re, im]");
                Complex::new(parse_float_str::<$t>(&pair[0]), parse_float_str::<$t>(&pair[1]))
            }
            fn against_numpy(got: Self, want: Self, terms: &Terms, _exact: bool) -> Result<Option<(Rule, Agreement)>, String> {
                // A complex product is two products and a sum per part: twice the real bound.
                let denorm = f64::from(<$t>::from_bits(1));
                let eps = f64::from(<$t>::EPSILON);
                let (k, bound) = (terms.k, terms.abs_sum);
                check_real(f64::from(got.re), f64::from(want.re), k, bound, eps, denorm, 16.0)
                    .map_err(|e| format!("re: {e}"))?;
                check_real(f64::from(got.im), f64::from(want.im), k, bound, eps, denorm, 16.0)
                    .map_err(|e| format!("im: {e}"))
                    .map(|()| None)
            }
        }
    )*};
}
real_elem!(f32, f64);

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn parse(v: &Value) -> Self {
                let n = v.as_number().unwrap_or_else(|| panic!("not an integer: {v}"));
                match (n.as_i64(), n.as_u64()) {
                    (Some(x), _) => <$t>::try_from(x).unwrap_or_else(|_| panic!("{x} out of range")),
                    (None, Some(x)) => <$t>::try_from(x).unwrap_or_else(|_| panic!("{x} out of range")),
                    _ => panic!("not an integer: {n}"),
                }
            }
            fn against_numpy(got: Self, want: Self, _terms: &Terms, _exact: bool) -> Result<Option<(Rule, Agreement)>, String> {
                if got == want { Ok(None) } else { Err(format!("got {got}, NumPy has {want} (wrapped)")) }
            }
        }
    )*};
}
int_elem!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! half_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn parse(v: &Value) -> Self {
                // The shortest decimal that rounds to the value (see the script): parsed
                // correctly rounded as f64, then rounded once.
                <$t>::from_f64(parse_float_str::<f64>(v))
            }
            fn against_numpy(got: Self, want: Self, terms: &Terms, exact: bool) -> Result<Option<(Rule, Agreement)>, String> {
                // A 0-d operand: one product rounded once, NumPy's np.multiply, bit for bit.
                let rule = if exact { Rule::Exact } else { terms.rule(want) };
                half_ref::check(got, want, rule).map(|agreement| Some((rule, agreement)))
            }
            fn record(tally: &mut Tally, rule: Rule, agreement: Agreement) {
                tally.record::<$t>(rule, agreement);
            }
        }
    )*};
}
half_elem!(f16, bf16);

impl Elem for bool {
    fn parse(v: &Value) -> Self {
        v.as_bool().unwrap_or_else(|| panic!("not a bool: {v}"))
    }
    fn against_numpy(got: Self, want: Self, _terms: &Terms, _exact: bool) -> Result<Option<(Rule, Agreement)>, String> {
        if got == want {
            Ok(None)
        } else {
            Err(format!("got {got}, NumPy has {want}"))
        }
    }
}

// ---------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Inner,
    Conj,
    Axes(usize, usize),
}

struct Case<T> {
    id: String,
    op: Op,
    /// Logical operands, standard (C) layout.
    a: ArrayD<T>,
    b: ArrayD<T>,
    alias: Option<String>,
    /// NumPy's answer, or the crate's expected error message.
    expect: Result<ArrayD<T>, String>,
}

fn shape_of(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("shape is a list")
        .iter()
        .map(|d| d.as_u64().expect("dimension") as usize)
        .collect()
}

fn array_of<T: Elem>(shape: &Value, data: &Value) -> ArrayD<T> {
    let shape = shape_of(shape);
    let data: Vec<T> = data
        .as_array()
        .expect("values are a list")
        .iter()
        .map(T::parse)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).expect("value count matches the shape")
}

fn parse_case<T: Elem>(c: &Value) -> Case<T> {
    let id = c["id"].as_str().expect("id").to_string();
    let op = match c["op"].as_str().expect("op") {
        "inner" => Op::Inner,
        "inner_conj" => Op::Conj,
        "inner_axes" => {
            let axes = shape_of(&c["axes"]);
            Op::Axes(axes[0], axes[1])
        }
        other => panic!("{id}: unknown op {other}"),
    };
    let expect = match c.get("error") {
        Some(msg) => Err(msg.as_str().expect("error message").to_string()),
        None => Ok(array_of(&c["out_shape"], &c["out"])),
    };
    Case {
        op,
        a: array_of(&c["a_shape"], &c["a"]),
        b: array_of(&c["b_shape"], &c["b"]),
        alias: c.get("alias").map(|v| v.as_str().expect("alias").to_string()),
        expect,
        id,
    }
}

/// NumPy's tuple formatting: (), (4,), (2,3).
fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(",")
        ),
    }
}

/// Per output element (C order), its terms: `k` and `sum_k |a||b|`.
fn bounds<T: Elem>(case: &Case<T>) -> Vec<Terms> {
    let (a, b) = (&case.a, &case.b);
    if a.ndim() == 0 || b.ndim() == 0 {
        let (s, x) = if a.ndim() == 0 { (a, b) } else { (b, a) };
        let s = s.first().expect("0-d has one value").magnitude();
        let one = |v: &T| {
            let mut t = Terms::default();
            t.add(v.magnitude(), s);
            t
        };
        return x.iter().map(one).collect();
    }
    fn last<T>(x: &ArrayD<T>, axis: usize) -> ArrayViewD<'_, T> {
        let mut perm: Vec<usize> = (0..x.ndim()).filter(|&i| i != axis).collect();
        perm.push(axis);
        x.view().permuted_axes(IxDyn(&perm))
    }
    let (av, bv) = match case.op {
        Op::Axes(i, j) => (last(a, i), last(b, j)),
        _ => (a.view(), b.view()),
    };
    let k = *av.shape().last().expect("ndim >= 1");
    let m: usize = av.shape()[..av.ndim() - 1].iter().product();
    let n: usize = bv.shape()[..bv.ndim() - 1].iter().product();
    let am: Vec<f64> = av.iter().map(|v| v.magnitude()).collect();
    let bm: Vec<f64> = bv.iter().map(|v| v.magnitude()).collect();
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut terms = Terms::default();
            for t in 0..k {
                terms.add(am[i * k + t], bm[j * k + t]);
            }
            out.push(terms);
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    /// Standard layout.
    C,
    /// Column major: `from_shape_vec(shape.f(), ..)`.
    F,
    /// Every axis reversed: negative strides (`Slice::new(0, None, -1)`).
    Neg,
    /// Only the last axis reversed (the contracted one for `inner`).
    NegLast,
    /// Embedded in an array twice as long on every axis, sliced `..;2`.
    Step,
    /// Memory order rotated (neither C nor F for 3+ axes), steps of 2, even axes reversed.
    Mixed,
    /// Axes along which the values repeat, broadcast (stride 0) from length 1.
    Bcast,
}

const LAYOUTS: [Layout; 7] = [
    Layout::C,
    Layout::F,
    Layout::Neg,
    Layout::NegLast,
    Layout::Step,
    Layout::Mixed,
    Layout::Bcast,
];

/// Layout pairs (a, b) every case runs in.
const PAIRS: [(Layout, Layout); 12] = [
    (Layout::C, Layout::C),
    (Layout::F, Layout::F),
    (Layout::Neg, Layout::Neg),
    (Layout::NegLast, Layout::NegLast),
    (Layout::Step, Layout::Step),
    (Layout::Mixed, Layout::Mixed),
    (Layout::F, Layout::C),
    (Layout::C, Layout::Neg),
    (Layout::Mixed, Layout::Step),
    (Layout::Bcast, Layout::C),
    (Layout::C, Layout::Bcast),
    (Layout::Bcast, Layout::Bcast),
];

/// An operand in some layout; a broadcast one keeps its small array.
enum Built<T> {
    Owned(ArrayD<T>),
    Bcast(ArrayD<T>, Vec<usize>),
}

impl<T: Elem> Built<T> {
    fn view(&self) -> ArrayViewD<'_, T> {
        match self {
            Built::Owned(x) => x.view(),
            Built::Bcast(small, shape) => small.broadcast(IxDyn(shape)).expect("broadcastable"),
        }
    }
}

/// `x` copied into storage of permuted memory order `perm` (axis `perm[0]` slowest),
/// `step` apart on every axis (gaps poisoned), axes where `rev(i)` reversed.
fn strided<T: Elem>(x: &ArrayD<T>, perm: &[usize], step: usize, rev: impl Fn(usize) -> bool) -> ArrayD<T> {
    let big: Vec<usize> = x.shape().iter().map(|&d| d * step).collect();
    let mem_shape: Vec<usize> = perm.iter().map(|&p| big[p]).collect();
    let mut inv = vec![0; perm.len()];
    for (j, &p) in perm.iter().enumerate() {
        inv[p] = j;
    }
    let mut s = ArrayD::from_elem(IxDyn(&mem_shape), T::poison()).permuted_axes(IxDyn(&inv));
    for i in 0..x.ndim() {
        let sign = if rev(i) { -1 } else { 1 };
        s.slice_axis_inplace(Axis(i), Slice::new(0, None, sign * step as isize));
    }
    s.assign(x);
    s
}

/// The axes of `x` (length > 1) along which every lane holds one repeated value.
fn constant_axes<T: Elem>(x: &ArrayD<T>) -> Vec<bool> {
    (0..x.ndim())
        .map(|i| {
            x.len_of(Axis(i)) > 1
                && x.lanes(Axis(i))
                    .into_iter()
                    .all(|lane| lane.iter().all(|v| v.same_bits(lane[0])))
        })
        .collect()
}

fn build<T: Elem>(x: &ArrayD<T>, layout: Layout) -> Option<Built<T>> {
    let n = x.ndim();
    let identity: Vec<usize> = (0..n).collect();
    let built = match layout {
        Layout::C => Built::Owned(x.clone()),
        Layout::F => {
            let data: Vec<T> = x.t().iter().copied().collect();
            Built::Owned(ArrayD::from_shape_vec(IxDyn(x.shape()).f(), data).expect("F order"))
        }
        Layout::Neg => Built::Owned(strided(x, &identity, 1, |_| true)),
        Layout::NegLast => Built::Owned(strided(x, &identity, 1, |i| i + 1 == n)),
        Layout::Step => Built::Owned(strided(x, &identity, 2, |_| false)),
        Layout::Mixed => {
            let rotated: Vec<usize> = (0..n).map(|i| (i + 1) % n).collect();
            Built::Owned(strided(x, &rotated, 2, |i| i % 2 == 0))
        }
        Layout::Bcast => {
            let constant = constant_axes(x);
            if !constant.contains(&true) {
                return None;
            }
            let small = x
                .slice_each_axis(|ad| {
                    if constant[ad.axis.index()] {
                        Slice::from(0..1)
                    } else {
                        Slice::from(..)
                    }
                })
                .to_owned();
            Built::Bcast(small, x.shape().to_vec())
        }
    };
    let v = built.view();
    assert_eq!(v.shape(), x.shape(), "{layout:?} keeps the shape");
    assert!(
        v.iter().zip(x.iter()).all(|(p, q)| p.same_bits(*q)),
        "{layout:?} keeps the values"
    );
    Some(built)
}

// ---------------------------------------------------------------------------------
// Calling the crate
// ---------------------------------------------------------------------------------

fn try_dyn<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, op: Op) -> Result<ArrayD<T>, InnerError> {
    match op {
        Op::Inner => a.try_inner(b),
        Op::Conj => a.try_inner_conj(b),
        Op::Axes(i, j) => a.try_inner_axes(b, Axis(i), Axis(j)),
    }
}

fn panicking_dyn<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, op: Op) -> ArrayD<T> {
    match op {
        Op::Inner => a.inner(b),
        Op::Conj => a.inner_conj(b),
        Op::Axes(i, j) => a.inner_axes(b, Axis(i), Axis(j)),
    }
}

/// The same call through the typed dimensions (`Ix0`, `Ix1`, `Ix2` operands, typed
/// outputs), for operands of at most two axes.
fn try_typed<T: Elem>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, op: Op) -> Option<Result<ArrayD<T>, InnerError>> {
    macro_rules! typed {
        ($da:ty, $db:ty) => {{
            let a = a.clone().into_dimensionality::<$da>().expect("ndim");
            let b = b.clone().into_dimensionality::<$db>().expect("ndim");
            Some(match op {
                Op::Inner => a.try_inner(&b).map(|o| o.into_dyn()),
                Op::Conj => a.try_inner_conj(&b).map(|o| o.into_dyn()),
                Op::Axes(i, j) => a.try_inner_axes(&b, Axis(i), Axis(j)).map(|o| o.into_dyn()),
            })
        }};
    }
    match (a.ndim(), b.ndim()) {
        (0, 0) => typed!(Ix0, Ix0),
        (0, 1) => typed!(Ix0, Ix1),
        (0, 2) => typed!(Ix0, Ix2),
        (1, 0) => typed!(Ix1, Ix0),
        (1, 1) => typed!(Ix1, Ix1),
        (1, 2) => typed!(Ix1, Ix2),
        (2, 0) => typed!(Ix2, Ix0),
        (2, 1) => typed!(Ix2, Ix1),
        (2, 2) => typed!(Ix2, Ix2),
        _ => None,
    }
}

thread_local! {
    static EXPECTING_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`: its value, or its panic message (the payload, a `String`). The default
/// hook stays quiet for panics inside `catch` only.
fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING_PANIC.with(Cell::get) {
                default(info);
            }
        }));
    });
    EXPECTING_PANIC.with(|p| p.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    EXPECTING_PANIC.with(|p| p.set(false));
    result.map_err(|payload| match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => format!("<payload not a String: {:?}>", payload.downcast_ref::<&str>()),
    })
}

// ---------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    cases: usize,
    error_cases: usize,
    runs: usize,
    /// Runs with a broadcast (stride-0) operand.
    bcast_runs: usize,
    by_dtype: BTreeMap<String, usize>,
    failures: Vec<String>,
    known: Vec<String>,
    /// Half types: each output's rule and agreement in the (C, C) `IxDyn` run.
    tally: Tally,
}

/// The run whose half-type outcomes are counted: one per output element.
const TALLIED_RUN: &str = "C,C dyn";

struct Checker<'c, T> {
    case: &'c Case<T>,
    terms: Vec<Terms>,
    exact: bool,
    runs: usize,
    bcast_runs: usize,
    failures: Vec<String>,
    tally: Tally,
}

impl<T: Elem> Checker<'_, T> {
    fn fail(&mut self, at: &str, what: String) {
        self.failures.push(format!(
            "{} [{} as {}]: {what}",
            self.case.id,
            at,
            std::any::type_name::<T>()
        ));
    }

    fn result(&mut self, at: &str, got: Result<ArrayD<T>, InnerError>) {
        self.runs += 1;
        let want = self.case.expect.as_ref().expect("a success case");
        let got = match got {
            Ok(got) => got,
            Err(e) => return self.fail(at, format!("error {e:?} where NumPy gives shape {:?}", want.shape())),
        };
        if got.shape() != want.shape() {
            return self.fail(at, format!("shape {:?}, NumPy has {:?}", got.shape(), want.shape()));
        }
        for (idx, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            match T::against_numpy(*g, *w, &self.terms[idx], self.exact) {
                Err(e) => return self.fail(at, format!("element {idx} (C order): {e}")),
                Ok(Some((rule, agreement))) if at == TALLIED_RUN => T::record(&mut self.tally, rule, agreement),
                Ok(_) => {}
            }
        }
    }

    fn error(&mut self, at: &str, got: Result<ArrayD<T>, InnerError>, msg: &str) {
        self.runs += 1;
        match got {
            Ok(out) => self.fail(at, format!("Ok (shape {:?}), expected error {msg:?}", out.shape())),
            Err(e) => {
                let variant_ok = if msg.starts_with("axis ") {
                    matches!(e, InnerError::AxisOutOfBounds { .. })
                } else {
                    matches!(e, InnerError::NotAligned { .. })
                };
                if e.to_string() != msg || !variant_ok {
                    self.fail(
                        at,
                        format!("error {e:?} displays {:?}, expected {msg:?}", e.to_string()),
                    );
                }
            }
        }
    }

    fn panics_with(&mut self, at: &str, f: impl FnOnce() -> ArrayD<T>, msg: &str) {
        self.runs += 1;
        match catch(f) {
            Ok(_) => self.fail(at, format!("did not panic, expected {msg:?}")),
            Err(m) if m != msg => self.fail(at, format!("panicked with {m:?}, expected {msg:?}")),
            Err(_) => {}
        }
    }

    /// The case in one pair of layouts, through `IxDyn` and the typed dimensions.
    fn run_layouts(&mut self, at: &str, a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>) {
        let op = self.case.op;
        self.result(&format!("{at} dyn"), try_dyn(a, b, op));
        if let Some(got) = try_typed(a, b, op) {
            self.result(&format!("{at} typed"), got);
        }
    }

    fn run_success(&mut self) {
        let case = self.case;
        for (la, lb) in PAIRS {
            if la == Layout::NegLast && case.a.ndim() < 2 && case.b.ndim() < 2 {
                continue; // the same as Neg
            }
            let (Some(ba), Some(bb)) = (build(&case.a, la), build(&case.b, lb)) else {
                continue; // no broadcastable axis
            };
            if la == Layout::Bcast || lb == Layout::Bcast {
                self.bcast_runs += 1;
            }
            self.run_layouts(&format!("{la:?},{lb:?}"), &ba.view(), &bb.view());
        }
        // The panicking form.
        let (a, b) = (case.a.view(), case.b.view());
        match catch(|| panicking_dyn(&a, &b, case.op)) {
            Ok(got) => self.result("panicking form", Ok(got)),
            Err(m) => {
                self.runs += 1;
                self.fail("panicking form", format!("panicked: {m}"));
            }
        }
        match case.alias.as_deref() {
            None => {}
            Some("same") => self.run_same(),
            Some("a_rev_b") => self.run_reversed(true),
            Some("b_rev_a") => self.run_reversed(false),
            Some(other) => panic!("{}: unknown alias {other}", case.id),
        }
        if case.op == Op::Inner {
            self.run_into();
        }
    }

    /// `x.op(&x)`: one array as both operands (NumPy's syrk path for `inner(A, A)`).
    fn run_same(&mut self) {
        let case = self.case;
        assert!(
            case.a.shape() == case.b.shape() && case.a.iter().zip(&case.b).all(|(p, q)| p.same_bits(*q)),
            "{}: alias same with different operands",
            case.id
        );
        for layout in LAYOUTS {
            if let Some(x) = build(&case.a, layout) {
                let v = x.view();
                self.run_layouts(&format!("same {layout:?}"), &v, &v);
            }
        }
    }

    /// One operand the reversed view `s![..;-1]` of the other's memory.
    fn run_reversed(&mut self, a_is_reversed: bool) {
        let case = self.case;
        let (rev, base) = if a_is_reversed {
            (&case.a, &case.b)
        } else {
            (&case.b, &case.a)
        };
        for layout in LAYOUTS {
            let Some(x) = build(base, layout) else { continue };
            let v = x.view();
            let r = v.slice(s![..;-1]).into_dyn();
            assert!(
                r.iter().zip(rev).all(|(p, q)| p.same_bits(*q)),
                "{}: not the reverse",
                case.id
            );
            let at = format!("reversed view {layout:?}");
            if a_is_reversed {
                self.run_layouts(&at, &r, &v);
            } else {
                self.run_layouts(&at, &v, &r);
            }
        }
    }

    /// `inner_into` with preallocated outputs (C and F order, prefilled with poison),
    /// and outputs of the wrong shape.
    fn run_into(&mut self) {
        let case = self.case;
        let want = case.expect.as_ref().expect("a success case");
        for layout in [Layout::C, Layout::Mixed] {
            let (Some(a), Some(b)) = (build(&case.a, layout), build(&case.b, layout)) else {
                continue;
            };
            let (a, b) = (a.view(), b.view());
            for f_order in [false, true] {
                let shape = IxDyn(want.shape());
                let mut out = if f_order {
                    ArrayD::from_elem(shape.f(), T::poison())
                } else {
                    ArrayD::from_elem(shape, T::poison())
                };
                let at = format!("inner_into {layout:?} out {}", if f_order { "F" } else { "C" });
                let got = a.inner_into(&b, &mut out).map(|()| out);
                self.result(&at, got);
            }
        }
        let mut wrong = vec![want.shape().to_vec()];
        wrong[0].push(1);
        if let Some((last, _)) = want.shape().split_last() {
            let mut w = want.shape().to_vec();
            *w.last_mut().expect("ndim >= 1") = last + 1;
            wrong.push(w);
        }
        for found in wrong {
            self.runs += 1;
            let mut out = ArrayD::from_elem(IxDyn(&found), T::poison());
            match case.a.inner_into(&case.b, &mut out) {
                Err(InnerError::OutShape {
                    a_shape,
                    b_shape,
                    expected,
                    found: f,
                }) if a_shape == case.a.shape()
                    && b_shape == case.b.shape()
                    && expected == want.shape()
                    && f == found => {}
                other => self.fail(
                    "inner_into wrong out",
                    format!("out shape {found:?}: {other:?}, expected OutShape"),
                ),
            }
            if let Err(e) = case.a.inner_into(&case.b, &mut out) {
                let (msg, fs, es) = (e.to_string(), fmt_shape(&found), fmt_shape(want.shape()));
                if !msg.contains(&fs) || !msg.contains(&es) {
                    self.fail("inner_into wrong out", format!("message {msg:?} lacks {fs} or {es}"));
                }
            }
        }
    }

    fn run_error(&mut self, msg: &str) {
        let case = self.case;
        let (a, b) = (case.a.view(), case.b.view());
        let op = case.op;
        self.error("dyn", try_dyn(&a, &b, op), msg);
        if let Some(got) = try_typed(&a, &b, op) {
            self.error("typed", got, msg);
        }
        self.panics_with("panicking form", || panicking_dyn(&a, &b, op), msg);
        if op == Op::Inner {
            // The conjugating product and inner_into check the same alignment.
            self.error("try_inner_conj", a.try_inner_conj(&b), msg);
            self.panics_with("inner_conj", || a.inner_conj(&b), msg);
            let mut out = ArrayD::from_elem(IxDyn(&[]), T::poison());
            self.error("inner_into", a.inner_into(&b, &mut out).map(|()| out), msg);
        }
    }
}

fn run_case<T: Elem>(c: &Value, stats: &mut Stats, count_case: bool) {
    let case: Case<T> = parse_case(c);
    let mut checker = Checker {
        case: &case,
        terms: Vec::new(),
        exact: false,
        runs: 0,
        bcast_runs: 0,
        failures: Vec::new(),
        tally: Tally::default(),
    };
    match &case.expect {
        Err(msg) => checker.run_error(msg),
        Ok(want) => {
            let terms = bounds(&case);
            assert_eq!(terms.len(), want.len(), "{}: output size", case.id);
            checker.terms = terms;
            checker.exact = (case.a.ndim() == 0 || case.b.ndim() == 0) && !matches!(case.op, Op::Axes(..));
            checker.run_success();
        }
    }
    assert!(checker.runs > 0, "{}: nothing ran", case.id);
    stats.runs += checker.runs;
    stats.bcast_runs += checker.bcast_runs;
    stats.tally.merge(checker.tally);
    let known = KNOWN_BUGS.iter().find(|(id, _)| *id == case.id);
    match (known, checker.failures.is_empty()) {
        (Some((id, why)), true) => stats
            .failures
            .push(format!("{id}: listed as a KNOWN BUG ({why}) but passes")),
        (Some(_), false) => stats.known.extend(checker.failures),
        (None, _) => stats.failures.extend(checker.failures),
    }
    if count_case {
        stats.cases += 1;
        stats.error_cases += usize::from(case.expect.is_err());
        *stats
            .by_dtype
            .entry(c["dtype"].as_str().expect("dtype").to_string())
            .or_default() += 1;
    }
}

/// The types of the `*.half_bool.json` files (and only of those).
const HALF_BOOL: [&str; 3] = ["float16", "bfloat16", "bool"];
const HALF_BOOL_SUFFIX: &str = ".half_bool";

fn load_fixture(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", &format!("{name}.json")]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// `name`: the file's name without `.json`: a category (`special_values`), or a
/// category's half_bool file (`special_values.half_bool`).
fn run_fixture(name: &str) {
    let doc = load_fixture(name);
    let half_bool = name.ends_with(HALF_BOOL_SUFFIX);
    assert_eq!(doc["format"], 1, "fixture format");
    assert_eq!(doc["category"], name.trim_end_matches(HALF_BOOL_SUFFIX));
    let cases = doc["cases"].as_array().expect("cases");
    let count = doc["count"].as_u64().expect("count") as usize;
    assert!(count > 0, "{name}: empty fixture");
    assert_eq!(cases.len(), count, "{name}: the header's count");

    let mut stats = Stats::default();
    for c in cases {
        let dtype = c["dtype"].as_str().expect("dtype");
        assert_eq!(HALF_BOOL.contains(&dtype), half_bool, "{name}: a {dtype} case");
        match dtype {
            "float32" => run_case::<f32>(c, &mut stats, true),
            "float64" => run_case::<f64>(c, &mut stats, true),
            "complex64" => run_case::<Complex<f32>>(c, &mut stats, true),
            "complex128" => run_case::<Complex<f64>>(c, &mut stats, true),
            "int8" => run_case::<i8>(c, &mut stats, true),
            "int16" => run_case::<i16>(c, &mut stats, true),
            "int32" => run_case::<i32>(c, &mut stats, true),
            "int64" => {
                run_case::<i64>(c, &mut stats, true);
                run_case::<isize>(c, &mut stats, false);
            }
            "uint8" => run_case::<u8>(c, &mut stats, true),
            "uint16" => run_case::<u16>(c, &mut stats, true),
            "uint32" => run_case::<u32>(c, &mut stats, true),
            "uint64" => {
                run_case::<u64>(c, &mut stats, true);
                run_case::<usize>(c, &mut stats, false);
            }
            "float16" => run_case::<f16>(c, &mut stats, true),
            "bfloat16" => run_case::<bf16>(c, &mut stats, true),
            "bool" => run_case::<bool>(c, &mut stats, true),
            other => panic!("unknown dtype {other}"),
        }
    }

    let by_dtype: Vec<String> = stats.by_dtype.iter().map(|(d, n)| format!("{d} {n}")).collect();
    eprintln!(
        "{name}: {} cases ({} errors) checked in {} runs ({} layout pairs with a broadcast \
         operand; int64/uint64 also as isize/usize); {}",
        stats.cases,
        stats.error_cases,
        stats.runs,
        stats.bcast_runs,
        by_dtype.join(", ")
    );
    for line in stats.tally.summary() {
        eprintln!("  {line} outputs (the {TALLIED_RUN} run)");
    }
    for k in &stats.known {
        eprintln!("  KNOWN BUG (not failing): {k}");
    }
    assert_eq!(stats.cases, count, "{name}: cases checked vs the fixture's count");
    let header: BTreeMap<String, usize> = doc["by_dtype"]
        .as_object()
        .expect("by_dtype")
        .iter()
        .map(|(d, n)| (d.clone(), n.as_u64().expect("count") as usize))
        .collect();
    assert_eq!(
        stats.by_dtype, header,
        "{name}: cases per dtype vs the fixture's header"
    );
    if !stats.failures.is_empty() {
        let shown: Vec<&str> = stats.failures.iter().take(40).map(String::as_str).collect();
        panic!(
            "{name}: {} disagreements with NumPy (first {}):\n{}",
            stats.failures.len(),
            shown.len(),
            shown.join("\n")
        );
    }
}

#[test]
fn numpy_testinner() {
    run_fixture("numpy_testinner");
}

#[test]
fn numpy_testinner_half_bool() {
    run_fixture("numpy_testinner.half_bool");
}

#[test]
fn pytorch_shapes() {
    run_fixture("pytorch_shapes");
}

#[test]
fn pytorch_shapes_half_bool() {
    run_fixture("pytorch_shapes.half_bool");
}

#[test]
fn jax_shapes() {
    run_fixture("jax_shapes");
}

#[test]
fn jax_shapes_half_bool() {
    run_fixture("jax_shapes.half_bool");
}

#[test]
fn dtypes() {
    run_fixture("dtypes");
}

#[test]
fn dtypes_half_bool() {
    run_fixture("dtypes.half_bool");
}

#[test]
fn kernel_paths() {
    run_fixture("kernel_paths");
}

#[test]
fn kernel_paths_half_bool() {
    run_fixture("kernel_paths.half_bool");
}

#[test]
fn special_values() {
    run_fixture("special_values");
}

#[test]
fn special_values_half_bool() {
    run_fixture("special_values.half_bool");
}

#[test]
fn inner_axes() {
    run_fixture("inner_axes");
}

#[test]
fn inner_axes_half_bool() {
    run_fixture("inner_axes.half_bool");
}

#[test]
fn inner_conj() {
    run_fixture("inner_conj");
}

#[test]
fn inner_conj_half_bool() {
    run_fixture("inner_conj.half_bool");
}

#[test]
fn errors() {
    run_fixture("errors");
}

#[test]
fn errors_half_bool() {
    run_fixture("errors.half_bool");
}

#[test]
fn broadcast() {
    run_fixture("broadcast");
}

#[test]
fn broadcast_half_bool() {
    run_fixture("broadcast.half_bool");
}

#[test]
fn random() {
    run_fixture("random");
}

#[test]
fn random_half_bool() {
    run_fixture("random.half_bool");
}

/// Every fixture file has its test above (a new category cannot be skipped silently).
#[test]
fn every_fixture_file_is_tested() {
    const CATEGORIES: [&str; 11] = [
        "numpy_testinner",
        "pytorch_shapes",
        "jax_shapes",
        "dtypes",
        "kernel_paths",
        "special_values",
        "inner_axes",
        "inner_conj",
        "errors",
        "broadcast",
        "random",
    ];
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures"].iter().collect();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| {
            let name = e.expect("dir entry").file_name().into_string().expect("utf-8 name");
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    // tests/tensordot.rs reads its own fixture file.
    found.retain(|name| name != "tensordot");
    found.sort();
    let mut tested: Vec<String> = CATEGORIES
        .iter()
        .flat_map(|c| [c.to_string(), format!("{c}{HALF_BOOL_SUFFIX}")])
        .collect();
    tested.sort();
    assert_eq!(found, tested);
}

/// The half-precision rule of each output of a fixture case (NumPy's answer as `want`).
fn half_rules<H: Elem + Half>(c: &Value) -> Vec<Rule> {
    let case: Case<H> = parse_case(c);
    let want = case.expect.as_ref().expect("a success case");
    let zero_d = (case.a.ndim() == 0 || case.b.ndim() == 0) && !matches!(case.op, Op::Axes(..));
    bounds(&case)
        .iter()
        .zip(want.iter())
        .map(|(t, &w)| if zero_d { Rule::Exact } else { t.rule(w) })
        .collect()
}

/// Which rule covers which half-precision fixture cases, stated and asserted: the cases
/// built from whole numbers, multiples of 1/8, 0.1 x 4096, the top of the range and
/// NaN/Inf are bit for bit; the random cases (K <= 7) are bit for bit or at most one ulp
/// from NumPy; "cancel" and the 1100-term sums have the gamma_K bound. (The fixture
/// tests above check each output under its rule; this pins that the rules are the
/// intended ones.)
#[test]
fn half_rules_are_the_stated_ones() {
    fn rules_of(name: &str, id: &str) -> Vec<Rule> {
        let doc = load_fixture(name);
        let c = doc["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {name}"));
        match c["dtype"].as_str() {
            Some("float16") => half_rules::<f16>(c),
            Some("bfloat16") => half_rules::<bf16>(c),
            other => panic!("{id}: not a half type: {other:?}"),
        }
    }
    const BOTH: &[&str] = &["float16", "bfloat16"];
    let all_exact_in = |types: &[&str], name: &str, case: &str| {
        for ty in types {
            let id = format!("{}/{case}/{ty}", name.trim_end_matches(HALF_BOOL_SUFFIX));
            let rules = rules_of(name, &id);
            assert!(!rules.is_empty(), "{id}: no outputs");
            assert!(rules.iter().all(|r| *r == Rule::Exact), "{id}: {rules:?}");
        }
    };
    let all_exact = |name: &str, case: &str| all_exact_in(BOTH, name, case);
    let d = "dtypes.half_bool";
    for case in [
        "tenth_4096.ones",
        "round_once",
        "ties",
        "top0",
        "top1",
        "top2",
        "top3",
        "top4",
    ] {
        all_exact(d, case);
    }
    all_exact(d, "eighths.6x64.5x64");
    let t = "numpy_testinner.half_bool";
    for case in ["A.B", "AT.C", "3d.a.b", "arange5rev.arange5", "vecself", "sca.vec"] {
        all_exact(t, case);
    }
    let sv = "special_values.half_bool";
    for case in [
        "inf_plus",
        "neg_inf",
        "inf_minus_inf",
        "nan",
        "nan_times_zero",
        "overflow_product",
    ] {
        all_exact(sv, case);
    }
    all_exact(sv, "sca_tenth.vec"); // 0-d: one rounded product
                                    // float16: 80000 and 90000 - 90000 + 1 are exact in f32. (bfloat16's sum_overflow
                                    // overflows f32 itself: the one-ulp rule, where inf must meet inf or 3.39e38.)
    all_exact_in(&["float16"], sv, "sum_overflow");
    all_exact_in(&["float16"], sv, "back_in_range");
    assert!(rules_of(d, "dtypes/cancel/float16")
        .iter()
        .all(|r| matches!(r, Rule::Bound { .. })));
    for ty in BOTH {
        // Two-decimal values, K = 17: float16 (11-bit significands) allows one ulp almost
        // everywhere (a few small outputs: the bound); bfloat16's products have 16 bits,
        // so most of its sums are exact in f32.
        let kp = "kernel_paths.half_bool";
        let rules = rules_of(kp, &format!("kernel_paths/gemm.17x17.17x17/{ty}"));
        let one_ulp = rules.iter().filter(|r| **r == Rule::OneUlp).count();
        let exact = rules.iter().filter(|r| **r == Rule::Exact).count();
        let (dominant, n) = if *ty == "float16" {
            ("one-ulp", one_ulp)
        } else {
            ("bit-exact", exact)
        };
        assert!(
            n * 10 >= rules.len() * 7,
            "{ty} gemm: {n} of {} {dominant}",
            rules.len()
        );
        // K = 1100: the worst-case f32 drift is several ulps.
        let rules = rules_of(kp, &format!("kernel_paths/longk.2x1100.2x1100/{ty}"));
        assert!(
            rules.iter().all(|r| matches!(r, Rule::Bound { .. })),
            "{ty} longk: {rules:?}"
        );
        // The random cases: every output bit for bit or at most one ulp, both rules used.
        let doc = load_fixture("random.half_bool");
        let mut counts = BTreeMap::new();
        for c in doc["cases"].as_array().expect("cases") {
            if c["dtype"] != *ty || c.get("error").is_some() {
                continue;
            }
            let rules = if *ty == "float16" {
                half_rules::<f16>(c)
            } else {
                half_rules::<bf16>(c)
            };
            for r in rules {
                *counts.entry(r.name()).or_insert(0usize) += 1;
            }
        }
        assert_eq!(
            counts.keys().copied().collect::<Vec<_>>(),
            ["bit-exact", "one-ulp"],
            "{ty}: {counts:?}"
        );
    }
}

/// The half-precision check rejects what it must: NumPy's 409.5 against what a float16
/// running sum would give (256), a neighbour under the bit-for-bit rule, two ulps under
/// the one-ulp rule, a finite value where NumPy overflows under either.
#[test]
fn half_checks_reject_wrong_answers() {
    let doc = load_fixture("dtypes.half_bool");
    let case = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == "dtypes/tenth_4096.ones/float16")
        .expect("the 409.5 case");
    let case: Case<f16> = parse_case(case);
    let want = *case
        .expect
        .as_ref()
        .expect("a success case")
        .first()
        .expect("one output");
    assert_eq!(want, f16::from_f32(409.5));
    let rule = bounds(&case)[0].rule(want);
    assert_eq!(rule, Rule::Exact);
    let running: f16 = case.a.iter().fold(f16::ZERO, |s, &x| s + x); // b is all ones
    assert_eq!(running, f16::from_f32(256.0));
    assert!(half_ref::check(running, want, rule).is_err());
    let next = f16::from_bits(want.to_bits() + 1);
    assert_eq!(half_ref::ulps_apart(next, want), Some(1));
    assert!(half_ref::check(next, want, Rule::Exact).is_err());
    assert_eq!(half_ref::check(next, want, Rule::OneUlp), Ok(Agreement::OneUlpOff));
    let two = f16::from_bits(want.to_bits() + 2);
    assert!(half_ref::check(two, want, Rule::OneUlp).is_err());
    assert!(half_ref::check(f16::MAX, f16::INFINITY, Rule::Exact).is_err());
    assert!(half_ref::check(f16::from_f32(-0.0), f16::ZERO, Rule::Exact).is_err());
    assert!(half_ref::check(f16::NAN, f16::ZERO, Rule::OneUlp).is_err());
    assert_eq!(half_ref::check(f16::NAN, f16::NAN, Rule::Exact), Ok(Agreement::Same));
    // bool: a wrong value fails (whose `check` compares exactly).
    assert!(<bool as Elem>::against_numpy(true, false, &Terms::default(), false).is_err());
}

/// The layouts are what their names say: the strides are checked on a 3-D operand.
#[test]
fn layouts_are_what_they_claim() {
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 3, 4]), (0..24).map(f64::from).collect()).unwrap();
    let strides = |l: Layout| build(&x, l).unwrap().view().strides().to_vec();
    assert_eq!(strides(Layout::C), [12, 4, 1]);
    assert_eq!(strides(Layout::F), [1, 2, 6]);
    assert_eq!(strides(Layout::Neg), [-12, -4, -1]);
    assert_eq!(strides(Layout::NegLast), [12, 4, -1]);
    assert_eq!(strides(Layout::Step), [96, 16, 2]);
    // memory order (1, 2, 0), doubled: axis 1 slowest; axes 0 and 2 reversed
    assert_eq!(strides(Layout::Mixed), [-2, 64, -8]);
    assert!(build(&x, Layout::Bcast).is_none());
    let rows = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]).unwrap();
    assert_eq!(build(&rows, Layout::Bcast).unwrap().view().strides(), [1, 0]);
}
