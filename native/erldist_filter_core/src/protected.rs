//! The node's protected processes (issue 16): every registered process and
//! OTP's own (supervisors, application masters, group leaders, ...), by
//! pid. A send to one of these pids is judged as a send to its name, so
//! addressing a process by pid is no way around the name rules.
//!
//! The set is computed on the Erlang side (`erldist_filter_protected`) and
//! handed in whole; lookups never allocate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::atom::Atom;
use crate::term::PidView;

/// Local pids that get the name rules, keyed by `(id, serial)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Protected {
    /// This node's name (UTF-8).
    node: Atom,
    /// This node's creation.
    creation: u32,
    /// `(id << 32) | serial` to the registered name, if any.
    pids: HashMap<u64, Option<Atom>, BuildHasherDefault<PidHasher>>,
}

/// What a protected pid is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard<'p> {
    /// A registered process: judged as a send to this name.
    Named(&'p Atom),
    /// An OTP process without a name (a supervisor, an application master,
    /// a group leader): always judged by the policy.
    Unnamed,
}

impl Protected {
    /// An empty set for the node `node` of incarnation `creation`.
    pub fn new(node: Atom, creation: u32) -> Self {
        Protected { node, creation, pids: HashMap::default() }
    }

    /// Protect the local pid `(id, serial)`, registered as `name` if any.
    pub fn insert(&mut self, id: u32, serial: u32, name: Option<Atom>) {
        self.pids.insert(key(id, serial), name);
    }

    /// How many pids are protected.
    pub fn len(&self) -> usize {
        self.pids.len()
    }

    /// Whether no pid is protected.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    /// The guard on `pid`, if it is one of this node's protected processes.
    /// A pid of another incarnation of this node is another process (the
    /// VM never delivers to it), except creation 0, which older VMs took as
    /// "this node": matching it too errs on the safe side.
    pub fn lookup(&self, pid: &PidView<'_>) -> Option<Guard<'_>> {
        if self.pids.is_empty() || (pid.creation != self.creation && pid.creation != 0) {
            return None;
        }
        if !pid.node.eq_utf8(self.node.as_bytes()) {
            return None;
        }
        self.pids.get(&key(pid.id, pid.serial)).map(|name| name.as_ref().map_or(Guard::Unnamed, Guard::Named))
    }
}

fn key(id: u32, serial: u32) -> u64 {
    (u64::from(id) << 32) | u64::from(serial)
}

/// The hash of a `(id << 32) | serial` key: one multiply and a fold (as
/// FxHash does), instead of SipHash's rounds. SipHash's keyed rounds guard
/// a table that peers insert into; this one only ever holds the node's own
/// pids, set by us (a peer's pid only probes it, and a probe for a missing
/// key ends at the first empty slot), and its keys are nearly sequential
/// ids, which a multiply spreads over the high bits and the fold brings
/// down to the low ones the table indexes by.
#[derive(Clone, Copy, Debug, Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::AtomRef;

    fn pid<'a>(node: &'a [u8], id: u32, serial: u32, creation: u32) -> PidView<'a> {
        PidView { node: AtomRef::inline(node, false), id, serial, creation }
    }

    #[test]
    fn lookup_matches_node_creation_and_number() {
        let mut p = Protected::new(Atom::from_utf8(b"v@h").unwrap_or_default(), 7);
        p.insert(0, 0, Some(Atom::from_utf8(b"init").unwrap_or_default()));
        p.insert(42, 1, None);
        assert!(matches!(p.lookup(&pid(b"v@h", 0, 0, 7)), Some(Guard::Named(n)) if n.as_bytes() == b"init"));
        assert_eq!(p.lookup(&pid(b"v@h", 42, 1, 7)), Some(Guard::Unnamed));
        assert_eq!(p.lookup(&pid(b"v@h", 42, 1, 0)), Some(Guard::Unnamed));
        assert_eq!(p.lookup(&pid(b"v@h", 42, 1, 8)), None, "another incarnation");
        assert_eq!(p.lookup(&pid(b"w@h", 42, 1, 7)), None, "another node");
        assert_eq!(p.lookup(&pid(b"v@h", 42, 0, 7)), None, "another serial");
        assert_eq!(p.lookup(&pid(b"v@h", 43, 1, 7)), None, "another id");
    }
}
