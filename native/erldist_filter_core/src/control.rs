//! The head of a control message: the tuple arity and the operation number,
//! checked against the arities OTP defines for that operation.

use crate::cursor::Cursor;
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::header::VERSION_MAGIC;

const SMALL_TUPLE_EXT: u8 = 104;
const LARGE_TUPLE_EXT: u8 = 105;
const SMALL_INTEGER_EXT: u8 = 97;
const INTEGER_EXT: u8 = 98;

/// The operation of a control message and its tuple arity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlHead {
    /// The operation.
    pub dop: Dop,
    /// Elements in the control tuple (operation included).
    pub arity: u32,
}

/// Read the head of a control message in internal encoding (after a 'D'/'E'
/// header). Leaves `cur` at the tuple's second element.
pub fn read_head(cur: &mut Cursor<'_>) -> Result<ControlHead, Error> {
    let at = cur.pos();
    let arity = match cur.u8()? {
        SMALL_TUPLE_EXT => u32::from(cur.u8()?),
        LARGE_TUPLE_EXT => cur.u32()?,
        _ => return Err(Error::new(ErrorKind::MalformedControl, at)),
    };
    if arity == 0 {
        return Err(Error::new(ErrorKind::MalformedControl, at));
    }
    let code_at = cur.pos();
    let code = match cur.u8()? {
        SMALL_INTEGER_EXT => i64::from(cur.u8()?),
        INTEGER_EXT => i64::from(cur.i32()?),
        _ => return Err(Error::new(ErrorKind::MalformedControl, code_at)),
    };
    let dop = Dop::from_code(code).ok_or(Error::new(ErrorKind::UnknownDop, code_at))?;
    if !dop.info().arities.contains(&arity) {
        return Err(Error::new(ErrorKind::WrongControlArity, at));
    }
    Ok(ControlHead { dop, arity })
}

