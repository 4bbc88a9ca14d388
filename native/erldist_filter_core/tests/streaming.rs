//! Streaming decisions for fragmented messages (issue 19): under deep packet
//! inspection, with compaction off and no atom guard, a fragmented message
//! the rules decide from its first fragment is not held. Kept, its frames
//! reach the VM as sub-slices of the input as they arrive (no hold, no
//! copy); dropped, its continuations never pass. A message the rules
//! cannot decide there, or rewrite, is held as before.

mod common;

use common::frames::{frame_frag_cont, frame_frag_header, frame_normal, pid, prefixed, Ref, DFLAGS};
use erldist_filter_core::LogEvent;
use erldist_filter_core::{Actions, Budget, Channel, ChannelOptions, Config, Emit, Limits, PacketSize, RecvContext};

/// `{REG_SEND=6, From, '', ToName}`: header references 0 (node), 1 ('')
/// and 2 (the name).
fn reg_send_control() -> Vec<u8> {
    let mut c = vec![104, 4, 97, 6];
    c.extend(pid(0, 1));
    c.extend([82, 1, 82, 2]);
    c
}

/// `{LINK=1, From, To}` (no payload).
fn link_control() -> Vec<u8> {
    let mut c = vec![104, 3, 97, 1];
    c.extend(pid(0, 1));
    c.extend(pid(0, 2));
    c
}

/// Header references: the node and '' (cache slots 1 and 2, new when
/// `new`), then the name in slot `slot`, always new.
fn refs<'a>(new: bool, slot: u16, name: &'a [u8]) -> [Ref<'a>; 3] {
    if new {
        [Ref::New(1, b"a@127.0.0.1"), Ref::New(2, b""), Ref::New(slot, name)]
    } else {
        [Ref::Old(1), Ref::Old(2), Ref::New(slot, name)]
    }
}

