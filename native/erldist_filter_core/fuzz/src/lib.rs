//! Shared by the fuzz targets and the seed writer: how a fuzz input is laid
//! out, and the invariant checks each target runs on it.
//!
//! `channel_recv` input layout:
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | mode: bits 0-2 packet size (`[4, 0, 1, 2, 8]`, index mod 5); bit 3 reframe; bits 4-5 dflags set; bits 6-7 limits set |
//! | 1 | budget per call: 255 = unlimited, else `1 + b*b` units |
//! | 2 | config switches, one bit each: deep_packet_inspection, compact_fragments, logging, redirect_dist_operations, otp_name_blocklist, untrusted |
//! | 3 | `n`: number of cut lengths (mod 32) |
//! | 4..4+n | cut lengths: the chunked run feeds pieces of `b + 1` bytes, cycling |
//! | rest | the stream |
//!
//! With *reframe* the stream is read as 4-byte length-prefixed packets (as in
//! the corpus files) and re-encoded with the chosen prefix size, so corpus
//! seeds stay meaningful for every packet size; without it the bytes are fed
//! raw. With packet size 0 each packet (reframe) or each cut piece (raw) is
//! one call.

use erldist_filter_core::fuzzing::{read_atom_table, read_frame_kind, AtomCache, AtomTable, Cursor, FrameKind};
use erldist_filter_core::ChannelStats;
use erldist_filter_core::{Actions, Budget, Channel, ChannelOptions, Config, Emit, Error, ErrorKind, Limits, PacketSize, RecvContext};

/// The corpus's negotiated flags (OTP 25 defaults).
pub const CORPUS_DFLAGS: u64 = 0xD07DF7FBD;

/// Flag sets a fuzz input picks from.
pub const DFLAGS: [u64; 4] = [
    CORPUS_DFLAGS,
    CORPUS_DFLAGS & !0x80_0000,           // no DFLAG_FRAGMENTS
    CORPUS_DFLAGS & !(0x2000 | 0x80_0000), // pass-through frames only
    CORPUS_DFLAGS & !0x1_0000,            // Latin-1 atoms
];

/// Packet sizes by index.
pub const PACKET_SIZES: [PacketSize; 5] =
    [PacketSize::Four, PacketSize::Zero, PacketSize::One, PacketSize::Two, PacketSize::Eight];

/// Limit sets a fuzz input picks from (all small, so limits are hit).
pub fn limits(i: u8) -> Limits {
    match i & 3 {
        0 => Limits {
            max_packet_len: 1 << 17,
            max_fragments: 64,
            max_sequences: 8,
            max_buffered_bytes: 1 << 18,
            max_atom_bytes: 1020,
            max_message_bytes: 1 << 18,
            // the atom guard on under `close` with no rate (never over
            // budget, as below), so fragmented messages stream past it
            max_new_atoms: u64::MAX,
            ..Limits::default()
        },
        1 => Limits {
            max_packet_len: 64,
            max_fragments: 2,
            max_sequences: 1,
            max_buffered_bytes: 64,
            max_atom_bytes: 16,
            max_message_bytes: 128,
            max_log_bytes: 16,
            ..Limits::default()
        },
        2 => Limits {
            max_packet_len: 4096,
            max_fragments: 16,
            max_sequences: 4,
            max_buffered_bytes: 2048,
            max_atom_bytes: 255,
            max_message_bytes: 4096,
            // a tight flood limit, so the drop path is fuzzed too
            max_messages_per_sec: 3,
            rate_policy: erldist_filter_core::Policy::Drop,
            ..Limits::default()
        },
        _ => Limits {
            max_packet_len: 1 << 20,
            max_fragments: 1 << 10,
            max_sequences: 64,
            max_buffered_bytes: 1 << 20,
            max_atom_bytes: 1020,
            max_bytes_per_sec: 1 << 16,
            // the atom guard on (never over budget: a budget reached would
            // depend on how calls batch frames), so its scan and holding
            // paths are fuzzed
            max_new_atoms: u64::MAX,
            ..Limits::default()
        },
    }
}

/// A decoded `channel_recv` input.
#[derive(Debug, Clone)]
pub struct ChannelInput<'a> {
    /// Mode byte (see the module doc).
    pub mode: u8,
    /// Budget byte.
    pub budget: u8,
    /// Config switch bits.
    pub config: u8,
    /// Cut lengths minus one.
    pub cuts: &'a [u8],
    /// The stream.
    pub stream: &'a [u8],
}

