//! Channel resources: one per inbound distribution connection, owned by
//! its controlling process, listed in a global table in creation order.
//!
//! Locking: one `parking_lot::Mutex` per channel around its state, taken by
//! every NIF for the length of that call only (never across the slices of
//! `channel_recv/2`). Global locks are taken in the order
//! channel → `TABLE` → `stats::RETIRED`; `channel_list` and
//! `world_stats_get` never take a channel lock.
//!
//! Lifecycle: `channel_open` puts the resource in `TABLE`; every destroy
//! path (close, owner exit, protocol error, panic) drops the state, removes
//! the resource from `TABLE` (so owner death leaks nothing, unlike the C
//! NIF) and moves its counters to the retired totals.
//!
//! Scheduling: no dirty schedulers. `channel_recv_nif/2` spends at most
//! `SLICE_BUDGET` work units, reports them with `enif_consume_timeslice`,
//! and returns `{more, Actions, Rest}` when input is left; the Erlang
//! function `channel_recv/2` calls it again with `Rest`.

use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use erldist_filter_core::{
    flags, Actions, Atom as CoreAtom, Budget, Channel, ChannelOptions, ChannelStats, Config, Limits, PacketSize, Peer,
    RecvContext, StatsSnapshot,
};
use once_cell::sync::Lazy;
use parking_lot::{Mutex, MutexGuard};
use rustler::{
    Atom, Binary, Encoder, Env, Error, LocalPid, Monitor, NewBinary, NifResult, Resource, ResourceArc, Term,
};

use crate::atom_guard::{self, VmAtoms};
use crate::atoms;
use crate::config;
use crate::emit::{emit_input, emit_owned};
use crate::error::{raise, RecvFailure};
use crate::logger;
use crate::misc;
use crate::protected;
use crate::stats;

/// Work units per `channel_recv_nif` call (SPEC §2: ~1 ms of work).
const SLICE_BUDGET: u64 = 20_000;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static TABLE: Lazy<Mutex<Vec<ResourceArc<ChannelResource>>>> = Lazy::new(|| Mutex::new(Vec::new()));

/// What `channel_open/5` was given; fixed for the channel's life.
struct Entry {
    sysname: Atom,
    /// The sysname's UTF-8 text, as log events carry it.
    sysname_text: String,
    creation: u32,
    connection_id: u32,
    dflags: u64,
    packet_size: u8,
}

/// The mutable part; `None` once destroyed.
struct State {
    channel: Channel,
    owner: LocalPid,
    owner_mon: Option<Monitor>,
    tracer: Option<(LocalPid, Option<Monitor>)>,
    /// The global limits as this channel last read them, and their
    /// generation: every `recv` is given them.
    limits: Limits,
    limits_gen: u64,
    protected_gen: u64,
}

/// The resource behind a `Channel` term.
pub struct ChannelResource {
    id: u64,
    entry: Entry,
    stats: Arc<ChannelStats>,
    state: Mutex<Option<State>>,
}

// The state is only touched under the mutex; a panic inside the core is
// caught in `recv_slice` and destroys the state, so no half-updated channel
// is ever observed after an unwind.
impl RefUnwindSafe for ChannelResource {}

#[rustler::resource_impl]
impl Resource for ChannelResource {
    const IMPLEMENTS_DOWN: bool = true;

    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, mon: Monitor) {
        let mut guard = self.state.lock();
        let Some(st) = guard.as_mut() else { return };
        if st.owner_mon.as_ref() == Some(&mon) {
            self.destroy(&mut guard);
        } else if st.tracer.as_ref().and_then(|(_, m)| m.as_ref()) == Some(&mon) {
            st.tracer = None;
        }
    }
}

impl ChannelResource {
    /// Drop the state, unlist the channel and retire its counters. Returns
    /// the state (so the caller can demonitor) or `None` if already gone.
    fn destroy(&self, guard: &mut MutexGuard<Option<State>>) -> Option<State> {
        let st = guard.take()?;
        let removed = {
            let mut table = TABLE.lock();
            let removed = table.iter().position(|r| r.id == self.id).map(|i| table.remove(i));
            stats::RETIRED.lock().add(&self.stats.snapshot());
            removed
        };
        stats::bump(&stats::DESTROY, 1);
        // The table's reference may be the last one; release it only after
        // the table lock is gone (the caller still holds a reference).
        drop(removed);
        Some(st)
    }
}

