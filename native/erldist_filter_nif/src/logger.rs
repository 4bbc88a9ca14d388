//! The logger (SPEC §2.2, §6.1): one global bounded queue of logged
//! messages, shared by every logger handle. Channels push events while they
//! receive; loggers take the whole queue at once.
//!
//! - Bounded: past `capacity` events the oldest are evicted and counted as
//!   dropped (capacity 0 means unbounded, as in the C NIF; the application
//!   sets a bound by default). One `logger_recv` converts at most
//!   `MAX_BATCH` events, so no call runs long; the rest wait for the next.
//! - Readiness without file descriptors: a logger that finds the queue empty
//!   is armed with a fresh reference (`{select, Ref}`); the next push sends
//!   its owner `{'$logger', Logger, select, Ref}` once, and disarms it.
//!
//! Locking: a logger's state lock is never held while taking the queue
//! lock in `push` (push takes the queue, releases it, then notifies), so
//! `logger_recv` may take state → queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use erldist_filter_core::Atom as CoreAtom;
use erldist_filter_core::LogEvent;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use rustler::env::{OwnedEnv, SavedTerm};
use rustler::{Encoder, Env, LocalPid, Monitor, NifResult, Resource, ResourceArc, Term};

use crate::atoms;

/// Events converted per `logger_recv` call at most.
const MAX_BATCH: usize = 20_000;
/// The C NIF's default capacity.
const DEFAULT_CAPACITY: u64 = 2;

/// One logged message.
struct Event {
    time: i64,
    sysname: String,
    log: LogEvent,
}

struct Queue {
    events: VecDeque<Event>,
    capacity: u64,
    dropped: u64,
    /// Loggers armed by a `{select, Ref}` answer, to notify on the next push.
    waiting: Vec<ResourceArc<LoggerResource>>,
}

static QUEUE: Lazy<Mutex<Queue>> = Lazy::new(|| {
    Mutex::new(Queue { events: VecDeque::new(), capacity: DEFAULT_CAPACITY, dropped: 0, waiting: Vec::new() })
});
static TABLE: Lazy<Mutex<Vec<ResourceArc<LoggerResource>>>> = Lazy::new(|| Mutex::new(Vec::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The reference a waiting logger was armed with.
struct Armed {
    env: OwnedEnv,
    reference: SavedTerm,
}

struct State {
    owner: LocalPid,
    owner_mon: Option<Monitor>,
    received: u64,
    dropped: u64,
    armed: Option<Armed>,
}

/// The resource behind a `Logger` term.
pub struct LoggerResource {
    id: u64,
    state: Mutex<Option<State>>,
}

// State is only touched under its mutex; OwnedEnv is Send.
impl std::panic::RefUnwindSafe for LoggerResource {}

#[rustler::resource_impl]
impl Resource for LoggerResource {
    const IMPLEMENTS_DOWN: bool = true;

    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, mon: Monitor) {
        let mut guard = self.state.lock();
        if guard.as_ref().is_some_and(|s| s.owner_mon.as_ref() == Some(&mon)) {
            *guard = None;
            drop(guard);
            forget(self.id);
        }
    }
}

/// Remove logger `id` from the table and the waiting list.
fn forget(id: u64) {
    TABLE.lock().retain(|l| l.id != id);
    QUEUE.lock().waiting.retain(|l| l.id != id);
}

/// The current monotonic time in nanoseconds, as `erlang:monotonic_time(nanosecond)`.
fn monotonic_ns() -> i64 {
    // SAFETY: enif_monotonic_time has no preconditions.
    unsafe { rustler::sys::enif_monotonic_time(rustler::sys::ErlNifTimeUnit::ERL_NIF_NSEC) }
}

/// The current monotonic time in milliseconds (for the flood limits).
pub fn monotonic_ms() -> u64 {
    u64::try_from(monotonic_ns() / 1_000_000).unwrap_or(0)
}

/// Queue `logs` from a channel of node `sysname`, evicting the oldest past
/// capacity, and wake the waiting loggers. `env` is the calling process's.
pub fn push(env: Env, sysname: &str, logs: &mut Vec<LogEvent>) {
    if logs.is_empty() {
        return;
    }
    let time = monotonic_ns();
    let waiting = {
        let mut q = QUEUE.lock();
        for log in logs.drain(..) {
            q.events.push_back(Event { time, sysname: sysname.to_owned(), log });
            if q.capacity > 0 && q.events.len() as u64 > q.capacity {
                q.events.pop_front();
                q.dropped += 1;
            }
        }
        std::mem::take(&mut q.waiting)
    };
    for logger in waiting {
        notify(env, &logger);
    }
}

/// Send `{'$logger', Logger, select, Ref}` to an armed logger's owner.
fn notify(env: Env, logger: &ResourceArc<LoggerResource>) {
    let mut guard = logger.state.lock();
    let Some(st) = guard.as_mut() else { return };
    let Some(armed) = st.armed.take() else { return };
    let reference = armed.env.run(|oenv| armed.reference.load(oenv).in_env(env));
    let msg = (atoms::dollar_logger(), logger.clone(), atoms::select(), reference);
    let _ = env.send(&st.owner, msg);
}

fn soft_error<'a>(env: Env<'a>, reason: rustler::Atom) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

