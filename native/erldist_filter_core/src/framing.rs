//! Length-prefixed packets (`{packet, N}` framing) and ticks.

/// The length-prefix size a channel was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketSize {
    /// No prefix: each `recv` call is one frame.
    Zero,
    /// 1-byte prefix.
    One,
    /// 2-byte prefix.
    Two,
    /// 4-byte prefix (what distribution uses after the handshake).
    Four,
    /// 8-byte prefix.
    Eight,
}

impl PacketSize {
    /// From the number of prefix bytes (0, 1, 2, 4 or 8).
    pub fn from_bytes(n: u64) -> Option<PacketSize> {
        match n {
            0 => Some(PacketSize::Zero),
            1 => Some(PacketSize::One),
            2 => Some(PacketSize::Two),
            4 => Some(PacketSize::Four),
            8 => Some(PacketSize::Eight),
            _ => None,
        }
    }

    /// Number of prefix bytes.
    pub fn bytes(self) -> usize {
        match self {
            PacketSize::Zero => 0,
            PacketSize::One => 1,
            PacketSize::Two => 2,
            PacketSize::Four => 4,
            PacketSize::Eight => 8,
        }
    }
}

use crate::error::{Error, ErrorKind};

/// A complete packet found by [`Framer::next`].
#[derive(Debug, PartialEq, Eq)]
pub enum Packet {
    /// A zero-length packet (keep-alive).
    Tick,
    /// A frame lying entirely in the caller's slice, at this range.
    Input(std::ops::Range<usize>),
    /// A frame assembled across calls.
    Owned(Vec<u8>),
}

/// A packet whose bytes are still arriving.
#[derive(Debug)]
struct Partial {
    declared: usize,
    buf: Vec<u8>,
}

/// Splits a byte stream into length-prefixed packets, holding the partial
/// prefix or packet between calls. Never allocates more than the bytes that
/// actually arrived, and refuses a declared length over the limit before
/// buffering anything.
#[derive(Debug)]
pub struct Framer {
    size: PacketSize,
    prefix: [u8; 8],
    prefix_len: usize,
    partial: Option<Partial>,
}

impl Framer {
    /// A framer for `size`-byte prefixes (`size` must not be `Zero`).
    pub fn new(size: PacketSize) -> Self {
        Framer { size, prefix: [0; 8], prefix_len: 0, partial: None }
    }

    /// Bytes held between calls.
    pub fn buffered(&self) -> usize {
        self.prefix_len + self.partial.as_ref().map_or(0, |p| p.buf.len())
    }

    /// `(received, declared)` of the packet being assembled.
    pub fn progress(&self) -> (usize, usize) {
        self.partial.as_ref().map_or((0, 0), |p| (p.buf.len(), p.declared))
    }

    /// Take the next complete packet from `data[*pos..]`, advancing `pos`.
    /// `Ok(None)` means every byte was consumed into the partial state.
    pub fn next(&mut self, data: &[u8], pos: &mut usize, max_len: u64) -> Result<Option<Packet>, Error> {
        let rest = data.get(*pos..).unwrap_or(&[]);
        if let Some(partial) = self.partial.as_mut() {
            let want = partial.declared - partial.buf.len();
            let chunk = rest.get(..want.min(rest.len())).unwrap_or(&[]);
            reserve_bounded(&mut partial.buf, chunk.len(), partial.declared);
            partial.buf.extend_from_slice(chunk);
            *pos += chunk.len();
            if partial.buf.len() < partial.declared {
                return Ok(None);
            }
            return Ok(self.partial.take().map(|p| Packet::Owned(p.buf)));
        }
        let n = self.size.bytes();
        let declared = if self.prefix_len == 0 && rest.len() >= n {
            let len = be_len(rest.get(..n).unwrap_or(&[]));
            *pos += n;
            len
        } else {
            let take = (n - self.prefix_len).min(rest.len());
            let dst = self.prefix.get_mut(self.prefix_len..self.prefix_len + take);
            if let (Some(dst), Some(src)) = (dst, rest.get(..take)) {
                dst.copy_from_slice(src);
            }
            self.prefix_len += take;
            *pos += take;
            if self.prefix_len < n {
                return Ok(None);
            }
            self.prefix_len = 0;
            be_len(self.prefix.get(..n).unwrap_or(&[]))
        };
        if declared == 0 {
            return Ok(Some(Packet::Tick));
        }
        if declared > max_len {
            return Err(Error::new(ErrorKind::LimitPacketLen, *pos));
        }
        // declared <= max_len, which the caller keeps within usize.
        let declared = usize::try_from(declared).map_err(|_| Error::new(ErrorKind::LimitPacketLen, *pos))?;
        let available = data.len() - *pos;
        if available >= declared {
            let range = *pos..*pos + declared;
            *pos += declared;
            return Ok(Some(Packet::Input(range)));
        }
        let mut buf = Vec::new();
        reserve_bounded(&mut buf, available, declared);
        buf.extend_from_slice(data.get(*pos..).unwrap_or(&[]));
        *pos = data.len();
        self.partial = Some(Partial { declared, buf });
        Ok(None)
    }
}

