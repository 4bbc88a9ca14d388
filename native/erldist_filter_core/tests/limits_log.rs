//! Logged events are bounded (`max_log_bytes`), and fragmented messages
//! are refused past `max_message_bytes` whether or not they are held.

use erldist_filter_core::term::{decode, encode, NoAtoms, Pid, ScanContext, Term};
use erldist_filter_core::{
    flags, Actions, Atom, Budget, Channel, ChannelOptions, Config, ErrorKind, Limits, PacketSize, RecvContext,
};

fn atom(s: &str) -> Term {
    Term::Atom(Atom::from_utf8(s.as_bytes()).unwrap())
}

/// A pass-through REG_SEND of `payload` to `name`.
fn reg_send(name: &str, payload: &Term) -> Vec<u8> {
    let from = Term::Pid(Pid { node: Atom::from_utf8(b"a@h").unwrap(), id: 1, serial: 0, creation: 1 });
    let mut f = vec![b'p', 131];
    encode(&Term::Tuple(vec![Term::Int(6), from, atom(""), atom(name)]), &mut f);
    f.push(131);
    encode(payload, &mut f);
    f
}

#[test]
fn an_oversized_logged_payload_keeps_only_its_size() {
    let limits = Limits { max_log_bytes: 1024, ..Limits::default() };
    let opts = ChannelOptions { packet_size: PacketSize::Zero, dflags: flags::DIST_MANDATORY, limits };
    let cfg = Config { deep_packet_inspection: true, logging: true, otp_name_blocklist: true, ..Config::default() };
    let mut ch = Channel::new(opts);
    let mut out = Actions::default();
    let small = Term::Tuple(vec![atom("load"), Term::Binary(vec![7; 10])]);
    let big = Term::Tuple(vec![atom("load"), Term::Binary(vec![7; 100_000])]);
    for p in [&small, &big] {
        ch.recv(&reg_send("code_server", p), &RecvContext::new(&cfg), &mut Budget::new(u64::MAX), &mut out).unwrap();
    }
    assert_eq!(out.logs.len(), 2);
    let payload_of = |i: usize| {
        let bytes = out.logs[i].payload.as_ref().unwrap();
        assert_eq!(bytes[0], 131);
        let mut pos = 1;
        decode(bytes, &mut pos, &ScanContext::external(), &NoAtoms).unwrap()
    };
    assert_eq!(payload_of(0), small);
    let mut encoded = vec![];
    encode(&big, &mut encoded);
    assert_eq!(payload_of(1), Term::Tuple(vec![atom("erldist_filter_truncated"), Term::Int(encoded.len() as i64)]));
}

#[test]
fn a_message_over_max_message_bytes_is_refused_held_or_not() {
    for dpi in [false, true] {
        let limits = Limits { max_message_bytes: 3000, ..Limits::default() };
        let opts = ChannelOptions { packet_size: PacketSize::Zero, dflags: flags::DIST_DEFAULT, limits };
        let cfg = Config { deep_packet_inspection: dpi, ..Config::default() };
        let mut ch = Channel::new(opts);
        let mut out = Actions::default();
        // 'E' header: seq 1, 5 fragments, no atoms, control {22, Pid, Pid}
        let pid = Term::Pid(Pid { node: Atom::from_utf8(b"a@h").unwrap(), id: 1, serial: 0, creation: 1 });
        let mut e = vec![131, b'E'];
        e.extend_from_slice(&1u64.to_be_bytes());
        e.extend_from_slice(&5u64.to_be_bytes());
        e.push(0);
        encode(&Term::Tuple(vec![Term::Int(22), pid.clone(), pid]), &mut e);
        e.extend_from_slice(&[109, 0, 0, 0x10, 0]); // binary of 4096 bytes, first part
        ch.recv(&e, &RecvContext::new(&cfg), &mut Budget::new(u64::MAX), &mut out).unwrap();
        let mut result = Ok(0);
        for id in [4u64, 3, 2] {
            let mut f = vec![131, b'F'];
            f.extend_from_slice(&1u64.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&[0; 1024]);
            result = ch.recv(&f, &RecvContext::new(&cfg), &mut Budget::new(u64::MAX), &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err().kind, ErrorKind::LimitMessageBytes, "dpi={dpi}");
        assert!(ch.buffered_bytes() <= 3000);
    }
}
