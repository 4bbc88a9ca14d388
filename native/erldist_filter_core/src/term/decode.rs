//! The owned decoder: bytes to [`Term`], for logging and the vterm API.
//!
//! It walks the term with an explicit stack of open compounds (never
//! recursion), reading heads with the same function as the scanner. Depth
//! is bounded by [`ScanContext::max_depth`] (`ErrorKind::TooDeep` beyond
//! it), because dropping or comparing a `Term` recurses. Allocation is
//! bounded by the input: every vector is sized from a declared count that
//! was first checked, together with all other pending sub-terms, against
//! the bytes left (each term takes at least one byte).

use crate::atom::Atom;
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};

use super::atom_ref::AtomRef;
use super::context::{AtomResolver, ScanContext};
use super::head::{need_terms, read_fun_at, read_view};
use super::value::{Fun, Pid, Port, Record, Ref, Term};
use super::view::{FunView, PidView, View};

/// Decode one term at `*pos` and advance `*pos` past it.
pub fn decode(bytes: &[u8], pos: &mut usize, ctx: &ScanContext, atoms: &dyn AtomResolver) -> Result<Term, Error> {
    let mut cur = Cursor::new(bytes);
    cur.skip(*pos)?;
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: u64 = 1;
    loop {
        let at = cur.pos();
        let view = read_view(&mut cur, ctx, Some(atoms))?;
        if stack.last().is_some_and(Frame::wants_atom) && !matches!(view, View::Atom(_)) {
            return Err(Error::new(ErrorKind::MalformedTerm, at));
        }
        pending = pending.saturating_sub(1);
        let subs = view.sub_terms();
        pending += subs;
        need_terms(&cur, pending)?;
        // A fun's view holds only its extent: read its fields.
        let fun = match view {
            View::Fun(_) => Some(read_fun_at(bytes, at, ctx, Some(atoms))?),
            _ => None,
        };
        let mut value = if subs == 0 {
            leaf(&view, fun.as_ref(), at)?
        } else {
            if stack.len() >= usize::try_from(ctx.max_depth).unwrap_or(usize::MAX) {
                return Err(Error::new(ErrorKind::TooDeep, at));
            }
            stack.push(Frame::open(&view, fun.as_ref(), subs, at)?);
            continue;
        };
        // Hand the finished value to its parent; close every parent it fills.
        loop {
            let Some(top) = stack.last_mut() else {
                *pos = cur.pos();
                return Ok(value);
            };
            top.push(value)?;
            if top.left > 0 {
                break;
            }
            match stack.pop() {
                Some(frame) => value = frame.finish(cur.pos())?,
                None => return Err(Error::new(ErrorKind::MalformedTerm, at)),
            }
        }
    }
}

/// A compound still collecting sub-terms.
struct Frame {
    /// Sub-terms still expected.
    left: u64,
    /// Where the compound started (for errors).
    at: usize,
    kind: Kind,
}

enum Kind {
    Tuple(Vec<Term>),
    /// Elements, then one more value: the tail.
    List(Vec<Term>, u32),
    Map(Vec<(Term, Term)>, Option<Term>),
    /// The fun (free variables being filled), its start and declared size.
    Fun(Box<Fun>, usize, u32),
    /// Record being filled, its field names, number of fields.
    Record(Box<Record>, Vec<Atom>, Vec<Term>, u32),
}

impl Frame {
    fn open(view: &View<'_>, fun: Option<&FunView<'_>>, subs: u64, at: usize) -> Result<Frame, Error> {
        let cap = |n: u32| usize::try_from(n).unwrap_or(0);
        let kind = match *view {
            View::Tuple { arity, .. } => Kind::Tuple(Vec::with_capacity(cap(arity))),
            View::List { len, .. } => Kind::List(Vec::with_capacity(cap(len)), len),
            View::Map { arity, .. } => Kind::Map(Vec::with_capacity(cap(arity)), None),
            View::Fun(f) => {
                let fields = fun.ok_or(Error::new(ErrorKind::MalformedTerm, at))?;
                let mut fun = fun_without_free(fields, at)?;
                fun.free = Vec::with_capacity(cap(f.num_free));
                Kind::Fun(Box::new(fun), f.start, f.size)
            }
            View::Record(r) => {
                let rec = Record {
                    exported: r.exported,
                    module: atom(&r.module, at)?,
                    name: atom(&r.name, at)?,
                    fields: Vec::new(),
                };
                let n = r.num_fields;
                Kind::Record(Box::new(rec), Vec::with_capacity(cap(n)), Vec::new(), n)
            }
            _ => return Err(Error::new(ErrorKind::MalformedTerm, at)),
        };
        Ok(Frame { left: subs, at, kind })
    }

    /// Whether the next sub-term must be an atom (a record field name).
    fn wants_atom(&self) -> bool {
        matches!(&self.kind, Kind::Record(_, names, _, n) if names.len() < usize::try_from(*n).unwrap_or(0))
    }

