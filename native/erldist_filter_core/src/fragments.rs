//! Fragmented messages in flight: which sequences are open, which fragment
//! each expects next, within the channel's limits.

use std::collections::HashMap;

use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::limits::Limits;

/// One message whose fragments are still arriving.
#[derive(Debug)]
pub struct Sequence {
    /// FragmentId the next continuation must carry.
    pub next_id: u64,
    /// The message's operation (from the header fragment).
    pub dop: Dop,
}

/// Open sequences of one channel, keyed by SequenceId.
#[derive(Debug, Default)]
pub struct Sequences {
    open: HashMap<u64, Sequence>,
}

impl Sequences {
    /// Register a header fragment announcing `fragments` fragments (> 1).
    pub fn start(&mut self, id: u64, fragments: u64, dop: Dop, limits: &Limits) -> Result<(), Error> {
        if fragments > limits.max_fragments {
            return Err(Error::new(ErrorKind::LimitFragments, 10));
        }
        if self.open.contains_key(&id) {
            return Err(Error::new(ErrorKind::DuplicateSequence, 2));
        }
        if self.open.len() as u64 >= limits.max_sequences {
            return Err(Error::new(ErrorKind::LimitSequences, 2));
        }
        self.open.insert(id, Sequence { next_id: fragments - 1, dop });
        Ok(())
    }

    /// Account for continuation `fragment_id` of sequence `id`. Returns the
    /// message's operation and whether this was its last fragment.
    pub fn advance(&mut self, id: u64, fragment_id: u64) -> Result<(Dop, bool), Error> {
        let seq = self.open.get_mut(&id).ok_or(Error::new(ErrorKind::UnknownSequence, 2))?;
        if fragment_id != seq.next_id {
            return Err(Error::new(ErrorKind::FragmentOutOfOrder, 10));
        }
        let dop = seq.dop;
        if fragment_id == 1 {
            self.open.remove(&id);
            return Ok((dop, true));
        }
        seq.next_id = fragment_id - 1;
        Ok((dop, false))
    }

    /// Number of open sequences.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_must_count_down_and_sequences_are_bounded() {
        let limits = Limits { max_sequences: 2, max_fragments: 10, ..Limits::default() };
        let mut s = Sequences::default();
        s.start(1, 3, Dop::Send, &limits).unwrap();
        assert_eq!(s.start(1, 3, Dop::Send, &limits).unwrap_err().kind, ErrorKind::DuplicateSequence);
        assert_eq!(s.advance(1, 1).unwrap_err().kind, ErrorKind::FragmentOutOfOrder);
        assert_eq!(s.advance(9, 2).unwrap_err().kind, ErrorKind::UnknownSequence);
        assert_eq!(s.start(2, 11, Dop::Send, &limits).unwrap_err().kind, ErrorKind::LimitFragments);
        s.start(2, 2, Dop::RegSend, &limits).unwrap();
        assert_eq!(s.start(3, 2, Dop::Send, &limits).unwrap_err().kind, ErrorKind::LimitSequences);
        assert_eq!(s.advance(1, 2).unwrap(), (Dop::Send, false));
        assert_eq!(s.advance(1, 1).unwrap(), (Dop::Send, true));
        assert_eq!(s.advance(2, 1).unwrap(), (Dop::RegSend, true));
        assert!(s.is_empty());
    }
}
