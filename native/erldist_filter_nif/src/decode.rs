//! Decoding helpers (SPEC §2.4): `dist_ext_to_term/2`, the vterm decoders
//! `dist_{ext,int}_to_vterm/2,3` and the control-message decoders
//! `dist_{ext,int}_to_vdist/2`. Debug and test oracles, never on the data
//! path.
//!
//! All of them go through two NIFs taking a mode atom (`ext_term`,
//! `ext_vterm`, `int_vterm`, `ext_vdist`, `int_vdist`), the atoms tuple,
//! the binary and a lazy limit:
//!
//! - `dist_decode_nif/4` runs on a normal scheduler and is only called by
//!   the Erlang stubs for inputs below `?DECODE_DIRTY_THRESHOLD` bytes
//!   (8 KiB: about 0.7 ms for the worst case, a vterm of 1-byte-apart
//!   terms); it charges the time slice in proportion to the input size.
//! - `dist_decode_dirty_nif/4` is the same function on a dirty CPU
//!   scheduler, for larger inputs: a 10 MB term never holds a normal
//!   scheduler.
//!
//! The bytes are parsed by the core only (`Viewer`, `control::decode`);
//! this file reads nothing but tag bytes at positions the core reported
//! and the fixed offsets of the ETF layouts (where the node atom of a pid
//! starts, and so on).
//!
//! `dist_ext_to_term` first tries `enif_binary_to_term` on the input as it
//! is (inputs without cache references, compressed terms); if that fails
//! it rewrites every `ATOM_CACHE_REF` into an inline `ATOM_UTF8_EXT` (fun
//! sizes fixed up) and decodes the rebuilt binary. Like
//! `erts_debug:dist_ext_to_term/2` it creates the atoms it meets and
//! ignores bytes after the term. Every failure is plain `badarg`.
//!
//! The vterm decoders build the record tree of `include/erldist_filter.hrl`
//! with an explicit stack (no recursion, any depth). Lazy limit `L >= 0`:
//! terms are counted in pre-order (leaves included) as they are decoded;
//! once `L` terms have been decoded, every compound term (tuple, list, map,
//! fun, record) not yet started becomes `vterm_lazy_term{slice}`, the
//! sub-binary of its bytes. `-1` means no limit. Malformed bytes raise
//! `error({erldist_filter, Kind, #{offset, limit, message}})` (offsets
//! count from the start of the binary); bad arguments raise `badarg`.

use erldist_filter_core::control;
use erldist_filter_core::term::{tag, FunHead, ScanContext, View, Viewer};
use erldist_filter_core::{Atom as CoreAtom, Dop, Error as CoreError, ErrorKind};
use rustler::schedule::consume_timeslice;
use rustler::types::tuple::{get_tuple, make_tuple};
use rustler::{Atom, Binary, Encoder, Env, Error, NifResult, Term};

use crate::atoms;
use crate::error::{raise, RecvFailure};

/// Inputs of this many bytes or more are decoded on a dirty scheduler by
/// the Erlang stubs (`?DECODE_DIRTY_THRESHOLD`, keep both equal); the
/// normal NIF charges its slice relative to it.
const DIRTY_THRESHOLD: usize = 8 * 1024;

/// Version byte of the external format.
const VERSION_MAGIC: u8 = 131;

/// What the caller asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    ExtTerm,
    ExtVterm,
    IntVterm,
    ExtVdist,
    IntVdist,
}

impl Mode {
    fn from_term(t: Term) -> NifResult<Mode> {
        let a: Atom = t.decode()?;
        Ok(if a == atoms::ext_term() {
            Mode::ExtTerm
        } else if a == atoms::ext_vterm() {
            Mode::ExtVterm
        } else if a == atoms::int_vterm() {
            Mode::IntVterm
        } else if a == atoms::ext_vdist() {
            Mode::ExtVdist
        } else if a == atoms::int_vdist() {
            Mode::IntVdist
        } else {
            return Err(Error::BadArg);
        })
    }