/// Read the head of a control message in external encoding (pass-through
/// frames: its own 131 first).
pub fn read_external_head(cur: &mut Cursor<'_>) -> Result<ControlHead, Error> {
    let at = cur.pos();
    if cur.u8()? != VERSION_MAGIC {
        return Err(Error::new(ErrorKind::BadMagic, at));
    }
    read_head(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(b: &[u8]) -> Result<ControlHead, ErrorKind> {
        read_head(&mut Cursor::new(b)).map_err(|e| e.kind)
    }

    #[test]
    fn reads_small_and_large_forms_and_checks_arity() {
        assert_eq!(head(&[104, 4, 97, 6]), Ok(ControlHead { dop: Dop::RegSend, arity: 4 }));
        assert_eq!(head(&[105, 0, 0, 0, 3, 98, 0, 0, 0, 22]).map(|h| h.dop), Ok(Dop::SendSender));
        assert_eq!(head(&[104, 3, 97, 6]), Err(ErrorKind::WrongControlArity));
        assert_eq!(head(&[104, 4, 97, 5]), Err(ErrorKind::UnknownDop));
        assert_eq!(head(&[104, 0]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[106]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[104, 4, 100]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[104, 4, 97]), Err(ErrorKind::Truncated));
        assert_eq!(head(&[104, 5, 97, 37]).map(|h| h.dop), Ok(Dop::AltactSigSend));
    }
}

// ---------------------------------------------------------------------------
// Typed decoding of a whole control message.

use std::ops::Range;

use crate::term::{AtomRef, Element, PidView, RefView, Viewer};

/// A process named in a control message: a pid, or a registered name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proc<'a> {
    /// A pid.
    Pid(PidView<'a>),
    /// A registered name.
    Name(AtomRef<'a>),
}

impl<'a> Proc<'a> {
    /// A pid or an atom as a process; `None` for any other term.
    #[inline]
    fn of(el: Element<'a>) -> Option<Self> {
        match el {
            Element::Pid(p) => Some(Proc::Pid(p)),
            Element::Atom(a) => Some(Proc::Name(a)),
            Element::Ref(_) | Element::Other(_) => None,
        }
    }
}

/// Where an `ALTACT_SIG_SEND` goes, by its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AltactTarget<'a> {
    /// A pid.
    Pid(PidView<'a>),
    /// A registered name (NAME flag).
    Name(AtomRef<'a>),
    /// A process alias (ALIAS flag).
    Alias(RefView<'a>),
}

/// `ALTACT_SIG_SEND` flag bits.
pub mod altact {
    /// Priority signal.
    pub const PRIO: i64 = 1;
    /// A trace token is the fifth element.
    pub const TOKEN: i64 = 2;
    /// The target is an alias.
    pub const ALIAS: i64 = 4;
    /// The target is a registered name.
    pub const NAME: i64 = 8;
    /// An exit signal, not a message.
    pub const EXIT: i64 = 16;
}

/// The fields of a control message, typed as OTP defines them. `_TT`
/// variants share their base form; their token is in [`Control::token`].
/// Positions are offsets into the viewed bytes.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Op<'a> {
    Link {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    Send {
        to: PidView<'a>,
    },
    Exit {
        from: PidView<'a>,
        to: PidView<'a>,
        reason: usize,
    },
    Unlink {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    RegSend {
        from: PidView<'a>,
        to_name: AtomRef<'a>,
    },
    GroupLeader {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    Exit2 {
        from: PidView<'a>,
        to: PidView<'a>,
        reason: usize,
    },
    MonitorP {
        from: PidView<'a>,
        to: Proc<'a>,
        reference: RefView<'a>,
    },
    DemonitorP {
        from: PidView<'a>,
        to: Proc<'a>,
        reference: RefView<'a>,
    },
    MonitorPExit {
        from: Proc<'a>,
        to: PidView<'a>,
        reference: RefView<'a>,
        reason: usize,
    },
    SendSender {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    PayloadExit {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    PayloadExit2 {
        from: PidView<'a>,
        to: PidView<'a>,
    },
    PayloadMonitorPExit {
        from: Proc<'a>,
        to: PidView<'a>,
        reference: RefView<'a>,
    },
    SpawnRequest {
        req_id: RefView<'a>,
        from: PidView<'a>,
        group_leader: PidView<'a>,
        /// The `{M, F, A}` tuple's bytes.
        mfa: Range<usize>,
        module: AtomRef<'a>,
        function: AtomRef<'a>,
        arity: i64,
        /// Position of the option list.
        opts: usize,
    },
    SpawnReply {
        req_id: RefView<'a>,
        to: PidView<'a>,
        flags: i64,
        result: usize,
    },
    AliasSend {
        from: PidView<'a>,
        alias: RefView<'a>,
    },
    UnlinkId {
        id: usize,
        from: PidView<'a>,
        to: PidView<'a>,
    },
    UnlinkIdAck {
        id: usize,
        from: PidView<'a>,
        to: PidView<'a>,
    },
    AltactSigSend {
        flags: i64,
        sender: PidView<'a>,
        to: AltactTarget<'a>,
    },
}

/// A decoded control message.
#[derive(Clone, Debug, PartialEq)]
pub struct Control<'a> {
    /// Operation and arity.
    pub head: ControlHead,
    /// The typed fields.
    pub op: Op<'a>,
    /// The trace token's bytes, for `_TT` operations and altact with a token.
    pub token: Option<Range<usize>>,
    /// The whole control term's bytes; the payload (if any) starts at `end`.
    pub range: Range<usize>,
}

/// Decode the control message at `pos` of the viewer's bytes, checking
/// arity and element types. Scans the whole control (its end is where the
/// payload starts).
pub fn decode<'a>(v: &Viewer<'a>, pos: usize) -> Result<Control<'a>, Error> {
    let mut cur = Cursor::new(v.bytes());
    cur.skip(pos)?;
    // The head leaves the cursor at the element after the operation number.
    let head = read_head(&mut cur)?;
    if let Some(control) = decode_common(v, cur, head, pos) {
        return Ok(control);
    }
    decode_any(v, cur, head, pos)
}

/// The operations of most messages (sends, monitors), read field by field
/// in their usual shape; `None` for anything else or anything wrong, which
/// [`decode_any`] then reads (and reports) in full. Every field is read by
/// the same functions, so both accept exactly the same messages.
#[inline]
fn decode_common<'a>(v: &Viewer<'a>, mut cur: Cursor<'a>, head: ControlHead, pos: usize) -> Option<Control<'a>> {
    // `let Element::… else` below, not `.atom()?` / `.reference()?`: in
    // this hot, inlined path the accessors' extra `Option` made LLVM spill
    // more (replay +0.8 % instructions under callgrind).
    let mut pid = || v.read_element(&mut cur).ok()?.pid();
    let op = match (head.dop, head.arity) {
        (Dop::SendSender, 3) => Op::SendSender { from: pid()?, to: pid()? },
        (Dop::RegSend, 4) => {
            let from = pid()?;
            v.skip(&mut cur).ok()?;
            let Element::Atom(to_name) = v.read_element(&mut cur).ok()? else { return None };
            Op::RegSend { from, to_name }
        }
        (Dop::MonitorP | Dop::DemonitorP, 4) => {
            let from = pid()?;
            let to = Proc::of(v.read_element(&mut cur).ok()?)?;
            let Element::Ref(reference) = v.read_element(&mut cur).ok()? else { return None };
            if head.dop == Dop::MonitorP {
                Op::MonitorP { from, to, reference }
            } else {
                Op::DemonitorP { from, to, reference }
            }
        }
        (Dop::AliasSend, 3) => {
            let from = pid()?;
            let Element::Ref(alias) = v.read_element(&mut cur).ok()? else { return None };
            Op::AliasSend { from, alias }
        }
        _ => return None,
    };
    Some(Control { head, op, token: None, range: pos..cur.pos() })
}

/// Any operation in any shape the VM accepts, with the exact error of the
/// first element that is wrong.
fn decode_any<'a>(v: &Viewer<'a>, cur: Cursor<'a>, head: ControlHead, pos: usize) -> Result<Control<'a>, Error> {
    // One pass over the elements after the operation number: read each
    // once (pids and atoms straight from their tag); a leaf ends where its
    // read ends, only compound terms are scanned.
    let mut at = [0usize; 7];
    let mut els: [Option<Element<'a>>; 7] = [None; 7];
    let mut next = cur.pos();
    for j in 0..(head.arity as usize).saturating_sub(1) {
        let (el, after) = v.element_next(next)?;
        let compound = el.other().is_some_and(|w| w.sub_terms() != 0);
        if let (Some(a), Some(w)) = (at.get_mut(j), els.get_mut(j)) {
            *a = next;
            *w = Some(el);
        }
        next = if compound { v.end_of(next)? } else { after };
    }
    let end = next;
    let el = |i: usize| at.get(i).copied().unwrap_or(0);
    let bad = |i: usize| Error::new(ErrorKind::BadControlElement, el(i));
    let element = |i: usize| els.get(i).copied().flatten().ok_or_else(|| bad(i));
    let other = |i: usize| element(i)?.other().ok_or_else(|| bad(i));
    let pid = |i: usize| element(i)?.pid().ok_or_else(|| bad(i));
    let reference = |i: usize| element(i)?.reference().ok_or_else(|| bad(i));
    let atom = |i: usize| element(i)?.atom().ok_or_else(|| bad(i));
    let int = |i: usize| other(i)?.as_i64().ok_or_else(|| bad(i));
    let integer = |i: usize| if other(i)?.is_integer() { Ok(el(i)) } else { Err(bad(i)) };
    let list = |i: usize| if other(i)?.is_list() { Ok(el(i)) } else { Err(bad(i)) };
    let proc_ = |i: usize| Proc::of(element(i)?).ok_or_else(|| bad(i));
    let token_at = |i: usize| -> Result<Range<usize>, Error> { Ok(el(i)..v.end_of(el(i))?) };
    let token = match head.dop.info().token_pos {
        Some(p) if head.dop != Dop::AltactSigSend || head.arity == 5 => Some(token_at(p as usize - 1)?),
        _ => None,
    };
    use Dop::*;
    let op = match head.dop {
        Link => Op::Link { from: pid(0)?, to: pid(1)? },
        Send | SendTt => Op::Send { to: pid(1)? },
        Exit => Op::Exit { from: pid(0)?, to: pid(1)?, reason: el(2) },
        ExitTt => Op::Exit { from: pid(0)?, to: pid(1)?, reason: el(3) },
        Unlink => Op::Unlink { from: pid(0)?, to: pid(1)? },
        RegSend | RegSendTt => Op::RegSend { from: pid(0)?, to_name: atom(2)? },
        GroupLeader => Op::GroupLeader { from: pid(0)?, to: pid(1)? },
        Exit2 => Op::Exit2 { from: pid(0)?, to: pid(1)?, reason: el(2) },
        Exit2Tt => Op::Exit2 { from: pid(0)?, to: pid(1)?, reason: el(3) },
        MonitorP => Op::MonitorP { from: pid(0)?, to: proc_(1)?, reference: reference(2)? },
        DemonitorP => Op::DemonitorP { from: pid(0)?, to: proc_(1)?, reference: reference(2)? },
        MonitorPExit => Op::MonitorPExit { from: proc_(0)?, to: pid(1)?, reference: reference(2)?, reason: el(3) },
        SendSender | SendSenderTt => Op::SendSender { from: pid(0)?, to: pid(1)? },
        PayloadExit | PayloadExitTt => Op::PayloadExit { from: pid(0)?, to: pid(1)? },
        PayloadExit2 | PayloadExit2Tt => Op::PayloadExit2 { from: pid(0)?, to: pid(1)? },
        PayloadMonitorPExit => Op::PayloadMonitorPExit { from: proc_(0)?, to: pid(1)?, reference: reference(2)? },
        SpawnRequest | SpawnRequestTt => {
            let mfa_at = el(3);
            let [m, f, a] = v.tuple::<3>(mfa_at)?.ok_or_else(|| bad(3))?;
            let module = v.view(m)?.as_atom().ok_or_else(|| bad(3))?;
            let function = v.view(f)?.as_atom().ok_or_else(|| bad(3))?;
            let arity = v.view(a)?.as_i64().ok_or_else(|| bad(3))?;
            Op::SpawnRequest {
                req_id: reference(0)?,
                from: pid(1)?,
                group_leader: pid(2)?,
                mfa: mfa_at..v.end_of(mfa_at)?,
                module,
                function,
                arity,
                opts: list(4)?,
            }
        }
        SpawnReply | SpawnReplyTt => {
            Op::SpawnReply { req_id: reference(0)?, to: pid(1)?, flags: int(2)?, result: el(3) }
        }
        AliasSend | AliasSendTt => Op::AliasSend { from: pid(0)?, alias: reference(1)? },
        UnlinkId => Op::UnlinkId { id: integer(0)?, from: pid(1)?, to: pid(2)? },
        UnlinkIdAck => Op::UnlinkIdAck { id: integer(0)?, from: pid(1)?, to: pid(2)? },
        AltactSigSend => {
            let flags = int(0)?;
            // EXIT first (pid, or alias with ALIAS), then NAME, then ALIAS.
            let to = if flags & altact::EXIT != 0 && flags & altact::ALIAS == 0 {
                AltactTarget::Pid(pid(2)?)
            } else if flags & altact::EXIT != 0 {
                AltactTarget::Alias(reference(2)?)
            } else if flags & altact::NAME != 0 {
                AltactTarget::Name(atom(2)?)
            } else if flags & altact::ALIAS != 0 {
                AltactTarget::Alias(reference(2)?)
            } else {
                AltactTarget::Pid(pid(2)?)
            };
            Op::AltactSigSend { flags, sender: pid(1)?, to }
        }
    };
    Ok(Control { head, op, token, range: pos..end })
}

#[cfg(test)]
mod common_shapes {
    use super::*;
    use crate::atom::Atom;
    use crate::term::{encode, NoAtoms, Pid, Ref, ScanContext, Term};
    use proptest::prelude::*;

    fn element() -> impl Strategy<Value = Term> {
        let node = || Atom::from_utf8(b"a@host").unwrap();
        prop_oneof![
            (any::<u32>(), any::<u32>()).prop_map(move |(id, serial)| Term::Pid(Pid {
                node: node(),
                id: id & 0x7fff,
                serial: serial & 0x1fff,
                creation: 7
            })),
            (0usize..3).prop_map(|i| Term::Atom(Atom::from_utf8(["", "sink", "x"][i].as_bytes()).unwrap())),
            proptest::collection::vec(any::<u32>(), 0..4).prop_map(move |ids| Term::Ref(Ref {
                node: node(),
                creation: 7,
                ids
            })),
            any::<i32>().prop_map(|i| Term::Int(i64::from(i))),
            Just(Term::Nil),
            Just(Term::Tuple(vec![Term::Int(1), Term::Nil])),
        ]
    }

    proptest! {
        /// The usual shapes read field by field decode exactly as the
        /// general decoder reads them, and only what it accepts.
        #[test]
        fn common_shapes_decode_as_any_shape(
            which in 0usize..6,
            elems in proptest::collection::vec(element(), 1..5),
            cut in any::<prop::sample::Index>(),
        ) {
            let dop = [Dop::SendSender, Dop::RegSend, Dop::MonitorP, Dop::DemonitorP, Dop::AliasSend, Dop::Send][which];
            let mut tuple = vec![Term::Int(i64::from(dop.code()))];
            tuple.extend(elems);
            let mut whole = vec![];
            encode(&Term::Tuple(tuple), &mut whole);
            let cut = cut.index(whole.len() + 1);
            for bytes in [&whole[..], &whole[..cut]] {
                let v = Viewer::new(bytes, ScanContext::external(), &NoAtoms);
                let mut cur = Cursor::new(bytes);
                let Ok(head) = read_head(&mut cur) else { continue };
                let any = decode_any(&v, cur, head, 0);
                match decode_common(&v, cur, head, 0) {
                    Some(c) => prop_assert_eq!(Ok(c), any),
                    None => prop_assert!(any.is_err() || !matches!(
                        (head.dop, head.arity),
                        (Dop::SendSender, 3) | (Dop::RegSend, 4) | (Dop::MonitorP | Dop::DemonitorP, 4) | (Dop::AliasSend, 3)
                    ), "the common shape refused {:?}", any),
                }
            }
        }
    }
}