impl<'a> ChannelInput<'a> {
    /// Read an input; `None` if it is shorter than its own header.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&mode, rest) = data.split_first()?;
        let (&budget, rest) = rest.split_first()?;
        let (&config, rest) = rest.split_first()?;
        let (&n, rest) = rest.split_first()?;
        let n = usize::from(n % 32);
        if rest.len() < n {
            return None;
        }
        let (cuts, stream) = rest.split_at(n);
        Some(ChannelInput { mode, budget, config, cuts, stream })
    }

    /// The bytes of an input.
    pub fn encode(mode: u8, budget: u8, config: u8, cuts: &[u8], stream: &[u8]) -> Vec<u8> {
        assert!(cuts.len() < 32);
        let mut out = vec![mode, budget, config, cuts.len() as u8];
        out.extend_from_slice(cuts);
        out.extend_from_slice(stream);
        out
    }

    fn packet_size(&self) -> PacketSize {
        PACKET_SIZES[usize::from(self.mode & 7) % PACKET_SIZES.len()]
    }

    fn reframe(&self) -> bool {
        self.mode & 8 != 0
    }

    fn options(&self) -> ChannelOptions {
        ChannelOptions {
            packet_size: self.packet_size(),
            dflags: DFLAGS[usize::from((self.mode >> 4) & 3)],
            limits: limits(self.mode >> 6),
        }
    }

    fn config(&self) -> Config {
        let bit = |i: u8| self.config & (1 << i) != 0;
        Config {
            deep_packet_inspection: bit(0),
            compact_fragments: bit(1),
            logging: bit(2),
            redirect_dist_operations: bit(3),
            otp_name_blocklist: bit(4),
            untrusted: bit(5),
        }
    }

    fn budget_units(&self) -> u64 {
        if self.budget == 255 {
            u64::MAX
        } else {
            1 + u64::from(self.budget) * u64::from(self.budget)
        }
    }
}

/// The packets of a 4-byte-prefixed stream (a short last one is cut to what
/// is there).
fn packets4(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut rest = stream;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let end = (4 + len).min(rest.len());
        out.push(&rest[4..end]);
        rest = &rest[end..];
    }
    out
}

/// Re-encode packets with `size`-byte prefixes (lengths that do not fit are
/// truncated to what the prefix can say, which keeps the stream valid).
fn reframed(packets: &[&[u8]], size: usize) -> Vec<u8> {
    let max = if size >= 8 { u64::MAX } else { (1u64 << (8 * size)) - 1 };
    let mut out = vec![];
    for p in packets {
        let len = (p.len() as u64).min(max);
        out.extend_from_slice(&len.to_be_bytes()[8 - size..]);
        out.extend_from_slice(&p[..len as usize]);
    }
    out
}

/// What a run of calls produced.
#[derive(Debug)]
struct Run {
    frames: Vec<Vec<u8>>,
    error: Option<Error>,
}

/// A node where every atom but '' is new.
struct OnlyEmptyAtomExists;

impl erldist_filter_core::AtomExistence for OnlyEmptyAtomExists {
    fn exists(&self, text: &[u8], _utf8: bool) -> bool {
        text.is_empty()
    }
}