#[rustler::nif]
fn logger_open(env: Env) -> NifResult<ResourceArc<LoggerResource>> {
    let owner = env.pid();
    let logger =
        ResourceArc::new(LoggerResource { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), state: Mutex::new(None) });
    let owner_mon = env.monitor(&logger, &owner);
    *logger.state.lock() = Some(State { owner, owner_mon, received: 0, dropped: 0, armed: None });
    TABLE.lock().push(logger.clone());
    Ok(logger)
}

#[rustler::nif]
fn logger_close(env: Env, logger: ResourceArc<LoggerResource>) -> Term {
    let mut guard = logger.state.lock();
    match guard.as_ref() {
        None => soft_error(env, atoms::closed()),
        Some(st) if st.owner != env.pid() => soft_error(env, atoms::not_owner()),
        Some(st) => {
            if let Some(mon) = st.owner_mon.as_ref() {
                env.demonitor(&logger, mon);
            }
            *guard = None;
            drop(guard);
            forget(logger.id);
            atoms::ok().encode(env)
        }
    }
}

#[rustler::nif]
fn logger_recv(env: Env, logger: ResourceArc<LoggerResource>) -> NifResult<Term> {
    let mut guard = logger.state.lock();
    let Some(st) = guard.as_mut() else { return Ok(soft_error(env, atoms::closed())) };
    if st.owner != env.pid() {
        return Ok(soft_error(env, atoms::not_owner()));
    }
    let (batch, dropped) = {
        let mut q = QUEUE.lock();
        let n = q.events.len().min(MAX_BATCH);
        let batch: Vec<Event> = q.events.drain(..n).collect();
        let dropped = std::mem::take(&mut q.dropped);
        if batch.is_empty() && dropped == 0 {
            // Nothing yet: arm and wait for the next push.
            let oenv = OwnedEnv::new();
            let reference = env.make_ref();
            let saved = oenv.save(reference);
            st.armed = Some(Armed { env: oenv, reference: saved });
            if !q.waiting.iter().any(|l| l.id == logger.id) {
                q.waiting.push(logger.clone());
            }
            return Ok((atoms::select(), reference).encode(env));
        }
        (batch, dropped)
    };
    st.received += batch.len() as u64;
    st.dropped += dropped;
    let mut events = Vec::with_capacity(batch.len());
    for e in &batch {
        events.push(event_term(env, e)?);
    }
    Ok((batch.len() as u64, dropped, events).encode(env))
}

/// `{Time, {Sysname, Atoms, Control, Payload | undefined}}`.
fn event_term<'a>(env: Env<'a>, e: &Event) -> NifResult<Term<'a>> {
    let sysname = atoms::make_atom(env, &e.sysname)?;
    let atoms: Vec<Term> =
        e.log.atoms.iter().map(|a: &CoreAtom| atoms::make_atom(env, a.as_str())).collect::<NifResult<_>>()?;
    let atoms = rustler::types::tuple::make_tuple(env, &atoms);
    let control = binary(env, &e.log.control);
    let payload = match &e.log.payload {
        Some(p) => binary(env, p),
        None => atoms::undefined().encode(env),
    };
    Ok((e.time, (sysname, atoms, control, payload)).encode(env))
}

fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut b = rustler::NewBinary::new(env, bytes.len());
    b.as_mut_slice().copy_from_slice(bytes);
    b.into()
}

#[rustler::nif]
fn logger_inspect(env: Env, logger: ResourceArc<LoggerResource>) -> NifResult<Term> {
    let guard = logger.state.lock();
    let Some(st) = guard.as_ref() else { return Ok(soft_error(env, atoms::closed())) };
    let pairs = [
        (atoms::controlling_process().encode(env), st.owner.encode(env)),
        (atoms::dropped().encode(env), st.dropped.encode(env)),
        (atoms::received().encode(env), st.received.encode(env)),
    ];
    Term::map_from_pairs(env, &pairs).map_err(|_| rustler::Error::BadArg)
}

#[rustler::nif]
fn logger_list() -> Vec<ResourceArc<LoggerResource>> {
    TABLE.lock().clone()
}

#[rustler::nif]
fn logger_set_capacity(capacity: u64) -> u64 {
    std::mem::replace(&mut QUEUE.lock().capacity, capacity)
}

#[rustler::nif]
fn logger_set_controlling_process<'a>(
    env: Env<'a>,
    logger: ResourceArc<LoggerResource>,
    pid: Term<'a>,
) -> NifResult<Term<'a>> {
    let new_owner = crate::channel::alive_local_pid(env, pid)?;
    let mut guard = logger.state.lock();
    let Some(st) = guard.as_mut() else { return Ok(soft_error(env, atoms::closed())) };
    if st.owner != env.pid() {
        return Ok(soft_error(env, atoms::not_owner()));
    }
    if new_owner != st.owner {
        if let Some(mon) = st.owner_mon.take() {
            env.demonitor(&logger, &mon);
        }
        st.owner_mon = env.monitor(&logger, &new_owner);
        st.owner = new_owner;
    }
    Ok(atoms::ok().encode(env))
}
