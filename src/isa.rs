//! The instruction-set level the crate's kernels run at: detected once per process,
//! optionally lowered by the `NDARRAY_INNER_ISA` environment variable, and passed as
//! a value to every choice that depends on it (the search's kernels, the GEMM engine,
//! the thresholds), so that each choice is a pure function a unit test can check for
//! every level, whatever the machine it runs on.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level of the crate's own kernels, lowest first.
///
/// ```
/// use ndarray_inner::Isa;
///
/// // What this process uses: the CPU's best level, or lower if NDARRAY_INNER_ISA says so.
/// let level = ndarray_inner::isa();
/// assert!(level <= Isa::detected());
/// println!("kernels: {level}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// No hand-written vector kernels: the crate's plain-Rust kernels (the integer
    /// micro-kernels compiled for the baseline target, SSE2 on x86-64).
    Portable,
    /// x86-64 with AVX2, FMA and F16C (Intel since Haswell, AMD since Zen 1).
    Avx2,
    /// x86-64 with AVX-512 F, BW, VL and DQ on top of [`Isa::Avx2`] (Intel Xeon since
    /// Skylake-SP, Ice Lake, AMD Zen 4 and 5).
    Avx512,
}

impl Isa {
    /// The best level this CPU offers, ignoring `NDARRAY_INNER_ISA`.
    pub fn detected() -> Isa {
        detect()
    }

    /// The level's name as `NDARRAY_INNER_ISA` spells it: `portable`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The level that `NDARRAY_INNER_ISA`'s value names, if it names one (case and
    /// surrounding spaces ignored).
    pub fn from_name(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(Isa::Portable),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// Every level, lowest first: for tests of the decisions made per level.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Isa {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("fma") && has!("f16c");
    if avx2 && has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq") {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Isa {
    Isa::Portable
}

/// The level in use, lowered by `requested` (an `NDARRAY_INNER_ISA` value) and never
/// raised: an unknown name keeps the detected level.
fn in_use(detected: Isa, requested: Option<&str>) -> Isa {
    match requested.and_then(Isa::from_name) {
        Some(lower) => lower.min(detected),
        None => detected,
    }
}

/// 0 until the first call, then the level + 1.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The instruction-set level the crate's kernels use in this process: the best the
/// CPU offers ([`Isa::detected`]), lowered (never raised) by the environment variable
/// `NDARRAY_INNER_ISA=portable|avx2|avx512`, read once, at the first call of any
/// kernel. It lets every path run, be tested and be compared on one machine.
///
/// The level governs the crate's own kernels (search, half-precision widening, bool
/// and integer products) and every engine and threshold choice. The GEMM engines it
/// calls (the `gemm` crate, matrixmultiply, OpenBLAS) pick their own kernels from
/// the CPU: lowering the level changes which engine runs a product, not the
/// instructions inside that engine.
///
/// ```
/// let level = ndarray_inner::isa();
/// assert_eq!(ndarray_inner::isa(), level); // decided once
/// ```
pub fn isa() -> Isa {
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let level = in_use(detect(), std::env::var("NDARRAY_INNER_ISA").ok().as_deref());
            LEVEL.store(level as u8 + 1, Ordering::Relaxed);
            level
        }
        1 => Isa::Portable,
        2 => Isa::Avx2,
        _ => Isa::Avx512,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_lowers_never_raises() {
        for detected in Isa::ALL {
            assert_eq!(in_use(detected, None), detected);
            assert_eq!(in_use(detected, Some("nonsense")), detected);
            for asked in Isa::ALL {
                assert_eq!(in_use(detected, Some(asked.name())), asked.min(detected));
            }
        }
        assert_eq!(in_use(Isa::Avx512, Some(" AVX2 ")), Isa::Avx2);
    }

    #[test]
    fn names_round_trip() {
        for level in Isa::ALL {
            assert_eq!(Isa::from_name(level.name()), Some(level));
            assert_eq!(level.to_string(), level.name());
        }
    }

    #[test]
    fn the_level_in_use_is_at_most_the_detected_one() {
        assert!(isa() <= Isa::detected());
    }
}
