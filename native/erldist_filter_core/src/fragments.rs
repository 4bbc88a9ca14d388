//! Fragmented messages in flight: which sequences are open, which fragment
//! each expects next, and the bytes held for those being inspected, within
//! the channel's limits.

use std::collections::HashMap;

use crate::atom_guard::StreamedAtoms;
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::held::{Held, FRAGMENT_OVERHEAD};
use crate::limits::Limits;

/// One message whose fragments are still arriving.
#[derive(Debug)]
pub struct Sequence {
    /// FragmentId the next continuation must carry.
    pub next_id: u64,
    /// The message's operation (from the header fragment).
    pub dop: Dop,
    /// The message so far, when it is held for inspection or compaction;
    /// `None` when its fragments pass straight through.
    pub held: Option<Box<Held>>,
    /// Bytes of the message seen so far (all fragments).
    pub bytes: u64,
    /// Dropped for flooding: the rest of its fragments are swallowed.
    pub discard: bool,
    /// The atom guard's scan of a message that streams with the guard on.
    pub(crate) streamed: Option<Box<StreamedAtoms>>,
}

/// What a continuation did to its sequence.
#[derive(Debug)]
pub enum Step {
    /// More fragments to come; `held` if the message is being held.
    More {
        /// Whether the sequence holds its bytes.
        held: bool,
        /// Whether the message was dropped for flooding.
        discard: bool,
    },
    /// That was the last one: the sequence, now closed.
    Last(Sequence),
}

/// Open sequences of one channel, keyed by SequenceId.
#[derive(Debug, Default)]
pub struct Sequences {
    open: HashMap<u64, Sequence>,
    held_bytes: usize,
    /// Bytes reserved ahead of the held messages and not filled yet.
    unfilled: usize,
}

