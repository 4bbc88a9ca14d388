//! Hand-built distribution frames, byte by byte (no encoder from the crate
//! under test), for the hostile-input and atom-guard tests.

/// The flags every captured corpus negotiated (OTP 25 defaults).
pub const DFLAGS: u64 = 0xD07DF7FBD;

/// NEW_PID_EXT whose node is header reference `node_ref`.
pub fn pid(node_ref: u8, id: u32) -> Vec<u8> {
    let mut p = vec![88, 82, node_ref];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p
}

/// One entry of a header's atom-cache reference table.
#[derive(Clone, Copy)]
pub enum Ref<'a> {
    /// Write `text` into cache slot `index`.
    New(u16, &'a [u8]),
    /// Read cache slot `index`.
    Old(u16),
}

/// The reference table of a 'D'/'E' header: count, flag nibbles, entries.
/// Long (2-byte) lengths are used when any text is over 255 bytes.
pub fn atom_table(refs: &[Ref<'_>]) -> Vec<u8> {
    let long = refs.iter().any(|r| matches!(r, Ref::New(_, t) if t.len() > 255));
    atom_table_with(refs, long)
}

pub fn atom_table_with(refs: &[Ref<'_>], long: bool) -> Vec<u8> {
    assert!(refs.len() <= 255);
    let mut out = vec![refs.len() as u8];
    if refs.is_empty() {
        return out;
    }
    let mut nibbles: Vec<u8> = refs
        .iter()
        .map(|r| match *r {
            Ref::New(i, _) => 8 | (i >> 8) as u8 & 7,
            Ref::Old(i) => (i >> 8) as u8 & 7,
        })
        .collect();
    nibbles.push(u8::from(long));
    if nibbles.len() % 2 == 1 {
        nibbles.push(0);
    }
    // even entries in the low half-byte
    out.extend(nibbles.chunks(2).map(|p| p[0] | (p[1] << 4)));
    for r in refs {
        match *r {
            Ref::New(i, text) => {
                out.push(i as u8);
                if long {
                    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
                } else {
                    out.push(text.len() as u8);
                }
                out.extend_from_slice(text);
            }
            Ref::Old(i) => out.push(i as u8),
        }
    }
    out
}

/// A normal 'D' frame: header with `refs`, then control and payload (both
/// in internal encoding: no version magic).
pub fn frame_normal(refs: &[Ref<'_>], control: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut f = vec![131, b'D'];
    f.extend(atom_table(refs));
    f.extend_from_slice(control);
    f.extend_from_slice(payload);
    f
}

/// A fragment header 'E' announcing `fragments` fragments.
pub fn frame_frag_header(seq: u64, fragments: u64, refs: &[Ref<'_>], control: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut f = vec![131, b'E'];
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&fragments.to_be_bytes());
    f.extend(atom_table(refs));
    f.extend_from_slice(control);
    f.extend_from_slice(payload);
    f
}

/// A fragment continuation 'F'.
pub fn frame_frag_cont(seq: u64, fragment: u64, bytes: &[u8]) -> Vec<u8> {
    let mut f = vec![131, b'F'];
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&fragment.to_be_bytes());
    f.extend_from_slice(bytes);
    f
}

/// `frame` behind a big-endian length prefix of `size` bytes.
pub fn prefixed(size: usize, frame: &[u8]) -> Vec<u8> {
    let len = (frame.len() as u64).to_be_bytes();
    let mut out = len[8 - size..].to_vec();
    out.extend_from_slice(frame);
    out
}
