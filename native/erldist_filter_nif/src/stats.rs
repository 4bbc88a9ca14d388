//! World statistics (`world_stats_get/0`, SPEC §7.1) and the stats map shared
//! with `channel_inspect/1`.
//!
//! `rx_stats` = the final counters of every destroyed channel (added here
//! when it is destroyed) + the live counters of every open channel (read
//! lock-free from the channel table). Destroying a channel moves its
//! counters from "live" to "retired" while the table lock is held, and
//! `world_stats_get` reads both under that lock, so no channel is counted
//! twice or lost.
//!
//! `memory` keeps the C NIF's keys with this port's meaning:
//! `vec_own_bin_create`/`_capacity` = new binaries made for emitted frames
//! (count / bytes), `vec_ref_bin_create` = emitted sub-binaries of the input
//! (zero copy), `vec_ref_ioq_create` = unconsumed input handed back to the
//! caller between slices; the other keys are 0 (the VM frees binaries; we do
//! not see it). `slots` = number of open channels whose live counters were
//! summed (the port keeps no per-thread slots).

use std::sync::atomic::{AtomicU64, Ordering};

use erldist_filter_core::StatsSnapshot;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use rustler::{Encoder, Env, NifResult, Term};

use crate::atoms;

/// Channels ever opened.
pub static CREATE: AtomicU64 = AtomicU64::new(0);
/// Channels destroyed (close, owner exit, error).
pub static DESTROY: AtomicU64 = AtomicU64::new(0);
/// Summed final counters of destroyed channels.
pub static RETIRED: Lazy<Mutex<StatsSnapshot>> = Lazy::new(|| Mutex::new(StatsSnapshot::default()));

/// Memory counters (see module doc).
pub struct Memory {
    pub own_bin_create: AtomicU64,
    pub own_bin_create_capacity: AtomicU64,
    pub ref_bin_create: AtomicU64,
    pub ref_ioq_create: AtomicU64,
}

pub static MEMORY: Memory = Memory {
    own_bin_create: AtomicU64::new(0),
    own_bin_create_capacity: AtomicU64::new(0),
    ref_bin_create: AtomicU64::new(0),
    ref_ioq_create: AtomicU64::new(0),
};

/// Add `n` to a world counter.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// A channel stats map: every scalar counter, then
/// `dop_<name> => #{seen, emit, drop, redirect, log}` per operation.
pub fn stats_map<'a>(env: Env<'a>, s: &StatsSnapshot) -> NifResult<Term<'a>> {
    let mut keys: Vec<Term<'a>> = Vec::with_capacity(64);
    let mut values: Vec<Term<'a>> = Vec::with_capacity(64);
    for (name, v) in s.scalars() {
        keys.push(atoms::make_atom(env, name)?);
        values.push(v.encode(env));
    }
    let dop_keys = [
        atoms::seen().encode(env),
        atoms::emit().encode(env),
        atoms::drop().encode(env),
        atoms::redirect().encode(env),
        atoms::log().encode(env),
    ];
    for (name, row) in s.dop_rows() {
        keys.push(atoms::make_atom(env, &format!("dop_{name}"))?);
        let row_values: Vec<Term<'a>> = row.iter().map(|v| v.encode(env)).collect();
        values.push(Term::map_from_term_arrays(env, &dop_keys, &row_values)?);
    }
    Term::map_from_term_arrays(env, &keys, &values)
}

#[rustler::nif]
fn world_stats_get_nif(env: Env) -> NifResult<Term> {
    let (total, live) = crate::channel::world_rx_stats();
    let channel = Term::map_from_pairs(
        env,
        &[
            (atoms::create().encode(env), CREATE.load(Ordering::Relaxed).encode(env)),
            (atoms::destroy().encode(env), DESTROY.load(Ordering::Relaxed).encode(env)),
            (atoms::rx_stats().encode(env), stats_map(env, &total)?),
        ],
    )?;
    let m = &MEMORY;
    let mem: [(&str, u64); 14] = [
        ("vec_own_bin_create", m.own_bin_create.load(Ordering::Relaxed)),
        ("vec_own_bin_create_capacity", m.own_bin_create_capacity.load(Ordering::Relaxed)),
        ("vec_own_bin_realloc", 0),
        ("vec_own_bin_realloc_capacity", 0),
        ("vec_own_bin_destroy", 0),
        ("vec_own_mem_create", 0),
        ("vec_own_mem_create_capacity", 0),
        ("vec_own_mem_realloc", 0),
        ("vec_own_mem_realloc_capacity", 0),
        ("vec_own_mem_destroy", 0),
        ("vec_ref_bin_create", m.ref_bin_create.load(Ordering::Relaxed)),
        ("vec_ref_bin_destroy", 0),
        ("vec_ref_ioq_create", m.ref_ioq_create.load(Ordering::Relaxed)),
        ("vec_ref_ioq_destroy", 0),
    ];
    let mem_pairs: Vec<(Term, Term)> =
        mem.iter().map(|(k, v)| Ok((atoms::make_atom(env, k)?, v.encode(env)))).collect::<NifResult<_>>()?;
    let memory = Term::map_from_pairs(env, &mem_pairs)?;
    Term::map_from_pairs(
        env,
        &[
            (atoms::channel().encode(env), channel),
            (atoms::memory().encode(env), memory),
            (atoms::slots().encode(env), (live as u64).encode(env)),
        ],
    )
}
