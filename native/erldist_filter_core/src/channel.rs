//! The per-connection state machine: framing → header/atom cache →
//! fragments → control → (classify) → emitted frames.

use std::ops::Range;
use std::sync::Arc;

use crate::atom_cache::AtomCache;
use crate::config::Config;
use crate::control;
use crate::cursor::Cursor;
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::fragments::Sequences;
use crate::framing::{Framer, Packet, PacketSize};
use crate::header::{self, FrameKind};
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

/// Work charged per packet, on top of the bytes it makes us scan.
const PACKET_COST: u64 = 16;

/// What to do with a decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Deliver it unchanged.
    Emit,
}

/// The receive side of one distribution connection.
#[derive(Debug)]
pub struct Channel {
    opts: ChannelOptions,
    stats: Arc<ChannelStats>,
    framer: Option<Framer>,
    cache: AtomCache,
    sequences: Sequences,
}

impl Channel {
    /// A channel in its initial state.
    pub fn new(opts: ChannelOptions) -> Self {
        let framer = (opts.packet_size != PacketSize::Zero).then(|| Framer::new(opts.packet_size));
        Channel {
            opts,
            stats: Arc::new(ChannelStats::default()),
            framer,
            cache: AtomCache::default(),
            sequences: Sequences::default(),
        }
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
        let _ = cfg;
        let Some(mut framer) = self.framer.take() else {
            self.stats.bytes_in.add(data.len() as u64);
            budget.spend(PACKET_COST + data.len() as u64 / 64);
            if data.is_empty() {
                self.on_tick();
            } else if self.decode_frame(data)? == Outcome::Emit {
                self.push_emit(out, Emit::Input(0..data.len()));
            }
            return Ok(data.len());
        };
        let mut pos = 0;
        // At least one step per call, so even a spent budget makes progress.
        let result = loop {
            if pos >= data.len() {
                break Ok(pos);
            }
            let before = pos;
            let packet = framer.next(data, &mut pos, self.opts.limits.max_packet_len);
            budget.spend(PACKET_COST + (pos - before) as u64 / 64);
            let done = match packet {
                Ok(None) => Ok(()),
                Ok(Some(Packet::Tick)) => {
                    self.on_tick();
                    Ok(())
                }
                Ok(Some(Packet::Input(range))) => {
                    // Fast path: the frame lies in the caller's bytes and is
                    // answered (emitted) without a copy.
                    self.stats.fastpath.inc();
                    let frame = data.get(range.clone()).unwrap_or(&[]);
                    self.decode_frame(frame).map(|outcome| match outcome {
                        Outcome::Emit => self.push_emit(out, Emit::Input(range)),
                    })
                }
                Ok(Some(Packet::Owned(frame))) => {
                    // Slow path: assembled from bytes of several calls.
                    self.stats.slowpath.inc();
                    self.decode_frame(&frame).map(|outcome| match outcome {
                        Outcome::Emit => self.push_emit(out, Emit::Owned(frame)),
                    })
                }
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                break Err(e);
            }
            if budget.exhausted() {
                break Ok(pos);
            }
        };
        if let Ok(consumed) = result {
            self.stats.bytes_in.add(consumed as u64);
        }
        if framer.buffered() as u64 > self.opts.limits.max_buffered_bytes {
            self.framer = Some(framer);
            return Err(Error::new(ErrorKind::LimitBufferedBytes, 0));
        }
        self.framer = Some(framer);
        result
    }

    fn on_tick(&mut self) {
        self.stats.packet_count.inc();
        self.stats.dist_tick_count.inc();
    }

    fn push_emit(&self, out: &mut Actions, emit: Emit) {
        self.stats.emit_count.inc();
        out.emits.push(emit);
    }

    /// Decode one frame, update the atom cache, sequences and counters, and
    /// decide what to do with it (for now: emit it unchanged).
    fn decode_frame(&mut self, frame: &[u8]) -> Result<Outcome, Error> {
        let stats = &*self.stats;
        stats.packet_count.inc();
        let mut cur = Cursor::new(frame);
        let dflags = self.opts.dflags;
        match header::read_frame_kind(&mut cur, dflags)? {
            FrameKind::PassThrough => {
                stats.dist_pass_through_count.inc();
                let head = control::read_external_head(&mut cur)?;
                self.count_message(head.dop);
            }
            FrameKind::Normal => {
                stats.dist_header_count.inc();
                header::read_atom_table(&mut cur, &mut self.cache, dflags, &self.opts.limits, stats)?;
                let head = control::read_head(&mut cur)?;
                self.count_message(head.dop);
            }
            FrameKind::FragmentHeader { sequence_id, fragment_id } => {
                stats.dist_frag_header_count.inc();
                header::read_atom_table(&mut cur, &mut self.cache, dflags, &self.opts.limits, stats)?;
                let head = control::read_head(&mut cur)?;
                if fragment_id == 1 {
                    self.count_message(head.dop);
                } else {
                    self.sequences.start(sequence_id, fragment_id, head.dop, &self.opts.limits)?;
                    self.stats.dop(head.dop).seen.inc();
                }
            }
            FrameKind::FragmentCont { sequence_id, fragment_id } => {
                stats.dist_frag_cont_count.inc();
                let (dop, last) = self.sequences.advance(sequence_id, fragment_id)?;
                if last {
                    self.stats.dop(dop).emit.inc();
                }
            }
        }
        Ok(Outcome::Emit)
    }

    /// A whole message was decoded and will be emitted unchanged.
    fn count_message(&self, dop: Dop) {
        let c = self.stats.dop(dop);
        c.seen.inc();
        c.emit.inc();
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

    /// Bytes held: the partial packet (and, later, held fragments).
    pub fn buffered_bytes(&self) -> u64 {
        self.framer.as_ref().map_or(0, |f| f.buffered() as u64)
    }

    /// `(received, declared)` bytes of the packet being assembled.
    pub fn partial_packet(&self) -> (u64, u64) {
        let (got, declared) = self.framer.as_ref().map_or((0, 0), |f| f.progress());
        (got as u64, declared as u64)
    }

    /// Fragmented messages in flight.
    pub fn open_sequences(&self) -> usize {
        self.sequences.len()
    }

    /// The atom cache as `(index, atom)` in ascending index order, or `None`
    /// on a pass-through channel.
    pub fn atom_cache_entries(&self) -> Option<Vec<(u16, crate::atom::Atom)>> {
        header::uses_headers(self.opts.dflags).then(|| self.cache.entries())
    }
}
