//! Hostile input: frames a misbehaving or malicious peer could send. Every
//! case must end in a typed error (or a limit error), never a panic, and the
//! channel must never hold more than its limits allow.
//!
//! Frames are built by hand with the small builders below (no encoder from
//! the crate under test), so the tests say byte by byte what arrives.

mod common;

use common::frames::{
    atom_table, atom_table_with, frame_frag_cont, frame_frag_header, frame_normal, pid, prefixed, Ref, DFLAGS,
};
use common::{Corpus, Rng};
use erldist_filter_core::{
    Actions, Atom, Budget, Channel, ChannelOptions, Config, Emit, Error, ErrorKind, Limits, PacketSize, RecvContext,
};

// ---------------------------------------------------------------- builders

/// `{LINK=1, From, To}`.
fn link_control(node_ref: u8) -> Vec<u8> {
    let mut c = vec![104, 3, 97, 1];
    c.extend(pid(node_ref, 1));
    c.extend(pid(node_ref, 2));
    c
}

/// `{REG_SEND=6, From, '', ToName}`, names as header references.
fn reg_send_control(node_ref: u8, empty_ref: u8, name_ref: u8) -> Vec<u8> {
    let mut c = vec![104, 4, 97, 6];
    c.extend(pid(node_ref, 1));
    c.extend([82, empty_ref, 82, name_ref]);
    c
}

/// A payload term: the small integer 42.
const PAYLOAD: [u8; 2] = [97, 42];

/// The three references a REG_SEND frame needs, all new.
fn reg_send_refs() -> [Ref<'static>; 3] {
    [Ref::New(1, b"a@127.0.0.1"), Ref::New(2, b""), Ref::New(3, b"sink")]
}

/// A whole valid REG_SEND 'D' frame.
fn valid_reg_send() -> Vec<u8> {
    frame_normal(&reg_send_refs(), &reg_send_control(0, 1, 2), &PAYLOAD)
}

// ------------------------------------------------------------------ driver

fn opts(packet_size: PacketSize, limits: Limits) -> ChannelOptions {
    ChannelOptions { packet_size, dflags: DFLAGS, limits }
}

fn channel(packet_size: PacketSize) -> Channel {
    Channel::new(opts(packet_size, Limits::default()))
}

/// Feed each piece in turn (resuming while the budget runs out), checking the
/// per-call invariants; returns the emitted frames, or the first error with
/// the frames emitted before it.
fn drive(ch: &mut Channel, pieces: &[&[u8]]) -> Driven {
    drive_with(ch, pieces, &Config::default())
}

/// Emitted frames, or the first error with the frames emitted before it.
type Driven = Result<Vec<Vec<u8>>, (Error, Vec<Vec<u8>>)>;

/// [`drive`] with a configuration.
fn drive_with(ch: &mut Channel, pieces: &[&[u8]], cfg: &Config) -> Driven {
    let mut frames = vec![];
    let mut actions = Actions::default();
    let limits = ch.options().limits;
    for piece in pieces {
        let mut rest: &[u8] = piece;
        loop {
            actions.clear();
            let r = ch.recv(rest, &RecvContext::new(cfg), &mut Budget::new(u64::MAX), &mut actions);
            for e in actions.emits.drain(..) {
                frames.push(match e {
                    Emit::Input(r) => rest[r].to_vec(),
                    Emit::Owned(v) => v,
                    Emit::Fragment(f) => f.to_vec(),
                });
            }
            match r {
                Ok(used) => {
                    assert!(used <= rest.len(), "consumed {used} of {}", rest.len());
                    assert!(
                        ch.buffered_bytes() <= limits.max_buffered_bytes,
                        "holds {} bytes over max_buffered_bytes {}",
                        ch.buffered_bytes(),
                        limits.max_buffered_bytes
                    );
                    assert!(ch.open_sequences() as u64 <= limits.max_sequences);
                    rest = &rest[used..];
                }
                Err(e) => {
                    // A failing call may have buffered its own bytes before
                    // the check: the overshoot is bounded by the call's input
                    // (and one fragment's overhead).
                    assert!(ch.buffered_bytes() <= limits.max_buffered_bytes + rest.len() as u64 + FRAGMENT_OVERHEAD);
                    return Err((e, frames));
                }
            }
            if rest.is_empty() {
                break;
            }
        }
    }
    Ok(frames)
}

/// The error kind feeding `frames` (each one call on a packet-size-0
/// channel) ends with; panics if there is none.
fn error_of(ch: &mut Channel, frames: &[&[u8]]) -> ErrorKind {
    match drive(ch, frames) {
        Err((e, _)) => e.kind,
        Ok(f) => panic!("expected an error, got {} frames", f.len()),
    }
}

fn frames0(frames: &[Vec<u8>]) -> ErrorKind {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    error_of(&mut channel(PacketSize::Zero), &refs)
}

// --------------------------------------------------------------- framing

#[test]
fn the_builders_make_frames_the_channel_accepts() {
    let f = valid_reg_send();
    for size in [PacketSize::One, PacketSize::Two, PacketSize::Four, PacketSize::Eight] {
        let mut ch = channel(size);
        let s = prefixed(size.bytes(), &f);
        assert_eq!(drive(&mut ch, &[&s, &s[..0], &s]).unwrap(), vec![f.clone(), f.clone()]);
    }
    let mut ch = channel(PacketSize::Zero);
    let again = frame_normal(&[Ref::Old(1), Ref::Old(2), Ref::Old(3)], &reg_send_control(0, 1, 2), &PAYLOAD);
    assert_eq!(drive(&mut ch, &[&f, &again, &[]]).unwrap(), vec![f.clone(), again]);
}

/// A declared length of 2^32−1 (4-byte prefix) or 2^64−1 (8-byte prefix)
/// followed by a trickle of bytes.
#[test]
fn huge_declared_lengths_are_refused_or_held_only_as_received() {
    for (size, prefix) in [(PacketSize::Four, vec![0xff; 4]), (PacketSize::Eight, vec![0xff; 8])] {
        // default limits: refused at the prefix, nothing held
        let mut ch = channel(size);
        let (e, frames) = drive(&mut ch, &[&prefix, &[0; 1]]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitPacketLen);
        assert!(frames.is_empty());
        assert_eq!(ch.buffered_bytes(), 0);
        // the prefix trickling in one byte at a time
        let mut ch = channel(size);
        let pieces: Vec<&[u8]> = prefix.chunks(1).collect();
        let (e, _) = drive(&mut ch, &pieces).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitPacketLen);
        assert_eq!(ch.buffered_bytes(), 0);

        // no packet limit: held bytes are exactly what arrived, until the
        // buffer limit stops it
        let limits = Limits { max_packet_len: u64::MAX, max_buffered_bytes: 64 * 1024, ..Limits::default() };
        let mut ch = Channel::new(opts(size, limits));
        drive(&mut ch, &[&prefix]).unwrap();
        assert_eq!(ch.partial_packet().0, 0);
        let trickle = [0x5a; 1000];
        let mut got = 0u64;
        let err = loop {
            match drive(&mut ch, &[&trickle]) {
                Ok(f) => {
                    assert!(f.is_empty());
                    got += trickle.len() as u64;
                    assert_eq!(ch.buffered_bytes(), got);
                    assert_eq!(ch.partial_packet().0, got);
                    assert!(got <= limits.max_buffered_bytes);
                }
                Err((e, _)) => break e,
            }
        };
        assert_eq!(err.kind, ErrorKind::LimitBufferedBytes);
        assert!(ch.buffered_bytes() <= limits.max_buffered_bytes + trickle.len() as u64);
    }
}

