//! Atom cache (to be written).
