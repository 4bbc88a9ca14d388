//! Distribution headers: the frame kinds ('D' normal, 'E' fragment header,
//! 'F' fragment continuation, 'p' pass-through) and the atom-cache reference
//! table that 'D' and 'E' carry.

use crate::atom::Atom;
use crate::atom_cache::{AtomCache, Write};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind};
use crate::flags;
use crate::limits::Limits;
use crate::stats::ChannelStats;

/// Version magic that starts every header-mode frame and external term.
pub const VERSION_MAGIC: u8 = 131;
/// Tag of a normal header.
pub const TAG_NORMAL: u8 = b'D';
/// Tag of a fragment header (first fragment of a message).
pub const TAG_FRAGMENT_HEADER: u8 = b'E';
/// Tag of a fragment continuation.
pub const TAG_FRAGMENT_CONT: u8 = b'F';
/// First byte of a pass-through frame.
pub const TAG_PASS_THROUGH: u8 = b'p';

/// Most references one header can carry.
pub const MAX_ATOM_REFS: usize = 255;

/// One entry of a header's reference table: the cache slot and the atom the
/// message means by it (kept per message: two entries may name one slot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    /// Cache slot, 0..2048.
    pub index: u16,
    /// Whether the header wrote the slot (a new entry) or read it.
    pub new: bool,
    /// The atom.
    pub atom: Atom,
}

/// A header's references, in internal-index order (`ATOM_CACHE_REF` N is
/// entry N). The channel reuses one for every message (no allocation or
/// copying per message).
pub type AtomTable = Vec<TableEntry>;

impl crate::term::AtomResolver for [TableEntry] {
    fn resolve(&self, index: u8) -> Option<&Atom> {
        self.get(usize::from(index)).map(|e| &e.atom)
    }
}

/// What kind of frame this is, with its fragment ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// 'p': control and payload in external encoding, no atom cache.
    PassThrough,
    /// 'D': one whole message.
    Normal,
    /// 'E': first fragment; `fragment_id` is the total number of fragments.
    FragmentHeader {
        /// Sequence the fragments share.
        sequence_id: u64,
        /// Total fragments (counts down to 1 in continuations).
        fragment_id: u64,
    },
    /// 'F': a later fragment.
    FragmentCont {
        /// Sequence it belongs to.
        sequence_id: u64,
        /// Its number (one less than the previous fragment's).
        fragment_id: u64,
    },
}

/// Whether a channel with these flags uses headers at all.
pub fn uses_headers(dflags: u64) -> bool {
    dflags & (flags::DIST_HDR_ATOM_CACHE | flags::FRAGMENTS) != 0
}

/// Read the frame kind (and fragment ids), checking it against the
/// negotiated flags. Leaves `cur` at the atom-cache header ('D', 'E'), the
/// payload bytes ('F') or the external control ('p').
pub fn read_frame_kind(cur: &mut Cursor<'_>, dflags: u64) -> Result<FrameKind, Error> {
    if !uses_headers(dflags) {
        return match cur.u8() {
            Ok(TAG_PASS_THROUGH) => Ok(FrameKind::PassThrough),
            Ok(_) => Err(Error::new(ErrorKind::PassThroughNotAllowed, 0)),
            Err(_) => Err(Error::new(ErrorKind::FrameTooShort, 0)),
        };
    }
    if cur.remaining() < 2 {
        return Err(cur.error(ErrorKind::FrameTooShort));
    }
    if cur.u8()? != VERSION_MAGIC {
        return Err(Error::new(ErrorKind::BadMagic, 0));
    }
    let tag = cur.u8()?;
    match tag {
        TAG_NORMAL if dflags & flags::DIST_HDR_ATOM_CACHE != 0 => Ok(FrameKind::Normal),
        TAG_NORMAL => Err(Error::new(ErrorKind::NormalHeaderNotAllowed, 1)),
        TAG_FRAGMENT_HEADER | TAG_FRAGMENT_CONT if dflags & flags::FRAGMENTS == 0 => {
            Err(Error::new(ErrorKind::FragmentsNotAllowed, 1))
        }
        TAG_FRAGMENT_HEADER | TAG_FRAGMENT_CONT => {
            let sequence_id = cur.u64()?;
            let fragment_id = cur.u64()?;
            if fragment_id == 0 {
                return Err(Error::new(ErrorKind::FragmentIdZero, 10));
            }
            // A multi-fragment message with SequenceId 0 crashes OTP 25's
            // receiver (segfault); OTP itself never sends one.
            if sequence_id == 0 && !(tag == TAG_FRAGMENT_HEADER && fragment_id == 1) {
                return Err(Error::new(ErrorKind::SequenceIdZero, 2));
            }
            Ok(if tag == TAG_FRAGMENT_HEADER {
                FrameKind::FragmentHeader { sequence_id, fragment_id }
            } else {
                FrameKind::FragmentCont { sequence_id, fragment_id }
            })
        }
        _ => Err(Error::new(ErrorKind::UnknownFrameTag, 1)),
    }
}

