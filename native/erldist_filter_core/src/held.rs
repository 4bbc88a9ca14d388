//! A fragmented message held until its last fragment (SPEC decision 3), so
//! it can be classified whole, and the atom-cache bookkeeping that holding
//! requires (SPEC §4.10): other frames keep flowing to the VM meanwhile and
//! may overwrite cache slots the held message uses.
//!
//! - On arrival of the header fragment, its new cache entries are
//!   *committed* at once (a no-op frame carrying the same header), so frames
//!   that overtake the held message find the atoms the sender put there.
//! - On completion the header is *reconciled* with the cache as it is now:
//!   entries whose slot was overwritten meanwhile become new entries carrying
//!   the message's own atom, and a *rollback* frame afterwards restores what
//!   the slot holds for everyone else.

use std::ops::Range;
use std::sync::Arc;

use crate::atom_cache::AtomCache;
use crate::header::{self, AtomTable, TableEntry, TAG_FRAGMENT_CONT, VERSION_MAGIC};
use crate::rewrite;

/// Offset of the FragmentId field in an 'E'/'F' frame.
pub(crate) const FRAGMENT_ID_AT: usize = 10;
/// Bytes before the header in an 'E' frame (131, 'E', SequenceId, FragmentId).
pub(crate) const FRAGMENT_PREFIX: usize = 18;

/// What one fragment costs besides its payload bytes, counted against
/// `max_buffered_bytes` and `max_message_bytes` so that a flood of empty
/// continuations is not free: its offset in [`Held::cuts`] (8 bytes) while
/// held, and when re-emitted its 18-byte 'F' header, the vector holding it
/// (24) and the `{emit, Binary}` action the NIF builds (about 14 more).
pub const FRAGMENT_OVERHEAD: usize = 64;

/// The message so far, laid out as its compacted frame: the header
/// fragment, then every continuation's payload bytes.
#[derive(Debug)]
pub struct Held {
    /// `131 'E' Seq N header control payload...` as received.
    pub buf: Vec<u8>,
    /// The header bytes in `buf`.
    pub header: Range<usize>,
    /// The header's references.
    pub table: AtomTable,
    /// Where the control starts in `buf`.
    pub body: usize,
    /// Where each continuation's payload starts in `buf`.
    pub cuts: Vec<usize>,
    /// Total fragments (the header fragment's FragmentId).
    pub fragments: u64,
    /// Bytes reserved for `buf` up front (see [`Held::new`]).
    pub reserved: usize,
}

impl Held {
    /// Start holding from the header fragment `frame` (taken as is: a frame
    /// the framer assembled is not copied again), with room for `reserve`
    /// bytes so that the continuations are appended without regrowing and
    /// recopying the buffer. The caller bounds `reserve` by the limits
    /// (the peer chooses the fragment count it is estimated from), and
    /// counts what is not filled yet ([`Held::unfilled`]) against them when
    /// it reserves for the next message.
    pub fn new(
        mut frame: Vec<u8>,
        header: Range<usize>,
        table: AtomTable,
        body: usize,
        fragments: u64,
        reserve: usize,
    ) -> Held {
        frame.reserve_exact(reserve.saturating_sub(frame.len()));
        Held { buf: frame, header, table, body, cuts: Vec::new(), fragments, reserved: reserve }
    }