/// Grow `buf` for `incoming` more bytes, doubling but never past `cap`,
/// and to `cap` once a quarter of it is needed.
fn reserve_bounded(buf: &mut Vec<u8>, incoming: usize, cap: usize) {
    let need = buf.len() + incoming;
    if need > buf.capacity() {
        // Once a quarter of the packet is here, the rest is reserved at
        // once: each regrowth copies what is held, and a peer still cannot
        // make it reserve more than four times what it sent.
        let target = if need.saturating_mul(4) >= cap {
            cap
        } else {
            need.max(buf.capacity().saturating_mul(2)).max(4096).min(cap)
        };
        buf.reserve_exact(target.saturating_sub(buf.len()));
    }
}

fn be_len(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(framer: &mut Framer, data: &[u8]) -> Vec<Packet> {
        let mut pos = 0;
        let mut out = vec![];
        while pos < data.len() {
            if let Some(p) = framer.next(data, &mut pos, 1 << 20).unwrap() {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn splits_ticks_and_frames_and_resumes_across_calls() {
        let mut f = Framer::new(PacketSize::Two);
        let stream = [0, 0, 0, 3, b'a', b'b', b'c', 0, 1, b'z'];
        assert_eq!(all(&mut f, &stream), vec![Packet::Tick, Packet::Input(4..7), Packet::Input(9..10)]);
        // byte by byte: same packets, assembled
        let mut got = vec![];
        for b in stream.chunks(1) {
            got.extend(all(&mut f, b));
        }
        assert_eq!(got, vec![Packet::Tick, Packet::Owned(b"abc".to_vec()), Packet::Owned(b"z".to_vec())]);
    }

    #[test]
    fn a_huge_declared_length_is_refused_before_buffering() {
        let mut f = Framer::new(PacketSize::Eight);
        let mut pos = 0;
        let e = f.next(&[0xff; 9], &mut pos, 1 << 20).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitPacketLen);
        assert_eq!(f.buffered(), 0);
        let mut f = Framer::new(PacketSize::Four);
        let mut pos = 0;
        assert_eq!(f.next(&[0, 0x10, 0, 0, 1, 2], &mut pos, 1 << 20).unwrap(), None);
        assert_eq!(f.progress(), (2, 1 << 20));
        assert!(f.partial.as_ref().unwrap().buf.capacity() <= 4096);
    }

    #[test]
    fn a_partial_packet_reserves_its_rest_once_a_quarter_is_here() {
        let declared = 64 * 1024;
        let mut prefix = (declared as u32).to_be_bytes().to_vec();
        prefix.extend(vec![7u8; declared / 4]);
        let mut f = Framer::new(PacketSize::Four);
        let mut pos = 0;
        assert_eq!(f.next(&prefix, &mut pos, 1 << 20).unwrap(), None);
        assert_eq!(f.partial.as_ref().unwrap().buf.capacity(), declared, "no regrowth to come");
        // Trickled, it never holds more than four times what came (or 4 KiB).
        let mut f = Framer::new(PacketSize::Four);
        let mut pos = 0;
        assert_eq!(f.next(&(1u32 << 20).to_be_bytes(), &mut pos, 1 << 20).unwrap(), None);
        let mut sent = 0;
        for chunk in [1usize, 1000, 3000, 10_000, 50_000, 200_000] {
            let mut pos = 0;
            assert_eq!(f.next(&vec![1u8; chunk], &mut pos, 1 << 20).unwrap(), None);
            sent += chunk;
            let cap = f.partial.as_ref().unwrap().buf.capacity();
            assert!(cap <= (4 * sent).max(4096), "{cap} reserved for {sent} bytes");
        }
    }
}
