//! The one element trait of the test values and the array makers built on it.

use std::fmt::Debug;

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use num_complex::Complex;

use crate::half::{self as half_rules, Agreement, Rule};
use crate::Rng;

/// An element type of the tests: its arithmetic as the reference ([`crate::naive`])
/// uses it, how results are compared, and its deterministic generators.
///
/// The reference keeps each type's semantics: integers wrap, floats and complex
/// numbers are IEEE (products and sums in order), `f16` and `bf16` are widened to
/// `f32`, summed there from `+0.0` and rounded once (NumPy's float16 loop), `bool` is
/// the OR of ANDs. `Acc` is the running sum: `Self`, or `f32` for the half types.
pub trait Elem: Copy + PartialEq + Debug + Send + Sync + 'static {
    /// NumPy's name for the type (`int8`, `float32`, `complex64`, `float16`, `bool`).
    const NAME: &'static str;
    /// The benchmarks' short name (`i8`, `f32`, `c64`, `f16`, `bool`).
    const SHORT_NAME: &'static str;
    /// Complex: a multiply-add is 8 flops, not 2.
    const IS_COMPLEX: bool = false;
    /// The reference's running sum.
    type Acc: Copy + Default;

    /// The additive identity (what an empty sum gives).
    fn zero() -> Self;
    /// One product `self * rhs`, rounded once to the type (a 0-d operand's products).
    fn mul(self, rhs: Self) -> Self;
    /// `acc + x * y` in the running sum's arithmetic.
    fn mul_add(acc: Self::Acc, x: Self, y: Self) -> Self::Acc;
    /// The running sum as a result.
    fn finish(acc: Self::Acc) -> Self;
    /// The complex conjugate; the value itself for real types.
    fn conj(self) -> Self {
        self
    }

    /// Equal as results: integers and bool equal, floats equal or both NaN (`-0.0`
    /// equals `0.0`: which zero a sum gives may depend on its order), half types the
    /// same bits or both NaN.
    fn same(self, other: Self) -> bool;
    /// The same bits (`-0.0` differs from `0.0`; a NaN equals only the same NaN).
    fn same_bits(self, other: Self) -> bool;
    /// `|x|` for the floats' error bounds; 0 for integers and bool, which compare exactly.
    fn magnitude(self) -> f64;
    /// A value that shows up in a result if the code under test reads or leaves one
    /// (NaN for floats, `true` for bool, an odd large number for integers).
    fn poison() -> Self;

    /// From small whole numbers: `re` (and `im` for complex types); bool: `re` odd.
    fn from_wholes(re: i64, im: i64) -> Self;
    /// Random, and exact in any summation order: every bit for integers (their sums
    /// wrap), whole numbers in `-8..=8` for float, complex and half types, `true` one
    /// time in eight for bool.
    fn random(rng: &mut Rng) -> Self;
    /// Random and more varied: as [`Elem::random`], but half types also take eighths
    /// and full-precision values (their sums round), real floats and half types NaN,
    /// the infinities and `-0.0` one time in 16 when `special`; bool is dense (one in
    /// two) when `special`, else sparse (one in 16).
    fn varied(rng: &mut Rng, special: bool) -> Self;
    /// For benchmarks: floats uniform in `[-1, 1)` (each part for complex), integers in
    /// `-100..=100`, bool one in two.
    fn unit(rng: &mut Rng) -> Self;
    /// From one fuzzer byte: small whole numbers (float sums exact), NaN, the
    /// infinities and `-0.0` for real floats and half types, the extremes for integers.
    fn from_byte(b: u8) -> Self;

    /// For the half types, each output's [`Rule`] (C order): how far a result summed
    /// in another order may lie from the reference `want` of `inner(a, b)`. `None`
    /// for the other types, whose results must be [`Elem::same`].
    fn rules(a: &ArrayViewD<Self>, b: &ArrayViewD<Self>, want: &ArrayD<Self>) -> Option<Vec<Rule>> {
        let _ = (a, b, want);
        None
    }
    /// `got` against the reference's `want` under the output's `rule` (half types:
    /// [`half::check`](crate::half::check), which says how it agreed; the others:
    /// [`Elem::same`]).
    fn check(got: Self, want: Self, rule: Option<Rule>) -> Result<Option<Agreement>, String> {
        let _ = rule;
        if got.same(want) {
            Ok(None)
        } else {
            Err(format!("got {got:?}, the reference has {want:?}"))
        }
    }
}