/// A message of `fragments` fragments whose payload is `payload` cut into
/// `fragments` nearly equal pieces (as OTP cuts it).
fn fragmented(seq: u64, refs: &[Ref<'_>], control: &[u8], payload: &[u8], fragments: u64) -> Vec<Vec<u8>> {
    let piece = payload.len().div_ceil(fragments as usize);
    let mut pieces = payload.chunks(piece.max(1));
    let mut out = vec![frame_frag_header(seq, fragments, refs, control, pieces.next().unwrap_or(&[]))];
    for id in (1..fragments).rev() {
        out.push(frame_frag_cont(seq, id, pieces.next().unwrap_or(&[])));
    }
    out
}

/// `<<Bytes/binary>>` as a payload term.
fn binary(len: usize) -> Vec<u8> {
    let mut p = vec![109];
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend((0..len).map(|i| (i * 7 + 3) as u8));
    p
}

fn dpi() -> Config {
    Config { deep_packet_inspection: true, ..Config::default() }
}

fn channel(packet_size: PacketSize) -> Channel {
    Channel::new(ChannelOptions { packet_size, dflags: DFLAGS, limits: Limits::default() })
}

/// One `recv` of `data` (whole frames), with the emits as they came and
/// the log events.
fn recv(ch: &mut Channel, data: &[u8], cfg: &Config) -> (Vec<Emit>, Vec<LogEvent>) {
    let mut out = Actions::default();
    let used = ch.recv(data, &RecvContext::new(cfg), &mut Budget::new(u64::MAX), &mut out).expect("recv");
    assert_eq!(used, data.len());
    assert!(!ch.has_pending());
    (out.emits, out.logs)
}

/// Every frame emitted by feeding `frames` one per call, as bytes.
fn feed(ch: &mut Channel, frames: &[Vec<u8>], cfg: &Config) -> Vec<Vec<u8>> {
    frames.iter().flat_map(|f| recv(ch, f, cfg).0.into_iter().map(|e| e.to_vec(f)).collect::<Vec<_>>()).collect()
}

/// `[seen, emit, drop, redirect, log]` of operation `name`.
fn row(ch: &Channel, name: &str) -> [u64; 5] {
    ch.stats().snapshot().dop_rows().find(|(n, _)| *n == name).map(|(_, r)| r).unwrap()
}

/// A 1 MiB binary sent in 16 fragments, kept by inspection: every frame
/// reaches the VM as a range of the input it arrived in, as it arrives;
/// nothing is held, reserved or copied, and the message counts once.
#[test]
fn a_kept_fragmented_message_streams_as_input_ranges_without_holding() {
    let frames = fragmented(3, &refs(true, 3, b"sink"), &reg_send_control(), &binary(1 << 20), 16);
    assert!(frames[0].len() > 60_000, "the payload starts in the first fragment");
    for size in [PacketSize::Zero, PacketSize::Four] {
        let mut ch = channel(size);
        let prefix = if size == PacketSize::Four { 4 } else { 0 };
        for f in &frames {
            let packet = if prefix == 0 { f.clone() } else { prefixed(4, f) };
            let (emits, logs) = recv(&mut ch, &packet, &dpi());
            assert_eq!(emits, vec![Emit::Input(prefix..packet.len())], "passed on as its input, at once");
            assert!(logs.is_empty());
            assert_eq!((ch.buffered_bytes(), ch.reserved_bytes()), (0, 0), "nothing held");
        }
        assert_eq!(ch.open_sequences(), 0);
        assert_eq!(row(&ch, "reg_send"), [1, 1, 0, 0, 0]);
        assert_eq!(ch.stats().snapshot().emit_count, 16);
        // all in one read: sub-slices of that one input, in order
        if size == PacketSize::Four {
            let stream: Vec<u8> = frames.iter().flat_map(|f| prefixed(4, f)).collect();
            let mut ch = channel(size);
            let (emits, _) = recv(&mut ch, &stream, &dpi());
            let mut at = 0;
            let want: Vec<Emit> = frames
                .iter()
                .map(|f| {
                    at += 4 + f.len();
                    Emit::Input(at - f.len()..at)
                })
                .collect();
            assert_eq!(emits, want);
        }
    }
    // the same bytes as with inspection off
    let mut off = channel(PacketSize::Zero);
    assert_eq!(feed(&mut off, &frames, &Config::default()), frames);
}

/// A fragmented message the rules drop from its first fragment: the frames
/// that replace it come out with that fragment, exactly those the held path
/// gives (the commit of its new cache entries, then the no-op with its
/// header, FragmentId 1), and none of its continuations passes; it counts
/// once, and nothing is held meanwhile.
#[test]
fn a_dropped_fragmented_message_never_lets_a_continuation_through() {
    // untrusted: every send is dropped (redirect off)
    let untrusted = Config { untrusted: true, ..dpi() };
    let frames = fragmented(5, &refs(true, 3, b"sink"), &reg_send_control(), &binary(40_000), 4);
    let mut ch = channel(PacketSize::Zero);
    let (head, logs) = recv(&mut ch, &frames[0], &untrusted);
    assert_eq!(head.len(), 2, "commit and no-op");
    assert!(logs.is_empty(), "logging is off");
    assert!(head.iter().all(|e| matches!(e, Emit::Owned(_))));
    let head: Vec<Vec<u8>> = head.iter().map(|e| e.to_vec(&frames[0])).collect();
    for f in &head {
        assert_eq!(&f[..10], &frames[0][..10], "same sequence");
        assert_eq!(f[10..18], 1u64.to_be_bytes(), "one fragment");
    }
    assert_eq!(ch.buffered_bytes(), 0);
    for f in &frames[1..] {
        assert_eq!(recv(&mut ch, f, &untrusted), (vec![], vec![]), "a continuation passed");
        assert_eq!(ch.buffered_bytes(), 0);
    }
    assert_eq!(ch.open_sequences(), 0);
    assert_eq!(row(&ch, "reg_send"), [1, 0, 1, 0, 0]);
    assert_eq!(ch.stats().snapshot().drop_count, 1);
    // the frames the held path gives (logging on, the log event needs the
    // payload: held until the last fragment)
    let logged = Config { logging: true, ..untrusted };
    let mut held = channel(PacketSize::Zero);
    let first = recv(&mut held, &frames[0], &logged).0;
    assert_eq!(first.len(), 1, "only the commit at first");
    assert!(held.buffered_bytes() > 0);
    let mut all = vec![first[0].to_vec(&frames[0])];
    all.extend(feed(&mut held, &frames[1..], &logged));
    assert_eq!(all, head);
    assert_eq!(held.stats().snapshot().log_count, 1);

    // a LINK has no payload: dropped and logged from its first fragment
    let logged = Config { logging: true, ..dpi() };
    let frames = fragmented(6, &refs(true, 3, b"sink"), &link_control(), &[0x33; 300], 3);
    let mut ch = channel(PacketSize::Zero);
    let (head, logs) = recv(&mut ch, &frames[0], &logged);
    assert_eq!((head.len(), logs.len()), (2, 1));
    assert_eq!(logs[0].payload, None);
    for f in &frames[1..] {
        assert_eq!(recv(&mut ch, f, &logged), (vec![], vec![]));
    }
    assert_eq!(row(&ch, "link"), [1, 0, 1, 0, 1]);
    assert_eq!(ch.stats().snapshot().log_count, 1);
}

/// A redirected fragmented message is held as before: nothing of it passes
/// until its last fragment, which brings the one rewritten frame.
#[test]
fn a_redirected_fragmented_message_is_held_and_rewritten_whole() {
    let redirect = Config { untrusted: true, redirect_dist_operations: true, ..dpi() };
    let frames = fragmented(7, &refs(true, 3, b"sink"), &reg_send_control(), &binary(30_000), 3);
    let mut ch = channel(PacketSize::Zero);
    assert_eq!(recv(&mut ch, &frames[0], &redirect).0.len(), 1, "the commit only");
    assert!(ch.buffered_bytes() > 0, "held");
    assert!(recv(&mut ch, &frames[1], &redirect).0.is_empty());
    let last = recv(&mut ch, &frames[2], &redirect).0;
    assert_eq!(last.len(), 1);
    assert!(matches!(&last[0], Emit::Owned(v) if v.len() > 30_000 && v[10..18] == 1u64.to_be_bytes()));
    assert_eq!(row(&ch, "reg_send"), [1, 1, 0, 1, 0]);
}

/// Three fragmented messages interleaved with a whole one that overwrites a
/// cache slot: one kept from its first fragment (streams), one dropped
/// from it (continuations swallowed), one the rules cannot decide before
/// its last fragment (held, then re-emitted with the rollback of the slot
/// overwritten meanwhile). Each is decided on its own.
#[test]
fn interleaved_sequences_stream_drop_and_hold_independently() {
    // kept: a binary to `sink`
    let a = fragmented(11, &refs(true, 3, b"sink"), &reg_send_control(), &binary(9_000), 3);
    // dropped: anything but an is_auth call to net_kernel
    let b = fragmented(12, &refs(false, 4, b"net_kernel"), &reg_send_control(), &binary(6_000), 3);
    // undecided: {'$gen_call', <<_>>, 1} to `c_name`, whose request is in
    // the last fragment
    let mut call = vec![104, 3, 119, 9];
    call.extend_from_slice(b"$gen_call");
    call.extend(binary(8));
    let c = [
        frame_frag_header(13, 3, &refs(false, 5, b"c_name"), &reg_send_control(), &call[..16]),
        frame_frag_cont(13, 2, &call[16..]),
        frame_frag_cont(13, 1, &[97, 1]),
    ];
    // overwrites slot 5 while `c` is held
    let d = frame_normal(&refs(false, 5, b"other"), &reg_send_control(), &[97, 2]);
    let order: Vec<&Vec<u8>> = vec![&a[0], &b[0], &c[0], &d, &a[1], &b[1], &c[1], &a[2], &b[2], &c[2]];
    let mut ch = channel(PacketSize::Zero);
    let mut got: Vec<(usize, Vec<Emit>)> = vec![];
    for (k, f) in order.iter().enumerate() {
        let (emits, _) = recv(&mut ch, f, &dpi());
        got.push((k, emits));
    }
    let input = |k: usize| vec![Emit::Input(0..order[k].len())];
    // a and d: as their input, at once
    for k in [0, 3, 4, 7] {
        assert_eq!(got[k].1, input(k), "frame {k}");
    }
    // b: its replacement at once, then nothing
    assert_eq!(got[1].1.len(), 2, "the commit of slot 4 and the no-op");
    assert!(got[1].1.iter().all(|e| matches!(e, Emit::Owned(v) if v[2..10] == 12u64.to_be_bytes())));
    for k in [5, 8] {
        assert!(got[k].1.is_empty(), "a continuation of the dropped message passed");
    }
    // c: its commit, nothing while held, then its fragments as received
    // and the rollback of slot 5
    assert_eq!(got[2].1.len(), 1);
    assert!(got[6].1.is_empty());
    let tail: Vec<Vec<u8>> = got[9].1.iter().map(|e| e.to_vec(order[9])).collect();
    assert_eq!(tail.len(), 4);
    assert_eq!(tail[..3], c[..]);
    assert_eq!(&tail[3][..18], &[&[131, b'E'][..], &13u64.to_be_bytes(), &1u64.to_be_bytes()].concat()[..]);
    let s = ch.stats().snapshot();
    assert_eq!(s.rollback_atom_cache_count, 1);
    assert_eq!(row(&ch, "reg_send"), [4, 3, 1, 0, 0]);
    assert_eq!((ch.open_sequences(), ch.buffered_bytes()), (0, 0));
}