    fn external(self) -> bool {
        matches!(self, Mode::ExtTerm | Mode::ExtVterm | Mode::ExtVdist)
    }
}

/// Why a decode failed.
enum Fail {
    /// The bytes broke the format (raised as the core error).
    Core(CoreError),
    /// A rustler call failed (bad argument, or term creation refused).
    Nif(Error),
}

impl From<CoreError> for Fail {
    fn from(e: CoreError) -> Self {
        Fail::Core(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Nif(e)
    }
}

type Res<T> = Result<T, Fail>;

fn malformed(at: usize) -> Fail {
    Fail::Core(CoreError::new(ErrorKind::MalformedTerm, at))
}

/// The atoms tuple: the terms (for `vterm_atom_cache_ref_resolved`) and
/// their UTF-8 text (for the core's resolver).
struct CacheAtoms<'a> {
    terms: Vec<Term<'a>>,
    text: Vec<CoreAtom>,
}

fn cache_atoms(t: Term) -> NifResult<CacheAtoms> {
    let terms = get_tuple(t)?;
    if terms.len() > 255 {
        return Err(Error::BadArg);
    }
    let text = terms
        .iter()
        .map(|&a| {
            let s = atoms::atom_text(a)?;
            CoreAtom::from_utf8(s.as_bytes()).map_err(|_| Error::BadArg)
        })
        .collect::<NifResult<Vec<_>>>()?;
    Ok(CacheAtoms { terms, text })
}

#[rustler::nif]
fn dist_decode_nif<'a>(
    env: Env<'a>,
    mode: Term<'a>,
    atoms_tuple: Term<'a>,
    bin: Term<'a>,
    limit: Term<'a>,
) -> NifResult<Term<'a>> {
    let out = run(env, mode, atoms_tuple, bin, limit);
    if let Ok(b) = Binary::from_term(bin) {
        let percent = (b.len().saturating_mul(100) / DIRTY_THRESHOLD).clamp(1, 100);
        consume_timeslice(env, i32::try_from(percent).unwrap_or(100));
    }
    out
}

#[rustler::nif(schedule = "DirtyCpu")]
fn dist_decode_dirty_nif<'a>(
    env: Env<'a>,
    mode: Term<'a>,
    atoms_tuple: Term<'a>,
    bin: Term<'a>,
    limit: Term<'a>,
) -> NifResult<Term<'a>> {
    run(env, mode, atoms_tuple, bin, limit)
}

fn run<'a>(env: Env<'a>, mode: Term<'a>, atoms_tuple: Term<'a>, bin: Term<'a>, limit: Term<'a>) -> NifResult<Term<'a>> {
    let mode = Mode::from_term(mode)?;
    let cache = cache_atoms(atoms_tuple)?;
    if !bin.is_binary() {
        return Err(Error::BadArg);
    }
    let bin = Binary::from_term(bin)?;
    let limit: i64 = limit.decode()?;
    let limit = match limit {
        -1 => None,
        n => Some(u64::try_from(n).map_err(|_| Error::BadArg)?),
    };
    if mode == Mode::ExtTerm {
        return ext_to_term(env, &cache, &bin).map_err(|_| Error::BadArg);
    }
    let result = (|| -> Res<Term<'a>> {
        let bytes = bin.as_slice();
        let start = if mode.external() {
            if bytes.first() != Some(&VERSION_MAGIC) {
                return Err(Fail::Core(CoreError::new(ErrorKind::BadMagic, 0)));
            }
            1
        } else {
            0
        };
        let ctx = ScanContext::internal(u8::try_from(cache.text.len()).unwrap_or(u8::MAX));
        let viewer = Viewer::new(bytes, ctx, &cache.text);
        let mut b = Builder { env, bin: &bin, viewer, cache: &cache, limit, decoded: 0 };
        match mode {
            Mode::ExtVterm | Mode::IntVterm => Ok(b.vterm(start)?.0),
            _ => {
                let c = control::decode(&viewer, start)?;
                b.limit = None;
                let (vt, _) = b.vterm(start)?;
                vdist_record(env, c.head.dop, vt)
            }
        }
    })();
    result.map_err(|f| match f {
        Fail::Core(e) => raise(RecvFailure::Core(e)),
        Fail::Nif(e) => e,
    })
}