/// Parse the atom-cache reference table of a 'D' or 'E' header into
/// `table` (cleared first), applying new entries to `cache` as the VM will
/// when it reads the frame.
pub fn read_atom_table(
    cur: &mut Cursor<'_>,
    cache: &mut AtomCache,
    dflags: u64,
    limits: &Limits,
    stats: &ChannelStats,
    table: &mut AtomTable,
) -> Result<(), Error> {
    table.clear();
    let count = cur.u8()? as usize;
    if count == 0 {
        return Ok(());
    }
    let flags_at = cur.pos();
    let flag_bytes = cur.take(count / 2 + 1)?;
    let nibble = |i: usize| -> u8 {
        let byte = flag_bytes.get(i / 2).copied().unwrap_or(0);
        if i & 1 == 0 {
            byte & 0x0f
        } else {
            byte >> 4
        }
    };
    let long_atoms = nibble(count) & 1 != 0;
    let utf8 = dflags & flags::UTF8_ATOMS != 0;
    for i in 0..count {
        let nib = nibble(i);
        let index = (u16::from(nib & 7) << 8) | u16::from(cur.u8()?);
        if nib & 8 != 0 {
            let len_at = cur.pos();
            let len = if long_atoms { usize::from(cur.u16()?) } else { usize::from(cur.u8()?) };
            if len as u64 > limits.max_atom_bytes {
                return Err(Error::new(ErrorKind::LimitAtomBytes, len_at));
            }
            let text_at = cur.pos();
            let atom = Atom::decode(cur.take(len)?, utf8, text_at)?;
            stats.atom_cache_write_count.inc();
            if cache.put(index, atom.clone()) == Write::Overwrite {
                stats.atom_cache_overwrite_count.inc();
            }
            table.push(TableEntry { index, new: true, atom });
        } else {
            let atom = cache.get(index).cloned().ok_or_else(|| Error::new(ErrorKind::AtomCacheEmptySlot, flags_at))?;
            stats.atom_cache_read_count.inc();
            table.push(TableEntry { index, new: false, atom });
        }
    }
    Ok(())
}

