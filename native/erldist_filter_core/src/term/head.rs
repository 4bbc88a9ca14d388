//! Reading one term's head: the tag and everything up to its first
//! sub-term. Flat parts (atom text, pid fields, a fun's fixed fields) are
//! read here; sub-terms are only counted. The scanner, the view and the
//! decoder all step through terms with this one function, so they accept
//! exactly the same tags and layouts.

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};

use super::atom_ref::AtomRef;
use super::context::{AtomResolver, ScanContext};
use super::tag;
use super::view::{FunView, PidView, PortView, RecordView, RefView, View};

/// Most ids in a reference (`ERTS_MAX_REF_NUMBERS` on OTP 25).
const MAX_REF_IDS: u16 = 5;
/// Most free variables of a `NEW_FUN_EXT`.
const MAX_FUN_FREE: u32 = 255;
/// Map and record arities must stay below 2^31.
pub(crate) const MAX_ARITY: u32 = 1 << 31;

/// Resolver for cache references, or `None` to leave their text empty.
pub(crate) type Atoms<'a> = Option<&'a dyn AtomResolver>;

/// Read the term at the cursor up to its first sub-term.
pub(crate) fn read_view<'a>(cur: &mut Cursor<'a>, ctx: &ScanContext, atoms: Atoms<'a>) -> Result<View<'a>, Error> {
    let at = cur.pos();
    let t = cur.u8()?;
    let malformed = Error::new(ErrorKind::MalformedTerm, at);
    let view = match t {
        tag::SMALL_INTEGER => View::Int(i64::from(cur.u8()?)),
        tag::INTEGER => View::Int(i64::from(cur.i32()?)),
        tag::SMALL_BIG => {
            let n = usize::from(cur.u8()?);
            read_big(cur, n)?
        }
        tag::LARGE_BIG => {
            let n = len32(cur.u32()?);
            read_big(cur, n)?
        }
        tag::NEW_FLOAT => {
            // OTP rejects NaN and infinities.
            let f = f64::from_bits(cur.u64()?);
            if !f.is_finite() {
                return Err(malformed);
            }
            View::Float(f)
        }
        tag::FLOAT => View::Float(parse_old_float(cur.take(31)?).ok_or(malformed)?),
        tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => View::Atom(read_atom_body(cur, t, ctx)?),
        tag::ATOM_CACHE_REF => View::Atom(read_cache_ref(cur, at, ctx, atoms)?),
        tag::SMALL_TUPLE => {
            let arity = u32::from(cur.u8()?);
            need_terms_of(cur, u64::from(arity), ctx)?;
            View::Tuple { arity, first: cur.pos() }
        }
        tag::LARGE_TUPLE => {
            let arity = cur.u32()?;
            need_terms_of(cur, u64::from(arity), ctx)?;
            View::Tuple { arity, first: cur.pos() }
        }
        tag::NIL => View::Nil,
        tag::STRING => {
            let n = usize::from(cur.u16()?);
            View::String(cur.take(n)?)
        }
        tag::LIST => {
            let len = cur.u32()?;
            need_terms_of(cur, u64::from(len) + 1, ctx)?;
            View::List { len, first: cur.pos() }
        }
        tag::BINARY => {
            let n = len32(cur.u32()?);
            View::Binary(cur.take(n)?)
        }
        tag::BIT_BINARY => {
            let n = len32(cur.u32()?);
            let bits = cur.u8()?;
            // As OTP: 1..=8 bits used in the last byte, or an empty bitstring.
            let ok = if n == 0 { bits == 0 } else { (1..=8).contains(&bits) };
            if !ok {
                return Err(malformed);
            }
            View::BitBinary { bytes: cur.take(n)?, bits }
        }
        tag::MAP => {
            let arity = cur.u32()?;
            if arity >= MAX_ARITY {
                return Err(malformed);
            }
            need_terms_of(cur, 2 * u64::from(arity), ctx)?;
            View::Map { arity, first: cur.pos() }
        }
        tag::PID | tag::NEW_PID => View::Pid(read_pid_body(cur, t, ctx, atoms)?),
        tag::PORT | tag::NEW_PORT | tag::V4_PORT => {
            let node = read_atom(cur, ctx, atoms)?;
            let id = if t == tag::V4_PORT { cur.u64()? } else { u64::from(cur.u32()?) };
            let creation = if t == tag::PORT { u32::from(cur.u8()?) } else { cur.u32()? };
            View::Port(PortView { node, id, creation })
        }
        tag::REFERENCE | tag::NEW_REFERENCE | tag::NEWER_REFERENCE => View::Ref(read_ref_body(cur, t, at, ctx, atoms)?),
        tag::NEW_FUN => View::Fun(read_fun_body(cur, ctx, atoms)?.head()),
        tag::EXPORT => {
            let module = read_atom(cur, ctx, atoms)?;
            let function = read_atom(cur, ctx, atoms)?;
            let arity_at = cur.pos();
            // OTP writes SMALL_INTEGER_EXT but accepts any integer 0..=255.
            let arity = u8::try_from(read_int(cur)?).map_err(|_| Error::new(ErrorKind::MalformedTerm, arity_at))?;
            View::Export { module, function, arity }
        }
        tag::RECORD => {
            let num_fields = cur.u32()?;
            if num_fields >= MAX_ARITY {
                return Err(malformed);
            }
            let exported = match cur.u8()? {
                0 => false,
                1 => true,
                _ => return Err(malformed),
            };
            let module = read_atom(cur, ctx, atoms)?;
            let name = read_atom(cur, ctx, atoms)?;
            need_terms_of(cur, 2 * u64::from(num_fields), ctx)?;
            View::Record(RecordView { num_fields, exported, module, name, first_field: cur.pos() })
        }
        _ => return Err(Error::new(ErrorKind::UnsupportedTag, at)),
    };
    Ok(view)
}

