//! Flags, version and router names (SPEC §2.5).
//!
//! `router_name/1` picks `erldist_filter_router_<1 + fnv1a64(text) rem count>`
//! where `text` is the atom's UTF-8 text: the same node maps to the same
//! router across restarts (the C NIF used the VM's internal hash instead).
//! `count` is the number of schedulers at load time (passed by the stub as
//! load info), clamped to 1..1024.

use std::sync::atomic::{AtomicUsize, Ordering};

use erldist_filter_core::flags;
use rustler::{Encoder, Env, NifResult, Term};

use crate::atoms::{self, atom_text};

/// Most routers.
pub const ROUTER_LIMIT: usize = 1024;
/// `version/0`: when this API was last changed, as YYYYMMDDhhmmss.
pub const VERSION: u64 = 20261123140000;

static ROUTER_COUNT: AtomicUsize = AtomicUsize::new(1);

/// Read `#{schedulers => N}` from the load info.
pub fn on_load(_env: Env, info: Term) {
    let n =
        info.map_get(atoms::schedulers()).and_then(|t| t.decode::<u64>()).unwrap_or(1).clamp(1, ROUTER_LIMIT as u64);
    ROUTER_COUNT.store(n as usize, Ordering::Relaxed);
}

/// FNV-1a, 64 bits: small, fixed and the same on every run.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn router_name_text(i: usize) -> String {
    format!("erldist_filter_router_{}", i + 1)
}

/// The router for a node named `text`.
pub fn router_index(text: &str) -> usize {
    let count = ROUTER_COUNT.load(Ordering::Relaxed).max(1);
    (fnv1a64(text.as_bytes()) % count as u64) as usize
}

fn int_map<'a>(env: Env<'a>, pairs: &[(&str, u64)]) -> NifResult<Term<'a>> {
    let pairs: Vec<(Term, Term)> =
        pairs.iter().map(|(k, v)| Ok((atoms::make_atom(env, k)?, v.encode(env)))).collect::<NifResult<_>>()?;
    Term::map_from_pairs(env, &pairs)
}

#[rustler::nif]
fn distribution_flags(env: Env) -> NifResult<Term> {
    int_map(env, flags::ALL)
}

#[rustler::nif]
fn spawn_flags(env: Env) -> NifResult<Term> {
    int_map(env, &[("ERTS_DIST_SPAWN_FLAG_LINK", 1), ("ERTS_DIST_SPAWN_FLAG_MONITOR", 2)])
}

#[rustler::nif]
fn altact_sig_flags(env: Env) -> NifResult<Term> {
    int_map(
        env,
        &[
            ("ERTS_DOP_ALTACT_SIG_FLG_PRIO", 1),
            ("ERTS_DOP_ALTACT_SIG_FLG_TOKEN", 2),
            ("ERTS_DOP_ALTACT_SIG_FLG_ALIAS", 4),
            ("ERTS_DOP_ALTACT_SIG_FLG_NAME", 8),
            ("ERTS_DOP_ALTACT_SIG_FLG_EXIT", 16),
        ],
    )
}

#[rustler::nif]
fn version() -> u64 {
    VERSION
}

#[rustler::nif]
fn router_info(env: Env) -> NifResult<Term> {
    let count = ROUTER_COUNT.load(Ordering::Relaxed).max(1);
    let names: Vec<Term> = (0..count).map(|i| atoms::make_atom(env, &router_name_text(i))).collect::<NifResult<_>>()?;
    Term::map_from_pairs(
        env,
        &[
            (atoms::count().encode(env), (count as u64).encode(env)),
            (atoms::limit().encode(env), (ROUTER_LIMIT as u64).encode(env)),
            (atoms::names().encode(env), names.encode(env)),
        ],
    )
}

#[rustler::nif]
fn router_name<'a>(env: Env<'a>, sysname: Term<'a>) -> NifResult<Term<'a>> {
    let text = atom_text(sysname)?;
    atoms::make_atom(env, &router_name_text(router_index(&text)))
}

#[rustler::nif]
fn otp_name_blocklist(env: Env) -> NifResult<Term> {
    let names: Vec<Term> = erldist_filter_core::blocklist::NAMES
        .iter()
        .map(|n| crate::atoms::make_atom(env, n))
        .collect::<NifResult<_>>()?;
    Ok(names.encode(env))
}

#[rustler::nif]
fn otp_name_is_blocked(term: Term) -> bool {
    term.is_atom()
        && crate::atoms::atom_text(term).is_ok_and(|t| erldist_filter_core::blocklist::is_blocked(t.as_bytes()))
}
