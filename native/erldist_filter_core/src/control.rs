//! The head of a control message: the tuple arity and the operation number,
//! checked against the arities OTP defines for that operation.

use crate::cursor::Cursor;
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::header::VERSION_MAGIC;

const SMALL_TUPLE_EXT: u8 = 104;
const LARGE_TUPLE_EXT: u8 = 105;
const SMALL_INTEGER_EXT: u8 = 97;
const INTEGER_EXT: u8 = 98;

/// The operation of a control message and its tuple arity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlHead {
    /// The operation.
    pub dop: Dop,
    /// Elements in the control tuple (operation included).
    pub arity: u32,
}

/// Read the head of a control message in internal encoding (after a 'D'/'E'
/// header). Leaves `cur` at the tuple's second element.
pub fn read_head(cur: &mut Cursor<'_>) -> Result<ControlHead, Error> {
    let at = cur.pos();
    let arity = match cur.u8()? {
        SMALL_TUPLE_EXT => u32::from(cur.u8()?),
        LARGE_TUPLE_EXT => cur.u32()?,
        _ => return Err(Error::new(ErrorKind::MalformedControl, at)),
    };
    if arity == 0 {
        return Err(Error::new(ErrorKind::MalformedControl, at));
    }
    let code_at = cur.pos();
    let code = match cur.u8()? {
        SMALL_INTEGER_EXT => i64::from(cur.u8()?),
        INTEGER_EXT => i64::from(cur.i32()?),
        _ => return Err(Error::new(ErrorKind::MalformedControl, code_at)),
    };
    let dop = Dop::from_code(code).ok_or(Error::new(ErrorKind::UnknownDop, code_at))?;
    if !dop.info().arities.contains(&arity) {
        return Err(Error::new(ErrorKind::WrongControlArity, at));
    }
    Ok(ControlHead { dop, arity })
}

/// Read the head of a control message in external encoding (pass-through
/// frames: its own 131 first).
pub fn read_external_head(cur: &mut Cursor<'_>) -> Result<ControlHead, Error> {
    let at = cur.pos();
    if cur.u8()? != VERSION_MAGIC {
        return Err(Error::new(ErrorKind::BadMagic, at));
    }
    read_head(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(b: &[u8]) -> Result<ControlHead, ErrorKind> {
        read_head(&mut Cursor::new(b)).map_err(|e| e.kind)
    }

    #[test]
    fn reads_small_and_large_forms_and_checks_arity() {
        assert_eq!(head(&[104, 4, 97, 6]), Ok(ControlHead { dop: Dop::RegSend, arity: 4 }));
        assert_eq!(head(&[105, 0, 0, 0, 3, 98, 0, 0, 0, 22]).map(|h| h.dop), Ok(Dop::SendSender));
        assert_eq!(head(&[104, 3, 97, 6]), Err(ErrorKind::WrongControlArity));
        assert_eq!(head(&[104, 4, 97, 5]), Err(ErrorKind::UnknownDop));
        assert_eq!(head(&[104, 0]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[106]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[104, 4, 100]), Err(ErrorKind::MalformedControl));
        assert_eq!(head(&[104, 4, 97]), Err(ErrorKind::Truncated));
        assert_eq!(head(&[104, 5, 97, 37]).map(|h| h.dop), Ok(Dop::AltactSigSend));
    }
}
