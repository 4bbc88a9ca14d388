//! A borrowed atom: its text as it sits in the frame (Latin-1 or UTF-8), or
//! the resolved text of an atom-cache reference. Compared by character, so
//! every encoding of the same atom is equal.

use crate::atom::Atom;
use crate::error::ErrorKind;

/// An atom inside a term, not copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtomRef<'a> {
    /// The text bytes, encoded as `utf8` says. Empty for a cache reference
    /// read without a resolver (the length scanner never resolves).
    pub text: &'a [u8],
    /// UTF-8 (`*_UTF8_EXT` tags, resolved cache refs) or Latin-1.
    pub utf8: bool,
    /// The `ATOM_CACHE_REF` index if the atom was a cache reference.
    pub cache_index: Option<u8>,
}

impl<'a> AtomRef<'a> {
    /// An inline atom.
    pub fn inline(text: &'a [u8], utf8: bool) -> Self {
        AtomRef { text, utf8, cache_index: None }
    }

    /// Whether this atom's text equals `name` (compared as characters).
    pub fn eq_str(&self, name: &str) -> bool {
        self.eq_utf8(name.as_bytes())
    }

    /// Whether this atom's text equals the UTF-8 bytes `utf8` (compared
    /// as characters, byte by byte: no conversion, no allocation; bytes
    /// that are not valid UTF-8 equal no Latin-1 atom).
    pub fn eq_utf8(&self, utf8: &[u8]) -> bool {
        if self.utf8 {
            self.text == utf8
        } else {
            latin1_eq_utf8(self.text, utf8)
        }
    }

    /// An owned copy (UTF-8).
    pub fn to_atom(&self) -> Result<Atom, ErrorKind> {
        if self.utf8 {
            Atom::from_utf8(self.text)
        } else {
            Atom::from_latin1(self.text)
        }
    }
}

/// Compare Latin-1 text with UTF-8 text without allocating: a byte below
/// 0x80 is itself in UTF-8, any other Latin-1 byte is two UTF-8 bytes.
fn latin1_eq_utf8(latin1: &[u8], utf8: &[u8]) -> bool {
    let mut rest = utf8;
    for &b in latin1 {
        let mut buf = [0u8; 2];
        let enc: &[u8] = char::from(b).encode_utf8(&mut buf).as_bytes();
        match rest.strip_prefix(enc) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_utf8_compare_by_character() {
        assert!(AtomRef::inline(b"abc", false).eq_str("abc"));
        assert!(AtomRef::inline(b"abc", true).eq_str("abc"));
        assert!(AtomRef::inline(&[b'h', 0xE9], false).eq_str("hé"));
        assert!(!AtomRef::inline(&[b'h', 0xE9], true).eq_str("hé"));
        assert!(!AtomRef::inline(b"ab", false).eq_str("abc"));
        assert!(!AtomRef::inline(b"abcd", false).eq_str("abc"));
        assert!(!AtomRef::inline(&[0xE9], false).eq_str("\u{e8}"));
        assert!(AtomRef::inline(b"", false).eq_str(""));
    }

    #[test]
    fn eq_utf8_compares_bytes_by_character() {
        assert!(AtomRef::inline(&[b'h', 0xE9], false).eq_utf8("hé".as_bytes()));
        assert!(AtomRef::inline("hé".as_bytes(), true).eq_utf8("hé".as_bytes()));
        assert!(!AtomRef::inline(&[b'h', 0xE9], false).eq_utf8(&[b'h', 0xE9]), "not UTF-8");
        assert!(!AtomRef::inline(b"h", false).eq_utf8("hé".as_bytes()));
    }

    #[test]
    fn to_atom_converts_latin1() {
        let a = AtomRef::inline(&[b'h', 0xE9], false).to_atom();
        assert_eq!(a.map(|a| a.as_str().to_owned()), Ok("hé".to_owned()));
    }
}