#[test]
fn declared_lengths_just_over_the_packet_limit_are_refused() {
    let limits = Limits { max_packet_len: 100, ..Limits::default() };
    for size in [PacketSize::One, PacketSize::Two, PacketSize::Four, PacketSize::Eight] {
        let mut ch = Channel::new(opts(size, limits));
        let ok = prefixed(size.bytes(), &[0; 100]);
        // 100 zero bytes is a frame with bad magic, but the length is fine
        assert_eq!(drive(&mut ch, &[&ok]).unwrap_err().0.kind, ErrorKind::BadMagic);
        let mut ch = Channel::new(opts(size, limits));
        let over = prefixed(size.bytes(), &[0; 101]);
        assert_eq!(drive(&mut ch, &[&over[..size.bytes()]]).unwrap_err().0.kind, ErrorKind::LimitPacketLen);
        assert_eq!(ch.buffered_bytes(), 0);
    }
}

#[test]
fn unknown_frame_tags_and_bad_magic_are_errors() {
    for tag in (0u8..=255).filter(|t| ![b'D', b'E', b'F'].contains(t)) {
        let mut f = vec![131, tag];
        f.extend_from_slice(&[0; 20]);
        assert_eq!(frames0(&[f.clone()]), ErrorKind::UnknownFrameTag, "tag {tag}");
        let mut ch = channel(PacketSize::Four);
        let (e, _) = drive(&mut ch, &[&prefixed(4, &f)]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownFrameTag);
    }
    assert_eq!(frames0(&[vec![130, b'D', 0]]), ErrorKind::BadMagic);
    assert_eq!(frames0(&[vec![b'p', 131, 104, 3, 97, 1]]), ErrorKind::BadMagic);
    assert_eq!(frames0(&[vec![131]]), ErrorKind::FrameTooShort);
    // a pass-through channel refuses header frames
    let mut ch = Channel::new(ChannelOptions {
        packet_size: PacketSize::Zero,
        dflags: DFLAGS & !(0x2000 | 0x800000),
        limits: Limits::default(),
    });
    assert_eq!(error_of(&mut ch, &[&valid_reg_send()]), ErrorKind::PassThroughNotAllowed);
}

// ------------------------------------------------------------- fragments

#[test]
fn a_fragment_header_declaring_u64_max_fragments_is_a_limit_error() {
    let e = frame_frag_header(1, u64::MAX, &reg_send_refs(), &reg_send_control(0, 1, 2), &[]);
    assert_eq!(frames0(std::slice::from_ref(&e)), ErrorKind::LimitFragments);
    // with no fragment limit it is merely a sequence that counts down
    // (nothing is allocated from the count)
    let limits = Limits { max_fragments: u64::MAX, ..Limits::default() };
    let mut ch = Channel::new(opts(PacketSize::Zero, limits));
    let c1 = frame_frag_cont(1, u64::MAX - 1, &PAYLOAD);
    let c2 = frame_frag_cont(1, u64::MAX - 2, &[]);
    let frames = drive(&mut ch, &[&e, &c1, &c2]).unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(ch.open_sequences(), 1);
    assert_eq!(ch.buffered_bytes(), 0);
    // skipping one is out of order
    let c4 = frame_frag_cont(1, u64::MAX - 4, &[]);
    assert_eq!(error_of(&mut ch, &[&c4]), ErrorKind::FragmentOutOfOrder);
}

#[test]
fn fragment_id_zero_is_an_error_in_headers_and_continuations() {
    let e0 = frame_frag_header(5, 0, &reg_send_refs(), &reg_send_control(0, 1, 2), &PAYLOAD);
    assert_eq!(frames0(&[e0]), ErrorKind::FragmentIdZero);
    let e = frame_frag_header(5, 2, &reg_send_refs(), &reg_send_control(0, 1, 2), &[]);
    let f0 = frame_frag_cont(5, 0, &PAYLOAD);
    assert_eq!(frames0(&[e, f0.clone()]), ErrorKind::FragmentIdZero);
    assert_eq!(frames0(&[f0]), ErrorKind::FragmentIdZero);
}

#[test]
fn a_continuation_of_an_unknown_sequence_is_an_error() {
    assert_eq!(frames0(&[frame_frag_cont(42, 1, &PAYLOAD)]), ErrorKind::UnknownSequence);
    assert_eq!(frames0(&[frame_frag_cont(42, 7, &PAYLOAD)]), ErrorKind::UnknownSequence);
    // a sequence that is open, but a different id
    let e = frame_frag_header(41, 2, &reg_send_refs(), &reg_send_control(0, 1, 2), &[]);
    assert_eq!(frames0(&[e, frame_frag_cont(42, 1, &PAYLOAD)]), ErrorKind::UnknownSequence);
}

#[test]
fn bytes_after_the_last_fragment_are_an_unknown_sequence() {
    let e = frame_frag_header(9, 3, &reg_send_refs(), &reg_send_control(0, 1, 2), &[]);
    let c2 = frame_frag_cont(9, 2, &PAYLOAD[..1]);
    let c1 = frame_frag_cont(9, 1, &PAYLOAD[1..]);
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(drive(&mut ch, &[&e, &c2, &c1]).unwrap().len(), 3);
    assert_eq!(ch.open_sequences(), 0);
    // one more continuation of the finished sequence
    assert_eq!(error_of(&mut ch, &[&frame_frag_cont(9, 1, &[0])]), ErrorKind::UnknownSequence);
    // the same on a framed stream, in one read
    let mut stream = vec![];
    for f in [&e, &c2, &c1, &frame_frag_cont(9, 1, &[0])] {
        stream.extend(prefixed(4, f));
    }
    let mut ch = channel(PacketSize::Four);
    let (err, frames) = drive(&mut ch, &[&stream]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownSequence);
    assert_eq!(frames, vec![e.clone(), c2.clone(), c1.clone()]);
    // a duplicate header for a sequence in flight
    assert_eq!(frames0(&[e.clone(), e]), ErrorKind::DuplicateSequence);
}

