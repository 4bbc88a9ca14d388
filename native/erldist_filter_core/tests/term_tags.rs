//! One hand-written vector per tag: the decoder builds the expected term,
//! the scanner consumes exactly the vector (one-shot and in 1-unit slices),
//! the view sees the right variant, and every strict prefix is an error.
//! Then the malformed and unsupported cases, each with its error kind.

use erldist_filter_core::term::{
    decode, encode, skip_term, tag, Fun, NoAtoms, Pid, Port, Record, Ref, Scan, ScanContext, Scanner, Term, TermFlags,
    View, Viewer,
};
use erldist_filter_core::Atom;
use erldist_filter_core::Budget;
use erldist_filter_core::ErrorKind;

fn a(s: &str) -> Atom {
    Atom::from_utf8(s.as_bytes()).unwrap()
}

fn ta(s: &str) -> Term {
    Term::Atom(a(s))
}

/// `SMALL_ATOM_UTF8_EXT` bytes.
fn sa(s: &str) -> Vec<u8> {
    let mut v = vec![tag::SMALL_ATOM_UTF8, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn table() -> Vec<Atom> {
    vec![a("zero"), a("one"), a("héllo")]
}

fn ctx() -> ScanContext {
    ScanContext::internal(3)
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    term: Term,
    flags: TermFlags,
    /// Does `encode(term)` give back exactly these bytes?
    canonical: bool,
}

fn case(name: &'static str, bytes: Vec<u8>, term: Term) -> Case {
    Case { name, bytes, term, flags: TermFlags::default(), canonical: false }
}

fn pid_bytes(new: bool) -> Vec<u8> {
    let mut v = vec![if new { tag::NEW_PID } else { tag::PID }];
    v.extend(sa("n@h"));
    v.extend([0, 0, 0, 7, 0, 0, 0, 8]);
    if new {
        v.extend([0, 0, 1, 0]);
    } else {
        v.push(3);
    }
    v
}

fn fun_bytes(free: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![2u8]; // arity
    body.extend([0xAB; 16]);
    body.extend([0, 0, 0, 4]); // index
    body.extend((free.len() as u32).to_be_bytes());
    body.extend(sa("m"));
    body.extend([tag::SMALL_INTEGER, 4]);
    body.extend([tag::INTEGER, 0xFF, 0xFF, 0xFF, 0xFE]);
    body.extend(pid_bytes(true));
    for f in free {
        body.extend_from_slice(f);
    }
    let mut v = vec![tag::NEW_FUN];
    v.extend((body.len() as u32 + 4).to_be_bytes());
    v.extend(body);
    v
}

fn the_pid(creation: u32) -> Pid {
    Pid { node: a("n@h"), id: 7, serial: 8, creation }
}

fn the_fun(free: Vec<Term>) -> Term {
    Term::Fun(Box::new(Fun {
        arity: 2,
        uniq: [0xAB; 16],
        index: 4,
        module: a("m"),
        old_index: 4,
        old_uniq: -2,
        pid: the_pid(256),
        free,
    }))
}

fn cases() -> Vec<Case> {
    let big9 = [1u8, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut float_str = b"3.50000000000000000000e+00".to_vec();
    float_str.resize(31, 0);
    let mut v = vec![
        Case { canonical: true, ..case("small_integer", vec![97, 5], Term::Int(5)) },
        Case { canonical: true, ..case("integer", vec![98, 255, 255, 255, 251], Term::Int(-5)) },
        Case { canonical: true, ..case("small_big_fits_i64", vec![110, 6, 0, 0, 0, 0, 0, 0, 1], Term::Int(1 << 40)) },
        case("small_big_min_i64", vec![110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80], Term::Int(i64::MIN)),
        case("small_big_neg_zero", vec![110, 1, 1, 0], Term::Int(0)),
        Case {
            canonical: true,
            ..case("small_big", cat(&[&[110, 9, 1], &big9]), Term::BigInt { negative: true, magnitude: big9.to_vec() })
        },
        case(
            "large_big",
            cat(&[&[111, 0, 0, 0, 9, 0], &big9]),
            Term::BigInt { negative: false, magnitude: big9.to_vec() },
        ),
        Case { canonical: true, ..case("new_float", vec![70, 64, 12, 0, 0, 0, 0, 0, 0], Term::Float(3.5)) },
        case("float", cat(&[&[99], &float_str]), Term::Float(3.5)),
        case("atom_latin1", vec![100, 0, 2, b'h', 0xE9], ta("hé")),
        case("small_atom_latin1", vec![115, 2, b'h', 0xE9], ta("hé")),
        case("atom_utf8", vec![118, 0, 3, b'h', 0xC3, 0xA9], ta("hé")),
        Case { canonical: true, ..case("small_atom_utf8", vec![119, 3, b'h', 0xC3, 0xA9], ta("hé")) },
        Case { canonical: true, ..case("atom_cache_ref", vec![82, 2], Term::CacheRef { index: 2, atom: a("héllo") }) },
        Case {
            canonical: true,
            ..case("small_tuple", vec![104, 2, 97, 1, 106], Term::Tuple(vec![Term::Int(1), Term::Nil]))
        },
        Case { canonical: true, ..case("empty_tuple", vec![104, 0], Term::Tuple(vec![])) },
        case("large_tuple", vec![105, 0, 0, 0, 1, 97, 1], Term::Tuple(vec![Term::Int(1)])),
        Case { canonical: true, ..case("nil", vec![106], Term::Nil) },
        Case { canonical: true, ..case("string", vec![107, 0, 2, 1, 2], Term::String(vec![1, 2])) },
        Case {
            canonical: true,
            ..case(
                "improper_list",
                vec![108, 0, 0, 0, 1, 97, 1, 97, 2],
                Term::List(vec![Term::Int(1)], Box::new(Term::Int(2))),
            )
        },
        Case {
            canonical: true,
            ..case(
                "proper_list",
                cat(&[&[108, 0, 0, 0, 2], &sa("x"), &[104, 0, 106]]),
                Term::List(vec![ta("x"), Term::Tuple(vec![])], Box::new(Term::Nil)),
            )
        },
        case("empty_list_ext", vec![108, 0, 0, 0, 0, 97, 5], Term::List(vec![], Box::new(Term::Int(5)))),
        Case { canonical: true, ..case("binary", vec![109, 0, 0, 0, 2, 1, 2], Term::Binary(vec![1, 2])) },
        Case { canonical: true, ..case("bit_binary", vec![77, 0, 0, 0, 2, 3, 1, 64], Term::BitBinary(vec![1, 64], 3)) },
        case("empty_bit_binary", vec![77, 0, 0, 0, 0, 0], Term::BitBinary(vec![], 0)),
        Case {
            canonical: true,
            ..case(
                "map",
                vec![116, 0, 0, 0, 2, 97, 1, 97, 2, 106, 104, 0],
                Term::Map(vec![(Term::Int(1), Term::Int(2)), (Term::Nil, Term::Tuple(vec![]))]),
            )
        },
        case("pid", pid_bytes(false), Term::Pid(the_pid(3))),
        Case { canonical: true, ..case("new_pid", pid_bytes(true), Term::Pid(the_pid(256))) },
        case(
            "port",
            cat(&[&[102], &sa("n@h"), &[0, 0, 0, 9, 2]]),
            Term::Port(Port { node: a("n@h"), id: 9, creation: 2 }),
        ),
        Case {
            canonical: true,
            ..case(
                "new_port",
                cat(&[&[89], &sa("n@h"), &[0, 0, 0, 9, 0, 0, 0, 2]]),
                Term::Port(Port { node: a("n@h"), id: 9, creation: 2 }),
            )
        },
        Case {
            canonical: true,
            ..case(
                "v4_port",
                cat(&[&[120], &sa("n@h"), &[0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 2]]),
                Term::Port(Port { node: a("n@h"), id: (1 << 32) + 9, creation: 2 }),
            )
        },
        case(
            "reference",
            cat(&[&[101], &sa("n@h"), &[0, 0, 0, 5, 1]]),
            Term::Ref(Ref { node: a("n@h"), creation: 1, ids: vec![5] }),
        ),
        case(
            "new_reference",
            cat(&[&[114, 0, 2], &sa("n@h"), &[1, 0, 0, 0, 5, 0, 0, 0, 6]]),
            Term::Ref(Ref { node: a("n@h"), creation: 1, ids: vec![5, 6] }),
        ),
        Case {
            canonical: true,
            ..case(
                "newer_reference",
                cat(&[&[90, 0, 3], &sa("n@h"), &[0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7]]),
                Term::Ref(Ref { node: a("n@h"), creation: 1, ids: vec![5, 6, 7] }),
            )
        },
        case(
            "reference_node_cache_ref",
            vec![101, 82, 1, 0, 0, 0, 5, 1],
            Term::Ref(Ref { node: a("one"), creation: 1, ids: vec![5] }),
        ),
        Case {
            canonical: true,
            flags: TermFlags { has_export: false, has_new_fun: true },
            ..case("new_fun", fun_bytes(&[&[97, 1], &[106]]), the_fun(vec![Term::Int(1), Term::Nil]))
        },
        Case {
            canonical: true,
            flags: TermFlags { has_export: false, has_new_fun: true },
            ..case("new_fun_no_free", fun_bytes(&[]), the_fun(vec![]))
        },
        Case {
            canonical: true,
            flags: TermFlags { has_export: true, has_new_fun: false },
            ..case(
                "export",
                cat(&[&[113], &sa("lists"), &sa("map"), &[97, 2]]),
                Term::Export { module: a("lists"), function: a("map"), arity: 2 },
            )
        },
        Case {
            flags: TermFlags { has_export: true, has_new_fun: false },
            ..case(
                "export_integer_arity",
                cat(&[&[113], &sa("lists"), &sa("map"), &[98, 0, 0, 0, 2]]),
                Term::Export { module: a("lists"), function: a("map"), arity: 2 },
            )
        },
        Case {
            // Not canonical: a field name that was a cache ref is re-encoded inline.
            canonical: false,
            ..case(
                "record",
                cat(&[&[67, 0, 0, 0, 2, 1], &sa("m"), &sa("r"), &sa("f1"), &[82, 0], &[97, 1], &[106]]),
                Term::Record(Box::new(Record {
                    exported: true,
                    module: a("m"),
                    name: a("r"),
                    fields: vec![(a("f1"), Term::Int(1)), (a("zero"), Term::Nil)],
                })),
            )
        },
        Case {
            canonical: true,
            ..case(
                "empty_record",
                cat(&[&[67, 0, 0, 0, 0, 0], &sa("m"), &sa("r")]),
                Term::Record(Box::new(Record { exported: false, module: a("m"), name: a("r"), fields: vec![] })),
            )
        },
    ];
    // A nested case with both kinds of fun inside a map inside a list.
    let export = cat(&[&[113], &sa("lists"), &sa("map"), &[97, 2]]);
    let nested = cat(&[&[108, 0, 0, 0, 1, 116, 0, 0, 0, 1], &export, &fun_bytes(&[&export]), &[106]]);
    let export_t = Term::Export { module: a("lists"), function: a("map"), arity: 2 };
    v.push(Case {
        canonical: true,
        flags: TermFlags { has_export: true, has_new_fun: true },
        ..case(
            "nested",
            nested,
            Term::List(vec![Term::Map(vec![(export_t.clone(), the_fun(vec![export_t]))])], Box::new(Term::Nil)),
        )
    });
    v
}

#[test]
fn every_tag_decodes_scans_and_views() {
    let atoms = table();
    for c in cases() {
        let n = c.name;
        let mut pos = 0;
        let t = decode(&c.bytes, &mut pos, &ctx(), &atoms).unwrap_or_else(|e| panic!("{n}: {e:?}"));
        assert_eq!(t, c.term, "{n}");
        assert_eq!(pos, c.bytes.len(), "{n}: decoder end");

        let mut pos = 0;
        let flags = skip_term(&c.bytes, &mut pos, &ctx()).unwrap_or_else(|e| panic!("{n}: {e:?}"));
        assert_eq!(pos, c.bytes.len(), "{n}: scanner end");
        assert_eq!(flags, c.flags, "{n}: flags");

        // With trailing bytes, both stop at the term's end.
        let mut longer = c.bytes.clone();
        longer.extend([106, 106]);
        let mut pos = 0;
        skip_term(&longer, &mut pos, &ctx()).unwrap();
        assert_eq!(pos, c.bytes.len(), "{n}: scanner end with trailing bytes");
        let mut pos = 0;
        decode(&longer, &mut pos, &ctx(), &atoms).unwrap();
        assert_eq!(pos, c.bytes.len(), "{n}: decoder end with trailing bytes");

        // One unit per call: same end, same flags.
        let mut s = Scanner::new();
        let mut pos = 0;
        let mut calls = 0;
        loop {
            calls += 1;
            let mut b = Budget::new(1);
            if s.run(&c.bytes, &mut pos, &mut b, &ctx()).unwrap() == Scan::Done {
                break;
            }
            assert!(calls < 1000, "{n}: no progress");
        }
        assert_eq!((pos, s.flags()), (c.bytes.len(), c.flags), "{n}: sliced scan");

        let viewer = Viewer::new(&c.bytes, ctx(), &atoms);
        let view = viewer.view(0).unwrap();
        let tag_ok = match (&c.term, view) {
            (Term::Atom(x) | Term::CacheRef { atom: x, .. }, View::Atom(r)) => r.eq_str(x.as_str()),
            (Term::Int(i), View::Int(j)) => *i == j,
            (Term::BigInt { .. }, View::BigInt { .. })
            | (Term::Float(_), View::Float(_))
            | (Term::Tuple(_), View::Tuple { .. })
            | (Term::List(..), View::List { .. })
            | (Term::Nil, View::Nil)
            | (Term::String(_), View::String(_))
            | (Term::Binary(_), View::Binary(_))
            | (Term::BitBinary(..), View::BitBinary { .. })
            | (Term::Map(_), View::Map { .. })
            | (Term::Pid(_), View::Pid(_))
            | (Term::Port(_), View::Port(_))
            | (Term::Ref(_), View::Ref(_))
            | (Term::Fun(_), View::Fun(_))
            | (Term::Export { .. }, View::Export { .. })
            | (Term::Record(_), View::Record(_)) => true,
            _ => false,
        };
        assert!(tag_ok, "{n}: view {view:?}");
        assert_eq!(viewer.end_of(0).unwrap(), c.bytes.len(), "{n}: end_of");

        if c.canonical {
            let mut out = Vec::new();
            encode(&c.term, &mut out);
            assert_eq!(out, c.bytes, "{n}: encode");
        }
    }
}

#[test]
fn every_strict_prefix_is_an_error() {
    let atoms = table();
    for c in cases() {
        for cut in 0..c.bytes.len() {
            let prefix = &c.bytes[..cut];
            let mut pos = 0;
            let e = skip_term(prefix, &mut pos, &ctx());
            assert!(e.is_err(), "{}: scanner accepted {cut}-byte prefix", c.name);
            let mut pos = 0;
            let e = decode(prefix, &mut pos, &ctx(), &atoms);
            assert!(e.is_err(), "{}: decoder accepted {cut}-byte prefix", c.name);
            // Sliced scanning of a prefix also ends in an error, never Done.
            let mut s = Scanner::new();
            let mut pos = 0;
            let r = loop {
                match s.run(prefix, &mut pos, &mut Budget::new(1), &ctx()) {
                    Ok(Scan::Yield) => continue,
                    other => break other,
                }
            };
            assert!(r.is_err(), "{}: sliced scanner accepted {cut}-byte prefix", c.name);
        }
    }
}

/// The error both the scanner and the decoder give for `bytes`.
fn both_fail(bytes: &[u8], ctx: &ScanContext) -> ErrorKind {
    let atoms = table();
    let mut pos = 0;
    let s = skip_term(bytes, &mut pos, ctx).expect_err("scanner accepted");
    let mut pos = 0;
    let d = decode(bytes, &mut pos, ctx, &atoms).expect_err("decoder accepted");
    assert_eq!(s.kind, d.kind, "scanner and decoder disagree on {bytes:?}");
    s.kind
}

#[test]
fn unsupported_tags() {
    for t in [tag::COMPRESSED, tag::LOCAL, tag::OLD_FUN, 0, 69, 75, 81, 87, 96, 117, 122, 131, 255] {
        assert_eq!(both_fail(&[t, 0, 0, 0, 0, 0, 0, 0, 0, 0], &ctx()), ErrorKind::UnsupportedTag, "tag {t}");
    }
    // Also when nested.
    assert_eq!(both_fail(&[104, 1, 80, 0, 0, 0, 0], &ctx()), ErrorKind::UnsupportedTag);
}

#[test]
fn cache_refs_are_checked_against_the_header() {
    assert_eq!(both_fail(&[82, 0], &ScanContext::external()), ErrorKind::AtomCacheRefOutOfRange);
    assert_eq!(both_fail(&[82, 3], &ctx()), ErrorKind::AtomCacheRefOutOfRange);
    assert_eq!(both_fail(&[82, 255], &ScanContext::internal(255)), ErrorKind::AtomCacheRefOutOfRange);
    // In a pid's node too.
    let mut pid = vec![88, 82, 7];
    pid.extend([0; 12]);
    assert_eq!(both_fail(&pid, &ctx()), ErrorKind::AtomCacheRefOutOfRange);
    // In range for the scanner but missing from the resolver: decoder error.
    let mut pos = 0;
    let e = decode(&[82, 1], &mut pos, &ScanContext::internal(2), &NoAtoms).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AtomCacheRefOutOfRange);
}

#[test]
fn atoms_are_checked() {
    let mut long_latin1 = vec![100, 1, 0];
    long_latin1.extend([b'a'; 256]);
    assert_eq!(both_fail(&long_latin1, &ctx()), ErrorKind::AtomTooLong);
    // 256 two-byte characters: 512 bytes, over 255 characters.
    let mut long_utf8 = vec![118, 2, 0];
    long_utf8.extend("é".repeat(256).as_bytes());
    assert_eq!(both_fail(&long_utf8, &ctx()), ErrorKind::AtomTooLong);
    // 255 four-byte characters is fine (1020 bytes).
    let mut max_utf8 = vec![118, 3, 0xFC];
    max_utf8.extend("𝄞".repeat(255).as_bytes());
    let mut pos = 0;
    skip_term(&max_utf8, &mut pos, &ctx()).unwrap();
    assert_eq!(pos, max_utf8.len());
    assert_eq!(both_fail(&[119, 1, 0xFF], &ctx()), ErrorKind::AtomInvalidUtf8);
    assert_eq!(both_fail(&[118, 0, 2, 0xC3, 0x28], &ctx()), ErrorKind::AtomInvalidUtf8);
    let small_limit = ScanContext { max_atom_bytes: 3, ..ctx() };
    assert_eq!(both_fail(&[119, 4, b'a', b'b', b'c', b'd'], &small_limit), ErrorKind::LimitAtomBytes);
    // Node of a pid must be an atom.
    let mut pid = vec![88, 97, 1];
    pid.extend([0; 12]);
    assert_eq!(both_fail(&pid, &ctx()), ErrorKind::MalformedTerm);
}

#[test]
fn malformed_layouts() {
    let m = ErrorKind::MalformedTerm;
    // Bit binaries: 1..=8 bits, or 0 bits only when empty.
    assert_eq!(both_fail(&[77, 0, 0, 0, 1, 0, 255], &ctx()), m);
    assert_eq!(both_fail(&[77, 0, 0, 0, 1, 9, 255], &ctx()), m);
    assert_eq!(both_fail(&[77, 0, 0, 0, 0, 3], &ctx()), m);
    // Non-finite floats and unparsable FLOAT_EXT.
    assert_eq!(both_fail(&[70, 127, 240, 0, 0, 0, 0, 0, 0], &ctx()), m);
    assert_eq!(both_fail(&[70, 127, 248, 0, 0, 0, 0, 0, 1], &ctx()), m);
    let mut junk = b"1.5xx".to_vec();
    junk.resize(31, 0);
    assert_eq!(both_fail(&cat(&[&[99], &junk]), &ctx()), m);
    // References have at most 5 ids.
    let mut r = vec![90, 0, 6];
    r.extend(sa("n"));
    r.extend([0; 28]);
    assert_eq!(both_fail(&r, &ctx()), m);
    // Map and record arities below 2^31.
    assert_eq!(both_fail(&[116, 0x80, 0, 0, 0, 106], &ctx()), m);
    assert_eq!(both_fail(&cat(&[&[67, 0x80, 0, 0, 0, 0], &sa("m"), &sa("r")]), &ctx()), m);
    // Record exported flag is 0 or 1; field names are atoms.
    assert_eq!(both_fail(&cat(&[&[67, 0, 0, 0, 0, 2], &sa("m"), &sa("r")]), &ctx()), m);
    assert_eq!(both_fail(&cat(&[&[67, 0, 0, 0, 1, 0], &sa("m"), &sa("r"), &[97, 1, 97, 1]]), &ctx()), m);
    assert_eq!(both_fail(&cat(&[&[67, 0, 0, 0, 1, 0], &[97, 1], &sa("r"), &sa("f"), &[97, 1]]), &ctx()), m);
    // Export arity must be an integer 0..=255, module and function atoms.
    assert_eq!(both_fail(&cat(&[&[113], &sa("m"), &sa("f"), &[98, 0, 0, 1, 0]]), &ctx()), m);
    assert_eq!(both_fail(&cat(&[&[113], &sa("m"), &sa("f"), &[106]]), &ctx()), m);
    assert_eq!(both_fail(&cat(&[&[113], &sa("m"), &[106], &[97, 1]]), &ctx()), m);
    // Funs: more than 255 free variables; size field that does not match.
    let mut f = fun_bytes(&[]);
    f[26] = 1; // num_free high byte... set num_free = 0x0100_0000
    assert_eq!(both_fail(&f, &ctx()), m);
    let mut f = fun_bytes(&[]);
    f[4] = f[4].wrapping_sub(1);
    assert_eq!(both_fail(&f, &ctx()), m);
    // Fun pid field must be a pid.
    let mut g = fun_bytes(&[]);
    let pid_at = g.len() - pid_bytes(true).len();
    g[pid_at] = tag::SMALL_INTEGER;
    assert_eq!(both_fail(&g, &ctx()), m);
    // With free variables the decoder checks the size at the end; the
    // scanner cannot (it keeps no stack) and only checks it fits.
    let mut f = fun_bytes(&[&[106]]);
    f[4] = f[4].wrapping_sub(1);
    let mut pos = 0;
    let e = decode(&f, &mut pos, &ctx(), &table()).unwrap_err();
    assert_eq!(e.kind, m);
}

#[test]
fn huge_declared_sizes_fail_fast() {
    let t = ErrorKind::Truncated;
    for head in [
        vec![105, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![108, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![109, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![77, 0xFF, 0xFF, 0xFF, 0xFF, 8],
        vec![111, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        vec![116, 0x7F, 0xFF, 0xFF, 0xFF],
        vec![107, 0xFF, 0xFF],
        vec![100, 0x00, 0xFF],
        vec![112, 0xFF, 0xFF, 0xFF, 0xFF],
    ] {
        let mut bytes = head.clone();
        bytes.extend([97, 1, 97, 1, 106, 106]);
        assert_eq!(both_fail(&bytes, &ctx()), t, "{head:?}");
    }
    // Nested: each level's arity fits the bytes left on its own, but not
    // together with its parent's other pending elements.
    let mut bytes = vec![105, 0, 0, 0, 20, 105, 0, 0, 0, 15];
    bytes.extend([106; 18]);
    assert_eq!(both_fail(&bytes, &ctx()), t);
}

#[test]
fn view_helpers_match_shapes() {
    // {'$gen_call', From, {start_child, Spec}} with the first atom as a
    // Latin-1 ATOM_EXT and the inner one as a cache ref.
    let atoms = vec![a("start_child")];
    let ctx = ScanContext::internal(1);
    let mut b = vec![104, 3, 100, 0, 9];
    b.extend(b"$gen_call");
    b.extend(pid_bytes(true));
    b.extend([104, 2, 82, 0, 106]);
    let v = Viewer::new(&b, ctx, &atoms);
    let [tag_pos, from, req] = v.tuple::<3>(0).unwrap().unwrap();
    assert!(v.is_atom(tag_pos, "$gen_call").unwrap());
    assert!(v.view(from).unwrap().is_pid());
    let [op, arg] = v.tuple::<2>(req).unwrap().unwrap();
    assert!(v.view(op).unwrap().is_atom_in(&["terminate_child", "start_child"]));
    assert!(v.view(arg).unwrap().is_list());
    assert_eq!(v.tuple::<2>(0).unwrap(), None);
    assert_eq!(v.tuple::<3>(tag_pos).unwrap(), None);
    // Iterate a list's elements and its tail.
    let l = [108, 0, 0, 0, 2, 97, 1, 104, 1, 97, 2, 97, 3];
    let v = Viewer::new(&l, ScanContext::external(), &NoAtoms);
    let View::List { len, first } = v.view(0).unwrap() else { panic!() };
    let vals: Vec<_> = v.elements(first, u64::from(len) + 1).map(|p| v.view(p.unwrap()).unwrap()).collect();
    assert_eq!(vals.len(), 3);
    assert_eq!(vals[0].as_i64(), Some(1));
    assert!(matches!(vals[1], View::Tuple { arity: 1, .. }));
    assert_eq!(vals[2].as_i64(), Some(3));
    // An error while stepping is reported once, then the iterator stops.
    let bad = [104, 2, 80, 0, 97, 1];
    let v = Viewer::new(&bad, ScanContext::external(), &NoAtoms);
    let r: Vec<_> = v.elements(2, 2).collect();
    assert_eq!(r.len(), 2);
    assert!(r[0].is_ok() && r[1].is_err());
}
