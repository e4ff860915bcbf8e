//! Half precision (`f16`, `bf16`) in the tests: NumPy's float16 rule as plain loops, and
//! how far the crate's result may lie from it.
//!
//! NumPy's float16 `inner` (`HALF_dot`) widens both operands to `f32`, sums the products
//! in one `f32` running sum from `+0.0`, left to right, and rounds the sum once to
//! float16; `ml_dtypes`' bfloat16 does the same. [`inner`] is that loop (the
//! [`naive`] reference). The crate sums
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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD};

use crate::naive::{self, contracted_last};
use crate::Elem;

/// A 16-bit float type of the crate: `f16` or `bf16`.
///
/// Its NumPy name is [`Elem::NAME`]; its reference sum is [`Elem::mul_add`]'s, in `f32`.
pub trait Half: Elem {
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
    ($($t:ty => $frac:expr, $min:expr);*) => {$(
        impl Half for $t {
            const FRACTION_BITS: i32 = $frac;
            const MIN_EXP: i32 = $min;
            const MAX: Self = <$t>::MAX;
            fn widen(self) -> f32 { self.to_f32() }
            fn round(x: f32) -> Self { <$t>::from_f32(x) }
            fn round_f64(x: f64) -> Self { <$t>::from_f64(x) }
            fn bits(self) -> u16 { self.to_bits() }
        }
    )*};
}
half!(f16 => 10, -14; bf16 => 7, -126);

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

/// NumPy's float16 `inner` ([`naive::inner`]: `f32` products, one `f32` running sum
/// from `+0.0`, left to right, rounded once), with each output element's [`Rule`]
/// (C order). A 0-d operand: each product rounded once (`np.multiply`).
pub fn inner<H: Half>(a: &ArrayViewD<H>, b: &ArrayViewD<H>) -> (ArrayD<H>, Vec<Rule>) {
    let want = naive::inner(a, b, false);
    let rules = rules(a, b, &want);
    (want, rules)
}

/// The [`Rule`] of each output element (C order) of `inner(a, b)`, whose reference
/// answer is `want`: from the terms `a[i, k] * b[j, k]` of each output. A 0-d
/// operand's plain products are exact.
///
/// # Panics
/// If the last axes differ or `want` has fewer elements than the output.
pub fn rules<H: Half>(a: &ArrayViewD<H>, b: &ArrayViewD<H>, want: &ArrayD<H>) -> Vec<Rule> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return vec![Rule::Exact; want.len()];
    }
    let (na, nb) = (a.ndim(), b.ndim());
    let k = a.shape()[na - 1];
    assert_eq!(k, b.shape()[nb - 1], "the reference is only called on aligned shapes");
    // Logical (row-major) order: row `i` of `a` is `a_rows[i * k..][..k]`.
    let a_rows: Vec<f64> = a.iter().map(|v| f64::from(v.widen())).collect();
    let b_rows: Vec<f64> = b.iter().map(|v| f64::from(v.widen())).collect();
    let m: usize = a.shape()[..na - 1].iter().product();
    let n: usize = b.shape()[..nb - 1].iter().product();
    let mut wants = want.iter();
    let mut rules = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut terms = Terms::default();
            for t in 0..k {
                terms.add(a_rows[i * k + t], b_rows[j * k + t]);
            }
            rules.push(terms.rule(*wants.next().expect("one answer per output")));
        }
    }
    rules
}

/// NumPy's `tensordot(a, b, (axis_a, axis_b))` for half types ([`naive::tensordot`]),
/// with the rules of the terms in the same order (the contracted axes moved last).
pub fn tensordot<H: Half>(
    a: &ArrayViewD<H>,
    b: &ArrayViewD<H>,
    axis_a: usize,
    axis_b: usize,
) -> (ArrayD<H>, Vec<Rule>) {
    let want = naive::tensordot(a, b, axis_a, axis_b);
    let rules = rules(&contracted_last(a, axis_a), &contracted_last(b, axis_b), &want);
    (want, rules)
}

/// Outcomes per (type, rule, agreement), for the tests' summaries.
#[derive(Default, Debug, Clone)]
pub struct Tally(pub BTreeMap<(&'static str, &'static str, &'static str), usize>);

impl Tally {
    pub fn record<H: Half>(&mut self, rule: Rule, agreement: Agreement) {
        self.record_named(H::NAME, rule, agreement);
    }
    /// [`Tally::record`] for a type named by its [`Elem::NAME`].
    pub fn record_named(&mut self, ty: &'static str, rule: Rule, agreement: Agreement) {
        *self.0.entry((ty, rule.name(), agreement.name())).or_default() += 1;
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
    record_named(H::NAME, rule, agreement);
}

/// [`record`] for a type named by its [`Elem::NAME`].
pub fn record_named(ty: &'static str, rule: Rule, agreement: Agreement) {
    TALLY.with(|t| t.borrow_mut().record_named(ty, rule, agreement));
}

/// This thread's tally, reset.
pub fn take_tally() -> Tally {
    TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()))
}
