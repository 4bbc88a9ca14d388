//! The frames the filter writes instead of a message (SPEC Appendix A): the
//! no-op that drops, the REG_SEND that redirects to a router, the spawn
//! request that goes through `edf:req/3`, and the one-fragment no-ops that
//! commit and roll back atom-cache entries around a held message; first
//! the terms they are made of, then the whole frames.

use std::ops::Range;

use crate::atom::Atom;
use crate::control::{Control, Op};
use crate::error::{Error, ErrorKind};
use crate::header::{self, TableEntry, VERSION_MAGIC};
use crate::held::{FRAGMENT_ID_AT, FRAGMENT_PREFIX};
use crate::inspect::Whole;

const SMALL_INTEGER_EXT: u8 = 97;
const INTEGER_EXT: u8 = 98;
const SMALL_BIG_EXT: u8 = 110;
const SMALL_TUPLE_EXT: u8 = 104;
const NIL_EXT: u8 = 106;
const LIST_EXT: u8 = 108;
const NEW_PID_EXT: u8 = 88;
const ATOM_CACHE_REF: u8 = 82;
const ATOM_UTF8_EXT: u8 = 118;
const SMALL_ATOM_UTF8_EXT: u8 = 119;

/// REG_SEND and REG_SEND_TT operation numbers.
const DOP_REG_SEND: u8 = 6;
const DOP_REG_SEND_TT: u8 = 16;

/// How atoms are written: commit/rollback frames use `ATOM_UTF8_EXT`, the
/// other rewrites `SMALL_ATOM_UTF8_EXT` (kept apart for byte equality with
/// the reference model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomStyle {
    /// `ATOM_UTF8_EXT` (2-byte length).
    Utf8,
    /// `SMALL_ATOM_UTF8_EXT` (1-byte length).
    SmallUtf8,
}

fn atom_text(out: &mut Vec<u8>, text: &[u8], style: AtomStyle) {
    // The peer picks its own node name: text over 255 bytes (up to 1020,
    // 255 characters of 4 bytes) needs the 2-byte length whatever the style.
    match (style, u8::try_from(text.len())) {
        (AtomStyle::SmallUtf8, Ok(len)) => out.extend_from_slice(&[SMALL_ATOM_UTF8_EXT, len]),
        _ => {
            out.push(ATOM_UTF8_EXT);
            // An atom is at most 1020 bytes (`Atom` checks 255 characters).
            let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(text);
}

/// Write `atom` as a cache reference when the message's own table has it
/// (saves bytes and keeps the header untouched), else inline.
pub fn atom_or_ref(out: &mut Vec<u8>, atom: &Atom, table: &[TableEntry]) {
    // A header holds at most 255 references, so the index fits a byte.
    match table.iter().position(|r| r.atom == *atom).and_then(|i| u8::try_from(i).ok()) {
        Some(i) => out.extend_from_slice(&[ATOM_CACHE_REF, i]),
        None => atom_text(out, atom.as_bytes(), AtomStyle::SmallUtf8),
    }
}

/// The anonymous sender of every rewrite: a pid on node `''` with zeros.
fn dummy_pid(out: &mut Vec<u8>, style: AtomStyle) {
    out.push(NEW_PID_EXT);
    atom_text(out, b"", style);
    out.extend_from_slice(&[0; 12]);
}

/// `{6, Pid, '', undefined}` followed by the payload `[]`: a REG_SEND to a
/// name nobody registers, which the VM silently discards.
pub fn noop_message(out: &mut Vec<u8>, style: AtomStyle, external: bool) {
    if external {
        out.push(131);
    }
    out.extend_from_slice(&[SMALL_TUPLE_EXT, 4, SMALL_INTEGER_EXT, DOP_REG_SEND]);
    dummy_pid(out, style);
    atom_text(out, b"", style);
    atom_text(out, b"undefined", style);
    if external {
        out.push(131);
    }
    out.push(NIL_EXT);
}

/// An integer in the smallest encoding OTP would use for it.
pub fn integer(out: &mut Vec<u8>, n: u64) {
    if let Ok(small) = u8::try_from(n) {
        out.extend_from_slice(&[SMALL_INTEGER_EXT, small]);
    } else if let Ok(int) = i32::try_from(n) {
        out.push(INTEGER_EXT);
        out.extend_from_slice(&int.to_be_bytes());
    } else {
        out.extend_from_slice(&[SMALL_BIG_EXT, 8, 0]);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

/// What a redirect carries to the router.
#[derive(Debug)]
pub struct Redirect<'a> {
    /// The router's registered name.
    pub router: &'a Atom,
    /// The sending node.
    pub sysname: &'a Atom,
    /// The channel's redirect counter.
    pub sort: u64,
    /// Original control bytes (internal encoding, refs into `table`).
    pub control: &'a [u8],
    /// Original trace token bytes, if the operation carried one.
    pub token: Option<&'a [u8]>,
    /// Original payload bytes, if the operation has a payload.
    pub payload: Option<&'a [u8]>,
}

/// The REG_SEND(_TT) to the router: control `{6|16, Pid, '', Router[, Token]}`,
/// payload `{Sysname, Sort, Control[, Payload]}` with the original bytes.
pub fn redirect_message(out: &mut Vec<u8>, r: &Redirect<'_>, table: &[TableEntry], external: bool) {
    if external {
        out.push(131);
    }
    let (arity, dop) = if r.token.is_some() { (5, DOP_REG_SEND_TT) } else { (4, DOP_REG_SEND) };
    out.extend_from_slice(&[SMALL_TUPLE_EXT, arity, SMALL_INTEGER_EXT, dop]);
    dummy_pid(out, AtomStyle::SmallUtf8);
    atom_text(out, b"", AtomStyle::SmallUtf8);
    atom_or_ref(out, r.router, table);
    if let Some(token) = r.token {
        out.extend_from_slice(token);
    }
    if external {
        out.push(131);
    }
    let arity = if r.payload.is_some() { 4 } else { 3 };
    out.extend_from_slice(&[SMALL_TUPLE_EXT, arity]);
    atom_or_ref(out, r.sysname, table);
    integer(out, r.sort);
    out.extend_from_slice(r.control);
    if let Some(payload) = r.payload {
        out.extend_from_slice(payload);
    }
}

/// `{edf, req, 3}`, the MFA every inspected spawn request is pointed at.
pub fn edf_req_mfa(out: &mut Vec<u8>) {
    out.extend_from_slice(&[SMALL_TUPLE_EXT, 3]);
    atom_text(out, b"edf", AtomStyle::SmallUtf8);
    atom_text(out, b"req", AtomStyle::SmallUtf8);
    out.extend_from_slice(&[SMALL_INTEGER_EXT, 3]);
}

/// The spawn request's new argument list `[Sysname, OriginalMFA, OriginalArgs]`.
pub fn edf_req_args(out: &mut Vec<u8>, sysname: &Atom, mfa: &[u8], args: &[u8], table: &[TableEntry]) {
    out.push(LIST_EXT);
    out.extend_from_slice(&3u32.to_be_bytes());
    atom_or_ref(out, sysname, table);
    out.extend_from_slice(mfa);
    out.extend_from_slice(args);
    out.push(NIL_EXT);
}

/// Atoms a rewrite may reference from the header (none in external encoding).
fn cache_refs<'m>(m: &Whole<'m>) -> &'m [TableEntry] {
    if m.external {
        &[]
    } else {
        m.table
    }
}

/// Prefix and header, unchanged: the VM must still apply the header's
/// cache writes.
fn frame_start(m: &Whole<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.header.end - m.prefix.start + 64);
    out.extend_from_slice(m.bytes.get(m.prefix.clone()).unwrap_or(&[]));
    out.extend_from_slice(m.bytes.get(m.header.clone()).unwrap_or(&[]));
    out
}

