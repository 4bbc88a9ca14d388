//! The one error type of the core: what rule the input broke, and where.

/// What was wrong with the input (or which limit it exceeded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes ended inside a structure whose length was already known.
    #[error("truncated input")]
    Truncated,
    /// A frame shorter than its two-byte header.
    #[error("frame too short")]
    FrameTooShort,
    /// A frame did not start with the version magic 131.
    #[error("bad version magic")]
    BadMagic,
    /// A frame tag other than 'D', 'E', 'F' (or 'p' on pass-through channels).
    #[error("unknown frame tag")]
    UnknownFrameTag,
    /// A normal 'D' header without `DFLAG_DIST_HDR_ATOM_CACHE`.
    #[error("normal header not allowed by the negotiated flags")]
    NormalHeaderNotAllowed,
    /// An 'E'/'F' fragment without `DFLAG_FRAGMENTS`.
    #[error("fragments not allowed by the negotiated flags")]
    FragmentsNotAllowed,
    /// A pass-through frame on a channel that negotiated headers, or vice versa.
    #[error("pass-through frame not allowed by the negotiated flags")]
    PassThroughNotAllowed,
    /// FragmentId 0 is never valid.
    #[error("fragment id is zero")]
    FragmentIdZero,
    /// SequenceId 0: OTP never sends it, and OTP 25's receiver crashes on
    /// a fragmented message that has it.
    #[error("sequence id is zero")]
    SequenceIdZero,
    /// A fragmented message whose control message does not end inside its
    /// first fragment: OTP's receiver decodes the control from that
    /// fragment alone and refuses it, so the filter must not reassemble it.
    #[error("control message straddles a fragment boundary")]
    ControlStraddlesFragments,
    /// A header fragment for a sequence that is already in flight.
    #[error("duplicate fragment sequence")]
    DuplicateSequence,
    /// A continuation for a sequence that was never started.
    #[error("continuation of an unknown sequence")]
    UnknownSequence,
    /// A continuation whose FragmentId is not the next one expected.
    #[error("fragment out of order")]
    FragmentOutOfOrder,
    /// An atom-cache reference to a slot that holds no atom.
    #[error("atom cache reference to an empty slot")]
    AtomCacheEmptySlot,
    /// An atom-cache index outside 0..2048.
    #[error("atom cache index out of range")]
    AtomCacheIndexOutOfRange,
    /// An `ATOM_CACHE_REF` in a term outside the header's reference table.
    #[error("atom cache reference outside the header's table")]
    AtomCacheRefOutOfRange,
    /// Atom text longer than OTP allows (255 characters).
    #[error("atom too long")]
    AtomTooLong,
    /// Atom text that is not valid UTF-8.
    #[error("invalid UTF-8 in atom")]
    AtomInvalidUtf8,
    /// A term tag OTP 25 never sends (or never in this position).
    #[error("unsupported term tag")]
    UnsupportedTag,
    /// A term nested deeper than the decoder follows.
    #[error("term nested too deeply")]
    TooDeep,
    /// A term whose declared sizes cannot be right (e.g. arity beyond the bytes left).
    #[error("malformed term")]
    MalformedTerm,
    /// The control message is not a tuple with an integer operation first.
    #[error("malformed control message")]
    MalformedControl,
    /// An operation number that OTP does not define.
    #[error("unknown distribution operation")]
    UnknownDop,
    /// A control tuple with the wrong number of elements for its operation.
    #[error("wrong control message arity")]
    WrongControlArity,
    /// A control message element of the wrong type (e.g. an atom where a pid belongs).
    #[error("control message element of the wrong type")]
    BadControlElement,
    /// Bytes after a message that should have ended.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// A packet longer than `Limits::max_packet_len`.
    #[error("limit exceeded: max_packet_len")]
    LimitPacketLen,
    /// A fragmented message with more fragments than `Limits::max_fragments`.
    #[error("limit exceeded: max_fragments")]
    LimitFragments,
    /// More concurrent sequences than `Limits::max_sequences`.
    #[error("limit exceeded: max_sequences")]
    LimitSequences,
    /// More held bytes than `Limits::max_buffered_bytes`.
    #[error("limit exceeded: max_buffered_bytes")]
    LimitBufferedBytes,
    /// An atom longer than `Limits::max_atom_bytes`.
    #[error("limit exceeded: max_atom_bytes")]
    LimitAtomBytes,
    /// Traffic over `Limits::max_bytes_per_sec` or `max_messages_per_sec`
    /// (with the `close` policy).
    #[error("limit exceeded: rate")]
    LimitRate,
    /// A message larger than `Limits::max_message_bytes` (each fragment
    /// counting its bytes plus a fixed overhead).
    #[error("limit exceeded: max_message_bytes")]
    LimitMessageBytes,
    /// More new atoms from one node than `Limits::max_new_atoms`.
    #[error("limit exceeded: max_new_atoms")]
    LimitNewAtoms,
    /// More new atoms from all nodes together than
    /// `Limits::max_new_atoms_total`.
    #[error("limit exceeded: max_new_atoms_total")]
    LimitNewAtomsTotal,
}

