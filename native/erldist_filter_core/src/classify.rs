//! What to do with a message (SPEC §5): per operation, trusted or
//! untrusted, with the name rules for `net_kernel` and `rex`, the OTP name
//! blocklist and the generic payload shapes. Rules read raw bytes through a
//! [`Viewer`]; nothing is decoded into terms.

use crate::blocklist;
use crate::config::Config;
use crate::control::{altact, AltactTarget, Control, Op};
use crate::dop::Dop;
use crate::error::Error;
use crate::protected::{Guard, Protected};
use crate::term::{AtomRef, PidView, Viewer};

/// What happens to the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it unchanged.
    Emit,
    /// Replace it with the no-op.
    Drop,
    /// Replace it with a REG_SEND of it to the node's router.
    Redirect,
    /// Point the spawn request at `edf:req/3`.
    SpawnRedirect,
}

/// A classification: the verdict and whether to log the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// What happens to it.
    pub verdict: Verdict,
    /// Copy it to the logger queue (when logging is on).
    pub log: bool,
}

const EMIT: Decision = Decision { verdict: Verdict::Emit, log: false };
const LOG_EMIT: Decision = Decision { verdict: Verdict::Emit, log: true };
const LOG_DROP: Decision = Decision { verdict: Verdict::Drop, log: true };
const LOG_SPAWN: Decision = Decision { verdict: Verdict::SpawnRedirect, log: true };

/// Names of the routers, which only the filter's own rewrites may address.
pub const ROUTER_PREFIX: &str = "erldist_filter_router_";

/// Classify a decoded message. `payload` is the position of the payload
/// term in the viewer's bytes, for operations that carry one. A send to a
/// pid in `protected` is judged as a send to its name (or, unnamed and
/// with the OTP name blocklist on, always leaves the fast path).
pub fn classify(
    ctrl: &Control<'_>,
    payload: Option<usize>,
    v: &Viewer<'_>,
    cfg: &Config,
    protected: &Protected,
) -> Result<Decision, Error> {
    // "Drop or redirect", as the configuration resolves it.
    let log_dor =
        Decision { verdict: if cfg.redirect_dist_operations { Verdict::Redirect } else { Verdict::Drop }, log: true };
    let send = |rules: &dyn Fn() -> Result<bool, Error>| -> Result<Decision, Error> {
        if cfg.untrusted || rules()? {
            Ok(log_dor)
        } else {
            Ok(EMIT)
        }
    };
    let generic = || payload.map_or(Ok(false), |p| suspicious_payload(v, p));
    let to_name = |name: AtomRef<'_>| send(&|| suspicious_name_send(name, payload, v, cfg));
    let to_pid = |pid: &PidView<'_>| match protected.lookup(pid) {
        Some(Guard::Named(name)) => to_name(AtomRef::inline(name.as_bytes(), true)),
        // The pid-side of the OTP name blocklist: on with the same switch.
        Some(Guard::Unnamed) if cfg.otp_name_blocklist => Ok(log_dor),
        _ => send(&generic),
    };
    // An alias names no process we could look up. A gen request to one
    // (with the OTP name blocklist on) is the policy's: an OTP process's
    // alias, known to a peer while it waits for that peer's reply, would
    // otherwise take what its name and pid are refused.
    let to_alias = || {
        send(&|| {
            let request = cfg.otp_name_blocklist && payload.map_or(Ok(false), |p| is_gen_request(v, p))?;
            Ok(request || generic()?)
        })
    };
    let quiet = if cfg.untrusted { LOG_EMIT } else { EMIT };
    use Dop::*;
    Ok(match ctrl.head.dop {
        Link | Exit | ExitTt | PayloadExit | PayloadExitTt => LOG_DROP,
        GroupLeader | Exit2 | Exit2Tt | PayloadExit2 | PayloadExit2Tt => log_dor,
        SpawnRequest | SpawnRequestTt => LOG_SPAWN,
        Unlink | UnlinkId | UnlinkIdAck | MonitorP | DemonitorP | MonitorPExit | PayloadMonitorPExit | SpawnReply
        | SpawnReplyTt => quiet,
        Send | SendTt | SendSender | SendSenderTt => match &ctrl.op {
            Op::Send { to } | Op::SendSender { to, .. } => to_pid(to)?,
            _ => log_dor,
        },
        AliasSend | AliasSendTt => to_alias()?,
        RegSend | RegSendTt => match ctrl.op {
            Op::RegSend { to_name: name, .. } => to_name(name)?,
            _ => log_dor,
        },
        AltactSigSend => match ctrl.op {
            Op::AltactSigSend { flags, .. } if flags & altact::EXIT != 0 => log_dor,
            Op::AltactSigSend { to: AltactTarget::Name(name), .. } => to_name(name)?,
            Op::AltactSigSend { to: AltactTarget::Pid(pid), .. } => to_pid(&pid)?,
            Op::AltactSigSend { to: AltactTarget::Alias(_), .. } => to_alias()?,
            _ => send(&generic)?,
        },
    })
}

