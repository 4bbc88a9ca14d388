//! Process-global switches (`config_*`, SPEC §3) and limits (`limits_*`,
//! decision 2). Switches are one atomic bit set, read into a `Config` on
//! every `channel_recv` call. Limits sit behind a lock with a generation
//! counter: channels copy them at open and, when the generation moved, at
//! their next `channel_recv` call.
//!
//! Errors: unknown key, non-atom key, non-boolean value or a value that is
//! not an integer in 0..2^64-1 raise `badarg`.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use erldist_filter_core::Policy;
use erldist_filter_core::{Config, Limits};
use once_cell::sync::Lazy;
use parking_lot::RwLock;
use rustler::{Encoder, Env, Error, NifResult, Term};

use crate::atoms::{self, atom_text};

static SWITCHES: AtomicU8 = AtomicU8::new(0);
static LIMITS: Lazy<RwLock<Limits>> = Lazy::new(|| RwLock::new(Limits::default()));
static LIMITS_GEN: AtomicU64 = AtomicU64::new(0);

fn switch_names() -> [&'static str; 6] {
    Config::default().entries().map(|(name, _)| name)
}

/// The switches as they are now.
pub fn current() -> Config {
    // Read on every `channel_recv` call: one table lookup, no name matching.
    static BY_BITS: Lazy<Vec<Config>> = Lazy::new(|| (0..1u16 << 6).map(config_of).collect());
    let bits = SWITCHES.load(Ordering::Relaxed);
    BY_BITS.get(usize::from(bits)).copied().unwrap_or_else(|| config_of(u16::from(bits)))
}

/// The `Config` with the switches of bit set `bits` on.
fn config_of(bits: u16) -> Config {
    let mut cfg = Config::default();
    for (i, name) in switch_names().iter().enumerate() {
        cfg.set(name, bits & (1 << i) != 0);
    }
    cfg
}

/// The limits and their generation.
pub fn limits() -> (Limits, u64) {
    // Read the generation first: a concurrent set bumps it after writing, so
    // at worst we re-apply the same limits on the next call.
    let gen = LIMITS_GEN.load(Ordering::Acquire);
    (*LIMITS.read(), gen)
}

/// The current limits generation (cheap check on the hot path).
pub fn limits_generation() -> u64 {
    LIMITS_GEN.load(Ordering::Acquire)
}

fn config_map<'a>(env: Env<'a>, cfg: &Config) -> NifResult<Term<'a>> {
    let pairs: Vec<(Term, Term)> =
        cfg.entries().iter().map(|(k, v)| Ok((atoms::make_atom(env, k)?, v.encode(env)))).collect::<NifResult<_>>()?;
    Term::map_from_pairs(env, &pairs)
}

#[rustler::nif(name = "config_get")]
fn config_get_0(env: Env) -> NifResult<Term> {
    config_map(env, &current())
}

#[rustler::nif(name = "config_get")]
fn config_get_1(key: Term) -> NifResult<bool> {
    let key = atom_text(key)?;
    current().entries().iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(Error::BadArg)
}

#[rustler::nif(name = "config_set")]
fn config_set_2(key: Term, value: Term) -> NifResult<rustler::Atom> {
    let key = atom_text(key)?;
    let value: bool = value.decode()?;
    let i = switch_names().iter().position(|k| *k == key).ok_or(Error::BadArg)?;
    if value {
        SWITCHES.fetch_or(1 << i, Ordering::Relaxed);
    } else {
        SWITCHES.fetch_and(!(1 << i), Ordering::Relaxed);
    }
    Ok(atoms::ok())
}

#[rustler::nif(name = "limits_get")]
fn limits_get_0(env: Env) -> NifResult<Term> {
    let (limits, _) = limits();
    let mut pairs: Vec<(Term, Term)> = limits
        .entries()
        .iter()
        .map(|(k, v)| Ok((atoms::make_atom(env, k)?, v.encode(env))))
        .collect::<NifResult<_>>()?;
    for (k, p) in limits.policies() {
        pairs.push((atoms::make_atom(env, k)?, policy_atom(p).encode(env)));
    }
    Term::map_from_pairs(env, &pairs)
}

fn policy_atom(p: Policy) -> rustler::Atom {
    match p {
        Policy::Close => atoms::close(),
        Policy::Drop => atoms::drop(),
    }
}

#[rustler::nif(name = "limits_get")]
fn limits_get_1<'a>(env: Env<'a>, key: Term<'a>) -> NifResult<Term<'a>> {
    let key = atom_text(key)?;
    let l = limits().0;
    if let Some((_, p)) = l.policies().iter().find(|(k, _)| *k == key) {
        return Ok(policy_atom(*p).encode(env));
    }
    l.entries().iter().find(|(k, _)| *k == key).map(|(_, v)| v.encode(env)).ok_or(Error::BadArg)
}

/// `limits_set(Key, Value)`: an integer bound, or `close | drop` for a
/// `*_policy` key.
#[rustler::nif(name = "limits_set")]
fn limits_set_2(key: Term, value: Term) -> NifResult<rustler::Atom> {
    let key = atom_text(key)?;
    {
        let mut l = LIMITS.write();
        let mut next = *l;
        let ok = if value.is_atom() {
            let policy = match value.atom_to_string()?.as_str() {
                "close" => Policy::Close,
                "drop" => Policy::Drop,
                _ => return Err(Error::BadArg),
            };
            next.set_policy(&key, policy)
        } else {
            next.set(&key, value.decode()?)
        };
        if !ok {
            return Err(Error::BadArg);
        }
        *l = next;
        LIMITS_GEN.fetch_add(1, Ordering::Release);
    }
    Ok(atoms::ok())
}