// ---------------------------------------------------------------------------
// dist_ext_to_term

fn ext_to_term<'a>(env: Env<'a>, cache: &CacheAtoms, bin: &Binary) -> Res<Term<'a>> {
    let bytes = bin.as_slice();
    if bytes.first() != Some(&VERSION_MAGIC) {
        return Err(Fail::Nif(Error::BadArg));
    }
    if let Some(t) = trusted_binary_to_term(env, bytes) {
        return Ok(t);
    }
    let ctx = ScanContext::internal(u8::try_from(cache.text.len()).unwrap_or(u8::MAX));
    let viewer = Viewer::new(bytes, ctx, &cache.text);
    let rebuilt = inline_cache_refs(&viewer, 1, &cache.text)?;
    trusted_binary_to_term(env, &rebuilt).ok_or(Fail::Nif(Error::BadArg))
}

/// `enif_binary_to_term` without `ERL_NIF_BIN2TERM_SAFE`: atoms (and
/// export funs) not yet known are created, as `erts_debug:dist_ext_to_term/2`
/// and distribution do.
fn trusted_binary_to_term<'a>(env: Env<'a>, bytes: &[u8]) -> Option<Term<'a>> {
    // SAFETY: the "trusted" variant only omits ERL_NIF_BIN2TERM_SAFE, which
    // governs atom and fun creation; ERTS validates the bytes either way, so
    // malformed input yields `None`, never undefined behaviour.
    unsafe { env.binary_to_term_trusted(bytes) }.map(|(t, _)| t)
}

/// Positions of the atoms inside the flat part of the term at `pos` (pid,
/// port and reference nodes; fun module and pid node; export module and
/// function; record module and name).
fn embedded_atoms(v: &Viewer, pos: usize, view: &View) -> Res<Vec<usize>> {
    Ok(match view {
        View::Pid(_) | View::Port(_) => vec![pos + 1],
        View::Ref(_) => match v.bytes().get(pos) {
            Some(&tag::REFERENCE) => vec![pos + 1],
            _ => vec![pos + 3],
        },
        View::Export { .. } => vec![pos + 1, v.end_of(pos + 1)?],
        View::Fun(_) => {
            let [module, _, _, pid] = fun_fields(v, pos)?;
            vec![module, pid + 1]
        }
        View::Record(_) => {
            let module = pos + 6;
            vec![module, v.end_of(module)?]
        }
        _ => Vec::new(),
    })
}

/// Positions of a `NEW_FUN_EXT`'s module, old index, old uniq and pid.
fn fun_fields(v: &Viewer, pos: usize) -> Res<[usize; 4]> {
    // tag, size u32, arity u8, uniq [16], index u32, num_free u32
    let module = pos + 30;
    let old_index = v.end_of(module)?;
    let old_uniq = v.end_of(old_index)?;
    let pid = v.end_of(old_uniq)?;
    Ok([module, old_index, old_uniq, pid])
}

