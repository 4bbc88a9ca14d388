//! A shallow, allocation-free look at the term at a position: enough to
//! match shapes like `{'$gen_call', _, {start_child, _}}` and to read the
//! fields of a control message without building terms.
//!
//! A [`Viewer`] holds the frame bytes, the [`ScanContext`] and the atom
//! resolver; [`Viewer::view`] reads one term's head as a [`View`], whose
//! compound variants give the position of their first sub-term. Positions
//! of later elements come from skipping earlier ones with the scanner.

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};

use super::atom_ref::AtomRef;
use super::context::{AtomResolver, ScanContext};
use super::head::{read_element, read_fun_at, read_tuple_head, read_view, Element};
use super::scan::skip_term;
use super::tag;

/// The head of one term. Positions are offsets into the viewed bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum View<'a> {
    /// An atom in any encoding, cache references resolved.
    Atom(AtomRef<'a>),
    /// An integer of any encoding whose value fits `i64`.
    Int(i64),
    /// A bignum beyond `i64`.
    BigInt {
        /// Sign byte was non-zero.
        negative: bool,
        /// Little-endian magnitude, as on the wire.
        magnitude: &'a [u8],
    },
    /// A float (`NEW_FLOAT_EXT` or `FLOAT_EXT`).
    Float(f64),
    /// A tuple; its elements follow one after another from `first`.
    Tuple {
        /// Number of elements.
        arity: u32,
        /// Position of the first element.
        first: usize,
    },
    /// The empty list.
    Nil,
    /// `LIST_EXT`: `len` elements from `first`, then the tail.
    List {
        /// Number of elements before the tail.
        len: u32,
        /// Position of the first element.
        first: usize,
    },
    /// `STRING_EXT`: a proper list of small integers, as bytes.
    String(&'a [u8]),
    /// A binary.
    Binary(&'a [u8]),
    /// A bitstring whose last byte uses `bits` bits (0 only when empty).
    BitBinary {
        /// The bytes.
        bytes: &'a [u8],
        /// Bits used in the last byte.
        bits: u8,
    },
    /// A map: `arity` key/value pairs from `first` (key, value, key, ...).
    Map {
        /// Number of pairs.
        arity: u32,
        /// Position of the first key.
        first: usize,
    },
    /// A pid.
    Pid(PidView<'a>),
    /// A port.
    Port(PortView<'a>),
    /// A reference.
    Ref(RefView<'a>),
    /// A closure (`NEW_FUN_EXT`): where it is and what follows; its other
    /// fields come from [`Viewer::fun`] (kept out so that every view stays
    /// small: views are copied per term on the hot path).
    Fun(FunHead),
    /// `fun M:F/A` (`EXPORT_EXT`).
    Export {
        /// Module.
        module: AtomRef<'a>,
        /// Function.
        function: AtomRef<'a>,
        /// Arity.
        arity: u8,
    },
    /// A native record (`RECORD_EXT`).
    Record(RecordView<'a>),
}

/// A pid's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidView<'a> {
    /// Node name.
    pub node: AtomRef<'a>,
    /// Process id.
    pub id: u32,
    /// Serial.
    pub serial: u32,
    /// Node incarnation (8-bit in the old `PID_EXT`).
    pub creation: u32,
}

/// A port's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortView<'a> {
    /// Node name.
    pub node: AtomRef<'a>,
    /// Port id (64-bit in `V4_PORT_EXT`).
    pub id: u64,
    /// Node incarnation.
    pub creation: u32,
}

/// A reference's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefView<'a> {
    /// Node name.
    pub node: AtomRef<'a>,
    /// Node incarnation.
    pub creation: u32,
    /// The ids, 4 big-endian bytes each.
    pub ids: &'a [u8],
}

impl RefView<'_> {
    /// The ids as numbers.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.chunks_exact(4).map(|c| c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }
}

/// Where a closure (`NEW_FUN_EXT`) is and what follows its fixed fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunHead {
    /// Position of the size field (just after the tag).
    pub start: usize,
    /// Declared size in bytes, from `start` to the end of the fun.
    pub size: u32,
    /// Number of free variables.
    pub num_free: u32,
    /// Position of the first free variable.
    pub first_free: usize,
}

impl FunHead {
    /// Whether a fun ending at `end` has the declared size.
    pub fn size_matches(&self, end: usize) -> bool {
        end.checked_sub(self.start) == usize::try_from(self.size).ok()
    }
}

/// A closure's fields (`NEW_FUN_EXT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunView<'a> {
    /// Position of the size field (just after the tag).
    pub start: usize,
    /// Declared size in bytes, from `start` to the end of the fun.
    pub size: u32,
    /// Arity.
    pub arity: u8,
    /// MD5 of the module's code.
    pub uniq: [u8; 16],
    /// Index in the module's fun table.
    pub index: u32,
    /// Number of free variables.
    pub num_free: u32,
    /// Defining module.
    pub module: AtomRef<'a>,
    /// Old-style index.
    pub old_index: i32,
    /// Old-style uniq.
    pub old_uniq: i32,
    /// Creating process.
    pub pid: PidView<'a>,
    /// Position of the first free variable.
    pub first_free: usize,
}

