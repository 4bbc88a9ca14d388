//! Scanning terms whose bytes arrive in pieces: the payload of a
//! fragmented message checked fragment by fragment as it streams to the VM.
//!
//! The [`Scanner`] needs no stack, so it resumes at the next piece from
//! its count of sub-terms still to skip. What a piece can cut is a term:
//! a binary's, string's or bignum's bytes are counted down as the pieces
//! come (never kept); any other head is kept (a few hundred bytes at most:
//! its atoms and fixed fields) until the next piece completes it.

use crate::budget::Budget;
use crate::error::{Error, ErrorKind};

use super::atom_ref::AtomRef;
use super::context::ScanContext;
use super::head::len32;
use super::scan::{Scan, Scanner};
use super::tag;

/// The longest head kept across pieces, beyond the atoms in it: a fun's
/// fixed fields, its two integers and its pid's numbers (an export or a
/// record holds fewer). Atoms count `ctx.max_atom_bytes` each, plus their
/// tag and length.
const FIXED_HEAD_BYTES: usize = 96;

/// Atoms a head can hold: a fun's module and its pid's node, an export's
/// module and function, a record's module and name (never more than 3).
const HEAD_ATOMS: usize = 3;

/// First bytes of a piece tried to complete a kept head (most are short);
/// more are taken only if the head needs them.
const FIRST_TAKE: usize = 64;

/// A scan of consecutive terms fed piece by piece.
#[derive(Clone, Debug)]
pub struct StreamScan {
    scanner: Scanner,
    ctx: ScanContext,
    /// The start of a term the last piece cut in its head.
    kept: Vec<u8>,
    /// Bytes of a cut binary, string or bignum still to come.
    body_left: u64,
}

impl StreamScan {
    /// A scan of `terms` consecutive terms read with `ctx`.
    pub fn new(terms: u64, ctx: ScanContext) -> Self {
        StreamScan { scanner: Scanner::terms(terms), ctx, kept: Vec::new(), body_left: 0 }
    }