/// Feed `calls` (each resumed until consumed) with `budget` per call,
/// asserting the per-call invariants.
fn run(opts: ChannelOptions, calls: &[&[u8]], budget: u64, cfg: &Config) -> Run {
    let mut ch = Channel::new(opts);
    let mut actions = Actions::default();
    let mut frames = vec![];
    let limits = opts.limits;
    for call in calls {
        let mut rest: &[u8] = call;
        loop {
            actions.clear();
            // a call may spend itself on frames a previous one still owed
            let pending = ch.has_pending();
            let r = ch.recv(rest, &RecvContext::new(cfg).checking_atoms(&OnlyEmptyAtomExists), &mut Budget::new(budget), &mut actions);
            let consumed = *r.as_ref().unwrap_or(&rest.len());
            for e in actions.emits.drain(..) {
                frames.push(match e {
                    Emit::Input(range) => {
                        assert!(range.start <= range.end && range.end <= consumed, "emit {range:?} beyond {consumed}");
                        rest[range].to_vec()
                    }
                    Emit::Owned(v) => v,
                    Emit::Fragment(f) => f.to_vec(),
                });
            }
            match r {
                Ok(used) => {
                    assert!(used <= rest.len(), "consumed {used} of {}", rest.len());
                    assert!(
                        used > 0 || rest.is_empty() || pending || opts.packet_size == PacketSize::Zero,
                        "no progress"
                    );
                    assert!(ch.buffered_bytes() <= limits.max_buffered_bytes, "held {} bytes", ch.buffered_bytes());
                    assert!(ch.open_sequences() as u64 <= limits.max_sequences);
                    let (got, declared) = ch.partial_packet();
                    assert!(got <= declared && declared <= limits.max_packet_len);
                    rest = rest.get(used..).unwrap_or(&[]);
                }
                Err(e) => {
                    // the failing call may have buffered its own input first
                    // (and one fragment's bookkeeping)
                    assert!(ch.buffered_bytes() <= limits.max_buffered_bytes + rest.len() as u64 + 64);
                    return Run { frames, error: Some(e) };
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        // frames of a re-emitted message the budget left owed
        while ch.has_pending() {
            actions.clear();
            ch.flush(&mut Budget::new(budget), &mut actions);
            assert!(!actions.emits.is_empty(), "a flush emitted nothing");
            frames.extend(actions.emits.drain(..).filter_map(|e| match e {
                Emit::Owned(v) => Some(v),
                Emit::Fragment(f) => Some(f.to_vec()),
                Emit::Input(_) => None,
            }));
        }
    }
    Run { frames, error: None }
}

/// Cut `stream` into pieces of the given lengths (+1), cycling.
fn cut<'s>(stream: &'s [u8], cuts: &[u8]) -> Vec<&'s [u8]> {
    if cuts.is_empty() {
        return vec![stream];
    }
    let mut out = vec![];
    let mut rest = stream;
    for &c in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at((usize::from(c) + 1).min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

/// The `channel_recv` target: one input, both runs, every assertion.
pub fn check_channel(data: &[u8]) {
    let Some(input) = ChannelInput::parse(data) else { return };
    let opts = input.options();
    let size = input.packet_size();
    let cfg = input.config();
    let (stream, whole_calls, chunked_calls): (Vec<u8>, Vec<&[u8]>, Vec<&[u8]>);
    let owned;
    if size == PacketSize::Zero {
        // each packet is one call; budgets cannot change anything
        let calls = if input.reframe() { packets4(input.stream) } else { cut(input.stream, input.cuts) };
        let a = run(opts, &calls, u64::MAX, &cfg);
        let b = run(opts, &calls, input.budget_units(), &cfg);
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.error, b.error);
        let rates = opts.limits.max_messages_per_sec > 0 || opts.limits.max_bytes_per_sec > 0;
        // under `close` the guard holds nothing back: frames pass unchanged
        let guard_holds = opts.limits.max_new_atoms > 0 && opts.limits.atom_policy != erldist_filter_core::Policy::Close;
        if a.error.is_none() && !cfg.deep_packet_inspection && !cfg.compact_fragments && !rates && !guard_holds {
            // uninspected and unlimited: every frame is emitted unchanged
            // (ticks are not frames; a flood limit may drop messages)
            let want: Vec<&[u8]> = calls.iter().copied().filter(|c| !c.is_empty()).collect();
            assert_eq!(a.frames, want);
        }
        return;
    }
    if input.reframe() {
        owned = reframed(&packets4(input.stream), size.bytes());
        stream = owned;
    } else {
        stream = input.stream.to_vec();
    }
    whole_calls = vec![&stream];
    chunked_calls = cut(&stream, input.cuts);
    let whole = run(opts, &whole_calls, u64::MAX, &cfg);
    let chunked = run(opts, &chunked_calls, input.budget_units(), &cfg);
    compare(&whole, &chunked);
}

/// Whole and chunked runs agree: the same frames when neither failed; the
/// same error (and frames) when both failed on the input itself; otherwise
/// the failing one stopped on a buffering limit that only chunking reaches,
/// and what it emitted is a prefix of the other's frames.
fn compare(whole: &Run, chunked: &Run) {
    let buffering = |r: &Run| r.error.is_some_and(|e| e.kind == ErrorKind::LimitBufferedBytes);
    match (&whole.error, &chunked.error) {
        (None, None) => assert!(whole.frames == chunked.frames, "chunking changed the frames"),
        (Some(a), Some(b)) if !buffering(whole) && !buffering(chunked) => {
            assert_eq!(a.kind, b.kind, "whole and chunked fail differently");
            assert!(whole.frames == chunked.frames, "different frames before the same error");
        }
        _ => {
            let (short, long) = if whole.frames.len() <= chunked.frames.len() { (whole, chunked) } else { (chunked, whole) };
            assert!(buffering(whole) || buffering(chunked), "only one run failed: {:?} vs {:?}", whole.error, chunked.error);
            assert!(long.frames.starts_with(&short.frames), "frames before the limit differ");
        }
    }
}

/// The `header` target: byte 0 picks flags and limits, byte 1 the length of
/// a first frame (the rest is a second one, sharing the atom cache).
pub fn check_header(data: &[u8]) {
    let [mode, first_len, rest @ ..] = data else { return };
    let dflags = DFLAGS[usize::from(mode & 3)];
    let limits = limits(mode >> 2);
    let (a, b) = rest.split_at(usize::from(*first_len).min(rest.len()));
    let mut cache = AtomCache::default();
    let stats = ChannelStats::default();
    for frame in [a, b] {
        let mut cur = Cursor::new(frame);
        let kind = match read_frame_kind(&mut cur, dflags) {
            Ok(k) => k,
            Err(e) => {
                assert!(e.offset <= frame.len());
                continue;
            }
        };
        assert!(cur.pos() <= frame.len());
        match kind {
            FrameKind::Normal | FrameKind::FragmentHeader { .. } => {
                let count_at = cur.pos();
                let mut table = AtomTable::new();
                match read_atom_table(&mut cur, &mut cache, dflags, &limits, &stats, &mut table) {
                    Ok(()) => {
                        assert_eq!(table.len(), usize::from(frame[count_at]));
                        assert!(cur.pos() <= frame.len());
                        for r in &table {
                            assert!(r.index < 2048);
                            assert!(r.atom.as_bytes().len() as u64 <= limits.max_atom_bytes * 2);
                            assert!(std::str::from_utf8(r.atom.as_bytes()).is_ok());
                            if !r.new {
                                assert!(cache.get(r.index).is_some());
                            }
                        }
                        // the last write to each slot is what the cache holds
                        for (i, r) in table.iter().enumerate() {
                            if r.new && !table[i + 1..].iter().any(|l| l.new && l.index == r.index) {
                                assert_eq!(cache.get(r.index), Some(&r.atom));
                            }
                        }
                    }
                    Err(e) => assert!(e.offset <= frame.len(), "{e:?} beyond {}", frame.len()),
                }
            }
            FrameKind::FragmentCont { fragment_id, .. } => assert_ne!(fragment_id, 0),
            FrameKind::PassThrough => {}
        }
    }
}

// ------------------------------------------------------------------- terms

use erldist_filter_core::term::{self, Scan, ScanContext, Scanner, View, Viewer};
use erldist_filter_core::Atom;

/// A term input: byte 0 is how many atom-cache references the (imagined)
/// frame header declared, byte 1 the scanner's budget per slice, the rest
/// the term in internal encoding.
pub struct TermInput<'a> {
    /// Declared references.
    pub atom_refs: u8,
    /// Budget per `Scanner::run` slice, minus one.
    pub budget: u8,
    /// The bytes.
    pub bytes: &'a [u8],
}

impl<'a> TermInput<'a> {
    /// Read an input.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let [atom_refs, budget, bytes @ ..] = data else { return None };
        Some(TermInput { atom_refs: *atom_refs, budget: *budget, bytes })
    }

    /// The bytes of an input.
    pub fn encode(atom_refs: u8, budget: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![atom_refs, budget];
        out.extend_from_slice(bytes);
        out
    }

    fn ctx(&self) -> ScanContext {
        ScanContext::internal(self.atom_refs)
    }

    fn atoms(&self) -> Vec<Atom> {
        (0..self.atom_refs).filter_map(|i| Atom::from_utf8(format!("a{i}").as_bytes()).ok()).collect()
    }
}