/// A term as the control decoder reads it: pids, atoms and references
/// (the fields the rules read on every message) straight from their tag,
/// anything else as a [`View`]. Same checks and errors as [`read_view`], without building
/// and copying a view for the common fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Element<'a> {
    /// A pid.
    Pid(PidView<'a>),
    /// An atom in any encoding, cache references resolved.
    Atom(AtomRef<'a>),
    /// A reference.
    Ref(RefView<'a>),
    /// Any other term.
    Other(View<'a>),
}

impl<'a> Element<'a> {
    /// The pid, or `None` for any other term.
    #[inline]
    pub fn pid(self) -> Option<PidView<'a>> {
        match self {
            Element::Pid(p) => Some(p),
            _ => None,
        }
    }

    /// The atom, or `None` for any other term.
    #[inline]
    pub fn atom(self) -> Option<AtomRef<'a>> {
        match self {
            Element::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// The reference, or `None` for any other term.
    #[inline]
    pub fn reference(self) -> Option<RefView<'a>> {
        match self {
            Element::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// The view of a term that is not a pid, atom or reference, or `None`
    /// for those three.
    #[inline]
    pub fn other(self) -> Option<View<'a>> {
        match self {
            Element::Other(v) => Some(v),
            _ => None,
        }
    }
}

/// Read the term at the cursor up to its first sub-term, as an [`Element`].
#[inline]
pub(crate) fn read_element<'a>(
    cur: &mut Cursor<'a>,
    ctx: &ScanContext,
    atoms: Atoms<'a>,
) -> Result<Element<'a>, Error> {
    match cur.peek_u8()? {
        t @ (tag::PID | tag::NEW_PID) => {
            cur.u8()?;
            Ok(Element::Pid(read_pid_body(cur, t, ctx, atoms)?))
        }
        tag::ATOM_CACHE_REF | tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
            Ok(Element::Atom(read_atom(cur, ctx, atoms)?))
        }
        t @ (tag::REFERENCE | tag::NEW_REFERENCE | tag::NEWER_REFERENCE) => {
            let at = cur.pos();
            cur.u8()?;
            Ok(Element::Ref(read_ref_body(cur, t, at, ctx, atoms)?))
        }
        _ => Ok(Element::Other(read_view(cur, ctx, atoms)?)),
    }
}

/// The arity and first element of the tuple at the cursor, as
/// [`read_view`] reads it; `None` (nothing read) for any other tag.
#[inline]
pub(crate) fn read_tuple_head(cur: &mut Cursor<'_>) -> Result<Option<(u32, usize)>, Error> {
    let arity = match cur.peek_u8()? {
        tag::SMALL_TUPLE => {
            cur.u8()?;
            u32::from(cur.u8()?)
        }
        tag::LARGE_TUPLE => {
            cur.u8()?;
            cur.u32()?
        }
        _ => return Ok(None),
    };
    need_terms(cur, u64::from(arity))?;
    Ok(Some((arity, cur.pos())))
}

