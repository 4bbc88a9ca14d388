//! Atom text as the core sees it: UTF-8 bytes (Latin-1 input is converted
//! when read), compared by value.

use smallvec::SmallVec;

use crate::error::{Error, ErrorKind};

/// Longest atom OTP accepts, in characters.
pub const MAX_ATOM_CHARS: usize = 255;

/// An atom's text in UTF-8. Short atoms (almost all) live inline.
#[derive(Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(SmallVec<[u8; 23]>);

// SmallVec's own Clone copies element by element; atoms are cloned into
// every message's reference table, so copy the bytes at once.
impl Clone for Atom {
    #[inline]
    fn clone(&self) -> Self {
        Atom(SmallVec::from_slice(&self.0))
    }
}

impl Atom {
    /// An atom from UTF-8 text, checked for validity and OTP's 255-character bound.
    pub fn from_utf8(text: &[u8]) -> Result<Atom, ErrorKind> {
        let s = std::str::from_utf8(text).map_err(|_| ErrorKind::AtomInvalidUtf8)?;
        if s.chars().count() > MAX_ATOM_CHARS {
            return Err(ErrorKind::AtomTooLong);
        }
        Ok(Atom(SmallVec::from_slice(text)))
    }

    /// An atom from Latin-1 text (each byte one character).
    pub fn from_latin1(text: &[u8]) -> Result<Atom, ErrorKind> {
        if text.len() > MAX_ATOM_CHARS {
            return Err(ErrorKind::AtomTooLong);
        }
        if text.is_ascii() {
            return Ok(Atom(SmallVec::from_slice(text)));
        }
        let mut out = SmallVec::with_capacity(text.len() * 2);
        for &b in text {
            let mut buf = [0u8; 4];
            out.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
        }
        Ok(Atom(out))
    }

    /// Decode atom text as the wire says it is encoded.
    pub fn decode(text: &[u8], utf8: bool, offset: usize) -> Result<Atom, Error> {
        let r = if utf8 { Atom::from_utf8(text) } else { Atom::from_latin1(text) };
        r.map_err(|k| Error::new(k, offset))
    }

    /// The UTF-8 text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text as `&str` (always valid: checked on construction).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
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
