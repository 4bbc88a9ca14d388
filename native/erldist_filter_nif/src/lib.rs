//! The NIF (to be written).
rustler::init!("erldist_filter_nif");