/// 10^5 fragmented messages started and never finished, interleaved with
/// continuations of some of them.
fn unfinished_sequences(n: u64) -> Vec<Vec<u8>> {
    let mut frames = vec![frame_normal(&reg_send_refs(), &reg_send_control(0, 1, 2), &PAYLOAD)];
    let control = reg_send_control(0, 1, 2);
    let refs = [Ref::Old(1), Ref::Old(2), Ref::Old(3)];
    // SequenceId 0 is refused outright (it crashes OTP 25's receiver)
    for seq in 1..=n {
        frames.push(frame_frag_header(seq, 3, &refs, &control, &[]));
        if seq % 3 == 2 {
            // advance an earlier one by one fragment (still unfinished)
            frames.push(frame_frag_cont(seq - 1, 2, &[106]));
        }
    }
    frames
}

#[test]
fn unfinished_sequences_hit_max_sequences_at_the_configured_bound() {
    let frames = unfinished_sequences(100_000);
    for max in [1u64, 1000, 1024] {
        let limits = Limits { max_sequences: max, ..Limits::default() };
        for size in [PacketSize::Zero, PacketSize::Four] {
            let mut ch = Channel::new(opts(size, limits));
            let mut started = 0u64;
            let mut err = None;
            for f in &frames {
                let piece = if size == PacketSize::Zero { f.clone() } else { prefixed(4, f) };
                match drive(&mut ch, &[&piece]) {
                    Ok(_) => started += u64::from(f[1] == b'E'),
                    Err((e, _)) => {
                        err = Some(e.kind);
                        break;
                    }
                }
                assert!(ch.open_sequences() as u64 <= max);
                assert_eq!(ch.buffered_bytes(), 0);
            }
            assert_eq!(err, Some(ErrorKind::LimitSequences), "max {max}");
            assert_eq!(started, max, "failed on the header after the bound");
            assert_eq!(ch.open_sequences() as u64, max);
        }
    }
    // a bound above 10^5: all of them are held, and nothing else is
    let limits = Limits { max_sequences: 200_000, ..Limits::default() };
    let mut ch = Channel::new(opts(PacketSize::Four, limits));
    let stream: Vec<u8> = frames.iter().flat_map(|f| prefixed(4, f)).collect();
    let out = drive(&mut ch, &[&stream]).unwrap();
    assert_eq!(out.len(), frames.len());
    assert_eq!(ch.open_sequences(), 100_000);
    assert_eq!(ch.buffered_bytes(), 0);
}

// ------------------------------------------------------------ atom cache

#[test]
fn a_reference_to_an_empty_cache_slot_is_an_error() {
    let f = frame_normal(&[Ref::Old(1), Ref::Old(2), Ref::Old(3)], &reg_send_control(0, 1, 2), &PAYLOAD);
    assert_eq!(frames0(&[f]), ErrorKind::AtomCacheEmptySlot);
    // filled slots 1..=3, then a reference to slot 4 (and to 2047)
    for empty in [4u16, 0x104, 2047] {
        let f = frame_normal(&[Ref::Old(1), Ref::Old(2), Ref::Old(empty)], &reg_send_control(0, 1, 2), &PAYLOAD);
        assert_eq!(frames0(&[valid_reg_send(), f]), ErrorKind::AtomCacheEmptySlot);
    }
}

fn names(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("atom_{i}").into_bytes()).collect()
}

/// 255 references, each in its own slot spread over all 8 segments.
fn slot(i: usize) -> u16 {
    (i * 8 + i / 32) as u16 % 2048
}

#[test]
fn two_hundred_fifty_five_references_in_one_header_are_accepted() {
    let texts = names(255);
    let news: Vec<Ref<'_>> = texts.iter().enumerate().map(|(i, t)| Ref::New(slot(i), t)).collect();
    let olds: Vec<Ref<'_>> = (0..255).map(|i| Ref::Old(slot(i))).collect();
    let control = reg_send_control(0, 1, 254);
    let first = frame_normal(&news, &control, &PAYLOAD);
    let second = frame_normal(&olds, &control, &PAYLOAD);
    // mixed: odd entries rewrite their slot, even ones read it
    let mixed: Vec<Ref<'_>> =
        (0..255).map(|i| if i % 2 == 1 { Ref::New(slot(i), &texts[254 - i]) } else { Ref::Old(slot(i)) }).collect();
    let third = frame_normal(&mixed, &control, &PAYLOAD);
    for size in [PacketSize::Zero, PacketSize::Two, PacketSize::Four] {
        let mut ch = channel(size);
        let pieces: Vec<Vec<u8>> = [&first, &second, &third]
            .iter()
            .map(|f| if size == PacketSize::Zero { f.to_vec() } else { prefixed(size.bytes(), f) })
            .collect();
        let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        assert_eq!(drive(&mut ch, &refs).unwrap(), vec![first.clone(), second.clone(), third.clone()]);
        let cache = ch.atom_cache_entries().unwrap();
        assert_eq!(cache.len(), 255);
        for (i, t) in texts.iter().enumerate() {
            let want = if i % 2 == 1 { &texts[254 - i] } else { t };
            let got = cache.iter().find(|(s, _)| *s == slot(i)).unwrap();
            assert_eq!(got.1.as_bytes(), want.as_slice(), "slot {}", slot(i));
        }
    }
    // 255 long-form (2-byte length) entries are fine too
    let long_texts: Vec<Vec<u8>> = (0..255).map(|i| vec![b'a' + (i % 26) as u8; 1 + i]).collect();
    let news: Vec<Ref<'_>> = long_texts.iter().enumerate().map(|(i, t)| Ref::New(slot(i), t)).collect();
    let mut ch = channel(PacketSize::Zero);
    let f = frame_normal(&news, &control, &PAYLOAD);
    assert_eq!(drive(&mut ch, &[&f]).unwrap(), vec![f.clone()]);
}

#[test]
fn broken_variants_of_a_full_reference_table_are_errors() {
    let texts = names(255);
    let news: Vec<Ref<'_>> = texts.iter().enumerate().map(|(i, t)| Ref::New(slot(i), t)).collect();
    let control = reg_send_control(0, 1, 254);
    let good = frame_normal(&news, &control, &PAYLOAD);
    let table_end = 2 + atom_table(&news).len();

    // the table cut anywhere inside: truncated
    for cut in 2..table_end {
        let kind = frames0(&[good[..cut].to_vec()]);
        assert!(kind == ErrorKind::Truncated || kind == ErrorKind::FrameTooShort, "cut {cut}: {kind:?}");
    }
    // the last reference reads an empty slot
    let mut broken = news.clone();
    broken[254] = Ref::Old(2047);
    assert_eq!(frames0(&[frame_normal(&broken, &control, &PAYLOAD)]), ErrorKind::AtomCacheEmptySlot);
    // the long-atoms flag set while lengths are 1 byte: the table misparses
    // into something that fails (never a panic)
    let short = atom_table_with(&news, false);
    let flags = 255 / 2 + 1;
    let mut f_short = vec![131, b'D'];
    f_short.extend_from_slice(&short[..1 + flags]);
    f_short[2 + 1 + flags - 1] |= 1 << 4; // nibble 255 (odd: high half) = long
    f_short.extend_from_slice(&short[1 + flags..]);
    f_short.extend_from_slice(&control);
    let kind = frames0(&[f_short]);
    assert!(matches!(kind, ErrorKind::Truncated | ErrorKind::LimitAtomBytes | ErrorKind::AtomInvalidUtf8), "{kind:?}");
    // the count says 255 but only 254 entries follow, then the control
    let mut f = vec![131, b'D'];
    let mut t = atom_table(&news[..254]);
    t[0] = 255; // 254 and 255 entries both take 128 flag bytes
    f.extend(t);
    f.extend_from_slice(&control);
    // entry 254 reads the control's tag (104) as an old reference to slot
    // 104, which entry 13 filled; the control then starts one byte late
    assert_eq!(frames0(&[f]), ErrorKind::MalformedControl);
    // count 255 and nothing after it
    assert_eq!(frames0(&[vec![131, b'D', 255]]), ErrorKind::Truncated);
}

