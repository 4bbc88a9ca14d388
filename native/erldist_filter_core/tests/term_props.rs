//! Properties over generated terms: encode → decode round-trips; the
//! scanner ends exactly where the encoding ends, with the flags the term
//! implies, whether run at once or in tiny budget slices; strict prefixes
//! and corrupted encodings never make the decoder accept what the scanner
//! rejects.

mod common;

use common::flags_of;
use erldist_filter_core::term::{
    decode, encode_with, skip_term, AtomEncoding, Element, EncodeOptions, Fun, Pid, Port, Record, Ref, Scan,
    ScanContext, Scanner, StreamScan, Term, View, Viewer,
};
use erldist_filter_core::Atom;
use erldist_filter_core::Budget;
use proptest::prelude::*;

fn table() -> Vec<Atom> {
    ["undefined", "héllo", "日本語", "", "'$gen_call'", "a@b"]
        .iter()
        .map(|s| Atom::from_utf8(s.as_bytes()).unwrap())
        .collect()
}

fn ctx() -> ScanContext {
    ScanContext::internal(table().len() as u8)
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        4 => "[a-z_@]{0,12}",
        2 => "[a-zà-ÿ]{0,12}",
        2 => "[a-zé日本語𝄞]{0,10}",
        1 => "[a-zÿ]{250,255}",
        1 => "[é𝄞]{250,255}",
    ]
    .prop_map(|s| Atom::from_utf8(s.as_bytes()).unwrap())
}

fn pid() -> impl Strategy<Value = Pid> {
    (atom(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(node, id, serial, creation)| Pid {
        node,
        id,
        serial,
        creation,
    })
}

fn encoding() -> impl Strategy<Value = AtomEncoding> {
    prop_oneof![
        Just(AtomEncoding::SmallUtf8),
        Just(AtomEncoding::Utf8),
        Just(AtomEncoding::Latin1),
        Just(AtomEncoding::SmallLatin1),
    ]
}

fn leaf() -> impl Strategy<Value = Term> {
    let n_atoms = table().len();
    prop_oneof![
        atom().prop_map(Term::Atom),
        (0..n_atoms).prop_map(|i| Term::CacheRef { index: i as u8, atom: table()[i].clone() }),
        any::<i64>().prop_map(Term::Int),
        (0i64..300).prop_map(Term::Int),
        // Beyond i64: at least 9 bytes with a non-zero top byte, or 8
        // bytes above 2^63.
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 8..40), 1u8..=255).prop_map(
            |(negative, mut magnitude, top)| {
                magnitude.push(top);
                Term::BigInt { negative, magnitude }
            }
        ),
        (any::<bool>(), any::<u64>()).prop_map(|(negative, m)| {
            let m = m | (1 << 63);
            // -2^63 fits i64; anything further from zero does not.
            let m = if negative && m == 1 << 63 { m + 1 } else { m };
            Term::BigInt { negative, magnitude: m.to_le_bytes().to_vec() }
        }),
        (proptest::collection::vec(any::<u8>(), 300..400), 1u8..=255).prop_map(|(mut m, top)| {
            m.push(top);
            Term::BigInt { negative: false, magnitude: m }
        }),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Term::Float),
        Just(Term::Nil),
        proptest::collection::vec(any::<u8>(), 0..60).prop_map(Term::String),
        proptest::collection::vec(any::<u8>(), 0..60).prop_map(Term::Binary),
        (proptest::collection::vec(any::<u8>(), 1..20), 1u8..=8).prop_map(|(b, n)| Term::BitBinary(b, n)),
        Just(Term::BitBinary(vec![], 0)),
        pid().prop_map(Term::Pid),
        (atom(), any::<u64>(), any::<u32>()).prop_map(|(node, id, creation)| Term::Port(Port { node, id, creation })),
        (atom(), 0u64..=u64::from(u32::MAX), any::<u32>()).prop_map(|(node, id, creation)| Term::Port(Port {
            node,
            id,
            creation
        })),
        (atom(), any::<u32>(), proptest::collection::vec(any::<u32>(), 0..=5))
            .prop_map(|(node, creation, ids)| Term::Ref(Ref { node, creation, ids })),
        (atom(), atom(), any::<u8>()).prop_map(|(module, function, arity)| Term::Export { module, function, arity }),
    ]
}

