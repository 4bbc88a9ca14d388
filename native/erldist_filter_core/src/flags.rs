//! Distribution capability flags (`DFLAG_*`) as OTP 25 defines them, plus the
//! composites the channel checks against.

#![allow(missing_docs)]

pub const PUBLISHED: u64 = 0x1;
pub const ATOM_CACHE: u64 = 0x2;
pub const EXTENDED_REFERENCES: u64 = 0x4;
pub const DIST_MONITOR: u64 = 0x8;
pub const FUN_TAGS: u64 = 0x10;
pub const DIST_MONITOR_NAME: u64 = 0x20;
pub const HIDDEN_ATOM_CACHE: u64 = 0x40;
pub const NEW_FUN_TAGS: u64 = 0x80;
pub const EXTENDED_PIDS_PORTS: u64 = 0x100;
pub const EXPORT_PTR_TAG: u64 = 0x200;
pub const BIT_BINARIES: u64 = 0x400;
pub const NEW_FLOATS: u64 = 0x800;
pub const UNICODE_IO: u64 = 0x1000;
pub const DIST_HDR_ATOM_CACHE: u64 = 0x2000;
pub const SMALL_ATOM_TAGS: u64 = 0x4000;
pub const ETS_COMPRESSED: u64 = 0x8000;
pub const UTF8_ATOMS: u64 = 0x10000;
pub const MAP_TAG: u64 = 0x20000;
pub const BIG_CREATION: u64 = 0x40000;
pub const SEND_SENDER: u64 = 0x80000;
pub const BIG_SEQTRACE_LABELS: u64 = 0x100000;
pub const PENDING_CONNECT: u64 = 0x200000;
pub const EXIT_PAYLOAD: u64 = 0x400000;
pub const FRAGMENTS: u64 = 0x800000;
pub const HANDSHAKE_23: u64 = 0x1000000;
pub const UNLINK_ID: u64 = 0x2000000;
pub const MANDATORY_25_DIGEST: u64 = 0x4000000;
pub const RESERVED: u64 = 0xf800_0000;
pub const SPAWN: u64 = 1 << 32;
pub const NAME_ME: u64 = 1 << 33;
pub const V4_NC: u64 = 1 << 34;
pub const ALIAS: u64 = 1 << 35;
pub const LOCAL_EXT: u64 = 1 << 36;
pub const ALTACT_SIG: u64 = 1 << 37;
pub const NATIVE_RECORDS: u64 = 1 << 38;

/// What OTP 25 requires of every peer (`erts_internal:get_dflags()`).
pub const DIST_MANDATORY: u64 = 0x1070F94;
/// OTP 25's default advertised set.
pub const DIST_DEFAULT: u64 = 0xD07DF7FBC;
/// Flags a node may add to its default set.
pub const DIST_ADDABLE: u64 = 0xD07DF7FBC;
/// Flags a node may remove from its default set.
pub const DIST_REJECTABLE: u64 = 0x802042;
/// Flags that need strict ordering of the connection.
pub const DIST_STRICT_ORDER: u64 = 0x2000;
/// The flags the 25 mandatory digest flag stands for.
pub const DIST_MANDATORY_25: u64 = EXTENDED_REFERENCES
    | FUN_TAGS
    | EXTENDED_PIDS_PORTS
    | UTF8_ATOMS
    | NEW_FUN_TAGS
    | BIG_CREATION
    | NEW_FLOATS
    | MAP_TAG
    | EXPORT_PTR_TAG
    | BIT_BINARIES
    | HANDSHAKE_23;
/// The flags implied by `MANDATORY_25_DIGEST` in OTP 26+.
pub const DIST_MANDATORY_26: u64 = V4_NC | UNLINK_ID;
/// Flags OTP hopes for but does not require.
pub const DIST_HOPEFULLY: u64 = DIST_MONITOR | DIST_MONITOR_NAME | SPAWN | ALIAS | UNICODE_IO;
/// Flags `term_to_binary` uses.
pub const TERM_TO_BINARY_DFLAGS: u64 = DIST_DEFAULT & !(DIST_HDR_ATOM_CACHE | FRAGMENTS);
/// Flags that make term encoding deterministic.
pub const DETERMINISTIC: u64 = 0;