#[test]
fn atom_text_over_255_characters_or_not_utf8_is_refused() {
    let control = reg_send_control(0, 1, 2);
    let refs_with = |text: &'static [u8]| [Ref::New(1, b"a@127.0.0.1"), Ref::New(2, b""), Ref::New(3, text)];
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let check = |text: &'static [u8], want: Option<ErrorKind>| {
        let f = frame_normal(&refs_with(text), &control, &PAYLOAD);
        let mut ch = channel(PacketSize::Zero);
        match (drive(&mut ch, &[&f]), want) {
            (Ok(_), None) => {}
            (Err((e, _)), Some(k)) => assert_eq!(e.kind, k, "text of {} bytes", text.len()),
            (r, w) => panic!("text of {} bytes: want {w:?}, got {:?}", text.len(), r.map(|f| f.len())),
        }
    };
    check(leak(vec![b'a'; 255]), None);
    check(leak(vec![b'a'; 256]), Some(ErrorKind::AtomTooLong));
    check(leak("é".repeat(255).into_bytes()), None); // 510 bytes, 255 chars
    check(leak("é".repeat(256).into_bytes()), Some(ErrorKind::AtomTooLong));
    check(leak("😀".repeat(255).into_bytes()), None); // 1020 bytes
    check(leak(vec![b'a'; 1021]), Some(ErrorKind::LimitAtomBytes));
    check(leak(vec![b'a'; 65535]), Some(ErrorKind::LimitAtomBytes));
    for bad in [&[0xff][..], &[0xc3], &[b'a', 0xc3, b'(', b'b'], &[0xed, 0xa0, 0x80], &[0xf8, 0x88, 0x80, 0x80, 0x80]] {
        check(leak(bad.to_vec()), Some(ErrorKind::AtomInvalidUtf8));
    }
    // a Latin-1 channel (no UTF8_ATOMS) reads the same bytes as Latin-1
    let mut ch = Channel::new(ChannelOptions {
        packet_size: PacketSize::Zero,
        dflags: DFLAGS & !0x10000,
        limits: Limits::default(),
    });
    let f = frame_normal(&refs_with(&[0xff, 0xe9]), &control, &PAYLOAD);
    drive(&mut ch, &[&f]).unwrap();
    let cache = ch.atom_cache_entries().unwrap();
    assert_eq!(cache.iter().find(|(s, _)| *s == 3).unwrap().1.as_str(), "ÿé");
}

// -------------------------------------------- corpus packets cut anywhere

/// Where a header's atom table of `count` entries, starting at `at` with
/// its flags, ends (parsed here independently of the crate).
fn atom_table_end(frame: &[u8], mut at: usize, count: usize) -> usize {
    if count == 0 {
        return at;
    }
    let flags = &frame[at..at + count / 2 + 1];
    let nib = |i: usize| if i & 1 == 0 { flags[i / 2] & 15 } else { flags[i / 2] >> 4 };
    let long = nib(count) & 1 != 0;
    at += count / 2 + 1;
    for i in 0..count {
        at += 1;
        if nib(i) & 8 != 0 {
            let len = if long { u16::from_be_bytes([frame[at], frame[at + 1]]) as usize } else { frame[at] as usize };
            at += if long { 2 } else { 1 } + len;
        }
    }
    at
}

/// Where the atom table and control-message head of a header frame end
/// (parsed here independently of the crate), or for 'F' the end of its
/// 18-byte header. Cuts before this point are detectable in isolation.
fn head_end(frame: &[u8]) -> usize {
    let mut at = 2;
    match frame[1] {
        b'F' => return 18,
        b'E' => at += 16,
        _ => {}
    }
    let count = frame[at] as usize;
    at += 1;
    at = atom_table_end(frame, at, count);
    at += match frame[at] {
        104 => 2,
        _ => 5,
    };
    at += match frame[at] {
        97 => 2,
        _ => 5,
    };
    at
}

/// Frames that put `cache` into a fresh channel: LINK messages whose headers
/// write up to 255 entries each.
fn priming_frames(cache: &[(u16, Atom)]) -> Vec<Vec<u8>> {
    cache
        .chunks(255)
        .map(|chunk| {
            let refs: Vec<Ref<'_>> = chunk.iter().map(|(i, a)| Ref::New(*i, a.as_bytes())).collect();
            frame_normal(&refs, &link_control(0), &[])
        })
        .collect()
}

/// One corpus packet to cut, with what a fresh channel must see first.
struct Case {
    frame: Vec<u8>,
    /// Frames (unprefixed) that recreate the state the packet needs.
    prime: Vec<Vec<u8>>,
}

/// Sample packets of `c`: the first `first` frames and `extra` random ones,
/// plus every 'E'/'F' frame in the first 40 of each kind (with the frames
/// of its sequence before it).
fn cases(c: &Corpus, first: usize, extra: usize, rng: &mut Rng) -> Vec<Case> {
    let frames = c.frames();
    let mut pick: Vec<usize> = (0..first.min(frames.len())).collect();
    pick.extend((0..extra).map(|_| rng.below(frames.len() as u64) as usize));
    let (mut e_seen, mut f_seen) = (0, 0);
    for (k, f) in frames.iter().enumerate() {
        let take = match f[1] {
            b'E' => {
                e_seen += 1;
                e_seen <= 40
            }
            b'F' => {
                f_seen += 1;
                f_seen <= 40
            }
            _ => false,
        };
        if take {
            pick.push(k);
        }
    }
    pick.sort_unstable();
    pick.dedup();

    // walk a reference channel forward to read the cache before each pick
    // (and before each fragment header, for its continuations)
    let mut reference = Channel::new(ChannelOptions { packet_size: PacketSize::Zero, ..c.options() });
    let mut cache_at_header = std::collections::HashMap::new();
    let mut out = vec![];
    let mut at = 0;
    for k in pick {
        for f in &frames[at..k] {
            if f[1] == b'E' {
                cache_at_header.insert(f[2..10].to_vec(), reference.atom_cache_entries().unwrap());
            }
            drive(&mut reference, &[f]).expect("corpus decodes");
        }
        at = k;
        let frame = frames[k].to_vec();
        let prime = if frame[1] == b'F' {
            // the cache as its header found it, then the fragments of its
            // sequence so far
            let seq = &frame[2..10];
            let start = (0..k).rev().find(|&j| frames[j][1] == b'E' && &frames[j][2..10] == seq).unwrap();
            let mut prime = priming_frames(&cache_at_header[seq]);
            prime.extend(
                (start..k).filter(|&j| frames[j][1] != b'D' && &frames[j][2..10] == seq).map(|j| frames[j].to_vec()),
            );
            prime
        } else {
            priming_frames(&reference.atom_cache_entries().unwrap())
        };
        out.push(Case { frame, prime });
    }
    out
}

