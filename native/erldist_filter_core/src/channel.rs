//! The per-connection state machine: framing → header/atom cache →
//! fragments → control → (classify) → emitted frames.

use std::ops::Range;
use std::sync::Arc;

use crate::config::Config;
use crate::error::Error;
use crate::framing::PacketSize;
use crate::limits::Limits;
use crate::stats::ChannelStats;

/// How a channel is opened: what the handshake negotiated.
#[derive(Clone, Copy, Debug)]
pub struct ChannelOptions {
    /// Length-prefix size of every packet.
    pub packet_size: PacketSize,
    /// Negotiated distribution flags (`DFLAG_*`).
    pub dflags: u64,
    /// Bounds on what the peer can make us hold.
    pub limits: Limits,
}

/// One frame to hand to `erlang:dist_ctrl_put_data/2`, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emit {
    /// Bytes of the slice given to this `recv` call, unchanged: the caller
    /// emits a sub-binary of its input (no copy).
    Input(Range<usize>),
    /// A frame the channel assembled (spanning calls) or rewrote.
    Owned(Vec<u8>),
}

/// Everything one `recv` call produced, in wire order.
#[derive(Debug, Default)]
pub struct Actions {
    /// Frames to deliver.
    pub emits: Vec<Emit>,
}

impl Actions {
    /// Forget everything (keeps the allocations).
    pub fn clear(&mut self) {
        self.emits.clear();
    }
}

/// Work units (about one per byte scanned, a few per packet) a `recv` call
/// may spend before it returns early.
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

/// The receive side of one distribution connection.
#[derive(Debug)]
pub struct Channel {
    opts: ChannelOptions,
    stats: Arc<ChannelStats>,
}

impl Channel {
    /// A channel in its initial state.
    pub fn new(opts: ChannelOptions) -> Self {
        Channel { opts, stats: Arc::new(ChannelStats::default()) }
    }

    /// Feed bytes read from the socket. Frames completed by these bytes are
    /// pushed to `out` in order. Returns how many bytes of `data` were
    /// consumed: less than `data.len()` only when `budget` ran out, in which
    /// case call again with the rest. Partial packets are kept inside.
    ///
    /// With packet size 0 each call carries exactly one whole frame (an
    /// empty one is a tick).
    pub fn recv(
        &mut self,
        data: &[u8],
        cfg: &Config,
        budget: &mut Budget,
        out: &mut Actions,
    ) -> Result<usize, Error> {
        let _ = (cfg, budget, out);
        Ok(data.len())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ChannelOptions {
        &self.opts
    }

    /// Replace the limits (applies to packets not yet started).
    pub fn set_limits(&mut self, limits: Limits) {
        self.opts.limits = limits;
    }

    /// Shared handle on the counters, readable without the channel.
    pub fn stats(&self) -> &Arc<ChannelStats> {
        &self.stats
    }

    /// Bytes held: the partial packet plus held fragments.
    pub fn buffered_bytes(&self) -> u64 {
        0
    }

    /// `(received, declared)` bytes of the packet being assembled.
    pub fn partial_packet(&self) -> (u64, u64) {
        (0, 0)
    }

    /// The atom cache as `(index, atom)` in ascending index order, or `None`
    /// on a pass-through channel.
    pub fn atom_cache_entries(&self) -> Option<Vec<(u16, crate::atom::Atom)>> {
        None
    }
}