/// `skip_term` in one go: the end position, or the error.
fn skip(bytes: &[u8], ctx: &ScanContext) -> Result<(usize, term::TermFlags), Error> {
    let mut pos = 0;
    let flags = term::skip_term(bytes, &mut pos, ctx)?;
    assert!(pos <= bytes.len());
    Ok((pos, flags))
}

/// `term_scan`: the resumable scanner in budgeted slices ends where
/// `skip_term` does, with the same flags, or fails the same way.
pub fn check_term_scan(data: &[u8]) {
    let Some(input) = TermInput::parse(data) else { return };
    let ctx = input.ctx();
    let whole = skip(input.bytes, &ctx);
    let mut scanner = Scanner::new();
    let mut pos = 0;
    let mut slices = 0u64;
    let sliced = loop {
        let before = pos;
        let mut budget = Budget::new(u64::from(input.budget) + 1);
        match scanner.run(input.bytes, &mut pos, &mut budget, &ctx) {
            Ok(Scan::Done) => break Ok((pos, scanner.flags())),
            Ok(Scan::Yield) => {
                assert!(!scanner.is_done());
                // every slice makes progress (or the term is all zero-byte
                // sub-terms, which cannot be: each takes a byte)
                assert!(pos > before || slices == 0, "no progress at {pos}");
                assert!(pos <= input.bytes.len());
            }
            Err(e) => break Err(e),
        }
        slices += 1;
        assert!(slices <= input.bytes.len() as u64 + 1, "more slices than bytes");
    };
    match (&whole, &sliced) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.kind, b.kind),
        _ => panic!("skip_term {whole:?} vs sliced scanner {sliced:?}"),
    }
}