/// Cut points of a frame: all of them up to 4 KiB, else every one in its
/// head and a sample of the rest.
fn cut_points(len: usize, head: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= 4096 {
        return (1..len).collect();
    }
    let mut cuts: Vec<usize> = (1..(head + 64).min(len)).collect();
    cuts.extend((len - 16)..len);
    cuts.extend((0..48).map(|_| 1 + rng.below(len as u64 - 1) as usize));
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn primed(c: &Corpus, size: PacketSize, prime: &[Vec<u8>]) -> Channel {
    let mut ch = Channel::new(ChannelOptions { packet_size: size, ..c.options() });
    let pieces: Vec<Vec<u8>> =
        prime.iter().map(|f| if size == PacketSize::Zero { f.clone() } else { prefixed(size.bytes(), f) }).collect();
    let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
    assert_eq!(drive(&mut ch, &refs).expect("priming frames decode").len(), prime.len());
    ch
}

fn corpus_cases() -> Vec<(Corpus, Vec<Case>)> {
    let mut rng = Rng(0xc0ffee);
    Corpus::all()
        .into_iter()
        .map(|c| {
            let (first, extra) = if c.name.starts_with("small") { (48, 48) } else { (8, 8) };
            let cs = cases(&c, first, extra, &mut rng);
            (c, cs)
        })
        .collect()
}

/// DESIGN model 9, framed half: a valid packet whose length prefix arrived
/// but whose bytes are cut anywhere is incomplete: no emit, no error, only
/// the bytes received are held, and the rest completes it unchanged.
#[test]
fn a_corpus_packet_cut_anywhere_behind_its_length_prefix_is_incomplete() {
    let mut rng = Rng(0xfeed);
    let mut checked = 0;
    for (c, cases) in corpus_cases() {
        for case in &cases {
            let packet = prefixed(4, &case.frame);
            let head = head_end(&case.frame);
            for cut in cut_points(case.frame.len(), head, &mut rng) {
                let mut ch = primed(&c, PacketSize::Four, &case.prime);
                let split = 4 + cut;
                let frames = drive(&mut ch, &[&packet[..split]])
                    .unwrap_or_else(|(e, _)| panic!("{}: cut {cut} of {}: {e}", c.name, case.frame.len()));
                assert!(frames.is_empty(), "{}: emitted a cut frame", c.name);
                assert_eq!(ch.buffered_bytes(), cut as u64);
                assert_eq!(ch.partial_packet(), (cut as u64, case.frame.len() as u64));
                let frames = drive(&mut ch, &[&packet[split..]]).expect("rest completes");
                assert_eq!(frames, vec![case.frame.clone()]);
                assert_eq!(ch.buffered_bytes(), 0);
                checked += 1;
            }
            // the prefix itself cut anywhere: also incomplete
            for cut in 1..4 {
                let mut ch = primed(&c, PacketSize::Four, &case.prime);
                assert!(drive(&mut ch, &[&packet[..cut]]).unwrap().is_empty());
                assert_eq!(ch.buffered_bytes(), cut as u64);
                assert_eq!(drive(&mut ch, &[&packet[cut..]]).unwrap(), vec![case.frame.clone()]);
            }
        }
    }
    assert!(checked > 10_000, "only {checked} cuts");
}

/// DESIGN model 9, unframed half: a strict prefix of a valid frame fed as a
/// whole packet-size-0 frame never panics, and is an error wherever the cut
/// falls inside what can be checked without the term scanner (the header
/// and the control message's head; for 'F' its 18-byte header).
#[test]
fn a_corpus_frame_cut_anywhere_as_a_whole_frame_is_an_error_never_a_panic() {
    let mut rng = Rng(0xbeef);
    for (c, cases) in corpus_cases() {
        for case in &cases {
            let head = head_end(&case.frame);
            for cut in cut_points(case.frame.len(), head, &mut rng) {
                let mut ch = primed(&c, PacketSize::Zero, &case.prime);
                let r = drive(&mut ch, &[&case.frame[..cut]]);
                if cut < head {
                    let (e, frames) = r.expect_err("a cut inside the head must be an error");
                    assert!(frames.is_empty());
                    // a fragment header cut inside its control: the control
                    // no longer ends in the first fragment
                    let straddles = e.kind == ErrorKind::ControlStraddlesFragments && case.frame[1] == b'E';
                    assert!(
                        matches!(e.kind, ErrorKind::Truncated | ErrorKind::FrameTooShort) || straddles,
                        "{}: cut {cut} of {}: {:?}",
                        c.name,
                        case.frame.len(),
                        e.kind
                    );
                }
            }
        }
    }
}

/// Where the control message of a 'D' frame ends (header references read
/// from the frame, the control skipped with the crate's scanner).
fn control_end(frame: &[u8]) -> usize {
    use erldist_filter_core::term::{skip_term, ScanContext};
    assert_eq!(frame[1], b'D');
    let count = frame[2] as usize;
    let mut at = 3;
    at = atom_table_end(frame, at, count);
    skip_term(frame, &mut at, &ScanContext::internal(count as u8)).expect("corpus control");
    at
}

/// DESIGN model 9 for whole messages ('D' frames), as shipped: terms are
/// read only as far as the rules need, and the VM's own decoder refuses the
/// rest (README, "Left to the VM, by design"). So a sampled strict prefix
/// is either an error or delivered *unchanged* (one frame, the same bytes:
/// the VM then sees exactly what the peer sent), or rewritten as the whole
/// message is. Under inspection the control is decoded whole: only cuts in
/// the payload can pass. Returns the
/// accepted cuts as `(corpus, frame length, cut)`.
fn strict_prefixes_accepted(cfg: &Config) -> Vec<(String, usize, usize)> {
    let mut rng = Rng(0xbeef);
    let mut accepted = vec![];
    for (c, cases) in corpus_cases() {
        for case in cases.iter().filter(|cs| cs.frame[1] == b'D') {
            let (head, control) = (head_end(&case.frame), control_end(&case.frame));
            // a message the rules rewrite (drop, redirect, spawn) is
            // rewritten cut or not; one they let through passes unchanged
            let whole = drive_with(&mut primed(&c, PacketSize::Zero, &case.prime), &[&case.frame], cfg).unwrap();
            let unchanged = whole == vec![case.frame.clone()];
            for cut in cut_points(case.frame.len(), head, &mut rng) {
                let mut ch = primed(&c, PacketSize::Zero, &case.prime);
                let prefix = &case.frame[..cut];
                if let Ok(out) = drive_with(&mut ch, &[prefix], cfg) {
                    assert_eq!(out.len(), 1, "{}: cut {cut} gave {} frames", c.name, out.len());
                    if unchanged {
                        assert_eq!(out[0], prefix, "{}: cut {cut} was changed, not passed on", c.name);
                    }
                    assert!(cut >= head, "{}: cut {cut} inside the head ({head}) accepted", c.name);
                    if cfg.deep_packet_inspection {
                        assert!(cut >= control, "{}: cut {cut} inside the control (ends {control}) accepted", c.name);
                    }
                    accepted.push((c.name.clone(), case.frame.len(), cut));
                }
            }
        }
    }
    accepted
}

#[test]
fn a_strict_prefix_of_a_whole_message_is_refused_or_passed_on_unchanged_under_inspection() {
    let dpi = Config { deep_packet_inspection: true, ..Config::default() };
    let accepted = strict_prefixes_accepted(&dpi);
    // payloads are viewed, not scanned to their ends: some cuts reach the VM
    assert!(!accepted.is_empty(), "no cut payload passed: the README's 'left to the VM' is out of date");
}

#[test]
fn a_strict_prefix_of_a_whole_message_is_refused_or_passed_on_unchanged_without_inspection() {
    let accepted = strict_prefixes_accepted(&Config::default());
    // the fast path reads only the header and the control head
    assert!(!accepted.is_empty(), "no cut passed: the README's 'left to the VM' is out of date");
}

/// Minimal case: under inspection, a REG_SEND whose payload
/// `{'$gen_cast', {init_connect, 1}}` lacks its last byte reaches the VM
/// unchanged (the rules need only the payload's first elements; the VM
/// refuses the rest), while the same cut of a payload `42`, which the view
/// reads whole, is `Truncated`.
#[test]
fn a_truncated_payload_under_inspection_is_left_to_the_vm() {
    let dpi = Config { deep_packet_inspection: true, ..Config::default() };
    let mut payload = vec![104, 2, 119, 9];
    payload.extend_from_slice(b"$gen_cast");
    payload.extend([104, 2, 119, 12]);
    payload.extend_from_slice(b"init_connect");
    payload.extend([97, 1]);
    let f = frame_normal(&reg_send_refs(), &reg_send_control(0, 1, 2), &payload);
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(drive_with(&mut ch, &[&f], &dpi).unwrap(), vec![f.clone()]);
    let cut = &f[..f.len() - 1];
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(drive_with(&mut ch, &[cut], &dpi).map_err(|e| e.0.kind), Ok(vec![cut.to_vec()]));
    let small = valid_reg_send();
    let mut ch = channel(PacketSize::Zero);
    let r = drive_with(&mut ch, &[&small[..small.len() - 1]], &dpi);
    assert_eq!(r.map_err(|e| e.0.kind).map(|v| v.len()), Err(ErrorKind::Truncated));
}

// ------------------------------------------------ with inspection switched on

fn dpi() -> Config {
    Config { deep_packet_inspection: true, ..Config::default() }
}

#[test]
fn under_inspection_hand_built_frames_are_checked_to_their_last_byte() {
    let f = valid_reg_send();
    for cut in 1..f.len() {
        let mut ch = channel(PacketSize::Zero);
        assert!(drive_with(&mut ch, &[&f[..cut]], &dpi()).is_err(), "cut {cut}");
    }
}

/// A byte after the payload of a whole message reaches the VM unchanged
/// under inspection too: the payload is viewed, not scanned to its end.
#[test]
fn under_inspection_bytes_after_the_payload_are_left_to_the_vm() {
    let mut long = valid_reg_send();
    long.push(106);
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(drive_with(&mut ch, &[&long], &dpi()).map_err(|e| e.0.kind), Ok(vec![long.clone()]));
    // bytes after a control that takes no payload are ignored as the VM
    // ignores them (under inspection this LINK is dropped whole)
    let mut link = frame_normal(&reg_send_refs(), &link_control(0), &[]);
    link.extend([97, 1]);
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(drive(&mut ch, &[&link]).map_err(|e| e.0.kind), Ok(vec![link.clone()]));
}

/// The head of a payload `{'$gen_call', <<_:1048576/binary>>, Request}`
/// whose binary runs past its first fragment: a payload that neither ends
/// there nor is a bare binary, so under inspection the message is held
/// until it completes (a bare binary would be decided at once and stream).
fn undecided_payload_head() -> Vec<u8> {
    let mut p = vec![104, 3, 119, 9];
    p.extend_from_slice(b"$gen_call");
    p.extend([109, 0, 0x10, 0, 0]);
    p
}

/// With inspection, fragments are held until the message completes: the
/// held bytes count against `max_buffered_bytes`, and unfinished sequences
/// against `max_sequences`.
#[test]
fn under_inspection_held_fragments_stay_within_the_limits() {
    for cfg in [dpi(), Config { compact_fragments: true, ..Config::default() }] {
        // 10^5 unfinished sequences
        let frames = unfinished_sequences(100_000);
        let limits = Limits { max_sequences: 1024, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Four, limits));
        let stream: Vec<u8> = frames.iter().flat_map(|f| prefixed(4, f)).collect();
        let (e, _) = drive_with(&mut ch, &[&stream], &cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitSequences);
        assert_eq!(ch.open_sequences(), 1024);
        assert!(ch.buffered_bytes() <= limits.max_buffered_bytes);

        // one sequence announcing u64::MAX fragments, fed 1000-byte
        // continuations until the buffer limit
        let limits = Limits { max_fragments: u64::MAX, max_buffered_bytes: 256 * 1024, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Zero, limits));
        let mut control = vec![104, 4, 97, 6];
        control.extend(pid(0, 1));
        control.extend([82, 1, 82, 2]);
        let e = frame_frag_header(3, u64::MAX, &reg_send_refs(), &control, &undecided_payload_head());
        drive_with(&mut ch, &[&e], &cfg).unwrap();
        let mut next = u64::MAX - 1;
        let err = loop {
            let c = frame_frag_cont(3, next, &[0x33; 1000]);
            match drive_with(&mut ch, &[&c], &cfg) {
                Ok(_) => {
                    assert!(ch.buffered_bytes() <= limits.max_buffered_bytes);
                    next -= 1;
                }
                Err((e, _)) => break e,
            }
        };
        assert_eq!(err.kind, ErrorKind::LimitBufferedBytes);
        assert!(u64::MAX - next > 200, "held only {} fragments", u64::MAX - next);
        assert!(ch.buffered_bytes() <= limits.max_buffered_bytes + 1018);
    }
}

