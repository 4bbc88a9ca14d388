//! The length scanner: skips exactly one term without allocating, without
//! recursion, and in slices of bounded work.
//!
//! Nesting needs no stack because only the *number* of sub-terms still to
//! skip matters: a tuple of arity n turns one pending term into n, a list
//! into n + 1 (its tail), a map into 2n, a fun into its free variables, a
//! record into 2n (its field names, which must be atoms, then its values).
//! That count never exceeds the bytes left (every term takes at least one
//! byte), so a huge declared arity fails at once as truncated.

use crate::budget::Budget;
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};

use super::atom_ref::AtomRef;
use super::context::ScanContext;
use super::head::{len32, need_terms, read_fun_at, read_view, MAX_ARITY};
use super::tag;
use super::view::View;

/// What a scanned term contained that the statistics count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TermFlags {
    /// Some sub-term was an `EXPORT_EXT` (`fun M:F/A`).
    pub has_export: bool,
    /// Some sub-term was a `NEW_FUN_EXT` (a closure).
    pub has_new_fun: bool,
}

/// Outcome of one [`Scanner::run`] slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// The term ended; the position is just after it.
    Done,
    /// The budget ran out first; call `run` again with the same bytes and
    /// position.
    Yield,
}

/// A resumable scan of one term.
#[derive(Clone, Debug)]
pub struct Scanner {
    /// Sub-terms still to skip (starts at 1: the term itself).
    pending: u64,
    /// How many of the next pending terms must be atoms (record field names).
    atoms_pending: u64,
    flags: TermFlags,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner at the start of one term.
    pub fn new() -> Self {
        Scanner { pending: 1, atoms_pending: 0, flags: TermFlags::default() }
    }

    /// A scanner at the start of `terms` consecutive terms.
    pub(crate) fn terms(terms: u64) -> Self {
        Scanner { pending: terms, ..Scanner::new() }
    }

    /// Whether the next term must be an atom (a record's field name).
    pub(crate) fn expects_atom(&self) -> bool {
        self.atoms_pending > 0
    }

    /// Count the next term as skipped: a leaf (no sub-terms, no atoms)
    /// whose bytes the caller skips.
    pub(crate) fn skipped_leaf(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }

    /// What the term contained so far.
    pub fn flags(&self) -> TermFlags {
        self.flags
    }

    /// Whether the whole term has been skipped.
    pub fn is_done(&self) -> bool {
        self.pending == 0
    }

    /// Skip terms from `*pos` in `bytes`, advancing `*pos` past each one,
    /// until the term ends (`Scan::Done`) or `budget` is spent
    /// (`Scan::Yield`). Costs one unit per term plus one per 64 bytes read;
    /// each call makes progress even on an empty budget. After an error the
    /// scanner must be dropped.
    pub fn run(
        &mut self,
        bytes: &[u8],
        pos: &mut usize,
        budget: &mut Budget,
        ctx: &ScanContext,
    ) -> Result<Scan, Error> {
        if ctx.more_follows {
            self.step::<false, false, _>(bytes, pos, budget, ctx, &mut |_| Ok(()))
        } else {
            self.step::<false, true, _>(bytes, pos, budget, ctx, &mut |_| Ok(()))
        }
    }

