//! What a term reader needs to know besides the bytes: how many atom-cache
//! references the frame header declared, the limits to apply, and (for the
//! view and the decoder) where cache references resolve to.

use crate::atom::Atom;

/// Default nesting limit of the owned decoder (see [`ScanContext::max_depth`]).
pub const DEFAULT_MAX_DEPTH: u32 = 1024;

/// Default atom length limit in bytes: 255 characters of up to 4 bytes.
pub const DEFAULT_MAX_ATOM_BYTES: usize = 1020;

/// Rules for reading one term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanContext {
    /// Number of entries in the frame header's atom reference table: an
    /// `ATOM_CACHE_REF` must have an index below it. 0 (external encoding,
    /// or a header without atoms) means no cache reference is allowed.
    pub atom_refs: u8,
    /// Longest atom text accepted, in bytes on the wire
    /// (`ErrorKind::LimitAtomBytes` beyond it).
    pub max_atom_bytes: usize,
    /// Deepest nesting the owned decoder builds (`ErrorKind::TooDeep`
    /// beyond it). The decoder itself uses an explicit stack; the limit
    /// exists because dropping, comparing or printing a `Term` recurses.
    /// The scanner and the view ignore it: they never nest.
    pub max_depth: u32,
    /// The bytes are one piece of the term and more follow (a fragment
    /// before the last): a count or length reaching past their end is not
    /// an error yet, and a read past it (`ErrorKind::Truncated`) means
    /// "wait for the next piece" (see [`StreamScan`](super::StreamScan)).
    pub more_follows: bool,
}

impl Default for ScanContext {
    fn default() -> Self {
        ScanContext::external()
    }
}

impl ScanContext {
    /// External encoding: no cache references, default limits.
    pub fn external() -> Self {
        ScanContext {
            atom_refs: 0,
            max_atom_bytes: DEFAULT_MAX_ATOM_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            more_follows: false,
        }
    }

    /// Internal encoding after a header that declared `atom_refs` references.
    pub fn internal(atom_refs: u8) -> Self {
        ScanContext { atom_refs, ..ScanContext::external() }
    }

    /// Internal encoding after a header table of `refs` entries (a header
    /// holds at most 255).
    pub fn after_table(refs: usize) -> Self {
        ScanContext::internal(u8::try_from(refs).unwrap_or(u8::MAX))
    }
}

/// Maps an `ATOM_CACHE_REF` index (position in the frame header's reference
/// table) to its atom.
pub trait AtomResolver {
    /// The atom at `index`, or `None` if the table has no such entry.
    fn resolve(&self, index: u8) -> Option<&Atom>;
}

/// A resolver with no atoms (external encoding).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAtoms;

impl AtomResolver for NoAtoms {
    fn resolve(&self, _index: u8) -> Option<&Atom> {
        None
    }
}

/// A table indexed by reference number.
impl AtomResolver for [Atom] {
    fn resolve(&self, index: u8) -> Option<&Atom> {
        self.get(usize::from(index))
    }
}

impl AtomResolver for Vec<Atom> {
    fn resolve(&self, index: u8) -> Option<&Atom> {
        self.as_slice().resolve(index)
    }
}

impl<T: AtomResolver + ?Sized> AtomResolver for &T {
    fn resolve(&self, index: u8) -> Option<&Atom> {
        (**self).resolve(index)
    }
}
