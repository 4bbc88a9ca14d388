//! Tag bytes of the external term format (OTP `erl_ext_dist.html`), plus
//! `RECORD_EXT`, which OTP 29 added and we decode for API parity.

/// `NEW_FLOAT_EXT`: IEEE 754 double, big-endian.
pub const NEW_FLOAT: u8 = 70;
/// `BIT_BINARY_EXT`: length, bits used in the last byte, bytes.
pub const BIT_BINARY: u8 = 77;
/// `COMPRESSED` (zlib): never on the distribution wire; rejected.
pub const COMPRESSED: u8 = 80;
/// `ATOM_CACHE_REF`: index into the frame header's atom reference table.
pub const ATOM_CACHE_REF: u8 = 82;
/// `NEW_PID_EXT`: node, id, serial, 32-bit creation.
pub const NEW_PID: u8 = 88;
/// `NEW_PORT_EXT`: node, 32-bit id, 32-bit creation.
pub const NEW_PORT: u8 = 89;
/// `NEWER_REFERENCE_EXT`: count, node, 32-bit creation, ids.
pub const NEWER_REFERENCE: u8 = 90;
/// `SMALL_INTEGER_EXT`: unsigned byte.
pub const SMALL_INTEGER: u8 = 97;
/// `INTEGER_EXT`: signed 32-bit.
pub const INTEGER: u8 = 98;
/// `FLOAT_EXT`: 31-byte `%.20e` string (old encoding).
pub const FLOAT: u8 = 99;
/// `ATOM_EXT`: 2-byte length, Latin-1 text.
pub const ATOM: u8 = 100;
/// `REFERENCE_EXT`: node, one id, 8-bit creation (old encoding).
pub const REFERENCE: u8 = 101;
/// `PORT_EXT`: node, 32-bit id, 8-bit creation (old encoding).
pub const PORT: u8 = 102;
/// `PID_EXT`: node, id, serial, 8-bit creation (old encoding).
pub const PID: u8 = 103;
/// `SMALL_TUPLE_EXT`: 1-byte arity.
pub const SMALL_TUPLE: u8 = 104;
/// `LARGE_TUPLE_EXT`: 4-byte arity.
pub const LARGE_TUPLE: u8 = 105;
/// `NIL_EXT`: the empty list.
pub const NIL: u8 = 106;
/// `STRING_EXT`: 2-byte length, bytes (a list of small integers).
pub const STRING: u8 = 107;
/// `LIST_EXT`: 4-byte length, elements, tail.
pub const LIST: u8 = 108;
/// `BINARY_EXT`: 4-byte length, bytes.
pub const BINARY: u8 = 109;
/// `SMALL_BIG_EXT`: 1-byte length, sign, little-endian magnitude.
pub const SMALL_BIG: u8 = 110;
/// `LARGE_BIG_EXT`: 4-byte length, sign, little-endian magnitude.
pub const LARGE_BIG: u8 = 111;
/// `NEW_FUN_EXT`: a closure.
pub const NEW_FUN: u8 = 112;
/// `EXPORT_EXT`: `fun M:F/A`.
pub const EXPORT: u8 = 113;
/// `NEW_REFERENCE_EXT`: count, node, 8-bit creation, ids.
pub const NEW_REFERENCE: u8 = 114;
/// `SMALL_ATOM_EXT`: 1-byte length, Latin-1 text.
pub const SMALL_ATOM: u8 = 115;
/// `MAP_EXT`: 4-byte arity, key/value pairs.
pub const MAP: u8 = 116;
/// Old `FUN_EXT`: not produced since OTP R16; rejected.
pub const OLD_FUN: u8 = 117;
/// `ATOM_UTF8_EXT`: 2-byte length, UTF-8 text.
pub const ATOM_UTF8: u8 = 118;
/// `SMALL_ATOM_UTF8_EXT`: 1-byte length, UTF-8 text.
pub const SMALL_ATOM_UTF8: u8 = 119;
/// `V4_PORT_EXT`: node, 64-bit id, 32-bit creation.
pub const V4_PORT: u8 = 120;
/// `LOCAL_EXT`: node-local encoding, never valid from a peer; rejected.
pub const LOCAL: u8 = 121;
/// `RECORD_EXT` ('C'): a native record (OTP 29). Layout used here:
/// `67, NumFields:u32, Exported:u8 (0|1), Module:atom, Name:atom,
/// FieldName:atom × NumFields, Value:term × NumFields`.
pub const RECORD: u8 = 67;