/// Encode a reference table as a header: the count, the flag nibbles
/// (long-atom bit set when a new entry's text needs a 2-byte length), then
/// each entry's low index byte and, for new entries, the text (UTF-8, or
/// Latin-1 when the connection did not negotiate UTF-8 atoms).
pub fn encode_atom_table(entries: &[TableEntry], dflags: u64, out: &mut Vec<u8>) {
    let utf8 = dflags & flags::UTF8_ATOMS != 0;
    let text = |a: &Atom| -> Vec<u8> {
        if utf8 {
            a.as_bytes().to_vec()
        } else {
            // A Latin-1 peer's atoms came in as Latin-1: every char fits.
            a.as_str().chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
        }
    };
    let count8 = u8::try_from(entries.len().min(MAX_ATOM_REFS)).unwrap_or(u8::MAX);
    let count = usize::from(count8);
    out.push(count8);
    if count == 0 {
        return;
    }
    let long = entries.iter().any(|e| e.new && text(&e.atom).len() > 255);
    let mut nibbles = vec![0u8; count / 2 + 1];
    let mut set = |i: usize, v: u8| {
        if let Some(b) = nibbles.get_mut(i / 2) {
            *b |= if i & 1 == 0 { v } else { v << 4 };
        }
    };
    for (i, e) in entries.iter().take(count).enumerate() {
        let [high, _] = e.index.to_be_bytes();
        set(i, (if e.new { 8 } else { 0 }) | (high & 7));
    }
    if long {
        set(count, 1);
    }
    out.extend_from_slice(&nibbles);
    for e in entries.iter().take(count) {
        let [_, low] = e.index.to_be_bytes();
        out.push(low);
        if e.new {
            let t = text(&e.atom);
            // An atom is at most 1020 bytes; `long` when any is over 255.
            match (long, u8::try_from(t.len())) {
                (false, Ok(n)) => out.push(n),
                _ => out.extend_from_slice(&u16::try_from(t.len()).unwrap_or(u16::MAX).to_be_bytes()),
            }
            out.extend_from_slice(&t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DFLAGS: u64 = flags::DIST_DEFAULT;

    fn parse(bytes: &[u8], cache: &mut AtomCache) -> Result<AtomTable, Error> {
        let stats = ChannelStats::default();
        let mut table = AtomTable::new();
        read_atom_table(&mut Cursor::new(bytes), cache, DFLAGS, &Limits::default(), &stats, &mut table)?;
        Ok(table)
    }

    #[test]
    fn new_then_old_reference_resolves_through_the_cache() {
        let mut cache = AtomCache::default();
        // 1 ref, flags: nibble0 = new|seg 1, nibble1 = not long; index low 0x23; len 3 "abc"
        let t = parse(&[1, 0x09, 0x23, 3, b'a', b'b', b'c'], &mut cache).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].index, 0x123);
        assert!(t[0].new);
        let t = parse(&[1, 0x01, 0x23], &mut cache).unwrap();
        assert_eq!(t[0].atom.as_str(), "abc");
        assert!(!t[0].new);
    }

    #[test]
    fn old_reference_to_an_empty_slot_is_an_error() {
        let mut cache = AtomCache::default();
        let e = parse(&[1, 0x00, 0x05], &mut cache).unwrap_err();
        assert_eq!(e.kind, ErrorKind::AtomCacheEmptySlot);
    }

    #[test]
    fn long_atoms_use_two_byte_lengths_and_every_prefix_is_truncated() {
        let mut cache = AtomCache::default();
        // 2 refs: nibbles [new seg0, new seg0], then flags nibble2 = long
        let bytes = [2, 0x88, 0x01, 1, 0, 1, b'x', 2, 0, 2, b'y', b'z'];
        let t = parse(&bytes, &mut cache).unwrap();
        assert_eq!(t[1].atom.as_str(), "yz");
        for cut in 0..bytes.len() {
            let mut c = AtomCache::default();
            assert_eq!(parse(&bytes[..cut], &mut c).unwrap_err().kind, ErrorKind::Truncated);
        }
    }

    #[test]
    fn encoded_tables_parse_back_to_the_same_entries() {
        let atom = |s: &str| Atom::from_utf8(s.as_bytes()).unwrap();
        let long = "x".repeat(200) + &"\u{e9}".repeat(30);
        let entries = vec![
            TableEntry { index: 2038, new: true, atom: atom("rex") },
            TableEntry { index: 7, new: true, atom: atom(&long) },
            TableEntry { index: 2038, new: false, atom: atom("rex") },
        ];
        let mut bytes = vec![];
        encode_atom_table(&entries, DFLAGS, &mut bytes);
        let mut cache = AtomCache::default();
        assert_eq!(parse(&bytes, &mut cache).unwrap().to_vec(), entries);
    }

    #[test]
    fn sequence_id_zero_is_refused_for_fragmented_messages() {
        let frame = |tag: u8, seq: u64, id: u64| {
            let mut f = vec![131, tag];
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f
        };
        let k = |b: &[u8]| read_frame_kind(&mut Cursor::new(b), DFLAGS).map_err(|e| e.kind);
        assert_eq!(k(&frame(b'E', 0, 2)), Err(ErrorKind::SequenceIdZero));
        assert_eq!(k(&frame(b'F', 0, 1)), Err(ErrorKind::SequenceIdZero));
        assert!(k(&frame(b'E', 0, 1)).is_ok(), "a single-fragment message is whole");
        assert!(k(&frame(b'E', 7, 2)).is_ok());
    }

    #[test]
    fn frame_kinds_follow_the_negotiated_flags() {
        let k = |b: &[u8], f| read_frame_kind(&mut Cursor::new(b), f);
        assert_eq!(k(&[131, b'D'], DFLAGS), Ok(FrameKind::Normal));
        assert_eq!(k(&[131, b'X'], DFLAGS).unwrap_err().kind, ErrorKind::UnknownFrameTag);
        assert_eq!(k(&[130, b'D'], DFLAGS).unwrap_err().kind, ErrorKind::BadMagic);
        assert_eq!(k(&[131], DFLAGS).unwrap_err().kind, ErrorKind::FrameTooShort);
        let no_frag = DFLAGS & !flags::FRAGMENTS;
        assert_eq!(k(&[131, b'E'], no_frag).unwrap_err().kind, ErrorKind::FragmentsNotAllowed);
        let mut e = vec![131, b'E'];
        e.extend_from_slice(&7u64.to_be_bytes());
        e.extend_from_slice(&0u64.to_be_bytes());
        assert_eq!(k(&e, DFLAGS).unwrap_err().kind, ErrorKind::FragmentIdZero);
        assert_eq!(k(b"p", flags::DIST_MANDATORY & !flags::DIST_HDR_ATOM_CACHE), Ok(FrameKind::PassThrough));
    }
}
