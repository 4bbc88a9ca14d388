//! A test encoder: [`Term`] to the external term format, without the 131
//! version byte. Used by our tests, property tests and fuzz targets to build
//! inputs; not on the hot path. Iterative, so deep terms do not overflow
//! the stack while encoding.

use crate::atom::Atom;

use super::tag;
use super::value::{Pid, Term};

/// How inline atoms are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtomEncoding {
    /// `SMALL_ATOM_UTF8_EXT`, or `ATOM_UTF8_EXT` when over 255 bytes
    /// (what OTP 26+ writes).
    #[default]
    SmallUtf8,
    /// Always `ATOM_UTF8_EXT` (2-byte length).
    Utf8,
    /// `ATOM_EXT` (2-byte length, Latin-1) when every character fits
    /// Latin-1, as OTP 25's `term_to_binary` does; else `ATOM_UTF8_EXT`.
    Latin1,
    /// `SMALL_ATOM_EXT` when Latin-1, else `SMALL_ATOM_UTF8_EXT`.
    SmallLatin1,
}

/// Encoder choices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Encoding of inline atoms (cache references stay references).
    pub atoms: AtomEncoding,
}

/// Append the encoding of `term` to `out` with default options.
pub fn encode(term: &Term, out: &mut Vec<u8>) {
    encode_with(term, out, &EncodeOptions::default());
}

/// Pieces still to write, in reverse order.
enum Work<'t> {
    Term(&'t Term),
    Atom(&'t Atom),
    /// Write the byte count since this offset (minus nothing: the size
    /// field counts itself) into the 4 bytes at the offset.
    FunSize(usize),
}

/// Append the encoding of `term` to `out`.
pub fn encode_with(term: &Term, out: &mut Vec<u8>, opts: &EncodeOptions) {
    let mut work = vec![Work::Term(term)];
    while let Some(w) = work.pop() {
        match w {
            Work::Atom(a) => write_atom(a, out, opts),
            Work::FunSize(start) => {
                let size = u32::try_from(out.len() - start).unwrap_or(u32::MAX).to_be_bytes();
                if let Some(slot) = out.get_mut(start..start + 4) {
                    slot.copy_from_slice(&size);
                }
            }
            Work::Term(t) => write_head(t, out, opts, &mut work),
        }
    }
}

/// Write a term's head and queue its sub-terms.
fn write_head<'t>(t: &'t Term, out: &mut Vec<u8>, opts: &EncodeOptions, work: &mut Vec<Work<'t>>) {
    match t {
        Term::Atom(a) => write_atom(a, out, opts),
        Term::CacheRef { index, .. } => out.extend([tag::ATOM_CACHE_REF, *index]),
        Term::Int(i) => write_int(*i, out),
        Term::BigInt { negative, magnitude } => write_big(*negative, magnitude, out),
        Term::Float(f) => {
            out.push(tag::NEW_FLOAT);
            out.extend(f.to_bits().to_be_bytes());
        }
        Term::Tuple(items) => {
            match u8::try_from(items.len()) {
                Ok(n) => out.extend([tag::SMALL_TUPLE, n]),
                Err(_) => {
                    out.push(tag::LARGE_TUPLE);
                    out.extend(len_u32(items.len()));
                }
            }
            work.extend(items.iter().rev().map(Work::Term));
        }
        Term::List(items, tail) => {
            out.push(tag::LIST);
            out.extend(len_u32(items.len()));
            work.push(Work::Term(tail));
            work.extend(items.iter().rev().map(Work::Term));
        }
        Term::Nil => out.push(tag::NIL),
        Term::String(s) => match u16::try_from(s.len()) {
            Ok(n) => {
                out.push(tag::STRING);
                out.extend(n.to_be_bytes());
                out.extend_from_slice(s);
            }
            // Too long for STRING_EXT: a list of small integers, as OTP does.
            Err(_) => {
                out.push(tag::LIST);
                out.extend(len_u32(s.len()));
                for &b in s {
                    out.extend([tag::SMALL_INTEGER, b]);
                }
                out.push(tag::NIL);
            }
        },
        Term::Binary(b) => {
            out.push(tag::BINARY);
            out.extend(len_u32(b.len()));
            out.extend_from_slice(b);
        }
        Term::BitBinary(b, bits) => {
            out.push(tag::BIT_BINARY);
            out.extend(len_u32(b.len()));
            out.push(*bits);
            out.extend_from_slice(b);
        }
        Term::Map(pairs) => {
            out.push(tag::MAP);
            out.extend(len_u32(pairs.len()));
            for (k, v) in pairs.iter().rev() {
                work.push(Work::Term(v));
                work.push(Work::Term(k));
            }
        }
        Term::Pid(p) => write_pid(p, out, opts),
        Term::Port(p) => {
            match u32::try_from(p.id) {
                Ok(id) => {
                    out.push(tag::NEW_PORT);
                    write_atom(&p.node, out, opts);
                    out.extend(id.to_be_bytes());
                }
                Err(_) => {
                    out.push(tag::V4_PORT);
                    write_atom(&p.node, out, opts);
                    out.extend(p.id.to_be_bytes());
                }
            }
            out.extend(p.creation.to_be_bytes());
        }
        Term::Ref(r) => {
            out.push(tag::NEWER_REFERENCE);
            out.extend(u16::try_from(r.ids.len()).unwrap_or(u16::MAX).to_be_bytes());
            write_atom(&r.node, out, opts);
            out.extend(r.creation.to_be_bytes());
            for id in &r.ids {
                out.extend(id.to_be_bytes());
            }
        }
        Term::Fun(f) => {
            out.push(tag::NEW_FUN);
            let start = out.len();
            out.extend([0u8; 4]);
            out.push(f.arity);
            out.extend_from_slice(&f.uniq);
            out.extend(f.index.to_be_bytes());
            out.extend(len_u32(f.free.len()));
            write_atom(&f.module, out, opts);
            write_int(i64::from(f.old_index), out);
            write_int(i64::from(f.old_uniq), out);
            write_pid(&f.pid, out, opts);
            work.push(Work::FunSize(start));
            work.extend(f.free.iter().rev().map(Work::Term));
        }
        Term::Export { module, function, arity } => {
            out.push(tag::EXPORT);
            write_atom(module, out, opts);
            write_atom(function, out, opts);
            out.extend([tag::SMALL_INTEGER, *arity]);
        }
        Term::Record(r) => {
            out.push(tag::RECORD);
            out.extend(len_u32(r.fields.len()));
            out.push(u8::from(r.exported));
            write_atom(&r.module, out, opts);
            write_atom(&r.name, out, opts);
            work.extend(r.fields.iter().rev().map(|(_, v)| Work::Term(v)));
            work.extend(r.fields.iter().rev().map(|(n, _)| Work::Atom(n)));
        }
    }
}

