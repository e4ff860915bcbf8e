//! Half precision (`f16`, `bf16`) in the tests: NumPy's float16 rule as plain loops, and
//! how far the crate's result may lie from it.
//!
//! Not part of `common/mod.rs` (the fuzz target includes that and has no `half`): a test
//! that needs it declares `#[path = "common/half.rs"] mod half_ref;` beside `mod common;`.
//!
//! NumPy's float16 `inner` (`HALF_dot`) widens both operands to `f32`, sums the products
//! in one `f32` running sum from `+0.0`, left to right, and rounds the sum once to
//! float16; `ml_dtypes`' bfloat16 does the same. [`inner`] is that loop. The crate sums
//! in `f32` too, in its GEMM's order, so per output element one of these [`Rule`]s holds
//! (decided from the operands alone by [`Terms::rule`]):
//!
//! - [`Rule::Exact`]: every product is exact in `f32` and `Σ|aₖbₖ| ≤ 2^(24+e)`, where
//!   `2^e` is the lowest set bit of any product: every partial sum, in any order, is a
//!   multiple of `2^e` below `2^24 · 2^e`, so exact; both sums are the same `f32`, and
//!   the results are equal bit for bit. So are sums with a NaN or an infinite operand,
//!   or a product past `f32`'s range (bf16): the result is NaN or that infinity
//!   whatever the order, as long as the finite terms cannot overflow `f32`.
//! - [`Rule::OneUlp`]: two `f32` sums of the same `K` terms differ by at most
//!   `2 γ_K Σ|aₖbₖ|` (`γ_K = K u / (1 − K u)`, `u = 2^-24`, plus `K · 2^-149` for
//!   subnormal partial sums). Where that is at most the half type's spacing below the
//!   result, the two roundings are at most one half value apart: adjacent values of the
//!   type (`65504` and `inf` count as adjacent, and so do `-0.0` and `+0.0`'s neighbours).
//! - [`Rule::Bound`]: otherwise, where the result is small beside `Σ|aₖbₖ|` (a sum
//!   that cancels) or `K` is large (1100 terms of ±2 allow several ulps): `|got − want|
//!   ≤ 2 γ_K Σ|aₖbₖ|` plus one spacing at the result. A worst-case bound: the fixtures'
//!   results under it are, in fact, all within one ulp.
//! - [`Rule::Unordered`]: a NaN or infinite operand beside finite terms that can overflow
//!   `f32` (bf16 only): which of NaN, `inf`, `-inf` comes out depends on the order; both
//!   results must be non-finite.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::common::naive::Num;

/// A 16-bit float type of the crate: `f16` or `bf16`.
pub trait Half: Copy + PartialEq + Debug + Send + Sync + 'static {
    /// NumPy's name for the type.
    const NAME: &'static str;
    /// Significand bits after the binary point: 10 for `f16`, 7 for `bf16`.
    const FRACTION_BITS: i32;
    /// The exponent of the smallest normal value: -14, -126.
    const MIN_EXP: i32;
    const MAX: Self;
    fn widen(self) -> f32;
    /// Rounded to nearest, ties to even.
    fn round(x: f32) -> Self;
    /// Rounded once from `f64` (the fixtures' decimal strings are parsed as `f64`).
    fn round_f64(x: f64) -> Self;
    fn bits(self) -> u16;
    fn is_nan(self) -> bool {
        self.widen().is_nan()
    }
}

