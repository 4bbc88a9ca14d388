//! Every bound the channel enforces on what a peer can make it hold.
//! Exceeding one is an error naming the limit; nothing is allocated from a
//! declared length before it has been checked here.

use crate::rate::Policy;

/// Per-channel bounds. Defaults are generous for real traffic (OTP cuts
/// fragments at 64 KiB) and small enough that a hostile peer cannot exhaust
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest packet (one length-prefixed frame) accepted, in bytes.
    pub max_packet_len: u64,
    /// Most fragments one message may declare.
    pub max_fragments: u64,
    /// Most fragmented messages in flight at once on one channel.
    pub max_sequences: u64,
    /// Most bytes held for one channel (partial packet + held fragments).
    pub max_buffered_bytes: u64,
    /// Longest atom text accepted, in bytes (OTP allows 255 characters,
    /// up to 1020 bytes of UTF-8).
    pub max_atom_bytes: u64,
    /// Largest message, in bytes over all its fragments; checked as
    /// fragments arrive, so nothing over it is ever held.
    pub max_message_bytes: u64,
    /// Largest control or payload copied into a log event; a larger one is
    /// logged as `{erldist_filter_truncated, Size}` so a flood cannot pile
    /// up in the logger queue.
    pub max_log_bytes: u64,
    /// Bytes per second a peer may send (0 = unlimited); bursts of one
    /// second's worth pass.
    pub max_bytes_per_sec: u64,
    /// Messages per second a peer may send (0 = unlimited).
    pub max_messages_per_sec: u64,
    /// What happens to traffic over the two rates.
    pub rate_policy: Policy,
    /// New atoms (not yet in the node's atom table) one node may make the
    /// node create, over all its connections (0 = unlimited: the guard is
    /// off and costs nothing).
    pub max_new_atoms: u64,
    /// New atoms all peer nodes together may make the node create, over
    /// all their connections (0 = no node-wide bound). Shared by every
    /// channel, so no set of peers can exceed it, however many.
    pub max_new_atoms_total: u64,
    /// What happens to a message whose inline atoms would go over
    /// `max_new_atoms` or `max_new_atoms_total` (a header's atom-cache
    /// writes always close).
    pub atom_policy: Policy,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packet_len: 128 * 1024 * 1024,
            max_fragments: 1 << 20,
            max_sequences: 1024,
            max_buffered_bytes: 256 * 1024 * 1024,
            max_atom_bytes: 1020,
            max_message_bytes: 256 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            max_bytes_per_sec: 0,
            max_messages_per_sec: 0,
            rate_policy: Policy::Close,
            max_new_atoms: 0,
            max_new_atoms_total: 0,
            atom_policy: Policy::Close,
        }
    }
}

impl Limits {
    /// Every limit by name, for `limits_get/0`.
    pub fn entries(&self) -> [(&'static str, u64); 11] {
        [
            ("max_packet_len", self.max_packet_len),
            ("max_fragments", self.max_fragments),
            ("max_sequences", self.max_sequences),
            ("max_buffered_bytes", self.max_buffered_bytes),
            ("max_atom_bytes", self.max_atom_bytes),
            ("max_message_bytes", self.max_message_bytes),
            ("max_log_bytes", self.max_log_bytes),
            ("max_bytes_per_sec", self.max_bytes_per_sec),
            ("max_messages_per_sec", self.max_messages_per_sec),
            ("max_new_atoms", self.max_new_atoms),
            ("max_new_atoms_total", self.max_new_atoms_total),
        ]
    }

    /// Set the limit called `name`; false if there is no such limit.
    pub fn set(&mut self, name: &str, value: u64) -> bool {
        let slot = match name {
            "max_packet_len" => &mut self.max_packet_len,
            "max_fragments" => &mut self.max_fragments,
            "max_sequences" => &mut self.max_sequences,
            "max_buffered_bytes" => &mut self.max_buffered_bytes,
            "max_atom_bytes" => &mut self.max_atom_bytes,
            "max_message_bytes" => &mut self.max_message_bytes,
            "max_log_bytes" => &mut self.max_log_bytes,
            "max_bytes_per_sec" => &mut self.max_bytes_per_sec,
            "max_messages_per_sec" => &mut self.max_messages_per_sec,
            "max_new_atoms" => &mut self.max_new_atoms,
            "max_new_atoms_total" => &mut self.max_new_atoms_total,
            _ => return false,
        };
        *slot = value;
        true
    }
}

impl Limits {
    /// The policies by name, for `limits_get/0`.
    pub fn policies(&self) -> [(&'static str, Policy); 2] {
        [("rate_policy", self.rate_policy), ("atom_policy", self.atom_policy)]
    }

    /// Set the policy called `name`; false if there is no such policy.
    pub fn set_policy(&mut self, name: &str, policy: Policy) -> bool {
        match name {
            "rate_policy" => self.rate_policy = policy,
            "atom_policy" => self.atom_policy = policy,
            _ => return false,
        }
        true
    }
}

impl Limits {
    /// The two budgets of the atom-table guard.
    pub fn atom_budget(&self) -> crate::atom_guard::AtomBudget {
        crate::atom_guard::AtomBudget { per_node: self.max_new_atoms, total: self.max_new_atoms_total }
    }
}
