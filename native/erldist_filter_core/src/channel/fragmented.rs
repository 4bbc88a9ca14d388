//! A message in several fragments: the header fragment streams, is decided
//! there, or starts a held message; continuations follow it, are checked
//! by the atom guard, added to the hold, or swallowed; the last fragment of
//! a held message finishes it.

use std::ops::Range;

use super::{atoms_fit, one_frame, Actions, Channel, Draining, Emit, Frame, RecvContext};
use crate::atom_guard::StreamedAtoms;
use crate::classify::Verdict;
use crate::config::Config;
use crate::control;
use crate::cursor::Cursor;
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::fragments::Step;
use crate::frame::FrameParts;
use crate::held::Held;
use crate::inspect::{self, Inspected, Whole};
use crate::rate::Policy;
use crate::rewrite;
use crate::term::{skip_term, ScanContext};

/// Offset of the payload in an 'F' frame.
const CONTINUATION_PAYLOAD_AT: usize = 18;

/// The control message of a fragmented message must end inside its first
/// fragment: OTP's receiver decodes it from that fragment alone and refuses
/// it otherwise. Reassembled, it would read fine: refuse it as the VM would.
fn control_in_first_fragment(bytes: &[u8], p: &FrameParts, refs: usize) -> Result<(), Error> {
    let mut at = p.body;
    let ctx = ScanContext::after_table(refs);
    match skip_term(bytes, &mut at, &ctx) {
        Err(e) if e.kind == ErrorKind::Truncated => Err(Error::new(ErrorKind::ControlStraddlesFragments, p.body)),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

impl Channel {
    /// The first of several fragments: pass it on, or hold the message
    /// when it must be inspected or compacted whole.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_fragment_header(
        &mut self,
        frame: Frame<'_>,
        p: FrameParts,
        sequence_id: u64,
        fragments: u64,
        admitted: bool,
        cx: &RecvContext<'_>,
        out: &mut Actions,
    ) -> Result<(), Error> {
        let bytes = frame.bytes();
        control_in_first_fragment(bytes, &p, self.table.len())?;
        if !admitted {
            // Dropped for flooding: commit its atoms, swallow the rest.
            self.over_rate()?;
            let commit = rewrite::commit_frame(sequence_id, bytes.get(p.header.clone()).unwrap_or(&[]), &self.table);
            let mut cur = Cursor::new(bytes);
            cur.skip(p.body)?;
            let dop = control::read_head(&mut cur)?.dop;
            self.sequences.start(sequence_id, fragments, bytes.len() as u64, dop, None, &self.opts.limits)?;
            self.sequences.mark_discarded(sequence_id);
            if let Some(commit) = commit {
                self.push_emit(out, Emit::Owned(commit));
            }
            return Ok(());
        }
        let mut cur = Cursor::new(bytes);
        cur.skip(p.body)?;
        let dop = control::read_head(&mut cur)?.dop;
        let size = bytes.len() as u64;
        let cfg = cx.config;
        // Held whole when it must be read whole: inspected, compacted, or
        // checked for new atoms before any of it reaches the VM.
        if !(cfg.deep_packet_inspection || cfg.compact_fragments || cx.atoms.is_some()) {
            self.sequences.start(sequence_id, fragments, size, dop, None, &self.opts.limits)?;
            self.stats.dop(dop).seen.inc();
            self.push_emit(out, frame.into_emit());
            return Ok(());
        }
        // Streamed when nothing needs it whole: inspection decides from
        // this fragment (or is off), and the atom guard (if on) checks
        // each fragment as it passes.
        if self.may_stream(cfg, cx) {
            if !cfg.deep_packet_inspection {
                let guard = self.guard_first_fragment(bytes, &p, dop, cx)?;
                self.sequences.start(sequence_id, fragments, size, dop, None, &self.opts.limits)?;
                if let Some(guard) = guard {
                    self.sequences.set_streamed(sequence_id, guard);
                }
                self.stats.dop(dop).seen.inc();
                self.push_emit(out, frame.into_emit());
                return Ok(());
            }
            let first = one_frame(bytes, &p, &self.table);
            if let Some(ins) = inspect::inspect_first_fragment(&first, cfg, &self.peer, &self.opts.limits) {
                // Dropped: none of it reaches the VM, nothing to check.
                let guard = match ins.rewrite {
                    None => self.guard_first_fragment(bytes, &p, dop, cx)?,
                    Some(_) => None,
                };
                return self.decided_at_header(frame, p.header, ins, guard, sequence_id, fragments, out);
            }
        }
        let commit = rewrite::commit_frame(sequence_id, bytes.get(p.header.clone()).unwrap_or(&[]), &self.table);
        let reserve = self.reservation(size, fragments);
        let frame = match frame {
            Frame::Owned(v) => v,
            Frame::Input(data, r) => data.get(r).unwrap_or(&[]).to_vec(),
        };
        let held = Held::new(frame, p.header, self.table.clone(), p.body, fragments, reserve);
        self.sequences.start(sequence_id, fragments, size, dop, Some(held), &self.opts.limits)?;
        if let Some(commit) = commit {
            self.push_emit(out, Emit::Owned(commit));
        }
        Ok(())
    }

    /// Whether a fragmented message that inspection or the atom guard
    /// reads may stream as it arrives (if inspection can decide from its
    /// first fragment): compaction off (it rewrites the whole message), no
    /// byte rate (a continuation over it could not be dropped once the
    /// message streams: held, it is discarded whole), and the atom guard
    /// off or closing the connection over its budget (a message over it
    /// cannot be dropped once part of it is in the VM; cut off by the
    /// close, the VM drops it without creating its atoms).
    fn may_stream(&self, cfg: &Config, cx: &RecvContext<'_>) -> bool {
        let limits = &self.opts.limits;
        !cfg.compact_fragments
            && limits.max_bytes_per_sec == 0
            && (cx.atoms.is_none() || limits.atom_policy == Policy::Close)
    }

    /// With the atom guard on, check the control and the start of the
    /// payload of a header fragment that streams, and what will check its
    /// continuations.
    fn guard_first_fragment(
        &mut self,
        bytes: &[u8],
        p: &FrameParts,
        dop: Dop,
        cx: &RecvContext<'_>,
    ) -> Result<Option<StreamedAtoms>, Error> {
        let Some(oracle) = cx.atoms else {
            return Ok(None);
        };
        let ctx = ScanContext::after_table(self.table.len());
        let mut m = StreamedAtoms::new(ctx, dop.info().has_payload);
        let piece = bytes.get(p.body..).unwrap_or(&[]);
        let n = self.atom_guard.check_piece(&mut m, piece, false, oracle, self.opts.limits.atom_budget())?;
        self.stats.new_atom_count.add(n);
        Ok(Some(m))
    }

    /// A fragmented message inspection decided from its first fragment
    /// (see [`inspect::inspect_first_fragment`]). Kept: the header
    /// fragment goes on unchanged and its continuations follow as they
    /// arrive, as with inspection off (the VM reads the header's cache
    /// references when the header fragment arrives: nothing to commit or
    /// roll back; the message counts as emitted with its last fragment, as
    /// there). Dropped: the frames it is replaced with when held (the
    /// commit of its new cache entries, then the no-op with its header,
    /// which the cache still agrees with, so no rollback), at once, and
    /// its continuations are swallowed.
    #[allow(clippy::too_many_arguments)]
    fn decided_at_header(
        &mut self,
        frame: Frame<'_>,
        header: Range<usize>,
        ins: Inspected,
        guard: Option<StreamedAtoms>,
        sequence_id: u64,
        fragments: u64,
        out: &mut Actions,
    ) -> Result<(), Error> {
        let size = frame.bytes().len() as u64;
        self.sequences.start(sequence_id, fragments, size, ins.dop, None, &self.opts.limits)?;
        if let Some(guard) = guard {
            self.sequences.set_streamed(sequence_id, guard);
        }
        if ins.decision.verdict == Verdict::Emit && ins.rewrite.is_none() {
            self.stats.dop(ins.dop).seen.inc();
            self.push_emit(out, frame.into_emit());
            return Ok(());
        }
        self.sequences.mark_discarded(sequence_id);
        let commit = rewrite::commit_frame(sequence_id, frame.bytes().get(header).unwrap_or(&[]), &self.table);
        if let Some(commit) = commit {
            self.push_emit(out, Emit::Owned(commit));
        }
        let (rewrite, log) = self.account(ins);
        out.logs.extend(log);
        match rewrite {
            Some(mut bytes) if !bytes.is_empty() => {
                rewrite::set_first_fragment_id(&mut bytes);
                self.push_emit(out, Emit::Owned(bytes));
            }
            _ => {}
        }
        Ok(())
    }

    /// Bytes to reserve for a held message whose header fragment has
    /// `size` bytes and announces `fragments` fragments: room for that many
    /// fragments of that size (what OTP sends: equal fragments, the last
    /// one shorter), so the buffer is not regrown and recopied as they
    /// arrive. The peer chooses the count, so it is capped by the limits:
    /// never more than `max_message_bytes`, nor than what
    /// `max_buffered_bytes` leaves beside the other held messages and what
    /// they reserved and have not filled (no partial packet is buffered
    /// while a frame is decoded: the framer hands out whole ones), so that
    /// reservations never take the channel's memory past the limit. (The
    /// limit itself is checked on the bytes held, as before: a reservation
    /// the peer does not fill does not close the connection.)
    fn reservation(&self, size: u64, fragments: u64) -> usize {
        let limits = &self.opts.limits;
        let used = (self.sequences.held_bytes() as u64).saturating_add(self.sequences.unfilled() as u64);
        let room = limits.max_buffered_bytes.saturating_sub(used);
        let want = size.saturating_mul(fragments).min(limits.max_message_bytes).min(room);
        usize::try_from(want).unwrap_or(0)
    }

    /// A later fragment: pass it on, or add it to the held message and
    /// finish that message when it is the last.
    pub(super) fn on_continuation(
        &mut self,
        frame: Frame<'_>,
        sequence_id: u64,
        fragment_id: u64,
        cx: &RecvContext<'_>,
        out: &mut Actions,
    ) -> Result<(), Error> {
        let payload = frame.bytes().get(CONTINUATION_PAYLOAD_AT..).unwrap_or(&[]);
        let size = payload.len() as u64;
        let budget = self.opts.limits.atom_budget();
        let (dop, held) = match self.sequences.advance(sequence_id, fragment_id, size, &self.opts.limits)? {
            Step::More { discard: true, .. } => return Ok(()),
            Step::Last(seq) if seq.discard => return Ok(()),
            Step::More { held: true, .. } => {
                self.sequences.hold_more(sequence_id, payload);
                return Ok(());
            }
            Step::More { held: false, .. } => {
                if let (Some(m), Some(oracle)) = (self.sequences.streamed_mut(sequence_id), cx.atoms) {
                    self.stats.new_atom_count.add(self.atom_guard.check_piece(m, payload, false, oracle, budget)?);
                }
                self.push_emit(out, frame.into_emit());
                return Ok(());
            }
            Step::Last(seq) => {
                if let (Some(mut m), Some(oracle)) = (seq.streamed, cx.atoms) {
                    self.stats.new_atom_count.add(self.atom_guard.check_piece(&mut m, payload, true, oracle, budget)?);
                }
                (seq.dop, seq.held)
            }
        };
        let Some(mut held) = held else {
            self.stats.dop(dop).emit.inc();
            self.push_emit(out, frame.into_emit());
            return Ok(());
        };
        held.append(payload);
        self.finish_held(*held, cx, out)
    }

    /// The last fragment of a held message arrived: reconcile its header
    /// with the cache, inspect it, emit it (whole or as its fragments) or
    /// its rewrite, then the rollback if one is needed.
    fn finish_held(&mut self, mut held: Held, cx: &RecvContext<'_>, out: &mut Actions) -> Result<(), Error> {
        let mut rewrote = false;
        let rollback = held.reconcile(&self.cache, self.opts.dflags, &mut rewrote);
        self.stats.rewrite_fragment_header_count.add(u64::from(rewrote));
        held.set_fragment_id(1);
        let whole = Whole {
            bytes: &held.buf,
            prefix: 0..held.header.start,
            header: held.header.clone(),
            table: &held.table,
            body: held.body,
            external: false,
        };
        let cfg = cx.config;
        let (rewrite, log) = if atoms_fit(&mut self.atom_guard, &self.stats, &self.opts.limits, &whole, cx)? {
            let ins = inspect::inspect(
                &whole,
                cfg,
                cfg.deep_packet_inspection,
                &self.peer,
                &mut self.sort,
                &self.opts.limits,
            )?;
            self.account(ins)
        } else {
            (Some(rewrite::drop_frame(&whole)), None)
        };
        out.logs.extend(log);
        match rewrite {
            Some(bytes) => self.push_emit(out, Emit::Owned(bytes)),
            None if cfg.compact_fragments => {
                self.stats.compact_external_count.inc();
                self.stats.compact_fragment_count.add(held.cuts.len() as u64);
                self.push_emit(out, Emit::Owned(held.buf));
            }
            None => {
                // As its fragments, emitted by `flush` within the budget.
                held.set_fragment_id(held.fragments);
                self.draining = Some(Draining { held: held.into_fragments(), next: 0, rollback });
                return Ok(());
            }
        }
        if let Some(rollback) = rollback {
            self.stats.rollback_atom_cache_count.inc();
            self.push_emit(out, Emit::Owned(rollback));
        }
        Ok(())
    }
}
