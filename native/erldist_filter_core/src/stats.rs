//! Per-channel counters. One writer (the channel's owner, under its lock),
//! any number of lock-free readers (`channel_inspect`, `world_stats_get`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::dop::{Dop, MAX_DOP};

/// A counter with a single writer: increments are a relaxed load and store
/// (no locked instruction on the hot path); readers see a recent value.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Add `n` (only ever called by the one writer).
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// Add one.
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters for one distribution operation.
#[derive(Debug, Default)]
pub struct DopCounters {
    /// Control messages decoded.
    pub seen: Counter,
    /// Messages emitted (redirected ones included, as in the C NIF).
    pub emit: Counter,
    /// Messages dropped.
    pub drop: Counter,
    /// Messages redirected to a router or to `edf:req/3`.
    pub redirect: Counter,
    /// Messages copied to the logger queue.
    pub log: Counter,
}

macro_rules! scalar_stats {
    ($($field:ident),* $(,)?) => {
        /// Every counter of a channel.
        #[derive(Debug)]
        pub struct ChannelStats {
            $(#[allow(missing_docs)] pub $field: Counter,)*
            /// Per operation, indexed by operation number.
            pub dops: [DopCounters; MAX_DOP + 1],
        }

        /// A plain copy of [`ChannelStats`], summable.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct StatsSnapshot {
            $(#[allow(missing_docs)] pub $field: u64,)*
            /// Per operation: `[seen, emit, drop, redirect, log]`, indexed by number.
            pub dops: [[u64; 5]; MAX_DOP + 1],
        }

        impl Default for ChannelStats {
            fn default() -> Self {
                ChannelStats { $($field: Counter::default(),)* dops: std::array::from_fn(|_| DopCounters::default()) }
            }
        }

        impl Default for StatsSnapshot {
            fn default() -> Self {
                StatsSnapshot { $($field: 0,)* dops: [[0; 5]; MAX_DOP + 1] }
            }
        }

        impl ChannelStats {
            /// Read every counter.
            pub fn snapshot(&self) -> StatsSnapshot {
                let mut dops = [[0u64; 5]; MAX_DOP + 1];
                for (out, c) in dops.iter_mut().zip(self.dops.iter()) {
                    *out = [c.seen.get(), c.emit.get(), c.drop.get(), c.redirect.get(), c.log.get()];
                }
                StatsSnapshot { $($field: self.$field.get(),)* dops }
            }
        }

        impl StatsSnapshot {
            /// Every scalar counter by its stats-map name.
            pub fn scalars(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($field), self.$field),)*].into_iter()
            }

            /// Add `other` into `self`.
            pub fn add(&mut self, other: &StatsSnapshot) {
                $(self.$field = self.$field.wrapping_add(other.$field);)*
                for (a, b) in self.dops.iter_mut().zip(other.dops.iter()) {
                    for (x, y) in a.iter_mut().zip(b.iter()) {
                        *x = x.wrapping_add(*y);
                    }
                }
            }
        }
    };
}

scalar_stats!(
    packet_count,
    emit_count,
    drop_count,
    dist_header_count,
    dist_frag_header_count,
    dist_frag_cont_count,
    dist_pass_through_count,
    dist_tick_count,
    atom_cache_read_count,
    atom_cache_write_count,
    atom_cache_overwrite_count,
    rewrite_fragment_header_count,
    rollback_atom_cache_count,
    compact_external_count,
    compact_fragment_count,
    control_has_export_ext,
    control_has_new_fun_ext,
    payload_has_export_ext,
    payload_has_new_fun_ext,
    fastpath,
    slowpath,
    redirect_count,
    log_count,
    bytes_in,
    limit_hits,
    flood_drop_count,
    new_atom_count,
    atom_drop_count,
);

impl ChannelStats {
    /// The counters of operation `dop`.
    #[inline]
    pub fn dop(&self, dop: Dop) -> &DopCounters {
        // Dop codes are all <= MAX_DOP, so this never falls back.
        self.dops.get(dop.code() as usize).unwrap_or(&self.dops[0])
    }
}

impl StatsSnapshot {
    /// `(name, [seen, emit, drop, redirect, log])` for every defined operation.
    pub fn dop_rows(&self) -> impl Iterator<Item = (&'static str, [u64; 5])> + '_ {
        crate::dop::ALL.iter().map(move |i| (i.name, self.dops.get(i.dop.code() as usize).copied().unwrap_or_default()))
    }
}
