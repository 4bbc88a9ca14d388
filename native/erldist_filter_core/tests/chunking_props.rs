//! Chunking does not change what a channel emits (DESIGN model 8): a stream
//! of real corpus packets, cut at arbitrary points and fed with arbitrary
//! work budgets, emits exactly the frames that feeding it whole emits, and
//! every call keeps `consumed + rest = input`.
//!
//! A stream is a random window of consecutive packets from `small` or
//! `large`, starting where no fragmented message is open, preceded by a few
//! hand-built frames that put the atom cache into the state the window
//! expects.

mod common;

use std::sync::OnceLock;

use common::Corpus;
use erldist_filter_core::{Actions, Atom, Budget, Channel, Config, Emit, RecvContext};
use proptest::prelude::*;

/// A point of a corpus where a window may start.
struct Start {
    /// Byte offset of the packet in `bin`.
    offset: usize,
    /// Index of that packet.
    packet: usize,
    /// Length-prefixed frames recreating the atom cache at that point.
    prime: Vec<u8>,
}

struct Source {
    corpus: Corpus,
    /// Byte offset of every packet (and the end of the stream last).
    offsets: Vec<usize>,
    starts: Vec<Start>,
}

/// `{LINK=1, Pid, Pid}` whose pids' node is header reference 0.
fn link_control() -> Vec<u8> {
    let pid = [88, 82, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
    let mut c = vec![104, 3, 97, 1];
    c.extend_from_slice(&pid);
    c.extend_from_slice(&pid);
    c
}

/// 'D' frames (4-byte length prefixed) whose headers write `cache`, 255
/// entries at a time.
fn priming(cache: &[(u16, Atom)]) -> Vec<u8> {
    let mut out = vec![];
    for chunk in cache.chunks(255) {
        let mut f = vec![131, b'D', chunk.len() as u8];
        let mut nibbles: Vec<u8> = chunk.iter().map(|(i, _)| 8 | (i >> 8) as u8).collect();
        let long = chunk.iter().any(|(_, a)| a.as_bytes().len() > 255);
        nibbles.push(u8::from(long));
        if nibbles.len() % 2 == 1 {
            nibbles.push(0);
        }
        f.extend(nibbles.chunks(2).map(|p| p[0] | (p[1] << 4)));
        for (i, a) in chunk {
            f.push(*i as u8);
            let text = a.as_bytes();
            if long {
                f.extend_from_slice(&(text.len() as u16).to_be_bytes());
            } else {
                f.push(text.len() as u8);
            }
            f.extend_from_slice(text);
        }
        f.extend(link_control());
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend(f);
    }
    out
}

fn source(name: &str, every: usize) -> Source {
    let corpus = Corpus::load(name);
    let packets = corpus.packets();
    let mut offsets = Vec::with_capacity(packets.len() + 1);
    let mut at = 0;
    for p in &packets {
        offsets.push(at);
        at += p.len();
    }
    offsets.push(at);
    let mut reference = Channel::new(corpus.options());
    let mut starts = vec![];
    let mut actions = Actions::default();
    for (k, p) in packets.iter().enumerate() {
        if k % every == 0 && reference.open_sequences() == 0 {
            starts.push(Start {
                offset: offsets[k],
                packet: k,
                prime: priming(&reference.atom_cache_entries().unwrap()),
            });
        }
        actions.clear();
        let used = reference
            .recv(p, &RecvContext::new(&Config::default()), &mut Budget::new(u64::MAX), &mut actions)
            .expect("corpus");
        assert_eq!(used, p.len());
    }
    Source { corpus, offsets, starts }
}

fn sources() -> &'static [Source; 2] {
    static S: OnceLock<[Source; 2]> = OnceLock::new();
    S.get_or_init(|| [source("small", 1000), source("large", 1)])
}

/// Feed `pieces` with `budget` per call; checks the per-call invariants and
/// returns the emitted frames' bytes.
fn feed_checked(ch: &mut Channel, cfg: &Config, pieces: &[&[u8]], budget: u64) -> Result<Vec<Vec<u8>>, TestCaseError> {
    let mut frames = vec![];
    let mut actions = Actions::default();
    let mut consumed_total = 0usize;
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    for piece in pieces {
        let mut rest: &[u8] = piece;
        loop {
            actions.clear();
            let pending = ch.has_pending();
            let used = ch
                .recv(rest, &RecvContext::new(cfg), &mut Budget::new(budget), &mut actions)
                .map_err(|e| TestCaseError::fail(format!("recv: {e}")))?;
            prop_assert!(used <= rest.len(), "consumed {} of {}", used, rest.len());
            // a call may spend itself on frames a previous one still owed
            prop_assert!(used > 0 || rest.is_empty() || pending, "no progress on {} bytes", rest.len());
            for e in actions.emits.drain(..) {
                frames.push(match e {
                    Emit::Input(r) => {
                        // emitted input lies within what the call consumed
                        prop_assert!(r.start <= r.end && r.end <= used, "emit {:?} beyond consumed {}", r, used);
                        rest[r].to_vec()
                    }
                    Emit::Owned(v) => v,
                    Emit::Fragment(f) => f.to_vec(),
                });
            }
            consumed_total += used;
            rest = &rest[used..];
            if rest.is_empty() {
                break;
            }
        }
    }
    while ch.has_pending() {
        actions.clear();
        ch.flush(&mut Budget::new(budget), &mut actions);
        prop_assert!(!actions.emits.is_empty(), "a flush emitted nothing");
        frames.extend(actions.emits.drain(..).filter_map(|e| match e {
            Emit::Owned(v) => Some(v),
            Emit::Fragment(f) => Some(f.to_vec()),
            Emit::Input(_) => None,
        }));
    }
    prop_assert_eq!(consumed_total, total);
    // the stream ends on a packet boundary: no partial packet is left (held
    // fragments of a sequence the window cut may be)
    prop_assert_eq!(ch.partial_packet(), (0, 0));
    Ok(frames)
}