/// Retired totals + live counters, and the number of live channels.
pub fn world_rx_stats() -> (StatsSnapshot, usize) {
    let table = TABLE.lock();
    let mut total = stats::RETIRED.lock().clone();
    for r in table.iter() {
        total.add(&r.stats.snapshot());
    }
    (total, table.len())
}

enum Access<'g> {
    Ok(&'g mut State),
    Closed,
    NotOwner,
}

fn access<'g>(env: Env, guard: &'g mut MutexGuard<Option<State>>) -> Access<'g> {
    match guard.as_mut() {
        None => Access::Closed,
        Some(st) if st.owner != env.pid() => Access::NotOwner,
        Some(st) => Access::Ok(st),
    }
}

fn soft_error<'a>(env: Env<'a>, reason: Atom) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

pub fn alive_local_pid(env: Env, term: Term) -> NifResult<LocalPid> {
    let pid: LocalPid = term.decode()?;
    if !env.is_process_alive(pid) {
        return Err(Error::BadArg);
    }
    Ok(pid)
}

#[rustler::nif]
fn channel_open<'a>(
    env: Env<'a>,
    packet_size: Term<'a>,
    sysname: Term<'a>,
    creation: Term<'a>,
    connection_id: Term<'a>,
    dflags: Term<'a>,
) -> NifResult<Term<'a>> {
    let packet_size_n: u64 = packet_size.decode()?;
    let packet_size = PacketSize::from_bytes(packet_size_n).ok_or(Error::BadArg)?;
    let sysname: Atom = if sysname.is_atom() { sysname.decode()? } else { return Err(Error::BadArg) };
    let creation: u32 = creation.decode()?;
    let connection_id: u32 = connection_id.decode()?;
    let dflags: u64 = dflags.decode()?;
    if dflags & flags::DIST_MANDATORY == 0 {
        return Err(Error::BadArg);
    }
    let (limits, limits_gen) = config::limits();
    let (protected, protected_gen) = protected::current();
    let sysname_text = atoms::atom_text(sysname.to_term(env))?;
    let router_text = misc::router_name_text(misc::router_index(&sysname_text));
    let core_atom = |t: &str| CoreAtom::from_utf8(t.as_bytes()).map_err(|_| Error::BadArg);
    let peer = Peer { sysname: core_atom(&sysname_text)?, router: core_atom(&router_text)?, protected };
    let channel = Channel::new(ChannelOptions { packet_size, dflags, limits })
        .with_peer(peer)
        .with_atom_tallies(atom_guard::tally_for(&sysname_text), atom_guard::tally_all());
    let owner = env.pid();
    let res = ResourceArc::new(ChannelResource {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        entry: Entry { sysname, sysname_text, creation, connection_id, dflags, packet_size: packet_size_n as u8 },
        stats: Arc::clone(channel.stats()),
        state: Mutex::new(None),
    });
    let owner_mon = res.monitor(Some(env), &owner);
    *res.state.lock() = Some(State { channel, owner, owner_mon, tracer: None, limits, limits_gen, protected_gen });
    TABLE.lock().push(res.clone());
    stats::bump(&stats::CREATE, 1);
    Ok(res.encode(env))
}

#[rustler::nif]
fn channel_close(env: Env, ch: ResourceArc<ChannelResource>) -> Term {
    let mut guard = ch.state.lock();
    match access(env, &mut guard) {
        Access::Closed => return soft_error(env, atoms::closed()),
        Access::NotOwner => return soft_error(env, atoms::not_owner()),
        Access::Ok(_) => {}
    }
    if let Some(st) = ch.destroy(&mut guard) {
        demonitor_all(env, &ch, &st);
    }
    atoms::ok().encode(env)
}

fn demonitor_all(env: Env, ch: &ResourceArc<ChannelResource>, st: &State) {
    if let Some(m) = st.owner_mon.as_ref() {
        ch.demonitor(Some(env), m);
    }
    if let Some((_, Some(m))) = st.tracer.as_ref() {
        ch.demonitor(Some(env), m);
    }
}

/// The input as binaries: one binary, or a proper list of binaries.
/// The carrier passes a one-element list per read: that needs no `Vec`.
fn input_binaries<'a>(input: Term<'a>) -> NifResult<Inputs<'a>> {
    if input.is_binary() {
        return Ok(Inputs::One([Binary::from_term(input)?]));
    }
    if let Ok((head, rest)) = input.list_get_cell() {
        if head.is_binary() && rest.is_empty_list() {
            return Ok(Inputs::One([Binary::from_term(head)?]));
        }
    }
    let mut out = Vec::new();
    let mut tail = input;
    while !tail.is_empty_list() {
        let (head, rest) = tail.list_get_cell()?;
        if !head.is_binary() {
            return Err(Error::BadArg);
        }
        out.push(Binary::from_term(head)?);
        tail = rest;
    }
    Ok(Inputs::Many(out))
}