/// A held message reserves room for the fragments its header announces,
/// but the peer chooses that count: what is reserved and not filled counts
/// against `max_buffered_bytes` when the next message reserves, so the
/// reservations never take the channel past it, nor one past
/// `max_message_bytes`; a second message gets only what is left. The limit
/// itself is still checked on the bytes held.
#[test]
fn a_held_message_reserves_only_within_the_limits() {
    let mut control = vec![104, 4, 97, 6];
    control.extend(pid(0, 1));
    control.extend([82, 1, 82, 2]);
    let header = |seq, n| frame_frag_header(seq, n, &reg_send_refs(), &control, &undecided_payload_head());
    for cfg in [dpi(), Config { compact_fragments: true, ..Config::default() }] {
        // an honest count: room for that many fragments of the first's size
        let limits = Limits { max_fragments: u64::MAX, max_buffered_bytes: 256 * 1024, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Zero, limits));
        let e = header(3, 3);
        drive_with(&mut ch, &[&e], &cfg).unwrap();
        assert_eq!((ch.buffered_bytes(), ch.reserved_bytes()), (e.len() as u64, 2 * e.len() as u64));
        // a hostile count: no more than the buffer limit leaves
        drive_with(&mut ch, &[&header(4, u64::MAX)], &cfg).unwrap();
        assert_eq!(ch.buffered_bytes() + ch.reserved_bytes(), limits.max_buffered_bytes);
        // and the next message gets nothing more
        let reserved = ch.reserved_bytes();
        drive_with(&mut ch, &[&header(5, u64::MAX)], &cfg).unwrap();
        assert_eq!(ch.reserved_bytes(), reserved);
        assert_eq!(ch.buffered_bytes() + ch.reserved_bytes(), limits.max_buffered_bytes + e.len() as u64);
        // filling a reservation moves its bytes from reserved to held
        drive_with(&mut ch, &[&frame_frag_cont(3, 2, &[0x33; 100])], &cfg).unwrap();
        assert_eq!(ch.reserved_bytes(), reserved - 100);
        // nor more than the message limit
        let limits = Limits { max_fragments: u64::MAX, max_message_bytes: 10_000, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Zero, limits));
        let e = header(3, u64::MAX);
        drive_with(&mut ch, &[&e], &cfg).unwrap();
        assert_eq!(ch.reserved_bytes(), limits.max_message_bytes - e.len() as u64);
    }
}

