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