impl FunView<'_> {
    /// Whether a fun ending at `end` has the declared size.
    pub fn size_matches(&self, end: usize) -> bool {
        self.head().size_matches(end)
    }

    /// Its position and extent.
    pub fn head(&self) -> FunHead {
        FunHead { start: self.start, size: self.size, num_free: self.num_free, first_free: self.first_free }
    }
}

/// A native record's fields (layout in [`super::tag::RECORD`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Number of fields.
    pub num_fields: u32,
    /// Whether the record is exported.
    pub exported: bool,
    /// Defining module.
    pub module: AtomRef<'a>,
    /// Record name.
    pub name: AtomRef<'a>,
    /// Position of the first field name; the `num_fields` names (atoms)
    /// are followed by the `num_fields` values.
    pub first_field: usize,
}

impl<'a> View<'a> {
    /// Sub-terms that follow this head (a list's tail included).
    pub fn sub_terms(&self) -> u64 {
        match *self {
            View::Tuple { arity, .. } => u64::from(arity),
            View::List { len, .. } => u64::from(len) + 1,
            View::Map { arity, .. } => 2 * u64::from(arity),
            View::Fun(f) => u64::from(f.num_free),
            View::Record(r) => 2 * u64::from(r.num_fields),
            _ => 0,
        }
    }

    /// Call `f` with every atom read with this head: the atom itself, or
    /// the atoms inside a pid, port, reference, export or record. (A fun's
    /// module and pid are not in its head: read them with
    /// [`Viewer::fun`].)
    pub fn try_for_each_atom<E>(&self, mut f: impl FnMut(AtomRef<'a>) -> Result<(), E>) -> Result<(), E> {
        match *self {
            View::Atom(a) => f(a),
            View::Pid(p) => f(p.node),
            View::Port(p) => f(p.node),
            View::Ref(r) => f(r.node),
            View::Export { module, function, .. } => f(module).and_then(|()| f(function)),
            View::Record(r) => f(r.module).and_then(|()| f(r.name)),
            _ => Ok(()),
        }
    }

    /// The atom, if this is one.
    pub fn as_atom(&self) -> Option<AtomRef<'a>> {
        match *self {
            View::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is the atom `name` (in any encoding).
    pub fn is_atom(&self, name: &str) -> bool {
        self.as_atom().is_some_and(|a| a.eq_str(name))
    }

    /// Whether this is one of the atoms `names`.
    pub fn is_atom_in(&self, names: &[&str]) -> bool {
        self.as_atom().is_some_and(|a| names.iter().any(|n| a.eq_str(n)))
    }

    /// The integer value, if this is an integer that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            View::Int(i) => Some(i),
            _ => None,
        }
    }

    /// Any integer encoding (small, 32-bit, bignum).
    pub fn is_integer(&self) -> bool {
        matches!(self, View::Int(_) | View::BigInt { .. })
    }

    /// `[]`, `LIST_EXT` (proper or not) or `STRING_EXT`.
    pub fn is_list(&self) -> bool {
        matches!(self, View::Nil | View::List { .. } | View::String(_))
    }

    /// A pid.
    pub fn is_pid(&self) -> bool {
        matches!(self, View::Pid(_))
    }

