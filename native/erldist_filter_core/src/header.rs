//! Dist headers (to be written).