/// The binaries of one `channel_recv` input.
enum Inputs<'a> {
    One([Binary<'a>; 1]),
    Many(Vec<Binary<'a>>),
}

impl<'a> std::ops::Deref for Inputs<'a> {
    type Target = [Binary<'a>];
    fn deref(&self) -> &[Binary<'a>] {
        match self {
            Inputs::One(one) => one,
            Inputs::Many(many) => many,
        }
    }
}

/// One core `recv` call, with panics caught.
fn core_recv(
    st: &mut State,
    data: &[u8],
    cx: &RecvContext,
    budget: &mut Budget,
    out: &mut Actions,
) -> Result<usize, RecvFailure> {
    match catch_unwind(AssertUnwindSafe(|| st.channel.recv(data, cx, budget, out))) {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(RecvFailure::Core(e)),
        Err(_) => Err(RecvFailure::Panic),
    }
}

/// The actions of one slice and where the unconsumed input starts
/// (`(index, offset)` into the binaries), if any is left.
type SliceResult<'a> = (Vec<Term<'a>>, Option<(usize, usize)>);

/// The context of one step's `recv` calls: the global limits (read again
/// if they changed since this channel last looked), the time for a
/// rate-limited channel, and the VM's atom table. Applies the protected
/// set if it changed.
fn recv_context<'c>(st: &mut State, cfg: &'c Config, atoms: &'c VmAtoms) -> RecvContext<'c> {
    if st.limits_gen != config::limits_generation() {
        (st.limits, st.limits_gen) = config::limits();
    }
    if st.protected_gen != protected::generation() {
        let (set, gen) = protected::current();
        st.channel.set_protected(set);
        st.protected_gen = gen;
    }
    let cx = RecvContext::new(cfg).with_limits(st.limits).checking_atoms(atoms);
    // Reading the clock costs more than a small packet's framing.
    if is_rated(&st.limits) {
        return cx.at(logger::monotonic_ms());
    }
    cx
}

fn is_rated(limits: &Limits) -> bool {
    limits.max_bytes_per_sec != 0 || limits.max_messages_per_sec != 0
}

/// Feed as much of `bins` as one slice allows. Returns the actions and,
/// if input is left, where: `(index, offset)`.
fn recv_slice<'a>(
    env: Env<'a>,
    sysname: &str,
    st: &mut State,
    bins: &[Binary<'a>],
    budget: &mut Budget,
) -> Result<SliceResult<'a>, RecvFailure> {
    let cfg = config::current();
    let atoms = VmAtoms::new(env);
    let cx = recv_context(st, &cfg, &atoms);
    let mut out = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    out.clear();
    let result = recv_slice_with(env, sysname, st, bins, budget, &cx, &mut out);
    if out.emits.capacity() <= SCRATCH_EMITS {
        SCRATCH.with(|s| *s.borrow_mut() = out);
    }
    result
}

thread_local! {
    /// Each scheduler thread's action buffers, reused across calls so that
    /// a small `recv` allocates nothing for them (per thread, not per
    /// channel: idle channels hold no buffers).
    static SCRATCH: std::cell::RefCell<Actions> = std::cell::RefCell::new(Actions::default());
}

/// A scratch that grew past this many emits is dropped, not kept.
const SCRATCH_EMITS: usize = 4096;

fn recv_slice_with<'a>(
    env: Env<'a>,
    sysname: &str,
    st: &mut State,
    bins: &[Binary<'a>],
    budget: &mut Budget,
    cx: &RecvContext,
    out: &mut Actions,
) -> Result<SliceResult<'a>, RecvFailure> {
    let mut terms = Vec::new();
    let (mut idx, mut off) = (0usize, 0usize);
    // Frames a previous slice still owes come first (`{more, _, Rest}`
    // keeps the Erlang loop going, with `Rest = []` if no input is left).
    if !st.channel.flush(budget, out) {
        emit_owned(env, &mut terms, out)?;
        return Ok((terms, Some((0, 0))));
    }
    while let Some(bin) = bins.get(idx) {
        let data = bin.as_slice().get(off..).unwrap_or(&[]);
        if data.is_empty() {
            idx += 1;
            off = 0;
            continue;
        }
        if budget.exhausted() {
            return Ok((terms, Some((idx, off))));
        }
        let consumed = core_recv(st, data, cx, budget, out)?;
        logger::push(env, sysname, &mut out.logs);
        emit_input(env, bin, off, &mut terms, out)?;
        if consumed == 0 && !budget.exhausted() {
            return Err(RecvFailure::NoProgress);
        }
        off += consumed.min(data.len());
    }
    if st.channel.has_pending() {
        return Ok((terms, Some((bins.len(), 0))));
    }
    Ok((terms, None))
}