/// The no-op that replaces a dropped message (nothing for pass-through).
pub fn drop_frame(m: &Whole<'_>) -> Vec<u8> {
    if m.external {
        // Nothing to keep in sync without a cache: emit nothing at all.
        return Vec::new();
    }
    let mut out = frame_start(m);
    noop_message(&mut out, AtomStyle::SmallUtf8, false);
    out
}

/// The frame that redirects `m` to its router (see [`redirect_message`]).
pub fn redirect_frame(m: &Whole<'_>, r: &Redirect<'_>) -> Vec<u8> {
    let mut out = frame_start(m);
    redirect_message(&mut out, r, cache_refs(m), m.external);
    out
}

/// The spawn request `m` pointed at `edf:req/3`, with `sysname` and the
/// original MFA and arguments as the new arguments.
pub fn spawn_frame(
    m: &Whole<'_>,
    ctrl: &Control<'_>,
    payload: Option<usize>,
    sysname: &Atom,
) -> Result<Vec<u8>, Error> {
    let Op::SpawnRequest { mfa, .. } = &ctrl.op else {
        return Err(Error::new(ErrorKind::MalformedControl, ctrl.range.start));
    };
    let slice = |r: Range<usize>| m.bytes.get(r).unwrap_or(&[]);
    let mut out = frame_start(m);
    if m.external {
        out.push(VERSION_MAGIC);
    }
    out.extend_from_slice(slice(ctrl.range.start..mfa.start));
    edf_req_mfa(&mut out);
    out.extend_from_slice(slice(mfa.end..ctrl.range.end));
    if m.external {
        out.push(VERSION_MAGIC);
    }
    let args = payload.map_or(&[][..], |p| slice(p..m.bytes.len()));
    edf_req_args(&mut out, sysname, slice(mfa.clone()), args, cache_refs(m));
    Ok(out)
}