/// With packet size 0 the frame arrives whole, but `max_packet_len` still
/// names the largest frame accepted.
#[test]
fn an_unframed_frame_over_max_packet_len_is_refused() {
    let f = valid_reg_send();
    let limits = Limits { max_packet_len: f.len() as u64 - 1, ..Limits::default() };
    let mut ch = Channel::new(opts(PacketSize::Zero, limits));
    assert_eq!(error_of(&mut ch, &[&f]), ErrorKind::LimitPacketLen);
}

// ------------------------------------------- empty-continuation floods

/// The overhead each fragment costs besides its payload (held.rs).
const FRAGMENT_OVERHEAD: u64 = 64;

/// A REG_SEND that fills the cache, then one announcing `n` fragments
/// (its header reads the cache: no commit frame) and `n - 1` continuations,
/// all empty but the last, which ends the payload (so that under
/// inspection the message is held until then).
fn empty_continuations(seq: u64, n: u64) -> Vec<Vec<u8>> {
    let olds = [Ref::Old(1), Ref::Old(2), Ref::Old(3)];
    let control = reg_send_control(0, 1, 2);
    let mut frames = vec![valid_reg_send(), frame_frag_header(seq, n, &olds, &control, &PAYLOAD[..1])];
    frames.extend((1..n).rev().map(|id| frame_frag_cont(seq, id, if id == 1 { &PAYLOAD[1..] } else { &[] })));
    frames
}

/// Empty continuations are not free: each costs `FRAGMENT_OVERHEAD` against
/// `max_message_bytes` (held or not) and, when held, `max_buffered_bytes`.
#[test]
fn empty_continuations_count_against_the_byte_limits() {
    let frames = empty_continuations(7, 1001);
    let header = frames[1].len() as u64;
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    // room for 999 of the 1000 continuations (and the last one's byte)
    let max = header + 1 + 999 * FRAGMENT_OVERHEAD;
    for cfg in [Config::default(), dpi()] {
        let limits = Limits { max_message_bytes: max, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Zero, limits));
        let (e, _) = drive_with(&mut ch, &refs, &cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitMessageBytes);
        // exactly at the limit it passes
        let limits = Limits { max_message_bytes: max + FRAGMENT_OVERHEAD, ..Limits::default() };
        let mut ch = Channel::new(opts(PacketSize::Zero, limits));
        assert_eq!(drive_with(&mut ch, &refs, &cfg).unwrap().len(), frames.len());
    }
    // held (inspection): the buffer limit counts them too
    let limits = Limits { max_buffered_bytes: 500 * FRAGMENT_OVERHEAD, ..Limits::default() };
    let mut ch = Channel::new(opts(PacketSize::Zero, limits));
    let (e, _) = drive_with(&mut ch, &refs, &dpi()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitBufferedBytes);
}

/// The last fragment of a held message of 10^5 empty fragments must not
/// make one call emit 10^5 frames: each call emits what its budget pays
/// for, the channel owes the rest (`has_pending`), and they come out, in
/// order and unchanged, before anything later.
#[test]
fn re_emitting_many_fragments_is_spread_over_calls() {
    const SLICE: u64 = 20_000;
    let n = 100_000u64;
    let frames = empty_continuations(3, n);
    let after = valid_reg_send();
    let mut stream: Vec<u8> = frames.iter().flat_map(|f| prefixed(4, f)).collect();
    stream.extend(prefixed(4, &after));
    let mut ch = channel(PacketSize::Four);
    let mut got: Vec<Vec<u8>> = vec![];
    let mut actions = Actions::default();
    let mut rest: &[u8] = &stream;
    let mut calls = 0;
    while !rest.is_empty() || ch.has_pending() {
        actions.clear();
        let used = ch.recv(rest, &RecvContext::new(&dpi()), &mut Budget::new(SLICE), &mut actions).unwrap();
        assert!(actions.emits.len() as u64 <= SLICE / 16 + 1, "one call emitted {} frames", actions.emits.len());
        got.extend(actions.emits.drain(..).map(|e| match e {
            Emit::Input(r) => rest[r].to_vec(),
            Emit::Owned(v) => v,
            Emit::Fragment(f) => f.to_vec(),
        }));
        rest = &rest[used..];
        calls += 1;
        assert!(calls < 10_000, "no progress");
    }
    assert_eq!(got.len() as u64, n + 2);
    assert!(got[..=n as usize] == frames[..], "fragments re-emitted unchanged and in order");
    assert_eq!(got[n as usize + 1], after);
    assert_eq!(ch.buffered_bytes(), 0);
    // packet size 0: the frame that finishes it is consumed, the rest owed
    let mut ch = channel(PacketSize::Zero);
    let (last, head) = frames.split_last().unwrap();
    drive_with(&mut ch, &head.iter().map(Vec::as_slice).collect::<Vec<_>>(), &dpi()).unwrap();
    actions.clear();
    assert_eq!(ch.recv(last, &RecvContext::new(&dpi()), &mut Budget::new(SLICE), &mut actions).unwrap(), last.len());
    assert!(ch.has_pending());
    let mut emitted = actions.emits.len();
    while ch.has_pending() {
        actions.clear();
        ch.flush(&mut Budget::new(SLICE), &mut actions);
        assert!(actions.emits.len() as u64 <= SLICE / 16 + 1);
        emitted += actions.emits.len();
    }
    assert_eq!(emitted as u64, n);
}