/// One frame per call (packet size 0): the whole input, concatenated.
fn recv_frame<'a>(
    env: Env<'a>,
    sysname: &str,
    st: &mut State,
    bins: &[Binary<'a>],
) -> Result<(Vec<Term<'a>>, u64), RecvFailure> {
    let frame: Binary<'a> = match bins {
        [one] => *one,
        _ => {
            let len = bins.iter().map(|b| b.len()).sum();
            let mut nb = NewBinary::new(env, len);
            let mut at = 0;
            for b in bins {
                if let Some(dst) = nb.as_mut_slice().get_mut(at..at + b.len()) {
                    dst.copy_from_slice(b.as_slice());
                }
                at += b.len();
            }
            Binary::from(nb)
        }
    };
    let cfg = config::current();
    let atoms = VmAtoms::new(env);
    let cx = recv_context(st, &cfg, &atoms);
    // A frame cannot be split: the budget only has to cover it.
    let units = (frame.len() as u64).saturating_mul(4).saturating_add(SLICE_BUDGET);
    let mut budget = Budget::new(units);
    let mut out = Actions::default();
    let consumed = core_recv(st, frame.as_slice(), &cx, &mut budget, &mut out)?;
    logger::push(env, sysname, &mut out.logs);
    if consumed < frame.len() {
        return Err(RecvFailure::NoProgress);
    }
    let mut terms = Vec::with_capacity(out.emits.len());
    emit_input(env, &frame, 0, &mut terms, &mut out)?;
    Ok((terms, units - budget.remaining()))
}

fn consume(env: Env, spent: u64) {
    let pct = (spent.saturating_mul(100) / SLICE_BUDGET).clamp(1, 100) as i32;
    rustler::schedule::consume_timeslice(env, pct);
}

/// `channel_recv_nif(Channel, Input)`: one slice of `channel_recv/2`.
/// Returns `[Action]` (all input consumed), `{more, [Action], Rest}` (call
/// again with `Rest`), `{error, closed | not_owner}`, raises `badarg` for a
/// bad `Input`, and raises `{erldist_filter, Kind, Details}` for bad traffic
/// (the channel is then closed).
#[rustler::nif]
fn channel_recv_nif<'a>(env: Env<'a>, ch: ResourceArc<ChannelResource>, input: Term<'a>) -> NifResult<Term<'a>> {
    recv(env, ch, input, false)
}

/// `channel_recv_dirty_nif(Channel, Input)`: the same on a dirty CPU
/// scheduler, without a budget, for steps that may finish a message over
/// `HEAVY_BYTES` (copying or inspecting it whole may take milliseconds).
#[rustler::nif(schedule = "DirtyCpu")]
fn channel_recv_dirty_nif<'a>(env: Env<'a>, ch: ResourceArc<ChannelResource>, input: Term<'a>) -> NifResult<Term<'a>> {
    recv(env, ch, input, true)
}

/// Messages at least this large are finished on a dirty scheduler.
const HEAVY_BYTES: u64 = 1 << 20;

