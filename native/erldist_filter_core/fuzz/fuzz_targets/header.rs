//! `header::read_frame_kind` + `header::read_atom_table` on two arbitrary
//! frames sharing one atom cache: no panic, offsets within the frame, the
//! table as long as its count, old references resolved from the cache and
//! new ones written to it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    erldist_filter_core_fuzz::check_header(data);
});
