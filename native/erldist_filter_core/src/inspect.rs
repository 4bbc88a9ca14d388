//! Deep packet inspection of one complete message: decode its control,
//! classify it, and build what replaces it (SPEC §4.11): the log event and,
//! for drop / redirect / spawn redirect, the rewritten frame.

use std::ops::Range;
use std::sync::Arc;

use crate::atom::Atom;
use crate::classify::{self, Decision, Verdict};
use crate::config::Config;
use crate::control::{self, Control};
use crate::dop::Dop;
use crate::error::{Error, ErrorKind};
use crate::header::{TableEntry, VERSION_MAGIC};
use crate::limits::Limits;
use crate::protected::Protected;
use crate::rewrite::{self, Redirect};
use crate::term::{tag, ScanContext, Viewer};

/// Who is on the other end, for redirects: the sending node and the
/// router its redirected messages go to; and which of our processes it
/// must not reach by pid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    /// The sending node's name.
    pub sysname: Atom,
    /// `erldist_filter_router_N` for this node.
    pub router: Atom,
    /// The receiving node's protected processes.
    pub protected: Arc<Protected>,
}

/// A message copied to the logger queue: the header's atoms (so cache
/// references decode) and the original control and payload, each with its
/// 131 so `erts_debug:dist_ext_to_term/2` reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// The header table's atoms in internal-index order.
    pub atoms: Vec<Atom>,
    /// `131` + control bytes.
    pub control: Vec<u8>,
    /// `131` + payload bytes, for operations with a payload.
    pub payload: Option<Vec<u8>>,
}

/// A complete message laid out in one buffer.
#[derive(Debug)]
pub struct Whole<'m> {
    /// The frame (a normal frame, a compacted fragmented one, or 'p').
    pub bytes: &'m [u8],
    /// The bytes before the header (`131 'D'`, `131 'E' Seq 1`, or `'p'`).
    pub prefix: Range<usize>,
    /// The atom-cache header bytes.
    pub header: Range<usize>,
    /// The header's references.
    pub table: &'m [TableEntry],
    /// Where the control starts.
    pub body: usize,
    /// Pass-through framing (external encoding, no cache).
    pub external: bool,
}

impl Whole<'_> {
    /// How its terms are read: external encoding, or internal after the
    /// header's references.
    pub fn scan_context(&self) -> ScanContext {
        if self.external {
            ScanContext::external()
        } else {
            ScanContext::after_table(self.table.len())
        }
    }

    /// Where the term (control or payload) whose encoding starts at `at`
    /// begins: after its 131 in external encoding, at `at` otherwise.
    pub fn term_at(&self, at: usize) -> Result<usize, Error> {
        if self.external {
            skip_magic(self.bytes, at)
        } else {
            Ok(at)
        }
    }
}

/// What inspection found and decided.
#[derive(Debug)]
pub struct Inspected {
    /// The message's operation.
    pub dop: Dop,
    /// The classification (always "emit" when inspection is off).
    pub decision: Decision,
    /// The event to log, if the decision logs and logging is on.
    pub log: Option<LogEvent>,
    /// The frame that replaces the message (`None`: emit it unchanged; an
    /// empty vector: emit nothing, a pass-through drop).
    pub rewrite: Option<Vec<u8>>,
}

/// Inspect `m`. With `dpi` off only the operation is read. `sort` is the
/// channel's redirect counter, advanced per router redirect.
pub fn inspect(
    m: &Whole<'_>,
    cfg: &Config,
    dpi: bool,
    peer: &Peer,
    sort: &mut u64,
    limits: &Limits,
) -> Result<Inspected, Error> {
    let ctx = m.scan_context();
    let v = Viewer::new(m.bytes, ctx, &m.table);
    let control_at = m.term_at(m.body)?;
    if !dpi {
        let mut cur = crate::cursor::Cursor::new(m.bytes);
        cur.skip(control_at)?;
        let head = control::read_head(&mut cur)?;
        return Ok(Inspected { dop: head.dop, decision: EMIT, log: None, rewrite: None });
    }
    let ctrl = control::decode(&v, control_at)?;
    let dop = ctrl.head.dop;
    let payload = if dop.info().has_payload {
        let at = m.term_at(ctrl.range.end)?;
        if at >= m.bytes.len() {
            return Err(Error::new(ErrorKind::Truncated, at));
        }
        Some(at)
    } else {
        None
    };
    let decision = classify::classify(&ctrl, payload, &v, cfg, &peer.protected)?;
    let log = (decision.log && cfg.logging).then(|| log_event(m, &ctrl, payload, limits.max_log_bytes));
    let rewrite = match decision.verdict {
        Verdict::Emit => None,
        Verdict::Drop => Some(rewrite::drop_frame(m)),
        Verdict::Redirect => {
            let r = Redirect {
                router: &peer.router,
                sysname: &peer.sysname,
                sort: *sort,
                control: m.bytes.get(ctrl.range.clone()).unwrap_or(&[]),
                token: ctrl.token.clone().and_then(|t| m.bytes.get(t)),
                payload: payload.and_then(|p| m.bytes.get(p..)),
            };
            *sort = sort.wrapping_add(1);
            Some(rewrite::redirect_frame(m, &r))
        }
        Verdict::SpawnRedirect => Some(rewrite::spawn_frame(m, &ctrl, payload, &peer.sysname)?),
    };
    Ok(Inspected { dop, decision, log, rewrite })
}

