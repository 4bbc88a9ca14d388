//! Every control message OTP defines decodes into its typed form (with and
//! without trace tokens); a wrong arity, an unknown operation or an element
//! of the wrong type is a typed error.

use erldist_filter_core::control::{self, Op};
use erldist_filter_core::dop::{self, Dop};
use erldist_filter_core::term::{encode, Pid, Ref, ScanContext, Term, Viewer};
use erldist_filter_core::{Atom, ErrorKind};
use proptest::prelude::*;

fn atom(s: &str) -> Term {
    Term::Atom(Atom::from_utf8(s.as_bytes()).unwrap())
}

fn pid(id: u32) -> Term {
    Term::Pid(Pid { node: Atom::from_utf8(b"a@host").unwrap(), id, serial: 0, creation: 7 })
}

fn reference(id: u32) -> Term {
    Term::Ref(Ref { node: Atom::from_utf8(b"a@host").unwrap(), creation: 7, ids: vec![id, 1, 2] })
}

fn token() -> Term {
    Term::Tuple(vec![Term::Int(0), atom("label"), Term::Int(1), pid(9), Term::Int(2)])
}

/// A valid control tuple for `dop` (its elements after the operation number).
fn fields(d: Dop) -> Vec<Term> {
    use Dop::*;
    let mfa = Term::Tuple(vec![atom("erlang"), atom("node"), Term::Int(0)]);
    match d {
        Link | Unlink | GroupLeader | SendSender | PayloadExit | PayloadExit2 => vec![pid(1), pid(2)],
        Send => vec![atom(""), pid(2)],
        Exit | Exit2 => vec![pid(1), pid(2), atom("normal")],
        SendTt => vec![atom(""), pid(2), token()],
        ExitTt | Exit2Tt => vec![pid(1), pid(2), token(), atom("normal")],
        RegSend => vec![pid(1), atom(""), atom("sink")],
        RegSendTt => vec![pid(1), atom(""), atom("sink"), token()],
        MonitorP | DemonitorP => vec![pid(1), atom("sink"), reference(3)],
        MonitorPExit => vec![pid(1), pid(2), reference(3), atom("noproc")],
        SendSenderTt | PayloadExitTt | PayloadExit2Tt => vec![pid(1), pid(2), token()],
        PayloadMonitorPExit => vec![atom("sink"), pid(2), reference(3)],
        SpawnRequest => vec![reference(3), pid(1), pid(2), mfa, Term::Nil],
        SpawnRequestTt => vec![reference(3), pid(1), pid(2), mfa, Term::Nil, token()],
        SpawnReply => vec![reference(3), pid(1), Term::Int(0), pid(4)],
        SpawnReplyTt => vec![reference(3), pid(1), Term::Int(0), pid(4), token()],
        AliasSend => vec![pid(1), reference(3)],
        AliasSendTt => vec![pid(1), reference(3), token()],
        UnlinkId | UnlinkIdAck => vec![Term::Int(42), pid(1), pid(2)],
        AltactSigSend => vec![Term::Int(8), pid(1), atom("sink")],
    }
}

fn control(d: Dop, rest: Vec<Term>) -> Vec<u8> {
    let mut elems = vec![Term::Int(i64::from(d.code()))];
    elems.extend(rest);
    let mut out = vec![];
    encode(&Term::Tuple(elems), &mut out);
    out
}

fn decode(bytes: &[u8]) -> Result<control::Control<'_>, ErrorKind> {
    let v = Viewer::new(bytes, ScanContext::external(), &erldist_filter_core::term::NoAtoms);
    control::decode(&v, 0).map_err(|e| e.kind)
}

#[test]
fn every_operation_decodes_with_its_fields_and_token() {
    for info in dop::ALL.iter() {
        let bytes = control(info.dop, fields(info.dop));
        let c = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", info.name));
        assert_eq!(c.head.dop, info.dop);
        assert_eq!(c.range, 0..bytes.len(), "{}: control spans the bytes", info.name);
        let has_token = info.token_pos.is_some() && info.dop != Dop::AltactSigSend;
        assert_eq!(c.token.is_some(), has_token, "{}: token", info.name);
        if let Op::RegSend { to_name, .. } = c.op {
            assert!(to_name.eq_str("sink"));
        }
        if let Op::SpawnRequest { module, function, arity, .. } = c.op {
            assert!(module.eq_str("erlang") && function.eq_str("node") && arity == 0);
        }
    }
}

#[test]
fn wrong_arity_unknown_operation_and_wrong_types_are_typed_errors() {
    for info in dop::ALL.iter() {
        let mut short = fields(info.dop);
        short.pop();
        short.pop();
        assert_eq!(decode(&control(info.dop, short)).err(), Some(ErrorKind::WrongControlArity), "{}", info.name);
        // Every pid or reference field (a spawn reply's result may be
        // anything), given a float instead.
        let good = fields(info.dop);
        let free_result = |i: usize| matches!(info.dop, Dop::SpawnReply | Dop::SpawnReplyTt) && i == 3;
        for (i, f) in good.iter().enumerate() {
            if matches!(f, Term::Pid(_) | Term::Ref(_)) && !free_result(i) {
                let mut bad = good.clone();
                bad[i] = Term::Float(1.5);
                assert_eq!(
                    decode(&control(info.dop, bad)).err(),
                    Some(ErrorKind::BadControlElement),
                    "{} field {i}",
                    info.name
                );
            }
        }
    }
    let mut out = vec![];
    encode(&Term::Tuple(vec![Term::Int(5), pid(1), pid(2)]), &mut out);
    assert_eq!(decode(&out).err(), Some(ErrorKind::UnknownDop));
    out.clear();
    encode(&Term::Tuple(vec![atom("link"), pid(1), pid(2)]), &mut out);
    assert_eq!(decode(&out).err(), Some(ErrorKind::MalformedControl));
}

proptest! {
    /// Generated control messages (any operation, pids and references with
    /// random ids) round-trip: encode, decode, same operation and span.
    #[test]
    fn generated_controls_round_trip(which in 0..dop::ALL.len(), id in any::<u32>(), n in any::<u32>()) {
        let info = &dop::ALL[which];
        let fields: Vec<Term> = fields(info.dop).into_iter().map(|t| match t {
            Term::Pid(mut p) => { p.id = id & 0x7fff; p.serial = n & 0x1fff; Term::Pid(p) }
            Term::Ref(mut r) => { r.ids = vec![n, id, n ^ id]; Term::Ref(r) }
            other => other,
        }).collect();
        let bytes = control(info.dop, fields);
        let c = decode(&bytes).unwrap();
        prop_assert_eq!(c.head.dop, info.dop);
        prop_assert_eq!(c.range.end, bytes.len());
    }
}
