//! # erldist_filter_core
//!
//! The protocol half of erldist_filter: a sans-IO decoder, classifier and
//! rewriter for the *inbound* side of one Erlang distribution connection.
//!
//! Contract (what makes it safe to run inside the BEAM):
//! - **No IO, no clock, no globals.** Bytes come in as borrowed slices,
//!   configuration and limits as arguments; outputs are returned.
//! - **Bounded memory.** Nothing is allocated from a declared length before
//!   it is checked against [`Limits`]; held bytes never exceed them.
//! - **Bounded work.** [`Channel::recv`] stops when its [`Budget`] is spent
//!   and reports how much input it consumed; the caller resumes with the rest.
//! - **No panics from input.** Every decoder returns [`Error`]; slices are
//!   read through a checked cursor.
//!
//! Call order on a [`Channel`]: `new`, then `recv` any number of times, each
//! with a [`RecvContext`] carrying the config, limits, time and atom oracle
//! (each call returns the emitted frames for the packets it completed; while
//! `has_pending` says frames are still owed, `flush` emits them), reading
//! `stats()` and the inspection getters at any time. After `recv` returns an
//! error the channel is poisoned: drop it (the connection must close).

#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Every module reads or writes wire bytes: no slice indexing that could
// panic on input, no silent truncation of a length (a peer picks its own
// node name; `len as u8` once wrote a malformed atom). Unit tests may index.
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::cast_possible_truncation))]

// The public API: the channel and what it is opened, fed and read with,
// plus the wire vocabulary the NIF decodes with (control, dop, flags,
// term) and the blocklist it lists. Everything else is the channel's
// inside; the fuzz targets reach some of it through `fuzzing`.
pub mod blocklist;
pub mod control;
pub mod dop;
pub mod flags;
pub mod term;

pub(crate) mod atom;
pub(crate) mod atom_cache;
pub(crate) mod atom_guard;
pub(crate) mod budget;
pub(crate) mod channel;
pub(crate) mod classify;
pub(crate) mod config;
pub(crate) mod cursor;
pub(crate) mod error;
pub(crate) mod fragments;
pub(crate) mod frame;
pub(crate) mod framing;
pub(crate) mod header;
pub(crate) mod held;
pub(crate) mod inspect;
pub(crate) mod limits;
pub(crate) mod protected;
pub(crate) mod rate;
pub(crate) mod rewrite;
pub(crate) mod stats;

pub use atom::Atom;
pub use atom_guard::{AtomExistence, NewAtomTally};
pub use budget::Budget;
pub use channel::{Actions, Channel, ChannelOptions, Emit, RecvContext};
pub use config::Config;
pub use dop::Dop;
pub use error::{Error, ErrorKind};
pub use framing::PacketSize;
pub use held::Fragment;
pub use inspect::{LogEvent, Peer};
pub use limits::Limits;
pub use protected::Protected;
pub use rate::Policy;
pub use stats::{ChannelStats, StatsSnapshot};

/// Internals the fuzz targets drive on their own (cargo feature
/// `fuzzing`): frame headers and the atom cache, below the channel. Not an
/// API: it changes with the core.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::atom_cache::AtomCache;
    pub use crate::cursor::Cursor;
    pub use crate::header::{read_atom_table, read_frame_kind, AtomTable, FrameKind};
}