    /// A fun: a closure or `fun M:F/A`.
    pub fn is_fun(&self) -> bool {
        matches!(self, View::Fun(_) | View::Export { .. })
    }

    /// `(arity, first element)` if this is a tuple.
    pub fn as_tuple(&self) -> Option<(u32, usize)> {
        match *self {
            View::Tuple { arity, first } => Some((arity, first)),
            _ => None,
        }
    }
}

/// Reads terms at positions of one byte slice.
#[derive(Clone, Copy)]
pub struct Viewer<'a> {
    bytes: &'a [u8],
    ctx: ScanContext,
    atoms: &'a dyn AtomResolver,
    /// The bytes are the head of a longer message (its first fragment):
    /// see [`Viewer::first_fragment`].
    cut: bool,
}

impl std::fmt::Debug for Viewer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer").field("len", &self.bytes.len()).field("ctx", &self.ctx).finish()
    }
}

impl<'a> Viewer<'a> {
    /// A viewer of `bytes`, resolving cache references through `atoms`.
    pub fn new(bytes: &'a [u8], ctx: ScanContext, atoms: &'a dyn AtomResolver) -> Self {
        Viewer { bytes, ctx, atoms, cut: false }
    }

    /// A viewer of the first fragment of a longer message, for deciding
    /// from it alone. Viewing a binary, bitstring or string whose bytes
    /// run past the fragment gives its head with the bytes the fragment
    /// has (the rules read only which kind of term it is, never those
    /// bytes), and the position after it is past the fragment, so whatever
    /// follows it reads as `Truncated`. Anything else read past the end is
    /// `Truncated`, as with [`Viewer::new`]: the caller then waits for the
    /// whole message.
    pub fn first_fragment(bytes: &'a [u8], ctx: ScanContext, atoms: &'a dyn AtomResolver) -> Self {
        Viewer { bytes, ctx, atoms, cut: true }
    }

