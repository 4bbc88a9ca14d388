//! The external term format, three ways over the same bytes:
//!
//! - [`Scanner`] / [`skip_term`]: skip one term without allocating or
//!   recursing, in budgeted slices, noting funs and exports ([`TermFlags`]).
//! - [`Viewer`] / [`View`]: a shallow look at the term at a position, for
//!   classification rules and control-message fields (atoms compare by
//!   text in any encoding, cache references included).
//! - [`decode()`] to an owned [`Term`] (explicit stack, depth-limited), and
//!   [`encode()`] back, for logging, the vterm API and tests.
//! - [`StreamScan`]: the scanner fed piece by piece (a fragmented
//!   message's payload as its fragments arrive).
//!
//! All three accept exactly what OTP 25 can send, plus `RECORD_EXT` (see
//! [`tag::RECORD`] for the layout used); `COMPRESSED`, `LOCAL_EXT` and the
//! old `FUN_EXT` are `ErrorKind::UnsupportedTag`. Input is internal
//! encoding (no 131 version byte); [`ScanContext`] says how many atom-cache
//! references the frame header declared.

#![deny(clippy::indexing_slicing)]

mod atom_ref;
mod context;
mod decode;
mod encode;
mod head;
mod scan;
mod stream;
pub mod tag;
mod value;
mod view;

pub use atom_ref::AtomRef;
pub use context::{AtomResolver, NoAtoms, ScanContext, DEFAULT_MAX_ATOM_BYTES, DEFAULT_MAX_DEPTH};
pub use decode::decode;
pub use encode::{encode, encode_with, AtomEncoding, EncodeOptions};
pub use head::Element;
pub use scan::{skip_term, Scan, Scanner, TermFlags};
pub use stream::StreamScan;
pub use value::{Fun, Pid, Port, Record, Ref, Term};
pub use view::{Elements, FunHead, FunView, PidView, PortView, RecordView, RefView, View, Viewer};
