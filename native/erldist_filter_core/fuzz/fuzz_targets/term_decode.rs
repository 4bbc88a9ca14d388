//! See `check_term_decode` in `src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    erldist_filter_core_fuzz::check_term_decode(data);
});
