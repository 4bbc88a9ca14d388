//! The VM's side of the atom-table guard: whether an atom exists (asked
//! through the public NIF API, without creating it), the per-node tallies
//! of new atoms, kept across reconnects, and the node-wide one all
//! channels share.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use erldist_filter_core::{AtomExistence, NewAtomTally};
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use rustler::Env;

/// `ATOM_EXT` and `ATOM_UTF8_EXT`.
const ATOM_EXT: u8 = 100;
const ATOM_UTF8_EXT: u8 = 118;

/// Asks the VM through `enif_binary_to_term` with `ERL_NIF_BIN2TERM_SAFE`,
/// which refuses to create atoms: it decodes exactly when the atom exists.
pub struct VmAtoms<'a> {
    env: Env<'a>,
}

impl<'a> VmAtoms<'a> {
    pub fn new(env: Env<'a>) -> Self {
        VmAtoms { env }
    }
}

impl AtomExistence for VmAtoms<'_> {
    fn exists(&self, text: &[u8], utf8: bool) -> bool {
        let Ok(len) = u16::try_from(text.len()) else {
            return false;
        };
        let mut ext = Vec::with_capacity(text.len() + 4);
        ext.extend_from_slice(&[131, if utf8 { ATOM_UTF8_EXT } else { ATOM_EXT }]);
        ext.extend_from_slice(&len.to_be_bytes());
        ext.extend_from_slice(text);
        self.env.binary_to_term(&ext).is_some()
    }
}

/// New atoms admitted per node name. One small entry per node name ever
/// connected (each name is an atom of the VM already).
static TALLIES: Lazy<Mutex<HashMap<String, NewAtomTally>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The tally of node `sysname`, shared by all its channels.
pub fn tally_for(sysname: &str) -> NewAtomTally {
    Arc::clone(TALLIES.lock().entry(sysname.to_owned()).or_insert_with(|| Arc::new(AtomicU64::new(0))))
}

/// New atoms admitted from all nodes together (`max_new_atoms_total`).
static ALL: Lazy<NewAtomTally> = Lazy::new(|| Arc::new(AtomicU64::new(0)));

/// The node-wide tally, shared by every channel.
pub fn tally_all() -> NewAtomTally {
    Arc::clone(&ALL)
}