/// The term at `start` in external format, every cache reference written
/// as an inline `ATOM_UTF8_EXT`, fun sizes adjusted.
fn inline_cache_refs(v: &Viewer, start: usize, atoms: &[CoreAtom]) -> Res<Vec<u8>> {
    let bytes = v.bytes();
    let mut refs: Vec<usize> = Vec::new();
    let mut funs: Vec<(usize, u32)> = Vec::new();
    let mut pos = start;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let view = v.view(pos)?;
        for p in embedded_atoms(v, pos, &view)? {
            if bytes.get(p) == Some(&tag::ATOM_CACHE_REF) {
                refs.push(p);
            }
        }
        pending += view.sub_terms();
        match view {
            View::Atom(a) if a.cache_index.is_some() => {
                refs.push(pos);
                pos += 2;
            }
            View::Tuple { first, .. } | View::List { first, .. } | View::Map { first, .. } => pos = first,
            View::Fun(f) => {
                funs.push((f.start, f.size));
                pos = f.first_free;
            }
            View::Record(r) => pos = r.first_field,
            _ => pos = v.end_of(pos)?,
        }
    }
    let end = pos;
    // Extra bytes each replacement adds: tag + 2-byte length + text - 2.
    let text_of = |p: usize| -> Res<&CoreAtom> {
        let index = bytes.get(p + 1).ok_or_else(|| malformed(p))?;
        atoms.get(usize::from(*index)).ok_or_else(|| malformed(p))
    };
    let mut out = Vec::with_capacity(end - start + 1 + refs.len() * 16);
    out.push(VERSION_MAGIC);
    let mut from = start;
    let mut added = Vec::with_capacity(refs.len() + 1);
    added.push(0usize);
    for &p in &refs {
        let text = text_of(p)?.as_bytes();
        out.extend_from_slice(bytes.get(from..p).ok_or_else(|| malformed(p))?);
        out.push(tag::ATOM_UTF8);
        out.extend_from_slice(&u16::try_from(text.len()).map_err(|_| malformed(p))?.to_be_bytes());
        out.extend_from_slice(text);
        from = p + 2;
        let last = added.last().copied().unwrap_or(0);
        added.push(last + text.len() + 1);
    }
    out.extend_from_slice(bytes.get(from..end).ok_or_else(|| malformed(from))?);
    // Bytes added before input position `x`.
    let added_before = |x: usize| added.get(refs.partition_point(|&p| p < x)).copied().unwrap_or(0);
    for (fstart, size) in funs {
        let fend = fstart + usize::try_from(size).unwrap_or(usize::MAX);
        let new_size =
            u32::try_from(fend - fstart + added_before(fend) - added_before(fstart)).map_err(|_| malformed(fstart))?;
        let at = 1 + (fstart - start) + added_before(fstart);
        out.get_mut(at..at + 4).ok_or_else(|| malformed(fstart))?.copy_from_slice(&new_size.to_be_bytes());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// vterm

/// A compound whose sub-terms are being decoded.
struct Frame<'e> {
    open: Open<'e>,
    items: Vec<Term<'e>>,
    left: u64,
}

enum Open<'e> {
    Tuple {
        small: bool,
        arity: u32,
    },
    List {
        len: u32,
    },
    Map {
        arity: u32,
    },
    /// The record fields before `free_vars`, and where the fun is (to check
    /// its size).
    Fun {
        head: Vec<Term<'e>>,
        view: FunHead,
    },
    Record {
        num_fields: u32,
        exported: bool,
        module: Term<'e>,
        name: Term<'e>,
        at: usize,
    },
}

struct Builder<'e, 'b> {
    env: Env<'e>,
    bin: &'b Binary<'e>,
    viewer: Viewer<'b>,
    cache: &'b CacheAtoms<'e>,
    limit: Option<u64>,
    decoded: u64,
}

impl<'e, 'b> Builder<'e, 'b> {
    fn rec(&self, name: Atom, fields: &[Term<'e>]) -> Term<'e> {
        let mut all = Vec::with_capacity(fields.len() + 1);
        all.push(name.encode(self.env));
        all.extend_from_slice(fields);
        make_tuple(self.env, &all)
    }

    fn enc<T: Encoder>(&self, v: T) -> Term<'e> {
        v.encode(self.env)
    }

    fn sub(&self, from: usize, to: usize) -> Res<Term<'e>> {
        let len = to.checked_sub(from).ok_or_else(|| malformed(from))?;
        Ok(self.bin.make_subbinary(from, len)?.to_term(self.env))
    }

    fn tag_at(&self, pos: usize) -> Res<u8> {
        self.viewer.bytes().get(pos).copied().ok_or_else(|| malformed(pos))
    }