    /// [`Scanner::run`], calling `visit` with every atom written out in the
    /// term (not cache references), including the node names and modules
    /// inside pids, ports, references, funs, exports and records. An error
    /// from `visit` ends the scan with that error.
    pub fn run_visiting<'b, F>(
        &mut self,
        bytes: &'b [u8],
        pos: &mut usize,
        budget: &mut Budget,
        ctx: &ScanContext,
        visit: &mut F,
    ) -> Result<Scan, Error>
    where
        F: FnMut(AtomRef<'b>) -> Result<(), Error>,
    {
        if ctx.more_follows {
            self.step::<true, false, F>(bytes, pos, budget, ctx, visit)
        } else {
            self.step::<true, true, F>(bytes, pos, budget, ctx, visit)
        }
    }

    /// The scan; `ATOMS` says whether atoms are visited (a fun's atoms are
    /// not in its head and cost a second read), `BOUNDED` whether the
    /// bytes end where the term does (no more pieces follow: a count of
    /// sub-terms beyond the bytes left fails at once).
    fn step<'b, const ATOMS: bool, const BOUNDED: bool, F>(
        &mut self,
        bytes: &'b [u8],
        pos: &mut usize,
        budget: &mut Budget,
        ctx: &ScanContext,
        visit: &mut F,
    ) -> Result<Scan, Error>
    where
        F: FnMut(AtomRef<'b>) -> Result<(), Error>,
    {
        let mut cur = Cursor::new(bytes);
        cur.skip(*pos)?;
        while self.pending > 0 {
            let at = cur.pos();
            // Terms that hold no atom (numbers, binaries, strings, cache
            // references) and containers (only counted) are skipped by
            // their length, without building a view: most terms of a
            // large payload are of these kinds.
            // A run of them is charged once, at its end: one unit per term
            // plus one per 64 bytes of the whole run (never less than
            // charging each term on its own), and ends before it can
            // cost more than the budget has left, but for its last term,
            // as a term charged on its own may.
            if self.atoms_pending == 0 {
                let limit = at.saturating_add(run_bytes(budget));
                let mut pending = self.pending;
                let mut terms = 0u64;
                let mut term_at = at;
                let run = loop {
                    match skip_flat(&mut cur, ctx) {
                        Ok(Some(sub_terms)) => {
                            pending = pending - 1 + sub_terms;
                            if BOUNDED {
                                if let Err(e) = need_terms(&cur, pending) {
                                    break Err(e);
                                }
                            }
                            terms += 1;
                            term_at = cur.pos();
                            if pending == 0 || term_at >= limit {
                                break Ok(());
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                // As if charged term by term: `*pos` is after the last
                // term skipped whole, also on an error.
                self.pending = pending;
                *pos = term_at;
                run?;
                if terms > 0 {
                    budget.spend(terms + ((term_at - at) / 64) as u64);
                    if self.pending > 0 && budget.exhausted() {
                        return Ok(Scan::Yield);
                    }
                    continue;
                }
            }
            let view = read_view(&mut cur, ctx, None)?;
            if self.atoms_pending > 0 {
                if !matches!(view, View::Atom(_)) {
                    return Err(Error::new(ErrorKind::MalformedTerm, at));
                }
                self.atoms_pending -= 1;
            }
            self.pending -= 1;
            if ATOMS {
                let mut inline = |a: AtomRef<'b>| if a.cache_index.is_none() { visit(a) } else { Ok(()) };
                view.try_for_each_atom(&mut inline)?;
                if let View::Fun(_) = view {
                    let fun = read_fun_at(bytes, at, ctx, None)?;
                    inline(fun.module)?;
                    inline(fun.pid.node)?;
                }
            }
            match view {
                View::Export { .. } => self.flags.has_export = true,
                View::Fun(_) => self.flags.has_new_fun = true,
                View::Record(r) => self.atoms_pending += u64::from(r.num_fields),
                _ => {}
            }
            self.pending += view.sub_terms();
            if BOUNDED {
                need_terms(&cur, self.pending)?;
            }
            *pos = cur.pos();
            budget.spend(1 + ((cur.pos() - at) / 64) as u64);
            if self.pending > 0 && budget.exhausted() {
                return Ok(Scan::Yield);
            }
        }
        Ok(Scan::Done)
    }
}

/// Bytes a run of length-skipped terms may span before it is charged:
/// every such term takes at least one byte, so a run of fewer bytes than
/// 64/65 of the budget left costs less than the budget left (a unit per
/// term and per 64 bytes).
#[inline(always)]
fn run_bytes(budget: &Budget) -> usize {
    usize::try_from(budget.remaining().saturating_mul(64) / 65).unwrap_or(usize::MAX)
}

/// Skip the term at the cursor if it cannot hold an atom, or is a
/// container whose head is only counted (tuple, list, map): returns how
/// many sub-terms follow it, checked exactly as [`read_view`] checks the
/// same term (same errors at the same offsets). `None` (the cursor not
/// moved) for every other tag: atoms and the terms that hold atoms, and
/// the rare old `FLOAT_EXT`, which need the full read.
#[inline(always)]
fn skip_flat(cur: &mut Cursor<'_>, ctx: &ScanContext) -> Result<Option<u64>, Error> {
    let at = cur.pos();
    let malformed = Error::new(ErrorKind::MalformedTerm, at);
    let sub_terms = match cur.peek_u8()? {
        tag::SMALL_INTEGER => {
            cur.skip(1)?;
            cur.skip(1)?;
            0
        }
        tag::INTEGER => {
            cur.skip(1)?;
            cur.skip(4)?;
            0
        }
        tag::NIL => {
            cur.skip(1)?;
            0
        }
        tag::NEW_FLOAT => {
            cur.skip(1)?;
            // OTP rejects NaN and infinities.
            if !f64::from_bits(cur.u64()?).is_finite() {
                return Err(malformed);
            }
            0
        }
        tag::SMALL_BIG => {
            cur.skip(1)?;
            let n = usize::from(cur.u8()?);
            cur.skip(1)?;
            cur.skip(n)?;
            0
        }
        tag::LARGE_BIG => {
            cur.skip(1)?;
            let n = len32(cur.u32()?);
            cur.skip(1)?;
            cur.skip(n)?;
            0
        }
        tag::STRING => {
            cur.skip(1)?;
            let n = usize::from(cur.u16()?);
            cur.skip(n)?;
            0
        }
        tag::BINARY => {
            cur.skip(1)?;
            let n = len32(cur.u32()?);
            cur.skip(n)?;
            0
        }
        tag::BIT_BINARY => {
            cur.skip(1)?;
            let n = len32(cur.u32()?);
            let bits = cur.u8()?;
            // As OTP: 1..=8 bits used in the last byte, or an empty bitstring.
            let ok = if n == 0 { bits == 0 } else { (1..=8).contains(&bits) };
            if !ok {
                return Err(malformed);
            }
            cur.skip(n)?;
            0
        }
        tag::ATOM_CACHE_REF => {
            cur.skip(1)?;
            if cur.u8()? >= ctx.atom_refs {
                return Err(Error::new(ErrorKind::AtomCacheRefOutOfRange, at));
            }
            0
        }
        tag::SMALL_TUPLE => {
            cur.skip(1)?;
            u64::from(cur.u8()?)
        }
        tag::LARGE_TUPLE => {
            cur.skip(1)?;
            u64::from(cur.u32()?)
        }
        tag::LIST => {
            cur.skip(1)?;
            u64::from(cur.u32()?) + 1
        }
        tag::MAP => {
            cur.skip(1)?;
            let arity = cur.u32()?;
            if arity >= MAX_ARITY {
                return Err(malformed);
            }
            2 * u64::from(arity)
        }
        _ => return Ok(None),
    };
    Ok(Some(sub_terms))
}

/// Skip one term at `*pos` with no work bound (for terms already known to
/// be small, or already bounded by a frame length).
pub fn skip_term(bytes: &[u8], pos: &mut usize, ctx: &ScanContext) -> Result<TermFlags, Error> {
    let mut scanner = Scanner::new();
    let mut budget = Budget::new(u64::MAX);
    loop {
        if scanner.run(bytes, pos, &mut budget, ctx)? == Scan::Done {
            return Ok(scanner.flags());
        }
        budget = Budget::new(u64::MAX);
    }
}