macro_rules! half {
    ($($t:ty => $name:expr, $frac:expr, $min:expr);*) => {$(
        impl Half for $t {
            const NAME: &'static str = $name;
            const FRACTION_BITS: i32 = $frac;
            const MIN_EXP: i32 = $min;
            const MAX: Self = <$t>::MAX;
            fn widen(self) -> f32 { self.to_f32() }
            fn round(x: f32) -> Self { <$t>::from_f32(x) }
            fn round_f64(x: f64) -> Self { <$t>::from_f64(x) }
            fn bits(self) -> u16 { self.to_bits() }
        }
        /// The type's own arithmetic, each operation rounded to it: what the layout
        /// makers need (`zero`). Not the reference for sums: that is [`inner`].
        impl Num for $t {
            fn zero() -> Self { <$t>::ZERO }
            fn add(self, rhs: Self) -> Self { self + rhs }
            fn mul(self, rhs: Self) -> Self { self * rhs }
            fn conj(self) -> Self { self }
        }
    )*};
}
half!(f16 => "float16", 10, -14; bf16 => "bfloat16", 7, -126);

/// The distance between adjacent values of `H` at magnitude `x` (finite, any sign).
pub fn spacing<H: Half>(x: f64) -> f64 {
    let x = x.abs();
    let exp = if x == 0.0 {
        H::MIN_EXP
    } else {
        // floor(log2 x), exactly: x is a normal f64 here.
        (((x.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(H::MIN_EXP)
    };
    2f64.powi(exp - H::FRACTION_BITS)
}

/// The position of `x` on the line of `H`'s values: adjacent values differ by 1, both
/// zeros are 0, the infinities follow the largest finite values.
fn ordinal<H: Half>(x: H) -> i32 {
    let b = x.bits();
    let magnitude = i32::from(b & 0x7fff);
    if b & 0x8000 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// How many values of `H` apart `x` and `y` lie; `None` if either is NaN.
pub fn ulps_apart<H: Half>(x: H, y: H) -> Option<u32> {
    if x.is_nan() || y.is_nan() {
        return None;
    }
    Some(ordinal(x).abs_diff(ordinal(y)))
}

/// How far the crate's result may be from NumPy's for one output element; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Exact,
    OneUlp,
    Bound { tol: f64 },
    Unordered,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Exact => "bit-exact",
            Rule::OneUlp => "one-ulp",
            Rule::Bound { .. } => "gamma-bound",
            Rule::Unordered => "unordered",
        }
    }
}

/// How a result met its rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// The same bits (NaN: both NaN).
    Same,
    /// Adjacent values of the type.
    OneUlpOff,
    /// Further apart, within the `γ_K` bound (or both non-finite, `Unordered`).
    WithinBound,
}

impl Agreement {
    pub fn name(self) -> &'static str {
        match self {
            Agreement::Same => "same",
            Agreement::OneUlpOff => "one ulp off",
            Agreement::WithinBound => "within bound",
        }
    }
}

/// The terms of one output element, for its [`Rule`].
#[derive(Clone, Copy, Debug)]
pub struct Terms {
    /// Terms added.
    pub k: usize,
    /// `Σ |aₖ||bₖ|` over every term (NaN or inf if a term is).
    pub abs_sum: f64,
    finite_sum: f64,
    /// The exponent of the lowest set bit over the nonzero finite products.
    lowest_bit: i32,
    /// Some finite product is not exact in `f32` (rounded, or out of its range).
    inexact_in_f32: bool,
    nonfinite: bool,
}

impl Default for Terms {
    fn default() -> Self {
        Terms {
            k: 0,
            abs_sum: 0.0,
            finite_sum: 0.0,
            lowest_bit: i32::MAX,
            inexact_in_f32: false,
            nonfinite: false,
        }
    }
}

impl Terms {
    /// One term `x * y`, from the operands' values or magnitudes (exact in `f64` for
    /// half values: their significands have at most 11 bits).
    pub fn add(&mut self, x: f64, y: f64) {
        let p = x.abs() * y.abs();
        self.k += 1;
        self.abs_sum += p;
        // A product past f32's range is an infinity in the f32 sum, like an infinite operand.
        if !p.is_finite() || (p as f32).is_infinite() {
            self.nonfinite = true;
            return;
        }
        if p == 0.0 {
            return;
        }
        if f64::from(p as f32) != p {
            self.inexact_in_f32 = true;
        }
        let bits = p.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let significand = (bits & ((1 << 52) - 1)) | if biased == 0 { 0 } else { 1 << 52 };
        let exp = biased.max(1) - 1075; // p = significand * 2^exp
        self.lowest_bit = self.lowest_bit.min(exp + significand.trailing_zeros() as i32);
        self.finite_sum += p;
    }

