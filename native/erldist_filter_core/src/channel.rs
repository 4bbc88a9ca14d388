//! The per-connection state machine: framing → header/atom cache →
//! fragments → control → (classify) → emitted frames.

mod fragmented;

use std::ops::Range;
use std::sync::Arc;

use crate::atom_cache::AtomCache;
use crate::atom_guard::{AtomExistence, AtomGuard, NewAtomTally};
use crate::budget::Budget;
use crate::classify::Verdict;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::fragments::Sequences;
use crate::frame::{parse_frame, FrameParts};
use crate::framing::{Framer, Packet, PacketSize};
use crate::header::{self, AtomTable, FrameKind};
use crate::held::{Fragment, Fragments};
use crate::inspect::{self, Inspected, LogEvent, Peer, Whole};
use crate::limits::Limits;
use crate::protected::Protected;
use crate::rate::{Bucket, Policy};
use crate::rewrite;
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
    /// A frame of a held message re-emitted as its fragments: a head and
    /// a range of the message's buffer, shared with its other fragments,
    /// so that the caller copies it once, into the binary it emits.
    Fragment(Fragment),
}

impl Emit {
    /// The frame's bytes, `input` being the slice given to the `recv`
    /// call that produced it (a copy; for tests and tools).
    pub fn to_vec(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Emit::Input(r) => input.get(r.clone()).unwrap_or(&[]).to_vec(),
            Emit::Owned(v) => v.clone(),
            Emit::Fragment(f) => f.to_vec(),
        }
    }
}

/// Everything one `recv` call produced, in wire order.
#[derive(Debug, Default)]
pub struct Actions {
    /// Frames to deliver.
    pub emits: Vec<Emit>,
    /// Messages to copy to the logger queue.
    pub logs: Vec<LogEvent>,
}

impl Actions {
    /// Forget everything (keeps the allocations).
    pub fn clear(&mut self) {
        self.emits.clear();
        self.logs.clear();
    }
}

/// Work charged per packet, on top of a unit per 64 of its bytes.
const PACKET_COST: u64 = 16;
/// Work charged per frame re-emitted from a held message: a message of
/// 2^20 empty fragments is re-emitted over many calls, not in one.
const EMIT_COST: u64 = 16;

/// A frame and where its bytes live.
enum Frame<'d> {
    /// In the caller's slice (emitted as a sub-binary of it).
    Input(&'d [u8], Range<usize>),
    /// Assembled by us across calls.
    Owned(Vec<u8>),
}

impl Frame<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Frame::Input(data, r) => data.get(r.clone()).unwrap_or(&[]),
            Frame::Owned(v) => v,
        }
    }

    fn into_emit(self) -> Emit {
        match self {
            Frame::Input(_, r) => Emit::Input(r),
            Frame::Owned(v) => Emit::Owned(v),
        }
    }
}

/// A one-frame message laid out for inspection.
fn one_frame<'m>(bytes: &'m [u8], p: &FrameParts, table: &'m [header::TableEntry]) -> Whole<'m> {
    Whole { bytes, prefix: 0..p.header.start, header: p.header.clone(), table, body: p.body, external: p.external() }
}