    fn push(&mut self, value: Term) -> Result<(), Error> {
        self.left = self.left.saturating_sub(1);
        match &mut self.kind {
            Kind::Tuple(items) => items.push(value),
            Kind::List(items, _) => items.push(value),
            Kind::Map(pairs, key) => match key.take() {
                Some(k) => pairs.push((k, value)),
                None => *key = Some(value),
            },
            Kind::Fun(fun, _, _) => fun.free.push(value),
            Kind::Record(_, names, values, n) => {
                if names.len() < usize::try_from(*n).unwrap_or(0) {
                    match value {
                        Term::Atom(a) | Term::CacheRef { atom: a, .. } => names.push(a),
                        _ => return Err(Error::new(ErrorKind::MalformedTerm, self.at)),
                    }
                } else {
                    values.push(value);
                }
            }
        }
        Ok(())
    }

    fn finish(self, end: usize) -> Result<Term, Error> {
        let malformed = Error::new(ErrorKind::MalformedTerm, self.at);
        Ok(match self.kind {
            Kind::Tuple(items) => Term::Tuple(items),
            Kind::List(mut items, len) => {
                // The last value pushed was the tail.
                let tail = if items.len() > usize::try_from(len).unwrap_or(usize::MAX) {
                    items.pop().ok_or(malformed)?
                } else {
                    return Err(malformed);
                };
                Term::List(items, Box::new(tail))
            }
            Kind::Map(pairs, None) => Term::Map(pairs),
            Kind::Map(_, Some(_)) => return Err(malformed),
            Kind::Fun(fun, start, size) => {
                if end.checked_sub(start) != usize::try_from(size).ok() {
                    return Err(malformed);
                }
                Term::Fun(fun)
            }
            Kind::Record(mut rec, names, values, _) => {
                if names.len() != values.len() {
                    return Err(malformed);
                }
                rec.fields = names.into_iter().zip(values).collect();
                Term::Record(rec)
            }
        })
    }
}

/// A term with no sub-terms (including empty compounds).
fn leaf(view: &View<'_>, fun: Option<&FunView<'_>>, at: usize) -> Result<Term, Error> {
    Ok(match *view {
        View::Atom(a) => match a.cache_index {
            Some(index) => Term::CacheRef { index, atom: atom(&a, at)? },
            None => Term::Atom(atom(&a, at)?),
        },
        View::Int(i) => Term::Int(i),
        View::BigInt { negative, magnitude } => Term::BigInt { negative, magnitude: magnitude.to_vec() },
        View::Float(f) => Term::Float(f),
        View::Tuple { .. } => Term::Tuple(Vec::new()),
        View::Map { .. } => Term::Map(Vec::new()),
        View::Nil => Term::Nil,
        View::String(s) => Term::String(s.to_vec()),
        View::Binary(b) => Term::Binary(b.to_vec()),
        View::BitBinary { bytes, bits } => Term::BitBinary(bytes.to_vec(), bits),
        View::Pid(p) => Term::Pid(pid(&p, at)?),
        View::Port(p) => Term::Port(Port { node: atom(&p.node, at)?, id: p.id, creation: p.creation }),
        View::Ref(r) => Term::Ref(Ref { node: atom(&r.node, at)?, creation: r.creation, ids: r.ids().collect() }),
        View::Fun(_) => {
            let fields = fun.ok_or(Error::new(ErrorKind::MalformedTerm, at))?;
            Term::Fun(Box::new(fun_without_free(fields, at)?))
        }
        View::Export { module, function, arity } => {
            Term::Export { module: atom(&module, at)?, function: atom(&function, at)?, arity }
        }
        View::Record(r) => Term::Record(Box::new(Record {
            exported: r.exported,
            module: atom(&r.module, at)?,
            name: atom(&r.name, at)?,
            fields: Vec::new(),
        })),
        // A list always has its tail to come.
        View::List { .. } => return Err(Error::new(ErrorKind::MalformedTerm, at)),
    })
}

fn atom(a: &AtomRef<'_>, at: usize) -> Result<Atom, Error> {
    a.to_atom().map_err(|k| Error::new(k, at))
}

fn pid(p: &PidView<'_>, at: usize) -> Result<Pid, Error> {
    Ok(Pid { node: atom(&p.node, at)?, id: p.id, serial: p.serial, creation: p.creation })
}

fn fun_without_free(f: &FunView<'_>, at: usize) -> Result<Fun, Error> {
    Ok(Fun {
        arity: f.arity,
        uniq: f.uniq,
        index: f.index,
        module: atom(&f.module, at)?,
        old_index: f.old_index,
        old_uniq: f.old_uniq,
        pid: pid(&f.pid, at)?,
        free: Vec::new(),
    })
}