    /// The viewed bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The head of the term at `pos`.
    pub fn view(&self, pos: usize) -> Result<View<'a>, Error> {
        self.view_next(pos).map(|(view, _)| view)
    }

    /// Every field of the closure at `pos` (`MalformedTerm` if there is
    /// none).
    pub fn fun(&self, pos: usize) -> Result<FunView<'a>, Error> {
        read_fun_at(self.bytes, pos, &self.ctx, Some(self.atoms))
    }

    /// The head of the term at `pos` and the position just after that head:
    /// for a term without sub-terms (`sub_terms() == 0`) that is its end.
    pub fn view_next(&self, pos: usize) -> Result<(View<'a>, usize), Error> {
        let mut cur = Cursor::new(self.bytes);
        cur.skip(pos)?;
        match read_view(&mut cur, &self.ctx, Some(self.atoms)) {
            Ok(view) => Ok((view, cur.pos())),
            Err(e) if self.cut && e.kind == ErrorKind::Truncated => self.cut_leaf(pos).ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// A binary, bitstring or string at `pos` whose bytes run past the
    /// end of a first fragment: its view with the bytes there are, and the
    /// position past the end of the fragment. `None` for anything else.
    fn cut_leaf(&self, pos: usize) -> Option<(View<'a>, usize)> {
        let mut cur = Cursor::new(self.bytes);
        cur.skip(pos).ok()?;
        let t = cur.u8().ok()?;
        let view = match t {
            tag::BINARY => {
                cur.u32().ok()?;
                View::Binary(cur.rest())
            }
            tag::BIT_BINARY => {
                let n = cur.u32().ok()?;
                let bits = cur.u8().ok()?;
                // As the full view checks it: 1..=8 bits, or an empty bitstring.
                let ok = if n == 0 { bits == 0 } else { (1..=8).contains(&bits) };
                if !ok {
                    return None;
                }
                View::BitBinary { bytes: cur.rest(), bits }
            }
            tag::STRING => {
                cur.u16().ok()?;
                View::String(cur.rest())
            }
            _ => return None,
        };
        Some((view, self.bytes.len().saturating_add(1)))
    }

    /// The term at the cursor as an [`Element`], the cursor moved past
    /// its head; a cut leaf is an error here (see [`Viewer::element_next`]).
    #[inline(always)]
    pub(crate) fn read_element(&self, cur: &mut Cursor<'a>) -> Result<Element<'a>, Error> {
        read_element(cur, &self.ctx, Some(self.atoms))
    }

    /// Move the cursor past the term at it (a cut leaf is an error here).
    pub(crate) fn skip(&self, cur: &mut Cursor<'a>) -> Result<(), Error> {
        let mut pos = cur.pos();
        skip_term(self.bytes, &mut pos, &self.ctx)?;
        cur.skip(pos - cur.pos())
    }

    /// The term at `pos` as an [`Element`] and where its head ends, as
    /// [`Viewer::view_next`] reads it (a cut leaf of a first fragment included).
    #[inline(always)]
    pub fn element_next(&self, pos: usize) -> Result<(Element<'a>, usize), Error> {
        let mut cur = Cursor::new(self.bytes);
        cur.skip(pos)?;
        match read_element(&mut cur, &self.ctx, Some(self.atoms)) {
            Ok(el) => Ok((el, cur.pos())),
            Err(e) if self.cut && e.kind == ErrorKind::Truncated => {
                self.cut_leaf(pos).map(|(view, end)| (Element::Other(view), end)).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Position just after the term at `pos` (unbounded work: the whole
    /// term is scanned).
    pub fn end_of(&self, pos: usize) -> Result<usize, Error> {
        let mut end = pos;
        skip_term(self.bytes, &mut end, &self.ctx)?;
        Ok(end)
    }

    /// Positions of `count` consecutive terms starting at `first`. For a
    /// list pass `len + 1` to get the tail last; for a map, keys and values
    /// alternate.
    pub fn elements(&self, first: usize, count: u64) -> Elements<'_, 'a> {
        Elements { viewer: self, next: first, prev: None, left: count }
    }

    /// Element positions of the term at `pos` if it is a tuple of exactly
    /// `N` elements (`Ok(None)` for anything else).
    pub fn tuple<const N: usize>(&self, pos: usize) -> Result<Option<[usize; N]>, Error> {
        let Some((arity, first)) = self.tuple_head(pos)? else {
            return Ok(None);
        };
        if usize::try_from(arity).ok() != Some(N) {
            return Ok(None);
        }
        let mut out = [0usize; N];
        for (slot, p) in out.iter_mut().zip(self.elements(first, N as u64)) {
            *slot = p?;
        }
        Ok(Some(out))
    }

    /// Whether the term at `pos` is the atom `name`.
    pub fn is_atom(&self, pos: usize, name: &str) -> Result<bool, Error> {
        Ok(self.atom(pos)?.is_some_and(|a| a.eq_str(name)))
    }

    /// The tuple at `pos` as its arity and first element's position, or
    /// `None` for any other term (checked as [`Viewer::view`] checks it).
    pub fn tuple_head(&self, pos: usize) -> Result<Option<(u32, usize)>, Error> {
        let mut cur = Cursor::new(self.bytes);
        cur.skip(pos)?;
        match read_tuple_head(&mut cur)? {
            Some(head) => Ok(Some(head)),
            None => Ok(self.view(pos)?.as_tuple()),
        }
    }

    /// The atom at `pos`, or `None` for any other term (checked as
    /// [`Viewer::view`] checks it).
    pub fn atom(&self, pos: usize) -> Result<Option<AtomRef<'a>>, Error> {
        let el = self.element_next(pos)?.0;
        Ok(el.atom().or_else(|| el.other()?.as_atom()))
    }
}

/// Iterator over term positions (see [`Viewer::elements`]). Stops after
/// the first error.
#[derive(Debug)]
pub struct Elements<'v, 'a> {
    viewer: &'v Viewer<'a>,
    next: usize,
    prev: Option<usize>,
    left: u64,
}

impl Iterator for Elements<'_, '_> {
    type Item = Result<usize, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // Skip the previous element only now, so taking just the first
        // element costs nothing.
        if let Some(prev) = self.prev.take() {
            match self.viewer.end_of(prev) {
                Ok(p) => self.next = p,
                Err(e) => {
                    self.left = 0;
                    return Some(Err(e));
                }
            }
        }
        self.left -= 1;
        self.prev = Some(self.next);
        Some(Ok(self.next))
    }
}