impl ErrorKind {
    /// A stable snake_case name, used as the atom in `{error, Reason}` terms.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::FrameTooShort => "frame_too_short",
            ErrorKind::BadMagic => "bad_magic",
            ErrorKind::UnknownFrameTag => "unknown_frame_tag",
            ErrorKind::NormalHeaderNotAllowed => "normal_header_not_allowed",
            ErrorKind::FragmentsNotAllowed => "fragments_not_allowed",
            ErrorKind::PassThroughNotAllowed => "pass_through_not_allowed",
            ErrorKind::FragmentIdZero => "fragment_id_zero",
            ErrorKind::SequenceIdZero => "sequence_id_zero",
            ErrorKind::ControlStraddlesFragments => "control_straddles_fragments",
            ErrorKind::DuplicateSequence => "duplicate_sequence",
            ErrorKind::UnknownSequence => "unknown_sequence",
            ErrorKind::FragmentOutOfOrder => "fragment_out_of_order",
            ErrorKind::AtomCacheEmptySlot => "atom_cache_empty_slot",
            ErrorKind::AtomCacheIndexOutOfRange => "atom_cache_index_out_of_range",
            ErrorKind::AtomCacheRefOutOfRange => "atom_cache_ref_out_of_range",
            ErrorKind::AtomTooLong => "atom_too_long",
            ErrorKind::AtomInvalidUtf8 => "atom_invalid_utf8",
            ErrorKind::UnsupportedTag => "unsupported_tag",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::MalformedTerm => "malformed_term",
            ErrorKind::MalformedControl => "malformed_control",
            ErrorKind::UnknownDop => "unknown_dop",
            ErrorKind::WrongControlArity => "wrong_control_arity",
            ErrorKind::BadControlElement => "bad_control_element",
            ErrorKind::TrailingBytes => "trailing_bytes",
            ErrorKind::LimitPacketLen => "max_packet_len",
            ErrorKind::LimitFragments => "max_fragments",
            ErrorKind::LimitSequences => "max_sequences",
            ErrorKind::LimitBufferedBytes => "max_buffered_bytes",
            ErrorKind::LimitAtomBytes => "max_atom_bytes",
            ErrorKind::LimitMessageBytes => "max_message_bytes",
            ErrorKind::LimitRate => "rate",
            ErrorKind::LimitNewAtoms => "max_new_atoms",
            ErrorKind::LimitNewAtomsTotal => "max_new_atoms_total",
        }
    }

    /// Whether this is a configured limit rather than malformed input.
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            ErrorKind::LimitPacketLen
                | ErrorKind::LimitFragments
                | ErrorKind::LimitSequences
                | ErrorKind::LimitBufferedBytes
                | ErrorKind::LimitAtomBytes
                | ErrorKind::LimitMessageBytes
                | ErrorKind::LimitRate
                | ErrorKind::LimitNewAtoms
                | ErrorKind::LimitNewAtomsTotal
        )
    }
}

/// An input error: its kind and the byte offset within the frame (or the
/// stream position for framing errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct Error {
    /// What rule was broken.
    pub kind: ErrorKind,
    /// Where, in bytes from the start of the frame.
    pub offset: usize,
}

impl Error {
    /// An error of `kind` at `offset`.
    pub fn new(kind: ErrorKind, offset: usize) -> Self {
        Error { kind, offset }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind, offset: 0 }
    }
}
