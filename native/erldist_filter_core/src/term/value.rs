//! Owned terms, as the decoder builds them and the test encoder writes them.
//!
//! The representation keeps what matters for logging and for re-encoding,
//! not every wire detail: atoms are UTF-8 whatever their encoding, integers
//! that fit `i64` are `Int` whatever their encoding, old pid/port/reference
//! encodings become the new ones. Cache references stay visible
//! (`CacheRef`) in term positions so they can be re-encoded as such.

use crate::atom::Atom;

/// An Erlang term.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// An inline atom.
    Atom(Atom),
    /// An `ATOM_CACHE_REF`, with the atom it resolved to.
    CacheRef {
        /// Index in the frame header's reference table.
        index: u8,
        /// The atom there.
        atom: Atom,
    },
    /// Any integer that fits `i64`.
    Int(i64),
    /// An integer beyond `i64` (or a bignum as the encoder was asked to
    /// write it).
    BigInt {
        /// Sign.
        negative: bool,
        /// Little-endian magnitude bytes.
        magnitude: Vec<u8>,
    },
    /// A finite float.
    Float(f64),
    /// A tuple.
    Tuple(Vec<Term>),
    /// `LIST_EXT`: elements, then the tail (`Nil` for a proper list).
    List(Vec<Term>, Box<Term>),
    /// `[]`.
    Nil,
    /// `STRING_EXT`: a proper list of bytes.
    String(Vec<u8>),
    /// A binary.
    Binary(Vec<u8>),
    /// A bitstring: bytes and the bits used in the last byte (1..=8; 0
    /// only when empty).
    BitBinary(Vec<u8>, u8),
    /// A map, pairs in wire order.
    Map(Vec<(Term, Term)>),
    /// A pid.
    Pid(Pid),
    /// A port.
    Port(Port),
    /// A reference.
    Ref(Ref),
    /// A closure.
    Fun(Box<Fun>),
    /// `fun M:F/A`.
    Export {
        /// Module.
        module: Atom,
        /// Function.
        function: Atom,
        /// Arity.
        arity: u8,
    },
    /// A native record.
    Record(Box<Record>),
}

/// A process identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pid {
    /// Node name.
    pub node: Atom,
    /// Process id.
    pub id: u32,
    /// Serial.
    pub serial: u32,
    /// Node incarnation.
    pub creation: u32,
}

/// A port identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Node name.
    pub node: Atom,
    /// Port id.
    pub id: u64,
    /// Node incarnation.
    pub creation: u32,
}

/// A reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// Node name.
    pub node: Atom,
    /// Node incarnation.
    pub creation: u32,
    /// Ids (at most 5).
    pub ids: Vec<u32>,
}

/// A closure (`NEW_FUN_EXT`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fun {
    /// Arity.
    pub arity: u8,
    /// MD5 of the module's code.
    pub uniq: [u8; 16],
    /// Index in the module's fun table.
    pub index: u32,
    /// Defining module.
    pub module: Atom,
    /// Old-style index.
    pub old_index: i32,
    /// Old-style uniq.
    pub old_uniq: i32,
    /// Creating process.
    pub pid: Pid,
    /// Free variables (at most 255).
    pub free: Vec<Term>,
}

/// A native record (`RECORD_EXT`).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Whether it is exported.
    pub exported: bool,
    /// Defining module.
    pub module: Atom,
    /// Record name.
    pub name: Atom,
    /// Field names and values, in order.
    pub fields: Vec<(Atom, Term)>,
}

impl Term {
    /// The atom, whether inline or a cache reference.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Term::Atom(a) | Term::CacheRef { atom: a, .. } => Some(a),
            _ => None,
        }
    }

    /// An inline atom from UTF-8 text (test convenience; `None` if invalid).
    pub fn atom(text: &str) -> Option<Term> {
        Atom::from_utf8(text.as_bytes()).ok().map(Term::Atom)
    }
}
