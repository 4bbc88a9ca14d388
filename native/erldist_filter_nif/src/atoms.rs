//! Atoms used by the NIFs (created once, at first use).

rustler::atoms! {
    ok,
    error,
    closed,
    not_owner,
    more,
    dirty,
    emit,
    undefined,
    erldist_filter,
    offset,
    limit,
    message,
    schedulers,
    // channel_inspect
    controlling_process,
    tracing_process,
    entry,
    connection_id,
    creation,
    dflags,
    sysname,
    rx,
    atom_cache,
    ioq_size,
    packet_size,
    stats,
    vec_capacity,
    vec_len,
    buffered_bytes,
    // stats
    seen,
    drop,
    redirect,
    log,
    channel,
    create,
    destroy,
    rx_stats,
    memory,
    slots,
    // router_info
    count,
    names,
    close,
    // logger
    dollar_logger = "$logger",
    select,
    dropped,
    received,
    // decode (vterm records, vdist tokens, decode modes)
    vterm_small_integer_ext,
    vterm_integer_ext,
    vterm_small_big_ext,
    vterm_large_big_ext,
    vterm_float_ext,
    vterm_new_float_ext,
    vterm_atom_ext,
    vterm_small_atom_ext,
    vterm_atom_utf8_ext,
    vterm_small_atom_utf8_ext,
    vterm_atom_cache_ref_resolved,
    vterm_pid_ext,
    vterm_new_pid_ext,
    vterm_port_ext,
    vterm_new_port_ext,
    vterm_v4_port_ext,
    vterm_reference_ext,
    vterm_new_reference_ext,
    vterm_newer_reference_ext,
    vterm_small_tuple_ext,
    vterm_large_tuple_ext,
    vterm_nil_ext,
    vterm_string_ext,
    vterm_list_ext,
    vterm_map_ext,
    vterm_binary_ext,
    vterm_bit_binary_ext,
    vterm_new_fun_ext,
    vterm_export_ext,
    vterm_record_ext,
    vterm_lazy_term,
    none,
    some,
    ext_term,
    ext_vterm,
    int_vterm,
    ext_vdist,
    int_vdist,
}

use rustler::{Atom, Env, Error, NifResult, Term};

/// The UTF-8 text of an atom term (any atom, Latin-1 or not); `badarg` if
/// `term` is not an atom. Reads the external encoding, which on OTP 25 is
/// `SMALL_ATOM_UTF8_EXT`/`ATOM_UTF8_EXT` (older tags handled too).
pub fn atom_text(term: Term) -> NifResult<String> {
    if !term.is_atom() {
        return Err(Error::BadArg);
    }
    let ext = term.to_binary();
    let bytes = ext.as_slice();
    let (utf8, text) = match bytes {
        [131, 119, len, rest @ ..] => (true, rest.get(..usize::from(*len))),
        [131, 118, hi, lo, rest @ ..] => (true, rest.get(..usize::from(u16::from_be_bytes([*hi, *lo])))),
        [131, 115, len, rest @ ..] => (false, rest.get(..usize::from(*len))),
        [131, 100, hi, lo, rest @ ..] => (false, rest.get(..usize::from(u16::from_be_bytes([*hi, *lo])))),
        _ => (false, None),
    };
    let text = text.ok_or(Error::BadArg)?;
    if utf8 {
        String::from_utf8(text.to_vec()).map_err(|_| Error::BadArg)
    } else {
        Ok(text.iter().map(|&b| char::from(b)).collect())
    }
}

/// The atom with UTF-8 text `text`, created if needed. NIF 2.16 can only
/// create Latin-1 atoms directly, so other text goes through
/// `binary_to_term` of an `ATOM_UTF8_EXT` (SPEC decision 6).
pub fn make_atom<'a>(env: Env<'a>, text: &str) -> NifResult<Term<'a>> {
    if text.is_ascii() {
        return Atom::from_str(env, text).map(|a| a.to_term(env));
    }
    let len = u16::try_from(text.len()).map_err(|_| Error::BadArg)?;
    let mut ext = Vec::with_capacity(text.len() + 4);
    ext.push(131);
    ext.push(118);
    ext.extend_from_slice(&len.to_be_bytes());
    ext.extend_from_slice(text.as_bytes());
    // SAFETY: `ext` is a well-formed ATOM_UTF8_EXT built above from valid
    // UTF-8; the trusted variant is needed because the SAFE flag refuses to
    // create atoms, and a peer's new atom must be creatable here.
    match unsafe { env.binary_to_term_trusted(&ext) } {
        Some((t, _)) if t.is_atom() => Ok(t),
        _ => Err(Error::BadArg),
    }
}
