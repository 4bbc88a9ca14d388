//! Core errors as Erlang terms. A protocol error is raised (class `error`)
//! as `{erldist_filter, Kind, #{offset => N, limit => boolean(), message =>
//! binary()}}`, where `Kind` is `ErrorKind::name()` (e.g. `frame_too_short`,
//! `max_packet_len`). Internal failures use the same shape with kind
//! `internal_panic`, `internal_no_progress` or `internal_bad_emit`.

use erldist_filter_core::Error as CoreError;
use rustler::{Encoder, Env, Term};

use crate::atoms;

/// What went wrong inside `channel_recv`.
pub enum RecvFailure {
    /// The input broke a protocol rule or a limit.
    Core(CoreError),
    /// The core panicked (a bug): the channel is closed, the VM is fine.
    Panic,
    /// The core consumed nothing although budget remained (a bug).
    NoProgress,
    /// The core emitted a range outside its input (a bug).
    BadEmit,
}

impl Encoder for RecvFailure {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        let (kind, offset, limit, message): (&str, u64, bool, String) = match self {
            RecvFailure::Core(e) => (e.kind.name(), e.offset as u64, e.kind.is_limit(), e.to_string()),
            RecvFailure::Panic => ("internal_panic", 0, false, "the filter core panicked".to_owned()),
            RecvFailure::NoProgress => {
                ("internal_no_progress", 0, false, "the filter core made no progress".to_owned())
            }
            RecvFailure::BadEmit => {
                ("internal_bad_emit", 0, false, "the filter core emitted a range outside its input".to_owned())
            }
        };
        let kind = crate::atoms::make_atom(env, kind).unwrap_or_else(|_| atoms::error().to_term(env));
        let details = Term::map_from_pairs(
            env,
            &[
                (atoms::offset().encode(env), offset.encode(env)),
                (atoms::limit().encode(env), limit.encode(env)),
                (atoms::message().encode(env), message.as_str().encode(env)),
            ],
        )
        .unwrap_or_else(|_| Term::map_new(env));
        (atoms::erldist_filter(), kind, details).encode(env)
    }
}

/// The exception for a failed `channel_recv`.
pub fn raise(f: RecvFailure) -> rustler::Error {
    rustler::Error::RaiseTerm(Box::new(f))
}