/// The frames (ticks excluded) of a length-prefixed stream.
fn frames_of(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut rest = stream;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        if len > 0 {
            out.push(rest[4..4 + len].to_vec());
        }
        rest = &rest[4 + len..];
    }
    out
}

fn budget_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..64, 64u64..4096, Just(u64::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn cutting_and_budgets_do_not_change_the_emitted_frames(
        which in 0usize..2,
        start_pick in any::<prop::sample::Index>(),
        window in 1usize..48,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..48),
        small_cuts in prop::collection::vec(1usize..12, 0..24),
        budget in budget_strategy(),
        inspect in any::<bool>(),
        compact in any::<bool>(),
    ) {
        let cfg = Config { deep_packet_inspection: inspect, compact_fragments: compact, ..Config::default() };
        let src = &sources()[which];
        let start = start_pick.get(&src.starts);
        let window = if which == 1 { window.min(16) } else { window };
        let last = (start.packet + window).min(src.offsets.len() - 1);
        let mut stream = start.prime.clone();
        stream.extend_from_slice(&src.corpus.bin[start.offset..src.offsets[last]]);

        let mut whole_ch = Channel::new(src.corpus.options());
        let whole = feed_checked(&mut whole_ch, &cfg, &[&stream], u64::MAX)?;
        if !inspect && !compact {
            prop_assert_eq!(&whole, &frames_of(&stream), "whole stream emits every frame unchanged");
        }

        // cut points: arbitrary ones anywhere, plus a run of tiny pieces at
        // the start of the window (length prefixes and headers split)
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        let mut at = start.prime.len();
        for n in small_cuts {
            at += n;
            points.push(at.min(stream.len()));
        }
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        points.dedup();
        let pieces: Vec<&[u8]> = points.windows(2).map(|w| &stream[w[0]..w[1]]).collect();

        let mut ch = Channel::new(src.corpus.options());
        let chunked = feed_checked(&mut ch, &cfg, &pieces, budget)?;
        prop_assert_eq!(chunked.len(), whole.len());
        prop_assert!(chunked == whole, "chunked frames differ from whole-stream frames");
        prop_assert_eq!(ch.open_sequences(), whole_ch.open_sequences());
        prop_assert_eq!(ch.buffered_bytes(), whole_ch.buffered_bytes());
        let (a, b) = (ch.stats().snapshot(), whole_ch.stats().snapshot());
        prop_assert_eq!(a.packet_count, b.packet_count);
        prop_assert_eq!(a.emit_count, b.emit_count);
        prop_assert_eq!(a.bytes_in, b.bytes_in);
    }
}

/// The same property with one byte per call, on a fixed window that crosses
/// a fragmented message (no proptest needed: it is deterministic).
#[test]
fn one_byte_per_call_across_a_fragmented_message() {
    let src = &sources()[1];
    let corpus_frames = src.corpus.packets();
    // the first fragment header and the packets up to its last continuation
    let first = corpus_frames.iter().position(|p| p.len() > 5 && p[5] == b'E').unwrap();
    let start = src.starts.iter().find(|s| s.packet == first).expect("a start before the fragment header");
    let seq = &corpus_frames[first][6..14];
    let last = (first..corpus_frames.len())
        .find(|&k| {
            let p = corpus_frames[k];
            p.len() >= 22 && p[5] == b'F' && &p[6..14] == seq && p[14..22] == 1u64.to_be_bytes()
        })
        .unwrap();
    let mut stream = start.prime.clone();
    stream.extend_from_slice(&src.corpus.bin[start.offset..src.offsets[last + 1]]);
    for cfg in [Config::default(), Config { deep_packet_inspection: true, ..Config::default() }] {
        let mut whole_ch = Channel::new(src.corpus.options());
        let whole = feed_checked(&mut whole_ch, &cfg, &[&stream], u64::MAX).unwrap();
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let mut ch = Channel::new(src.corpus.options());
        let one = feed_checked(&mut ch, &cfg, &bytes, 7).unwrap();
        assert!(one == whole);
        assert_eq!(ch.open_sequences(), 0);
    }
}
