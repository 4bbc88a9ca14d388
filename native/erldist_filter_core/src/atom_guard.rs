//! The atom-table guard: counts the atoms a peer would make the node
//! create (atoms that do not exist yet) against a per-node budget, so a
//! peer cannot fill the never-collected atom table.
//!
//! The core cannot see the VM's atom table, so the caller answers "does
//! this atom exist?" through [`AtomExistence`]; the count of new atoms
//! admitted is shared by every channel of one node ([`NewAtomTally`]), so
//! reconnecting does not reset it, and a second tally shared by every
//! channel of every node bounds what all peers together may create. An
//! atom counts once it has been let through: atoms of dropped messages are
//! never created and do not count.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::atom::Atom;
use crate::control;
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};
use crate::header::TableEntry;
use crate::inspect::Whole;
use crate::term::{tag, AtomRef, Scan, ScanContext, Scanner, StreamScan};
use crate::Budget;

/// Answers whether an atom is already in the node's atom table, without
/// creating it.
pub trait AtomExistence {
    /// Whether the atom with this text exists; `utf8` tells the encoding of
    /// `text` (else Latin-1).
    fn exists(&self, text: &[u8], utf8: bool) -> bool;
}

/// Bodies up to this size are searched for atom tags before being scanned.
const SMALL_BODY: usize = 1024;

/// New atoms admitted from one node (shared by its channels), or from all
/// nodes (shared by every channel).
pub type NewAtomTally = Arc<AtomicU64>;

/// The two budgets of new atoms (0 = that one is off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AtomBudget {
    /// New atoms one node may make this node create (`max_new_atoms`).
    pub per_node: u64,
    /// New atoms all nodes together may make it create
    /// (`max_new_atoms_total`).
    pub total: u64,
}

impl AtomBudget {
    /// Whether the guard has anything to enforce.
    pub fn is_on(&self) -> bool {
        self.per_node > 0 || self.total > 0
    }
}

/// Whether `admitted + more` stays within `limit` (0 = no limit).
fn within(admitted: u64, more: u64, limit: u64) -> bool {
    limit == 0 || admitted.saturating_add(more) <= limit
}

/// Add `n` to `tally` if the sum stays within `limit` (atomically: two
/// channels admitting at once cannot both pass the limit).
fn reserve(tally: &AtomicU64, n: u64, limit: u64) -> bool {
    tally.fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| within(a, n, limit).then(|| a + n)).is_ok()
}

/// The atoms of one fragmented message that streams to the VM as its
/// fragments arrive (only under `atom_policy close`: a fragment over the
/// budget closes the connection, and the VM, which creates a message's
/// atoms only once it has the whole, drops the part it has). Its control
/// and payload are scanned piece by piece; its new atoms count fragment by
/// fragment, each once for the whole message. They stay counted if the
/// message never completes: the guard errs on the side of counting.
#[derive(Debug)]
pub(crate) struct StreamedAtoms {
    scan: StreamScan,
    /// New atoms this message has counted (they do not exist in the VM
    /// until its last fragment is in).
    counted: HashSet<Atom>,
}

impl StreamedAtoms {
    /// The message whose control starts a header fragment's body, read with
    /// `ctx`; `has_payload` if a payload follows the control.
    pub(crate) fn new(ctx: ScanContext, has_payload: bool) -> Self {
        StreamedAtoms { scan: StreamScan::new(1 + u64::from(has_payload), ctx), counted: HashSet::new() }
    }
}

/// The guard of one channel: the node's and the node-wide shared tallies,
/// and the new atoms of the message being checked.
#[derive(Debug, Default)]
pub struct AtomGuard {
    tally: NewAtomTally,
    all: NewAtomTally,
    /// New atoms counted since the frames already let through reached the
    /// VM (one `recv` call: the caller delivers its frames before the
    /// next), and those of the message being checked: an atom repeated
    /// before the VM has it counts once. (SipHash: the peer picks keys.)
    counted: HashSet<Atom>,
    pending: HashSet<Atom>,
}

impl AtomGuard {
    /// A guard counting into `tally` (its node's) and `all` (every node's).
    pub fn new(tally: NewAtomTally, all: NewAtomTally) -> Self {
        AtomGuard { tally, all, counted: HashSet::new(), pending: HashSet::new() }
    }

    /// New atoms admitted so far from this channel's node.
    pub fn admitted(&self) -> u64 {
        self.tally.load(Ordering::Relaxed)
    }

    /// The frames let through so far have reached the VM: their atoms
    /// now exist.
    pub fn start_batch(&mut self) {
        self.counted.clear();
        self.pending.clear();
    }

    /// Check the atoms a frame header writes into the cache, and count
    /// them: the VM creates them whatever becomes of the message. Returns
    /// how many were new.
    pub fn check_header(
        &mut self,
        table: &[TableEntry],
        oracle: &dyn AtomExistence,
        budget: AtomBudget,
    ) -> Result<u64, Error> {
        for entry in table.iter().filter(|e| e.new) {
            if let Err(e) = self.note(AtomRef::inline(entry.atom.as_bytes(), true), oracle, budget) {
                self.pending.clear();
                return Err(e);
            }
        }
        self.admit(budget)
    }