    /// The vterm of the term at `pos`, and the position after it.
    fn vterm(&mut self, pos: usize) -> Res<(Term<'e>, usize)> {
        let mut stack: Vec<Frame<'e>> = Vec::new();
        let mut pos = pos;
        loop {
            let view = self.viewer.view(pos)?;
            if let Some(Frame { open: Open::Record { num_fields, .. }, items, .. }) = stack.last() {
                if (items.len() as u64) < u64::from(*num_fields) && !matches!(view, View::Atom(_)) {
                    return Err(malformed(pos));
                }
            }
            let compound = matches!(
                view,
                View::Tuple { .. } | View::List { .. } | View::Map { .. } | View::Fun(_) | View::Record(_)
            );
            let mut value;
            if compound && self.limit.is_some_and(|l| self.decoded >= l) {
                let end = self.viewer.end_of(pos)?;
                value = self.rec(atoms::vterm_lazy_term(), &[self.sub(pos, end)?]);
                pos = end;
            } else if compound {
                self.decoded += 1;
                let (frame, first) = self.open(pos, &view)?;
                if frame.left > 0 {
                    stack.push(frame);
                    pos = first;
                    continue;
                }
                value = self.finish(frame, first)?;
                pos = first;
            } else {
                self.decoded += 1;
                let (v, end) = self.leaf(pos, &view)?;
                value = v;
                pos = end;
            }
            // Hand the value to its parent; close every parent it completes.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok((value, pos));
                };
                top.items.push(value);
                top.left -= 1;
                if top.left > 0 {
                    break;
                }
                let frame = stack.pop().ok_or_else(|| malformed(pos))?;
                value = self.finish(frame, pos)?;
            }
        }
    }

    /// Open a compound: its frame and the position of its first sub-term.
    fn open(&mut self, pos: usize, view: &View<'b>) -> Res<(Frame<'e>, usize)> {
        let t = self.tag_at(pos)?;
        let left = view.sub_terms();
        let (open, first) = match *view {
            View::Tuple { arity, first } => (Open::Tuple { small: t == tag::SMALL_TUPLE, arity }, first),
            View::List { len, first } => (Open::List { len }, first),
            View::Map { arity, first } => (Open::Map { arity }, first),
            View::Fun(f) => {
                let [module, old_index, old_uniq, pid] = fun_fields(&self.viewer, pos)?;
                let fields = self.viewer.fun(pos)?;
                let uniq_at = pos + 6;
                let head = vec![
                    self.enc(f.size),
                    self.enc(fields.arity),
                    self.sub(uniq_at, uniq_at + 16)?,
                    self.enc(fields.index),
                    self.enc(f.num_free),
                    self.flat(module)?,
                    self.flat(old_index)?,
                    self.flat(old_uniq)?,
                    self.flat(pid)?,
                ];
                (Open::Fun { head, view: f }, f.first_free)
            }
            View::Record(r) => {
                let module_at = pos + 6;
                let name_at = self.viewer.end_of(module_at)?;
                let open = Open::Record {
                    num_fields: r.num_fields,
                    exported: r.exported,
                    module: self.flat(module_at)?,
                    name: self.flat(name_at)?,
                    at: pos,
                };
                (open, r.first_field)
            }
            _ => return Err(malformed(pos)),
        };
        let cap = usize::try_from(left).unwrap_or(0);
        Ok((Frame { open, items: Vec::with_capacity(cap), left }, first))
    }

    /// The record of a completed compound ending at `end`.
    fn finish(&self, frame: Frame<'e>, end: usize) -> Res<Term<'e>> {
        let mut items = frame.items;
        Ok(match frame.open {
            Open::Tuple { small, arity } => {
                let name = if small { atoms::vterm_small_tuple_ext() } else { atoms::vterm_large_tuple_ext() };
                self.rec(name, &[self.enc(arity), self.enc(items)])
            }
            Open::List { len } => {
                let tail = items.pop().ok_or_else(|| malformed(end))?;
                self.rec(atoms::vterm_list_ext(), &[self.enc(len), self.enc(items), tail])
            }
            Open::Map { arity } => {
                let pairs: Vec<Term<'e>> = items.chunks_exact(2).map(|kv| make_tuple(self.env, kv)).collect();
                self.rec(atoms::vterm_map_ext(), &[self.enc(arity), self.enc(pairs)])
            }
            Open::Fun { mut head, view } => {
                if !view.size_matches(end) {
                    return Err(malformed(view.start));
                }
                head.push(self.enc(items));
                self.rec(atoms::vterm_new_fun_ext(), &head)
            }
            Open::Record { num_fields, exported, module, name, at } => {
                let n = usize::try_from(num_fields).map_err(|_| malformed(at))?;
                let values = items.split_off(n.min(items.len()));
                if values.len() != items.len() {
                    return Err(malformed(at));
                }
                let fields: Vec<Term<'e>> =
                    items.into_iter().zip(values).map(|(k, v)| make_tuple(self.env, &[k, v])).collect();
                self.rec(
                    atoms::vterm_record_ext(),
                    &[self.enc(num_fields), self.enc(exported), module, name, self.enc(fields)],
                )
            }
        })
    }

    /// The vterm of a flat field (atom, integer, pid) inside a term head.
    fn flat(&self, pos: usize) -> Res<Term<'e>> {
        let view = self.viewer.view(pos)?;
        Ok(self.leaf(pos, &view)?.0)
    }

    /// The vterm of a term without sub-terms, and the position after it.
    fn leaf(&self, pos: usize, view: &View<'b>) -> Res<(Term<'e>, usize)> {
        let t = self.tag_at(pos)?;
        let end = self.viewer.end_of(pos)?;
        let v = match *view {
            View::Int(i) if t == tag::SMALL_INTEGER => self.rec(atoms::vterm_small_integer_ext(), &[self.enc(i)]),
            View::Int(i) if t == tag::INTEGER => self.rec(atoms::vterm_integer_ext(), &[self.enc(i)]),
            View::Int(_) | View::BigInt { .. } => {
                let (name, n) = if t == tag::SMALL_BIG {
                    (atoms::vterm_small_big_ext(), usize::from(self.tag_at(pos + 1)?))
                } else {
                    let n = self.viewer.bytes().get(pos + 1..pos + 5).ok_or_else(|| malformed(pos))?;
                    let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]);
                    (atoms::vterm_large_big_ext(), usize::try_from(n).map_err(|_| malformed(pos))?)
                };
                let digits_at = end.checked_sub(n).ok_or_else(|| malformed(pos))?;
                let sign = self.tag_at(digits_at - 1)?;
                self.rec(name, &[self.enc(n), self.enc(sign), self.sub(digits_at, end)?])
            }
            View::Float(f) => {
                let name = if t == tag::FLOAT { atoms::vterm_float_ext() } else { atoms::vterm_new_float_ext() };
                self.rec(name, &[self.enc(f)])
            }
            View::Atom(a) => match a.cache_index {
                Some(index) => {
                    let term = self.cache.terms.get(usize::from(index)).copied().ok_or_else(|| malformed(pos))?;
                    self.rec(atoms::vterm_atom_cache_ref_resolved(), &[self.enc(index), term])
                }
                None => {
                    let name = match t {
                        tag::ATOM => atoms::vterm_atom_ext(),
                        tag::SMALL_ATOM => atoms::vterm_small_atom_ext(),
                        tag::ATOM_UTF8 => atoms::vterm_atom_utf8_ext(),
                        _ => atoms::vterm_small_atom_utf8_ext(),
                    };
                    let text = a.to_atom().map_err(|k| Fail::Core(CoreError::new(k, pos)))?;
                    let atom = new_atom(self.env, text.as_str())?;
                    self.rec(name, &[self.enc(a.text.len()), atom])
                }
            },
            View::Pid(p) => {
                let name = if t == tag::PID { atoms::vterm_pid_ext() } else { atoms::vterm_new_pid_ext() };
                let node = self.flat(pos + 1)?;
                self.rec(name, &[node, self.enc(p.id), self.enc(p.serial), self.enc(p.creation)])
            }
            View::Port(p) => {
                let name = match t {
                    tag::PORT => atoms::vterm_port_ext(),
                    tag::NEW_PORT => atoms::vterm_new_port_ext(),
                    _ => atoms::vterm_v4_port_ext(),
                };
                let node = self.flat(pos + 1)?;
                self.rec(name, &[node, self.enc(p.id), self.enc(p.creation)])
            }
            View::Ref(r) => {
                let ids: Vec<u32> = r.ids().collect();
                if t == tag::REFERENCE {
                    let node = self.flat(pos + 1)?;
                    let id = ids.first().copied().unwrap_or(0);
                    self.rec(atoms::vterm_reference_ext(), &[node, self.enc(id), self.enc(r.creation)])
                } else {
                    let name = if t == tag::NEW_REFERENCE {
                        atoms::vterm_new_reference_ext()
                    } else {
                        atoms::vterm_newer_reference_ext()
                    };
                    let node = self.flat(pos + 3)?;
                    self.rec(name, &[self.enc(ids.len()), node, self.enc(r.creation), self.enc(ids)])
                }
            }
            View::Nil => self.rec(atoms::vterm_nil_ext(), &[]),
            View::String(s) => self.rec(atoms::vterm_string_ext(), &[self.enc(s.len()), self.sub(pos + 3, end)?]),
            View::Binary(b) => self.rec(atoms::vterm_binary_ext(), &[self.enc(b.len()), self.sub(pos + 5, end)?]),
            View::BitBinary { bytes, bits } => self
                .rec(atoms::vterm_bit_binary_ext(), &[self.enc(bytes.len()), self.enc(bits), self.sub(pos + 6, end)?]),
            View::Export { .. } => {
                let function_at = self.viewer.end_of(pos + 1)?;
                let arity_at = self.viewer.end_of(function_at)?;
                self.rec(
                    atoms::vterm_export_ext(),
                    &[self.flat(pos + 1)?, self.flat(function_at)?, self.flat(arity_at)?],
                )
            }
            View::Tuple { .. } | View::List { .. } | View::Map { .. } | View::Fun(_) | View::Record(_) => {
                return Err(malformed(pos))
            }
        };
        Ok((v, end))
    }
}