    /// The rule for the output element whose NumPy answer is `want`.
    pub fn rule<H: Half>(&self, want: H) -> Rule {
        let f32_safe = !self.inexact_in_f32 && self.finite_sum <= f64::from(f32::MAX);
        if self.nonfinite {
            return if f32_safe { Rule::Exact } else { Rule::Unordered };
        }
        if f32_safe && (self.finite_sum == 0.0 || self.finite_sum <= 2f64.powi(24 + self.lowest_bit)) {
            return Rule::Exact;
        }
        let k = self.k as f64;
        let u = 2f64.powi(-24);
        let gamma = k * u / (1.0 - k * u);
        let drift = 2.0 * gamma * self.finite_sum + 2.0 * k * 2f64.powi(-149);
        let w = f64::from(if want.widen().is_finite() { want } else { H::MAX }.widen()).abs();
        let low = (w - spacing::<H>(w) - drift).max(0.0);
        if drift <= spacing::<H>(low) {
            Rule::OneUlp
        } else {
            Rule::Bound {
                tol: drift + spacing::<H>(w + drift),
            }
        }
    }
}

/// `got` against the reference `want` under `rule`.
pub fn check<H: Half>(got: H, want: H, rule: Rule) -> Result<Agreement, String> {
    if got.bits() == want.bits() || (got.is_nan() && want.is_nan()) {
        return Ok(Agreement::Same);
    }
    let apart = ulps_apart(got, want);
    let (g, w) = (got.widen(), want.widen());
    let fail = |why: &str| {
        Err(format!(
            "got {g:e} ({:#06x}), the reference has {w:e} ({:#06x}), {} apart; rule {rule:?}: {why}",
            got.bits(),
            want.bits(),
            apart.map_or("NaN".to_string(), |u| format!("{u} ulp")),
        ))
    };
    match rule {
        Rule::Exact => fail("bit for bit"),
        Rule::OneUlp if apart == Some(1) => Ok(Agreement::OneUlpOff),
        Rule::OneUlp => fail("at most one ulp"),
        Rule::Bound { .. } if apart == Some(1) => Ok(Agreement::OneUlpOff),
        Rule::Bound { tol } => {
            if g.is_finite() && w.is_finite() && (f64::from(g) - f64::from(w)).abs() <= tol {
                Ok(Agreement::WithinBound)
            } else {
                fail("within the gamma_K bound")
            }
        }
        Rule::Unordered if !g.is_finite() && !w.is_finite() => Ok(Agreement::WithinBound),
        Rule::Unordered => fail("both non-finite"),
    }
}

