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
//!   read through [`cursor::Cursor`].
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

pub mod atom;
pub mod atom_cache;
pub mod atom_guard;
pub mod blocklist;
pub mod budget;
pub mod channel;
pub mod classify;
pub mod config;
pub mod control;
pub mod cursor;
pub mod dop;
pub mod error;
pub mod flags;
pub mod fragments;
pub mod frame;
pub mod framing;
pub mod header;
pub mod held;
pub mod inspect;
pub mod limits;
pub mod protected;
pub mod rate;
pub mod rewrite;
pub mod stats;
pub mod term;

pub use atom::Atom;
pub use budget::Budget;
pub use channel::{Actions, Channel, ChannelOptions, Emit, RecvContext};
pub use config::Config;
pub use dop::Dop;
pub use error::{Error, ErrorKind};
pub use framing::PacketSize;
pub use held::Fragment;
pub use limits::Limits;
pub use protected::Protected;
pub use stats::{ChannelStats, StatsSnapshot};