fn recv<'a>(env: Env<'a>, ch: ResourceArc<ChannelResource>, input: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let bins = input_binaries(input)?;
    let mut guard = ch.state.lock();
    let st = match access(env, &mut guard) {
        Access::Closed => return Ok(soft_error(env, atoms::closed())),
        Access::NotOwner => return Ok(soft_error(env, atoms::not_owner())),
        Access::Ok(st) => st,
    };
    let input_bytes: u64 = bins.iter().map(|b| b.len() as u64).sum();
    if !dirty && (input_bytes > HEAVY_BYTES || st.channel.pending_message_bytes() > HEAVY_BYTES) {
        return Ok((atoms::dirty(), input).encode(env));
    }
    let slice = if dirty { u64::MAX } else { SLICE_BUDGET };
    let result = if st.channel.options().packet_size == PacketSize::Zero {
        if st.channel.has_pending() {
            // Frames owed by the last frame first; `[]` only continues
            // (it is not a tick), a frame waits for its turn.
            let mut budget = Budget::new(slice);
            let mut out = Actions::default();
            let done = st.channel.flush(&mut budget, &mut out);
            let mut terms = Vec::new();
            let owed = emit_owned(env, &mut terms, &mut out).map(|()| {
                let rest = (!done || !bins.is_empty()).then_some((0, 0));
                (terms, rest, (slice - budget.remaining()).min(SLICE_BUDGET))
            });
            return finish(env, &ch, guard, &bins, owed);
        }
        recv_frame(env, &ch.entry.sysname_text, st, &bins)
            .map(|(terms, spent)| (terms, st.channel.has_pending().then_some((bins.len(), 0)), spent))
    } else {
        let mut budget = Budget::new(slice);
        recv_slice(env, &ch.entry.sysname_text, st, &bins, &mut budget)
            .map(|(terms, rest)| (terms, rest, (slice - budget.remaining()).min(SLICE_BUDGET)))
    };
    finish(env, &ch, guard, &bins, result)
}

/// The actions of one step, where the input left starts (if any, or if
/// frames are still owed) and the work units spent.
type StepResult<'a> = Result<(Vec<Term<'a>>, Option<(usize, usize)>, u64), RecvFailure>;

/// The answer of one `recv` step: the actions, and the input left (if
/// any, or if frames are still owed) for the Erlang loop to pass back.
fn finish<'a>(
    env: Env<'a>,
    ch: &ResourceArc<ChannelResource>,
    mut guard: MutexGuard<Option<State>>,
    bins: &[Binary<'a>],
    result: StepResult<'a>,
) -> NifResult<Term<'a>> {
    match result {
        Ok((terms, None, spent)) => {
            drop(guard);
            consume(env, spent);
            Ok(terms.encode(env))
        }
        Ok((terms, Some((idx, off)), spent)) => {
            drop(guard);
            consume(env, spent);
            let mut rest: Vec<Term<'a>> = Vec::with_capacity(bins.len() - idx);
            if let Some(b) = bins.get(idx) {
                rest.push(b.make_subbinary(off, b.len() - off)?.to_term(env));
                stats::bump(&stats::MEMORY.ref_ioq_create, 1);
            }
            rest.extend(bins.iter().skip(idx + 1).map(|b| b.to_term(env)));
            Ok((atoms::more(), terms, rest).encode(env))
        }
        Err(f) => {
            if let Some(st) = ch.destroy(&mut guard) {
                demonitor_all(env, ch, &st);
            }
            drop(guard);
            consume(env, SLICE_BUDGET);
            Err(raise(f))
        }
    }
}

/// `channel_check_frame(Channel, Frame)`: whether a whole-message frame
/// the channel emitted last reads cleanly to its last byte (as the VM
/// reads it): `ok`, or `{error, {erldist_filter, Kind, Details}}` (the
/// exception term of `channel_recv/2`). Owner only; changes nothing.
/// Runs on a dirty scheduler: a frame may be large.
#[rustler::nif(schedule = "DirtyCpu")]
fn channel_check_frame<'a>(env: Env<'a>, ch: ResourceArc<ChannelResource>, frame: Binary<'a>) -> Term<'a> {
    let mut guard = ch.state.lock();
    let st = match access(env, &mut guard) {
        Access::Closed => return soft_error(env, atoms::closed()),
        Access::NotOwner => return soft_error(env, atoms::not_owner()),
        Access::Ok(st) => st,
    };
    match catch_unwind(AssertUnwindSafe(|| st.channel.check_frame(frame.as_slice()))) {
        Ok(Ok(())) => atoms::ok().encode(env),
        Ok(Err(e)) => (atoms::error(), RecvFailure::Core(e)).encode(env),
        Err(_) => (atoms::error(), RecvFailure::Panic).encode(env),
    }
}