    /// Add a continuation's payload bytes.
    pub fn append(&mut self, payload: &[u8]) {
        self.cuts.push(self.buf.len());
        self.buf.extend_from_slice(payload);
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// What holding it costs, as the limits count it: its bytes plus
    /// [`FRAGMENT_OVERHEAD`] per continuation.
    pub fn cost(&self) -> usize {
        self.buf.len().saturating_add(self.cuts.len().saturating_mul(FRAGMENT_OVERHEAD))
    }

    /// Bytes reserved up front and not filled yet.
    pub fn unfilled(&self) -> usize {
        self.reserved.saturating_sub(self.buf.len())
    }

    /// The sequence id (from the header fragment).
    pub fn sequence_id(&self) -> u64 {
        self.buf.get(2..FRAGMENT_ID_AT).map_or(0, |b| b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    }

    /// Reconcile the header with `cache` as it is now, rewriting it in
    /// `buf` if needed (`rewrote` says so). Returns the rollback frame to
    /// emit after the message, if any slot was overwritten meanwhile.
    pub fn reconcile(&mut self, cache: &AtomCache, dflags: u64, rewrote: &mut bool) -> Option<Vec<u8>> {
        let mut rollback: Vec<TableEntry> = Vec::new();
        let mut old_became_new = false;
        let mut new_became_old = false;
        let mut rewritten = self.table.clone();
        for (i, e) in rewritten.iter_mut().enumerate() {
            let current = cache.get(e.index);
            if current == Some(&e.atom) {
                // Still there: an old reference will do, unless another
                // entry of this header names the same slot.
                let shared = self.table.iter().enumerate().any(|(j, o)| j != i && o.index == e.index);
                if e.new && !shared {
                    e.new = false;
                    new_became_old = true;
                }
            } else {
                if let Some(now) = current {
                    if !rollback.iter().any(|r| r.index == e.index) {
                        rollback.push(TableEntry { index: e.index, new: true, atom: now.clone() });
                    }
                }
                old_became_new |= !e.new;
                e.new = true;
            }
        }
        if old_became_new || (!rollback.is_empty() && new_became_old) {
            let mut bytes = Vec::new();
            header::encode_atom_table(&rewritten, dflags, &mut bytes);
            self.replace_header(&bytes);
            *rewrote = true;
        }
        if rollback.is_empty() {
            return None;
        }
        Some(rewrite::rollback_frame(self.sequence_id(), &rollback, dflags))
    }

    fn replace_header(&mut self, bytes: &[u8]) {
        let old = self.header.clone();
        let delta = bytes.len() as isize - old.len() as isize;
        self.buf.splice(old.clone(), bytes.iter().copied());
        self.header = old.start..old.start + bytes.len();
        let shift = |p: usize| (p as isize + delta) as usize;
        self.body = shift(self.body);
        for c in &mut self.cuts {
            *c = shift(*c);
        }
    }

    /// Set the FragmentId field of the header fragment.
    pub fn set_fragment_id(&mut self, id: u64) {
        if let Some(field) = self.buf.get_mut(FRAGMENT_ID_AT..FRAGMENT_PREFIX) {
            field.copy_from_slice(&id.to_be_bytes());
        }
    }

    /// The message as its original fragments (header possibly
    /// reconciled), to be emitted one at a time: the buffer is shared with
    /// the frames emitted, not copied into each.
    /// Call [`Held::set_fragment_id`] with the total first.
    pub fn into_fragments(self) -> Fragments {
        let cost = self.cost();
        let sequence_id = self.sequence_id();
        Fragments { buf: Arc::new(self.buf), cuts: self.cuts, sequence_id, fragments: self.fragments, cost }
    }
}

/// A finished held message cut back into its fragments.
#[derive(Debug)]
pub struct Fragments {
    buf: Arc<Vec<u8>>,
    cuts: Vec<usize>,
    sequence_id: u64,
    fragments: u64,
    cost: usize,
}

impl Fragments {
    /// How many frames [`Fragments::fragment`] gives: the header fragment
    /// and one per continuation.
    pub fn count(&self) -> usize {
        self.cuts.len() + 1
    }

    /// What it still holds, as [`Held::cost`] counted it.
    pub fn cost(&self) -> usize {
        self.cost
    }

    /// Frame `k`: 0 is the header fragment, then `131 'F' Seq Id payload`
    /// for each continuation, ids counting down, each a range of the shared
    /// buffer behind its 18-byte head. Built one at a time so that a
    /// message of many fragments is re-emitted over several calls.
    pub fn fragment(&self, k: usize) -> Option<Fragment> {
        let end = |i: usize| self.cuts.get(i).copied().unwrap_or(self.buf.len());
        if k == 0 {
            return Some(Fragment { head: None, buf: Arc::clone(&self.buf), range: 0..end(0) });
        }
        let (a, b) = (*self.cuts.get(k - 1)?, end(k));
        let id = self.fragments.saturating_sub(k as u64);
        let mut head = [0u8; FRAGMENT_PREFIX];
        head[0] = VERSION_MAGIC;
        head[1] = TAG_FRAGMENT_CONT;
        head[2..FRAGMENT_ID_AT].copy_from_slice(&self.sequence_id.to_be_bytes());
        head[FRAGMENT_ID_AT..].copy_from_slice(&id.to_be_bytes());
        Some(Fragment { head: Some(head), buf: Arc::clone(&self.buf), range: a..b.max(a) })
    }
}

/// One frame re-emitted from a held message: `head` (if any), then bytes
/// `range` of the message's buffer, shared by all its frames. The caller
/// writes both into the one binary it emits ([`Fragment::write_to`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    head: Option<[u8; FRAGMENT_PREFIX]>,
    buf: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl Fragment {
    /// The head written before the bytes (empty for a header fragment).
    pub fn head(&self) -> &[u8] {
        self.head.as_ref().map_or(&[], |h| &h[..])
    }

    /// The bytes after the head.
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.range.clone()).unwrap_or(&[])
    }