const EMIT: Decision = Decision { verdict: Verdict::Emit, log: false };

/// Inspect a fragmented message from its first fragment `m` alone (under
/// deep packet inspection), when the rules can decide there and the
/// decision needs nothing of the rest: emitted unchanged without a log
/// event, or dropped with a log event (if any) that holds no payload.
/// `None` otherwise (a decision that reads, logs or rewrites bytes beyond
/// the first fragment, or any error): the caller holds the message whole
/// and inspects it then, as before, errors included. A drop's rewrite is
/// the one [`inspect`] builds for the whole message, `m`'s own prefix
/// kept (the caller sets its FragmentId).
///
/// Decided here: a message without payload, and one whose payload is a
/// binary, bitstring or string (the rules read which kind of term it is,
/// never its bytes). Anything
/// else waits for the whole message, even where the rules would read only
/// its head (`{'$gen_cast', {put, <<...>>}}`): a rule that simple is one
/// the Erlang model (`test/edf_model_channel.erl`) states exactly.
pub fn inspect_first_fragment(m: &Whole<'_>, cfg: &Config, peer: &Peer, limits: &Limits) -> Option<Inspected> {
    if m.external {
        return None;
    }
    let v = Viewer::first_fragment(m.bytes, m.scan_context(), &m.table);
    let ctrl = control::decode(&v, m.body).ok()?;
    let dop = ctrl.head.dop;
    let payload = if dop.info().has_payload {
        let at = ctrl.range.end;
        // A binary, bitstring or string whose head is in the fragment.
        // Any other payload runs on into the next fragments (OTP cuts a
        // message's encoding into fragments, so its payload ends in the
        // last one): it is held, not scanned here to find it goes on.
        let leaf =
            matches!(m.bytes.get(at), Some(&(tag::BINARY | tag::BIT_BINARY | tag::STRING))) && v.view(at).is_ok();
        if !leaf {
            return None;
        }
        Some(at)
    } else {
        None
    };
    let decision = classify::classify(&ctrl, payload, &v, cfg, &peer.protected).ok()?;
    let logs = decision.log && cfg.logging;
    match decision.verdict {
        Verdict::Emit if !logs => Some(Inspected { dop, decision, log: None, rewrite: None }),
        Verdict::Drop if !logs || payload.is_none() => {
            let log = logs.then(|| log_event(m, &ctrl, None, limits.max_log_bytes));
            Some(Inspected { dop, decision, log, rewrite: Some(rewrite::drop_frame(m)) })
        }
        _ => None,
    }
}

/// Read `m` to its last term as the VM's decoder would (control element
/// types, payload tags and lengths), without classifying it: the error
/// the VM would refuse it with, if any.
pub fn check(m: &Whole<'_>) -> Result<(), Error> {
    let ctx = m.scan_context();
    let v = Viewer::new(m.bytes, ctx, &m.table);
    let control_at = m.term_at(m.body)?;
    let ctrl = control::decode(&v, control_at)?;
    if ctrl.head.dop.info().has_payload {
        let mut at = m.term_at(ctrl.range.end)?;
        crate::term::skip_term(m.bytes, &mut at, &ctx)?;
    }
    Ok(())
}

/// Position after the 131 at `at` (external encoding).
fn skip_magic(bytes: &[u8], at: usize) -> Result<usize, Error> {
    match bytes.get(at) {
        Some(&VERSION_MAGIC) => Ok(at + 1),
        Some(_) => Err(Error::new(ErrorKind::BadMagic, at)),
        None => Err(Error::new(ErrorKind::Truncated, at)),
    }
}

fn log_event(m: &Whole<'_>, ctrl: &Control<'_>, payload: Option<usize>, max: u64) -> LogEvent {
    // Over `max` bytes, keep only the size: a flood must not pile up here.
    let with_magic = |r: Range<usize>| {
        let mut v = Vec::with_capacity(r.len().min(64) + 1);
        v.push(VERSION_MAGIC);
        if r.len() as u64 > max {
            v.extend_from_slice(&[104, 2]);
            v.extend_from_slice(&[119, 24]);
            v.extend_from_slice(b"erldist_filter_truncated");
            rewrite::integer(&mut v, r.len() as u64);
        } else {
            v.extend_from_slice(m.bytes.get(r).unwrap_or(&[]));
        }
        v
    };
    LogEvent {
        atoms: m.table.iter().map(|e| e.atom.clone()).collect(),
        control: with_magic(ctrl.range.clone()),
        payload: payload.map(|p| with_magic(p..m.bytes.len())),
    }
}
