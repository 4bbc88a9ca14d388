//! The node's protected processes (`protected_set/3`, `protected_count/0`,
//! issue 16): one global set, replaced whole by `erldist_filter_protected`,
//! behind a lock with a generation counter. Channels pick up a new set at
//! their next `channel_recv` call, as they do the limits, so the hot path
//! reads one atomic.
//!
//! Errors: a node that is not an atom, a creation or number that is not a
//! 32-bit unsigned integer, or a name that is not an atom raise `badarg`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use erldist_filter_core::{Atom as CoreAtom, Protected};
use once_cell::sync::Lazy;
use parking_lot::RwLock;
use rustler::{Error, NifResult, Term};

use crate::atoms::{self, atom_text};

static PROTECTED: Lazy<RwLock<Arc<Protected>>> = Lazy::new(|| RwLock::new(Arc::new(Protected::default())));
static PROTECTED_GEN: AtomicU64 = AtomicU64::new(0);

/// The current set and its generation.
pub fn current() -> (Arc<Protected>, u64) {
    let gen = PROTECTED_GEN.load(Ordering::Acquire);
    (Arc::clone(&PROTECTED.read()), gen)
}

/// The current generation (cheap check on the hot path).
pub fn generation() -> u64 {
    PROTECTED_GEN.load(Ordering::Acquire)
}

fn core_atom(term: Term) -> NifResult<CoreAtom> {
    CoreAtom::from_utf8(atom_text(term)?.as_bytes()).map_err(|_| Error::BadArg)
}

/// `protected_set(Node, Creation, [{Id, Serial, Name | undefined}])`:
/// replace the set. `Id` and `Serial` are the pid's fields in the external
/// format (`NEW_PID_EXT`). Dirty: the list may hold thousands of pids.
#[rustler::nif(schedule = "DirtyCpu")]
fn protected_set(node: Term, creation: u32, pids: Vec<(u32, u32, Term)>) -> NifResult<rustler::Atom> {
    let mut set = Protected::new(core_atom(node)?, creation);
    for (id, serial, name) in pids {
        let name = if name == atoms::undefined().to_term(name.get_env()) { None } else { Some(core_atom(name)?) };
        set.insert(id, serial, name);
    }
    *PROTECTED.write() = Arc::new(set);
    PROTECTED_GEN.fetch_add(1, Ordering::AcqRel);
    Ok(atoms::ok())
}

/// `protected_count()`: how many pids the current set protects.
#[rustler::nif]
fn protected_count() -> usize {
    PROTECTED.read().len()
}