    /// Length of the frame.
    pub fn len(&self) -> usize {
        self.head().len() + self.body().len()
    }

    /// Whether the frame is empty (never: it has a head or a header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write the frame into `dst`, which must be [`Fragment::len`] bytes
    /// long; false (and nothing written) otherwise.
    pub fn write_to(&self, dst: &mut [u8]) -> bool {
        let (head, body) = (self.head(), self.body());
        if dst.len() != head.len() + body.len() {
            return false;
        }
        let (a, b) = dst.split_at_mut(head.len());
        a.copy_from_slice(head);
        b.copy_from_slice(body);
        true
    }

    /// The frame as one vector (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        v.extend_from_slice(self.head());
        v.extend_from_slice(self.body());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fragments come back as they arrived: the header fragment with
    /// its FragmentId, then `131 'F' Seq Id payload` for each continuation,
    /// ids counting down, each from the one shared buffer.
    #[test]
    fn fragments_are_the_frames_as_received() {
        let seq = 0x0102_0304_0506_0708u64;
        let mut header = vec![VERSION_MAGIC, header::TAG_FRAGMENT_HEADER];
        header.extend(seq.to_be_bytes());
        header.extend(3u64.to_be_bytes());
        header.extend([0, 1, 2, 3]); // stands for header, control, payload
        let mut held = Held::new(header.clone(), 18..19, Vec::new(), 19, 3, 64);
        held.append(&[4, 5, 6]);
        held.append(&[]);
        held.set_fragment_id(3);
        let fragments = held.into_fragments();
        assert_eq!(fragments.count(), 3);
        let cont = |id: u64, payload: &[u8]| {
            let mut f = vec![VERSION_MAGIC, TAG_FRAGMENT_CONT];
            f.extend(seq.to_be_bytes());
            f.extend(id.to_be_bytes());
            f.extend(payload);
            f
        };
        let got: Vec<Fragment> = (0..3).filter_map(|k| fragments.fragment(k)).collect();
        let want = [header, cont(2, &[4, 5, 6]), cont(1, &[])];
        assert_eq!(got.len(), 3);
        for (f, w) in got.iter().zip(want.iter()) {
            assert_eq!(&f.to_vec(), w);
            assert_eq!(f.len(), w.len());
            let mut dst = vec![0; f.len()];
            assert!(f.write_to(&mut dst));
            assert_eq!(&dst, w);
            assert!(!f.write_to(&mut vec![0; f.len() + 1]), "a wrong length writes nothing");
        }
        assert!(fragments.fragment(3).is_none());
    }
}