/// The atom with UTF-8 text `text`, created if new (as decoding does).
fn new_atom<'a>(env: Env<'a>, text: &str) -> Res<Term<'a>> {
    if text.is_ascii() {
        return Ok(Atom::from_str(env, text)?.to_term(env));
    }
    let len = u16::try_from(text.len()).map_err(|_| Fail::Nif(Error::BadArg))?;
    let mut ext = Vec::with_capacity(text.len() + 4);
    ext.push(VERSION_MAGIC);
    ext.push(tag::ATOM_UTF8);
    ext.extend_from_slice(&len.to_be_bytes());
    ext.extend_from_slice(text.as_bytes());
    match trusted_binary_to_term(env, &ext) {
        Some(t) if t.is_atom() => Ok(t),
        _ => Err(Fail::Nif(Error::BadArg)),
    }
}

// ---------------------------------------------------------------------------
// vdist

/// The `vdist_dop_*` record of a control message whose (validated) vterm
/// is `control`, a tuple vterm `{_, Arity, [Op | Fields]}`.
fn vdist_record<'a>(env: Env<'a>, dop: Dop, control: Term<'a>) -> Res<Term<'a>> {
    let parts = get_tuple(control)?;
    let elements: Vec<Term<'a>> = parts.get(2).ok_or(Fail::Nif(Error::BadArg))?.decode()?;
    let fields = elements.get(1..).unwrap_or(&[]);
    let name = Atom::from_str(env, &format!("vdist_dop_{}", dop.name()))?.to_term(env);
    let mut all = Vec::with_capacity(fields.len() + 1);
    all.push(name);
    if dop == Dop::AltactSigSend {
        // flags, sender, to, then `none` or `{some, Token}`.
        all.extend(fields.iter().take(3).copied());
        all.push(match fields.get(3) {
            Some(&token) => make_tuple(env, &[atoms::some().encode(env), token]),
            None => atoms::none().encode(env),
        });
    } else {
        all.extend_from_slice(fields);
    }
    Ok(make_tuple(env, &all))
}
