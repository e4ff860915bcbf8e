//! Operands in every memory layout, holding the same logical values.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder, Slice};

use crate::Elem;

/// How an operand's elements are laid out in memory.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// Standard C order.
    C,
    /// Fortran order.
    F,
    /// Axes stored in a permuted order (the permutation picked by the seed).
    Permuted(u64),
    /// The axes whose bit is set in the mask have negative strides.
    Reversed(u32),
    /// The axes whose bit is set in the mask step over every other element of a larger array.
    Stepped(u32),
    /// The axis (modulo ndim) is broadcast: stride 0, every index reads index 0.
    Broadcast(usize),
}

pub const ALL: [Layout; 9] = [
    Layout::C,
    Layout::F,
    Layout::Permuted(1),
    Layout::Permuted(7),
    Layout::Reversed(u32::MAX),
    Layout::Reversed(0b101),
    Layout::Stepped(u32::MAX),
    Layout::Broadcast(0),
    Layout::Broadcast(usize::MAX), // the last axis: the contracted one
];

/// An operand: an array with its own strides, or a broadcast of a smaller one.
pub enum Operand<A> {
    Owned(ArrayD<A>),
    Broadcast { small: ArrayD<A>, shape: Vec<usize> },
}

impl<A> Operand<A> {
    pub fn view(&self) -> ArrayViewD<'_, A> {
        match self {
            Operand::Owned(a) => a.view(),
            Operand::Broadcast { small, shape } => small.broadcast(IxDyn(shape)).expect("broadcastable"),
        }
    }
}

/// `logical` laid out as `layout` says; the values are the same except for
/// `Broadcast`, whose axis repeats its first entry.
pub fn make<A: Elem>(logical: &ArrayD<A>, layout: Layout) -> Operand<A> {
    let shape = logical.shape().to_vec();
    let n = shape.len();
    let filled = |mut dst: ArrayD<A>| {
        dst.assign(logical);
        Operand::Owned(dst)
    };
    match layout {
        Layout::C => Operand::Owned(logical.as_standard_layout().into_owned()),
        Layout::F => filled(ArrayD::from_elem(IxDyn(&shape).f(), A::zero())),
        Layout::Permuted(seed) => {
            let mut perm: Vec<usize> = (0..n).collect();
            let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for i in (1..n).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                perm.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let stored: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let mut inverse = vec![0; n];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            filled(ArrayD::from_elem(IxDyn(&stored), A::zero()).permuted_axes(IxDyn(&inverse)))
        }
        Layout::Reversed(mask) => {
            let mut dst = ArrayD::from_elem(IxDyn(&shape), A::zero());
            for axis in 0..n {
                if mask >> (axis % 32) & 1 == 1 {
                    dst.invert_axis(Axis(axis));
                }
            }
            filled(dst)
        }
        // An empty operand stays C order: stepping its other axes would allocate for nothing.
        Layout::Stepped(_) if logical.is_empty() => make(logical, Layout::C),
        Layout::Stepped(mask) => {
            let big: Vec<usize> = shape
                .iter()
                .enumerate()
                .map(|(axis, &len)| if mask >> (axis % 32) & 1 == 1 { 2 * len + 1 } else { len })
                .collect();
            let mut dst = ArrayD::from_elem(IxDyn(&big), A::zero());
            for axis in 0..n {
                if mask >> (axis % 32) & 1 == 1 {
                    dst.slice_axis_inplace(Axis(axis), Slice::new(1, None, 2));
                }
            }
            filled(dst)
        }
        Layout::Broadcast(axis) => {
            if n == 0 {
                return make(logical, Layout::C);
            }
            let axis = axis.min(n - 1);
            let mut small_shape = shape.clone();
            small_shape[axis] = 1;
            let small = if shape[axis] == 0 {
                ArrayD::from_elem(IxDyn(&small_shape), A::zero())
            } else {
                logical.slice_axis(Axis(axis), Slice::from(0..1)).to_owned()
            };
            Operand::Broadcast { small, shape }
        }
    }
}

impl Layout {
    /// A layout drawn from `rng`, each kind equally likely, its seed or mask random.
    pub fn random(rng: &mut crate::Rng) -> Layout {
        match rng.next_u64() % 6 {
            0 => Layout::C,
            1 => Layout::F,
            2 => Layout::Permuted(rng.next_u64()),
            3 => Layout::Reversed(rng.next_u64() as u32),
            4 => Layout::Stepped(rng.next_u64() as u32),
            _ => Layout::Broadcast(rng.next_u64() as usize),
        }
    }
}