/// Whether a whole message's inline atoms fit the node's budget of new
/// atoms (always, with the guard off). If not: an error under `close`,
/// else the message is to be dropped, and is counted.
fn atoms_fit(
    guard: &mut AtomGuard,
    stats: &ChannelStats,
    limits: &Limits,
    m: &Whole<'_>,
    cx: &RecvContext<'_>,
) -> Result<bool, Error> {
    let Some(atoms) = cx.atoms else {
        return Ok(true);
    };
    match guard.check_inline(m, atoms, limits.atom_budget()) {
        Ok(n) => {
            stats.new_atom_count.add(n);
            Ok(true)
        }
        Err(e) if matches!(e.kind, ErrorKind::LimitNewAtoms | ErrorKind::LimitNewAtomsTotal) => {
            if limits.atom_policy == Policy::Close {
                // Counted with the other limits that close.
                return Err(e);
            }
            stats.limit_hits.inc();
            stats.atom_drop_count.inc();
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// What one [`Channel::recv`] call works with besides the bytes: the
/// switches, and what the core cannot know by itself (the time, the limits
/// now in force, which atoms exist).
#[derive(Clone, Copy)]
pub struct RecvContext<'c> {
    /// Inspection and rewriting switches.
    pub config: &'c Config,
    /// The limits from this call on, for packets not yet started (`None`:
    /// keep the channel's, those it was opened with or last given).
    pub limits: Option<Limits>,
    /// The time in milliseconds on any monotonic clock, for the flood
    /// limits (`None`: the time last given; the core never reads a clock).
    pub now_ms: Option<u64>,
    /// Which atoms exist on the node. The atom-table guard is on when this
    /// is given and `Limits::max_new_atoms` or `max_new_atoms_total` is not
    /// 0. Deliver the frames of one call before the next: atoms counted in
    /// one call are taken to exist then.
    pub atoms: Option<&'c dyn AtomExistence>,
}

impl<'c> RecvContext<'c> {
    /// `config` alone: the channel's limits and last time, no atom guard.
    pub fn new(config: &'c Config) -> Self {
        RecvContext { config, limits: None, now_ms: None, atoms: None }
    }

    /// With `limits` from this call on.
    pub fn with_limits(self, limits: Limits) -> Self {
        RecvContext { limits: Some(limits), ..self }
    }

    /// At time `now_ms`.
    pub fn at(self, now_ms: u64) -> Self {
        RecvContext { now_ms: Some(now_ms), ..self }
    }

    /// With the atom-table guard asking `atoms`.
    pub fn checking_atoms(self, atoms: &'c dyn AtomExistence) -> Self {
        RecvContext { atoms: Some(atoms), ..self }
    }
}

/// The receive side of one distribution connection.
#[derive(Debug)]
pub struct Channel {
    opts: ChannelOptions,
    stats: Arc<ChannelStats>,
    framer: Option<Framer>,
    cache: AtomCache,
    sequences: Sequences,
    peer: Peer,
    /// Redirect counter (the `Sort` of router messages).
    sort: u64,
    /// The current message's atom references (reused).
    table: AtomTable,
    /// Flood limits: byte and message buckets, and the time they see.
    bytes_bucket: Bucket,
    messages_bucket: Bucket,
    now_ms: u64,
    /// New atoms counted against the node's budget.
    atom_guard: AtomGuard,
    /// A finished held message whose fragments are still being emitted.
    draining: Option<Draining>,
}

/// A finished message re-emitted as its fragments, some per call.
#[derive(Debug)]
struct Draining {
    held: Fragments,
    /// The next fragment to emit.
    next: usize,
    /// The atom-cache rollback to emit after the last fragment.
    rollback: Option<Vec<u8>>,
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
            peer: Peer::default(),
            sort: 0,
            table: AtomTable::new(),
            bytes_bucket: Bucket::new(),
            messages_bucket: Bucket::new(),
            now_ms: 0,
            atom_guard: AtomGuard::default(),
            draining: None,
        }
    }

    /// Whether `bytes` more (and, if `message`, one more message) fit the
    /// rates now.
    fn admit(&mut self, bytes: u64, message: bool) -> bool {
        let l = &self.opts.limits;
        let bytes_ok = self.bytes_bucket.take(bytes, l.max_bytes_per_sec, self.now_ms);
        bytes_ok && (!message || self.messages_bucket.take(1, l.max_messages_per_sec, self.now_ms))
    }

    /// Traffic over a rate: an error under `close`, else count the drop.
    fn over_rate(&self) -> Result<(), Error> {
        self.stats.limit_hits.inc();
        if self.opts.limits.rate_policy == Policy::Close {
            return Err(Error::new(ErrorKind::LimitRate, 0));
        }
        self.stats.flood_drop_count.inc();
        Ok(())
    }

    /// Replace the set of protected processes (applies to the next message).
    pub fn set_protected(&mut self, protected: Arc<Protected>) {
        self.peer.protected = protected;
    }

    /// Name the sending node and its router (used by redirects).
    pub fn with_peer(mut self, peer: Peer) -> Self {
        self.peer = peer;
        self
    }

    /// Count new atoms into `tally`, shared by every channel of the node
    /// (by default each channel counts alone).
    pub fn with_atom_tally(self, tally: NewAtomTally) -> Self {
        self.with_atom_tallies(tally, NewAtomTally::default())
    }

    /// Count new atoms into `tally` (the node's, for `max_new_atoms`) and
    /// `all` (shared by every channel of every node, for
    /// `max_new_atoms_total`).
    pub fn with_atom_tallies(mut self, tally: NewAtomTally, all: NewAtomTally) -> Self {
        self.atom_guard = AtomGuard::new(tally, all);
        self
    }

    /// Feed bytes read from the socket, under `ctx` (applied first: its
    /// limits and time hold from this call on). Frames completed by these
    /// bytes are pushed to `out` in order, with the messages to log.
    /// Returns how many bytes of `data` were consumed: less than
    /// `data.len()` only when `budget` ran out, in which case call again
    /// with the rest. Partial packets are kept inside. Frames owed from an
    /// earlier call (see [`Channel::has_pending`]) come out first, and a
    /// call may end with frames still owed: call [`Channel::flush`] (or
    /// `recv` again) until none is.
    ///
    /// With packet size 0 each call carries exactly one whole frame (an
    /// empty one is a tick).
    pub fn recv(
        &mut self,
        data: &[u8],
        ctx: &RecvContext<'_>,
        budget: &mut Budget,
        out: &mut Actions,
    ) -> Result<usize, Error> {
        if let Some(limits) = ctx.limits {
            self.opts.limits = limits;
        }
        if let Some(now_ms) = ctx.now_ms {
            self.now_ms = now_ms;
        }
        // Frames still owed come first; the input waits until they are out.
        if !self.flush(budget, out) {
            return Ok(0);
        }
        let atoms = ctx.atoms.filter(|_| self.opts.limits.atom_budget().is_on());
        if atoms.is_some() {
            self.atom_guard.start_batch();
        }
        let cx = &RecvContext { atoms, ..*ctx };
        let Some(mut framer) = self.framer.take() else {
            if data.len() as u64 > self.opts.limits.max_packet_len {
                let e = Error::new(ErrorKind::LimitPacketLen, 0);
                self.count_limit(&e);
                return Err(e);
            }
            self.stats.bytes_in.add(data.len() as u64);
            budget.spend(PACKET_COST + data.len() as u64 / 64);
            let result = if data.is_empty() {
                self.on_tick();
                Ok(())
            } else {
                self.stats.fastpath.inc();
                self.on_frame(Frame::Input(data, 0..data.len()), cx, out).and_then(|()| self.check_held(0))
            };
            // What is left of a re-emitted message waits for `flush`.
            self.flush(budget, out);
            if let Err(e) = &result {
                self.count_limit(e);
            }
            return result.map(|()| data.len());
        };
        let mut pos = 0;
        // At least one step per call, so even a spent budget makes progress.
        let result = loop {
            if pos >= data.len() {
                break Ok(pos);
            }
            let before = pos;
            let step = match framer.next(data, &mut pos, self.opts.limits.max_packet_len) {
                Ok(None) => Ok(()),
                Ok(Some(Packet::Tick)) => {
                    self.on_tick();
                    Ok(())
                }
                Ok(Some(Packet::Input(range))) => {
                    // Fast path: decoded in place, emitted without a copy.
                    self.stats.fastpath.inc();
                    self.on_frame(Frame::Input(data, range), cx, out)
                }
                Ok(Some(Packet::Owned(frame))) => {
                    // Slow path: assembled from the bytes of several calls.
                    self.stats.slowpath.inc();
                    self.on_frame(Frame::Owned(frame), cx, out)
                }
                Err(e) => Err(e),
            };
            budget.spend(PACKET_COST + (pos - before) as u64 / 64);
            if let Err(e) = step.and_then(|()| self.check_held(framer.buffered())) {
                break Err(e);
            }
            // A flush left unfinished means the budget is spent.
            if !self.flush(budget, out) || budget.exhausted() {
                break Ok(pos);
            }
        };
        self.framer = Some(framer);
        match &result {
            Ok(consumed) => self.stats.bytes_in.add(*consumed as u64),
            Err(e) => self.count_limit(e),
        }
        result
    }

    /// Whether frames of a finished message are still owed: call
    /// [`Channel::flush`] (or `recv`, which flushes first) until not.
    pub fn has_pending(&self) -> bool {
        self.draining.is_some()
    }

    /// Emit frames still owed by a re-emitted message, within `budget`.
    /// True when none is left.
    pub fn flush(&mut self, budget: &mut Budget, out: &mut Actions) -> bool {
        let Some(d) = self.draining.as_mut() else { return true };
        // At least one frame per call, so even a spent budget makes progress.
        while d.next < d.held.count() {
            if let Some(f) = d.held.fragment(d.next) {
                self.stats.emit_count.inc();
                out.emits.push(Emit::Fragment(f));
            }
            d.next += 1;
            budget.spend(EMIT_COST);
            if budget.exhausted() && d.next < d.held.count() {
                return false;
            }
        }
        if let Some(rollback) = self.draining.take().and_then(|d| d.rollback) {
            self.stats.rollback_atom_cache_count.inc();
            self.push_emit(out, Emit::Owned(rollback));
        }
        true
    }

    /// Count a limit that closes the connection (rates count themselves).
    fn count_limit(&self, e: &Error) {
        if e.kind.is_limit() && e.kind != ErrorKind::LimitRate {
            self.stats.limit_hits.inc();
        }
    }

    /// Enforce `max_buffered_bytes` on the partial packet plus held fragments.
    fn check_held(&self, partial: usize) -> Result<(), Error> {
        if (partial + self.sequences.held_bytes()) as u64 > self.opts.limits.max_buffered_bytes {
            return Err(Error::new(ErrorKind::LimitBufferedBytes, 0));
        }
        Ok(())
    }

    fn on_tick(&mut self) {
        self.stats.packet_count.inc();
        self.stats.dist_tick_count.inc();
    }

    fn push_emit(&self, out: &mut Actions, emit: Emit) {
        self.stats.emit_count.inc();
        out.emits.push(emit);
    }

    /// Decode one frame and decide what reaches the VM.
    fn on_frame(&mut self, frame: Frame<'_>, cx: &RecvContext<'_>, out: &mut Actions) -> Result<(), Error> {
        self.stats.packet_count.inc();
        let parsed = parse_frame(
            frame.bytes(),
            self.opts.dflags,
            &mut self.cache,
            &self.opts.limits,
            &self.stats,
            &mut self.table,
        )?;
        if let Some(atoms) = cx.atoms {
            if matches!(parsed.kind, FrameKind::Normal | FrameKind::FragmentHeader { .. }) {
                // A cache write cannot be skipped (later messages refer to
                // the slot), so too many new atoms here close.
                let n = self.atom_guard.check_header(&self.table, atoms, self.opts.limits.atom_budget())?;
                self.stats.new_atom_count.add(n);
            }
        }
        let starts_message = !matches!(parsed.kind, FrameKind::FragmentCont { .. });
        let admitted = self.admit(frame.bytes().len() as u64, starts_message);
        match parsed.kind {
            FrameKind::PassThrough | FrameKind::Normal | FrameKind::FragmentHeader { fragment_id: 1, .. }
                if !admitted =>
            {
                // Dropped for flooding: the header still reaches the VM.
                self.over_rate()?;
                let drop = rewrite::drop_frame(&one_frame(frame.bytes(), &parsed, &self.table));
                if !drop.is_empty() {
                    self.push_emit(out, Emit::Owned(drop));
                }
                Ok(())
            }
            FrameKind::PassThrough | FrameKind::Normal | FrameKind::FragmentHeader { fragment_id: 1, .. } => {
                self.on_whole_frame(frame, &parsed, cx, out)
            }
            FrameKind::FragmentHeader { sequence_id, fragment_id } => {
                self.on_fragment_header(frame, parsed, sequence_id, fragment_id, admitted, cx, out)
            }
            FrameKind::FragmentCont { sequence_id, fragment_id } if !admitted => {
                self.over_rate()?;
                if !self.sequences.discard(sequence_id) {
                    // Its first fragments already reached the VM.
                    return Err(Error::new(ErrorKind::LimitRate, 0));
                }
                self.on_continuation(frame, sequence_id, fragment_id, cx, out)
            }
            FrameKind::FragmentCont { sequence_id, fragment_id } => {
                self.on_continuation(frame, sequence_id, fragment_id, cx, out)
            }
        }
    }

    /// A message in one frame: inspect it, then emit it or its rewrite.
    fn on_whole_frame(
        &mut self,
        frame: Frame<'_>,
        p: &FrameParts,
        cx: &RecvContext<'_>,
        out: &mut Actions,
    ) -> Result<(), Error> {
        let whole = one_frame(frame.bytes(), p, &self.table);
        if !atoms_fit(&mut self.atom_guard, &self.stats, &self.opts.limits, &whole, cx)? {
            let drop = rewrite::drop_frame(&whole);
            if !drop.is_empty() {
                self.push_emit(out, Emit::Owned(drop));
            }
            return Ok(());
        }
        let cfg = cx.config;
        let ins =
            inspect::inspect(&whole, cfg, cfg.deep_packet_inspection, &self.peer, &mut self.sort, &self.opts.limits)?;
        let (rewrite, log) = self.account(ins);
        out.logs.extend(log);
        match rewrite {
            None => self.push_emit(out, frame.into_emit()),
            Some(bytes) if bytes.is_empty() => {}
            Some(bytes) => self.push_emit(out, Emit::Owned(bytes)),
        }
        Ok(())
    }

    /// Count an inspected message; hand back its rewrite and log event.
    fn account(&self, ins: Inspected) -> (Option<Vec<u8>>, Option<LogEvent>) {
        let c = self.stats.dop(ins.dop);
        c.seen.inc();
        match ins.decision.verdict {
            Verdict::Emit => c.emit.inc(),
            Verdict::Drop => {
                c.drop.inc();
                if ins.rewrite.as_ref().is_some_and(|r| !r.is_empty()) {
                    self.stats.drop_count.inc();
                }
            }
            Verdict::Redirect | Verdict::SpawnRedirect => {
                // Redirects count as emitted, as in the C NIF.
                c.emit.inc();
                c.redirect.inc();
                self.stats.redirect_count.inc();
            }
        }
        if ins.log.is_some() {
            c.log.inc();
            self.stats.log_count.inc();
        }
        (ins.rewrite, ins.log)
    }

    /// Check a whole-message frame this channel emitted last, against the
    /// atom cache as it is now, as strictly as the VM reads it (whatever
    /// the inspection switches): why the VM refused it, if it did.
    /// Fragments are not checked. Changes nothing in the channel.
    pub fn check_frame(&self, frame: &[u8]) -> Result<(), Error> {
        let mut cache = self.cache.clone();
        let mut table = AtomTable::new();
        let stats = ChannelStats::default();
        let p = parse_frame(frame, self.opts.dflags, &mut cache, &self.opts.limits, &stats, &mut table)?;
        match p.kind {
            FrameKind::PassThrough | FrameKind::Normal | FrameKind::FragmentHeader { fragment_id: 1, .. } => {
                inspect::check(&one_frame(frame, &p, &table))
            }
            _ => Ok(()),
        }
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ChannelOptions {
        &self.opts
    }

    /// Shared handle on the counters, readable without the channel.
    pub fn stats(&self) -> &Arc<ChannelStats> {
        &self.stats
    }

    /// Bytes held: the partial packet plus held fragments (with their
    /// overhead), and a message still being re-emitted.
    pub fn buffered_bytes(&self) -> u64 {
        let draining = self.draining.as_ref().map_or(0, |d| d.held.cost());
        (self.framer.as_ref().map_or(0, |f| f.buffered()) + self.sequences.held_bytes() + draining) as u64
    }

    /// Bytes reserved ahead of held fragmented messages and not filled
    /// yet, besides [`Channel::buffered_bytes`]: a message reserves only
    /// what `max_buffered_bytes` leaves beside the two.
    pub fn reserved_bytes(&self) -> u64 {
        self.sequences.unfilled() as u64
    }

    /// `(received, declared)` bytes of the packet being assembled.
    pub fn partial_packet(&self) -> (u64, u64) {
        let (got, declared) = self.framer.as_ref().map_or((0, 0), |f| f.progress());
        (got as u64, declared as u64)
    }

    /// The largest message the next `recv` may have to finish at once: the
    /// packet being assembled, or the largest held fragmented message.
    /// Callers run steps that may finish a large one where a long step is
    /// harmless (a dirty scheduler).
    pub fn pending_message_bytes(&self) -> u64 {
        let partial = self.framer.as_ref().map_or(0, |f| f.progress().1);
        (partial.max(self.sequences.largest_held())) as u64
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
