//! The emit path: the core's emitted frames ([`Emit`]) as `{emit, Binary}`
//! actions for the carrier to hand to `erlang:dist_ctrl_put_data/2`.
//!
//! One binary per frame, never iodata: the VM reads a binary in place but
//! turns any iolist into a new binary first (bench/README.md, "Copies on
//! the emit path"), so a list would only move a copy, not save one. A frame
//! whose bytes are unchanged is therefore a sub-binary of the input (no
//! copy); a frame the core assembled or rewrote becomes one new binary,
//! and a fragment of a held message is written straight from the hold
//! buffer into its binary (one copy each). The `vec_*_bin_create` counters
//! in `stats::MEMORY` count both kinds.

use erldist_filter_core::{Actions, Emit, Fragment};
use rustler::{Binary, Encoder, Env, NewBinary, NifResult, Term};

use crate::atoms;
use crate::error::RecvFailure;
use crate::stats;

/// Turn the emits of one `recv` over `src[base..]` into actions, appended
/// to `terms` (the emits are drained).
pub(crate) fn emit_input<'a>(
    env: Env<'a>,
    src: &Binary<'a>,
    base: usize,
    terms: &mut Vec<Term<'a>>,
    out: &mut Actions,
) -> Result<(), RecvFailure> {
    terms.reserve(out.emits.len());
    for e in out.emits.drain(..) {
        terms.push(emit_term(env, src, base, e).map_err(|_| RecvFailure::BadEmit)?);
    }
    Ok(())
}

/// Actions of a flush (owned frames only: a flush has no input).
pub(crate) fn emit_owned<'a>(env: Env<'a>, terms: &mut Vec<Term<'a>>, out: &mut Actions) -> Result<(), RecvFailure> {
    for e in out.emits.drain(..) {
        let bin = match e {
            Emit::Owned(v) => owned_binary(env, &v),
            Emit::Fragment(f) => fragment_binary(env, &f).map_err(|_| RecvFailure::BadEmit)?,
            Emit::Input(_) => return Err(RecvFailure::BadEmit),
        };
        terms.push((atoms::emit(), bin).encode(env));
    }
    Ok(())
}

fn emit_term<'a>(env: Env<'a>, src: &Binary<'a>, base: usize, e: Emit) -> NifResult<Term<'a>> {
    let bin = match e {
        Emit::Input(r) => {
            stats::bump(&stats::MEMORY.ref_bin_create, 1);
            src.make_subbinary(base + r.start, r.end.saturating_sub(r.start))?
        }
        Emit::Owned(v) => owned_binary(env, &v),
        Emit::Fragment(f) => fragment_binary(env, &f)?,
    };
    Ok((atoms::emit(), bin).encode(env))
}

/// A binary holding a frame the core assembled or rewrote (a copy).
fn owned_binary<'a>(env: Env<'a>, v: &[u8]) -> Binary<'a> {
    stats::bump(&stats::MEMORY.own_bin_create, 1);
    stats::bump(&stats::MEMORY.own_bin_create_capacity, v.len() as u64);
    Binary::from(NewBinary::from_slice(env, v))
}

/// A binary holding a fragment of a held message, written straight from
/// the message's buffer (one copy, no intermediate vector).
fn fragment_binary<'a>(env: Env<'a>, f: &Fragment) -> NifResult<Binary<'a>> {
    stats::bump(&stats::MEMORY.own_bin_create, 1);
    stats::bump(&stats::MEMORY.own_bin_create_capacity, f.len() as u64);
    let mut nb = NewBinary::new(env, f.len());
    if !f.write_to(nb.as_mut_slice()) {
        return Err(rustler::Error::BadArg);
    }
    Ok(Binary::from(nb))
}