/// The name rules for a send to a registered name (SPEC §5.2).
fn suspicious_name_send(
    name: AtomRef<'_>,
    payload: Option<usize>,
    v: &Viewer<'_>,
    cfg: &Config,
) -> Result<bool, Error> {
    let Some(p) = payload else { return Ok(true) };
    if name.eq_str("net_kernel") {
        return Ok(!is_auth_call(v, p)?);
    }
    if name.eq_str("rex") {
        return Ok(!is_rex_features(v, p)?);
    }
    if is_router_name(name) {
        // Only our own rewrites address the routers: anything else is forged.
        return Ok(true);
    }
    // Blocked names are ASCII, so a Latin-1 atom matches only if it is too.
    // Bounded names (`pg`) are not blocked but always judged by the policy.
    if cfg.otp_name_blocklist
        && (name.utf8 || name.text.is_ascii())
        && (blocklist::is_blocked(name.text) || blocklist::is_bounded(name.text))
    {
        return Ok(true);
    }
    suspicious_payload(v, p)
}

fn is_router_name(a: AtomRef<'_>) -> bool {
    let prefix = ROUTER_PREFIX.as_bytes();
    a.text.len() > prefix.len() && a.text.starts_with(prefix)
}

/// `{'$gen_call', _, {is_auth, _}}`: the only call `net_kernel` takes remotely.
fn is_auth_call(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    let Some([tag, _, req]) = v.tuple::<3>(p)? else { return Ok(false) };
    if !v.is_atom(tag, "$gen_call")? {
        return Ok(false);
    }
    Ok(matches!(v.tuple::<2>(req)?, Some([is_auth, _]) if v.is_atom(is_auth, "is_auth")?))
}

/// `{_, features_request}` or `{features_reply, _, _}`: `rex`'s handshake.
fn is_rex_features(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    if let Some([_, req]) = v.tuple::<2>(p)? {
        return v.is_atom(req, "features_request");
    }
    if let Some([tag, _, _]) = v.tuple::<3>(p)? {
        return v.is_atom(tag, "features_reply");
    }
    Ok(false)
}

/// The generic payload shapes of SPEC §5.2 (1.29 rules included).
pub fn suspicious_payload(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    let Some((arity, first)) = v.tuple_head(p)? else { return Ok(false) };
    let Some(tag) = v.atom(first)? else { return Ok(false) };
    Ok(match arity {
        2 if tag.eq_str("$gen_cast") => {
            let [_, msg] = elems::<2>(v, first)?;
            matches!(v.tuple::<2>(msg)?, Some([t, _]) if v.is_atom(t, "try_again_restart")?)
        }
        3 if tag.eq_str("system") || tag.eq_str("EXIT") || tag.eq_str("io_reply") => true,
        // code_server's request shape: refused whoever it is sent to.
        3 if tag.eq_str("code_call") => true,
        3 if tag.eq_str("$gen_call") => {
            let [_, _, req] = elems::<3>(v, first)?;
            suspicious_gen_call(v, req)?
        }
        3 if tag.eq_str("remote") => {
            let [_, what, _] = elems::<3>(v, first)?;
            v.is_atom(what, "load_compiled")?
        }
        3 if tag.eq_str("command") => {
            let [_, pid, cmd] = elems::<3>(v, first)?;
            is_pid(v, pid)? && is_eunit_start(v, cmd)?
        }
        4 if tag.eq_str("io_request") => true,
        _ => false,
    })
}