// ---------------------------------------------------- long node names

/// A peer names itself: 200 characters of 3-byte UTF-8 (602 bytes with
/// `@h`). The redirect and the spawn rewrite carry the name; OTP's own
/// `binary_to_term/2` must read each rewritten term exactly to its end.
#[test]
fn a_long_node_name_in_rewrites_decodes_with_binary_to_term() {
    use erldist_filter_core::Peer;
    let name = format!("{}@h", "€".repeat(200));
    let peer = Peer {
        sysname: Atom::from_utf8(name.as_bytes()).unwrap(),
        router: Atom::from_utf8(b"erldist_filter_router_3").unwrap(),
        ..Peer::default()
    };
    let ext_pid = |id: u32| {
        let mut p = vec![88, 119, 3];
        p.extend_from_slice(b"a@h");
        p.extend(id.to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p.extend(7u32.to_be_bytes());
        p
    };
    // 'p' frames: REG_SEND {6, Pid, '', sink} with payload 42, and
    // SPAWN_REQUEST {29, Ref, From, GroupLeader, {m, f, 0}, []} with args []
    let mut reg_send = vec![b'p', 131, 104, 4, 97, 6];
    reg_send.extend(ext_pid(1));
    reg_send.extend([119, 0, 119, 4]);
    reg_send.extend_from_slice(b"sink");
    reg_send.extend([131, 97, 42]);
    let mut spawn = vec![b'p', 131, 104, 6, 97, 29, 90, 0, 3, 119, 3];
    spawn.extend_from_slice(b"a@h");
    spawn.extend([0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    spawn.extend(ext_pid(1));
    spawn.extend(ext_pid(2));
    spawn.extend([104, 3, 119, 1, b'm', 119, 1, b'f', 97, 0, 106]);
    spawn.extend([131, 106]);
    let cfg =
        Config { deep_packet_inspection: true, redirect_dist_operations: true, untrusted: true, ..Config::default() };
    let dflags = DFLAGS & !(0x2000 | 0x800000);
    let mut ch = Channel::new(ChannelOptions { packet_size: PacketSize::Zero, dflags, limits: Limits::default() })
        .with_peer(peer);
    let out = drive_with(&mut ch, &[&reg_send, &spawn], &cfg).unwrap();
    assert_eq!(out.len(), 2);
    assert_ne!(out[0], reg_send, "redirected");
    assert_ne!(out[1], spawn, "rewritten");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let check = format!(
        r#"Name = unicode:characters_to_binary([16#20AC || _ <- lists:seq(1, 200)] ++ "@h"),
        Read = fun(B) -> {{T, U}} = binary_to_term(B, [used]), <<_:U/binary, R/binary>> = B, {{T, R}} end,
        Check = fun(Hex, Where) ->
            <<$p, Rest/binary>> = binary:decode_hex(Hex),
            {{_Ctl, Rest2}} = Read(Rest),
            {{Pay, <<>>}} = Read(Rest2),
            Node = binary_to_atom(Name, utf8),
            Node = Where(Pay)
        end,
        Check(<<"{}">>, fun(P) -> element(1, P) end),
        Check(<<"{}">>, fun(P) -> hd(P) end),
        io:put_chars("oracle ok"), halt()."#,
        hex(&out[0]),
        hex(&out[1])
    );
    match std::process::Command::new("erl").args(["-noshell", "-eval", &check]).output() {
        Ok(o) => assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "oracle ok",
            "binary_to_term refused a rewrite: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => assert!(
            std::env::var("EDF_NO_ERL").is_ok_and(|v| v == "1"),
            "this test needs `erl` on PATH (set EDF_NO_ERL=1 to skip it on purpose): {e}"
        ),
    }
}

// ------------------------------------------- straddling control messages

/// OTP's receiver decodes a fragmented message's control from its first
/// fragment alone and refuses one that does not end there. Reassembled
/// (inspection or compaction holds the message), the same bytes would read
/// fine: the filter must refuse them in every mode, at the header fragment.
#[test]
fn a_control_message_straddling_the_first_fragment_boundary_is_refused() {
    let control = reg_send_control(0, 1, 2);
    // cut between elements (after the pid) and inside the pid
    for cut in [control.len() - 4, 10] {
        let (first, rest) = control.split_at(cut);
        let mut tail = rest.to_vec();
        tail.extend(PAYLOAD);
        let e = frame_frag_header(4, 2, &reg_send_refs(), first, &[]);
        let c = frame_frag_cont(4, 1, &tail);
        for cfg in [Config::default(), dpi(), Config { compact_fragments: true, ..Config::default() }] {
            let mut ch = channel(PacketSize::Zero);
            let (err, frames) = drive_with(&mut ch, &[&e, &c], &cfg).unwrap_err();
            assert_eq!(err.kind, ErrorKind::ControlStraddlesFragments, "cut {cut}, {cfg:?}");
            assert!(frames.is_empty(), "nothing of it reaches the VM");
        }
    }
    // the same message with the whole control in the first fragment passes
    let e = frame_frag_header(4, 2, &reg_send_refs(), &control, &PAYLOAD[..1]);
    let c = frame_frag_cont(4, 1, &PAYLOAD[1..]);
    for cfg in [Config::default(), dpi(), Config { compact_fragments: true, ..Config::default() }] {
        let mut ch = channel(PacketSize::Zero);
        assert!(drive_with(&mut ch, &[&e, &c], &cfg).is_ok(), "{cfg:?}");
    }
    // a control cut in a one-fragment message straddles nothing
    let one = frame_frag_header(4, 1, &reg_send_refs(), &control[..10], &[]);
    let r = drive(&mut channel(PacketSize::Zero), &[&one]).map_err(|e| e.0.kind);
    assert_ne!(r.err(), Some(ErrorKind::ControlStraddlesFragments));
}