/// Every field of the `NEW_FUN_EXT` at `pos` of `bytes`, checked as
/// [`read_view`] checks it.
pub(crate) fn read_fun_at<'a>(
    bytes: &'a [u8],
    pos: usize,
    ctx: &ScanContext,
    atoms: Atoms<'a>,
) -> Result<FunView<'a>, Error> {
    let mut cur = Cursor::new(bytes);
    cur.skip(pos)?;
    match cur.u8()? {
        tag::NEW_FUN => read_fun_body(&mut cur, ctx, atoms),
        _ => Err(Error::new(ErrorKind::MalformedTerm, pos)),
    }
}

/// A 32-bit length as `usize` (saturating on 16-bit targets, where the
/// following `take` then fails as truncated).
pub(crate) fn len32(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Every term takes at least one byte, so `n` more terms need `n` bytes.
pub(crate) fn need_terms(cur: &Cursor<'_>, n: u64) -> Result<(), Error> {
    if n > cur.remaining() as u64 {
        return Err(cur.error(ErrorKind::Truncated));
    }
    Ok(())
}

/// [`need_terms`], unless more pieces of the term follow these bytes.
#[inline]
fn need_terms_of(cur: &Cursor<'_>, n: u64, ctx: &ScanContext) -> Result<(), Error> {
    if ctx.more_follows {
        return Ok(());
    }
    need_terms(cur, n)
}

/// A bignum body; values that fit `i64` become `View::Int`.
fn read_big<'a>(cur: &mut Cursor<'a>, n: usize) -> Result<View<'a>, Error> {
    let negative = cur.u8()? != 0;
    let magnitude = cur.take(n)?;
    let significant = magnitude.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if significant <= 8 {
        let v = magnitude.iter().take(significant).rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let v = if negative { -i128::from(v) } else { i128::from(v) };
        if let Ok(v) = i64::try_from(v) {
            return Ok(View::Int(v));
        }
    }
    Ok(View::BigInt { negative, magnitude })
}

/// `FLOAT_EXT`: a NUL-padded `%.20e` string; anything else is malformed.
fn parse_old_float(raw: &[u8]) -> Option<f64> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = std::str::from_utf8(raw.get(..end)?).ok()?;
    let f: f64 = text.trim().parse().ok()?;
    f.is_finite().then_some(f)
}

/// An atom in any of its five encodings.
pub(crate) fn read_atom<'a>(cur: &mut Cursor<'a>, ctx: &ScanContext, atoms: Atoms<'a>) -> Result<AtomRef<'a>, Error> {
    let at = cur.pos();
    match cur.u8()? {
        t @ (tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8) => read_atom_body(cur, t, ctx),
        tag::ATOM_CACHE_REF => read_cache_ref(cur, at, ctx, atoms),
        _ => Err(Error::new(ErrorKind::MalformedTerm, at)),
    }
}

/// Length and text of an inline atom, checked as OTP does: Latin-1 at most
/// 255 bytes; UTF-8 valid and at most 255 characters.
fn read_atom_body<'a>(cur: &mut Cursor<'a>, t: u8, ctx: &ScanContext) -> Result<AtomRef<'a>, Error> {
    let at = cur.pos();
    let len = match t {
        tag::ATOM | tag::ATOM_UTF8 => usize::from(cur.u16()?),
        _ => usize::from(cur.u8()?),
    };
    if len > ctx.max_atom_bytes {
        return Err(Error::new(ErrorKind::LimitAtomBytes, at));
    }
    let text = cur.take(len)?;
    let utf8 = matches!(t, tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8);
    if utf8 {
        let s = std::str::from_utf8(text).map_err(|_| Error::new(ErrorKind::AtomInvalidUtf8, at))?;
        // More than 255 characters needs more than 255 bytes: count only then.
        if len > crate::atom::MAX_ATOM_CHARS && s.chars().count() > crate::atom::MAX_ATOM_CHARS {
            return Err(Error::new(ErrorKind::AtomTooLong, at));
        }
    } else if len > crate::atom::MAX_ATOM_CHARS {
        return Err(Error::new(ErrorKind::AtomTooLong, at));
    }
    Ok(AtomRef::inline(text, utf8))
}