/// `{'$gen_call', _, _}` or `{'$gen_cast', _}`: a request to a gen
/// process (a reply to one is `{Tag, Reply}`, never these).
fn is_gen_request(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    let Some((arity, first)) = v.tuple_head(p)? else { return Ok(false) };
    let Some(tag) = v.atom(first)? else { return Ok(false) };
    Ok((arity == 3 && tag.eq_str("$gen_call")) || (arity == 2 && tag.eq_str("$gen_cast")))
}

/// Element positions of a tuple already known to have `N` elements.
fn elems<const N: usize>(v: &Viewer<'_>, first: usize) -> Result<[usize; N], Error> {
    let mut out = [0usize; N];
    for (slot, p) in out.iter_mut().zip(v.elements(first, N as u64)) {
        *slot = p?;
    }
    Ok(out)
}

fn is_pid(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    Ok(v.view(p)?.is_pid())
}

fn is_atom_any(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    Ok(v.atom(p)?.is_some())
}

fn is_int(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    Ok(v.view(p)?.is_integer())
}

fn is_list(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    Ok(v.view(p)?.is_list())
}

/// `{Atom, Atom, List}`: an MFA with its arguments.
fn is_mfargs(v: &Viewer<'_>, p: usize) -> Result<bool, Error> {
    Ok(match v.tuple::<3>(p)? {
        Some([m, f, a]) => is_atom_any(v, m)? && is_atom_any(v, f)? && is_list(v, a)?,
        None => false,
    })
}

/// The request of a `$gen_call` that supervisors, pool, timer and
/// et_collector would execute for a remote caller.
fn suspicious_gen_call(v: &Viewer<'_>, req: usize) -> Result<bool, Error> {
    let Some((arity, first)) = v.tuple_head(req)? else { return Ok(false) };
    let Some(tag) = v.atom(first)? else { return Ok(false) };
    let one_of = |names: &[&str]| names.iter().any(|n| tag.eq_str(n));
    Ok(match arity {
        2 if one_of(&["start_child", "terminate_child", "restart_child", "delete_child"]) => true,
        2 if tag.eq_str("apply_once") => {
            let [_, spec] = elems::<2>(v, first)?;
            match v.tuple::<3>(spec)? {
                Some([a, b, mfa]) => is_int(v, a)? && is_int(v, b)? && is_mfargs(v, mfa)?,
                None => false,
            }
        }
        2 if one_of(&["apply_interval", "apply_repeatedly"]) => {
            let [_, spec] = elems::<2>(v, first)?;
            match v.tuple::<4>(spec)? {
                Some([a, b, _, mfa]) => is_int(v, a)? && is_int(v, b)? && is_mfargs(v, mfa)?,
                None => false,
            }
        }
        3 if tag.eq_str("dict_insert") => {
            let [_, key, fun] = elems::<3>(v, first)?;
            let filter_key = match v.tuple::<2>(key)? {
                Some([f, a]) => v.is_atom(f, "filter")? && is_atom_any(v, a)?,
                None => false,
            };
            filter_key && v.view(fun)?.is_fun()
        }
        5 if tag.eq_str("spawn") => {
            let [_, pid, m, f, args] = elems::<5>(v, first)?;
            is_pid(v, pid)? && is_atom_any(v, m)? && is_atom_any(v, f)? && is_list(v, args)?
        }
        _ => false,
    })
}

/// `{start, {job, Pid, _, List}}` (eunit's remote job start).
fn is_eunit_start(v: &Viewer<'_>, cmd: usize) -> Result<bool, Error> {
    let Some([start, job]) = v.tuple::<2>(cmd)? else { return Ok(false) };
    if !v.is_atom(start, "start")? {
        return Ok(false);
    }
    Ok(match v.tuple::<4>(job)? {
        Some([j, pid, _, list]) => v.is_atom(j, "job")? && is_pid(v, pid)? && is_list(v, list)?,
        None => false,
    })
}