#[rustler::nif]
fn channel_inspect(env: Env, ch: ResourceArc<ChannelResource>) -> NifResult<Term> {
    let guard = ch.state.lock();
    let Some(st) = guard.as_ref() else { return Ok(soft_error(env, atoms::closed())) };
    let e = &ch.entry;
    let entry = Term::map_from_pairs(
        env,
        &[
            (atoms::connection_id().encode(env), e.connection_id.encode(env)),
            (atoms::creation().encode(env), e.creation.encode(env)),
            (atoms::dflags().encode(env), e.dflags.encode(env)),
            (atoms::sysname().encode(env), e.sysname.encode(env)),
        ],
    )?;
    let atom_cache = match st.channel.atom_cache_entries() {
        None => atoms::undefined().encode(env),
        Some(entries) => {
            let mut items = Vec::with_capacity(entries.len());
            for (i, a) in entries {
                items.push((i, crate::atoms::make_atom(env, a.as_str())?).encode(env));
            }
            items.encode(env)
        }
    };
    let (received, declared) = st.channel.partial_packet();
    let rx = Term::map_from_pairs(
        env,
        &[
            (atoms::atom_cache().encode(env), atom_cache),
            (atoms::ioq_size().encode(env), received.encode(env)),
            (atoms::packet_size().encode(env), e.packet_size.encode(env)),
            (atoms::stats().encode(env), stats::stats_map(env, &ch.stats.snapshot())?),
            (atoms::vec_capacity().encode(env), declared.encode(env)),
            (atoms::vec_len().encode(env), received.encode(env)),
            (atoms::buffered_bytes().encode(env), st.channel.buffered_bytes().encode(env)),
        ],
    )?;
    let tracer = match st.tracer.as_ref() {
        Some((p, _)) => p.encode(env),
        None => atoms::undefined().encode(env),
    };
    Term::map_from_pairs(
        env,
        &[
            (atoms::controlling_process().encode(env), st.owner.encode(env)),
            (atoms::entry().encode(env), entry),
            (atoms::rx().encode(env), rx),
            (atoms::tracing_process().encode(env), tracer),
        ],
    )
}

#[rustler::nif(name = "channel_list")]
fn channel_list_0(env: Env) -> Term {
    let table = TABLE.lock();
    let list: Vec<Term> = table.iter().map(|r| r.encode(env)).collect();
    drop(table);
    list.encode(env)
}

#[rustler::nif(name = "channel_list")]
fn channel_list_1<'a>(env: Env<'a>, sysname: Term<'a>) -> NifResult<Term<'a>> {
    if !sysname.is_atom() {
        return Err(Error::BadArg);
    }
    let sysname: Atom = sysname.decode()?;
    let table = TABLE.lock();
    let list: Vec<Term> = table.iter().filter(|r| r.entry.sysname == sysname).map(|r| r.encode(env)).collect();
    drop(table);
    Ok(list.encode(env))
}

#[rustler::nif]
fn channel_set_controlling_process<'a>(
    env: Env<'a>,
    ch: ResourceArc<ChannelResource>,
    pid: Term<'a>,
) -> NifResult<Term<'a>> {
    let pid = alive_local_pid(env, pid)?;
    let mut guard = ch.state.lock();
    let st = match access(env, &mut guard) {
        Access::Closed => return Ok(soft_error(env, atoms::closed())),
        Access::NotOwner => return Ok(soft_error(env, atoms::not_owner())),
        Access::Ok(st) => st,
    };
    if st.owner == pid {
        return Ok(atoms::ok().encode(env));
    }
    // Monitor first: if the new owner is already gone, nothing changes.
    let mon = ch.monitor(Some(env), &pid).ok_or(Error::BadArg)?;
    if let Some(old) = st.owner_mon.replace(mon) {
        ch.demonitor(Some(env), &old);
    }
    st.owner = pid;
    Ok(atoms::ok().encode(env))
}

#[rustler::nif]
fn channel_set_tracing_process<'a>(
    env: Env<'a>,
    ch: ResourceArc<ChannelResource>,
    pid: Term<'a>,
) -> NifResult<Term<'a>> {
    let pid = alive_local_pid(env, pid)?;
    let mut guard = ch.state.lock();
    let st = match access(env, &mut guard) {
        Access::Closed => return Ok(soft_error(env, atoms::closed())),
        Access::NotOwner => return Ok(soft_error(env, atoms::not_owner())),
        Access::Ok(st) => st,
    };
    if st.tracer.as_ref().map(|(p, _)| *p == pid).unwrap_or(false) {
        return Ok(atoms::ok().encode(env));
    }
    let mon = ch.monitor(Some(env), &pid).ok_or(Error::BadArg)?;
    if let Some((_, Some(old))) = st.tracer.replace((pid, Some(mon))) {
        ch.demonitor(Some(env), &old);
    }
    Ok(atoms::ok().encode(env))
}
