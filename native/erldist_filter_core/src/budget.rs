//! The work budget of one call: how much a `recv`, `flush` or term scan may
//! do before it returns early so that its caller can yield.
//!
//! A unit is not a byte. What each charge site spends:
//! - [`Channel::recv`](crate::Channel::recv): 16 per framing step (a
//!   packet or tick completed, or bytes kept towards a packet not complete
//!   yet), plus 1 per 64 bytes of the call's input that step took, length
//!   prefix included (with packet size 0: 16 plus 1 per 64 bytes of the
//!   frame).
//!   Decoding and inspecting what the packet completes are not charged:
//!   a held message finished by a small last fragment is read whole at
//!   that fragment's price (callers see it coming in
//!   [`Channel::pending_message_bytes`](crate::Channel::pending_message_bytes)).
//! - [`Channel::flush`](crate::Channel::flush) (and `recv`, which flushes
//!   first): 16 per frame re-emitted from a held message.
//! - [`Scanner::run`](crate::term::Scanner::run): 1 per term plus 1 per 64
//!   bytes of it. The channel runs its scans unbudgeted (their bytes are
//!   charged as the packet's); the budget matters to direct callers.
//!
//! Each call makes progress (one packet, one frame, one term) even on an
//! empty budget, so a spent budget never stalls its caller.

/// Work units a call may spend before it returns early.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    remaining: u64,
}

impl Budget {
    /// A budget of `units`.
    pub fn new(units: u64) -> Self {
        Budget { remaining: units }
    }

    /// Spend `units`; saturates at zero.
    #[inline]
    pub fn spend(&mut self, units: u64) {
        self.remaining = self.remaining.saturating_sub(units);
    }

    /// Whether nothing is left.
    #[inline]
    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// Units left.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}