    /// Read the next `piece` (`last`: no more follow), calling `visit` with
    /// every atom written out in it. An error is final: a cut term the last
    /// piece does not complete is `ErrorKind::Truncated`.
    pub fn feed<F>(&mut self, piece: &[u8], last: bool, visit: &mut F) -> Result<(), Error>
    where
        F: FnMut(AtomRef<'_>) -> Result<(), Error>,
    {
        let mut at = 0;
        loop {
            let left = piece.len() - at;
            if self.body_left > 0 {
                let n = usize::try_from(self.body_left).map_or(left, |b| b.min(left));
                self.body_left -= n as u64;
                at += n;
                if self.body_left > 0 {
                    return if last { Err(Error::new(ErrorKind::Truncated, piece.len())) } else { Ok(()) };
                }
            } else if self.scanner.is_done() {
                self.kept = Vec::new();
                return Ok(());
            } else if !self.kept.is_empty() {
                at = self.complete_kept(piece, at, last, visit)?;
                if !self.kept.is_empty() {
                    // The whole piece went into the head; more must come.
                    return Ok(());
                }
            } else {
                let mut pos = at;
                let ctx = self.piece_ctx(last);
                match run(&mut self.scanner, piece, &mut pos, &ctx, visit) {
                    Ok(()) => at = pos,
                    Err(e) if e.kind == ErrorKind::Truncated && !last => return self.cut(piece.get(pos..), pos),
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// The context for a piece: later pieces follow unless it is the last.
    fn piece_ctx(&self, last: bool) -> ScanContext {
        ScanContext { more_follows: !last, ..self.ctx }
    }

    /// The term at `rest` (at offset `at` of its piece) reaches past the
    /// piece: count down its body, or keep its head for the next piece.
    fn cut(&mut self, rest: Option<&[u8]>, at: usize) -> Result<(), Error> {
        let rest = rest.unwrap_or(&[]);
        if let Some(body_left) = self.cut_body(rest) {
            self.scanner.skipped_leaf();
            self.body_left = body_left;
            return Ok(());
        }
        if rest.len() > self.max_head() {
            // Longer than any head: not a term the VM would read.
            return Err(Error::new(ErrorKind::MalformedTerm, at));
        }
        self.kept.extend_from_slice(rest);
        Ok(())
    }

    /// Bytes of the body still to come, if `rest` starts with a whole head
    /// of a binary, bitstring, string or bignum whose body it cuts.
    fn cut_body(&self, rest: &[u8]) -> Option<u64> {
        if self.scanner.expects_atom() {
            return None;
        }
        let be = |from: usize, n: usize| -> Option<usize> {
            let b = rest.get(from..from + n)?;
            Some(len32(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x))))
        };
        let (head, len) = match *rest.first()? {
            tag::BINARY => (5, be(1, 4)?),
            tag::BIT_BINARY => {
                // Its bits byte was checked before the body was read.
                (6, be(1, 4)?)
            }
            tag::STRING => (3, be(1, 2)?),
            tag::SMALL_BIG => (3, be(1, 1)?),
            tag::LARGE_BIG => (6, be(1, 4)?),
            _ => return None,
        };
        let here = rest.len().checked_sub(head)?;
        let left = len.checked_sub(here).filter(|&n| n > 0)?;
        Some(left as u64)
    }

    /// The longest head a term can have in this context.
    fn max_head(&self) -> usize {
        FIXED_HEAD_BYTES + HEAD_ATOMS * (self.ctx.max_atom_bytes + 3)
    }

    /// Complete the kept head with the bytes of `piece` from `at`, and read
    /// on as far as those bytes go: where in the piece to read on (the kept
    /// bytes are then gone), or the piece's end with the head still kept.
    fn complete_kept<F>(&mut self, piece: &[u8], at: usize, last: bool, visit: &mut F) -> Result<usize, Error>
    where
        F: FnMut(AtomRef<'_>) -> Result<(), Error>,
    {
        let kept = self.kept.len();
        let avail = piece.get(at..).unwrap_or(&[]);
        let mut take = avail.len().min(FIRST_TAKE);
        loop {
            self.kept.truncate(kept);
            self.kept.extend_from_slice(avail.get(..take).unwrap_or(&[]));
            let whole = last && take == avail.len();
            let mut scanner = self.scanner.clone();
            let mut pos = 0;
            let ctx = self.piece_ctx(whole);
            match run(&mut scanner, &self.kept, &mut pos, &ctx, visit) {
                Ok(()) => {
                    self.scanner = scanner;
                    self.kept = Vec::new();
                    return Ok(piece.len());
                }
                Err(e) if e.kind == ErrorKind::Truncated && !whole => {
                    if pos > 0 {
                        // The cut term is whole: read on in the piece itself.
                        self.scanner = scanner;
                        self.kept.clear();
                        return (at + pos).checked_sub(kept).ok_or(Error::new(ErrorKind::MalformedTerm, at));
                    }
                    if let Some(body_left) = self.cut_body(&self.kept) {
                        self.scanner.skipped_leaf();
                        self.body_left = body_left;
                        self.kept.clear();
                        return Ok(at + take);
                    }
                    if self.kept.len() > self.max_head() {
                        return Err(Error::new(ErrorKind::MalformedTerm, at));
                    }
                    if take == avail.len() {
                        return Ok(piece.len());
                    }
                    take = avail.len().min(take.saturating_mul(8));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Run `scanner` over `bytes` from `*pos` to the end of its terms, with no
/// work bound (a piece is bounded by the frame that brought it).
fn run<F>(scanner: &mut Scanner, bytes: &[u8], pos: &mut usize, ctx: &ScanContext, visit: &mut F) -> Result<(), Error>
where
    F: FnMut(AtomRef<'_>) -> Result<(), Error>,
{
    while scanner.run_visiting(bytes, pos, &mut Budget::new(u64::MAX), ctx, visit)? == Scan::Yield {}
    Ok(())
}
