//! Atom text as the core sees it: UTF-8 bytes (Latin-1 input is converted
//! when read), compared by value.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::error::{Error, ErrorKind};

/// Longest atom OTP accepts, in characters.
pub const MAX_ATOM_CHARS: usize = 255;

/// Bytes of text an atom holds without allocating.
const INLINE: usize = 23;

/// An atom's text in UTF-8. Short atoms (almost all) live inline, so that
/// copying one (into every message's reference table) is a plain copy of
/// three words.
#[derive(Clone)]
pub struct Atom(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Inline),
    Heap(Box<[u8]>),
}

/// Inline text, aligned so that a copy moves whole words (an odd layout
/// made every copy a store-to-load forwarding stall).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Inline {
    bytes: [u8; INLINE],
    len: u8,
}

impl Default for Atom {
    fn default() -> Self {
        Atom(Repr::Inline(Inline { bytes: [0; INLINE], len: 0 }))
    }
}

impl PartialEq for Atom {
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Atom {}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Atom) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Atom) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Atom {
    /// Text already checked.
    fn from_checked(text: &[u8]) -> Atom {
        let mut bytes = [0; INLINE];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(text);
                Atom(Repr::Inline(Inline { bytes, len }))
            }
            _ => Atom(Repr::Heap(text.into())),
        }
    }

    /// An atom from UTF-8 text, checked for validity and OTP's 255-character bound.
    pub fn from_utf8(text: &[u8]) -> Result<Atom, ErrorKind> {
        let s = std::str::from_utf8(text).map_err(|_| ErrorKind::AtomInvalidUtf8)?;
        if s.chars().count() > MAX_ATOM_CHARS {
            return Err(ErrorKind::AtomTooLong);
        }
        Ok(Atom::from_checked(text))
    }

    /// An atom from Latin-1 text (each byte one character).
    pub fn from_latin1(text: &[u8]) -> Result<Atom, ErrorKind> {
        if text.len() > MAX_ATOM_CHARS {
            return Err(ErrorKind::AtomTooLong);
        }
        if text.is_ascii() {
            return Ok(Atom::from_checked(text));
        }
        let mut out = Vec::with_capacity(text.len() * 2);
        for &b in text {
            let mut buf = [0u8; 4];
            out.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
        }
        Ok(Atom::from_checked(&out))
    }

    /// Decode atom text as the wire says it is encoded.
    pub fn decode(text: &[u8], utf8: bool, offset: usize) -> Result<Atom, Error> {
        let r = if utf8 { Atom::from_utf8(text) } else { Atom::from_latin1(text) };
        r.map_err(|k| Error::new(k, offset))
    }

    /// The UTF-8 text.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(i) => i.bytes.get(..usize::from(i.len)).unwrap_or(&[]),
            Repr::Heap(b) => b,
        }
    }

    /// The text as `&str` (always valid: checked on construction).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Whether every character fits Latin-1 (then OTP may encode it as such).
    pub fn is_latin1(&self) -> bool {
        self.as_str().chars().all(|c| (c as u32) < 256)
    }
}

impl std::fmt::Debug for Atom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}'", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_atoms_hold_and_compare_their_text() {
        let texts: Vec<Vec<u8>> = [0, 1, INLINE - 1, INLINE, INLINE + 1, 255].iter().map(|&n| vec![b'a'; n]).collect();
        let atoms: Vec<Atom> = texts.iter().map(|t| Atom::from_utf8(t).unwrap()).collect();
        for (t, a) in texts.iter().zip(&atoms) {
            assert_eq!(a.as_bytes(), &t[..]);
            assert_eq!(a.clone(), *a);
        }
        let mut sorted = atoms.clone();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, atoms, "ordered by text, whatever the storage");
        assert_eq!(Atom::default().as_bytes(), b"");
        assert_eq!(Atom::from_latin1(&[0xE9; 20]).unwrap().as_str(), "\u{e9}".repeat(20));
    }
}