/// `term_decode`: the owned decoder consumes exactly what the scanner
/// skips; what it decodes encodes and decodes back to the same term.
pub fn check_term_decode(data: &[u8]) {
    let Some(input) = TermInput::parse(data) else { return };
    let ctx = input.ctx();
    let atoms = input.atoms();
    let scanned = skip(input.bytes, &ctx);
    let mut pos = 0;
    let decoded = term::decode(input.bytes, &mut pos, &ctx, &atoms);
    match (&scanned, &decoded) {
        (Ok((end, _)), Ok(t)) => {
            assert_eq!(*end, pos, "scan and decode disagree on the length of {t:?}");
            let mut bytes = vec![];
            term::encode(t, &mut bytes);
            let mut p2 = 0;
            let again = term::decode(&bytes, &mut p2, &ctx, &atoms).unwrap_or_else(|e| panic!("re-decode {t:?}: {e}"));
            assert_eq!(p2, bytes.len());
            // Debug text compares floats by value, NaN included
            assert_eq!(format!("{t:?}"), format!("{again:?}"));
        }
        (Err(a), Err(_)) => assert!(a.offset <= input.bytes.len()),
        // the decoder alone bounds nesting
        (Ok(_), Err(e)) if e.kind == ErrorKind::TooDeep => {}
        // the stackless scanner cannot check the declared size of a closure
        // with free variables; the decoder (and the VM) can
        (Ok((_, flags)), Err(e)) if flags.has_new_fun && e.kind == ErrorKind::MalformedTerm => {}
        _ => panic!("skip_term {scanned:?} vs decode {decoded:?}"),
    }
}

/// `term_view`: walking the term through the shallow view (every element
/// of every tuple, list and map, breadth first, bounded) never panics, and
/// `end_of` agrees with `skip_term`.
pub fn check_term_view(data: &[u8]) {
    let Some(input) = TermInput::parse(data) else { return };
    let ctx = input.ctx();
    let atoms = input.atoms();
    let viewer = Viewer::new(input.bytes, ctx, &atoms);
    let scanned = skip(input.bytes, &ctx);
    match (viewer.end_of(0), &scanned) {
        (Ok(a), Ok((b, _))) => assert_eq!(a, *b),
        (Err(a), Err(b)) => assert_eq!(a.kind, b.kind),
        (a, b) => panic!("end_of {a:?} vs skip_term {b:?}"),
    }
    let mut queue = vec![0usize];
    let mut visited = 0;
    while let Some(pos) = queue.pop() {
        visited += 1;
        if visited > 4096 {
            break;
        }
        let Ok(view) = viewer.view(pos) else { continue };
        let (first, count) = match view {
            View::Tuple { arity, first } => (first, u64::from(arity)),
            View::List { len, first } => (first, u64::from(len) + 1),
            View::Map { arity, first } => (first, 2 * u64::from(arity)),
            View::Atom(a) => {
                let _ = a.to_atom();
                continue;
            }
            _ => continue,
        };
        for p in viewer.elements(first, count).take(64) {
            match p {
                Ok(p) => {
                    assert!(p <= input.bytes.len());
                    queue.push(p);
                }
                Err(_) => break,
            }
        }
    }
}