    /// Check the atoms written out inline in a whole message, and count
    /// them if they fit (returns how many were new); if not, the message
    /// must not reach the VM.
    pub fn check_inline(
        &mut self,
        m: &Whole<'_>,
        oracle: &dyn AtomExistence,
        budget: AtomBudget,
    ) -> Result<u64, Error> {
        match self.note_inline(m, oracle, budget) {
            Ok(()) => self.admit(budget),
            Err(e) => {
                self.pending.clear();
                Err(e)
            }
        }
    }

    /// Check the atoms in the next fragment's bytes of a streamed message
    /// (`last`: its last fragment) and count the new ones (returns how
    /// many). An error means the fragment must not reach the VM.
    pub(crate) fn check_piece(
        &mut self,
        m: &mut StreamedAtoms,
        piece: &[u8],
        last: bool,
        oracle: &dyn AtomExistence,
        budget: AtomBudget,
    ) -> Result<u64, Error> {
        let StreamedAtoms { scan, counted } = m;
        let fed = scan.feed(piece, last, &mut |a| self.note_beyond(a, oracle, budget, Some(counted)));
        if let Err(e) = fed {
            self.pending.clear();
            return Err(e);
        }
        let fresh: Vec<Atom> = self.pending.iter().cloned().collect();
        let n = self.admit(budget)?;
        counted.extend(fresh);
        Ok(n)
    }

    /// Count the pending atoms into both tallies, if they fit both now
    /// (other channels count concurrently).
    fn admit(&mut self, budget: AtomBudget) -> Result<u64, Error> {
        let n = self.pending.len() as u64;
        if n > 0 {
            if !reserve(&self.all, n, budget.total) {
                self.pending.clear();
                return Err(Error::new(ErrorKind::LimitNewAtomsTotal, 0));
            }
            if !reserve(&self.tally, n, budget.per_node) {
                self.all.fetch_sub(n, Ordering::AcqRel);
                self.pending.clear();
                return Err(Error::new(ErrorKind::LimitNewAtoms, 0));
            }
        }
        self.counted.extend(self.pending.drain());
        Ok(n)
    }

    /// Note `atom` if it is new; fails with `LimitNewAtoms` as soon as the
    /// message would take a tally past its budget.
    fn note(&mut self, atom: AtomRef<'_>, oracle: &dyn AtomExistence, budget: AtomBudget) -> Result<(), Error> {
        self.note_beyond(atom, oracle, budget, None)
    }

    /// [`AtomGuard::note`], also taking the atoms in `known` as counted.
    fn note_beyond(
        &mut self,
        atom: AtomRef<'_>,
        oracle: &dyn AtomExistence,
        budget: AtomBudget,
        known: Option<&HashSet<Atom>>,
    ) -> Result<(), Error> {
        if oracle.exists(atom.text, atom.utf8) {
            return Ok(());
        }
        let owned = atom.to_atom().map_err(Error::from)?;
        if self.counted.contains(&owned) || self.pending.contains(&owned) || known.is_some_and(|k| k.contains(&owned)) {
            return Ok(());
        }
        let more = self.pending.len() as u64 + 1;
        if !within(self.admitted(), more, budget.per_node) {
            return Err(Error::new(ErrorKind::LimitNewAtoms, 0));
        }
        if !within(self.all.load(Ordering::Acquire), more, budget.total) {
            return Err(Error::new(ErrorKind::LimitNewAtomsTotal, 0));
        }
        self.pending.insert(owned);
        Ok(())
    }

    /// Note every atom written out inline in a whole message's control and
    /// payload (cache references were noted with their header). Bytes
    /// after a control without payload are ignored, as the VM does.
    fn note_inline(&mut self, m: &Whole<'_>, oracle: &dyn AtomExistence, budget: AtomBudget) -> Result<(), Error> {
        // Every inline atom starts with one of four tag bytes: a small
        // body without any of them has none and needs no scan (a cache-using
        // peer's atoms are cache references). A large body is scanned
        // directly: the scan skips a binary at once, this test would not.
        let body = m.bytes.get(m.body..).unwrap_or(&[]);
        let tagged = |b: &u8| matches!(*b, tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8);
        if body.len() <= SMALL_BODY && !body.iter().any(tagged) {
            return Ok(());
        }
        let ctx = m.scan_context();
        let mut pos = m.term_at(m.body)?;
        let mut head = Cursor::new(m.bytes);
        head.skip(pos)?;
        let has_payload = control::read_head(&mut head)?.dop.info().has_payload;
        self.note_term(m.bytes, &mut pos, &ctx, oracle, budget)?;
        if has_payload {
            pos = m.term_at(pos)?;
            self.note_term(m.bytes, &mut pos, &ctx, oracle, budget)?;
        }
        Ok(())
    }

    /// Note the inline atoms of the term at `*pos` and move past it.
    fn note_term(
        &mut self,
        bytes: &[u8],
        pos: &mut usize,
        ctx: &ScanContext,
        oracle: &dyn AtomExistence,
        budget: AtomBudget,
    ) -> Result<(), Error> {
        let mut scanner = Scanner::new();
        let mut visit = |a: AtomRef<'_>| self.note(a, oracle, budget);
        // The whole message is here and its size is bounded by the limits:
        // one unbounded pass, as inspection does.
        while scanner.run_visiting(bytes, pos, &mut Budget::new(u64::MAX), ctx, &mut visit)? == Scan::Yield {}
        Ok(())
    }
}