fn term() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Term::Tuple),
            (proptest::collection::vec(inner.clone(), 0..6), inner.clone())
                .prop_map(|(items, tail)| Term::List(items, Box::new(tail))),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..5).prop_map(Term::Map),
            (
                any::<u8>(),
                any::<[u8; 16]>(),
                any::<u32>(),
                atom(),
                any::<i32>(),
                any::<i32>(),
                pid(),
                proptest::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(arity, uniq, index, module, old_index, old_uniq, pid, free)| {
                    Term::Fun(Box::new(Fun { arity, uniq, index, module, old_index, old_uniq, pid, free }))
                }),
            (any::<bool>(), atom(), atom(), proptest::collection::vec((atom(), inner), 0..4)).prop_map(
                |(exported, module, name, fields)| {
                    Term::Record(Box::new(Record { exported, module, name, fields }))
                }
            ),
        ]
    })
}

fn encoded(t: &Term, atoms: AtomEncoding) -> Vec<u8> {
    let mut out = Vec::new();
    encode_with(t, &mut out, &EncodeOptions { atoms });
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trips(t in term(), enc in encoding()) {
        let bytes = encoded(&t, enc);
        let mut pos = 0;
        let back = decode(&bytes, &mut pos, &ctx(), &table());
        prop_assert_eq!(back, Ok(t));
        prop_assert_eq!(pos, bytes.len());
    }

    #[test]
    fn scanner_ends_where_the_term_ends(t in term(), enc in encoding(), trailing in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut bytes = encoded(&t, enc);
        let len = bytes.len();
        bytes.extend(trailing);
        let mut pos = 0;
        let flags = skip_term(&bytes, &mut pos, &ctx());
        prop_assert_eq!(flags, Ok(flags_of(&t)));
        prop_assert_eq!(pos, len);
        let mut dpos = 0;
        prop_assert!(decode(&bytes, &mut dpos, &ctx(), &table()).is_ok());
        prop_assert_eq!(dpos, len);
        let atoms = table();
        let viewer = Viewer::new(&bytes, ctx(), &atoms);
        prop_assert_eq!(viewer.end_of(0), Ok(len));
        // The view's top-level shape matches the term.
        let view = viewer.view(0);
        prop_assert!(view.is_ok());
        if let (Term::Tuple(items), Ok(View::Tuple { arity, .. })) = (&t, view) {
            prop_assert_eq!(items.len(), arity as usize);
        }
    }

    #[test]
    fn sliced_scanning_matches_one_shot(t in term(), enc in encoding(), units in 1u64..=7) {
        let bytes = encoded(&t, enc);
        let mut s = Scanner::new();
        let mut pos = 0;
        let mut calls = 0usize;
        loop {
            calls += 1;
            prop_assert!(calls <= bytes.len() + 1, "no progress");
            let before = pos;
            match s.run(&bytes, &mut pos, &mut Budget::new(units), &ctx()) {
                Ok(Scan::Done) => break,
                Ok(Scan::Yield) => prop_assert!(pos > before, "a yield made no progress"),
                Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
            }
        }
        prop_assert_eq!(pos, bytes.len());
        prop_assert_eq!(s.flags(), flags_of(&t));
        prop_assert!(s.is_done());
    }

    #[test]
    fn strict_prefixes_are_errors(t in term(), enc in encoding(), cut in any::<prop::sample::Index>()) {
        let bytes = encoded(&t, enc);
        let cut = cut.index(bytes.len());
        let prefix = &bytes[..cut];
        let mut pos = 0;
        prop_assert!(skip_term(prefix, &mut pos, &ctx()).is_err());
        let mut pos = 0;
        prop_assert!(decode(prefix, &mut pos, &ctx(), &table()).is_err());
    }

    /// Corrupt one byte: whatever the decoder accepts, the scanner accepts
    /// with the same end (the decoder only adds the fun size check).
    #[test]
    fn decoder_never_accepts_what_the_scanner_rejects(
        t in term(),
        enc in encoding(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = encoded(&t, enc);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let mut spos = 0;
        let s = skip_term(&bytes, &mut spos, &ctx());
        let mut dpos = 0;
        let d = decode(&bytes, &mut dpos, &ctx(), &table());
        if d.is_ok() {
            prop_assert!(s.is_ok(), "scanner {:?} decoder ok", s);
            prop_assert_eq!(spos, dpos);
        }
        if let (Err(se), Err(de)) = (&s, &d) {
            prop_assert_eq!(se.kind, de.kind);
        }
    }

    /// Random bytes: no panics, and the same implication.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut spos = 0;
        let s = skip_term(&bytes, &mut spos, &ctx());
        let mut dpos = 0;
        let d = decode(&bytes, &mut dpos, &ctx(), &table());
        if d.is_ok() {
            prop_assert!(s.is_ok());
            prop_assert_eq!(spos, dpos);
        }
        let _ = Viewer::new(&bytes, ctx(), &table()).view(0);
    }

    /// The typed readers (control elements, tuple heads, atoms) read what
    /// the generic view reads, with the same errors, on terms and on junk.
    #[test]
    fn typed_readers_agree_with_the_view(
        t in term(),
        enc in encoding(),
        junk in proptest::collection::vec(any::<u8>(), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = encoded(&t, enc);
        let cut = cut.index(whole.len() + 1);
        for bytes in [whole.clone(), whole[..cut].to_vec(), junk] {
            let table = table();
            let v = Viewer::new(&bytes, ctx(), &table);
            let view = v.view_next(0);
            let element = v.element_next(0);
            match (&view, &element) {
                (Ok((w, wend)), Ok((e, eend))) => {
                    prop_assert_eq!(wend, eend);
                    let same = match *e {
                        Element::Pid(p) => *w == View::Pid(p),
                        Element::Atom(a) => *w == View::Atom(a),
                        Element::Ref(r) => *w == View::Ref(r),
                        Element::Other(o) => *w == o && !matches!(o, View::Pid(_) | View::Atom(_) | View::Ref(_)),
                    };
                    prop_assert!(same, "{:?} read as {:?}", w, e);
                }
                (Err(we), Err(ee)) => prop_assert_eq!(we, ee),
                _ => prop_assert!(false, "view {:?}, element {:?}", view, element),
            }
            let by_view = view.as_ref().map(|(w, _)| w.as_tuple()).map_err(|e| *e);
            prop_assert_eq!(v.tuple_head(0), by_view);
            let by_view = view.as_ref().map(|(w, _)| w.as_atom()).map_err(|e| *e);
            prop_assert_eq!(v.atom(0), by_view);
        }
    }
}

/// The inline atoms a whole scan of `terms` consecutive terms visits, or
/// its error.
fn atoms_of_whole(bytes: &[u8], terms: usize) -> Result<Vec<(Vec<u8>, bool)>, erldist_filter_core::Error> {
    let mut seen = Vec::new();
    let mut pos = 0;
    for _ in 0..terms {
        let mut s = Scanner::new();
        let mut visit = |a: erldist_filter_core::term::AtomRef<'_>| {
            seen.push((a.text.to_vec(), a.utf8));
            Ok(())
        };
        while s.run_visiting(bytes, &mut pos, &mut Budget::new(u64::MAX), &ctx(), &mut visit)? == Scan::Yield {}
    }
    Ok(seen)
}