macro_rules! int_elem {
    ($($t:ty => $name:literal, $short:literal);* $(;)?) => {$(
        impl Elem for $t {
            const NAME: &'static str = $name;
            const SHORT_NAME: &'static str = $short;
            type Acc = $t;
            fn zero() -> Self { 0 }
            fn mul(self, rhs: Self) -> Self { self.wrapping_mul(rhs) }
            fn mul_add(acc: Self, x: Self, y: Self) -> Self { acc.wrapping_add(x.wrapping_mul(y)) }
            fn finish(acc: Self) -> Self { acc }
            fn same(self, other: Self) -> bool { self == other }
            fn same_bits(self, other: Self) -> bool { self == other }
            fn magnitude(self) -> f64 { 0.0 }
            fn poison() -> Self { <$t>::MAX / 3 + 5 }
            fn from_wholes(re: i64, _im: i64) -> Self { re as $t }
            fn random(rng: &mut Rng) -> Self { rng.next_u64() as $t }
            fn varied(rng: &mut Rng, _special: bool) -> Self { rng.next_u64() as $t }
            fn unit(rng: &mut Rng) -> Self { rng.small(100) as $t }
            fn from_byte(b: u8) -> Self {
                match b {
                    250 => <$t>::MAX,
                    251 => <$t>::MIN,
                    _ => (b as i8) as $t,
                }
            }
        }
    )*};
}
int_elem!(
    i8 => "int8", "i8"; i16 => "int16", "i16"; i32 => "int32", "i32"; i64 => "int64", "i64";
    isize => "intp", "isize"; u8 => "uint8", "u8"; u16 => "uint16", "u16"; u32 => "uint32", "u32";
    u64 => "uint64", "u64"; usize => "uintp", "usize";
);

macro_rules! float_elem {
    ($($t:ty => $name:literal, $short:literal, $cname:literal, $cshort:literal);* $(;)?) => {$(
        impl Elem for $t {
            const NAME: &'static str = $name;
            const SHORT_NAME: &'static str = $short;
            type Acc = $t;
            fn zero() -> Self { 0.0 }
            fn mul(self, rhs: Self) -> Self { self * rhs }
            fn mul_add(acc: Self, x: Self, y: Self) -> Self { acc + x * y }
            fn finish(acc: Self) -> Self { acc }
            // Which of NaN, +inf, -inf a sum with specials gives does not depend on
            // the order of the terms, as long as the finite ones are whole numbers.
            fn same(self, other: Self) -> bool { self == other || (self.is_nan() && other.is_nan()) }
            fn same_bits(self, other: Self) -> bool { self.to_bits() == other.to_bits() }
            fn magnitude(self) -> f64 { f64::from(self).abs() }
            fn poison() -> Self { <$t>::NAN }
            fn from_wholes(re: i64, _im: i64) -> Self { re as $t }
            fn random(rng: &mut Rng) -> Self { rng.small(8) as $t }
            fn varied(rng: &mut Rng, special: bool) -> Self {
                if special && rng.next_u64() % 16 == 0 {
                    [<$t>::NAN, <$t>::INFINITY, <$t>::NEG_INFINITY, -0.0][rng.next_u64() as usize % 4]
                } else {
                    rng.small(8) as $t
                }
            }
            fn unit(rng: &mut Rng) -> Self { rng.unit() as $t }
            fn from_byte(b: u8) -> Self {
                match b {
                    250 => <$t>::NAN,
                    251 => <$t>::INFINITY,
                    252 => <$t>::NEG_INFINITY,
                    253 => -0.0,
                    _ => (b as i8 / 8) as $t,
                }
            }
        }
        impl Elem for Complex<$t> {
            const NAME: &'static str = $cname;
            const SHORT_NAME: &'static str = $cshort;
            const IS_COMPLEX: bool = true;
            type Acc = Complex<$t>;
            fn zero() -> Self { Complex::new(0.0, 0.0) }
            fn mul(self, rhs: Self) -> Self { self * rhs }
            fn mul_add(acc: Self, x: Self, y: Self) -> Self { acc + x * y }
            fn finish(acc: Self) -> Self { acc }
            fn conj(self) -> Self { Complex::new(self.re, -self.im) }
            fn same(self, other: Self) -> bool { self == other }
            fn same_bits(self, other: Self) -> bool {
                self.re.same_bits(other.re) && self.im.same_bits(other.im)
            }
            fn magnitude(self) -> f64 { f64::from(self.re).hypot(f64::from(self.im)) }
            fn poison() -> Self { Complex::new(<$t>::NAN, <$t>::NAN) }
            fn from_wholes(re: i64, im: i64) -> Self { Complex::new(re as $t, im as $t) }
            fn random(rng: &mut Rng) -> Self { Complex::new(rng.small(8) as $t, rng.small(8) as $t) }
            // No specials: complex infinities differ between GEMM kernels (documented).
            fn varied(rng: &mut Rng, _special: bool) -> Self { Self::random(rng) }
            fn unit(rng: &mut Rng) -> Self { Complex::new(rng.unit() as $t, rng.unit() as $t) }
            fn from_byte(b: u8) -> Self {
                Complex::new(((b & 0x0f) as $t) - 8.0, ((b >> 4) as $t) - 8.0)
            }
        }
    )*};
}
float_elem!(
    f32 => "float32", "f32", "complex64", "c64";
    f64 => "float64", "f64", "complex128", "c128";
);

