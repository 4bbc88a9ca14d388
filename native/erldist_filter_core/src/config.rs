//! The global switches of SPEC §3, passed into every `recv` so that a change
//! applies to the next message.

/// What the filter does with each message. All off by default, as the C NIF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Rewrite multi-fragment messages into one frame once complete.
    pub compact_fragments: bool,
    /// Classify messages at all (the "break glass" when false).
    pub deep_packet_inspection: bool,
    /// Copy messages classified LOG to the logger queue.
    pub logging: bool,
    /// Drop-or-redirect means redirect to the router (true) or drop (false).
    pub redirect_dist_operations: bool,
    /// Treat sends to OTP's own registered names as suspicious.
    pub otp_name_blocklist: bool,
    /// Treat every send as suspicious and log monitor/spawn-reply/unlink.
    pub untrusted: bool,
}

impl Config {
    /// Every switch by name, in `config_get/0` order.
    pub fn entries(&self) -> [(&'static str, bool); 6] {
        [
            ("compact_fragments", self.compact_fragments),
            ("deep_packet_inspection", self.deep_packet_inspection),
            ("logging", self.logging),
            ("otp_name_blocklist", self.otp_name_blocklist),
            ("redirect_dist_operations", self.redirect_dist_operations),
            ("untrusted", self.untrusted),
        ]
    }

    /// Set the switch called `name`; false if there is no such switch.
    pub fn set(&mut self, name: &str, value: bool) -> bool {
        let slot = match name {
            "compact_fragments" => &mut self.compact_fragments,
            "deep_packet_inspection" => &mut self.deep_packet_inspection,
            "logging" => &mut self.logging,
            "otp_name_blocklist" => &mut self.otp_name_blocklist,
            "redirect_dist_operations" => &mut self.redirect_dist_operations,
            "untrusted" => &mut self.untrusted,
            _ => return false,
        };
        *slot = value;
        true
    }
}