impl Sequences {
    /// Register a header fragment of `bytes` bytes announcing `fragments`
    /// fragments (> 1).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        id: u64,
        fragments: u64,
        bytes: u64,
        dop: Dop,
        held: Option<Held>,
        limits: &Limits,
    ) -> Result<(), Error> {
        if bytes > limits.max_message_bytes {
            return Err(Error::new(ErrorKind::LimitMessageBytes, 0));
        }
        if fragments > limits.max_fragments {
            return Err(Error::new(ErrorKind::LimitFragments, 10));
        }
        if self.open.contains_key(&id) {
            return Err(Error::new(ErrorKind::DuplicateSequence, 2));
        }
        if self.open.len() as u64 >= limits.max_sequences {
            return Err(Error::new(ErrorKind::LimitSequences, 2));
        }
        self.held_bytes += held.as_ref().map_or(0, |h| h.cost());
        self.unfilled += held.as_ref().map_or(0, |h| h.unfilled());
        self.open.insert(
            id,
            Sequence { next_id: fragments - 1, dop, held: held.map(Box::new), bytes, discard: false, streamed: None },
        );
        Ok(())
    }

    /// Account for continuation `fragment_id` (of `bytes` payload bytes)
    /// of sequence `id`; it costs [`FRAGMENT_OVERHEAD`] more, so empty
    /// continuations are not free.
    pub fn advance(&mut self, id: u64, fragment_id: u64, bytes: u64, limits: &Limits) -> Result<Step, Error> {
        let seq = self.open.get_mut(&id).ok_or(Error::new(ErrorKind::UnknownSequence, 2))?;
        if fragment_id != seq.next_id {
            return Err(Error::new(ErrorKind::FragmentOutOfOrder, 10));
        }
        seq.bytes = seq.bytes.saturating_add(bytes).saturating_add(FRAGMENT_OVERHEAD as u64);
        if seq.bytes > limits.max_message_bytes {
            return Err(Error::new(ErrorKind::LimitMessageBytes, 0));
        }
        if fragment_id > 1 {
            seq.next_id = fragment_id - 1;
            return Ok(Step::More { held: seq.held.is_some(), discard: seq.discard });
        }
        match self.open.remove(&id) {
            Some(seq) => {
                if let Some(h) = seq.held.as_deref() {
                    self.release(h);
                }
                Ok(Step::Last(seq))
            }
            None => Err(Error::new(ErrorKind::UnknownSequence, 2)),
        }
    }

    /// Have the atom guard check streamed sequence `id` with `m` as its
    /// fragments pass.
    pub(crate) fn set_streamed(&mut self, id: u64, m: StreamedAtoms) {
        if let Some(seq) = self.open.get_mut(&id) {
            seq.streamed = Some(Box::new(m));
        }
    }

    /// The atom guard's scan of streamed sequence `id`, if it has one.
    pub(crate) fn streamed_mut(&mut self, id: u64) -> Option<&mut StreamedAtoms> {
        self.open.get_mut(&id).and_then(|s| s.streamed.as_deref_mut())
    }

    /// Add `payload` to held sequence `id` (which must be open and held).
    pub fn hold_more(&mut self, id: u64, payload: &[u8]) {
        if let Some(held) = self.open.get_mut(&id).and_then(|s| s.held.as_mut()) {
            let unfilled = held.unfilled();
            held.append(payload);
            self.held_bytes += payload.len() + FRAGMENT_OVERHEAD;
            self.unfilled -= unfilled.saturating_sub(held.unfilled()).min(self.unfilled);
        }
    }

    /// Drop sequence `id` for flooding: release what it holds and swallow
    /// its remaining fragments. False if it was passing straight through
    /// (the VM already has part of it: it cannot be dropped cleanly).
    pub fn discard(&mut self, id: u64) -> bool {
        let Some(seq) = self.open.get_mut(&id) else { return false };
        if seq.discard {
            return true;
        }
        match seq.held.take() {
            Some(h) => {
                seq.discard = true;
                self.release(&h);
                true
            }
            None => false,
        }
    }

    /// Start sequence `id` already dropped (its header was over a rate).
    pub fn mark_discarded(&mut self, id: u64) {
        if let Some(seq) = self.open.get_mut(&id) {
            seq.discard = true;
            if let Some(h) = seq.held.take() {
                self.release(&h);
            }
        }
    }

    /// Stop counting what `h` holds and reserves.
    fn release(&mut self, h: &Held) {
        self.held_bytes -= h.cost().min(self.held_bytes);
        self.unfilled -= h.unfilled().min(self.unfilled);
    }

    /// Bytes of the largest held sequence (what finishing it copies and
    /// reads; its fragments are re-emitted within the work budget).
    pub fn largest_held(&self) -> usize {
        self.open.values().filter_map(|s| s.held.as_ref()).map(|h| h.len()).max().unwrap_or(0)
    }

    /// Bytes held for inspection across all open sequences.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Bytes reserved ahead of the held messages and not filled yet.
    pub fn unfilled(&self) -> usize {
        self.unfilled
    }

    /// Number of open sequences.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dop_of(step: Step) -> (Dop, bool) {
        match step {
            Step::More { .. } => (Dop::Send, false),
            Step::Last(s) => (s.dop, true),
        }
    }

    #[test]
    fn continuations_must_count_down_and_sequences_are_bounded() {
        let limits = Limits { max_sequences: 2, max_fragments: 10, ..Limits::default() };
        let mut s = Sequences::default();
        s.start(1, 3, 10, Dop::Send, None, &limits).unwrap();
        assert_eq!(s.start(1, 3, 10, Dop::Send, None, &limits).unwrap_err().kind, ErrorKind::DuplicateSequence);
        assert_eq!(s.advance(1, 1, 10, &limits).unwrap_err().kind, ErrorKind::FragmentOutOfOrder);
        assert_eq!(s.advance(9, 2, 10, &limits).unwrap_err().kind, ErrorKind::UnknownSequence);
        assert_eq!(s.start(2, 11, 10, Dop::Send, None, &limits).unwrap_err().kind, ErrorKind::LimitFragments);
        s.start(2, 2, 10, Dop::RegSend, None, &limits).unwrap();
        assert_eq!(s.start(3, 2, 10, Dop::Send, None, &limits).unwrap_err().kind, ErrorKind::LimitSequences);
        assert_eq!(dop_of(s.advance(1, 2, 10, &limits).unwrap()), (Dop::Send, false));
        assert_eq!(dop_of(s.advance(1, 1, 10, &limits).unwrap()), (Dop::Send, true));
        assert_eq!(dop_of(s.advance(2, 1, 10, &limits).unwrap()), (Dop::RegSend, true));
        assert!(s.is_empty());
        // each continuation costs its bytes plus the overhead
        let small = Limits { max_message_bytes: 10 + 2 * FRAGMENT_OVERHEAD as u64 + 19, ..limits };
        s.start(4, 3, 10, Dop::Send, None, &small).unwrap();
        s.advance(4, 2, 10, &small).unwrap();
        assert_eq!(s.advance(4, 1, 10, &small).unwrap_err().kind, ErrorKind::LimitMessageBytes);
        // empty continuations are not free
        let tiny = Limits { max_message_bytes: 10 + 2 * FRAGMENT_OVERHEAD as u64 - 1, ..limits };
        s.start(5, 3, 10, Dop::Send, None, &tiny).unwrap();
        s.advance(5, 2, 0, &tiny).unwrap();
        assert_eq!(s.advance(5, 1, 0, &tiny).unwrap_err().kind, ErrorKind::LimitMessageBytes);
    }
}