macro_rules! half_elem {
    ($($t:ty => $name:literal, $short:literal);* $(;)?) => {$(
        impl Elem for $t {
            const NAME: &'static str = $name;
            const SHORT_NAME: &'static str = $short;
            type Acc = f32;
            fn zero() -> Self { <$t>::ZERO }
            fn mul(self, rhs: Self) -> Self { <$t>::from_f32(self.to_f32() * rhs.to_f32()) }
            fn mul_add(acc: f32, x: Self, y: Self) -> f32 { acc + x.to_f32() * y.to_f32() }
            fn finish(acc: f32) -> Self { <$t>::from_f32(acc) }
            fn same(self, other: Self) -> bool {
                self.to_bits() == other.to_bits() || (self.is_nan() && other.is_nan())
            }
            fn same_bits(self, other: Self) -> bool { self.to_bits() == other.to_bits() }
            fn magnitude(self) -> f64 { f64::from(self.to_f32()).abs() }
            fn poison() -> Self { <$t>::NAN }
            fn from_wholes(re: i64, _im: i64) -> Self { <$t>::from_f64(re as f64) }
            fn random(rng: &mut Rng) -> Self { <$t>::from_f64(rng.small(8) as f64) }
            fn varied(rng: &mut Rng, special: bool) -> Self {
                if special && rng.next_u64() % 16 == 0 {
                    return [<$t>::NAN, <$t>::INFINITY, <$t>::NEG_INFINITY, <$t>::NEG_ZERO][rng.next_u64() as usize % 4];
                }
                match rng.next_u64() % 4 {
                    // Whole numbers and eighths: exact f32 sums, so bit for bit.
                    0 | 1 => <$t>::from_f64(rng.small(8) as f64),
                    2 => <$t>::from_f64(rng.small(64) as f64 / 8.0),
                    // Every bit of the significand: the one-ulp rule.
                    _ => <$t>::from_f64(rng.unit() * 4.0),
                }
            }
            fn unit(rng: &mut Rng) -> Self { <$t>::from_f64(rng.unit()) }
            fn from_byte(b: u8) -> Self { <$t>::from_f32(f32::from_byte(b)) }
            fn rules(a: &ArrayViewD<Self>, b: &ArrayViewD<Self>, want: &ArrayD<Self>) -> Option<Vec<Rule>> {
                Some(half_rules::rules(a, b, want))
            }
            fn check(got: Self, want: Self, rule: Option<Rule>) -> Result<Option<Agreement>, String> {
                let rule = rule.expect("half types have rules");
                half_rules::check(got, want, rule).map(Some)
            }
        }
    )*};
}
half_elem!(f16 => "float16", "f16"; bf16 => "bfloat16", "bf16");

/// NumPy's bool arithmetic: `+` is OR, `*` is AND, so a sum of products is the OR of the ANDs.
impl Elem for bool {
    const NAME: &'static str = "bool";
    const SHORT_NAME: &'static str = "bool";
    type Acc = bool;
    fn zero() -> Self {
        false
    }
    fn mul(self, rhs: Self) -> Self {
        self && rhs
    }
    fn mul_add(acc: bool, x: Self, y: Self) -> bool {
        acc || (x && y)
    }
    fn finish(acc: bool) -> Self {
        acc
    }
    fn same(self, other: Self) -> bool {
        self == other
    }
    fn same_bits(self, other: Self) -> bool {
        self == other
    }
    fn magnitude(self) -> f64 {
        0.0
    }
    /// `true`: shows up wherever the answer is `false` (most outputs of sparse
    /// operands, every output of an empty sum).
    fn poison() -> Self {
        true
    }
    fn from_wholes(re: i64, _im: i64) -> Self {
        re % 2 != 0
    }
    /// One in eight: the outputs of 64-long rows are still often false.
    fn random(rng: &mut Rng) -> Self {
        rng.next_u64().is_multiple_of(8)
    }
    /// Sparse rows (1 in 16) leave many outputs false even for long K.
    fn varied(rng: &mut Rng, dense: bool) -> Self {
        rng.next_u64().is_multiple_of(if dense { 2 } else { 16 })
    }
    fn unit(rng: &mut Rng) -> Self {
        rng.chance(0.5)
    }
    fn from_byte(b: u8) -> Self {
        b & 1 == 1
    }
}

/// The `i`-th value of a scrambled counter: small whole numbers in `-8..=8` (each
/// part for complex types), so that every sum is exact and results compare with `==`.
pub fn counter_value<T: Elem>(i: usize) -> T {
    let small = |i: usize| ((i.wrapping_mul(2_654_435_761) >> 7) % 17) as i64 - 8;
    T::from_wholes(small(i), small(i.wrapping_add(7919)))
}

/// An array of `shape` (C order) holding [`counter_value`]s from `seed + 1` on:
/// different seeds give different operands.
pub fn filled<T: Elem>(shape: &[usize], seed: usize) -> ArrayD<T> {
    let mut i = seed;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1;
        counter_value(i)
    })
}

/// An array of `shape` (C order) of [`Elem::random`] values.
pub fn random_array<T: Elem>(shape: &[usize], rng: &mut Rng) -> ArrayD<T> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || T::random(rng))
}
