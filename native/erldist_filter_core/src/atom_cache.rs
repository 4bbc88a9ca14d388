//! The receive-side atom cache of one connection (2048 slots; senders use
//! indexes below 2039). Allocated on the first write and sized by what is
//! used, so an idle channel costs nothing: a 4 KiB slot index points into a
//! dense vector of the atoms actually seen.

use crate::atom::Atom;

/// Number of slots in the distribution atom cache.
pub const ATOM_CACHE_SIZE: usize = 2048;

/// What writing a slot did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// The slot was empty.
    New,
    /// The slot already held this atom.
    Same,
    /// The slot held a different atom, now replaced.
    Overwrite,
}

/// The receive atom cache.
#[derive(Clone, Debug, Default)]
pub struct AtomCache {
    /// Slot → position + 1 in `atoms` (0 = empty). `None` until first write.
    slots: Option<Box<[u16; ATOM_CACHE_SIZE]>>,
    atoms: Vec<Atom>,
}

impl AtomCache {
    /// The atom in slot `index`, if any.
    #[inline]
    pub fn get(&self, index: u16) -> Option<&Atom> {
        let slots = self.slots.as_ref()?;
        let pos = *slots.get(index as usize)?;
        self.atoms.get((pos as usize).checked_sub(1)?)
    }

    /// Store `atom` in slot `index` (which the caller has range-checked;
    /// out-of-range indexes are ignored and reported as `Same`).
    pub fn put(&mut self, index: u16, atom: Atom) -> Write {
        let slots = self.slots.get_or_insert_with(|| Box::new([0u16; ATOM_CACHE_SIZE]));
        let Some(slot) = slots.get_mut(index as usize) else { return Write::Same };
        match (*slot as usize).checked_sub(1).and_then(|p| self.atoms.get_mut(p)) {
            Some(existing) if *existing == atom => Write::Same,
            Some(existing) => {
                *existing = atom;
                Write::Overwrite
            }
            None => {
                self.atoms.push(atom);
                // At most ATOM_CACHE_SIZE atoms ever, so this fits in u16.
                *slot = u16::try_from(self.atoms.len()).unwrap_or(u16::MAX);
                Write::New
            }
        }
    }

    /// Every filled slot in ascending order.
    pub fn entries(&self) -> Vec<(u16, Atom)> {
        let Some(slots) = self.slots.as_ref() else { return Vec::new() };
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| {
                let atom = self.atoms.get((p as usize).checked_sub(1)?)?;
                Some((u16::try_from(i).ok()?, atom.clone()))
            })
            .collect()
    }

    /// Bytes held (the tests check that an unused cache holds none).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.slots.as_ref().map_or(0, |_| ATOM_CACHE_SIZE * 2) + self.atoms.capacity() * std::mem::size_of::<Atom>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Atom {
        Atom::from_utf8(s.as_bytes()).unwrap()
    }

    #[test]
    fn empty_until_written_then_reports_overwrites() {
        let mut c = AtomCache::default();
        assert_eq!(c.get(5), None);
        assert_eq!(c.heap_bytes(), 0);
        assert_eq!(c.put(5, atom("a")), Write::New);
        assert_eq!(c.put(5, atom("a")), Write::Same);
        assert_eq!(c.put(5, atom("b")), Write::Overwrite);
        assert_eq!(c.get(5), Some(&atom("b")));
        assert_eq!(c.put(2047, atom("z")), Write::New);
        assert_eq!(c.put(2048, atom("x")), Write::Same);
        assert_eq!(c.entries(), vec![(5, atom("b")), (2047, atom("z"))]);
    }
}