/// NumPy's float16 `inner` by plain loops (`HALF_dot`: `f32` products, one `f32`
/// running sum from `+0.0`, left to right, rounded once), with each output element's
/// [`Rule`] (C order). A 0-d operand: each product rounded once (`np.multiply`).
pub fn inner<H: Half>(a: &ArrayViewD<H>, b: &ArrayViewD<H>) -> (ArrayD<H>, Vec<Rule>) {
    if a.ndim() == 0 || b.ndim() == 0 {
        let (s, x, s_first) = if a.ndim() == 0 { (a, b, true) } else { (b, a, false) };
        let s = s[IxDyn(&[])].widen();
        let out = x.map(|&v| {
            let (l, r) = if s_first { (s, v.widen()) } else { (v.widen(), s) };
            H::round(l * r)
        });
        let rules = vec![Rule::Exact; out.len()];
        return (out, rules);
    }
    let (na, nb) = (a.ndim(), b.ndim());
    let k = a.shape()[na - 1];
    assert_eq!(k, b.shape()[nb - 1], "the reference is only called on aligned shapes");
    let mut out_shape = a.shape()[..na - 1].to_vec();
    out_shape.extend_from_slice(&b.shape()[..nb - 1]);
    // Logical (row-major) order: row `i` of `a` is `a_rows[i * k..][..k]`.
    let a_rows: Vec<f32> = a.iter().map(|v| v.widen()).collect();
    let b_rows: Vec<f32> = b.iter().map(|v| v.widen()).collect();
    let m: usize = a.shape()[..na - 1].iter().product();
    let n: usize = b.shape()[..nb - 1].iter().product();
    let mut out = Vec::with_capacity(m * n);
    let mut rules = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f32;
            let mut terms = Terms::default();
            for t in 0..k {
                let (x, y) = (a_rows[i * k + t], b_rows[j * k + t]);
                sum += x * y;
                terms.add(f64::from(x), f64::from(y));
            }
            let want = H::round(sum);
            out.push(want);
            rules.push(terms.rule(want));
        }
    }
    let out = ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("m * n elements");
    (out, rules)
}

/// NumPy's `tensordot(a, b, (axis_a, axis_b))` for half types: [`inner`] of the views
/// with the contracted axes moved last (the other axes keep their order).
pub fn tensordot<H: Half>(
    a: &ArrayViewD<H>,
    b: &ArrayViewD<H>,
    axis_a: usize,
    axis_b: usize,
) -> (ArrayD<H>, Vec<Rule>) {
    fn last<'a, H>(x: &ArrayViewD<'a, H>, axis: usize) -> ArrayViewD<'a, H> {
        let mut perm: Vec<usize> = (0..x.ndim()).filter(|&i| i != axis).collect();
        perm.push(axis);
        x.clone().permuted_axes(IxDyn(&perm))
    }
    inner(&last(a, axis_a), &last(b, axis_b))
}

/// Outcomes per (type, rule, agreement), for the tests' summaries.
#[derive(Default, Debug, Clone)]
pub struct Tally(pub BTreeMap<(&'static str, &'static str, &'static str), usize>);

impl Tally {
    pub fn record<H: Half>(&mut self, rule: Rule, agreement: Agreement) {
        *self.0.entry((H::NAME, rule.name(), agreement.name())).or_default() += 1;
    }
    pub fn merge(&mut self, other: Tally) {
        for (key, n) in other.0 {
            *self.0.entry(key).or_default() += n;
        }
    }
    pub fn count(&self, ty: &str, rule: &str, agreement: Option<&str>) -> usize {
        self.0
            .iter()
            .filter(|((t, r, a), _)| *t == ty && *r == rule && agreement.is_none_or(|x| x == *a))
            .map(|(_, n)| n)
            .sum()
    }
    /// One line per type: outputs per rule, and how many of them were off NumPy's bits.
    pub fn summary(&self) -> Vec<String> {
        let mut types: Vec<&str> = self.0.keys().map(|(t, _, _)| *t).collect();
        types.dedup();
        types
            .into_iter()
            .map(|ty| {
                let parts: Vec<String> = ["bit-exact", "one-ulp", "gamma-bound", "unordered"]
                    .into_iter()
                    .filter(|rule| self.count(ty, rule, None) > 0)
                    .map(|rule| {
                        format!(
                            "{} {rule} ({} one ulp off, {} further within the bound)",
                            self.count(ty, rule, None),
                            self.count(ty, rule, Some("one ulp off")),
                            self.count(ty, rule, Some("within bound")),
                        )
                    })
                    .collect();
                format!("{ty}: {}", parts.join(", "))
            })
            .collect()
    }
}

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

/// Counts one checked element in this thread's tally.
pub fn record<H: Half>(rule: Rule, agreement: Agreement) {
    TALLY.with(|t| t.borrow_mut().record::<H>(rule, agreement));
}

/// This thread's tally, reset.
pub fn take_tally() -> Tally {
    TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()))
}
