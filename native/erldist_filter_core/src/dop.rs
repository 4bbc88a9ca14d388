//! Distribution operations (the first element of every control message):
//! their numbers, names, control arities and where a trace token sits.

/// A defined distribution operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Dop {
    Link = 1,
    Send = 2,
    Exit = 3,
    Unlink = 4,
    RegSend = 6,
    GroupLeader = 7,
    Exit2 = 8,
    SendTt = 12,
    ExitTt = 13,
    RegSendTt = 16,
    Exit2Tt = 18,
    MonitorP = 19,
    DemonitorP = 20,
    MonitorPExit = 21,
    SendSender = 22,
    SendSenderTt = 23,
    PayloadExit = 24,
    PayloadExitTt = 25,
    PayloadExit2 = 26,
    PayloadExit2Tt = 27,
    PayloadMonitorPExit = 28,
    SpawnRequest = 29,
    SpawnRequestTt = 30,
    SpawnReply = 31,
    SpawnReplyTt = 32,
    AliasSend = 33,
    AliasSendTt = 34,
    UnlinkId = 35,
    UnlinkIdAck = 36,
    AltactSigSend = 37,
}

/// Highest defined operation number; stats arrays are indexed by code.
pub const MAX_DOP: usize = 37;

/// Static facts about one operation.
#[derive(Clone, Copy, Debug)]
pub struct DopInfo {
    /// The operation.
    pub dop: Dop,
    /// snake_case name, as in the `dop_<name>` stats keys.
    pub name: &'static str,
    /// Control tuple arities allowed (altact has two).
    pub arities: &'static [u32],
    /// Whether a payload term follows the control message.
    pub has_payload: bool,
    /// 0-based tuple position of the trace token, if any.
    pub token_pos: Option<u32>,
}

const fn info(
    dop: Dop,
    name: &'static str,
    arities: &'static [u32],
    has_payload: bool,
    token_pos: Option<u32>,
) -> DopInfo {
    DopInfo { dop, name, arities, has_payload, token_pos }
}

/// Every defined operation in code order.
pub const ALL: [DopInfo; 30] = [
    info(Dop::Link, "link", &[3], false, None),
    info(Dop::Send, "send", &[3], true, None),
    info(Dop::Exit, "exit", &[4], false, None),
    info(Dop::Unlink, "unlink", &[3], false, None),
    info(Dop::RegSend, "reg_send", &[4], true, None),
    info(Dop::GroupLeader, "group_leader", &[3], false, None),
    info(Dop::Exit2, "exit2", &[4], false, None),
    info(Dop::SendTt, "send_tt", &[4], true, Some(3)),
    info(Dop::ExitTt, "exit_tt", &[5], false, Some(3)),
    info(Dop::RegSendTt, "reg_send_tt", &[5], true, Some(4)),
    info(Dop::Exit2Tt, "exit2_tt", &[5], false, Some(3)),
    info(Dop::MonitorP, "monitor_p", &[4], false, None),
    info(Dop::DemonitorP, "demonitor_p", &[4], false, None),
    info(Dop::MonitorPExit, "monitor_p_exit", &[5], false, None),
    info(Dop::SendSender, "send_sender", &[3], true, None),
    info(Dop::SendSenderTt, "send_sender_tt", &[4], true, Some(3)),
    info(Dop::PayloadExit, "payload_exit", &[3], true, None),
    info(Dop::PayloadExitTt, "payload_exit_tt", &[4], true, Some(3)),
    info(Dop::PayloadExit2, "payload_exit2", &[3], true, None),
    info(Dop::PayloadExit2Tt, "payload_exit2_tt", &[4], true, Some(3)),
    info(Dop::PayloadMonitorPExit, "payload_monitor_p_exit", &[4], true, None),
    info(Dop::SpawnRequest, "spawn_request", &[6], true, None),
    info(Dop::SpawnRequestTt, "spawn_request_tt", &[7], true, Some(6)),
    info(Dop::SpawnReply, "spawn_reply", &[5], false, None),
    info(Dop::SpawnReplyTt, "spawn_reply_tt", &[6], false, Some(5)),
    info(Dop::AliasSend, "alias_send", &[3], true, None),
    info(Dop::AliasSendTt, "alias_send_tt", &[4], true, Some(3)),
    info(Dop::UnlinkId, "unlink_id", &[4], false, None),
    info(Dop::UnlinkIdAck, "unlink_id_ack", &[4], false, None),
    info(Dop::AltactSigSend, "altact_sig_send", &[4, 5], true, Some(4)),
];

/// Position in `ALL` by operation number (`NONE`: not defined), so that
/// looking an operation up per message is one index, not a search.
const BY_CODE: [u8; MAX_DOP + 1] = {
    let mut table = [NONE; MAX_DOP + 1];
    let mut i = 0;
    // Evaluated at compile time: a bad index fails the build, not a call.
    #[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
    while i < ALL.len() {
        table[ALL[i].dop as usize] = i as u8;
        i += 1;
    }
    table
};
const NONE: u8 = u8::MAX;

impl Dop {
    /// The operation with number `code`, if OTP defines it.
    pub fn from_code(code: i64) -> Option<Dop> {
        let index = *BY_CODE.get(usize::try_from(code).ok()?)?;
        ALL.get(usize::from(index)).map(|i| i.dop)
    }

    /// Its number on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Its static facts.
    pub fn info(self) -> &'static DopInfo {
        // Every `Dop` is in the table; the fallback only keeps this total.
        BY_CODE.get(self as usize).and_then(|&i| ALL.get(usize::from(i))).unwrap_or(&ALL[0])
    }

    /// snake_case name.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_rejected() {
        for i in ALL.iter() {
            assert_eq!(Dop::from_code(i.dop as i64), Some(i.dop));
            assert_eq!(i.dop.info().name, i.name);
        }
        for code in [0, 5, 9, 10, 11, 14, 15, 17, 38, -1, 256] {
            assert_eq!(Dop::from_code(code), None);
        }
    }
}
