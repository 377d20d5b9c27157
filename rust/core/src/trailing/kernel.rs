//! The hot loops: one instrument-side's tick-trail stops against one price.
//!
//! For a sell stop at `stop` with trail `d` ticks and a new price `p`: it triggers iff `p <= stop`
//! (the old stop), and the new stop is `max(stop, p - d)`. A stop that triggers is unchanged by
//! the ratchet (`p - d < p <= stop`), so the trigger test can be made after the ratchet too.
//! Buy stops mirror it (`p >= stop`, `min(stop, p + d)`). The loops are branch-free and return
//! whether any stop triggered, so the (rare) collection pass runs only on buckets that need it.
//! On x86-64 they are compiled a second time for AVX2 and chosen at run time.

#[inline(always)]
fn sell_generic(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    let mut any = false;
    for (s, &d) in stop.iter_mut().zip(dist) {
        let old = *s;
        any |= p <= old;
        *s = old.max(p - d);
    }
    any
}

#[inline(always)]
fn buy_generic(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    let mut any = false;
    for (s, &d) in stop.iter_mut().zip(dist) {
        let old = *s;
        any |= p >= old;
        *s = old.min(p + d);
    }
    any
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sell_avx2(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    sell_generic(p, stop, dist)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn buy_avx2(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    buy_generic(p, stop, dist)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn sell_avx512(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    sell_generic(p, stop, dist)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn buy_avx512(p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
    buy_generic(p, stop, dist)
}

/// Which compiled variant of the kernels runs (detected once per engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Generic
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }

    /// Ratchet every stop of one sell bucket against `p`; true if any has triggered.
    #[inline]
    pub(crate) fn sell(self, p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
        match self {
            Isa::Generic => sell_generic(p, stop, dist),
            // SAFETY: the variant is only chosen when `detect` found the features.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { sell_avx2(p, stop, dist) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { sell_avx512(p, stop, dist) },
        }
    }

    /// Ratchet every stop of one buy bucket against `p`; true if any has triggered.
    #[inline]
    pub(crate) fn buy(self, p: i64, stop: &mut [i64], dist: &[i64]) -> bool {
        match self {
            Isa::Generic => buy_generic(p, stop, dist),
            // SAFETY: the variant is only chosen when `detect` found the features.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { buy_avx2(p, stop, dist) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { buy_avx512(p, stop, dist) },
        }
    }
}