/// Every named flag with its value, for `distribution_flags/0`.
pub const ALL: &[(&str, u64)] = &[
    ("DFLAG_PUBLISHED", PUBLISHED),
    ("DFLAG_ATOM_CACHE", ATOM_CACHE),
    ("DFLAG_EXTENDED_REFERENCES", EXTENDED_REFERENCES),
    ("DFLAG_DIST_MONITOR", DIST_MONITOR),
    ("DFLAG_FUN_TAGS", FUN_TAGS),
    ("DFLAG_DIST_MONITOR_NAME", DIST_MONITOR_NAME),
    ("DFLAG_HIDDEN_ATOM_CACHE", HIDDEN_ATOM_CACHE),
    ("DFLAG_NEW_FUN_TAGS", NEW_FUN_TAGS),
    ("DFLAG_EXTENDED_PIDS_PORTS", EXTENDED_PIDS_PORTS),
    ("DFLAG_EXPORT_PTR_TAG", EXPORT_PTR_TAG),
    ("DFLAG_BIT_BINARIES", BIT_BINARIES),
    ("DFLAG_NEW_FLOATS", NEW_FLOATS),
    ("DFLAG_UNICODE_IO", UNICODE_IO),
    ("DFLAG_DIST_HDR_ATOM_CACHE", DIST_HDR_ATOM_CACHE),
    ("DFLAG_SMALL_ATOM_TAGS", SMALL_ATOM_TAGS),
    ("DFLAG_ETS_COMPRESSED", ETS_COMPRESSED),
    ("DFLAG_UTF8_ATOMS", UTF8_ATOMS),
    ("DFLAG_MAP_TAG", MAP_TAG),
    ("DFLAG_BIG_CREATION", BIG_CREATION),
    ("DFLAG_SEND_SENDER", SEND_SENDER),
    ("DFLAG_BIG_SEQTRACE_LABELS", BIG_SEQTRACE_LABELS),
    ("DFLAG_PENDING_CONNECT", PENDING_CONNECT),
    ("DFLAG_EXIT_PAYLOAD", EXIT_PAYLOAD),
    ("DFLAG_FRAGMENTS", FRAGMENTS),
    ("DFLAG_HANDSHAKE_23", HANDSHAKE_23),
    ("DFLAG_UNLINK_ID", UNLINK_ID),
    ("DFLAG_MANDATORY_25_DIGEST", MANDATORY_25_DIGEST),
    ("DFLAG_RESERVED", RESERVED),
    ("DFLAG_SPAWN", SPAWN),
    ("DFLAG_NAME_ME", NAME_ME),
    ("DFLAG_V4_NC", V4_NC),
    ("DFLAG_ALIAS", ALIAS),
    ("DFLAG_LOCAL_EXT", LOCAL_EXT),
    ("DFLAG_ALTACT_SIG", ALTACT_SIG),
    ("DFLAG_NATIVE_RECORDS", NATIVE_RECORDS),
    ("DFLAG_DETERMINISTIC", DETERMINISTIC),
    ("DFLAG_DIST_MANDATORY_25", DIST_MANDATORY_25),
    ("DFLAG_DIST_MANDATORY_26", DIST_MANDATORY_26),
    ("DFLAG_DIST_MANDATORY", DIST_MANDATORY),
    ("DFLAG_DIST_HOPEFULLY", DIST_HOPEFULLY),
    ("DFLAG_DIST_DEFAULT", DIST_DEFAULT),
    ("DFLAG_DIST_ADDABLE", DIST_ADDABLE),
    ("DFLAG_DIST_REJECTABLE", DIST_REJECTABLE),
    ("DFLAG_DIST_STRICT_ORDER", DIST_STRICT_ORDER),
    ("TERM_TO_BINARY_DFLAGS", TERM_TO_BINARY_DFLAGS),
];