/// `131 'E' Seq 1 <header> <no-op>`: a one-fragment message that only
/// makes the VM apply `header`'s cache writes.
fn cache_noop_frame(sequence_id: u64, header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAGMENT_PREFIX + header.len() + 36);
    out.extend_from_slice(&[VERSION_MAGIC, header::TAG_FRAGMENT_HEADER]);
    out.extend_from_slice(&sequence_id.to_be_bytes());
    out.extend_from_slice(&1u64.to_be_bytes());
    out.extend_from_slice(header);
    noop_message(&mut out, AtomStyle::Utf8, false);
    out
}

/// The frame that commits `table`'s new entries ahead of a held message
/// (`header` being their bytes). `None` if there is nothing new.
pub fn commit_frame(sequence_id: u64, header: &[u8], table: &[TableEntry]) -> Option<Vec<u8>> {
    if !table.iter().any(|e| e.new) {
        return None;
    }
    Some(cache_noop_frame(sequence_id, header))
}

/// The frame after a held message that writes `entries` back into the
/// slots it overwrote.
pub fn rollback_frame(sequence_id: u64, entries: &[TableEntry], dflags: u64) -> Vec<u8> {
    let mut head = Vec::new();
    header::encode_atom_table(entries, dflags, &mut head);
    cache_noop_frame(sequence_id, &head)
}

/// Set the FragmentId of the 'E' frame `frame` to 1: a frame standing for
/// a whole fragmented message (its rewrite) is one fragment long.
pub fn set_first_fragment_id(frame: &mut [u8]) {
    if let Some(field) = frame.get_mut(FRAGMENT_ID_AT..FRAGMENT_PREFIX) {
        field.copy_from_slice(&1u64.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_noop_is_36_bytes_and_decodes_as_otp_writes_it() {
        let mut out = vec![];
        noop_message(&mut out, AtomStyle::Utf8, false);
        assert_eq!(out.len(), 36);
        let mut small = vec![];
        noop_message(&mut small, AtomStyle::SmallUtf8, false);
        // each of the three atoms saves one length byte
        assert_eq!(small.len(), 33);
        assert_eq!(&small[..4], &[104, 4, 97, 6]);
        assert_eq!(*small.last().unwrap(), NIL_EXT);
    }

    /// A peer names itself: 200 characters of 3-byte UTF-8 (600 bytes)
    /// need ATOM_UTF8_EXT, in the redirect and the spawn rewrite alike.
    #[test]
    fn a_node_name_over_255_bytes_is_written_with_a_two_byte_length() {
        use crate::term::{decode, NoAtoms, ScanContext, Term};
        let name = Atom::from_utf8(format!("{}@h", "€".repeat(200)).as_bytes()).unwrap();
        assert_eq!(name.as_bytes().len(), 602);
        let read = |bytes: &[u8]| {
            let mut pos = 0;
            let t = decode(bytes, &mut pos, &ScanContext::external(), &NoAtoms).unwrap();
            assert_eq!(pos, bytes.len(), "the term ends where the bytes do");
            t
        };
        let mut a = vec![];
        atom_or_ref(&mut a, &name, &[]);
        assert_eq!(&a[..3], &[ATOM_UTF8_EXT, 2, 90]);
        assert_eq!(read(&a), Term::Atom(name.clone()));
        let short = Atom::from_utf8(b"n@h").unwrap();
        let mut b = vec![];
        atom_or_ref(&mut b, &short, &[]);
        assert_eq!(b, [SMALL_ATOM_UTF8_EXT, 3, b'n', b'@', b'h']);

        let router = Atom::from_utf8(b"erldist_filter_router_1").unwrap();
        let r = Redirect {
            router: &router,
            sysname: &name,
            sort: 1,
            control: &[NIL_EXT],
            token: None,
            payload: Some(&[NIL_EXT]),
        };
        let mut out = vec![];
        redirect_message(&mut out, &r, &[], false);
        let mut pos = 0;
        decode(&out, &mut pos, &ScanContext::external(), &NoAtoms).unwrap();
        let payload = read(&out[pos..]);
        let Term::Tuple(items) = payload else { panic!("{payload:?}") };
        assert_eq!(items[0], Term::Atom(name.clone()));

        let mut args = vec![];
        edf_req_args(&mut args, &name, &[NIL_EXT], &[NIL_EXT], &[]);
        let Term::List(items, _) = read(&args) else { panic!() };
        assert_eq!(items[0], Term::Atom(name));
    }

    #[test]
    fn integers_use_the_smallest_encoding() {
        let enc = |n| {
            let mut v = vec![];
            integer(&mut v, n);
            v
        };
        assert_eq!(enc(7), vec![97, 7]);
        assert_eq!(enc(256), vec![98, 0, 0, 1, 0]);
        assert_eq!(enc(1 << 31), vec![110, 8, 0, 0, 0, 0, 128, 0, 0, 0, 0]);
    }
}
