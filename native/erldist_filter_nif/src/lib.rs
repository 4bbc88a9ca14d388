//! rustler binding of erldist_filter: resources, term conversion and
//! scheduling over `erldist_filter_core`. The core parses bytes; this crate
//! never does. One file per domain (DESIGN.md, model 10):
//!
//! - `channel`: the channel resource, its global table and the `channel_*` NIFs
//! - `emit`: the core's emitted frames as `{emit, Binary}` actions
//! - `config`: the global switches (`config_*`) and limits (`limits_*`)
//! - `stats`: world statistics (`world_stats_get/0`) and stats maps
//! - `misc`: flags, version, router names
//! - `logger`: the global logger queue and the `logger_*` NIFs
//! - `decode`: the decoding helpers (`dist_*_to_term/vterm/vdist`)
//! - `error`: core errors as Erlang terms
//! - `protected`: the node's protected processes (`protected_*`)
//! - `atom_guard`: atom existence and per-node new-atom tallies
//! - `atoms`: the atoms used above
//!
//! Error conventions (documented in `erldist_filter_nif.erl` too): wrong
//! argument types or values raise plain `badarg`; `{error, closed}` and
//! `{error, not_owner}` are returned; a protocol error raises
//! `error({erldist_filter, Kind, #{offset, limit, message}})` and closes the
//! channel.

mod atom_guard;
mod atoms;
mod channel;
mod config;
mod decode;
mod emit;
mod error;
mod logger;
mod misc;
mod protected;
mod stats;

fn load(env: rustler::Env, info: rustler::Term) -> bool {
    misc::on_load(env, info);
    true
}

rustler::init!("erldist_filter_nif", load = load);
