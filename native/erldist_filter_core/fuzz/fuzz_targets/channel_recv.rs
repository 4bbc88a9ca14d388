//! `Channel::recv` on an arbitrary byte stream, fed whole and cut at points
//! taken from the input, with a packet size, flag set, limit set and work
//! budget taken from the input (layout in `src/lib.rs`). Asserts: no panic,
//! consumed <= input, held bytes and open sequences within the limits,
//! emitted ranges within what was consumed, and the same frames whole and
//! chunked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    erldist_filter_core_fuzz::check_channel(data);
});
