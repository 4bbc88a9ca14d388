//! Per-connection flood limits on real traffic, with injected time: over a
//! rate, messages are dropped (the VM still gets their atom-cache headers)
//! or the connection is closed, by policy.

mod common;

use common::Corpus;
use erldist_filter_core::Policy;
use erldist_filter_core::{Actions, Budget, Channel, Config, Emit, ErrorKind, Limits, RecvContext};

fn channel(c: &Corpus, limits: Limits) -> Channel {
    let mut opts = c.options();
    opts.limits = limits;
    Channel::new(opts)
}

fn frames(out: &Actions, packet: &[u8]) -> Vec<Vec<u8>> {
    out.emits
        .iter()
        .map(|e| match e {
            Emit::Input(r) => packet[r.clone()].to_vec(),
            Emit::Owned(v) => v.clone(),
            Emit::Fragment(f) => f.to_vec(),
        })
        .collect()
}

#[test]
fn messages_over_the_rate_are_dropped_until_time_refills_the_bucket() {
    let c = Corpus::load("small");
    let limits = Limits { max_messages_per_sec: 1000, rate_policy: Policy::Drop, ..Limits::default() };
    let mut ch = channel(&c, limits);
    let (mut passed, mut dropped) = (0, 0);
    let packets = c.packets();
    let cfg = Config::default();
    for (i, p) in packets.iter().enumerate().take(3000) {
        // 1.5 s go by over the first 3000 packets (one every 0.5 ms).
        let cx = RecvContext::new(&cfg).at(i as u64 / 2);
        let mut out = Actions::default();
        ch.recv(p, &cx, &mut Budget::new(u64::MAX), &mut out).unwrap();
        for f in frames(&out, p) {
            if f.as_slice() == &p[4..] {
                passed += 1;
            } else {
                // the drop keeps the frame's header, replaces the message
                assert_eq!(&f[..2], &[131, b'D']);
                dropped += 1;
            }
        }
    }
    // a 1000-message burst, then 1000/s for the remaining 1.5 s
    assert!((2400..=2600).contains(&passed), "passed {passed}");
    assert_eq!(passed + dropped, 2999, "every message gave exactly one frame (one tick)");
    assert_eq!(ch.stats().snapshot().flood_drop_count, dropped);
}

#[test]
fn under_the_close_policy_the_first_message_over_the_rate_is_an_error() {
    let c = Corpus::load("small");
    let limits = Limits { max_messages_per_sec: 100, ..Limits::default() };
    let mut ch = channel(&c, limits);
    let mut out = Actions::default();
    let err = c
        .packets()
        .iter()
        .map(|p| ch.recv(p, &RecvContext::new(&Config::default()), &mut Budget::new(u64::MAX), &mut out))
        .find_map(Result::err)
        .unwrap();
    assert_eq!(err.kind, ErrorKind::LimitRate);
    assert_eq!(ch.stats().snapshot().packet_count, 102, "100 messages, a tick, then the one over");
}

#[test]
fn held_fragmented_messages_over_the_byte_rate_are_discarded_whole() {
    let c = Corpus::load("large");
    let limits = Limits { max_bytes_per_sec: 300_000, rate_policy: Policy::Drop, ..Limits::default() };
    let mut ch = channel(&c, limits);
    let cfg = Config { deep_packet_inspection: true, ..Config::default() };
    let mut out = Actions::default();
    for p in c.packets() {
        ch.recv(p, &RecvContext::new(&cfg), &mut Budget::new(u64::MAX), &mut out).unwrap();
    }
    let s = ch.stats().snapshot();
    assert!(s.flood_drop_count > 0);
    assert_eq!(ch.open_sequences(), 0);
    assert_eq!(ch.buffered_bytes(), 0, "discarded messages hold nothing");
    let emitted: usize = out
        .emits
        .iter()
        .map(|e| match e {
            Emit::Owned(v) => v.len(),
            Emit::Input(r) => r.len(),
            Emit::Fragment(f) => f.len(),
        })
        .sum();
    assert!(emitted < 600_000, "about one second's worth reached the VM: {emitted}");
}