/// The same, fed to a [`StreamScan`] in the pieces `cuts` make.
fn atoms_of_pieces(
    bytes: &[u8],
    terms: usize,
    cuts: &[prop::sample::Index],
) -> Result<Vec<(Vec<u8>, bool)>, erldist_filter_core::Error> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    let mut seen = Vec::new();
    let mut scan = StreamScan::new(terms as u64, ctx());
    for (i, w) in at.windows(2).enumerate() {
        let last = i + 2 == at.len();
        scan.feed(&bytes[w[0]..w[1]], last, &mut |a| {
            seen.push((a.text.to_vec(), a.utf8));
            Ok(())
        })?;
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Two terms (a control and a payload) cut anywhere into pieces, empty
    /// ones included: the pieces are read to the same end, with the same
    /// atoms visited, as the whole; whatever follows the terms is ignored.
    #[test]
    fn streamed_scanning_matches_one_shot(
        a in term(),
        b in term(),
        enc in encoding(),
        trailing in proptest::collection::vec(any::<u8>(), 0..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut bytes = encoded(&a, enc);
        bytes.extend(encoded(&b, enc));
        bytes.extend(trailing);
        let whole = atoms_of_whole(&bytes, 2);
        prop_assert!(whole.is_ok());
        prop_assert_eq!(atoms_of_pieces(&bytes, 2, &cuts), whole);
    }

    /// Cut short, or one byte corrupted: the pieces are refused exactly
    /// when the whole is, and accepted with the same atoms.
    #[test]
    fn streamed_scanning_refuses_what_the_whole_refuses(
        t in term(),
        enc in encoding(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        keep in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut bytes = encoded(&t, enc);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(keep.index(bytes.len() + 1));
        let whole = atoms_of_whole(&bytes, 1);
        let pieces = atoms_of_pieces(&bytes, 1, &cuts);
        prop_assert_eq!(whole.is_ok(), pieces.is_ok(), "whole {:?} pieces {:?}", whole, pieces);
        if whole.is_ok() {
            prop_assert_eq!(pieces, whole);
        }
    }
}
