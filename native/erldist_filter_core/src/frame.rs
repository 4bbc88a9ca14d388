//! A frame split into its parts: its kind (from the prefix), the
//! atom-cache header, and where the control message (or, for a
//! continuation, the payload) starts. Parsing applies the header's new
//! atom-cache entries (as the VM will when it reads the frame).

use std::ops::Range;

use crate::atom_cache::AtomCache;
use crate::cursor::Cursor;
use crate::error::Error;
use crate::header::{self, AtomTable, FrameKind};
use crate::limits::Limits;
use crate::stats::ChannelStats;

/// The parts of one frame. Positions are offsets into the frame.
#[derive(Debug)]
pub struct FrameParts {
    /// Which kind of frame.
    pub kind: FrameKind,
    /// The atom-cache header bytes (empty for 'F' and 'p').
    pub header: Range<usize>,
    /// Where the control message starts ('D', 'E': internal encoding; 'p':
    /// its 131 byte) or, for 'F', where the payload bytes start.
    pub body: usize,
}

impl FrameParts {
    /// Whether the control and payload are in external encoding ('p').
    pub fn external(&self) -> bool {
        self.kind == FrameKind::PassThrough
    }
}

/// Split `frame`, reading its header's references into `table` (emptied
/// for frames without a header), updating `cache` and the header counters.
pub fn parse_frame(
    frame: &[u8],
    dflags: u64,
    cache: &mut AtomCache,
    limits: &Limits,
    stats: &ChannelStats,
    table: &mut AtomTable,
) -> Result<FrameParts, Error> {
    let mut cur = Cursor::new(frame);
    let kind = header::read_frame_kind(&mut cur, dflags)?;
    let header_at = cur.pos();
    match kind {
        FrameKind::PassThrough => {
            stats.dist_pass_through_count.inc();
            table.clear();
        }
        FrameKind::FragmentCont { .. } => {
            stats.dist_frag_cont_count.inc();
            table.clear();
        }
        FrameKind::Normal | FrameKind::FragmentHeader { .. } => {
            if kind == FrameKind::Normal {
                stats.dist_header_count.inc();
            } else {
                stats.dist_frag_header_count.inc();
            }
            header::read_atom_table(&mut cur, cache, dflags, limits, stats, table)?;
        }
    }
    let body = cur.pos();
    Ok(FrameParts { kind, header: header_at..body, body })
}