/// `ATOM_CACHE_REF`: the index must be inside the header's table.
fn read_cache_ref<'a>(
    cur: &mut Cursor<'a>,
    at: usize,
    ctx: &ScanContext,
    atoms: Atoms<'a>,
) -> Result<AtomRef<'a>, Error> {
    let index = cur.u8()?;
    let out_of_range = Error::new(ErrorKind::AtomCacheRefOutOfRange, at);
    if index >= ctx.atom_refs {
        return Err(out_of_range);
    }
    let text = match atoms {
        Some(r) => r.resolve(index).ok_or(out_of_range)?.as_bytes(),
        None => &[],
    };
    Ok(AtomRef { text, utf8: true, cache_index: Some(index) })
}

/// `SMALL_INTEGER_EXT` or `INTEGER_EXT` (fields inside funs and exports).
fn read_int(cur: &mut Cursor<'_>) -> Result<i32, Error> {
    let at = cur.pos();
    match cur.u8()? {
        tag::SMALL_INTEGER => Ok(i32::from(cur.u8()?)),
        tag::INTEGER => cur.i32(),
        _ => Err(Error::new(ErrorKind::MalformedTerm, at)),
    }
}

/// A pid after its tag.
fn read_pid_body<'a>(cur: &mut Cursor<'a>, t: u8, ctx: &ScanContext, atoms: Atoms<'a>) -> Result<PidView<'a>, Error> {
    let node = read_atom(cur, ctx, atoms)?;
    let id = cur.u32()?;
    let serial = cur.u32()?;
    let creation = if t == tag::PID { u32::from(cur.u8()?) } else { cur.u32()? };
    Ok(PidView { node, id, serial, creation })
}

/// A reference after its tag (`at` is the tag's position).
fn read_ref_body<'a>(
    cur: &mut Cursor<'a>,
    t: u8,
    at: usize,
    ctx: &ScanContext,
    atoms: Atoms<'a>,
) -> Result<RefView<'a>, Error> {
    if t == tag::REFERENCE {
        let node = read_atom(cur, ctx, atoms)?;
        let ids = cur.take(4)?;
        let creation = u32::from(cur.u8()?);
        return Ok(RefView { node, creation, ids });
    }
    let len = cur.u16()?;
    if len > MAX_REF_IDS {
        return Err(Error::new(ErrorKind::MalformedTerm, at));
    }
    let node = read_atom(cur, ctx, atoms)?;
    let creation = if t == tag::NEW_REFERENCE { u32::from(cur.u8()?) } else { cur.u32()? };
    let ids = cur.take(4 * usize::from(len))?;
    Ok(RefView { node, creation, ids })
}

/// `NEW_FUN_EXT` after its tag: the fixed fields, module, old index and
/// uniq, and pid are flat; the free variables follow as sub-terms.
fn read_fun_body<'a>(cur: &mut Cursor<'a>, ctx: &ScanContext, atoms: Atoms<'a>) -> Result<FunView<'a>, Error> {
    let start = cur.pos();
    let size = cur.u32()?;
    // Size counts from its own first byte to the end of the fun.
    if !ctx.more_follows && u64::from(size) > cur.remaining() as u64 + 4 {
        return Err(cur.error(ErrorKind::Truncated));
    }
    let arity = cur.u8()?;
    let uniq = cur.array::<16>()?;
    let index = cur.u32()?;
    let num_free_at = cur.pos();
    let num_free = cur.u32()?;
    if num_free > MAX_FUN_FREE {
        return Err(Error::new(ErrorKind::MalformedTerm, num_free_at));
    }
    let module = read_atom(cur, ctx, atoms)?;
    let old_index = read_int(cur)?;
    let old_uniq = read_int(cur)?;
    let pid_at = cur.pos();
    let pid = match cur.u8()? {
        t @ (tag::PID | tag::NEW_PID) => read_pid_body(cur, t, ctx, atoms)?,
        _ => return Err(Error::new(ErrorKind::MalformedTerm, pid_at)),
    };
    need_terms_of(cur, u64::from(num_free), ctx)?;
    let fun =
        FunView { start, size, arity, uniq, index, num_free, module, old_index, old_uniq, pid, first_free: cur.pos() };
    // Without free variables the size can be checked right away; otherwise
    // the decoder checks it at the end (the scanner cannot, having no stack).
    if num_free == 0 && !fun.size_matches(cur.pos()) {
        return Err(Error::new(ErrorKind::MalformedTerm, start));
    }
    Ok(fun)
}