fn len_u32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

fn write_atom(a: &Atom, out: &mut Vec<u8>, opts: &EncodeOptions) {
    let latin1 = matches!(opts.atoms, AtomEncoding::Latin1 | AtomEncoding::SmallLatin1) && a.is_latin1();
    let text: Vec<u8> = if latin1 {
        a.as_str().chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
    } else {
        a.as_bytes().to_vec()
    };
    let small = matches!(opts.atoms, AtomEncoding::SmallUtf8 | AtomEncoding::SmallLatin1);
    match (small, u8::try_from(text.len())) {
        (true, Ok(n)) => out.extend([if latin1 { tag::SMALL_ATOM } else { tag::SMALL_ATOM_UTF8 }, n]),
        _ => {
            out.push(if latin1 { tag::ATOM } else { tag::ATOM_UTF8 });
            out.extend(u16::try_from(text.len()).unwrap_or(u16::MAX).to_be_bytes());
        }
    }
    out.extend_from_slice(&text);
}

fn write_pid(p: &Pid, out: &mut Vec<u8>, opts: &EncodeOptions) {
    out.push(tag::NEW_PID);
    write_atom(&p.node, out, opts);
    out.extend(p.id.to_be_bytes());
    out.extend(p.serial.to_be_bytes());
    out.extend(p.creation.to_be_bytes());
}

/// The smallest encoding OTP would use.
fn write_int(i: i64, out: &mut Vec<u8>) {
    if let Ok(b) = u8::try_from(i) {
        out.extend([tag::SMALL_INTEGER, b]);
    } else if let Ok(w) = i32::try_from(i) {
        out.push(tag::INTEGER);
        out.extend(w.to_be_bytes());
    } else {
        let mag = i.unsigned_abs().to_le_bytes();
        let n = mag.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        write_big(i < 0, mag.get(..n).unwrap_or(&[]), out);
    }
}

fn write_big(negative: bool, magnitude: &[u8], out: &mut Vec<u8>) {
    match u8::try_from(magnitude.len()) {
        Ok(n) => out.extend([tag::SMALL_BIG, n]),
        Err(_) => {
            out.push(tag::LARGE_BIG);
            out.extend(len_u32(magnitude.len()));
        }
    }
    out.push(u8::from(negative));
    out.extend_from_slice(magnitude);
}
